"""Parametrised wrong implementations, one function per exercise family.

Each flag turns one known mistake on; with every flag at its default a family function
computes the right answer (up to tie rules), which the tests check. They run on the small
inputs the grader draws, never on the scale input, so clarity wins over speed here: the
greedy loops of NMS and OHEM are written as loops over the kept boxes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import solutions as S
from solutions._boxes import iou_dtype


def label_masks(labels: torch.Tensor, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(same, positive, negative)`` masks: positive pairs exclude ``a == p`` by index."""
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=device)
    return same, pos, ~same


def semi_hard(dist, labels, margin, lower=torch.gt, upper=torch.lt, pick="min", fallback=False,
              self_pairs=False, any_label=False, no_lower=False):
    """Semi-hard negatives with the window's bounds, the pick and the pair set as parameters."""
    same, pos, neg = label_masks(labels, dist.device)
    if self_pairs:
        pos = same
    if any_label:
        neg = ~torch.eye(len(labels), dtype=torch.bool, device=dist.device)
    d_ap, d_an = dist[:, :, None], dist[:, None, :]
    window = neg[:, None, :] & upper(d_an, d_ap + margin)
    if not no_lower:
        window = window & lower(d_an, d_ap)
    fill = math.inf if pick == "min" else -math.inf
    values = torch.where(window, d_an, torch.full_like(d_an, fill))
    if dist.shape[0] == 0:
        e = torch.zeros(0, dtype=torch.int64, device=dist.device)
        return e, e.clone(), e.clone()
    best, negs = values.min(dim=2) if pick == "min" else values.max(dim=2)
    found = torch.isfinite(best)
    if fallback:  # TensorFlow Addons: no negative in the window -> the farthest negative
        far = torch.where(neg, dist, torch.full_like(dist, -1.0)).argmax(1)
        negs = torch.where(found, negs, far[:, None].expand_as(negs))
        found = found | neg.any(1, keepdim=True)
    a, p = (pos & found).nonzero(as_tuple=True)
    return a, p, negs[a, p]


def batch_hard(dist, labels, anchors="both", self_pos=False, any_neg=False, pos_pick="max", neg_pick="min"):
    """Batch-hard with the anchor set, the candidate masks and the picks as parameters."""
    same, pos, neg = label_masks(labels, dist.device)
    if self_pos:
        pos = same
    if any_neg:
        neg = torch.ones_like(neg)
    keep = pos.any(1) if anchors == "pos_only" else pos.any(1) & neg.any(1)
    a = keep.nonzero().flatten()
    if dist.shape[0] == 0:
        return a, a.clone(), a.clone()
    far = dist.masked_fill(~pos, -1.0).argmax(1) if pos_pick == "max" else dist.masked_fill(~pos, math.inf).argmin(1)
    near = dist.masked_fill(~neg, math.inf).argmin(1) if neg_pick == "min" else dist.masked_fill(~neg, -1.0).argmax(1)
    return a, far[a], near[a]


def distance_weights(dist, labels, dim, cutoff, nonzero_loss_cutoff, mask_labels=True, mask_far=True,
                     normalise=True, clamp=True, global_max=False):
    """Distance-weighted sampling weights with each of the rule's steps as a switch."""
    ok = torch.ones_like(dist, dtype=torch.bool)
    if mask_labels:
        ok &= labels[:, None] != labels[None, :]
    if mask_far:
        ok &= dist < nonzero_loss_cutoff
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


