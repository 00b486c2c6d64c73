"""Computed quiz questions: small random instances, keyed by the references, with distractors
that are the answers of plausible wrong computations.

A generator takes a ``random.Random`` and returns ``(prompt, key, wrong)``: the prompt (which
states every rule the key depends on: strict bounds, tie rules, conventions), the keyed
answer as text, computed by the reference implementation in ``solutions``, and
``{misconception: answer text}``, each the answer a named wrong computation gives on the
same instance (an inclusive bound, the union not reduced by the intersection, the
pessimistic tie rule, ...). :func:`make` keeps the misconceptions whose answer differs from
the key, draws three of them at random and shuffles the four options; an instance that
offers fewer than three distinct wrong answers is discarded and drawn again (``Retry``).
No distractor is a fixed transform of the key: each one is computed from the instance.

``GENERATORS[name](rng)`` returns ``(prompt, choices, answer_index, sources)``; ``sources``
names what each option is (``"key"`` or the misconception), for item analysis.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable

import torch

import solutions as S

MAX_TRIES = 500
WRONG_PER_QUESTION = 3
KEY = "key"

Instance = tuple[str, list[str], int, list[str]]
GENERATORS: dict[str, Callable[[random.Random], Instance]] = {}


class Retry(Exception):
    """The drawn instance cannot make a fair question (too few distinct wrong answers, a tie
    the prompt does not settle): draw another."""


def _value(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_RELATIONS = (lambda x: x / 2, lambda x: 2 * x, lambda x: 1 - x, lambda x: x * x, lambda x: math.sqrt(abs(x)),
              lambda x: x + 1, lambda x: x - 1, lambda x: -x)


def _centrality(options: list[str]) -> list[float]:
    """How much each option looks like the one the others were derived from: for numbers, how
    many others it relates to by a simple transform (x/2, 2x, 1 - x, x^2, sqrt x, x +- 1, -x,
    either way); for text, its summed word overlap (Jaccard) with the others."""
    values = [_value(t) for t in options]
    if None not in values:
        def related(x, y):
            return any(abs(f(x) - y) < 1e-3 or abs(f(y) - x) < 1e-3 for f in _RELATIONS)
        return [float(sum(related(x, y) for j, y in enumerate(values) if j != i)) for i, x in enumerate(values)]
    words = [set(t.lower().replace(",", " ").replace("[", " ").replace("]", " ").split()) for t in options]
    return [sum(len(w & v) / len(w | v) for j, v in enumerate(words) if j != i and w | v) for i, w in enumerate(words)]


def _same_decimals(texts: list[str]) -> list[str]:
    """Numbers written with one number of decimals, so their lengths say nothing."""
    if any(_value(t) is None for t in texts):
        return texts
    places = max((len(t.split(".")[1]) if "." in t else 0) for t in texts)
    return [f"{float(t):.{places}f}" for t in texts]


def make(rng: random.Random, prompt: str, key: str, wrong: dict[str, str | None], rank: int) -> Instance:
    """Four shuffled options: the key and three distinct misconception answers drawn at random.

    ``rank`` is the key's place among the options (by value for numbers, else by length),
    drawn uniformly by the caller before the instance, so "pick the largest / the middle one /
    the longest" is right a quarter of the time. Among the triples of misconceptions that give
    the key that rank, one is drawn at random, preferring those where the key is not the
    option the others look derived from (see :func:`_centrality`). An instance with no such
    triple is discarded (``Retry``). Numbers are written with the same number of decimals."""
    distinct: dict[str, str] = {}
    for name in sorted(wrong):
        text = wrong[name]
        if text is not None and text != key:
            distinct.setdefault(text, name)
    items = sorted(distinct.items(), key=lambda item: item[1])
    numeric = all(_value(t) is not None for t in [key, *distinct])
    measure = (lambda t: float(t)) if numeric else len
    fits, hubless = [], []
    for triple in itertools.combinations(items, WRONG_PER_QUESTION):
        below = sum(measure(t) < measure(key) for t, _ in triple)
        level = sum(measure(t) == measure(key) for t, _ in triple)
        if not below <= rank <= below + level:
            continue
        fits.append(triple)
        shown = _same_decimals([key] + [t for t, _ in triple])
        centre = _centrality(shown)
        if not all(centre[0] > c for c in centre[1:]):
            hubless.append(triple)
    if not fits:
        raise Retry
    chosen = list(rng.choice(hubless or fits))
    options = [(key, KEY)] + chosen
    rng.shuffle(options)
    texts = _same_decimals([t for t, _ in options])
    return prompt, texts, [t for t, _ in options].index(key), [s for _, s in options]


def generator(fn=None, *, ranks: tuple[int, ...] = tuple(range(WRONG_PER_QUESTION + 1))):
    """Register ``fn`` under its name; the registered function draws the key's rank (from
    ``ranks``: a question whose misconceptions cannot all fall on one side of the key leaves
    that rank out), then instances until one fits.

    ``fn(rng)`` returns ``(prompt, key, wrong)``, or ``(prompt, key, wrong, reference)`` where
    ``key`` was computed by a quick mirror of the rule and ``reference()`` computes it with the
    reference implementation: the reference is called only for an instance that fits, and an
    instance where the two disagree (a float rounding at a bound) is discarded."""
    if fn is None:
        return lambda f: generator(f, ranks=ranks)

    def run(rng: random.Random) -> Instance:
        rank = rng.choice(ranks)
        for _ in range(MAX_TRIES):
            try:
                drawn = fn(rng)
                instance = make(rng, *drawn[:3], rank)
                if len(drawn) > 3 and drawn[3]() != drawn[1]:
                    raise Retry
                return instance
            except Retry:
                continue
        raise RuntimeError(f"generator {fn.__name__} found no fair instance in {MAX_TRIES} tries")

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    run.ranks = ranks
    GENERATORS[fn.__name__] = run
    return run


# --------------------------------------------------------------------------- formatting
def num(x: float) -> str:
    """A number with at most 3 decimals, no trailing zeros ("0.5", "0.333", "2")."""
    text = f"{x:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def point(j: int | None) -> str | None:
    return None if j is None else f"point {j}"


DROPPED = "dropped"  # as long as "point 3": the length of an option says nothing
NONE_KEY_RATE = 0.1  # how often "dropped" is the key, so that it is a distractor more often than a key


def listing(values) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


# --------------------------------------------------------------------------- small batches
def _grid_batch(rng: random.Random, n: int, classes: int):
    """A symmetric distance matrix on a 1/8 grid (exact in binary floating point, so ties are
    real ties) and labels where some class has at least two members."""
    while True:
        labels = [rng.randrange(classes) for _ in range(n)]
        if len(set(labels)) > 1 and any(labels.count(c) > 1 for c in set(labels)):
            break
    d = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            d[i][j] = d[j][i] = rng.randint(1, 12) / 8
    return d, labels


def _matrix_text(d, labels) -> str:
    rows = ["       " + " ".join(f"{j:>6}" for j in range(len(labels)))]
    for i, row in enumerate(d):
        rows.append(f"{i:>5}: " + " ".join(f"{v:6.3f}" for v in row) + f"   label {labels[i]}")
    return "\n".join(rows)


def _pair(rng: random.Random, labels) -> tuple[int, int]:
    pairs = [(a, p) for a in range(len(labels)) for p in range(len(labels)) if a != p and labels[a] == labels[p]]
    return rng.choice(pairs)


def _closest(row, candidates, larger_index_on_ties: bool = False):
    """The candidate with the smallest distance (ties: smaller index, or larger)."""
    if not candidates:
        return None
    sign = -1 if larger_index_on_ties else 1
    return min(candidates, key=lambda j: (row[j], sign * j))


def _farthest(row, candidates):
    if not candidates:
        return None
    return min(candidates, key=lambda j: (-row[j], j))


def _triplets(fn, d, labels, *args):
    out = fn(torch.tensor(d), torch.tensor(labels), *args)
    return list(zip(*(t.tolist() for t in out)))


# --------------------------------------------------------------------------- miners (lesson 2)
@generator
def semi_hard_pick(rng):
    """Which negative does the semi-hard miner pick for a positive pair?"""
    n = 6
    want_dropped = rng.random() < NONE_KEY_RATE
    d, labels = _grid_batch(rng, n, rng.choice([2, 3]))
    margin = rng.choice([0.25, 0.375, 0.5])
    a, p = _pair(rng, labels)
    row, dap = d[a], d[a][p]
    negs = [j for j in range(n) if labels[j] != labels[a]]
    window = [j for j in negs if dap < row[j] < dap + margin]
    if bool(window) == want_dropped:
        raise Retry
    key = point(_closest(row, window)) or DROPPED

    def reference():
        picks = {(x, y): z for x, y, z in _triplets(S.semi_hard_negatives, d, labels, margin)}
        return point(picks.get((a, p))) or DROPPED
    beyond = [j for j in negs if row[j] > dap]
    wrong = {
        "upper bound inclusive": _closest(row, [j for j in negs if dap < row[j] <= dap + margin]),
        "lower bound inclusive": _closest(row, [j for j in negs if dap <= row[j] < dap + margin]),
        "no lower bound (hardest negative)": _closest(row, [j for j in negs if row[j] < dap + margin]),
        "no upper bound, farthest as fallback (TF-Addons)": _closest(row, beyond) if beyond else _farthest(row, negs),
        "farthest negative in the window": _farthest(row, window),
        "positives count as candidates": _closest(row, [j for j in range(n) if j not in (a, p) and dap < row[j] < dap + margin]),
        "distances from the positive, not the anchor": _closest(d[p], [j for j in negs if dap < d[p][j] < dap + margin]),
        "window below the positive": _closest(row, [j for j in negs if dap - margin < row[j] < dap]),
        "ties to the larger index": _closest(row, window, larger_index_on_ties=True),
    }
    wrong = {k: (point(v) if v is not None else DROPPED) for k, v in wrong.items()}
    prompt = (
        f"Distances and labels:\n{_matrix_text(d, labels)}\n"
        f"Margin {margin}. The semi-hard negative of a positive pair (a, p) is the negative n closest to a "
        "with d(a,p) < d(a,n) < d(a,p) + margin (both bounds strict; ties: the smaller index); a pair with no "
        f"such negative is dropped. Which is the semi-hard negative of the pair ({a}, {p}), or is the pair dropped?"
    )
    return prompt, key, wrong, reference


@generator
def window_count(rng):
    """How many negatives lie strictly inside the semi-hard window of a pair?"""
    n = 8
    d, labels = _grid_batch(rng, n, rng.choice([2, 3]))
    margin = rng.choice([0.5, 0.625, 0.75])
    a, p = _pair(rng, labels)
    row, dap = d[a], d[a][p]
    negs = [j for j in range(n) if labels[j] != labels[a]]
    positives = [j for j in range(n) if j != a and labels[j] == labels[a]]
    far_p = max(row[j] for j in positives)
    near_p = min(row[j] for j in positives)

    def count(lo_ok, hi_ok, pool=negs, base=dap):
        return str(sum(1 for j in pool if lo_ok(row[j], base) and hi_ok(row[j], base)))

    strict_lo, strict_hi = (lambda x, b: x > b), (lambda x, b: x < b + margin)
    key = count(strict_lo, strict_hi)
    wrong = {
        "upper bound inclusive": count(strict_lo, lambda x, b: x <= b + margin),
        "no lower bound": count(lambda x, b: True, strict_hi),
        "no upper bound": count(strict_lo, lambda x, b: True),
        "hard negatives (closer than the positive)": count(lambda x, b: x < b, lambda x, b: True),
        "window of the anchor's farthest positive": count(strict_lo, strict_hi, base=far_p),
        "window of the anchor's closest positive": count(strict_lo, strict_hi, base=near_p),
        "positives counted too": count(strict_lo, strict_hi, pool=[j for j in range(n) if j not in (a, p)]),
        "upper bound read as the margin itself": count(strict_lo, lambda x, b: x < margin),
        "one per pair: the miner's pick": str(min(1, int(count(strict_lo, strict_hi)))),
    }
    prompt = (
        f"Distances and labels:\n{_matrix_text(d, labels)}\n"
        f"Margin {margin}. How many negatives n of anchor {a} lie in the semi-hard window of the positive pair "
        f"({a}, {p}), d(a,p) < d(a,n) < d(a,p) + margin (both bounds strict)?"
    )
    return prompt, key, wrong


def _pn(p, n) -> str | None:
    return None if p is None or n is None else f"p = {p}, n = {n}"


@generator
def batch_hard_pick(rng):
    """Which (positive, negative) does batch-hard pick for an anchor?"""
    n = 6
    d, labels = _grid_batch(rng, n, rng.choice([2, 3]))
    a = rng.choice([x for x in range(n) if labels.count(labels[x]) > 1])
    row = d[a]
    pos = [j for j in range(n) if j != a and labels[j] == labels[a]]
    negs = [j for j in range(n) if labels[j] != labels[a]]
    far_p, near_p = _farthest(row, pos), _closest(row, pos)
    near_n, far_n = _closest(row, negs), _farthest(row, negs)
    key = _pn(far_p, near_n)

    def reference():
        mined = {x: (y, z) for x, y, z in _triplets(S.batch_hard, d, labels)}
        return _pn(*mined[a])
    wrong = {
        "closest positive": _pn(near_p, near_n),
        "farthest negative": _pn(far_p, far_n),
        "closest positive and farthest negative": _pn(near_p, far_n),
        "closest other point, any label, as the negative": _pn(far_p, _closest(row, [j for j in range(n) if j not in (a, far_p)])),
        "semi-hard negative of the farthest positive (margin 0.25)":
            _pn(far_p, _closest(row, [j for j in negs if row[far_p] < row[j] < row[far_p] + 0.25])),
        "ties to the larger index": _pn(max(pos, key=lambda j: (row[j], j)), _closest(row, negs, larger_index_on_ties=True)),
    }
    prompt = (
        f"Distances and labels:\n{_matrix_text(d, labels)}\n"
        "Batch-hard mining gives anchor a one triplet: its farthest positive p (same label, p ≠ a) and its closest "
        f"negative n (ties: the smaller index). Which (p, n) does it give anchor {a}?"
    )
    return prompt, key, wrong, reference


@generator
def hardest_pick(rng):
    """Which negative does the hardest-negative miner pick for a positive pair?"""
    n = 6
    d, labels = _grid_batch(rng, n, rng.choice([2, 3]))
    a, p = _pair(rng, labels)
    row, dap = d[a], d[a][p]
    negs = [j for j in range(n) if labels[j] != labels[a]]
    key = point(_closest(row, negs))

    def reference():
        picks = {(x, y): z for x, y, z in _triplets(S.hardest_negatives, d, labels)}
        return point(picks[(a, p)])
    beyond = [j for j in negs if row[j] > dap]
    wrong = {
        "closest other point, any label": _closest(row, [j for j in range(n) if j not in (a, p)]),
        "farthest negative": _farthest(row, negs),
        "closest to the positive instead of the anchor": _closest(d[p], negs),
        "semi-hard negative (margin 0.25)": _closest(row, [j for j in negs if dap < row[j] < dap + 0.25]),
        "closest negative farther than the positive": _closest(row, beyond),
        "ties to the larger index": _closest(row, negs, larger_index_on_ties=True),
    }
    wrong = {k: point(v) for k, v in wrong.items()}
    prompt = (
        f"Distances and labels:\n{_matrix_text(d, labels)}\n"
        "The hardest-negative miner pairs each positive pair (a, p) with the negative closest to the anchor a "
        f"(ties: the smaller index), whatever d(a,p). Which negative does it pick for the pair ({a}, {p})?"
    )
    return prompt, key, wrong, reference


@generator
def dw_zero(rng):
    """Which points get distance weight 0 in an anchor's row?"""
    labels = [0] + [rng.randrange(4) for _ in range(5)]
    if labels[1:].count(0) != 1:
        raise Retry
    values = [0.25, 0.375, 0.5, 0.75, 1.0, 1.25, 1.375, 1.4, 1.5, 1.625, 1.75]
    row = [0.0] + [rng.choice(values) for _ in range(5)]
    dist = torch.zeros(6, 6, dtype=torch.float64)
    dist[0] = torch.tensor(row, dtype=torch.float64)
    w = S.distance_weights(dist, torch.tensor(labels), dim=8)[0].tolist()
    key = listing([j for j in range(1, 6) if w[j] == 0])
    same = [j for j in range(1, 6) if labels[j] == 0]
    negs = [j for j in range(1, 6) if labels[j] != 0]

    def zero(pred, with_same=True):
        out = sorted((same if with_same else []) + [j for j in negs if pred(row[j])])
        return listing(out) if out else None

    wrong = {
        "same-label points keep a weight": zero(lambda x: x >= 1.4, with_same=False),
        "strict bound (only beyond 1.4)": zero(lambda x: x > 1.4),
        "distances below cutoff get 0": zero(lambda x: x < 0.5 or x >= 1.4),
        "only same-label points": zero(lambda x: False),
        "cutoff read as the upper bound (0 at d >= 0.5)": zero(lambda x: x >= 0.5),
        "nonzero_loss_cutoff read as a lower bound (0 below 1.4)": zero(lambda x: x < 1.4),
        "far points kept, near ones dropped (0 at d < 0.5)": zero(lambda x: x < 0.5),
    }
    prompt = (
        f"Anchor 0 has label 0. Points 1-5 have labels {labels[1:]} and distances {row[1:]} from it. "
        "distance_weights(dist, labels, dim=8, cutoff=0.5, nonzero_loss_cutoff=1.4) excludes negatives at "
        "d >= nonzero_loss_cutoff (bound inclusive). Which points get weight 0 in anchor 0's row?"
    )
    return prompt, key, wrong


