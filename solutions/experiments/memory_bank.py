"""Cross-batch memory (Wang et al., "Cross-Batch Memory for Embedding Learning", 2020).

A first-in-first-out ring buffer of past embeddings and their labels. Anchors of the
current batch are mined against the batch *and* the memory, so a miner sees many more
negatives than one batch holds, for the cost of one ``B x (B + M)`` distance block per
step and ``M x D`` stored floats. Stored embeddings are detached: they are constants that
were produced by slightly older weights ("feature drift"), so memories are usually kept
short or switched on after a warm-up.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _checks
from ..distances import pairwise_distances

Triplets = tuple[Tensor, Tensor, Tensor]


class CrossBatchMemory:
    """A FIFO queue of at most ``size`` embeddings ``[size, dim]`` with labels ``[size]``.

    ``enqueue`` writes a batch over the oldest entries (vectorised, wrapping around);
    ``embeddings`` / ``labels`` return the filled part (oldest-first order is not kept:
    order never matters to mining). ``nbytes`` is the storage the queue holds.
    """

    def __init__(self, size: int, dim: int, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        self.size = _checks.integer("size", size, 1)
        self.dim = _checks.integer("dim", dim, 1)
        self._emb = torch.zeros(size, dim, device=device, dtype=dtype)
        self._lab = torch.zeros(size, dtype=torch.int64, device=device)
        self._next = 0  # where the next write starts
        self._filled = 0

    def __len__(self) -> int:
        return self._filled

    @property
    def embeddings(self) -> Tensor:
        return self._emb[: self._filled]

    @property
    def labels(self) -> Tensor:
        return self._lab[: self._filled]

    @property
    def nbytes(self) -> int:
        return self._emb.numel() * self._emb.element_size() + self._lab.numel() * self._lab.element_size()

    def enqueue(self, embeddings: Tensor, labels: Tensor) -> None:
        """Store ``embeddings [B, dim]`` (detached) and ``labels [B]``; keep the newest ``size``."""
        e = _checks.floating("embeddings", embeddings, 2)
        if e.shape[1] != self.dim:
            raise ValueError(f"embeddings must have {self.dim} columns, got {e.shape[1]}")
        lab = _checks.labels(labels, e.shape[0])
        e, lab = e.detach()[-self.size :], lab[-self.size :]
        slots = (self._next + torch.arange(e.shape[0], device=self._emb.device)) % self.size
        self._emb[slots] = e.to(self._emb)
        self._lab[slots] = lab.to(self._lab.device)
        self._next = (self._next + e.shape[0]) % self.size
        self._filled = min(self.size, self._filled + e.shape[0])

    def reset(self) -> None:
        self._next = 0
        self._filled = 0


MEMORY_MINERS = ("hardest", "semi-hard", "batch-hard")


def block_distances(embeddings: Tensor, memory: CrossBatchMemory) -> Tensor:
    """``[B, B + M]`` distances from the batch to the batch followed by the memory.

    The ``[B, B]`` part is :func:`solutions.pairwise_distances` (exact zeros on the
    diagonal, gradient 0 through coincident points); the ``[B, M]`` part is computed from
    explicit differences (``torch.cdist`` without the matmul shortcut), so no Gram-matrix
    cancellation. Gradients reach ``embeddings`` only.
    """
    inner = pairwise_distances(embeddings)
    if len(memory) == 0:
        return inner
    bank = memory.embeddings.to(embeddings.dtype)
    outer = torch.cdist(embeddings, bank, compute_mode="donot_use_mm_for_euclid_dist")
    return torch.cat([inner, outer], dim=1)


def memory_triplets(dist: Tensor, labels: Tensor, bank_labels: Tensor, strategy: str, margin: float = 0.2) -> Triplets:
    """Mine the batch's anchors against the batch and the memory, from a distance block.

    Args:
        dist: ``[B, B + M]`` distances (:func:`block_distances`); column ``j < B`` is batch
            sample ``j``, column ``B + i`` is memory entry ``i``.
        labels: ``[B]`` batch labels. bank_labels: ``[M]`` memory labels.
        strategy: ``"hardest"``, ``"semi-hard"`` or ``"batch-hard"``, with the reference
            miners' rules over the ``B + M`` candidates (self-pairs ``(a, a)`` excluded by
            index; ties to the smallest column; semi-hard window strict on both sides).

    Returns:
        ``(a, p, n)`` int64 ``[T]``: ``a < B`` indexes the batch, ``p`` and ``n`` columns
        of ``dist``. With an empty memory the triplets equal the reference miners' on the
        batch. Cost ``O(B (B + M))`` for hardest / batch-hard, ``O(P (B + M))`` for
        semi-hard with ``P`` positive pairs (in chunks), instead of ``O((B + M)^2)``.
    """
    d = dist.detach()
    b, r = d.shape
    cols = torch.cat([labels, bank_labels.to(labels.device)])
    same = labels[:, None] == cols[None, :]
    pos = same.clone()
    pos[:, :b].fill_diagonal_(False)
    neg = ~same
    has_neg = neg.any(dim=1)
    if strategy == "batch-hard":
        hardest_pos = torch.where(pos, d, -1.0).argmax(dim=1)
        hardest_neg = torch.where(neg, d, float("inf")).argmin(dim=1)
        anchors = (pos.any(dim=1) & has_neg).nonzero().squeeze(1)
        return anchors, hardest_pos[anchors], hardest_neg[anchors]
    anchors, positives = (pos & has_neg[:, None]).nonzero(as_tuple=True)
    if strategy == "hardest":
        closest = torch.where(neg, d, float("inf")).argmin(dim=1)
        return anchors, positives, closest[anchors]
    if strategy != "semi-hard":
        raise ValueError(f"strategy must be one of {MEMORY_MINERS}, got {strategy!r}")
    negatives_only = torch.where(neg, d, float("inf"))
    chosen = torch.empty_like(anchors)
    best = torch.empty(anchors.numel(), dtype=d.dtype, device=d.device)
    step = max(1, (1 << 20) // max(1, r))
    for s in range(0, anchors.numel(), step):  # chunks of positive pairs, not single pairs
        a = anchors[s : s + step]
        rows = negatives_only.index_select(0, a)
        d_ap = d[a, positives[s : s + step]].unsqueeze(1)
        beyond = torch.where(rows > d_ap, rows, float("inf"))
        best[s : s + step], chosen[s : s + step] = beyond.min(dim=1)
    keep = best < d[anchors, positives] + margin
    return anchors[keep], positives[keep], chosen[keep]


def mine_with_memory(
    embeddings: Tensor, labels: Tensor, memory: CrossBatchMemory, strategy: str, margin: float = 0.2
) -> tuple[Tensor, Triplets]:
    """Distances and triplets for one training step with a memory.

    Returns ``(dist, (a, p, n))`` where ``dist`` is the ``[B + M, B + M]`` square made of
    :func:`block_distances` on top and zeros below (rows of memory anchors are never
    used), so that :func:`solutions.triplet_margin_loss` applies unchanged; the triplets
    are :func:`memory_triplets`'.
    """
    block = block_distances(embeddings, memory)
    b, r = block.shape
    triplets = memory_triplets(block, labels, memory.labels, strategy, margin)
    square = torch.cat([block, block.new_zeros(r - b, r)]) if r > b else block
    return square, triplets
