"""Grading one submission: load it into a sandboxed worker and run every exercise."""

from __future__ import annotations

from typing import Any

from grader import secret as course_secret
from grader.grading import submissions
from grader.engine import DEFAULT_EXAMPLES, SEED, ExerciseRun, WorkerCaller, zero
from grader.suites.registry import REGISTRY
from grader.sandbox.parent import Limits, Worker
from grader.quiz.grading import grade_submission as grade_quiz  # scores the quiz answers (grader/quiz/grading.py)


def grade(sub: submissions.Submission, device: str = "cpu", examples: int = DEFAULT_EXAMPLES,
          limits: Limits = Limits(), only: tuple[str, ...] | None = None, secret: bytes | None = None) -> dict[str, Any]:
    """The results document of one student (see the README for its keys).

    With the course ``secret`` every Hypothesis run and scale input is seeded from it (see
    :mod:`grader.secret`); without one the public seed is used and the examples are predictable."""
    exercises = [REGISTRY[i] for i in (only or REGISTRY)]
    messages: list[str] = []
    try:
        code = [submissions.STAND_IN, *submissions.cells(sub)]
    except submissions.SubmissionError as exc:
        results = [zero(ex, f"the submission could not be read: {exc}") for ex in exercises]
        return _document(sub.student, results, [str(exc)], grade_quiz(sub, secret), secret)
    with Worker(device, limits) as worker:
        caller = WorkerCaller(worker, code)
        report = caller.load()
        if not report.get("ok"):
            problem = f"the submission could not be loaded: {report.get('error')}"
            return _document(sub.student, [zero(ex, problem) for ex in exercises], [problem], grade_quiz(sub, secret),
                             secret)
        messages = [f"error while loading {e}" for e in report.get("errors", [])]
        defined = set(report.get("defined", []))
        results = []
        for ex in exercises:
            if ex.id not in defined:
                why = f"no function named {ex.id} was defined"
                if messages:
                    why += " (" + "; ".join(messages)[:400] + ")"
                results.append(zero(ex, why))
            else:
                results.append(ExerciseRun(
                    ex, caller, examples,
                    seed=course_secret.derive(secret, "hypothesis", ex.id, public=SEED),
                    scale_seed=course_secret.derive(secret, "scale", ex.id, public=SEED),
                ).run())
    return _document(sub.student, results, messages, grade_quiz(sub, secret), secret)


def _document(student: str, results, messages: list[str], quiz: dict[str, Any] | None = None,
              secret: bytes | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "student": student,
        "seeded_by": course_secret.fingerprint(secret),  # "public", or the secret's one-way fingerprint
        "total": float(sum(r.score for r in results)),
        "max_total": float(sum(r.max_score for r in results)),
        "exercises": {r.id: r.as_dict() for r in results},
    }
    if quiz is not None:
        doc["quiz"] = quiz
        doc["total"] += quiz["score"]
        doc["max_total"] += quiz["max_score"]
    if messages:
        doc["messages"] = messages
    return doc
