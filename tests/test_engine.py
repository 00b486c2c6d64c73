"""The engine's own mechanics, on small exercises built here: examples drawn once per process,
batched calls that fall back to single calls, a bounded shrink, the agreement gate and the
checked scale output.

In-process (LocalCaller) with counting callers; the sandboxed worker's batch op is covered by
tests/test_grader_sandbox.py (every class run goes through it, hangs and crashes included).
"""

import dataclasses

import torch
from hypothesis import strategies as st

from grader.engine import Case, Exercise, ExerciseRun, Hang, LocalCaller, Property
from grader.engine import examples as drawing
from grader.engine import run as engine_run
from grader.suites.registry import REGISTRY

small = st.lists(st.integers(0, 50), min_size=1, max_size=8).map(lambda v: [torch.tensor(v, dtype=torch.int64)])
generic = st.lists(st.integers(1000, 10**6), min_size=3, max_size=8, unique=True).map(
    lambda v: [torch.tensor(v, dtype=torch.int64)])


def doubled(x):
    return 2 * x


def _equal(case: Case) -> str | None:
    return None if torch.equal(case.actual, case.expected) else "not twice the input"


def _int64(case: Case) -> str | None:
    return None if case.actual.dtype == torch.int64 else "not int64"


def _agrees(case: Case) -> bool:
    return bool(torch.equal(case.actual, case.expected))


def toy(**changes) -> Exercise:
    base = Exercise(
        id="doubled", reference=doubled, params=("x",), defaults={},
        properties=(Property("dtype", 5, "int64", small, _int64), Property("value", 5, "twice", small, _equal)),
        structure=lambda summary: None,
    )
    return dataclasses.replace(base, **changes)


class Counting(LocalCaller):
    """A local caller that counts single calls and batches (and can refuse batches)."""

    def __init__(self, fn, batches: bool = True):
        super().__init__({"doubled": fn})
        self.calls = self.batches = 0
        self.refuse = not batches

    def call(self, fn, args, grad_wrt, upstream):
        self.calls += 1
        return super().call(fn, args, grad_wrt, upstream)

    def call_many(self, fn, calls):
        if self.refuse:
            raise Hang("the batch did not come back")
        self.batches += 1
        return [LocalCaller.call(self, fn, a, g, u) for a, g, u in calls]  # not counted as single calls


def test_examples_are_drawn_once_per_process_and_shared_by_submissions():
    first = drawing.draw("doubled", doubled, small, 7, 30)
    assert drawing.draw("doubled", doubled, small, 7, 30) is first
    again = drawing.draw("doubled", doubled, small, 8, 30)
    assert again is not first and [drawing.key(a) for a in again.examples] != first.keys
    assert first.expected(0).tolist() == [2 * v for v in first.examples[0][0].tolist()]


def test_batches_and_single_calls_give_the_same_results():
    wrong = lambda x: x + x.flip(0)  # noqa: E731 - right on palindromes only
    batched, single = Counting(wrong), Counting(wrong, batches=False)
    a = ExerciseRun(toy(), batched, examples=40, seed=3).run()
    b = ExerciseRun(toy(), single, examples=40, seed=3).run()
    assert [p.as_dict() for p in a.properties] == [p.as_dict() for p in b.properties]
    assert a.score == 5.0
    assert batched.batches > 0 and single.batches == 0 and single.calls > 0


def test_a_failing_rule_shrinks_within_its_budget_of_calls():
    caller = Counting(lambda x: x + 1)
    result = ExerciseRun(toy(), caller, examples=100, seed=5).run()
    value = next(p for p in result.properties if p.name == "value")
    assert not value.passed and value.counterexample is not None
    drawn = len(drawing.draw("doubled", doubled, small, 5, 100).examples)
    # the screening's batches, then at most the re-run's replay of the first failure plus the budget
    assert caller.calls <= drawn + 1 + engine_run.SHRINK_CALLS
    assert len(value.counterexample["inputs"]["x"]["value"]) == 1  # shrunk to a single element


