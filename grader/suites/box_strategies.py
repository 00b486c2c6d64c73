"""Hypothesis strategies for boxes, scores and RoI batches (OHEM), shared by the tests and the grader.

They deliberately produce the cases random floats never hit:
  * boxes on a small integer grid, many jittered by one cell around a few "objects", so IoU
    values such as 1/2, 1/3, 2/3 or 7/10 occur exactly; thresholds are drawn from
    ``GRID_IOU_THRESHOLDS``, from arbitrary floats, or as the exact IoU of a drawn pair of
    boxes (so ``IoU == threshold`` is hit on purpose);
  * zero-area boxes (points and segments), identical boxes, boxes that only touch;
  * scores and losses with exact ties (few distinct values), ``-0.0`` next to ``0.0``, ``+-inf``;
  * RoI batches with arbitrary integer image ids (negative, huge) in any order, boxes shared
    across images (NMS must stay within an image), images without a valid RoI, no RoI at all.
Integer-valued boxes come in integer and floating dtypes; arbitrary float boxes in float dtypes.
"""

from __future__ import annotations

from fractions import Fraction

import torch
from hypothesis import strategies as st

from grader.suites.strategies import FLOAT_DTYPES, byte_values, zigzag

BOX_DTYPES = (torch.float32, torch.float64, torch.int64, torch.int32)
# Thresholds that grid boxes hit exactly (IoU = p/q with small q); 0.7 is the OHEM paper's.
GRID_IOU_THRESHOLDS = (0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.7, 1.0)
ID_DTYPES = (torch.int64, torch.int32, torch.int16, torch.uint8)


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a <= b else (b, a)


@st.composite
def grid_box_lists(draw, n: int, grid: int = 10) -> list[tuple[int, int, int, int]]:
    """``n`` integer boxes: jittered copies of 1-3 objects, or independent, with some
    rows collapsed to zero area and some duplicated."""
    if draw(st.booleans()):
        objects = []
        for _ in range(draw(st.integers(1, 3))):
            x1, y1 = draw(st.integers(0, grid - 2)), draw(st.integers(0, grid - 2))
            objects.append((x1, y1, draw(st.integers(x1 + 1, grid)), draw(st.integers(y1 + 1, grid))))
        raw = byte_values(draw, 5 * n)  # per box: which object, then a jitter of -1, 0 or 1 per coordinate
        out = []
        for i in range(n):
            ox1, oy1, ox2, oy2 = objects[raw[5 * i] % len(objects)]
            j = [zigzag(b % 3) for b in raw[5 * i + 1: 5 * i + 5]]
            x1, x2 = _ordered(ox1 + j[0], ox2 + j[2])
            y1, y2 = _ordered(oy1 + j[1], oy2 + j[3])
            out.append((x1, y1, x2, y2))
    else:
        raw = [b % (grid + 1) for b in byte_values(draw, 4 * n)]
        out = []
        for i in range(n):
            x1, x2 = _ordered(raw[4 * i], raw[4 * i + 2])
            y1, y2 = _ordered(raw[4 * i + 1], raw[4 * i + 3])
            out.append((x1, y1, x2, y2))
    if n and draw(st.booleans()):  # degenerate rows: points and segments
        for i in draw(st.lists(st.integers(0, n - 1), max_size=3)):
            x1, y1, x2, y2 = out[i]
            out[i] = draw(st.sampled_from([(x1, y1, x1, y2), (x1, y1, x2, y1), (x1, y1, x1, y1)]))
    if n >= 2 and draw(st.booleans()):  # identical rows
        for i in draw(st.lists(st.integers(0, n - 1), max_size=3)):
            out[i] = out[draw(st.integers(0, n - 1))]
    return out


