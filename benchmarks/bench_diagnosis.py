"""How often the feedback names the right known mistake, and how often it names one wrongly.

Every wrong variant in ``tests/grader_variants.py`` ``MUTANTS`` and every right one in ``CORRECT``
is graded in-process (``LocalCaller``, the public seed, without the speed point). For a wrong
variant that fails some rule, the diagnosis is *right* when the mistake named on its failing rules
is the one ``DIAGNOSED`` expects for it, *wrong* when another mistake is named (or one is named
for a variant ``DIAGNOSED`` does not list), and *none* otherwise. A right variant must get none.

Usage: python benchmarks/bench_diagnosis.py [--examples 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from grader.engine import DEFAULT_EXAMPLES, ExerciseRun, LocalCaller  # noqa: E402
from grader.suites.registry import REGISTRY  # noqa: E402
from tests.grader_variants import CORRECT, DIAGNOSED, MUTANTS  # noqa: E402


def named(exercise_id: str, fn, examples: int) -> tuple[bool, set[str]]:
    """(whether some rule failed, the mistakes named on the failing rules)."""
    exercise = REGISTRY[exercise_id]
    rules = dataclasses.replace(exercise, properties=tuple(p for p in exercise.properties if not p.scale))
    result = ExerciseRun(rules, LocalCaller({exercise_id: fn}), examples=examples, shrink=False).run()
    failed = [p for p in result.properties if not p.passed]
    return bool(failed), {p.diagnosis["name"] for p in failed if p.diagnosis}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES)
    args = ap.parse_args()
    torch.set_num_threads(1)
    right = wrong = none = failing = 0
    wrong_names = []
    for exercise_id, variants in MUTANTS.items():
        for fn in variants:
            failed, names = named(exercise_id, fn, args.examples)
            if not failed:
                continue
            failing += 1
            want = DIAGNOSED.get(fn.__name__)
            if not names:
                none += 1
            elif want is not None and names == {want}:
                right += 1
            else:
                wrong += 1
                wrong_names.append(f"{fn.__name__}: {sorted(names)} (expected {want})")
    false_on_correct = [f"{e}/{fn.__name__}" for e, fns in CORRECT.items() for fn in fns
                        if named(e, fn, args.examples)[1]]
    listed = sum(1 for fns in MUTANTS.values() for fn in fns if fn.__name__ in DIAGNOSED)
    print(f"wrong variants failing some rule: {failing} ({listed} of all variants have a known mistake in the bank)")
    print(f"right diagnosis: {right} ({right / failing:.0%} of the failing ones)" if failing else "right diagnosis: 0")
    print(f"wrong diagnosis: {wrong}" + (": " + "; ".join(wrong_names) if wrong_names else ""))
    print(f"no diagnosis: {none}")
    print(f"diagnoses on right variants: {len(false_on_correct)}" + (f" ({', '.join(false_on_correct)})" if false_on_correct else ""))
    print(f"({args.examples} examples, public seed, in-process, without the speed point)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
