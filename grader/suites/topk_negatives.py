"""Properties of ``topk_negatives(sim, labels, k)``.

The similarities are drawn on a 1/8 grid (exact ties), fine-grained, or as cosines of
(possibly duplicated) points, never symmetric by construction; the answer is read row by row:
the listed negatives, then ``-1`` padding.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

import solutions
from grader.engine import Case, CheckFailed, Exercise, Property
from grader.sandbox import codec
from grader.suites import generic
from grader.suites._common import (
    agrees,
    edge_property,
    guarded,
    neg_mask,
    scale_checked,
    tensor,
    unchanged_property,
)
from grader.suites.strategies import FLOAT_DTYPES, distance_matrices, label_vectors

PARAMS = ("sim", "labels", "k")


@st.composite
def _inputs(draw, max_size: int = 10):
    """``[sim, labels, k]``: similarities in [-1, 1], labels of any kind, k in 1..B + 2."""
    labels = draw(label_vectors(max_size=max_size))
    n = labels.shape[0]
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    sim = 1.0 - draw(distance_matrices(n, dtype=torch.float64, max_value=2.0))
    return [sim.to(dtype), labels, draw(st.integers(1, n + 2))]


inputs = _inputs()
edge_inputs = _inputs(max_size=3)


def rows(case: Case) -> list[list[int]]:
    """The answer as a list of rows (any integer tensor of shape [B, k])."""
    out = tensor(case.actual, "the result")
    b, k = case.args[0].shape[0], case.args[2]
    if out.dtype.is_floating_point or out.dtype == torch.bool or out.is_complex():
        raise CheckFailed(f"the result must be an integer tensor, got dtype {out.dtype}")
    if tuple(out.shape) != (b, k):
        raise CheckFailed(f"the result must have shape (B, k) = ({b}, {k}), got {tuple(out.shape)}")
    return out.tolist()


def _listed(row: list[int]) -> list[int]:
    return [n for n in row if n != -1]


def _negatives(case: Case) -> list[list[int]]:
    return [r.nonzero().flatten().tolist() for r in neg_mask(case.args[1].long())]


@guarded
def returns_index_tensor(case: Case) -> str | None:
    """An int64 [B, k] tensor on sim's device."""
    out = tensor(case.actual, "the result")
    b, k = case.args[0].shape[0], case.args[2]
    if out.dtype != torch.int64 or tuple(out.shape) != (b, k):
        return f"expected an int64 tensor of shape ({b}, {k}), got {out.dtype} {tuple(out.shape)}"
    if codec.device_of(out) != case.device:
        return f"the result is on {codec.device_of(out)}, but the inputs were on {case.device}"
    return None


@guarded
def only_negatives(case: Case) -> str | None:
    """Every listed index is a negative of its anchor (a different label; never the anchor itself)."""
    labels = case.args[1].long().tolist()
    for a, row in enumerate(rows(case)):
        for n in _listed(row):
            if not 0 <= n < len(labels):
                return f"row {a} lists {n}: not an index in [0, {len(labels)}) nor the padding -1"
            if labels[n] == labels[a]:
                return f"row {a} lists {n}, which has the anchor's label {labels[a]}: not a negative"
    return None


@guarded
def count_and_padding(case: Case) -> str | None:
    """Row a lists min(k, negatives of a) distinct indices first, then -1 padding to length k."""
    k = case.args[2]
    for a, (row, negs) in enumerate(zip(rows(case), _negatives(case))):
        m = min(k, len(negs))
        head, tail = row[:m], row[m:]
        if -1 in head or len(set(head)) != m or any(v != -1 for v in tail):
            return (f"row {a} is {row}: anchor {a} has {len(negs)} negatives, so the row must list {m} distinct "
                    f"indices, then {k - m} times -1")
    return None


@guarded
def hardest_negatives(case: Case) -> str | None:
    """The listed negatives are the most similar ones: no unlisted negative is more similar (row a of sim)."""
    sim = case.args[0].double().tolist()
    for a, (row, negs) in enumerate(zip(rows(case), _negatives(case))):
        listed = set(_listed(row)) & set(negs)
        if not listed:
            continue
        weakest = min(sim[a][n] for n in listed)
        better = [n for n in negs if n not in listed and sim[a][n] > weakest]
        if better:
            n = better[0]
            return (f"row {a}: negative {n} (sim[{a},{n}] = {sim[a][n]}) is left out, but a less similar one "
                    f"(sim = {weakest}) is listed; keep the k largest sim[a, n] (row a)")
    return None


@guarded
def decreasing_order(case: Case) -> str | None:
    """Each row lists its negatives by decreasing similarity."""
    sim = case.args[0].double().tolist()
    for a, row in enumerate(rows(case)):
        values = [sim[a][n] for n in _listed(row) if 0 <= n < len(sim)]
        for i in range(len(values) - 1):
            if values[i] < values[i + 1]:
                return f"row {a} is {row}: sim[{a}, ...] = {values} is not in decreasing order"
    return None


@guarded
def ties_smallest_index(case: Case) -> str | None:
    """Equal similarities go to the smallest index: first in the row, and kept when the row is cut at k."""
    sim = case.args[0].double().tolist()
    for a, (row, negs) in enumerate(zip(rows(case), _negatives(case))):
        listed = [n for n in _listed(row) if n in negs]
        for i in range(len(listed) - 1):
            x, y = listed[i], listed[i + 1]
            if sim[a][x] == sim[a][y] and x > y:
                return f"row {a} is {row}: {x} and {y} tie (sim {sim[a][x]}), so {y} (the smaller index) comes first"
        for n in listed:
            left = [m for m in negs if m not in listed and sim[a][m] == sim[a][n] and m < n]
            if left:
                return (f"row {a} is {row}: {left[0]} ties with the listed {n} (sim {sim[a][n]}) and has the smaller "
                        "index, so it must be listed instead")
    return None


