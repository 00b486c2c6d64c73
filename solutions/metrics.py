"""Retrieval and monitoring statistics."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from . import _checks, _masks
from .distances import pairwise_distances


def recall_at_k(embeddings: Tensor, labels: Tensor, ks: Iterable[int] = (1, 5)) -> dict[int, float]:
    """Leave-one-out Recall@k by Euclidean distance (normalise first for cosine).

    A query counts as a hit at ``k`` when one of its ``k`` nearest *other* samples has its
    label; ``k`` is capped at ``B - 1``; ties at the ``k``-th distance count in the query's
    favour (hit iff fewer than ``k`` others are strictly closer than its nearest same-label
    sample). Queries whose label occurs only once are left out; every value is NaN when no
    query is left. Returns ``{k: fraction}`` with Python floats, in the order of ``ks``.
    """
    x = _checks.floating("embeddings", embeddings, 2)
    lab = _checks.labels(labels, x.shape[0])
    ks = tuple(ks)
    for k in ks:
        _checks.integer("ks entries", k, 1)
    b = x.shape[0]
    with torch.no_grad():
        d = pairwise_distances(x)
        pos = _masks.positive_mask(lab.to(x.device))
        queries = pos.any(dim=1)
        if b < 2 or not bool(queries.any()):
            return {k: float("nan") for k in ks}
        eye = torch.eye(b, dtype=torch.bool, device=x.device)
        nearest_pos = torch.where(pos, d, float("inf")).min(dim=1).values
        closer = ((d < nearest_pos[:, None]) & ~eye).sum(dim=1)[queries]
        return {k: float((closer < min(k, b - 1)).double().mean()) for k in ks}


def active_triplet_fraction(
    dist: Tensor, anchors: Tensor, positives: Tensor, negatives: Tensor, margin: float
) -> float:
    """Fraction of the given triplets with non-zero loss: ``dist[a,p] - dist[a,n] + margin > 0``.

    NaN for an empty set of triplets.
    """
    d = _checks.distance_matrix(dist)
    m = _checks.positive_number("margin", margin)
    a, p, n = _checks.triplet_indices(anchors, positives, negatives, d.shape[0], d.device)
    if a.numel() == 0:
        return float("nan")
    with torch.no_grad():
        return float((d[a, p] - d[a, n] + m > 0).double().mean())


def mean_pairwise_distance(embeddings: Tensor) -> float:
    """Mean Euclidean distance over the ``B (B - 1)`` ordered pairs of distinct rows (NaN if ``B < 2``)."""
    x = _checks.floating("embeddings", embeddings, 2)
    b = x.shape[0]
    if b < 2:
        return float("nan")
    with torch.no_grad():
        return float(pairwise_distances(x).sum(dtype=torch.float64) / (b * (b - 1)))


def collapse_ratio(embeddings: Tensor, reference: float) -> float:
    """Embedding-collapse statistic: ``mean_pairwise_distance(embeddings) / reference``.

    Pass the value measured at the start of training as ``reference``; a ratio falling
    towards 0 means the embeddings are collapsing onto a point (every triplet loss then
    sits at the margin and mining stops helping).
    """
    ref = _checks.positive_number("reference", reference)
    return mean_pairwise_distance(embeddings) / ref


def map_at_r(embeddings: Tensor, labels: Tensor) -> float:
    """Leave-one-out MAP@R by Euclidean distance (Musgrave, Belongie & Lim, ECCV 2020).

    For a query with ``R`` other samples of its label, rank the other samples by distance and
    keep the first ``R``; its average precision is ``(1/R) * sum_{i<=R} P(i) * rel(i)``, where
    ``rel(i)`` says whether the ``i``-th retrieved sample has the query's label and ``P(i)`` is
    the precision of the first ``i``. Unlike Recall@1, it rewards putting *all* of a class
    close, not only one sample. Ties in distance are ranked in the query's favour (same-label
    samples first), so the value depends only on distances and labels, not on sample order.
    Queries whose label occurs once are left out; NaN when no query is left. A Python float.
    """
    x = _checks.floating("embeddings", embeddings, 2)
    lab = _checks.labels(labels, x.shape[0])
    b = x.shape[0]
    with torch.no_grad():
        pos = _masks.positive_mask(lab.to(x.device))
        r = pos.sum(dim=1)
        queries = r > 0
        if b < 2 or not bool(queries.any()):
            return float("nan")
        d = pairwise_distances(x).double()
        eye = torch.eye(b, dtype=torch.bool, device=x.device)
        d = d.masked_fill(eye, float("inf"))
        d, pos, r = d[queries], pos[queries], r[queries]
        # Relevant first, then a stable sort by distance: ties go to the same-label samples.
        first = torch.argsort((~pos).to(torch.int8), dim=1, stable=True)
        order = first.gather(1, torch.argsort(d.gather(1, first), dim=1, stable=True))
        width = int(r.max())
        rel = pos.gather(1, order[:, :width]).double()
        rank = torch.arange(1, width + 1, device=x.device, dtype=torch.float64)
        precision = rel.cumsum(dim=1) / rank
        within = rank[None, :] <= r[:, None]
        ap = (precision * rel * within).sum(dim=1) / r.double()
        return float(ap.mean())
