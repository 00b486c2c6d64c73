"""Similarity test case: ``original.py`` disguised: every local name changed, comments added,
the functions in the other order (the test also moves the notebook cells)."""
import torch


def semi_hard_negatives(dist, labels, margin):
    # how many samples are in the batch
    b = dist.shape[0]
    dd = dist.detach()
    if b == 0:
        none = torch.zeros(0, dtype=torch.long, device=dd.device)
        return none, none, none
    same_class = labels.unsqueeze(0) == labels.unsqueeze(1)
    diagonal = torch.eye(b, dtype=torch.bool, device=dd.device)
    # hide the positives so that only negatives remain
    neg_dist = dd.masked_fill(same_class, float("inf"))
    srt, srt_idx = neg_dist.sort(dim=1, stable=True)
    pos_in_row = torch.searchsorted(srt, dd.contiguous(), right=True).clamp(max=b - 1)
    cand = srt.gather(1, pos_in_row)
    pick = srt_idx.gather(1, pos_in_row)
    ok = same_class & ~diagonal & (cand > dd) & (cand < dd + margin)  # the semi-hard window
    aa, pp = ok.nonzero(as_tuple=True)
    return aa, pp, pick[aa, pp]


def pairwise_distances(embeddings, squared=False):
    # squared norms of every row
    n2 = embeddings.pow(2).sum(dim=-1, keepdim=True)
    sq_d = n2 + n2.transpose(0, 1) - 2.0 * embeddings.matmul(embeddings.transpose(0, 1))
    diag_mask = torch.eye(embeddings.shape[0], dtype=torch.bool, device=embeddings.device)
    sq_d = sq_d.clamp_min(0.0).masked_fill(diag_mask, 0.0)
    if squared:
        return sq_d
    nonzero = sq_d > 0
    guarded = torch.where(nonzero, sq_d, torch.ones_like(sq_d))  # no sqrt(0) in the gradient
    return torch.where(nonzero, guarded.sqrt(), torch.zeros_like(sq_d))
