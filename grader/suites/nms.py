"""Properties of ``nms(boxes, scores, iou_threshold)``, and the overlap and ranking helpers the
OHEM suites share.

Greedy NMS is characterised by two rules on the kept set, given the visiting order (score
descending, equal scores by increasing index): no two kept boxes overlap above the threshold,
and every dropped box overlaps (IoU > threshold) a kept box visited before it. Only one set
satisfies both, so the tie order is graded through them.

Rounding at the threshold: a pair is judged by its IoU in the IoU dtype (the contract's
computation, threshold rounded to that dtype) and in float64. Where the two fall on
different sides of the threshold, either decision is accepted (``maybe`` but not ``sure``);
for boxes that are not integer-valued, so is an IoU within rounding of the threshold.
Integer-valued boxes make IoU an exact ratio, so exact boundary hits (IoU == threshold,
which never suppresses) are graded strictly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

import solutions
from grader.sandbox import codec
from grader.suites import generic
from grader.suites.box_strategies import nms_inputs
from grader.engine import Case, CheckFailed, Exercise, Property
from solutions import _boxes

from grader.suites._common import guarded, per_example, scale_checked, tensor, unchanged_property
from grader.suites.box_iou import float64_iou, tolerance

PARAMS = ("boxes", "scores", "iou_threshold")
inputs = nms_inputs().map(list)


# ------------------------------------------------------------------------------ shared helpers
@dataclass(frozen=True)
class Overlaps:
    """Pairwise suppression decisions, ``[N, N]`` bool, False on the diagonal."""

    iou: torch.Tensor  # float64 IoU, for messages
    sure: torch.Tensor  # IoU > threshold by both computations, not within rounding
    maybe: torch.Tensor  # IoU > threshold by either computation, or within rounding
    touch: torch.Tensor  # IoU >= threshold by either computation, or within rounding

    @property
    def ambiguous(self) -> torch.Tensor:
        return self.maybe & ~self.sure


def overlaps(boxes: torch.Tensor, threshold: float) -> Overlaps:
    n = boxes.shape[0]
    dtype = _boxes.iou_dtype(boxes)
    b = boxes.detach().to(dtype)
    iou_dt = _boxes.pairwise_iou(b, b)
    thr_dt = torch.tensor(threshold, dtype=dtype)
    iou64, union = float64_iou(boxes, boxes)
    b64 = boxes.detach().double()
    near = torch.zeros(n, n, dtype=torch.bool)
    if not torch.equal(b64, b64.round()):
        # IoU 0 (disjoint) and 1 (the same box) are exact in any formula: not "within rounding".
        near = ((iou64 - threshold).abs() <= tolerance(dtype, union)) & (iou64 > 0) & (iou64 < 1)
    off = ~torch.eye(n, dtype=torch.bool)
    sure = (iou_dt > thr_dt) & (iou64 > threshold) & ~near & off
    maybe = ((iou_dt > thr_dt) | (iou64 > threshold) | near) & off
    touch = ((iou_dt >= thr_dt) | (iou64 >= threshold) | near) & off
    return Overlaps(iou64, sure, maybe, touch)


def ahead(values: torch.Tensor) -> torch.Tensor:
    """``[N, N]`` bool: i is visited before j (larger value, or equal value and smaller index)."""
    v = values.detach()
    idx = torch.arange(v.shape[0])
    return (v[:, None] > v[None, :]) | ((v[:, None] == v[None, :]) & (idx[:, None] < idx[None, :]))


def read_indices(value, n: int, what: str = "the result") -> list[int]:
    """Leniently read a 1-D tensor of distinct integer indices in ``[0, n)``."""
    t = tensor(value, what)
    if t.dim() != 1 or t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex():
        raise CheckFailed(f"{what} must be a 1-D integer tensor of indices, got dtype {t.dtype} and shape {tuple(t.shape)}")
    values = t.tolist()
    bad = [v for v in values if not 0 <= v < n]
    if bad:
        raise CheckFailed(f"{what} holds index {bad[0]}, outside [0, {n})")
    if len(set(values)) != len(values):
        twice = next(v for v in values if values.count(v) > 1)
        raise CheckFailed(f"{what} holds index {twice} more than once")
    return values


def strict_indices(case: Case, n: int) -> str | None:
    """A 1-D int64 tensor of distinct indices in ``[0, n)`` on the inputs' device."""
    t = tensor(case.actual, "the result")
    if t.dtype != torch.int64 or t.dim() != 1:
        return f"expected a 1-D int64 tensor, got dtype {t.dtype} and shape {tuple(t.shape)}"
    if codec.device_of(t) != case.device:
        return f"the result is on {codec.device_of(t)}, but the inputs were on {case.device}"
    read_indices(t, n)
    return None


