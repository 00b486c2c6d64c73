"""Properties of ``ohem_select(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None)``,
and the selection rules ``ohem_loss`` reuses.

Per image, OHEM's selection is the first ``per_image`` survivors of greedy NMS over the valid
RoIs ranked by loss (equal losses: smaller index first). The rules below pin that set down:
a selected RoI outranks every unselected RoI that no selected RoI suppresses (dominance),
every unselected RoI that outranks a selected one is suppressed by a selected RoI ranked
before it (justification), selected RoIs of one image do not overlap above ``nms_iou``, and
each image keeps ``min(per_image, #survivors)``. Overlaps are judged as in :mod:`.nms`
(either decision where rounding at the threshold decides).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

import solutions
from grader.suites import generic
from grader.suites.box_strategies import select_inputs
from grader.engine import Case, Exercise, Property

from grader.suites._common import guarded, per_example, scale_checked, unchanged_property
from grader.suites.nms import (
    Overlaps,
    ahead,
    fmt,
    index_summary_structure,
    overlaps,
    read_index_tensor,
    read_indices,
    strict_indices,
    unjustified_reason,
)

PARAMS = ("losses", "image_ids", "per_image", "boxes", "nms_iou", "valid")


def _as_args(drawn) -> list:
    """Positional arguments; boxes are sometimes left out when there is no NMS."""
    (batch, per_image, nms_iou), pass_boxes = drawn
    boxes = batch["boxes"] if nms_iou is not None or pass_boxes else None
    return [batch["losses"], batch["image_ids"], per_image, boxes, nms_iou, batch["valid"]]


inputs = st.tuples(select_inputs(), st.booleans()).map(_as_args)


# ------------------------------------------------------------------------------ selection rules
@dataclass(frozen=True)
class Rules:
    """What the selection rules need to know about one batch of RoIs."""

    k: int  # per_image
    ids: torch.Tensor  # [R] int64 image ids
    valid: torch.Tensor  # [R] bool
    same: torch.Tensor  # [R, R] same image
    order: torch.Tensor  # [R, R] i is certainly ranked before j
    maybe_order: torch.Tensor  # [R, R] i may be ranked before j (== order for an exact ranking)
    ov: Overlaps | None  # None without NMS; else only pairs of valid RoIs of one image
    threshold: float | None
    values: torch.Tensor  # the ranking values, for messages
    ref: list[int]  # the reference's selection
    lenient: frozenset  # images where rounding may change the selection
    uncapped: Callable[[], list[int]]  # the reference's selection without the per_image cap


def make_rules(values, ids, k, boxes, threshold, valid, ref, order, maybe_order, uncapped) -> Rules:
    r = values.shape[0]
    ids = ids.long()
    valid = torch.ones(r, dtype=torch.bool) if valid is None else valid.bool()
    same = ids[:, None] == ids[None, :]
    pair = same & valid[:, None] & valid[None, :] & ~torch.eye(r, dtype=torch.bool)
    ov = None
    loose = pair & order.logical_not() & order.T.logical_not()  # neither ranked first for sure
    if threshold is not None:
        full = overlaps(boxes, float(threshold))
        ov = Overlaps(full.iou, full.sure & pair, full.maybe & pair, full.touch & pair)
        loose = loose | ov.ambiguous
    lenient = frozenset(ids[loose.any(dim=1)].tolist())
    return Rules(k, ids, valid, same, order, maybe_order, ov, threshold, values, ref, lenient, uncapped)


def _mask(rules: Rules, sel: list[int]) -> torch.Tensor:
    m = torch.zeros(rules.ids.shape[0], dtype=torch.bool)
    m[torch.tensor(sel, dtype=torch.int64)] = True
    return m


def _roi(rules: Rules, i: int) -> str:
    return f"RoI {i} (loss {fmt(rules.values[i])})"


def rule_only_valid(rules: Rules, sel: list[int]) -> str | None:
    for s in sel:
        if not bool(rules.valid[s]):
            return f"RoI {s} is selected, but it is not valid (valid[{s}] is False; invalid RoIs are never selected)"
    return None


def rule_count(rules: Rules, sel: list[int]) -> str | None:
    chosen = _mask(rules, sel)
    ref = _mask(rules, rules.ref)
    selv = chosen & rules.valid
    for image in dict.fromkeys(rules.ids.tolist()):
        here = rules.ids == image
        got, want = int((chosen & here).sum()), int((ref & here).sum())
        if got == want:
            continue
        if image in rules.lenient and got <= rules.k:
            if got == rules.k:
                continue
            left = here & rules.valid & ~chosen
            covered = (selv[:, None] & rules.maybe_order & rules.ov.maybe).any(dim=0) if rules.ov is not None else left & False
            if not bool((left & ~covered).any()):
                continue
        n_valid = int((here & rules.valid).sum())
        detail = f"per_image = {rules.k}, {n_valid} valid RoIs"
        if rules.ov is not None:
            survivors = int((_mask(rules, rules.uncapped()) & here).sum())
            detail += f", {survivors} of them left after NMS"
        return f"image {image}: {got} RoIs selected, expected {want} = min(per_image, surviving valid RoIs) ({detail})"
    return None


def _contact(rules: Rules, selv: torch.Tensor) -> torch.Tensor:
    """RoIs that touch (IoU >= threshold) a selected RoI of their image."""
    if rules.ov is None:
        return torch.zeros_like(selv)
    return (selv[:, None] & rules.ov.touch).any(dim=0)


def rule_dominance(rules: Rules, sel: list[int]) -> str | None:
    chosen = _mask(rules, sel)
    selv = chosen & rules.valid
    free = rules.valid & ~chosen & ~_contact(rules, selv)
    bad = (free[:, None] & selv[None, :] & rules.same & rules.order).nonzero().tolist()
    if bad:
        u, s = bad[0]
        tie = bool(rules.values[u] == rules.values[s])
        why = ("equal losses go to the smaller index first" if tie else "select the hardest (largest loss) first")
        suppressed = " nor suppressed by a selected RoI" if rules.ov is not None else ""
        return (f"image {rules.ids[u].item()}: {_roi(rules, u)} is not selected{suppressed}, "
                f"but {_roi(rules, s)} is ({why})")
    return None


def rule_no_overlap(rules: Rules, sel: list[int]) -> str | None:
    if rules.ov is None:
        return None
    kept = [s for s in sel if bool(rules.valid[s])]
    idx = torch.tensor(kept, dtype=torch.int64)
    clash = rules.ov.sure[idx][:, idx].triu(1).nonzero().tolist()
    if clash:
        i, j = kept[clash[0][0]], kept[clash[0][1]]
        return (f"image {rules.ids[i].item()}: selected RoIs {i} and {j} overlap with IoU "
                f"{rules.ov.iou[i, j].item()!r} > nms_iou {rules.threshold!r}")
    return None


def rule_justified(rules: Rules, sel: list[int]) -> str | None:
    if rules.ov is None:
        return None
    chosen = _mask(rules, sel)
    selv = chosen & rules.valid
    touched = rules.valid & ~chosen & _contact(rules, selv)
    outranks = (rules.order & rules.same & selv[None, :]).any(dim=1)
    ok = (selv[:, None] & rules.maybe_order & rules.ov.maybe).any(dim=0)
    bad = (touched & outranks & ~ok).nonzero().flatten().tolist()
    if bad:
        u = bad[0]
        kept = selv & rules.same[:, u]
        dropped = rules.valid & rules.same[:, u] & ~chosen & rules.order[:, u]
        reason = unjustified_reason(u, kept, dropped, rules.maybe_order, rules.ov, rules.values, "RoI", "loss")
        return f"image {rules.ids[u].item()}: {reason}, and it outranks a selected RoI of its image"
    return None


SELECTION_RULES = (rule_only_valid, rule_count, rule_dominance, rule_no_overlap, rule_justified)


def first_problem(rules: Rules, sel: list[int]) -> str | None:
    return next((p for p in (rule(rules, sel) for rule in SELECTION_RULES) if p), None)


# ------------------------------------------------------------------------------ ohem_select
def _rules(case: Case) -> Rules:
    return _example_rules(case.args, case.expected)


@per_example
def _example_rules(args: list, expected) -> Rules:
    losses, ids, k, boxes, threshold, valid = args
    order = ahead(losses)
    ref = expected.tolist()

    def uncapped() -> list[int]:
        return solutions.ohem_select(losses, ids, losses.shape[0], boxes, threshold, valid).tolist()

    return make_rules(losses, ids, k, boxes, threshold, valid, ref, order, order, uncapped)


def _selected(case: Case) -> list[int]:
    return read_indices(case.actual, case.args[0].shape[0])


def _rule(rule):
    def check(case: Case) -> str | None:
        return rule(_rules(case), _selected(case))

    check.__doc__ = rule.__doc__
    return guarded(check)


@guarded
def returns_index_tensor(case: Case) -> str | None:
    """A 1-D int64 tensor of distinct RoI indices on the inputs' device."""
    return strict_indices(case, case.args[0].shape[0])


