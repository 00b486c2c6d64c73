"""Grading throughput: ``hnm grade`` (out of process) against ``nbgrader autograde``
(in the notebook's kernel) on the same student notebooks, side by side in one run.

The class: the bundled sample class (grader/samples/*.py) turned into nbgrader
submissions of problem sets 1 and 2 — each answer cell holds that student's function
(or the untouched stub where the sample has none) — repeated --copies times. Both
graders see exactly the same notebooks; both use the defaults (100 examples per
property for hnm; nbgrader runs each notebook's check cells, which call grader.check).

Usage: python benchmarks/bench_grading.py [--copies 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import build  # noqa: E402
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=1, help="copies of each of the 8 sample students")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
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
