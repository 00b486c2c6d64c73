"""The measuring protocol shared by the benchmarks.

Every configuration runs in its own fresh process with one CPU thread (``run_child``); inside it,
``measure`` takes the memory baseline after a small call has loaded the code paths, runs 1
warm-up, then times up to ``repeats`` calls (fewer if they would take over ``budget`` s) and
reports the median. Peak memory is the peak RSS (VmHWM) minus the RSS before the first call on
the CPU, and torch.cuda.max_memory_allocated minus the allocation before it on CUDA.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable


def rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def measure(call: Callable[[], object], device: str, repeats: int, budget: float) -> tuple[dict, object]:
    """``call()`` timed as above: ``({"median_s", "repeats", "peak_mib", "first_s"}, last result)``."""
    import torch

    cuda = device == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize()

    if cuda:
        sync()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = rss_kib("VmRSS") * 1024
    start = time.perf_counter()
    out = call()  # warm-up
    sync()
    first = time.perf_counter() - start
    times: list[float] = []
    while len(times) < repeats and (not times or sum(times) + times[-1] <= budget):
        if not times and first > budget:
            times.append(first)  # a single slow call: report it rather than run it again
            break
        t0 = time.perf_counter()
        out = call()
        sync()
        times.append(time.perf_counter() - t0)
    peak = (torch.cuda.max_memory_allocated() if cuda else rss_kib("VmHWM") * 1024) - base
    return {"median_s": statistics.median(times), "repeats": len(times), "peak_mib": peak / 2**20, "first_s": first}, out


def run_child(script: str, args: list[str]) -> dict:
    """Run ``script --child ARGS`` in a fresh one-thread process; its last stdout line is a JSON row."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, script, "--child", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"skipped": f"failed: {proc.stderr.strip()[-200:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(rows: list[dict], table: str, footer: str, json_path: str | None) -> None:
    """Print the markdown table and the footer line; write the raw rows to ``json_path`` if given."""
    print()
    print(table)
    print(f"\n{footer}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(rows, f, indent=1)
