"""The quick test: 8 questions drawn from a bank (``bank.json``), 70% to pass.

Questions are data (:mod:`.bank`); computed ones are generated from a seed by
:mod:`.generators`, keyed by the reference implementations, with distractors from named
misconceptions. :mod:`.selection` balances each attempt over the lessons; practice attempts are
public and reproducible (same user and attempt, same questions, choices and order), graded
ones are seeded by the course secret (:mod:`.graded`). :mod:`.model` scores answers,
:mod:`.grading` scores a submission's answers, :mod:`.store` keeps practice attempts,
:mod:`.stats` analyses them, :mod:`.cli` and :mod:`.notebook` are the two front ends.

May import the references (``solutions``), the course secret, the submissions reader and
the generic item analysis (``grader.reports.item_analysis``); never the engine, the suites
or the sandbox.
"""

from __future__ import annotations

from typing import Any

from grader.quiz.bank import BANK, Bank, BankError
from grader.quiz.bank import load as load_bank_data
from grader.quiz.selection import draw, graded_draw
from grader.quiz.model import (
    LETTERS,
    MAX_PER_AREA,
    PASS_FRACTION,
    QUESTIONS_PER_QUIZ,
    AnswerError,
    Question,
    as_dicts,
    instantiate,
    parse_choice,
    score,
)

__all__ = [
    "BANK", "Bank", "BankError", "LETTERS", "MAX_PER_AREA", "PASS_FRACTION", "QUESTIONS_PER_QUIZ",
    "AnswerError", "Question", "as_dicts", "draw", "graded_draw", "instantiate", "load_bank",
    "load_bank_data", "parse_choice", "score",
]


def load_bank(path=BANK) -> list[dict[str, Any]]:
    """The bank's question entries (dicts), validated."""
    return list(load_bank_data(path).questions)
