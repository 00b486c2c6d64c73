"""Implementations the grader's property suites are tested on.

``CORRECT[exercise]``: independently written right answers (a Python-loop version and
one with a different tie rule among them) that must pass every correctness property.
``MUTANTS[exercise]``: deliberately wrong versions, each with the property it is built
to break; together they must break every property of the exercise.
"""

from __future__ import annotations

import math

import torch

import solutions as S


def _masks(labels, device):
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=device)
    return same, pos, ~same


# ------------------------------------------------------------------ pairwise_distances
def pd_loop(embeddings, squared=False):
    n = embeddings.shape[0]
    rows = []
    for i in range(n):
        diff = embeddings[i][None, :] - embeddings
        d2 = (diff * diff).sum(dim=1)
        if squared:
            rows.append(d2)
        else:
            zero = d2 == 0
            rows.append(torch.where(zero, torch.zeros_like(d2), torch.sqrt(torch.where(zero, torch.ones_like(d2), d2))))
    return torch.stack(rows) if rows else embeddings.new_zeros((0, 0))


def pd_gram(embeddings, squared=False):
    sq = (embeddings * embeddings).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2 * embeddings @ embeddings.T).clamp(min=0)
    d2 = d2 * (1 - torch.eye(len(embeddings), dtype=d2.dtype, device=d2.device))
    d2 = (d2 + d2.T) / 2
    if squared:
        return d2
    zero = d2 == 0
    return torch.where(zero, torch.zeros_like(d2), torch.sqrt(torch.where(zero, torch.ones_like(d2), d2)))


def pd_float64(embeddings, squared=False):
    return S.pairwise_distances(embeddings.double(), squared)


def pd_diag(embeddings, squared=False):
    d = S.pairwise_distances(embeddings, squared)
    return d + 1e-3 * torch.eye(len(d), dtype=d.dtype, device=d.device)


def pd_asymmetric(embeddings, squared=False):
    d = S.pairwise_distances(embeddings, squared)
    return d + torch.triu(torch.full_like(d, 1e-2), diagonal=1)


def pd_no_clamp(embeddings, squared=False):
    sq = (embeddings * embeddings).sum(1)
    d2 = sq[:, None] + sq[None, :] - 2 * embeddings @ embeddings.T - 1e-6  # drifts below 0
    d2 = d2 * (1 - torch.eye(len(embeddings), dtype=d2.dtype, device=d2.device))
    return d2 if squared else d2.sqrt()


def pd_manhattan(embeddings, squared=False):
    d = (embeddings[:, None, :] - embeddings[None, :, :]).abs().sum(-1)
    return d * d if squared else d


def pd_ignores_squared(embeddings, squared=False):
    return S.pairwise_distances(embeddings)


def pd_identical_apart(embeddings, squared=False):
    d = S.pairwise_distances(embeddings, squared)
    same = (embeddings[:, None, :] == embeddings[None, :, :]).all(-1)
    same.fill_diagonal_(False)
    return d + 0.5 * same


def pd_naive_sqrt(embeddings, squared=False):
    sq = (embeddings * embeddings).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2 * embeddings @ embeddings.T).clamp(min=0)
    d2 = d2 * (1 - torch.eye(len(embeddings), dtype=d2.dtype, device=d2.device))
    return d2 if squared else d2.sqrt()


def pd_half_gradient(embeddings, squared=False):
    d = S.pairwise_distances(embeddings, squared)
    return d * 0.5 + d.detach() * 0.5


def pd_in_place(embeddings, squared=False):
    d = S.pairwise_distances(embeddings, squared)
    embeddings.mul_(2)
    return d


def pd_crash_small(embeddings, squared=False):
    if embeddings.shape[0] < 2:
        raise ValueError("need two points")
    return S.pairwise_distances(embeddings, squared)


# ------------------------------------------------------------------ semi_hard_negatives
def sh_loop(dist, labels, margin):
    n = dist.shape[0]
    lab = labels.tolist()
    hi = dist + margin
    out = []
    for a in range(n):
        for p in range(n):
            if a == p or lab[a] != lab[p]:
                continue
            best = None
            for j in range(n):
                if lab[j] != lab[a] and dist[a, p] < dist[a, j] < hi[a, p]:
                    if best is None or dist[a, j] < dist[a, best]:
                        best = j
            if best is not None:
                out.append((a, p, best))
    cols = list(zip(*out)) if out else ([], [], [])
    return tuple(torch.tensor(c, dtype=torch.int64, device=dist.device) for c in cols)


