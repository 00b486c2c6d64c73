"""Grading throughput: ``hnm grade`` (out of process) against ``nbgrader autograde``
(in the notebook's kernel) on the same student notebooks, side by side in one run.

The class: the bundled sample class (grader/samples/*.py) turned into nbgrader
submissions of problem sets 1 and 2 — each answer cell holds that student's function
(or the untouched stub where the sample has none) — repeated --copies times. Both
graders see exactly the same notebooks; both use the defaults (100 examples per
property for hnm; nbgrader runs each notebook's check cells, which call grader.check).

With ``--one-at-a-time`` it instead grades, one submission at a time with one worker (as
``hnm grade --workers 1`` does for each student), a correct ``.py`` submission of all eight
exercises and, for each exercise, the same submission wrong in that exercise only; it prints
the median seconds of ``--repeats`` runs per submission and the share of the time spent in
each phase (worker start, worker round trips, reference outputs, checks, the agreement
measure, the re-runs of failing rules that shrink their counterexamples).

With ``--check`` it times ``hnm check <exercise> FILE`` (a fresh process, as a student runs it)
on the correct submission and on the one wrong in that exercise: the first check (examples drawn)
and later ones (examples read from the cache folder); ``--baseline CHECKOUT`` alternates every run
with the same check in another checkout, for a paired before/after in one run.

Usage: python benchmarks/bench_grading.py [--copies 1] [--workers 2]
       python benchmarks/bench_grading.py --one-at-a-time [--repeats 3] [--examples 100] [--baseline ../main]
       python benchmarks/bench_grading.py --check [--repeats 3] [--baseline ../main]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.nbgrader import build  # noqa: E402
from grader.nbgrader.assignments import ASSIGNMENTS  # noqa: E402

STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"


def make_class(course: Path, copies: int) -> list[str]:
    students = []
    for sample in sorted((ROOT / "grader" / "samples").glob("*.py")):
        cells = build.answer_cells(sample)
        for copy in range(copies):
            student = f"{sample.stem}{copy}"
            students.append(student)
            for assignment in ASSIGNMENTS[:2]:
                release = course / "release" / assignment.name / f"{assignment.name}.ipynb"
                nb = nbformat.read(release, as_version=4)
                for cell in nb.cells:
                    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                    if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in cells:
                        cell.source = cells[grade_id]
                target = course / "submitted" / student / assignment.name / f"{assignment.name}.ipynb"
                target.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, target)
    return students


def timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t0


# A correct full submission: the reference modules, inlined (a submission cannot import solutions).
_MODULES = ("_checks", "_masks", "_boxes", "_cosine", "_logspace", "distances", "weights", "mining", "ohem",
            "contrastive", "false_negatives", "proxies")
_EXPORTS = ("pairwise_distances", "semi_hard_negatives", "batch_hard", "distance_weights", "box_iou", "nms",
            "ohem_select", "ohem_loss", "hard_negative_infonce", "topk_negatives", "positive_aware_negatives",
            "proxy_anchor_loss")
# One mistake per exercise, appended to the correct submission (each breaks one or two rules).
WRONG = {
    "pairwise_distances": "d = _ref(embeddings, squared)\n    return d + 1e-3 * torch.eye(d.shape[0], dtype=d.dtype)",
    "semi_hard_negatives": "return tuple(t[1:] for t in _ref(dist, labels, margin))",
    "batch_hard": "return tuple(t.flip(0) for t in _ref(dist, labels))",
    "distance_weights": "return _ref(dist, labels, dim, cutoff, nonzero_loss_cutoff).double()",
    "box_iou": "return _ref(boxes1, boxes2).double()",
    "nms": "return torch.sort(_ref(boxes, scores, iou_threshold)).values",
    "ohem_select": "return _ref(losses, image_ids, per_image, boxes, nms_iou, valid).flip(0)",
    "ohem_loss": "return _ref(logits, targets, image_ids, per_image, boxes, nms_iou, ignore_index).double()",
    "hard_negative_infonce": "return _ref(z1, z2, temperature, beta, tau_plus).double()",
    "topk_negatives": "return _ref(sim, labels, k).int()",
    "positive_aware_negatives": "return _ref(scores, positive_scores, k, relative_margin, absolute_margin, max_score).int()",
    "proxy_anchor_loss": "return _ref(embeddings, labels, proxies, alpha, delta).double()",
}


def correct_source() -> str:
    import re

    lines = ["import types", "import torch", ""]
    for name in _MODULES:
        src = (ROOT / "solutions" / f"{name}.py").read_text()
        src = re.sub(r"^from \.(\w*) import .*$", "", src, flags=re.M)
        lines.append(f"{name} = types.ModuleType({name!r})")
        lines.append(f"{name}.__dict__.update({{n: globals()[n] for n in {list(_MODULES)!r} if n in globals()}})")
        lines.append(f"{name}.__dict__['distance_weights'] = globals()['weights'].distance_weights" if name == "mining" else "")
        lines.append(f"exec(compile({src!r}, {name!r}, 'exec'), {name}.__dict__)")
    lines += [f"{fn} = next(m.{fn} for m in ({', '.join(_MODULES)}) if hasattr(m, {fn!r}))" for fn in _EXPORTS]
    return "\n".join(lines) + "\n"


def wrong_source(exercise_id: str) -> str:
    from grader.suites.registry import REGISTRY

    return (correct_source() + f"\n_ref = {exercise_id}\n\n\ndef {REGISTRY[exercise_id].signature_text()}:\n    "
            + WRONG[exercise_id] + "\n")


class Phases:
    """Wall time per phase, by wrapping the functions each phase runs in (inclusive times)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._undo = []

    def wrap(self, owner, name: str, phase: str) -> None:
        original = getattr(owner, name, None)
        if original is None:  # a phase this version of the engine does not have
            return
        raw = inspect.getattr_static(owner, name)

        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - t0

        static = isinstance(inspect.getattr_static(owner, name), staticmethod)
        setattr(owner, name, staticmethod(timed) if static else timed)
        self._undo.append((owner, name, raw))

    def __enter__(self):
        from grader.engine import examples as drawing
        from grader.engine import run as engine_run
        from grader.engine.callers import WorkerCaller
        from grader.sandbox.parent import Worker

        self.wrap(Worker, "start", "worker start")
        self.wrap(drawing, "draw", "drawing inputs")
        self.wrap(drawing.Drawn, "expected", "reference")
        self.wrap(WorkerCaller, "call", "round trips")
        # Batches: sending them and waiting for their answers (the worker computes the next batch
        # while the engine judges the last one, and that judging is not counted here).
        self.wrap(engine_run.ExerciseRun, "_prefetch", "round trips")
        self.wrap(engine_run.ExerciseRun, "_drop_ahead", "round trips")
        self.wrap(WorkerCaller, "scale", "scale input")
        self.wrap(engine_run.ExerciseRun, "_reference", "reference")
        self.wrap(engine_run.ExerciseRun, "_judge", "checks")
        self.wrap(engine_run.ExerciseRun, "_agreement", "agreement (incl. its calls)")
        self.wrap(engine_run.ExerciseRun, "_property", "failing-rule re-runs (incl. calls)")
        self.wrap(engine_run.ExerciseRun, "_scale_values", "scale output check")
        return self

    def __exit__(self, *exc):
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)


