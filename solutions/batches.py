"""PK batch construction: P classes x K samples per batch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from . import _checks


def pk_batches(labels: Tensor, p: int, k: int, generator: torch.Generator | None = None) -> Iterator[Tensor]:
    """One pass of PK batches over the classes of ``labels``.

    Yields ``ceil(C / p)`` int64 index tensors of length ``p * k`` (``C`` = number of
    distinct labels), laid out class by class: ``k`` indices of one class, then the next.

    Rules:
        * classes are shuffled and taken ``p`` at a time; the last batch, if short, is
          topped up with other classes drawn at random (without repeats) from the rest;
        * within a class, ``k`` indices are drawn without replacement, or with
          replacement only when the class has fewer than ``k`` samples;
        * ``C < p`` raises ``ValueError``; the same seeded ``generator`` gives the same
          batches (``None`` uses torch's global RNG). Indices live on the CPU.
    """
    lab = _checks.labels(labels).cpu()
    p = _checks.integer("p", p, 1)
    k = _checks.integer("k", k, 1)
    classes, inverse, counts = torch.unique(lab, return_inverse=True, return_counts=True)
    n_classes = classes.numel()
    if n_classes < p:
        raise ValueError(f"p must be <= the number of classes ({n_classes}), got p={p}")
    # members[c, :counts[c]] are the indices of class c in increasing order.
    by_class = torch.argsort(inverse, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    return _iterate(by_class, starts, counts, n_classes, p, k, generator)


def _iterate(by_class, starts, counts, n_classes, p, k, generator) -> Iterator[Tensor]:
    order = torch.randperm(n_classes, generator=generator)
    for first in range(0, n_classes, p):
        chosen = order[first : first + p]
        if chosen.numel() < p:
            rest = order[:first]
            extra = rest[torch.randperm(rest.numel(), generator=generator)[: p - chosen.numel()]]
            chosen = torch.cat([chosen, extra])
        yield _draw(by_class, starts[chosen], counts[chosen], k, generator)


def _draw(by_class: Tensor, starts: Tensor, counts: Tensor, k: int, generator) -> Tensor:
    """``k`` positions per chosen class, vectorised over the classes of one batch."""
    n_chosen = counts.numel()
    big = counts >= k
    # Without replacement: the k smallest of random keys over each class's members.
    width = int(counts.max())
    keys = torch.rand(n_chosen, width, generator=generator, dtype=torch.float64)
    keys.masked_fill_(torch.arange(width)[None, :] >= counts[:, None], float("inf"))
    without = keys.argsort(dim=1, stable=True)[:, :k] if width >= k else torch.zeros(n_chosen, k, dtype=torch.long)
    # With replacement (classes smaller than k): uniform positions in [0, count).
    with_repl = (torch.rand(n_chosen, k, generator=generator, dtype=torch.float64) * counts[:, None]).long()
    offsets = torch.where(big[:, None], without, with_repl)
    return by_class[starts[:, None] + offsets].reshape(-1)
