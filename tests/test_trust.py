"""Agreement with the reference (issue #20): each suite's ``GENERIC`` inputs, ``AGREEMENT`` and
``SCALE_AGREEMENT``, and rules that NaN cannot pass.

Right answers agree on every generic example; trivial answers and different algorithms
disagree on most; slips confined to ties, boundaries or edge inputs agree everywhere (the
share decides how much of an exercise's points are at stake, see grader.engine). The scale
comparison is checked on the real scale inputs: the reference agrees with itself, a
shape-correct stub does not.
"""

from __future__ import annotations

import dataclasses
import importlib

import pytest
import torch
from hypothesis import HealthCheck, Phase, given, seed, settings

from grader.engine import Case, ExerciseRun, LocalCaller
from grader.sandbox import scale
from grader.suites.registry import EXERCISE_IDS, REGISTRY

from . import grader_variants as V

EXAMPLES = 25


def suite(exercise_id: str):
    return importlib.import_module(f"grader.suites.{exercise_id}")


def share(exercise_id: str, fn) -> tuple[int, int]:
    """(telling generic examples, those on which ``fn`` agrees with the reference)."""
    module = suite(exercise_id)
    counts = [0, 0]

    @seed(20)
    @settings(max_examples=EXAMPLES, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(module.GENERIC)
    def measure(args):
        expected = module.EXERCISE.reference(*args)
        try:
            actual = fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
        except Exception:  # noqa: BLE001 - a crash is an answer that does not agree
            actual = None
        verdict = module.AGREEMENT(Case(args, actual, expected))
        if verdict is not None:
            counts[0] += 1
            counts[1] += int(verdict)

    torch.set_num_threads(1)
    measure()
    return counts[0], counts[1]


def _cases(table):
    return [(e, f) for e, fns in table.items() for f in fns]


@pytest.mark.parametrize("exercise_id, fn", _cases(V.CORRECT), ids=lambda v: getattr(v, "__name__", v))
def test_right_answers_agree_on_every_generic_example(exercise_id, fn):
    telling, agreeing = share(exercise_id, fn)
    assert telling >= 0.8 * EXAMPLES  # generic examples almost always tell
    assert agreeing == telling


@pytest.mark.parametrize("exercise_id, fn", _cases(V.TRIVIAL), ids=lambda v: getattr(v, "__name__", v))
def test_trivial_answers_disagree(exercise_id, fn):
    telling, agreeing = share(exercise_id, fn)
    assert agreeing <= 0.1 * telling


_EXERCISE_OF = {f: e for e, muts in V.MUTANTS.items() for f in muts}


@pytest.mark.parametrize("fn", V.DIFFERENT, ids=lambda f: f.__name__)
def test_different_algorithms_disagree(fn):
    telling, agreeing = share(_EXERCISE_OF[fn], fn)
    assert 2 * agreeing <= telling, (agreeing, telling)


@pytest.mark.parametrize("fn", V.CONFINED, ids=lambda f: f.__name__)
def test_confined_slips_agree(fn):
    telling, agreeing = share(_EXERCISE_OF[fn], fn)
    assert agreeing == telling > 0


def test_every_mutant_is_classified():
    """The mutants in neither list agree on part of the examples only (e.g. only when
    squared=False, or only without NMS); a new mutant must be placed."""
    rest = {f.__name__ for muts in V.MUTANTS.values() for f in muts} - {f.__name__ for f in V.DIFFERENT + V.CONFINED}
    assert rest == {
        "pd_diag", "pd_ignores_squared", "sh_self_pairs", "dw_no_cutoff_clamp",
        "biou_no_clamp", "nms_suppressed_suppress", "sel_ignores_valid", "sel_topk_then_nms", "sel_no_nms",
        "sel_nms_across_images", "loss_per_batch",
        "pan_sign_bug", "pan_max_positive", "pan_ignores_max_score", "pan_returns_masked",
        "pa_positive_over_all", "pa_negative_over_present",
        "hni_no_debias_division", "hni_masked_before_scaling", "topk_pad_zero",
    }


# ------------------------------------------------------------------------------ NaN
def _pd_case(actual, squared):
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [3.0, -1.0]])
    return Case([x, squared], actual, None)


