"""Input validation shared by every reference.

Each check raises ``ValueError`` with a message that names the argument and says
what was expected. Checks that must look at tensor *values* (finiteness, sign,
ranges) need one host synchronisation per call; they never loop over elements.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def tensor(name: str, value: object) -> Tensor:
    """Require a ``torch.Tensor``."""
    if not isinstance(value, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def floating(name: str, value: object, ndim: int) -> Tensor:
    """Require a floating-point tensor of rank ``ndim``."""
    t = tensor(name, value)
    if not t.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if t.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {tuple(t.shape)}")
    return t


def labels(value: object, size: int | None = None, name: str = "labels") -> Tensor:
    """Require a 1-D integer label tensor, of length ``size`` if given."""
    t = tensor(name, value)
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise ValueError(f"{name} must have an integer dtype, got {t.dtype}")
    if t.dim() != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(t.shape)}")
    if size is not None and t.shape[0] != size:
        raise ValueError(f"{name} must have length {size} (one label per row), got {t.shape[0]}")
    return t


def distance_matrix(value: object, name: str = "dist") -> Tensor:
    """Require a square floating matrix of finite, non-negative distances."""
    t = floating(name, value, 2)
    if t.shape[0] != t.shape[1]:
        raise ValueError(f"{name} must be a square B x B matrix, got shape {tuple(t.shape)}")
    if t.numel():
        lo, hi = torch.aminmax(t.detach())  # NaN propagates into both, failing both tests
        if not bool((lo >= 0) & (hi < float("inf"))):
            raise ValueError(f"{name} must hold finite, non-negative distances (found NaN, inf or a negative entry)")
    return t


def same_device(name: str, t: Tensor, ref_name: str, ref: Tensor) -> None:
    if t.device != ref.device:
        raise ValueError(f"{name} must be on the same device as {ref_name} ({ref.device}), got {t.device}")


def positive_number(name: str, value: object) -> float:
    """Require a finite real number > 0 (a Python or 0-d tensor scalar)."""
    v = real_number(name, value)
    if not v > 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    return v


def real_number(name: str, value: object) -> float:
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a number, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def integer(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def index_vector(name: str, value: object, size: int, device: torch.device) -> Tensor:
    """Require a 1-D int64 tensor of indices in [0, size) on ``device``."""
    t = tensor(name, value)
    if t.dtype != torch.int64 or t.dim() != 1:
        raise ValueError(f"{name} must be a 1-D int64 tensor, got dtype {t.dtype} and shape {tuple(t.shape)}")
    if t.device != device:
        raise ValueError(f"{name} must be on {device}, got {t.device}")
    if t.numel() and not bool(((t >= 0) & (t < size)).all()):
        raise ValueError(f"{name} must hold indices in [0, {size})")
    return t


def triplet_indices(anchors: object, positives: object, negatives: object, size: int, device: torch.device):
    """Require three 1-D int64 index tensors of equal length, with indices in [0, size)."""
    a, p, n = (
        index_vector(name, t, size, device)
        for name, t in (("anchors", anchors), ("positives", positives), ("negatives", negatives))
    )
    if not a.numel() == p.numel() == n.numel():
        raise ValueError(
            f"anchors, positives and negatives must have equal lengths, got {a.numel()}, {p.numel()}, {n.numel()}"
        )
    return a, p, n
