"""``hnm grade``: grade a folder of submissions, resumably, with a pool of graders."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from grader import doctor
from grader import secret as course_secret
from grader.sandbox.parent import IsolationUnavailable
from grader.classrun import executors, signing

from grader.reports import grades as report
from grader.reports import class_report

from grader.grading import submissions
from grader.engine import DEFAULT_EXAMPLES


def resolve_device(device: str) -> str:
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("hnm grade: --device cuda was asked for, but no CUDA device is available")
    return device



class Progress:
    def __init__(self, total: int, stream=None):
        # Resolved at call time: a default bound at import would keep whatever sys.stderr was then.
        self.total, self.done, self.stream = total, 0, stream or sys.stderr
        self.start = time.monotonic()
        self.tty = self.stream.isatty()

    def update(self, doc: dict[str, Any]) -> None:
        self.done += 1
        width = 24
        filled = int(width * self.done / max(1, self.total))
        bar = "#" * filled + "-" * (width - filled)
        text = (f"[{bar}] {self.done}/{self.total} {doc['student']}: "
                f"{doc['total']:g}/{doc['max_total']:g} ({time.monotonic() - self.start:.0f} s)")
        self.stream.write(("\r" + text.ljust(90)) if self.tty else text + "\n")
        if self.tty and self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def run(root: Path, out: Path, workers: int, device: str, resume: bool, examples: int,
        assignment: str | None = None, executor: str = "local", scheduler: Any = None,
        secret: bytes | None = None, unsafe: bool = False, skipped: list[str] | None = None) -> list[dict[str, Any]]:
    """Grade every submission in ``root`` into ``out``; with ``assignment``, only that
    assignment's exercises, from files under a folder of that name where there is one.
    ``executor`` is ``"local"`` (a pool of ``workers`` processes) or ``"dask"`` (a Dask
    cluster: ``scheduler``'s, else a LocalCluster of ``workers`` workers); see
    ``grader.classrun.executors``. ``secret`` (the course secret, see :mod:`grader.secret`) seeds
    every graded example; without it the examples are the public ones. Student code runs only where
    the kernel confines it (:func:`grader.doctor.require`), unless ``unsafe``. Entries of ``root``
    that cannot be graded (symbolic links, unusable names) are described in ``skipped``."""
    subs = submissions.discover(root, skipped)
    only = None
    if assignment:
        from grader.nbgrader.gradebook import exercises_of

        only = exercises_of(assignment)
        subs = [submissions.restrict(s, assignment) for s in subs]
    if out.exists() and not out.is_dir():
        raise submissions.SubmissionError(f"the output folder {out} is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".hnm-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise submissions.SubmissionError(f"the output folder {out} is not writable ({exc.strerror})") from None
    key = signing.results_key(secret)
    done: dict[str, dict[str, Any]] = {}
    todo = []
    for sub in subs:
        digest = submissions.digest(sub)
        previous = out / "results" / f"{sub.student}.json"
        if resume and previous.exists() and (out / "feedback" / f"{sub.student}.html").exists():
            doc = signing.verified(previous, key)  # only what this grader wrote: signed with its key
            if (doc is not None and doc.get("student") == sub.student and doc.get("submission_sha256") == digest
                    and doc.get("examples") == examples and doc.get("seeded_by") == course_secret.fingerprint(secret)):
                done[sub.student] = doc
                continue
        todo.append((sub, digest))
    progress = Progress(len(subs))
    for doc in done.values():
        progress.update(doc)

    def finish(doc: dict[str, Any], digest: str) -> None:
        doc["submission_sha256"] = digest
        doc["examples"] = examples
        signing.sign(doc, key)
        report.write_student(out, doc)
        done[doc["student"]] = doc
        progress.update(doc)

    if todo:
        if executor == "local":  # a Dask cluster's workers are checked where they run (each worker refuses)
            doctor.require(device, unsafe)
        jobs = [executors.Job(sub, digest, device, examples, only, secret, unsafe) for sub, digest in todo]
        with executors.make(executor, workers, scheduler) as pool:
            for job, doc in pool.grade(jobs):
                finish(doc, job.digest)
    docs = [done[s.student] for s in subs]
    report.write_grades(out, docs)
    class_report.write(out, docs)  # OUT/report.html and OUT/item_analysis.csv
    return docs


def _command(args: argparse.Namespace) -> int:
    if args.gradebook and not args.assignment:
        print("hnm grade: --gradebook needs --assignment NAME", file=sys.stderr)
        return 2
    if args.scheduler and args.executor != "dask":
        print("hnm grade: --scheduler needs --executor dask", file=sys.stderr)
        return 2
    try:
        secret = course_secret.load(Path(args.secret) if args.secret else None)
        if secret is None:
            print(f"hnm grade: warning: {course_secret.PREDICTABLE_WARNING}", file=sys.stderr)
        skipped: list[str] = []
        docs = run(Path(args.submissions), Path(args.out), args.workers, resolve_device(args.device),
                   args.resume, args.examples, args.assignment, args.executor, args.scheduler, secret,
                   args.unsafe_no_isolation, skipped)
        for entry in skipped:
            print(f"hnm grade: skipped {entry}", file=sys.stderr)
        if args.gradebook:
            from grader.nbgrader.gradebook import write_scores

            n = write_scores(Path(args.gradebook), args.assignment, docs)
            print(f"wrote {n} scores into the nbgrader gradebook of {args.gradebook}", file=sys.stderr)
    except (submissions.SubmissionError, course_secret.SecretError, ValueError, IsolationUnavailable) as exc:
        print(f"hnm grade: {exc}", file=sys.stderr)
        return 2
    print(report.table(docs))
    print(f"\nwrote {Path(args.out) / 'grades.csv'}, results/ and feedback/ for {len(docs)} students")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("grade", help="grade a folder of submissions out of process")
    p.add_argument("submissions", metavar="SUBMISSIONS", help="folder of .py files, notebooks or student folders")
    p.add_argument("--out", required=True, metavar="OUT", help="folder for grades.csv, results/ and feedback/")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="students graded at once")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--resume", action="store_true", help="keep results of unchanged submissions already in OUT")
    p.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, help="Hypothesis examples per property")
    p.add_argument("--secret", metavar="FILE", help="the course secret that seeds graded examples (default: "
                   "$HNM_COURSE_SECRET_FILE, $HNM_COURSE_SECRET, then the file `hnm secret init` writes)")
    p.add_argument("--assignment", help="grade only this assignment's exercises (e.g. ps1_distances_semi_hard)")
    p.add_argument("--gradebook", metavar="COURSE", help="also write the scores into this nbgrader course's gradebook")
    p.add_argument("--executor", choices=list(executors.KINDS), default="local",
                   help="local: a pool of --workers processes; dask: a Dask cluster (see --scheduler)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --executor dask: an existing cluster's scheduler address or scheduler file "
                        "(default: a LocalCluster of --workers workers)")
    p.add_argument("--unsafe-no-isolation", action="store_true",
                   help="grade even where the kernel cannot confine student code (trusted code only; see hnm doctor)")
    p.set_defaults(handler=_command)
