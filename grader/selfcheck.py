"""Self-checks for students: ``grader.check(id, fn)`` in the notebook's kernel, and the report
both it and ``hnm check EXERCISE FILE`` (:mod:`grader.check_command`) print."""

from __future__ import annotations

import contextlib
import io
import json
import signal
import threading
import types
from typing import Any, Callable

from grader.engine import DEFAULT_EXAMPLES, ExerciseResult, ExerciseRun, LocalCaller
from grader.reports.feedback import counterexample_sections, diagnosis_text, python_text
from grader.suites.registry import REGISTRY


def render(result: ExerciseResult) -> str:
    """The property table with counterexamples, as plain text."""
    exercise = REGISTRY[result.id]
    width = max(len(p.name) for p in result.properties)
    lines = [f"{result.id}: {result.score:g} / {result.max_score:g} points"]
    if result.message:
        lines.append(f"  {result.message}")
    for p in result.properties:
        mark = "PASS" if p.passed else "FAIL"
        lines.append(f"  [{mark}] {p.name.ljust(width)}  {p.score:g}/{p.max_score:g}")
    descriptions = {p.name: p.description for p in exercise.properties}
    shown: dict[str, str] = {}  # one block per root cause: the same message and counterexample
    named: set[str] = set()  # a known mistake is explained once, under the first rule it breaks
    for p in result.properties:
        if p.passed:
            continue
        cause = json.dumps([p.message, p.counterexample], sort_keys=True, default=str)
        if cause in shown:
            lines += ["", f"{p.name}: {descriptions.get(p.name, '')}", f"  the same failure as {shown[cause]} (above)"]
            continue
        shown[cause] = p.name
        lines += ["", f"{p.name}: {descriptions.get(p.name, '')}", f"  {p.message}"]
        known = diagnosis_text(p.as_dict())
        if known and known not in named:
            named.add(known)
            lines.append(f"  {known}")
        if p.counterexample:
            lines.append("  minimal counterexample:")
            for name, value in p.counterexample["inputs"].items():
                lines.append(f"    {name} = {_short(value)}")
            for key, label, value in counterexample_sections(p.counterexample):
                if key == "inputs_after":
                    lines.append(f"  {label.lower()}:")
                    lines += [f"    {name} = {_short(v)}" for name, v in value.items()]
                elif key != "inputs":
                    lines.append(f"  {label.lower()}: {_short(value)}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    return python_text(value)


class _Guard:
    """Stops an in-process call that runs too long (SIGALRM, main thread) or asks for too
    much memory (a temporarily lowered soft RLIMIT_AS), so a slow or memory-hungry
    answer fails its property instead of freezing or killing the notebook's kernel."""

    def __init__(self, memory_mb: int = 4096):
        self.timer = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        self.memory_mb = memory_mb

    @contextlib.contextmanager
    def limit(self, seconds: float):
        with self._memory(), self._time(seconds):
            yield

    @contextlib.contextmanager
    def _time(self, seconds: float):
        if not self.timer:
            yield
            return

        def expire(signum, frame):
            raise TimeoutError(f"did not finish within {seconds:g} s")

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    @contextlib.contextmanager
    def _memory(self):
        try:
            import resource

            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            with open("/proc/self/status") as f:
                used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
            cap = used + (self.memory_mb << 20)
            if hard != resource.RLIM_INFINITY:
                cap = min(cap, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        except (ImportError, OSError, ValueError, StopIteration):
            yield
            return
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def check(exercise_id: str, fn: Callable, device: str | None = None, examples: int = DEFAULT_EXAMPLES) -> float:
    """Check ``fn`` against exercise ``exercise_id`` in this process; print the property
    table and return the points earned (nbgrader reads this as the cell's partial credit).

    Runs on CUDA when available (or on ``device``). Writes nothing to stderr.
    """
    if exercise_id not in REGISTRY:
        print(f"unknown exercise {exercise_id!r}; known: {', '.join(REGISTRY)}")
        return 0.0
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    caller = LocalCaller({exercise_id: fn}, device=device, alarm=_Guard())
    with contextlib.redirect_stderr(io.StringIO()):
        result = ExerciseRun(REGISTRY[exercise_id], caller, examples).run()
    print(render(result))
    if uses_reference(fn):
        print(REFERENCE_WARNING)
    return result.score


REFERENCE_WARNING = ("warning: this function uses the course's reference implementation (the `solutions` "
                     "package). `hnm grade` runs your code where `solutions` cannot be imported, so there it "
                     "scores 0: write the function yourself.")


def uses_reference(fn: Callable) -> bool:
    """Whether ``fn`` is, or reaches through its globals, code from the ``solutions`` package."""
    def from_solutions(value) -> bool:
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        return isinstance(name, str) and (name == "solutions" or name.startswith("solutions."))

    if from_solutions(fn):
        return True
    return any(from_solutions(v) for v in getattr(fn, "__globals__", {}).values()
               if isinstance(v, types.ModuleType) or callable(v))
