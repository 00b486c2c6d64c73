"""Properties of ``pairwise_distances(embeddings, squared=False)``.

Accuracy is judged on squared distances against a float64 computation, with a tolerance
of a few dozen ulps at the scale of the two rows' squared norms: the Gram-matrix shortcut
with clamping is an acceptable answer; the diagonal must be exactly 0.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

import solutions
from grader.engine import Case, Exercise, Property
from grader.suites import generic
from grader.suites.strategies import embeddings

from grader.suites._common import (
    agree_close,
    agrees,
    edge_property,
    guarded,
    scale_checked,
    scale_property,
    square_summary_structure,
    tensor,
    unchanged_property,
)

PARAMS = ("embeddings", "squared")


@st.composite
def _points(draw, squared: bool | None = None, distinct: bool = False):
    n = draw(st.integers(0 if not distinct else 1, 9))
    dim = draw(st.integers(1, 6))
    x = draw(embeddings(n, dim, far=not distinct))  # far: identical rows where the Gram shortcut cancels
    if distinct:  # well-separated rows, for comparing gradients
        x = x + torch.arange(n, dtype=x.dtype)[:, None] * 10
    flag = draw(st.booleans()) if squared is None else squared
    return [x, flag]


either = _points(squared=None)
separated = _points(distinct=True)


@st.composite
def _tiny(draw):
    return [draw(embeddings(draw(st.integers(0, 2)), draw(st.integers(1, 3)))), draw(st.booleans())]


edge_inputs = _tiny()


def _matrix(case: Case) -> torch.Tensor:
    d = tensor(case.actual, "the result")
    b = case.args[0].shape[0]
    if d.shape != (b, b):
        from grader.engine import CheckFailed

        raise CheckFailed(f"expected shape ({b}, {b}), got {tuple(d.shape)}")
    return d


def _tolerance(x: torch.Tensor) -> torch.Tensor:
    """Allowed error on squared distances: 64 ulps of |x_i|^2 + |x_j|^2 (plus a tiny floor)."""
    sq = x.double().square().sum(dim=1)
    eps = torch.finfo(x.dtype).eps
    return 64 * eps * (sq[:, None] + sq[None, :] + 1e-30) * max(1, x.shape[1])


def _true_squared(x: torch.Tensor) -> torch.Tensor:
    x = x.double()
    return (x[:, None, :] - x[None, :, :]).square().sum(dim=2)


@guarded
def shape_dtype_device(case: Case) -> str | None:
    """A [B, B] tensor in the input's dtype, on the input's device."""
    d = _matrix(case)
    from grader.sandbox import codec

    if d.dtype != case.args[0].dtype:
        return f"expected dtype {case.args[0].dtype}, got {d.dtype}"
    if codec.device_of(d) != case.device:
        return f"the result is on {codec.device_of(d)}, but the input was on {case.device}"
    return None


@guarded
def zero_diagonal(case: Case) -> str | None:
    """Exactly 0 on the diagonal."""
    d = _matrix(case)
    bad = (d.diagonal() != 0).nonzero().flatten().tolist()
    return f"the diagonal must be exactly 0; entry ({bad[0]}, {bad[0]}) is {d[bad[0], bad[0]].item()!r}" if bad else None


@guarded
def symmetric(case: Case) -> str | None:
    """Symmetric up to float rounding."""
    d = _matrix(case).double()
    tol = _tolerance(case.args[0])
    if not case.args[1]:
        tol = tol.sqrt()
    bad = (~((d - d.T).abs() <= tol)).nonzero().tolist()  # NaN is never symmetric
    return f"not symmetric: d[{bad[0][0]},{bad[0][1]}] != d[{bad[0][1]},{bad[0][0]}]" if bad else None


@guarded
def non_negative_and_finite(case: Case) -> str | None:
    """Never negative, never NaN or inf."""
    d = _matrix(case)
    if not bool(torch.isfinite(d).all()):
        return "found NaN or inf (clamp before the square root)"
    if bool((d < 0).any()):
        return "found a negative distance (clamp the squared distances at 0)"
    return None


def _accuracy(case: Case) -> str | None:
    d = _matrix(case).double()
    x, squared = case.args
    got = d if squared else d.square()
    true = _true_squared(x)
    bad = (~((got - true).abs() <= _tolerance(x))).nonzero().tolist()  # NaN is never accurate
    if bad:
        i, j = bad[0]
        want = true[i, j] if squared else true[i, j].sqrt()
        return f"entry ({i}, {j}) is {d[i, j].item()!r}, expected {want.item()!r}"
    return None


@guarded
def accurate(case: Case) -> str | None:
    """Euclidean distances, accurate to float rounding at the scale of the inputs' norms."""
    return None if case.args[1] else _accuracy(case)


@guarded
def squared_option(case: Case) -> str | None:
    """squared=True returns squared Euclidean distances."""
    return _accuracy(case) if case.args[1] else None


@guarded
def identical_rows_zero(case: Case) -> str | None:
    """Identical rows are 0 apart (up to float rounding)."""
    d = _matrix(case).double()
    x, squared = case.args
    same = (x[:, None, :] == x[None, :, :]).all(dim=2)
    tol = _tolerance(x) if squared else _tolerance(x).sqrt()
    bad = (same & ~(d.abs() <= tol)).nonzero().tolist()  # NaN is not 0 apart
    return f"rows {bad[0][0]} and {bad[0][1]} are identical but {d[bad[0][0], bad[0][1]].item()!r} apart" if bad else None