@pytest.mark.parametrize("squared", [False, True])
def test_nan_distances_fail_every_value_rule(squared):
    from grader.suites import pairwise_distances as pd

    d = V.pd_loop(torch.tensor([[1.0, 2.0], [1.0, 2.0], [3.0, -1.0]]), squared)
    d[0, 1] = d[1, 0] = float("nan")
    case = _pd_case(d, squared)
    for check in (pd.symmetric, pd.non_negative_and_finite, pd.identical_rows_zero):
        assert check(case), check.__name__
    assert (pd.squared_option if squared else pd.accurate)(case)
    assert pd.AGREEMENT(case) is False
    d2 = d.clone()
    d2[0, 2] = d2[2, 0] = float("nan")  # NaN between different rows
    assert (pd.squared_option if squared else pd.accurate)(_pd_case(d2, squared))


def test_nan_iou_is_not_symmetric():
    from grader.suites import box_iou

    b = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 1.0, 3.0]])
    out = box_iou.float64_iou(b, b)[0].float()
    out[1, 1] = float("nan")  # a zero-area box with itself: 0 / 0
    assert box_iou.symmetric(Case([b, b], out, None))
    assert box_iou.AGREEMENT(Case([b, b], out, box_iou.EXERCISE.reference(b, b))) is False


def test_natural_no_clamp_is_caught_by_identical_rows_far_from_the_origin():
    """Two identical float32 rows far from the origin: the Gram shortcut rounds below 0."""
    from grader.suites import pairwise_distances as pd

    g = torch.Generator().manual_seed(0)
    found = False
    for _ in range(20):
        x = (torch.randn(1, 5, generator=g) * 100 + torch.randn(4, 5, generator=g)).float()
        x[1] = x[0]
        for squared in (True, False):
            if pd.non_negative_and_finite(Case([x, squared], V.pd_no_clamp(x.clone(), squared), None)):
                found = True
    assert found


# ------------------------------------------------------------------------------ scale
def _stub(exercise_id: str, args: list):
    """A shape-correct answer computed without solving anything."""
    b = args[0].shape[0]
    if exercise_id in ("pairwise_distances", "distance_weights"):
        return torch.zeros(b, b, dtype=args[0].dtype)
    if exercise_id == "box_iou":
        return torch.zeros(b, args[1].shape[0])
    if exercise_id == "semi_hard_negatives":
        return tuple(torch.zeros(0, dtype=torch.int64) for _ in range(3))
    if exercise_id == "batch_hard":
        a = torch.arange(b)
        return a, a.clone(), a.clone()
    if exercise_id in ("nms", "ohem_select"):
        return torch.arange(min(b, 7))
    return torch.zeros((), dtype=args[0].dtype) + 1.0