def one_at_a_time(repeats: int, examples: int, only: list[str] | None = None) -> int:
    from grader.engine import reference_seconds
    from grader.grading import pipeline, submissions
    from grader.suites.registry import REGISTRY

    torch_threads = __import__("torch").set_num_threads(1)  # noqa: F841 - the grading process, as in hnm grade
    for ex in REGISTRY.values():  # measured once per grading process, before any worker (not part of a submission)
        reference_seconds(ex)
    cases = [("correct", correct_source())] + [(f"wrong in {e}", wrong_source(e)) for e in (only or WRONG)]
    print(f"| submission | median s ({repeats} runs) | total points | " + " | ".join(PHASE_ORDER) + " |")
    print("|---|---:|---:|" + "---:|" * len(PHASE_ORDER))
    with tempfile.TemporaryDirectory(prefix="hnm-bench-") as tmp:
        # The first submission of a grading process also draws every exercise's inputs (shared by all
        # later submissions of the process, see grader/engine/examples.py): shown once, on its own row.
        path = Path(tmp) / "student.py"
        path.write_text(correct_source())
        with Phases() as phases:
            t0 = time.perf_counter()
            doc = pipeline.grade(submissions.single(path), examples=examples, forked=True)  # as hnm grade's processes
            cold = time.perf_counter() - t0
        cells = [f"{100 * phases.seconds.get(p, 0.0) / cold:.0f}%" for p in PHASE_ORDER]
        print(f"| correct, first of the process (1 run) | {cold:.1f} | {doc['total']:g} | " + " | ".join(cells) + " |",
              flush=True)
        if doc["total"] != doc["max_total"]:  # the timings of a broken submission would mean nothing
            raise SystemExit(f"the correct submission scored {doc['total']:g} of {doc['max_total']:g}")
        for label, source in cases:
            path = Path(tmp) / "student.py"
            path.write_text(source)
            times, shares, total = [], [], None
            for _ in range(repeats):
                with Phases() as phases:
                    t0 = time.perf_counter()
                    doc = pipeline.grade(submissions.single(path), examples=examples, forked=True)
                    times.append(time.perf_counter() - t0)
                shares.append(phases.seconds)
                total = doc["total"]
            median = statistics.median(times)
            mid = shares[times.index(median)] if median in times else shares[0]
            cells = [f"{100 * mid.get(p, 0.0) / median:.0f}%" for p in PHASE_ORDER]
            print(f"| {label} | {median:.1f} | {total:g} | " + " | ".join(cells) + " |", flush=True)
    print(f"(one worker, {examples} examples per property, public seed; phase times are inclusive: "
          "re-runs and the agreement include their own calls and checks)")
    return 0


