"""Properties of ``proxy_anchor_loss(embeddings, labels, proxies, alpha=32.0, delta=0.1)``.

Every example is called once with a gradient (``d loss / d embeddings``, upstream 1). Values and
gradients are judged against the formula evaluated in float64 (the reference on float64 copies
of the inputs), within a tolerance that scales with the dtype's epsilon and with alpha (a
rounding error e in a cosine moves the loss by up to about alpha * e).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

import solutions
from grader.engine import Case, CheckFailed, Exercise, Property
from grader.sandbox import codec
from grader.suites import generic
from grader.suites._common import AGREE_RTOL, agrees, guarded, inputs_unchanged, loss_value, per_example, scalar_loss_problem, scalar_summary_structure, scale_checked, tensor
from grader.suites.strategies import FLOAT_DTYPES, byte_values, embeddings

PARAMS = ("embeddings", "labels", "proxies", "alpha", "delta")
ALPHAS = (1.0, 4.0, 8.0, 16.0, 32.0)
LARGE_ALPHAS = (64.0, 128.0, 256.0)
DELTAS = (0.0, 0.1, 0.25, 0.5)


@st.composite
def _inputs(draw, min_b: int = 2, max_b: int = 8, min_c: int = 2, max_c: int = 4, alphas=ALPHAS,
            every_class: bool | None = True, scaled: bool = False, dtypes=FLOAT_DTYPES):
    """Unit rows (possibly duplicated); ``every_class``: True every proxy has a sample, False at
    least one has none, None either; ``scaled``: rows multiplied by powers of two."""
    c = draw(st.integers(min_c, max_c))
    if every_class:
        min_b = max(min_b, c)
    b = draw(st.integers(min_b, max(min_b, max_b)))
    dim = draw(st.integers(1, 5))
    dtype = draw(st.sampled_from(dtypes))
    x = draw(embeddings(b, dim, dtype=torch.float64, unit=True))
    proxies = draw(embeddings(c, dim, dtype=torch.float64, unit=True))
    classes = c if every_class is not False or c == 1 else c - 1  # False: the last class has no sample
    labels = [v % classes for v in byte_values(draw, b)]
    if every_class:
        order = byte_values(draw, b)
        labels[:c] = range(c)
        labels = [labels[i] for i in sorted(range(b), key=lambda i: order[i])]
    if every_class is False and c > 1:  # which class is left out: any, not only the last
        gone = draw(st.integers(0, c - 1))
        labels = [c - 1 if v == gone else v for v in labels]  # class c - 1 had no sample: now class gone has none
    if scaled:
        x = x * torch.tensor([2.0 ** (v % 13 - 6) for v in byte_values(draw, b)], dtype=torch.float64)[:, None]
        proxies = proxies * torch.tensor([2.0 ** (v % 13 - 6) for v in byte_values(draw, c)], dtype=torch.float64)[:, None]
    label_dtype = draw(st.sampled_from((torch.int64, torch.int32)))
    return [x.to(dtype), torch.tensor(labels, dtype=label_dtype).reshape(b), proxies.to(dtype),
            draw(st.sampled_from(alphas)), draw(st.sampled_from(DELTAS))]


inputs = _inputs()
absent = _inputs(min_c=2, max_c=5, every_class=False)
scaled = _inputs(every_class=None, scaled=True)
large_alpha = _inputs(every_class=None, alphas=LARGE_ALPHAS, dtypes=(torch.float32,))  # where e^z overflows
any_batch = _inputs(every_class=None)
edge_inputs = _inputs(min_b=0, max_b=2, min_c=1, max_c=2, every_class=None)


def _upstream(args, expected) -> torch.Tensor:
    return torch.ones((), dtype=args[0].dtype)


@dataclass(frozen=True)
class _Context:
    value: float  # the formula in float64
    grad: torch.Tensor  # d value / d embeddings, float64
    pos: float  # the positive term, float64
    neg: float  # the negative term
    present: int  # proxies with a positive
    tol: float  # for the value
    gtol: float  # for each gradient entry


@per_example
def context(args: list) -> _Context:
    x, labels, proxies, alpha, delta = args
    x64 = x.detach().double().requires_grad_(True)
    p64 = proxies.detach().double()
    value = solutions.proxy_anchor_loss(x64, labels, p64, alpha, delta)
    (grad,) = torch.autograd.grad(value, x64, allow_unused=True)
    grad = torch.zeros_like(x64) if grad is None else grad.detach()
    u = torch.nn.functional.normalize(x64.detach(), dim=1) if x.shape[0] else x64.detach()
    cos = (u @ torch.nn.functional.normalize(p64, dim=1).T).T
    own = labels.long()[None, :] == torch.arange(p64.shape[0])[:, None]
    pos_z = (-alpha * (cos - delta)).masked_fill(~own, -math.inf)
    neg_z = (alpha * (cos + delta)).masked_fill(own, -math.inf)
    zero = torch.zeros(p64.shape[0], 1, dtype=torch.float64)
    pos = torch.logsumexp(torch.cat([pos_z, zero], dim=1), dim=1)
    neg = torch.logsumexp(torch.cat([neg_z, zero], dim=1), dim=1)
    present = int(own.any(dim=1).sum())
    eps = torch.finfo(x.dtype).eps
    v = float(value.detach())
    tol = 64 * eps * (1 + alpha) * (1 + abs(v))
    gtol = 64 * eps * (1 + alpha) * (1 + float(grad.abs().max()) if grad.numel() else 1.0)
    return _Context(v, grad, float(pos.sum()), float(neg.sum()), present, tol, gtol)


def _grad(case: Case) -> torch.Tensor:
    if isinstance(case.grad, codec.RejectedValue):
        raise CheckFailed(f"no gradient with respect to embeddings could be computed: the result is "
                          f"{case.grad.what}; the loss must stay connected to embeddings")
    g = tensor(case.grad, "the gradient")
    if g.shape != case.args[0].shape:
        raise CheckFailed(f"the gradient has shape {tuple(g.shape)}, expected {tuple(case.args[0].shape)}")
    return g.double()


def _close(case: Case) -> tuple[bool, float, _Context]:
    ctx = context(case.args)
    got = loss_value(case)
    return abs(got - ctx.value) <= ctx.tol, got, ctx


def _terms(ctx: _Context, c: int) -> str:
    first = ctx.pos / ctx.present if ctx.present else 0.0
    return (f"{ctx.value!r} = {first!r} (positive term: its sum {ctx.pos!r} over the {ctx.present} proxies with "
            f"positives) + {ctx.neg / c!r} (negative term: its sum {ctx.neg!r} over all {c} proxies)")


@guarded
def returns_scalar(case: Case) -> str | None:
    """A 0-d tensor in embeddings' dtype on embeddings' device."""
    return scalar_loss_problem(case, "embeddings")


@guarded
def formula(case: Case) -> str | None:
    """With every proxy's class in the batch: the Proxy Anchor value (cosines of unit rows)."""
    ok, got, ctx = _close(case)
    if not ok:
        return f"the loss is {got!r}, but Proxy Anchor gives {_terms(ctx, case.args[2].shape[0])}"
    return None


