"""The instructor's class report: ``OUT/report.html`` and ``OUT/item_analysis.csv`` (``hnm report OUT``).

``hnm grade`` writes both at the end of every run; ``hnm report OUT`` rebuilds them from
``OUT/results/``. The page is one self-contained file: figures inlined as base64 PNG, inline
CSS, no scripts, and a Content-Security-Policy that forbids loading anything, so it opens
offline. Every string that comes from a results document (student ids, messages,
counterexamples, names) is HTML-escaped. The same results give the same bytes: no paths,
no times, everything sorted. ``OUT/similarity.json`` (``hnm similarity``), when present and
made from the graded submissions, adds the most similar pairs.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from grader.reports import class_stats, figures
from grader.reports.feedback import _num, _pretty
from grader.reports.grades import atomic_write, result_json
from grader.suites.registry import REGISTRY

REPORT = "report.html"
CSV = "item_analysis.csv"
SIMILARITY = "similarity.json"
MATPLOTLIB = "matplotlib-version.txt"
TOP = 10  # failing properties and similar pairs shown
CX_LIMIT = 3000  # characters of one counterexample value shown

EXPLAIN = {
    "distribution": "Each student's total as a share of the maximum, in bands of 10 %. A pile-up at one end says "
                    "the problem set was too easy or too hard to tell students apart.",
    "exercises": "The mean, standard deviation (n - 1), median and range of each exercise's score. A low mean "
                 "with a large spread usually means one rule of the exercise split the class.",
    "difficulty": "The pass rate: the share of graded students who passed the property (for a quiz question, who "
                  "chose the key). Rules nearly everyone passes tell you little; rules few pass point at "
                  "something the lessons or the statement did not get across.",
    "discrimination": "The correlation between passing the property and the student's points on every other "
                      "property (the item itself left out, so it cannot correlate with itself): the corrected "
                      "item-total point-biserial. Above about 0.3 the property separates strong from weak "
                      "submissions; negative values (flagged !) mean stronger students failed it more often, so "
                      "check the rule, its wording and the reference.",
    "failures": "The rules most students' functions broke, each with one representative counterexample: the "
                "smallest failing input in the class (ties go to the first student id). Failures without a usable "
                "function (none defined, a wrong signature, not run) are counted apart; read the example as the "
                "typical way the rule was broken.",
    "mistakes": "Known wrong implementations (misconceptions) the grader recognised in failing submissions, "
                "counted once per student. They need a results document whose failing properties carry a "
                "diagnosis.",
    "quiz": "Per question: the proportion correct, the corrected point-biserial discrimination over the quiz "
            "(each attempt draws a subset, so it uses the share of points on the other questions a student got), "
            "and how often each option was chosen. A distractor nobody picks does no work; one that strong "
            "students pick may be a second right answer.",
    "similarity": "Pairs of submissions whose graded code overlaps, measured by copydetect on tokenised code "
                  "(names and strings normalised, the released notebooks' starter code removed). A high score is "
                  "a reason to look at both, not a verdict.",
}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:66rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
h3{font-size:1.05rem;margin-top:1.4rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem 0}td,th{padding:.25rem .5rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.flag{color:#b3261e;font-weight:600}
pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;font-size:.82rem;border-radius:4px;margin:.2rem 0}
.note{color:#555}img{max-width:100%;height:auto}nav a{margin-right:1rem}
table.items{table-layout:fixed}table.items td:first-child,table.items th:first-child{width:34%}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


# --------------------------------------------------------------------------- reading

def read_results(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The results documents in ``folder`` (sorted by student) and a note per file that could not
    be used. Temporary files of an interrupted write (names starting with ``.``) are skipped; of two
    files for one student, ``<student>.json`` wins."""
    found, problems = [], []
    for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else ():
        if path.name.startswith("."):
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{path.name}: not readable JSON ({type(exc).__name__})")
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("student"), str) or not isinstance(doc.get("exercises"), dict):
            problems.append(f"{path.name}: not a results document (no student or exercises)")
            continue
        found.append((doc["student"], path.name != f"{doc['student']}.json", path.name, doc))
    docs: dict[str, tuple[str, dict[str, Any]]] = {}
    for student, _, name, doc in sorted(found, key=lambda t: t[:3]):
        if student in docs:
            problems.append(f"{name}: student {student} again (kept {docs[student][0]})")
        else:
            docs[student] = (name, doc)
    return [docs[s][1] for s in sorted(docs)], sorted(problems)


def read_similarity(out: Path) -> dict[str, Any] | None:
    path = Path(out) / SIMILARITY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("pairs"), list) else None


