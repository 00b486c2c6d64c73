"""The diagnosis: which known mistake, if any, reproduces a student's failing answers.

A failing property leaves a counterexample: the inputs the grader drew, the reference's
answer and the student's. Each known mistake of the exercise is run on the inputs of every
counterexample where the student's answer differs from the reference's; a mistake that
gives the student's answer on all of them is a candidate. Shrunk counterexamples are small
and several mistakes can agree on them (no lower bound and an inclusive one, on a tie), so
a candidate must also reproduce every other answer the student gave during grading; the
first that does is the diagnosis. A correct submission is never diagnosed (it has no
telling counterexample), and neither is one the reference reproduces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from grader.misconceptions.bank import BANK, Misconception


@dataclass(frozen=True)
class Failure:
    """One failing counterexample: the drawn inputs and both answers (decoded values)."""

    prop: str
    args: list
    expected: Any
    actual: Any


def same_answer(a: Any, b: Any) -> bool:
    """Whether two answers agree: integers and booleans exactly, floats to float32 rounding
    (NaN equal to NaN), tuples and lists element by element; dtypes may differ."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(same_answer(x, y) for x, y in zip(a, b)))
    if isinstance(a, (bool, int, float)):
        a = torch.tensor(a)
    if isinstance(b, (bool, int, float)):
        b = torch.tensor(b)
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape:
        return False
    a, b = a.detach().cpu(), b.detach().cpu()
    if a.is_floating_point() or b.is_floating_point():
        return bool(torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-6, equal_nan=True))
    return bool(torch.equal(a.long(), b.long()))


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    return value


def _reproduces(mistake: Misconception, failures: list[Failure]) -> bool:
    for f in failures:
        try:
            with torch.no_grad():
                answer = mistake.implementation(*_clone(f.args))
        except Exception:  # noqa: BLE001 - a mistake that cannot run on these inputs does not match
            return False
        if not same_answer(answer, f.actual):
            return False
    return True


def telling(failures: list[Failure]) -> list[Failure]:
    """The counterexamples where the student answered and the reference disagrees."""
    return [f for f in failures if f.actual is not None and not same_answer(f.expected, f.actual)]


def diagnose(exercise_id: str, failures: list[Failure], answers: list[tuple[list, Any]] = ()) -> Misconception | None:
    """The first known mistake of ``exercise_id`` that reproduces every telling failure and
    every ``(args, answer)`` the student gave during grading."""
    told = telling(failures)
    if not told:
        return None
    seen = [Failure("", list(args), None, answer) for args, answer in answers]
    return next((m for m in BANK.get(exercise_id, ()) if _reproduces(m, told) and _reproduces(m, seen)), None)
