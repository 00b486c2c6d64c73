"""Computed quiz questions: small random instances whose answers come from the references.

Each generator takes a ``random.Random`` and returns ``(prompt, choices, answer_index)``.
Instances are tiny (a handful of points on a 1/8 grid, boxes on an integer grid) so they
can be solved by hand; choices are shuffled with the same generator.
"""

from __future__ import annotations

import math
import random

import torch

import solutions as S

GENERATORS = {}


def generator(fn):
    GENERATORS[fn.__name__] = fn
    return fn


def _finish(rng: random.Random, prompt: str, correct: str, wrong: list[str]) -> tuple[str, list[str], int]:
    options = [correct] + [w for w in dict.fromkeys(wrong) if w != correct][:3]
    step = 1
    while len(options) < 4:  # too few distinct distractors: numeric neighbours, else a catch-all
        try:
            value = float(correct)
        except ValueError:
            options.append("none of these")
            break
        for candidate in (value + 0.125 * step, value - 0.125 * step):
            text = f"{candidate:g}"
            if len(options) < 4 and text not in options and candidate >= 0:
                options.append(text)
        step += 1
    rng.shuffle(options)
    return prompt, options, options.index(correct)


def _grid_batch(rng: random.Random, n: int = 5, classes: int = 2):
    """A symmetric distance matrix on a 1/8 grid and labels with at least one positive pair."""
    while True:
        labels = [rng.randrange(classes) for _ in range(n)]
        if len(set(labels)) > 1 and any(labels.count(c) > 1 for c in set(labels)):
            break
    d = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            d[i][j] = d[j][i] = rng.randint(1, 12) / 8
    return torch.tensor(d), torch.tensor(labels)


def _matrix_text(d: torch.Tensor, labels: torch.Tensor) -> str:
    rows = ["     " + " ".join(f"{j:>6}" for j in range(len(labels)))]
    for i, row in enumerate(d.tolist()):
        rows.append(f"{i:>3}: " + " ".join(f"{v:6.3f}" for v in row) + f"   label {int(labels[i])}")
    return "\n".join(rows)


def _pair(rng: random.Random, labels: torch.Tensor) -> tuple[int, int]:
    pairs = [(a, p) for a in range(len(labels)) for p in range(len(labels)) if a != p and labels[a] == labels[p]]
    return rng.choice(pairs)


@generator
def semi_hard_pick(rng):
    d, labels = _grid_batch(rng)
    margin = rng.choice([0.25, 0.375, 0.5])
    a, p = _pair(rng, labels)
    got = {(x, y): z for x, y, z in zip(*(t.tolist() for t in S.semi_hard_negatives(d, labels, margin)))}
    correct = str(got[(a, p)]) if (a, p) in got else "none"
    wrong = ["none"] + [str(j) for j in range(len(labels)) if labels[j] != labels[a]] + [str(p)]
    prompt = (f"Distances and labels:\n{_matrix_text(d, labels)}\nWith margin {margin}, which index is the "
              f"semi-hard negative of the positive pair ({a}, {p})?")
    return _finish(rng, prompt, correct, wrong)


@generator
def window_count(rng):
    d, labels = _grid_batch(rng, n=6)
    margin = rng.choice([0.25, 0.375, 0.5])
    a, p = _pair(rng, labels)
    count = sum(1 for n in range(len(labels)) if labels[n] != labels[a] and d[a, p] < d[a, n] < d[a, p] + margin)
    prompt = (f"Distances and labels:\n{_matrix_text(d, labels)}\nWith margin {margin}, how many negatives lie "
              f"strictly inside the semi-hard window of the pair ({a}, {p})?")
    return _finish(rng, prompt, str(count), [str(c) for c in range(6)])


@generator
def batch_hard_pick(rng):
    d, labels = _grid_batch(rng)
    anchors, pos, neg = (t.tolist() for t in S.batch_hard(d, labels))
    i = rng.randrange(len(anchors))
    a = anchors[i]
    correct = f"p={pos[i]}, n={neg[i]}"
    wrong = [f"p={p}, n={n}" for p in range(len(labels)) for n in range(len(labels))
             if p != a and labels[p] == labels[a] and labels[n] != labels[a]]
    prompt = f"Distances and labels:\n{_matrix_text(d, labels)}\nWhich (positive, negative) does batch-hard pick for anchor {a}?"
    return _finish(rng, prompt, correct, rng.sample(wrong, len(wrong)) + ["p=none, n=none"])