# --------------------------------------------------------------------------- quiz

def quiz_items(docs: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]], str]:
    """``(respondents, rows, problem)``: the quiz item analysis of the graded quizzes."""
    from grader.quiz import stats as quiz_stats

    try:
        records = quiz_stats.records_from_results(docs)
        return len(records), (quiz_stats.table(records) if records else []), ""
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        return 0, [], f"the quiz answers in the results could not be read ({type(exc).__name__})"


def _quiz_plot(rows: list[dict[str, Any]]) -> bytes:
    from grader.quiz import stats as quiz_stats

    with tempfile.TemporaryDirectory() as tmp:
        return quiz_stats.plot(rows, Path(tmp) / "quiz.png").read_bytes()


# --------------------------------------------------------------------------- figures

def report_figures(stats: class_stats.ClassStats, quiz_rows: list[dict[str, Any]]) -> dict[str, bytes]:
    """File name -> PNG of every figure the page shows (``hnm report --figures DIR`` writes them)."""
    out = {}
    totals = [t for t in stats.totals if not math.isnan(t)]
    if totals:
        out["score-distribution.png"] = figures.score_histogram(totals)
    if stats.exercises:
        shares = [[100.0 * s / x.max_score for s in x.scores] if x.max_score else [] for x in stats.exercises]
        out["exercises.png"] = figures.exercise_spread([x.id for x in stats.exercises], shares)
    if stats.properties:
        props = stats.properties
        out["properties.png"] = figures.item_map([p.exercise for p in props], [p.difficulty for p in props],
                                                 [p.discrimination for p in props], [p.flagged for p in props])
    if quiz_rows:
        out["quiz.png"] = _quiz_plot(quiz_rows)
    return out


# --------------------------------------------------------------------------- CSV

def _fx(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6f}"


