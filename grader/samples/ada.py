"""Sample submission: everything right, written independently of the references."""
import math

import torch


def pairwise_distances(embeddings, squared=False):
    sq = (embeddings * embeddings).sum(dim=1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * embeddings @ embeddings.T).clamp(min=0.0)
    d2 = d2 * (1 - torch.eye(len(embeddings), dtype=d2.dtype, device=d2.device))
    if squared:
        return d2
    zero = d2 == 0
    return torch.sqrt(torch.where(zero, torch.ones_like(d2), d2)) * (~zero)


def semi_hard_negatives(dist, labels, margin):
    n = dist.shape[0]
    d = dist.detach()
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(n, dtype=torch.bool, device=d.device)
    ordered, order = torch.sort(d.masked_fill(same, math.inf), dim=1, stable=True)
    col = torch.searchsorted(ordered, d, right=True).clamp(max=max(n - 1, 0))
    closest = ordered.gather(1, col) if n else ordered
    keep = pos & (closest < d + margin)
    a, p = keep.nonzero(as_tuple=True)
    return a, p, order.gather(1, col)[a, p] if n else a


def batch_hard(dist, labels):
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=dist.device)
    pos, neg = same & ~eye, ~same
    ok = pos.any(1) & neg.any(1)
    a = ok.nonzero().flatten()
    far = dist.masked_fill(~pos, -1.0).argmax(1) if len(labels) else a
    near = dist.masked_fill(~neg, math.inf).argmin(1) if len(labels) else a
    return a, far[a], near[a]


def distance_weights(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    if dist.shape[0] == 0:
        return torch.zeros_like(dist)
    d = dist.detach().clamp(min=cutoff)
    ok = (labels[:, None] != labels[None, :]) & (dist < nonzero_loss_cutoff)
    d = torch.where(ok, d, torch.full_like(d, cutoff))
    log_w = -((dim - 2) * torch.log(d) + (dim - 3) / 2 * torch.log(1 - d * d / 4))
    log_w = log_w.masked_fill(~ok, -math.inf)
    top = log_w.max(dim=1, keepdim=True).values
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    w = torch.exp(log_w - top)
    total = w.sum(dim=1, keepdim=True)
    return torch.where(total > 0, w / total.clamp(min=1e-300), w)


def _iou_dtype(*tensors):
    dtype = None
    for t in tensors:
        d = t.dtype if t.is_floating_point() else torch.float32
        dtype = d if dtype is None else torch.promote_types(dtype, d)
    return dtype


def _iou(a, b):
    """IoU of every box of a [..., n, 4] with every box of b [..., m, 4], both in one float dtype."""
    ax1, ay1, ax2, ay2 = (v[..., :, None] for v in a.unbind(-1))
    bx1, by1, bx2, by2 = (v[..., None, :] for v in b.unbind(-1))
    inter = (torch.minimum(ax2, bx2) - torch.maximum(ax1, bx1)).clamp(min=0) * (
        torch.minimum(ay2, by2) - torch.maximum(ay1, by1)).clamp(min=0)
    union = ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1)) - inter
    return inter / torch.where(union == 0, torch.ones_like(union), union)


def box_iou(boxes1, boxes2):
    dtype = _iou_dtype(boxes1, boxes2)
    return _iou(boxes1.to(dtype), boxes2.to(dtype))


def _by_score(scores):
    """Indices by decreasing score, equal scores (also -0.0 and 0.0) by increasing index."""
    if scores.is_floating_point():
        scores = scores + 0.0
    return torch.sort(scores, descending=True, stable=True).indices


def nms(boxes, scores, iou_threshold):
    dtype = _iou_dtype(boxes)
    order = _by_score(scores.detach())
    b = boxes.detach()[order].to(dtype)
    limit = torch.tensor(float(iou_threshold), dtype=dtype, device=boxes.device)
    left = torch.arange(len(order), device=boxes.device)
    kept = []
    while len(left):  # one pass per kept box: drop everything it overlaps
        first, left = left[:1], left[1:]
        kept.append(first)
        left = left[~(_iou(b[first], b[left])[0] > limit)]
    return order[torch.cat(kept)] if kept else order


