"""ntxent_loss, hard_negative_infonce and topk_negatives against mpmath loop oracles, plus
the properties the issue names (reductions, monotone in beta, the beta -> inf limit, the
clamp floor, permutation invariance, float32 vs float64, low temperatures, validation)."""

import math

import pytest
import torch
from hypothesis import given, strategies as st

import solutions as S
from grader.suites.strategies import embeddings, label_vectors

from . import oracles_contrastive as O

TEMPERATURES = (1e-4, 1e-3, 0.01, 0.07, 0.5, 1.0, 5.0)


@st.composite
def scaled_embeddings(draw, n: int, dtype=torch.float64, max_dim: int = 4):
    """Non-zero rows (duplicates and exact cosine ties included), each scaled by a power of 2."""
    dim = draw(st.integers(1, max_dim))
    x = draw(embeddings(n, dim, dtype=torch.float64, unit=True))
    scale = torch.tensor(draw(st.lists(st.sampled_from([0.25, 1.0, 4.0]), min_size=n, max_size=n)), dtype=torch.float64)
    return (x * scale[:, None]).to(dtype)


@st.composite
def ntxent_inputs(draw, max_size: int = 10):
    labels = draw(label_vectors(max_size=max_size))
    x = draw(scaled_embeddings(labels.shape[0]))
    return x, labels


@st.composite
def view_pairs(draw, max_items: int = 6):
    b = draw(st.integers(2, max_items))
    x = draw(scaled_embeddings(2 * b))
    return x[:b], x[b:]


def close(got: float, want: float, rel: float = 1e-9) -> bool:
    return math.isclose(got, want, rel_tol=rel, abs_tol=1e-300)


# ----------------------------------------------------------------------------- ntxent_loss
@given(inputs=ntxent_inputs(), temperature=st.sampled_from(TEMPERATURES))
def test_ntxent_matches_the_mpmath_oracle(inputs, temperature, device):
    x, labels = inputs
    xd = x.to(device).requires_grad_()
    loss = S.ntxent_loss(xd, labels.to(device), temperature)
    assert loss.shape == () and loss.dtype == x.dtype and loss.device.type == device
    assert close(loss.item(), O.ntxent_loss(x, labels, temperature))
    loss.backward()
    assert bool(torch.isfinite(xd.grad).all())


@given(inputs=ntxent_inputs(), temperature=st.sampled_from(TEMPERATURES), k=st.integers(1, 4))
def test_ntxent_with_mined_denominators_matches_the_oracle(inputs, temperature, k):
    x, labels = inputs
    sim = x @ x.T
    negatives = S.topk_negatives(sim, labels, k)
    got = S.ntxent_loss(x, labels, temperature, negatives=negatives).item()
    assert close(got, O.ntxent_loss(x, labels, temperature, negatives))
    # Keeping every negative is the plain loss.
    if labels.numel():
        everything = S.topk_negatives(sim, labels, labels.numel())
        assert close(S.ntxent_loss(x, labels, temperature, negatives=everything).item(), S.ntxent_loss(x, labels, temperature).item(), 1e-12)


@pytest.mark.parametrize("labels", [[], [3], [1, 1, 1, 1], [0, 1, 2, 3]], ids=["empty", "one", "no-negative", "no-positive"])
def test_ntxent_is_exactly_zero_with_a_gradient_when_nothing_contributes(labels):
    lab = torch.tensor(labels, dtype=torch.int64)
    x = torch.randn(len(labels), 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64).requires_grad_()
    loss = S.ntxent_loss(x, lab, 0.1)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert bool((x.grad == 0).all())


def test_ntxent_pair_without_mined_negative_counts_zero_in_the_mean():
    x = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.2]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1])
    negatives = torch.tensor([[2], [-1], [-1], [-1]])
    got = S.ntxent_loss(x, labels, 0.5, negatives=negatives).item()
    assert close(got, O.ntxent_loss(x, labels, 0.5, negatives))
    # 4 positive pairs; only (0, 1) has a negative, the other three contribute 0.
    s01, s02 = 0.8 / 0.5, 0.0 / 0.5
    assert close(got, math.log1p(math.exp(s02 - s01)) / 4, 1e-12)


