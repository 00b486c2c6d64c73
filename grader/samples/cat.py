"""Sample submission: the naive square root (NaN gradients at coincident points) and a
batch-hard that forgets to exclude the anchor itself from its positives."""
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
