"""``hnm check EXERCISE FILE``: one exercise of one file, graded out of process with the
engine and sandbox of ``hnm grade``, for a student who wants the verdict before handing in.

A student waits for this command, so it starts the sandboxed worker before it imports
anything heavy: the worker's imports (torch) then run on one core while this process's own
imports run on the other. The device is guessed without torch (a CUDA device file) and
checked once torch is loaded; a wrong guess only costs a second worker. The examples a check
is judged on are the public seed's, drawn once and then read from the user's cache folder
(:mod:`grader.engine.example_store`). The command's output is in :func:`grader.selfcheck.render`.
"""

from __future__ import annotations

import argparse
import gc
import glob
import os
import sys
from pathlib import Path

from grader.suites import EXERCISE_IDS


def likely_device(requested: str) -> str:
    """The device ``requested`` will resolve to, guessed without importing torch."""
    if requested != "auto":
        return requested
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return "cuda" if visible != "" and glob.glob("/dev/nvidia[0-9]*") else "cpu"


def _command(args: argparse.Namespace) -> int:
    from grader.grading import submissions
    from grader.sandbox.parent import IsolationUnavailable, Limits, Worker

    if args.exercise not in EXERCISE_IDS:
        print(f"hnm check: unknown exercise {args.exercise!r}; known: {', '.join(EXERCISE_IDS)}", file=sys.stderr)
        return 2
    try:
        sub = submissions.single(Path(args.file))
    except submissions.SubmissionError as exc:
        print(f"hnm check: {exc}", file=sys.stderr)
        return 2
    limits = Limits(required=()) if args.unsafe_no_isolation else Limits()
    worker = Worker(likely_device(args.device), limits)
    worker.launch()  # no student code runs before the grading loads it
    try:
        from grader import doctor
        from grader.classrun.command import resolve_device
        from grader.engine import DEFAULT_EXAMPLES, ExerciseResult, PropertyResult
        from grader.engine import examples as drawing
        from grader.engine.example_store import Store, default_folder
        from grader.grading import pipeline as grading
        from grader.selfcheck import render

        gc.freeze()  # what the imports made lives to the end: collections (Hypothesis runs one per draw) skip it
        drawing.use_store(Store(default_folder()))  # the public seed's examples, drawn by an earlier check
        device = resolve_device(args.device)
        if args.unsafe_no_isolation:
            doctor.require(device, unsafe=True)  # the warning; otherwise the worker itself refuses
        try:
            doc = grading.grade(sub, device=device, examples=DEFAULT_EXAMPLES if args.examples is None else args.examples, only=(args.exercise,),
                                limits=limits, worker=worker)
        except IsolationUnavailable as exc:
            print(f"hnm check: {exc}", file=sys.stderr)
            return 2
    finally:
        worker.stop()
    for message in doc.get("messages", []):
        print(message)
    ex = doc["exercises"][args.exercise]
    result = ExerciseResult(args.exercise, message=ex.get("message", ""))
    result.properties = [PropertyResult(**p) for p in ex["properties"]]
    print(render(result))
    return 0 if result.score == result.max_score else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("check", help="check one exercise of a file, out of process")
    p.add_argument("exercise", metavar="EXERCISE", help="exercise id: " + ", ".join(EXERCISE_IDS))
    p.add_argument("file", metavar="FILE", help="a .py file, a notebook or a folder")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--examples", type=int, default=None, help="examples per property (default: the graded runs' 100)")
    p.add_argument("--unsafe-no-isolation", action="store_true",
                   help="run the code even where the kernel cannot confine it (trusted code only; see hnm doctor)")
    p.set_defaults(handler=_command, leave_at_once=True)
