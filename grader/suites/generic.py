"""Generic inputs: the examples on which an answer's *agreement with the reference* is measured.

The rule strategies (``strategies``, ``box_strategies``) hunt for edge cases: exact ties,
values on a boundary, duplicates, empty batches. Here it is the opposite: ordinary batches
of continuous random values (no ties, nothing on a boundary, no duplicate rows, every class
with at least two members), where every correct implementation gives the reference's answer
and a slip confined to ties or boundaries does too. An answer that disagrees with the
reference on many of these examples solves a different problem, whatever rules it obeys.

Sizes and options are drawn by Hypothesis, the values from a ``torch.Generator`` seeded by
a drawn integer (one choice per tensor: cheap to draw; these examples are never shrunk into
a counterexample the student sees).
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

FLOAT_DTYPES = (torch.float32, torch.float64)
_seeds = st.integers(0, 2**32 - 1)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _labels(g: torch.Generator, n: int, classes: int) -> torch.Tensor:
    """``n`` labels over ``classes`` classes, each with at least two members, shuffled."""
    return (torch.arange(n) % classes)[torch.randperm(n, generator=g)]


def _distances(g: torch.Generator, n: int, dim: int, unit: bool) -> torch.Tensor:
    """Euclidean distances (float64) of ``n`` random points: distinct values, exact 0 diagonal."""
    x = torch.randn(n, dim, generator=g, dtype=torch.float64)
    x = torch.nn.functional.normalize(x, dim=1) if unit else x / dim**0.5
    return torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist").fill_diagonal_(0)


@st.composite
def pairwise_inputs(draw):
    """``[embeddings, squared]``: 4-12 distinct rows of 2-16 normal coordinates at any scale."""
    n, dim = draw(st.integers(4, 12)), draw(st.integers(2, 16))
    g = _generator(draw(_seeds))
    scale = 10.0 ** draw(st.integers(-1, 2))
    x = torch.randn(n, dim, generator=g, dtype=torch.float64) * scale
    return [x.to(draw(st.sampled_from(FLOAT_DTYPES))), draw(st.booleans())]


@st.composite
def mining_inputs(draw, margin: bool):
    """``[dist, labels]`` (and a margin): 8-16 points of 2-4 classes (each >= 2 members)."""
    n, classes = draw(st.integers(8, 16)), draw(st.integers(2, 4))
    g = _generator(draw(_seeds))
    labels = _labels(g, n, classes)
    dist = _distances(g, n, draw(st.integers(2, 8)), unit=False).to(draw(st.sampled_from(FLOAT_DTYPES)))
    args = [dist, labels]
    if margin:
        args.append(float(torch.empty((), dtype=torch.float64).uniform_(0.05, 1.0, generator=g)))
    return args


@st.composite
def weight_inputs(draw):
    """``[dist, labels, dim, cutoff, nonzero_loss_cutoff]``: distances of unit vectors."""
    n, classes = draw(st.integers(8, 16)), draw(st.integers(2, 4))
    g = _generator(draw(_seeds))
    labels = _labels(g, n, classes)
    dim = draw(st.integers(2, 64))
    dist = _distances(g, n, min(dim, 8), unit=True).to(draw(st.sampled_from(FLOAT_DTYPES)))
    u = torch.rand(2, generator=g, dtype=torch.float64).tolist()
    return [dist, labels, dim, 0.1 + 0.6 * u[0], 1.0 + 0.9 * u[1]]


def _boxes(g: torch.Generator, n: int, objects: int, jitter: float = 0.25) -> torch.Tensor:
    """``[n, 4]`` float64 boxes jittered around ``objects`` random objects in a 64 x 64 image."""
    centre = torch.rand(objects, 2, generator=g, dtype=torch.float64) * 64
    side = 4 + torch.rand(objects, 2, generator=g, dtype=torch.float64) * 28
    which = torch.randint(0, objects, (n,), generator=g)
    c, s = centre[which], side[which]
    shift = (torch.rand(n, 4, generator=g, dtype=torch.float64) - 0.5) * jitter * s.repeat(1, 2)
    corners = torch.cat([c - s / 2, c + s / 2], dim=1) + shift
    return torch.cat([torch.minimum(corners[:, :2], corners[:, 2:]), torch.maximum(corners[:, :2], corners[:, 2:])], dim=1)


@st.composite
def iou_inputs(draw):
    """``[boxes1, boxes2]``: 2-10 boxes each around the same 1-4 objects (most pairs overlap)."""
    g = _generator(draw(_seeds))
    n, m, objects = draw(st.integers(2, 10)), draw(st.integers(2, 10)), draw(st.integers(1, 4))
    both = _boxes(g, n + m, objects, jitter=0.6)
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    return [both[:n].to(dtype), both[n:].to(dtype)]


@st.composite
def nms_inputs(draw):
    """``[boxes, scores, iou_threshold]``: 6-20 boxes around 2-5 objects, distinct scores."""
    g = _generator(draw(_seeds))
    n = draw(st.integers(6, 20))
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    b = _boxes(g, n, draw(st.integers(2, 5))).to(dtype)
    scores = torch.rand(n, generator=g, dtype=torch.float64).to(dtype)
    return [b, scores, 0.2 + 0.6 * float(torch.rand((), generator=g, dtype=torch.float64))]


def _roi_batch(draw, g: torch.Generator, r_range=(12, 40)):
    """(image ids, boxes, per_image, nms_iou) of a batch of 1-3 images."""
    r = draw(st.integers(*r_range))
    pool = torch.tensor(draw(st.lists(st.integers(-1000, 1000), min_size=1, max_size=3, unique=True)))
    ids = pool[torch.randint(0, pool.shape[0], (r,), generator=g)]
    boxes = _boxes(g, r, draw(st.integers(2, 6)))
    nms_iou = None if draw(st.integers(0, 2)) == 0 else 0.3 + 0.5 * float(torch.rand((), generator=g, dtype=torch.float64))
    return ids, boxes, draw(st.integers(2, 8)), nms_iou


@st.composite
def select_inputs(draw):
    """``[losses, image_ids, per_image, boxes, nms_iou, valid]`` with distinct losses."""
    g = _generator(draw(_seeds))
    ids, boxes, per_image, nms_iou = _roi_batch(draw, g)
    r = ids.shape[0]
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    losses = (torch.rand(r, generator=g, dtype=torch.float64) * 5).to(dtype)
    valid = None if draw(st.booleans()) else torch.rand(r, generator=g) > 0.2
    boxes = boxes.to(dtype) if nms_iou is not None or draw(st.booleans()) else None
    return [losses, ids, per_image, boxes, nms_iou, valid]


@st.composite
def loss_inputs(draw):
    """``[logits, targets, image_ids, per_image, boxes, nms_iou, ignore_index]``: random logits
    of 2-5 classes, about one target in six ignored."""
    g = _generator(draw(_seeds))
    ids, boxes, per_image, nms_iou = _roi_batch(draw, g, (12, 32))
    r, c = ids.shape[0], draw(st.integers(2, 5))
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    logits = (2 * torch.randn(r, c, generator=g, dtype=torch.float64)).to(dtype)
    ignore_index = draw(st.sampled_from([-1, -100]))
    targets = torch.randint(0, c, (r,), generator=g)
    targets[torch.rand(r, generator=g) < 1 / 6] = ignore_index
    boxes = boxes.to(dtype) if nms_iou is not None or draw(st.booleans()) else None
    return [logits, targets, ids, per_image, boxes, nms_iou, ignore_index]



@st.composite
def candidate_inputs(draw):
    """``[scores, positive_scores, k, relative_margin, absolute_margin, max_score]``: 3-8 queries
    of 8-24 retrieved candidates with continuous scores in [-1, 1] (about one in ten masked to
    -inf), positive scores of either sign, margins drawn from continuous ranges (or None): relative_margin in [0.01, 0.31], absolute_margin
    in [0, 0.2], max_score in [0.2, 1]."""
    g = _generator(draw(_seeds))
    q, m, p = draw(st.integers(3, 8)), draw(st.integers(8, 24)), draw(st.integers(0, 3))
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    scores = torch.rand(q, m, generator=g, dtype=torch.float64) * 2 - 1
    scores = scores.masked_fill(torch.rand(q, m, generator=g) < 0.1, float("-inf"))
    positives = torch.rand(q, max(p, 1), generator=g, dtype=torch.float64) * 2 - 1
    positives = positives if p else positives[:, 0]
    u = torch.rand(3, generator=g, dtype=torch.float64).tolist()
    rel = 0.01 + 0.3 * u[0] if draw(st.booleans()) else None
    ab = 0.2 * u[1] if draw(st.booleans()) else None
    top = 0.2 + 0.8 * u[2] if draw(st.booleans()) else None
    return [scores.to(dtype), positives.to(dtype), draw(st.integers(2, 8)), rel, ab, top]


@st.composite
def proxy_inputs(draw):
    """``[embeddings, labels, proxies, alpha, delta]``: 6-16 normal (not unit) embeddings of 2-16
    dimensions, labels over 2-5 classes (some classes may have no sample), alpha in [4, 64],
    delta in [0, 0.3]."""
    g = _generator(draw(_seeds))
    b, c, dim = draw(st.integers(6, 16)), draw(st.integers(2, 5)), draw(st.integers(2, 16))
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    x = torch.randn(b, dim, generator=g, dtype=torch.float64)
    proxies = torch.randn(c, dim, generator=g, dtype=torch.float64)
    present = c if draw(st.booleans()) else max(1, c - 1)
    labels = torch.randint(0, present, (b,), generator=g)
    u = torch.rand(2, generator=g, dtype=torch.float64).tolist()
    return [x.to(dtype), labels, proxies.to(dtype), 4 + 60 * u[0], 0.3 * u[1]]
