"""pairwise_distances: accuracy against a loop oracle, exactness guarantees, gradients."""

import pytest
import torch
from hypothesis import given, strategies as st

import solutions as S
from grader.suites.strategies import embeddings

from . import oracles


@given(data=st.data(), n=st.integers(0, 9), dim=st.integers(1, 6), squared=st.booleans())
def test_matches_oracle_and_exact_guarantees(data, n, dim, squared, device):
    x = data.draw(embeddings(n, dim)).to(device)
    got = S.pairwise_distances(x, squared=squared)
    assert got.shape == (n, n) and got.dtype == x.dtype and got.device == x.device
    want = oracles.pairwise_distances(x.cpu())
    if squared:
        want = want.square()
    scale = x.double().cpu().norm(dim=1).max().item() if n else 0.0
    eps = torch.finfo(x.dtype).eps
    tol = 64 * eps * max(scale, 1.0) ** (2 if squared else 1)
    assert torch.allclose(got.cpu().double(), want, rtol=16 * eps, atol=tol)
    assert torch.equal(got, got.T), "not exactly symmetric"
    assert bool((got.diagonal() == 0).all()) and bool((got >= 0).all())
    same_rows = (x[:, None, :] == x[None, :, :]).all(dim=2)
    assert bool((got[same_rows] == 0).all()), "identical rows must be exactly 0 apart"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_near_duplicates_are_accurate_where_the_gram_shortcut_fails(dtype):
    g = torch.Generator().manual_seed(0)
    base = torch.nn.functional.normalize(torch.randn(64, 128, generator=g, dtype=torch.float64), dim=1) * 10
    noise = torch.randn(64, 128, generator=g, dtype=torch.float64) * 1e-3
    x = torch.cat([base, base + noise]).to(dtype)
    true = (x[:64].double() - x[64:].double()).norm(dim=1)
    got = S.pairwise_distances(x)[torch.arange(64), torch.arange(64) + 64].double()
    rel = ((got - true).abs() / true).max().item()
    assert rel < 1e-5 if dtype == torch.float32 else rel < 1e-12, rel
    gram = (x @ x.T).double()
    sq = gram.diagonal()
    shortcut = (sq[:, None] + sq[None, :] - 2 * gram).clamp(min=0).sqrt()[torch.arange(64), torch.arange(64) + 64]
    if dtype == torch.float32:  # the shortcut really is bad here, so the test means something
        assert ((shortcut - true).abs() / true).max().item() > 1e-2


@given(data=st.data(), n=st.integers(1, 7), dim=st.integers(1, 4))
def test_gradients_are_finite_and_zero_through_coincident_points(data, n, dim):
    x = data.draw(embeddings(n, dim, dtype=torch.float64)).requires_grad_()
    d = S.pairwise_distances(x)
    weights = torch.arange(n * n, dtype=torch.float64).reshape(n, n)
    (d * weights).sum().backward()
    assert bool(torch.isfinite(x.grad).all())


def test_identical_rows_give_zero_gradient():
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0]], requires_grad=True)
    S.pairwise_distances(x)[0, 1].backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_gradcheck_away_from_duplicates():
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: S.pairwise_distances(t), (x,))
    assert torch.autograd.gradcheck(lambda t: S.pairwise_distances(t, squared=True), (x,))


def test_gradients_finite_through_mining_and_loss_at_duplicates():
    x = torch.tensor([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.6, 0.8]], requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 0])
    d = S.pairwise_distances(x)
    for miner in (lambda: S.batch_hard(d, labels), lambda: S.semi_hard_negatives(d, labels, 2.0)):
        x.grad = None
        a, p, n = miner()
        S.triplet_margin_loss(d, a, p, n, 2.0).backward(retain_graph=True)
        assert bool(torch.isfinite(x.grad).all())
