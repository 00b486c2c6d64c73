"""Properties of ``positive_aware_negatives(scores, positive_scores, k, relative_margin=None,
absolute_margin=None, max_score=None)``.

The rule inputs are scores on a 1/8 grid in [-2, 2] (ties, and candidates exactly on a
threshold), positive scores of both signs, ``-inf`` for masked candidates, and margins that
are multiples of 1/8 (or 2): every threshold is then exact in float32 and float64, so
``s_ref - |s_ref| * m``, ``s_ref * (1 + m)`` for ``s_ref < 0`` and every other right way to
write it agree to the last bit, and the rules can be exact.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

import solutions
from grader.engine import Case, CheckFailed, Exercise, Property
from grader.sandbox import codec
from grader.suites import generic
from grader.suites._common import agrees, edge_property, guarded, scale_checked, tensor, unchanged_property
from grader.suites.strategies import FLOAT_DTYPES, byte_values

PARAMS = ("scores", "positive_scores", "k", "relative_margin", "absolute_margin", "max_score")
RELATIVE = (0.0, 0.125, 0.25, 0.5, 1.0, 2.0)
ABSOLUTE = (0.0, 0.125, 0.25, 0.5, 1.0)


def _grid(draw, n: int) -> torch.Tensor:
    """``n`` multiples of 1/8 in [-2, 2] (small bytes give small magnitudes of either sign)."""
    return (torch.tensor(byte_values(draw, n), dtype=torch.float64) % 33 - 16) / 8


@st.composite
def _inputs(draw, min_q: int = 1, max_q: int = 5, min_m: int = 1, max_m: int = 10):
    q, m = draw(st.integers(min_q, max_q)), draw(st.integers(min_m, max_m))
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    scores = _grid(draw, q * m).reshape(q, m)
    masked = torch.tensor([v % 5 == 4 for v in byte_values(draw, q * m)], dtype=torch.bool).reshape(q, m)
    scores = scores.masked_fill(masked, float("-inf"))
    p = draw(st.integers(0, 3))  # 0: a [Q] vector
    positives = _grid(draw, q * max(p, 1)).reshape(q, p) if p else _grid(draw, q)
    k = draw(st.integers(1, m + 2))
    rel = draw(st.one_of(st.none(), st.sampled_from(RELATIVE)))
    ab = draw(st.one_of(st.none(), st.sampled_from(ABSOLUTE)))
    top = draw(st.one_of(st.none(), st.integers(-12, 12).map(lambda v: v / 8)))
    return [scores.to(dtype), positives.to(dtype), k, rel, ab, top]


inputs = _inputs()
# The sign rule: a relative margin, and positive scores mostly below 0.
negative_positives = _inputs().filter(lambda a: a[3] is not None).map(
    lambda a: [a[0], -a[1].abs() if bool((a[1] >= 0).all()) else a[1], *a[2:]])
edge_inputs = _inputs(min_q=0, max_q=2, min_m=0, max_m=3)


def _rows(case: Case) -> torch.Tensor:
    """The answer as an int64 ``[Q, k]`` CPU tensor of indices in ``[-1, M)``."""
    out = tensor(case.actual, "the result")
    scores, k = case.args[0], case.args[2]
    q, m = scores.shape
    if out.is_floating_point() or out.dtype == torch.bool or out.is_complex():
        raise CheckFailed(f"the result must be an integer tensor of indices, got dtype {out.dtype}")
    if tuple(out.shape) != (q, k):
        raise CheckFailed(f"expected shape ({q}, {k}) (one row of k indices per query), got {tuple(out.shape)}")
    out = out.detach().cpu().long()
    if out.numel() and not bool(((out >= -1) & (out < m)).all()):
        raise CheckFailed(f"every entry must be a candidate index in [0, {m}) or the padding -1")
    return out


def _reference_scores(case: Case) -> torch.Tensor:
    """``[Q, 1]``: each query's minimum positive score."""
    ps = case.args[1]
    return (ps if ps.dim() == 1 else ps.min(dim=1).values)[:, None]


def passing(args: list) -> torch.Tensor:
    """``[Q, M]`` bool: candidates that pass every filter that is set (in the scores' dtype)."""
    s, ps, _, rel, ab, top = args
    ref = (ps if ps.dim() == 1 else ps.min(dim=1).values)[:, None]
    keep = s > float("-inf")
    if ab is not None:
        keep &= ~(s + ab > ref)
    if rel is not None:
        keep &= ~(s > ref - ref.abs() * rel)
    if top is not None:
        keep &= ~(s > top)
    return keep


def _returned(case: Case):
    """``(query, slot, candidate)`` of every non-padding entry."""
    rows = _rows(case)
    q, slot = (rows >= 0).nonzero(as_tuple=True)
    return rows, q, slot, rows[q, slot]


