"""The quick test: bank, draw, scoring, persistence, CLI, notebook session, grading."""

import json
import math
import re
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from grader.classrun import command as classrun

from grader import quiz
from grader.quiz.generators import GENERATORS
from grader.quiz.notebook import QuizSession
from grader.quiz.store import Store

ROOT = Path(__file__).resolve().parents[1]
HNM = [sys.executable, "-m", "grader.cli"]


@pytest.fixture(autouse=True)
def no_course_secret(monkeypatch, tmp_path):
    """Practice paths must not depend on a secret the developer may have set."""
    monkeypatch.delenv("HNM_COURSE_SECRET", raising=False)
    monkeypatch.delenv("HNM_COURSE_SECRET_FILE", raising=False)
    monkeypatch.delenv("HNM_QUIZ_POOL", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_bank_is_complete_data():
    bank = quiz.load_bank()
    ids = [q["id"] for q in bank]
    assert len(bank) >= 60 and len(set(ids)) == len(ids)
    for q in bank:
        assert q["explanation"]
        if q.get("kind") == "computed":
            assert q["generator"] in GENERATORS
        else:
            assert 0 <= q["answer"] < len(q["choices"]) and len(set(q["choices"])) == len(q["choices"])
    covered = {q["topic"] for q in bank}
    assert {"semi_hard_negatives", "batch_hard", "distance_weights", "ohem_select", "nms"} <= covered


def test_draw_is_reproducible_per_user_and_attempt():
    a = quiz.draw("ann", 1)
    assert a == quiz.draw("ann", 1)
    assert len(a) == 8 and len({q.id for q in a}) == 8
    assert a != quiz.draw("ann", 2)
    assert a != quiz.draw("bob", 1)
    for q in a:
        assert 0 <= q.answer < len(q.choices) and len(q.sources) == len(q.choices)
        assert "sources" not in q.public() and "answer" not in q.public()


def test_computed_answers_agree_with_hand_calculation():
    import random

    for seed in range(40):
        prompt, choices, answer, _ = GENERATORS["triplet_loss_value"](random.Random(seed))
        d_ap, d_an, margin = map(float, re.findall(r"(?:= |margin )([0-9]+(?:\.[0-9]+)?)", prompt))
        assert float(choices[answer]) == max(0.0, d_ap - d_an + margin)
        prompt, choices, answer, _ = GENERATORS["positive_pairs_count"](random.Random(seed))
        labels = json.loads(re.search(r"Labels (\[.*?\])", prompt).group(1))
        assert int(choices[answer]) == sum(labels.count(c) * (labels.count(c) - 1) for c in set(labels))
        prompt, choices, answer, _ = GENERATORS["pk_batch_count"](random.Random(seed))
        classes = int(re.search(r"(\d+) classes", prompt).group(1))
        p = int(re.search(r"p=(\d+)", prompt).group(1))
        assert int(choices[answer]) == math.ceil(classes / p)


def _answers(questions, right: int):
    return {q.id: (q.answer if i < right else (q.answer + 1) % len(q.choices)) for i, q in enumerate(questions)}


def test_pass_mark_is_70_percent():
    qs = quiz.draw("ann", 1)
    assert quiz.score(qs, _answers(qs, 6))["passed"] is True
    five = quiz.score(qs, _answers(qs, 5))
    assert five["passed"] is False and five["correct"] == 5 and five["total"] == 8
    letters = {q.id: "abcd"[q.answer] for q in qs}
    assert quiz.score(qs, letters)["correct"] == 8
    assert quiz.score(qs, {})["correct"] == 0  # unanswered counts as wrong


@pytest.mark.parametrize(
    "answers, message",
    [
        ([], "must be a JSON object"),
        ({"nope": 0}, "unknown question id"),
        ("FIRST", "must be one of a, b"),
        (1.5, "must be a choice index or letter"),
        (99, r"must be in 0\.\."),
        ("z", "must be one of"),
        (True, "must be a choice index or letter"),
    ],
)
def test_malformed_answers_are_rejected(answers, message):
    qs = quiz.draw("ann", 1)
    if not isinstance(answers, (dict, list)):
        answers = {qs[0].id: answers}
    with pytest.raises(quiz.AnswerError, match=message):
        quiz.score(qs, answers)


def hnm(*args, db, stdin=None):
    return subprocess.run([*HNM, "quiz", *args, "--db", str(db)], capture_output=True, text=True, input=stdin, cwd=ROOT)


def test_cli_questions_answers_history_and_bad_files(tmp_path):
    db = tmp_path / "quiz.sqlite3"
    shown = json.loads(hnm("--user", "ann", "--questions", "--json", db=db).stdout)
    assert shown["attempt"] == 1 and len(shown["questions"]) == 8
    assert all(set(q) == {"id", "topic", "prompt", "choices"} for q in shown["questions"])
    qs = quiz.draw("ann", 1)
    (tmp_path / "a.json").write_text(json.dumps(_answers(qs, 6)))
    done = hnm("--user", "ann", "--answers", str(tmp_path / "a.json"), "--json", db=db)
    result = json.loads(done.stdout)
    assert (result["score"], result["correct"], result["total"], result["passed"]) == (0.75, 6, 8, True)
    assert result["saved"] and result["attempt"] == 1
    for bad, why in (("{not json", "not valid JSON"), (json.dumps({"x": 1}), "unknown question id")):
        (tmp_path / "bad.json").write_text(bad)
        refused = hnm("--user", "ann", "--answers", str(tmp_path / "bad.json"), "--json", db=db)
        assert refused.returncode == 2 and why in refused.stderr
    history = json.loads(hnm("--user", "ann", "--history", "--json", db=db).stdout)
    assert [h["attempt"] for h in history] == [1] and history[0]["correct"] == 6
    anonymous = hnm("--answers", str(tmp_path / "a.json"), "--json", db=tmp_path / "other.sqlite3")
    assert anonymous.returncode == 2  # guest questions differ from ann's
    assert not (tmp_path / "other.sqlite3").exists()


def test_interactive_terminal_quiz(tmp_path):
    db = tmp_path / "quiz.sqlite3"
    qs = quiz.draw("bo", 1)
    typed = "x\n" + "\n".join("abcd"[q.answer] for q in qs) + "\n"
    done = hnm("--user", "bo", db=db, stdin=typed)
    assert done.returncode == 0, done.stderr
    assert "must be one of" in done.stdout and "Correct." in done.stdout
    assert "Score: 8/8 (100%). Passed" in done.stdout and "Saved as attempt 1" in done.stdout
    assert f"progress is saved in {db}" in done.stdout
    guest = hnm(db=db, stdin="a\n" * 8)
    assert "will not be saved" in guest.stdout and "Score:" in guest.stdout
    assert [h["attempt"] for h in Store(db).history("bo")] == [1]


def _save(args):
    db, i = args
    qs = quiz.draw("crowd", 1)
    return Store(db).save("crowd", 1, [q.id for q in qs], {}, quiz.score(qs, {}))


def test_concurrent_attempts_do_not_corrupt_the_store(tmp_path):
    db = tmp_path / "quiz.sqlite3"
    with ProcessPoolExecutor(4) as pool:
        numbers = list(pool.map(_save, [(db, i) for i in range(16)]))
    assert sorted(numbers) == list(range(1, 17))
    assert [h["attempt"] for h in Store(db).history("crowd")] == list(range(1, 17))


def test_notebook_session_saves_like_the_terminal(tmp_path):
    session = QuizSession("cy", tmp_path / "q.sqlite3")
    assert str(tmp_path / "q.sqlite3") in session.where()
    for q in session.questions:
        ok, text = session.answer(q.id, q.answer)
        assert ok and q.explanation in text
    assert "8/8" in session.summary() and session.saved_as == 1
    saved = Store(tmp_path / "q.sqlite3").all_details()[0][0]["detail"]
    assert [d["chosen"] for d in saved] == [q.answer for q in session.questions]
    guest = QuizSession(None)
    assert guest.store is None and "not saved" in guest.where() and "quiz_widget(user=" in guest.where()


def test_the_widget_shows_text_where_it_cannot_be_drawn(tmp_path):
    """A saved notebook opened without a live kernel (or untrusted) shows the text/plain or
    text/html of the output: a sentence saying to run the cell, never `VBox(...)`."""
    from IPython.core.interactiveshell import InteractiveShell

    from grader.quiz import notebook

    shown = []
    shell = InteractiveShell.instance()
    shell.display_pub.publish = lambda data, metadata=None, **kw: shown.append(data)
    try:
        session = notebook.quiz_widget()
    finally:
        InteractiveShell.clear_instance()
    (bundle,) = shown
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "VBox" not in bundle["text/plain"] and "run this cell" in bundle["text/plain"]
    assert "run this cell" in bundle["text/html"] and "VBox" not in bundle["text/html"]
    assert "not saved" in session.where()


def test_grading_includes_quiz_answers(tmp_path):
    """Without a course secret, hnm grade scores the public practice attempt 1 and says so."""
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.py").write_text("x = 1\n")
    (subs / "alice.quiz.json").write_text(json.dumps(_answers(quiz.draw("alice", 1), 7)))
    (subs / "bob").mkdir()
    (subs / "bob" / "answers.py").write_text("y = 2\n")
    (subs / "bob" / "quiz.json").write_text(json.dumps({"nope": 1}))
    (subs / "carl.py").write_text("z = 3\n")
    docs = {d["student"]: d for d in classrun.run(subs, tmp_path / "out", 1, "cpu", False, 5)}
    assert docs["alice"]["quiz"]["score"] == 7.0 and docs["alice"]["quiz"]["passed"]
    assert docs["alice"]["quiz"]["draw"].startswith("public practice attempt 1")
    assert docs["bob"]["quiz"]["score"] == 0.0 and "unknown question id" in docs["bob"]["quiz"]["error"]
    assert "quiz" not in docs["carl"]
    header, *rows = (tmp_path / "out" / "grades.csv").read_text().splitlines()
    assert header.endswith(",quiz,total,max_total")
    assert rows[0].startswith("alice,") and ",7,7," in rows[0] + ","