def sh_last_tie(dist, labels, margin):
    """Ties go to the largest index; the upper bound written as d_ap - d_an + margin > 0."""
    n = dist.shape[0]
    same, pos, neg = _masks(labels, dist.device)
    d_ap, d_an = dist[:, :, None], dist[:, None, :]
    window = neg[:, None, :] & (d_an > d_ap) & (d_ap - d_an + margin > 0)
    values = torch.where(window, d_an, torch.full_like(d_an, math.inf))
    if n == 0:
        return tuple(torch.zeros(0, dtype=torch.int64) for _ in range(3))
    best = values.min(dim=2).values
    last = (values == best[:, :, None]).int().flip(2).argmax(2)
    negs = n - 1 - last
    a, p = (pos & torch.isfinite(best)).nonzero(as_tuple=True)
    return a, p, negs[a, p]


def _sh(dist, labels, margin, lower=torch.gt, upper=torch.lt, pick="min", fallback=False, self_pairs=False):
    n = dist.shape[0]
    same, pos, neg = _masks(labels, dist.device)
    if self_pairs:
        pos = same
    d_ap, d_an = dist[:, :, None], dist[:, None, :]
    window = neg[:, None, :] & lower(d_an, d_ap) & upper(d_an, d_ap + margin)
    fill = math.inf if pick == "min" else -math.inf
    values = torch.where(window, d_an, torch.full_like(d_an, fill))
    if n == 0:
        e = torch.zeros(0, dtype=torch.int64)
        return e, e, e
    best, negs = values.min(dim=2) if pick == "min" else values.max(dim=2)
    found = torch.isfinite(best)
    if fallback:  # TensorFlow Addons: no window negative -> the farthest negative
        far = torch.where(neg, dist, torch.full_like(dist, -1.0)).argmax(1)
        negs = torch.where(found, negs, far[:, None].expand_as(negs))
        found = found | neg.any(1, keepdim=True)
    a, p = (pos & found).nonzero(as_tuple=True)
    return a, p, negs[a, p]


def sh_int32(dist, labels, margin):
    return tuple(t.int() for t in S.semi_hard_negatives(dist, labels, margin))


def sh_any_label(dist, labels, margin):
    a, p, n = S.semi_hard_negatives(dist, labels, margin)
    return a, p, p.clone()  # the positive itself as the "negative"


def sh_self_pairs(dist, labels, margin):
    return _sh(dist, labels, margin, self_pairs=True)


def sh_inclusive_lower(dist, labels, margin):
    return _sh(dist, labels, margin, lower=torch.ge)


def sh_inclusive_upper(dist, labels, margin):
    return _sh(dist, labels, margin, upper=torch.le)


def sh_farthest_in_window(dist, labels, margin):
    return _sh(dist, labels, margin, pick="max")


def sh_tfa_fallback(dist, labels, margin):
    return _sh(dist, labels, margin, fallback=True)


def sh_drops_first_pair(dist, labels, margin):
    return tuple(t[1:] for t in S.semi_hard_negatives(dist, labels, margin))


def sh_in_place(dist, labels, margin):
    out = S.semi_hard_negatives(dist, labels, margin)
    dist.add_(1.0)
    return out


def sh_crash_without_pairs(dist, labels, margin):
    _, pos, _ = _masks(labels, dist.device)
    if not pos.any():
        raise RuntimeError("no positive pairs")
    return S.semi_hard_negatives(dist, labels, margin)


# ------------------------------------------------------------------ batch_hard
def bh_loop(dist, labels):
    n = dist.shape[0]
    lab = labels.tolist()
    out = []
    for a in range(n):
        ps = [j for j in range(n) if j != a and lab[j] == lab[a]]
        ns = [j for j in range(n) if lab[j] != lab[a]]
        if ps and ns:
            out.append((a, max(ps, key=lambda j: (dist[a, j].item(), -j)), min(ns, key=lambda j: (dist[a, j].item(), j))))
    cols = list(zip(*out)) if out else ([], [], [])
    return tuple(torch.tensor(c, dtype=torch.int64, device=dist.device) for c in cols)


