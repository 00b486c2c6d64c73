"""Quiz questions as presented, answers and scores.

A bank entry (a dict, see :mod:`grader.quiz.bank`) becomes a :class:`Question` through
:func:`instantiate` and a seed: a fixed question gets its choices in a seeded order, a
computed one a fresh instance from its generator. :func:`score` marks answers.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

QUESTIONS_PER_QUIZ = 8
PASS_FRACTION = 0.7
MAX_PER_AREA = 2
LETTERS = "abcdefgh"


class AnswerError(ValueError):
    """Malformed quiz answers: the message names the problem."""


@dataclass(frozen=True)
class Question:
    id: str
    topic: str
    prompt: str
    choices: tuple[str, ...]
    answer: int
    explanation: str
    # What each choice is, for item analysis: a fixed question's original choice index in the
    # bank ("0".."3"), a computed one's "key" or misconception name. Never shown to students.
    sources: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        """The question without its answer (what ``--questions`` prints and papers hold)."""
        return {"id": self.id, "topic": self.topic, "prompt": self.prompt, "choices": list(self.choices)}


def instantiate(entry: dict[str, Any], seed: int) -> Question:
    """The question a bank entry gives for ``seed``: same seed, same question, byte for byte."""
    rng = random.Random(seed)
    if entry.get("kind") == "computed":
        from grader.quiz.generators import GENERATORS

        prompt, choices, answer, sources = GENERATORS[entry["generator"]](rng)
    else:
        order = list(range(len(entry["choices"])))
        rng.shuffle(order)
        prompt = entry["prompt"]
        choices = [entry["choices"][i] for i in order]
        answer = order.index(entry["answer"])
        sources = [str(i) for i in order]
    return Question(entry["id"], entry["topic"], prompt, tuple(choices), answer, entry["explanation"], tuple(sources))


def parse_choice(question: Question, value: Any) -> int:
    """A choice given as its 0-based index (int) or its letter ("a", "b", ...)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise AnswerError(f"answer to {question.id!r} must be a choice index or letter, got {type(value).__name__}")
    if isinstance(value, str):
        letter = value.strip().lower()
        if len(letter) != 1 or letter not in LETTERS[: len(question.choices)]:
            raise AnswerError(
                f"answer to {question.id!r} must be one of {', '.join(LETTERS[: len(question.choices)])}, got {value!r}"
            )
        return LETTERS.index(letter)
    if not 0 <= value < len(question.choices):
        raise AnswerError(f"answer to {question.id!r} must be in 0..{len(question.choices) - 1}, got {value}")
    return value


def score(questions: list[Question], answers: Any) -> dict[str, Any]:
    """Score a JSON object {question id: answer}. Unanswered questions count as wrong;
    unknown ids, wrong types and out-of-range choices raise :class:`AnswerError`."""
    if not isinstance(answers, dict):
        raise AnswerError(f"answers must be a JSON object mapping question id to answer, got {type(answers).__name__}")
    by_id = {q.id: q for q in questions}
    unknown = sorted(set(map(str, answers)) - set(by_id))
    if unknown:
        raise AnswerError(f"unknown question id(s): {', '.join(unknown)} (this attempt has: {', '.join(by_id)})")
    chosen = {qid: parse_choice(by_id[qid], value) for qid, value in answers.items()}
    results = []
    for q in questions:
        given = chosen.get(q.id)
        results.append({
            "id": q.id, "topic": q.topic, "answer": given, "expected": q.answer,
            "correct": given == q.answer, "explanation": q.explanation,
        })
    correct = sum(r["correct"] for r in results)
    total = len(questions)
    return {
        "score": correct / total,
        "correct": correct,
        "total": total,
        "passed": correct / total >= PASS_FRACTION,
        "results": results,
    }


def details(questions: list[Question], answers: dict[str, int]) -> list[dict[str, Any]]:
    """Per question, what item analysis needs: the id, what each choice was, the chosen
    choice (None when unanswered) and the key."""
    return [{"id": q.id, "sources": list(q.sources), "chosen": answers.get(q.id), "answer": q.answer}
            for q in questions]


def as_dicts(questions: list[Question]) -> list[dict[str, Any]]:
    return [asdict(q) for q in questions]
