"""Properties of ``semi_hard_negatives(dist, labels, margin)``.

Boundary tolerance: the reference tests ``d_an < d_ap + margin``; a student may test
``d_ap - d_an + margin > 0`` instead. The two round differently in rare cases, so a
negative counts as *in the window* if either test says so, and *out* only if both do.
Ties: any of several equally close negatives is accepted.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

import solutions
from grader.engine import Case, Exercise, Property
from grader.suites import generic
from grader.suites.strategies import GRID_MARGINS, mining_inputs

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

PARAMS = ("dist", "labels", "margin")

margins = st.sampled_from(GRID_MARGINS) | st.floats(0.01, 1.5)
inputs = st.tuples(mining_inputs(), margins).map(lambda t: [t[0][0], t[0][1], t[1]])
edge_inputs = st.tuples(mining_inputs(max_size=3), margins).map(lambda t: [t[0][0], t[0][1], t[1]])


def windows(case: Case) -> tuple[torch.Tensor, torch.Tensor]:
    """``[a, p, n]`` bool: n in the semi-hard window of (a, p), by each of the two tests."""
    dist, labels, margin = case.args
    d_ap, d_an = dist[:, :, None], dist[:, None, :]
    base = neg_mask(labels)[:, None, :] & (d_an > d_ap) & pos_mask(labels)[:, :, None]
    return base & (d_an < d_ap + margin), base & ((d_ap - d_an + margin) > 0)


def triplets(case: Case):
    return index_triplets(case.actual, case.args[0].shape[0])


def in_either(case: Case, a, p, n) -> bool:
    win_a, win_b = windows(case)
    return bool(win_a[a, p, n] or win_b[a, p, n])


@guarded
def only_negatives(case: Case) -> str | None:
    """Every chosen n has a different label from its anchor a."""
    labels = case.args[1].tolist()
    for a, p, n in zip(*triplets(case)):
        if labels[n] == labels[a]:
            return f"triplet (a={a}, p={p}, n={n}): n has the anchor's label {labels[a]}, so it is not a negative"
    return None


@guarded
def positive_pairs_in_order(case: Case) -> str | None:
    """Every (a, p) is a positive pair (a != p, same label), each at most once, in lexicographic order."""
    labels = case.args[1].tolist()
    a_s, p_s, _ = triplets(case)
    for a, p in zip(a_s, p_s):
        if a == p or labels[a] != labels[p]:
            return f"(a={a}, p={p}) is not a positive pair (a positive needs a != p and the same label)"
    pairs = list(zip(a_s, p_s))
    if pairs != sorted(set(pairs)):
        return "the (anchor, positive) pairs must be unique and in increasing (a, p) order"
    return None


@guarded
def lower_bound_strict(case: Case) -> str | None:
    """The negative is strictly farther than the positive: dist[a,n] > dist[a,p]."""
    d = case.args[0]
    for a, p, n in zip(*triplets(case)):
        if not d[a, n] > d[a, p]:
            return (f"triplet (a={a}, p={p}, n={n}): dist[a,n] = {d[a, n].item()!r} is not strictly greater than "
                    f"dist[a,p] = {d[a, p].item()!r} (the lower bound of the window is strict)")
    return None


@guarded
def upper_bound_strict(case: Case) -> str | None:
    """The negative is strictly inside the margin: dist[a,n] < dist[a,p] + margin."""
    d, _, m = case.args
    for a, p, n in zip(*triplets(case)):
        if not (d[a, n] < d[a, p] + m or d[a, p] - d[a, n] + m > 0):
            return (f"triplet (a={a}, p={p}, n={n}): dist[a,n] = {d[a, n].item()!r} is not strictly below "
                    f"dist[a,p] + margin = {(d[a, p] + m).item()!r} (the upper bound is strict)")
    return None


@guarded
def closest_in_window(case: Case) -> str | None:
    """The chosen negative is the closest one in the window (any of several tied ones)."""
    d = case.args[0]
    win_a, win_b = windows(case)
    for a, p, n in zip(*triplets(case)):
        ok = False
        for win in (win_a, win_b):
            if win[a, p, n]:
                ok = ok or bool(d[a, n] == d[a][win[a, p]].min())
        if ok:
            continue
        if win_a[a, p, n] or win_b[a, p, n]:
            best = d[a][win_a[a, p]].min().item()
            return (f"pair (a={a}, p={p}): chose n={n} at {d[a, n].item()!r}, but a negative in the window is "
                    f"closer ({best!r}); pick the smallest dist[a,n] in the window")
        # A triplet outside the window is not the closest one in it either.
        return (f"pair (a={a}, p={p}): chose n={n} at {d[a, n].item()!r}, which is not in the semi-hard window "
                f"dist[a,p] < dist[a,n] < dist[a,p] + margin, so it is not the closest negative in it")
    return None


@guarded
def drops_pairs_without_semi_hard(case: Case) -> str | None:
    """A pair whose window holds no negative is left out."""
    win_a, win_b = windows(case)
    for a, p, n in zip(*triplets(case)):
        if not (win_a[a, p].any() or win_b[a, p].any()):
            return f"pair (a={a}, p={p}) has no negative in its semi-hard window, so it must be left out"
    return None


@guarded
def every_pair_considered(case: Case) -> str | None:
    """Every positive pair whose window holds a negative is returned."""
    win_a, win_b = windows(case)
    a_s, p_s, _ = triplets(case)
    got = set(zip(a_s, p_s))
    for a, p in (win_a.any(dim=2) & win_b.any(dim=2)).nonzero().tolist():
        if (a, p) not in got:
            return f"pair (a={a}, p={p}) has a semi-hard negative but is missing from the result"
    return None


@guarded
def matches_reference(case: Case) -> str | None:
    """Same pairs and equally close negatives as the reference."""
    d = case.args[0]
    want = {(a, p): n for a, p, n in zip(*(t.tolist() for t in case.expected))}
    a_s, p_s, n_s = triplets(case)
    got = dict(zip(zip(a_s, p_s), n_s))
    for key in sorted(set(want) ^ set(got)):
        if not _ambiguous(case, key[0], key[1]):
            return f"pair {key}: {'missing' if key in want else 'not expected'} (reference negative: {want.get(key)})"
    for key in sorted(set(want) & set(got)):
        a = key[0]
        if d[a, want[key]] != d[a, got[key]] and not _ambiguous(case, *key):
            return f"pair {key}: chose n={got[key]}, the reference chose n={want[key]}"
    return None


def _ambiguous(case: Case, a: int, p: int) -> bool:
    win_a, win_b = windows(case)
    return not torch.equal(win_a[a, p], win_b[a, p])


def _structure(case: Case) -> str | None:
    """A tuple of three 1-D int64 tensors of equal length, on the input's device."""
    return strict_triplet_structure(case)