@guarded
def averages(case: Case) -> str | None:
    """The positive term averages over the proxies with a sample in the batch (a proxy without
    positives contributes 0 and is not counted); the negative term over all proxies."""
    ok, got, ctx = _close(case)
    if not ok:
        c = case.args[2].shape[0]
        return (f"the loss is {got!r}, but with {c - ctx.present} of the {c} proxies without a sample in the batch "
                f"it is {_terms(ctx, c)}")
    return None


@guarded
def scale_invariant(case: Case) -> str | None:
    """Embeddings and proxies of any length give the loss of their unit rows (cosines)."""
    ok, got, ctx = _close(case)
    if not ok:
        return (f"the loss is {got!r}, but the loss of the unit rows is {ctx.value!r}: Proxy Anchor compares "
                "cosines, so scaling an embedding or a proxy must not change it")
    return None


@guarded
def finite_at_large_alpha(case: Case) -> str | None:
    """Finite and right for alpha up to 256 (evaluate log(1 + sum e^z) in log space)."""
    ok, got, ctx = _close(case)
    if not math.isfinite(got):
        return (f"the loss is {got!r} at alpha = {case.args[3]!r}; the right value is {ctx.value!r}: e^(alpha * ...) "
                "overflows, write log(1 + sum e^z) as softplus(logsumexp(z))")
    if not ok:
        return f"the loss is {got!r} at alpha = {case.args[3]!r}, the right value is {ctx.value!r}"
    return None


@guarded
def gradient(case: Case) -> str | None:
    """The gradient with respect to embeddings is that of the formula."""
    g = _grad(case)
    ctx = context(case.args)
    err = (g - ctx.grad).abs()
    if err.numel() and not bool((err <= ctx.gtol).all()):
        i = int(err.amax(dim=1).argmax())
        return (f"the gradient on embeddings[{i}] is {g[i].tolist()}, the formula's is {ctx.grad[i].tolist()} "
                "(keep every term connected to the embeddings; do not detach)")
    return None


