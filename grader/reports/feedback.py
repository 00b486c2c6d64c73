"""The student's feedback page (``feedback/<student>.html``) and the plain-text form of a
counterexample value shared by every student-facing report. Every student-controlled string
is HTML-escaped."""

from __future__ import annotations

import html
import inspect
from typing import Any

from grader.suites.registry import REGISTRY

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%}td,th{padding:.3rem .5rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.pass{color:#0a7d32}.fail{color:#b3261e;font-weight:600}.score{float:right;font-weight:600}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;font-size:.85rem;border-radius:4px}
details{margin:.6rem 0 1rem 0}.note{color:#555}
"""


def diagnosis_text(prop: dict[str, Any]) -> str | None:
    """"Known mistake: <title>. <hint>" for a failing property with a diagnosis, else None."""
    d = prop.get("diagnosis")
    if not isinstance(d, dict) or prop.get("passed"):
        return None
    return f"Known mistake: {d.get('title', d.get('name', ''))}. {d.get('hint', '')}".strip()


# The parts of a counterexample, in the order every report shows them, with their labels.
SECTIONS = (
    ("inputs", "Minimal counterexample (inputs)"),
    ("expected", "Expected (reference)"),
    ("actual", "Actual (yours)"),
    ("expected_gradient", "Expected gradient (reference)"),
    ("actual_gradient", "Your gradient"),
    ("inputs_after", "Your inputs after the call (modified in place)"),
)


def counterexample_sections(cx: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """``(key, label, value)`` for each part a counterexample has: the inputs and outputs, and
    what its rule is about when that is something else (gradients, inputs modified in place)."""
    return [(key, label, cx[key]) for key, label in SECTIONS if key in cx]


def _num(x: float) -> str:
    return f"{x:g}"


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
            known = diagnosis_text(p)
            if known:
                parts.append(f"<p class='fail'>{e(known)}</p>")
            cx = p.get("counterexample")
            if cx:
                for _, label, value in counterexample_sections(cx):
                    parts.append(f"<p>{e(label)}:</p><pre>{e(_pretty(value))}</pre>")
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


def python_text(value: Any, in_tensor: bool = False) -> str:
    """A report value (plain JSON data) spelled as Python: ``None``, ``True``, ``'text'``; inside a
    tensor's values the non-finite numbers (kept as the strings ``'nan'``, ``'inf'``) print bare."""
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return value if in_tensor and value in ("nan", "inf", "-inf") else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(python_text(v, in_tensor) for v in value) + "]"
    if isinstance(value, dict) and set(value) == {"dtype", "shape", "value"}:
        return f"tensor({python_text(value['value'], True)}, dtype={value['dtype']})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {python_text(v, in_tensor)}" for k, v in value.items()) + "}"
    return repr(value)


def _pretty(value: Any) -> str:
    """Tensors as ``tensor([values], dtype=...)`` on one line each, everything else as Python."""
    if isinstance(value, dict) and set(value) == {"dtype", "shape", "value"}:
        return python_text(value)
    if isinstance(value, dict):
        return "\n".join(f"{k} = {_pretty(v)}" for k, v in value.items())
    if isinstance(value, list) and value and all(isinstance(v, dict) and "dtype" in v for v in value):
        return "(" + ", ".join(_pretty(v) for v in value) + ")"
    return python_text(value)
