"""ANN mining over a corpus: FAISS exact vs IVF vs HNSW vs the torch exhaustive top-k.

Corpus (solutions.experiments.ann.clustered_corpus, seed 0): N unit vectors, D = 64, N / 100
classes of 100 items, within-class noise 0.7; the queries are the first --queries corpus items.
For every method: build time, index size (serialised bytes), search time for the top --k
(median of up to --repeats searches), the growth of peak RSS over the corpus (build + search),
and two recalls against the exact answer:
  knn recall@10   the share of the exact 10 nearest neighbours among the first 10 returned;
  hard-neg recall the share of the exact 10 hardest negatives (most similar items of another
                  label) found anywhere in the returned top --k (the list a miner would read).
Methods: torch (exhaustive matmul + topk, 1024 queries per block; it also writes the exact
answer the others are scored against), flat (IndexFlatIP), ivf (IVFFlat, --nlist cells,
nprobe 1 / 8 / 32), hnsw (HNSWFlat M = 32, efConstruction 40, efSearch 64 / 256).
Protocol: benchmarks/_protocol.py (fresh process per method, one thread for torch and FAISS).

Usage: python benchmarks/bench_ann.py [--sizes 100000 1000000] [--queries 1000] [--k 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _protocol  # noqa: E402

DIM, PER_CLASS, NOISE = 64, 100, 0.7
METHODS = ("torch", "flat", "ivf", "hnsw")
SETTINGS = {"torch": [None], "flat": [None], "ivf": [1, 8, 32], "hnsw": [64, 256]}


def child(method: str, n: int, queries: int, k: int, nlist: int, truth_path: str, repeats: int, budget: float) -> list[dict]:
    import faiss
    import torch

    from solutions.experiments import ann

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    x, labels = ann.clustered_corpus(n, DIM, n // PER_CLASS, NOISE, seed=0)
    q, ql = x[:queries], labels[:queries]
    base_hwm = _protocol.rss_kib("VmHWM")
    rows = []
    if method == "torch":
        start = time.perf_counter()
        _, exact = ann.exact_top_k(x, q, 10)
        hard = ann.exact_hard_negatives(x, labels, q, ql, 10)
        torch.save({"exact": exact, "hard": hard}, truth_path)
        truth_s = time.perf_counter() - start
        row, ids = _protocol.measure(lambda: ann.exact_top_k(x, q, k)[1], "cpu", repeats, budget)
        rows.append({"setting": "", "build_s": 0.0, "index_mib": 0.0, "truth_s": truth_s, "ids": ids, **row})
    else:
        start = time.perf_counter()
        index = ann.build_index(x, method, nlist=nlist)
        build_s = time.perf_counter() - start
        index_mib = faiss.serialize_index(index).nbytes / 2**20
        for setting in SETTINGS[method]:
            kwargs = {"ivf": {"nprobe": setting}, "hnsw": {"ef_search": setting}}.get(method, {})
            row, ids = _protocol.measure(lambda: ann.search(index, q, k, **kwargs)[1], "cpu", repeats, budget)
            rows.append({"setting": "" if setting is None else str(setting), "build_s": build_s, "index_mib": index_mib,
                         "ids": ids, **row})
    truth = torch.load(truth_path)
    growth = (_protocol.rss_kib("VmHWM") - base_hwm) / 1024
    out = []
    for r in rows:
        ids = r.pop("ids")
        out.append({"method": method, "n": n, "rss_growth_mib": growth,
                    "knn_recall": ann.set_recall(ids[:, :10], truth["exact"]),
                    "hard_recall": ann.set_recall(ids, truth["hard"]), **r})
    return out


def table(rows: list[dict], queries: int, k: int) -> str:
    lines = [
        f"| N | method | setting | build | search ({queries} queries, top {k}) | index size | peak RSS growth "
        "| kNN recall@10 | hard-negative recall |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['n']} | {r['method']} | | {r['skipped']} | | | | | |")
            continue
        name = {"ivf": "nprobe ", "hnsw": "efSearch "}.get(r["method"], "")
        lines.append(
            f"| {r['n']:,} | {r['method']} | {name}{r['setting']} | {r['build_s']:.2f} s | {r['median_s']:.3f} s "
            f"| {r['index_mib']:.0f} MiB | {r['rss_growth_mib']:.0f} MiB | {r['knn_recall']:.3f} | {r['hard_recall']:.3f} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=200)
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=30.0, help="seconds of timed searches per setting")
    ap.add_argument("--truth", help=argparse.SUPPRESS)
    ap.add_argument("--json", help="write the raw rows here")
    ap.add_argument("--child", nargs=1, metavar="METHOD", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        rows = child(args.child[0], args.size, args.queries, args.k, args.nlist, args.truth, args.repeats, args.budget)
        print(json.dumps(rows))
        return 0
    t0 = time.perf_counter()
    rows = []
    methods = ["torch"] + [m for m in args.methods if m != "torch"]  # torch writes the exact answer first
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            truth = str(Path(tmp) / f"truth-{n}.pt")
            for method in methods:
                got = _protocol.run_child(__file__, [method, "--size", str(n), "--queries", str(args.queries),
                                                     "--k", str(args.k), "--nlist", str(args.nlist), "--truth", truth,
                                                     "--repeats", str(args.repeats), "--budget", str(args.budget)])
                got = [{"method": method, "n": n, **got}] if isinstance(got, dict) else got
                for r in got:
                    rows.append(r)
                    print(table([r], args.queries, args.k).splitlines()[-1], flush=True)
    _protocol.report(rows, table(rows, args.queries, args.k),
                     f"total wall time {time.perf_counter() - t0:.0f} s, 1 thread, D = {DIM}, {PER_CLASS} items per class, "
                     f"noise {NOISE}, nlist {args.nlist}", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