def item_csv(stats: class_stats.ClassStats, quiz_rows: list[dict[str, Any]]) -> str:
    """One row per graded property and per quiz question."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["kind", "exercise", "item", "max_score", "n", "difficulty", "discrimination", "flagged", "failed",
                "options"])
    for p in stats.properties:
        w.writerow(["property", p.exercise, p.name, _num(p.max_score), p.n, _fx(p.difficulty), _fx(p.discrimination),
                    "yes" if p.flagged else "no", p.failed, ""])
    for q in quiz_rows:
        wrong = q["n"] - round(q["n"] * q["difficulty"]) if q["n"] else 0
        options = json.dumps(q["options"], ensure_ascii=False)  # option texts may hold any character
        w.writerow(["quiz", "quiz", q["id"], 1, q["n"], _fx(q["difficulty"]), _fx(q["discrimination"]),
                    "yes" if q["flagged"] else "no", wrong, options])
    return out.getvalue()


# --------------------------------------------------------------------------- HTML

e = html.escape


def _f(x: float, digits: int = 2) -> str:
    return "&ndash;" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def _img(png: bytes, alt: str) -> str:
    return f"<img alt='{e(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"


def _clip(text: str) -> str:
    return text if len(text) <= CX_LIMIT else text[:CX_LIMIT] + f"\n... ({len(text) - CX_LIMIT} more characters)"


def _counterexample(cx: Any) -> str:
    if not isinstance(cx, dict):
        return f"<pre>{e(_clip(class_stats.canonical(cx)))}</pre>"
    parts = []
    labels = {"inputs": "Inputs", "expected": "Expected (reference)", "actual": "Actual (student)",
              "expected_gradient": "Expected gradient (reference)", "actual_gradient": "Student's gradient",
              "inputs_after": "Inputs after the student's call"}
    for key in [k for k in labels if k in cx] + sorted(k for k in cx if k not in labels):
        try:
            text = _pretty(cx[key])
        except (TypeError, ValueError, KeyError):
            text = class_stats.canonical(cx[key])
        parts.append(f"<p class='note'>{e(labels.get(key, str(key)))}:</p><pre>{e(_clip(text))}</pre>")
    return "".join(parts)


def _explain(key: str) -> str:
    return f"<p class='note'>{e(EXPLAIN[key])}</p>"


def _distribution(stats: class_stats.ClassStats, figs: dict[str, bytes]) -> list[str]:
    vals = [t for t in stats.totals if not math.isnan(t)]
    parts = ["<h2 id='distribution'>Score distribution</h2>", _explain("distribution")]
    if not vals:
        return parts + ["<p>No graded students.</p>"]
    import numpy as np

    a = np.asarray(vals)
    sd = float(a.std(ddof=1)) if a.size >= 2 else math.nan
    parts.append(f"<p>{len(vals)} students: mean {_f(float(a.mean()), 1)} %, SD {_f(sd, 1)}, median "
                 f"{_f(float(np.median(a)), 1)} %, range {_f(float(a.min()), 1)} to {_f(float(a.max()), 1)} %.</p>")
    parts.append(_img(figs["score-distribution.png"], "histogram of the total scores"))
    return parts


def _exercises(stats: class_stats.ClassStats, figs: dict[str, bytes]) -> list[str]:
    parts = ["<h2 id='exercises'>Exercises</h2>", _explain("exercises"),
             "<table><tr><th>exercise</th><th class='n'>students</th><th class='n'>points</th><th class='n'>mean</th>"
             "<th class='n'>SD</th><th class='n'>median</th><th class='n'>min</th><th class='n'>max</th>"
             "<th class='n'>mean %</th></tr>"]
    for x in stats.exercises:
        lo = min(x.scores) if x.scores else math.nan
        hi = max(x.scores) if x.scores else math.nan
        pct = 100.0 * x.mean / x.max_score if x.max_score else math.nan
        parts.append(f"<tr data-exercise='{e(x.id)}'><td><code>{e(x.id)}</code></td><td class='n'>{x.n}</td>"
                     f"<td class='n'>{_num(x.max_score)}</td><td class='n'>{_f(x.mean)}</td><td class='n'>{_f(x.sd)}</td>"
                     f"<td class='n'>{_f(x.median)}</td><td class='n'>{_f(lo)}</td><td class='n'>{_f(hi)}</td>"
                     f"<td class='n'>{_f(pct, 1)}</td></tr>")
    parts.append("</table>")
    if "exercises.png" in figs:
        parts.append(_img(figs["exercises.png"], "score per exercise"))
    return parts


def _properties(stats: class_stats.ClassStats, figs: dict[str, bytes]) -> list[str]:
    parts = ["<h2 id='properties'>Properties (item analysis)</h2>", _explain("difficulty"), _explain("discrimination")]
    props = stats.properties
    if not props:
        return parts + ["<p>No graded properties.</p>"]
    flagged = [p for p in props if p.flagged]
    parts.append(f"<p>{len(props)} properties; {len(flagged)} with negative discrimination"
                 + (": " + ", ".join(f"<code>{e(p.exercise)}/{e(p.name)}</code>" for p in flagged) if flagged else "")
                 + ".</p>")
    parts.append(_img(figs["properties.png"], "pass rate against discrimination per property"))
    current = None
    for p in props:
        if p.exercise != current:
            if current is not None:
                parts.append("</table>")
            current = p.exercise
            parts.append(f"<h3><code>{e(p.exercise)}</code></h3><table class='items'><tr><th>property</th><th class='n'>points</th>"
                         "<th class='n'>graded</th><th class='n'>pass rate</th><th class='n'>discrimination</th>"
                         "<th class='n'>failed</th></tr>")
        mark = " <span class='flag' title='negative discrimination'>!</span>" if p.flagged else ""
        parts.append(f"<tr data-item='{e(p.exercise)}/{e(p.name)}'><td><code>{e(p.name)}</code></td>"
                     f"<td class='n'>{_num(p.max_score)}</td><td class='n'>{p.n}</td>"
                     f"<td class='n'>{_f(p.difficulty)}</td><td class='n'>{_f(p.discrimination)}{mark}</td>"
                     f"<td class='n'>{p.failed}</td></tr>")
    parts.append("</table>")
    return parts


def _failures(stats: class_stats.ClassStats) -> list[str]:
    parts = ["<h2 id='failures'>Most common failing properties</h2>", _explain("failures")]
    if not stats.failures:
        return parts + ["<p>No function broke a rule.</p>"]
    described = {(ex.id, p.name): p.description for ex in REGISTRY.values() for p in ex.properties}
    for f in stats.failures[:TOP]:
        rule = described.get((f.exercise, f.name), "")
        unusable = f" (and {f.unusable} without a usable function)" if f.unusable else ""
        parts.append(f"<h3><code>{e(f.exercise)}/{e(f.name)}</code>: broken by {f.failed} of {f.n}{unusable}</h3>")
        if rule:
            parts.append(f"<p>Rule: {e(rule)}</p>")
        parts.append(f"<p>Representative ({e(f.student)}): {e(f.message)}</p>")
        if f.counterexample is not None:
            parts.append(_counterexample(f.counterexample))
    if len(stats.failures) > TOP:
        parts.append(f"<p class='note'>{len(stats.failures) - TOP} more broken properties: see the tables above "
                     f"and {CSV}.</p>")
    return parts


def _mistakes(stats: class_stats.ClassStats) -> list[str]:
    parts = ["<h2 id='mistakes'>Most common known mistakes</h2>", _explain("mistakes")]
    if not stats.diagnosed:
        return parts + ["<p>No failing property in these results carries a diagnosis.</p>"]
    parts.append("<table><tr><th>exercise</th><th>mistake</th><th class='n'>students</th><th>seen on</th>"
                 "<th>hint</th></tr>")
    for k in stats.mistakes:
        parts.append(f"<tr><td><code>{e(k.exercise)}</code></td><td>{e(k.name)}</td><td class='n'>{k.students}</td>"
                     f"<td>{', '.join(f'<code>{e(p)}</code>' for p in k.properties)}</td><td>{e(k.hint)}</td></tr>")
    parts.append("</table>")
    return parts


def _quiz(respondents: int, rows: list[dict[str, Any]], problem: str, figs: dict[str, bytes]) -> list[str]:
    parts = ["<h2 id='quiz'>Quiz</h2>", _explain("quiz")]
    if problem:
        return parts + [f"<p class='flag'>{e(problem)}</p>"]
    if not rows:
        return parts + ["<p>No graded quiz answers in these results.</p>"]
    parts.append(f"<p>{respondents} graded quizzes, {len(rows)} questions seen.</p>")
    parts.append(_img(figs["quiz.png"], "quiz questions: proportion correct against discrimination"))
    parts.append("<table><tr><th>question</th><th>area</th><th class='n'>n</th><th class='n'>correct</th>"
                 "<th class='n'>discrimination</th><th>options chosen</th></tr>")
    for q in rows:
        mark = " <span class='flag'>!</span>" if q["flagged"] else ""
        options = "<br>".join(f"{e(str(name))}: {count}" for name, count in q["options"].items())
        parts.append(f"<tr data-item='quiz/{e(q['id'])}'><td><code>{e(q['id'])}</code></td><td>{e(q['area'])}</td>"
                     f"<td class='n'>{q['n']}</td><td class='n'>{_f(q['difficulty'])}</td>"
                     f"<td class='n'>{_f(q['discrimination'])}{mark}</td><td>{options}</td></tr>")
    parts.append("</table>")
    return parts


def _pairs_of(similarity: dict[str, Any]) -> list[dict[str, Any]]:
    pairs = []
    for p in similarity.get("pairs", []):
        if (isinstance(p, dict) and isinstance(p.get("a"), str) and isinstance(p.get("b"), str)
                and class_stats.number(p.get("similarity")) is not None):
            pairs.append(p)
    return sorted(pairs, key=lambda p: (-float(p["similarity"]), p["a"], p["b"]))


def stale_students(similarity: dict[str, Any], docs: list[dict[str, Any]]) -> list[str]:
    """Students whose graded submission differs from the one the similarity run read."""
    digests = similarity.get("students")
    if not isinstance(digests, dict):
        return []
    return sorted(d["student"] for d in docs
                  if d["student"] in digests and "submission_sha256" in d and digests[d["student"]] != d["submission_sha256"])


def _similarity(similarity: dict[str, Any] | None, docs: list[dict[str, Any]]) -> list[str]:
    parts = ["<h2 id='similarity'>Similar submissions</h2>", _explain("similarity")]
    if similarity is None:
        return parts + [f"<p>Not computed: run <code>hnm similarity SUBMISSIONS --out OUT</code> to add it "
                        f"({SIMILARITY}).</p>"]
    stale = stale_students(similarity, docs)
    if stale:
        return parts + [f"<p class='flag'>{SIMILARITY} was computed from other versions of the submissions of "
                        f"{e(', '.join(stale))}: run <code>hnm similarity</code> again.</p>"]
    threshold = class_stats.number(similarity.get("threshold"))
    pairs = _pairs_of(similarity)
    flagged = [p for p in pairs if threshold is not None and float(p["similarity"]) >= threshold]
    parts.append(f"<p>{len(flagged)} pairs at or above the threshold {_f(threshold)} "
                 f"(tool: {e(str(similarity.get('tool', 'copydetect')))}); the full report is "
                 f"{e(str(similarity.get('report', 'similarity.html')))} beside this file.</p>")
    if not pairs:
        return parts + ["<p>No overlapping pairs.</p>"]
    parts.append("<table><tr><th>student</th><th>student</th><th class='n'>similarity</th>"
                 "<th class='n'>of the first</th><th class='n'>of the second</th></tr>")
    for p in pairs[:TOP]:
        mark = " <span class='flag'>!</span>" if p in flagged else ""
        parts.append(f"<tr><td>{e(p['a'])}</td><td>{e(p['b'])}</td><td class='n'>{_f(float(p['similarity']))}{mark}</td>"
                     f"<td class='n'>{_f(class_stats.number(p.get('similarity_a')) or math.nan)}</td>"
                     f"<td class='n'>{_f(class_stats.number(p.get('similarity_b')) or math.nan)}</td></tr>")
    parts.append("</table>")
    return parts


def build(docs: list[dict[str, Any]], similarity: dict[str, Any] | None = None,
          problems: list[str] = ()) -> tuple[str, str]:
    """``(report page, item CSV)`` for these results documents."""
    docs = [d for d in docs if isinstance(d, dict) and isinstance(d.get("student"), str)]
    stats = class_stats.analyse(docs)
    respondents, rows, problem = quiz_items(docs)
    seeds = ", ".join(stats.seeded_by) or "unknown"
    examples = ", ".join(str(x) for x in stats.examples) or "unknown"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">",
        f"<title>Class report ({len(stats.students)} students)</title><style>{_CSS}</style></head><body>",
        f"<h1>Class report: {len(stats.students)} students</h1>",
        f"<p class='note'>Examples per property: {e(examples)}; seeded by: {e(seeds)}. Numbers per item are also in "
        f"{CSV}.</p>",
        "<nav><a href='#distribution'>distribution</a><a href='#exercises'>exercises</a><a href='#properties'>"
        "properties</a><a href='#failures'>failing</a><a href='#mistakes'>known mistakes</a><a href='#quiz'>quiz</a>"
        "<a href='#similarity'>similarity</a></nav>",
    ]
    if problems:
        parts.append("<p class='flag'>Left out: " + "; ".join(e(p) for p in problems) + "</p>")
    figs = report_figures(stats, rows)
    for section in (_distribution(stats, figs), _exercises(stats, figs), _properties(stats, figs), _failures(stats),
                    _mistakes(stats), _quiz(respondents, rows, problem, figs), _similarity(similarity, docs)):
        parts.extend(section)
    parts.append("</body></html>\n")
    return "".join(parts), item_csv(stats, rows)


def write(out: Path, docs: list[dict[str, Any]] | None = None) -> Path:
    """Write ``OUT/report.html`` and ``OUT/item_analysis.csv`` (atomically) for ``docs``, or for
    the results documents in ``OUT/results/`` when ``docs`` is None; returns the page's path."""
    out = Path(out)
    problems: list[str] = []
    if docs is None:
        docs, problems = read_results(out / "results")
    else:  # exactly what the results files hold, so `hnm report` rebuilds the same bytes
        docs = sorted((json.loads(result_json(d)) for d in docs), key=lambda d: d["student"])
    page, table = build(docs, read_similarity(out), problems)
    atomic_write(out / CSV, table)
    atomic_write(out / REPORT, page)
    return out / REPORT


