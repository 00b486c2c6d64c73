"""Helpers shared by the property suites."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch

from grader.sandbox import codec
from grader.engine import Case, CheckFailed, Property


PER_EXAMPLE = 4096  # derived values kept per suite: every example of an exercise (at most ~900), for a whole class run


def per_example(compute: Callable[..., Any]) -> Callable[..., Any]:
    """``compute(args, *more)`` once per example ``args`` (``more``, e.g. the reference's output on
    it, is a function of the example too): a suite's derived values (oracles, orders, tolerances)
    are functions of the example alone, and the engine keeps its examples for the whole grading
    process, so every student of a class run is judged against values computed once. Keyed by
    the example's identity (held, so the key cannot be reused); the oldest are dropped beyond
    :data:`PER_EXAMPLE`."""
    kept: OrderedDict[int, tuple[list, Any]] = OrderedDict()

    def cached(args: list, *more: Any) -> Any:
        hit = kept.get(id(args))
        if hit is not None and hit[0] is args:
            return hit[1]
        value = compute(args, *more)
        kept[id(args)] = (args, value)
        while len(kept) > PER_EXAMPLE:
            kept.popitem(last=False)
        return value

    cached.__doc__ = compute.__doc__
    return cached


def tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, codec.RejectedValue):
        raise CheckFailed(f"{what} must be a plain torch.Tensor, got {value.what}")
    if not isinstance(value, torch.Tensor):
        raise CheckFailed(f"{what} must be a torch.Tensor, got {type(value).__name__}")
    return value


def scalar_loss_problem(case: Case, like: str) -> str | None:
    """Whether the loss is a 0-d tensor in the dtype and on the device of the first input, ``like``."""
    out = tensor(case.actual, "the loss")
    first = case.args[0]
    if out.dim() != 0:
        return f"the loss must be a 0-d tensor, got shape {tuple(out.shape)}"
    if out.dtype != first.dtype:
        return f"the loss must have {like}' dtype {first.dtype}, got {out.dtype}" if like.endswith("s") else \
            f"the loss must have {like}'s dtype {first.dtype}, got {out.dtype}"
    if codec.device_of(out) != case.device:
        return f"the loss is on {codec.device_of(out)}, but the inputs were on {case.device}"
    return None


def loss_value(case: Case) -> float:
    """The student's loss as a float: a single floating number (a 0-d tensor), else CheckFailed."""
    out = tensor(case.actual, "the loss")
    if out.numel() != 1:
        raise CheckFailed(f"the loss must be a single number (a 0-d tensor), got shape {tuple(out.shape)}")
    if not out.dtype.is_floating_point:
        raise CheckFailed(f"the loss must be a floating tensor, got dtype {out.dtype}")
    return float(out.reshape(()).item())


def index_triplets(value: Any, b: int) -> tuple[list[int], list[int], list[int]]:
    """Leniently read ``(anchors, positives, negatives)``: any integer tensors of equal length."""
    if isinstance(value, codec.RejectedValue):
        raise CheckFailed(f"expected a tuple of three tensors, got {value.what}")
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise CheckFailed("expected a tuple (anchors, positives, negatives) of three tensors")
    parts = []
    for name, t in zip(("anchors", "positives", "negatives"), value):
        t = tensor(t, name)
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.dim() != 1:
            raise CheckFailed(f"{name} must be a 1-D integer tensor, got dtype {t.dtype} and shape {tuple(t.shape)}")
        values = t.tolist()
        if any(v < 0 or v >= b for v in values):
            raise CheckFailed(f"{name} holds an index outside [0, {b})")
        parts.append(values)
    if not len(parts[0]) == len(parts[1]) == len(parts[2]):
        raise CheckFailed("anchors, positives and negatives must have equal lengths")
    return parts[0], parts[1], parts[2]