def test_ntxent_never_caps_at_low_temperature():
    """The hardest pairs keep their full loss and gradient, where PML's ``+ tiny`` caps at 87.34."""
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]], requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1])  # every anchor's negative is far closer than its positive
    for t in (1e-3, 1e-4):
        loss = S.ntxent_loss(x, labels, t)
        assert math.isclose(loss.item(), O.ntxent_loss(x, labels, t), rel_tol=1e-5)
        assert loss.item() > 87.34 * 5
        (grad,) = torch.autograd.grad(loss, x)
        assert bool(torch.isfinite(grad).all()) and grad.abs().sum() > 0


def test_ntxent_equals_simclr_cross_entropy_for_two_views():
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.randn(6, 5, generator=g, dtype=torch.float64)
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T / 0.5).fill_diagonal_(float("-inf"))
    target = (torch.arange(12) + 6) % 12
    want = torch.nn.functional.cross_entropy(logits, target).item()
    labels = torch.arange(6).repeat(2)
    assert close(S.ntxent_loss(torch.cat([z1, z2]), labels, 0.5).item(), want, 1e-12)
    assert close(S.hard_negative_infonce(z1, z2, 0.5, beta=0.0, tau_plus=0.0).item(), want, 1e-12)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(embeddings=[[1.0]]), "embeddings"),
        (dict(embeddings=torch.ones(2, 2, dtype=torch.int64)), "embeddings"),
        (dict(embeddings=torch.ones(2)), "embeddings"),
        (dict(embeddings=torch.tensor([[1.0, 0.0], [0.0, 0.0]])), "embeddings"),
        (dict(embeddings=torch.tensor([[1.0, float("nan")], [0.0, 1.0]])), "embeddings"),
        (dict(embeddings=torch.ones(2, 0)), "embeddings"),
        (dict(labels=torch.tensor([0, 1, 2])), "labels"),
        (dict(labels=torch.tensor([0.0, 1.0])), "labels"),
        (dict(temperature=0.0), "temperature"),
        (dict(temperature=float("inf")), "temperature"),
        (dict(temperature="0.1"), "temperature"),
        (dict(negatives=torch.tensor([[1], [0]])), "negatives"),  # same label: not negatives
        (dict(negatives=torch.tensor([[2], [0]])), "negatives"),
        (dict(negatives=torch.tensor([1, 0])), "negatives"),
        (dict(negatives=torch.tensor([[-2], [0]])), "negatives"),
    ],
)
def test_ntxent_rejects_bad_input_naming_the_argument(kwargs, name):
    args = dict(embeddings=torch.eye(2), labels=torch.tensor([0, 0]), temperature=0.1, negatives=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        S.ntxent_loss(**args)


# ----------------------------------------------------------------------------- topk_negatives
@st.composite
def similarity_inputs(draw, max_size: int = 10):
    labels = draw(label_vectors(max_size=max_size))
    n = labels.shape[0]
    kind = draw(st.sampled_from(["grid", "cosine"]))
    if kind == "grid":  # many exact ties
        raw = draw(st.lists(st.integers(-4, 4), min_size=n * n, max_size=n * n))
        sim = torch.tensor(raw, dtype=torch.float64).reshape(n, n) / 4
    else:
        x = draw(scaled_embeddings(n)) if n else torch.zeros(0, 1, dtype=torch.float64)
        sim = x @ x.T
    return sim.to(draw(st.sampled_from([torch.float32, torch.float64]))), labels


@given(inputs=similarity_inputs(), k=st.integers(1, 12))
def test_topk_negatives_matches_the_oracle(inputs, k, device):
    sim, labels = inputs
    got = S.topk_negatives(sim.to(device), labels.to(device), k)
    assert got.dtype == torch.int64 and got.shape == (sim.shape[0], k) and got.device.type == device
    assert got.cpu().tolist() == O.topk_negatives(sim, labels, k)


def test_topk_negatives_ties_go_to_the_smallest_index_and_pads_with_minus_one():
    sim = torch.tensor([[9.0, 1.0, 1.0, 1.0], [2.0, 0.0, 2.0, 5.0], [0.0, 0.0, 0.0, 0.0], [3.0, 3.0, 3.0, 3.0]])
    labels = torch.tensor([0, 1, 1, 2])
    assert S.topk_negatives(sim, labels, 3).tolist() == [[1, 2, 3], [3, 0, -1], [0, 3, -1], [0, 1, 2]]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(sim=torch.ones(2, 3)), "sim"),
        (dict(sim=torch.tensor([[0.0, float("inf")], [0.0, 0.0]])), "sim"),
        (dict(sim=torch.ones(2, 2, dtype=torch.int64)), "sim"),
        (dict(labels=torch.tensor([0])), "labels"),
        (dict(k=0), "k"),
        (dict(k=1.0), "k"),
    ],
)
def test_topk_negatives_rejects_bad_input_naming_the_argument(kwargs, name):
    args = dict(sim=torch.zeros(2, 2), labels=torch.tensor([0, 1]), k=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        S.topk_negatives(**args)


# ----------------------------------------------------------------------------- hard_negative_infonce
@given(
    views=view_pairs(),
    temperature=st.sampled_from(TEMPERATURES),
    beta=st.sampled_from([0.0, 0.5, 1.0, 2.0, 6.0]),
    tau_plus=st.sampled_from([0.0, 0.05, 0.1, 0.5, 0.9]),
)
def test_hcl_matches_the_author_estimator_in_mpmath(views, temperature, beta, tau_plus, device):
    z1, z2 = views
    a, b = z1.to(device).requires_grad_(), z2.to(device).requires_grad_()
    loss = S.hard_negative_infonce(a, b, temperature, beta, tau_plus)
    assert loss.shape == () and loss.dtype == z1.dtype and loss.device.type == device
    assert close(loss.item(), O.hard_negative_infonce(z1, z2, temperature, beta, tau_plus), 1e-8)
    loss.backward()
    assert bool(torch.isfinite(a.grad).all() & torch.isfinite(b.grad).all())


@given(views=view_pairs(), temperature=st.sampled_from(TEMPERATURES), tau_plus=st.sampled_from([0.05, 0.1, 0.5]))
def test_hcl_with_beta_zero_is_the_debiased_loss(views, temperature, tau_plus):
    z1, z2 = views
    got = S.hard_negative_infonce(z1, z2, temperature, 0.0, tau_plus).item()
    assert close(got, O.debiased_infonce(z1, z2, temperature, tau_plus), 1e-8)


@given(views=view_pairs(), temperature=st.sampled_from(TEMPERATURES))
def test_hcl_with_beta_and_tau_plus_zero_is_ntxent(views, temperature):
    z1, z2 = views
    b = z1.shape[0]
    plain = S.ntxent_loss(torch.cat([z1, z2]), torch.arange(b).repeat(2), temperature).item()
    assert close(S.hard_negative_infonce(z1, z2, temperature, 0.0, 0.0).item(), plain, 1e-12)


@given(views=view_pairs(), temperature=st.sampled_from(TEMPERATURES), tau_plus=st.sampled_from([0.0, 0.1, 0.5]))
def test_hcl_never_decreases_as_beta_grows(views, temperature, tau_plus):
    z1, z2 = views
    betas = (0, 0.5, 1, 2, 4, 8, 32)
    losses = [S.hard_negative_infonce(z1, z2, temperature, beta, tau_plus).item() for beta in betas]
    # Rounding: the log-space terms are of size (beta + 1) / temperature, each good to ~1e-16 relative.
    slack = 1e-14 * (betas[-1] + 1) / temperature
    for lo, hi in zip(losses, losses[1:]):
        assert hi >= lo * (1 - 1e-12) - slack


@pytest.mark.parametrize("tau_plus", [0.0, 0.1])
@pytest.mark.parametrize("duplicate", [False, True], ids=["distinct", "tied-hardest"])
def test_hcl_as_beta_grows_counts_only_the_hardest_negative(tau_plus, duplicate):
    g = torch.Generator().manual_seed(3)
    z1 = torch.randn(5, 4, generator=g, dtype=torch.float64)
    z2 = z1 + 0.5 * torch.randn(5, 4, generator=g, dtype=torch.float64)
    if duplicate:  # item 4 duplicates item 0 in both views: exact ties among the hardest negatives
        z1[4], z2[4] = z1[0], z2[0]
    want = O.hardest_only_infonce(z1, z2, 0.5, tau_plus)
    assert close(S.hard_negative_infonce(z1, z2, 0.5, 1e4, tau_plus).item(), want, 1e-9)
    assert not close(S.hard_negative_infonce(z1, z2, 0.5, 1.0, tau_plus).item(), want, 1e-3)


@given(views=view_pairs(), temperature=st.sampled_from(TEMPERATURES), data=st.data())
def test_hcl_is_invariant_under_permuting_the_batch(views, temperature, data):
    z1, z2 = views
    perm = torch.tensor(data.draw(st.permutations(range(z1.shape[0]))))
    a = S.hard_negative_infonce(z1, z2, temperature, 1.0, 0.1).item()
    assert close(S.hard_negative_infonce(z1[perm], z2[perm], temperature, 1.0, 0.1).item(), a, 1e-12)


@given(
    views=view_pairs(),
    temperature=st.sampled_from([0.05, 0.1, 0.5, 1.0]),
    beta=st.sampled_from([0.0, 1.0, 6.0]),
    tau_plus=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_hcl_float32_and_float64_agree(views, temperature, beta, tau_plus):
    z1, z2 = views
    hi = S.hard_negative_infonce(z1, z2, temperature, beta, tau_plus).item()
    lo = S.hard_negative_infonce(z1.float(), z2.float(), temperature, beta, tau_plus).item()
    assert math.isclose(lo, hi, rel_tol=1e-5, abs_tol=1e-6)


def test_hcl_is_finite_where_the_author_code_overflows():
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(16, 32, generator=g)
    z2 = z1 + 0.8 * torch.randn(16, 32, generator=g)
    assert math.isclose(S.hard_negative_infonce(z1, z2).item(), O.author_hcl(z1, z2, 0.5, 1.0, 0.1).item(), rel_tol=1e-5)
    assert not math.isfinite(O.author_hcl(z1, z2, 0.01, 1.0, 0.1).item())
    for t in (0.01, 1e-3, 1e-4):
        a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        loss = S.hard_negative_infonce(a, b, t, 1.0, 0.1)
        want = O.hard_negative_infonce(z1, z2, t, 1.0, 0.1)
        assert math.isfinite(loss.item()) and math.isclose(loss.item(), want, rel_tol=1e-4, abs_tol=1e-30)
        loss.backward()
        assert bool(torch.isfinite(a.grad).all() & torch.isfinite(b.grad).all())


def test_hcl_floor_binds_when_the_debiased_sum_goes_negative():
    # Positives identical, negatives orthogonal-ish: tau_plus * N * e^{s+} exceeds the reweighted sum.
    z1 = torch.eye(3, dtype=torch.float64)
    z2 = z1.clone()
    n, t = 4, 0.5
    s_pos = 1 / t
    want = math.log1p(n * math.exp(-1 / t) / math.exp(s_pos))
    assert close(S.hard_negative_infonce(z1, z2, t, 1.0, 0.9).item(), want, 1e-12)
    assert close(O.hard_negative_infonce(z1, z2, t, 1.0, 0.9), want, 1e-12)


def test_hcl_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(5)
    for beta, tau_plus, t in [(1.0, 0.1, 0.5), (6.0, 0.5, 0.2), (0.0, 0.0, 0.1), (2.0, 0.9, 1.0)]:
        z1 = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
        z2 = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda a, b: S.hard_negative_infonce(a, b, t, beta, tau_plus), (z1, z2))
    x = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 0])
    assert torch.autograd.gradcheck(lambda e: S.ntxent_loss(e, labels, 0.3), (x,))


