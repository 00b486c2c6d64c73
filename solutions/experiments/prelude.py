"""What every lesson notebook does first, and how it reports a comparison.

Each lesson starts with ``device = start_lesson()`` instead of a repeated block of set-up
lines: one torch thread (the lessons' timings and results are for one core), every global
generator seeded, and the device picked (CUDA when present). The build script
(``lessons/build.py``) sets the environment that makes the CPU's math reproducible
(``REPRODUCIBLE_MATH``) before the kernel starts; that cannot be done from inside the kernel.

``choose`` picks a setting on validation scores with a stated tie rule, so that a selection
does not flip on the last-digit differences between CPUs. ``compare`` prints one paired verdict (:func:`solutions.experiments.stats.paired_verdict`)
next to the sentence it supports and returns it; ``print_key_results`` prints the lesson's
``KEY-RESULTS {json}`` line that ``tests/test_lessons.py`` compares across runs, with every
verdict as a dict that carries its interval.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence

import torch

from .stats import PairedVerdict, paired_verdict
from .training import seed_everything


def pick_device() -> str:
    """``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def start_lesson(seed: int = 0, threads: int = 1) -> str:
    """Limit torch to ``threads`` threads, seed every global generator with ``seed`` and
    return the device the lesson runs on."""
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)
    seed_everything(seed)
    return pick_device()


def choose(scores: Mapping[Hashable, Sequence[float]], tie: float = 0.01) -> Hashable:
    """The key of ``scores`` (per-seed validation results, higher is better) with the highest
    mean; keys whose mean is within ``tie`` of the best count as tied, and the first of them in
    the mapping's order wins (list the default setting first)."""
    if not scores:
        raise ValueError("scores must hold at least one setting")
    if tie < 0:
        raise ValueError(f"tie must be >= 0, got {tie!r}")
    means = {k: sum(map(float, v)) / len(v) for k, v in scores.items()}
    best = max(means.values())
    return next(k for k, m in means.items() if m >= best - tie)


def compare(a: Sequence[float], b: Sequence[float], names: tuple[str, str], *, higher_is_better: bool = True,
            digits: int = 3, word: str = "better") -> PairedVerdict:
    """Print and return the paired verdict of per-seed results ``a`` and ``b`` (same seeds);
    ``word`` names the direction in the printed line (see :meth:`PairedVerdict.text`)."""
    v = paired_verdict(a, b, names=names, higher_is_better=higher_is_better)
    print(v.text(digits, word))
    return v


def print_key_results(key: Mapping, verdicts: Mapping[str, PairedVerdict] | None = None) -> None:
    """Print ``KEY-RESULTS {json}`` (sorted keys); ``verdicts`` go under ``"verdicts"`` with
    their difference, interval and verdict."""
    out = dict(key)
    if verdicts:
        if "verdicts" in out:
            raise ValueError("key must not hold 'verdicts' when verdicts are given")
        out["verdicts"] = {name: v.as_dict() for name, v in verdicts.items()}
    print("KEY-RESULTS " + json.dumps(out, sort_keys=True))
