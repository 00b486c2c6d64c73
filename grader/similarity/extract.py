"""The code a similarity check compares: each submission's graded code as the grader reads it
(:func:`grader.grading.submissions.cells`, without the quiz answers cell), and the starter
code of the released student notebooks, which must never count as shared work.
"""

from __future__ import annotations

from pathlib import Path

from grader.grading import submissions


def graded_code(sub: submissions.Submission) -> str:
    """Every cell the grader would run, in order, one block each (raises ``SubmissionError``)."""
    return "\n\n".join(code for _, code in submissions.cells(sub) if submissions.QUIZ_CELL not in code) + "\n"


def released_notebooks() -> list[Path]:
    """The course's released student notebooks (``exercises/*.ipynb``), if this is a checkout."""
    from grader.nbgrader.build import ROOT

    return sorted((ROOT / "exercises").glob("*.ipynb"))


def starter_code(paths: list[Path]) -> list[tuple[str, str]]:
    """``(file name, code)`` of each starter file (a notebook or ``.py``); folders are searched for both."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in submissions.SUFFIXES))
        elif path.is_file() and path.suffix in submissions.SUFFIXES:
            files.append(path)
        else:
            raise ValueError(f"boilerplate {path} is not a notebook, a .py file or a folder holding them")
    return [(p.name, graded_code(submissions.single(p))) for p in files]
