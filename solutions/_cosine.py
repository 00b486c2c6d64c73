"""Validated unit rows and cosine-similarity matrices, shared by the contrastive and proxy losses."""

from __future__ import annotations

import torch
from torch import Tensor

from . import _checks


def unit_rows(name: str, value: object, min_rows: int = 0) -> Tensor:
    """``value / ||value||`` row-wise for a finite ``[N, D]`` floating tensor with ``N >= min_rows``,
    ``D >= 1`` and no zero row (the cosine of a zero vector is undefined)."""
    x = _checks.floating(name, value, 2)
    if x.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} row(s), got shape {tuple(x.shape)}")
    if x.shape[1] == 0:
        raise ValueError(f"{name} must have at least one column, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        return x
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    finite, nonzero = bool(torch.isfinite(x).all()), bool((norms > 0).all())
    if not finite:
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    if not nonzero:
        raise ValueError(f"{name} must have no all-zero row (its cosine similarity is undefined)")
    return x / norms


def cosine_matrix(x_name: str, x: object, y_name: str, y: object) -> Tensor:
    """``[N, M]`` cosine similarities of the rows of ``x`` and ``y`` (same dtype, device and width)."""
    u = unit_rows(x_name, x)
    v = unit_rows(y_name, y)
    if u.dtype != v.dtype:
        raise ValueError(f"{y_name} must have the dtype of {x_name} ({u.dtype}), got {v.dtype}")
    _checks.same_device(y_name, v, x_name, u)
    if u.shape[1] != v.shape[1]:
        raise ValueError(f"{y_name} must have {u.shape[1]} columns like {x_name}, got shape {tuple(v.shape)}")
    return u @ v.T