def bh_last_tie(dist, labels):
    n = dist.shape[0]
    same, pos, neg = _masks(labels, dist.device)
    a = (pos.any(1) & neg.any(1)).nonzero().flatten()
    if n == 0:
        return a, a, a
    flip = torch.arange(n - 1, -1, -1)
    far = n - 1 - dist.masked_fill(~pos, -1.0)[:, flip].argmax(1)
    near = n - 1 - dist.masked_fill(~neg, math.inf)[:, flip].argmin(1)
    return a, far[a], near[a]


def _bh(dist, labels, anchors="both", self_pos=False, any_neg=False, pos_pick="max", neg_pick="min"):
    n = dist.shape[0]
    same, pos, neg = _masks(labels, dist.device)
    if self_pos:
        pos = same
    if any_neg:
        neg = torch.ones_like(neg)
    keep = pos.any(1) if anchors == "pos_only" else pos.any(1) & neg.any(1)
    a = keep.nonzero().flatten()
    if n == 0:
        return a, a, a
    far = (dist.masked_fill(~pos, -1.0).argmax(1) if pos_pick == "max" else dist.masked_fill(~pos, math.inf).argmin(1))
    near = (dist.masked_fill(~neg, math.inf).argmin(1) if neg_pick == "min" else dist.masked_fill(~neg, -1.0).argmax(1))
    return a, far[a], near[a]


def bh_int32(dist, labels):
    return tuple(t.int() for t in S.batch_hard(dist, labels))


def bh_anchors_without_negatives(dist, labels):
    return _bh(dist, labels, anchors="pos_only")


def bh_self_positive(dist, labels):
    return _bh(dist, labels, self_pos=True)


def bh_any_negative(dist, labels):
    return _bh(dist, labels, any_neg=True)


def bh_easiest_positive(dist, labels):
    return _bh(dist, labels, pos_pick="min")


def bh_easiest_negative(dist, labels):
    return _bh(dist, labels, neg_pick="max")


def bh_in_place(dist, labels):
    out = S.batch_hard(dist, labels)
    dist.fill_(0.0)
    return out


def bh_crash_empty(dist, labels):
    if dist.shape[0] == 0:
        raise IndexError("empty")
    return S.batch_hard(dist, labels)


