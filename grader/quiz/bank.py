"""The question bank as data (``bank.json``): questions, and the areas the draw balances over.

``bank.json`` holds ``{"version", "areas", "questions"}``:

* ``areas`` maps an area, named after its lesson (``lessons/src/NN_name.py`` stem), to the
  exercise ids (``grader/suites/registry.py``) taught with it; a question's ``topic`` is a
  lesson or an exercise id, and its area is the lesson or the area listing the exercise.
  A new lesson's questions are added by appending an area and its questions: the draw and
  the tests read everything from here.
* each question has ``id``, ``topic``, ``explanation``, optional ``tags`` (``"pitfall"``
  marks a question on a pitfall; every quiz holds at least one fixed one), and either
  ``prompt``/``choices``/``answer`` (a fixed question) or ``"kind": "computed"`` and a
  ``generator`` of :mod:`grader.quiz.generators`.

An instructor's pool of graded fixed questions (:mod:`grader.quiz.graded`) uses the same
question format and the bank's areas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BANK = Path(__file__).with_name("bank.json")
CHOICES = 4


class BankError(ValueError):
    """A malformed bank or pool: the message names the file, the question and the problem."""


@dataclass(frozen=True)
class Bank:
    questions: tuple[dict[str, Any], ...]
    areas: dict[str, tuple[str, ...]]

    def area_of(self, entry: dict[str, Any]) -> str:
        topic = entry["topic"]
        if topic in self.areas:
            return topic
        for area, topics in self.areas.items():
            if topic in topics:
                return area
        raise BankError(f"question {entry.get('id')!r}: topic {topic!r} belongs to no area")

    def by_area(self, questions: list[dict[str, Any]] | None = None) -> dict[str, list[dict[str, Any]]]:
        """The questions (the bank's by default) grouped by area, in the areas' order."""
        groups: dict[str, list[dict[str, Any]]] = {area: [] for area in self.areas}
        for q in self.questions if questions is None else questions:
            groups[self.area_of(q)].append(q)
        return {area: qs for area, qs in groups.items() if qs}


def is_computed(entry: dict[str, Any]) -> bool:
    return entry.get("kind") == "computed"


def check_entry(entry: Any, where: str, bank_areas: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """``entry`` if it is a well-formed question, else :class:`BankError` saying what is wrong."""
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
        raise BankError(f"{where}: every question needs a non-empty string id")
    name = f"{where}: question {entry['id']!r}"
    for key in ("topic", "explanation"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise BankError(f"{name} needs a non-empty {key}")
    if not isinstance(entry.get("tags", []), list) or not all(isinstance(t, str) for t in entry.get("tags", [])):
        raise BankError(f"{name}: tags must be a list of strings")
    if is_computed(entry):
        from grader.quiz.generators import GENERATORS

        if entry.get("generator") not in GENERATORS:
            raise BankError(f"{name}: unknown generator {entry.get('generator')!r}")
    else:
        choices = entry.get("choices")
        if not isinstance(entry.get("prompt"), str) or not entry["prompt"].strip():
            raise BankError(f"{name} needs a prompt")
        if not isinstance(choices, list) or len(choices) != CHOICES or not all(isinstance(c, str) and c.strip() for c in choices):
            raise BankError(f"{name} needs {CHOICES} non-empty string choices")
        if len({c.strip().lower() for c in choices}) != CHOICES:
            raise BankError(f"{name} has duplicate choices")
        answer = entry.get("answer")
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < CHOICES:
            raise BankError(f"{name}: answer must be a choice index 0..{CHOICES - 1}")
    Bank((), bank_areas).area_of(entry)
    return entry


def parse(data: Any, where: str, areas: dict[str, tuple[str, ...]] | None = None) -> Bank:
    """A :class:`Bank` from parsed JSON; ``areas`` (a pool's) default to the data's own."""
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise BankError(f"{where} must be a JSON object with a list of questions")
    if areas is None:
        raw = data.get("areas")
        if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
            raise BankError(f"{where} needs an 'areas' object: lesson id -> list of exercise ids")
        areas = {str(k): tuple(v) for k, v in raw.items()}
    questions = tuple(check_entry(q, where, areas) for q in data["questions"])
    ids = [q["id"] for q in questions]
    if len(set(ids)) != len(ids):
        raise BankError(f"{where}: duplicate question ids {sorted({i for i in ids if ids.count(i) > 1})}")
    return Bank(questions, areas)


def read(path: Path, areas: dict[str, tuple[str, ...]] | None = None) -> Bank:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BankError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BankError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return parse(data, str(path), areas)


_CACHE: dict[Path, tuple[float, Bank]] = {}


def load(path: Path = BANK) -> Bank:
    """The bank at ``path`` (parsed once per file version)."""
    path = Path(path)
    mtime = path.stat().st_mtime
    cached = _CACHE.get(path)
    if cached is None or cached[0] != mtime:
        _CACHE[path] = (mtime, read(path))
    return _CACHE[path][1]
