"""Property engine: runs an exercise's properties against a submission and scores them.

The trusted parent draws inputs with Hypothesis (fixed seed, no database, no deadline),
computes the reference output itself, asks a *caller* for the student's output (a
sandboxed worker, or in-process for notebook self-checks), and decides. The last
failing example Hypothesis replays is its minimal (shrunk) one, which is what the
report shows. Student outputs are cached per input, so properties that draw the same
examples cost one student call each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.strategies import SearchStrategy

from . import codec
from .sandbox import WorkerFailure

SEED = 20261128
DEFAULT_EXAMPLES = 100
SCALE_FACTOR = 10.0  # student time budget = max(SCALE_FACTOR x reference, SCALE_FLOOR)
SCALE_FLOOR = 2.0


class CheckFailed(Exception):
    """Raised by helpers inside a check: the message is the student's feedback."""


class StudentError(Exception):
    """The student's function raised (or returned something unusable) on one input."""

    def __init__(self, message: str):
        super().__init__(_canonical(message))


def _canonical(message: str) -> str:
    """The same failure must read the same on every run: no addresses, and one wording for
    running out of memory (which allocation fails first can depend on the process's history)."""
    import re

    if re.search(r"can't allocate memory|out of memory|MemoryError|Cannot allocate memory", message):
        return "raised an out-of-memory error (the worker may use 4 GiB): the result must fit in O(B^2) memory"
    return re.sub(r"0x[0-9a-fA-F]+", "0x...", message)


class Hang(Exception):
    """The worker hung or crashed: the rest of this exercise is not run."""


@dataclass(frozen=True)
class Case:
    """One example as a check sees it. ``args`` are the positional inputs (CPU tensors)."""

    args: list
    actual: Any
    expected: Any
    mutated: tuple[int, ...] = ()
    grad: Any = None
    device: str = "cpu"  # where the student's function ran (outputs must stay there)


@dataclass(frozen=True)
class Property:
    name: str
    points: float
    description: str
    strategy: SearchStrategy | None = None
    check: Callable[[Case], str | None] | None = None
    visibility: str = "visible"
    grad_wrt: int | None = None  # also ask for d(sum(out * upstream)) / d(args[grad_wrt])
    upstream: Callable[[list, Any], torch.Tensor] | None = None
    scale: bool = False
    edge: bool = False  # an exception fails this property on any input, not only on ordinary ones


@dataclass(frozen=True)
class Exercise:
    id: str
    reference: Callable
    params: tuple[str, ...]
    defaults: dict[str, Any]
    properties: tuple[Property, ...]
    structure: Callable[[Any], str | None]  # checks a scale summary (see grader.scale.describe)
    ordinary: Callable[[list], bool] = lambda args: True  # inputs every rule property may fail on
    # Whether the student's answer on one example says anything (None: the example cannot
    # tell, e.g. the reference's answer is empty). A rule earns nothing from answers that
    # are empty or all-zero on most examples, where it would hold vacuously.
    substantive: Callable[[Case], bool | None] = lambda case: None
    summary: str = ""

    @property
    def max_score(self) -> float:
        return float(sum(p.points for p in self.properties))

    def signature_text(self) -> str:
        parts = [f"{p}={self.defaults[p]!r}" if p in self.defaults else p for p in self.params]
        return f"{self.id}({', '.join(parts)})"


@dataclass
class Reply:
    value: Any = None
    mutated: tuple[int, ...] = ()
    grad: Any = None


# ------------------------------------------------------------------------------ callers
class Caller:
    """How the engine reaches the student's functions."""

    device = "cpu"

    def signature(self, fn: str) -> list | None: ...

    def call(self, fn: str, args: list, grad_wrt: int | None, upstream: Any) -> Reply: ...

    def scale(self, fn: str, exercise: str, seed_: int, timeout: float) -> Any: ...