def write_figures(docs: list[dict[str, Any]], folder: Path) -> list[Path]:
    """The page's figures as PNG files in ``folder``, with the item CSV and the matplotlib version
    that drew them (the same version draws the same bytes; README's figures are made this way)."""
    import matplotlib

    stats = class_stats.analyse(docs)
    _, rows, _ = quiz_items(docs)
    folder = Path(folder)
    written = []
    for name, png in report_figures(stats, rows).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        atomic_bytes(folder / name, png)
        written.append(folder / name)
    atomic_write(folder / CSV, item_csv(stats, rows))
    atomic_write(folder / MATPLOTLIB, matplotlib.__version__ + "\n")
    return written


def atomic_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _command(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not (out / "results").is_dir():
        print(f"hnm report: {out / 'results'} does not exist (run hnm grade first)", file=sys.stderr)
        return 2
    docs, problems = read_results(out / "results")
    if not docs:
        print(f"hnm report: no results documents in {out / 'results'}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"hnm report: warning: left out {p}", file=sys.stderr)
    path = write(out)
    print(f"wrote {path} and {out / CSV} for {len(docs)} students")
    if args.figures:
        written = write_figures(docs, Path(args.figures))
        print(f"wrote {len(written)} figures, {CSV} and {MATPLOTLIB} into {args.figures}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="rebuild the class report (report.html, item_analysis.csv) from OUT/results")
    p.add_argument("out", metavar="OUT", help="an hnm grade output folder")
    p.add_argument("--figures", metavar="DIR", help="also write the figures as PNG files into DIR (as in docs/)")
    p.set_defaults(handler=_command)
