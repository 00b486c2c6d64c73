"""The lessons' paired statistics: solutions.experiments.stats.paired_verdict."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, strategies as st

from solutions.experiments.stats import A_BETTER, B_BETTER, NO_DIFFERENCE, paired_verdict, t_quantile

results = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
pairs = st.integers(2, 12).flatmap(
    lambda n: st.tuples(st.lists(results, min_size=n, max_size=n), st.lists(results, min_size=n, max_size=n))
)
SWAP = {A_BETTER: B_BETTER, B_BETTER: A_BETTER, NO_DIFFERENCE: NO_DIFFERENCE}


@given(pairs)
def test_swapping_a_and_b_flips_the_sign_and_the_verdict(ab):
    a, b = ab
    v, w = paired_verdict(a, b), paired_verdict(b, a)
    assert math.isclose(v.mean_diff, -w.mean_diff, abs_tol=1e-12)
    assert math.isclose(v.low, -w.high, abs_tol=1e-9) and math.isclose(v.high, -w.low, abs_tol=1e-9)
    assume(min(abs(v.low), abs(v.high)) > 1e-9)  # a bound at 0 is decided by rounding
    assert w.verdict == SWAP[v.verdict]


@given(pairs, st.floats(-100, 100))
def test_adding_a_constant_to_both_changes_nothing(ab, c):
    a, b = ab
    v, w = paired_verdict(a, b), paired_verdict([x + c for x in a], [y + c for y in b])
    assert math.isclose(v.mean_diff, w.mean_diff, abs_tol=1e-9)
    assert math.isclose(v.high - v.low, w.high - w.low, rel_tol=1e-6, abs_tol=1e-8)
    assume(min(abs(v.low), abs(v.high)) > 1e-6)
    assert v.verdict == w.verdict


@given(pairs)
def test_the_interval_holds_the_mean_and_the_verdict_follows_it(ab):
    a, b = ab
    v = paired_verdict(a, b)
    assert v.low <= v.mean_diff <= v.high
    assert math.isclose(v.mean_diff, sum(x - y for x, y in zip(a, b)) / len(a), abs_tol=1e-9)
    if v.low > 0:
        assert v.verdict == A_BETTER and v.winner == "A"
    elif v.high < 0:
        assert v.verdict == B_BETTER and v.winner == "B"
    else:
        assert v.verdict == NO_DIFFERENCE and v.winner is None
    lower = paired_verdict(a, b, higher_is_better=False)
    assert lower.verdict == SWAP[v.verdict]


@pytest.mark.parametrize("df, q", [(1, 12.706205), (2, 4.302653), (4, 2.776445), (9, 2.262157), (29, 2.045230)])
def test_t_quantiles_match_the_table(df, q):
    assert math.isclose(t_quantile(0.975, df), q, rel_tol=1e-6)


def test_a_worked_example():
    # differences 0.02, 0.01, 0.03, 0.00, 0.04: mean 0.02, sd 0.0158114, t(4) = 2.776445
    v = paired_verdict([0.62, 0.61, 0.63, 0.60, 0.64], [0.60] * 5, names=("batch-hard", "random"))
    half = 2.776445 * 0.0158114 / math.sqrt(5)
    assert math.isclose(v.mean_diff, 0.02) and math.isclose(v.low, 0.02 - half, abs_tol=1e-6)
    assert v.verdict == A_BETTER and v.winner == "batch-hard"
    assert "batch-hard - random: +0.020" in v.text() and "batch-hard better" in v.text()
    assert v.as_dict() == {"a": "batch-hard", "b": "random", "n": 5, "diff": 0.02,
                           "ci": [round(0.02 - half, 4), round(0.02 + half, 4)], "verdict": A_BETTER}
    same = paired_verdict([0.5, 0.6], [0.5, 0.6])
    assert same.verdict == NO_DIFFERENCE and same.low == same.high == 0


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="a and b must hold one result per shared seed"):
        paired_verdict([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2 paired seeds"):
        paired_verdict([1], [2])
    with pytest.raises(ValueError, match="b holds NaN"):
        paired_verdict([1, 2], [1, float("nan")])
    with pytest.raises(ValueError, match="confidence"):
        paired_verdict([1, 2], [1, 2], confidence=1.0)
    with pytest.raises(ValueError, match="a must be a sequence of numbers"):
        paired_verdict(["x", 2], [1, 2])