@guarded
def matches_reference(case: Case) -> str | None:
    """The reference's indices."""
    got = rows(case)
    want = case.expected.tolist()
    return None if got == want else f"the result is {got}, the reference's is {want}"


def _readable(case: Case) -> None:
    rows(case)
    return None


def _substantive(case: Case) -> bool | None:
    """Telling when some anchor has a negative; substantive when the answer lists some index."""
    if not bool(neg_mask(case.args[1].long()).any()):
        return None
    return any(_listed(r) for r in rows(case))


def _structure(summary) -> str | None:
    from grader.sandbox.scale import TOPK_K, TOPK_SIZE

    if not isinstance(summary, dict) or summary.get("tensor") != "int64":
        return "expected an int64 tensor"
    return None if summary.get("shape") == [TOPK_SIZE, TOPK_K] else f"expected shape ({TOPK_SIZE}, {TOPK_K})"


# -- agreement with the reference (issue #20) -------------------------------------------
@st.composite
def generic_inputs(draw):
    """``[sim, labels, k]``: cosines of 6-16 random points of 2-4 classes (distinct values), k in 1..B."""
    g = generic._generator(draw(generic._seeds))
    n, classes = draw(st.integers(6, 16)), draw(st.integers(2, 4))
    labels = generic._labels(g, n, classes)
    x = torch.nn.functional.normalize(torch.randn(n, draw(st.integers(2, 16)), generator=g, dtype=torch.float64), dim=1)
    sim = x @ x.T
    dtype = draw(st.sampled_from(generic.FLOAT_DTYPES))
    return [sim.to(dtype), labels, draw(st.integers(1, n))]


GENERIC = generic_inputs()


def _same_as_reference(case: Case) -> str | None:
    return matches_reference(case)


AGREEMENT = agrees(_same_as_reference, telling=lambda case: bool(neg_mask(case.args[1].long()).any()))


@scale_checked
def _scale_agreement(args: list, actual, expected) -> str | None:
    """The scale answer lists the reference's negatives; where two similarities tie exactly, a
    different order of the tied indices is accepted if every listed index is a distinct negative."""
    out = tensor(actual, "the result")
    sim, labels, k = args
    b = sim.shape[0]
    if out.dtype.is_floating_point or out.dtype == torch.bool or out.is_complex() or tuple(out.shape) != (b, k):
        raise CheckFailed(f"expected an integer tensor of shape ({b}, {k}), got {out.dtype} {tuple(out.shape)}")
    got, want = out.detach().cpu().long(), expected.detach().cpu()
    if torch.equal(got, want):
        return None
    pad = want < 0
    if not torch.equal(got < 0, pad) or bool(((got < -1) | (got >= b)).any()):
        return "the -1 padding or an index differs from the reference's"
    s, lab = sim.detach().cpu(), labels.detach().cpu().long()
    idx = got.clamp(min=0)
    same_values = torch.equal(s.gather(1, idx)[~pad], s.gather(1, want.clamp(min=0))[~pad])
    negatives = bool((lab[idx] != lab[:, None])[~pad].all())
    filler = -2 - torch.arange(k)[None, :].expand(b, k)  # distinct stand-ins for the padding
    ordered = torch.sort(torch.where(pad, filler, got), dim=1).values
    distinct = bool((ordered[:, 1:] != ordered[:, :-1]).all())
    if same_values and negatives and distinct:
        return None
    bad = (got != want).any(dim=1).nonzero()[0].item()
    return (f"row {bad} lists {got[bad].tolist()[:8]}..., the reference's is {want[bad].tolist()[:8]}... "
            f"({int((got != want).any(dim=1).sum())} of {b} rows differ)")


SCALE_AGREEMENT = _scale_agreement


EXERCISE = Exercise(
    id="topk_negatives",
    reference=solutions.topk_negatives,
    params=PARAMS,
    defaults={},
    summary="Per anchor, the k most similar negatives (ties: smallest index), padded with -1.",
    structure=_structure,
    ordinary=lambda args: args[0].shape[0] >= 2 and bool(neg_mask(args[1].long()).any()),
    substantive=_substantive,
    generic=GENERIC,
    agreement=AGREEMENT,
    scale_agreement=SCALE_AGREEMENT,
    properties=(
        Property("returns_index_tensor", 1, "An int64 [B, k] tensor on sim's device.", inputs, returns_index_tensor),
        Property("only_negatives", 1.5, "Every listed index is a negative of its anchor (another label).", inputs, only_negatives),
        Property("count_and_padding", 1.5, "Row a lists min(k, negatives of a) distinct indices, then -1 padding.", inputs, count_and_padding),
        Property("hardest_negatives", 1.5, "No unlisted negative is more similar than a listed one (row a of sim).", inputs, hardest_negatives),
        Property("decreasing_order", 1, "Each row lists its negatives by decreasing similarity.", inputs, decreasing_order),
        Property("ties_smallest_index", 1, "Equal similarities: the smaller index first, and kept at the cut.", inputs, ties_smallest_index),
        unchanged_property(inputs, PARAMS, _readable),
        edge_property(edge_inputs, _readable),
        Property("matches_reference", 0.5, "The reference's indices.", inputs, matches_reference, visibility="hidden"),
        Property("scale", 1, "Vectorised: B = 2048 anchors, k = 32, within 10x the reference's time (at least 2 s).", scale=True),
    ),
)
