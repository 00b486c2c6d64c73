"""Properties of ``hard_negative_infonce(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1)``.

The loss is judged against the reference evaluated in float64 on the same input values, up to
an absolute tolerance that grows with the dtype's rounding, ``1 / temperature`` and the number
of negatives ``N`` (near the debiasing boundary a float32 answer may lose all relative accuracy
in ``Ng``, but the loss moves by at most about ``N eps / temperature``). Each rule has its own
input family, chosen so that only one part of the formula decides it: plain NT-Xent
(``beta = tau_plus = 0``), debiasing (``beta = 0``), hardness weighting (``tau_plus = 0``), the
clamp floor (a large ``tau_plus``), float32 at low temperatures and large ``beta``, and the
gradient with respect to ``z1``.
"""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

import solutions
from grader.engine import Case, CheckFailed, Exercise, Property
from grader.sandbox import codec
from grader.suites import generic
from grader.suites._common import AGREE_RTOL, agrees, guarded, inputs_unchanged, loss_value, per_example, scalar_loss_problem, scalar_summary_structure, scale_checked, tensor
from grader.suites.strategies import FLOAT_DTYPES, embeddings

PARAMS = ("z1", "z2", "temperature", "beta", "tau_plus")
TEMPERATURES = (0.5, 0.1, 1.0, 0.05, 2.0, 0.25)


@st.composite
def _inputs(draw, betas, taus, temperatures=TEMPERATURES, dtypes=FLOAT_DTYPES, min_b: int = 2, max_b: int = 6):
    """``[z1, z2, temperature, beta, tau_plus]``: two views of B items, D in 1..6, no zero row
    (duplicated rows and identical views happen)."""
    b, d = draw(st.integers(min_b, max_b)), draw(st.integers(1, 6))
    dtype = draw(st.sampled_from(dtypes))
    z = draw(embeddings(2 * b, d, dtype=torch.float64))
    zero = (z == 0).all(dim=1)
    z[zero, 0] = 1.0  # the reference rejects all-zero rows
    return [z[:b].to(dtype), z[b:].to(dtype), draw(st.sampled_from(temperatures)), draw(st.sampled_from(betas)),
            draw(st.sampled_from(taus))]


BETAS, TAUS = (0.0, 0.5, 1.0, 2.0, 6.0), (0.0, 0.05, 0.1, 0.3, 0.5)
inputs = _inputs(BETAS, TAUS)
plain_inputs = _inputs((0.0,), (0.0,))
debiased_inputs = _inputs((0.0,), (0.05, 0.1, 0.3))
hard_inputs = _inputs((0.5, 1.0, 2.0, 6.0, 50.0), (0.0,))
floor_inputs = _inputs((0.0, 1.0), (0.5, 0.8, 0.95), temperatures=(0.5, 1.0, 2.0))
cold_inputs = _inputs((0.0, 1.0), (0.0, 0.1), temperatures=(1e-4, 1e-3, 0.01), dtypes=(torch.float32,))
grad_inputs = _inputs((0.0, 0.5, 1.0, 2.0), (0.0,), temperatures=(0.5, 0.1, 1.0, 0.25))
edge_inputs = _inputs(BETAS, TAUS, min_b=0, max_b=2)


def _upstream(args, expected) -> torch.Tensor:
    return torch.ones((), dtype=args[0].dtype)


def _n(args) -> int:
    return max(2 * args[0].shape[0] - 2, 0)


def _tol(args) -> float:
    """Absolute tolerance of a loss value computed in the inputs' dtype."""
    eps = torch.finfo(args[0].dtype).eps
    return 64 * eps * (1 + 1 / args[2]) * (_n(args) + 2) * (args[0].shape[1] + 2)


@per_example
def loss64(args: list) -> float:
    """The reference's loss computed in float64 (no autograd: most rules need the value only)."""
    with torch.no_grad():
        return float(solutions.hard_negative_infonce(args[0].detach().double(), args[1].detach().double(), *args[2:]))


@per_example
def grad64(args: list) -> torch.Tensor | None:
    """The gradient of the reference's loss with respect to z1, computed in float64."""
    z1 = args[0].detach().double().requires_grad_(True)
    loss = solutions.hard_negative_infonce(z1, args[1].detach().double(), *args[2:])
    (grad,) = torch.autograd.grad(loss, z1, allow_unused=True)
    return grad


def _close(case: Case, what: str) -> str | None:
    want = loss64(case.args)
    got = loss_value(case)
    if not abs(got - want) <= _tol(case.args):
        return f"the loss is {got!r}, expected {want!r} ({what})"
    return None


@guarded
def returns_scalar(case: Case) -> str | None:
    """A 0-d tensor in z1's dtype on z1's device."""
    return scalar_loss_problem(case, "z1")