# A grading process that grades one file each time it reads a line (the code of the checkout it runs in).
_SERVE = """
import json, sys, time
sys.path.insert(0, ".")
import torch
torch.set_num_threads(1)
from grader.engine import reference_seconds
from grader.grading import pipeline, submissions
from grader.suites.registry import REGISTRY
for ex in REGISTRY.values():
    reference_seconds(ex)
path, examples = sys.argv[1], int(sys.argv[2])
import inspect
kw = {"forked": True} if "forked" in inspect.signature(pipeline.grade).parameters else {}  # as hnm grade's processes
pipeline.grade(submissions.single(path), examples=examples, **kw)  # the first of a process draws the inputs
print("ready", flush=True)
for line in sys.stdin:
    t0 = time.perf_counter()
    doc = pipeline.grade(submissions.single(path), examples=examples, **kw)
    print(json.dumps([time.perf_counter() - t0, doc["total"]]), flush=True)
"""


def paired_one_at_a_time(baseline: Path, repeats: int, examples: int, only: list[str] | None = None) -> int:
    """Each submission of ``--one-at-a-time`` graded alternately by this checkout and ``baseline``
    (one grading process each, both warm, never running at once, the order swapped every round):
    medians, the median of the paired differences and its range."""
    cases = [("correct", correct_source())] + [(f"wrong in {e}", wrong_source(e)) for e in (only or [])]
    print(f"| submission | this checkout: median s | baseline: median s | paired gain: median s (range) | ratio | points |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="hnm-bench-") as tmp:
        for label, source in cases:
            path = Path(tmp) / "student.py"
            path.write_text(source)
            servers = []
            for python, root in ((sys.executable, ROOT), (str(baseline / ".venv" / "bin" / "python"), baseline)):
                proc = subprocess.Popen([python, "-c", _SERVE, str(path), str(examples)], cwd=root, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                if proc.stdout.readline().strip() != "ready":
                    raise SystemExit(f"the grading process in {root} did not start")
                servers.append(proc)
            times: list[list[float]] = [[], []]
            totals: list[float] = [0.0, 0.0]
            for i in range(repeats):
                for side in ((0, 1) if i % 2 == 0 else (1, 0)):
                    servers[side].stdin.write("go\n")
                    servers[side].stdin.flush()
                    seconds, totals[side] = json.loads(servers[side].stdout.readline())
                    times[side].append(seconds)
            for proc in servers:
                proc.stdin.close()
                proc.wait()
            gains = [b - a for a, b in zip(*times)]
            here, there = statistics.median(times[0]), statistics.median(times[1])
            points = f"{totals[0]:g}" if totals[0] == totals[1] else f"{totals[0]:g} vs {totals[1]:g}"
            print(f"| {label} | {here:.1f} | {there:.1f} | {statistics.median(gains):.1f} ({min(gains):.1f} to "
                  f"{max(gains):.1f}) | {here / there:.2f} | {points} |", flush=True)
    print(f"({repeats} rounds, one worker, {examples} examples per property, public seed)")
    return 0


def check_cli(repeats: int, examples: int, only: list[str] | None = None, baseline: Path | None = None) -> int:
    """``hnm check <exercise> FILE`` as a student runs it (a new process each time, imports and
    worker start included): per exercise, the first check (the public seed's examples not yet kept
    in the cache folder) and the median of ``repeats`` later ones, right and wrong. With
    ``baseline`` (another checkout with its own ``.venv``) each run alternates with the same check
    there, and the table adds its medians and the median of the paired differences."""
    sides = [(sys.executable, ROOT)]
    if baseline is not None:
        sides.append((str(baseline / ".venv" / "bin" / "python"), baseline))
    head = "| exercise | right, first check s | right: median s | wrong: median s | right points | wrong points |"
    rule = "|---|---:|---:|---:|---:|---:|"
    if baseline is not None:
        head += " baseline right s | baseline wrong s | right: paired gain s | wrong: paired gain s |"
        rule += "---:|---:|---:|---:|"
    print(head + f"\n{rule}")
    with tempfile.TemporaryDirectory(prefix="hnm-bench-") as tmp:
        # A cache folder per checkout: the kept examples of one would not match the other's sources.
        envs = [dict(os.environ, XDG_CACHE_HOME=str(Path(tmp) / f"cache-{side}")) for side in range(len(sides))]
        for exercise_id in only or WRONG:
            for side in range(len(sides)):
                shutil.rmtree(Path(tmp) / f"cache-{side}", ignore_errors=True)
            medians, gains, points, first = [], [], [], None
            for source in (correct_source(), wrong_source(exercise_id)):
                path = Path(tmp) / "student.py"
                path.write_text(source)
                times: list[list[float]] = [[] for _ in sides]
                for i in range(repeats + 1):
                    for side, (python, root) in enumerate(sides):
                        cmd = [python, "-m", "grader.cli", "check", exercise_id, str(path), "--device", "cpu",
                               "--examples", str(examples)]
                        t0 = time.perf_counter()
                        done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=envs[side])
                        seconds = time.perf_counter() - t0
                        if i == 0 and side == 0 and first is None:
                            first = seconds
                        if i > 0:
                            times[side].append(seconds)
                        if side == 0:
                            mark = next((ln.split(": ", 1)[1] for ln in done.stdout.splitlines()
                                         if ln.startswith(f"{exercise_id}: ")), "?")
                medians.append([statistics.median(t) for t in times])
                points.append(mark)
                if baseline is not None:
                    gains.append(statistics.median(b - a for a, b in zip(*times)))
            cells = [f"{first:.1f}", f"{medians[0][0]:.1f}", f"{medians[1][0]:.1f}", points[0], points[1]]
            if baseline is not None:
                cells += [f"{medians[0][1]:.1f}", f"{medians[1][1]:.1f}", f"{gains[0]:.1f}", f"{gains[1]:.1f}"]
            print(f"| {exercise_id} | " + " | ".join(cells) + " |", flush=True)
    print(f"(one process per check: imports, worker start, drawing or reading the kept examples, grading; "
          f"{examples} examples; public seed; medians of {repeats} runs after the first)")
    return 0


PHASE_ORDER = ("worker start", "drawing inputs", "round trips", "reference", "checks", "agreement (incl. its calls)",
               "failing-rule re-runs (incl. calls)", "scale input", "scale output check")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=1, help="copies of each of the 8 sample students")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--one-at-a-time", action="store_true", help="grade a correct and eight wrong full submissions")
    ap.add_argument("--check", action="store_true", help="time `hnm check` of each exercise, right and wrong")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--only", nargs="+", choices=sorted(WRONG), help="with --check or --one-at-a-time: these exercises")
    ap.add_argument("--baseline", type=Path,
                    help="with --check or --one-at-a-time: another checkout (with .venv), timed alternately")
    args = ap.parse_args()
    if args.one_at_a_time and args.baseline is not None:
        return paired_one_at_a_time(args.baseline, args.repeats, args.examples, args.only)
    if args.one_at_a_time:
        return one_at_a_time(args.repeats, args.examples, args.only)
    if args.check:
        return check_cli(args.repeats, args.examples, args.only, args.baseline)
    with tempfile.TemporaryDirectory(prefix="hnm-bench-") as tmp:
        course = build.course(Path(tmp) / "course")
        for assignment in ASSIGNMENTS[:2]:
            build.run_nbgrader(course, "generate_assignment", assignment.name, "--force")
        students = make_class(course, args.copies)
        n = len(students)
        hnm = [sys.executable, "-m", "grader.cli", "grade", str(course / "submitted"), "--out", str(Path(tmp) / "out"),
               "--workers", str(args.workers), "--device", "cpu"]
        t_hnm = timed(hnm, ROOT)
        t_nb, failures = 0.0, []
        for assignment in ASSIGNMENTS[:2]:  # the real nbgrader CLI, with alembic on PATH
            t0 = time.perf_counter()
            try:
                build.run_nbgrader(course, "autograde", assignment.name, "--force")
            except RuntimeError as exc:  # nbgrader gives up on a submission whose code kills the kernel
                failures += [line for line in str(exc).splitlines() if "error processing assignment '" in line]
            t_nb += time.perf_counter() - t0
        print(f"class: {n} students x {len(ASSIGNMENTS[:2])} notebooks ({', '.join(a.name for a in ASSIGNMENTS[:2])})")
        print("| grader | where student code runs | wall time | per submission | ratio |")
        print("|---|---|---:|---:|---:|")
        print(f"| hnm grade --workers {args.workers} | sandboxed worker processes | {t_hnm:.1f} s | {t_hnm / n:.1f} s | 1.0x |")
        print(f"| nbgrader autograde | the notebook's kernel | {t_nb:.1f} s | {t_nb / n:.1f} s | {t_nb / t_hnm:.1f}x |")
        for line in failures:
            print(f"nbgrader: {line.split('] ', 1)[-1]}")
        print(f"(one run each; median of per-student times is not available from nbgrader; "
              f"machine: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
