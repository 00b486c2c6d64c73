"""The examples an exercise is graded on, drawn once per grading process.

Hypothesis draws each strategy's examples (fixed seed, no database, generation only), and the
reference's output on each is computed once. Both depend only on the exercise, the strategy,
the seed and the number of examples, never on a submission, so a class run (or ``hnm check``
run twice in one notebook) pays for them once: every student is judged on exactly the examples
Hypothesis would have drawn for them alone, in the same order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.strategies import SearchStrategy

from grader.sandbox import codec

_CACHE_ENTRIES = 64  # (exercise, strategy, seed, count) combinations kept per process


@dataclass
class Drawn:
    """One strategy's examples, with each one's content key and (lazily) the reference's output."""

    examples: list[list]
    keys: list[bytes]
    reference: Callable
    strategy: SearchStrategy  # held, so the id in the cache key cannot be reused
    _expected: dict[int, Any] = field(default_factory=dict)

    def expected(self, index: int) -> Any:
        if index not in self._expected:
            self._expected[index] = self.reference(*self.examples[index])
        return self._expected[index]


_drawn: OrderedDict[tuple, Drawn] = OrderedDict()


def key(args: list) -> bytes:
    """The content key of one example: equal inputs (values, dtypes, shapes) give equal keys."""
    return codec.dumps(codec.encode(list(args)))


def hypothesis_settings(examples: int, shrink: bool) -> settings:
    """The settings of every Hypothesis run of the engine: quiet, no database, no deadline."""
    return settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        verbosity=Verbosity.quiet,
        phases=(Phase.explicit, Phase.generate, Phase.shrink) if shrink else (Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )


@contextmanager
def without_local_constants() -> Iterator[None]:
    """Hypothesis (since 6.1xx) mixes into its draws literals it finds in the source of every
    "local" module the process has imported: then the examples would depend on what else was
    imported (``hnm check``, ``hnm grade``, a notebook, the test suite), on whether the course is
    installed or checked out (Gradescope), and on every literal anywhere in the project. The
    engine's draws must depend on the strategy and the seed alone: inside this block Hypothesis
    sees no local constants (its own built-in ones stay)."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:  # another Hypothesis layout: it has no local constants to hide
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if original is None or cache is None:
        yield
        return
    empty = Constants()
    providers._get_local_constants = lambda: empty
    cache.cache.clear()  # (global, local) constants per choice type, computed with the local ones
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.cache.clear()


def run_hypothesis(strategy: SearchStrategy, test: Callable, seed_: int, examples: int, shrink: bool) -> None:
    """Run ``test`` on the examples Hypothesis draws from ``strategy`` with ``seed_`` (the engine's
    settings, no local constants); raises what ``test`` raises."""
    with without_local_constants():
        hypothesis_settings(examples, shrink)(seed(seed_)(given(strategy)(test)))()


def draw(exercise_id: str, reference: Callable, strategy: SearchStrategy, seed_: int, examples: int) -> Drawn:
    """The examples Hypothesis draws from ``strategy`` with ``seed_`` (at most ``examples``), cached."""
    cache_key = (exercise_id, id(strategy), seed_, examples)
    if cache_key in _drawn:
        _drawn.move_to_end(cache_key)
        return _drawn[cache_key]
    recorded: list[list] = []

    def record(args):
        recorded.append(list(args))

    run_hypothesis(strategy, record, seed_, examples, shrink=False)
    drawn = Drawn(recorded, [key(a) for a in recorded], reference, strategy)
    _drawn[cache_key] = drawn
    while len(_drawn) > _CACHE_ENTRIES:
        _drawn.popitem(last=False)
    return drawn
