"""Semi-hard mining: the reference against two peers, side by side in one run.

Methods (each timed end to end from L2-normalised embeddings, distances included):
  ours  solutions.pairwise_distances + solutions.semi_hard_negatives
  pml   pytorch-metric-learning TripletMarginMiner(margin, type_of_triplets="semihard"),
        whose set of all semi-hard triplets is then reduced (vectorised, O(T)) to the
        closest negative per (a, p) pair, ties to the smallest index
  bbb   the straightforward masked B x B x B implementation on solutions.pairwise_distances

Protocol: D = 128, 4 samples per class (labels shuffled), margin 0.2, seed 0; every
(method, B) runs in its own fresh process with one CPU thread; a call at B = 32 loads the
code paths before the memory baseline is taken; 1 warm-up call at B, then the
median of up to --repeats timed calls (fewer if they would take over --budget seconds).
Peak memory is the peak RSS (VmHWM) minus the RSS just before the first call on the CPU,
and torch.cuda.max_memory_allocated minus the allocation before it on CUDA. A peer
configuration whose B^3-sized tensors alone would exceed 8 GiB is skipped and reported.

Usage: python benchmarks/bench_semi_hard.py [--device cuda] [--sizes 256 1024 4096 8192]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _protocol  # noqa: E402

MARGIN = 0.2
DIM = 128
PER_CLASS = 4
LIMIT_BYTES = 8 << 30
METHODS = ("ours", "pml", "bbb")


def predicted_bytes(method: str, b: int) -> int:
    """Bytes of the B^3 tensors a peer must materialise (0 for the reference)."""
    if method == "pml":
        return b**3  # uint8 B x B x B triplet mask in get_all_triplets_indices
    if method == "bbb":
        return 5 * b**3  # bool mask + float32 masked distances, B x B x B each
    return 0


# ----------------------------------------------------------------------------- child
def _data(b: int, device: str):
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(b, DIM, generator=g), dim=1)
    labels = torch.arange(b // PER_CLASS).repeat_interleave(PER_CLASS)[torch.randperm(b, generator=g)]
    return x.to(device), labels.to(device)


def _ours(x, labels):
    import solutions as S

    return S.semi_hard_negatives(S.pairwise_distances(x), labels, MARGIN)


def _pml(x, labels):
    import torch
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.miners import TripletMarginMiner

    a, p, n = TripletMarginMiner(margin=MARGIN, type_of_triplets="semihard")(x, labels)
    d = LpDistance()(x, x)
    b = x.shape[0]
    key = a * b + p
    d_an = d[a, n]
    best = torch.full((b * b,), float("inf"), device=x.device).scatter_reduce(0, key, d_an, "amin")
    at_best = d_an == best[key]
    first = torch.full((b * b,), b, device=x.device).scatter_reduce(0, key[at_best], n[at_best], "amin")
    pairs = (first < b).nonzero().squeeze(1)
    return pairs // b, pairs % b, first[pairs]


def _bbb(x, labels):
    import torch

    import solutions as S

    d = S.pairwise_distances(x)
    b = d.shape[0]
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(b, dtype=torch.bool, device=d.device)
    d_ap, d_an = d[:, :, None], d[:, None, :]
    cond = d_an > d_ap
    cond &= d_an < d_ap + MARGIN
    cond &= ~same[:, None, :]
    cond &= pos[:, :, None]
    value, n = torch.where(cond, d_an, torch.tensor(float("inf"), device=d.device)).min(dim=2)
    a, p = (pos & (value < float("inf"))).nonzero(as_tuple=True)
    return a, p, n[a, p]


def child(method: str, b: int, device: str, repeats: int, budget: float) -> dict:
    import torch

    torch.set_num_threads(1)
    fn = {"ours": _ours, "pml": _pml, "bbb": _bbb}[method]
    fn(*_data(32, device))  # load the code paths once, so the baseline holds them
    x, labels = _data(b, device)
    row, out = _protocol.measure(lambda: fn(x, labels), device, repeats, budget)
    a, p, n = (t.cpu() for t in out)
    return {
        "method": method,
        "B": b,
        "device": device,
        **row,
        "triplets": int(a.numel()),
        "checksum": int(((a * 1_000_003 + p) * 1_000_003 + n).remainder(2**31 - 1).sum()),
    }


# ---------------------------------------------------------------------------- parent
def run_all(sizes, methods, device, repeats, budget) -> list[dict]:
    rows = []
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for b in sizes:
        for method in methods:
            need = predicted_bytes(method, b)
            if need > LIMIT_BYTES:
                rows.append({"method": method, "B": b, "device": device, "skipped": f"needs {need / 2**30:.0f} GiB"})
                print(f"{method:>5} B={b:<5} skipped: its B^3 tensors need {need / 2**30:.0f} GiB > 8 GiB", flush=True)
                continue
            cmd = [sys.executable, __file__, "--child", method, str(b), "--device", device,
                   "--repeats", str(repeats), "--budget", str(budget)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                rows.append({"method": method, "B": b, "device": device, "skipped": f"failed: {proc.stderr.strip()[-200:]}"})
                print(f"{method:>5} B={b:<5} failed: {proc.stderr.strip()[-300:]}", flush=True)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{method:>5} B={b:<5} {row['median_s'] * 1e3:10.2f} ms  {row['peak_mib']:9.1f} MiB  "
                  f"{row['triplets']:>7} triplets ({row['repeats']} runs)", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    ours = {r["B"]: r for r in rows if r["method"] == "ours" and "skipped" not in r}
    lines = [
        "| B | method | median time | peak memory | time / ours | memory / ours | pairs kept | same triplets as ours |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['B']} | {r['method']} | skipped ({r['skipped']}) | | | | | |")
            continue
        o = ours.get(r["B"])
        rt = f"{r['median_s'] / o['median_s']:.1f}x" if o else ""
        rm = f"{r['peak_mib'] / max(o['peak_mib'], 1e-9):.1f}x" if o else ""
        same = "yes" if o and r["checksum"] == o["checksum"] and r["triplets"] == o["triplets"] else "no"
        lines.append(
            f"| {r['B']} | {r['method']} | {r['median_s'] * 1e3:.1f} ms | {r['peak_mib']:.1f} MiB | {rt} | {rm} "
            f"| {r['triplets']} | {same} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096, 8192])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds of timed calls per configuration")
    ap.add_argument("--json", help="write the raw rows here")
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "B"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.device, args.repeats, args.budget)))
        return 0
    t0 = time.perf_counter()
    rows = run_all(args.sizes, args.methods, args.device, args.repeats, args.budget)
    _protocol.report(rows, table(rows), f"total wall time {time.perf_counter() - t0:.0f} s, device {args.device}, 1 CPU thread",
                     args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