@st.composite
def boxes(draw, n: int, dtype: torch.dtype | None = None, grid: int = 10) -> torch.Tensor:
    """``[n, 4]`` boxes ``(x1, y1, x2, y2)``: integer-valued (any of ``BOX_DTYPES``) or fine-grained
    float32-representable coordinates in ``[0, 64)`` (multiples of 2^-18; float dtypes)."""
    if draw(st.integers(0, 3)) == 0 and (dtype is None or dtype.is_floating_point):
        dtype = dtype or draw(st.sampled_from(FLOAT_DTYPES))
        c = torch.tensor(byte_values(draw, 4 * n, 3), dtype=torch.float64).reshape(n, 4) / 2**18
        lo, hi = torch.minimum(c[:, :2], c[:, 2:]), torch.maximum(c[:, :2], c[:, 2:])
        return torch.cat([lo, hi], dim=1).to(dtype)
    dtype = dtype or draw(st.sampled_from(BOX_DTYPES))
    return torch.tensor(draw(grid_box_lists(n, grid)), dtype=torch.int64).reshape(n, 4).to(dtype)


def _exact_ious(b: torch.Tensor, groups: list | None = None) -> list[float]:
    """The exact IoU (as the nearest double) of every pair of integer-valued boxes, if they
    are; with ``groups``, only of pairs in the same group (``None`` entries in no group)."""
    rows = b.tolist()
    if not all(float(v).is_integer() for row in rows for v in row):
        return []
    groups = groups if groups is not None else [0] * len(rows)
    out = set()
    for i, (a1, b1, c1, d1) in enumerate(rows):
        for j in range(i + 1, len(rows)):
            if groups[i] is None or groups[i] != groups[j]:
                continue
            a2, b2, c2, d2 = rows[j]
            inter = max(min(c1, c2) - max(a1, a2), 0) * max(min(d1, d2) - max(b1, b2), 0)
            union = (c1 - a1) * (d1 - b1) + (c2 - a2) * (d2 - b2) - inter
            if union:
                out.add(float(Fraction(int(inter), int(union))))
    return sorted(out)


@st.composite
def iou_thresholds(draw, boxes: torch.Tensor | None = None, groups: list | None = None) -> float:
    """A threshold in ``[0, 1]``: a grid value, any float, or (two times in three when there
    is one) the exact IoU of a pair of ``boxes`` (in the same group, see ``_exact_ious``)."""
    exact = _exact_ious(boxes, groups) if boxes is not None else []
    if exact and draw(st.integers(0, 2)):
        return draw(st.sampled_from(exact))
    return draw(st.sampled_from(GRID_IOU_THRESHOLDS) | st.floats(0, 1))


