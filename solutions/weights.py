"""Distance-weighted sampling probabilities (Wu et al., "Sampling matters", 2017)."""

from __future__ import annotations

import torch
from torch import Tensor

from . import _checks, _masks


def distance_weights(
    dist: Tensor, labels: Tensor, dim: int, cutoff: float = 0.5, nonzero_loss_cutoff: float = 1.4
) -> Tensor:
    """Per-anchor sampling probabilities over negatives for unit-norm embeddings.

    Pairwise distances of points uniform on the unit sphere in ``R^dim`` have density
    ``q(d) ~ d^(dim-2) (1 - d^2/4)^((dim-3)/2)``. Sampling negative ``n`` of anchor ``a``
    with weight ``1 / q(max(dist[a,n], cutoff))`` spreads the chosen negatives over all
    distances *when the distances follow q*. In a trained embedding they do not, and the
    weight falls steeply with distance, so most of it lands on the nearest negatives
    (lesson 2 measures how often the pick is the hardest negative, in 16-d and 128-d).

    Rules:
        * ``log q(d) = (dim - 2) log d + ((dim - 3) / 2) log(1 - d^2 / 4)``;
        * weight 0 for non-negatives (same label, so also the diagonal) and wherever the
          raw ``dist[a,n] >= nonzero_loss_cutoff`` (Wu et al.'s 1.4 is ``alpha + beta`` of
          their margin loss, which is 0 there; a triplet loss can still be non-zero);
        * each row is normalised in log space (a masked softmax), so a row with a valid
          negative sums to 1 and never underflows to zeros; a row with none is all zeros.

    Args:
        dist: ``[B, B]`` distances. labels: ``[B]`` integers. dim: embedding size ``>= 2``.
        cutoff, nonzero_loss_cutoff: ``0 < cutoff < nonzero_loss_cutoff <= 2``.

    Returns:
        ``[B, B]`` tensor in ``dist``'s dtype, a constant (no gradient).
    """
    d, lab = _masks.validated(dist, labels)
    dim = _checks.integer("dim", dim, 2)
    lo = _checks.positive_number("cutoff", cutoff)
    hi = _checks.real_number("nonzero_loss_cutoff", nonzero_loss_cutoff)
    if not lo < hi <= 2:
        raise ValueError(
            f"need 0 < cutoff < nonzero_loss_cutoff <= 2, got cutoff={lo}, nonzero_loss_cutoff={hi}"
        )
    valid = (lab[:, None] != lab[None, :]) & (d < hi)
    # Invalid entries get a harmless stand-in so that no log of a non-positive number is taken.
    x = torch.where(valid, d.clamp(min=lo), torch.full_like(d, lo))
    log_q = (dim - 2) * torch.log(x) + ((dim - 3) / 2) * torch.log1p(-x * x / 4)
    log_w = (-log_q).masked_fill(~valid, float("-inf"))
    has_any = valid.any(dim=1, keepdim=True)
    w = torch.softmax(log_w.masked_fill(~has_any, 0.0), dim=1)
    return w.masked_fill(~valid, 0.0)
