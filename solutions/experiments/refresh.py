"""ANCE-style training: hard negatives mined from the whole training corpus with an index that
is refreshed only every few steps, and how stale that index is between refreshes.

ANCE (Xiong et al., ICLR 2021) re-encodes the corpus with the current model every few thousand
steps, searches it exactly, and trains each query against negatives sampled from its top 200;
in between, the mined lists come from an ever older model. Here, on a small corpus:

* every ``refresh_every`` steps, all training images are re-embedded and each image's ``top``
  hardest negatives (most similar images of another label) are listed by exact search
  (:func:`solutions.experiments.ann.exact_hard_negatives`);
* each step draws a PK batch of ``p`` items x ``k`` images and, for each item, one negative
  sampled uniformly from its first image's list; the mined images are embedded with the
  *current* network and join the batch, and the loss is supervised NT-Xent over the whole
  enlarged batch (``p * (k + 1)`` images);
* at each refresh, before the lists are rebuilt, the staleness of the old ones is measured:
  the mean distance between the stored and the fresh embedding of every image (drift), and
  the share of the stored lists still in the fresh lists (overlap).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .. import _checks
from ..contrastive import ntxent_loss
from .ann import exact_hard_negatives
from .training import EmbeddingNet, embed, endless_pk_batches, seed_everything


@dataclass
class RefreshHistory:
    """One entry per refresh after the first: the step, the mean drift ``||f_now(x) - f_old(x)||``
    over the corpus, and the share of the old hard-negative lists still in the fresh ones."""

    step: list[int] = field(default_factory=list)
    drift: list[float] = field(default_factory=list)
    overlap: list[float] = field(default_factory=list)
    seconds: float = 0.0


def list_overlap(old: Tensor, new: Tensor) -> float:
    """Mean over rows of ``|old_i & new_i| / |old_i|`` for ``[N, top]`` index lists (``-1`` ignored)."""
    hit = ((old[:, :, None] == new[:, None, :]) & (old[:, :, None] >= 0)).any(dim=2)
    return float(hit.sum() / (old >= 0).sum().clamp(min=1))


def train_with_refreshed_index(
    x: Tensor,
    y: Tensor,
    *,
    refresh_every: int,
    seed: int = 0,
    steps: int = 300,
    p: int = 32,
    k: int = 2,
    top: int = 10,
    temperature: float = 0.5,
    lr: float = 1e-3,
    dim: int = 16,
    hidden: int = 128,
) -> tuple[EmbeddingNet, RefreshHistory]:
    """Train an :class:`~solutions.experiments.training.EmbeddingNet` on ``x [N, F]``, ``y [N]``
    as the module describes; seeded by ``seed`` (initialisation, batches, sampling), on ``x``'s
    device. Returns the model and its :class:`RefreshHistory`."""
    refresh_every = _checks.integer("refresh_every", refresh_every, 1)
    top = _checks.integer("top", top, 1)
    _checks.positive_number("temperature", temperature)
    device = x.device
    seed_everything(seed)
    model = EmbeddingNet(x.shape[1], hidden, dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    batches = endless_pk_batches(y, p, k, gen)
    hist = RefreshHistory()
    stored = lists = None
    start = time.perf_counter()
    for step in range(steps):
        if step % refresh_every == 0:
            fresh = embed(model, x)
            fresh_lists = exact_hard_negatives(fresh, y, fresh, y, top)
            if stored is not None:
                hist.step.append(step)
                hist.drift.append(float((fresh - stored).norm(dim=1).mean()))
                hist.overlap.append(list_overlap(lists, fresh_lists))
            stored, lists = fresh, fresh_lists
        idx = next(batches).to(device)
        first = idx[0::k]  # one query image per item
        choice = torch.randint(0, top, (first.numel(),), generator=gen).to(device)
        mined = lists[first].gather(1, choice[:, None]).squeeze(1)
        mined = mined[mined >= 0]
        both = torch.cat([idx, mined])
        loss = ntxent_loss(model(x[both]), y[both], temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    hist.seconds = time.perf_counter() - start
    return model, hist