def box_iou(boxes1, boxes2, clamp=True, union_rule="sum", guard=True, eps=0.0, plus_one=0.0):
    """IoU with the clamp, the union, the zero-union guard and the pixel convention as parameters."""
    dtype = iou_dtype(boxes1, boxes2)
    a, b = boxes1.to(dtype), boxes2.to(dtype)
    w = torch.minimum(a[:, None, 2], b[None, :, 2]) - torch.maximum(a[:, None, 0], b[None, :, 0]) + plus_one
    h = torch.minimum(a[:, None, 3], b[None, :, 3]) - torch.maximum(a[:, None, 1], b[None, :, 1]) + plus_one
    if clamp:
        w, h = w.clamp(min=0), h.clamp(min=0)
    inter = w * h
    area_a = ((a[:, 2] - a[:, 0] + plus_one) * (a[:, 3] - a[:, 1] + plus_one))[:, None]
    area_b = ((b[:, 2] - b[:, 0] + plus_one) * (b[:, 3] - b[:, 1] + plus_one))[None, :]
    if union_rule == "sum":
        union = area_a + area_b - inter
    elif union_rule == "left_first":  # (a - i) + b: rounds differently from (b - i) + a
        union = (area_a - inter) + area_b
    else:  # "min": intersection over the smaller box
        union = torch.minimum(area_a, area_b).expand_as(inter)
    if not guard:
        return inter / (union + eps)
    positive = union > 0
    return torch.where(positive, inter / (torch.where(positive, union, torch.ones_like(union)) + eps), torch.zeros_like(union))


def visiting_order(scores, larger_index_first=False):
    """``(order, beats)``: indices by decreasing score (ties by index), and ``beats[i, j]``:
    box ``i`` is visited before box ``j``."""
    s = scores.detach()
    idx = torch.arange(s.shape[0], device=s.device)
    tie = idx[:, None] > idx[None, :] if larger_index_first else idx[:, None] < idx[None, :]
    beats = (s[:, None] > s[None, :]) | ((s[:, None] == s[None, :]) & tie)
    return torch.argsort(beats.sum(dim=0)), beats


def nms(boxes, scores, iou_threshold, ties_larger=False, inclusive=False, last_only=False, by_all=False):
    """Greedy NMS; the tie order, the threshold test and which boxes suppress are parameters."""
    order, _ = visiting_order(scores, ties_larger)
    iou = S.box_iou(boxes, boxes)
    over = (iou >= iou_threshold) if inclusive else (iou > iou_threshold)
    kept, seen = [], []
    for i in order.tolist():
        pool = seen if by_all else (kept[-1:] if last_only else kept)
        if not any(bool(over[j, i]) for j in pool):
            kept.append(i)
        seen.append(i)
    return torch.tensor(kept, dtype=torch.int64, device=boxes.device)


def ohem_select(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None, use_valid=True,
                topk_first=False, easiest=False, ties_larger=False, use_nms=True, across=False, sort_out=True):
    """OHEM selection; validity, the ranking, where NMS runs and the output order are parameters."""
    r = losses.shape[0]
    loss = losses.detach().tolist()
    ids = image_ids.tolist()
    ok = valid.tolist() if valid is not None and use_valid else [True] * r

    def key(i):
        return (loss[i] if easiest else -loss[i], -i if ties_larger else i)

    over = None
    if nms_iou is not None and use_nms:
        over = (S.box_iou(boxes, boxes) > nms_iou).tolist()
    cand = [i for i in range(r) if ok[i]]
    if across and over is not None:  # NMS over the whole batch, across images
        kept = []
        for i in sorted(cand, key=key):
            if not any(over[j][i] for j in kept):
                kept.append(i)
        cand, over = kept, None
    out = []
    for image in dict.fromkeys(ids):
        ranked = sorted((i for i in cand if ids[i] == image), key=key)
        if topk_first:
            ranked = ranked[:per_image]
        kept = []
        for i in ranked:
            if over is None or not any(over[j][i] for j in kept):
                kept.append(i)
        out += kept[:per_image]
    return torch.tensor(sorted(out) if sort_out else out, dtype=torch.int64, device=losses.device)


