"""Paired comparisons for the lessons: every sentence that ranks two methods rests on one.

Runs share seeds across methods (same initialisation, same batches), so the right test is on
the *paired* per-seed differences ``d_i = a_i - b_i``: their mean, with a two-sided Student-t
interval ``mean +- t_{(1+c)/2, n-1} * sd / sqrt(n)``. When the interval contains 0 the verdict
is "no measurable difference"; otherwise the better method is named, where "better" follows
``higher_is_better`` (Recall, MAP@R: higher; error rates: lower).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from scipy import stats as _scipy_stats

A_BETTER, B_BETTER, NO_DIFFERENCE = "A better", "B better", "no measurable difference"


@dataclass(frozen=True)
class PairedVerdict:
    """The paired comparison of method A with method B over ``n`` shared seeds."""

    a: str
    b: str
    n: int
    mean_diff: float  # mean of a_i - b_i
    low: float
    high: float
    verdict: str  # A_BETTER, B_BETTER or NO_DIFFERENCE
    confidence: float = 0.95

    @property
    def winner(self) -> str | None:
        """The better method's name, or None when there is no measurable difference."""
        return {A_BETTER: self.a, B_BETTER: self.b}.get(self.verdict)

    def text(self, digits: int = 3, word: str = "better") -> str:
        """One line to print next to the sentence it supports; ``word`` names the direction
        (``"better"``, or ``"higher"``/``"farther"`` where the comparison is not a ranking)."""
        f = f"{{:+.{digits}f}}"
        outcome = f"{self.winner} {word}" if self.winner else NO_DIFFERENCE
        return (f"{self.a} - {self.b}: {f.format(self.mean_diff)} "
                f"({self.confidence:.0%} CI [{f.format(self.low)}, {f.format(self.high)}], "
                f"{self.n} paired seeds) -> {outcome}")

    def as_dict(self, digits: int = 4) -> dict:
        """For a lesson's KEY-RESULTS line: the difference, its interval and the verdict."""
        return {
            "a": self.a, "b": self.b, "n": self.n,
            "diff": round(self.mean_diff, digits),
            "ci": [round(self.low, digits), round(self.high, digits)],
            "verdict": self.verdict,
        }

    def __str__(self) -> str:
        return self.text()


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(_scipy_stats.t.ppf(p, df))


def _values(name: str, values: Sequence[float]) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers, one per seed") from None
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} holds NaN or inf; every seed needs a finite result")
    return out


def paired_verdict(a: Sequence[float], b: Sequence[float], *, names: tuple[str, str] = ("A", "B"),
                   higher_is_better: bool = True, confidence: float = 0.95) -> PairedVerdict:
    """Compare per-seed results ``a[i]`` and ``b[i]`` (the same seed ``i`` for both methods).

    Raises ``ValueError`` naming the argument for unequal lengths, fewer than two seeds,
    non-finite values or a confidence outside (0, 1).
    """
    xs, ys = _values("a", a), _values("b", b)
    if len(xs) != len(ys):
        raise ValueError(f"a and b must hold one result per shared seed: got {len(xs)} and {len(ys)}")
    if len(xs) < 2:
        raise ValueError(f"a and b need at least 2 paired seeds for an interval, got {len(xs)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    n = len(xs)
    diffs = [x - y for x, y in zip(xs, ys)]
    mean = math.fsum(diffs) / n
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = t_quantile((1 + confidence) / 2, n - 1) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    if low <= 0 <= high:
        verdict = NO_DIFFERENCE
    else:
        a_ahead = (low > 0) == higher_is_better
        verdict = A_BETTER if a_ahead else B_BETTER
    return PairedVerdict(names[0], names[1], n, mean, low, high, verdict, confidence)
