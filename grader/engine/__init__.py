"""The trusted engine: turns a submission's answers into verdicts, property by property.

It runs only in the grading process, never in a worker. ``model`` holds the data
(exercises, properties, cases, results), ``callers`` the ways to reach a student's
functions, ``run`` the Hypothesis-driven grading of one exercise. It may import the
sandbox's parent side and codec, never a suite or ``solutions`` (suites import the engine).
"""

from grader.engine.callers import Caller, LocalCaller, WorkerCaller
from grader.engine.model import (
    DEFAULT_EXAMPLES,
    SCALE_FACTOR,
    SCALE_FLOOR,
    SEED,
    Case,
    CheckFailed,
    Exercise,
    ExerciseResult,
    Hang,
    Property,
    PropertyResult,
    Reply,
    StudentError,
    zero,
)
from grader.engine.run import ExerciseRun, check_signature, reference_seconds

__all__ = [
    "DEFAULT_EXAMPLES", "SCALE_FACTOR", "SCALE_FLOOR", "SEED", "Caller", "Case", "CheckFailed", "Exercise",
    "ExerciseResult", "ExerciseRun", "Hang", "LocalCaller", "Property", "PropertyResult", "Reply",
    "StudentError", "WorkerCaller", "check_signature", "reference_seconds", "zero",
]
