"""Log-space building blocks shared by the losses: exact softplus, masked logsumexp, log(1 - e^x)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def softplus(x: Tensor) -> Tensor:
    """``log(1 + e^x)`` to full precision (also for large ``x``); 0 with gradient 0 at ``-inf``."""
    return torch.logaddexp(x, torch.zeros_like(x))


def masked_logsumexp(x: Tensor, keep: Tensor) -> Tensor:
    """Row-wise ``log sum_{j: keep[i,j]} e^{x[i,j]}``; ``-inf`` (gradient 0) for a row keeping nothing."""
    z = x.masked_fill(~keep, float("-inf"))
    has = keep.any(dim=1)
    if bool(has.all()):
        return torch.logsumexp(z, dim=1)
    # Rows that keep nothing are summed over zeros instead of -inf (whose gradient would be NaN).
    return torch.logsumexp(z.masked_fill(~has[:, None], 0.0), dim=1).masked_fill(~has, float("-inf"))


def log1mexp(x: Tensor) -> Tensor:
    """``log(1 - e^x)`` for ``x < 0``, accurate near 0 and for very negative ``x`` (Maechler 2012)."""
    return torch.where(x > -math.log(2.0), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))
