"""Which 8 questions an attempt gets: a balanced draw over the bank's areas.

The draw (:func:`balanced`), for a pool of questions grouped into areas (one per lesson):

* every area gets one question, in a random order of the areas, until 8 are taken (with
  more than 8 areas, 8 of them, each equally likely); with fewer, the remaining questions
  go to distinct areas drawn in proportion to their size, so no area holds more than 2;
* within an area the questions are equally likely, computed or fixed, so a computed
  question is never more likely than a fixed one of its area;
* a draw without a fixed question tagged ``pitfall`` is drawn again (when the pool has one);
* the 8 are presented in a random order.

Seeds. A practice attempt (:func:`draw`) is a public function of the user name and attempt
number: reproducible, and anyone can recompute it. A graded attempt (:func:`graded_draw`)
is seeded by HMAC-SHA256 of the course secret (:func:`grader.secret.derive`), for the draw
and for every instance, so without the secret nobody can derive its questions.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from grader.quiz import bank as bank_module
from grader.quiz.model import MAX_PER_AREA, QUESTIONS_PER_QUIZ, Question, instantiate

PITFALL = "pitfall"
_REDRAWS = 1000


def public_seed(*parts: object) -> int:
    """A 64-bit seed that anyone can compute from ``parts`` (practice attempts)."""
    return int.from_bytes(hashlib.sha256("\0".join(map(str, parts)).encode()).digest()[:8], "big")


def _one_draw(rng: random.Random, groups: dict[str, list[dict[str, Any]]], size: int) -> list[dict[str, Any]]:
    areas = list(groups)
    rng.shuffle(areas)
    counts = dict.fromkeys(areas[:size], 1)
    spare = size - len(counts)
    candidates = [a for a in areas if len(groups[a]) >= MAX_PER_AREA]
    while spare > 0 and candidates:
        weights = [len(groups[a]) for a in candidates]
        area = rng.choices(candidates, weights=weights)[0]
        counts[area] += 1
        candidates.remove(area)
        spare -= 1
    chosen = []
    for area, k in counts.items():
        chosen += rng.sample(groups[area], min(k, len(groups[area])))
    return chosen


def balanced(rng: random.Random, pool: list[dict[str, Any]], bank: bank_module.Bank,
             size: int = QUESTIONS_PER_QUIZ) -> list[dict[str, Any]]:
    """``size`` entries of ``pool`` drawn as the module says (fewer if the pool is too small)."""
    groups = bank.by_area(pool)
    need_pitfall = any(PITFALL in q.get("tags", ()) and not bank_module.is_computed(q) for q in pool)
    for _ in range(_REDRAWS):
        chosen = _one_draw(rng, groups, size)
        if not need_pitfall or any(PITFALL in q.get("tags", ()) and not bank_module.is_computed(q) for q in chosen):
            break
    rng.shuffle(chosen)
    return chosen


def draw(user: str, attempt: int, bank: bank_module.Bank | None = None) -> list[Question]:
    """The practice attempt number ``attempt`` of ``user``: public and reproducible."""
    bank = bank or bank_module.load()
    chosen = balanced(random.Random(public_seed(user, attempt, "draw")), list(bank.questions), bank)
    return [instantiate(q, public_seed(user, attempt, q["id"])) for q in chosen]


def graded_draw(student: str, secret: bytes, bank: bank_module.Bank, pool: list[dict[str, Any]]) -> list[Question]:
    """The graded attempt of ``student``: the draw and every instance seeded by the secret."""
    from grader.secret import derive

    if not secret:
        raise ValueError("secret must be the course secret (bytes); graded draws are never public")
    rng = random.Random(derive(secret, "quiz", "draw", student))
    chosen = balanced(rng, pool, bank)
    return [instantiate(q, derive(secret, "quiz", "instance", student, q["id"])) for q in chosen]
