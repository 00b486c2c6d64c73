"""The graded attempt: its pool, its questions for one student, and the papers students answer.

Threat model. The course is public: a student has the bank, the generators, the references
and this code. Practice attempts are a public function of (user, attempt), and they show the
key after each answer, so every fixed question of the public bank has a known key. The
graded attempt is built so that none of that gives its answers away:

* its draw and every computed instance are seeded by the course secret
  (:func:`grader.secret.derive`), which never leaves the instructor (and the Gradescope
  archive built with ``--quiz``); without it nobody can derive which questions a student
  gets, nor the numbers in them, and the keys of computed questions are computed by the
  grader at grading time and stored nowhere;
* its fixed questions come only from an instructor pool (:func:`load_pool`: a JSON file in the
  bank's question format, kept outside the repository, e.g. beside the secret), never from
  the public bank, so their keys do not ship to students in any form. Without a pool the
  graded attempt holds computed questions only;
* a student still sees the graded instances (they must answer them) and can compute a
  computed question's answer with the course's own functions: that is using the course,
  not breaking it. A student who obtains the secret or the pool file can do anything; keep
  both readable by the instructor only (``hnm secret init`` writes the secret with mode 0600).

Students get their graded questions as a *paper* (:func:`paper`: the questions without keys),
written by the instructor with ``hnm quiz --graded --roster FILE --papers DIR``, and answer it
with ``hnm quiz --paper FILE`` (or by writing the answers JSON by hand).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from grader.quiz import bank as bank_module
from grader.quiz.selection import graded_draw
from grader.quiz.model import Question

POOL_ENV = "HNM_QUIZ_POOL"
PAPER_KIND = "hnm graded quiz paper"


def default_pool_path() -> Path:
    """``quiz-pool.json`` beside the default course secret (``~/.config/hnm/``)."""
    from grader.secret import default_path

    return default_path().with_name("quiz-pool.json")


def pool_path(path: Path | str | None = None) -> Path | None:
    """The instructor pool to use: ``path``, else ``$HNM_QUIZ_POOL``, else the default file if
    it exists, else None (no pool)."""
    if path:
        return Path(path)
    if os.environ.get(POOL_ENV):
        return Path(os.environ[POOL_ENV])
    return default_pool_path() if default_pool_path().is_file() else None


def load_pool(path: Path | str | None = None, bank: bank_module.Bank | None = None) -> list[dict[str, Any]]:
    """The instructor's fixed questions (validated against the bank's areas), or [] without a pool."""
    bank = bank or bank_module.load()
    where = pool_path(path)
    if where is None:
        return []
    pool = bank_module.read(where, areas=bank.areas)
    public = {q["id"] for q in bank.questions}
    for q in pool.questions:
        if bank_module.is_computed(q):
            raise bank_module.BankError(f"{where}: question {q['id']!r}: an instructor pool holds fixed questions only "
                                        "(every computed question of the bank is already in the graded pool)")
        if q["id"] in public:
            raise bank_module.BankError(f"{where}: question {q['id']!r} has the id of a public bank question")
    return list(pool.questions)


def graded_pool(bank: bank_module.Bank, instructor: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What graded attempts are drawn from: the bank's computed questions and the instructor's fixed ones."""
    return [q for q in bank.questions if bank_module.is_computed(q)] + list(instructor)


def graded_questions(student: str, secret: bytes, pool_file: Path | str | None = None,
                     bank: bank_module.Bank | None = None) -> list[Question]:
    """``student``'s graded attempt (see the module's threat model)."""
    bank = bank or bank_module.load()
    return graded_draw(student, secret, bank, graded_pool(bank, load_pool(pool_file, bank)))


def paper(student: str, questions: list[Question], fingerprint: str) -> dict[str, Any]:
    """What the student receives: the questions without keys or explanations."""
    return {"kind": PAPER_KIND, "user": student, "secret_fingerprint": fingerprint,
            "questions": [q.public() for q in questions]}


def read_paper(path: Path | str) -> dict[str, Any]:
    """A paper written by :func:`paper`; ``ValueError`` naming the file when it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the paper {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the paper {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    ok = (isinstance(data, dict) and data.get("kind") == PAPER_KIND and isinstance(data.get("questions"), list)
          and all(isinstance(q, dict) and isinstance(q.get("id"), str) and isinstance(q.get("prompt"), str)
                  and isinstance(q.get("choices"), list) and all(isinstance(c, str) for c in q["choices"])
                  for q in data["questions"]))
    if not ok:
        raise ValueError(f"{path} is not a graded quiz paper (written by hnm quiz --graded --papers)")
    return data


def safe_name(student: str) -> str:
    """A file name for ``student``'s paper: the id itself when it is a plain name, else a
    readable form of it (characters outside [A-Za-z0-9@._+-] become '_')."""
    name = "".join(c if c.isascii() and (c.isalnum() or c in "@._+-") else "_" for c in student).strip(".")
    return name or "_"
