"""The examples an exercise is graded on, drawn once per grading process.

Hypothesis draws each strategy's examples (fixed seed, no database, generation only), and the
reference's output on each is computed once. Both depend only on the exercise, the strategy,
the seed and the number of examples, never on a submission, so a class run (or ``hnm check``
run twice in one notebook) pays for them once: every student is judged on exactly the examples
Hypothesis would have drawn for them alone, in the same order. ``hnm check`` also keeps the
public seed's draws on disk between runs (:mod:`grader.engine.example_store`, see :func:`use_store`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.strategies import SearchStrategy

from grader.engine.example_store import Store
from grader.engine.model import SEED
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
_store: Store | None = None


def use_store(store: Store | None) -> None:
    """Read and keep the public seed's draws in ``store`` from now on (None: draw every time)."""
    global _store
    _store = store


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
    return _remember(cache_key, Drawn(recorded, [key(a) for a in recorded], reference, strategy))


def _remember(cache_key: tuple, drawn: Drawn) -> Drawn:
    _drawn[cache_key] = drawn
    while len(_drawn) > _CACHE_ENTRIES:
        _drawn.popitem(last=False)
    return drawn


def draw_all(exercise_id: str, reference: Callable, wanted: list[tuple[SearchStrategy, int]], seed_: int) -> list[Drawn]:
    """:func:`draw` for each ``(strategy, examples)`` of one exercise, in order. With a store and
    the public seed, the draws come from (or go to) the exercise's file there."""
    if _store is None or seed_ != SEED or all((exercise_id, id(s), seed_, n) in _drawn for s, n in wanted):
        return [draw(exercise_id, reference, s, seed_, n) for s, n in wanted]
    counts = [n for _, n in wanted]
    kept = _store.read(exercise_id, seed_, counts)
    if kept is not None:
        return [_remember((exercise_id, id(s), seed_, n), Drawn(examples, keys, reference, s))
                for (s, n), (examples, keys) in zip(wanted, kept)]
    out = [draw(exercise_id, reference, s, seed_, n) for s, n in wanted]
    _store.write(exercise_id, seed_, counts, [d.keys for d in out])
    return out