def ohem_loss(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1,
              range_valid=False, per_batch=False, leak=False, double_gradient=False, nan_empty=False,
              select_all=False):
    """OHEM loss; which RoIs count, the normalisation and the gradient's reach are parameters."""
    c = logits.shape[1]
    valid = ((targets >= 0) & (targets < c)) if range_valid else (targets != ignore_index)
    safe = torch.where(valid, targets, torch.zeros_like(targets))
    ce = F.cross_entropy(logits, safe, reduction="none")
    if select_all:  # every valid RoI, no mining at all
        chosen = valid.nonzero().flatten()
    else:
        chosen = S.ohem_select(ce.detach(), image_ids, per_image, boxes, nms_iou, valid)
    if chosen.numel() == 0 and not nan_empty:
        loss = (logits * 0).sum()
    elif per_batch:  # normalised by the batch's nominal size instead of the number selected
        loss = ce[chosen].sum() / max(1, per_image * torch.unique(image_ids).numel())
    else:
        loss = ce[chosen].mean()
    if leak:
        rest = valid.clone()
        rest[chosen] = False
        loss = loss + 1e-3 * (ce[rest] - ce[rest].detach()).sum()
    if double_gradient:
        loss = 2 * loss - loss.detach()
    return loss


def hcl(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1, *, beta_on_cosine=False, exp_form=False,
        self_negative=False, no_floor=False, floor_without_n=False, no_debias_division=False,
        detach_weights=False, one_direction=False, no_normalise=False, mask_before_scaling=False):
    """Hardness-weighted debiased InfoNCE (HCL) over two views, with its known mistakes as flags.

    ``mask_before_scaling`` fills the excluded entries with -inf before multiplying by beta: at
    beta = 0 that is 0 * (-inf) = NaN.

    ``exp_form`` is the author code's criterion (joshr17/HCL): ``exp(s)`` directly, which
    overflows float32 at low temperatures or large ``beta``."""
    b = z1.shape[0]
    if b <= 1:
        return (z1.sum() + z2.sum()) * 0.0
    z = torch.cat([z1, z2])
    if not no_normalise:
        z = F.normalize(z, dim=1)
    cos = z @ z.T
    s = cos / temperature
    idx = torch.arange(2 * b, device=z.device)
    partner = (idx + b) % (2 * b)
    not_neg = idx[None, :] == partner[:, None]
    if not self_negative:
        not_neg = not_neg | (idx[None, :] == idx[:, None])
    n = 2 * b - int(not_neg[0].sum())
    s_pos = s[idx, partner]
    if exp_form:
        neg = torch.exp(s).masked_select(~not_neg).view(2 * b, n)
        pos = torch.exp(s_pos)
        imp = (beta * neg.log()).exp()
        reweight = (imp * neg).sum(dim=-1) / imp.mean(dim=-1)
        ng = ((-tau_plus * n * pos + reweight) / (1 - tau_plus)).clamp(min=n * math.e ** (-1 / temperature))
        loss = -torch.log(pos / (pos + ng))
    else:
        s_neg = s.masked_fill(not_neg, -math.inf)
        if mask_before_scaling:
            log_w = torch.log_softmax(beta * (cos if beta_on_cosine else s).masked_fill(not_neg, -math.inf), dim=1)
        else:
            log_w = torch.log_softmax((beta * (cos if beta_on_cosine else s)).masked_fill(not_neg, -math.inf), dim=1)
        if detach_weights:
            log_w = log_w.detach()
        log_rw = math.log(n) + torch.logsumexp(log_w + s_neg, dim=1)
        log_ng = log_rw
        if tau_plus > 0:
            log_r = math.log(tau_plus * n) + s_pos - log_rw
            ok = log_r < 0
            log_ng = log_rw + torch.log(-torch.expm1(torch.where(ok, log_r, -torch.ones_like(log_r))))
            if not no_debias_division:
                log_ng = log_ng - math.log1p(-tau_plus)
            log_ng = torch.where(ok, log_ng, torch.full_like(log_ng, -math.inf))
            if not no_floor:
                floor = (0.0 if floor_without_n else math.log(n)) - 1 / temperature
                log_ng = log_ng.clamp(min=floor)
        loss = torch.logaddexp(log_ng - s_pos, torch.zeros_like(s_pos))
    return loss[:b].mean() if one_direction else loss.mean()