def _upstream(args, expected) -> torch.Tensor:
    b = args[0].shape[0]
    return torch.arange(1, b * b + 1, dtype=args[0].dtype).reshape(b, b) / max(1, b * b)


@guarded
def finite_gradient(case: Case) -> str | None:
    """Gradients are finite everywhere, also at coincident points."""
    g = tensor(case.grad, "the gradient")
    if not bool(torch.isfinite(g).all()):
        return "the gradient has NaN or inf (at coincident points the square root needs masking)"
    return None


@guarded
def gradient_matches(case: Case) -> str | None:
    """Away from coincident points the gradient is the true gradient."""
    g = tensor(case.grad, "the gradient").double()
    x = case.args[0].double().requires_grad_()
    d = solutions.pairwise_distances(x, case.args[1])
    # sum(d * u) instead of grad_outputs=u: the same vector-Jacobian product bit for bit (the
    # product's backward hands d exactly u), without torch importing sympy for grad_outputs.
    (want,) = torch.autograd.grad((d * _upstream(case.args, None).double()).sum(), x)
    eps = torch.finfo(case.args[0].dtype).eps
    if not torch.allclose(g, want, rtol=1e3 * eps, atol=1e3 * eps * (1 + want.abs().max().item())):
        return "the gradient differs from the true gradient of the Euclidean distance"
    return None


def _substantive(case: Case) -> bool | None:
    """Telling when two rows differ; substantive when every pair of different rows is apart."""
    x = case.args[0]
    differ = ~(x[:, None, :] == x[None, :, :]).all(dim=2)
    if not bool(differ.any()):
        return None
    return bool((_matrix(case)[differ] > 0).all())


def _readable(case: Case) -> None:
    """The result is a finite [B, B] tensor."""
    _matrix(case)
    return None



# -- agreement with the reference (issue #20) -------------------------------------------
GENERIC = generic.pairwise_inputs()


def _same_as_reference(case: Case) -> str | None:
    """The distances are accurate, or within AGREE_RTOL of the reference's."""
    if _accuracy(case) is None or bool(agree_close(_matrix(case), case.expected).all()):
        return None
    return "the distances differ from the reference's"


AGREEMENT = agrees(_same_as_reference, telling=lambda case: case.args[0].shape[0] >= 2)


@scale_checked
def _scale_agreement(args: list, actual, expected) -> str | None:
    """Every distance of the B x B scale answer within float rounding of the reference's
    (compared on squared distances, with the rules' tolerance doubled: both answers round)."""
    from grader.engine import CheckFailed

    x = args[0]
    squared = bool(args[1]) if len(args) > 1 else False
    d = tensor(actual, "the result")
    b = x.shape[0]
    if tuple(d.shape) != (b, b):
        raise CheckFailed(f"expected shape ({b}, {b}), got {tuple(d.shape)}")
    got, want = d.detach().cpu().double(), expected.detach().cpu().double()
    if not squared:
        got, want = got.square(), want.square()
    bad = ~((got - want).abs() <= 2 * _tolerance(x.detach().cpu()))
    outside = bad.nonzero(as_tuple=True)  # the relative test only where the first one fails (4 M entries)
    bad[outside] = ~agree_close(d[outside], expected[outside])
    if bool(bad.any()):
        i, j = bad.nonzero()[0].tolist()
        return (f"{int(bad.sum())} of {b * b} distances differ from the reference's, e.g. entry ({i}, {j}) is "
                f"{d[i, j].item()!r}, the reference's is {expected[i, j].item()!r}")
    return None


SCALE_AGREEMENT = _scale_agreement


EXERCISE = Exercise(
    id="pairwise_distances",
    reference=solutions.pairwise_distances,
    params=PARAMS,
    defaults={"squared": False},
    summary="All in-batch Euclidean distances, stable and differentiable.",
    structure=square_summary_structure,
    ordinary=lambda args: args[0].shape[0] >= 2,
    substantive=_substantive,
    generic=GENERIC,
    agreement=AGREEMENT,
    scale_agreement=SCALE_AGREEMENT,
    properties=(
        Property("shape_dtype_device", 1, "A [B, B] tensor in the input's dtype on the input's device.", either, shape_dtype_device),
        Property("zero_diagonal", 1, "Exactly 0 on the diagonal.", either, zero_diagonal),
        Property("symmetric", 1, "Symmetric up to float rounding.", either, symmetric),
        Property("non_negative_and_finite", 1, "Never negative, NaN or inf.", either, non_negative_and_finite),
        Property("accurate", 1, "Accurate Euclidean distances.", either, accurate),
        Property("squared_option", 1, "squared=True gives squared distances.", either, squared_option),
        Property("identical_rows_zero", 0.5, "Identical rows are 0 apart.", either, identical_rows_zero),
        Property("finite_gradient", 1, "Finite gradients, also at coincident points.", either, finite_gradient, grad_wrt=0, upstream=_upstream),
        Property("gradient_matches", 0.5, "The true gradient away from coincident points.", separated, gradient_matches, visibility="hidden", grad_wrt=0, upstream=_upstream),
        unchanged_property(either, PARAMS, _readable),
        edge_property(edge_inputs, _readable),
        scale_property(),
    ),
)