def test_without_shrinking_the_first_failure_is_reported_without_a_rerun():
    caller = Counting(lambda x: x + 1)
    result = ExerciseRun(toy(), caller, examples=50, seed=5, shrink=False).run()
    assert not next(p for p in result.properties if p.name == "value").passed
    assert caller.calls == 0  # every call went through the screening's batches


def test_the_agreement_gate_scales_every_rule_by_the_share_of_agreeing_answers():
    gated = toy(generic=generic, agreement=_agrees)
    assert ExerciseRun(gated, LocalCaller({"doubled": doubled}), examples=40, seed=1).run().score == 10.0
    # int64, right on the small inputs, wrong on every generic one: the dtype rule holds vacuously
    useless = lambda x: torch.where(x < 1000, 2 * x, torch.zeros_like(x))  # noqa: E731
    result = ExerciseRun(gated, LocalCaller({"doubled": useless}), examples=40, seed=1).run()
    assert result.score == 0.0 and all("agree with the reference on 0 of" in p.message for p in result.properties)
    # right on about 70% of the generic inputs (and wrong on some small ones): half the dtype rule's points
    partial = lambda x: torch.where(x[:1] % 10 < 7, 2 * x, x)  # noqa: E731
    drawn = drawing.draw("doubled", doubled, generic, 1, 20)
    share = sum(int(a[0][0]) % 10 < 7 for a in drawn.examples) / len(drawn.examples)
    factor = min(1.0, max(0.0, int((share - 0.5) / 0.4 / 0.05 + 1e-9) * 0.05))
    result = ExerciseRun(gated, LocalCaller({"doubled": partial}), examples=40, seed=1).run()
    assert 0 < factor < 1 and result.score == round(5 * factor, 6)


def test_the_scale_output_is_compared_with_the_reference():
    exercise = REGISTRY["pairwise_distances"]
    scale_only = dataclasses.replace(
        exercise, properties=tuple(p for p in exercise.properties if p.scale),
        scale_agreement=lambda inputs, actual, expected: None if torch.allclose(actual, expected, atol=1e-4)
        else "distances differ",
    )
    right = ExerciseRun(scale_only, LocalCaller({"pairwise_distances": exercise.reference})).run()
    assert right.score == scale_only.max_score
    stub = lambda embeddings, squared=False: torch.zeros(len(embeddings), len(embeddings))  # noqa: E731
    wrong = ExerciseRun(scale_only, LocalCaller({"pairwise_distances": stub})).run()
    assert wrong.score == 0.0 and "not the reference's: distances differ" in wrong.properties[0].message


def test_a_busy_moment_does_not_cost_the_speed_point_but_a_slow_function_is_slow_twice(monkeypatch):
    """One late run on the large input is timed again, against the reference timed again now."""
    import time

    exercise = REGISTRY["pairwise_distances"]
    scale_only = dataclasses.replace(exercise, properties=tuple(p for p in exercise.properties if p.scale))
    monkeypatch.setattr(engine_run, "SCALE_FLOOR", 0.3)
    monkeypatch.setitem(engine_run._reference_times, exercise.id, [1e-4] * 3)  # measured on a quiet machine
    runs = []

    def busy_once(embeddings, squared=False):
        runs.append(len(embeddings))
        if runs.count(2048) == 1 and len(embeddings) == 2048:
            time.sleep(1.0)  # another job took the CPU for a moment
        return exercise.reference(embeddings, squared)

    def slow(embeddings, squared=False):
        runs.append(len(embeddings))
        if len(embeddings) == 2048:
            time.sleep(1.0)
        return exercise.reference(embeddings, squared)

    right = ExerciseRun(scale_only, LocalCaller({"pairwise_distances": busy_once})).run()
    assert right.score == scale_only.max_score and runs.count(2048) == 2
    runs.clear()
    late = ExerciseRun(scale_only, LocalCaller({"pairwise_distances": slow})).run()
    assert late.score == 0.0 and late.properties[0].message.startswith("too slow") and runs.count(2048) == 2


