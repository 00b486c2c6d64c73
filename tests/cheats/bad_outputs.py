"""NaN answers, a tensor on the wrong device, and a huge output."""
import torch


def pairwise_distances(embeddings, squared=False):
    n = embeddings.shape[0]
    return torch.full((n, n), float("nan"), dtype=embeddings.dtype)


def batch_hard(dist, labels):
    e = torch.zeros(len(labels), dtype=torch.int64, device="meta")
    return e, e, e


def semi_hard_negatives(dist, labels, margin):
    print("x" * (64 << 20))
    big = torch.zeros(1 << 25, dtype=torch.int64)
    return big, big, big


def distance_weights(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    return torch.full_like(dist, float("nan"))
