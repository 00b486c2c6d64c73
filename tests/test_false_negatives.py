"""positive_aware_negatives against a loop oracle, and the filter's properties: sound for every
sign of the positive score (the sentence-transformers #3819 bug), monotone in each margin and
in max_score, -inf candidates (positives) never returned, at most k per query in score order."""

import pytest
import torch
from hypothesis import given, strategies as st

import solutions as S

from . import oracles_false_negatives as O

MARGINS = st.one_of(st.none(), st.sampled_from([0.0, 0.05, 0.125, 0.25, 0.5, 1.0, 2.0]))


@st.composite
def candidate_scores(draw, max_queries: int = 5, max_candidates: int = 9):
    """Scores on a 1/8 grid in [-2, 2] (ties, exact boundary hits, both signs) or fine-grained,
    some -inf; positive scores [Q] or [Q, P] of either sign."""
    q = draw(st.integers(0, max_queries))
    m = draw(st.integers(0, max_candidates))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    if draw(st.booleans()):
        values = st.integers(-16, 16).map(lambda v: v / 8)
    else:
        values = st.floats(-2, 2, allow_nan=False, width=32)
    scores = torch.tensor(draw(st.lists(values, min_size=q * m, max_size=q * m)), dtype=torch.float64).reshape(q, m)
    masked = torch.tensor(draw(st.lists(st.booleans(), min_size=q * m, max_size=q * m)), dtype=torch.bool).reshape(q, m)
    if draw(st.booleans()):
        scores = scores.masked_fill(masked, float("-inf"))
    p = draw(st.sampled_from([None, 1, 3]))
    n_pos = q * (p or 1)
    pos = torch.tensor(draw(st.lists(values, min_size=n_pos, max_size=n_pos)), dtype=torch.float64)
    pos = pos if p is None else pos.reshape(q, p)
    return scores.to(dtype), pos.to(dtype)


def kept_set(out) -> list[set[int]]:
    return [{c for c in row if c >= 0} for row in out.tolist()]


@given(inputs=candidate_scores(), k=st.integers(1, 10), rel=MARGINS, ab=MARGINS, top=st.one_of(st.none(), st.sampled_from([-0.5, 0.0, 0.75])))
def test_matches_the_loop_oracle(inputs, k, rel, ab, top, device):
    scores, pos = inputs
    got = S.positive_aware_negatives(scores.to(device), pos.to(device), k, rel, ab, top)
    assert got.dtype == torch.int64 and got.shape == (scores.shape[0], k) and got.device.type == device
    assert got.cpu().tolist() == O.positive_aware_negatives(scores, pos, k, rel, ab, top)


@given(inputs=candidate_scores(), k=st.integers(1, 10), rel=MARGINS, ab=MARGINS, top=st.one_of(st.none(), st.sampled_from([-0.5, 0.0, 0.75])))
def test_output_is_sound_ordered_unique_and_never_a_masked_candidate(inputs, k, rel, ab, top):
    scores, pos = inputs
    out = S.positive_aware_negatives(scores, pos, k, rel, ab, top)
    ref = pos if pos.dim() == 1 else pos.min(dim=1).values
    for q, row in enumerate(out.tolist()):
        real = [c for c in row if c >= 0]
        assert row == real + [-1] * (k - len(real)) and len(set(real)) == len(real)
        vals = [scores[q, c].item() for c in real]
        assert all(v > float("-inf") for v in vals)
        assert vals == sorted(vals, reverse=True)
        for c, v in zip(real, vals):
            if rel is not None or ab is not None:  # any margin keeps negatives at or below the hardest positive
                assert v <= ref[q].item()
            if rel is not None:
                assert v <= ref[q].item() - abs(ref[q].item()) * rel + 1e-6
            if ab is not None:
                assert v + ab <= ref[q].item() + 1e-6
            if top is not None:
                assert v <= top


@given(inputs=candidate_scores(), small=st.sampled_from([0.0, 0.05, 0.25]), extra=st.sampled_from([0.0, 0.125, 0.5, 3.0]))
def test_a_larger_margin_never_keeps_more(inputs, small, extra):
    scores, pos = inputs
    k = max(1, scores.shape[1])
    for name in ("relative_margin", "absolute_margin"):
        loose = kept_set(S.positive_aware_negatives(scores, pos, k, **{name: small}))
        tight = kept_set(S.positive_aware_negatives(scores, pos, k, **{name: small + extra}))
        off = kept_set(S.positive_aware_negatives(scores, pos, k))
        assert all(t <= lo <= o for t, lo, o in zip(tight, loose, off))


