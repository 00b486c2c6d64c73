"""Proxy losses, the mining-free baseline: one learned proxy per class replaces the pairs.

Both losses read cosines between L2-normalised embeddings and proxies and are evaluated in
log space, so no sample is dropped or capped at large scales (pytorch-metric-learning's
``ProxyNCALoss`` drops samples whose class probability underflows; the official Proxy
Anchor code overflows at alpha = 100).
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import _checks, _cosine, _logspace


def _cosines(embeddings: object, labels: object, proxies: object) -> tuple[Tensor, Tensor]:
    """Validated ``[B, C]`` cosines and int64 labels in ``[0, C)``."""
    v = _cosine.unit_rows("proxies", proxies, min_rows=1)
    cos = _cosine.cosine_matrix("embeddings", embeddings, "proxies", v)
    lab = _checks.labels(labels, cos.shape[0])
    _checks.same_device("labels", lab, "embeddings", cos)
    if lab.numel() and not bool(((lab >= 0) & (lab < v.shape[0])).all()):
        raise ValueError(f"labels must be class ids in [0, {v.shape[0]}) (one proxy per class)")
    return cos, lab.long()


def proxy_nca_loss(embeddings: Tensor, labels: Tensor, proxies: Tensor, softmax_scale: float = 1.0) -> Tensor:
    """Proxy-NCA with the positive proxy in the denominator (the form implementations use).

    Per sample ``x`` of class ``y``, with ``d_c = ||x/|x| - p_c/|p_c| ||^2 = 2 - 2 cos(x, p_c)``::

        l(x) = -log softmax_c(-softmax_scale * d_c)[y] = logsumexp_c(2 s cos_c) - 2 s cos_y

    averaged over every sample: none is ever dropped (``l >= 0``, finite at any scale).
    Equals pytorch-metric-learning's ``ProxyNCALoss(softmax_scale=s)`` wherever no sample's
    class probability underflows there.

    Args:
        embeddings: ``[B, D]``, proxies: ``[C, D]`` (``C >= 1``): finite floating tensors of one
            dtype and device, no all-zero row. labels: ``[B]`` integers in ``[0, C)``.
        softmax_scale: ``> 0``.

    Returns:
        0-d tensor; exactly 0, still connected to the inputs, for an empty batch.
    """
    cos, lab = _cosines(embeddings, labels, proxies)
    scale = _checks.positive_number("softmax_scale", softmax_scale)
    if cos.shape[0] == 0:
        return cos.sum() * 0.0
    logits = (2 * scale) * cos
    per_sample = torch.logsumexp(logits, dim=1) - logits.gather(1, lab[:, None]).squeeze(1)
    return per_sample.mean()


def proxy_anchor_loss(
    embeddings: Tensor, labels: Tensor, proxies: Tensor, alpha: float = 32.0, delta: float = 0.1
) -> Tensor:
    """Proxy Anchor (Kim et al. 2020). With ``s(x, p)`` the cosine, ``P`` all proxies,
    ``P+`` the proxies with at least one sample of their class in the batch::

        l = 1/|P+| sum_{p in P+} log(1 + sum_{x of p's class}     e^{-alpha (s(x,p) - delta)})
          + 1/|P|  sum_{p in P}  log(1 + sum_{x not of p's class} e^{ alpha (s(x,p) + delta)})

    each ``log(1 + sum e^z)`` evaluated as ``softplus(logsumexp z)``: finite for any alpha.
    A proxy without positives contributes 0 to the first term (and is not counted in ``|P+|``);
    the first term is 0 for an empty batch.

    Args:
        embeddings: ``[B, D]``, proxies: ``[C, D]`` (``C >= 1``): finite floating tensors of one
            dtype and device, no all-zero row. labels: ``[B]`` integers in ``[0, C)``.
        alpha: scale ``> 0`` (paper: 32). delta: margin ``>= 0`` (paper: 0.1).

    Returns:
        0-d tensor in the inputs' dtype, connected to embeddings and proxies.
    """
    cos, lab = _cosines(embeddings, labels, proxies)
    a = _checks.positive_number("alpha", alpha)
    m = _checks.real_number("delta", delta)
    if m < 0:
        raise ValueError(f"delta must be >= 0, got {m}")
    c = cos.shape[1]
    own = (lab[:, None] == torch.arange(c, device=cos.device)[None, :]).T  # [C, B]
    cos_t = cos.T
    pos_term = _logspace.softplus(_logspace.masked_logsumexp(-a * (cos_t - m), own))
    neg_term = _logspace.softplus(_logspace.masked_logsumexp(a * (cos_t + m), ~own))
    n_with_pos = int(own.any(dim=1).sum())
    first = pos_term.sum() / n_with_pos if n_with_pos else pos_term.sum() * 0.0
    return first + neg_term.sum() / c