def ohem_select(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    dev = losses.device
    cand = torch.arange(len(losses), device=dev)
    if valid is not None:
        cand = cand[valid]
    if per_image == 0 or len(cand) == 0:
        return torch.zeros(0, dtype=torch.int64, device=dev)
    cand = cand[_by_score(losses.detach()[cand])]
    cand = cand[torch.sort(image_ids[cand], stable=True).indices]  # by image, hardest first inside
    _, image, count = torch.unique_consecutive(image_ids[cand], return_inverse=True, return_counts=True)
    first = torch.cumsum(count, 0) - count
    rank = torch.arange(len(cand), device=dev) - first[image]
    keep = torch.ones(len(cand), dtype=torch.bool, device=dev)
    if nms_iou is not None:  # greedy NMS in every image at once, one step per rank
        width = int(count.max())
        grid = torch.full((len(count), width), -1, dtype=torch.int64, device=dev)
        grid[image, rank] = torch.arange(len(cand), device=dev)
        present = grid >= 0
        dtype = _iou_dtype(boxes)
        b = boxes.detach()[cand].to(dtype)[grid.clamp(min=0)]
        # over[g, j, i]: RoI i of image g overlaps RoI j above nms_iou (16 images at a time: small temporaries)
        limit = torch.tensor(float(nms_iou), dtype=dtype, device=dev)
        over = torch.cat([(_iou(x, x) > limit).transpose(1, 2) for x in b.split(16)]).contiguous()
        alive = torch.zeros_like(present)
        for j in range(width):
            alive[:, j] = present[:, j] & ~(over[:, j, :j] & alive[:, :j]).any(dim=1)
        keep = alive[image, rank]
    kept_rank = torch.cumsum(keep.long(), 0)
    kept_rank = kept_rank - (kept_rank - keep.long())[first][image]  # 1, 2, ... within each image
    return torch.sort(cand[keep & (kept_rank <= per_image)]).values


def ohem_loss(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):
    valid = targets != ignore_index
    safe = torch.where(valid, targets, torch.zeros_like(targets)).long()
    with torch.no_grad():
        ce = torch.nn.functional.cross_entropy(logits.detach(), safe, reduction="none") if len(logits) else logits.new_zeros(0)
    chosen = ohem_select(ce, image_ids, per_image, boxes, nms_iou, valid)
    if len(chosen) == 0:
        return (logits * 0.0).sum() + 0.0
    return torch.nn.functional.cross_entropy(logits[chosen], safe[chosen])


def hard_negative_infonce(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    b = z1.shape[0]
    if b <= 1:
        return (z1.sum() + z2.sum()) * 0.0
    z = torch.cat([z1, z2])
    z = z / z.norm(dim=1, keepdim=True)
    s = z @ z.T / temperature
    idx = torch.arange(2 * b, device=z.device)
    other = torch.cat([idx[b:], idx[:b]])
    s_pos = s[idx, other]
    drop = torch.zeros_like(s, dtype=torch.bool)
    drop[idx, idx] = True
    drop[idx, other] = True
    n = 2 * b - 2
    # log of N * sum e^{(beta+1)s} / sum e^{beta s}, over the negatives (masked after scaling: 0 * -inf is NaN)
    log_rw = (math.log(n) + torch.logsumexp(((beta + 1) * s).masked_fill(drop, -math.inf), 1)
              - torch.logsumexp((beta * s).masked_fill(drop, -math.inf), 1))
    if tau_plus > 0:
        # Ng = rw (1 - r) / (1 - tau_plus) with r = tau_plus N e^{s+} / rw, floored at N e^{-1/t}
        log_r = math.log(tau_plus * n) + s_pos - log_rw
        r_ok = log_r < 0
        safe = torch.where(r_ok, log_r, torch.full_like(log_r, -1.0))
        log_ng = log_rw + torch.log(-torch.expm1(safe)) - math.log(1 - tau_plus)
        log_ng = torch.where(r_ok, log_ng, torch.full_like(log_ng, -math.inf))
        log_ng = torch.maximum(log_ng, torch.full_like(log_ng, math.log(n) - 1 / temperature))
    else:
        log_ng = log_rw
    return torch.nn.functional.softplus(log_ng - s_pos, beta=1, threshold=50).mean()


def topk_negatives(sim, labels, k):
    b = sim.shape[0]
    neg = labels[:, None] != labels[None, :]
    # rank key: negatives first by decreasing sim, ties by index (stable sort)
    keyed = sim.detach().masked_fill(~neg, -math.inf)
    order = torch.sort(keyed, dim=1, descending=True, stable=True).indices
    pad = max(k - b, 0)
    order = torch.cat([order, order.new_full((b, pad), -1)], dim=1)[:, :k]
    count = neg.sum(dim=1, keepdim=True)
    return torch.where(torch.arange(k, device=sim.device)[None, :] < count, order, torch.full_like(order, -1))


def positive_aware_negatives(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    s = scores.detach()
    ref = positive_scores.detach()
    if ref.dim() == 2:
        ref = ref.min(dim=1).values
    ref = ref.unsqueeze(1)
    ok = s != -math.inf
    if absolute_margin is not None:
        ok = ok & (s + absolute_margin <= ref)
    if relative_margin is not None:
        ok = ok & (s <= ref - relative_margin * ref.abs())  # below the hardest positive for either sign
    if max_score is not None:
        ok = ok & (s <= max_score)
    rows, cols = s.shape
    ranked = torch.sort(torch.where(ok, s, torch.full_like(s, -math.inf)), dim=1, descending=True, stable=True).indices
    ranked = ranked[:, :k]
    slot = torch.arange(ranked.shape[1], device=s.device)
    out = torch.full((rows, k), -1, dtype=torch.int64, device=s.device)
    out[:, :ranked.shape[1]] = torch.where(slot[None, :] < ok.sum(dim=1, keepdim=True), ranked, -1)
    return out


def proxy_anchor_loss(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    x = embeddings / embeddings.norm(dim=1, keepdim=True)
    p = proxies / proxies.norm(dim=1, keepdim=True)
    cos = x @ p.T  # [B, C]
    member = labels.long()[:, None] == torch.arange(p.shape[0], device=x.device)[None, :]

    def log1p_sum_exp(z, mask):  # per proxy: log(1 + sum of e^z over the masked samples), never overflows
        z = torch.where(mask, z, torch.full_like(z, -math.inf))
        return torch.logsumexp(torch.cat([z, z.new_zeros(1, z.shape[1])], dim=0), dim=0)

    pos = log1p_sum_exp(-alpha * (cos - delta), member)
    neg = log1p_sum_exp(alpha * (cos + delta), ~member)
    with_positives = member.any(dim=0)
    return pos.sum() / with_positives.sum().clamp(min=1) + neg.mean()