@guarded
def shape_dtype_device(case: Case) -> str | None:
    """An int64 [Q, k] tensor on scores' device."""
    out = tensor(case.actual, "the result")
    q, k = case.args[0].shape[0], case.args[2]
    if out.dtype != torch.int64 or tuple(out.shape) != (q, k):
        return f"expected an int64 tensor of shape ({q}, {k}), got {out.dtype} {tuple(out.shape)}"
    if codec.device_of(out) != case.device:
        return f"the result is on {codec.device_of(out)}, but the inputs were on {case.device}"
    return None


@guarded
def relative_margin_sound(case: Case) -> str | None:
    """With relative_margin, every returned candidate scores s <= s_ref - |s_ref| * relative_margin
    (s_ref: the query's minimum positive score), whatever the sign of s_ref."""
    rel = case.args[3]
    if rel is None:
        return None
    _, q, _, c = _returned(case)
    s = case.args[0].double()
    ref = _reference_scores(case).double()[:, 0]
    limit = ref - ref.abs() * rel
    bad = (s[q, c] > limit[q]).nonzero().flatten().tolist()
    if bad:
        i = bad[0]
        qi, ci = int(q[i]), int(c[i])
        return (f"query {qi}: candidate {ci} scores {s[qi, ci].item()!r}, above the threshold s_ref - |s_ref| * "
                f"relative_margin = {limit[qi].item()!r} (s_ref = {ref[qi].item()!r}, the smallest positive score); "
                "for a negative s_ref the threshold is below s_ref too: a margin only ever removes candidates")
    return None


@guarded
def absolute_and_max_score(case: Case) -> str | None:
    """Every returned candidate has s + absolute_margin <= s_ref and s <= max_score (each when set)."""
    _, _, ab, top = case.args[2:]
    if ab is None and top is None:
        return None
    _, q, _, c = _returned(case)
    s = case.args[0].double()[q, c]
    ref = _reference_scores(case).double()[:, 0][q]
    for i in range(s.shape[0]):
        if ab is not None and s[i] + ab > ref[i]:
            return (f"query {int(q[i])}: candidate {int(c[i])} scores {s[i].item()!r}, and {s[i].item()!r} + "
                    f"absolute_margin {ab!r} > s_ref = {ref[i].item()!r} (the smallest positive score)")
        if top is not None and s[i] > top:
            return f"query {int(q[i])}: candidate {int(c[i])} scores {s[i].item()!r} > max_score = {top!r}"
    return None


@guarded
def masked_never_returned(case: Case) -> str | None:
    """Candidates scored -inf (the query's masked positives, or itself) are never returned."""
    _, q, _, c = _returned(case)
    s = case.args[0]
    bad = (s[q, c] == float("-inf")).nonzero().flatten().tolist()
    if bad:
        i = bad[0]
        return (f"query {int(q[i])}: candidate {int(c[i])} is scored -inf (masked: a positive of the query) but was "
                "returned; pad with -1 instead")
    return None


@guarded
def hardest_kept(case: Case) -> str | None:
    """Each query returns min(k, number passing) candidates, and no passing candidate left out
    scores higher than one returned."""
    rows = _rows(case)
    ok = passing(case.args)
    s = case.args[0].double()
    k = case.args[2]
    for qi in range(rows.shape[0]):
        got = [c for c in rows[qi].tolist() if c >= 0]
        want = min(k, int(ok[qi].sum()))
        if len(got) != want:
            return (f"query {qi}: {int(ok[qi].sum())} candidates pass the filters and k = {k}, so {want} must be "
                    f"returned, got {len(got)}: {rows[qi].tolist()}")
        if not got:
            continue
        low = s[qi, got].min()
        left = [c for c in ok[qi].nonzero().flatten().tolist() if c not in got and s[qi, c] > low]
        if left:
            return (f"query {qi}: candidate {left[0]} passes the filters with score {s[qi, left[0]].item()!r}, higher "
                    f"than a returned one ({low.item()!r}): return the k highest-scoring passing candidates")
    return None


@guarded
def score_order(case: Case) -> str | None:
    """Each row lists its candidates by decreasing score, equal scores by increasing index (also
    at the k-th place), then the -1 padding."""
    rows = _rows(case)
    s = case.args[0].double()
    ok = passing(case.args)
    for qi in range(rows.shape[0]):
        row = rows[qi].tolist()
        got = [c for c in row if c >= 0]
        if row[:len(got)] != got:
            return f"query {qi}: {row}: the -1 padding must come after every returned candidate"
        for a, b in zip(got, got[1:]):
            if not (s[qi, a] > s[qi, b] or (s[qi, a] == s[qi, b] and a < b)):
                return (f"query {qi}: {row}: candidate {a} (score {s[qi, a].item()!r}) is listed before {b} "
                        f"(score {s[qi, b].item()!r}); order by decreasing score, equal scores by increasing index")
        if got:
            last = got[-1]
            tied = [c for c in ok[qi].nonzero().flatten().tolist()
                    if c not in got and s[qi, c] == s[qi, last] and c < last]
            if tied:
                return (f"query {qi}: {row}: candidate {tied[0]} ties with candidate {last} (score "
                        f"{s[qi, last].item()!r}) and has the smaller index, so it comes first and is kept")
    return None


