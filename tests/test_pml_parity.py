"""Parity with pytorch-metric-learning where the semantics overlap.

PML computes its own distance matrix (L2-normalised embeddings, ``torch.cdist``), so the
references are fed exactly that matrix. Inputs are continuous random data: PML's tie
rules are not part of our contract, and its semi-hard window is inclusive at the margin
while ours is strict, which only matters on exact boundary hits (tested separately).
"""

import math

import pytest
import torch
from hypothesis import given, strategies as st

import solutions as S

pml = pytest.importorskip("pytorch_metric_learning")
from pytorch_metric_learning.distances import LpDistance  # noqa: E402
from pytorch_metric_learning.miners import BatchHardMiner, TripletMarginMiner  # noqa: E402


def batch(seed: int, n: int, n_classes: int, dim: int = 8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g, dtype=torch.float64)
    labels = torch.randint(0, n_classes, (n,), generator=g)
    return x, labels, LpDistance()(x)


@given(seed=st.integers(0, 2**31), n=st.integers(2, 40), n_classes=st.integers(1, 8))
def test_batch_hard_matches_pml(seed, n, n_classes):
    x, labels, d = batch(seed, n, n_classes)
    ours = S.batch_hard(d, labels)
    theirs = BatchHardMiner()(x, labels)
    for u, v in zip(ours, theirs):
        assert torch.equal(u, v)


def closest_per_pair(a, p, n, d):
    """Reduce PML's set of semi-hard triplets to the closest negative per (a, p)."""
    best = {}
    for ai, pi, ni in zip(a.tolist(), p.tolist(), n.tolist()):
        key = (ai, pi)
        if key not in best or (d[ai, ni], ni) < (d[ai, best[key]], best[key]):
            best[key] = ni
    return sorted((k[0], k[1], v) for k, v in best.items())


@given(
    seed=st.integers(0, 2**31),
    n=st.integers(2, 40),
    n_classes=st.integers(1, 8),
    margin=st.floats(0.05, 1.0),
)
def test_semi_hard_matches_pml_reduced_to_one_negative_per_pair(seed, n, n_classes, margin):
    x, labels, d = batch(seed, n, n_classes)
    theirs = closest_per_pair(*TripletMarginMiner(margin=margin, type_of_triplets="semihard")(x, labels), d)
    ours = list(zip(*(t.tolist() for t in S.semi_hard_negatives(d, labels, margin))))
    assert [tuple(r) for r in ours] == theirs


def test_pml_is_inclusive_at_the_margin_and_we_are_strict():
    # 1-D points: anchor 0 and positive 1 at distance 0.5, negative 2 at exactly 0.75 from the anchor.
    x = torch.tensor([[0.0, 1.0], [0.5, 1.0], [-0.75, 1.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1])
    dist = LpDistance(normalize_embeddings=False)
    a, p, n = TripletMarginMiner(margin=0.25, type_of_triplets="semihard", distance=dist)(x, labels)
    assert (0, 1, 2) in set(zip(a.tolist(), p.tolist(), n.tolist()))
    ours = S.semi_hard_negatives(dist(x), labels, 0.25)
    assert (0, 1, 2) not in set(zip(*(t.tolist() for t in ours)))


# ----------------------------------------------------------------------------- NT-Xent
from pytorch_metric_learning.losses import NTXentLoss  # noqa: E402
from pytorch_metric_learning.reducers import DoNothingReducer  # noqa: E402

PML_CAP_FLOAT32 = -math.log(torch.finfo(torch.float32).tiny)  # 87.3365


@given(
    seed=st.integers(0, 2**31),
    n=st.integers(2, 24),
    n_classes=st.integers(1, 6),
    temperature=st.sampled_from([1e-3, 0.005, 0.01, 0.07, 0.5, 1.0]),
)
def test_ntxent_matches_pml_below_its_cap_and_exceeds_it_above(seed, n, n_classes, temperature):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    labels = torch.randint(0, n_classes, (n,), generator=g)
    ours = S.ntxent_loss(x, labels, temperature).item()
    theirs = NTXentLoss(temperature)(x, labels).item()
    per_pair = torch.as_tensor(NTXentLoss(temperature, reducer=DoNothingReducer())(x, labels)["loss"]["losses"])
    assert bool((per_pair <= PML_CAP_FLOAT32 + 1e-4).all())  # -log(ratio + tiny) never exceeds -log(tiny)
    if per_pair.numel() == 0 or float(per_pair.max()) < 80:
        assert math.isclose(ours, theirs, rel_tol=1e-5, abs_tol=1e-6)
    else:  # near or at the cap PML under-reports: -log(ratio + tiny) < -log(ratio)
        assert ours >= theirs * (1 - 1e-5)


def test_pml_ntxent_caps_hard_pairs_at_minus_log_tiny_with_zero_gradient():
    """At T = 1e-3 a pair whose negative beats its positive by 0.1 in cosine has loss ~100;
    PML reports -log(tiny) = 87.34 for it and gives it no gradient; the reference does not."""
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 1, 1])
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    per_pair = NTXentLoss(1e-3, reducer=DoNothingReducer())(a, labels)["loss"]["losses"]
    assert torch.allclose(per_pair, torch.full_like(per_pair, PML_CAP_FLOAT32), atol=1e-4)
    (grad_pml,) = torch.autograd.grad(per_pair.mean(), a)
    assert bool((grad_pml == 0).all())
    ours = S.ntxent_loss(b, labels, 1e-3)
    assert ours.item() > 600
    (grad_ours,) = torch.autograd.grad(ours, b)
    assert float(grad_ours.abs().sum()) > 0


