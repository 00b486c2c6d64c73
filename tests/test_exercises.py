"""The exercises are real nbgrader assignments, generated from the references."""

import csv
import shutil
from pathlib import Path

import nbformat
import pytest

from grader.nbgrader import build

from grader.classrun import command as classrun
from grader.nbgrader.assignments import ASSIGNMENTS


ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"


def test_committed_exercises_are_what_hnm_build_makes(tmp_path):
    copy = tmp_path / "exercises"
    copy.mkdir()
    written = build.build(copy)
    for path in written:
        committed = EXERCISES / path.relative_to(copy)
        assert committed.exists(), f"{committed} is missing: run `hnm build`"
        assert committed.read_bytes() == path.read_bytes(), f"{committed} is stale: run `hnm build`"


@pytest.mark.parametrize("assignment", [a.name for a in ASSIGNMENTS])
def test_student_notebooks_hold_no_solution(assignment):
    nb = nbformat.read(EXERCISES / f"{assignment}.ipynb", as_version=4)
    text = nbformat.writes(nb)
    for leak in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "from solutions", "reference("):
        assert leak not in text
    answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    exercises = next(a for a in ASSIGNMENTS if a.name == assignment).exercises
    assert len(answers) == len(checks) == len(exercises)
    for cell, ex in zip(answers, exercises):
        assert cell.source.startswith(ex.signature) and cell.source.rstrip().endswith("raise NotImplementedError()")
    for cell, ex in zip(checks, exercises):
        assert cell.source == f'grader.check("{ex.id}", {ex.id})' and cell.metadata["nbgrader"]["locked"]


@pytest.mark.parametrize("assignment", [a.name for a in ASSIGNMENTS])
def test_every_exercise_states_every_rule_the_grader_scores(assignment):
    """The student notebook's rules box lists each property's rule and points, from the registry."""
    from grader.suites.registry import REGISTRY

    nb = nbformat.read(EXERCISES / f"{assignment}.ipynb", as_version=4)
    cells = {c.get("id"): c for c in nb.cells}
    exercises = next(a for a in ASSIGNMENTS if a.name == assignment).exercises
    for ex in exercises:
        box = cells[f"{ex.id}-rules"]
        assert box.cell_type == "markdown"
        order = [c.get("id") for c in nb.cells]
        assert order.index(f"{ex.id}-idea") < order.index(f"{ex.id}-rules") < order.index(f"{ex.id}-answer")
        rows = [line for line in box.source.splitlines() if line.startswith("| ") and "`" in line]
        props = REGISTRY[ex.id].properties
        assert len(rows) == len(props)
        for row, prop in zip(rows, props):
            rule, name, points = [part.strip() for part in row.strip("|").rsplit("|", 2)]
            assert rule.startswith(prop.description.replace("|", "\\|")) and name == f"`{prop.name}`"
            assert float(points) == prop.points
        names = {p.name for p in props}
        assert {"inputs_unchanged", "handles_edge_cases", "scale"} <= names
        assert f"({REGISTRY[ex.id].max_score:g} points;" in box.source
        assert any("device" in p.description for p in props)  # outputs stay on the input's device


PARTIAL_SEMI_HARD = '''    import math
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=dist.device)
    d_ap, d_an = dist[:, :, None], dist[:, None, :]
    window = (~same)[:, None, :] & (d_an > d_ap) & (d_an <= d_ap + margin)  # inclusive: wrong
    if len(labels) == 0:
        e = torch.zeros(0, dtype=torch.long)
        return e, e, e
    value, neg = torch.where(window, d_an, torch.full_like(d_an, math.inf)).min(dim=2)
    a, p = (pos & torch.isfinite(value)).nonzero(as_tuple=True)
    return a, p, neg[a, p]'''


