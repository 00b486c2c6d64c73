"""Properties of ``ohem_loss(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1)``.

Every example is called once with a gradient: ``d loss / d logits`` (upstream 1) shows which
rows the answer selected (the rows with a non-zero gradient, when there are >= 2 classes).

Ranking by per-RoI cross-entropy depends on its last bits: different correct formulas
(``cross_entropy``, ``logsumexp - gather``, ...) can order two RoIs whose losses agree to
within rounding either way. Where that (or rounding at the NMS threshold) can change the
selection, a selection that obeys OHEM's rules (see :mod:`.ohem_select`, with such near
ties left open) is accepted instead of the reference's, and the value and gradient are
judged against it. Elsewhere the reference's selection is the one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

import solutions
from grader.sandbox import codec
from grader.suites import generic
from grader.suites.box_strategies import detection_batches
from grader.engine import Case, CheckFailed, Exercise, Property

from grader.suites._common import AGREE_RTOL, agrees, guarded, inputs_unchanged, loss_value, per_example, scalar_loss_problem, scalar_summary_structure, scale_checked, tensor
from grader.suites.ohem_select import Rules, first_problem, make_rules

PARAMS = ("logits", "targets", "image_ids", "per_image", "boxes", "nms_iou", "ignore_index")


def _as_args(drawn) -> list:
    d, pass_boxes = drawn
    boxes = d["boxes"] if d["nms_iou"] is not None or pass_boxes else None
    return [d["logits"], d["targets"], d["image_ids"], d["per_image"], boxes, d["nms_iou"], d["ignore_index"]]


inputs = st.tuples(detection_batches(), st.booleans()).map(_as_args)


def _upstream(args, expected) -> torch.Tensor:
    return torch.ones((), dtype=args[0].dtype)


@dataclass(frozen=True)
class _Context:
    rules: Rules
    ce: torch.Tensor  # [R] float64 cross-entropy
    prob: torch.Tensor  # [R, C] float64 softmax
    target: torch.Tensor  # [R] int64, ignored rows set to 0
    valid: torch.Tensor  # [R] bool: target != ignore_index
    scale: torch.Tensor  # [R] magnitude that bounds a row's rounding error
    eps: float


@per_example
def context(args: list) -> _Context:
    logits, targets, ids, k, boxes, threshold, ignore_index = args
    r, c = logits.shape
    x = logits.detach()
    valid = targets.long() != ignore_index
    target = targets.long().masked_fill(~valid, 0)
    with torch.no_grad():
        ranking = F.cross_entropy(x, target, reduction="none")  # the contract's ranking values
    x64 = x.double()
    ce = torch.logsumexp(x64, dim=1) - x64.gather(1, target[:, None]).squeeze(1) if r else x64.new_zeros(0)
    prob = torch.softmax(x64, dim=1)
    eps = torch.finfo(x.dtype).eps
    scale = (x64.abs().amax(dim=1) if r else x64.new_zeros(0)) + math.log(c) + 1
    # Near ties: losses within rounding of each other, unless the two rows are the same inputs.
    tol = 16 * eps * (scale[:, None] + scale[None, :])
    identical = (x64[:, None, :] == x64[None, :, :]).all(dim=2) & (target[:, None] == target[None, :])
    idx = torch.arange(r)
    order = ((ce[:, None] - ce[None, :]) > tol) | (identical & (idx[:, None] < idx[None, :]))
    maybe_order = ~order.T & ~torch.eye(r, dtype=torch.bool)
    ref = solutions.ohem_select(ranking, ids, k, boxes, threshold, valid).tolist()

    def uncapped() -> list[int]:
        return solutions.ohem_select(ranking, ids, r, boxes, threshold, valid).tolist()

    rules = make_rules(ce, ids, k, boxes, threshold, valid, ref, order, maybe_order, uncapped)
    return _Context(rules, ce, prob, target, valid, scale, eps)


def _grad(case: Case) -> torch.Tensor:
    if isinstance(case.grad, codec.RejectedValue):
        raise CheckFailed(f"no gradient with respect to logits could be computed: the result is {case.grad.what}; "
                          "the loss must stay connected to logits (also when nothing is selected)")
    g = tensor(case.grad, "the gradient")
    if g.shape != case.args[0].shape:
        raise CheckFailed(f"the gradient has shape {tuple(g.shape)}, expected {tuple(case.args[0].shape)}")
    return g.double()


def _student_rows(case: Case) -> list[int] | None:
    """The rows the answer selected, read from its gradient (None when it cannot tell)."""
    if case.args[0].shape[1] < 2 or isinstance(case.grad, codec.RejectedValue):
        return None
    g = case.grad
    if not isinstance(g, torch.Tensor) or g.shape != case.args[0].shape:
        return None
    return (g != 0).any(dim=1).nonzero().flatten().tolist()


def chosen(case: Case) -> list[int]:
    """The selection the value and gradient are judged against."""
    rules = context(case.args).rules
    rows = _student_rows(case)
    if rows is None or rows == rules.ref or not rules.lenient:
        return rules.ref
    return rules.ref if first_problem(rules, rows) else rows


def _tol(ctx: _Context, rows: list[int]) -> float:
    top = float(ctx.scale[rows].max()) if rows else 1.0
    return 32 * ctx.eps * (1 + top)


@guarded
def returns_scalar(case: Case) -> str | None:
    """A 0-d tensor in logits' dtype on logits' device."""
    return scalar_loss_problem(case, "logits")


@guarded
def mean_over_selected(case: Case) -> str | None:
    """The loss is the mean cross-entropy of the selected RoIs."""
    rows = chosen(case)
    if not rows:
        return None  # empty_selection_zero
    ctx = context(case.args)
    want = float(ctx.ce[rows].mean())
    got = loss_value(case)
    if not abs(got - want) <= _tol(ctx, rows):
        return (f"the loss is {got!r}, but the mean cross-entropy of the {len(rows)} selected RoIs {rows} "
                f"is {want!r} (average over the selected RoIs only)")
    return None


@guarded
def ignore_respected(case: Case) -> str | None:
    """RoIs whose target is ignore_index are never used: their logits get no gradient."""
    g = _grad(case)
    ctx = context(case.args)
    bad = (~ctx.valid & (g != 0).any(dim=1)).nonzero().flatten().tolist()
    if bad:
        i = bad[0]
        return (f"RoI {i} has target {case.args[1][i].item()} == ignore_index ({case.args[6]}), yet its logits get "
                "a gradient: ignored RoIs are never selected (even when ignore_index is also a class index)")
    return None


@guarded
def gradient_zero_unselected(case: Case) -> str | None:
    """The gradient is exactly zero on every valid RoI OHEM does not select."""
    g = _grad(case)
    ctx = context(case.args)
    rows = torch.zeros(g.shape[0], dtype=torch.bool)
    rows[torch.tensor(chosen(case), dtype=torch.int64)] = True
    bad = (ctx.valid & ~rows & (g != 0).any(dim=1)).nonzero().flatten().tolist()
    if bad:
        i = bad[0]
        return (f"RoI {i} is not selected, but its logits get a gradient ({g[i].tolist()}); "
                f"the selected RoIs are {chosen(case)}: compute the loss on the selected rows only")
    return None


@guarded
def gradient_on_selected(case: Case) -> str | None:
    """On the selected rows the gradient is that of their mean cross-entropy: (softmax - onehot) / K."""
    rows = chosen(case)
    if not rows:
        return None
    g = _grad(case)
    ctx = context(case.args)
    idx = torch.tensor(rows, dtype=torch.int64)
    want = ctx.prob[idx].clone()
    want[torch.arange(len(rows)), ctx.target[idx]] -= 1
    want /= len(rows)
    err = (g[idx] - want).abs().amax(dim=1)
    bad = (~(err <= 32 * ctx.eps / len(rows))).nonzero().flatten().tolist()
    if bad:
        i = rows[bad[0]]
        return (f"selected RoI {i}: the gradient of the loss on its logits is {g[i].tolist()}, expected "
                f"{want[bad[0]].tolist()} (softmax - onehot, divided by the {len(rows)} selected RoIs)")
    return None


@guarded
def empty_selection_zero(case: Case) -> str | None:
    """When nothing is selected the loss is exactly 0 (not NaN) and still connected to logits."""
    if context(case.args).rules.ref:
        return None
    got = loss_value(case)
    if got != 0:
        return f"nothing is selected here, so the loss must be exactly 0.0, got {got!r}"
    _grad(case)  # still connected to logits
    return None


@guarded
def matches_reference(case: Case) -> str | None:
    """The reference's value (over any selection that rounding allows)."""
    rows = chosen(case)
    ctx = context(case.args)
    want = float(ctx.ce[rows].mean()) if rows else 0.0
    got = loss_value(case)
    if not abs(got - want) <= _tol(ctx, rows):
        return f"the loss is {got!r}, the reference's is {want!r}"
    return None


