"""The numbers of the class report, computed from ``hnm grade`` results documents (pure, no I/O).

Every graded property of every exercise is one *item*: its difficulty is the pass rate (a
property scores 0 or its points) and its discrimination the corrected item-total
point-biserial correlation, the item left out of the total, both from
:mod:`grader.reports.item_analysis` over the ``properties x students`` score matrix (the
quiz is analysed on its own, by :mod:`grader.quiz.stats`). Also: the totals, each
exercise's mean and spread, the most common failing properties with one representative
counterexample each (the shortest, ties by student id), and the known mistakes that a
results document names in an optional ``diagnosis`` of a failing property.

Results documents are read defensively: unknown keys are ignored, a property without a
name or a usable score is left out, an exercise a student lacks counts as "not presented".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.reports import item_analysis
from grader.suites.registry import REGISTRY


@dataclass(frozen=True)
class ExerciseRow:
    id: str
    max_score: float
    scores: tuple[float, ...]  # one per student who has the exercise, in student order

    @property
    def n(self) -> int:
        return len(self.scores)

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores)) if self.scores else math.nan

    @property
    def sd(self) -> float:
        """Sample standard deviation (n - 1); NaN below two students."""
        return float(np.std(self.scores, ddof=1)) if self.n >= 2 else math.nan

    @property
    def median(self) -> float:
        return float(np.median(self.scores)) if self.scores else math.nan


@dataclass(frozen=True)
class PropertyRow:
    exercise: str
    name: str
    max_score: float
    n: int  # students graded on it
    difficulty: float  # pass rate: mean score / points
    discrimination: float  # corrected item-total point-biserial (NaN when undefined)
    flagged: bool  # negative discrimination
    failed: int  # students who failed it


@dataclass(frozen=True)
class Failure:
    """A property students broke, with its representative counterexample (shortest inputs, then
    student id). ``failed`` counts the students whose function broke the rule; ``unusable`` the
    other failures (no usable function: the whole exercise scored 0 with one message, or the
    property was not run)."""

    exercise: str
    name: str
    failed: int
    unusable: int
    n: int
    student: str
    message: str
    counterexample: Any


@dataclass(frozen=True)
class Mistake:
    """A known mistake named by the ``diagnosis`` of failing properties, counted once per student."""

    exercise: str
    name: str
    hint: str
    students: int
    properties: tuple[str, ...]


@dataclass(frozen=True)
class ClassStats:
    students: tuple[str, ...]
    totals: tuple[float, ...]  # each student's total as a percentage of their maximum
    exercises: tuple[ExerciseRow, ...]
    properties: tuple[PropertyRow, ...]
    failures: tuple[Failure, ...]  # every property some function broke, most often broken first
    mistakes: tuple[Mistake, ...]
    diagnosed: bool  # whether any failing property carried a diagnosis
    seeded_by: tuple[str, ...]
    examples: tuple[int, ...]


def number(x: Any) -> float | None:
    """``x`` as a float when it is a finite number (not a bool), else None."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def exercises_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    ex = doc.get("exercises")
    return {str(k): v for k, v in ex.items() if isinstance(v, dict)} if isinstance(ex, dict) else {}


def properties_of(exercise: dict[str, Any]) -> list[dict[str, Any]]:
    """The usable properties of one exercise result: a name, a score and a positive maximum."""
    props = exercise.get("properties")
    out = []
    for p in props if isinstance(props, list) else ():
        if (isinstance(p, dict) and isinstance(p.get("name"), str) and number(p.get("score")) is not None
                and (number(p.get("max_score")) or 0) > 0):
            out.append(p)
    return out


def _failed(p: dict[str, Any]) -> bool:
    return p.get("passed") is not True


def _broke_rule(exercise: dict[str, Any], p: dict[str, Any]) -> bool:
    """Whether a failing property says something about the rule: not when the whole exercise was
    scored 0 with one message (no such function, a wrong signature, an unloadable submission) and
    not when the property was not run (the engine's ``not run: ...``)."""
    message = p.get("message") if isinstance(p.get("message"), str) else ""
    whole = exercise.get("message")
    return not (message.startswith("not run") or (isinstance(whole, str) and whole and message == whole))


def _order(ids: Iterable[str]) -> list[str]:
    """Registry order first (the grade columns' order), then any other id by name."""
    ids = set(ids)
    return [i for i in REGISTRY if i in ids] + sorted(ids - set(REGISTRY))


