"""The quick test: 8 questions drawn from a bank (``bank.json``), 70% to pass.

Questions are data; computed ones are generated from a seed by :mod:`.generators`, with
answers from the reference implementations. The draw is reproducible: the same user and
attempt number always get the same questions, in the same order, with the same choices.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

QUESTIONS_PER_QUIZ = 8
PASS_FRACTION = 0.7
MIN_COMPUTED = 3
BANK = Path(__file__).with_name("bank.json")
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

    def public(self) -> dict[str, Any]:
        """The question without its answer (what ``--questions`` prints)."""
        return {"id": self.id, "topic": self.topic, "prompt": self.prompt, "choices": list(self.choices)}


def load_bank(path: Path = BANK) -> list[dict[str, Any]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data["questions"]


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\0".join(map(str, parts)).encode()).digest()[:8], "big")


def instantiate(entry: dict[str, Any], user: str, attempt: int) -> Question:
    if entry.get("kind") == "computed":
        from grader.quiz.generators import GENERATORS

        prompt, choices, answer = GENERATORS[entry["generator"]](random.Random(_seed(user, attempt, entry["id"])))
    else:
        prompt, choices, answer = entry["prompt"], entry["choices"], entry["answer"]
        order = list(range(len(choices)))
        random.Random(_seed(user, attempt, entry["id"], "order")).shuffle(order)
        choices, answer = [choices[i] for i in order], order.index(answer)
    return Question(entry["id"], entry["topic"], prompt, tuple(choices), answer, entry["explanation"])


def draw(user: str, attempt: int, bank: list[dict[str, Any]] | None = None) -> list[Question]:
    """The 8 questions of ``user``'s attempt number ``attempt`` (at least 3 computed ones)."""
    bank = bank if bank is not None else load_bank()
    rng = random.Random(_seed(user, attempt, "draw"))
    computed = [q for q in bank if q.get("kind") == "computed"]
    fixed = [q for q in bank if q.get("kind") != "computed"]
    chosen = rng.sample(computed, MIN_COMPUTED)
    rest = [q for q in computed + fixed if q not in chosen]
    chosen += rng.sample(rest, QUESTIONS_PER_QUIZ - MIN_COMPUTED)
    rng.shuffle(chosen)
    return [instantiate(q, user, attempt) for q in chosen]


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


def as_dicts(questions: list[Question]) -> list[dict[str, Any]]:
    return [asdict(q) for q in questions]