@guarded
def sorted_increasing(case: Case) -> str | None:
    """The selected indices in increasing order."""
    sel = _selected(case)
    if sel != sorted(sel):
        return f"return the selected indices in increasing order, got {sel}"
    return None


@guarded
def matches_reference(case: Case) -> str | None:
    """The reference's selection (any consistent choice where rounding decides)."""
    sel = _selected(case)
    rules = _rules(case)
    if sel == rules.ref:
        return None
    if rules.lenient:
        return first_problem(rules, sel)
    return f"selected {sel}, the reference selects {rules.ref}"


def _readable(case: Case) -> None:
    """The result can be read as distinct RoI indices."""
    _selected(case)
    return None


def _substantive(case: Case) -> bool | None:
    """Telling when the reference selects something; substantive when something is selected."""
    if case.expected.numel() == 0:
        return None
    return len(_selected(case)) > 0


def ordinary(args) -> bool:
    """At least one valid RoI and per_image >= 1."""
    losses, _, k, _, _, valid = args
    return k >= 1 and losses.shape[0] >= 1 and (valid is None or bool(valid.any()))



# -- agreement with the reference (issue #20) -------------------------------------------
GENERIC = generic.select_inputs()


def agreement(case: Case) -> bool | None:
    """The reference's set of RoIs (the order is ``sorted_increasing``'s business); where rounding
    decides, any set that obeys OHEM's selection rules."""
    if case.expected.numel() == 0:
        return None
    try:
        sel = sorted(_selected(case))
        rules = _rules(case)
        if sel == sorted(rules.ref):
            return True
        return bool(rules.lenient) and first_problem(rules, sel) is None
    except Exception:  # noqa: BLE001 - an unreadable answer does not agree
        return False


