"""InfoNCE-family losses on cosine similarities: supervised NT-Xent, hardness-weighted
debiased InfoNCE (HCL), and the top-k negatives a "mined" NT-Xent keeps.

Every loss is computed in log space from ``s = cosine / temperature``: there is no
``exp(s)`` that can overflow and no ``+ tiny`` that caps the loss, so hard pairs keep
their gradient at any temperature ``>= 1e-4`` in float32. Self-pairs are excluded by
index, never by value.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import _checks, _cosine, _logspace, _masks


def _negative_set(negatives: object, lab: Tensor) -> Tensor:
    """``[B, B]`` bool mask from ``[B, k]`` negative indices (``-1`` = none); validated."""
    b = lab.shape[0]
    idx = _checks.tensor("negatives", negatives)
    if idx.dtype != torch.int64 or idx.dim() != 2 or idx.shape[0] != b:
        raise ValueError(
            f"negatives must be an int64 [B, k] tensor with B = {b}, got dtype {idx.dtype} and shape {tuple(idx.shape)}"
        )
    _checks.same_device("negatives", idx, "labels", lab)
    if idx.numel() and not bool(((idx >= -1) & (idx < b)).all()):
        raise ValueError(f"negatives must hold indices in [0, {b}) or -1 for none")
    # Column b collects the -1 padding and is dropped.
    mask = torch.zeros(b, b + 1, dtype=torch.bool, device=lab.device)
    mask.scatter_(1, torch.where(idx >= 0, idx, b), True)
    mask = mask[:, :b]
    if bool((mask & _masks.same_label(lab)).any()):
        raise ValueError("negatives must name only negatives of each anchor (a different label, never the anchor)")
    return mask


def ntxent_loss(embeddings: Tensor, labels: Tensor, temperature: float, negatives: Tensor | None = None) -> Tensor:
    """Supervised NT-Xent (normalised temperature-scaled cross-entropy) over positive pairs.

    With ``s[i,j] = cos(x_i, x_j) / temperature``, every positive pair ``(a, p)`` (``a != p``,
    equal labels) contributes ::

        l_ap = logsumexp([s[a,p]] + [s[a,n] for every negative n of a]) - s[a,p]
             = softplus(logsumexp_n s[a,n] - s[a,p])

    and the loss is the mean over positive pairs. Other positives of ``a`` are *not* in the
    denominator (as in pytorch-metric-learning's ``NTXentLoss``, whose per-pair value this
    equals wherever that one is below its float cap ``-log(tiny)``).

    Args:
        embeddings: ``[B, D]`` finite floating tensor, no all-zero row (not necessarily unit).
        labels: ``[B]`` integers. temperature: ``> 0``.
        negatives: optional ``[B, k]`` int64 indices, ``-1`` for none (e.g. from
            :func:`topk_negatives`): anchor ``a``'s denominator keeps only the negatives in row
            ``a`` (a set: a repeated index counts once). Each must be a negative of its anchor.

    Returns:
        0-d tensor in the embeddings' dtype. Exactly 0, still connected to ``embeddings``, when
        there is no positive pair; a pair whose anchor has no negative contributes exactly 0
        and still counts in the mean.
    """
    u = _cosine.unit_rows("embeddings", embeddings)
    lab = _checks.labels(labels, u.shape[0])
    _checks.same_device("labels", lab, "embeddings", u)
    t = _checks.positive_number("temperature", temperature)
    neg = ~_masks.same_label(lab) if negatives is None else _negative_set(negatives, lab)
    pos = _masks.positive_mask(lab)
    n_pos = int(pos.sum())
    if n_pos == 0:
        return u.sum() * 0.0
    s = (u / t) @ u.T
    anchors, positives = pos.nonzero(as_tuple=True)
    return _logspace.softplus(_logspace.masked_logsumexp(s, neg)[anchors] - s[anchors, positives]).mean()


def topk_negatives(sim: Tensor, labels: Tensor, k: int) -> Tensor:
    """Per anchor, the ``k`` most similar negatives, for a "mined" NT-Xent denominator.

    Row ``a`` lists the negatives ``n`` of ``a`` (``labels[n] != labels[a]``) in decreasing
    ``sim[a,n]`` (ties: smallest index first), the first ``k`` of them, padded with ``-1``
    when ``a`` has fewer than ``k`` negatives.

    Args:
        sim: ``[B, B]`` finite floating similarities (larger = more similar); row ``a`` is read
            for anchor ``a`` (need not be symmetric). labels: ``[B]`` integers. k: ``>= 1``.

    Returns:
        int64 ``[B, k]`` on ``sim``'s device (no gradient).
    """
    s = _checks.floating("sim", sim, 2)
    if s.shape[0] != s.shape[1]:
        raise ValueError(f"sim must be a square B x B matrix, got shape {tuple(s.shape)}")
    if s.numel() and not bool(torch.isfinite(s).all()):
        raise ValueError("sim must be finite (found NaN or inf)")
    lab = _checks.labels(labels, s.shape[0])
    _checks.same_device("labels", lab, "sim", s)
    k = _checks.integer("k", k, 1)
    return _masks.top_k_kept(s, ~_masks.same_label(lab), k)


def hard_negative_infonce(
    z1: Tensor, z2: Tensor, temperature: float = 0.5, beta: float = 1.0, tau_plus: float = 0.1
) -> Tensor:
    """Hardness-weighted, debiased InfoNCE (HCL, Robinson et al. 2021) in the SimCLR setting.

    ``z1[i]`` and ``z2[i]`` are two views of item ``i``. The ``2B`` rows of ``[z1; z2]`` are the
    anchors; each has one positive (its other view) and ``N = 2B - 2`` negatives (every other
    row). With ``s = cosine / temperature``, per anchor (the author code's convention: ``beta``
    multiplies ``s``)::

        reweight = N * sum_i e^{(beta+1) s_i} / sum_i e^{beta s_i}     # importance-weighted negatives
        Ng       = max((reweight - tau_plus * N * e^{s+}) / (1 - tau_plus), N * e^{-1/temperature})
        loss     = log(1 + Ng / e^{s+}) = softplus(log Ng - s+)

    averaged over the ``2B`` anchors. Everything is evaluated in log space (no overflow at any
    temperature). ``beta = 0`` is Chuang et al.'s debiased loss, ``beta = tau_plus = 0`` plain
    NT-Xent / SimCLR exactly. With ``tau_plus = 0`` the floor cannot bind (cosines are >= -1),
    so it is not applied. The loss never decreases as ``beta`` grows; as ``beta -> inf`` only
    the hardest negative counts (``reweight -> N max_i e^{s_i}``).

    Args:
        z1, z2: ``[B, D]`` finite floating tensors of equal shape, dtype and device, no all-zero row.
        temperature: ``> 0``. beta: ``>= 0``. tau_plus: class prior in ``[0, 1)``.

    Returns:
        0-d tensor in the inputs' dtype. For ``B <= 1`` (no negative) exactly 0, still
        connected to ``z1`` and ``z2``.
    """
    u1 = _cosine.unit_rows("z1", z1)
    u2 = _cosine.unit_rows("z2", z2)
    if u1.shape != u2.shape:
        raise ValueError(f"z2 must have the shape of z1 {tuple(u1.shape)}, got {tuple(u2.shape)}")
    if u1.dtype != u2.dtype:
        raise ValueError(f"z2 must have the dtype of z1 ({u1.dtype}), got {u2.dtype}")
    _checks.same_device("z2", u2, "z1", u1)
    t = _checks.positive_number("temperature", temperature)
    b_ = _checks.real_number("beta", beta)
    if b_ < 0:
        raise ValueError(f"beta must be >= 0, got {b_}")
    tp = _checks.real_number("tau_plus", tau_plus)
    if not 0 <= tp < 1:
        raise ValueError(f"tau_plus must be in [0, 1), got {tp}")
    b = u1.shape[0]
    if b <= 1:
        return (u1.sum() + u2.sum()) * 0.0
    z = torch.cat([u1, u2])
    s = (z / t) @ z.T
    rows = torch.arange(2 * b, device=z.device)
    partner = (rows + b) % (2 * b)
    s_pos = s[rows, partner]
    n = 2 * b - 2
    not_neg = (rows[None, :] == rows[:, None]) | (rows[None, :] == partner[:, None])
    s_neg = s.masked_fill(not_neg, float("-inf"))  # every row keeps its N >= 2 negatives
    if b_ == 0:
        log_rw = torch.logsumexp(s_neg, dim=1)
    else:
        log_rw = torch.logsumexp((b_ + 1) * s_neg, dim=1) - torch.logsumexp(b_ * s_neg, dim=1) + math.log(n)
    if tp == 0:
        log_ng = log_rw
    else:
        # log r, r = tau_plus N e^{s+} / reweight; the debiased sum is positive iff r < 1.
        log_r = s_pos - log_rw + math.log(tp * n)
        ok = log_r < 0
        debiased = log_rw + _logspace.log1mexp(torch.where(ok, log_r, -1.0)) - math.log1p(-tp)
        log_ng = torch.where(ok, debiased, float("-inf")).clamp(min=math.log(n) - 1.0 / t)
    return _logspace.softplus(log_ng - s_pos).mean()
