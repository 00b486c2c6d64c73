"""Item analysis (grader.reports.item_analysis) against direct computations, and
``hnm quiz --stats`` on a progress store (new and old)."""

from __future__ import annotations

import json
import math
import sqlite3
import time

import numpy as np
import pytest

from grader import cli, quiz
from grader.quiz import stats
from grader.quiz.model import details
from grader.quiz.store import Store
from grader.reports import item_analysis as ia


def classic(matrix: np.ndarray, max_scores=None):
    """Textbook corrected item-total correlation on a complete matrix, one item at a time."""
    top = np.ones(len(matrix)) if max_scores is None else np.asarray(max_scores, float)
    out = []
    for i in range(len(matrix)):
        item = matrix[i]
        rest = matrix.sum(axis=0) - item  # total minus the item itself
        out.append((item.mean() / top[i], float(np.corrcoef(item, rest)[0, 1])))
    return out


def test_complete_matrix_matches_the_textbook_point_biserial():
    rng = np.random.default_rng(0)
    ability = rng.normal(size=200)
    hardness = np.array([-1.0, 0.0, 0.5, 1.0, -0.5])
    m = (ability[None, :] + rng.normal(scale=0.5, size=(5, 200)) > hardness[:, None]).astype(float)
    m[4] = 1 - m[4]  # an item keyed backwards: negative discrimination
    got = ia.analyse(m, ["a", "b", "c", "d", "e"])
    for s, (p, r) in zip(got, classic(m)):
        assert s.n == 200 and s.difficulty == pytest.approx(p) and s.discrimination == pytest.approx(r)
    assert [s.flagged for s in got] == [r < 0 for _, r in classic(m)]
    assert got[4].flagged and not any(s.flagged for s in got[:4])


def test_point_biserial_formula_agrees_for_dichotomous_items():
    rng = np.random.default_rng(1)
    m = (rng.random((4, 30)) < 0.6).astype(float)
    for i, s in enumerate(ia.analyse(m)):
        rest = m.sum(axis=0) - m[i]
        p = m[i].mean()
        m1, m0 = rest[m[i] == 1].mean(), rest[m[i] == 0].mean()
        r_pb = (m1 - m0) / rest.std() * math.sqrt(p * (1 - p))  # the point-biserial formula
        assert s.discrimination == pytest.approx(r_pb)


def test_scored_items_with_different_maxima():
    rng = np.random.default_rng(2)
    top = [2.0, 1.0, 4.0]
    m = np.stack([rng.integers(0, 3, 25), rng.integers(0, 2, 25), rng.integers(0, 5, 25)]).astype(float)
    got = ia.analyse(m, max_scores=top)
    for i, (s, (p, _)) in enumerate(zip(got, classic(m, top))):
        rest = m.sum(axis=0) - m[i]  # points on the other items (same denominator for everyone)
        assert s.difficulty == pytest.approx(p)
        assert s.discrimination == pytest.approx(np.corrcoef(m[i], rest)[0, 1])


def test_missing_items_use_the_share_of_points_on_the_other_items_a_respondent_got():
    m = np.array([[1, 0, np.nan, 1, 0, 1],
                  [1, np.nan, 0, 1, 0, 0],
                  [np.nan, 0, 1, 1, 0, 1],
                  [0, 1, 1, np.nan, 1, 0]])
    got = ia.analyse(m)
    for i, s in enumerate(got):
        xs, ys = [], []
        for r in range(m.shape[1]):
            if np.isnan(m[i, r]):
                continue
            others = [m[j, r] for j in range(len(m)) if j != i and not np.isnan(m[j, r])]
            xs.append(m[i, r])
            ys.append(sum(others) / len(others))
        assert s.n == len(xs) and s.difficulty == pytest.approx(np.mean(xs))
        assert s.discrimination == pytest.approx(np.corrcoef(xs, ys)[0, 1])


def test_undefined_values_are_nan_and_never_flagged():
    same = ia.analyse([[1, 1, 1], [0, 1, 0]])  # item 0: no spread
    assert math.isnan(same[0].discrimination) and not same[0].flagged
    one = ia.analyse([[1.0], [0.0]])
    assert all(math.isnan(s.discrimination) for s in one)
    never = ia.analyse([[np.nan, np.nan], [1, 0]])
    assert never[0].n == 0 and math.isnan(never[0].difficulty)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2-d"):
        ia.analyse([1, 0, 1])
    with pytest.raises(ValueError, match="finite"):
        ia.analyse([[1, np.inf]])
    with pytest.raises(ValueError, match="items must name"):
        ia.analyse([[1, 0]], ["a", "b"])
    with pytest.raises(ValueError, match="max_scores"):
        ia.analyse([[1, 0]], max_scores=[0])


