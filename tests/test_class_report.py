"""The class report (grader.reports.class_report) on made-up results documents: its numbers
against a direct computation, escaping, the known-mistakes slot, the quiz, similar pairs,
defensive reading, and the same bytes from ``hnm grade``'s call and ``hnm report``.
(The sample class's report is checked in tests/test_grader_sandbox.py.)"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from html.parser import HTMLParser

import numpy as np
import pytest

from grader import cli, quiz
from grader.grading.submissions import Submission
from grader.reports import class_report, class_stats
from grader.reports.grades import result_json
from grader.suites.registry import REGISTRY

EXERCISES = ("semi_hard_negatives", "batch_hard")


def make_docs(n: int = 24, seed: int = 0) -> list[dict]:
    """Students of rising ability; each property passes when ability beats its hardness.
    ``hardest_negative`` is keyed backwards (weaker students pass it): negative discrimination."""
    rng = np.random.default_rng(seed)
    docs = []
    for s in range(n):
        ability = s / n + rng.normal(scale=0.15)
        exercises, total, top = {}, 0.0, 0.0
        for ex_id in EXERCISES:
            props = []
            for k, p in enumerate(REGISTRY[ex_id].properties):
                hardness = (k + 1) / (len(REGISTRY[ex_id].properties) + 1)
                passed = bool(ability > hardness + rng.normal(scale=0.1))
                if p.name == "hardest_negative":
                    passed = not passed
                props.append({"name": p.name, "score": float(p.points) if passed else 0.0,
                              "max_score": float(p.points), "passed": passed,
                              "message": "passed" if passed else f"fails on input {s}",
                              "counterexample": None if passed else {
                                  "inputs": {"labels": list(range(1 + (s * 7) % 5))}, "expected": [1], "actual": [s],
                                  "quantity": "d_an"}})  # a key the engine may add
            score = sum(p["score"] for p in props)
            exercises[ex_id] = {"score": score, "max_score": REGISTRY[ex_id].max_score, "properties": props}
            total += score
            top += REGISTRY[ex_id].max_score
        docs.append({"student": f"s{s:02d}", "seeded_by": "public", "total": total, "max_total": top,
                     "exercises": exercises, "examples": 100, "submission_sha256": f"{s:064x}"})
    return docs


def direct(docs: list[dict]) -> dict[str, tuple[float, float]]:
    """Pass rate and corrected item-total point-biserial of every property, the textbook way: the
    correlation between its score (a share of its points) and the points on all the other properties."""
    items = [(e, p["name"]) for e, ex in docs[0]["exercises"].items() for p in ex["properties"]]

    def prop(d, e, n):
        return next(p for p in d["exercises"][e]["properties"] if p["name"] == n)

    m = np.array([[prop(d, e, n)["score"] for d in docs] for e, n in items])
    out = {}
    for i, (e, n) in enumerate(items):
        # the item's score as a share of its points: 0 or 1, or a fraction under the agreement gate
        passed = np.array([prop(d, e, n)["score"] / prop(d, e, n)["max_score"] for d in docs], dtype=float)
        rest = m.sum(axis=0) - m[i]
        r = float(np.corrcoef(passed, rest)[0, 1]) if passed.std() > 0 and rest.std() > 0 else float("nan")
        out[f"{e}/{n}"] = (float(passed.mean()), r)
    return out


def assert_report_numbers(out: Path) -> None:
    """``OUT/item_analysis.csv`` and the property rows of ``OUT/report.html`` against :func:`direct`
    on the results files (also used on the sample class by tests/test_grader_sandbox.py)."""
    docs = [json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))]
    expected = direct(docs)
    rows = [r for r in csv.DictReader((out / class_report.CSV).open()) if r["kind"] == "property"]
    assert sorted(f"{r['exercise']}/{r['item']}" for r in rows) == sorted(expected)
    page = (out / class_report.REPORT).read_text()
    for r in rows:
        difficulty, r_pb = expected[f"{r['exercise']}/{r['item']}"]
        assert float(r["difficulty"]) == pytest.approx(difficulty, abs=1e-6)
        if np.isnan(r_pb):
            assert r["discrimination"] == "" and r["flagged"] == "no"
        else:
            assert float(r["discrimination"]) == pytest.approx(r_pb, abs=1e-6)
            assert (r["flagged"] == "yes") == (r_pb < 0)
        row = re.search(rf"<tr data-item='{r['exercise']}/{r['item']}'>(.*?)</tr>", page).group(1)
        cells = [c.strip() for c in re.findall(r"<td class='n'>([^<]*)", row)]
        assert cells[2] == f"{difficulty:.2f}"  # pass rate as shown
        assert cells[3] == ("&ndash;" if np.isnan(r_pb) else f"{r_pb:.2f}")


def test_numbers_match_a_direct_computation_and_the_backwards_item_is_flagged(tmp_path):
    docs = make_docs()
    for d in docs:
        (tmp_path / "results").mkdir(exist_ok=True)
        (tmp_path / "results" / f"{d['student']}.json").write_text(result_json(d))
    class_report.write(tmp_path, docs)
    assert_report_numbers(tmp_path)
    rows = list(csv.DictReader((tmp_path / class_report.CSV).open()))
    assert [f"{r['exercise']}/{r['item']}" for r in rows] == list(direct(docs))  # registry order
    flagged = {f"{r['exercise']}/{r['item']}" for r in rows if r["flagged"] == "yes"}
    assert "batch_hard/hardest_negative" in flagged
    assert int(next(r for r in rows if r["item"] == "hardest_negative")["failed"]) == sum(
        not p["passed"] for d in docs for p in d["exercises"]["batch_hard"]["properties"] if p["name"] == "hardest_negative")


def test_exercise_spread_and_representative_counterexample():
    docs = make_docs()
    why = "no function named batch_hard was defined"  # a whole exercise scored 0: no rule was broken
    docs[-1]["exercises"]["batch_hard"].update(score=0.0, message=why)
    for p in docs[-1]["exercises"]["batch_hard"]["properties"]:
        p.update(score=0.0, passed=False, message=why, counterexample=None)
    docs[-1]["exercises"]["semi_hard_negatives"]["properties"][0].update(
        passed=False, score=0.0, message="not run: an earlier property of this exercise stopped (hung)")
    stats = class_stats.analyse(list(reversed(docs)))  # any order in, sorted out
    assert stats.students == tuple(sorted(d["student"] for d in docs))
    for row in stats.exercises:
        scores = [d["exercises"][row.id]["score"] for d in docs]
        assert row.mean == pytest.approx(np.mean(scores)) and row.sd == pytest.approx(np.std(scores, ddof=1))
    assert [f.failed for f in stats.failures] == sorted((f.failed for f in stats.failures), reverse=True)
    for f in stats.failures:
        failing = [(len(json.dumps(p["counterexample"]["inputs"], separators=(",", ":"))), d["student"])
                   for d in docs for p in d["exercises"][f.exercise]["properties"]
                   if p["name"] == f.name and not p["passed"] and p["counterexample"]]
        assert f.student == min(failing)[1]  # the shortest counterexample, ties to the first student
        assert f.failed == len(failing) and f.unusable == (f.exercise == "batch_hard" or f.name == "returns_index_tensors")
    by_name = {(p.exercise, p.name): p for p in stats.properties}
    assert all(by_name[(f.exercise, f.name)].failed == f.failed + f.unusable for f in stats.failures)


def test_student_strings_are_escaped_and_the_page_loads_nothing(tmp_path):
    docs = make_docs(6)
    evil = "<script>alert('x')</script><img src=http://example.com/x>"
    for d in docs:
        for p in d["exercises"]["batch_hard"]["properties"]:
            p.update(passed=False, score=0.0, message=evil, counterexample={"inputs": evil, "expected": evil,
                                                                             "actual": {"x": evil}, evil: evil})
            p["diagnosis"] = {"name": evil, "hint": evil}
    docs[0]["student"] = "<b>bob</b>"
    similarity = {"threshold": 0.5, "tool": evil, "report": evil,
                  "pairs": [{"a": evil, "b": "s01", "similarity": 0.9, "similarity_a": 0.9, "similarity_b": 0.8}]}
    (tmp_path / class_report.SIMILARITY).write_text(json.dumps(similarity))
    class_report.write(tmp_path, docs)
    page = (tmp_path / class_report.REPORT).read_text()
    assert "<script" not in page and "<b>bob" not in page and "<img src=http" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;bob&lt;/b&gt;" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    tags = Tags()
    tags.feed(page)
    assert "script" not in tags.names and "link" not in tags.names and "b" not in tags.names
    assert all(v.startswith("data:image/png;base64,") for k, v in tags.links if k == "src")
    assert all(v.startswith("#") for k, v in tags.links if k == "href"), "the page must load nothing"


class Tags(HTMLParser):
    """The real tags of a page and their src/href values (escaped text is not a tag)."""

    def __init__(self):
        super().__init__()
        self.names, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        self.names.add(tag)
        self.links += [(k, v or "") for k, v in attrs if k in ("src", "href")]


def test_known_mistakes_are_counted_once_per_student():
    docs = make_docs(10)
    assert not class_stats.analyse(docs).diagnosed
    for d in docs[:4]:
        for p in d["exercises"]["semi_hard_negatives"]["properties"]:
            if not p["passed"]:
                p["diagnosis"] = {"name": "inclusive upper bound", "hint": "d_an < d_ap + margin is strict"}
    docs[5]["exercises"]["batch_hard"]["properties"][2].update(passed=False, score=0.0, diagnosis="self as positive")
    docs[6]["exercises"]["batch_hard"]["properties"][3].update(passed=True, diagnosis="ignored on a passing property")
    stats = class_stats.analyse(docs)
    assert stats.diagnosed
    named = {m.name: m for m in stats.mistakes}
    carriers = [d for d in docs[:4] if any(not p["passed"] for p in d["exercises"]["semi_hard_negatives"]["properties"])]
    assert named["inclusive upper bound"].students == len(carriers) >= 2
    assert named["inclusive upper bound"].hint == "d_an < d_ap + margin is strict"
    assert named["self as positive"].students == 1 and "ignored on a passing property" not in named
    page, _ = class_report.build(docs)
    section = page.split("id='mistakes'")[1].split("<h2")[0]
    assert f"inclusive upper bound</td><td class='n'>{len(carriers)}</td>" in section


def test_quiz_items_with_distractor_counts(tmp_path, monkeypatch):
    from grader.quiz import grading

    monkeypatch.delenv("HNM_COURSE_SECRET", raising=False)
    monkeypatch.delenv("HNM_COURSE_SECRET_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    docs = make_docs(8)
    for i, d in enumerate(docs):
        qs = quiz.draw(d["student"], 1)
        answers = {q.id: (q.answer if k < i else (q.answer + 1) % 4) for k, q in enumerate(qs)}
        (tmp_path / f"{d['student']}.py").write_text("x = 1\n")
        (tmp_path / f"{d['student']}.quiz.json").write_text(json.dumps(answers))
        path = tmp_path / f"{d['student']}.py"
        d["quiz"] = grading.grade_submission(Submission(d["student"], path, (path,)), None)
    out = tmp_path / "out"
    class_report.write(out, docs)
    rows = [r for r in csv.DictReader((out / class_report.CSV).open()) if r["kind"] == "quiz"]
    seen = [q["id"] for d in docs for q in d["quiz"]["details"]]
    assert sorted(r["item"] for r in rows) == sorted(set(seen))
    for r in rows:
        shown = [q for d in docs for q in d["quiz"]["details"] if q["id"] == r["item"]]
        assert int(r["n"]) == len(shown)
        assert float(r["difficulty"]) == pytest.approx(np.mean([q["chosen"] == q["answer"] for q in shown]), abs=1e-6)
        assert sum(json.loads(r["options"]).values()) == len(shown)
    page = (out / class_report.REPORT).read_text()
    assert "8 graded quizzes" in page and page.count("<tr data-item='quiz/") == len(rows)


def test_similar_pairs_are_listed_unless_the_submissions_changed(tmp_path):
    docs = make_docs(5)
    sim = {"tool": "copydetect 0.5.0", "threshold": 0.5, "report": "similarity.html",
           "students": {d["student"]: d["submission_sha256"] for d in docs},
           "pairs": [{"a": "s01", "b": "s03", "similarity": 0.91, "similarity_a": 0.91, "similarity_b": 0.88},
                     {"a": "s00", "b": "s02", "similarity": 0.12, "similarity_a": 0.1, "similarity_b": 0.12}]}
    (tmp_path / class_report.SIMILARITY).write_text(json.dumps(sim))
    class_report.write(tmp_path, docs)
    section = (tmp_path / class_report.REPORT).read_text().split("id='similarity'")[1]
    assert "1 pairs at or above the threshold 0.50" in section
    assert section.index("s01</td><td>s03") < section.index("s00</td><td>s02")
    sim["students"]["s03"] = "0" * 64
    (tmp_path / class_report.SIMILARITY).write_text(json.dumps(sim))
    class_report.write(tmp_path, docs)
    section = (tmp_path / class_report.REPORT).read_text().split("id='similarity'")[1]
    assert "other versions of the submissions of s03" in section and "s01</td>" not in section


def test_hnm_report_rebuilds_the_same_bytes_and_reads_defensively(tmp_path, capsys):
    docs = make_docs(12)
    for d in docs:
        (tmp_path / "results").mkdir(exist_ok=True)
        (tmp_path / "results" / f"{d['student']}.json").write_text(result_json(d))
    class_report.write(tmp_path, docs)  # what hnm grade writes
    first = {n: (tmp_path / n).read_bytes() for n in (class_report.REPORT, class_report.CSV)}
    assert cli.main(["report", str(tmp_path)]) == 0
    assert {n: (tmp_path / n).read_bytes() for n in first} == first
    assert "for 12 students" in capsys.readouterr().out
    # Broken, foreign and half-written files are left out with a note; odd keys change nothing.
    (tmp_path / "results" / "broken.json").write_text("{not json")
    (tmp_path / "results" / "list.json").write_text("[1, 2]")
    (tmp_path / "results" / ".s99.json.tmp123").write_text("{")
    (tmp_path / "results" / "copy.json").write_text(result_json(docs[0]))
    odd = dict(docs[1], signature="abc", exercises=dict(docs[1]["exercises"], unknown_ex={"score": "x"}))
    odd["exercises"]["batch_hard"]["properties"].append({"name": None})
    (tmp_path / "results" / "s01.json").write_text(result_json(odd))
    assert cli.main(["report", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "broken.json: not readable JSON" in err and "list.json: not a results document" in err
    assert "copy.json: student s00 again (kept s00.json)" in err and ".s99" not in err
    assert (tmp_path / class_report.CSV).read_bytes() == first[class_report.CSV]
    assert cli.main(["report", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_same_results_give_the_same_bytes():
    docs = make_docs(16, seed=3)
    assert class_report.build(docs) == class_report.build(json.loads(json.dumps(docs[::-1])))
    empty_page, empty_csv = class_report.build([])
    assert "No graded students" in empty_page and empty_csv.count("\n") == 1
