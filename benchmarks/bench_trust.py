"""What trivial answers and honest near-misses earn: the points of every exercise graded
in-process (``LocalCaller``, the public seed) for

* the trivial answers in ``tests/grader_variants.py`` ``TRIVIAL`` (empty or zero results,
  one correct triplet per batch, ``(a, a, a)``, uniform weights, a 0/1 overlap mask, the top
  box alone, one RoI, a constant loss, ...): structurally valid, useless;
* the near-misses ``MUTANTS`` (each deliberately wrong in one rule: an inclusive bound, no
  clamp, the farthest negative in the window, ...).

The speed point is not run (loop versions would take minutes); a vectorised answer earns it
when it keeps half of the other points, so the table adds it where that gate is met
("with speed"). Prints a Markdown table per exercise and the totals.

Usage: python benchmarks/bench_trust.py [--examples 100] [--only EXERCISE] [--list]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from grader.engine import DEFAULT_EXAMPLES, ExerciseRun, LocalCaller  # noqa: E402
from grader.suites.registry import REGISTRY  # noqa: E402
from tests.grader_variants import MUTANTS, TRIVIAL  # noqa: E402


def points(exercise_id: str, fn, examples: int) -> tuple[float, float]:
    """(points without the speed point, points with it where its gate is met)."""
    exercise = REGISTRY[exercise_id]
    speed = sum(p.points for p in exercise.properties if p.scale)
    rules = dataclasses.replace(exercise, properties=tuple(p for p in exercise.properties if not p.scale))
    score = ExerciseRun(rules, LocalCaller({exercise_id: fn}), examples=examples, shrink=False).run().score
    return score, score + (speed if 2 * score >= rules.max_score else 0.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES)
    ap.add_argument("--only", action="append", help="exercise id (repeatable)")
    ap.add_argument("--list", action="store_true", help="one line per answer, not only the summary")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    ids = args.only or list(REGISTRY)
    summary = []
    for exercise_id in ids:
        trivial = [(fn.__name__, *points(exercise_id, fn, args.examples)) for fn in TRIVIAL[exercise_id]]
        near = [(fn.__name__, target, *points(exercise_id, fn, args.examples)) for fn, target in MUTANTS[exercise_id].items()]
        if args.list:
            for name, score, with_speed in trivial:
                print(f"{exercise_id:20s} trivial   {name:32s} {score:5.2f} {with_speed:5.2f}")
            for name, target, score, with_speed in near:
                print(f"{exercise_id:20s} near-miss {name:32s} {score:5.2f} {with_speed:5.2f}  ({target})")
        tmax = max(trivial, key=lambda t: t[2])
        nmin = min(near, key=lambda t: t[3])
        summary.append((exercise_id, tmax, nmin, statistics.median(t[3] for t in near)))
    print("| exercise | best trivial answer (with speed) | weakest near-miss (with speed) | median near-miss |")
    print("|---|---|---|---:|")
    for exercise_id, (tname, _, tpts), (nname, _, _, npts), median in summary:
        print(f"| {exercise_id} | {tpts:g} ({tname}) | {npts:g} ({nname}) | {median:g} |")
    total = sum(t[1][2] for t in summary)
    print(f"| total | {total:g} of {10 * len(summary)} | | |")
    print(f"({args.examples} examples per property, public seed; {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