def index_summary_structure(summary) -> str | None:
    if not isinstance(summary, dict) or summary.get("tensor") != "int64" or len(summary.get("shape", [])) != 1:
        return "expected a 1-D int64 tensor"
    return None


def fmt(v) -> str:
    v = v.item() if isinstance(v, torch.Tensor) else v
    return repr(float(v)) if isinstance(v, float) else repr(v)


def unjustified_reason(u: int, kept: torch.Tensor, dropped_ahead: torch.Tensor, order: torch.Tensor,
                       ov: Overlaps, values: torch.Tensor, what: str, score: str) -> str:
    """Why dropping ``u`` is not justified by a kept box visited before it (for messages).

    ``kept``: bool mask of the kept boxes that may suppress ``u``; ``dropped_ahead``: bool mask
    of the other boxes visited before ``u`` that were not kept."""
    name = f"{what} {u} ({score} {fmt(values[u])})"
    whats = what + ("es" if what.endswith("x") else "s")
    for j in (kept & ov.maybe[:, u] & (values == values[u]) & (torch.arange(values.shape[0]) > u)).nonzero().flatten().tolist():
        return (f"{name} was dropped for kept {what} {j}, which has the same {score} but a larger index: "
                f"equal {score}s go to the smaller index first, so {u} is visited first and suppresses {j}")
    for j in (dropped_ahead & ov.maybe[:, u]).nonzero().flatten().tolist():
        return (f"{name} was dropped because it overlaps {what} {j}, but {j} was itself suppressed: "
                f"only kept {whats} suppress")
    for j in (kept & order[:, u] & ov.touch[:, u] & ~ov.maybe[:, u]).nonzero().flatten().tolist():
        return (f"{name} was dropped, but its IoU with kept {what} {j} is exactly the threshold "
                f"({ov.iou[j, u].item()!r}); only an IoU strictly greater than the threshold suppresses")
    for j in (kept & ov.maybe[:, u]).nonzero().flatten().tolist():
        return (f"{name} was dropped, but the only kept {whats} it overlaps (e.g. {j}, {score} "
                f"{fmt(values[j])}) come after it in the visiting order")
    return f"{name} was dropped, but no kept {what} overlaps it with IoU above the threshold"


# ------------------------------------------------------------------------------ nms rules
@dataclass(frozen=True)
class _Context:
    order: torch.Tensor
    ov: Overlaps


@per_example
def context(args: list) -> _Context:
    boxes, scores, threshold = args
    return _Context(ahead(scores), overlaps(boxes, float(threshold)))


def _kept(case: Case) -> list[int]:
    return read_indices(case.actual, case.args[0].shape[0])


@guarded
def returns_index_tensor(case: Case) -> str | None:
    """A 1-D int64 tensor of distinct box indices on the inputs' device."""
    return strict_indices(case, case.args[0].shape[0])


@guarded
def visiting_order(case: Case) -> str | None:
    """Kept indices in visiting order: scores non-increasing, equal scores by increasing index."""
    kept = _kept(case)
    order = context(case.args).order
    scores = case.args[1]
    for a, b in zip(kept, kept[1:]):
        if not bool(order[a, b]):
            why = "equal scores go by increasing index" if bool(scores[a] == scores[b]) else "scores must not increase"
            return (f"box {b} (score {fmt(scores[b])}) is listed after box {a} (score {fmt(scores[a])}): "
                    f"return the kept boxes in visiting order ({why})")
    return None


