"""Property tests of the miners against the loop oracles in ``tests/oracles.py``."""

import pytest
import torch
from hypothesis import given, strategies as st

import solutions as S
from grader.suites.strategies import GRID_MARGINS, distance_matrices, label_vectors, mining_inputs
from solutions import _masks, mining

from . import oracles


def assert_triplets_equal(got, want):
    for g, w, name in zip(got, want, ("anchors", "positives", "negatives")):
        assert g.dtype == torch.int64, name
        assert g.shape == w.shape and torch.equal(g.cpu(), w), f"{name}: got {g.tolist()}, want {w.tolist()}"


margins = st.sampled_from(GRID_MARGINS) | st.floats(0.01, 1.5)


@given(inputs=mining_inputs(), margin=margins)
def test_semi_hard_matches_oracle(inputs, margin, device):
    dist, labels = inputs
    got = S.semi_hard_negatives(dist.to(device), labels.to(device), margin)
    assert all(t.device.type == device for t in got)
    assert_triplets_equal(got, oracles.semi_hard_negatives(dist, labels, margin))


@pytest.mark.parametrize("route", ["_semi_hard_by_pairs", "_semi_hard_by_sorting"])
@pytest.mark.parametrize("chunk_rows", [1, 3, None])
@given(inputs=mining_inputs(), margin=margins)
def test_semi_hard_routes_and_chunks_match_oracle(route, chunk_rows, inputs, margin, monkeypatch):
    dist, labels = inputs
    if chunk_rows is not None:
        monkeypatch.setattr(_masks, "rows_per_chunk", lambda n_cols, budget=0: chunk_rows)
    pos = _masks.positive_mask(labels)
    if not pos.any():
        return
    got = getattr(mining, route)(dist, labels, pos, margin)
    assert_triplets_equal(got, oracles.semi_hard_negatives(dist, labels, margin))


def test_semi_hard_window_is_strict_at_both_ends():
    # anchor 0, positive 1 at 0.5; negatives at exactly 0.5 (lower bound), 0.75 (upper bound), 0.625 (inside)
    d = torch.tensor(
        [[0.0, 0.5, 0.5, 0.75, 0.625], [0.5, 0, 1, 1, 1], [1, 1, 0, 1, 1], [1, 1, 1, 0, 1], [1, 1, 1, 1, 0]]
    )
    labels = torch.tensor([0, 0, 1, 2, 3])
    a, p, n = S.semi_hard_negatives(d, labels, 0.25)
    assert (a[0].item(), p[0].item(), n[0].item()) == (0, 1, 4)
    d[0, 4] = 2.0  # only boundary negatives left: the pair is dropped
    a, p, n = S.semi_hard_negatives(d, labels, 0.25)
    assert 0 not in a.tolist()


def test_semi_hard_tie_goes_to_smallest_index():
    d = torch.tensor([[0.0, 0.5, 0.625, 0.625], [0.5, 0, 1, 1], [1, 1, 0, 1], [1, 1, 1, 0]])
    labels = torch.tensor([0, 0, 2, 1])
    a, p, n = S.semi_hard_negatives(d, labels, 0.5)
    assert n[0].item() == 2


def test_semi_hard_does_not_modify_inputs():
    d = torch.rand(9, 9)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2, 0, 3])
    d0, l0 = d.clone(), labels.clone()
    S.semi_hard_negatives(d, labels, 0.3)
    S.batch_hard(d, labels)
    assert torch.equal(d, d0) and torch.equal(labels, l0)


@given(inputs=mining_inputs())
def test_batch_hard_matches_oracle(inputs, device):
    dist, labels = inputs
    assert_triplets_equal(S.batch_hard(dist.to(device), labels.to(device)), oracles.batch_hard(dist, labels))


@given(inputs=mining_inputs())
def test_hardest_negatives_matches_oracle(inputs, device):
    dist, labels = inputs
    got = S.hardest_negatives(dist.to(device), labels.to(device))
    assert_triplets_equal(got, oracles.hardest_negatives(dist, labels))


@given(inputs=mining_inputs(), seed=st.integers(0, 2**31))
def test_random_negatives_are_valid_and_reproducible(inputs, seed, device):
    dist, labels = inputs
    dist, labels = dist.to(device), labels.to(device)
    got = S.random_negatives(dist, labels, generator=torch.Generator(device).manual_seed(seed))
    again = S.random_negatives(dist, labels, generator=torch.Generator(device).manual_seed(seed))
    assert all(torch.equal(x, y) for x, y in zip(got, again))
    want_a, want_p, _ = oracles.hardest_negatives(dist.cpu(), labels.cpu())  # same pair set
    a, p, n = (t.cpu() for t in got)
    assert torch.equal(a, want_a) and torch.equal(p, want_p)
    lab = labels.cpu().long()
    assert bool((lab[n] != lab[a]).all())


