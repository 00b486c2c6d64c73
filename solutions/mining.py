"""Negative miners: from a distance matrix and labels to (anchor, positive, negative) indices.

Shared rules (see ``solutions`` for the full contract):
    * ``dist`` is ``[B, B]``, finite and non-negative, read row ``a`` for anchor ``a``;
      it need not be symmetric or have a zero diagonal.
    * A positive pair is ``(a, p)`` with ``a != p`` (by index) and equal labels; a negative
      ``n`` of ``a`` has ``labels[n] != labels[a]``.
    * Outputs are int64 index tensors on ``dist``'s device; ties resolve to the smallest index.
    * Mining never needs gradients: indices are computed from ``dist.detach()``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import _checks, _masks
from .weights import distance_weights

Triplets = tuple[Tensor, Tensor, Tensor]

# Scanning rows per positive pair costs O(P * B), sorting O(B^2 log B): scan while
# P <= _PAIRS_PER_LOG * B * log2(B) (measured crossover on CPU, see benchmarks/).
_PAIRS_PER_LOG = 4


def semi_hard_negatives(dist: Tensor, labels: Tensor, margin: float) -> Triplets:
    """FaceNet semi-hard negatives, one per positive pair.

    For every positive pair ``(a, p)``, in lexicographic ``(a, p)`` order, the negative ``n``
    with ``dist[a,p] < dist[a,n] < dist[a,p] + margin`` (both strict, compared in
    ``dist``'s dtype) that has the smallest ``dist[a,n]``; ties go to the smallest ``n``.
    Pairs with no such negative are left out.

    Args:
        dist: ``[B, B]`` distances. labels: ``[B]`` integers. margin: ``> 0``.

    Returns:
        ``(anchors, positives, negatives)``, int64 ``[T]`` each, ``T <= #positive pairs``.

    Algorithm: the closest negative strictly beyond ``dist[a,p]`` is found either by
    scanning row ``a`` once per positive pair (``O(P * B)``, chosen when the number of
    positive pairs ``P`` is at most ``4 B log2(B)``) or by sorting each anchor's negatives
    once and binary-searching every pair (``O(B^2 log B)``). Both work in row chunks, so
    extra memory stays ``O(B^2)`` at most and usually far less.
    """
    d, lab = _masks.validated(dist, labels)
    m = _checks.positive_number("margin", margin)
    n = d.shape[0]
    if n == 0:
        return _masks.empty_triplets(d.device)
    pos = _masks.positive_mask(lab)
    n_pairs = int(pos.sum())
    if n_pairs == 0:
        return _masks.empty_triplets(d.device)
    # The scan over positive pairs is exact only while every valid d_an stays far below the
    # float maximum; beyond that (absurd distances) the sorting route is used.
    if n_pairs <= _PAIRS_PER_LOG * n * max(1.0, math.log2(n)) and float(d.max()) < torch.finfo(d.dtype).max / 4:
        return _semi_hard_by_pairs(d, lab, pos, m)
    return _semi_hard_by_sorting(d, lab, pos, m)


def _semi_hard_by_pairs(d: Tensor, lab: Tensor, pos: Tensor, margin: float) -> Triplets:
    anchors, positives = pos.nonzero(as_tuple=True)
    same = lab[:, None] == lab[None, :]
    # Non-negatives become -1, below every d_ap >= 0, so they never pass the lower bound.
    candidates = d.masked_fill(same, -1.0)
    big = torch.finfo(d.dtype).max
    negatives = torch.empty_like(anchors)
    step = _masks.rows_per_chunk(d.shape[1], budget=1 << 18)
    for s in range(0, anchors.numel(), step):
        a = anchors[s : s + step]
        rows = candidates.index_select(0, a)
        d_ap = d[a, positives[s : s + step]].unsqueeze(1)
        # sign(fl(d_an - d_ap)) is exactly sign(d_an - d_ap). Push every candidate not strictly
        # beyond d_ap up by big (or to inf) and keep the others' values untouched, so that
        # min() compares the true d_an and resolves ties to the first index. (Bool masks in
        # torch.where are several times slower on the CPU than these float passes.)
        shift = torch.sub(rows, d_ap).sign_().mul_(-big).add_(big)
        negatives[s : s + step] = shift.add_(rows).min(dim=1).indices
    d_an = d[anchors, negatives]
    d_ap = d[anchors, positives]
    keep = (d_an > d_ap) & (d_an < d_ap + margin) & ~same[anchors, negatives]
    return anchors[keep], positives[keep], negatives[keep]


def _semi_hard_by_sorting(d: Tensor, lab: Tensor, pos: Tensor, margin: float) -> Triplets:
    n = d.shape[0]
    out_a, out_p, out_n = [], [], []
    step = _masks.rows_per_chunk(n, budget=1 << 21)
    for s in range(0, n, step):
        rows, row_pos = d[s : s + step], pos[s : s + step]
        same = lab[s : s + step, None] == lab[None, :]
        # Each anchor's negatives ascending, non-negatives (+inf) last; stable keeps index order on ties.
        values, order = torch.sort(rows.masked_fill(same, float("inf")), dim=1, stable=True)
        # Pack each row's positives to the left, in increasing column order (column k = the k-th positive).
        counts = row_pos.sum(dim=1)
        width = int(counts.max())
        if width == 0:
            continue
        slot = torch.where(row_pos, row_pos.cumsum(dim=1) - 1, width)
        columns = torch.arange(n, device=d.device).expand_as(slot)
        packed = torch.zeros(rows.shape[0], width + 1, dtype=torch.long, device=d.device).scatter_(1, slot, columns)[:, :width]
        d_ap = rows.gather(1, packed)
        first_beyond = torch.searchsorted(values, d_ap, right=True).clamp_(max=n - 1)
        # +inf (no negative beyond d_ap) never passes the strict upper bound.
        ok = (torch.arange(width, device=d.device) < counts[:, None]) & (values.gather(1, first_beyond) < d_ap + margin)
        r, k = ok.nonzero(as_tuple=True)
        out_a.append(r + s)
        out_p.append(packed[r, k])
        out_n.append(order[r, first_beyond[r, k]])
    if not out_a:
        return _masks.empty_triplets(d.device)
    return torch.cat(out_a), torch.cat(out_p), torch.cat(out_n)


def batch_hard(dist: Tensor, labels: Tensor) -> Triplets:
    """Batch-hard mining (Hermans et al. 2017): one triplet per usable anchor.

    For each anchor ``a``, in increasing order, that has at least one positive and one
    negative: the positive with the largest ``dist[a,p]`` and the negative with the
    smallest ``dist[a,n]`` (ties: smallest index). Returns int64 ``[T]`` tensors, ``T <= B``.
    """
    d, lab = _masks.validated(dist, labels)
    if d.shape[0] == 0:
        return _masks.empty_triplets(d.device)
    pos = _masks.positive_mask(lab)
    neg = ~_masks.same_label(lab)
    hardest_pos = torch.where(pos, d, -1.0).argmax(dim=1)
    hardest_neg = torch.where(neg, d, float("inf")).argmin(dim=1)
    anchors = (pos.any(dim=1) & neg.any(dim=1)).nonzero().squeeze(1)
    return anchors, hardest_pos[anchors], hardest_neg[anchors]


def hardest_negatives(dist: Tensor, labels: Tensor) -> Triplets:
    """Hardest negative per positive pair.

    For every positive pair ``(a, p)`` in lexicographic order whose anchor has a negative:
    the negative with the smallest ``dist[a,n]`` (ties: smallest index), whatever ``dist[a,p]``.
    """
    d, lab = _masks.validated(dist, labels)
    if d.shape[0] == 0:
        return _masks.empty_triplets(d.device)
    neg = ~_masks.same_label(lab)
    closest = torch.where(neg, d, float("inf")).argmin(dim=1)
    anchors, positives = (_masks.positive_mask(lab) & neg.any(dim=1, keepdim=True)).nonzero(as_tuple=True)
    return anchors, positives, closest[anchors]


def random_negatives(dist: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> Triplets:
    """A uniformly random negative per positive pair (the no-mining baseline).

    For every positive pair ``(a, p)`` in lexicographic order whose anchor has a negative,
    one negative of ``a`` drawn uniformly (independently per pair) from ``generator``
    (which must live on ``dist``'s device; ``None`` uses torch's global RNG).
    ``dist`` is only validated and used for its size and device.
    """
    d, lab = _masks.validated(dist, labels)
    if d.shape[0] == 0:
        return _masks.empty_triplets(d.device)
    same = _masks.same_label(lab)
    n_neg = (~same).sum(dim=1)
    anchors, positives = (_masks.positive_mask(lab) & (n_neg > 0)[:, None]).nonzero(as_tuple=True)
    # Row a of `order` lists a's negatives first, in increasing index order.
    order = torch.sort(same.to(torch.uint8), dim=1, stable=True).indices
    u = torch.rand(anchors.numel(), generator=generator, device=d.device, dtype=torch.float64)
    pick = (u * n_neg[anchors]).long().clamp_(max=d.shape[0] - 1)
    return anchors, positives, order[anchors, pick]


def distance_weighted_negatives(
    dist: Tensor,
    labels: Tensor,
    dim: int,
    generator: torch.Generator | None = None,
    cutoff: float = 0.5,
    nonzero_loss_cutoff: float = 1.4,
) -> Triplets:
    """Distance-weighted sampling (Wu et al. 2017): one negative per positive pair.

    For every positive pair ``(a, p)`` in lexicographic order whose anchor has a valid
    negative (non-zero weight), one negative drawn from row ``a`` of
    :func:`solutions.distance_weights` with ``generator`` (on ``dist``'s device).
    """
    w = distance_weights(dist, labels, dim, cutoff=cutoff, nonzero_loss_cutoff=nonzero_loss_cutoff)
    if w.shape[0] == 0:
        return _masks.empty_triplets(w.device)
    anchors, positives = (_masks.positive_mask(labels) & (w > 0).any(dim=1, keepdim=True)).nonzero(as_tuple=True)
    if anchors.numel() == 0:
        return _masks.empty_triplets(w.device)
    negatives = torch.multinomial(w[anchors], 1, replacement=True, generator=generator).squeeze(1)
    return anchors, positives, negatives
