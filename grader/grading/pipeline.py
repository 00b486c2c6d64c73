"""Grading one submission: load it into a sandboxed worker and run every exercise."""

from __future__ import annotations

from typing import Any

from grader import secret as course_secret
from grader.grading import submissions
from grader.engine import DEFAULT_EXAMPLES, SEED, ExerciseRun, WorkerCaller, reference_seconds, zero
from grader.suites.registry import REGISTRY
from grader.sandbox.parent import IsolationUnavailable, Limits, Worker
from grader.quiz.model import QUESTIONS_PER_QUIZ
from grader.quiz.grading import grade_submission as grade_quiz  # scores the quiz answers (grader/quiz/grading.py)


def grade(sub: submissions.Submission, device: str = "cpu", examples: int = DEFAULT_EXAMPLES,
          limits: Limits = Limits(), only: tuple[str, ...] | None = None, secret: bytes | None = None,
          worker: Worker | None = None, forked: bool = False) -> dict[str, Any]:
    """The results document of one student (see the README for its keys).

    With the course ``secret`` every Hypothesis run and scale input is seeded from it (see
    :mod:`grader.secret`); without one the public seed is used and the examples are predictable.

    Total: whatever goes wrong while grading this student (a malformed file, a reply, a check, the
    quiz) becomes this student's result ("internal grading error: ..." and 0 for what it affects),
    never an exception, except :class:`IsolationUnavailable` (the machine, not the student).

    ``worker``: one already launched for this student (``hnm check`` starts it before its own
    imports); it is used when its device and limits are these, otherwise replaced, and always
    stopped at the end. ``forked``: a new CPU worker is forked from this process's zygote
    (:mod:`grader.sandbox.zygote`), as the class run's grading processes do."""
    exercises = [REGISTRY[i] for i in (only or REGISTRY)]
    if worker is not None and (worker.device, worker.limits) != (device, limits):
        worker.stop()
        worker = None
    worker = worker or Worker(device, limits, forked=forked)
    try:
        return _grade(sub, exercises, examples, secret, worker)
    except IsolationUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - one student's grading never stops the class
        return failed(sub.student, only, exc, secret)
    finally:
        worker.stop()


def failed(student: str, only: tuple[str, ...] | None, exc: BaseException | str,
           secret: bytes | None = None) -> dict[str, Any]:
    """The results document of a student whose grading broke: 0 everywhere, with the reason."""
    why = exc if isinstance(exc, str) else f"{type(exc).__name__}: {str(exc).strip()[:300]}"
    problem = f"internal grading error: {why}"
    exercises = [REGISTRY[i] for i in (only or REGISTRY)]
    return _document(student, [zero(ex, problem) for ex in exercises], [problem], None, secret)


def _quiz(sub: submissions.Submission, secret: bytes | None) -> dict[str, Any] | None:
    try:
        return grade_quiz(sub, secret)
    except Exception as exc:  # noqa: BLE001 - a malformed quiz file costs the quiz only
        return {"score": 0.0, "max_score": float(QUESTIONS_PER_QUIZ),
                "error": f"internal grading error: {type(exc).__name__}: {str(exc)[:200]}"}


def _grade(sub, exercises, examples, secret, worker: Worker) -> dict[str, Any]:
    messages: list[str] = []
    try:
        code = [submissions.STAND_IN, *submissions.cells(sub)]
    except submissions.SubmissionError as exc:
        results = [zero(ex, f"the submission could not be read: {exc}") for ex in exercises]
        return _document(sub.student, results, [str(exc)], _quiz(sub, secret), secret)
    runs = {ex.id: ExerciseRun(ex, None, examples,
                               seed=course_secret.derive(secret, "hypothesis", ex.id, public=SEED),
                               scale_seed=course_secret.derive(secret, "scale", ex.id, public=SEED))
            for ex in exercises}
    if not worker.launched:
        worker.launch()  # it imports its libraries meanwhile; no student code runs before the load below
    for ex in exercises:  # the scale references and the examples, once per process
        reference_seconds(ex, runs=1)  # the other timing runs only if an answer is slower than the floor
        runs[ex.id].prepare()
    caller = WorkerCaller(worker, code)
    report = caller.load()
    isolation = {k: v.split(":")[0] for k, v in sorted(worker.isolation.items())}
    if not report.get("ok"):
        problem = f"the submission could not be loaded: {report.get('error')}"
        return _document(sub.student, [zero(ex, problem) for ex in exercises], [problem], _quiz(sub, secret),
                         secret, isolation)
    messages = [f"error while loading {e}" for e in report.get("errors", [])]
    defined = set(report.get("defined", []))
    results = []
    for ex in exercises:
        if ex.id not in defined:
            why = f"no function named {ex.id} was defined"
            if messages:
                why += " (" + "; ".join(messages)[:400] + ")"
            results.append(zero(ex, why))
            continue
        try:
            runs[ex.id].caller = caller
            results.append(runs[ex.id].run())
        except IsolationUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - this exercise's grading broke: it scores 0, the rest go on
            results.append(zero(ex, f"internal grading error: {type(exc).__name__}: {str(exc).strip()[:300]}"))
    return _document(sub.student, results, messages, _quiz(sub, secret), secret, isolation)


def _document(student: str, results, messages: list[str], quiz: dict[str, Any] | None = None,
              secret: bytes | None = None, isolation: dict[str, str] | None = None) -> dict[str, Any]:
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
    if isolation:
        doc["isolation"] = isolation  # which kernel layers the student's worker had (on / partial / off)
    return doc
