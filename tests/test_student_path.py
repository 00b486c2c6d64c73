"""What a student submits is what the grader loads: the released notebook, answered, grades cleanly."""

from pathlib import Path

import nbformat

from grader.grading import pipeline as grading
from grader.grading import submissions
from grader.nbgrader import build

from .test_exercises import _submission


ROOT = Path(__file__).resolve().parents[1]
RELEASED = ROOT / "exercises" / "ps1_distances_semi_hard.ipynb"


def test_a_released_notebook_answered_right_loads_without_errors(tmp_path):
    ada = build.answer_cells(ROOT / "grader" / "samples" / "ada.py")
    # Every answer filled in: a "try it" cell that calls a stub raises, and that is reported.
    nb = _submission(RELEASED, {name: ada[name] for name in ("pairwise_distances", "semi_hard_negatives")})
    assert "import grader" in nb.cells[1].source  # the set-up cell the student runs
    path = tmp_path / "ann.ipynb"
    nbformat.write(nb, path)
    doc = grading.grade(submissions.single(path), examples=10, only=("pairwise_distances",))
    assert "messages" not in doc, doc.get("messages")
    assert doc["total"] == doc["max_total"] == 10.0


def test_the_grader_stand_in_is_not_the_grader(tmp_path):
    path = tmp_path / "bob.py"
    path.write_text(
        "import grader\n"
        "assert grader.check('batch_hard', print) is None\n"
        "assert not hasattr(grader, '__path__') and sorted(n for n in vars(grader) if not n.startswith('_')) == ['check']\n"
        "from grader.suites.registry import REGISTRY\n"
    )
    doc = grading.grade(submissions.single(path), examples=10, only=("batch_hard",))
    [message] = doc["messages"]
    assert message.startswith("error while loading bob.py: ") and "grader.suites" in message, message
    assert doc["total"] == 0.0
