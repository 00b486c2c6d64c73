"""Loop oracle for positive_aware_negatives: the rules read literally, one candidate at a time,
with comparisons made in NumPy scalars of the input's dtype (as the reference's tensor arithmetic)."""

from __future__ import annotations

import numpy as np


def positive_aware_negatives(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):
    s = scores.detach().cpu().numpy()
    ps = positive_scores.detach().cpu().numpy()
    f = s.dtype.type
    out = []
    for q in range(s.shape[0]):
        ref = ps[q] if ps.ndim == 1 else min(ps[q])
        kept = []
        for c in range(s.shape[1]):
            v = s[q, c]
            if v == -np.inf:
                continue
            if absolute_margin is not None and v + f(absolute_margin) > ref:
                continue
            if relative_margin is not None and v > ref - abs(ref) * f(relative_margin):
                continue
            if max_score is not None and v > f(max_score):
                continue
            kept.append(c)
        kept.sort(key=lambda c: (-s[q, c], c))
        kept = kept[:k]
        out.append(kept + [-1] * (k - len(kept)))
    return out
