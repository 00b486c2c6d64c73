"""The bank of known mistakes and the diagnosis that names them.

The mutants of ``tests/grader_variants.py`` that make a known mistake are checked to be
named (and every other mutant, and every correct variant, to be named nothing) in
``tests/test_grader_suites.py``; here: the bank's entries no mutant covers, the bank's
shape, the answer comparison, the replay's edge cases and the reports that show a diagnosis.
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import pytest
import torch

import solutions as S
from grader.engine import ExerciseResult, ExerciseRun, LocalCaller, PropertyResult
from grader.exports.gradescope import _property_output
from grader.misconceptions import BANK, Failure, diagnose
from grader.misconceptions.replay import same_answer
from grader.reports.feedback import feedback_html
from grader.selfcheck import render
from grader.suites.registry import REGISTRY

from .grader_variants import DIAGNOSED, MUTANTS

torch.set_num_threads(1)

COVERED = {(e, DIAGNOSED[f.__name__]) for e, muts in MUTANTS.items() for f in muts if f.__name__ in DIAGNOSED}
UNCOVERED = [m for ms in BANK.values() for m in ms if (m.exercise, m.name) not in COVERED]


def grade(exercise_id, fn):
    exercise = REGISTRY[exercise_id]
    exercise = dataclasses.replace(exercise, properties=tuple(p for p in exercise.properties if not p.scale))
    return ExerciseRun(exercise, LocalCaller({exercise_id: fn}), shrink=False).run()


@pytest.mark.parametrize("mistake", UNCOVERED, ids=lambda m: f"{m.exercise}-{m.name}")
def test_each_known_mistake_no_mutant_covers_is_diagnosed_as_itself(mistake):
    result = grade(mistake.exercise, mistake.implementation)
    assert result.score < result.max_score
    named = {p.diagnosis["name"] for p in result.properties if p.diagnosis}
    assert named == {mistake.name}
    assert all(p.diagnosis == mistake.as_dict() for p in result.properties if p.diagnosis)


def test_the_bank_covers_every_exercise_with_unique_names_and_one_paragraph_hints():
    assert set(BANK) == set(REGISTRY)
    for exercise, mistakes in BANK.items():
        assert len(mistakes) >= 3, exercise
        assert len({m.name for m in mistakes}) == len(mistakes)
        for m in mistakes:
            assert m.exercise == exercise and m.title and "\n" not in m.hint and 60 <= len(m.hint) <= 600, m.name
            # Called the way the grader calls the student: the exercise's parameters, positionally.
            inspect.signature(m.implementation).bind(*REGISTRY[exercise].params)


def test_answers_compare_by_value():
    assert same_answer(torch.tensor([1.0, math.nan]), torch.tensor([1.0 + 1e-7, math.nan], dtype=torch.float64))
    assert same_answer(torch.tensor([1, 2], dtype=torch.int32), torch.tensor([1, 2]))
    assert same_answer((torch.tensor([0]), torch.tensor([1])), [torch.tensor([0]), torch.tensor([1])])
    assert same_answer(torch.tensor(0.5), 0.5)
    assert not same_answer(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.001]))
    assert not same_answer(torch.tensor([1, 2]), torch.tensor([[1, 2]]))
    assert not same_answer(torch.tensor([1.0]), torch.tensor([math.nan]))
    assert not same_answer((torch.tensor([0]),), (torch.tensor([0]), torch.tensor([0])))
    assert not same_answer(None, torch.tensor([0]))


def _semi_hard_tie():
    """Anchor 0's negative 2 sits exactly at d(a,p): only an inclusive lower bound picks it."""
    dist = torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 2.0], [1.0, 2.0, 0.0]])
    return [dist, torch.tensor([0, 0, 1]), 0.5]


def test_the_replay_needs_a_telling_failure_and_a_mistake_that_reproduces_all_of_them():
    args = _semi_hard_tie()
    expected = S.semi_hard_negatives(*args)
    inclusive = next(m for m in BANK["semi_hard_negatives"] if m.name == "inclusive_lower")
    actual = inclusive.implementation(*args)
    assert not same_answer(expected, actual)
    assert diagnose("semi_hard_negatives", [Failure("p", args, expected, actual)]) is inclusive
    # The reference's own answer (e.g. a failing gradient or mutation rule) tells nothing.
    assert diagnose("semi_hard_negatives", [Failure("p", args, expected, expected)]) is None
    # A student that crashed gave no answer to replay.
    assert diagnose("semi_hard_negatives", [Failure("p", args, expected, None)]) is None
    # An answer no known mistake gives.
    odd = tuple(t[:0] for t in expected)
    assert diagnose("semi_hard_negatives", [Failure("p", args, expected, odd)]) is None
    # Every answer seen during grading must match too, not only the counterexamples.
    plain = [torch.tensor([[0.0, 1.0, 1.25], [1.0, 0.0, 2.0], [1.25, 2.0, 0.0]]), torch.tensor([0, 0, 1]), 0.5]
    seen = [(args, actual), (plain, S.semi_hard_negatives(*plain))]
    assert diagnose("semi_hard_negatives", [Failure("p", args, expected, actual)], seen) is inclusive
    assert diagnose("semi_hard_negatives", [Failure("p", args, expected, actual)], [(args, odd)]) is None
    assert diagnose("no_such_exercise", [Failure("p", args, expected, actual)]) is None


def test_the_replay_leaves_the_inputs_alone():
    args = _semi_hard_tie()
    before = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    expected = S.semi_hard_negatives(*args)
    diagnose("semi_hard_negatives", [Failure("p", args, expected, tuple(t[:0] for t in expected))])
    assert all(torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b for a, b in zip(args, before))


def test_every_report_shows_the_known_mistake():
    mistake = BANK["batch_hard"][0]
    failed = PropertyResult("positive_is_positive", 0.0, 1.0, False, "p == a for anchor 0", None, mistake.as_dict())
    passed = PropertyResult("inputs_unchanged", 1.0, 1.0, True, "passed")
    text = render(ExerciseResult("batch_hard", [failed, passed]))
    assert f"Known mistake: {mistake.title}." in text and mistake.hint in text
    also = PropertyResult("matches_reference", 0.0, 0.5, False, "differs at anchor 0", None, mistake.as_dict())
    text = render(ExerciseResult("batch_hard", [failed, also, passed]))
    assert text.count(f"Known mistake: {mistake.title}.") == 1  # explained once, under the first rule
    doc = {"student": "s", "total": 1.0, "max_total": 2.0,
           "exercises": {"batch_hard": ExerciseResult("batch_hard", [failed, passed]).as_dict()}}
    page = feedback_html(doc)
    assert "Known mistake:" in page and "(p != a)" in page
    assert f"Known mistake: {mistake.title}." in _property_output(failed.as_dict(), "rule", hidden=False)
    assert "Known mistake" not in _property_output(passed.as_dict(), "rule", hidden=False)
    assert "diagnosis" not in passed.as_dict()