@guarded
def kept_do_not_overlap(case: Case) -> str | None:
    """No two kept boxes overlap with IoU above the threshold."""
    kept = _kept(case)
    ov = context(case.args).ov
    idx = torch.tensor(kept, dtype=torch.int64)
    clash = ov.sure[idx][:, idx].triu(1).nonzero().tolist()
    if clash:
        i, j = kept[clash[0][0]], kept[clash[0][1]]
        return (f"kept boxes {i} and {j} overlap with IoU {ov.iou[i, j].item()!r} > iou_threshold "
                f"{case.args[2]!r}: the later one must be suppressed")
    return None


@guarded
def suppression_justified(case: Case) -> str | None:
    """Every dropped box overlaps (IoU > threshold) a kept box visited before it."""
    boxes, scores, _ = case.args
    n = boxes.shape[0]
    ctx = context(case.args)
    kept = torch.zeros(n, dtype=torch.bool)
    kept[torch.tensor(_kept(case), dtype=torch.int64)] = True
    justified = (kept[:, None] & ctx.order & ctx.ov.maybe).any(dim=0) if n else kept
    bad = (~kept & ~justified).nonzero().flatten().tolist()
    if bad:
        u = bad[0]
        return unjustified_reason(u, kept, ~kept & ctx.order[:, u], ctx.order, ctx.ov, scores, "box", "score")
    return None


@guarded
def matches_reference(case: Case) -> str | None:
    """The reference's boxes in its order (any consistent choice where rounding decides)."""
    kept = _kept(case)
    want = case.expected.tolist()
    if kept == want:
        return None
    if bool(context(case.args).ov.ambiguous.any()):
        problems = [rule(case) for rule in (visiting_order, kept_do_not_overlap, suppression_justified)]
        return next((p for p in problems if p), None)
    return f"kept {kept}, the reference keeps {want}"


def _readable(case: Case) -> None:
    """The result can be read as distinct box indices."""
    _kept(case)
    return None


def _substantive(case: Case) -> bool | None:
    """Telling when there is a box (the first visited is always kept); substantive when some box is kept."""
    if case.args[0].shape[0] == 0:
        return None
    return len(_kept(case)) > 0



# -- agreement with the reference (issue #20) -------------------------------------------
GENERIC = generic.nms_inputs()


def agreement(case: Case) -> bool | None:
    """The reference's set of kept boxes (the order is the visiting-order rule's business);
    where rounding at the threshold decides, any set that obeys greedy NMS's two rules."""
    if case.args[0].shape[0] == 0:
        return None
    try:
        kept = _kept(case)
        if sorted(kept) == sorted(case.expected.tolist()):
            return True
        if not bool(context(case.args).ov.ambiguous.any()):
            return False
        return kept_do_not_overlap(case) is None and suppression_justified(case) is None
    except Exception:  # noqa: BLE001 - an unreadable answer does not agree
        return False


AGREEMENT = agreement


def read_index_tensor(value, n: int, what: str = "the result") -> torch.Tensor:
    """:func:`read_indices` vectorised, for large answers: distinct indices in ``[0, n)`` as int64 on the CPU."""
    t = tensor(value, what)
    if t.dim() != 1 or t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex():
        raise CheckFailed(f"{what} must be a 1-D integer tensor of indices, got dtype {t.dtype} and shape {tuple(t.shape)}")
    t = t.detach().cpu().long()
    if t.numel() and not bool(((t >= 0) & (t < n)).all()):
        raise CheckFailed(f"{what} holds an index outside [0, {n})")
    if torch.unique(t).numel() != t.numel():
        raise CheckFailed(f"{what} holds an index more than once")
    return t