@pytest.mark.parametrize("b", [0, 1])
def test_hcl_without_negatives_is_exactly_zero_with_a_gradient(b):
    z1 = torch.ones(b, 3, requires_grad=True)
    z2 = torch.ones(b, 3, requires_grad=True)
    loss = S.hard_negative_infonce(z1, z2)
    assert loss.item() == 0.0
    loss.backward()
    assert bool((z1.grad == 0).all())


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(z1=torch.eye(3)[:2]), "z2"),
        (dict(z2=torch.eye(2, dtype=torch.float64)), "z2"),
        (dict(z1=torch.zeros(2, 2)), "z1"),
        (dict(z2=torch.tensor([[1.0, 0.0], [float("inf"), 1.0]])), "z2"),
        (dict(z1=torch.ones(2, 2, dtype=torch.int32)), "z1"),
        (dict(temperature=0.0), "temperature"),
        (dict(temperature=-1.0), "temperature"),
        (dict(beta=-0.5), "beta"),
        (dict(beta=float("nan")), "beta"),
        (dict(tau_plus=1.0), "tau_plus"),
        (dict(tau_plus=-0.1), "tau_plus"),
        (dict(tau_plus=True), "tau_plus"),
    ],
)
def test_hcl_rejects_bad_input_naming_the_argument(kwargs, name):
    args = dict(z1=torch.eye(2), z2=torch.eye(2), temperature=0.5, beta=1.0, tau_plus=0.1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        S.hard_negative_infonce(**args)