# ------------------------------------------------------------------ distance_weights
def dw_loop(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    n = dist.shape[0]
    out = torch.zeros_like(dist)
    lab = labels.tolist()
    for a in range(n):
        logs = {}
        for j in range(n):
            if lab[j] != lab[a] and dist[a, j] < nonzero_loss_cutoff:
                x = max(float(dist[a, j]), cutoff)
                logs[j] = -((dim - 2) * math.log(x) + (dim - 3) / 2 * math.log(1 - x * x / 4))
        if logs:
            top = max(logs.values())
            total = sum(math.exp(v - top) for v in logs.values())
            for j, v in logs.items():
                out[a, j] = math.exp(v - top) / total
    return out


def dw_float64_inside(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    return S.distance_weights(dist.double(), labels, dim, cutoff, nonzero_loss_cutoff).to(dist.dtype)


def _dw(dist, labels, dim, cutoff, nlc, mask_labels=True, mask_far=True, normalise=True, clamp=True, global_max=False):
    ok = torch.ones_like(dist, dtype=torch.bool)
    if mask_labels:
        ok &= labels[:, None] != labels[None, :]
    if mask_far:
        ok &= dist < nlc
    x = dist.clamp(min=cutoff) if clamp else dist.clamp(min=1e-3)
    x = torch.where(ok, x.clamp(max=1.999), torch.full_like(x, cutoff))
    log_w = -((dim - 2) * torch.log(x) + (dim - 3) / 2 * torch.log(1 - x * x / 4))
    log_w = log_w.masked_fill(~ok, -math.inf)
    if dist.shape[0] == 0:
        return torch.zeros_like(dist)
    top = log_w.max() if global_max else log_w.max(dim=1, keepdim=True).values
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    w = torch.exp(log_w - top)
    if not normalise:
        return w
    total = w.sum(dim=1, keepdim=True)
    return torch.where(total > 0, w / total.clamp(min=1e-300), torch.zeros_like(w))


def dw_float64_out(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    return S.distance_weights(dist, labels, dim, cutoff, nonzero_loss_cutoff).double()


def dw_no_label_mask(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    return _dw(dist, labels, dim, cutoff, nonzero_loss_cutoff, mask_labels=False)


def dw_no_far_cutoff(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    return _dw(dist, labels, dim, cutoff, nonzero_loss_cutoff, mask_far=False)


def dw_unnormalised(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    return _dw(dist, labels, dim, cutoff, nonzero_loss_cutoff, normalise=False)


def dw_no_cutoff_clamp(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    return _dw(dist, labels, dim, cutoff, nonzero_loss_cutoff, clamp=False)


def dw_global_max(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    return _dw(dist, labels, dim, cutoff, nonzero_loss_cutoff, global_max=True)


def dw_in_place(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    w = S.distance_weights(dist, labels, dim, cutoff, nonzero_loss_cutoff)
    dist.clamp_(max=0.25)
    return w


def dw_crash_empty(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    if dist.shape[0] < 2:
        raise ValueError("too small")
    return S.distance_weights(dist, labels, dim, cutoff, nonzero_loss_cutoff)


CORRECT = {
    "pairwise_distances": [S.pairwise_distances, pd_loop, pd_gram],
    "semi_hard_negatives": [S.semi_hard_negatives, sh_loop, sh_last_tie],
    "batch_hard": [S.batch_hard, bh_loop, bh_last_tie],
    "distance_weights": [S.distance_weights, dw_loop, dw_float64_inside],
}

MUTANTS = {
    "pairwise_distances": {
        pd_float64: "shape_dtype_device",
        pd_diag: "zero_diagonal",
        pd_asymmetric: "symmetric",
        pd_no_clamp: "non_negative_and_finite",
        pd_manhattan: "accurate",
        pd_ignores_squared: "squared_option",
        pd_identical_apart: "identical_rows_zero",
        pd_naive_sqrt: "finite_gradient",
        pd_half_gradient: "gradient_matches",
        pd_in_place: "inputs_unchanged",
        pd_crash_small: "handles_edge_cases",
    },
    "semi_hard_negatives": {
        sh_int32: "returns_index_tensors",
        sh_any_label: "only_negatives",
        sh_self_pairs: "positive_pairs_in_order",
        sh_inclusive_lower: "lower_bound_strict",
        sh_inclusive_upper: "upper_bound_strict",
        sh_farthest_in_window: "closest_in_window",
        sh_tfa_fallback: "drops_pairs_without_semi_hard",
        sh_drops_first_pair: "every_pair_considered",
        sh_in_place: "inputs_unchanged",
        sh_crash_without_pairs: "handles_edge_cases",
    },
    "batch_hard": {
        bh_int32: "returns_index_tensors",
        bh_anchors_without_negatives: "usable_anchors",
        bh_self_positive: "positive_is_positive",
        bh_any_negative: "negative_is_negative",
        bh_easiest_positive: "hardest_positive",
        bh_easiest_negative: "hardest_negative",
        bh_in_place: "inputs_unchanged",
        bh_crash_empty: "handles_edge_cases",
    },
    "distance_weights": {
        dw_float64_out: "shape_dtype_device",
        dw_no_label_mask: "zero_for_non_negatives",
        dw_no_far_cutoff: "zero_beyond_cutoff",
        dw_unnormalised: "rows_normalised",
        dw_no_cutoff_clamp: "inverse_density",
        dw_global_max: "no_underflow",
        dw_in_place: "inputs_unchanged",
        dw_crash_empty: "handles_edge_cases",
    },
}


# ------------------------------------------------------------------ degenerate answers
def _empty(dist):
    e = torch.zeros(0, dtype=torch.int64, device=dist.device)
    return e, e.clone(), e.clone()


def empty_semi_hard(dist, labels, margin):
    return _empty(dist)


def empty_batch_hard(dist, labels):
    return _empty(dist)


def zero_distances(embeddings, squared=False):
    n = embeddings.shape[0]
    return embeddings.sum() * 0 + torch.zeros(n, n, dtype=embeddings.dtype, device=embeddings.device)


def zero_weights(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    return torch.zeros_like(dist)


DEGENERATE = {
    "pairwise_distances": zero_distances,
    "semi_hard_negatives": empty_semi_hard,
    "batch_hard": empty_batch_hard,
    "distance_weights": zero_weights,
}
