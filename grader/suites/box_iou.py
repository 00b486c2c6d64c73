"""Properties of ``box_iou(boxes1, boxes2)``.

Values are judged against a float64 computation of the same quantity, with a tolerance of a
few ulps of the IoU dtype (wider only where the boxes are so small that their areas are
subnormal numbers). Zero-area boxes, symmetry and self-IoU are exact rules of the contract.
Symmetry and self-IoU need equal boxes on both sides, so the inputs often share rows.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

import solutions
from grader.sandbox import codec
from grader.suites import generic
from grader.suites.box_strategies import boxes
from grader.engine import Case, CheckFailed, Exercise, Property
from solutions import _boxes

from grader.suites._common import agree_close, agrees, guarded, scale_checked, tensor, unchanged_property

PARAMS = ("boxes1", "boxes2")


@st.composite
def _pairs(draw, max_boxes: int = 8):
    """``[boxes1, boxes2]``: independent (any dtypes, so promotion is exercised), the same
    tensor twice, or boxes2 holding some rows of boxes1 (shuffled) among new rows."""
    n = draw(st.integers(0, max_boxes))
    a = draw(boxes(n))
    kind = draw(st.sampled_from(["independent", "shared", "shared", "same"]))
    if kind == "same":
        b = a.clone()
    elif kind == "independent":
        b = draw(boxes(draw(st.integers(0, max_boxes))))
    else:
        rows = list(draw(st.permutations(range(n))))[: draw(st.integers(0, n))]
        extra = draw(boxes(draw(st.integers(0, 3)), dtype=a.dtype))
        b = torch.cat([a[rows], extra])
        b = b[list(draw(st.permutations(range(b.shape[0]))))]
    return [a, b]


inputs = _pairs()


def iou_dtype(a: torch.Tensor, b: torch.Tensor) -> torch.dtype:
    return _boxes.iou_dtype(a, b)


def float64_iou(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(iou, union)`` in float64 of the boxes' values (exact for integer-valued boxes)."""
    a, b = a.detach().double(), b.detach().double()
    w = (torch.minimum(a[:, None, 2], b[None, :, 2]) - torch.maximum(a[:, None, 0], b[None, :, 0])).clamp(min=0)
    h = (torch.minimum(a[:, None, 3], b[None, :, 3]) - torch.maximum(a[:, None, 1], b[None, :, 1])).clamp(min=0)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-300), torch.zeros_like(union)), union


def tolerance(dtype: torch.dtype, union: torch.Tensor) -> torch.Tensor:
    """Allowed |IoU error| in ``dtype``: 16 ulps, plus what flushing tiny areas costs."""
    info = torch.finfo(dtype)
    return 16 * info.eps + 16 * info.tiny / union.clamp(min=1e-300)


def zero_area(b: torch.Tensor) -> torch.Tensor:
    return (b[:, 2] == b[:, 0]) | (b[:, 3] == b[:, 1])


def _matrix(case: Case) -> torch.Tensor:
    out = tensor(case.actual, "the result")
    n, m = case.args[0].shape[0], case.args[1].shape[0]
    if out.shape != (n, m):
        raise CheckFailed(f"expected shape ({n}, {m}), got {tuple(out.shape)}")
    if not out.dtype.is_floating_point:
        raise CheckFailed(f"expected a floating tensor, got dtype {out.dtype}")
    return out


@guarded
def shape_dtype_device(case: Case) -> str | None:
    """An [N, M] tensor in the IoU dtype (float32 for integer boxes) on the inputs' device."""
    out = tensor(case.actual, "the result")
    a, b = case.args
    want = iou_dtype(a, b)
    if out.shape != (a.shape[0], b.shape[0]):
        return f"expected shape ({a.shape[0]}, {b.shape[0]}), got {tuple(out.shape)}"
    if out.dtype != want:
        return (f"expected dtype {want} for boxes of dtypes {a.dtype} and {b.dtype} (integer boxes give "
                f"float32, floating ones their promoted dtype), got {out.dtype}")
    if codec.device_of(out) != case.device:
        return f"the result is on {codec.device_of(out)}, but the inputs were on {case.device}"
    return None