def strict_triplet_structure(case: Case) -> str | None:
    """Exactly a tuple/list of three int64 1-D tensors of equal length on the input's device."""
    value = case.actual
    if isinstance(value, codec.RejectedValue) or not isinstance(value, (tuple, list)) or len(value) != 3:
        return f"expected a tuple of three tensors, got {value!r}"[:300]
    for name, t in zip(("anchors", "positives", "negatives"), value):
        if isinstance(t, codec.RejectedValue) or not isinstance(t, torch.Tensor):
            return f"{name} must be a plain torch.Tensor, got {t!r}"[:300]
        if t.dtype != torch.int64 or t.dim() != 1:
            return f"{name} must be a 1-D int64 tensor, got dtype {t.dtype} and shape {tuple(t.shape)}"
        if codec.device_of(t) != case.device:
            return f"{name} is on {codec.device_of(t)}, but the inputs were on {case.device}"
    if len({t.shape[0] for t in value}) != 1:
        return "anchors, positives and negatives must have equal lengths"
    return None


def triplet_summary_structure(summary: Any) -> str | None:
    """The scale-summary version of :func:`strict_triplet_structure`."""
    items = summary.get("items") if isinstance(summary, dict) else None
    if not isinstance(items, list) or len(items) != 3:
        return "expected a tuple of three tensors"
    if any(not isinstance(i, dict) or i.get("tensor") != "int64" or len(i.get("shape", [])) != 1 for i in items):
        return "expected three 1-D int64 tensors"
    if len({i["shape"][0] for i in items}) != 1:
        return "anchors, positives and negatives must have equal lengths"
    return None


def guarded(check):
    """Turn ``CheckFailed`` raised inside a check into its message."""

    def run(case: Case) -> str | None:
        try:
            return check(case)
        except CheckFailed as exc:
            return str(exc)

    run.__doc__ = check.__doc__
    run.__wrapped__ = check
    return run


def inputs_unchanged(names: tuple[str, ...], readable):
    def check(case: Case) -> str | None:
        """The inputs are not modified in place (and the result is a readable answer)."""
        if case.mutated:
            return "modified its input(s) in place: " + ", ".join(names[i] for i in case.mutated if i < len(names))
        return readable(case)

    return check


def unchanged_property(strategy, names: tuple[str, ...], readable, points: float = 0.5) -> Property:
    """No points for leaving the inputs alone unless the function also returns an answer."""
    return Property(
        "inputs_unchanged", points, "The inputs are not modified in place.", strategy,
        guarded(inputs_unchanged(names, readable)),
    )


def scale_property(points: float = 1.0) -> Property:
    return Property(
        "scale", points,
        "Vectorised: a large batch (B = 2048) finishes within 10x the reference's time (at least 2 s).",
        scale=True,
    )


def neg_mask(labels: torch.Tensor) -> torch.Tensor:
    return labels[:, None] != labels[None, :]


def pos_mask(labels: torch.Tensor) -> torch.Tensor:
    same = labels[:, None] == labels[None, :]
    return same & ~torch.eye(labels.shape[0], dtype=torch.bool)


def edge_property(strategy, check, points: float = 0.5) -> Property:
    """Accepts every valid input: empty batches, singletons, single-class and all-unique labels.

    Rule properties ignore exceptions on such edge inputs; this property does not."""
    return Property(
        "handles_edge_cases", points,
        "Accepts every valid input (B = 0, 1, 2, single-class and all-unique labels) without raising.",
        strategy, guarded(check), edge=True,
    )


def mining_ordinary(args) -> bool:
    """B >= 3 with at least one positive pair and one negative pair."""
    labels = args[1]
    return labels.shape[0] >= 3 and bool(pos_mask(labels).any()) and bool(neg_mask(labels).any())


def lenient_triplets(case: Case) -> str | None:
    """The result can be read as (anchors, positives, negatives)."""
    index_triplets(case.actual, case.args[0].shape[0])
    return None


