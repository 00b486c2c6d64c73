"""Properties of ``batch_hard(dist, labels)``. Any of several tied candidates is accepted."""

from __future__ import annotations

import torch

import solutions
from grader.engine import Case, Exercise, Property
from grader.suites import generic
from grader.suites.strategies import mining_inputs

from grader.suites._common import (
    agrees,
    scale_checked,
    scale_triplets,
    edge_property,
    guarded,
    index_triplets,
    lenient_triplets,
    mining_ordinary,
    neg_mask,
    pos_mask,
    scale_property,
    strict_triplet_structure,
    triplet_summary_structure,
    triplets_substantive,
    unchanged_property,
)

PARAMS = ("dist", "labels")
inputs = mining_inputs().map(list)
edge_inputs = mining_inputs(max_size=3).map(list)


def triplets(case: Case):
    return index_triplets(case.actual, case.args[0].shape[0])


@guarded
def usable_anchors(case: Case) -> str | None:
    """One triplet per anchor that has a positive and a negative, anchors in increasing order."""
    labels = case.args[1]
    want = (pos_mask(labels).any(dim=1) & neg_mask(labels).any(dim=1)).nonzero().squeeze(1).tolist()
    got = triplets(case)[0]
    if got != want:
        return f"anchors should be {want} (every anchor with a positive and a negative, increasing), got {got}"
    return None


@guarded
def positive_is_positive(case: Case) -> str | None:
    """Each p is a positive of its anchor: p != a and the same label."""
    labels = case.args[1].tolist()
    for a, p, _ in zip(*triplets(case)):
        if p == a or labels[p] != labels[a]:
            return f"triplet (a={a}, p={p}): p is not a positive of a (needs p != a and the same label)"
    return None


@guarded
def negative_is_negative(case: Case) -> str | None:
    """Each n has a different label from its anchor."""
    labels = case.args[1].tolist()
    for a, _, n in zip(*triplets(case)):
        if labels[n] == labels[a]:
            return f"triplet (a={a}, n={n}): n has the anchor's label, so it is not a negative"
    return None


@guarded
def hardest_positive(case: Case) -> str | None:
    """The positive is the farthest one: dist[a,p] is the largest over a's positives."""
    d, labels = case.args
    pos = pos_mask(labels)
    for a, p, _ in zip(*triplets(case)):
        if not pos[a, p]:  # an invalid triplet is not the hardest one either
            if not pos[a].any():
                return f"anchor {a}: chose {p} as its positive, but the anchor has no positive (leave it out)"
            return (f"anchor {a}: chose {p}, which is not a positive of the anchor; the farthest positive is at "
                    f"{d[a][pos[a]].max().item()!r}")
        best = d[a][pos[a]].max()
        if d[a, p] != best:
            return f"anchor {a}: chose positive {p} at {d[a, p].item()!r}, but the farthest positive is at {best.item()!r}"
    return None


@guarded
def hardest_negative(case: Case) -> str | None:
    """The negative is the closest one: dist[a,n] is the smallest over a's negatives."""
    d, labels = case.args
    neg = neg_mask(labels)
    for a, _, n in zip(*triplets(case)):
        if not neg[a, n]:  # an invalid triplet is not the hardest one either
            if not neg[a].any():
                return f"anchor {a}: chose {n} as its negative, but the anchor has no negative (leave it out)"
            return (f"anchor {a}: chose {n}, which is not a negative of the anchor; the closest negative is at "
                    f"{d[a][neg[a]].min().item()!r}")
        best = d[a][neg[a]].min()
        if d[a, n] != best:
            return f"anchor {a}: chose negative {n} at {d[a, n].item()!r}, but the closest negative is at {best.item()!r}"
    return None


@guarded
def matches_reference(case: Case) -> str | None:
    """Same anchors and equally hard positives and negatives as the reference."""
    d = case.args[0]
    want = [t.tolist() for t in case.expected]
    got = triplets(case)
    if got[0] != want[0]:
        return f"anchors differ from the reference ({want[0]})"
    for a, p, n, rp, rn in zip(got[0], got[1], got[2], want[1], want[2]):
        if d[a, p] != d[a, rp] or d[a, n] != d[a, rn]:
            return f"anchor {a}: got (p={p}, n={n}), the reference chose (p={rp}, n={rn})"
    return None



