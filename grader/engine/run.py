"""Grading one exercise of one submission: Hypothesis draws inputs (fixed seed, no
database, no deadline), the reference gives the expected output, a caller gives the
student's, and each property's check decides.

Screening judges every property on its strategy's examples, drawn once per process
(:mod:`grader.engine.examples`), with the student's outputs fetched in batches (one worker
round trip per chunk of examples). A property that fails there is re-run alone under
Hypothesis, which shrinks its counterexample within a fixed budget of calls; the smallest
failing example found is what the report shows. Student outputs are cached per input, so
properties that see the same examples cost one student call each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from hypothesis.strategies import SearchStrategy

from grader import misconceptions
from grader.engine import examples as drawing
from grader.engine.callers import Caller
from grader.engine.model import (
    AGREE_FULL,
    AGREE_NONE,
    AGREE_STEP,
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

_reference_times: dict[str, list[float]] = {}  # exercise -> wall times of its first runs, in order
BATCH = 25  # at most this many examples per worker round trip while screening
SHRINK_CALLS = 60  # calls a failing rule's re-run may spend shrinking, after its first failure
SHRINK_CRASH_CALLS = 12  # the same when the function raised: the screening's first crash is usually small already
REFERENCE_RUNS = 3  # the reference's time on the scale input is the best of this many runs


def reference_seconds(exercise: Exercise, fresh: bool = False, runs: int = REFERENCE_RUNS) -> float:
    """The best of ``runs`` wall times of the reference on the scale inputs of seeds SEED, SEED + 1,
    ..., measured once per process and only as far as asked: ``runs=1`` is the first run alone, an
    upper bound of the best of three, and a later call adds the runs still missing. ``fresh``
    measures three runs again now, under the machine's present load (what is kept is left as it
    was). The first run's inputs and output are kept as the scale reference of the public seed
    (:func:`scale_reference`): the answer a public-seed scale output is compared with."""
    times = [] if fresh else _reference_times.setdefault(exercise.id, [])
    wanted = REFERENCE_RUNS if fresh else runs
    if len(times) < wanted:
        from grader.sandbox import scale

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            while len(times) < wanted:
                i = len(times)
                t0 = time.perf_counter()
                inputs = scale.make_inputs(exercise.id, SEED + i)
                output = exercise.reference(*inputs)
                times.append(time.perf_counter() - t0)
                if i == 0 and not fresh:
                    _keep_scale_reference((exercise.id, SEED), inputs, output)
        finally:
            torch.set_num_threads(threads)
    return min(times[:wanted])


def reference_gradient(exercise: Exercise, args: list, prop: Property, expected: Any) -> torch.Tensor | None:
    """d(sum(reference(args) * upstream)) / d(args[prop.grad_wrt]), as the student's gradient is
    asked for (None when the reference's output cannot be differentiated there)."""
    try:
        x = args[prop.grad_wrt].detach().clone().requires_grad_(True)
        inputs = list(args)
        inputs[prop.grad_wrt] = x
        out = exercise.reference(*inputs)
        upstream = prop.upstream(args, expected) if prop.upstream else torch.ones_like(out)
        (grad,) = torch.autograd.grad(out, x, upstream.to(out.dtype), allow_unused=True)
        return torch.zeros_like(x) if grad is None else grad.detach()
    except Exception:  # noqa: BLE001 - e.g. an empty output: there is nothing to show
        return None


_scale_reference: dict[tuple[str, int], tuple[list, Any]] = {}
SCALE_REFERENCES = 16  # kept per process (all twelve exercises' take ~170 MB): a class run's scale seed is per exercise


def _keep_scale_reference(key: tuple[str, int], inputs: list, output: Any) -> None:
    _scale_reference.pop(key, None)
    while len(_scale_reference) >= SCALE_REFERENCES:
        del _scale_reference[next(iter(_scale_reference))]  # the oldest
    _scale_reference[key] = (inputs, output)


def scale_reference(exercise: Exercise, seed_: int) -> tuple[list, Any]:
    """The scale inputs for ``seed_`` and the reference's output on them, once per process."""
    key = (exercise.id, seed_)
    if key not in _scale_reference:
        from grader.sandbox import scale

        inputs = scale.make_inputs(exercise.id, seed_)
        _keep_scale_reference(key, inputs, exercise.reference(*inputs))
    return _scale_reference[key]


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
        self.cache: dict[tuple, Reply | Exception] = {}
        self.expected: dict[bytes, Any] = {}
        self.batching = True  # until a batch fails: then one call per round trip, each with its own time limit
        self.batch_size = 1
        self._ahead: tuple | None = None  # a batch sent before the last one was judged (see _prefetch)
        self.witness: dict[str, tuple] = {}  # property -> its first failure while screening
        self.crash: tuple | None = None  # a shrunk crash on an ordinary input, shared by the rules it fails
        self.hang: str | None = None
        self.substance: dict[bytes, bool | None] = {}
        self.evidence: dict[str, list[int]] = {}  # property -> [telling examples, substantive answers]
        self.failures: list[misconceptions.Failure] = []  # failing counterexamples, for the diagnosis
        self.answers: list[tuple[list, Any]] = []  # (inputs, the student's output) of every plain call

    def _draws(self) -> list[drawing.Drawn]:
        """Every set of examples this run judges on: the generic ones, then one per strategy."""
        return drawing.draw_all(self.exercise.id, self.exercise.reference, self.wanted(), self.seed)

    def wanted(self) -> list[tuple[SearchStrategy, int]]:
        """The strategies :meth:`_draws` draws from, each with its number of examples."""
        ex = self.exercise
        wanted = []
        if ex.generic is not None and ex.agreement is not None:
            wanted.append((ex.generic, max(1, self.examples // 2)))
        strategies = {id(p.strategy): p.strategy for p in ex.properties if not p.scale}
        return wanted + [(s, self.examples) for s in strategies.values()]

    def prepare(self) -> None:
        """Draw the examples and compute the reference's outputs now (cached per process), e.g.
        while the student's worker is still starting; :meth:`run` would otherwise do it."""
        for drawn in self._draws():
            for index in range(len(drawn.examples)):
                drawn.expected(index)

    def run(self) -> ExerciseResult:
        ex = self.exercise
        try:
            problem = check_signature(ex, self.caller.signature(ex.id))
        except Hang as exc:
            return zero(ex, str(exc))
        if problem:
            return zero(ex, problem)
        factor, agreement_note = self._agreement()
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
        if factor < 1:
            for prop_result in result.properties:
                if prop_result.passed:
                    prop_result.score = round(prop_result.max_score * factor, 6)
                    prop_result.message = f"passed, for {factor:.0%} of its points: {agreement_note}"
        earned = result.score
        for index, prop in enumerate(ex.properties):
            if prop.scale:
                result.properties.insert(index, self._scale_gated(prop, earned))
        if self.hang:
            result.message = f"grading of this exercise stopped early: {self.hang}"
        self._diagnose(result)
        return result

    def _agreement(self) -> tuple[float, str | None]:
        """The share of the rules' points the answer earns: how often it agrees with the reference
        on generic inputs (no ties, no boundaries), decided before any rule is judged. Structure
        and validity rules hold for many useless answers; they count only for an answer that
        mostly computes what was asked."""
        ex = self.exercise
        if ex.generic is None or ex.agreement is None:
            return 1.0, None
        drawn = self._draws()[0]
        plain = Property("agreement", 0, "", ex.generic)
        telling = agreeing = 0
        fetched = 0
        for index, args in enumerate(drawn.examples):
            if index >= fetched:
                fetched = self._prefetch(drawn, index, [plain])
            expected = drawn.expected(index)
            try:
                reply = self._student(args, plain, expected, drawn.keys[index])
                verdict = ex.agreement(Case(args, reply.value, expected, reply.mutated, None, self.caller.device))
            except Hang:
                break
            except Exception:  # noqa: BLE001 - a crash or an unreadable answer does not agree
                verdict = False
            if verdict is not None:
                telling += 1
                agreeing += bool(verdict)
        self._drop_ahead()
        if not telling:
            return 1.0, None
        share = agreeing / telling
        steps = int((share - AGREE_NONE) / (AGREE_FULL - AGREE_NONE) / AGREE_STEP + 1e-9)
        factor = min(1.0, max(0.0, steps * AGREE_STEP))
        note = (f"the answers agree with the reference on {agreeing} of {telling} generic inputs "
                f"(full points from {AGREE_FULL:.0%}, none at {AGREE_NONE:.0%} or less)")
        return factor, note

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
        """Names of the properties that pass, found with one pass over each strategy's examples.

        Properties drawing from the same strategy with the same seed see the same examples,
        so one pass evaluates them all. Failing ones are re-run alone (in :meth:`_property`)
        so that Hypothesis shrinks each to its own minimal counterexample.
        """
        groups: dict[int, list[Property]] = {}
        for prop in self.exercise.properties:
            if not prop.scale:
                groups.setdefault(id(prop.strategy), []).append(prop)
        passing: set[str] = set()
        for props in groups.values():
            alive = list(props)
            drawn = drawing.draw(self.exercise.id, self.exercise.reference, props[0].strategy, self.seed, self.examples)
            fetched = 0
            for index in range(len(drawn.examples)):
                if not alive:
                    break
                if index >= fetched:
                    fetched = self._prefetch(drawn, index, alive)
                if not self._screen_one(drawn, index, alive):
                    break
            self._drop_ahead()
            passing.update(p.name for p in alive)
        return passing

    def _screen_one(self, drawn: drawing.Drawn, index: int, alive: list[Property]) -> bool:
        """Judge the live properties on one example, dropping each that fails; False on a hang."""
        args, expected = drawn.examples[index], drawn.expected(index)
        self.expected.setdefault(drawn.keys[index], expected)
        for prop in list(alive):
            try:
                reply = self._student(args, prop, expected, drawn.keys[index])
            except StudentError as exc:
                if prop.edge or self.exercise.ordinary(args):
                    alive.remove(prop)
                    self.witness.setdefault(prop.name, (f"your function {exc}", args, expected, None, None))
                continue
            except Hang:
                alive.clear()
                return False
            case = Case(args, reply.value, expected, reply.mutated, reply.grad, self.caller.device)
            message = self._judge(prop, case)
            if message:
                alive.remove(prop)
                self.witness.setdefault(prop.name, (message, args, expected, reply.value, reply))
            else:
                self._witness(prop, drawn.keys[index], case)
        return True

    def _prefetch(self, drawn: drawing.Drawn, start: int, alive: list[Property]) -> int:
        """Fetch the student's outputs on the examples from ``start`` in one round trip, and
        return the index after the last one fetched. A cache fill only: if the batch fails, each
        call is made again alone, with its own time limit. Batches start at one example and
        double up to ``BATCH`` while round trips stay short, so a function that fails at once
        (or takes seconds per call) is not called on examples the screening never reaches.

        With a worker, the next batch is sent before this one is judged, so that the worker
        computes while the engine judges. Of its answers only those this method would have asked
        for when the screening gets there are kept (the rules still alive then), and none if it
        never does: the cache, and so every report, is the same as with one batch at a time."""
        if not self.batching:
            self._drop_ahead()
            return len(drawn.examples)
        indices = range(start, min(start + self.batch_size, len(drawn.examples)))
        wanted = self._calls(drawn, indices, alive)
        ahead, self._ahead = self._ahead, None
        if ahead is not None and not (ahead[0] is drawn and ahead[1] == indices and wanted):
            self._drop(ahead)
            ahead = None
        if not wanted:
            self._send_ahead(drawn, indices.stop, alive)
            return indices.stop
        if ahead is None:
            ahead = (drawn, indices, wanted, time.perf_counter(),
                     self.caller.send_many(self.exercise.id, [(a, g, u) for _, a, g, u in wanted]))
        _, _, sent, t0, result = ahead
        try:
            replies = dict(zip((k for k, _, _, _ in sent), result())) if sent else {}
            missing = [w for w in wanted if w[0] not in replies]
            if missing:  # calls the batch sent ahead lacks (it was sent for other rules); made now
                replies.update(zip((k for k, _, _, _ in missing),
                                   self.caller.call_many(self.exercise.id, [(a, g, u) for _, a, g, u in missing])))
        except Hang:
            self.batching = False
            return len(drawn.examples)
        # Only the batch size (how the work is cut) depends on time, never a result.
        fast = time.perf_counter() - t0 < 1.0
        self.batch_size = min(BATCH, 2 * self.batch_size) if fast else max(1, self.batch_size // 2)
        for key, args, grad_wrt, _ in wanted:
            reply = replies[key]
            self.cache[key] = reply
            if grad_wrt is None and not isinstance(reply, Exception):
                self.answers.append((list(args), reply.value))
        self._send_ahead(drawn, indices.stop, alive)
        return indices.stop

    def _calls(self, drawn: drawing.Drawn, indices: range, alive: list[Property]) -> list[tuple[tuple, list, int | None, Any]]:
        """The calls the live rules need on these examples and the cache lacks: (key, args, grad_wrt, upstream)."""
        wanted: list[tuple[tuple, list, int | None, Any]] = []
        for index in indices:
            args = drawn.examples[index]
            for prop in alive:
                key = (drawn.keys[index], prop.grad_wrt)
                if key in self.cache or any(w[0] == key for w in wanted):
                    continue
                upstream = prop.upstream(args, drawn.expected(index)) if prop.upstream else None
                wanted.append((key, args, prop.grad_wrt, upstream))
        return wanted

    def _send_ahead(self, drawn: drawing.Drawn, start: int, alive: list[Property]) -> None:
        """Send the batch :meth:`_prefetch` will ask for at ``start`` now (a worker only)."""
        if not (self.caller.concurrent and alive and start < len(drawn.examples)):
            return
        indices = range(start, min(start + self.batch_size, len(drawn.examples)))
        sent = self._calls(drawn, indices, alive)
        result = self.caller.send_many(self.exercise.id, [(a, g, u) for _, a, g, u in sent]) if sent else None
        self._ahead = (drawn, indices, sent, time.perf_counter(), result)

    def _drop_ahead(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            self._drop(ahead)

    @staticmethod
    def _drop(ahead: tuple) -> None:
        """Read and forget a batch sent ahead that the screening did not reach."""
        if ahead[4] is not None:
            try:
                ahead[4]()
            except Hang:
                pass  # the worker was stopped; the next call starts another

    def _witness(self, prop: Property, content: bytes, case: Case) -> None:
        """Count whether this passing example (its content key) carried a substantive answer."""
        key = (content, prop.grad_wrt)
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

    def _hypothesis(self, strategy: SearchStrategy, test: Callable) -> None:
        drawing.run_hypothesis(strategy, test, self.seed, self.examples, self.shrink)

    # -- one property ---------------------------------------------------------------
    def _student(self, args: list, prop: Property, expected: Any, content: bytes | None = None) -> Reply:
        key = (content if content is not None else drawing.key(args), prop.grad_wrt)
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

    def _reference(self, args: list, key: bytes) -> Any:
        if key not in self.expected:
            self.expected[key] = self.exercise.reference(*args)
        return self.expected[key]

    def _property(self, prop: Property) -> PropertyResult:
        """A property that failed while screening: its own Hypothesis run shrinks the failure,
        spending at most ``SHRINK_CALLS`` calls after the first one; the smallest failing example
        it reached is reported (the screening's first failure when it reached none)."""
        state: dict[str, Any] = {"calls": 0}
        self.evidence.pop(prop.name, None)
        witness = self.witness.get(prop.name)
        if self.crash is not None and witness is not None and witness[0] == self.crash[0]:
            return self._failed(prop, *self.crash)  # the same crash, already shrunk for another rule

        def test(args):
            if "hang" in state:
                raise _Stop()
            if "failure" in state:
                state["calls"] += 1
                if state["calls"] > (SHRINK_CRASH_CALLS if _is_crash(state["failure"]) else SHRINK_CALLS):
                    raise _OutOfBudget()
            content = drawing.key(args)
            expected = self._reference(args, content)
            try:
                reply = self._student(args, prop, expected, content)
            except StudentError as exc:
                if not (prop.edge or self.exercise.ordinary(args)):
                    return  # crashing on an edge case costs the edge-case property only
                state["failure"] = (f"your function {exc}", args, expected, None, None)
                raise _Stop() from None
            except Hang as exc:
                state.setdefault("hang", (str(exc), args, expected, None, None))
                raise _Stop() from None
            case = Case(args, reply.value, expected, reply.mutated, reply.grad, self.caller.device)
            message = self._judge(prop, case)
            if message:
                state["failure"] = (message, args, expected, reply.value, reply)
                raise _Stop()
            self._witness(prop, content, case)

        if self.shrink or prop.name not in self.witness:
            try:
                self._hypothesis(prop.strategy, test)
            except _OutOfBudget:
                pass
            except BaseException as exc:  # noqa: BLE001 - Hypothesis re-raises the last failure (or Flaky)
                if isinstance(exc, KeyboardInterrupt):
                    raise
                if "hang" not in state and "failure" not in state and prop.name not in self.witness:
                    return self._failed(prop, f"could not be checked: {type(exc).__name__}: {exc}", None, None, None)
        if "hang" in state:
            message, args, expected, actual, _ = state["hang"]
            self.hang = message
            return self._failed(prop, f"{message} on this input", args, expected, actual)
        failure = state.get("failure") or witness
        if failure is not None:
            if not prop.edge and _is_crash(failure):
                self.crash = failure  # a crash on an ordinary input fails every rule the same way
            return self._failed(prop, *failure)
        return self._passed(prop)

    def _failed(self, prop: Property, message: str, args, expected, actual, reply: Reply | None = None) -> PropertyResult:
        counterexample = None
        if args is not None:
            self.failures.append(misconceptions.Failure(prop.name, list(args), expected, actual))
            counterexample = {
                "inputs": {name: codec.to_jsonable(v) for name, v in zip(self.exercise.params, args)},
                "expected": codec.to_jsonable(expected),
                "actual": codec.to_jsonable(actual),
            }
            counterexample.update(self._about_the_rule(prop, args, expected, reply))
        return PropertyResult(prop.name, 0.0, float(prop.points), False, message, counterexample)

    def _about_the_rule(self, prop: Property, args: list, expected: Any, reply: Reply | None) -> dict:
        """What a gradient or in-place rule is about, next to the outputs: the reference's and the
        student's gradients, and the inputs the student's call modified, as they were left."""
        out: dict[str, Any] = {}
        if reply is None:
            return out
        if prop.grad_wrt is not None and isinstance(reply.grad, torch.Tensor):
            want = reference_gradient(self.exercise, args, prop, expected)
            if want is not None:
                out["expected_gradient"] = codec.to_jsonable(want)
            out["actual_gradient"] = codec.to_jsonable(reply.grad)
        if reply.mutated and prop.name == "inputs_unchanged":
            names = self.exercise.params
            out["inputs_after"] = {names[i]: codec.to_jsonable(v) for i, v in sorted(reply.after.items()) if i < len(names)}
        return out

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
        rule = f"on the large input it must finish within {SCALE_FACTOR:g}x the reference's time (at least {SCALE_FLOOR:g} s)"
        result = self._timed_scale(prop, rule)
        if result is None:
            # Too slow once. A busy moment of a shared machine must not cost a right answer its
            # point: time the reference again now, under the same load, and give the function a
            # second try (a replacement worker is started before the clock runs). Too slow twice
            # is too slow; the report is the same either way.
            try:
                self.caller.ready()
            except Hang as exc:
                return PropertyResult(prop.name, 0.0, float(prop.points), False, f"on the large input {exc}")
            reference = max(reference_seconds(self.exercise), reference_seconds(self.exercise, fresh=True))
            result = self._timed_scale(prop, rule, reference)
        if result is None:
            return PropertyResult(prop.name, 0.0, float(prop.points), False, _too_slow(rule))
        return result

    def _timed_scale(self, prop: Property, rule: str, reference: float | None = None) -> PropertyResult | None:
        """One timed run on the large input: its result, or None when it was too slow.

        The budget is ``max(SCALE_FACTOR x reference, SCALE_FLOOR)``, the reference's time being
        the best of three runs (or ``reference``). Only an answer slower than the floor needs that
        time: the run is first allowed the budget of the reference's first run (an upper bound),
        and the other two runs are made only when the answer took longer than the floor."""
        budget = lambda seconds: max(SCALE_FACTOR * seconds, SCALE_FLOOR)  # noqa: E731
        bound = budget(reference if reference is not None else reference_seconds(self.exercise, runs=1))
        t0 = time.perf_counter()
        try:
            summary = self.caller.scale(self.exercise.id, self.exercise.id, self.scale_seed, timeout=bound + 0.5)
        except Hang as exc:
            if "did not finish" not in str(exc):  # it died (e.g. out of memory), rather than ran out of time
                return PropertyResult(prop.name, 0.0, float(prop.points), False, f"on the large input {exc}")
            # No measured times, and one message whether it was stopped or finished late: the same
            # submission must get the same report however loaded the machine is.
            return None
        except StudentError as exc:
            return PropertyResult(prop.name, 0.0, float(prop.points), False, f"on the large input your function {exc}")
        elapsed = time.perf_counter() - t0
        problem = self.exercise.structure(summary)
        if problem:
            return PropertyResult(prop.name, 0.0, float(prop.points), False, f"on the large input: {problem}")
        if elapsed > SCALE_FLOOR and elapsed > budget(reference if reference is not None else reference_seconds(self.exercise)):
            return None
        problem = self._scale_values()
        if problem:
            return PropertyResult(prop.name, 0.0, float(prop.points), False,
                                  f"on the large input the result is not the reference's: {problem}")
        return PropertyResult(prop.name, float(prop.points), float(prop.points), True, "passed")

    def _scale_values(self) -> str | None:
        """Compare the whole scale output with the reference's on the same input (after timing)."""
        check = self.exercise.scale_agreement
        if check is None:
            return None
        try:
            actual = self.caller.scale_value()
        except (Hang, StudentError) as exc:
            return f"its output could not be read ({exc})"
        inputs, expected = scale_reference(self.exercise, self.scale_seed)
        try:
            return check(inputs, actual, expected)
        except Exception as exc:  # noqa: BLE001 - an output no comparison can read
            return f"the output could not be compared ({type(exc).__name__}: {exc})"


def _is_crash(failure: tuple) -> bool:
    """Whether a failure ``(message, args, expected, actual, reply)`` is the function raising."""
    return failure[3] is None and failure[0].startswith("your function ")


def _too_slow(rule: str) -> str:
    return (f"too slow: {rule}. A Python loop over pairs or boxes (or a B x B x B tensor) cannot make it: "
            "vectorise over the batch.")


class _Stop(Exception):
    """Internal: a failing example (details are in the property's state)."""


class _OutOfBudget(BaseException):
    """Internal: the shrinking budget is spent. A BaseException, so Hypothesis stops at once
    instead of counting it as a failure of the example."""
