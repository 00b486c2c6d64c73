"""Sample submission: batch-hard never returns; the distances are right."""
import torch


def pairwise_distances(embeddings, squared=False):
    g = embeddings @ embeddings.T
    sq = g.diagonal()
    d2 = (sq[:, None] + sq[None, :] - 2 * g).clamp(min=0)
    d2 = d2 * (1 - torch.eye(len(g), dtype=g.dtype, device=g.device))
    if squared:
        return d2
    positive = d2 > 0
    return torch.where(positive, d2, torch.ones_like(d2)).sqrt() * positive


def batch_hard(dist, labels):
    while True:  # an infinite loop: the grader must stop it and go on
        pass
