"""Shared experiment code for the lessons: data, a tiny embedding net, a training loop
parameterised by a miner, and retrieval / verification metrics.

Not part of the graded contract: lessons import it so that every notebook trains and
measures in exactly the same way. Everything is vectorised (no Python loop over samples
or pairs); the only loops are over training steps and over PK batches.

Shapes: ``N`` samples, ``B`` batch size, ``D`` embedding size, ``T`` triplets.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from ..batches import pk_batches
from ..distances import pairwise_distances
from ..losses import triplet_margin_loss
from .memory_bank import CrossBatchMemory, mine_with_memory
from ..metrics import active_triplet_fraction, mean_pairwise_distance, recall_at_k
from ..mining import (
    batch_hard,
    distance_weighted_negatives,
    hardest_negatives,
    random_negatives,
    semi_hard_negatives,
)

Triplets = tuple[Tensor, Tensor, Tensor]
# A miner as the training loop sees it: (dist [B, B], labels [B], step) -> (a, p, n), int64 [T] each.
Miner = Callable[[Tensor, Tensor, int], Triplets]

MINER_NAMES = ("random", "semi-hard", "hardest", "batch-hard", "distance-weighted", "curriculum")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (CPU and, if present, CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DigitSplit:
    """scikit-learn's 8x8 digits split *by class* for retrieval.

    ``x_train [N_train, F]``, ``y_train [N_train]`` hold the training classes,
    ``x_test [N_test, F]``, ``y_test [N_test]`` the held-out classes (never seen in
    training), with ``F = 64 + nuisance_dims``. The 64 pixels are scaled to ``[0, 1]`` and
    centred with the training mean; the optional nuisance columns are label-free Gaussian
    noise (std ``nuisance_std``), a stand-in for background and lighting. Features are
    float32, labels int64, both on one device.
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    held_out: tuple[int, ...]
    nuisance_dims: int = 0
    nuisance_std: float = 0.0

    def redraw_nuisance(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """A copy of ``x [B, F]`` with fresh nuisance columns (pixels untouched): every
        training step then sees new noise, so the noise cannot be memorised."""
        if self.nuisance_dims == 0:
            return x
        noise = torch.randn(x.shape[0], self.nuisance_dims, generator=generator, device=generator.device)
        return torch.cat([x[:, :64], self.nuisance_std * noise.to(x)], dim=1)


def load_digit_split(
    held_out: tuple[int, ...] = (5, 6, 7, 8, 9),
    nuisance_dims: int = 0,
    nuisance_std: float = 1.0,
    seed: int = 0,
    device: str | torch.device = "cpu",
    unused: tuple[int, ...] = (),
) -> DigitSplit:
    """Load ``sklearn.datasets.load_digits``, hold the classes ``held_out`` out of training
    and append ``nuisance_dims`` noise columns drawn once with ``seed``.

    Classes in ``unused`` are left out of both sides: a validation split takes validation
    classes as ``held_out`` and the test classes as ``unused``, so that no choice made on it
    has seen a test image. The nuisance columns of an image do not depend on ``unused``.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target, dtype=torch.int64)
    if set(held_out) & set(unused):
        raise ValueError(f"held_out and unused must not share classes, got {held_out} and {unused}")
    keep = ~torch.isin(y, torch.tensor(unused, dtype=torch.int64))
    test = torch.isin(y, torch.tensor(held_out, dtype=torch.int64))
    x = x - x[keep & ~test].mean(dim=0)
    if nuisance_dims:
        g = torch.Generator().manual_seed(seed)
        x = torch.cat([x, nuisance_std * torch.randn(x.shape[0], nuisance_dims, generator=g)], dim=1)
    x, y, test = x[keep], y[keep], test[keep]
    return DigitSplit(
        x[~test].to(device),
        y[~test].to(device),
        x[test].to(device),
        y[test].to(device),
        tuple(held_out),
        nuisance_dims,
        nuisance_std if nuisance_dims else 0.0,
    )


def flip_labels(labels: Tensor, fraction: float, generator: torch.Generator) -> Tensor:
    """A copy of ``labels [N]`` where a random ``fraction`` of entries is replaced by a
    different label drawn uniformly from the other classes present (label noise).

    ``generator`` must live on the CPU; the result is on ``labels``' device.
    """
    lab = labels.cpu()
    classes = torch.unique(lab)
    c = classes.numel()
    n_flip = int(round(fraction * lab.numel()))
    which = torch.randperm(lab.numel(), generator=generator)[:n_flip]
    # Position of each chosen label among the classes, shifted by 1..c-1: never the same class.
    pos = torch.searchsorted(classes, lab[which])
    shift = torch.randint(1, c, (n_flip,), generator=generator)
    out = lab.clone()
    out[which] = classes[(pos + shift) % c]
    return out.to(labels.device)


# --------------------------------------------------------------------------- model


class EmbeddingNet(nn.Module):
    """A two-layer MLP ``[N, in_dim] -> [N, dim]``; rows are L2-normalised when ``normalize``.

    Unit-norm outputs put every distance in ``[0, 2]`` (Euclidean distance on the sphere
    is a monotone function of cosine similarity: ``d^2 = 2 - 2 cos``).
    """

    def __init__(self, in_dim: int = 64, hidden: int = 128, dim: int = 16, normalize: bool = True) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        self.normalize = normalize
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        z = self.net(x)
        return nn.functional.normalize(z, dim=1) if self.normalize else z


@torch.no_grad()
def embed(model: nn.Module, x: Tensor, chunk: int = 4096) -> Tensor:
    """Embeddings ``[N, D]`` of ``x [N, in_dim]`` in eval mode, without gradients."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[s : s + chunk]) for s in range(0, x.shape[0], chunk)]) if x.shape[0] else model(x)
    model.train(was_training)
    return out


# --------------------------------------------------------------------------- miners


def all_triplets(labels: Tensor) -> Triplets:
    """Every valid ``(a, p, n)`` of a batch (``a != p`` same label, ``n`` other label), in
    lexicographic order; int64 ``[T]`` each with ``T = sum_a P_a N_a`` (``O(B^3)`` memory,
    meant for monitoring small batches)."""
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(labels.numel(), dtype=torch.bool, device=labels.device)
    mask = pos[:, :, None] & ~same[:, None, :]
    return mask.nonzero(as_tuple=True)


def subsample(triplets: Triplets, fraction: float, generator: torch.Generator) -> Triplets:
    """A random ``round(fraction * T)`` of the triplets (without replacement, order kept)."""
    a, p, n = triplets
    keep = int(round(fraction * a.numel()))
    idx = torch.randperm(a.numel(), generator=generator, device=generator.device)[:keep].sort().values.to(a.device)
    return a[idx], p[idx], n[idx]


def make_miner(
    name: str,
    *,
    margin: float = 0.2,
    dim: int = 16,
    generator: torch.Generator | None = None,
    warmup_steps: int = 0,
    hard_fraction: float = 0.1,
    ramp_steps: int = 0,
) -> Miner:
    """A miner ``(dist [B, B], labels [B], step) -> (a, p, n)`` by name.

    * ``"random"``, ``"semi-hard"`` (FaceNet window, ``margin``), ``"hardest"`` (closest
      negative per positive pair), ``"batch-hard"``, ``"distance-weighted"`` (for unit
      embeddings of size ``dim``) call the reference miners;
    * ``"curriculum"``: semi-hard for the first ``warmup_steps`` steps, then semi-hard
      plus a random fraction of the hardest-negative triplets: ``hard_fraction`` at once
      (``ramp_steps = 0``), or growing linearly to ``hard_fraction`` over ``ramp_steps``
      steps (``hard_fraction * min(1, (step - warmup_steps + 1) / ramp_steps)``).

    ``generator`` (on ``dist``'s device) drives the random choices.
    """
    if name == "random":
        return lambda d, y, step: random_negatives(d, y, generator=generator)
    if name == "semi-hard":
        return lambda d, y, step: semi_hard_negatives(d, y, margin)
    if name == "hardest":
        return lambda d, y, step: hardest_negatives(d, y)
    if name == "batch-hard":
        return lambda d, y, step: batch_hard(d, y)
    if name == "distance-weighted":
        return lambda d, y, step: distance_weighted_negatives(d, y, dim, generator=generator)
    if name == "curriculum":
        if generator is None:
            raise ValueError("the curriculum miner needs a generator")
        if not 0 <= hard_fraction <= 1:
            raise ValueError(f"hard_fraction must be in [0, 1], got {hard_fraction!r}")
        if ramp_steps < 0 or warmup_steps < 0:
            raise ValueError(f"warmup_steps and ramp_steps must be >= 0, got {warmup_steps!r} and {ramp_steps!r}")

        def curriculum(d: Tensor, y: Tensor, step: int) -> Triplets:
            semi = semi_hard_negatives(d, y, margin)
            if step < warmup_steps:
                return semi
            ramp = 1.0 if ramp_steps == 0 else min(1.0, (step - warmup_steps + 1) / ramp_steps)
            hard = subsample(hardest_negatives(d, y), hard_fraction * ramp, generator)
            return tuple(torch.cat([s, h]) for s, h in zip(semi, hard))  # type: ignore[return-value]

        return curriculum
    raise ValueError(f"name must be one of {MINER_NAMES}, got {name!r}")


# --------------------------------------------------------------------------- training


def endless_pk_batches(labels: Tensor, p: int, k: int, generator: torch.Generator) -> Iterator[Tensor]:
    """PK batches (``[p * k]`` CPU int64 indices) pass after pass, forever."""
    while True:
        yield from pk_batches(labels.cpu(), p, k, generator=generator)


@dataclass
class History:
    """What :func:`train_embedding` logged, one entry per logged step.

    ``active_mined``: fraction of the mined triplets with non-zero loss; ``active_all``:
    the same over *every* valid triplet of the batch (how hard the batch is, independent of
    the miner); ``collapse``: ``mean_pairwise_distance(probe) / its value at step 0``.
    """

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    n_triplets: list[int] = field(default_factory=list)
    active_mined: list[float] = field(default_factory=list)
    active_all: list[float] = field(default_factory=list)
    collapse: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_embedding(
    x: Tensor,
    y: Tensor,
    miner: Miner,
    *,
    steps: int = 300,
    p: int = 5,
    k: int = 8,
    margin: float = 0.2,
    lr: float = 1e-3,
    dim: int = 16,
    hidden: int = 128,
    normalize: bool = True,
    seed: int = 0,
    log_every: int = 10,
    memory: CrossBatchMemory | None = None,
    memory_miner: str = "semi-hard",
    memory_start: int = 0,
    augment: Callable[[Tensor, torch.Generator], Tensor] | None = None,
    after_step: Callable[[int, nn.Module], None] | None = None,
) -> tuple[EmbeddingNet, History]:
    """Train an :class:`EmbeddingNet` on ``x [N, in_dim]``, ``y [N]`` with triplet loss.

    Each step draws a PK batch (``p`` classes x ``k`` samples, :func:`solutions.pk_batches`),
    computes ``pairwise_distances`` of its embeddings, asks ``miner`` for triplets and takes
    an Adam step on ``triplet_margin_loss``. With a ``memory`` (a
    :class:`solutions.experiments.memory_bank.CrossBatchMemory`), from step ``memory_start`` on the
    batch's anchors are mined against the batch and the stored embeddings with
    ``memory_miner`` (see :func:`solutions.experiments.memory_bank.memory_triplets`) instead of
    ``miner``, and every batch is enqueued after its step. ``augment(x_batch, generator)``
    may alter each batch's inputs (e.g. :meth:`DigitSplit.redraw_nuisance`).
    ``after_step(step, model)`` is called after every optimiser step (e.g. to record
    embeddings of a probe set; it must not draw from the global generators). Seeded by ``seed`` (model init and batches); runs on
    ``x``'s device. Returns the trained model (train mode) and its :class:`History`.
    """
    device = x.device
    seed_everything(seed)
    model = EmbeddingNet(x.shape[1], hidden, dim, normalize).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    batches = endless_pk_batches(y, p, k, torch.Generator().manual_seed(seed))
    aug_gen = torch.Generator(device=device).manual_seed(seed + 1)
    probe = x[torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[:256].to(device)]
    reference = mean_pairwise_distance(embed(model, probe))
    hist = History()
    start = time.perf_counter()
    for step in range(steps):
        idx = next(batches).to(device)
        xb, yb = x[idx], y[idx]
        if augment is not None:
            xb = augment(xb, aug_gen)
        emb = model(xb)
        if memory is not None and step >= memory_start and len(memory) > 0:
            dist, (a, pp, n) = mine_with_memory(emb, yb, memory, memory_miner, margin)
        else:
            dist = pairwise_distances(emb)
            a, pp, n = miner(dist, yb, step)
        loss = triplet_margin_loss(dist, a, pp, n, margin)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if memory is not None:
            memory.enqueue(emb.detach(), yb)
        if after_step is not None:
            after_step(step, model)
        if step % log_every == 0 or step == steps - 1:
            with torch.no_grad():
                d_batch = dist[: yb.numel(), : yb.numel()].detach()
                hist.step.append(step)
                hist.loss.append(float(loss))
                hist.n_triplets.append(int(a.numel()))
                hist.active_mined.append(active_triplet_fraction(dist.detach(), a, pp, n, margin))
                hist.active_all.append(active_triplet_fraction(d_batch, *all_triplets(yb), margin))
                hist.collapse.append(mean_pairwise_distance(embed(model, probe)) / reference)
    hist.seconds = time.perf_counter() - start
    return model, hist


# --------------------------------------------------------------------------- evaluation


def retrieval(model: nn.Module, x: Tensor, y: Tensor, ks: tuple[int, ...] = (1, 5)) -> dict[int, float]:
    """Leave-one-out Recall@k (:func:`solutions.recall_at_k`) of ``model``'s embeddings of ``x``."""
    return recall_at_k(embed(model, x), y, ks)


def pair_distances(embeddings: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """All unordered pairs ``i < j``: distances ``[N (N-1) / 2]`` and genuine flags (same label)."""
    d = pairwise_distances(embeddings.detach())
    i, j = torch.triu_indices(d.shape[0], d.shape[0], offset=1, device=d.device)
    return d[i, j], labels[i] == labels[j]


def roc_curve(dist: Tensor, genuine: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Verification ROC for "accept iff distance <= t" over every distinct threshold ``t``.

    Args:
        dist: ``[M]`` pair distances. genuine: ``[M]`` bool, True for same-identity pairs
            (both classes must be present).

    Returns:
        ``(far, tar, thresholds)``, each ``[U + 1]`` float64 for ``U`` distinct distances,
        starting at ``(0, 0, -inf)``: false-accept rate (impostor pairs accepted) and
        true-accept rate (genuine pairs accepted, ``1 - FRR``) when accepting every pair
        with distance ``<= thresholds[i]``. Tied distances move together.
    """
    n_gen = int(genuine.sum())
    n_imp = genuine.numel() - n_gen
    if n_gen == 0 or n_imp == 0:
        raise ValueError("genuine must contain both genuine and impostor pairs")
    order = torch.argsort(dist, stable=True)
    d_sorted = dist[order].double()
    g = genuine[order].double()
    tar = torch.cumsum(g, 0) / n_gen
    far = torch.cumsum(1.0 - g, 0) / n_imp
    # Keep the last position of each run of equal distances: ties are accepted together.
    last = torch.ones_like(d_sorted, dtype=torch.bool)
    last[:-1] = d_sorted[1:] != d_sorted[:-1]
    zero = torch.zeros(1, dtype=torch.float64, device=dist.device)
    return (
        torch.cat([zero, far[last]]),
        torch.cat([zero, tar[last]]),
        torch.cat([zero - math.inf, d_sorted[last]]),
    )


def roc_auc(far: Tensor, tar: Tensor) -> float:
    """Area under the ROC curve (trapezoids); 1 is perfect, 0.5 is chance."""
    return float(torch.trapezoid(tar, far))


def far_at_frr(dist: Tensor, genuine: Tensor, frr: float) -> tuple[float, float]:
    """False-accept rate at the strictest threshold whose false-reject rate is ``<= frr``.

    Accept iff ``dist <= t``. ``t`` is the smallest genuine distance such that at most a
    fraction ``frr`` of genuine pairs lies strictly above it. Returns ``(far, t)``.
    """
    if not 0 <= frr < 1:
        raise ValueError(f"frr must be in [0, 1), got {frr}")
    gen = torch.sort(dist[genuine]).values
    imp = dist[~genuine]
    if gen.numel() == 0 or imp.numel() == 0:
        raise ValueError("genuine must contain both genuine and impostor pairs")
    # Rejected genuine pairs are those above t: at most floor(frr * n) of them.
    t = gen[gen.numel() - 1 - math.floor(frr * gen.numel() + 1e-9)]
    return float((imp <= t).double().mean()), float(t)


def verification_report(model: nn.Module, x: Tensor, y: Tensor, frr: float = 0.05) -> dict[str, float]:
    """ROC AUC and FAR at a fixed FRR for every unordered pair of ``model``'s embeddings of ``x``."""
    d, genuine = pair_distances(embed(model, x), y)
    far, tar, _ = roc_curve(d, genuine)
    far_fixed, t = far_at_frr(d, genuine, frr)
    return {"auc": roc_auc(far, tar), "far_at_frr": far_fixed, "threshold": t}


def mean_std(values: list[float] | Tensor) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof = 1``; 0 for a single value)."""
    v = torch.as_tensor(values, dtype=torch.float64)
    return float(v.mean()), float(v.std()) if v.numel() > 1 else 0.0



def train_on_split(
    split: DigitSplit,
    miner_name: str,
    seed: int,
    *,
    labels: Tensor | None = None,
    miner_kwargs: dict | None = None,
    **train_kwargs,
) -> tuple[EmbeddingNet, History]:
    """:func:`train_embedding` on ``split``'s training classes with a named miner.

    The miner's generator lives on the data's device and is seeded with ``seed``; nuisance
    columns are redrawn every step. ``labels`` replaces ``split.y_train`` (e.g. noisy labels);
    ``miner_kwargs`` go to :func:`make_miner` (``margin`` and ``dim`` are taken from
    ``train_kwargs`` when given there).
    """
    gen = torch.Generator(device=split.x_train.device).manual_seed(seed)
    kw = {"margin": train_kwargs.get("margin", 0.2), "dim": train_kwargs.get("dim", 16), **(miner_kwargs or {})}
    miner = make_miner(miner_name, generator=gen, **kw)
    y = split.y_train if labels is None else labels
    return train_embedding(split.x_train, y, miner, seed=seed, augment=split.redraw_nuisance, **train_kwargs)