def triplets_substantive(case: Case) -> bool | None:
    """Telling when the reference returns triplets; substantive when the answer has some."""
    if not case.expected[0].numel():
        return None
    return len(index_triplets(case.actual, case.args[0].shape[0])[0]) > 0


def scalar_summary_structure(summary: Any) -> str | None:
    """The scale summary of a loss: a floating 0-d tensor."""
    if not isinstance(summary, dict) or summary.get("tensor") not in ("float32", "float64"):
        return "expected a floating tensor"
    return None if summary.get("shape") == [] else "expected a 0-d tensor"


def square_summary_structure(summary: Any) -> str | None:
    """The scale summary of a floating ``[B, B]`` matrix (B = grader.sandbox.scale.SIZE)."""
    from grader.sandbox.scale import SIZE

    if not isinstance(summary, dict) or summary.get("tensor") not in ("float32", "float64"):
        return "expected a floating tensor"
    return None if summary.get("shape") == [SIZE, SIZE] else f"expected shape ({SIZE}, {SIZE})"


# Agreement asks whether an answer computes the same quantity as the reference, not whether it
# is exact to the last bits (the rules judge that): values also agree within this relative
# tolerance, so e.g. a float32 step inside a float64 answer or an ``eps`` in a denominator
# costs the accuracy rule, not the whole exercise.
AGREE_RTOL = 1e-5


def agree_close(got: torch.Tensor, want: torch.Tensor, tol: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Element-wise: ``got`` within ``tol`` or within AGREE_RTOL (relative, at least 1e-12) of
    ``want`` (float64 comparisons; NaN never agrees)."""
    got, want = got.detach().cpu().double(), want.detach().cpu().double()
    return (got - want).abs() <= torch.as_tensor(tol, dtype=torch.float64) + AGREE_RTOL * want.abs() + 1e-12


def agrees(check, telling=lambda case: True):
    """An ``agreement`` function from a check: ``None`` where ``telling(case)`` is false (the
    example cannot tell), else whether ``check`` finds nothing wrong. An answer the check
    cannot read (any exception) disagrees."""

    def agreement(case: Case) -> bool | None:
        if not telling(case):
            return None
        try:
            return check(case) is None
        except Exception:  # noqa: BLE001 - an unreadable answer does not agree
            return False

    agreement.__doc__ = check.__doc__
    return agreement


def scale_checked(compare):
    """A ``scale_agreement`` function from ``compare(inputs, actual, expected)``: its message, the
    ``CheckFailed`` message raised inside it, or a message for an answer it cannot read."""

    def scale_agreement(args: list, actual: Any, expected: Any) -> str | None:
        try:
            return compare(args, actual, expected)
        except CheckFailed as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - e.g. an output of a shape no comparison expects
            return f"the result could not be compared with the reference's ({type(exc).__name__}: {exc})"[:300]

    scale_agreement.__doc__ = compare.__doc__
    return scale_agreement


def scale_triplets(value: Any, b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(anchors, positives, negatives)`` of a scale answer, read leniently and vectorised:
    three 1-D integer tensors of equal length holding indices in ``[0, b)``, as int64 on the CPU."""
    if isinstance(value, codec.RejectedValue) or not isinstance(value, (tuple, list)) or len(value) != 3:
        raise CheckFailed("expected a tuple (anchors, positives, negatives) of three tensors")
    parts = []
    for name, t in zip(("anchors", "positives", "negatives"), value):
        t = tensor(t, name)
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex() or t.dim() != 1:
            raise CheckFailed(f"{name} must be a 1-D integer tensor, got dtype {t.dtype} and shape {tuple(t.shape)}")
        t = t.detach().cpu().long()
        if t.numel() and not bool(((t >= 0) & (t < b)).all()):
            raise CheckFailed(f"{name} holds an index outside [0, {b})")
        parts.append(t)
    if not parts[0].shape == parts[1].shape == parts[2].shape:
        raise CheckFailed("anchors, positives and negatives must have equal lengths")
    return parts[0], parts[1], parts[2]
