"""Similarity test case: a ps1 answer written independently of ``original.py`` (distances
block by block; semi-hard by scanning the window for a few anchors at a time). It passes every
rule of both exercises and is too slow for both scale points."""
import math

import torch

BLOCK = 8


def pairwise_distances(embeddings, squared=False):
    count = embeddings.shape[0]
    if count == 0:
        return embeddings.new_zeros((0, 0))
    pieces = []
    for start in range(0, count, 256):
        chunk = embeddings[start:start + 256]
        delta = chunk.unsqueeze(1) - embeddings.unsqueeze(0)
        pieces.append(delta.pow(2).sum(dim=2))
    result = torch.cat(pieces, dim=0)
    if not squared:
        zero = result == 0
        result = torch.sqrt(result.masked_fill(zero, 1.0)).masked_fill(zero, 0.0)
    return result


def semi_hard_negatives(dist, labels, margin):
    count = labels.numel()
    table = dist.detach()
    label_eq = labels[:, None].eq(labels[None, :])
    own = torch.eye(count, dtype=torch.bool, device=table.device)
    columns = torch.arange(count, device=table.device)
    out_a, out_p, out_n = [], [], []
    for first in range(0, count, BLOCK):
        rows = table[first:first + BLOCK]
        d_ap = rows.unsqueeze(2)
        d_an = rows.unsqueeze(1)
        window = (~label_eq[first:first + BLOCK]).unsqueeze(1) & (d_an > d_ap) & (d_an < d_ap + margin)
        candidates = torch.where(window, d_an, torch.full_like(window, math.inf, dtype=table.dtype))
        best = candidates.min(dim=2, keepdim=True).values
        lowest = torch.where(window & (candidates == best), columns, count).min(dim=2).values
        wanted = label_eq[first:first + BLOCK] & ~own[first:first + BLOCK] & (lowest < count)
        a, p = wanted.nonzero(as_tuple=True)
        out_a.append(a + first)
        out_p.append(p)
        out_n.append(lowest[a, p])
    if not out_a:
        empty = torch.zeros(0, dtype=torch.long, device=table.device)
        return empty, empty, empty
    return torch.cat(out_a), torch.cat(out_p), torch.cat(out_n)