def _submission(release: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The release notebook with some stubs replaced: by a function body (indented text)
    or by a whole answer cell (text starting with an import or def)."""
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            stub = "    # YOUR CODE HERE\n    raise NotImplementedError()"
            assert stub in cell.source
            answer = answers[grade_id]
            cell.source = cell.source.replace(stub, answer) if answer.startswith("    ") else answer
    return nb


def test_nbgrader_round_trip_and_trusted_regrading(tmp_path):
    assignment = "ps1_distances_semi_hard"
    course = build.course(tmp_path / "course")
    build.run_nbgrader(course, "generate_assignment", assignment, "--force")
    release = course / "release" / assignment / f"{assignment}.ipynb"
    # Independently written right answers (a submission may not import the references: the
    # sandbox refuses it), taken from the sample class's full-marks student.
    ada = build.answer_cells(ROOT / "grader" / "samples" / "ada.py")
    reference = {name: ada[name] for name in ("pairwise_distances", "semi_hard_negatives")}
    students = {
        "solution": _submission(release, reference),
        "stub": _submission(release, {}),
        "partial": _submission(release, {"pairwise_distances": reference["pairwise_distances"],
                                         "semi_hard_negatives": PARTIAL_SEMI_HARD}),
    }
    for student, nb in students.items():
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    build.run_nbgrader(course, "autograde", assignment, "--force")
    build.run_nbgrader(course, "generate_feedback", assignment, "--force")
    build.run_nbgrader(course, "export")
    scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader((course / "grades.csv").open())}
    assert scores == {"solution": 20.0, "stub": 0.0, "partial": 15.5}
    assert (course / "feedback" / "partial" / assignment / f"{assignment}.html").exists()

    # The same notebooks graded out of process, written back into nbgrader's gradebook.
    docs = classrun.run(course / "submitted", tmp_path / "out", workers=1, device="cpu", resume=False,
                        examples=100, assignment=assignment)
    lost = {d["student"]: [(e, p["name"], p["message"][:300]) for e, x in d["exercises"].items()
                           for p in x["properties"] if not p["passed"]] for d in docs if d["total"] != scores[d["student"]]}
    assert {d["student"]: d["total"] for d in docs} == scores, lost
    from grader.nbgrader.gradebook import write_scores

    assert write_scores(course, assignment, docs) == 6
    shutil.move(course / "grades.csv", tmp_path / "autograde.csv")
    build.run_nbgrader(course, "export")
    again = {row["student_id"]: float(row["score"]) for row in csv.DictReader((course / "grades.csv").open())}
    assert again == scores


def test_problem_set_5_round_trips_through_nbgrader(tmp_path):
    """ps5: the full-marks student's answers earn every point through real nbgrader, the stubs none."""
    assignment = "ps5_beyond_the_batch"
    course = build.course(tmp_path / "course")
    build.run_nbgrader(course, "generate_assignment", assignment, "--force")
    release = course / "release" / assignment / f"{assignment}.ipynb"
    ada = build.answer_cells(ROOT / "grader" / "samples" / "ada.py")
    students = {
        "solution": _submission(release, {name: ada[name] for name in ("positive_aware_negatives", "proxy_anchor_loss")}),
        "stub": _submission(release, {}),
    }
    for student, nb in students.items():
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    build.run_nbgrader(course, "autograde", assignment, "--force")
    build.run_nbgrader(course, "export")
    scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader((course / "grades.csv").open())}
    assert scores == {"solution": 20.0, "stub": 0.0}


def test_ps4_round_trip_solution_full_stub_zero(tmp_path):
    """Problem set 4 through real nbgrader: independently written right answers (ada's) score
    full marks, the untouched stubs 0, and the out-of-process grader agrees."""
    assignment = "ps4_contrastive"
    course = build.course(tmp_path / "course")
    build.run_nbgrader(course, "generate_assignment", assignment, "--force")
    release = course / "release" / assignment / f"{assignment}.ipynb"
    ada = build.answer_cells(ROOT / "grader" / "samples" / "ada.py")
    ids = [ex.id for ex in next(a for a in ASSIGNMENTS if a.name == assignment).exercises]
    students = {"solution": _submission(release, {name: ada[name] for name in ids}), "stub": _submission(release, {})}
    for student, nb in students.items():
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    build.run_nbgrader(course, "autograde", assignment, "--force")
    build.run_nbgrader(course, "export")
    scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader((course / "grades.csv").open())}
    assert scores == {"solution": 20.0, "stub": 0.0}
    docs = classrun.run(course / "submitted", tmp_path / "out", workers=1, device="cpu", resume=False,
                        examples=100, assignment=assignment)
    assert {d["student"]: d["total"] for d in docs} == scores