@guarded
def matches_reference(case: Case) -> str | None:
    """The reference's value."""
    ok, got, ctx = _close(case)
    return None if ok else f"the loss is {got!r}, the reference's is {ctx.value!r}"


def _readable(case: Case) -> None:
    """The result is a single floating number."""
    loss_value(case)
    return None


def _edge(case: Case) -> str | None:
    """A single floating number; exactly 0 for an empty batch."""
    got = loss_value(case)
    if case.args[0].shape[0] == 0 and got != 0:
        return f"an empty batch has no positive and no negative pair: the loss must be exactly 0.0, got {got!r}"
    return None


def _substantive(case: Case) -> bool | None:
    """Substantive when the loss is finite and non-zero (the formula's is positive)."""
    if case.args[0].shape[0] == 0:
        return None
    value = loss_value(case)
    return math.isfinite(value) and value != 0


def ordinary(args) -> bool:
    """At least two samples and two proxies."""
    return args[0].shape[0] >= 2 and args[2].shape[0] >= 2


def _grad_property(name, points, description, check, strategy=inputs, **kw) -> Property:
    return Property(name, points, description, strategy, check, grad_wrt=0, upstream=_upstream, **kw)


# -- agreement with the reference (issue #20) -------------------------------------------
GENERIC = generic.proxy_inputs()


def _same_as_reference(case: Case) -> str | None:
    """The formula's value, up to the rules' tolerance or AGREE_RTOL."""
    ok, got, ctx = _close(case)
    if ok or abs(got - ctx.value) <= AGREE_RTOL * abs(ctx.value):
        return None
    return f"the loss is {got!r}, the reference's is {ctx.value!r}"


AGREEMENT = agrees(_same_as_reference)


@scale_checked
def _scale_agreement(args: list, actual, expected) -> str | None:
    """The scale answer's loss equals the reference's (relative tolerance AGREE_RTOL, or the
    rules' tolerance at the float32 epsilon)."""
    out = tensor(actual, "the loss")
    if out.numel() != 1 or not out.dtype.is_floating_point:
        raise CheckFailed(f"the loss must be a single floating number, got dtype {out.dtype} and shape {tuple(out.shape)}")
    got, want = float(out.detach().cpu().reshape(())), float(expected.detach().cpu())
    eps = torch.finfo(args[0].dtype).eps
    if not abs(got - want) <= max(64 * eps * (1 + args[3]) * (1 + abs(want)), AGREE_RTOL * abs(want)):
        return f"the loss is {got!r}, the reference's is {want!r}"
    return None


SCALE_AGREEMENT = _scale_agreement


EXERCISE = Exercise(
    id="proxy_anchor_loss",
    reference=solutions.proxy_anchor_loss,
    params=PARAMS,
    defaults={"alpha": 32.0, "delta": 0.1},
    summary="Proxy Anchor loss (Kim et al. 2020), evaluated in log space.",
    structure=scalar_summary_structure,
    ordinary=ordinary,
    substantive=_substantive,
    generic=GENERIC,
    agreement=AGREEMENT,
    scale_agreement=SCALE_AGREEMENT,
    properties=(
        _grad_property("returns_scalar", 1, "A 0-d tensor in embeddings' dtype on embeddings' device.",
                       returns_scalar, any_batch),
        _grad_property("formula", 1.5, "With a sample of every class in the batch: the Proxy Anchor value on the "
                       "cosines.", formula),
        _grad_property("averages", 1.5, "The positive term averages over the proxies with a sample in the batch "
                       "(a proxy without positives contributes 0), the negative term over all proxies.", averages, absent),
        _grad_property("scale_invariant", 1, "Embeddings and proxies of any length give the loss of their unit rows "
                       "(invariant to scaling them).", scale_invariant, scaled),
        _grad_property("finite_at_large_alpha", 1, "Finite and right in float32 for alpha up to 256 (log space).",
                       finite_at_large_alpha, large_alpha),
        _grad_property("gradient", 1.5, "The gradient with respect to embeddings is the formula's.", gradient, any_batch),
        _grad_property("inputs_unchanged", 0.5, "The inputs are not modified in place.",
                       guarded(inputs_unchanged(PARAMS, _readable)), any_batch),
        _grad_property("handles_edge_cases", 0.5, "Accepts every valid input (an empty batch gives exactly 0, one "
                       "sample, one proxy) without raising.", guarded(_edge), edge_inputs, edge=True),
        _grad_property("matches_reference", 0.5, "The reference's value.", matches_reference, any_batch,
                       visibility="hidden"),
        Property("scale", 1, "Vectorised: 16384 embeddings of 64 dimensions, 256 proxies, within 10x the "
                 "reference's time (at least 2 s).", scale=True),
    ),
)
