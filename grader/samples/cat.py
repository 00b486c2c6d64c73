"""Sample submission: the naive square root (NaN gradients at coincident points), a
batch-hard that forgets to exclude the anchor itself from its positives, and an OHEM selection
that skips the NMS step; the hard-negative InfoNCE in the exponential form of the authors' code,
which overflows float32 at low temperatures."""
import math

import torch


def pairwise_distances(embeddings, squared=False):
    sq = (embeddings ** 2).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2 * embeddings @ embeddings.T).clamp(min=0)
    d2 = d2 - torch.diag(torch.diag(d2))
    return d2 if squared else d2.sqrt()


def batch_hard(dist, labels):
    same = labels[:, None] == labels[None, :]  # includes a itself: wrong
    neg = ~same
    a = (same.any(1) & neg.any(1)).nonzero().flatten()
    if len(labels) == 0:
        return a, a, a
    far = dist.masked_fill(~same, -1.0).argmax(1)
    near = dist.masked_fill(~neg, float("inf")).argmin(1)
    return a, far[a], near[a]


def ohem_select(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):
    candidates = torch.arange(len(losses), device=losses.device) if valid is None else valid.nonzero().flatten()
    order = candidates[torch.sort(losses.detach()[candidates], descending=True, stable=True).indices]
    order = order[torch.sort(image_ids[order], stable=True).indices]
    ids = image_ids[order]
    first = torch.ones_like(ids, dtype=torch.bool)
    first[1:] = ids[1:] != ids[:-1]
    pos = torch.arange(len(ids), device=losses.device)
    rank = pos - torch.cummax(torch.where(first, pos, torch.zeros_like(pos)), dim=0).values
    return torch.sort(order[rank < per_image]).values


def hard_negative_infonce(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    b = z1.shape[0]
    if b <= 1:
        return (z1.sum() + z2.sum()) * 0.0
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = torch.exp(z @ z.T / temperature)  # e^(1/t) is inf in float32 below t = 0.0113
    idx = torch.arange(2 * b, device=z.device)
    other = torch.cat([idx[b:], idx[:b]])
    pos = sim[idx, other]
    keep = torch.ones_like(sim, dtype=torch.bool)
    keep[idx, idx] = False
    keep[idx, other] = False
    neg = sim[keep].view(2 * b, -1)
    n = 2 * b - 2
    imp = neg ** beta
    reweight = (imp * neg).sum(dim=1) / imp.mean(dim=1)
    ng = (-tau_plus * n * pos + reweight) / (1 - tau_plus)
    ng = torch.clamp(ng, min=n * math.exp(-1 / temperature))
    return (-torch.log(pos / (pos + ng))).mean()