@guarded
def accurate(case: Case) -> str | None:
    """Every IoU equals a float64 computation up to rounding in the IoU dtype."""
    out = _matrix(case)
    a, b = case.args
    true, union = float64_iou(a, b)
    got = out.double()
    bad = ~((got - true).abs() <= tolerance(iou_dtype(a, b), union))
    if bool(bad.any()):
        i, j = bad.nonzero()[0].tolist()
        return (f"IoU of boxes1[{i}] = {a[i].tolist()} and boxes2[{j}] = {b[j].tolist()} is "
                f"{got[i, j].item()!r}, expected {true[i, j].item()!r}")
    return None


@guarded
def zero_area_is_zero(case: Case) -> str | None:
    """Any pair with a zero-area box (a point or a segment) has IoU exactly 0, never NaN."""
    out = _matrix(case)
    a, b = case.args
    pairs = zero_area(a)[:, None] | zero_area(b)[None, :]
    bad = pairs & ~(out == 0)
    if bool(bad.any()):
        i, j = bad.nonzero()[0].tolist()
        which = f"boxes1[{i}] = {a[i].tolist()}" if bool(zero_area(a)[i]) else f"boxes2[{j}] = {b[j].tolist()}"
        return (f"{which} has zero area, so its IoU with every box must be exactly 0; "
                f"entry ({i}, {j}) is {out[i, j].item()!r} (guard the division when the union is 0)")
    return None


def _same_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``[N, M]`` bool: boxes1[i] and boxes2[j] hold the same coordinates."""
    return (a.detach().double()[:, None, :] == b.detach().double()[None, :, :]).all(dim=2)


def _first_match(same: torch.Tensor, dim: int) -> torch.Tensor:
    """For each column (dim=0) or row (dim=1) of ``same``: the first matching index, or -1."""
    size = same.shape[dim]
    if size == 0:
        return torch.full((same.shape[1 - dim],), -1, dtype=torch.int64)
    steps = torch.arange(size).view((-1, 1) if dim == 0 else (1, -1))
    first = torch.where(same, steps, size).min(dim=dim).values
    return torch.where(first < size, first, -1)


@guarded
def symmetric(case: Case) -> str | None:
    """Exactly symmetric: IoU(A, B) == IoU(B, A) wherever both orders occur in the inputs."""
    out = _matrix(case)
    a, b = case.args
    same = _same_rows(a, b)
    # boxes2[j] = boxes1[i2[j]] and boxes1[i] = boxes2[j2[i]]: out[i, j] = IoU(A, B), out[i2, j2] = IoU(B, A)
    i2, j2 = _first_match(same, 0), _first_match(same, 1)
    both = (j2 >= 0)[:, None] & (i2 >= 0)[None, :]
    mirror = out[i2.clamp(min=0)[None, :], j2.clamp(min=0)[:, None]] if out.numel() else out
    differ = both & ~(out == mirror)  # NaN is never symmetric
    if bool(differ.any()):
        i, j = differ.nonzero()[0].tolist()
        p, q = int(i2[j]), int(j2[i])
        return (f"not symmetric: IoU(boxes1[{i}], boxes2[{j}]) = {out[i, j].item()!r}, but for the same two boxes "
                f"the other way round IoU(boxes1[{p}], boxes2[{q}]) = {out[p, q].item()!r}; "
                "box_iou(a, b) must equal box_iou(b, a).T exactly")
    return None


@guarded
def self_iou_is_one(case: Case) -> str | None:
    """A box with non-zero area has IoU exactly 1 with itself."""
    out = _matrix(case)
    a, b = case.args
    dtype = iou_dtype(a, b)
    ad = a.detach().to(dtype)
    area = (ad[:, 2] - ad[:, 0]) * (ad[:, 3] - ad[:, 1])
    normal = area >= torch.finfo(dtype).tiny  # tinier areas are lost to rounding
    bad = _same_rows(a, b) & normal[:, None] & ~(out == 1)
    if bool(bad.any()):
        i, j = bad.nonzero()[0].tolist()
        return (f"boxes1[{i}] and boxes2[{j}] are the same box {a[i].tolist()} with area > 0, so their IoU must be "
                f"exactly 1, got {out[i, j].item()!r}")
    return None


@guarded
def in_unit_interval(case: Case) -> str | None:
    """Every value lies in [0, 1] (no negative IoU, no NaN)."""
    out = _matrix(case)
    bad = ~((out >= 0) & (out <= 1))
    if bool(bad.any()):
        i, j = bad.nonzero()[0].tolist()
        hint = " (clamp the intersection's width and height at 0)" if bool(out[i, j] < 0) else ""
        return f"entry ({i}, {j}) is {out[i, j].item()!r}, outside [0, 1]{hint}"
    return None


@guarded
def matches_reference(case: Case) -> str | None:
    """The reference's values, up to rounding."""
    out = _matrix(case).double()
    _, union = float64_iou(*case.args)
    tol = 2 * tolerance(iou_dtype(*case.args), union)
    if not bool(((out - case.expected.double()).abs() <= tol).all()):
        return "the values differ from the reference"
    return None