def test_option_counts():
    counts = ia.option_counts([("q1", "b"), ("q1", "a"), ("q1", "b"), ("q2", "key")])
    assert counts == {"q1": {"b": 2, "a": 1}, "q2": {"key": 1}}


def _fill(store: Store, n: int) -> list[list[dict]]:
    """n attempts of simulated students of rising skill; returns their per-question details."""
    rng = np.random.default_rng(3)
    records = []
    for i in range(n):
        qs = quiz.draw(f"s{i}", 1)
        answers = {q.id: q.answer if rng.random() < 0.2 + 0.6 * i / n else (q.answer + 1) % 4 for q in qs}
        store.save(f"s{i}", 1, [q.id for q in qs], answers, quiz.score(qs, answers), details(qs, answers))
        records.append(details(qs, answers))
    return records


def test_quiz_table_numbers_are_the_item_analysis_of_the_saved_attempts(tmp_path):
    store = Store(tmp_path / "q.sqlite3")
    records = _fill(store, 60)
    got, skipped = stats.records_from_store(store)
    assert skipped == 0 and got == records
    rows = stats.table(got)
    ids = [r["id"] for r in rows]
    m = np.full((len(ids), len(records)), np.nan)
    for r, rec in enumerate(records):
        for q in rec:
            m[ids.index(q["id"]), r] = float(q["chosen"] == q["answer"])
    for row, direct in zip(rows, ia.analyse(m, ids)):
        assert row["n"] == direct.n and row["difficulty"] == pytest.approx(direct.difficulty)
        assert row["discrimination"] == pytest.approx(direct.discrimination, nan_ok=True)
        assert sum(row["options"].values()) == row["n"]
    computed = next(r for r in rows if r["kind"] == "computed")
    assert all(name == "key" or name in computed["options"] for name in computed["options"])


def test_hnm_quiz_stats_prints_the_table_and_writes_the_plot(tmp_path, capsys):
    db = tmp_path / "q.sqlite3"
    _fill(Store(db), 40)
    plot = tmp_path / "plots" / "items.png"
    assert cli.main(["quiz", "--stats", "--db", str(db), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "Item analysis of 40 quiz attempts" in out and "discrimination" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = plot.read_bytes()
    assert cli.main(["quiz", "--stats", "--db", str(db), "--plot", str(plot), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["attempts"] == 40 and data["items"] and plot.read_bytes() == first  # same input, same bytes


def test_a_store_made_before_the_detail_column_still_opens(tmp_path, capsys):
    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE attempts (user TEXT NOT NULL, attempt INTEGER NOT NULL, finished_at REAL NOT NULL, "
                "questions TEXT NOT NULL, answers TEXT NOT NULL, correct INTEGER NOT NULL, total INTEGER NOT NULL, "
                "passed INTEGER NOT NULL, PRIMARY KEY (user, attempt))")
    con.execute("INSERT INTO attempts VALUES ('ann', 1, ?, '[\"why-mine\"]', '{\"why-mine\": 0}', 5, 8, 0)", (time.time(),))
    con.commit()
    con.close()
    store = Store(db)
    assert [h["attempt"] for h in store.history("ann")] == [1]
    assert store.next_attempt("ann") == 2
    qs = quiz.draw("ann", 2)
    store.save("ann", 2, [q.id for q in qs], {}, quiz.score(qs, {}), details(qs, {}))
    assert [h["attempt"] for h in store.history("ann")] == [1, 2]
    assert cli.main(["quiz", "--stats", "--db", str(db), "--plot", str(tmp_path / "p.png")]) == 0
    assert "1 older attempts without per-question detail left out" in capsys.readouterr().out


def test_the_same_table_from_hnm_grade_results(tmp_path, monkeypatch):
    """A class report can analyse the quiz answers of ``hnm grade`` results documents."""
    from grader.grading.submissions import Submission
    from grader.quiz import grading

    monkeypatch.delenv("HNM_COURSE_SECRET", raising=False)
    monkeypatch.delenv("HNM_COURSE_SECRET_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    docs = []
    for i, right in enumerate([8, 6, 3, 0]):
        student = f"st{i}"
        qs = quiz.draw(student, 1)
        answers = {q.id: (q.answer if k < right else (q.answer + 1) % 4) for k, q in enumerate(qs)}
        (tmp_path / f"{student}.py").write_text("x = 1\n")
        (tmp_path / f"{student}.quiz.json").write_text(json.dumps(answers))
        docs.append({"student": student, "quiz": grading.grade_submission(
            Submission(student, tmp_path / f"{student}.py", (tmp_path / f"{student}.py",)), None)})
    records = stats.records_from_results(docs + [{"student": "none"}])
    assert len(records) == 4 and [sum(q["chosen"] == q["answer"] for q in r) for r in records] == [8, 6, 3, 0]
    assert sum(row["n"] for row in stats.table(records)) == 32
