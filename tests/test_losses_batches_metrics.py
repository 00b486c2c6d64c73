"""triplet_margin_loss, contrastive_loss, pk_batches, recall_at_k and the monitoring statistics."""

import math

import pytest
import torch
from hypothesis import given, strategies as st

import solutions as S
from grader.suites.strategies import embeddings, label_vectors, mining_inputs

from . import oracles


@given(inputs=mining_inputs(), margin=st.floats(0.01, 2.0), data=st.data())
def test_triplet_loss_matches_oracle_and_is_differentiable(inputs, margin, data, device):
    dist, labels = inputs
    b = dist.shape[0]
    t = data.draw(st.integers(0, 6)) if b else 0
    idx = [data.draw(st.lists(st.integers(0, b - 1), min_size=t, max_size=t)) if b else [] for _ in range(3)]
    a, p, n = (torch.tensor(v, dtype=torch.int64, device=device) for v in idx)
    d = dist.to(device).requires_grad_()
    loss = S.triplet_margin_loss(d, a, p, n, margin)
    assert loss.shape == () and loss.dtype == dist.dtype and loss.device.type == device
    want = oracles.triplet_margin_loss(dist, a.cpu(), p.cpu(), n.cpu(), margin)
    assert math.isclose(loss.item(), want, rel_tol=1e-5, abs_tol=1e-6)
    loss.backward()
    assert d.grad is not None and bool(torch.isfinite(d.grad).all())
    if t == 0:
        assert loss.item() == 0.0 and bool((d.grad == 0).all())


def test_triplet_loss_gradient_is_exact():
    d = torch.tensor([[0.0, 0.5, 0.2], [0.5, 0.0, 0.9], [0.2, 0.9, 0.0]], requires_grad=True)
    a, p, n = torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([2, 2])
    loss = S.triplet_margin_loss(d, a, p, n, 0.3)  # terms: 0.6 and relu(-0.1) = 0
    assert math.isclose(loss.item(), 0.3, rel_tol=1e-6)
    loss.backward()
    expected = torch.zeros(3, 3)
    expected[0, 1], expected[0, 2] = 0.5, -0.5
    assert torch.equal(d.grad, expected)


def test_contrastive_loss():
    d = torch.tensor([[0.0, 0.5, 0.2], [0.5, 0.0, 1.5], [0.2, 1.5, 0.0]], requires_grad=True)
    labels = torch.tensor([0, 0, 1])
    loss = S.contrastive_loss(d, labels, margin=1.0)
    # ordered pairs: (0,1),(1,0): 0.25 each; (0,2),(2,0): 0.64 each; (1,2),(2,1): 0
    assert math.isclose(loss.item(), (0.5 + 1.28) / 6, rel_tol=1e-6)
    loss.backward()
    assert S.contrastive_loss(torch.zeros(1, 1), torch.tensor([0])).item() == 0.0


@given(
    sizes=st.lists(st.integers(1, 7), min_size=1, max_size=9),
    p=st.integers(1, 4),
    k=st.integers(1, 5),
    seed=st.integers(0, 2**31),
)
def test_pk_batches(sizes, p, k, seed):
    labels = torch.cat([torch.full((s,), 10 * c, dtype=torch.int64) for c, s in enumerate(sizes)])
    labels = labels[torch.randperm(labels.numel(), generator=torch.Generator().manual_seed(seed))]
    n_classes = len(sizes)
    if n_classes < p:
        with pytest.raises(ValueError, match="p must be"):
            S.pk_batches(labels, p, k)
        return
    batches = list(S.pk_batches(labels, p, k, generator=torch.Generator().manual_seed(seed)))
    again = list(S.pk_batches(labels, p, k, generator=torch.Generator().manual_seed(seed)))
    assert len(batches) == math.ceil(n_classes / p)
    assert all(torch.equal(u, v) for u, v in zip(batches, again))
    seen = set()
    for batch in batches:
        assert batch.dtype == torch.int64 and batch.shape == (p * k,)
        groups = labels[batch].reshape(p, k)
        assert bool((groups == groups[:, :1]).all()), "k indices per class, class by class"
        assert groups[:, 0].unique().numel() == p, "p distinct classes"
        for row, idx in zip(groups[:, 0].tolist(), batch.reshape(p, k)):
            seen.add(row)
            size = int((labels == row).sum())
            if size >= k:
                assert idx.unique().numel() == k, "drawn without replacement"
    assert seen == set(labels.tolist()), "one pass visits every class"