@generator
def positive_pairs_count(rng):
    """How many ordered positive pairs does a batch have?"""
    labels = [rng.randrange(3) for _ in range(rng.randint(5, 8))]
    counts = [labels.count(c) for c in sorted(set(labels))]
    key = sum(k * (k - 1) for k in counts)
    if key == 0:
        raise Retry
    b = len(labels)
    wrong = {
        "self-pairs (a, a) included": sum(k * k for k in counts),
        "anchors that have a positive": sum(k for k in counts if k > 1),
        "ordered negative pairs": b * b - sum(k * k for k in counts),
        "pairs per class counted once each": sum(k - 1 for k in counts if k > 1),
        "every ordered pair, any labels": b * (b - 1),
    }
    prompt = f"Labels {labels}. How many ordered positive pairs (a, p), with a ≠ p and equal labels, does the batch have?"
    return prompt, str(key), {k: str(v) for k, v in wrong.items()}


@generator
def usable_anchor_count(rng):
    """How many anchors yield a batch-hard triplet?"""
    labels = [rng.randrange(4) for _ in range(rng.randint(5, 8))]
    dist = torch.ones(len(labels), len(labels))
    key = S.batch_hard(dist, torch.tensor(labels))[0].numel()
    counts = [labels.count(c) for c in sorted(set(labels))]
    wrong = {
        "classes with a positive pair": sum(1 for k in counts if k > 1),
        "every point": len(labels),
        "ordered positive pairs": sum(k * (k - 1) for k in counts),
        "singletons (they have only negatives)": sum(1 for k in counts if k == 1),
        "unordered positive pairs": sum(k * (k - 1) // 2 for k in counts),
    }
    prompt = (f"Labels {labels}. Batch-hard needs, for an anchor a, a positive p ≠ a with a's label and a negative. "
              "How many anchors yield a batch-hard triplet?")
    return prompt, str(key), {k: str(v) for k, v in wrong.items()}


# --------------------------------------------------------------------------- distances (lesson 1)
@generator
def distance_value(rng):
    """The Euclidean distance between two points."""
    a = [rng.randint(-3, 3) for _ in range(2)]
    b = [rng.randint(-3, 3) for _ in range(2)]
    dx, dy = abs(a[0] - b[0]), abs(a[1] - b[1])
    if dx == 0 or dy == 0:
        raise Retry
    d = S.pairwise_distances(torch.tensor([a, b], dtype=torch.float64))[0, 1].item()
    wrong = {
        "no square root (squared distance)": num(dx * dx + dy * dy),
        "Manhattan distance": num(dx + dy),
        "largest coordinate difference": num(max(dx, dy)),
        "root of the summed absolute differences": num(math.sqrt(dx + dy)),
        "mean of the coordinate differences": num((dx + dy) / 2),
        "coordinates added instead of subtracted": num(math.hypot(a[0] + b[0], a[1] + b[1])),
    }
    prompt = f"What is the Euclidean distance between the points {tuple(a)} and {tuple(b)} (3 decimals)?"
    return prompt, num(d), wrong


def _orient(rng: random.Random, v: tuple[int, int]) -> tuple[int, int]:
    """``v`` under a random symmetry of the square grid (swap and sign flips)."""
    x, y = (v[1], v[0]) if rng.random() < 0.5 else v
    return (x * rng.choice([-1, 1]), y * rng.choice([-1, 1]))


@generator
def nearest_point(rng):
    """Which raw embedding is nearest in Euclidean distance, when cosine, dot product and the
    Manhattan distance each point elsewhere?"""
    q = (rng.randint(1, 3) * rng.choice([-1, 1]), rng.randint(1, 3) * rng.choice([-1, 1]))
    s, t = rng.choice([(2, 3), (3, 5)])
    near = tuple(a + b for a, b in zip(q, _orient(rng, (s, s))))           # nearest (Euclidean)
    axis = tuple(a + b for a, b in zip(q, _orient(rng, (t, 0))))           # nearest (Manhattan)
    along = (2 * q[0], 2 * q[1])                                            # same direction: cosine 1
    turn = rng.choice([-1, 1])                                              # q turned by 45 degrees, x 3 sqrt 2:
    big = (3 * (q[0] - turn * q[1]), 3 * (q[1] + turn * q[0]))             # dot product 3 |q|^2
    others = [near, axis, along, big]
    rng.shuffle(others)
    if len(set(others)) < 4 or (0, 0) in others:
        raise Retry

    def best(score, largest):
        values = [score(o) for o in others]
        target = max(values) if largest else min(values)
        hits = [j for j, v in enumerate(values) if abs(v - target) < 1e-9]
        return f"P{1 + hits[0]}" if len(hits) == 1 else None

    dot = lambda o: q[0] * o[0] + q[1] * o[1]  # noqa: E731
    wrong = {
        "largest cosine similarity": best(lambda o: dot(o) / math.hypot(*o), True),
        "largest dot product": best(dot, True),
        "smallest Manhattan distance": best(lambda o: abs(q[0] - o[0]) + abs(q[1] - o[1]), False),
    }
    x = torch.tensor([q, *others], dtype=torch.float64)
    dist = S.pairwise_distances(x)[0, 1:].tolist()
    ranked = sorted(range(4), key=lambda j: dist[j])
    if dist[ranked[0]] == dist[ranked[1]]:
        raise Retry
    key = f"P{1 + ranked[0]}"
    if None in wrong.values() or len(set(wrong.values()) | {key}) < 4:
        raise Retry
    names = ", ".join(f"P{j + 1} = {o}" for j, o in enumerate(others))
    prompt = (f"Raw (not normalised) 2-d embeddings: q = {q}; {names}. "
              "Which point is nearest to q in Euclidean distance?")
    return prompt, key, wrong


# --------------------------------------------------------------------------- training (lesson 3)
@generator
def triplet_loss_value(rng):
    """The triplet loss of one triplet."""
    d_ap, d_an = rng.randint(2, 12) / 8, rng.randint(2, 12) / 8
    margin = rng.choice([0.25, 0.5])
    dist = torch.tensor([[0.0, d_ap, d_an], [d_ap, 0.0, 1.0], [d_an, 1.0, 0.0]], dtype=torch.float64)
    loss = S.triplet_margin_loss(dist, torch.tensor([0]), torch.tensor([1]), torch.tensor([2]), margin).item()
    wrong = {
        "no hinge": num(d_ap - d_an + margin),
        "anchor-positive and anchor-negative swapped": num(max(0.0, d_an - d_ap + margin)),
        "squared distances (FaceNet's form)": num(max(0.0, d_ap**2 - d_an**2 + margin)),
        "margin outside the hinge": num(max(0.0, d_ap - d_an) + margin),
        "no margin": num(max(0.0, d_ap - d_an)),
        "absolute difference plus margin": num(abs(d_ap - d_an) + margin),
        "margin subtracted": num(max(0.0, d_ap - d_an - margin)),
        "negative minus positive, no hinge": num(d_an - d_ap),
    }
    prompt = (f"d(a,p) = {d_ap}, d(a,n) = {d_an}, margin {margin}. What is the course's triplet loss of (a, p, n), "
              "computed on plain (not squared) distances?")
    return prompt, num(loss), wrong


@generator
def pk_batch_count(rng):
    """How many batches does one pass of pk_batches give?"""
    classes, p = rng.randint(9, 40), rng.randint(3, 8)
    k, per_class = rng.choice([2, 4, 8]), rng.choice([3, 5, 10])
    labels = torch.arange(classes).repeat_interleave(per_class)
    key = sum(1 for _ in S.pk_batches(labels, p, k, generator=torch.Generator().manual_seed(0)))
    images = classes * per_class
    wrong = {
        "batches over images, rounded up": math.ceil(images / (p * k)),
        "batches over images, short one dropped": images // (p * k),
        "P and K swapped": math.ceil(classes / k),
        "one batch per class": classes,
    }
    prompt = (
        f"A data set has {classes} classes with {per_class} images each. pk_batches(labels, p={p}, k={k}) takes "
        "the shuffled classes p at a time, and a short last batch is topped up with other classes drawn from "
        "the rest. How many batches does one pass give?"
    )
    return prompt, str(key), {kk: str(v) for kk, v in wrong.items()}


# --------------------------------------------------------------------------- verification (lesson 4)
@generator
def recall_at_1(rng):
    """Leave-one-out Recall@1 on a 1-d toy, with the tie rule stated."""
    xs = [rng.randint(0, 9) for _ in range(6)]
    labels = [rng.randrange(3) for _ in range(6)]
    if len(set(xs)) < 6 or len(set(labels)) < 2 or sum(labels.count(c) > 1 for c in set(labels)) == 0:
        raise Retry
    queries = [i for i in range(6) if labels.count(labels[i]) > 1]

    def nearest(i):
        dmin = min(abs(xs[i] - xs[j]) for j in range(6) if j != i)
        return [j for j in range(6) if j != i and abs(xs[i] - xs[j]) == dmin]

    def frac(hit, pool=queries):
        return num(sum(1 for i in pool if hit(i)) / len(pool))

    key = frac(lambda i: any(labels[j] == labels[i] for j in nearest(i)))

    def reference():
        return num(S.recall_at_k(torch.tensor(xs, dtype=torch.float64)[:, None], torch.tensor(labels), ks=(1,))[1])

    wrong = {
        "ties count against the query": frac(lambda i: all(labels[j] == labels[i] for j in nearest(i))),
        "ties go to the smaller index": frac(lambda i: labels[nearest(i)[0]] == labels[i]),
        "queries with a unique label count as misses": frac(lambda i: any(labels[j] == labels[i] for j in nearest(i)), range(6)),
        "a hit is a nearest point of another label": frac(lambda i: any(labels[j] != labels[i] for j in nearest(i))),
        "the query itself counts as its nearest point": num(1.0),
        "the second-nearest point counts too (Recall@2)": frac(
            lambda i: any(labels[j] == labels[i] for j in sorted((j for j in range(6) if j != i), key=lambda j: abs(xs[i] - xs[j]))[:2])),
    }
    prompt = (
        f"1-d embeddings {xs} with labels {labels}. Leave-one-out Recall@1: every point whose label occurs at "
        "least twice is a query; it is a hit when its nearest other point has its label, and a tie at the nearest "
        "distance counts as a hit when any of the tied points has its label. What is Recall@1 (3 decimals)?"
    )
    return prompt, key, wrong, reference


@generator
def far_at_threshold(rng):
    """The false-accept rate at a threshold, with ties at the threshold accepted."""
    from solutions.experiments.training import roc_curve

    genuine = sorted(rng.randint(1, 12) / 8 for _ in range(rng.randint(3, 6)))
    impostor = sorted(rng.randint(4, 16) / 8 for _ in range(rng.randint(3, 6)))
    n_gen, n_imp = len(genuine), len(impostor)
    t = rng.choice(sorted(set(genuine + impostor)))
    dist = torch.tensor(genuine + impostor, dtype=torch.float64)
    is_genuine = torch.tensor([True] * n_gen + [False] * n_imp)
    far, _tar, thresholds = roc_curve(dist, is_genuine)
    key = far[int((thresholds <= t).nonzero().max())].item()
    accepted_imp = sum(1 for v in impostor if v <= t)
    accepted_gen = sum(1 for v in genuine if v <= t)
    wrong = {
        "false-reject rate instead": num((n_gen - accepted_gen) / n_gen),
        "ties at the threshold rejected": num(sum(1 for v in impostor if v < t) / n_imp),
        "accepted impostors over all pairs": num(accepted_imp / (n_gen + n_imp)),
        "accepted genuine pairs (TAR)": num(accepted_gen / n_gen),
        "accepted when the distance is at least t": num(sum(1 for v in impostor if v >= t) / n_imp),
        "impostors among the accepted pairs": num(accepted_imp / max(1, accepted_imp + accepted_gen)),
        "accepted pairs over all pairs": num((accepted_imp + accepted_gen) / (n_gen + n_imp)),
    }
    prompt = (
        f"Genuine pair distances {genuine}; impostor pair distances {impostor}. A pair is accepted when its distance "
        f"is at most the threshold t = {t} (ties accepted). What is the false-accept rate (FAR)?"
    )
    return prompt, num(key), wrong


# --------------------------------------------------------------------------- pitfalls (lesson 5)
@generator
def active_fraction(rng):
    """The fraction of given triplets with non-zero loss."""
    margin = rng.choice([0.25, 0.375])
    rows = [(rng.randint(1, 8) / 8, rng.randint(1, 8) / 8) for _ in range(5)]
    dist = torch.zeros(11, 11, dtype=torch.float64)
    for i, (ap, an) in enumerate(rows):
        dist[0, 1 + 2 * i], dist[0, 2 + 2 * i] = ap, an
    a = torch.zeros(5, dtype=torch.long)
    p = torch.arange(5) * 2 + 1
    key = S.active_triplet_fraction(dist, a, p, p + 1, margin)

    def frac(pred):
        return num(sum(1 for ap, an in rows if pred(ap, an)) / 5)

    wrong = {
        "zero loss at the boundary counted as active": frac(lambda ap, an: ap - an + margin >= 0),
        "only hard triplets (d_an < d_ap)": frac(lambda ap, an: an < ap),
        "only semi-hard triplets": frac(lambda ap, an: ap < an < ap + margin),
        "squared distances": frac(lambda ap, an: ap * ap - an * an + margin > 0),
        "every given triplet is active": num(1.0),
    }
    listing_ = "; ".join(f"(d_ap = {ap}, d_an = {an})" for ap, an in rows)
    prompt = (f"Margin {margin}. Five triplets: {listing_}. What fraction of them is active, i.e. has a non-zero "
              "triplet loss (plain distances)?")
    return prompt, num(key), wrong


@generator
def pk_pairs(rng):
    """Ordered positive pairs of a PK batch."""
    p, k = rng.randint(2, 16), rng.randint(1, 8)
    labels = torch.arange(p).repeat_interleave(k)
    key = int((labels[:, None] == labels[None, :]).sum()) - p * k
    wrong = {
        "self-pairs (a, a) included": p * k * k,
        "one positive per anchor": p * k if k > 1 else 0,
        "ordered negative pairs": p * k * (p - 1) * k,
        "pairs per class, not per batch": k * (k - 1),
        "P and K swapped": k * p * (p - 1),
    }
    prompt = f"A PK batch holds P = {p} classes x K = {k} images. How many ordered positive pairs (a, p), a ≠ p, does it hold?"
    return prompt, str(key), {kk: str(v) for kk, v in wrong.items()}


# --------------------------------------------------------------------------- memory bank (lesson 6)
@generator
def memory_negatives(rng):
    """How many negative candidates does an anchor have with a cross-batch memory?"""
    from solutions.experiments.memory_bank import CrossBatchMemory

    p, k = rng.randint(2, 6), rng.choice([2, 4, 8])
    size, classes = rng.choice([16, 32, 64]), rng.randint(p + 1, 12)
    memory = CrossBatchMemory(size, 1, dtype=torch.float64)
    memory_labels = torch.tensor([rng.randrange(classes) for _ in range(size)])
    memory.enqueue(torch.zeros(size, 1, dtype=torch.float64), memory_labels)
    batch_labels = torch.arange(p).repeat_interleave(k)
    anchor_label = 0
    same_in_memory = int((memory.labels == anchor_label).sum())
    if same_in_memory == 0:
        raise Retry
    key = int((batch_labels != anchor_label).sum() + (memory.labels != anchor_label).sum())
    wrong = {
        "the batch's negatives only": (p - 1) * k,
        "the memory's negatives only": size - same_in_memory,
        "same-label memory entries counted as negatives": (p - 1) * k + size,
        "every other point of batch and memory": p * k - 1 + size,
        "the batch's positives counted too": p * k - 1 + size - same_in_memory,
        "every other point of the batch": p * k - 1,
    }
    prompt = (
        f"A PK batch holds P = {p} classes x K = {k} images (labels 0-{p - 1}); a cross-batch memory holds "
        f"{size} embeddings of earlier batches, {same_in_memory} of them with label 0. Anchors come from the batch; "
        "negatives may come from the batch or the memory. How many negative candidates does an anchor of label 0 have?"
    )
    return prompt, str(key), {kk: str(v) for kk, v in wrong.items()}


# --------------------------------------------------------------------------- detection (lesson 7)
def _box(rng):
    x1, y1 = rng.randint(0, 6), rng.randint(0, 6)
    return [x1, y1, x1 + rng.randint(1, 4), y1 + rng.randint(1, 4)]


def _area(b):
    return (b[2] - b[0]) * (b[3] - b[1])


def _inter(b1, b2):
    return max(0, min(b1[2], b2[2]) - max(b1[0], b2[0])) * max(0, min(b1[3], b2[3]) - max(b1[1], b2[1]))


def _iou(b1, b2):
    inter = _inter(b1, b2)
    union = _area(b1) + _area(b2) - inter
    return inter / union if union > 0 else 0.0


@generator(ranks=(0, 1, 2))  # only two wrong IoU rules give less than the key
def iou_value(rng):
    """IoU of two boxes."""
    b1, b2 = _box(rng), _box(rng)
    inter = _inter(b1, b2)
    if inter == 0 or b1 == b2:
        raise Retry
    iou = S.box_iou(torch.tensor([b1]), torch.tensor([b2])).item()
    a1, a2 = _area(b1), _area(b2)
    plus1 = [[b[0], b[1], b[2] + 1, b[3] + 1] for b in (b1, b2)]
    hull = [min(b1[0], b2[0]), min(b1[1], b2[1]), max(b1[2], b2[2]), max(b1[3], b2[3])]
    wrong = {
        "union not reduced by the intersection": num(inter / (a1 + a2)),
        "over the smaller box's area": num(inter / min(a1, a2)),
        "over the larger box's area": num(inter / max(a1, a2)),
        "+1 pixel convention": num(_iou(*plus1)),
        "over box A's area": num(inter / a1),
        "over the enclosing box's area": num(inter / _area(hull)),
    }
    prompt = (f"Boxes (x1, y1, x2, y2) with continuous coordinates (area = (x2 - x1)(y2 - y1)): "
              f"A = {tuple(b1)}, B = {tuple(b2)}. What is IoU(A, B) (3 decimals)?")
    return prompt, num(iou), wrong


def _greedy(boxes, order, threshold, inclusive=False, suppressed_suppress=False):
    kept, dead = [], set()
    for i in order:
        blockers = kept if not suppressed_suppress else [j for j in order[: order.index(i)]]
        if any((_iou(boxes[i], boxes[j]) >= threshold) if inclusive else (_iou(boxes[i], boxes[j]) > threshold)
               for j in blockers):
            dead.add(i)
            continue
        kept.append(i)
    return sorted(kept)


def _greedy_inverted(boxes, order, threshold):
    kept = []
    for i in order:
        if not any(_iou(boxes[i], boxes[j]) < threshold for j in kept):
            kept.append(i)
    return sorted(kept)


@generator(ranks=(1, 2, 3))  # the wrong rules mostly keep fewer boxes: the key is rarely the shortest list
def nms_keep(rng):
    """Which boxes does greedy NMS keep?"""
    n = 5
    boxes = [_box(rng) for _ in range(n)]
    scores = [rng.randint(1, 9) / 10 for _ in range(n)]
    threshold = rng.choice([0.2, 0.25, 0.3, 0.5])
    by_score = sorted(range(n), key=lambda i: (-scores[i], i))
    key = listing(_greedy(boxes, by_score, threshold))

    def reference():
        kept = S.nms(torch.tensor(boxes, dtype=torch.float64), torch.tensor(scores, dtype=torch.float64), threshold)
        return listing(sorted(kept.tolist()))
    wrong = {
        "IoU equal to the threshold also suppresses": _greedy(boxes, by_score, threshold, inclusive=True),
        "boxes visited in index order": _greedy(boxes, list(range(n)), threshold),
        "suppressed boxes suppress too": _greedy(boxes, by_score, threshold, suppressed_suppress=True),
        "lowest score first": _greedy(boxes, sorted(range(n), key=lambda i: (scores[i], i)), threshold),
        "every box overlapping another is dropped": sorted(
            i for i in range(n) if not any(_iou(boxes[i], boxes[j]) > threshold for j in range(n) if j != i)),
        "suppressed when the IoU is below the threshold": _greedy_inverted(boxes, by_score, threshold),
        "compared only with the top-scoring box": sorted(
            [by_score[0]] + [i for i in by_score[1:] if _iou(boxes[i], boxes[by_score[0]]) <= threshold]),
    }
    listing_ = "; ".join(f"{i}: {tuple(b)} score {s}" for i, (b, s) in enumerate(zip(boxes, scores)))
    prompt = (
        f"Boxes (x1, y1, x2, y2) and scores: {listing_}. Greedy NMS at IoU threshold {threshold} visits the boxes "
        "by decreasing score (equal scores: smaller index first) and keeps a box unless its IoU with an already "
        "kept box is strictly greater than the threshold. Which boxes are kept (sorted)?"
    )
    return prompt, key, {k: listing(v) for k, v in wrong.items()}, reference


def _top(indices, losses, k, larger_index_on_ties=False, lowest=False):
    sign = -1 if larger_index_on_ties else 1
    ranked = sorted(indices, key=lambda i: ((losses[i] if lowest else -losses[i]), sign * i))
    return ranked[:k]


@generator
def ohem_keep(rng):
    """Which RoIs does OHEM select, per image, without NMS?"""
    r = 6
    losses = [rng.randint(1, 9) / 10 for _ in range(r)]
    images = [rng.randrange(2) for _ in range(r)]
    per_image = rng.choice([1, 2])
    kept = S.ohem_select(torch.tensor(losses, dtype=torch.float64), torch.tensor(images), per_image).tolist()
    groups = [[i for i in range(r) if images[i] == m] for m in sorted(set(images))]

    def per(**kw):
        return listing(sorted(i for g in groups for i in _top(g, losses, per_image, **kw)))

    wrong = {
        "no per-image cap: the hardest of the batch": listing(sorted(_top(range(r), losses, per_image * len(groups)))),
        "per_image read as the batch total": listing(sorted(_top(range(r), losses, per_image))),
        "lowest losses per image": per(lowest=True),
        "ties to the larger index": per(larger_index_on_ties=True),
        "one RoI too many per image": listing(sorted(i for g in groups for i in _top(g, losses, per_image + 1))),
        "the hardest RoI of each image only": listing(sorted(i for g in groups for i in _top(g, losses, 1)))
        if per_image > 1 else None,
    }
    listing_ = "; ".join(f"RoI {i}: image {m}, loss {v}" for i, (m, v) in enumerate(zip(images, losses)))
    prompt = (f"{listing_}. OHEM without NMS selects, in each image, the {per_image} RoI(s) with the highest loss "
              "(equal losses: smaller index first). Which RoIs are selected (sorted)?")
    return prompt, listing(kept), wrong


@generator
def ohem_loss_value(rng):
    """The OHEM loss: the mean over the selected RoIs, with some RoIs ignored."""
    r = 8
    images = [rng.randrange(2) for _ in range(r)]
    valid = [rng.random() < 0.75 for _ in range(r)]
    losses = [rng.randint(1, 8) / 4 for _ in range(r)]
    per_image = rng.choice([1, 2])
    kept = S.ohem_select(torch.tensor(losses, dtype=torch.float64), torch.tensor(images), per_image,
                         valid=torch.tensor(valid)).tolist()
    if not kept:
        raise Retry
    key = num(sum(losses[i] for i in kept) / len(kept))
    groups = [[i for i in range(r) if images[i] == m] for m in sorted(set(images))]
    ignoring_valid = [i for g in groups for i in _top(g, losses, per_image)]
    everything_valid = [i for i in range(r) if valid[i]]
    wrong = {
        "mean over every valid RoI": num(sum(losses[i] for i in everything_valid) / len(everything_valid)),
        "sum over the selected RoIs": num(sum(losses[i] for i in kept)),
        "ignored RoIs selectable": num(sum(losses[i] for i in ignoring_valid) / len(ignoring_valid)),
        "selected sum over all RoIs": num(sum(losses[i] for i in kept) / r),
        "mean over every RoI, ignored ones included": num(sum(losses) / r),
        "lowest losses selected": num(sum(losses[i] for g in groups for i in _top([j for j in g if valid[j]], losses, per_image, lowest=True))
                                      / max(1, sum(min(per_image, sum(valid[j] for j in g)) for g in groups))),
    }
    flags = ["valid" if v else "ignored" for v in valid]
    listing_ = "; ".join(f"RoI {i}: image {m}, {f}, loss {v}" for i, (m, f, v) in enumerate(zip(images, flags, losses)))
    prompt = (f"{listing_}. OHEM without NMS selects, in each image, up to {per_image} valid RoI(s) with the highest "
              "loss (ignored RoIs are never selected), and its loss is the mean over the selected RoIs. "
              "What is that loss (3 decimals)?")
    return prompt, key, wrong
