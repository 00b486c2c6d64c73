"""Sample submission: batch-hard is right, but semi-hard kills its own process."""
import os

import torch


def semi_hard_negatives(dist, labels, margin):
    os._exit(3)  # crashes the worker: only this exercise may suffer


def batch_hard(dist, labels):
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=dist.device)
    neg = ~same
    a = (pos.any(1) & neg.any(1)).nonzero().flatten()
    if len(labels) == 0:
        return a, a, a
    return a, dist.masked_fill(~pos, -1.0).argmax(1)[a], dist.masked_fill(~neg, float("inf")).argmin(1)[a]
