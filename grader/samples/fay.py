"""Sample submission: batch-hard is right, but semi-hard kills its own process; box IoU
divides by a zero union (NaN for two zero-area boxes)."""
import os

import torch


def semi_hard_negatives(dist, labels, margin):
    os._exit(3)  # crashes the worker: only this exercise may suffer


def batch_hard(dist, labels):
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=dist.device)
    neg = ~same
    a = (pos.any(1) & neg.any(1)).nonzero().flatten()
    if len(labels) == 0:
        return a, a, a
    return a, dist.masked_fill(~pos, -1.0).argmax(1)[a], dist.masked_fill(~neg, float("inf")).argmin(1)[a]


def box_iou(boxes1, boxes2):
    dtype = torch.promote_types(boxes1.dtype, boxes2.dtype)
    dtype = dtype if dtype.is_floating_point else torch.float32
    a, b = boxes1.to(dtype)[:, None, :], boxes2.to(dtype)[None, :, :]
    wh = (torch.minimum(a[..., 2:], b[..., 2:]) - torch.maximum(a[..., :2], b[..., :2])).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (area_a + area_b - inter)