@pytest.mark.parametrize("exercise_id", ["semi_hard_negatives", "batch_hard", "distance_weights", "topk_negatives"])
def test_scale_inputs_do_not_depend_on_how_a_matrix_product_adds(exercise_id, monkeypatch):
    """The parent and the worker build the scale inputs separately, and the reference's answer
    is judged on the parent's copy: one distance one ulp off once cost a right semi-hard answer
    its point in a full test run. Distances and cosines built with another summation order (the
    dimensions reversed, cdist's direct mode instead of its matrix product, two threads) must be
    the same bits."""
    torch.set_num_threads(1)
    expected = scale.make_inputs(exercise_id, 20261128)
    cdist, matmul = torch.cdist, torch.Tensor.__matmul__
    monkeypatch.setattr(torch, "cdist", lambda a, b: cdist(a.flip(1), b.flip(1), compute_mode="donot_use_mm_for_euclid_dist"))
    monkeypatch.setattr(torch.Tensor, "__matmul__", lambda a, b: matmul(a.flip(1), b.flip(0)))
    reordered = scale.make_inputs(exercise_id, 20261128)
    monkeypatch.undo()
    torch.set_num_threads(2)
    try:
        threaded = scale._make_inputs(exercise_id, 20261128, "cpu")
    finally:
        torch.set_num_threads(1)
    for other in (reordered, threaded):
        assert len(other) == len(expected)
        for mine, theirs in zip(expected, other):
            if isinstance(mine, torch.Tensor):
                assert mine.dtype == theirs.dtype and torch.equal(mine, theirs)
            else:
                assert mine == theirs


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_scale_output_is_compared_with_the_reference(exercise_id):
    torch.set_num_threads(1)
    module = suite(exercise_id)
    args = scale.make_inputs(exercise_id, 7)
    expected = module.EXERCISE.reference(*args)
    kept = [a.clone() if isinstance(a, torch.Tensor) else a for a in args], \
        [e.clone() for e in expected] if isinstance(expected, tuple) else expected.clone()
    assert module.SCALE_AGREEMENT(args, expected, expected) is None
    assert module.SCALE_AGREEMENT(args, _stub(exercise_id, args), expected)
    assert module.SCALE_AGREEMENT(args, "not a tensor", expected)  # a message, not an exception
    # The grading process keeps the scale inputs and the reference's output for every later
    # student (engine.run.scale_reference): no comparison may change them.
    for before, after in zip(kept[0], args):
        assert torch.equal(before, after) if isinstance(before, torch.Tensor) else before == after
    for before, after in zip(*(([x] if isinstance(x, torch.Tensor) else x) for x in (kept[1], expected))):
        assert torch.equal(before, after)


