"""Training an embedding with a named loss (triplet, NT-Xent family, proxies) on the same
seeds, batches and budget, and the retrieval scores the lessons compare.

Lessons 08 and 10 compare losses, not miners, so this loop takes a loss by name instead of the
miner of :func:`solutions.experiments.training.train_embedding` (same network, same Adam, same
PK batches):

* ``"triplet"``: batch-hard triplet loss (``margin``), the course's baseline;
* ``"ntxent"``: supervised NT-Xent (``temperature``), every negative in the denominator;
* ``"ntxent-topk"``: NT-Xent whose denominator keeps each anchor's ``top_k`` most similar
  negatives (:func:`solutions.topk_negatives` on the detached cosines);
* ``"hcl"``: hardness-weighted InfoNCE (Robinson et al. 2021; ``beta``, ``tau_plus``), with the
  two images of each item in a ``K = 2`` batch as the two views;
* ``"proxy-nca"`` (``scale``) and ``"proxy-anchor"`` (``alpha``, ``delta``): one learned proxy
  per training class, trained with their own learning rate ``proxy_lr``.

With ``K = 2`` batches, ``"hcl"`` at ``beta = tau_plus = 0`` and ``"ntxent"`` are the same loss.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn

from .. import _checks
from ..contrastive import hard_negative_infonce, ntxent_loss, topk_negatives
from ..distances import pairwise_distances
from ..losses import triplet_margin_loss
from ..metrics import map_at_r, recall_at_k
from ..mining import batch_hard
from ..proxies import proxy_anchor_loss, proxy_nca_loss
from .training import EmbeddingNet, embed, endless_pk_batches, seed_everything

LOSSES = ("triplet", "ntxent", "ntxent-topk", "hcl", "proxy-nca", "proxy-anchor")
DEFAULTS = {"margin": 0.2, "temperature": 0.1, "top_k": 8, "beta": 1.0, "tau_plus": 0.0, "scale": 8.0,
            "alpha": 32.0, "delta": 0.1}

LossFn = Callable[[Tensor, Tensor], Tensor]


def two_views(embeddings: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """``(z1, z2)`` of a batch laid out item by item with two images each (``K = 2``): rows
    ``0, 2, 4, ...`` and ``1, 3, 5, ...``. Raises ``ValueError`` when the batch is not so."""
    b = embeddings.shape[0]
    if b % 2 or not bool((labels[0::2] == labels[1::2]).all()) or torch.unique(labels).numel() != b // 2:
        raise ValueError("labels must hold each item exactly twice, in consecutive rows (PK batches with k = 2)")
    return embeddings[0::2], embeddings[1::2]


def make_loss(name: str, n_classes: int = 0, dim: int = 16, device: str | torch.device = "cpu",
              **hp: float) -> tuple[LossFn, list[Tensor]]:
    """``(loss_fn(embeddings, labels) -> 0-d tensor, learnable parameters)`` for a named loss;
    ``hp`` overrides :data:`DEFAULTS`. Proxy losses need ``n_classes`` (labels ``0 .. n_classes - 1``)
    and draw their proxies from torch's global generator."""
    unknown = set(hp) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"hp must only name {sorted(DEFAULTS)}, got {sorted(unknown)}")
    h = {**DEFAULTS, **hp}
    if name == "triplet":
        def triplet(z: Tensor, y: Tensor) -> Tensor:
            d = pairwise_distances(z)
            return triplet_margin_loss(d, *batch_hard(d, y), h["margin"])
        return triplet, []
    if name == "ntxent":
        return (lambda z, y: ntxent_loss(z, y, h["temperature"])), []
    if name == "ntxent-topk":
        k = _checks.integer("top_k", h["top_k"], 1)

        def mined(z: Tensor, y: Tensor) -> Tensor:
            u = nn.functional.normalize(z.detach(), dim=1)
            return ntxent_loss(z, y, h["temperature"], negatives=topk_negatives(u @ u.T, y, k))
        return mined, []
    if name == "hcl":
        return (lambda z, y: hard_negative_infonce(*two_views(z, y), h["temperature"], h["beta"], h["tau_plus"])), []
    if name in ("proxy-nca", "proxy-anchor"):
        c = _checks.integer("n_classes", n_classes, 1)
        proxies = nn.Parameter(torch.randn(c, dim, device=device))
        if name == "proxy-nca":
            return (lambda z, y: proxy_nca_loss(z, y, proxies, h["scale"])), [proxies]
        return (lambda z, y: proxy_anchor_loss(z, y, proxies, h["alpha"], h["delta"])), [proxies]
    raise ValueError(f"name must be one of {LOSSES}, got {name!r}")


def train_with_loss(
    x: Tensor,
    y: Tensor,
    loss: str,
    *,
    seed: int = 0,
    steps: int = 300,
    p: int = 32,
    k: int = 2,
    batches: Callable[[torch.Generator], Iterator[Tensor]] | None = None,
    lr: float = 1e-3,
    proxy_lr: float = 1e-2,
    dim: int = 16,
    hidden: int = 128,
    **hp: float,
) -> tuple[EmbeddingNet, float]:
    """Train an :class:`~solutions.experiments.training.EmbeddingNet` on ``x [N, F]``, ``y [N]``
    with the named ``loss`` for ``steps`` Adam steps; returns the model and the seconds spent.

    Batches: PK batches of ``p`` classes x ``k`` samples (``batches=None``), or the iterator
    ``batches(generator)`` returns. Seeded by ``seed`` (initialisation, proxies, batches), on
    ``x``'s device; ``hp`` go to :func:`make_loss`.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    device = x.device
    seed_everything(seed)
    model = EmbeddingNet(x.shape[1], hidden, dim).to(device)
    loss_fn, extra = make_loss(loss, int(y.max()) + 1 if y.numel() else 0, dim, device, **hp)
    groups = [{"params": model.parameters(), "lr": lr}] + ([{"params": extra, "lr": proxy_lr}] if extra else [])
    opt = torch.optim.Adam(groups)
    gen = torch.Generator().manual_seed(seed)
    stream = endless_pk_batches(y, p, k, gen) if batches is None else batches(gen)
    start = time.perf_counter()
    for _ in range(steps):
        idx = next(stream).to(device)
        value = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
    return model, time.perf_counter() - start


def retrieval_scores(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, float]:
    """Leave-one-out Recall@1, Recall@5 and MAP@R of ``model``'s embeddings of ``x`` (labels ``y``)."""
    z = embed(model, x)
    r = recall_at_k(z, y, (1, 5))
    return {"r1": r[1], "r5": r[5], "map_r": map_at_r(z, y)}
