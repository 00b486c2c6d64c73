"""Writing grades: ``grades.csv``, ``results/<student>.json``, ``feedback/<student>.html``.

Every file is written atomically (a temporary file in the same folder, then a rename),
so an interrupted run never leaves a half-written grade behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from grader.reports.feedback import _num, feedback_html
from grader.suites.registry import REGISTRY


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
