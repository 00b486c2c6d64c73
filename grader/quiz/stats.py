"""Item analysis of quiz answers (``hnm quiz --stats``): a table and a plot.

Responses come from the progress store (every saved practice attempt is one respondent) or
from ``hnm grade`` results documents (each student's quiz); the numbers come from the
generic :mod:`grader.reports.item_analysis`. A distractor of a fixed question is named by
its text in the bank, one of a computed question by its misconception.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from grader.quiz import bank as bank_module
from grader.reports import item_analysis


def records_from_store(store) -> tuple[list[list[dict[str, Any]]], int]:
    """Each saved attempt's per-question detail, and how many attempts had none (old rows)."""
    rows, skipped = store.all_details()
    return [r["detail"] for r in rows], skipped


def records_from_results(docs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The per-question detail of every graded quiz in ``hnm grade`` results documents."""
    return [d["quiz"]["details"] for d in docs if isinstance(d.get("quiz"), dict) and d["quiz"].get("details")]


def _option_name(entry: dict[str, Any] | None, source: str) -> str:
    if source == "key":
        return "key"
    if entry is not None and not bank_module.is_computed(entry) and source.isdigit():
        i = int(source)
        text = entry["choices"][i]
        tag = "key" if i == entry["answer"] else "distractor"
        return f"{tag}: {text[:40]}{'...' if len(text) > 40 else ''}"
    return source


def table(records: list[list[dict[str, Any]]], bank: bank_module.Bank | None = None) -> list[dict[str, Any]]:
    """One row per question seen: id, n, difficulty, discrimination, flagged, and how often each
    option was chosen (``options``; ``unanswered`` counts blanks)."""
    bank = bank or bank_module.load()
    entries = {q["id"]: q for q in bank.questions}
    ids = sorted({q["id"] for rec in records for q in rec})
    row = {qid: i for i, qid in enumerate(ids)}
    m = np.full((len(ids), len(records)), np.nan)
    picks = []
    for r, rec in enumerate(records):
        for q in rec:
            chosen = q.get("chosen")
            m[row[q["id"]], r] = 1.0 if chosen is not None and chosen == q["answer"] else 0.0
            if chosen is None:
                picks.append((q["id"], "unanswered"))
            elif 0 <= chosen < len(q["sources"]):
                picks.append((q["id"], _option_name(entries.get(q["id"]), q["sources"][chosen])))
    counts = item_analysis.option_counts(picks)
    stats = item_analysis.analyse(m, ids) if ids else []
    out = []
    for s in stats:
        entry = entries.get(s.item)
        out.append({
            "id": s.item,
            "area": bank.area_of(entry) if entry else "",
            "kind": "computed" if entry and bank_module.is_computed(entry) else "fixed",
            "n": s.n, "difficulty": s.difficulty, "discrimination": s.discrimination, "flagged": s.flagged,
            "options": counts.get(s.item, {}),
        })
    return out


def _f(x: float) -> str:
    return "   -" if math.isnan(x) else f"{x:5.2f}"


def format_table(rows: list[dict[str, Any]], respondents: int, skipped: int = 0) -> str:
    lines = [f"Item analysis of {respondents} quiz attempts"
             + (f" ({skipped} older attempts without per-question detail left out)" if skipped else "") + ".",
             "difficulty = proportion correct; discrimination = corrected item-total (point-biserial) "
             "correlation; ! = negative discrimination (check the key and the wording).",
             "",
             f"{'question':<26} {'area':<28} {'kind':<8} {'n':>4} {'diff.':>5} {'discr.':>6}  most chosen wrong options"]
    for r in rows:
        wrong = [f"{name} ({count})" for name, count in r["options"].items() if name != "key" and not name.startswith("key:")]
        lines.append(f"{r['id']:<26} {r['area']:<28} {r['kind']:<8} {r['n']:>4} {_f(r['difficulty'])} "
                     f"{_f(r['discrimination'])}{' !' if r['flagged'] else '  '} {'; '.join(wrong[:3])}")
    if not rows:
        lines.append("(no attempts with per-question detail yet)")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> Path:
    """Difficulty against discrimination, one labelled point per question, flagged ones in red;
    written atomically as PNG (headless: no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    shown = [r for r in rows if not math.isnan(r["discrimination"])]
    for r in shown:
        colour = "tab:red" if r["flagged"] else ("tab:blue" if r["kind"] == "fixed" else "tab:green")
        ax.scatter(r["difficulty"], r["discrimination"], color=colour, s=18)
        ax.annotate(r["id"], (r["difficulty"], r["discrimination"]), fontsize=6, xytext=(3, 2), textcoords="offset points")
    ax.axhline(0.0, color="grey", lw=0.8, ls=":")
    ax.set(xlim=(-0.02, 1.02), ylim=(-1.02, 1.02), xlabel="difficulty (proportion correct)",
           ylabel="discrimination (corrected point-biserial)",
           title=f"Quiz item analysis: {len(shown)} questions (red: negative discrimination)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=120, metadata={"Software": None})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