def test_semi_hard_scale_comparison_names_each_kind_of_difference():
    """The scale comparison of semi-hard answers (dense [B * B] tables since this stop), on a
    small hand-made input whose windows hold ties: each kind of difference gets its message, an
    equally close negative (an exact tie) and any order of the triplets are accepted."""
    module = suite("semi_hard_negatives")
    # Anchor 0 with positive 1 (d = 0.25): negatives 2 and 3 tie at 0.375, 4 is at 0.5 (window
    # (0.25, 0.75)); anchor 1 with positive 0: negative 4 at 0.5 is the only one in its window.
    dist = torch.tensor([[0.0, 0.25, 0.375, 0.375, 0.5],
                         [0.25, 0.0, 1.0, 1.0, 0.5],
                         [0.375, 1.0, 0.0, 0.125, 0.25],
                         [0.375, 1.0, 0.125, 0.0, 0.25],
                         [0.5, 0.5, 0.25, 0.25, 0.0]])
    labels = torch.tensor([0, 0, 1, 1, 2])
    args = [dist, labels, 0.5]
    expected = module.EXERCISE.reference(*args)
    a, p, n = (t.tolist() for t in expected)
    assert (a, p) == ([0, 1, 2, 3], [1, 0, 3, 2])
    check = module.SCALE_AGREEMENT

    def triplets(*rows):
        return tuple(torch.tensor(col, dtype=torch.int64) for col in zip(*rows)) if rows else \
            tuple(torch.zeros(0, dtype=torch.int64) for _ in range(3))

    rows = list(zip(a, p, n))
    assert check(args, expected, expected) is None
    assert check(args, triplets(*reversed(rows)), expected) is None  # any order
    tied = [(0, 1, 3 if rows[0][2] == 2 else 2), *rows[1:]]
    assert check(args, triplets(*tied), expected) is None  # an equally close negative
    assert check(args, triplets(*rows, rows[0]), expected) == "a pair (anchor, positive) appears twice"
    assert check(args, triplets(*rows[1:]), expected) == "pair (a=0, p=1) is missing"
    assert check(args, triplets(*rows, (4, 0, 1)), expected) == "pair (a=4, p=0) is not the reference's"
    farther = [(0, 1, 4), *rows[1:]]
    assert check(args, triplets(*farther), expected) == f"pair (a=0, p=1): chose n=4, the reference chose n={rows[0][2]}"


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_scale_comparison_on_small_generic_inputs(exercise_id):
    """The same functions on generic examples: right answers pass, trivial ones and NaN do not."""
    module = suite(exercise_id)

    @seed(3)
    @settings(max_examples=10, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(module.GENERIC)
    def check(args):
        expected = module.EXERCISE.reference(*args)
        for fn in V.CORRECT[exercise_id]:
            assert module.SCALE_AGREEMENT(args, fn(*args), expected) is None, fn.__name__
        for fn in V.TRIVIAL[exercise_id]:
            if not module.AGREEMENT(Case(args, fn(*args), expected)):
                assert module.SCALE_AGREEMENT(args, fn(*args), expected), fn.__name__
        if isinstance(expected, torch.Tensor) and expected.is_floating_point() and expected.numel():
            nan = expected.clone()
            nan.view(-1)[0] = float("nan")
            assert module.SCALE_AGREEMENT(args, nan, expected)

    torch.set_num_threads(1)
    check()


def test_scale_selection_is_compared_image_by_image():
    from grader.suites import ohem_select

    losses = torch.tensor([3.0, 2.0, 1.0, 0.5, 4.0, 0.1])
    ids = torch.tensor([0, 0, 0, 0, 1, 1])
    args = [losses, ids, 2, None, None, None]
    ref = ohem_select.EXERCISE.reference(*args)
    assert ohem_select.SCALE_AGREEMENT(args, ref.flip(0), ref) is None  # any order
    wrong = torch.tensor([0, 2, 4, 5])  # image 0: RoI 1 outranks the selected RoI 2
    message = ohem_select.SCALE_AGREEMENT(args, wrong, ref)
    assert message and "image 0: selected [0, 2], the reference selects [0, 1]" in message


def test_values_agree_within_a_relative_tolerance_but_never_as_nan():
    from grader.suites._common import AGREE_RTOL, agree_close

    want = torch.tensor([0.0, 1.0, 1000.0], dtype=torch.float64)
    assert bool(agree_close(want * (1 + AGREE_RTOL / 2), want).all())  # e.g. a float32 step inside
    assert not bool(agree_close(want + 1e-3, want)[0])
    assert not bool(agree_close(torch.tensor([float("nan")] * 3), want).any())


# ------------------------------------------------------------------------------ graded
def graded(exercise_id: str, fn) -> float:
    """Points of ``fn`` graded in-process at EXAMPLES examples, without the speed point (which
    needs half of the other points: a trivial answer never reaches it)."""
    exercise = REGISTRY[exercise_id]
    rules = dataclasses.replace(exercise, properties=tuple(p for p in exercise.properties if not p.scale))
    torch.set_num_threads(1)
    return ExerciseRun(rules, LocalCaller({exercise_id: fn}), examples=EXAMPLES, shrink=False).run().score


@pytest.mark.parametrize("exercise_id, fn", _cases(V.TRIVIAL), ids=lambda v: getattr(v, "__name__", v))
def test_trivial_answers_earn_at_most_one_point(exercise_id, fn):
    """Issue #20: at most 1 point per exercise, so at most 8 of 80 in all."""
    assert graded(exercise_id, fn) <= 1.0


# What typical mistakes earn under the policy (issue #20), pinned: exercise -> {variant: points of the 9
# rule points, at EXAMPLES examples, without the speed point}. Trivial answers and different algorithms
# earn 0; a slip confined to ties, boundaries, dtypes, gradients or edge inputs keeps its other rules.
TYPICAL = {
    'pairwise_distances': {
        'pd_manhattan': 0.0,  # different
        'pd_asymmetric': 0.0,  # different
        'pd_float64': 8.0,  # confined
        'pd_no_clamp': 7.5,  # confined
        'pd_identical_apart': 6.5,  # confined
        'pd_naive_sqrt': 7.5,  # confined
        'pd_half_gradient': 8.5,  # confined
        'pd_in_place': 7.0,  # confined
        'pd_crash_small': 8.5,  # confined
        'zero_distances': 0.0,  # trivial
        'pd_ones_apart': 0.0,  # trivial
        'pd_norm_gap': 0.0,  # trivial
    },
    'semi_hard_negatives': {
        'sh_any_label': 0.0,  # different
        'sh_farthest_in_window': 0.0,  # different
        'sh_tfa_fallback': 0.0,  # different
        'sh_drops_first_pair': 0.0,  # different
        'sh_int32': 8.5,  # confined
        'sh_inclusive_lower': 5.5,  # confined
        'sh_inclusive_upper': 5.5,  # confined
        'sh_in_place': 8.5,  # confined
        'sh_crash_without_pairs': 8.5,  # confined
        'empty_semi_hard': 0.0,  # trivial
        'sh_one_correct': 0.0,  # trivial
    },
    'batch_hard': {
        'bh_any_negative': 0.0,  # different
        'bh_easiest_positive': 0.0,  # different
        'bh_easiest_negative': 0.0,  # different
        'bh_int32': 8.0,  # confined
        'bh_anchors_without_negatives': 4.5,  # confined
        'bh_self_positive': 4.5,  # confined
        'bh_in_place': 8.5,  # confined
        'bh_crash_empty': 8.5,  # confined
        'empty_batch_hard': 0.0,  # trivial
        'bh_aaa': 0.0,  # trivial
    },
    'distance_weights': {
        'dw_no_label_mask': 0.0,  # different
        'dw_no_far_cutoff': 0.0,  # different
        'dw_unnormalised': 0.0,  # different
        'dw_float64_out': 8.0,  # confined
        'dw_global_max': 8.0,  # confined
        'dw_in_place': 8.5,  # confined
        'dw_crash_empty': 8.5,  # confined
        'zero_weights': 0.0,  # trivial
        'dw_uniform': 0.0,  # trivial
    },
    'box_iou': {
        'biou_over_min_area': 0.0,  # different
        'biou_float64': 8.0,  # confined
        'biou_unguarded': 3.0,  # confined
        'biou_asymmetric': 8.0,  # confined
        'biou_eps': 5.0,  # confined
        'biou_in_place': 8.5,  # confined
        'biou_crash_empty': 8.5,  # confined
        'zero_iou': 0.0,  # trivial
        'biou_overlap_mask': 0.0,  # trivial
    },
    'nms': {
        'nms_last_kept_only': 0.0,  # different
        'nms_int32': 8.0,  # confined
        'nms_sorted_by_index': 6.5,  # confined
        'nms_ties_to_larger_index': 5.5,  # confined
        'nms_inclusive': 5.5,  # confined
        'nms_in_place': 8.5,  # confined
        'nms_crash_small': 8.5,  # confined
        'empty_nms': 0.0,  # trivial
        'nms_top_only': 0.0,  # trivial
    },
    'ohem_select': {
        'sel_easiest': 0.0,  # different
        'sel_int32': 8.0,  # confined
        'sel_visiting_order': 8.0,  # confined
        'sel_ties_to_larger_index': 4.5,  # confined
        'sel_in_place': 8.5,  # confined
        'sel_crash_without_candidates': 8.5,  # confined
        'empty_select': 0.0,  # trivial
        'sel_one_roi': 0.0,  # trivial
    },
    'ohem_loss': {
        'loss_float64': 8.0,  # confined
        'loss_ignores_only_out_of_range': 4.5,  # confined
        'loss_leaks_gradient': 7.5,  # confined
        'loss_double_gradient': 8.0,  # confined
        'loss_nan_when_empty': 7.5,  # confined
        'loss_in_place': 8.5,  # confined
        'loss_crash_empty': 8.5,  # confined
        'zero_loss': 0.0,  # trivial
        'loss_constant': 0.0,  # trivial
    },
    'hard_negative_infonce': {
        'hni_self_negative': 0.0,  # different
        'hni_beta_on_cosine': 0.0,  # different
        'hni_float64_out': 8.0,  # confined
        'hni_no_floor': 6.5,  # confined
        'hni_exp_form': 7.5,  # confined
        'hni_detached_weights': 8.0,  # confined
        'hni_nan_single': 8.5,  # confined
        'hni_in_place': 7.5,  # confined
        'hni_crash_small': 8.5,  # confined
        'zero_hni': 0.0,  # trivial
        'hni_uniform': 0.0,  # trivial
    },
    'topk_negatives': {
        'topk_any_label': 0.0,  # different
        'topk_least': 0.0,  # different
        'topk_unsorted': 0.0,  # different
        'topk_int32': 8.0,  # confined
        'topk_ties_larger': 7.5,  # confined
        'topk_in_place': 8.5,  # confined
        'topk_crash_empty': 8.5,  # confined
        'empty_topk': 0.0,  # trivial
        'topk_by_index': 0.0,  # trivial
    },
    'positive_aware_negatives': {
        'pan_unfiltered': 0.0,  # different
        'pan_easiest': 0.0,  # different
        'pan_int32': 8.0,  # confined
        'pan_ties_to_larger_index': 7.0,  # confined
        'pan_in_place': 8.5,  # confined
        'pan_crash_empty': 8.5,  # confined
        'empty_candidates': 0.0,  # trivial
        'pan_first_k': 0.0,  # trivial
    },
    'proxy_anchor_loss': {
        'pa_delta_sign': 0.0,  # different
        'pa_no_normalisation': 0.0,  # different
        'pa_float64': 8.0,  # confined
        'pa_exp_form': 8.0,  # confined
        'pa_detached_negative': 7.5,  # confined
        'pa_in_place': 8.5,  # confined
        'pa_crash_empty': 8.5,  # confined
        'zero_proxy_loss': 0.0,  # trivial
        'pa_constant': 0.0,  # trivial
    },
}


@pytest.mark.parametrize("exercise_id", list(TYPICAL))
def test_the_table_of_typical_mistakes(exercise_id):
    variants = {f.__name__: f for fs in (*V.MUTANTS.values(), *V.TRIVIAL.values()) for f in fs}
    got = {name: graded(exercise_id, variants[name]) for name in TYPICAL[exercise_id]}
    assert got == TYPICAL[exercise_id]
    confined = [got[f.__name__] for f in V.CONFINED if f.__name__ in got]
    others = [got[f.__name__] for f in (*V.DIFFERENT, *V.TRIVIAL[exercise_id]) if f.__name__ in got]
    assert min(confined) > max(others)  # an honest near-miss keeps more than any trivial answer or other algorithm


@pytest.mark.parametrize("exercise_id", ["pairwise_distances", "distance_weights"])
def test_a_dense_scale_answer_is_compared_entry_by_entry_with_both_tolerances(exercise_id):
    """The relative tolerance is applied only where the rounding one fails; the verdict is the one of
    both applied everywhere: within either passes, outside both is counted and shown."""
    module = suite(exercise_id)
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(40, 8, generator=g, dtype=torch.float64), dim=1)
    labels = torch.randint(0, 4, (40,), generator=g)
    # float64: the rounding tolerance is then far below the relative one
    args = [x] if exercise_id == "pairwise_distances" else [torch.cdist(x, x).fill_diagonal_(0), labels, 8]
    expected = module.EXERCISE.reference(*args)
    assert module.SCALE_AGREEMENT(args, expected.clone(), expected) is None
    close = expected.clone()
    close[3, 5] = close[3, 5] * (1 + 5e-6)  # outside float rounding, within the relative tolerance
    assert module.SCALE_AGREEMENT(args, close, expected) is None
    off = expected.clone()
    off[3, 5] = off[3, 5] * 1.01 + 0.01
    off[7, 2] = float("nan")
    said = module.SCALE_AGREEMENT(args, off, expected)
    assert said.startswith("2 of 1600 ") and "[3,5]" in said.replace(" ", "").replace("(3,5)", "[3,5]"), said
