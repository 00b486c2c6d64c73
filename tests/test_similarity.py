"""``hnm similarity`` (grader.similarity): a disguised copy is flagged, independently written correct
answers are not, the released starter code never counts, the files are the same on every run
(whatever Python's string-hash salt), student code is escaped, nothing leaves the machine, and the
class report lists the pairs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader import cli
from grader.grading import submissions
from grader.nbgrader import build
from grader.reports import class_report
from grader.similarity import command, detect, extract

ROOT = Path(__file__).resolve().parents[1]
CASES = Path(__file__).resolve().parent / "similarity_cases"
RELEASE = ROOT / "exercises" / "ps1_distances_semi_hard.ipynb"
HNM = [sys.executable, "-m", "grader.cli"]
INDEPENDENT = ("original", "cummin", "windows")  # three correct answers written independently


def notebook(answers: dict[str, str], swap: bool = False) -> nbformat.NotebookNode:
    """The released ps1 notebook with its answer cells filled in (``swap``: the two moved)."""
    nb = nbformat.read(RELEASE, as_version=4)
    filled = []
    for i, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
            filled.append(i)
    if swap:
        a, b = filled
        nb.cells[a], nb.cells[b] = nb.cells[b], nb.cells[a]
    return nb


@pytest.fixture(scope="module")
def subs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("subs")
    for name in (*INDEPENDENT, "renamed"):
        nbformat.write(notebook(build.answer_cells(CASES / f"{name}.py"), swap=name == "renamed"),
                       folder / f"{name}.ipynb")
    nbformat.write(notebook({}), folder / "stub.ipynb")  # handed in untouched
    return folder


@pytest.fixture(scope="module")
def summary(subs, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("out")
    return out, command.run(subs, out)


def _pairs(summary: dict) -> dict[frozenset, float]:
    return {frozenset((p["a"], p["b"])): p["similarity"] for p in summary["pairs"]}


def test_the_renamed_copy_is_flagged_and_independent_answers_are_not(summary):
    _, s = summary
    pairs = _pairs(s)
    copy = pairs[frozenset(("original", "renamed"))]
    assert copy >= detect.THRESHOLD + 0.3, copy  # measured 0.96
    flagged = [p for p in s["pairs"] if p["flagged"]]
    assert [(p["a"], p["b"]) for p in flagged] == [("original", "renamed")] and s["flagged"] == 1
    for a in INDEPENDENT:
        for b in INDEPENDENT:
            if a < b:
                assert pairs.get(frozenset((a, b)), 0.0) < detect.THRESHOLD - 0.1, (a, b)  # measured <= 0.33


def test_the_starter_code_never_counts(subs, summary):
    _, s = summary
    assert not [p for p in s["pairs"] if "stub" in (p["a"], p["b"])]  # all starter code: nothing shared
    codes = {p.stem: extract.graded_code(submissions.single(p)) for p in sorted(subs.glob("*.ipynb"))}
    without = {frozenset((p.a, p.b)): p.similarity for p in detect.compare(codes, [])}
    assert without[frozenset(("stub", "cummin"))] >= detect.THRESHOLD  # what the boilerplate removes
    assert s["boilerplate"] == sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))


def test_the_same_files_whatever_the_hash_salt(subs, summary, tmp_path):
    """copydetect hashes with Python's salted ``hash``: the files must not depend on the salt.
    The CLI runs under a fixed salt other than this process's."""
    out, _ = summary
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    done = subprocess.run([*HNM, "similarity", str(subs), "--out", str(tmp_path)], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, PYTHONHASHSEED=seed))
    assert done.returncode == 0, done.stderr
    assert "1 pairs of the 5 submissions at or above 0.50" in done.stdout
    for name in (command.JSON, command.HTML):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_student_code_is_escaped_on_the_page(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    evil = "def f(x):\n    s = '</pre><script>alert(1)</script>'\n    return [x + 1 for _ in range(3)] + [s] * 2\n" * 3
    (subs / "a.py").write_text(evil)
    (subs / "b.py").write_text(evil.replace("x", "y"))
    s = command.run(subs, tmp_path / "out", boilerplate=[RELEASE])
    assert s["pairs"][0]["flagged"]
    page = (tmp_path / "out" / command.HTML).read_text()
    assert "<script" not in page and "&lt;script&gt;" in page and "<mark>" in page


def test_nothing_leaves_the_machine(subs, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("hnm similarity tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert command.run(subs, tmp_path / "out")["flagged"] == 1


def test_the_class_report_lists_the_pairs(subs, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "results").mkdir(parents=True)
    for sub in submissions.discover(subs):  # results documents of the same submissions
        doc = {"student": sub.student, "total": 0.0, "max_total": 10.0, "submission_sha256": submissions.digest(sub),
               "exercises": {"batch_hard": {"score": 0.0, "max_score": 10.0, "properties": []}}}
        (out / "results" / f"{sub.student}.json").write_text(json.dumps(doc))
    assert cli.main(["similarity", str(subs), "--out", str(out)]) == 0
    assert "updated" in capsys.readouterr().out
    section = (out / class_report.REPORT).read_text().split("id='similarity'")[1]
    assert "1 pairs at or above the threshold 0.50" in section and "original</td><td>renamed" in section
    doc = json.loads((out / "results" / "renamed.json").read_text())  # regraded after a change
    (out / "results" / "renamed.json").write_text(json.dumps(dict(doc, submission_sha256="0" * 64)))
    assert cli.main(["report", str(out)]) == 0
    assert "other versions of the submissions of renamed" in (out / class_report.REPORT).read_text()


def test_bad_arguments_are_refused(subs, tmp_path, capsys):
    assert cli.main(["similarity", str(subs), "--out", str(tmp_path), "--threshold", "0"]) == 2
    assert "threshold must be in (0, 1]" in capsys.readouterr().err
    assert cli.main(["similarity", str(subs), "--out", str(tmp_path), "--boilerplate", str(tmp_path / "x.txt")]) == 2
    assert "boilerplate" in capsys.readouterr().err
    assert cli.main(["similarity", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(ValueError, match="noise"):
        detect.compare({"a": "x = 1\n"}, [], noise=0)
