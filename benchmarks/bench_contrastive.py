"""The InfoNCE-family and proxy losses against pytorch-metric-learning and the authors' code.

Tasks (forward + backward of one loss, float32, D = 128, 4 samples per class, seed 0):
  ntxent        solutions.ntxent_loss (T = 0.07)         vs PML NTXentLoss(0.07)
  hcl           solutions.hard_negative_infonce          vs the author code of joshr17/HCL (image/main.py,
                (two views of B items, 2B anchors;          exp of sim / t; t = 0.5, beta = 1, tau+ = 0.1,
                 view 2 = view 1 + noise)                   where it is still finite)
  proxy_nca     solutions.proxy_nca_loss (scale 9)       vs PML ProxyNCALoss(softmax_scale=9)
  proxy_anchor  solutions.proxy_anchor_loss (32, 0.1)    vs PML ProxyAnchorLoss(alpha=32, margin=0.1)
Proxy losses use B / 4 classes, proxies drawn from a standard normal.

PML's NTXentLoss materialises a [positive pairs x negative pairs] matrix (3B x B(B - 4)
entries here); configurations whose estimated peak exceeds --peer-limit GiB are skipped and
say how much they would need. Protocol: benchmarks/_protocol.py (fresh process per
configuration, one CPU thread, median of up to --repeats timed calls after a warm-up).

Usage: python benchmarks/bench_contrastive.py [--sizes 256 1024 4096] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _protocol  # noqa: E402

DIM = 128
PER_CLASS = 4
TASKS = ("ntxent", "hcl", "proxy_nca", "proxy_anchor")
PEERS = {"ntxent": "pml", "hcl": "author", "proxy_nca": "pml", "proxy_anchor": "pml"}


def peer_bytes(task: str, b: int) -> float:
    """Estimated peak of the peer (only PML's NT-Xent grows faster than B^2)."""
    if task == "ntxent":
        return 13.0 * (b * (PER_CLASS - 1)) * (b * (b - PER_CLASS))  # two float32 + bool + index copies
    return 0.0


def _inputs(task: str, b: int, device: str):
    import torch

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(b) // PER_CLASS
    if task == "hcl":
        z1 = torch.randn(b, DIM, generator=g)
        z2 = z1 + 0.8 * torch.randn(b, DIM, generator=g)
        return z1.to(device).requires_grad_(), z2.to(device).requires_grad_()
    x = torch.randn(b, DIM, generator=g)
    if task == "ntxent":
        return x.to(device).requires_grad_(), labels.to(device)
    proxies = torch.randn(b // PER_CLASS, DIM, generator=g)
    return x.to(device).requires_grad_(), labels.to(device), proxies.to(device).requires_grad_()


def _loss_fn(task: str, method: str, b: int, device: str):
    import solutions as S

    if method == "ours":
        return {
            "ntxent": lambda x, y: S.ntxent_loss(x, y, 0.07),
            "hcl": lambda z1, z2: S.hard_negative_infonce(z1, z2, 0.5, 1.0, 0.1),
            "proxy_nca": lambda x, y, p: S.proxy_nca_loss(x, y, p, 9.0),
            "proxy_anchor": lambda x, y, p: S.proxy_anchor_loss(x, y, p, 32.0, 0.1),
        }[task]
    if task == "hcl":
        from tests.oracles_contrastive import author_hcl

        return author_hcl
    from pytorch_metric_learning import losses

    if task == "ntxent":
        return losses.NTXentLoss(0.07)
    pml = (losses.ProxyNCALoss(b // PER_CLASS, DIM, softmax_scale=9) if task == "proxy_nca"
           else losses.ProxyAnchorLoss(b // PER_CLASS, DIM, margin=0.1, alpha=32)).to(device)

    def call(x, y, p):
        pml.proxies.data = p.detach()
        return pml(x, y)

    return call


def child(task: str, method: str, b: int, device: str, repeats: int, budget: float) -> dict:
    import torch

    torch.set_num_threads(1)
    small = _inputs(task, 2 * PER_CLASS, device)
    _loss_fn(task, method, 2 * PER_CLASS, device)(*small).backward()  # load the code paths
    fn = _loss_fn(task, method, b, device)
    inputs = _inputs(task, b, device)

    def call():
        loss = fn(*inputs)
        loss.backward()
        return loss.item()

    row, value = _protocol.measure(call, device, repeats, budget)
    return {"task": task, "method": method, "b": b, "device": device, "loss": value, **row}


def run_all(tasks, sizes, device, repeats, budget, peer_limit) -> list[dict]:
    rows = []
    for task in tasks:
        for b in sizes:
            for method in ("ours", PEERS[task]):
                need = peer_bytes(task, b) if method != "ours" else 0.0
                if need > peer_limit * 2**30:
                    row = {"task": task, "method": method, "b": b, "skipped": f"skipped (needs {need / 2**30:.0f} GiB)"}
                else:
                    row = _protocol.run_child(__file__, [task, method, "--size", str(b), "--device", device,
                                                         "--repeats", str(repeats), "--budget", str(budget)])
                    row = {"task": task, "method": method, "b": b, **row}
                rows.append(row)
                if "skipped" in row:
                    print(f"{task:>12} {b:>5} {method:>6} {row['skipped']}", flush=True)
                else:
                    print(f"{task:>12} {b:>5} {method:>6} {row['median_s'] * 1e3:10.1f} ms {row['peak_mib']:9.1f} MiB "
                          f"loss {row['loss']:.6g} ({row['repeats']} runs)", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    ours = {(r["task"], r["b"]): r for r in rows if r["method"] == "ours" and "skipped" not in r}
    lines = [
        "| loss | B | method | median time (fwd+bwd) | peak memory | time / ours | memory / ours | loss value |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['task']} | {r['b']} | {r['method']} | {r['skipped']} | | | | |")
            continue
        o = ours.get((r["task"], r["b"]))
        rt = f"{r['median_s'] / o['median_s']:.2f}x" if o else ""
        rm = f"{r['peak_mib'] / o['peak_mib']:.2f}x" if o and o["peak_mib"] > 0 else ""
        lines.append(f"| {r['task']} | {r['b']} | {r['method']} | {r['median_s'] * 1e3:.1f} ms | {r['peak_mib']:.1f} MiB "
                     f"| {rt} | {rm} | {r['loss']:.6g} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds of timed calls per configuration")
    ap.add_argument("--peer-limit", type=float, default=4.0, help="skip a peer whose estimated peak exceeds this (GiB)")
    ap.add_argument("--json", help="write the raw rows here")
    ap.add_argument("--child", nargs=2, metavar=("TASK", "METHOD"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        task, method = args.child
        print(json.dumps(child(task, method, args.size, args.device, args.repeats, args.budget)))
        return 0
    t0 = time.perf_counter()
    rows = run_all(args.tasks, args.sizes, args.device, args.repeats, args.budget, args.peer_limit)
    _protocol.report(rows, table(rows), f"total wall time {time.perf_counter() - t0:.0f} s, device {args.device}, "
                     f"1 CPU thread, D = {DIM}", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
