"""Writing ``hnm grade`` scores into an nbgrader course's gradebook, through nbgrader's API.

Each exercise's check cell (grade id ``check_<exercise id>``) gets the out-of-process score
as its *manual* score, which nbgrader's ``export`` and ``formgrader`` then show in place of
the in-kernel autograde score. The assignment must have been generated in that course.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.nbgrader.assignments import ASSIGNMENTS


def exercises_of(assignment: str) -> tuple[str, ...]:
    for a in ASSIGNMENTS:
        if a.name == assignment:
            return tuple(ex.id for ex in a.exercises)
    known = ", ".join(a.name for a in ASSIGNMENTS)
    raise ValueError(f"unknown assignment {assignment!r}; known: {known}")


def write_scores(course: Path, assignment: str, docs: list[dict[str, Any]]) -> int:
    """Store every student's exercise scores; returns the number of grades written."""
    from nbgrader.api import Gradebook, MissingEntry

    db = Path(course) / "gradebook.db"
    if not db.exists():
        raise ValueError(f"no nbgrader gradebook at {db} (run nbgrader generate_assignment there first)")
    written = 0
    with Gradebook(f"sqlite:///{db}") as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            raise ValueError(f"assignment {assignment!r} is not in the gradebook at {db}") from None
        for doc in docs:
            student = doc["student"]
            gb.update_or_create_student(student)
            try:
                gb.find_submission(assignment, student)
            except MissingEntry:
                gb.add_submission(assignment, student)
            for exercise in exercises_of(assignment):
                if exercise not in doc["exercises"]:
                    continue
                grade = gb.find_grade(f"check_{exercise}", assignment, assignment, student)
                grade.manual_score = doc["exercises"][exercise]["score"]
                written += 1
            gb.db.commit()
    return written