# -- agreement with the reference (issue #20) -------------------------------------------
GENERIC = generic.mining_inputs(margin=False)


def _same_as_reference(case: Case) -> str | None:
    """The reference's anchors (in any order) with equally far positives and equally close negatives."""
    d, labels = case.args
    got = sorted(zip(*triplets(case)))
    want = sorted(zip(*(t.tolist() for t in case.expected)))
    if [t[0] for t in got] != [t[0] for t in want]:
        return "anchors differ from the reference's"
    for (a, p, n), (_, rp, rn) in zip(got, want):
        if d[a, p] != d[a, rp] or d[a, n] != d[a, rn] or labels[p] != labels[a] or p == a or labels[n] == labels[a]:
            return f"anchor {a}: got (p={p}, n={n}), the reference chose (p={rp}, n={rn})"
    return None


AGREEMENT = agrees(_same_as_reference, telling=lambda case: case.expected[0].numel() > 0)


@scale_checked
def _scale_agreement(args: list, actual, expected) -> str | None:
    """The scale answer has the reference's anchors (any order), each once, with an equally far
    positive and an equally close negative."""
    dist, labels = args[0].detach().cpu(), args[1].detach().cpu()
    a, p, n = scale_triplets(actual, dist.shape[0])
    ra, rp, rn = (t.detach().cpu().long() for t in expected)
    order = a.argsort()
    a, p, n = a[order], p[order], n[order]
    if not torch.equal(a, ra.sort().values):
        return f"the anchors differ from the reference's ({a.numel()} anchors, the reference has {ra.numel()})"
    ref_order = ra.argsort()
    rp, rn = rp[ref_order], rn[ref_order]
    wrong = ((dist[a, p] != dist[a, rp]) | (dist[a, n] != dist[a, rn]) | (labels[p] != labels[a]) | (p == a)
             | (labels[n] == labels[a]))
    if bool(wrong.any()):
        i = int(wrong.nonzero()[0])
        return (f"{int(wrong.sum())} of {a.numel()} anchors differ from the reference, e.g. anchor {a[i].item()}: "
                f"got (p={p[i].item()}, n={n[i].item()}), the reference chose (p={rp[i].item()}, n={rn[i].item()})")
    return None


SCALE_AGREEMENT = _scale_agreement


EXERCISE = Exercise(
    id="batch_hard",
    reference=solutions.batch_hard,
    params=PARAMS,
    defaults={},
    summary="Per anchor: the farthest positive and the closest negative.",
    structure=triplet_summary_structure,
    ordinary=mining_ordinary,
    substantive=triplets_substantive,
    generic=GENERIC,
    agreement=AGREEMENT,
    scale_agreement=SCALE_AGREEMENT,
    properties=(
        Property("returns_index_tensors", 1, "Returns three 1-D int64 tensors of equal length on the input's device.", inputs, strict_triplet_structure),
        Property("usable_anchors", 1.5, "One triplet per anchor with a positive and a negative, in increasing order.", inputs, usable_anchors),
        Property("positive_is_positive", 1, "Each p is a positive of its anchor.", inputs, positive_is_positive),
        Property("negative_is_negative", 1, "Each n is a negative of its anchor.", inputs, negative_is_negative),
        Property("hardest_positive", 1.5, "The farthest positive is chosen.", inputs, hardest_positive),
        Property("hardest_negative", 1.5, "The closest negative is chosen.", inputs, hardest_negative),
        unchanged_property(inputs, PARAMS, lenient_triplets),
        edge_property(edge_inputs, lenient_triplets),
        Property("matches_reference", 0.5, "Same result as the reference (up to ties).", inputs, matches_reference, visibility="hidden"),
        scale_property(),
    ),
)