# ----------------------------------------------------------------------------- proxy losses
from pytorch_metric_learning.losses import ProxyAnchorLoss, ProxyNCALoss  # noqa: E402


def proxy_batch(seed: int, n: int, n_classes: int, dim: int = 8):
    g = torch.Generator().manual_seed(seed)
    proxies = torch.randn(n_classes, dim, generator=g)
    labels = torch.randint(0, n_classes, (n,), generator=g)
    x = proxies[labels] + torch.randn(n, dim, generator=g)
    return x, labels, proxies


def with_proxies(loss, proxies):
    loss.proxies.data = proxies.clone()
    return loss


@given(seed=st.integers(0, 2**31), n=st.integers(1, 32), n_classes=st.integers(1, 6), scale=st.sampled_from([1.0, 3.0, 9.0, 13.98]))
def test_proxy_nca_matches_pml_where_no_probability_underflows(seed, n, n_classes, scale):
    x, labels, proxies = proxy_batch(seed, n, n_classes)
    theirs = with_proxies(ProxyNCALoss(n_classes, 8, softmax_scale=scale), proxies)
    kept = torch.as_tensor(with_proxies(ProxyNCALoss(n_classes, 8, softmax_scale=scale, reducer=DoNothingReducer()), proxies)(x, labels)["loss"]["losses"])
    assert kept.numel() == n  # at these scales no sample's probability underflows
    assert math.isclose(S.proxy_nca_loss(x, labels, proxies, scale).item(), theirs(x, labels).item(), rel_tol=1e-5, abs_tol=1e-6)


def test_pml_proxy_nca_drops_the_hardest_samples_when_their_probability_underflows():
    """Half the samples sit opposite their own proxy, on another class's proxy. At softmax_scale 30
    their class probability (~e^-120) underflows in float32 and PML drops them: its loss falls
    as the batch gets harder."""
    e = torch.eye(8)
    proxies = torch.stack([e[0], -e[0], e[1], -e[1]])
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    x = proxies[labels].clone()
    x[4:] = -x[4:]
    for scale in (30.0, 100.0):
        per_sample = with_proxies(ProxyNCALoss(4, 8, softmax_scale=scale, reducer=DoNothingReducer()), proxies)(x, labels)
        assert torch.as_tensor(per_sample["loss"]["losses"]).numel() < 8
        theirs = with_proxies(ProxyNCALoss(4, 8, softmax_scale=scale), proxies)(x, labels).item()
        ours = S.proxy_nca_loss(x, labels, proxies, scale).item()
        assert ours > theirs + scale / 4
    nothing_kept = with_proxies(ProxyNCALoss(4, 8, softmax_scale=100.0), proxies)(x[4:], labels[4:]).item()
    assert math.isnan(nothing_kept) or nothing_kept == 0.0
    assert S.proxy_nca_loss(x[4:], labels[4:], proxies, 100.0).item() > 300


@given(seed=st.integers(0, 2**31), n=st.integers(1, 32), n_classes=st.integers(1, 6), alpha=st.sampled_from([1.0, 32.0, 64.0]), delta=st.sampled_from([0.0, 0.1]))
def test_proxy_anchor_matches_pml(seed, n, n_classes, alpha, delta):
    x, labels, proxies = proxy_batch(seed, n, n_classes)
    theirs = with_proxies(ProxyAnchorLoss(n_classes, 8, margin=delta, alpha=alpha), proxies)(x, labels).item()
    assert math.isclose(S.proxy_anchor_loss(x, labels, proxies, alpha, delta).item(), theirs, rel_tol=1e-5, abs_tol=1e-6)