def _readable(case: Case) -> None:
    """The result is an [N, M] floating tensor."""
    _matrix(case)
    return None


def _substantive(case: Case) -> bool | None:
    """Telling when some pair overlaps; substantive when every overlapping pair gets a positive IoU."""
    overlap = case.expected > 0
    if not bool(overlap.any()):
        return None
    return bool((_matrix(case)[overlap] > 0).all())


def _structure(summary) -> str | None:
    from grader.sandbox.scale import IOU_SHAPE

    if not isinstance(summary, dict) or summary.get("tensor") not in ("float32", "float64"):
        return "expected a floating tensor"
    return None if summary.get("shape") == list(IOU_SHAPE) else f"expected shape {IOU_SHAPE}"



# -- agreement with the reference (issue #20) -------------------------------------------
GENERIC = generic.iou_inputs()


def _same_as_reference(case: Case) -> str | None:
    """Every IoU within rounding or AGREE_RTOL of the reference's."""
    _, union = float64_iou(*case.args)
    if bool(agree_close(_matrix(case), case.expected, 2 * tolerance(iou_dtype(*case.args), union)).all()):
        return None
    return "the values differ from the reference's"


AGREEMENT = agrees(_same_as_reference, telling=lambda case: bool((case.expected > 0).any()))


@scale_checked
def _scale_agreement(args: list, actual, expected) -> str | None:
    """Every IoU of the scale answer equals the reference's up to rounding."""
    a, b = (t.detach().cpu() for t in args)
    out = tensor(actual, "the result")
    if tuple(out.shape) != (a.shape[0], b.shape[0]):
        raise CheckFailed(f"expected shape ({a.shape[0]}, {b.shape[0]}), got {tuple(out.shape)}")
    _, union = float64_iou(a, b)
    got = out.detach().cpu().double()
    bad = ~agree_close(got, expected, 2 * tolerance(iou_dtype(a, b), union))
    if bool(bad.any()):
        i, j = bad.nonzero()[0].tolist()
        return (f"{int(bad.sum())} of {bad.numel()} IoUs differ from the reference's, e.g. entry ({i}, {j}) is "
                f"{got[i, j].item()!r}, the reference's is {expected[i, j].item()!r}")
    return None


SCALE_AGREEMENT = _scale_agreement


EXERCISE = Exercise(
    id="box_iou",
    reference=solutions.box_iou,
    params=PARAMS,
    defaults={},
    summary="Intersection over union of every box of boxes1 with every box of boxes2.",
    structure=_structure,
    ordinary=lambda args: args[0].shape[0] >= 1 and args[1].shape[0] >= 1,
    substantive=_substantive,
    generic=GENERIC,
    agreement=AGREEMENT,
    scale_agreement=SCALE_AGREEMENT,
    properties=(
        Property("shape_dtype_device", 1, "An [N, M] tensor in the IoU dtype (float32 for integer boxes) on the inputs' device.", inputs, shape_dtype_device),
        Property("accurate", 2, "Each IoU matches a float64 computation up to rounding.", inputs, accurate),
        Property("zero_area_is_zero", 1, "Pairs with a zero-area box have IoU exactly 0, not NaN.", inputs, zero_area_is_zero),
        Property("symmetric", 1, "Exactly symmetric: box_iou(a, b) == box_iou(b, a).T.", inputs, symmetric),
        Property("self_iou_is_one", 1, "A box with non-zero area has IoU exactly 1 with itself.", inputs, self_iou_is_one),
        Property("in_unit_interval", 1, "Every value lies in [0, 1].", inputs, in_unit_interval),
        unchanged_property(inputs, PARAMS, _readable),
        Property("handles_edge_cases", 0.5, "Accepts every valid input (no boxes on either side, points, segments, integer dtypes) without raising.", inputs, guarded(_readable), edge=True),
        Property("matches_reference", 1, "The reference's values, up to rounding.", inputs, matches_reference, visibility="hidden"),
        Property("scale", 1, "Vectorised: 65536 anchors against 32 boxes within 10x the reference's time (at least 2 s).", scale=True),
    ),
)
