"""Slow, obviously-correct loop oracles for the OHEM references (``solutions.ohem``).

They read the contract literally, one box at a time. IoU is computed with NumPy scalars of
the IoU dtype (float32 for integer boxes), in the same operation order as
``solutions._boxes.pairwise_iou``, so every ``iou > threshold`` decision (threshold rounded
to the same dtype) is the one the reference makes, exact boundary hits included.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def iou_dtype(*boxes: torch.Tensor) -> torch.dtype:
    dtypes = [b.dtype if b.is_floating_point() else torch.float32 for b in boxes]
    return torch.float64 if torch.float64 in dtypes else dtypes[0]


def _scalar(dtype: torch.dtype):
    return {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16}[dtype]


def _rows(boxes: torch.Tensor, dtype: torch.dtype) -> list[tuple]:
    """Each box as a tuple of NumPy scalars of ``dtype`` (integers converted by torch first)."""
    return [tuple(_scalar(dtype)(v) for v in row) for row in boxes.detach().cpu().to(dtype).tolist()]


def iou(a: tuple, b: tuple):
    """IoU of two boxes given as NumPy scalars of one dtype; 0 when the union is empty."""
    zero = type(a[0])(0)
    w = max(min(a[2], b[2]) - max(a[0], b[0]), zero)
    h = max(min(a[3], b[3]) - max(a[1], b[1]), zero)
    inter = w * h
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    union = area_a + area_b - inter
    if union == zero:
        return zero
    return inter / union


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    dtype = iou_dtype(boxes1, boxes2)
    r1, r2 = _rows(boxes1, dtype), _rows(boxes2, dtype)
    out = [[float(iou(a, b)) for b in r2] for a in r1]
    return torch.tensor(out, dtype=torch.float64).reshape(len(r1), len(r2)).to(dtype)


def _visiting_order(scores: list, indices: list[int]) -> list[int]:
    """``indices`` by decreasing score; equal scores by increasing index."""
    return sorted(indices, key=lambda i: (-scores[i], i))


def _greedy(rows: list[tuple], order: list[int], threshold) -> list[int]:
    """Visit ``order``; keep a box unless IoU with a kept box is > threshold."""
    kept = []
    for i in order:
        suppressed = False
        for j in kept:
            if iou(rows[j], rows[i]) > threshold:
                suppressed = True
        if not suppressed:
            kept.append(i)
    return kept


def _scores(t: torch.Tensor) -> list:
    return [v.item() for v in t.detach().cpu()]  # Python int or float, exact


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    dtype = iou_dtype(boxes)
    rows = _rows(boxes, dtype)
    thr = _scalar(dtype)(iou_threshold)  # the threshold rounded to the IoU dtype
    s = _scores(scores)
    return torch.tensor(_greedy(rows, _visiting_order(s, list(range(len(rows)))), thr), dtype=torch.int64)


def ohem_select(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None) -> torch.Tensor:
    loss = _scores(losses)
    ids = [int(v) for v in image_ids.cpu()]
    ok = [True] * len(loss) if valid is None else [bool(v) for v in valid.cpu()]
    selected = []
    for image in set(ids):
        rois = [i for i in range(len(loss)) if ids[i] == image and ok[i]]
        ranked = _visiting_order(loss, rois)
        if nms_iou is not None:
            dtype = iou_dtype(boxes)
            thr = _scalar(dtype)(nms_iou)
            ranked = _greedy(_rows(boxes, dtype), ranked, thr)
        selected += ranked[:per_image]
    return torch.tensor(sorted(selected), dtype=torch.int64)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> list[float]:
    """Per-row ``logsumexp(row) - row[target]`` in float64 math (targets must be class indices)."""
    out = []
    for row, t in zip(logits.detach().cpu().double().tolist(), targets.cpu().tolist()):
        top = max(row)
        out.append(top + math.log(sum(math.exp(v - top) for v in row)) - row[t])
    return out


def ohem_loss(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1, ranking=None):
    """``(selected indices, mean loss)``. ``ranking``: per-RoI losses to rank by (default: the
    float64 cross-entropy; pass torch's own per-RoI values to reproduce its exact ties)."""
    tgt = [int(v) for v in targets.cpu()]
    valid = torch.tensor([t != ignore_index for t in tgt], dtype=torch.bool)
    safe = torch.tensor([t if t != ignore_index else 0 for t in tgt], dtype=torch.int64)
    ce = cross_entropy(logits, safe)
    rank_by = torch.tensor(ce, dtype=torch.float64) if ranking is None else ranking
    sel = ohem_select(rank_by, image_ids, per_image, boxes=boxes, nms_iou=nms_iou, valid=valid)
    picked = [ce[i] for i in sel.tolist()]
    return sel, (sum(picked) / len(picked) if picked else 0.0)