@st.composite
def scores(draw, n: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``[n]`` floating scores without NaN: few distinct values (ties), any floats, or
    special values (``-0.0``, ``0.0``, ``+-inf``)."""
    dtype = dtype or draw(st.sampled_from(FLOAT_DTYPES))
    kind = draw(st.sampled_from(["ties", "ties", "float", "special"]))
    if kind == "ties":
        values = [(v % 4) / 4 for v in byte_values(draw, n)]
    elif kind == "float":  # float32-representable values in [-10, 10]: 24-bit fractions, either sign
        values = torch.tensor([zigzag(v) * 10.0 / 2**23 for v in byte_values(draw, n, 3)], dtype=torch.float32).tolist()
    else:
        special = (0.0, -0.0, 0.5, 2.0, float("inf"), float("-inf"))
        values = [special[v % len(special)] for v in byte_values(draw, n)]
    return torch.tensor(values, dtype=torch.float64).reshape(n).to(dtype)


@st.composite
def nms_inputs(draw, max_boxes: int = 16):
    """``(boxes [N, 4], scores [N], iou_threshold)``; scores sometimes of an integer dtype."""
    n = draw(st.integers(0, max_boxes))
    b = draw(boxes(n))
    if draw(st.integers(0, 5)) == 0:
        s = torch.tensor([zigzag(v % 7) for v in byte_values(draw, n)], dtype=torch.int64).reshape(n)
    else:
        s = draw(scores(n))
    return b, s, draw(iou_thresholds(b))


@st.composite
def image_ids(draw, n: int, n_images: int | None = None) -> torch.Tensor:
    """``[n]`` integer image ids: a few arbitrary values (any integer dtype that holds them),
    interleaved in any order or grouped."""
    n_images = n_images or draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(ID_DTYPES))
    info = torch.iinfo(dtype)
    lo, hi = max(info.min, -(2**40)), min(info.max, 2**40)
    pool = draw(st.lists(st.integers(lo, hi) | st.integers(max(lo, -2), min(hi, 3)), min_size=n_images,
                         max_size=n_images, unique=True))
    ids = [pool[v % len(pool)] for v in byte_values(draw, n)]
    if draw(st.booleans()):
        ids = sorted(ids)
    return torch.tensor(ids, dtype=torch.int64).reshape(n).to(dtype)


@st.composite
def roi_batches(draw, max_rois: int = 24) -> dict:
    """``dict(losses [R], image_ids [R], boxes [R, 4], valid [R] bool or None)``.

    Boxes are drawn for the whole batch at once, so RoIs of different images overlap;
    ``valid`` is absent, all true, random, or false on every RoI of one image."""
    r = draw(st.integers(0, max_rois))
    ids = draw(image_ids(r))
    kind = draw(st.sampled_from(["none", "all", "random", "image"]))
    valid = None
    if kind == "all":
        valid = torch.ones(r, dtype=torch.bool)
    elif kind == "random":
        valid = torch.tensor([v % 2 == 0 for v in byte_values(draw, r)], dtype=torch.bool).reshape(r)
    elif kind == "image":
        valid = torch.ones(r, dtype=torch.bool)
        if r:
            valid &= ids != ids[draw(st.integers(0, r - 1))]
    return {"losses": draw(scores(r)), "image_ids": ids, "boxes": draw(boxes(r)), "valid": valid}


@st.composite
def select_inputs(draw, max_rois: int = 24) -> tuple[dict, int, float | None]:
    """``(roi_batch, per_image, nms_iou)`` for ``ohem_select``: ``per_image`` from 0 to beyond the
    batch size, ``nms_iou`` absent (one time in four) or one of :func:`iou_thresholds` for the
    batch's boxes, exact IoUs taken over pairs of valid RoIs of one image."""
    batch = draw(roi_batches(max_rois))
    per_image = draw(st.integers(0, max_rois + 2))
    nms_iou = None if draw(st.integers(0, 3)) == 0 else draw(iou_thresholds(batch["boxes"], _groups(batch)))
    return batch, per_image, nms_iou


def _groups(batch: dict) -> list:
    """Image id of each valid RoI, ``None`` for invalid ones (pairs NMS can compare)."""
    ids = batch["image_ids"].tolist()
    valid = batch["valid"].tolist() if batch["valid"] is not None else [True] * len(ids)
    return [i if ok else None for i, ok in zip(ids, valid)]


@st.composite
def detection_batches(draw, max_rois: int = 16) -> dict:
    """``dict(logits [R, C], targets [R], image_ids, boxes, ignore_index, per_image, nms_iou)``
    for ``ohem_loss``.

    Logits are multiples of 1/2 (with duplicated rows, so per-RoI losses tie exactly) or any
    floats; ``ignore_index`` is -1, -100, a class index, or ``C``; targets hit it at random."""
    batch = draw(roi_batches(max_rois))
    r = batch["image_ids"].shape[0]
    c = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    if draw(st.booleans()):
        cells = [zigzag(v % 9) / 2 for v in byte_values(draw, r * c)]
    else:  # float32-representable values in [-6, 6]
        cells = torch.tensor([zigzag(v) * 6.0 / 2**23 for v in byte_values(draw, r * c, 3)], dtype=torch.float32).tolist()
    logits = torch.tensor(cells, dtype=torch.float64).reshape(r, c)
    if r >= 2 and draw(st.booleans()):
        src = [v % r for v in byte_values(draw, r)]
        logits = logits[torch.tensor(src)]
    ignore_index = draw(st.sampled_from([-1, -100, 0, c - 1, c]))
    raw = byte_values(draw, 2 * r)  # per RoI: ignored (one in four), else which class
    targets = [ignore_index if raw[2 * i] % 4 == 3 else raw[2 * i + 1] % c for i in range(r)]
    return {
        "logits": logits.to(dtype),
        "targets": torch.tensor(targets, dtype=torch.int64).reshape(r),
        "image_ids": batch["image_ids"],
        "boxes": batch["boxes"],
        "ignore_index": ignore_index,
        "per_image": draw(st.integers(0, max_rois + 2)),
        "nms_iou": None if draw(st.integers(0, 3)) == 0 else draw(iou_thresholds(batch["boxes"], _groups(batch))),
    }