def _readable(case: Case) -> None:
    """The result is a single floating number."""
    loss_value(case)
    return None


def _substantive(case: Case) -> bool | None:
    """Telling when the reference selects RoIs of >= 2 classes' logits; substantive when the loss is non-zero."""
    if case.args[0].shape[1] < 2 or not context(case.args).rules.ref:
        return None
    value = loss_value(case)
    return math.isfinite(value) and value != 0


def ordinary(args) -> bool:
    """At least one RoI whose target is not ignore_index, and per_image >= 1."""
    _, targets, _, k, _, _, ignore_index = args
    return k >= 1 and bool((targets.long() != ignore_index).any())


def _grad_property(name, points, description, check, strategy=inputs, **kw) -> Property:
    return Property(name, points, description, strategy, check, grad_wrt=0, upstream=_upstream, **kw)



# -- agreement with the reference (issue #20) -------------------------------------------
GENERIC = generic.loss_inputs()


def _same_as_reference(case: Case) -> str | None:
    """The reference's value, up to the rules' tolerance or AGREE_RTOL."""
    if matches_reference(case) is None:
        return None
    got, want = loss_value(case), float(case.expected)
    return None if abs(got - want) <= AGREE_RTOL * abs(want) else f"the loss is {got!r}, the reference's is {want!r}"


