"""Similarity test case: a ps1 answer with full marks (Gram-matrix distances; semi-hard by
sorting each row's negatives and a binary search). ``renamed.py`` is a disguised copy of it."""
import torch


def pairwise_distances(embeddings, squared=False):
    norms = embeddings.pow(2).sum(dim=-1, keepdim=True)
    squares = norms + norms.transpose(0, 1) - 2.0 * embeddings.matmul(embeddings.transpose(0, 1))
    eye = torch.eye(embeddings.shape[0], dtype=torch.bool, device=embeddings.device)
    squares = squares.clamp_min(0.0).masked_fill(eye, 0.0)
    if squared:
        return squares
    positive = squares > 0
    safe = torch.where(positive, squares, torch.ones_like(squares))
    return torch.where(positive, safe.sqrt(), torch.zeros_like(squares))


def semi_hard_negatives(dist, labels, margin):
    size = dist.shape[0]
    values = dist.detach()
    if size == 0:
        empty = torch.zeros(0, dtype=torch.long, device=values.device)
        return empty, empty, empty
    matching = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(size, dtype=torch.bool, device=values.device)
    negatives_only = values.masked_fill(matching, float("inf"))
    sorted_values, sorted_index = negatives_only.sort(dim=1, stable=True)
    slot = torch.searchsorted(sorted_values, values.contiguous(), right=True).clamp(max=size - 1)
    candidate = sorted_values.gather(1, slot)
    chosen = sorted_index.gather(1, slot)
    usable = matching & ~eye & (candidate > values) & (candidate < values + margin)
    anchor, positive = usable.nonzero(as_tuple=True)
    return anchor, positive, chosen[anchor, positive]
