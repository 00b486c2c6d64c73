"""Slow, obviously-correct loop oracles for every reference.

They read the contract literally: plain Python loops, comparisons made with NumPy
scalars of the input's dtype (so ``d_ap + margin`` rounds exactly as the reference's
tensor arithmetic does), ties resolved by taking the first index met in increasing order.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def _np(dist: torch.Tensor) -> np.ndarray:
    return dist.detach().cpu().numpy()


def _labels(labels: torch.Tensor) -> list[int]:
    return [int(v) for v in labels.cpu()]


def _result(rows: list[tuple[int, int, int]]):
    if not rows:
        e = torch.empty(0, dtype=torch.int64)
        return e, e.clone(), e.clone()
    a, p, n = zip(*rows)
    return tuple(torch.tensor(v, dtype=torch.int64) for v in (a, p, n))


def positive_pairs(labels):
    lab = _labels(labels)
    return [(a, p) for a in range(len(lab)) for p in range(len(lab)) if a != p and lab[a] == lab[p]]


def semi_hard_negatives(dist, labels, margin):
    d, lab = _np(dist), _labels(labels)
    m = d.dtype.type(margin)
    rows = []
    for a, p in positive_pairs(labels):
        best = None
        for n in range(len(lab)):
            if lab[n] != lab[a] and d[a, p] < d[a, n] < d[a, p] + m:
                if best is None or d[a, n] < d[a, best]:
                    best = n
        if best is not None:
            rows.append((a, p, best))
    return _result(rows)


def batch_hard(dist, labels):
    d, lab = _np(dist), _labels(labels)
    rows = []
    for a in range(len(lab)):
        ps = [j for j in range(len(lab)) if j != a and lab[j] == lab[a]]
        ns = [j for j in range(len(lab)) if lab[j] != lab[a]]
        if ps and ns:
            hp = ps[0]
            for j in ps:
                if d[a, j] > d[a, hp]:
                    hp = j
            hn = ns[0]
            for j in ns:
                if d[a, j] < d[a, hn]:
                    hn = j
            rows.append((a, hp, hn))
    return _result(rows)


def hardest_negatives(dist, labels):
    d, lab = _np(dist), _labels(labels)
    rows = []
    for a, p in positive_pairs(labels):
        ns = [j for j in range(len(lab)) if lab[j] != lab[a]]
        if ns:
            rows.append((a, p, min(ns, key=lambda j: (d[a, j], j))))
    return _result(rows)


def distance_weights(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    d, lab = _np(dist).astype(np.float64), _labels(labels)
    b = len(lab)
    out = np.zeros((b, b))
    for a in range(b):
        logs = {}
        for n in range(b):
            if lab[n] != lab[a] and d[a, n] < nonzero_loss_cutoff:
                x = max(d[a, n], cutoff)
                logs[n] = -((dim - 2) * math.log(x) + (dim - 3) / 2 * math.log(1 - x * x / 4))
        if logs:
            top = max(logs.values())
            total = sum(math.exp(v - top) for v in logs.values())
            for n, v in logs.items():
                out[a, n] = math.exp(v - top) / total
    return torch.tensor(out)


def triplet_margin_loss(dist, anchors, positives, negatives, margin):
    d = _np(dist).astype(np.float64)
    terms = [max(0.0, d[a, p] - d[a, n] + margin) for a, p, n in zip(anchors.tolist(), positives.tolist(), negatives.tolist())]
    return sum(terms) / len(terms) if terms else 0.0


def pairwise_distances(x):
    v = x.detach().cpu().double().tolist()
    return torch.tensor(
        [[math.sqrt(sum((ai - bi) ** 2 for ai, bi in zip(a, b))) for b in v] for a in v], dtype=torch.float64
    ).reshape(len(v), len(v))


def recall_at_k(x, labels, ks):
    d = pairwise_distances(x).tolist()
    lab = _labels(labels)
    b = len(lab)
    hits = {k: [] for k in ks}
    for q in range(b):
        others = [j for j in range(b) if j != q]
        if not any(lab[j] == lab[q] for j in others):
            continue
        ranked = sorted(others, key=lambda j: d[q][j])
        for k in ks:
            kk = min(k, b - 1)
            kth = d[q][ranked[kk - 1]]
            # every neighbour at distance <= the k-th distance may be among the k nearest
            hits[k].append(any(lab[j] == lab[q] and d[q][j] <= kth for j in others))
    return {k: (sum(h) / len(h) if h else float("nan")) for k, h in hits.items()}


def map_at_r(x: torch.Tensor, labels: torch.Tensor) -> float:
    """MAP@R by loops: rank the other samples by (distance, different label), keep R."""
    lab = labels.tolist()
    d = torch.cdist(x.double(), x.double()).tolist()
    aps = []
    for q in range(len(lab)):
        others = [j for j in range(len(lab)) if j != q]
        r = sum(lab[j] == lab[q] for j in others)
        if r == 0:
            continue
        ranked = sorted(others, key=lambda j: (d[q][j], lab[j] != lab[q]))[:r]
        hits, total = 0, 0.0
        for i, j in enumerate(ranked, start=1):
            if lab[j] == lab[q]:
                hits += 1
                total += hits / i
        aps.append(total / r)
    return sum(aps) / len(aps) if aps else float("nan")
