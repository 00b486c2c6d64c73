"""The exercise registry: exercise id -> reference, signature and properties.

Exercise ids are the reference function names; one id names an exercise everywhere
(registry, notebook, grade column, feedback, quiz topic). Registry order is the order
of the grade columns.
"""

from __future__ import annotations

import importlib

from grader.engine import Exercise
from grader.suites import EXERCISE_IDS


def _load() -> dict[str, Exercise]:
    out = {}
    for exercise_id in EXERCISE_IDS:
        exercise = importlib.import_module(f"grader.suites.{exercise_id}").EXERCISE
        assert exercise.id == exercise_id, exercise.id
        out[exercise_id] = exercise
    return out


REGISTRY: dict[str, Exercise] = _load()
