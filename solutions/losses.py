"""Losses over mined indices. Losses never mine: they take what a miner returned."""

from __future__ import annotations

import torch
from torch import Tensor

from . import _checks, _masks


def triplet_margin_loss(dist: Tensor, anchors: Tensor, positives: Tensor, negatives: Tensor, margin: float) -> Tensor:
    """Mean of ``relu(dist[a,p] - dist[a,n] + margin)`` over the given triplets.

    Args:
        dist: ``[B, B]`` distances (differentiable). anchors, positives, negatives: int64
            ``[T]`` indices in ``[0, B)`` on ``dist``'s device. margin: ``> 0``.

    Returns:
        0-d tensor in ``dist``'s dtype. For ``T = 0`` exactly ``0.0`` (not NaN), still
        connected to ``dist`` so ``.backward()`` works (with zero gradient).
    """
    d = _checks.distance_matrix(dist)
    m = _checks.positive_number("margin", margin)
    a, p, n = _checks.triplet_indices(anchors, positives, negatives, d.shape[0], d.device)
    if a.numel() == 0:
        return d.sum() * 0.0
    return torch.relu(d[a, p] - d[a, n] + m).mean()


def contrastive_loss(dist: Tensor, labels: Tensor, margin: float = 1.0) -> Tensor:
    """Contrastive loss (Hadsell et al. 2006) over all ordered pairs ``i != j`` of a batch.

    ``dist[i,j]^2`` for same-label pairs plus ``relu(margin - dist[i,j])^2`` for
    different-label pairs, averaged over the ``B (B - 1)`` ordered pairs. Exactly ``0.0``,
    still connected to ``dist``, when ``B < 2``.
    """
    d = _checks.distance_matrix(dist)
    lab = _checks.labels(labels, d.shape[0])
    _checks.same_device("labels", lab, "dist", d)
    m = _checks.positive_number("margin", margin)
    b = d.shape[0]
    if b < 2:
        return d.sum() * 0.0
    same = _masks.same_label(lab)
    per_pair = torch.where(same, d.square(), torch.relu(m - d).square())
    off_diagonal = ~torch.eye(b, dtype=torch.bool, device=d.device)
    return (per_pair * off_diagonal).sum() / (b * (b - 1))
