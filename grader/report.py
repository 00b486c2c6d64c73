"""Writing grades: ``grades.csv``, ``results/<student>.json``, ``feedback/<student>.html``.

Every file is written atomically (a temporary file in the same folder, then a rename),
so an interrupted run never leaves a half-written grade behind.
"""

from __future__ import annotations

import csv
import html
import inspect
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .registry import REGISTRY


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def result_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=False, allow_nan=False, default=str) + "\n"


def columns(docs: list[dict[str, Any]]) -> list[str]:
    ids = [i for i in REGISTRY if any(i in d["exercises"] for d in docs)] or list(REGISTRY)
    return ids


def grades_csv(docs: list[dict[str, Any]]) -> str:
    ids = columns(docs)
    quiz = any("quiz" in d for d in docs)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *ids, *(["quiz"] if quiz else []), "total", "max_total"])
    for d in sorted(docs, key=lambda d: d["student"]):
        row = [d["student"]]
        row += [_num(d["exercises"][i]["score"]) if i in d["exercises"] else "" for i in ids]
        if quiz:
            row.append(_num(d["quiz"]["score"]) if "quiz" in d else "")
        row += [_num(d["total"]), _num(d["max_total"])]
        writer.writerow(row)
    return out.getvalue()


def _num(x: float) -> str:
    return f"{x:g}"


def table(docs: list[dict[str, Any]]) -> str:
    """A plain-text grade table for the terminal."""
    ids = columns(docs)
    header = ["student", *ids, "total"]
    rows = [[d["student"], *[_num(d["exercises"][i]["score"]) if i in d["exercises"] else "-" for i in ids],
             f"{_num(d['total'])}/{_num(d['max_total'])}"] for d in sorted(docs, key=lambda d: d["student"])]
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths)) for r in [header, *rows]]
    return "\n".join(lines)


def write_student(out: Path, doc: dict[str, Any]) -> None:
    """Feedback first, results last: a results file marks a finished student for --resume."""
    atomic_write(out / "feedback" / f"{doc['student']}.html", feedback_html(doc))
    atomic_write(out / "results" / f"{doc['student']}.json", result_json(doc))


def write_grades(out: Path, docs: list[dict[str, Any]]) -> None:
    atomic_write(out / "grades.csv", grades_csv(docs))


# --------------------------------------------------------------------------- feedback
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%}td,th{padding:.3rem .5rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.pass{color:#0a7d32}.fail{color:#b3261e;font-weight:600}.score{float:right;font-weight:600}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;font-size:.85rem;border-radius:4px}
details{margin:.6rem 0 1rem 0}.note{color:#555}
"""


def feedback_html(doc: dict[str, Any]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Feedback for {e(doc['student'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>Feedback for {e(doc['student'])}</h1>",
        f"<p><strong>Total: {_num(doc['total'])} / {_num(doc['max_total'])}</strong></p>",
    ]
    for message in doc.get("messages", []):
        parts.append(f"<p class='note'>{e(message)}</p>")
    quiz = doc.get("quiz")
    if quiz is not None:
        parts.append(f"<h2>Quick test<span class='score'>{_num(quiz['score'])} / {_num(quiz['max_score'])}</span></h2>")
        if quiz.get("error"):
            parts.append(f"<p class='fail'>{e(quiz['error'])}</p>")
        for r in quiz.get("results", []):
            status = "<span class='pass'>correct</span>" if r["correct"] else "<span class='fail'>wrong</span>"
            parts.append(f"<p><code>{e(r['id'])}</code>: {status}. {e(r['explanation'])}</p>")
    for ex_id, ex in doc["exercises"].items():
        exercise = REGISTRY.get(ex_id)
        parts.append(f"<h2><code>{e(ex_id)}</code><span class='score'>{_num(ex['score'])} / {_num(ex['max_score'])}</span></h2>")
        if exercise is not None and exercise.summary:
            parts.append(f"<p class='note'>{e(exercise.summary)}</p>")
        if ex.get("message"):
            parts.append(f"<p class='fail'>{e(ex['message'])}</p>")
        parts.append("<table><tr><th>property</th><th>rule</th><th>points</th><th>result</th></tr>")
        props = {p.name: p for p in exercise.properties} if exercise else {}
        for p in ex["properties"]:
            rule = props[p["name"]].description if p["name"] in props else ""
            status = "<span class='pass'>passed</span>" if p["passed"] else "<span class='fail'>failed</span>"
            parts.append(f"<tr><td><code>{e(p['name'])}</code></td><td>{e(rule)}</td>"
                         f"<td>{_num(p['score'])} / {_num(p['max_score'])}</td><td>{status}</td></tr>")
        parts.append("</table>")
        for p in ex["properties"]:
            if p["passed"]:
                continue
            prop = props.get(p["name"])
            parts.append(f"<details open><summary><strong>{e(p['name'])}</strong>: {e(p['message'])}</summary>")
            if prop is not None:
                parts.append(f"<p>Rule: {e(prop.description)}</p>")
            cx = p.get("counterexample")
            if cx:
                parts.append("<p>Minimal counterexample (inputs):</p>")
                parts.append(f"<pre>{e(_pretty(cx.get('inputs')))}</pre>")
                parts.append(f"<p>Expected (reference):</p><pre>{e(_pretty(cx.get('expected')))}</pre>")
                parts.append(f"<p>Actual (yours):</p><pre>{e(_pretty(cx.get('actual')))}</pre>")
            if prop is not None and prop.visibility == "visible" and prop.check is not None:
                source = _source(prop.check)
                if source:
                    parts.append(f"<details><summary>How this property is checked</summary><pre>{e(source)}</pre></details>")
            elif prop is not None and prop.visibility == "hidden":
                parts.append("<p class='note'>This is a hidden property: its source is not shown.</p>")
            parts.append("</details>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _source(fn) -> str:
    fn = getattr(fn, "__wrapped__", fn)
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""


def _pretty(value: Any) -> str:
    """Tensors as ``dtype [values]`` on one line each, everything else as JSON."""
    if isinstance(value, dict) and set(value) == {"dtype", "shape", "value"}:
        return f"tensor({json.dumps(value['value'])}, dtype={value['dtype']})"
    if isinstance(value, dict):
        return "\n".join(f"{k} = {_pretty(v)}" for k, v in value.items())
    if isinstance(value, list) and value and all(isinstance(v, dict) and "dtype" in v for v in value):
        return "(" + ", ".join(_pretty(v) for v in value) + ")"
    return json.dumps(value)
