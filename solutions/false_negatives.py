"""Positive-aware negative selection: hard negatives from a retrieved candidate list, with the
false-negative filters of NV-Retriever (TopK-PercPos, TopK-MarginPos, TopK-Abs).

A "negative" ranked above the query's own positive is often a positive in disguise (a
duplicate, the same item, a mislabel). These rules drop candidates scoring too close to the
positive before the top ``k`` are taken; the threshold is sound for every sign of the
positive score (sentence-transformers issue #3819 had it reversed for negative scores).
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import _checks, _masks


def _optional_margin(name: str, value: object) -> float | None:
    if value is None:
        return None
    v = _checks.real_number(name, value)
    if v < 0:
        raise ValueError(f"{name} must be >= 0 (or None), got {v}")
    return v


def positive_aware_negatives(
    scores: Tensor,
    positive_scores: Tensor,
    k: int,
    relative_margin: float | None = None,
    absolute_margin: float | None = None,
    max_score: float | None = None,
) -> Tensor:
    """The ``k`` highest-scoring candidates per query that pass every filter that is set.

    With ``s_ref`` the query's *minimum* positive score (the hardest positive), a candidate
    ``c`` with score ``s`` is dropped when (each rule only if its argument is not None)::

        absolute_margin:  s + absolute_margin > s_ref                 (TopK-MarginPos)
        relative_margin:  s > s_ref - |s_ref| * relative_margin       (TopK-PercPos; 0.05 keeps s <= 95 % of s_ref
                                                                        for s_ref > 0, and stays below s_ref for s_ref < 0)
        max_score:        s > max_score                               (TopK-Abs)

    Candidates scored ``-inf`` are never returned: mask the query's positives (and the query
    itself, in a corpus that holds it) that way. Comparisons are made in ``scores``' dtype.

    Args:
        scores: ``[Q, M]`` floating scores of ``M`` candidates per query, finite or ``-inf``.
        positive_scores: ``[Q]`` or ``[Q, P]`` (``P >= 1``) finite scores of each query's
            positives, same dtype and device as ``scores``.
        k: ``>= 1``. relative_margin, absolute_margin: ``>= 0`` or None. max_score: real or None.

    Returns:
        int64 ``[Q, k]`` candidate indices on ``scores``' device, in decreasing score (ties:
        smallest index first), padded with ``-1`` when fewer than ``k`` pass.
    """
    s = _checks.floating("scores", scores, 2)
    if s.numel() and bool((torch.isnan(s) | (s == float("inf"))).any()):
        raise ValueError("scores must be finite or -inf (found NaN or +inf)")
    ps = _checks.tensor("positive_scores", positive_scores)
    if not ps.is_floating_point() or ps.dim() not in (1, 2):
        raise ValueError(
            f"positive_scores must be a floating [Q] or [Q, P] tensor, got dtype {ps.dtype} and shape {tuple(ps.shape)}"
        )
    if ps.shape[0] != s.shape[0] or (ps.dim() == 2 and ps.shape[1] == 0):
        raise ValueError(
            f"positive_scores must have {s.shape[0]} rows (one per query) and at least one column, got shape {tuple(ps.shape)}"
        )
    if ps.dtype != s.dtype:
        raise ValueError(f"positive_scores must have the dtype of scores ({s.dtype}), got {ps.dtype}")
    _checks.same_device("positive_scores", ps, "scores", s)
    if ps.numel() and not bool(torch.isfinite(ps).all()):
        raise ValueError("positive_scores must be finite (found NaN or inf)")
    k = _checks.integer("k", k, 1)
    rel = _optional_margin("relative_margin", relative_margin)
    ab = _optional_margin("absolute_margin", absolute_margin)
    top = None if max_score is None else _checks.real_number("max_score", max_score)

    s = s.detach()
    ref = (ps if ps.dim() == 1 else ps.min(dim=1).values).detach()[:, None]
    keep = s > float("-inf")
    if ab is not None:
        keep &= ~(s + ab > ref)
    if rel is not None:
        keep &= ~(s > ref - ref.abs() * rel)
    if top is not None:
        keep &= ~(s > top)
    return _masks.top_k_kept(s, keep, k)
