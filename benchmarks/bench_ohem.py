"""OHEM selection and greedy NMS: the reference against two straightforward peers.

Tasks:
  select  ohem_select over 64 images x 2000 RoIs with NMS (IoU 0.7, 64 RoIs per image)
  nms     greedy NMS (IoU 0.7, everything kept that survives) of the first image's 2000 boxes

Methods (torchvision-free and exact, so their outputs must be identical; the peers use the
reference's IoU formula, solutions._boxes.pairwise_iou, without input validation):
  ours    solutions.ohem_select / solutions.nms: windowed greedy NMS on all images at once,
          stopping per image after 64 survivors (select)
  nonms   solutions.ohem_select without NMS (select only; the cost floor, not the same output)
  matrix  per image, the IoU matrix of the loss-sorted boxes, then one tensor-op step per box
          (no host round trip), then the first 64 survivors
  pyloop  per image, the classic Python loop: take the best remaining box, drop the boxes
          overlapping it (one host round trip per kept box), stop after 64 survivors (select)

Data (seed 0): per image 2-6 objects of 32-256 px in a 1024 x 640 frame; 75 % of the RoIs
jitter around an object (centre +- 15 % of its size, size x exp(N(0, 0.25))), the rest are
random background boxes; float32 boxes; losses float32 uniform, so ties are rare.

Protocol as in bench_semi_hard.py: every (task, method) runs in its own fresh process with one
CPU thread; a small call loads the code paths before the memory baseline is taken; 1 warm-up,
then the median of up to --repeats timed calls (fewer if they would take over --budget s).
Peak memory is the peak RSS (VmHWM) minus the RSS before the first call on the CPU, and
torch.cuda.max_memory_allocated minus the allocation before it on CUDA.

Usage: python benchmarks/bench_ohem.py [--device cuda] [--images 64] [--rois 2000]
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

IOU = 0.7
PER_IMAGE = 64
TASKS = ("select", "nms")
METHODS = ("ours", "nonms", "matrix", "pyloop")


# ----------------------------------------------------------------------------- child
def _data(images: int, rois: int, device: str):
    import torch

    g = torch.Generator().manual_seed(0)
    frame = torch.tensor([1024.0, 640.0])
    all_boxes = []
    for _ in range(images):
        n_obj = int(torch.randint(2, 7, (1,), generator=g))
        size = 32 + 224 * torch.rand(n_obj, 2, generator=g)
        centre = size / 2 + (frame - size) * torch.rand(n_obj, 2, generator=g)
        obj = torch.randint(0, n_obj, (rois,), generator=g)
        c = centre[obj] + 0.15 * size[obj] * torch.randn(rois, 2, generator=g)
        s = size[obj] * torch.exp(0.25 * torch.randn(rois, 2, generator=g))
        background = torch.rand(rois, generator=g) < 0.25
        c[background] = frame * torch.rand(int(background.sum()), 2, generator=g)
        s[background] = 16 + 240 * torch.rand(int(background.sum()), 2, generator=g)
        lo = torch.minimum(torch.maximum(c - s / 2, torch.zeros(2)), frame - 1)
        hi = torch.maximum(torch.minimum(c + s / 2, frame), lo + 1)
        all_boxes.append(torch.cat([lo, hi], dim=1))
    boxes = torch.cat(all_boxes)
    losses = torch.rand(images * rois, generator=g)
    ids = torch.arange(images).repeat_interleave(rois)
    return boxes.to(device), losses.to(device), ids.to(device)


def _matrix_nms(boxes, scores, limit=None):
    """IoU matrix of the sorted boxes, then a loop over boxes made of tensor ops only."""
    import torch

    from solutions._boxes import pairwise_iou

    order = torch.sort(scores, descending=True, stable=True).indices
    over = (pairwise_iou(boxes[order], boxes[order]) > torch.tensor(IOU, dtype=boxes.dtype)).triu_(1)
    removed = torch.zeros(order.numel(), dtype=torch.bool, device=boxes.device)
    for i in range(order.numel()):
        removed |= over[i] & ~removed[i]
    kept = order[~removed]
    return kept if limit is None else kept[:limit]


def _pyloop_nms(boxes, scores, limit=None):
    """Best remaining box, drop its overlaps, repeat: one host round trip per kept box."""
    import torch

    from solutions._boxes import pairwise_iou

    order = torch.sort(scores, descending=True, stable=True).indices
    thr = torch.tensor(IOU, dtype=boxes.dtype)
    kept = []
    while order.numel() and (limit is None or len(kept) < limit):
        i = order[0]
        kept.append(i)
        rest = order[1:]
        order = rest[~(pairwise_iou(boxes[i][None], boxes[rest])[0] > thr)]
    return torch.stack(kept) if kept else order


def _per_image(fn, boxes, losses, ids, images, rois):
    import torch

    out = [fn(boxes[i * rois : (i + 1) * rois], losses[i * rois : (i + 1) * rois], PER_IMAGE) + i * rois
           for i in range(images)]
    return torch.sort(torch.cat(out)).values


def _call(task: str, method: str, boxes, losses, ids, images: int, rois: int):
    import solutions as S

    if task == "nms":
        b, s = boxes[:rois], losses[:rois]
        if method == "ours":
            return S.nms(b, s, IOU)
        return {"matrix": _matrix_nms, "pyloop": _pyloop_nms}[method](b, s)
    if method == "ours":
        return S.ohem_select(losses, ids, PER_IMAGE, boxes=boxes, nms_iou=IOU)
    if method == "nonms":
        return S.ohem_select(losses, ids, PER_IMAGE)
    return _per_image({"matrix": _matrix_nms, "pyloop": _pyloop_nms}[method], boxes, losses, ids, images, rois)


def child(task: str, method: str, images: int, rois: int, device: str, repeats: int, budget: float) -> dict:
    import torch

    torch.set_num_threads(1)
    _call(task, method, *_data(2, 64, device), 2, 64)  # load the code paths before the baseline
    data = _data(images, rois, device)
    row, out = _protocol.measure(lambda: _call(task, method, *data, images, rois), device, repeats, budget)
    out = out.cpu()
    return {
        "task": task,
        "method": method,
        "device": device,
        **row,
        "selected": int(out.numel()),
        "checksum": int((out * 1_000_003 + torch.arange(out.numel())).remainder(2**31 - 1).sum()),
    }


# ---------------------------------------------------------------------------- parent
def run_all(tasks, methods, images, rois, device, repeats, budget) -> list[dict]:
    rows = []
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for task in tasks:
        for method in methods:
            if task == "nms" and method == "nonms":
                continue
            cmd = [sys.executable, __file__, "--child", task, method, "--images", str(images), "--rois", str(rois),
                   "--device", device, "--repeats", str(repeats), "--budget", str(budget)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                rows.append({"task": task, "method": method, "device": device,
                             "skipped": f"failed: {proc.stderr.strip()[-200:]}"})
                print(f"{task:>6} {method:>6} failed: {proc.stderr.strip()[-300:]}", flush=True)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{task:>6} {method:>6} {row['median_s'] * 1e3:10.2f} ms  {row['peak_mib']:9.1f} MiB  "
                  f"{row['selected']:>6} kept ({row['repeats']} runs)", flush=True)
    return rows


def table(rows: list[dict], images: int, rois: int) -> str:
    ours = {r["task"]: r for r in rows if r["method"] == "ours" and "skipped" not in r}
    size = {"select": f"{images} x {rois}", "nms": f"1 x {rois}"}
    lines = [
        "| task | RoIs | method | median time | peak memory | time / ours | kept | same as ours |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['task']} | {size[r['task']]} | {r['method']} | {r['skipped']} | | | | |")
            continue
        o = ours.get(r["task"])
        rt = f"{r['median_s'] / o['median_s']:.2f}x" if o else ""
        same = "yes" if o and r["checksum"] == o["checksum"] and r["selected"] == o["selected"] else "no"
        same = "n/a (no NMS)" if r["method"] == "nonms" else same
        lines.append(
            f"| {r['task']} | {size[r['task']]} | {r['method']} | {r['median_s'] * 1e3:.1f} ms "
            f"| {r['peak_mib']:.1f} MiB | {rt} | {r['selected']} | {same} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--rois", type=int, default=2000)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--budget", type=float, default=30.0, help="seconds of timed calls per configuration")
    ap.add_argument("--json", help="write the raw rows here")
    ap.add_argument("--child", nargs=2, metavar=("TASK", "METHOD"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        task, method = args.child
        print(json.dumps(child(task, method, args.images, args.rois, args.device, args.repeats, args.budget)))
        return 0
    t0 = time.perf_counter()
    rows = run_all(args.tasks, args.methods, args.images, args.rois, args.device, args.repeats, args.budget)
    _protocol.report(rows, table(rows, args.images, args.rois),
                     f"total wall time {time.perf_counter() - t0:.0f} s, device {args.device}, 1 CPU thread, "
                     f"IoU {IOU}, {PER_IMAGE} per image", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
