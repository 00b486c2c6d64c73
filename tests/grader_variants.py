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
from grader.misconceptions.families import batch_hard as _bh
from grader.misconceptions.families import box_iou as _biou
from grader.misconceptions.families import distance_weights as _dw
from grader.misconceptions.families import hcl as _hcl
from grader.misconceptions.families import iou_dtype as _iou_dtype
from grader.misconceptions.families import label_masks as _masks
from grader.misconceptions.families import nms as _nms_variant
from grader.misconceptions.families import ohem_loss as _loss_variant
from grader.misconceptions.families import ohem_select as _select_variant
from grader.misconceptions.families import semi_hard as _sh
from grader.misconceptions.families import topk as _topk
from grader.misconceptions.families import visiting_order as _visiting_order


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
    d2 = sq[:, None] + sq[None, :] - 2 * embeddings @ embeddings.T  # rounds below 0 for (near-)equal rows
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

# Mutants that make a known mistake of the grader's bank (grader.misconceptions.bank): the
# feedback must name that mistake. Every other mutant must get no diagnosis at all.
DIAGNOSED = {
    "pd_manhattan": "manhattan",
    "pd_ignores_squared": "ignores_squared",
    "sh_inclusive_lower": "inclusive_lower",
    "sh_inclusive_upper": "inclusive_upper",
    "sh_farthest_in_window": "farthest_in_window",
    "sh_self_pairs": "anchor_as_own_positive",
    "sh_tfa_fallback": "farthest_fallback",
    "bh_self_positive": "anchor_as_own_positive",
    "bh_easiest_positive": "easiest_positive",
    "bh_easiest_negative": "easiest_negative",
    "bh_anchors_without_negatives": "anchors_without_negatives",
    "bh_any_negative": "negative_of_any_label",
    "dw_global_max": "global_max",
    "dw_no_label_mask": "no_label_mask",
    "dw_no_far_cutoff": "no_far_cutoff",
    "dw_unnormalised": "unnormalised",
    "dw_no_cutoff_clamp": "no_cutoff_clamp",
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


# ================================================================== OHEM exercises


def _py_iou(a, b) -> float:
    """IoU of two boxes given as Python floats (float64 arithmetic)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# ------------------------------------------------------------------ box_iou
def biou_loop(boxes1, boxes2):
    """Pair by pair in Python floats, rounded once to the IoU dtype."""
    rows1, rows2 = boxes1.detach().double().tolist(), boxes2.detach().double().tolist()
    out = [[_py_iou(a, b) for b in rows2] for a in rows1]
    return torch.tensor(out, dtype=torch.float64).reshape(len(rows1), len(rows2)).to(
        dtype=_iou_dtype(boxes1, boxes2), device=boxes1.device)


def biou_broadcast(boxes1, boxes2):
    """Corner maxima and minima by broadcasting, then a guarded division."""
    dtype = _iou_dtype(boxes1, boxes2)
    a, b = boxes1.to(dtype), boxes2.to(dtype)
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    positive = union > 0
    return torch.where(positive, inter / torch.where(positive, union, torch.ones_like(union)), torch.zeros_like(union))


def biou_float64(boxes1, boxes2):
    return S.box_iou(boxes1, boxes2).double()


def biou_over_min_area(boxes1, boxes2):
    return _biou(boxes1, boxes2, union_rule="min")


def biou_unguarded(boxes1, boxes2):
    return _biou(boxes1, boxes2, guard=False)


def biou_asymmetric(boxes1, boxes2):
    """(inter / area1) / (union / area1): right up to rounding, but the rounding depends on
    which box comes first, so box_iou(a, b) and box_iou(b, a).T differ in the last bit."""
    dtype = _iou_dtype(boxes1, boxes2)
    a, b = boxes1.to(dtype), boxes2.to(dtype)
    w = (torch.minimum(a[:, None, 2], b[None, :, 2]) - torch.maximum(a[:, None, 0], b[None, :, 0])).clamp(min=0)
    h = (torch.minimum(a[:, None, 3], b[None, :, 3]) - torch.maximum(a[:, None, 1], b[None, :, 1])).clamp(min=0)
    inter = w * h
    area_a = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None].expand_as(inter)
    area_b = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None, :]
    union = area_a + area_b - inter
    ok = (area_a > 0) & (union > 0)
    one = torch.ones_like(union)
    area_a, union = torch.where(ok, area_a, one), torch.where(ok, union, one)
    return torch.where(ok, (inter / area_a) / (union / area_a), torch.zeros_like(inter))


def biou_eps(boxes1, boxes2):
    return _biou(boxes1, boxes2, eps=1e-6)


def biou_no_clamp(boxes1, boxes2):
    return _biou(boxes1, boxes2, clamp=False)


def biou_in_place(boxes1, boxes2):
    out = S.box_iou(boxes1, boxes2)
    boxes1[:, 2:] -= boxes1[:, :2]  # "widths and heights", written into the caller's tensor
    return out


def biou_crash_empty(boxes1, boxes2):
    if boxes1.shape[0] == 0 or boxes2.shape[0] == 0:
        raise ValueError("no boxes")
    return S.box_iou(boxes1, boxes2)


def zero_iou(boxes1, boxes2):
    return torch.zeros(boxes1.shape[0], boxes2.shape[0], dtype=_iou_dtype(boxes1, boxes2), device=boxes1.device)


# ------------------------------------------------------------------ nms
def nms_loop(boxes, scores, iou_threshold):
    """Visit by (-score, index); keep a box unless a kept one overlaps it (float64 Python IoU)."""
    rows = boxes.detach().double().tolist()
    s = scores.detach().tolist()
    kept = []
    for i in sorted(range(len(rows)), key=lambda i: (-s[i], i)):
        if all(_py_iou(rows[j], rows[i]) <= iou_threshold for j in kept):
            kept.append(i)
    return torch.tensor(kept, dtype=torch.int64, device=boxes.device)


def nms_fixed_point(boxes, scores, iou_threshold):
    """keep[k] = no kept box visited before k overlaps k, iterated to its fixed point (Jacobi)."""
    order, beats = _visiting_order(scores)
    over = (biou_broadcast(boxes, boxes) > iou_threshold) & beats
    keep = torch.ones(boxes.shape[0], dtype=torch.bool, device=boxes.device)
    for _ in range(boxes.shape[0] + 1):
        new = ~(over & keep[:, None]).any(dim=0)
        if torch.equal(new, keep):
            break
        keep = new
    return order[keep[order]]


def nms_int32(boxes, scores, iou_threshold):
    return S.nms(boxes, scores, iou_threshold).int()


def nms_sorted_by_index(boxes, scores, iou_threshold):
    return torch.sort(S.nms(boxes, scores, iou_threshold)).values


def nms_last_kept_only(boxes, scores, iou_threshold):
    return _nms_variant(boxes, scores, iou_threshold, last_only=True)


def nms_suppressed_suppress(boxes, scores, iou_threshold):
    return _nms_variant(boxes, scores, iou_threshold, by_all=True)


def nms_ties_to_larger_index(boxes, scores, iou_threshold):
    """Equal scores visited larger index first; the output is then put in the right order."""
    kept = _nms_variant(boxes, scores, iou_threshold, ties_larger=True)
    position = torch.argsort(_visiting_order(scores)[0])
    return kept[torch.argsort(position[kept])]


def nms_inclusive(boxes, scores, iou_threshold):
    return _nms_variant(boxes, scores, iou_threshold, inclusive=True)


def nms_in_place(boxes, scores, iou_threshold):
    kept = S.nms(boxes, scores, iou_threshold)
    scores.copy_(torch.sort(scores, descending=True).values)
    return kept


def nms_crash_small(boxes, scores, iou_threshold):
    if boxes.shape[0] < 2:
        raise ValueError("need two boxes")
    return S.nms(boxes, scores, iou_threshold)


def empty_nms(boxes, scores, iou_threshold):
    return torch.zeros(0, dtype=torch.int64, device=boxes.device)


# ------------------------------------------------------------------ ohem_select
def sel_loop(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    """Image by image in Python: rank by (-loss, index), greedy NMS in float64, first per_image."""
    r = losses.shape[0]
    loss = losses.detach().tolist()
    ids = image_ids.tolist()
    ok = valid.tolist() if valid is not None else [True] * r
    rows = boxes.detach().double().tolist() if boxes is not None else None
    chosen = []
    for image in set(ids):
        kept = []
        for i in sorted((i for i in range(r) if ids[i] == image and ok[i]), key=lambda i: (-loss[i], i)):
            if len(kept) == per_image:
                break
            if nms_iou is None or all(_py_iou(rows[j], rows[i]) <= nms_iou for j in kept):
                kept.append(i)
        chosen += kept
    return torch.tensor(sorted(chosen), dtype=torch.int64, device=losses.device)


def sel_by_image(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    """A loop over images only; within an image the fixed-point NMS above (or the counting rank)."""
    ok = torch.ones_like(image_ids, dtype=torch.bool) if valid is None else valid
    parts = [torch.zeros(0, dtype=torch.int64, device=losses.device)]
    for image in torch.unique(image_ids[ok]):
        idx = ((image_ids == image) & ok).nonzero().flatten()
        if nms_iou is None:
            ranked = idx[_visiting_order(losses[idx])[0]]
        else:
            ranked = idx[nms_fixed_point(boxes[idx], losses[idx], nms_iou)]
        parts.append(ranked[:per_image])
    return torch.sort(torch.cat(parts)).values


def sel_int32(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    return S.ohem_select(losses, image_ids, per_image, boxes, nms_iou, valid).int()


def sel_visiting_order(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    return _select_variant(losses, image_ids, per_image, boxes, nms_iou, valid, sort_out=False)


def sel_ignores_valid(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    return _select_variant(losses, image_ids, per_image, boxes, nms_iou, valid, use_valid=False)


def sel_topk_then_nms(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    return _select_variant(losses, image_ids, per_image, boxes, nms_iou, valid, topk_first=True)


def sel_easiest(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    return _select_variant(losses, image_ids, per_image, boxes, nms_iou, valid, easiest=True)


def sel_ties_to_larger_index(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    return _select_variant(losses, image_ids, per_image, boxes, nms_iou, valid, ties_larger=True)


def sel_no_nms(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    return _select_variant(losses, image_ids, per_image, boxes, nms_iou, valid, use_nms=False)


def sel_nms_across_images(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    return _select_variant(losses, image_ids, per_image, boxes, nms_iou, valid, across=True)


def sel_in_place(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    out = S.ohem_select(losses, image_ids, per_image, boxes, nms_iou, valid)
    if valid is not None:
        losses.masked_fill_(~valid, -math.inf)  # "invalid RoIs can never win", in the caller's tensor
    return out


def sel_crash_without_candidates(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    if per_image == 0 or losses.shape[0] == 0 or (valid is not None and not bool(valid.any())):
        raise ValueError("nothing to select")
    return S.ohem_select(losses, image_ids, per_image, boxes, nms_iou, valid)


def empty_select(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    return torch.zeros(0, dtype=torch.int64, device=losses.device)


# ------------------------------------------------------------------ ohem_loss
def loss_loop(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    """Row by row: logsumexp - logit of the target, selection by sel_loop, mean of the selected."""
    tg = targets.tolist()
    valid = [t != ignore_index for t in tg]
    per_roi = [torch.logsumexp(logits[i], 0) - logits[i, t if ok else 0] for i, (t, ok) in enumerate(zip(tg, valid))]
    ranking = torch.tensor([float(v.detach()) for v in per_roi], dtype=logits.dtype)
    chosen = sel_loop(ranking, image_ids.cpu(), per_image, None if boxes is None else boxes.cpu(), nms_iou,
                      torch.tensor(valid, dtype=torch.bool)).tolist()
    if not chosen:
        return (logits * 0).sum()
    return torch.stack([per_roi[i] for i in chosen]).mean()


def loss_weighted(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    """-log_softmax at the target, selection by sel_by_image, then a weighted sum (weights 1/K)."""
    valid = targets != ignore_index
    safe = torch.where(valid, targets, torch.zeros_like(targets))
    ce = -torch.log_softmax(logits, dim=1).gather(1, safe[:, None]).squeeze(1)
    chosen = sel_by_image(ce.detach(), image_ids, per_image, boxes, nms_iou, valid)
    weights = torch.zeros_like(ce)
    weights[chosen] = 1.0 / max(1, chosen.numel())
    return (ce * weights).sum()


def loss_float64(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    return _loss_variant(logits, targets, image_ids, per_image, boxes, nms_iou, ignore_index).double()


def loss_per_batch(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    return _loss_variant(logits, targets, image_ids, per_image, boxes, nms_iou, ignore_index, per_batch=True)


def loss_ignores_only_out_of_range(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    return _loss_variant(logits, targets, image_ids, per_image, boxes, nms_iou, ignore_index, range_valid=True)


def loss_leaks_gradient(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    return _loss_variant(logits, targets, image_ids, per_image, boxes, nms_iou, ignore_index, leak=True)


def loss_double_gradient(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    return _loss_variant(logits, targets, image_ids, per_image, boxes, nms_iou, ignore_index, double_gradient=True)


def loss_nan_when_empty(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    return _loss_variant(logits, targets, image_ids, per_image, boxes, nms_iou, ignore_index, nan_empty=True)


def loss_in_place(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    loss = S.ohem_loss(logits, targets, image_ids, per_image, boxes, nms_iou, ignore_index)
    targets.masked_fill_(targets == ignore_index, 0)  # "make the targets safe", in the caller's tensor
    return loss


def loss_crash_empty(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    if logits.shape[0] == 0 or per_image == 0:
        raise ValueError("nothing to average")
    return S.ohem_loss(logits, targets, image_ids, per_image, boxes, nms_iou, ignore_index)


def zero_loss(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    return (logits * 0).sum()


CORRECT.update({
    "box_iou": [S.box_iou, biou_loop, biou_broadcast],
    "nms": [S.nms, nms_loop, nms_fixed_point],
    "ohem_select": [S.ohem_select, sel_loop, sel_by_image],
    "ohem_loss": [S.ohem_loss, loss_loop, loss_weighted],
})

MUTANTS.update({
    "box_iou": {
        biou_float64: "shape_dtype_device",
        biou_over_min_area: "accurate",
        biou_unguarded: "zero_area_is_zero",
        biou_asymmetric: "symmetric",
        biou_eps: "self_iou_is_one",
        biou_no_clamp: "in_unit_interval",
        biou_in_place: "inputs_unchanged",
        biou_crash_empty: "handles_edge_cases",
    },
    "nms": {
        nms_int32: "returns_index_tensor",
        nms_sorted_by_index: "visiting_order",
        nms_last_kept_only: "kept_do_not_overlap",
        nms_suppressed_suppress: "suppression_justified",
        nms_ties_to_larger_index: "suppression_justified",
        nms_inclusive: "suppression_justified",
        nms_in_place: "inputs_unchanged",
        nms_crash_small: "handles_edge_cases",
    },
    "ohem_select": {
        sel_int32: "returns_index_tensor",
        sel_visiting_order: "sorted_increasing",
        sel_ignores_valid: "only_valid",
        sel_topk_then_nms: "count_per_image",
        sel_easiest: "hardest_selected",
        sel_ties_to_larger_index: "hardest_selected",
        sel_no_nms: "nms_no_overlap",
        sel_nms_across_images: "suppression_justified",
        sel_in_place: "inputs_unchanged",
        sel_crash_without_candidates: "handles_edge_cases",
    },
    "ohem_loss": {
        loss_float64: "returns_scalar",
        loss_per_batch: "mean_over_selected",
        loss_ignores_only_out_of_range: "ignore_respected",
        loss_leaks_gradient: "gradient_zero_unselected",
        loss_double_gradient: "gradient_on_selected",
        loss_nan_when_empty: "empty_selection_zero",
        loss_in_place: "inputs_unchanged",
        loss_crash_empty: "handles_edge_cases",
    },
})

DIAGNOSED.update({
    "biou_over_min_area": "over_min_area",
    "biou_no_clamp": "no_clamp",
    "nms_inclusive": "inclusive_threshold",
    "nms_suppressed_suppress": "suppressed_boxes_suppress",
    "nms_last_kept_only": "only_last_kept_suppresses",
    "nms_sorted_by_index": "sorted_by_index",
    "sel_topk_then_nms": "rank_before_nms",
    "sel_no_nms": "no_nms",
    "sel_nms_across_images": "nms_across_images",
    "sel_ignores_valid": "ignores_valid",
    "sel_easiest": "easiest",
    "loss_per_batch": "normalised_by_batch",
    "loss_ignores_only_out_of_range": "ignore_by_range",
})

DEGENERATE.update({
    "box_iou": zero_iou,
    "nms": empty_nms,
    "ohem_select": empty_select,
    "ohem_loss": zero_loss,
})


# ================================================================== trivial answers (issue #20)
# Non-empty, structurally valid, useless: each would pass rules that only check invariants of
# the answer (issue #20: they must earn at most 1 point per exercise; benchmarks/bench_trust.py).
def pd_ones_apart(embeddings, squared=False):
    """Every two different rows 1 apart (0 for identical rows): right structure, no distances."""
    same = (embeddings[:, None, :] == embeddings[None, :, :]).all(dim=2)
    return embeddings.sum() * 0 + (~same).to(embeddings.dtype)


def pd_norm_gap(embeddings, squared=False):
    """| |x_i| - |x_j| |: symmetric, zero on the diagonal and for identical rows, finite, but not a distance."""
    norms = (embeddings * embeddings).sum(dim=1).sqrt()
    d = (norms[:, None] - norms[None, :]).abs()
    return d * d if squared else d


def sh_one_correct(dist, labels, margin):
    """Only the reference's first triplet (or none)."""
    return tuple(t[:1] for t in S.semi_hard_negatives(dist, labels, margin))


def bh_aaa(dist, labels):
    """(a, a, a) for every usable anchor."""
    a = S.batch_hard(dist, labels)[0]
    return a, a.clone(), a.clone()


def dw_uniform(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    """Uniform weights over the valid negatives (right zeros, rows sum to 1, no density)."""
    ok = (labels[:, None] != labels[None, :]) & (dist < nonzero_loss_cutoff)
    w = ok.to(dist.dtype)
    total = w.sum(dim=1, keepdim=True)
    return torch.where(total > 0, w / total.clamp(min=1), torch.zeros_like(w))


def biou_overlap_mask(boxes1, boxes2):
    """1.0 where two boxes overlap with positive area, else 0.0."""
    dtype = _iou_dtype(boxes1, boxes2)
    a, b = boxes1.to(dtype), boxes2.to(dtype)
    w = (torch.minimum(a[:, None, 2], b[None, :, 2]) - torch.maximum(a[:, None, 0], b[None, :, 0])).clamp(min=0)
    h = (torch.minimum(a[:, None, 3], b[None, :, 3]) - torch.maximum(a[:, None, 1], b[None, :, 1])).clamp(min=0)
    return ((w * h) > 0).to(dtype)


def nms_top_only(boxes, scores, iou_threshold):
    """The top-scoring box alone."""
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    return _visiting_order(scores)[0][:1]


def sel_one_roi(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    """The single hardest valid RoI of the batch."""
    ok = torch.ones_like(image_ids, dtype=torch.bool) if valid is None else valid
    if per_image == 0 or not bool(ok.any()):
        return torch.zeros(0, dtype=torch.int64, device=losses.device)
    idx = ok.nonzero().flatten()
    return idx[_visiting_order(losses[idx])[0][:1]]


def loss_constant(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    """A constant loss (0 when the batch has no valid RoI), connected to logits with zero gradient."""
    c = 1.0 if per_image > 0 and bool((targets != ignore_index).any()) else 0.0
    return (logits * 0).sum() + c


TRIVIAL = {
    "pairwise_distances": [zero_distances, pd_ones_apart, pd_norm_gap],
    "semi_hard_negatives": [empty_semi_hard, sh_one_correct],
    "batch_hard": [empty_batch_hard, bh_aaa],
    "distance_weights": [zero_weights, dw_uniform],
    "box_iou": [zero_iou, biou_overlap_mask],
    "nms": [empty_nms, nms_top_only],
    "ohem_select": [empty_select, sel_one_roi],
    "ohem_loss": [zero_loss, loss_constant],
}


# ================================================================== agreement classes (issue #20)
# How the MUTANTS fare on generic inputs (continuous values, no ties, boundaries or duplicates;
# grader/suites/generic.py), where the engine measures agreement with the reference.
#
# Mutants that compute something else on ordinary inputs: at most half agree (no rule points).
DIFFERENT = [
    pd_manhattan, pd_asymmetric,
    sh_any_label, sh_farthest_in_window, sh_tfa_fallback, sh_drops_first_pair,
    bh_any_negative, bh_easiest_positive, bh_easiest_negative,
    dw_no_label_mask, dw_no_far_cutoff, dw_unnormalised,
    biou_over_min_area,
    nms_last_kept_only,
    sel_easiest,
]
# Slips confined to ties, boundaries, dtypes, gradients or edge inputs: they agree everywhere.
CONFINED = [
    pd_float64, pd_no_clamp, pd_identical_apart, pd_naive_sqrt, pd_half_gradient, pd_in_place, pd_crash_small,
    sh_int32, sh_inclusive_lower, sh_inclusive_upper, sh_in_place, sh_crash_without_pairs,
    bh_int32, bh_anchors_without_negatives, bh_self_positive, bh_in_place, bh_crash_empty,
    dw_float64_out, dw_global_max, dw_in_place, dw_crash_empty,
    biou_float64, biou_unguarded, biou_asymmetric, biou_eps, biou_in_place, biou_crash_empty,
    nms_int32, nms_sorted_by_index, nms_ties_to_larger_index, nms_inclusive, nms_in_place, nms_crash_small,
    sel_int32, sel_visiting_order, sel_ties_to_larger_index, sel_in_place, sel_crash_without_candidates,
    loss_float64, loss_ignores_only_out_of_range, loss_leaks_gradient, loss_double_gradient,
    loss_nan_when_empty, loss_in_place, loss_crash_empty,
]


# ================================================================== contrastive exercises (problem set 4)
# ------------------------------------------------------------------ hard_negative_infonce
def hni_loop(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    """Anchor by anchor: its positive, its N negatives, the HCL negative term in log space."""
    b = z1.shape[0]
    if b <= 1:
        return (z1.sum() + z2.sum()) * 0.0
    z = torch.cat([z1, z2])
    z = z / z.norm(dim=1, keepdim=True)
    n = 2 * b - 2
    losses = []
    for i in range(2 * b):
        j = (i + b) % (2 * b)
        others = [m for m in range(2 * b) if m not in (i, j)]
        s_pos = (z[i] * z[j]).sum() / temperature
        s_neg = z[others] @ z[i] / temperature
        log_ng = math.log(n) + torch.logsumexp((beta + 1) * s_neg, 0) - torch.logsumexp(beta * s_neg, 0)
        if tau_plus > 0:
            log_r = math.log(tau_plus * n) + s_pos - log_ng
            floor = math.log(n) - 1 / temperature
            if float(log_r.detach()) < 0:
                log_ng = torch.clamp(log_ng + torch.log(-torch.expm1(log_r)) - math.log(1 - tau_plus), min=floor)
            else:
                log_ng = s_pos * 0 + floor
        losses.append(torch.logaddexp(log_ng - s_pos, s_pos * 0))
    return torch.stack(losses).mean()


def hni_family(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    return _hcl(z1, z2, temperature, beta, tau_plus)


def hni_float64_out(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    return S.hard_negative_infonce(z1, z2, temperature, beta, tau_plus).double()


def hni_self_negative(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    return _hcl(z1, z2, temperature, beta, tau_plus, self_negative=True)


def hni_no_debias_division(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    return _hcl(z1, z2, temperature, beta, tau_plus, no_debias_division=True)


def hni_beta_on_cosine(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    return _hcl(z1, z2, temperature, beta, tau_plus, beta_on_cosine=True)


def hni_no_floor(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    return _hcl(z1, z2, temperature, beta, tau_plus, no_floor=True)


def hni_masked_before_scaling(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    return _hcl(z1, z2, temperature, beta, tau_plus, mask_before_scaling=True)


def hni_exp_form(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    return _hcl(z1, z2, temperature, beta, tau_plus, exp_form=True)


def hni_detached_weights(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    return _hcl(z1, z2, temperature, beta, tau_plus, detach_weights=True)


def hni_nan_single(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    """No negative: the mean over no terms (NaN)."""
    if z1.shape[0] <= 1:
        return (z1.sum() + z2.sum()) * 0.0 + float("nan")
    return S.hard_negative_infonce(z1, z2, temperature, beta, tau_plus)


def hni_in_place(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    z1.data.div_(z1.data.norm(dim=1, keepdim=True))  # "normalise the views", in the caller's tensor
    return S.hard_negative_infonce(z1, z2, temperature, beta, tau_plus)


def hni_crash_small(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    if z1.shape[0] <= 1:
        raise ValueError("need at least two pairs")
    return S.hard_negative_infonce(z1, z2, temperature, beta, tau_plus)


def zero_hni(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    return (z1 * 0).sum()


def hni_uniform(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    """The loss of a batch whose similarities are all equal, log(2B - 1), with zero gradient."""
    b = z1.shape[0]
    return (z1 * 0).sum() + (math.log(2 * b - 1) if b >= 2 else 0.0)


# ------------------------------------------------------------------ topk_negatives
def topk_loop(sim, labels, k):
    """Row by row: negatives sorted by (-sim, index), the first k, padded with -1."""
    s, lab = sim.detach().tolist(), labels.tolist()
    out = []
    for a in range(len(lab)):
        negs = sorted((n for n in range(len(lab)) if lab[n] != lab[a]), key=lambda n: (-s[a][n], n))[:k]
        out.append(negs + [-1] * (k - len(negs)))
    return torch.tensor(out, dtype=torch.int64, device=sim.device).reshape(len(lab), k)


def topk_family(sim, labels, k):
    return _topk(sim, labels, k)


def topk_int32(sim, labels, k):
    return S.topk_negatives(sim, labels, k).int()


def topk_any_label(sim, labels, k):
    return _topk(sim, labels, k, any_label=True)


def topk_pad_zero(sim, labels, k):
    return _topk(sim, labels, k, pad_value=0)


def topk_least(sim, labels, k):
    return _topk(sim, labels, k, least=True)


def topk_unsorted(sim, labels, k):
    return _topk(sim, labels, k, unsorted=True)


def topk_ties_larger(sim, labels, k):
    return _topk(sim, labels, k, ties_larger=True)


def topk_in_place(sim, labels, k):
    out = S.topk_negatives(sim, labels, k)
    sim.fill_diagonal_(-2.0)  # "exclude the anchor itself", in the caller's tensor
    return out


def topk_crash_empty(sim, labels, k):
    if sim.shape[0] == 0:
        raise ValueError("empty batch")
    return S.topk_negatives(sim, labels, k)


def empty_topk(sim, labels, k):
    return torch.full((sim.shape[0], k), -1, dtype=torch.int64, device=sim.device)


def topk_by_index(sim, labels, k):
    """The first k negatives by index: right structure, no similarity."""
    return _topk(torch.zeros_like(sim), labels, k)


CORRECT.update({
    "hard_negative_infonce": [S.hard_negative_infonce, hni_loop, hni_family],
    "topk_negatives": [S.topk_negatives, topk_loop, topk_family],
})

MUTANTS.update({
    "hard_negative_infonce": {
        hni_float64_out: "returns_scalar",
        hni_self_negative: "plain_ntxent",
        hni_masked_before_scaling: "plain_ntxent",
        hni_no_debias_division: "debiased",
        hni_beta_on_cosine: "hardness_weighted",
        hni_no_floor: "clamp_floor",
        hni_exp_form: "low_temperature",
        hni_detached_weights: "gradient_matches",
        hni_nan_single: "single_pair_zero",
        hni_in_place: "inputs_unchanged",
        hni_crash_small: "handles_edge_cases",
    },
    "topk_negatives": {
        topk_int32: "returns_index_tensor",
        topk_any_label: "only_negatives",
        topk_pad_zero: "count_and_padding",
        topk_least: "hardest_negatives",
        topk_unsorted: "decreasing_order",
        topk_ties_larger: "ties_smallest_index",
        topk_in_place: "inputs_unchanged",
        topk_crash_empty: "handles_edge_cases",
    },
})

DEGENERATE.update({
    "hard_negative_infonce": zero_hni,
    "topk_negatives": empty_topk,
})

TRIVIAL.update({
    "hard_negative_infonce": [zero_hni, hni_uniform],
    "topk_negatives": [empty_topk, topk_by_index],
})

DIAGNOSED.update({
    "hni_beta_on_cosine": "beta_on_cosine",
    "hni_exp_form": "exp_overflow",
    "hni_self_negative": "anchor_as_own_negative",
    "hni_no_floor": "no_clamp_floor",
    "hni_masked_before_scaling": "masked_before_scaling",
    "topk_ties_larger": "ties_to_larger_index",
    "topk_any_label": "positives_as_negatives",
    "topk_least": "least_similar",
    "topk_unsorted": "index_order",
})

DIFFERENT += [
    hni_self_negative, hni_beta_on_cosine,
    topk_any_label, topk_least, topk_unsorted,
]
CONFINED += [
    hni_float64_out, hni_no_floor, hni_exp_form, hni_detached_weights, hni_nan_single, hni_in_place, hni_crash_small,
    topk_int32, topk_ties_larger, topk_in_place, topk_crash_empty,
]


# ================================================================== problem set 5 (issue 15)
from grader.misconceptions.families import positive_aware as _pan  # noqa: E402
from grader.misconceptions.families import proxy_anchor as _pa  # noqa: E402


# ------------------------------------------------------------------ positive_aware_negatives
def pan_loop(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    """Query by query in Python floats: the filters read literally, then sort by (-score, index)."""
    rows = []
    for q in range(scores.shape[0]):
        ps = positive_scores[q]
        ref = float(ps.min()) if ps.dim() else float(ps)
        kept = []
        for c, v in enumerate(scores[q].tolist()):
            if v == -math.inf:
                continue
            if absolute_margin is not None and v + absolute_margin > ref:
                continue
            if relative_margin is not None and v > ref - abs(ref) * relative_margin:
                continue
            if max_score is not None and v > max_score:
                continue
            kept.append((-v, c))
        chosen = [c for _, c in sorted(kept)[:k]]
        rows.append(chosen + [-1] * (k - len(chosen)))
    return torch.tensor(rows, dtype=torch.int64, device=scores.device).reshape(scores.shape[0], k)


def pan_sign_split(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    """The relative threshold written per sign (s_ref (1 - m) above 0, s_ref (1 + m) below), a
    composite sort key instead of a stable sort."""
    s = scores.detach()
    ref = positive_scores.detach()
    ref = (ref.amin(dim=1) if ref.dim() == 2 else ref)[:, None]
    ok = torch.isfinite(s)
    if relative_margin is not None:
        limit = torch.where(ref >= 0, ref * (1 - relative_margin), ref * (1 + relative_margin))
        ok &= s <= limit
    if absolute_margin is not None:
        ok &= ~(s + absolute_margin > ref)
    if max_score is not None:
        ok &= s <= max_score
    q, m = s.shape
    rank = torch.argsort(torch.argsort(-s.double().nan_to_num(neginf=-1e300), dim=1, stable=True), dim=1)
    key = torch.where(ok, rank, torch.full_like(rank, m + 1))
    order = torch.argsort(key, dim=1)[:, :k]
    count = ok.sum(dim=1, keepdim=True)
    slots = torch.arange(k, device=s.device)[None, :]
    out = torch.full((q, k), -1, dtype=torch.int64, device=s.device)
    width = min(k, m)
    out[:, :width] = torch.where(slots[:, :width] < count, order[:, :width], -1)
    return out


def pan_int32(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    return S.positive_aware_negatives(scores, positive_scores, k, relative_margin, absolute_margin, max_score).int()


def pan_sign_bug(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    return _pan(scores, positive_scores, k, relative_margin, absolute_margin, max_score, sign_bug=True)


def pan_max_positive(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    return _pan(scores, positive_scores, k, relative_margin, absolute_margin, max_score, reference="max")


def pan_ignores_max_score(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    return S.positive_aware_negatives(scores, positive_scores, k, relative_margin, absolute_margin)


def pan_returns_masked(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    return _pan(scores, positive_scores, k, relative_margin, absolute_margin, max_score, keep_masked=True)


def pan_easiest(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    return _pan(scores, positive_scores, k, relative_margin, absolute_margin, max_score, easiest=True)


def pan_ties_to_larger_index(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    return _pan(scores, positive_scores, k, relative_margin, absolute_margin, max_score, ties_larger=True)


def pan_unfiltered(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    """The k highest-scoring unmasked candidates: the filters forgotten."""
    return S.positive_aware_negatives(scores, positive_scores, k)


def pan_in_place(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    out = S.positive_aware_negatives(scores, positive_scores, k, relative_margin, absolute_margin, max_score)
    scores.masked_fill_(scores == -math.inf, -1e4)  # "make the masked scores finite", in the caller's tensor
    return out


def pan_crash_empty(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    if scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError("nothing to rank")
    return S.positive_aware_negatives(scores, positive_scores, k, relative_margin, absolute_margin, max_score)


def empty_candidates(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    return torch.full((scores.shape[0], k), -1, dtype=torch.int64, device=scores.device)


def pan_first_k(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    """The first k unmasked candidates by index, whatever their scores."""
    ok = torch.isfinite(scores)
    key = torch.where(ok, torch.arange(scores.shape[1], device=scores.device)[None, :], scores.shape[1])
    order = torch.sort(key, dim=1).indices[:, :k]
    out = torch.full((scores.shape[0], k), -1, dtype=torch.int64, device=scores.device)
    width = min(k, scores.shape[1])
    out[:, :width] = torch.where(torch.arange(width)[None, :] < ok.sum(1, keepdim=True), order, -1)
    return out


# ------------------------------------------------------------------ proxy_anchor_loss
def pa_loop(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    """Proxy by proxy: log(1 + sum e^z) as logsumexp over the terms and a 0."""
    x = embeddings / embeddings.norm(dim=1, keepdim=True)
    p = proxies / proxies.norm(dim=1, keepdim=True)
    zero = embeddings.new_zeros(1)
    pos_terms, neg_terms = [], []
    for c in range(p.shape[0]):
        cos = x @ p[c]
        own = labels == c
        neg_terms.append(torch.logsumexp(torch.cat([alpha * (cos[~own] + delta), zero]), 0))
        if bool(own.any()):
            pos_terms.append(torch.logsumexp(torch.cat([-alpha * (cos[own] - delta), zero]), 0))
    pos = torch.stack(pos_terms).mean() if pos_terms else embeddings.sum() * 0
    return pos + torch.stack(neg_terms).mean()


def pa_softplus(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    """F.normalize, a one-hot mask, absent terms as -1e30 (not -inf), softplus(logsumexp), in float64."""
    x = torch.nn.functional.normalize(embeddings.double(), dim=1)
    p = torch.nn.functional.normalize(proxies.double(), dim=1)
    cos = x @ p.T  # [B, C]
    onehot = torch.nn.functional.one_hot(labels.long(), p.shape[0]).bool()
    far = torch.full_like(cos, -1e30)
    pos = torch.nn.functional.softplus(torch.logsumexp(torch.where(onehot, -alpha * (cos - delta), far), dim=0),
                                       threshold=1e9)
    neg = torch.nn.functional.softplus(torch.logsumexp(torch.where(onehot, far, alpha * (cos + delta)), dim=0),
                                       threshold=1e9)
    if x.shape[0] == 0:
        pos, neg = pos * 0, neg * 0
    present = onehot.any(dim=0)
    loss = (pos * present).sum() / present.sum().clamp(min=1) + neg.mean()
    return loss.to(embeddings.dtype)


def pa_float64(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    return S.proxy_anchor_loss(embeddings.double(), labels, proxies.double(), alpha, delta)


def pa_delta_sign(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    return _pa(embeddings, labels, proxies, alpha, delta, delta_sign=-1.0)


def pa_positive_over_all(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    return _pa(embeddings, labels, proxies, alpha, delta, pos_over_all=True)


def pa_negative_over_present(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    return _pa(embeddings, labels, proxies, alpha, delta, neg_over_present=True)


def pa_no_normalisation(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    return _pa(embeddings, labels, proxies, alpha, delta, normalise=False)


def pa_exp_form(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    return _pa(embeddings, labels, proxies, alpha, delta, exp_form=True)


def pa_detached_negative(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    """The negative term's gradient dropped: right value, only the positive term's gradient."""
    neg = _neg_term(embeddings, labels, proxies, alpha, delta)
    return S.proxy_anchor_loss(embeddings, labels, proxies, alpha, delta) - neg + neg.detach()


def _neg_term(embeddings, labels, proxies, alpha, delta):
    x = torch.nn.functional.normalize(embeddings, dim=1)
    p = torch.nn.functional.normalize(proxies, dim=1)
    cos = (x @ p.T).T
    own = labels.long()[None, :] == torch.arange(p.shape[0])[:, None]
    z = (alpha * (cos + delta)).masked_fill(own, -math.inf)
    return torch.logsumexp(torch.cat([z, z.new_zeros(p.shape[0], 1)], dim=1), dim=1).mean()


def pa_in_place(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    proxies.div_(proxies.norm(dim=1, keepdim=True))  # "normalise the proxies", in the caller's tensor
    return S.proxy_anchor_loss(embeddings, labels, proxies, alpha, delta)


def pa_crash_empty(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    if embeddings.shape[0] < 2 or proxies.shape[0] < 2:
        raise ValueError("need two samples and two proxies")
    return S.proxy_anchor_loss(embeddings, labels, proxies, alpha, delta)


def zero_proxy_loss(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    return (embeddings * 0).sum()


def pa_constant(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    """2 log 2 (every cosine 0, delta 0), connected to embeddings with zero gradient."""
    return (embeddings * 0).sum() + (2 * math.log(2.0) if embeddings.shape[0] else 0.0)


CORRECT.update({
    "positive_aware_negatives": [S.positive_aware_negatives, pan_loop, pan_sign_split],
    "proxy_anchor_loss": [S.proxy_anchor_loss, pa_loop, pa_softplus],
})

MUTANTS.update({
    "positive_aware_negatives": {
        pan_int32: "shape_dtype_device",
        pan_sign_bug: "relative_margin_sound",
        pan_max_positive: "absolute_and_max_score",
        pan_ignores_max_score: "absolute_and_max_score",
        pan_unfiltered: "relative_margin_sound",
        pan_returns_masked: "masked_never_returned",
        pan_easiest: "hardest_kept",
        pan_ties_to_larger_index: "score_order",
        pan_in_place: "inputs_unchanged",
        pan_crash_empty: "handles_edge_cases",
    },
    "proxy_anchor_loss": {
        pa_float64: "returns_scalar",
        pa_delta_sign: "formula",
        pa_positive_over_all: "averages",
        pa_negative_over_present: "averages",
        pa_no_normalisation: "scale_invariant",
        pa_exp_form: "finite_at_large_alpha",
        pa_detached_negative: "gradient",
        pa_in_place: "inputs_unchanged",
        pa_crash_empty: "handles_edge_cases",
    },
})

DIAGNOSED.update({
    "pan_sign_bug": "margin_sign",
    "pan_max_positive": "easiest_positive_sets_threshold",
    "pan_returns_masked": "returns_masked",
    "pan_easiest": "easiest",
    "pa_delta_sign": "margin_sign",
    "pa_positive_over_all": "positive_over_all_proxies",
    "pa_negative_over_present": "negative_over_present_proxies",
    "pa_no_normalisation": "no_normalisation",
    "pa_exp_form": "exp_overflow",
})

DEGENERATE.update({
    "positive_aware_negatives": empty_candidates,
    "proxy_anchor_loss": zero_proxy_loss,
})

TRIVIAL.update({
    "positive_aware_negatives": [empty_candidates, pan_first_k],
    "proxy_anchor_loss": [zero_proxy_loss, pa_constant],
})

DIFFERENT += [pan_easiest, pan_unfiltered, pa_delta_sign, pa_no_normalisation]
CONFINED += [
    pan_int32, pan_ties_to_larger_index, pan_in_place, pan_crash_empty,
    pa_float64, pa_exp_form, pa_detached_negative, pa_in_place, pa_crash_empty,
]
