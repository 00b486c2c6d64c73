"""The property suites have teeth: every property fails on a deliberately wrong
implementation built to break it, and every correctness property passes on the reference
and on independently written correct variants (a loop version, a different tie rule).

Run in-process (LocalCaller): the sandbox is tested separately. The scale property is
tested in tests/test_grader_sandbox.py, since loop versions are meant to lose it.
"""

import dataclasses

import pytest
import torch

from grader.engine import ExerciseRun, LocalCaller
from grader.suites.registry import REGISTRY

from .grader_variants import CONFINED, CORRECT, DIAGNOSED, MUTANTS


def run(exercise_id, fn, shrink=True):
    exercise = REGISTRY[exercise_id]
    exercise = dataclasses.replace(exercise, properties=tuple(p for p in exercise.properties if not p.scale))
    return ExerciseRun(exercise, LocalCaller({exercise_id: fn}), shrink=shrink).run()


@pytest.mark.parametrize(
    "exercise_id, fn",
    [(e, f) for e, fns in CORRECT.items() for f in fns],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_correct_variants_pass_every_correctness_property(exercise_id, fn):
    result = run(exercise_id, fn)
    failed = {p.name: p.message for p in result.properties if not p.passed}
    assert not failed, failed
    assert not [p.diagnosis for p in result.properties if p.diagnosis]


@pytest.mark.parametrize(
    "exercise_id, fn, target",
    [(e, f, t) for e, muts in MUTANTS.items() for f, t in muts.items()],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_each_mutant_breaks_its_target_property(exercise_id, fn, target):
    result = run(exercise_id, fn, shrink=False)  # failing is what counts here; shrinking is tested below
    by_name = {p.name: p for p in result.properties}
    assert not by_name[target].passed, f"{fn.__name__} should fail {target}"
    assert by_name[target].message
    assert result.score < result.max_score
    if fn in CONFINED:  # a slip confined to ties, boundaries or edge inputs keeps more than any trivial answer
        assert result.score > 1.0, result.score
    # A known mistake is named (on every property it explains); any other mutant gets no name.
    diagnosed = {p.diagnosis["name"] for p in result.properties if p.diagnosis}
    expected = {DIAGNOSED[fn.__name__]} if fn.__name__ in DIAGNOSED else set()
    assert diagnosed == expected, f"{fn.__name__}: diagnosed as {diagnosed}, expected {expected}"


@pytest.mark.parametrize("exercise_id", list(REGISTRY))
def test_every_property_is_targeted_by_a_mutant(exercise_id):
    names = {p.name for p in REGISTRY[exercise_id].properties if not p.scale and p.visibility == "visible"}
    assert names <= set(MUTANTS[exercise_id].values())


def test_failures_come_with_a_minimal_counterexample():
    result = run("semi_hard_negatives", MUTANTS_BY_NAME["sh_inclusive_upper"])
    prop = next(p for p in result.properties if p.name == "upper_bound_strict")
    inputs = prop.counterexample["inputs"]
    # shrunk: a handful of points, an exact boundary hit on the 1/8 grid
    assert len(inputs["labels"]["value"]) <= 4
    assert "not strictly below" in prop.message


MUTANTS_BY_NAME = {f.__name__: f for muts in MUTANTS.values() for f in muts}


def test_results_are_deterministic():
    a = run("batch_hard", MUTANTS_BY_NAME["bh_easiest_negative"])
    b = run("batch_hard", MUTANTS_BY_NAME["bh_easiest_negative"])
    assert [p.as_dict() for p in a.properties] == [p.as_dict() for p in b.properties]


def test_self_check_returns_points_and_writes_nothing_to_stderr(capsys):
    import grader

    points = grader.check("batch_hard", MUTANTS_BY_NAME["bh_anchors_without_negatives"])
    out, err = capsys.readouterr()
    assert err == ""
    assert isinstance(points, float) and 0 < points < 10
    assert "[FAIL] usable_anchors" in out and "minimal counterexample" in out
    assert grader.check("batch_hard", torch.no_grad()(CORRECT["batch_hard"][0])) == 10.0


@pytest.mark.parametrize("exercise_id", list(REGISTRY))
def test_degenerate_answers_earn_nothing(exercise_id):
    from grader.engine import ExerciseRun as Run

    from .grader_variants import DEGENERATE

    result = Run(REGISTRY[exercise_id], LocalCaller({exercise_id: DEGENERATE[exercise_id]})).run()
    assert result.score == 0.0, {p.name: p.message for p in result.properties if p.passed}


def test_the_self_check_warns_when_the_answer_is_the_reference(capsys):
    import grader
    import solutions

    grader.check("batch_hard", solutions.batch_hard, examples=10)
    assert "uses the course's reference implementation" in capsys.readouterr().out

    notebook: dict = {}  # as in a notebook cell: the import is a global of the answer
    exec("import solutions\ndef batch_hard(dist, labels):\n    return solutions.batch_hard(dist, labels)\n", notebook)
    grader.check("batch_hard", notebook["batch_hard"], examples=10)
    assert "uses the course's reference implementation" in capsys.readouterr().out
    own = {"impl": CORRECT["batch_hard"][1]}  # (a loop version) a student's own code (written elsewhere) raises no warning
    exec("def batch_hard(dist, labels):\n    return impl(dist, labels)\n", own)
    grader.check("batch_hard", own["batch_hard"], examples=10)
    assert "reference implementation" not in capsys.readouterr().out


def test_a_suites_derived_values_are_computed_once_per_example_for_a_whole_class_run(monkeypatch):
    from grader.suites import _common

    calls = []

    @_common.per_example
    def derived(args):
        calls.append(args)
        if args and args[0] == "bad":
            raise ValueError("unreadable")
        return len(calls)

    a, b, same_as_a = [1], [2], [1]
    assert derived(a) == 1 and derived(b) == 2 and derived(a) == 1  # a second student: no new computation
    assert derived(same_as_a) == 3  # keyed by the example itself, not by an equal value
    with pytest.raises(ValueError):
        derived(["bad"])
    with pytest.raises(ValueError):  # a failure is not kept
        derived(["bad"])
    monkeypatch.setattr(_common, "PER_EXAMPLE", 2)
    derived([3])
    assert derived(a) == len(calls)  # beyond the bound the oldest are dropped (and computed again)
