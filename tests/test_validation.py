"""Malformed input raises ValueError naming the argument and what was expected."""

import pytest
import torch

import solutions as S

D = torch.rand(4, 4)
L = torch.tensor([0, 0, 1, 1])
I = torch.tensor([0, 1])
X = torch.rand(4, 3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: S.semi_hard_negatives(D.numpy(), L, 0.2), "dist must be a torch.Tensor"),
        (lambda: S.semi_hard_negatives(D[0], L, 0.2), "dist must have 2 dimension"),
        (lambda: S.semi_hard_negatives(D[:3], L, 0.2), "dist must be a square"),
        (lambda: S.semi_hard_negatives(D.long(), L, 0.2), "dist must be a floating-point"),
        (lambda: S.semi_hard_negatives(D.masked_fill(D > 0.5, float("nan")), L, 0.2), "dist must hold finite"),
        (lambda: S.semi_hard_negatives(D - 2, L, 0.2), "dist must hold finite, non-negative"),
        (lambda: S.semi_hard_negatives(D.clone().fill_diagonal_(float("inf")), L, 0.2), "dist must hold finite"),
        (lambda: S.semi_hard_negatives(torch.rand(4, 4), L.float(), 0.2), "labels must have an integer dtype"),
        (lambda: S.semi_hard_negatives(torch.rand(4, 4), L.bool(), 0.2), "labels must have an integer dtype"),
        (lambda: S.semi_hard_negatives(torch.rand(4, 4), L[:3], 0.2), "labels must have length 4"),
        (lambda: S.semi_hard_negatives(torch.rand(4, 4), L[None], 0.2), "labels must be 1-D"),
        (lambda: S.semi_hard_negatives(torch.rand(4, 4), L, 0.0), "margin must be > 0"),
        (lambda: S.semi_hard_negatives(torch.rand(4, 4), L, -1), "margin must be > 0"),
        (lambda: S.semi_hard_negatives(torch.rand(4, 4), L, float("nan")), "margin must be finite"),
        (lambda: S.semi_hard_negatives(torch.rand(4, 4), L, "0.2"), "margin must be a real number"),
        (lambda: S.batch_hard(torch.rand(4, 4), L[:2]), "labels must have length 4"),
        (lambda: S.hardest_negatives(torch.rand(4, 4), [0, 0, 1, 1]), "labels must be a torch.Tensor"),
        (lambda: S.distance_weights(torch.rand(4, 4), L, 1), "dim must be >= 2"),
        (lambda: S.distance_weights(torch.rand(4, 4), L, 3.0), "dim must be an int"),
        (lambda: S.distance_weights(torch.rand(4, 4), L, 3, cutoff=1.5), "cutoff < nonzero_loss_cutoff"),
        (lambda: S.distance_weights(torch.rand(4, 4), L, 3, nonzero_loss_cutoff=2.5), "nonzero_loss_cutoff <= 2"),
        (lambda: S.distance_weights(torch.rand(4, 4), L, 3, cutoff=0), "cutoff must be > 0"),
        (lambda: S.triplet_margin_loss(torch.rand(4, 4), I, I, I[:1], 0.2), "equal lengths"),
        (lambda: S.triplet_margin_loss(torch.rand(4, 4), I, I, I + 3, 0.2), r"negatives must hold indices in \[0, 4\)"),
        (lambda: S.triplet_margin_loss(torch.rand(4, 4), I.int(), I, I, 0.2), "anchors must be a 1-D int64"),
        (lambda: S.triplet_margin_loss(torch.rand(4, 4), I, I, I, 0), "margin must be > 0"),
        (lambda: S.pairwise_distances(X[0]), "embeddings must have 2 dimension"),
        (lambda: S.pairwise_distances(X.long()), "embeddings must be a floating-point"),
        (lambda: S.pairwise_distances(X.masked_fill(X > 0.5, float("inf"))), "embeddings must be finite"),
        (lambda: S.pk_batches(L, 3, 2), r"p must be <= the number of classes \(2\)"),
        (lambda: S.pk_batches(L, 0, 2), "p must be >= 1"),
        (lambda: S.pk_batches(L, 1, 0), "k must be >= 1"),
        (lambda: S.pk_batches(L.double(), 1, 2), "labels must have an integer dtype"),
        (lambda: S.recall_at_k(X, L[:3]), "labels must have length 4"),
        (lambda: S.recall_at_k(X, L, ks=(0,)), "ks entries must be >= 1"),
        (lambda: S.collapse_ratio(X, 0.0), "reference must be > 0"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