def test_random_negatives_are_uniform():
    labels = torch.tensor([0, 0, 1, 2, 3, 4])
    dist = torch.zeros(6, 6)
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(6)
    for _ in range(500):
        _, _, n = S.random_negatives(dist, labels, generator=g)
        counts += torch.bincount(n, minlength=6)
    # 1000 draws over 4 negatives: each expected 250, sd ~13.7; 5 sd tolerance
    assert counts[:2].sum() == 0
    assert bool(((counts[2:] - 250).abs() < 70).all()), counts


@given(
    labels=label_vectors(),
    dim=st.integers(2, 64),
    cuts=st.sampled_from([(0.5, 1.4), (0.25, 2.0), (0.125, 0.5), (1.0, 1.125)]),
    data=st.data(),
)
def test_distance_weights_match_oracle(labels, dim, cuts, data, device):
    dist = data.draw(distance_matrices(labels.shape[0], max_value=2.0))
    cutoff, nlc = cuts
    got = S.distance_weights(dist.to(device), labels.to(device), dim, cutoff=cutoff, nonzero_loss_cutoff=nlc)
    want = oracles.distance_weights(dist, labels, dim, cutoff, nlc)
    assert got.dtype == dist.dtype and got.device.type == device and not got.requires_grad
    got = got.cpu().double()
    assert torch.equal(got == 0, want == 0), "zero pattern differs"
    tol = 1e-5 if dist.dtype == torch.float32 else 1e-12
    assert torch.allclose(got, want, rtol=tol, atol=tol)
    sums = got.sum(dim=1)
    assert bool(((sums - 1).abs() < 1e-5).logical_or(sums == 0).all())


def test_distance_weights_rows_never_underflow():
    # Row 0's negatives are all near the cutoff, row 1's far: a global max would zero row 1.
    dist = torch.tensor([[0.0, 0.5, 0.5], [0.5, 0.0, 1.399], [0.5, 1.399, 0.0]], dtype=torch.float32)
    w = S.distance_weights(dist, torch.tensor([0, 1, 2]), dim=512)
    assert torch.allclose(w.sum(dim=1), torch.ones(3))


@given(inputs=mining_inputs(), seed=st.integers(0, 2**31), dim=st.integers(2, 32))
def test_distance_weighted_negatives_only_draw_weighted(inputs, seed, dim):
    dist, labels = inputs
    a, p, n = S.distance_weighted_negatives(dist, labels, dim, generator=torch.Generator().manual_seed(seed))
    w = S.distance_weights(dist, labels, dim)
    assert bool((w[a, n] > 0).all())
    expected = [(x, y) for x, y in oracles.positive_pairs(labels) if bool((w[x] > 0).any())]
    assert list(zip(a.tolist(), p.tolist())) == expected


def test_distance_weighted_negatives_follow_the_weights():
    labels = torch.tensor([0, 0, 1, 2, 3])
    dist = torch.tensor([[0, 0.3, 0.6, 1.0, 1.3]] * 5)
    w = S.distance_weights(dist, labels, dim=8)[0]
    g = torch.Generator().manual_seed(1)
    counts = torch.zeros(5)
    for _ in range(2000):
        a, _, n = S.distance_weighted_negatives(dist, labels, 8, generator=g)
        counts += torch.bincount(n[a == 0], minlength=5)
    freq = counts / counts.sum()
    assert torch.allclose(freq, w, atol=0.03), (freq, w)


def test_miners_accept_asymmetric_matrices_with_nonzero_diagonal():
    dist = torch.tensor([[0.9, 0.1, 0.3, 0.2], [0.8, 0.5, 0.7, 0.1], [0.1, 0.2, 0.6, 0.4], [0.3, 0.4, 0.2, 0.7]])
    labels = torch.tensor([0, 0, 1, 1])
    for fn in (S.batch_hard, S.hardest_negatives):
        assert_triplets_equal(fn(dist, labels), getattr(oracles, fn.__name__)(dist, labels))
    assert_triplets_equal(S.semi_hard_negatives(dist, labels, 0.5), oracles.semi_hard_negatives(dist, labels, 0.5))


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_batches(n):
    dist = torch.zeros(n, n)
    labels = torch.zeros(n, dtype=torch.long)
    for out in (S.semi_hard_negatives(dist, labels, 0.2), S.batch_hard(dist, labels), S.hardest_negatives(dist, labels)):
        assert all(t.numel() == 0 and t.dtype == torch.int64 for t in out)
    assert S.distance_weights(dist, labels, 3).shape == (n, n)


def test_large_batch_routes_agree():
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(300, 8, generator=g), dim=1)
    d = (S.pairwise_distances(x) * 8).round() / 8  # many exact ties and boundary hits
    for labels in (torch.arange(300) // 4, torch.arange(300) % 3):
        pos = _masks.positive_mask(labels)
        by_pairs = mining._semi_hard_by_pairs(d, labels, pos, 0.2)
        by_sort = mining._semi_hard_by_sorting(d, labels, pos, 0.2)
        assert all(torch.equal(u, v) for u, v in zip(by_pairs, by_sort))
        assert by_pairs[0].numel() > 0
