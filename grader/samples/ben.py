"""Sample submission: semi-hard window inclusive at the margin (pytorch-metric-learning's
rule, not this course's); batch-hard breaks ties towards the last index (allowed); box IoU with
the old "+1 pixel" convention (Pascal VOC's integer pixels) and NMS that also suppresses at an
IoU equal to the threshold; the top-k negatives break ties towards the larger index, and the
relative margin of the false-negative filter is written s_pos * (1 - margin), which is only right
while the positive score is positive."""
import math

import torch


def pairwise_distances(embeddings, squared=False):
    gram = embeddings @ embeddings.T
    norms = gram.diagonal()
    d2 = (norms[:, None] + norms[None, :] - 2 * gram).clamp(min=0)
    d2 = d2.masked_fill(torch.eye(len(d2), dtype=torch.bool, device=d2.device), 0.0)
    if squared:
        return d2
    zero = d2 == 0
    return torch.where(zero, torch.zeros_like(d2), torch.sqrt(torch.where(zero, torch.ones_like(d2), d2)))


def semi_hard_negatives(dist, labels, margin):
    n = dist.shape[0]
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(n, dtype=torch.bool, device=dist.device)
    d_ap = dist[:, :, None]
    d_an = dist[:, None, :]
    window = (~same)[:, None, :] & (d_an > d_ap) & (d_an <= d_ap + margin)  # inclusive: wrong here
    value, neg = torch.where(window, d_an, torch.full_like(d_an, math.inf)).min(dim=2) if n else (dist, dist.long())
    a, p = (pos & torch.isfinite(value)).nonzero(as_tuple=True)
    return a, p, neg[a, p]


def batch_hard(dist, labels):
    n = len(labels)
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(n, dtype=torch.bool, device=dist.device)
    neg = ~same
    a = (pos.any(1) & neg.any(1)).nonzero().flatten()
    flip = torch.arange(n - 1, -1, -1, device=dist.device)
    far = (n - 1 - dist.masked_fill(~pos, -1.0)[:, flip].argmax(1)) if n else a
    near = (n - 1 - dist.masked_fill(~neg, math.inf)[:, flip].argmin(1)) if n else a
    return a, far[a], near[a]


def box_iou(boxes1, boxes2):
    b1, b2 = boxes1.float(), boxes2.float()
    w = (torch.min(b1[:, None, 2], b2[None, :, 2]) - torch.max(b1[:, None, 0], b2[None, :, 0]) + 1).clamp(min=0)
    h = (torch.min(b1[:, None, 3], b2[None, :, 3]) - torch.max(b1[:, None, 1], b2[None, :, 1]) + 1).clamp(min=0)
    area1 = (b1[:, 2] - b1[:, 0] + 1) * (b1[:, 3] - b1[:, 1] + 1)
    area2 = (b2[:, 2] - b2[:, 0] + 1) * (b2[:, 3] - b2[:, 1] + 1)
    inter = w * h
    return inter / (area1[:, None] + area2[None, :] - inter)


def nms(boxes, scores, iou_threshold):
    order = torch.sort(scores, descending=True, stable=True).indices
    b = boxes[order].float()
    x1, y1, x2, y2 = b.unbind(1)
    area = (x2 - x1) * (y2 - y1)
    left = torch.arange(len(order), device=boxes.device)
    keep = []
    while len(left):
        i, left = left[0], left[1:]
        keep.append(i)
        w = (torch.min(x2[i], x2[left]) - torch.max(x1[i], x1[left])).clamp(min=0)
        h = (torch.min(y2[i], y2[left]) - torch.max(y1[i], y1[left])).clamp(min=0)
        union = area[i] + area[left] - w * h
        iou = torch.where(union > 0, w * h / union, torch.zeros_like(union))
        left = left[iou < iou_threshold]  # drops IoU == threshold too
    return order[torch.stack(keep)] if keep else order


def topk_negatives(sim, labels, k):
    b = sim.shape[0]
    neg = labels[:, None] != labels[None, :]
    keyed = sim.detach().masked_fill(~neg, -math.inf)
    # sort the reversed columns, then map back: equal similarities come out largest index first
    order = (b - 1) - torch.sort(keyed.flip(1), dim=1, descending=True, stable=True).indices
    if k > b:
        order = torch.cat([order, order.new_full((b, k - b), -1)], dim=1)
    order = order[:, :k]
    count = neg.sum(dim=1, keepdim=True)
    return torch.where(torch.arange(k, device=sim.device)[None, :] < count, order, torch.full_like(order, -1))


def positive_aware_negatives(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    s = scores.detach()
    ref = positive_scores.detach()
    if ref.dim() == 2:
        ref = ref.min(dim=1).values
    ref = ref[:, None]
    keep = s != -math.inf
    if absolute_margin is not None:
        keep &= s <= ref - absolute_margin
    if relative_margin is not None:
        keep &= s <= ref * (1 - relative_margin)  # wrong when ref < 0: the threshold rises above it
    if max_score is not None:
        keep &= s <= max_score
    top = torch.sort(s.masked_fill(~keep, -math.inf), dim=1, descending=True, stable=True).indices[:, :k]
    slot = torch.arange(top.shape[1], device=s.device)[None, :]
    top = torch.where(slot < keep.sum(dim=1, keepdim=True), top, torch.full_like(top, -1))
    out = torch.full((s.shape[0], k), -1, dtype=torch.int64, device=s.device)
    out[:, :top.shape[1]] = top
    return out