@given(data=st.data(), labels=label_vectors(max_size=10), ks=st.lists(st.integers(1, 12), min_size=1, max_size=3))
def test_recall_at_k_matches_oracle(data, labels, ks):
    x = data.draw(embeddings(labels.shape[0], 2, dtype=torch.float64))
    got = S.recall_at_k(x, labels, ks)
    want = oracles.recall_at_k(x, labels, ks)
    assert list(got) == list(dict.fromkeys(ks))
    for k in got:
        assert (math.isnan(got[k]) and math.isnan(want[k])) or math.isclose(got[k], want[k]), (k, got, want)


def test_recall_ties_count_in_the_querys_favour():
    x = torch.tensor([[0.0], [1.0], [-1.0]])
    labels = torch.tensor([0, 1, 0])  # query 0: other-class 1 and same-class 2 both at distance 1
    assert S.recall_at_k(x, labels, ks=(1,))[1] == 1.0


def test_active_fraction_and_collapse():
    d = torch.tensor([[0.0, 0.5, 0.25], [0.5, 0.0, 0.875], [0.25, 0.875, 0.0]])
    a, p, n = torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([2, 2])
    assert S.active_triplet_fraction(d, a, p, n, 0.25) == 0.5
    assert S.active_triplet_fraction(d, a, p, n, 0.375) == 0.5  # exactly on the boundary: loss 0 is inactive
    assert math.isnan(S.active_triplet_fraction(d, a[:0], p[:0], n[:0], 0.3))
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert S.mean_pairwise_distance(x) == 5.0
    assert S.collapse_ratio(x * 0.1, 5.0) == pytest.approx(0.1)


grid_points = st.integers(1, 12).flatmap(
    lambda n: st.tuples(
        st.lists(st.lists(st.integers(-2, 2), min_size=2, max_size=2), min_size=n, max_size=n),
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
    )
)


@given(grid_points)
def test_map_at_r_matches_the_loop_oracle_with_exact_ties(points):
    coords, labs = points
    x, labels = torch.tensor(coords, dtype=torch.float64), torch.tensor(labs)
    got, want = S.map_at_r(x, labels), oracles.map_at_r(x, labels)
    assert (math.isnan(got) and math.isnan(want)) or math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12)
    perm = torch.randperm(len(labs), generator=torch.Generator().manual_seed(len(labs)))
    again = S.map_at_r(x[perm], labels[perm])
    assert (math.isnan(got) and math.isnan(again)) or math.isclose(got, again, rel_tol=1e-12)


def test_map_at_r_by_hand():
    x = torch.tensor([[0.0], [1.0], [2.0], [10.0], [11.0], [3.0]])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    # label-1 queries: 3 -> (4 hit, 5 hit) AP 1; 4 -> (3 hit, 5 hit) AP 1;
    # 5 -> R=2, ranked (2 miss, 1 miss) AP 0; label-0 queries: 0 -> (1 hit, 2 hit) AP 1;
    # 1 -> (0 hit, 2 hit) AP 1; 2 -> (1 hit, 5 miss) AP 1/2.
    assert math.isclose(S.map_at_r(x, labels), (1 + 1 + 0 + 1 + 1 + 0.5) / 6)
    assert math.isnan(S.map_at_r(x, torch.arange(6)))
    with pytest.raises(ValueError, match="labels"):
        S.map_at_r(x, labels[:3])
