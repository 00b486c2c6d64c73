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
