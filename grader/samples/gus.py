"""Sample submission: batch-hard never returns; the squared distances are right."""
import torch


def pairwise_distances(embeddings, squared=False):
    d2 = torch.cdist(embeddings, embeddings, compute_mode="donot_use_mm_for_euclid_dist") ** 2
    return d2 if squared else d2.sqrt()


def batch_hard(dist, labels):
    while True:  # an infinite loop: the grader must stop it and go on
        pass
