"""The graded quiz attempt: seeded by the course secret, fixed questions only from an
instructor pool, papers for students, scoring in hnm grade and in the Gradescope archive."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from grader import cli
from grader import secret as secret_module
from grader.grading.submissions import Submission
from grader.quiz import bank as bank_module
from grader.quiz import graded, grading
from grader.quiz.selection import draw, graded_draw

SECRET = b"0123456789abcdef0123456789abcdef"
OTHER = b"fedcba9876543210fedcba9876543210"
BANK = bank_module.load()


def pool_entries(n: int = 12) -> list[dict]:
    """An instructor pool: fixed questions in every area, two of them pitfalls."""
    areas = list(BANK.areas)
    return [{"id": f"inst-{i}", "topic": areas[i % len(areas)], "tags": ["pitfall"] if i < 2 else [],
             "prompt": f"Instructor question {i}?", "choices": [f"option {c} of {i}" for c in "abcd"],
             "answer": i % 4, "explanation": f"Because {i}."} for i in range(n)]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in (secret_module.ENV_VALUE, secret_module.ENV_FILE, graded.POOL_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def pool_file(tmp_path) -> Path:
    path = tmp_path / "quiz-pool.json"
    path.write_text(json.dumps({"questions": pool_entries()}))
    return path


def test_the_graded_attempt_is_a_function_of_the_secret_only_the_instructor_holds(pool_file):
    pool = graded.load_pool(pool_file)
    full = graded.graded_pool(BANK, pool)
    mine = graded_draw("ada", SECRET, BANK, full)
    assert mine == graded_draw("ada", SECRET, BANK, full)  # reproducible for the instructor
    assert mine != graded_draw("ada", OTHER, BANK, full)   # another secret, another attempt
    assert mine != graded_draw("bob", SECRET, BANK, full)
    public = {q.id for a in range(1, 21) for q in draw("ada", a)}
    # Nothing public predicts it: not the practice attempts, not the public fixed questions.
    fixed_public = {q["id"] for q in BANK.questions if not bank_module.is_computed(q)}
    assert not {q.id for q in mine} & fixed_public
    assert [q.prompt for q in mine] != [q.prompt for q in draw("ada", 1)]
    # Computed questions of the graded attempt are new instances, not any practice one.
    practice_prompts = {q.prompt for a in range(1, 21) for q in draw("ada", a)}
    assert not {q.prompt for q in mine if q.id.startswith("calc-")} & practice_prompts
    assert public  # (the practice attempts exist and are public)
    with pytest.raises(ValueError, match="secret"):
        graded_draw("ada", b"", BANK, full)


def test_the_graded_draw_is_balanced_and_holds_an_instructor_pitfall(pool_file):
    full = graded.graded_pool(BANK, graded.load_pool(pool_file))
    ids = {q["id"]: q for q in full}
    for student in (f"s{i}" for i in range(200)):
        qs = graded_draw(student, SECRET, BANK, full)
        areas = [BANK.area_of(ids[q.id]) for q in qs]
        assert len(qs) == 8 and max(areas.count(a) for a in areas) <= 2
        assert any(q.id in ("inst-0", "inst-1") for q in qs)


def test_without_a_pool_the_graded_attempt_holds_computed_questions_only():
    computed = {q["id"] for q in BANK.questions if bank_module.is_computed(q)}
    qs = graded.graded_questions("ada", SECRET)
    assert len(qs) == 8 and {q.id for q in qs} <= computed


def test_a_bad_pool_is_refused(tmp_path):
    bad = tmp_path / "pool.json"
    for data, says in [
        ({"questions": [{**pool_entries(1)[0], "id": "why-mine"}]}, "id of a public bank question"),
        ({"questions": [{"id": "c", "topic": "06_memory_bank", "kind": "computed", "generator": "pk_pairs",
                         "explanation": "x"}]}, "fixed questions only"),
        ({"questions": [{**pool_entries(1)[0], "topic": "nowhere"}]}, "belongs to no area"),
    ]:
        bad.write_text(json.dumps(data))
        with pytest.raises(bank_module.BankError, match=says):
            graded.load_pool(bad)
    bad.write_text("{nope")
    with pytest.raises(bank_module.BankError, match="not valid JSON"):
        graded.load_pool(bad)


def test_the_paper_holds_no_key(pool_file):
    qs = graded.graded_questions("ada", SECRET, pool_file)
    paper = graded.paper("ada", qs, secret_module.fingerprint(SECRET))
    text = json.dumps(paper)
    assert all(set(q) == {"id", "topic", "prompt", "choices"} for q in paper["questions"])
    assert "explanation" not in text and "sources" not in text and "answer" not in text
    assert "Because" not in text  # the instructor's explanations stay with the instructor


def _submission(tmp_path: Path, student: str, answers: dict) -> Submission:
    folder = tmp_path / "subs"
    folder.mkdir(exist_ok=True)
    (folder / f"{student}.py").write_text("x = 1\n")
    (folder / f"{student}.quiz.json").write_text(json.dumps(answers))
    return Submission(student, folder / f"{student}.py", (folder / f"{student}.py",))


def test_hnm_grade_scores_the_graded_attempt_when_a_secret_is_set(tmp_path, monkeypatch, pool_file):
    right = {q.id: q.answer for q in graded.graded_questions("ada", SECRET, pool_file)}
    sub = _submission(tmp_path, "ada", right)
    doc = grading.grade_submission(sub, SECRET, pool_file)
    assert doc["score"] == 8.0 and doc["draw"] == f"graded, course secret {secret_module.fingerprint(SECRET)}"
    # The secret found the way hnm grade finds it (environment / default file): same result.
    (tmp_path / "secret").write_text(SECRET.decode() + "\n")
    monkeypatch.setenv(secret_module.ENV_FILE, str(tmp_path / "secret"))
    monkeypatch.setenv(graded.POOL_ENV, str(pool_file))
    assert grading.grade_submission(sub)["score"] == 8.0
    # Answers precomputed from the public practice attempt 1 earn nothing.
    public = _submission(tmp_path, "bob", {q.id: q.answer for q in draw("bob", 1)})
    cheat = grading.grade_submission(public)
    assert cheat["score"] == 0.0 and "unknown question id" in cheat["error"]
    monkeypatch.delenv(secret_module.ENV_FILE)
    assert grading.grade_submission(public)["draw"].startswith("public practice attempt 1")
    (tmp_path / "short").write_text("short\n")  # a broken secret file: said, never a silent public draw
    monkeypatch.setenv(secret_module.ENV_FILE, str(tmp_path / "short"))
    broken = grading.grade_submission(sub)
    assert broken["score"] == 0.0 and "could not be graded" in broken["error"] and "too short" in broken["error"]


def test_graded_papers_and_answering_one(tmp_path, monkeypatch, capsys, pool_file):
    assert cli.main(["quiz", "--graded", "--user", "ada"]) == 2
    assert "needs the course secret" in capsys.readouterr().err
    (tmp_path / "secret").write_text(SECRET.decode() + "\n")
    base = ["quiz", "--graded", "--secret", str(tmp_path / "secret"), "--pool", str(pool_file)]
    (tmp_path / "roster.txt").write_text("# class of 2026\nada\nbob@example.edu\n\n")
    assert cli.main([*base, "--roster", str(tmp_path / "roster.txt"), "--papers", str(tmp_path / "papers")]) == 0
    assert "wrote 2 graded papers" in capsys.readouterr().out
    paper = json.loads((tmp_path / "papers" / "ada.json").read_text())
    assert (tmp_path / "papers" / "bob@example.edu.txt").is_file()
    expected = graded.graded_questions("ada", SECRET, pool_file)
    assert [q["id"] for q in paper["questions"]] == [q.id for q in expected]
    assert cli.main([*base, "--user", "ada", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == paper
    # The student answers the paper in a terminal: no feedback, answers written as JSON.
    typed = iter(["z"] + ["abcd"[q.answer] for q in expected])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    out = tmp_path / "quiz.json"
    assert cli.main(["quiz", "--paper", str(tmp_path / "papers" / "ada.json"), "--out", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "must be one of" in shown and "Correct" not in shown and "Not quite" not in shown
    assert cli.main([*base, "--user", "ada", "--answers", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["correct"] == 8
    (tmp_path / "dup.txt").write_text("a b\na_b\n")
    assert cli.main([*base, "--roster", str(tmp_path / "dup.txt"), "--papers", str(tmp_path / "p2")]) == 2
    assert "share a paper file" in capsys.readouterr().err
    assert cli.main(["quiz", "--paper", str(tmp_path / "roster.txt")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_the_gradescope_archive_carries_the_pool_with_quiz_and_grades_the_graded_attempt(tmp_path, monkeypatch,
                                                                                         pool_file):
    from grader.exports import gradescope

    monkeypatch.setenv(graded.POOL_ENV, str(pool_file))
    summary = gradescope.build_archive(tmp_path / "a.zip", examples=5, assignment="ps2_batch_hard_weights", quiz=True,
                                       secret=SECRET)
    assert summary["config"]["quiz_pool"]
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in z.infolist()}
        assert z.read(gradescope.SECRET_NAME).strip() == SECRET
        assert json.loads(z.read(gradescope.QUIZ_POOL_NAME)) == json.loads(pool_file.read_text())
    assert modes[gradescope.SECRET_NAME] == modes[gradescope.QUIZ_POOL_NAME] == 0o600
    # Unpacked where Gradescope puts it, the archive's secret and pool are what the quiz uses.
    root = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        z.extractall(root / "source")
    monkeypatch.delenv(graded.POOL_ENV)
    gradescope._quiz_environment(root, {"quiz": True})
    right = {q.id: q.answer for q in graded.graded_questions("ada", SECRET, pool_file)}
    doc = grading.grade_submission(_submission(tmp_path, "ada", right), gradescope._secret(root))
    assert doc["score"] == 8.0 and doc["draw"].startswith("graded")
    results = gradescope.results_document({"exercises": {}, "quiz": doc}, (), True, 1.0)
    (test,) = results["tests"]
    assert test["visibility"] == "after_published" and test["score"] == 8.0
    public = grading.grade_submission(_submission(tmp_path, "bob", {q.id: q.answer for q in draw("bob", 1)}), None)
    assert gradescope.results_document({"exercises": {}, "quiz": public}, (), True, 1.0)["tests"][0]["visibility"] == "visible"
    gradescope._quiz_environment(root, {"quiz": False})
    assert graded.POOL_ENV not in os.environ


def test_without_a_pool_the_archive_holds_none(tmp_path):
    from grader.exports import gradescope

    summary = gradescope.build_archive(tmp_path / "a.zip", examples=5, assignment="ps2_batch_hard_weights", quiz=True)
    assert not summary["config"]["quiz_pool"]
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        assert gradescope.QUIZ_POOL_NAME not in z.namelist()