def test_the_reference_is_timed_three_times_only_for_an_answer_slower_than_the_floor(monkeypatch):
    """The speed budget is max(10 x the best of three reference runs, the floor). An answer within
    the floor passes whatever that best is, so only the first run (which also gives the scale
    reference) is made; a slower answer is judged against the best of all three."""
    import time

    exercise = REGISTRY["pairwise_distances"]

    def reference(embeddings, squared=False):
        time.sleep(0.2)  # a reference of 0.2 s: a budget of at least 2 s
        return exercise.reference(embeddings, squared)

    scale_only = dataclasses.replace(exercise, reference=reference,
                                     properties=tuple(p for p in exercise.properties if p.scale))
    monkeypatch.setattr(engine_run, "SCALE_FLOOR", 0.3)
    monkeypatch.setattr(engine_run, "_reference_times", {})
    fast = ExerciseRun(scale_only, LocalCaller({"pairwise_distances": exercise.reference})).run()
    assert fast.score == scale_only.max_score and len(engine_run._reference_times[exercise.id]) == 1

    def slower_than_the_floor(embeddings, squared=False):
        time.sleep(0.5)
        return exercise.reference(embeddings, squared)

    slow = ExerciseRun(scale_only, LocalCaller({"pairwise_distances": slower_than_the_floor})).run()
    assert slow.score == scale_only.max_score and len(engine_run._reference_times[exercise.id]) == 3


def _failing(exercise_id, fn, prop_name):
    from .test_grader_suites import run

    result = run(exercise_id, fn)
    return next(p for p in result.properties if p.name == prop_name)


def test_a_gradient_rule_shows_both_gradients():
    from .grader_variants import pd_naive_sqrt

    prop = _failing("pairwise_distances", pd_naive_sqrt, "finite_gradient")
    cx = prop.counterexample
    assert {"expected_gradient", "actual_gradient"} <= set(cx)
    assert "nan" in str(cx["actual_gradient"]["value"]) and "nan" not in str(cx["expected_gradient"]["value"])


def test_an_in_place_rule_shows_the_inputs_as_the_call_left_them():
    from .grader_variants import nms_in_place

    prop = _failing("nms", nms_in_place, "inputs_unchanged")
    after = prop.counterexample["inputs_after"]
    assert set(after) <= {"boxes", "scores"} and after
    name = next(iter(after))
    assert after[name] != prop.counterexample["inputs"][name]
    from grader.selfcheck import render

    text = render(ExerciseRun(REGISTRY["nms"], LocalCaller({"nms": nms_in_place}), examples=30).run())
    assert "your inputs after the call (modified in place):" in text


def test_counterexamples_print_python_spellings():
    from grader.reports.feedback import python_text

    value = {"ok": True, "none": None, "t": {"dtype": "float32", "shape": [2], "value": [1.5, "nan"]}, "s": "nan"}
    assert python_text(value) == "{'ok': True, 'none': None, 't': tensor([1.5, nan], dtype=float32), 's': 'nan'}"


def test_the_examples_do_not_depend_on_what_else_the_process_imported(tmp_path, monkeypatch):
    """Hypothesis mixes literals of loaded local modules into its draws; the engine's draws must
    not change when a module full of odd literals is imported (as a notebook or hnm grade would)."""
    import importlib
    import sys

    from hypothesis import strategies as hs

    strategy = hs.lists(hs.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=6).map(
        lambda v: [torch.tensor(v, dtype=torch.float64)])

    def draws() -> list[bytes]:
        seen: list[bytes] = []
        drawing.run_hypothesis(strategy, lambda args: seen.append(drawing.key(args)), 20261207, 60, shrink=False)
        return seen

    before = draws()
    literals = ", ".join(repr(v) for v in (123456.75, -98765.125, 4242.4242, 0.000123, 77777.0, 31337.5))
    (tmp_path / "odd_literals_module.py").write_text(f"VALUES = ({literals})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("odd_literals_module")
    try:
        assert draws() == before
    finally:
        sys.modules.pop("odd_literals_module", None)