class WorkerCaller(Caller):
    """Calls into a sandboxed worker; a dead worker is replaced and the code reloaded."""

    def __init__(self, worker, cells: list[tuple[str, str]]):
        self.worker, self.cells, self.device = worker, cells, worker.device
        self.load_report: dict | None = None

    def _ensure(self) -> None:
        if self.worker.proc is None:
            self.worker.start()
            reply = self.worker.request({"op": "load", "cells": self.cells}, timeout=self.worker.limits.load_seconds)
            if self.load_report is None:
                self.load_report = reply

    def load(self) -> dict:
        try:
            self._ensure()
        except WorkerFailure as exc:
            return {"ok": False, "error": f"{exc} while the submission was being loaded"}
        return self.load_report or {}

    def _request(self, message: dict, timeout: float | None = None) -> dict:
        try:
            self._ensure()
            return self.worker.request(message, timeout)
        except WorkerFailure as exc:
            raise Hang(str(exc)) from None

    def signature(self, fn: str) -> list | None:
        reply = self._request({"op": "signature", "fn": fn})
        return reply.get("params") if reply.get("ok") else None

    def call(self, fn, args, grad_wrt, upstream) -> Reply:
        message = {"op": "call", "fn": fn, "args": codec.encode(list(args))}
        if grad_wrt is not None:
            message.update(grad_wrt=grad_wrt, upstream=codec.encode(upstream))
        reply = self._request(message)
        if not reply.get("ok"):
            raise StudentError(f"raised {reply.get('error', 'an error')}")
        try:
            value = codec.decode(reply.get("value"))
            grad = codec.decode(reply.get("grad")) if grad_wrt is not None else None
        except codec.Rejected as exc:
            raise StudentError(str(exc)) from None
        mutated = reply.get("mutated", [])
        mutated = tuple(i for i in mutated if isinstance(i, int)) if isinstance(mutated, list) else ()
        return Reply(value, mutated, grad)

    def scale(self, fn, exercise, seed_, timeout):
        reply = self._request({"op": "scale", "fn": fn, "exercise": exercise, "seed": seed_}, timeout=timeout)
        if not reply.get("ok"):
            raise StudentError(f"raised {reply.get('error', 'an error')}")
        return reply.get("summary")


class LocalCaller(Caller):
    """In-process calls, for self-checks in a notebook. Outputs still go through the codec,
    so the same strictness applies (no tensor subclasses, plain data only)."""

    def __init__(self, functions: dict[str, Callable], device: str = "cpu", alarm=None, call_seconds: float = 10.0):
        self.functions, self.device, self.alarm, self.call_seconds = functions, device, alarm, call_seconds

    def _limit(self, seconds: float):
        import contextlib

        return self.alarm.limit(seconds) if self.alarm is not None else contextlib.nullcontext()

    def signature(self, fn):
        import inspect

        params = inspect.signature(self.functions[fn]).parameters.values()
        return [[p.name, p.kind.name, p.default is not inspect.Parameter.empty] for p in params]

    def call(self, fn, args, grad_wrt, upstream) -> Reply:
        # Copies: the student's function must never touch the engine's own inputs.
        moved = [a.detach().to(self.device, copy=True) if isinstance(a, torch.Tensor) else a for a in args]
        before = [a.clone() if isinstance(a, torch.Tensor) else None for a in moved]
        if grad_wrt is not None:
            moved[grad_wrt] = moved[grad_wrt].detach().requires_grad_(True)
        try:
            with self._limit(self.call_seconds):
                out = self.functions[fn](*moved)
        except TimeoutError as exc:
            raise Hang(f"the function {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the student's exception is the feedback
            raise StudentError(f"raised {type(exc).__name__}" + (f": {exc}" if str(exc) else "")) from None
        mutated = tuple(
            i for i, (a, b) in enumerate(zip(moved, before))
            if b is not None and (a.shape != b.shape or not torch.equal(a.detach(), b))
        )
        grad = None
        if grad_wrt is not None:
            if type(out) is torch.Tensor and out.numel() == 0:
                grad = torch.zeros_like(moved[grad_wrt]).cpu()  # nothing to differentiate
            elif type(out) is not torch.Tensor or not out.requires_grad:
                grad = codec.RejectedValue("an output that is not connected to the input (no gradient)")
            else:
                try:
                    (g,) = torch.autograd.grad(out, moved[grad_wrt], upstream.to(out.device, out.dtype),
                                               allow_unused=True)
                except Exception as exc:  # noqa: BLE001 - e.g. an output of the wrong shape
                    raise StudentError(f"could not be differentiated: {type(exc).__name__}: {exc}") from None
                grad = codec.decode(codec.encode(torch.zeros_like(moved[grad_wrt]) if g is None else g))
        try:
            value = codec.decode(codec.loads(codec.dumps(codec.encode(out))))
        except codec.Rejected as exc:
            raise StudentError(str(exc)) from None
        return Reply(value, mutated, grad)

    def scale(self, fn, exercise, seed_, timeout):
        from . import scale

        args = scale.make_inputs(exercise, seed_, self.device)
        try:
            with self._limit(timeout):
                out = self.functions[fn](*args)
        except TimeoutError as exc:
            raise Hang(f"the function {exc}") from None
        except Exception as exc:  # noqa: BLE001
            raise StudentError(f"raised {type(exc).__name__}: {exc}") from None
        return scale.describe(out)


# ------------------------------------------------------------------------------ results
@dataclass
class PropertyResult:
    name: str
    score: float
    max_score: float
    passed: bool
    message: str
    counterexample: Any = None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "message": self.message,
            "counterexample": self.counterexample,
        }


