"""Classical item analysis of a scored test: pure functions, no I/O.

The input is an ``items x respondents`` matrix of scores: 0/1 for right/wrong (quiz
questions) or points (an exercise's properties), ``NaN`` where a respondent did not get the
item (each quiz attempt draws 8 questions of a larger bank). For each item:

* **difficulty**: the mean score over the respondents who got the item, divided by the
  item's maximum score: the proportion correct for 0/1 items (high = easy);
* **discrimination**: the corrected item-total correlation, i.e. the Pearson correlation,
  over those respondents, between the item's score and the respondent's *rest score*: the
  share of the points available on the other items they got (``sum of their scores /
  sum of their maximum scores``), the item itself left out. For 0/1 items this is the
  point-biserial correlation. When every respondent got every item the rest score is a
  linear function of the classic rest total (the total minus the item), so the value is
  the classic one. ``NaN`` when it is undefined (fewer than 2 respondents, or no spread in
  the item's scores or in the rest scores);
* **flagged** when the discrimination is negative: respondents who did well elsewhere did
  worse on this item, which usually means a wrong key or an ambiguous item.

:func:`option_counts` counts how often each option (each distractor) was chosen.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ItemStats:
    item: str
    n: int
    difficulty: float
    discrimination: float
    flagged: bool


def _matrix(scores, name: str = "scores") -> np.ndarray:
    try:
        m = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric items x respondents matrix") from None
    if m.ndim != 2:
        raise ValueError(f"{name} must be 2-d (items x respondents), got {m.ndim}-d")
    if np.isinf(m).any():
        raise ValueError(f"{name} must be finite where given (use NaN for 'not presented')")
    return m


def rest_scores(scores, max_scores: Sequence[float] | None = None) -> np.ndarray:
    """``items x respondents``: each respondent's share of the points on the *other* items they
    got (NaN where they got no other item)."""
    m = _matrix(scores)
    top = _max_scores(m, max_scores)
    present = ~np.isnan(m)
    got = np.where(present, m, 0.0).sum(axis=0)                       # [respondents]
    possible = (present * top[:, None]).sum(axis=0)                    # [respondents]
    rest_got = got[None, :] - np.where(present, m, 0.0)
    rest_possible = possible[None, :] - present * top[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rest_possible > 0, rest_got / np.where(rest_possible > 0, rest_possible, 1.0), np.nan)


def _max_scores(m: np.ndarray, max_scores: Sequence[float] | None) -> np.ndarray:
    if max_scores is None:
        return np.ones(m.shape[0])
    top = np.asarray(max_scores, dtype=np.float64)
    if top.shape != (m.shape[0],) or not (top > 0).all() or not np.isfinite(top).all():
        raise ValueError(f"max_scores must be {m.shape[0]} positive numbers, one per item")
    return top


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 2:
        return math.nan
    dx, dy = x - x.mean(), y - y.mean()
    sxx, syy = float((dx * dx).sum()), float((dy * dy).sum())
    if sxx <= 0 or syy <= 0:
        return math.nan
    return float((dx * dy).sum() / math.sqrt(sxx * syy))


def analyse(scores, items: Sequence[str] | None = None, max_scores: Sequence[float] | None = None) -> list[ItemStats]:
    """Difficulty, discrimination and the negative-discrimination flag of every item (row)."""
    m = _matrix(scores)
    names = [str(i) for i in range(m.shape[0])] if items is None else [str(i) for i in items]
    if len(names) != m.shape[0]:
        raise ValueError(f"items must name every row: {m.shape[0]} rows, {len(names)} names")
    top = _max_scores(m, max_scores)
    rest = rest_scores(m, top)
    out = []
    for i, name in enumerate(names):
        got = ~np.isnan(m[i])
        n = int(got.sum())
        difficulty = float(m[i, got].mean() / top[i]) if n else math.nan
        both = got & ~np.isnan(rest[i])
        r = _pearson(m[i, both], rest[i, both])
        out.append(ItemStats(name, n, difficulty, r, bool(r < 0)))
    return out


def option_counts(choices: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """``{item: {option: times chosen}}`` from ``(item, option)`` pairs, options by count then name."""
    counts: dict[str, Counter] = {}
    for item, option in choices:
        counts.setdefault(str(item), Counter())[str(option)] += 1
    return {item: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for item, c in sorted(counts.items())}