@generator
def hardest_pick(rng):
    d, labels = _grid_batch(rng)
    a, p = _pair(rng, labels)
    got = dict(zip(zip(*(t.tolist() for t in S.hardest_negatives(d, labels)[:2])), S.hardest_negatives(d, labels)[2].tolist()))
    correct = str(got[(a, p)])
    wrong = [str(j) for j in range(len(labels)) if j != a]
    prompt = f"Distances and labels:\n{_matrix_text(d, labels)}\nWhich index is the hardest negative of anchor {a}?"
    return _finish(rng, prompt, correct, wrong)


@generator
def triplet_loss_value(rng):
    d_ap, d_an = rng.randint(2, 10) / 8, rng.randint(2, 10) / 8
    margin = rng.choice([0.25, 0.5])
    dist = torch.tensor([[0.0, d_ap, d_an], [d_ap, 0.0, 1.0], [d_an, 1.0, 0.0]])
    loss = S.triplet_margin_loss(dist, torch.tensor([0]), torch.tensor([1]), torch.tensor([2]), margin).item()
    wrong = [f"{v:g}" for v in (max(0.0, d_an - d_ap + margin), d_ap - d_an + margin, d_ap - d_an, margin, 0.0)]
    prompt = f"d(a,p) = {d_ap}, d(a,n) = {d_an}, margin = {margin}. What is the triplet loss of (a, p, n)?"
    return _finish(rng, prompt, f"{loss:g}", wrong)


@generator
def active_fraction(rng):
    margin = 0.25
    rows = [(rng.randint(1, 8) / 8, rng.randint(1, 8) / 8) for _ in range(4)]
    n = len(rows)
    dist = torch.zeros(2 * n + 1, 2 * n + 1)
    for i, (ap, an) in enumerate(rows):
        dist[0, 1 + 2 * i], dist[0, 2 + 2 * i] = ap, an
    a = torch.zeros(n, dtype=torch.long)
    p = torch.arange(n) * 2 + 1
    frac = S.active_triplet_fraction(dist, a, p, p + 1, margin)
    listing = "; ".join(f"(d_ap={ap}, d_an={an})" for ap, an in rows)
    prompt = f"Margin {margin}. Triplets: {listing}. What fraction of them is active (non-zero loss)?"
    return _finish(rng, prompt, f"{frac:g}", [f"{k / 4:g}" for k in range(5)])


def _box(rng):
    x1, y1 = rng.randint(0, 6), rng.randint(0, 6)
    return [x1, y1, x1 + rng.randint(1, 4), y1 + rng.randint(1, 4)]


@generator
def iou_value(rng):
    while True:
        b1, b2 = _box(rng), _box(rng)
        iou = S.box_iou(torch.tensor([b1]), torch.tensor([b2])).item()
        if iou > 0:
            break
    wrong = [f"{v:.3f}" for v in (iou / 2, min(1.0, iou * 2), 1 - iou, 0.0, 1.0)]
    prompt = f"Boxes (x1, y1, x2, y2): A = {tuple(b1)}, B = {tuple(b2)}. What is IoU(A, B)?"
    return _finish(rng, prompt, f"{iou:.3f}", wrong)


@generator
def nms_keep(rng):
    boxes = [_box(rng) for _ in range(4)]
    scores = [rng.randint(1, 9) / 10 for _ in range(4)]
    threshold = rng.choice([0.3, 0.5])
    kept = S.nms(torch.tensor(boxes, dtype=torch.float32), torch.tensor(scores), threshold).tolist()
    correct = str(sorted(kept))
    wrong = [str(sorted(rng.sample(range(4), k))) for k in (1, 2, 3, 4) for _ in range(2)]
    listing = "; ".join(f"{i}: {tuple(b)} score {s}" for i, (b, s) in enumerate(zip(boxes, scores)))
    prompt = f"Greedy NMS at IoU threshold {threshold} on boxes {listing}. Which indices are kept (sorted)?"
    return _finish(rng, prompt, correct, wrong)


@generator
def ohem_keep(rng):
    losses = [rng.randint(1, 9) / 10 for _ in range(6)]
    images = [rng.randrange(2) for _ in range(6)]
    per_image = rng.choice([1, 2])
    kept = S.ohem_select(torch.tensor(losses), torch.tensor(images), per_image).tolist()
    wrong = [str(sorted(rng.sample(range(6), len(kept)))) for _ in range(6)]
    listing = "; ".join(f"RoI {i}: image {m}, loss {v}" for i, (m, v) in enumerate(zip(images, losses)))
    prompt = f"{listing}. OHEM keeps {per_image} RoI(s) per image (no NMS). Which RoIs are selected (sorted)?"
    return _finish(rng, prompt, str(kept), wrong)


