"""Scoring the quiz answers a submission carries (``hnm grade``, Gradescope).

With a course secret the answers are scored against the student's graded attempt
(:mod:`grader.quiz.graded`); without one, against the public practice attempt 1, which a
student can precompute (the result says which, in ``draw``). One point per correct answer;
answers that cannot be read score 0 with the reason.
"""

from __future__ import annotations

from typing import Any

from grader.grading import submissions
from grader.quiz import model
from grader.quiz.bank import BankError

LOAD = object()  # "read the secret from the environment / the default file" (grader.secret.load)


def quiz_for(student: str, secret: bytes | None, pool_file=None) -> tuple[list[model.Question], str]:
    """The questions ``student``'s answers are scored against, and which draw they are."""
    from grader.secret import fingerprint

    if secret is None:
        from grader.quiz.selection import draw

        return draw(student, 1), "public practice attempt 1 (no course secret: predictable)"
    from grader.quiz.graded import graded_questions

    return graded_questions(student, secret, pool_file), f"graded, course secret {fingerprint(secret)}"


def grade_submission(sub: submissions.Submission, secret: Any = LOAD, pool_file=None) -> dict[str, Any] | None:
    """The quiz entry of ``sub``'s results document, or None when it carries no quiz answers."""
    from grader import secret as secret_module

    try:
        answers = submissions.quiz_answers(sub)
    except submissions.SubmissionError as exc:
        return {"score": 0.0, "max_score": float(model.QUESTIONS_PER_QUIZ), "error": str(exc)}
    if answers is None:
        return None
    try:
        key = secret_module.load() if secret is LOAD else secret
        questions, which = quiz_for(sub.student, key, pool_file)
    except (secret_module.SecretError, BankError) as exc:
        return {"score": 0.0, "max_score": float(model.QUESTIONS_PER_QUIZ),
                "error": f"the quiz could not be graded: {exc}"}
    try:
        result = model.score(questions, answers)
    except model.AnswerError as exc:
        return {"score": 0.0, "max_score": float(len(questions)), "error": str(exc), "draw": which}
    return {
        "score": float(result["correct"]), "max_score": float(result["total"]),
        "correct": result["correct"], "passed": result["passed"], "draw": which, "results": result["results"],
        "details": model.details(questions, {r["id"]: r["answer"] for r in result["results"] if r["answer"] is not None}),
    }