AGREEMENT = agrees(_same_as_reference, telling=lambda case: bool(context(case.args).rules.ref))
# On the scale input (12288 selected RoIs) rounding at the NMS threshold may swap a few RoIs of
# an image for others, which moves the mean by about 1e-4 of a RoI's loss per swap.
SCALE_RTOL = 1e-4


@scale_checked
def _scale_agreement(args: list, actual, expected) -> str | None:
    """The scale answer's loss equals the reference's, up to rounding and a few RoIs swapped where
    rounding at the NMS threshold decides (relative tolerance ``SCALE_RTOL``)."""
    out = tensor(actual, "the loss")
    if out.numel() != 1 or not out.dtype.is_floating_point:
        raise CheckFailed(f"the loss must be a single floating number, got dtype {out.dtype} and shape {tuple(out.shape)}")
    got, want = float(out.detach().cpu().reshape(())), float(expected.detach().cpu())
    logits = args[0]
    eps = torch.finfo(logits.dtype).eps
    scale = float(logits.detach().abs().max()) + math.log(logits.shape[1]) + 1 if logits.numel() else 1.0
    if not abs(got - want) <= max(32 * eps * scale, SCALE_RTOL * abs(want)):
        return f"the loss is {got!r}, the reference's is {want!r}"
    return None


SCALE_AGREEMENT = _scale_agreement


EXERCISE = Exercise(
    id="ohem_loss",
    reference=solutions.ohem_loss,
    params=PARAMS,
    defaults={"boxes": None, "nms_iou": None, "ignore_index": -1},
    summary="Cross-entropy averaged over the RoIs OHEM selects by their own loss.",
    structure=scalar_summary_structure,
    ordinary=ordinary,
    substantive=_substantive,
    generic=GENERIC,
    agreement=AGREEMENT,
    scale_agreement=SCALE_AGREEMENT,
    properties=(
        _grad_property("returns_scalar", 1, "A 0-d tensor in logits' dtype on logits' device.", returns_scalar),
        _grad_property("mean_over_selected", 1.5, "The loss is the mean cross-entropy over the RoIs ohem_select picks by their own loss.", mean_over_selected),
        _grad_property("ignore_respected", 1.5, "RoIs whose target is ignore_index are never used (no gradient), even when ignore_index is a class index.", ignore_respected),
        _grad_property("gradient_zero_unselected", 1.5, "The gradient is exactly zero on every unselected RoI.", gradient_zero_unselected),
        _grad_property("gradient_on_selected", 1, "On the selected RoIs the gradient is that of their mean cross-entropy.", gradient_on_selected),
        _grad_property("empty_selection_zero", 1, "Exactly 0.0 (not NaN), still connected to logits, when nothing is selected.", empty_selection_zero),
        _grad_property("inputs_unchanged", 0.5, "The inputs are not modified in place.", guarded(inputs_unchanged(PARAMS, _readable))),
        _grad_property("handles_edge_cases", 0.5, "Accepts every valid input (no RoI, all RoIs ignored, one class, per_image 0) without raising.", guarded(_readable), edge=True),
        _grad_property("matches_reference", 0.5, "The reference's value (over any selection that rounding allows).", matches_reference, visibility="hidden"),
        Property("scale", 1, "Vectorised: 384 images x 256 RoIs, 21 classes, NMS at 0.7, within 10x the reference's time (at least 2 s).", scale=True),
    ),
)
