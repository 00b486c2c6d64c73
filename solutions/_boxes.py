"""Box validation and the one IoU formula every OHEM reference uses.

Boxes are ``(x1, y1, x2, y2)`` rows with ``x1 <= x2`` and ``y1 <= y2``. IoU is computed in
the *IoU dtype*: the boxes' floating dtype, or float32 for integer boxes (converted before
any arithmetic). :func:`pairwise_iou` fixes the order of every operation, so the loop oracle
can repeat it scalar by scalar and get bit-identical values, and ``box_iou`` and ``nms``
agree exactly on every comparison with a threshold.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import _checks


def boxes(name: str, value: object, size: int | None = None) -> Tensor:
    """Require an ``[N, 4]`` real tensor of finite boxes with ``x1 <= x2``, ``y1 <= y2``."""
    t = _checks.tensor(name, value)
    if t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"{name} must have an integer or floating dtype, got {t.dtype}")
    if t.dim() != 2 or t.shape[1] != 4:
        raise ValueError(f"{name} must have shape [N, 4] (rows x1, y1, x2, y2), got shape {tuple(t.shape)}")
    if size is not None and t.shape[0] != size:
        raise ValueError(f"{name} must have {size} rows (one box per RoI), got {t.shape[0]}")
    if t.numel():
        d = t.detach()
        ordered = (d[:, 2] >= d[:, 0]) & (d[:, 3] >= d[:, 1])  # False for NaN
        finite = torch.isfinite(d).all(dim=1) if d.is_floating_point() else ordered
        if not bool((ordered & finite).all()):
            if not bool(finite.all()):
                raise ValueError(f"{name} must be finite (found NaN or inf)")
            raise ValueError(f"{name} must have x1 <= x2 and y1 <= y2 in every row")
    return t


def real_vector(name: str, value: object, size: int | None = None) -> Tensor:
    """Require a 1-D integer or floating tensor without NaN (infinities are allowed)."""
    t = _checks.tensor(name, value)
    if t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"{name} must have an integer or floating dtype, got {t.dtype}")
    if t.dim() != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(t.shape)}")
    if size is not None and t.shape[0] != size:
        raise ValueError(f"{name} must have length {size}, got {t.shape[0]}")
    if t.is_floating_point() and t.numel() and bool(torch.isnan(t.detach()).any()):
        raise ValueError(f"{name} must not contain NaN")
    return t


def mask(name: str, value: object, size: int) -> Tensor:
    """Require a 1-D bool tensor of length ``size``."""
    t = _checks.tensor(name, value)
    if t.dtype != torch.bool or t.dim() != 1 or t.shape[0] != size:
        raise ValueError(
            f"{name} must be a 1-D bool tensor of length {size}, got dtype {t.dtype} and shape {tuple(t.shape)}"
        )
    return t


def unit_interval(name: str, value: object) -> float:
    """Require a real number in ``[0, 1]`` (a Python or 0-d tensor scalar)."""
    v = _checks.real_number(name, value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {v}")
    return v


def iou_dtype(*tensors: Tensor) -> torch.dtype:
    """float32 for integer boxes; the (promoted) floating dtype otherwise."""
    dtypes = [t.dtype if t.is_floating_point() else torch.float32 for t in tensors]
    out = dtypes[0]
    for d in dtypes[1:]:
        out = torch.promote_types(out, d)
    return out


def pairwise_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of every box of ``a`` ``[..., n, 4]`` with every box of ``b`` ``[..., m, 4]``: ``[..., n, m]``.

    Both in the same floating dtype (the caller converts). Operation by operation::

        w     = max(min(ax2, bx2) - max(ax1, bx1), 0)      (h likewise with y)
        inter = w * h
        union = (area_a + area_b) - inter,   area = (x2 - x1) * (y2 - y1)
        iou   = inter / union,  or 0 where union == 0 (two zero-area boxes)

    Each step is one correctly rounded operation, so ``0 <= iou <= 1``, the result is exactly
    symmetric and never NaN. Differentiable; without autograd the big temporaries are reused.
    """
    ax1, ay1, ax2, ay2 = a.unbind(-1)
    bx1, by1, bx2, by2 = b.unbind(-1)
    area_a = (ax2 - ax1) * (ay2 - ay1)
    area_b = (bx2 - bx1) * (by2 - by1)
    grad = torch.is_grad_enabled() and (a.requires_grad or b.requires_grad)
    col, row = (..., slice(None), None), (..., None, slice(None))
    if grad:
        w = (torch.minimum(ax2[col], bx2[row]) - torch.maximum(ax1[col], bx1[row])).clamp(min=0)
        h = (torch.minimum(ay2[col], by2[row]) - torch.maximum(ay1[col], by1[row])).clamp(min=0)
        inter = w * h
        union = (area_a[col] + area_b[row]) - inter
        return inter / union.masked_fill(union == 0, 1)
    w = torch.minimum(ax2[col], bx2[row]).sub_(torch.maximum(ax1[col], bx1[row])).clamp_(min=0)
    inter = torch.minimum(ay2[col], by2[row]).sub_(torch.maximum(ay1[col], by1[row])).clamp_(min=0).mul_(w)
    union = torch.add(area_a[col], area_b[row], out=w).sub_(inter)
    return inter.div_(union.masked_fill_(union == 0, 1))
