"""``hnm similarity SUBMISSIONS --out OUT``: write ``OUT/similarity.json`` and ``OUT/similarity.html``.

The submissions are found and read as ``hnm grade`` finds and reads them; the released
student notebooks are the starter code (``--boilerplate`` names others). When ``OUT`` already
holds graded results, the class report is rebuilt so that it lists the most similar pairs
(``hnm grade`` picks ``similarity.json`` up by itself when it runs later).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from grader.grading import submissions
from grader.similarity import detect, extract, page

JSON = "similarity.json"
HTML = "similarity.html"
SHOWN = 20  # pairs on the page below the threshold, after every flagged one


def run(root: Path, out: Path, threshold: float = detect.THRESHOLD, boilerplate: list[Path] | None = None,
        assignment: str | None = None, noise: int = detect.NOISE) -> dict[str, Any]:
    """Compare every pair of submissions in ``root``; write and return the summary."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    paths = extract.released_notebooks() if boilerplate is None else [Path(p) for p in boilerplate]
    if not paths:
        raise ValueError("boilerplate: no released notebooks found (exercises/*.ipynb); name the starter code "
                         "with --boilerplate")
    starter = extract.starter_code(paths)
    subs = submissions.discover(root)
    if assignment:
        subs = [submissions.restrict(s, assignment) for s in subs]
    codes, digests, problems = {}, {}, []
    for sub in subs:
        try:
            codes[sub.student] = extract.graded_code(sub)
            digests[sub.student] = submissions.digest(sub)
        except (submissions.SubmissionError, OSError) as exc:
            problems.append(f"{sub.student}: {exc}")
    pairs = detect.compare(codes, [code for _, code in starter], noise)
    flagged = [p for p in pairs if p.similarity >= threshold]
    meta = {"tool": f"copydetect {_version()}", "noise": noise, "threshold": threshold,
            "boilerplate": [name for name, _ in starter], "problems": problems}
    summary = {
        **meta,
        "report": HTML,
        "students": dict(sorted(digests.items())),
        "flagged": len(flagged),
        "pairs": [{"a": p.a, "b": p.b, "similarity": p.similarity, "similarity_a": p.similarity_a,
                   "similarity_b": p.similarity_b, "overlap_tokens": p.overlap_tokens,
                   "flagged": p.similarity >= threshold} for p in pairs[:len(flagged) + SHOWN]],
    }
    from grader.reports import class_report
    from grader.reports.grades import atomic_write

    out = Path(out)
    atomic_write(out / HTML, page.render(pairs, codes, meta, len(flagged) + SHOWN))
    atomic_write(out / JSON, json.dumps(summary, indent=1) + "\n")
    if any((out / "results").glob("*.json")):
        class_report.write(out)
    return summary


def _version() -> str:
    from importlib.metadata import version

    return version("copydetect")


def _command(args: argparse.Namespace) -> int:
    try:
        summary = run(Path(args.submissions), Path(args.out), args.threshold,
                      [Path(p) for p in args.boilerplate] if args.boilerplate else None, args.assignment)
    except (submissions.SubmissionError, ValueError) as exc:
        print(f"hnm similarity: {exc}", file=sys.stderr)
        return 2
    for problem in summary["problems"]:
        print(f"hnm similarity: not compared: {problem}", file=sys.stderr)
    print(f"{summary['flagged']} pairs of the {len(summary['students'])} submissions at or above {args.threshold:.2f}")
    for p in summary["pairs"][:10]:
        print(f"  {p['similarity']:.2f}{' !' if p['flagged'] else '  '} {p['a']} / {p['b']}")
    report = Path(args.out) / "report.html"
    print(f"wrote {Path(args.out) / HTML} and {Path(args.out) / JSON}"
          + (f"; updated {report}" if report.exists() else ""))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("similarity", help="compare the submissions' code pairwise (copydetect, offline)")
    p.add_argument("submissions", metavar="SUBMISSIONS", help="folder of .py files, notebooks or student folders")
    p.add_argument("--out", required=True, metavar="OUT", help="folder for similarity.json and similarity.html")
    p.add_argument("--threshold", type=float, default=detect.THRESHOLD,
                   help=f"flag pairs at or above this similarity (default {detect.THRESHOLD})")
    p.add_argument("--boilerplate", action="append", metavar="PATH",
                   help="starter code to ignore: a notebook, .py file or folder (repeatable; default: the released "
                        "notebooks exercises/*.ipynb)")
    p.add_argument("--assignment", help="only files under a folder of this name, as hnm grade --assignment")
    p.set_defaults(handler=_command)