def _item_keys(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    seen: dict[str, list[str]] = {}
    for doc in docs:
        for ex_id, ex in exercises_of(doc).items():
            names = seen.setdefault(ex_id, [])
            names.extend(p["name"] for p in properties_of(ex) if p["name"] not in names)
    keys = []
    for ex_id in _order(seen):
        known = [p.name for p in REGISTRY[ex_id].properties] if ex_id in REGISTRY else []
        names = [n for n in known if n in seen[ex_id]] + sorted(set(seen[ex_id]) - set(known))
        keys.extend((ex_id, n) for n in names)
    return keys


def canonical(value: Any) -> str:
    """The JSON text a counterexample is measured (and compared) by."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)


def _size(cx: Any) -> int:
    return len(canonical(cx.get("inputs", cx) if isinstance(cx, dict) else cx))


def analyse(docs: list[dict[str, Any]]) -> ClassStats:
    """All numbers of the class report; ``docs`` in any order (they are sorted by student)."""
    docs = sorted((d for d in docs if isinstance(d, dict) and isinstance(d.get("student"), str)),
                  key=lambda d: d["student"])
    students = tuple(d["student"] for d in docs)
    totals = []
    for d in docs:
        total, top = number(d.get("total")), number(d.get("max_total"))
        totals.append(100.0 * total / top if total is not None and top else math.nan)

    keys = _item_keys(docs)
    row = {k: i for i, k in enumerate(keys)}
    m = np.full((len(keys), len(docs)), np.nan)
    top = np.zeros(len(keys))
    fails: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
    mistakes: dict[tuple[str, str], dict[str, Any]] = {}
    diagnosed = False
    for s, d in enumerate(docs):
        for ex_id, ex in exercises_of(d).items():
            for p in properties_of(ex):
                i = row[(ex_id, p["name"])]
                if np.isnan(m[i, s]):  # a repeated name counts once
                    m[i, s] = float(p["score"])
                    top[i] = max(top[i], float(p["max_score"]))
                if _failed(p):
                    fails.setdefault((ex_id, p["name"]), []).append((d["student"], p, _broke_rule(ex, p)))
                    found = _diagnosis(p.get("diagnosis"))
                    if found is not None:
                        diagnosed = True
                        entry = mistakes.setdefault((ex_id, found[0]), {"hint": found[1], "students": set(), "props": set()})
                        entry["students"].add(d["student"])
                        entry["props"].add(p["name"])
    stats = item_analysis.analyse(m, [f"{e}/{n}" for e, n in keys], top) if keys else []
    properties = tuple(
        PropertyRow(e, n, float(top[i]), s.n, s.difficulty, s.discrimination, s.flagged, len(fails.get((e, n), [])))
        for i, ((e, n), s) in enumerate(zip(keys, stats))
    )
    exercise_rows = []
    for ex_id in _order(e for e, _ in keys):
        scores, maxima = [], []
        for d in docs:
            ex = exercises_of(d).get(ex_id)
            score = number(ex.get("score")) if ex else None
            if score is not None:
                scores.append(score)
                maxima.append(number(ex.get("max_score")) or 0.0)
        exercise_rows.append(ExerciseRow(ex_id, max(maxima, default=0.0), tuple(scores)))
    failures = []
    for p in properties:
        cases = fails.get((p.exercise, p.name), [])
        broke = [(student, q) for student, q, rule in cases if rule]
        if not broke:
            continue
        with_cx = [(_size(q["counterexample"]), student, q) for student, q in broke if q.get("counterexample")]
        student, q = min(with_cx, key=lambda t: t[:2])[1:] if with_cx else broke[0]
        message = q.get("message")
        failures.append(Failure(p.exercise, p.name, len(broke), len(cases) - len(broke), p.n, student,
                                message if isinstance(message, str) else "", q.get("counterexample") or None))
    order = {k: i for i, k in enumerate(keys)}
    failures.sort(key=lambda f: (-f.failed, order[(f.exercise, f.name)]))
    ex_rank = {e: i for i, e in enumerate(_order(e for e, _ in mistakes))}
    mistake_rows = sorted(
        (Mistake(e, name, v["hint"], len(v["students"]), tuple(sorted(v["props"]))) for (e, name), v in mistakes.items()),
        key=lambda k: (-k.students, ex_rank[k.exercise], k.name),
    )
    return ClassStats(
        students=students, totals=tuple(totals), exercises=tuple(exercise_rows), properties=properties,
        failures=tuple(failures), mistakes=tuple(mistake_rows), diagnosed=diagnosed,
        seeded_by=tuple(sorted({str(d["seeded_by"]) for d in docs if "seeded_by" in d})),
        examples=tuple(sorted({int(d["examples"]) for d in docs if number(d.get("examples")) is not None})),
    )


def _diagnosis(value: Any) -> tuple[str, str] | None:
    """``(name, hint)`` of a property's optional diagnosis: ``{"name": ..., "hint": ...}`` or a name."""
    if isinstance(value, str) and value:
        return value, ""
    if isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"]:
        hint = value.get("hint")
        return value["name"], hint if isinstance(hint, str) else ""
    return None