@guarded
def plain_ntxent(case: Case) -> str | None:
    """beta = tau_plus = 0: plain NT-Xent over the 2B anchors (cosine / temperature, N = 2B - 2 negatives)."""
    return _close(case, "with beta = tau_plus = 0 the loss is SimCLR's NT-Xent: the mean over the 2B anchors of "
                        "logsumexp([s+, s_1..s_N]) - s+, s = cosine / temperature, the anchor itself left out")


@guarded
def debiased(case: Case) -> str | None:
    """beta = 0, tau_plus > 0: Chuang et al.'s debiased negative term (Ng divided by 1 - tau_plus)."""
    return _close(case, "with beta = 0: Ng = max((sum_i e^{s_i} - tau_plus N e^{s+}) / (1 - tau_plus), "
                        "N e^{-1/temperature})")


@guarded
def hardness_weighted(case: Case) -> str | None:
    """tau_plus = 0, beta > 0: reweight = N sum e^{(beta+1) s_i} / sum e^{beta s_i}, beta multiplying s = cos / t."""
    return _close(case, "with tau_plus = 0: Ng = N sum_i e^{(beta+1) s_i} / sum_i e^{beta s_i}, where beta multiplies "
                        "s = cosine / temperature; evaluate it in log space (large beta overflows exp)")


@guarded
def clamp_floor(case: Case) -> str | None:
    """A large tau_plus: Ng never drops below N e^{-1/temperature}."""
    return _close(case, "Ng is clamped from below at N e^{-1/temperature}, also where the debiased sum is <= 0")


@guarded
def low_temperature(case: Case) -> str | None:
    """float32 at temperature 1e-4 to 0.01: finite and accurate (log space, no exp of s)."""
    got = loss_value(case)
    if not math.isfinite(got):
        return (f"the loss is {got!r} at temperature {case.args[2]} in float32: e^(cos / t) overflows; "
                "work with logsumexp / logaddexp instead of exp")
    return _close(case, f"float32 at temperature {case.args[2]}")


@guarded
def gradient_matches(case: Case) -> str | None:
    """The gradient with respect to z1 is the loss's: the importance weights are not detached."""
    if isinstance(case.grad, codec.RejectedValue):
        raise CheckFailed(f"no gradient with respect to z1 could be computed: the result is {case.grad.what}")
    g = tensor(case.grad, "the gradient")
    want = grad64(case.args)
    if g.shape != case.args[0].shape or want is None:
        return f"the gradient has shape {tuple(g.shape)}, expected {tuple(case.args[0].shape)}"
    g = g.double()
    scale = float(want.abs().max()) + 1 / case.args[2]
    tol = 1e-3 * scale if case.args[0].dtype == torch.float32 else 1e-9 * scale
    bad = ~((g - want).abs() <= tol)
    if bool(bad.any()):
        i, j = bad.nonzero()[0].tolist()
        return (f"d loss / d z1[{i},{j}] is {g[i, j].item()!r}, expected {want[i, j].item()!r}: the gradient must flow "
                "through every term, the importance weights e^(beta s_i) included (do not detach them)")
    return None


@guarded
def single_pair_zero(case: Case) -> str | None:
    """B <= 1 (no negative): exactly 0.0, not NaN, still connected to z1."""
    if case.args[0].shape[0] > 1:
        return None
    got = loss_value(case)
    if got != 0:
        return f"with B = {case.args[0].shape[0]} there is no negative, so the loss must be exactly 0.0, got {got!r}"
    if isinstance(case.grad, codec.RejectedValue) or case.grad is None:
        return "the loss must stay connected to z1 (so .backward() works), also when it is 0"
    return None


@guarded
def matches_reference(case: Case) -> str | None:
    """The reference's value."""
    return _close(case, "the reference's value")


def _readable(case: Case) -> None:
    loss_value(case)
    return None


def _substantive(case: Case) -> bool | None:
    """Telling when B >= 2; substantive when the loss is finite and non-zero."""
    if case.args[0].shape[0] < 2:
        return None
    value = loss_value(case)
    return math.isfinite(value) and value != 0


def _grad_property(name, points, description, strategy, check, **kw) -> Property:
    return Property(name, points, description, strategy, check, grad_wrt=0, upstream=_upstream, **kw)


