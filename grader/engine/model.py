"""What the engine works with: exercises and their properties, one example as a check sees it,
the errors a check or a student call can raise, and the results it produces.

Pure data and constants; imports nothing of the grader but the codec's types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from hypothesis.strategies import SearchStrategy

SEED = 20261128
DEFAULT_EXAMPLES = 100
SCALE_FACTOR = 10.0  # student time budget = max(SCALE_FACTOR x reference, SCALE_FLOOR)
SCALE_FLOOR = 2.0
# The agreement gate: no rule points at or below AGREE_NONE of the generic inputs agreeing with
# the reference, full points from AGREE_FULL, linear between in steps of AGREE_STEP.
AGREE_NONE, AGREE_FULL, AGREE_STEP = 0.5, 0.9, 0.05


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
    structure: Callable[[Any], str | None]  # checks a scale summary (see grader.sandbox.scale.describe)
    ordinary: Callable[[list], bool] = lambda args: True  # inputs every rule property may fail on
    # Whether the student's answer on one example says anything (None: the example cannot
    # tell, e.g. the reference's answer is empty). A rule earns nothing from answers that
    # are empty or all-zero on most examples, where it would hold vacuously.
    substantive: Callable[[Case], bool | None] = lambda case: None
    summary: str = ""
    # The agreement gate (see grader.engine.run): ``generic`` draws inputs without ties or
    # boundaries, ``agreement`` says whether the answer on one of them agrees with the reference
    # (None: it cannot tell). The rules earn their points in proportion to the share that agree.
    generic: SearchStrategy | None = None
    agreement: Callable[[Case], bool | None] | None = None
    # (scale inputs, the student's output, the reference's) -> a problem or None; O(B^2) memory at most.
    scale_agreement: Callable[[list, Any, Any], str | None] | None = None

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
    after: dict[int, Any] = field(default_factory=dict)  # a modified input's value after the call (small ones)


@dataclass
class PropertyResult:
    name: str
    score: float
    max_score: float
    passed: bool
    message: str
    counterexample: Any = None
    diagnosis: dict | None = None  # a known mistake that reproduces the student's answers (name, title, hint)

    def as_dict(self) -> dict:
        out = {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "message": self.message,
            "counterexample": self.counterexample,
        }
        if self.diagnosis is not None:
            out["diagnosis"] = self.diagnosis
        return out


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


