"""proxy_nca_loss and proxy_anchor_loss against mpmath loop oracles, and Proxy Anchor's
properties: positive, invariant to permuting the batch, to scaling embeddings and proxies and
to relabelling classes with their proxies, a proxy without positives is left out of the first
term, finite for alpha up to 256 where the exp form overflows, gradients match."""

import math

import pytest
import torch
from hypothesis import given, strategies as st

import solutions as S
from grader.suites.strategies import embeddings

from . import oracles_contrastive as O


@st.composite
def proxy_inputs(draw, max_size: int = 8, max_classes: int = 4):
    c = draw(st.integers(1, max_classes))
    b = draw(st.integers(0, max_size))
    dim = draw(st.integers(1, 4))
    labels = torch.tensor(draw(st.lists(st.integers(0, c - 1), min_size=b, max_size=b)), dtype=torch.int64)
    x = draw(embeddings(b, dim, dtype=torch.float64, unit=True))
    scale = torch.tensor(draw(st.lists(st.sampled_from([0.5, 1.0, 8.0]), min_size=b, max_size=b)), dtype=torch.float64)
    proxies = draw(embeddings(c, dim, dtype=torch.float64, unit=True))
    return x * scale[:, None], labels, proxies


def close(got: float, want: float, rel: float = 1e-9) -> bool:
    return math.isclose(got, want, rel_tol=rel, abs_tol=1e-12)


@given(inputs=proxy_inputs(), scale=st.sampled_from([0.5, 1.0, 9.0, 32.0, 100.0, 1000.0]))
def test_proxy_nca_matches_the_mpmath_oracle(inputs, scale, device):
    x, labels, proxies = inputs
    xd, pd = x.to(device).requires_grad_(), proxies.to(device).requires_grad_()
    loss = S.proxy_nca_loss(xd, labels.to(device), pd, scale)
    assert loss.shape == () and loss.dtype == x.dtype and loss.device.type == device
    assert close(loss.item(), O.proxy_nca_loss(x, labels, proxies, scale), 1e-8)
    assert loss.item() >= 0
    loss.backward()
    assert bool(torch.isfinite(xd.grad).all() & torch.isfinite(pd.grad).all())


@given(inputs=proxy_inputs(), alpha=st.sampled_from([1.0, 32.0, 100.0, 256.0]), delta=st.sampled_from([0.0, 0.1, 0.5]))
def test_proxy_anchor_matches_the_mpmath_oracle(inputs, alpha, delta, device):
    x, labels, proxies = inputs
    xd, pd = x.to(device).requires_grad_(), proxies.to(device).requires_grad_()
    loss = S.proxy_anchor_loss(xd, labels.to(device), pd, alpha, delta)
    assert loss.shape == () and loss.dtype == x.dtype and loss.device.type == device
    assert close(loss.item(), O.proxy_anchor_loss(x, labels, proxies, alpha, delta), 1e-8)
    assert loss.item() >= 0 and (loss.item() > 0 or x.shape[0] == 0)
    loss.backward()
    assert bool(torch.isfinite(xd.grad).all() & torch.isfinite(pd.grad).all())


@given(inputs=proxy_inputs(), data=st.data())
def test_proxy_anchor_invariances(inputs, data):
    x, labels, proxies = inputs
    base = S.proxy_anchor_loss(x, labels, proxies).item()
    perm = torch.tensor(data.draw(st.permutations(range(x.shape[0]))), dtype=torch.int64)
    assert close(S.proxy_anchor_loss(x[perm], labels[perm], proxies).item(), base, 1e-12)
    # Scaling by powers of two leaves the unit vectors bit-identical; any positive scale up to rounding.
    assert S.proxy_anchor_loss(x * 4, labels, proxies / 8).item() == base
    assert close(S.proxy_anchor_loss(x * 3.7, labels, proxies * 0.3).item(), base, 1e-12)
    # Relabel the classes and permute the proxies with them.
    relabel = torch.tensor(data.draw(st.permutations(range(proxies.shape[0]))), dtype=torch.int64)
    new_proxies = torch.empty_like(proxies)
    new_proxies[relabel] = proxies
    assert close(S.proxy_anchor_loss(x, relabel[labels], new_proxies).item(), base, 1e-12)
    assert close(S.proxy_nca_loss(x, relabel[labels], new_proxies, 9.0).item(), S.proxy_nca_loss(x, labels, proxies, 9.0).item(), 1e-12)


def test_a_proxy_without_positives_is_left_out_of_the_positive_term():
    x = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64)
    labels = torch.tensor([0, 0])
    proxies = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    a, d = 32.0, 0.1
    cos0, cos1 = [1.0, 0.6], [0.0, 0.8]
    first = math.log1p(sum(math.exp(-a * (c - d)) for c in cos0)) / 1  # |P+| = 1, not 2
    second = (0.0 + math.log1p(sum(math.exp(a * (c + d)) for c in cos1))) / 2  # proxy 0 has no negatives
    assert close(S.proxy_anchor_loss(x, labels, proxies, a, d).item(), first + second, 1e-12)