@generator
def pk_batch_count(rng):
    classes, p = rng.randint(9, 40), rng.randint(2, 8)
    labels = torch.arange(classes).repeat_interleave(3)
    count = sum(1 for _ in S.pk_batches(labels, p, 2, generator=torch.Generator().manual_seed(0)))
    wrong = [str(v) for v in (classes // p, classes // p + 2, classes, p, math.ceil(classes / p) - 1)]
    prompt = f"A dataset has {classes} classes. How many batches does one pass of PK batches with P = {p} give?"
    return _finish(rng, prompt, str(count), wrong)


@generator
def dw_zero(rng):
    labels = torch.tensor([0, 0, 1, 2, 3])
    row = [0.0, rng.randint(2, 6) / 8] + [rng.randint(3, 15) / 8 for _ in range(3)]
    row[rng.choice([2, 3, 4])] = rng.choice([1.5, 1.625, 1.75])  # at least one far negative
    dist = torch.tensor([row] + [[0.0] * 5 for _ in range(4)])
    w = S.distance_weights(dist, labels, dim=8)[0].tolist()
    zero = [j for j in range(1, 5) if w[j] == 0]
    correct = str(zero)
    wrong = [str(v) for v in ([1], [2, 3, 4], [j for j in range(2, 5) if j not in zero], [1, 2], [])]
    prompt = (f"Anchor 0 (label 0) has distances {row[1:]} to points 1..4 with labels {labels[1:].tolist()}. "
              "With nonzero_loss_cutoff 1.4, which points get distance weight 0?")
    return _finish(rng, prompt, correct, wrong)


@generator
def recall_at_1(rng):
    while True:
        xs = rng.sample(range(0, 12), 5)
        labels = [rng.randrange(2) for _ in range(5)]
        if len(set(labels)) == 2 and all(labels.count(c) > 1 for c in set(labels)):
            break
    r = S.recall_at_k(torch.tensor(xs, dtype=torch.float32)[:, None], torch.tensor(labels), ks=(1,))[1]
    wrong = [f"{k / 5:g}" for k in range(6)]
    prompt = f"1-D embeddings {xs} with labels {labels}. What is Recall@1 (leave-one-out)?"
    return _finish(rng, prompt, f"{r:g}", wrong)


@generator
def positive_pairs_count(rng):
    labels = [rng.randrange(3) for _ in range(rng.randint(4, 7))]
    count = sum(1 for a in range(len(labels)) for p in range(len(labels)) if a != p and labels[a] == labels[p])
    wrong = [str(v) for v in (count // 2, count + 2, len(labels), count - 1, count + len(labels))]
    prompt = f"Labels {labels}. How many ordered positive pairs (a, p) does the batch have?"
    return _finish(rng, prompt, str(count), wrong)


@generator
def ohem_image_count(rng):
    images = [rng.randrange(3) for _ in range(8)]
    image = rng.choice(sorted(set(images)))
    per_image = rng.randint(1, 3)
    losses = torch.tensor([rng.randint(1, 9) / 10 for _ in range(8)])
    kept = S.ohem_select(losses, torch.tensor(images), per_image).tolist()
    count = sum(1 for k in kept if images[k] == image)
    prompt = f"RoIs belong to images {images}. OHEM keeps {per_image} per image (no NMS). How many RoIs of image {image} are selected?"
    return _finish(rng, prompt, str(count), [str(v) for v in range(5)])


@generator
def distance_value(rng):
    a = [rng.randint(-3, 3) for _ in range(2)]
    b = [rng.randint(-3, 3) for _ in range(2)]
    if a == b:
        b[0] += 3
    d = S.pairwise_distances(torch.tensor([a, b], dtype=torch.float64))[0, 1].item()
    wrong = [f"{v:.3f}" for v in (d * d, abs(a[0] - b[0]) + abs(a[1] - b[1]), d / 2, d + 1)]
    prompt = f"What is the Euclidean distance between {tuple(a)} and {tuple(b)}?"
    return _finish(rng, prompt, f"{d:.3f}", wrong)


@generator
def usable_anchor_count(rng):
    labels = [rng.randrange(4) for _ in range(rng.randint(4, 8))]
    dist = torch.ones(len(labels), len(labels))
    count = S.batch_hard(dist, torch.tensor(labels))[0].numel()
    prompt = f"Labels {labels}. How many anchors yield a batch-hard triplet?"
    return _finish(rng, prompt, str(count), [str(v) for v in range(len(labels) + 1)])