# -- agreement with the reference (issue #20) -------------------------------------------
@st.composite
def generic_inputs(draw):
    """``[z1, z2, temperature, beta, tau_plus]``: 3-12 pairs of normal 4-32-d views (the second
    a noisy copy of the first), temperature in [0.3, 1], beta in [0, 3], tau_plus in [0, 0.15]
    (one in six without hardness weighting, one in four without debiasing; rarely on the clamp floor)."""
    g = generic._generator(draw(generic._seeds))
    b, d = draw(st.integers(3, 12)), draw(st.integers(4, 32))
    z1 = torch.randn(b, d, generator=g, dtype=torch.float64)
    z2 = z1 + draw(st.sampled_from([2.0, 3.0])) * torch.randn(b, d, generator=g, dtype=torch.float64)
    u = torch.rand(3, generator=g, dtype=torch.float64).tolist()
    dtype = draw(st.sampled_from(generic.FLOAT_DTYPES))
    beta = 0.0 if draw(st.integers(0, 5)) == 0 else 3 * u[1]
    tau = 0.0 if draw(st.integers(0, 3)) == 0 else 0.15 * u[2]
    return [z1.to(dtype), z2.to(dtype), 0.3 + 0.7 * u[0], beta, tau]


GENERIC = generic_inputs()


def _same_as_reference(case: Case) -> str | None:
    """The reference's value, up to the rules' tolerance or AGREE_RTOL."""
    if matches_reference(case) is None:
        return None
    got, want = loss_value(case), loss64(case.args)
    return None if abs(got - want) <= AGREE_RTOL * abs(want) else f"the loss is {got!r}, the reference's is {want!r}"


AGREEMENT = agrees(_same_as_reference, telling=lambda case: case.args[0].shape[0] >= 2)
SCALE_RTOL = 1e-4  # float32 sums over 4094 negatives of 4096 anchors, in any order


@scale_checked
def _scale_agreement(args: list, actual, expected) -> str | None:
    """The scale answer's loss equals the reference's (relative tolerance ``SCALE_RTOL``)."""
    out = tensor(actual, "the loss")
    if out.numel() != 1 or not out.dtype.is_floating_point:
        raise CheckFailed(f"the loss must be a single floating number, got dtype {out.dtype} and shape {tuple(out.shape)}")
    got, want = float(out.detach().cpu().reshape(())), float(expected.detach().cpu())
    if not abs(got - want) <= SCALE_RTOL * abs(want) + 1e-6:
        return f"the loss is {got!r}, the reference's is {want!r}"
    return None


SCALE_AGREEMENT = _scale_agreement


EXERCISE = Exercise(
    id="hard_negative_infonce",
    reference=solutions.hard_negative_infonce,
    params=PARAMS,
    defaults={"temperature": 0.5, "beta": 1.0, "tau_plus": 0.1},
    summary="Hardness-weighted, debiased InfoNCE (HCL) over two views, in log space.",
    structure=scalar_summary_structure,
    ordinary=lambda args: args[0].shape[0] >= 2,
    substantive=_substantive,
    generic=GENERIC,
    agreement=AGREEMENT,
    scale_agreement=SCALE_AGREEMENT,
    properties=(
        _grad_property("returns_scalar", 1, "A 0-d tensor in z1's dtype on z1's device.", inputs, returns_scalar),
        _grad_property("plain_ntxent", 1, "beta = tau_plus = 0 gives plain NT-Xent (SimCLR) over the 2B anchors.", plain_inputs, plain_ntxent),
        _grad_property("debiased", 1, "beta = 0, tau_plus > 0 gives the debiased loss (Chuang et al.).", debiased_inputs, debiased),
        _grad_property("hardness_weighted", 1, "tau_plus = 0, beta > 0 (up to 50): the importance-weighted negatives, beta multiplying cosine / temperature.", hard_inputs, hardness_weighted),
        _grad_property("clamp_floor", 1, "Ng is clamped at N e^(-1/temperature) (large tau_plus).", floor_inputs, clamp_floor),
        _grad_property("low_temperature", 1, "float32 at temperature 1e-4 to 0.01: finite and accurate.", cold_inputs, low_temperature),
        _grad_property("gradient_matches", 1, "The gradient with respect to z1 is the loss's (importance weights not detached).", grad_inputs, gradient_matches),
        _grad_property("single_pair_zero", 0.5, "B <= 1: exactly 0.0, still connected to z1.", edge_inputs, single_pair_zero),
        _grad_property("inputs_unchanged", 0.5, "The inputs are not modified in place.", inputs, guarded(inputs_unchanged(PARAMS, _readable))),
        _grad_property("handles_edge_cases", 0.5, "Accepts every valid input (B = 0, 1, 2, D = 1) without raising.", edge_inputs, guarded(_readable), edge=True),
        _grad_property("matches_reference", 0.5, "The reference's value.", inputs, matches_reference, visibility="hidden"),
        Property("scale", 1, "Vectorised: B = 2048 pairs of 128-d views (4096 anchors) within 10x the reference's time (at least 2 s).", scale=True),
    ),
)
