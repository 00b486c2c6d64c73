"""Grading a class at scale: ``hnm grade``'s local process pool against a Dask LocalCluster.

The class: --students synthetic submissions, copies of the bundled sample class
(grader/samples: right, wrong in several rules, a stub, a crash, an infinite loop, a
Python-loop version, a notebook) under new student ids (s000-ada.py, s001-ben.py, ...,
cycling through the samples), so it has the sample class's mix of cheap and expensive
submissions. Both executors grade the same folder with the same settings and --workers
grading processes (the pool's processes, or the cluster's single-threaded workers); the
script checks that they write byte-identical files.

Reported, side by side:
- wall: the whole ``classrun.run`` (discovery, grading, writing every file); for Dask
  without and with starting the cluster;
- per submission: wall / students;
- overhead per submission: wall * workers / students minus the serial cost of grading
  one submission (the mean over one copy of each sample, graded one after another in
  this process: the work itself, worker start included). What is left is what an
  executor adds per submission: process start-up, scheduling, shipping, idle workers at
  the end of the run.

Usage: python benchmarks/bench_scale.py [--students 200] [--examples 100] [--workers 2] [--no-baseline]
A quick run: python benchmarks/bench_scale.py --students 40 --examples 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import classrun, grading, submissions  # noqa: E402
from grader.engine import DEFAULT_EXAMPLES  # noqa: E402

SAMPLES = ROOT / "grader" / "samples"


def make_class(folder: Path, students: int) -> list[Path]:
    samples = sorted(p for p in SAMPLES.iterdir() if p.suffix in submissions.SUFFIXES)
    folder.mkdir(parents=True)
    for i in range(students):
        sample = samples[i % len(samples)]
        shutil.copy(sample, folder / f"s{i:03d}-{sample.stem}{sample.suffix}")
    return samples


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def serial_cost(samples: list[Path], examples: int) -> float:
    """Mean seconds to grade one submission, one after another in this process."""
    import torch

    torch.set_num_threads(1)  # as in a grading process
    times = []
    for sample in samples:
        t0 = time.perf_counter()
        grading.grade(submissions.single(sample), device="cpu", examples=examples)
        times.append(time.perf_counter() - t0)
    return sum(times) / len(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-baseline", action="store_true", help="skip the serial cost (no overhead column)")
    args = ap.parse_args()
    import distributed

    n, w = args.students, args.workers
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {n} students, {args.examples} examples per property, {w} workers; "
          f"{os.cpu_count()} CPUs, load average {load:.2f} at start", flush=True)
    with tempfile.TemporaryDirectory(prefix="hnm-bench-scale-") as tmp:
        tmp = Path(tmp)
        samples = make_class(tmp / "class", n)
        cost = None if args.no_baseline else serial_cost(samples, args.examples)

        t0 = time.perf_counter()
        classrun.run(tmp / "class", tmp / "local", workers=w, device="cpu", resume=False, examples=args.examples)
        local = time.perf_counter() - t0

        t0 = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=w, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address=None)
        startup = time.perf_counter() - t0
        try:
            t0 = time.perf_counter()
            classrun.run(tmp / "class", tmp / "dask", workers=w, device="cpu", resume=False, examples=args.examples,
                         executor="dask", scheduler=cluster.scheduler_address)
            dask = time.perf_counter() - t0
        finally:
            cluster.close()
        identical = files(tmp / "local") == files(tmp / "dask")

    def row(name: str, wall: float) -> str:
        over = f"{wall * w / n - cost:.2f}" if cost is not None else "-"
        return f"| {name} | {wall:.1f} | {wall / n:.2f} | {60 * n / wall:.1f} | {over} |"

    print()
    print("| executor | wall (s) | per submission (s) | submissions / min | overhead per submission (worker-s) |")
    print("|---|---|---|---|---|")
    print(row(f"local pool ({w} processes)", local))
    print(row(f"Dask LocalCluster ({w} workers), cluster running", dask))
    print(row(f"Dask LocalCluster ({w} workers), incl. start-up", dask + startup))
    print()
    if cost is not None:
        print(f"serial cost of one submission (mean over the {len(samples)} samples): {cost:.2f} s")
    print(f"cluster start-up: {startup:.1f} s; outputs byte-identical: {'yes' if identical else 'NO'}")


if __name__ == "__main__":  # the pool and the cluster spawn processes that import this file
    main()