@dataclass
class ExerciseResult:
    id: str
    properties: list[PropertyResult] = field(default_factory=list)
    message: str = ""

    @property
    def score(self) -> float:
        return float(sum(p.score for p in self.properties))

    @property
    def max_score(self) -> float:
        return float(sum(p.max_score for p in self.properties))

    def as_dict(self) -> dict:
        out = {"score": self.score, "max_score": self.max_score, "properties": [p.as_dict() for p in self.properties]}
        if self.message:
            out["message"] = self.message
        return out


def zero(exercise: Exercise, message: str) -> ExerciseResult:
    """Every property of ``exercise`` scored 0 with the same message."""
    return ExerciseResult(
        exercise.id,
        [PropertyResult(p.name, 0.0, float(p.points), False, message) for p in exercise.properties],
        message,
    )


# ------------------------------------------------------------------------------ running
_reference_seconds: dict[str, float] = {}


def reference_seconds(exercise: Exercise) -> float:
    """Best of two wall times of the reference on the scale input, measured once per process."""
    if exercise.id not in _reference_seconds:
        from . import scale

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

    def __init__(self, exercise: Exercise, caller: Caller, examples: int = DEFAULT_EXAMPLES, shrink: bool = True):
        self.exercise, self.caller, self.examples, self.shrink = exercise, caller, examples, shrink
        self.cache: dict[bytes, Reply | Exception] = {}
        self.expected: dict[bytes, Any] = {}
        self.hang: str | None = None
        self.substance: dict[bytes, bool | None] = {}
        self.evidence: dict[str, list[int]] = {}  # property -> [telling examples, substantive answers]

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
        return result

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
        )(seed(SEED)(given(strategy)(test)))

    # -- one property ---------------------------------------------------------------
    def _key(self, args: list, prop: Property) -> bytes:
        return codec.dumps([codec.encode(list(args)), prop.grad_wrt])

    def _student(self, args: list, prop: Property, expected: Any) -> Reply:
        key = self._key(args, prop)
        if key not in self.cache:
            upstream = prop.upstream(args, expected) if prop.upstream else None
            try:
                self.cache[key] = self.caller.call(self.exercise.id, args, prop.grad_wrt, upstream)
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
        from . import scale

        budget = max(SCALE_FACTOR * reference_seconds(self.exercise), SCALE_FLOOR)
        rule = f"on the large input it must finish within {SCALE_FACTOR:g}x the reference's time (at least {SCALE_FLOOR:g} s)"
        t0 = time.perf_counter()
        try:
            summary = self.caller.scale(self.exercise.id, self.exercise.id, SEED, timeout=budget + 0.5)
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