@guarded
def matches_reference(case: Case) -> str | None:
    """The reference's indices."""
    rows = _rows(case)
    want = case.expected.cpu()
    if not torch.equal(rows, want):
        qi = int((rows != want).any(dim=1).nonzero()[0])
        return f"query {qi}: got {rows[qi].tolist()}, the reference returns {want[qi].tolist()}"
    return None


def _readable(case: Case) -> None:
    """The result is a [Q, k] integer tensor of indices in [-1, M)."""
    _rows(case)
    return None


def _substantive(case: Case) -> bool | None:
    """Telling when the reference returns a candidate; substantive when the answer returns one."""
    if not bool((case.expected >= 0).any()):
        return None
    return bool((_rows(case) >= 0).any())


def ordinary(args) -> bool:
    """At least one query and one candidate."""
    return args[0].shape[0] >= 1 and args[0].shape[1] >= 1


def _structure(summary) -> str | None:
    from grader.sandbox.scale import PAN_QUERIES, PAN_K

    if not isinstance(summary, dict) or summary.get("tensor") != "int64":
        return "expected an int64 tensor"
    return None if summary.get("shape") == [PAN_QUERIES, PAN_K] else f"expected shape ({PAN_QUERIES}, {PAN_K})"


# -- agreement with the reference (issue #20) -------------------------------------------
GENERIC = generic.candidate_inputs()


def _same_as_reference(case: Case) -> str | None:
    return matches_reference(case)


AGREEMENT = agrees(_same_as_reference, telling=lambda case: bool((case.expected >= 0).any()))


@scale_checked
def _scale_agreement(args: list, actual, expected) -> str | None:
    """The scale answer equals the reference's indices exactly (the scale scores are multiples of
    2^-10 and the margins dyadic, so every threshold is exact)."""
    out = tensor(actual, "the result")
    if out.is_floating_point() or out.dtype == torch.bool or tuple(out.shape) != tuple(expected.shape):
        raise CheckFailed(f"expected an integer tensor of shape {tuple(expected.shape)}, got {out.dtype} {tuple(out.shape)}")
    got, want = out.detach().cpu().long(), expected.detach().cpu()
    differ = (got != want).any(dim=1)
    if bool(differ.any()):
        qi = int(differ.nonzero()[0])
        return (f"{int(differ.sum())} of {want.shape[0]} queries differ from the reference's, e.g. query {qi}: "
                f"{got[qi].tolist()}, the reference's is {want[qi].tolist()}")
    return None


SCALE_AGREEMENT = _scale_agreement


EXERCISE = Exercise(
    id="positive_aware_negatives",
    reference=solutions.positive_aware_negatives,
    params=PARAMS,
    defaults={"relative_margin": None, "absolute_margin": None, "max_score": None},
    summary="The k hardest retrieved candidates per query that pass the false-negative filters.",
    structure=_structure,
    ordinary=ordinary,
    substantive=_substantive,
    generic=GENERIC,
    agreement=AGREEMENT,
    scale_agreement=SCALE_AGREEMENT,
    properties=(
        Property("shape_dtype_device", 1, "An int64 [Q, k] tensor on scores' device.", inputs, shape_dtype_device),
        Property("relative_margin_sound", 1.5, "With relative_margin, every returned candidate scores at most "
                 "s_ref - |s_ref| * relative_margin (s_ref: the smallest positive score), for every sign of s_ref.",
                 negative_positives, relative_margin_sound),
        Property("absolute_and_max_score", 1, "Every returned candidate has s + absolute_margin <= s_ref and "
                 "s <= max_score (each when set).", inputs, absolute_and_max_score),
        Property("masked_never_returned", 1, "Candidates scored -inf (masked positives) are never returned.",
                 inputs, masked_never_returned),
        Property("hardest_kept", 1.5, "min(k, passing) candidates per query, and no passing candidate left out "
                 "scores higher than a returned one.", inputs, hardest_kept),
        Property("score_order", 1, "Decreasing score, equal scores by increasing index (also at the k-th place), "
                 "then the -1 padding.", inputs, score_order),
        unchanged_property(inputs, PARAMS, _readable),
        Property("handles_edge_cases", 0.5, "Accepts every valid input (no query, no candidate, every candidate "
                 "masked, k larger than the candidates) without raising.", edge_inputs, guarded(_readable), edge=True),
        Property("matches_reference", 1, "The reference's indices.", inputs, matches_reference, visibility="hidden"),
        Property("scale", 1, "Vectorised: 131072 queries x 32 candidates, k = 8, within 10x the reference's time "
                 "(at least 2 s).", scale=True),
    ),
)