@given(inputs=candidate_scores(), lo=st.sampled_from([-1.0, 0.0, 0.5]), extra=st.sampled_from([0.0, 0.125, 1.0]))
def test_a_larger_max_score_never_keeps_fewer(inputs, lo, extra):
    scores, pos = inputs
    k = max(1, scores.shape[1])
    low = kept_set(S.positive_aware_negatives(scores, pos, k, max_score=lo))
    high = kept_set(S.positive_aware_negatives(scores, pos, k, max_score=lo + extra))
    assert all(a <= b for a, b in zip(low, high))


def test_negative_positive_score_keeps_the_threshold_below_it():
    """sentence-transformers #3819: the old threshold s_pos * (1 - m) lies above s_pos when
    s_pos < 0, so a negative at -0.49 survived against a positive at -0.50."""
    scores = torch.tensor([[-0.49, -0.50, -0.52, -0.53, -0.60]], dtype=torch.float64)
    pos = torch.tensor([-0.50], dtype=torch.float64)
    # threshold -0.5 - 0.5 * 0.05 = -0.525: only -0.53 and -0.60 pass
    assert S.positive_aware_negatives(scores, pos, 5, relative_margin=0.05).tolist() == [[3, 4, -1, -1, -1]]
    old_threshold = -0.50 * (1 - 0.05)
    assert scores[0, 0] <= old_threshold  # the buggy rule would have kept -0.49
    # positive scores: 95 % of s_pos
    scores = torch.tensor([[0.95, 0.951, 0.9, 0.99]], dtype=torch.float64)
    assert S.positive_aware_negatives(scores, torch.tensor([1.0], dtype=torch.float64), 4, relative_margin=0.05).tolist() == [[0, 2, -1, -1]]


def test_several_positives_use_the_hardest():
    scores = torch.tensor([[0.7, 0.5, 0.3, 0.1]])
    pos = torch.tensor([[0.9, 0.4, 0.8]])
    assert S.positive_aware_negatives(scores, pos, 4, absolute_margin=0.0).tolist() == [[2, 3, -1, -1]]
    assert S.positive_aware_negatives(scores, pos, 4, absolute_margin=0.15).tolist() == [[3, -1, -1, -1]]


def test_masked_positives_are_never_returned_and_no_margin_is_plain_top_k():
    scores = torch.tensor([[0.9, float("-inf"), 0.8, 0.8, 0.2], [float("-inf")] * 5])
    pos = torch.tensor([0.95, 0.5])
    assert S.positive_aware_negatives(scores, pos, 3).tolist() == [[0, 2, 3], [-1, -1, -1]]
    assert S.positive_aware_negatives(torch.zeros(0, 4), torch.zeros(0), 2).shape == (0, 2)
    assert S.positive_aware_negatives(torch.zeros(2, 0), torch.zeros(2), 2).tolist() == [[-1, -1], [-1, -1]]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(scores=torch.zeros(2)), "scores"),
        (dict(scores=torch.tensor([[0.0, float("nan")], [0.0, 0.0]])), "scores"),
        (dict(scores=torch.tensor([[0.0, float("inf")], [0.0, 0.0]])), "scores"),
        (dict(scores=torch.zeros(2, 2, dtype=torch.int64)), "scores"),
        (dict(positive_scores=torch.zeros(3)), "positive_scores"),
        (dict(positive_scores=torch.zeros(2, 0)), "positive_scores"),
        (dict(positive_scores=torch.zeros(2, dtype=torch.float64)), "positive_scores"),
        (dict(positive_scores=torch.tensor([0.0, float("-inf")])), "positive_scores"),
        (dict(positive_scores=[0.0, 0.0]), "positive_scores"),
        (dict(k=0), "k"),
        (dict(relative_margin=-0.1), "relative_margin"),
        (dict(relative_margin=float("nan")), "relative_margin"),
        (dict(absolute_margin=-1e-9), "absolute_margin"),
        (dict(max_score=float("inf")), "max_score"),
        (dict(max_score="1"), "max_score"),
    ],
)
def test_rejects_bad_input_naming_the_argument(kwargs, name):
    args = dict(scores=torch.zeros(2, 2), positive_scores=torch.zeros(2), k=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        S.positive_aware_negatives(**args)