AGREEMENT = agreement


def image_problem(values, ids, k, boxes, threshold, valid, sel, ref, order, maybe_order, image) -> str | None:
    """Whether the selection ``sel`` (global indices) obeys the selection rules on one image,
    judged on that image's RoIs alone (``ref``: the reference's global selection)."""
    rows = (ids == image).nonzero().flatten()
    where = torch.full((ids.shape[0],), -1, dtype=torch.int64)
    where[rows] = torch.arange(rows.numel())
    local = lambda t: where[t[where[t] >= 0]].tolist()  # noqa: E731 - indices of this image, renumbered
    sub_boxes = boxes[rows] if boxes is not None else None
    sub_valid = valid[rows] if valid is not None else None
    sub = (values[rows], ids[rows], k, sub_boxes, threshold, sub_valid)
    mine, theirs = local(sel), local(ref)
    if sorted(mine) == sorted(theirs):
        return None

    def uncapped() -> list[int]:
        return solutions.ohem_select(sub[0], sub[1], rows.numel(), sub_boxes, threshold, sub_valid).tolist()

    rules = make_rules(*sub, theirs, order(sub[0]), maybe_order(sub[0]), uncapped)
    if not rules.lenient:
        return f"image {image}: selected {sorted(rows[mine].tolist())}, the reference selects {sorted(rows[theirs].tolist())}"
    problem = first_problem(rules, sorted(mine))
    return f"{problem} (RoIs numbered within image {image})" if problem else None