def greedy_problem(boxes: torch.Tensor, rank: torch.Tensor, kept: torch.Tensor, threshold: float,
                   chunk: int = 256) -> str | None:
    """Whether the boolean ``kept`` mask is greedy NMS's answer for the visiting positions ``rank``:
    no two kept boxes overlap above ``threshold`` and every dropped box overlaps a kept box visited
    before it (either decision where rounding at the threshold decides). Memory O(chunk x N)."""
    n = boxes.shape[0]
    integral = torch.equal(boxes.double(), boxes.double().round())
    dtype = _boxes.iou_dtype(boxes)
    justified = torch.zeros(n, dtype=torch.bool)
    rows = kept.nonzero().flatten()
    for start in range(0, rows.numel(), chunk):
        part = rows[start:start + chunk]
        iou, union = float64_iou(boxes[part], boxes)
        near = torch.zeros_like(iou, dtype=torch.bool)
        if not integral:
            near = ((iou - threshold).abs() <= tolerance(dtype, union)) & (iou > 0) & (iou < 1)
        other = part[:, None] != torch.arange(n)[None, :]
        sure = (iou > threshold) & ~near & other
        clash = sure & kept[None, :]
        if bool(clash.any()):
            i, j = clash.nonzero()[0].tolist()
            return (f"kept boxes {part[i].item()} and {j} overlap with IoU {iou[i, j].item()!r} > iou_threshold "
                    f"{threshold!r}")
        justified |= (((iou > threshold) | near) & other & (rank[part][:, None] < rank[None, :])).any(dim=0)
    bad = (~kept & ~justified).nonzero().flatten()
    if bad.numel():
        return (f"{bad.numel()} dropped boxes (e.g. box {bad[0].item()}) overlap no kept box visited before "
                "them with IoU above the threshold")
    return None


@scale_checked
def _scale_agreement(args: list, actual, expected) -> str | None:
    """The scale answer keeps the reference's boxes; where the sets differ, the answer's set must
    still be greedy NMS's (rounding at the threshold may decide either way)."""
    boxes, scores, threshold = args[0].detach().cpu(), args[1].detach().cpu(), float(args[2])
    n = boxes.shape[0]
    kept = read_index_tensor(actual, n)
    if torch.equal(kept.sort().values, expected.detach().cpu().long().sort().values):
        return None
    rank = torch.empty(n, dtype=torch.int64)
    rank[torch.argsort(scores, descending=True, stable=True)] = torch.arange(n)
    mask = torch.zeros(n, dtype=torch.bool)
    mask[kept] = True
    problem = greedy_problem(boxes, rank, mask, threshold)
    return f"the kept boxes differ from the reference's ({kept.numel()} vs {expected.numel()}): {problem}" if problem else None


SCALE_AGREEMENT = _scale_agreement


EXERCISE = Exercise(
    id="nms",
    reference=solutions.nms,
    params=PARAMS,
    defaults={},
    summary="Exact greedy non-maximum suppression: indices of the kept boxes in visiting order.",
    structure=index_summary_structure,
    ordinary=lambda args: args[0].shape[0] >= 2,
    substantive=_substantive,
    generic=GENERIC,
    agreement=AGREEMENT,
    scale_agreement=SCALE_AGREEMENT,
    properties=(
        Property("returns_index_tensor", 1, "A 1-D int64 tensor of distinct box indices on the inputs' device.", inputs, returns_index_tensor),
        Property("visiting_order", 1.5, "Kept boxes in visiting order: score descending, equal scores by increasing index.", inputs, visiting_order),
        Property("kept_do_not_overlap", 2, "No two kept boxes overlap with IoU above the threshold.", inputs, kept_do_not_overlap),
        Property("suppression_justified", 2.5, "Every dropped box overlaps (IoU > threshold, strictly) a kept box visited before it (higher score, or equal score and smaller index).", inputs, suppression_justified),
        unchanged_property(inputs, PARAMS, _readable),
        Property("handles_edge_cases", 0.5, "Accepts every valid input (no box, one box, integer scores, thresholds 0 and 1) without raising.", inputs, guarded(_readable), edge=True),
        Property("matches_reference", 1, "The reference's result (any consistent choice where rounding decides).", inputs, matches_reference, visibility="hidden"),
        Property("scale", 1, "Vectorised: 16384 boxes within 10x the reference's time (at least 2 s).", scale=True),
    ),
)
