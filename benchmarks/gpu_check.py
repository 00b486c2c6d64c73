"""The GPU check in one command (``make gpu-check``): the CUDA tests and the benchmarks on CUDA.

Runs ``pytest -m gpu`` (every property suite on the CUDA device) and the semi-hard and OHEM
benchmarks with ``--device cuda``, then prints a short report: the device, torch's version,
the pytest summary line and each benchmark's table. Writes the same report and the raw
benchmark rows to ``--out`` (default ``out/gpu-check/``). Without a CUDA device (or with a
torch built without CUDA) it says so and exits 0, having run nothing.

Usage: python benchmarks/gpu_check.py [--out DIR] [--sizes 1024 4096 8192] [--no-tests] [--no-bench]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cuda_problem() -> str | None:
    """Why this machine cannot run the GPU check, or None."""
    import torch

    if torch.version.cuda is None:
        return (f"torch {torch.__version__} is built without CUDA: install a CUDA build "
                "(e.g. `make setup TORCH_PIN=torch==2.13.0` from an index with CUDA wheels)")
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} (CUDA {torch.version.cuda}) finds no CUDA device"
    return None


def _run(title: str, command: list[str], timeout: float) -> tuple[str, int, str]:
    """Run ``command`` in the repository; return (title, exit status, its output)."""
    print(f"== {title}: {' '.join(command)}", flush=True)
    t0 = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        status, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        status, output = 124, f"{exc.stdout or ''}{exc.stderr or ''}\nstopped after {timeout:.0f} s"
    print(f"   exit {status} after {time.perf_counter() - t0:.0f} s", flush=True)
    return title, status, output


def _summary(title: str, status: int, output: str) -> list[str]:
    lines = output.rstrip().splitlines()
    if title.startswith("pytest"):
        tail = [line for line in lines if re.search(r"\d+ (passed|failed|skipped|errors?|deselected)", line)][-1:]
        return [f"{title}: exit {status}", *(f"  {line.strip('= ')}" for line in tail or lines[-3:])]
    table = lines[next((i for i, line in enumerate(lines) if not line.strip()), 0):]  # after the progress lines
    return [f"{title}: exit {status}", *(f"  {line}" for line in table if line.strip())]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "out" / "gpu-check"), help="where the report and raw rows go")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 8192], help="batch sizes of the semi-hard benchmark")
    ap.add_argument("--no-tests", action="store_true", help="skip pytest -m gpu")
    ap.add_argument("--no-bench", action="store_true", help="skip the benchmarks")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per step")
    args = ap.parse_args()
    problem = cuda_problem()
    if problem:
        print(f"gpu-check skipped: {problem}. Nothing was run.")
        return 0
    import torch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header = [f"device: {torch.cuda.get_device_name(0)}", f"torch {torch.__version__}, CUDA {torch.version.cuda}"]
    print("\n".join(header), flush=True)
    steps = []
    if not args.no_tests:
        steps.append(_run("pytest -m gpu", [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"],
                          args.timeout))
    if not args.no_bench:
        steps.append(_run("bench_semi_hard (cuda)", [
            sys.executable, "benchmarks/bench_semi_hard.py", "--device", "cuda", "--sizes", *map(str, args.sizes),
            "--json", str(out / "semi_hard.json")], args.timeout))
        steps.append(_run("bench_ohem (cuda)", [
            sys.executable, "benchmarks/bench_ohem.py", "--device", "cuda", "--json", str(out / "ohem.json")], args.timeout))
    report = header + [""]
    for step in steps:
        report += _summary(*step) + [""]
    text = "\n".join(report)
    (out / "report.txt").write_text(text)
    for title, _, output in steps:
        (out / (title.split()[0] + ".log")).write_text(output)
    print("\n" + text + f"\nreport: {out / 'report.txt'}")
    return max((status for _, status, _ in steps), default=0)


if __name__ == "__main__":
    sys.exit(main())
