"""Grading one exercise of one submission: Hypothesis draws inputs (fixed seed, no
database, no deadline), the reference gives the expected output, a caller gives the
student's, and each property's check decides. The last failing example Hypothesis replays
is its minimal (shrunk) one, which is what the report shows. Student outputs are cached per
input, so properties that draw the same examples cost one student call each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.strategies import SearchStrategy

from grader import misconceptions
from grader.engine.callers import Caller
from grader.engine.model import (
    DEFAULT_EXAMPLES,
    SCALE_FACTOR,
    SCALE_FLOOR,
    SEED,
    Case,
    Exercise,
    ExerciseResult,
    Hang,
    Property,
    PropertyResult,
    Reply,
    StudentError,
    zero,
)
from grader.sandbox import codec

_reference_seconds: dict[str, float] = {}


def reference_seconds(exercise: Exercise) -> float:
    """Best of two wall times of the reference on the scale input, measured once per process."""
    if exercise.id not in _reference_seconds:
        from grader.sandbox import scale

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            times = []
            for i in range(2):
                t0 = time.perf_counter()
                exercise.reference(*scale.make_inputs(exercise.id, SEED + i))
                times.append(time.perf_counter() - t0)
        finally:
            torch.set_num_threads(threads)
        _reference_seconds[exercise.id] = min(times)
    return _reference_seconds[exercise.id]


def check_signature(exercise: Exercise, params: list | None) -> str | None:
    if params is None:
        return f"could not read the signature of {exercise.id}"
    names = [p[0] for p in params]
    expected = f"expected {exercise.signature_text()}"
    if names[: len(exercise.params)] != list(exercise.params):
        return f"wrong signature: {expected}, found {exercise.id}({', '.join(names)})"
    for name, kind, has_default in params:
        if kind not in ("POSITIONAL_OR_KEYWORD", "POSITIONAL_ONLY") and name in exercise.params:
            return f"wrong signature: {expected}; {name} must be an ordinary parameter"
        if name in exercise.defaults and not has_default:
            return f"wrong signature: {expected}; {name} needs a default"
    extra = [n for n, kind, has_default in params[len(exercise.params):] if not has_default and kind != "VAR_POSITIONAL" and kind != "VAR_KEYWORD"]
    if extra:
        return f"wrong signature: {expected}; extra required parameters {extra}"
    return None


class ExerciseRun:
    """Grades one exercise of one submission."""

    def __init__(self, exercise: Exercise, caller: Caller, examples: int = DEFAULT_EXAMPLES, shrink: bool = True,
                 seed: int = SEED, scale_seed: int = SEED):
        self.exercise, self.caller, self.examples, self.shrink = exercise, caller, examples, shrink
        # Public constants for practice runs; graded runs pass seeds derived from the course secret.
        self.seed, self.scale_seed = seed, scale_seed
        self.cache: dict[bytes, Reply | Exception] = {}
        self.expected: dict[bytes, Any] = {}
        self.hang: str | None = None
        self.substance: dict[bytes, bool | None] = {}
        self.evidence: dict[str, list[int]] = {}  # property -> [telling examples, substantive answers]
        self.failures: list[misconceptions.Failure] = []  # failing counterexamples, for the diagnosis
        self.answers: list[tuple[list, Any]] = []  # (inputs, the student's output) of every plain call

    def run(self) -> ExerciseResult:
        ex = self.exercise
        try:
            problem = check_signature(ex, self.caller.signature(ex.id))
        except Hang as exc:
            return zero(ex, str(exc))
        if problem:
            return zero(ex, problem)
        passing = self._screen()
        result = ExerciseResult(ex.id)
        for prop in ex.properties:
            if prop.scale:
                continue  # judged last: the speed point needs a mostly correct function
            if self.hang:
                result.properties.append(
                    PropertyResult(prop.name, 0.0, float(prop.points), False,
                                   f"not run: an earlier property of this exercise stopped ({self.hang})")
                )
            elif prop.name in passing:
                result.properties.append(self._passed(prop))
            else:
                result.properties.append(self._property(prop))
        earned = result.score
        for index, prop in enumerate(ex.properties):
            if prop.scale:
                result.properties.insert(index, self._scale_gated(prop, earned))
        if self.hang:
            result.message = f"grading of this exercise stopped early: {self.hang}"
        self._diagnose(result)
        return result

    def _diagnose(self, result: ExerciseResult) -> None:
        """Name the known mistake that reproduces the student's failing answers, if one does,
        on every property whose counterexample it explains."""
        mistake = misconceptions.diagnose(self.exercise.id, self.failures, self.answers)
        if mistake is None:
            return
        explained = {f.prop for f in misconceptions.telling(self.failures)}
        for prop in result.properties:
            if not prop.passed and prop.name in explained:
                prop.diagnosis = mistake.as_dict()

    def _screen(self) -> set[str]:
        """Names of the properties that pass, found with one Hypothesis run per strategy.

        Properties drawing from the same strategy with the same seed see the same
        examples, so one run can evaluate them all; a property that passes there passes
        in its own run. Failing ones are re-run alone (in :meth:`_property`) so that
        Hypothesis shrinks each to its own minimal counterexample.
        """
        groups: dict[int, list[Property]] = {}
        for prop in self.exercise.properties:
            if not prop.scale:
                groups.setdefault(id(prop.strategy), []).append(prop)
        passing: set[str] = set()
        for props in groups.values():
            alive = list(props)
            self._hypothesis(props[0].strategy, self._screening_test(alive))()
            passing.update(p.name for p in alive)
        return passing

    def _screening_test(self, alive: list[Property]) -> Callable:
        """A test that drops from ``alive`` every property failing on an example; never raises."""

        def test(args):
            expected = self._reference(args)
            for prop in list(alive):
                try:
                    reply = self._student(args, prop, expected)
                except StudentError:
                    if prop.edge or self.exercise.ordinary(args):
                        alive.remove(prop)
                    continue
                except Hang:
                    alive.clear()
                    return
                case = Case(args, reply.value, expected, reply.mutated, reply.grad, self.caller.device)
                if self._judge(prop, case):
                    alive.remove(prop)
                else:
                    self._witness(prop, args, case)

        return test

    def _witness(self, prop: Property, args: list, case: Case) -> None:
        """Count whether this passing example carried a substantive answer."""
        key = self._key(args, prop)
        if key not in self.substance:
            try:
                self.substance[key] = self.exercise.substantive(case)
            except Exception:  # noqa: BLE001 - an unreadable answer says nothing
                self.substance[key] = False
        telling = self.substance[key]
        if telling is not None:
            counts = self.evidence.setdefault(prop.name, [0, 0])
            counts[0] += 1
            counts[1] += int(telling)

    def _overall_evidence(self) -> tuple[int, int]:
        """For a property whose own examples cannot tell (e.g. only edge cases): all examples seen."""
        seen = [v for v in self.substance.values() if v is not None]
        return len(seen), sum(seen)

    def _passed(self, prop: Property) -> PropertyResult:
        """A property without a failing example, unless it only held vacuously."""
        telling, substantive = self.evidence.get(prop.name) or self._overall_evidence()
        if telling and 2 * substantive < telling:
            return PropertyResult(
                prop.name, 0.0, float(prop.points), False,
                f"no points: the answers were empty or degenerate on {telling - substantive} of {telling} "
                "inputs where the reference has an answer, so this rule only held vacuously",
            )
        return PropertyResult(prop.name, float(prop.points), float(prop.points), True, "passed")

    @staticmethod
    def _judge(prop: Property, case: Case) -> str | None:
        """The property's verdict; a result the check cannot even read is a failure too."""
        try:
            return prop.check(case)
        except Exception as exc:  # noqa: BLE001 - e.g. an output of a shape no rule expects
            return f"the result could not be checked ({type(exc).__name__}: {exc})"

    def _hypothesis(self, strategy: SearchStrategy, test: Callable):
        return settings(
            max_examples=self.examples,
            database=None,
            deadline=None,
            derandomize=False,
            verbosity=Verbosity.quiet,
            phases=(Phase.explicit, Phase.generate, Phase.shrink) if self.shrink else (Phase.explicit, Phase.generate),
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )(seed(self.seed)(given(strategy)(test)))

    # -- one property ---------------------------------------------------------------
    def _key(self, args: list, prop: Property) -> bytes:
        return codec.dumps([codec.encode(list(args)), prop.grad_wrt])

    def _student(self, args: list, prop: Property, expected: Any) -> Reply:
        key = self._key(args, prop)
        if key not in self.cache:
            upstream = prop.upstream(args, expected) if prop.upstream else None
            try:
                self.cache[key] = self.caller.call(self.exercise.id, args, prop.grad_wrt, upstream)
                if prop.grad_wrt is None:
                    self.answers.append((list(args), self.cache[key].value))
            except StudentError as exc:
                self.cache[key] = exc
            except Hang as exc:  # remembered, so a re-run meets it at once instead of waiting again
                self.cache[key] = exc
        hit = self.cache[key]
        if isinstance(hit, Exception):
            raise hit
        return hit

    def _reference(self, args: list) -> Any:
        key = codec.dumps(codec.encode(list(args)))
        if key not in self.expected:
            self.expected[key] = self.exercise.reference(*args)
        return self.expected[key]

    def _property(self, prop: Property) -> PropertyResult:
        state: dict[str, Any] = {}
        self.evidence.pop(prop.name, None)

        def test(args):
            if "hang" in state:
                raise _Stop()
            expected = self._reference(args)
            try:
                reply = self._student(args, prop, expected)
            except StudentError as exc:
                if not (prop.edge or self.exercise.ordinary(args)):
                    return  # crashing on an edge case costs the edge-case property only
                state["failure"] = (f"your function {exc}", args, expected, None)
                raise _Stop() from None
            except Hang as exc:
                state.setdefault("hang", (str(exc), args, expected, None))
                raise _Stop() from None
            case = Case(args, reply.value, expected, reply.mutated, reply.grad, self.caller.device)
            message = self._judge(prop, case)
            if message:
                state["failure"] = (message, args, expected, reply.value)
                raise _Stop()
            self._witness(prop, args, case)

        try:
            self._hypothesis(prop.strategy, test)()
        except BaseException as exc:  # noqa: BLE001 - Hypothesis re-raises the last failure (or Flaky)
            if isinstance(exc, KeyboardInterrupt):
                raise
            if "hang" in state:
                message, args, expected, actual = state["hang"]
                self.hang = message
                return self._failed(prop, f"{message} on this input", args, expected, actual)
            if "failure" in state:
                return self._failed(prop, *state["failure"])
            return self._failed(prop, f"could not be checked: {type(exc).__name__}: {exc}", None, None, None)
        return self._passed(prop)

    def _failed(self, prop: Property, message: str, args, expected, actual) -> PropertyResult:
        counterexample = None
        if args is not None:
            self.failures.append(misconceptions.Failure(prop.name, list(args), expected, actual))
            counterexample = {
                "inputs": {name: codec.to_jsonable(v) for name, v in zip(self.exercise.params, args)},
                "expected": codec.to_jsonable(expected),
                "actual": codec.to_jsonable(actual),
            }
        return PropertyResult(prop.name, 0.0, float(prop.points), False, message, counterexample)

    def _scale_gated(self, prop: Property, earned: float) -> PropertyResult:
        others = sum(p.points for p in self.exercise.properties if not p.scale)
        if self.hang:
            return PropertyResult(prop.name, 0.0, float(prop.points), False,
                                  f"not run: an earlier property of this exercise stopped ({self.hang})")
        if 2 * earned < others:
            return PropertyResult(prop.name, 0.0, float(prop.points), False,
                                  "not run: the speed point needs a mostly correct function (half of the other points)")
        return self._scale(prop)

    def _scale(self, prop: Property) -> PropertyResult:
        budget = max(SCALE_FACTOR * reference_seconds(self.exercise), SCALE_FLOOR)
        rule = f"on the large input it must finish within {SCALE_FACTOR:g}x the reference's time (at least {SCALE_FLOOR:g} s)"
        t0 = time.perf_counter()
        try:
            summary = self.caller.scale(self.exercise.id, self.exercise.id, self.scale_seed, timeout=budget + 0.5)
        except Hang as exc:
            if "did not finish" not in str(exc):  # it died (e.g. out of memory), rather than ran out of time
                return PropertyResult(prop.name, 0.0, float(prop.points), False, f"on the large input {exc}")
            # No measured times in the message: the same submission must get the same report.
            return PropertyResult(
                prop.name, 0.0, float(prop.points), False,
                f"too slow: {rule}; it was stopped. A Python loop over pairs or boxes (or a B x B x B "
                "tensor) cannot make it: vectorise over the batch.",
            )
        except StudentError as exc:
            return PropertyResult(prop.name, 0.0, float(prop.points), False, f"on the large input your function {exc}")
        elapsed = time.perf_counter() - t0
        problem = self.exercise.structure(summary)
        if problem:
            return PropertyResult(prop.name, 0.0, float(prop.points), False, f"on the large input: {problem}")
        if elapsed > budget:
            return PropertyResult(prop.name, 0.0, float(prop.points), False,
                                  f"too slow: {rule}. Vectorise over the batch instead of looping in Python.")
        return PropertyResult(prop.name, float(prop.points), float(prop.points), True, "passed")


class _Stop(Exception):
    """Internal: a failing example (details are in the property's state)."""