# -- agreement with the reference (issue #20) -------------------------------------------
GENERIC = generic.mining_inputs(margin=True)


def _same_as_reference(case: Case) -> str | None:
    """The reference's pairs, each once, with equally close negatives (in any order)."""
    a_s, p_s, _ = triplets(case)
    if len(set(zip(a_s, p_s))) != len(a_s):
        return "a pair appears twice"
    return matches_reference(case)


AGREEMENT = agrees(_same_as_reference, telling=lambda case: case.expected[0].numel() > 0)


def _window_rows(dist, labels, margin, a: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[k, B]`` bool windows of the pairs ``(a, p)`` by the two tests (see :func:`windows`)."""
    d_ap, d_an = dist[a, p][:, None], dist[a]
    base = (labels[None, :] != labels[a][:, None]) & (d_an > d_ap)
    return base & (d_an < d_ap + margin), base & ((d_ap - d_an + margin) > 0)


@scale_checked
def _scale_agreement(args: list, actual, expected) -> str | None:
    """The scale answer's triplets are the reference's pairs with equally close negatives
    (any order; a pair whose window the two boundary tests see differently may differ)."""
    dist, labels, margin = args[0].detach().cpu(), args[1].detach().cpu(), args[2]
    b = dist.shape[0]
    a, p, n = scale_triplets(actual, b)
    ra, rp, rn = (t.detach().cpu().long() for t in expected)
    key, ref_key = a * b + p, ra * b + rp
    # Membership through dense [B * B] tables (4 M entries at scale): torch.isin was half the check's time.
    count = torch.bincount(key, minlength=b * b)
    if bool((count > 1).any()):
        return "a pair (anchor, positive) appears twice"
    in_ref = torch.zeros(b * b, dtype=torch.bool)
    in_ref[ref_key] = True
    extra, missing = ~in_ref[key], count[ref_key] == 0
    odd_a, odd_p = torch.cat([a[extra], ra[missing]]), torch.cat([p[extra], rp[missing]])
    if odd_a.numel() > 256:
        return f"{int(extra.sum())} pairs are not the reference's and {int(missing.sum())} of its pairs are missing"
    if odd_a.numel():
        win_a, win_b = _window_rows(dist, labels, margin, odd_a, odd_p)
        clear = (win_a == win_b).all(dim=1)
        if bool(clear.any()):
            i = int(clear.nonzero()[0])
            what = "not the reference's" if i < int(extra.sum()) else "missing"
            return f"pair (a={odd_a[i].item()}, p={odd_p[i].item()}) is {what}"
    negative_of = torch.full((b * b,), -1, dtype=torch.long)
    negative_of[key] = n
    ref_order = ref_key.argsort()
    common = ref_order[~missing[ref_order]]  # the pairs both hold, by (anchor, positive)
    sa, sp, rn_common = ra[common], rp[common], rn[common]
    sn = negative_of[ref_key[common]]
    differ = (dist[sa, sn] != dist[sa, rn_common]) | (labels[sn] == labels[sa])
    if int(differ.sum()) > 256:
        return f"{int(differ.sum())} of {common.numel()} pairs have a different negative from the reference's"
    if bool(differ.any()):
        win_a, win_b = _window_rows(dist, labels, margin, sa[differ], sp[differ])
        clear = (win_a == win_b).all(dim=1)
        if bool(clear.any()):
            i = int(differ.nonzero()[clear.nonzero()[0]])
            return (f"pair (a={sa[i].item()}, p={sp[i].item()}): chose n={sn[i].item()}, "
                    f"the reference chose n={rn_common[i].item()}")
    return None


SCALE_AGREEMENT = _scale_agreement


EXERCISE = Exercise(
    id="semi_hard_negatives",
    reference=solutions.semi_hard_negatives,
    params=PARAMS,
    defaults={},
    summary="One semi-hard negative per positive pair: the closest with d_ap < d_an < d_ap + margin.",
    structure=triplet_summary_structure,
    ordinary=mining_ordinary,
    substantive=triplets_substantive,
    generic=GENERIC,
    agreement=AGREEMENT,
    scale_agreement=SCALE_AGREEMENT,
    properties=(
        Property("returns_index_tensors", 0.5, "Returns three 1-D int64 tensors of equal length on the input's device.", inputs, _structure),
        Property("only_negatives", 1, "Only negatives (a different label from the anchor) are chosen.", inputs, only_negatives),
        Property("positive_pairs_in_order", 1, "Every (a, p) is a positive pair, at most once, in (a, p) order.", inputs, positive_pairs_in_order),
        Property("lower_bound_strict", 1, "The window's lower bound is strict: dist[a,n] > dist[a,p].", inputs, lower_bound_strict),
        Property("upper_bound_strict", 1, "The window's upper bound is strict: dist[a,n] < dist[a,p] + margin.", inputs, upper_bound_strict),
        Property("closest_in_window", 1, "The closest negative in the window is taken.", inputs, closest_in_window),
        Property("drops_pairs_without_semi_hard", 1, "Pairs without a semi-hard negative are dropped.", inputs, drops_pairs_without_semi_hard),
        Property("every_pair_considered", 1, "Every positive pair with a semi-hard negative is returned.", inputs, every_pair_considered),
        unchanged_property(inputs, PARAMS, lenient_triplets),
        edge_property(edge_inputs, lenient_triplets),
        Property("matches_reference", 0.5, "Same result as the reference (up to ties and boundary rounding).", inputs, matches_reference, visibility="hidden"),
        scale_property(),
    ),
)


