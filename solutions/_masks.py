"""Label masks and ranked selection shared by the miners. Self-pairs are excluded by index, never by identity."""

from __future__ import annotations

import torch
from torch import Tensor

from . import _checks


def validated(dist: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Validate a ``[B, B]`` distance matrix and its ``[B]`` labels; return them detached."""
    d = _checks.distance_matrix(dist)
    lab = _checks.labels(labels, d.shape[0])
    _checks.same_device("labels", lab, "dist", d)
    return d.detach(), lab


def same_label(labels: Tensor) -> Tensor:
    """``[B, B]`` bool: ``labels[i] == labels[j]`` (diagonal included)."""
    return labels[:, None] == labels[None, :]


def positive_mask(labels: Tensor) -> Tensor:
    """``[B, B]`` bool: ``i != j`` and ``labels[i] == labels[j]``."""
    same = same_label(labels)
    return same.fill_diagonal_(False)


def empty_triplets(device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    e = torch.empty(0, dtype=torch.int64, device=device)
    return e, e.clone(), e.clone()


def rows_per_chunk(n_cols: int, budget: int = 1 << 22) -> int:
    """How many rows of width ``n_cols`` fit in ``budget`` elements (at least one)."""
    return max(1, budget // max(1, n_cols))


def top_k_kept(values: Tensor, keep: Tensor, k: int) -> Tensor:
    """Per row, the columns with ``keep`` true in decreasing ``values`` (ties: smallest index
    first), the first ``k`` of them, padded with ``-1``: an int64 ``[R, k]`` tensor."""
    rows, cols = values.shape
    keyed = values.detach().masked_fill(~keep, float("-inf"))
    # A stable descending sort keeps equal values in increasing column order.
    order = torch.sort(keyed, dim=1, descending=True, stable=True).indices[:, :k]
    if k > cols:
        order = torch.cat([order, order.new_full((rows, k - cols), -1)], dim=1)
    rank = torch.arange(k, device=values.device)
    return torch.where(rank[None, :] < keep.sum(dim=1, keepdim=True), order, -1)