@scale_checked
def _scale_agreement(args: list, actual, expected) -> str | None:
    """The scale answer selects the reference's RoIs; in an image where the sets differ, the
    answer's selection there must still obey OHEM's rules (rounding at the NMS threshold may
    decide either way)."""
    losses, ids, k, boxes, threshold, valid = (a.detach().cpu() if isinstance(a, torch.Tensor) else a for a in args)
    sel = read_index_tensor(actual, losses.shape[0])
    ref = expected.detach().cpu().long()
    if torch.equal(sel.sort().values, ref.sort().values):
        return None
    odd = torch.cat([sel[~torch.isin(sel, ref)], ref[~torch.isin(ref, sel)]])
    images = torch.unique(ids[odd].long())
    if images.numel() > 16:
        return f"the selection differs from the reference's in {images.numel()} images"
    for image in images.tolist():
        problem = image_problem(losses, ids.long(), k, boxes, threshold, valid, sel, ref, ahead, ahead, image)
        if problem:
            return f"the selection differs from the reference's: {problem}"
    return None


SCALE_AGREEMENT = _scale_agreement


EXERCISE = Exercise(
    id="ohem_select",
    reference=solutions.ohem_select,
    params=PARAMS,
    defaults={"boxes": None, "nms_iou": None, "valid": None},
    summary="OHEM's RoIs: per image the per_image hardest valid RoIs, after optional greedy NMS by loss.",
    structure=index_summary_structure,
    ordinary=ordinary,
    substantive=_substantive,
    generic=GENERIC,
    agreement=AGREEMENT,
    scale_agreement=SCALE_AGREEMENT,
    properties=(
        Property("returns_index_tensor", 1, "A 1-D int64 tensor of distinct RoI indices on the inputs' device.", inputs, returns_index_tensor),
        Property("sorted_increasing", 0.5, "The selected indices come in increasing order.", inputs, sorted_increasing),
        Property("only_valid", 1, "Invalid RoIs (valid[i] False) are never selected.", inputs, _rule(rule_only_valid)),
        Property("count_per_image", 1.5, "Each image keeps min(per_image, its valid RoIs that survive NMS).", inputs, _rule(rule_count)),
        Property("hardest_selected", 1.5, "A selected RoI outranks every unselected, unsuppressed RoI of its image (higher loss, or equal loss and smaller index).", inputs, _rule(rule_dominance)),
        Property("nms_no_overlap", 1, "With nms_iou, no two selected RoIs of one image overlap with IoU above it.", inputs, _rule(rule_no_overlap)),
        Property("suppression_justified", 1, "An unselected RoI that outranks a selected one is suppressed (IoU > nms_iou) by a selected RoI of its image ranked before it.", inputs, _rule(rule_justified)),
        unchanged_property(inputs, PARAMS, _readable),
        Property("handles_edge_cases", 0.5, "Accepts every valid input (no RoI, no valid RoI, per_image 0 or beyond the batch, boxes without nms_iou) without raising.", inputs, guarded(_readable), edge=True),
        Property("matches_reference", 0.5, "The reference's selection (any consistent choice where rounding decides).", inputs, matches_reference, visibility="hidden"),
        Property("scale", 1, "Vectorised: 384 images x 256 RoIs with NMS at 0.7 within 10x the reference's time (at least 2 s).", scale=True),
    ),
)