def official_proxy_anchor(x, labels, proxies, alpha, delta):
    """tjddus9597/Proxy-Anchor-CVPR2020 code/losses.py, as published (torch.exp)."""
    cos = torch.nn.functional.normalize(x) @ torch.nn.functional.normalize(proxies).T
    p_one_hot = torch.nn.functional.one_hot(labels, proxies.shape[0]).to(x.dtype)
    pos_exp = torch.exp(-alpha * (cos - delta))
    neg_exp = torch.exp(alpha * (cos + delta))
    with_pos = (p_one_hot.sum(dim=0) != 0).sum()
    p_sim_sum = torch.where(p_one_hot == 1, pos_exp, torch.zeros_like(pos_exp)).sum(dim=0)
    n_sim_sum = torch.where(p_one_hot == 0, neg_exp, torch.zeros_like(neg_exp)).sum(dim=0)
    return torch.log(1 + p_sim_sum).sum() / with_pos + torch.log(1 + n_sim_sum).sum() / proxies.shape[0]


def test_proxy_anchor_is_finite_up_to_alpha_256_where_the_exp_form_overflows():
    g = torch.Generator().manual_seed(0)
    proxies = torch.randn(4, 8, generator=g)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    x = proxies[(labels + 1) % 4] + 0.1 * torch.randn(6, 8, generator=g)  # each sample near a wrong proxy
    assert math.isclose(S.proxy_anchor_loss(x, labels, proxies).item(), official_proxy_anchor(x, labels, proxies, 32.0, 0.1).item(), rel_tol=1e-5)
    assert not math.isfinite(official_proxy_anchor(x, labels, proxies, 100.0, 0.1).item())
    for alpha in (100.0, 256.0):
        xd, pd = x.clone().requires_grad_(), proxies.clone().requires_grad_()
        loss = S.proxy_anchor_loss(xd, labels, pd, alpha, 0.1)
        assert math.isclose(loss.item(), O.proxy_anchor_loss(x, labels, proxies, alpha, 0.1), rel_tol=1e-5)
        loss.backward()
        assert bool(torch.isfinite(xd.grad).all() & torch.isfinite(pd.grad).all())


def test_proxy_nca_never_drops_a_sample_at_large_scale():
    proxies = torch.eye(3)
    x = torch.tensor([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # sample 0 opposite its proxy
    labels = torch.tensor([0, 1, 2])
    for scale in (30.0, 100.0, 1000.0):
        got = S.proxy_nca_loss(x, labels, proxies, scale).item()
        assert math.isclose(got, O.proxy_nca_loss(x, labels, proxies, scale), rel_tol=1e-5)
        assert got >= 2 * scale / 3  # sample 0 alone contributes ~2 * scale (distance 4 vs 2)


def test_gradients_match_finite_differences():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    p = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 2, 2, 0])  # proxy 3 without positives
    assert torch.autograd.gradcheck(lambda a, b: S.proxy_anchor_loss(a, labels, b, 8.0, 0.1), (x, p))
    assert torch.autograd.gradcheck(lambda a, b: S.proxy_nca_loss(a, labels, b, 3.0), (x, p))


@pytest.mark.parametrize("fn", [S.proxy_nca_loss, S.proxy_anchor_loss])
def test_an_empty_batch_gives_exactly_zero_with_a_gradient(fn):
    x = torch.zeros(0, 3, requires_grad=True)
    p = torch.eye(3, requires_grad=True)
    loss = fn(x, torch.zeros(0, dtype=torch.int64), p)
    assert loss.item() == 0.0
    loss.backward()
    assert bool((p.grad == 0).all())


@pytest.mark.parametrize("fn, extra", [(S.proxy_nca_loss, "softmax_scale"), (S.proxy_anchor_loss, "alpha")])
@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(embeddings=torch.tensor([[0.0, 0.0], [1.0, 0.0]])), "embeddings"),
        (dict(embeddings=torch.ones(2, 3)), "proxies"),
        (dict(embeddings=torch.ones(2, 2, dtype=torch.float64)), "proxies"),
        (dict(proxies=torch.zeros(0, 2)), "proxies"),
        (dict(proxies=torch.tensor([[1.0, float("nan")], [0.0, 1.0]])), "proxies"),
        (dict(labels=torch.tensor([0, 2])), "labels"),
        (dict(labels=torch.tensor([-1, 0])), "labels"),
        (dict(labels=torch.tensor([0])), "labels"),
    ],
)
def test_rejects_bad_input_naming_the_argument(fn, extra, kwargs, name):
    args = dict(embeddings=torch.eye(2), labels=torch.tensor([0, 1]), proxies=torch.eye(2))
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        fn(**args)
    with pytest.raises(ValueError, match=extra):
        fn(torch.eye(2), torch.tensor([0, 1]), torch.eye(2), 0.0)


def test_proxy_anchor_rejects_a_negative_delta():
    with pytest.raises(ValueError, match="delta"):
        S.proxy_anchor_loss(torch.eye(2), torch.tensor([0, 1]), torch.eye(2), 32.0, -0.1)