def topk(sim, labels, k, *, any_label=False, ties_larger=False, unsorted=False, least=False, pad_value=-1):
    """Per anchor the k most similar negatives (ties: smallest index), padded, with known mistakes as flags."""
    b = sim.shape[0]
    neg = ~torch.eye(b, dtype=torch.bool, device=sim.device) if any_label else labels[:, None] != labels[None, :]
    key = sim.detach() * (-1 if least else 1)
    keyed = key.masked_fill(~neg, -math.inf)
    if ties_larger:
        order = (b - 1) - torch.sort(keyed.flip(1), dim=1, descending=True, stable=True).indices
    else:
        order = torch.sort(keyed, dim=1, descending=True, stable=True).indices
    order = torch.cat([order, order.new_full((b, max(k - b, 0)), -1)], dim=1)[:, :k]
    listed = torch.arange(k, device=sim.device)[None, :] < neg.sum(dim=1, keepdim=True)
    if unsorted:
        order = torch.sort(order.masked_fill(~listed, b), dim=1).values
    return torch.where(listed, order, torch.full_like(order, pad_value))


def positive_aware(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None,
                   sign_bug=False, reference="min", keep_masked=False, easiest=False, ties_larger=False,
                   inclusive=False):
    """Positive-aware negatives; the threshold's form, which positive sets it, the padding and the
    ranking are parameters (written literally: a mask per filter, then a sort)."""
    s = scores.detach()
    ps = positive_scores.detach()
    if ps.dim() == 2:
        ref = ps.min(dim=1).values if reference == "min" else ps.max(dim=1).values
    else:
        ref = ps
    ref = ref[:, None]
    keep = s > float("-inf")
    if keep_masked:  # -inf candidates "filtered" only by the margins (so they pad the row)
        keep = torch.ones_like(keep)
    drop = torch.zeros_like(keep)
    if absolute_margin is not None:
        drop |= (s + absolute_margin >= ref) if inclusive else (s + absolute_margin > ref)
    if relative_margin is not None:
        threshold = ref * (1 - relative_margin) if sign_bug else ref - ref.abs() * relative_margin
        drop |= s > threshold
    if max_score is not None:
        drop |= s > max_score
    keep &= ~drop
    q, m = s.shape
    key_score = s if not easiest else -s
    rows = []
    for r in range(q):  # small inputs only: clarity first
        cand = [c for c in range(m) if bool(keep[r, c])]
        cand.sort(key=lambda c: (-float(key_score[r, c]), -c if ties_larger else c))
        cand = cand[:k] + [-1] * max(0, k - len(cand))
        rows.append(cand)
    return torch.tensor(rows, dtype=torch.int64, device=s.device).reshape(q, k)


def proxy_anchor(embeddings, labels, proxies, alpha=32.0, delta=0.1, pos_over_all=False, neg_over_present=False,
                 exp_form=False, normalise=True, delta_sign=1.0):
    """Proxy Anchor loss; the averages, the numerics, the normalisation and the margin's sign are parameters."""
    x, p = embeddings, proxies
    if normalise:
        x = F.normalize(x, dim=1)
        p = F.normalize(p, dim=1)
    cos = (x @ p.T).T  # [C, B]
    c = p.shape[0]
    own = labels.long()[None, :] == torch.arange(c, device=x.device)[:, None]
    pos_z = (-alpha * (cos - delta_sign * delta)).masked_fill(~own, float("-inf"))
    neg_z = (alpha * (cos + delta_sign * delta)).masked_fill(own, float("-inf"))
    if exp_form:  # the official code: log(1 + sum(exp(z))), which overflows at large alpha
        pos = torch.log1p(torch.exp(pos_z).sum(dim=1))
        neg = torch.log1p(torch.exp(neg_z).sum(dim=1))
    else:
        zero = torch.zeros(c, 1, dtype=cos.dtype, device=cos.device)
        pos = torch.logsumexp(torch.cat([pos_z, zero], dim=1), dim=1)
        neg = torch.logsumexp(torch.cat([neg_z, zero], dim=1), dim=1)
    present = own.any(dim=1)
    n_present = int(present.sum())
    pos_den = c if pos_over_all else max(1, n_present)
    neg_den = max(1, n_present) if neg_over_present else c
    return pos.sum() / pos_den + neg.sum() / neg_den
