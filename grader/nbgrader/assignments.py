"""The exercise notebooks, as data: one assignment per notebook, one exercise per function.

``grader.nbgrader.build`` turns these into nbgrader source notebooks (the instructor masters) and,
through ``nbgrader generate_assignment``, into the student notebooks. A solution cell's
answer is the reference itself (``solutions``), imported inside the solution region, so
the masters can never drift from the references and the student copies hold no solution.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Exercise:
    id: str  # the function name = the grader's exercise id
    module: str  # where the reference lives
    signature: str
    docstring: str
    intro: str  # markdown: the idea and a worked example
    try_it: str  # code run on a tiny batch


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    intro: str
    exercises: tuple[Exercise, ...] = field(default_factory=tuple)


SETUP = '''import torch

import grader  # the self-check used by the check cells

device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(0)
print("running on", device)'''

WORKED_BATCH = '''# A tiny batch: 6 points, 3 classes, a hand-made distance matrix (multiples of 1/8).
dist = torch.tensor([[0.0, 0.5, 0.75, 0.625, 1.0, 0.5],
                     [0.5, 0.0, 1.0, 0.875, 0.25, 1.25],
                     [0.75, 1.0, 0.0, 0.5, 1.0, 1.0],
                     [0.625, 0.875, 0.5, 0.0, 1.125, 0.75],
                     [1.0, 0.25, 1.0, 1.125, 0.0, 1.5],
                     [0.5, 1.25, 1.0, 0.75, 1.5, 0.0]], device=device)
labels = torch.tensor([0, 0, 1, 1, 2, 2], device=device)'''

PAIRWISE = Exercise(
    id="pairwise_distances",
    module="solutions",
    signature="def pairwise_distances(embeddings, squared=False):",
    docstring='''"""Euclidean distances between all rows of ``embeddings``.

    Args:
        embeddings: [B, D] floating tensor.
        squared: return squared distances instead.

    Returns:
        [B, B] tensor, same dtype and device as ``embeddings``:
        out[i, j] = ||embeddings[i] - embeddings[j]|| (squared if asked).

    Rules: exactly 0 on the diagonal; symmetric and never negative; finite
    gradients everywhere, also when two rows coincide (mask the square root).
    No Python loop over rows or pairs.
    """''',
    intro='''## Exercise 1: `pairwise_distances`

Every miner starts from the matrix of in-batch distances. The fast way uses the Gram matrix:
$\\lVert x_i - x_j \\rVert^2 = \\lVert x_i \\rVert^2 + \\lVert x_j \\rVert^2 - 2\\, x_i \\cdot x_j$, one matrix product for
the whole batch instead of a loop over pairs. Two traps:

* rounding can make that expression slightly **negative** (clamp it at 0) and leaves tiny non-zero values
  on the diagonal (set the diagonal to exactly 0);
* $\\sqrt{d}$ has an infinite derivative at $d = 0$, so two identical embeddings give **NaN gradients**
  that poison the whole training step. Take the square root only where $d > 0$ and use 0 elsewhere.

Worked example: for $x_0 = (0, 0)$, $x_1 = (3, 4)$, $x_2 = (3, 4)$ the distances are
`[[0, 5, 5], [5, 0, 0], [5, 0, 0]]`, and the gradient of $d_{12}$ must be 0, not NaN.''',
    try_it='''x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]], device=device, requires_grad=True)
d = pairwise_distances(x)
print(d)
d[1, 2].backward()
print("gradient at coincident points:", x.grad)''',
)

SEMI_HARD = Exercise(
    id="semi_hard_negatives",
    module="solutions",
    signature="def semi_hard_negatives(dist, labels, margin):",
    docstring='''"""One semi-hard negative per positive pair (FaceNet).

    Args:
        dist: [B, B] distances (row a holds anchor a's distances; do not assume symmetry).
        labels: [B] integer labels.
        margin: float > 0.

    Returns:
        (anchors, positives, negatives): three int64 tensors of equal length.
        For every positive pair (a, p) -- a != p, same label -- in increasing (a, p) order,
        the negative n (different label) with
            dist[a, p] < dist[a, n] < dist[a, p] + margin      (both strict)
        that has the smallest dist[a, n]; ties go to the smallest n.
        Pairs without such a negative are left out.

    At most O(B^2 log B) time and O(B^2) memory; no Python loop over pairs.
    """''',
    intro='''## Exercise 2: `semi_hard_negatives`

A triplet $(a, p, n)$ has loss $\\max(0,\\; d_{ap} - d_{an} + m)$. Negatives closer than the positive
(*hard*) give large, noisy gradients early in training; negatives beyond $d_{ap} + m$ (*easy*) give none.
The **semi-hard** ones sit in between: $d_{ap} < d_{an} < d_{ap} + m$. They still violate the margin,
so they teach something, but they are not yet confused with the positive.

Worked example (the batch in the next cells, margin $m = 0.25$): anchor 0 and its positive 1 are
$0.5$ apart, so the window is $(0.5, 0.75)$. Negative 5 sits at exactly $0.5$ (on the lower bound:
out), negative 2 at exactly $0.75$ (on the upper bound: out), negative 3 at $0.625$ (in), negative 4 at
$1.0$ (easy). The answer for pair $(0, 1)$ is $n = 3$.

Vectorise it: sort each anchor's negatives once, then `torch.searchsorted(..., right=True)` finds, for
every pair at once, the first negative strictly beyond $d_{ap}$.''',
    try_it=WORKED_BATCH + '''

a, p, n = semi_hard_negatives(dist, labels, margin=0.25)
print(list(zip(a.tolist(), p.tolist(), n.tolist())))  # expected: [(0, 1, 3), (3, 2, 0)]''',
)

BATCH_HARD = Exercise(
    id="batch_hard",
    module="solutions",
    signature="def batch_hard(dist, labels):",
    docstring='''"""Batch-hard mining (Hermans et al. 2017).

    Args:
        dist: [B, B] distances. labels: [B] integer labels.

    Returns:
        (anchors, positives, negatives): int64 tensors of equal length. For each anchor,
        in increasing order, that has at least one positive and one negative: the positive
        with the largest dist[a, p] and the negative with the smallest dist[a, n]
        (ties: the smallest index).
    """''',
    intro='''## Exercise 3: `batch_hard`

Batch-hard mining keeps one triplet per anchor: its **farthest positive** and its **closest negative**.
With P classes and K samples per class in a batch (a PK batch), every anchor has K - 1 positives, so
this is the hardest triplet the batch can offer. Anchors without a positive (a singleton class) or
without a negative (a single-class batch) give no triplet.

Worked example (the same batch): anchor 0's only positive is 1; its closest negative is 5 at $0.5$
(negative 3 is at $0.625$). So anchor 0 gives $(0, 1, 5)$.''',
    try_it=WORKED_BATCH + '''

print(batch_hard(dist, labels))  # anchor 0 -> (0, 1, 5)''',
)

DISTANCE_WEIGHTS = Exercise(
    id="distance_weights",
    module="solutions",
    signature="def distance_weights(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):",
    docstring='''"""Distance-weighted sampling probabilities (Wu et al. 2017), unit-norm embeddings.

    Args:
        dist: [B, B] distances. labels: [B] integer labels. dim: embedding size (>= 2).
        cutoff, nonzero_loss_cutoff: 0 < cutoff < nonzero_loss_cutoff <= 2.

    Returns:
        [B, B] weights in dist's dtype. For each negative n of anchor a:
            weight proportional to 1 / q(max(dist[a, n], cutoff)), where
            log q(d) = (dim - 2) log d + ((dim - 3) / 2) log(1 - d^2 / 4);
        weight 0 where dist[a, n] >= nonzero_loss_cutoff, for same-label entries and on
        the diagonal. Each row sums to 1 (normalise per row, in log space); a row with no
        valid negative is all zeros.
    """''',
    intro='''## Exercise 4: `distance_weights`

On the unit sphere in high dimensions almost all pairwise distances are close to $\\sqrt{2}$: sampling
negatives uniformly mostly yields that one distance. Wu et al. weight each negative by the inverse of
the distance density $q(d) \\propto d^{\\,n-2}\\,(1 - d^2/4)^{(n-3)/2}$ so that negatives are spread over
all distances, clip small distances at a `cutoff` (too-hard negatives are noisy) and drop those beyond
`nonzero_loss_cutoff` (1.4 is alpha + beta of Wu et al.'s margin loss, where such negatives give no
loss; with the triplet loss used here they can still violate the margin, so the cutoff is a choice).

The numbers are extreme: for `dim = 512` the log-weights of one row can differ by hundreds. Work in
log space and normalise **per row** (a log-softmax over the row's valid negatives); normalising by one
global maximum makes whole rows underflow to zero.''',
    try_it=WORKED_BATCH + '''

w = distance_weights(dist, labels, dim=4)
print(w.round(decimals=3))
print("row sums:", w.sum(dim=1))''',
)

BOX_IOU = Exercise(
    id="box_iou",
    module="solutions",
    signature="def box_iou(boxes1, boxes2):",
    docstring='''"""Intersection over union of every box of ``boxes1`` with every box of ``boxes2``.

    Args:
        boxes1: [N, 4], boxes2: [M, 4]; rows (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2,
            finite, of any integer or floating dtype, on one device.

    Returns:
        [N, M] tensor on the inputs' device: out[i, j] = area(b1_i & b2_j) / area(b1_i | b2_j).
        dtype: the floating dtype of the boxes (promoted if the two differ, e.g. float32 and
        float64 give float64); float32 when both are integer (convert before any arithmetic).

    Rules: values in [0, 1]. Boxes that only touch have IoU 0. Any pair with a zero-area
    box (a point or a segment) has IoU exactly 0, never NaN (guard the division: two
    zero-area boxes have union 0). A box with non-zero area has IoU exactly 1 with itself,
    and box_iou(a, b) == box_iou(b, a).T exactly (compute the union as
    (area1 + area2) - intersection). No Python loop over boxes.
    """''',
    intro='''## Exercise 1: `box_iou`

Detection compares boxes by their **intersection over union**: the area they share divided by the
area they cover together. For boxes $(x_1, y_1, x_2, y_2)$ the intersection is again a box, from the
larger top-left corner to the smaller bottom-right corner; its width and height are clamped at 0
when the boxes do not meet. Broadcasting `boxes1[:, None]` against `boxes2[None, :]` gives all
$N \\times M$ pairs at once.

Worked example: $A = (0, 0, 2, 2)$ and $B = (0, 0, 2, 1)$ share the area 2 and cover $4 + 2 - 2 = 4$,
so IoU $= 0.5$. $A$ and $(2, 0, 4, 2)$ only touch: IoU $0$. $(1, 1, 3, 3)$ and $(2, 0, 4, 2)$ share a
$1 \\times 1$ square and cover $4 + 4 - 1 = 7$: IoU $= 1/7 \\approx 0.143$. The point $(1, 1, 1, 1)$ has IoU
0 with everything, itself included (its union with itself is empty: return 0, not $0/0$).''',
    try_it='''boxes1 = torch.tensor([[0, 0, 2, 2], [1, 1, 3, 3]], device=device)
boxes2 = torch.tensor([[0, 0, 2, 2], [0, 0, 2, 1], [2, 0, 4, 2], [1, 1, 1, 1]], device=device)
print(box_iou(boxes1, boxes2))  # expected: [[1, 0.5, 0, 0], [1/7, 0, 1/7, 0]], float32''',
)

NMS = Exercise(
    id="nms",
    module="solutions",
    signature="def nms(boxes, scores, iou_threshold):",
    docstring='''"""Exact greedy non-maximum suppression.

    Args:
        boxes: [N, 4] boxes (as in box_iou). scores: [N] integer or floating, no NaN
            (+-inf allowed), on boxes' device. iou_threshold: a float in [0, 1].

    Returns:
        int64 [K] on boxes' device: the indices of the kept boxes in visiting order.

    Visit the boxes by decreasing score; equal scores (-0.0 and 0.0 included) go to the
    smaller index first. Keep a box unless its IoU with an already *kept* box is strictly
    greater than iou_threshold (suppressed boxes suppress nothing; IoU equal to the
    threshold never suppresses). Compute IoU as box_iou does, in the IoU dtype, and compare
    with the threshold in that dtype. No Python loop with one host round trip per box.
    """''',
    intro='''## Exercise 2: `nms`

A detector proposes many boxes around every object. **Non-maximum suppression** keeps the best-scored
box and drops the boxes that overlap it too much, then the best remaining one, and so on. The order
matters, so it is fixed exactly: by score, ties by index; only *kept* boxes suppress.

Worked example: boxes $0 = (0, 0, 10, 10)$, $1 = (1, 0, 11, 10)$, $2 = (0, 0, 10, 10)$,
$3 = (20, 20, 30, 30)$, $4 = (2, 0, 12, 10)$ with scores $0.9, 0.8, 0.9, 0.5, 0.7$. The visiting order is
$0, 2, 1, 4, 3$ (boxes 0 and 2 tie at 0.9: the smaller index first). At threshold $2/3$: 0 is kept;
2 is the same box (IoU 1): dropped; 1 has IoU $90/110 \\approx 0.82$ with 0: dropped; 4 has IoU
$80/120 = 2/3$ with 0, *equal* to the threshold, so it is kept (its IoU $0.82$ with box 1 does not
count: 1 was dropped); 3 overlaps nothing: kept. Result `[0, 4, 3]`; at threshold 0.5 it is `[0, 3]`.

Greedy NMS looks sequential, but a whole block of boxes can be decided at once: within a block,
"kept iff no earlier kept box overlaps it" can be iterated as a tensor operation until it stops
changing, after checking the block against everything kept so far.''',
    try_it='''boxes = torch.tensor([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [20, 20, 30, 30], [2, 0, 12, 10]],
                     device=device)
scores = torch.tensor([0.9, 0.8, 0.9, 0.5, 0.7], device=device)
print(nms(boxes, scores, 2 / 3))  # expected: [0, 4, 3]
print(nms(boxes, scores, 0.5))  # expected: [0, 3]''',
)

OHEM_SELECT = Exercise(
    id="ohem_select",
    module="solutions",
    signature="def ohem_select(losses, image_ids, per_image, boxes=None, nms_iou=None, valid=None):",
    docstring='''"""The RoIs online hard example mining trains on.

    Args:
        losses: [R] floating per-RoI losses, no NaN (+-inf allowed); read them detached.
        image_ids: [R] integers; RoIs with equal ids belong to one image (ids are arbitrary
            integers in any order).
        per_image: int >= 0.
        boxes: [R, 4] RoI boxes or None; only used with nms_iou.
        nms_iou: None (no NMS) or a float in [0, 1]; requires boxes.
        valid: [R] bool or None (all valid).

    Returns:
        int64 [K] on losses' device: the selected RoI indices in increasing order.

    Per image: rank its valid RoIs by loss descending (equal losses: smaller index first);
    with nms_iou, run greedy NMS (as in nms) over them with the losses as scores (invalid
    RoIs take no part and suppress nothing; RoIs of other images never interact); select
    the first per_image of the ranked RoIs that survive. An image keeps
    min(per_image, its surviving valid RoIs). No Python loop over RoIs.
    """''',
    intro='''## Exercise 3: `ohem_select`

**Online hard example mining** (Shrivastava et al., CVPR 2016) runs the detector's head on *all* RoIs
of an image, ranks them by their current loss and back-propagates only through the hardest ones. Many
RoIs cover the same object and have nearly the same loss, so the paper first removes such duplicates
with NMS at IoU 0.7, the losses acting as scores, and then takes the top $B/N$ (64) per image.

Worked example: `losses = [2.0, 0.5, 1.5, 1.5, 3.0, 0.1]`, `image_ids = [0, 0, 0, 0, 1, 1]`,
`per_image = 2`, boxes $(0,0,10,10)$, $(20,20,30,30)$, $(1,0,11,10)$, $(0,20,10,30)$, $(0,0,10,10)$,
$(50,50,60,60)$. Image 0 ranks its RoIs $0, 2, 3, 1$ (RoIs 2 and 3 tie: the smaller index first).
Without NMS it takes 0 and 2. With `nms_iou=0.7`, RoI 2 overlaps RoI 0 with IoU $0.82$ and is
suppressed, so image 0 takes 0 and 3. Image 1 takes 4 and 5 (RoI 4 has RoI 0's box, but it belongs to
another image). Results: `[0, 2, 4, 5]` without NMS, `[0, 3, 4, 5]` with it.''',
    try_it='''losses = torch.tensor([2.0, 0.5, 1.5, 1.5, 3.0, 0.1], device=device)
image_ids = torch.tensor([0, 0, 0, 0, 1, 1], device=device)
roi_boxes = torch.tensor([[0, 0, 10, 10], [20, 20, 30, 30], [1, 0, 11, 10], [0, 20, 10, 30], [0, 0, 10, 10],
                          [50, 50, 60, 60]], device=device)
print(ohem_select(losses, image_ids, 2))  # expected: [0, 2, 4, 5]
print(ohem_select(losses, image_ids, 2, roi_boxes, nms_iou=0.7))  # expected: [0, 3, 4, 5]''',
)

OHEM_LOSS = Exercise(
    id="ohem_loss",
    module="solutions",
    signature="def ohem_loss(logits, targets, image_ids, per_image, boxes=None, nms_iou=None, ignore_index=-1):",
    docstring='''"""Cross-entropy averaged over the RoIs ohem_select picks by their own loss.

    Args:
        logits: [R, C] floating, finite, C >= 1. targets: [R] integers, each in [0, C) or
            equal to ignore_index. image_ids, per_image, boxes, nms_iou: as in ohem_select.
        ignore_index: int.

    Returns:
        0-d tensor in logits' dtype on logits' device.

    Rank the RoIs by their cross-entropy ce_i = logsumexp(logits[i]) - logits[i, targets[i]]
    (torch.nn.functional.cross_entropy with reduction="none", computed without gradient).
    RoIs whose target equals ignore_index are invalid: never selected, never suppress, even
    when ignore_index is also a class index. Select with ohem_select, then return the mean
    cross-entropy of the selected RoIs, recomputed on those rows so that the gradient reaches
    their logits and is exactly zero on every other row. When nothing is selected return
    exactly 0.0, still connected to logits (so .backward() works and gives zeros).
    """''',
    intro='''## Exercise 4: `ohem_loss`

The loss puts the pieces together: compute every RoI's cross-entropy *without* gradient, select the
hard RoIs with `ohem_select`, and average the loss of the selected RoIs *with* gradient. Selection is an
index, so it passes no gradient; RoIs that were not selected must get exactly zero gradient, as if the
network had only seen the selected ones. RoIs labelled `ignore_index` (e.g. boxes between foreground and
background) never take part.

Worked example: one image, `per_image = 2`, two classes, `logits = [[2, 0], [0, 2], [1, 1], [0, 0]]`,
`targets = [0, 0, 1, -1]`. The losses are $\\log(1 + e^{-2}) \\approx 0.127$, $\\log(1 + e^{2}) \\approx 2.127$,
$\\log 2 \\approx 0.693$, and RoI 3 is ignored. OHEM selects RoIs 1 and 2: the loss is
$(2.127 + 0.693) / 2 \\approx 1.410$, and the gradient on rows 0 and 3 is exactly zero.''',
    try_it='''logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.0, 0.0]], device=device, requires_grad=True)
targets = torch.tensor([0, 0, 1, -1], device=device)
loss = ohem_loss(logits, targets, torch.zeros(4, dtype=torch.long, device=device), per_image=2)
loss.backward()
print(loss)  # expected: about 1.4100
print(logits.grad)  # rows 0 and 3 exactly zero''',
)

POSITIVE_AWARE = Exercise(
    id="positive_aware_negatives",
    module="solutions",
    signature="def positive_aware_negatives(scores, positive_scores, k, relative_margin=None, absolute_margin=None, max_score=None):",
    docstring='''"""The k hardest retrieved candidates per query that pass the false-negative filters.

    Args:
        scores: [Q, M] floating scores of M retrieved candidates per query, finite or -inf
            (-inf marks a candidate that must never be returned: the query's own positives).
        positive_scores: [Q] or [Q, P] (P >= 1) finite scores of each query's positives,
            in scores' dtype and on its device.
        k: int >= 1.
        relative_margin, absolute_margin: float >= 0 or None. max_score: float or None.

    Returns:
        int64 [Q, k] candidate indices on scores' device.

    With s_ref the query's SMALLEST positive score (the hardest positive), a candidate with
    score s is dropped when (each rule only when its argument is not None):
        absolute_margin:  s + absolute_margin > s_ref
        relative_margin:  s > s_ref - |s_ref| * relative_margin   (for every sign of s_ref)
        max_score:        s > max_score
    Candidates scored -inf are never returned. Each row lists the min(k, passing) passing
    candidates with the highest scores, by decreasing score (equal scores: smaller index
    first, also when choosing which of them make the k), then -1 padding. Compare in scores'
    dtype. No Python loop over queries or candidates.
    """''',
    intro='''## Exercise 1: `positive_aware_negatives`

Mining over a whole corpus (an ANN index, lesson 09) returns, for each query, the candidates the model
scores highest. Many of the very top ones are not negatives at all: duplicates, the same item photographed
twice, mislabels. NV-Retriever's **TopK-PercPos** filter keeps a candidate only if it scores clearly below
the query's positive, e.g. at most 95 % of it (`relative_margin=0.05`); **TopK-MarginPos** keeps it only if
it scores at least `absolute_margin` below; **TopK-Abs** caps the score itself.

The trap is the sign. Written as $s_{ref}\\,(1 - m)$ the 95 % rule is right for $s_{ref} > 0$, but for a
negative positive score, say $-0.5$, it gives $-0.475$: *above* the positive, so the filter keeps more
candidates with the margin on than off (sentence-transformers issue #3819). The threshold
$s_{ref} - |s_{ref}|\\, m$ moves down for every sign. With several positives the threshold comes from the
smallest positive score.

Worked example: one query, positives scored $0.8$ and $0.6$ (so $s_{ref} = 0.6$), candidates scored
`[0.9, 0.59, 0.5, -inf, 0.55, 0.5]`, `k = 3`, `relative_margin = 0.05` (threshold $0.57$): candidate 0 is
a likely false negative, 1 is above the threshold, 3 is masked; the answer is `[4, 2, 5]` (2 and 5 tie:
the smaller index first). For a second query with positive $-0.5$ and candidates `[-0.45, -0.6, -0.52]`,
the threshold is $-0.525$, so the answer is `[1, -1, -1]`; the buggy $s_{ref}\\,(1 - m) = -0.475$ would also
have kept candidate 2, within 5 % of the positive.''',
    try_it='''scores = torch.tensor([[0.9, 0.59, 0.5, float("-inf"), 0.55, 0.5]], device=device)
positive_scores = torch.tensor([[0.8, 0.6]], device=device)
print(positive_aware_negatives(scores, positive_scores, 3, relative_margin=0.05))  # expected: [[4, 2, 5]]
scores = torch.tensor([[-0.45, -0.6, -0.52]], device=device)
print(positive_aware_negatives(scores, torch.tensor([-0.5], device=device), 3, relative_margin=0.05))  # [[1, -1, -1]]''',
)

PROXY_ANCHOR = Exercise(
    id="proxy_anchor_loss",
    module="solutions",
    signature="def proxy_anchor_loss(embeddings, labels, proxies, alpha=32.0, delta=0.1):",
    docstring='''"""Proxy Anchor loss (Kim et al. 2020), in log space.

    Args:
        embeddings: [B, D], proxies: [C, D] (C >= 1): finite floating tensors of one dtype
            and device, no all-zero row. labels: [B] integers in [0, C) (proxy c is class c).
        alpha: scale > 0. delta: margin >= 0.

    Returns:
        0-d tensor in embeddings' dtype on its device, differentiable with respect to the
        embeddings (and the proxies).

    With s(x, p) the cosine similarity, P all proxies and P+ the proxies with at least one
    sample of their class in the batch:
        loss = 1/|P+| sum_{p in P+} log(1 + sum_{x of p's class}     e^{-alpha (s(x,p) - delta)})
             + 1/|P|  sum_{p in P}  log(1 + sum_{x not of p's class} e^{ alpha (s(x,p) + delta)})
    A proxy without positives contributes 0 to the first term and is not counted in |P+|;
    an empty batch gives exactly 0. Evaluate log(1 + sum e^z) without overflow for alpha up
    to 256 (as softplus(logsumexp(z))). No Python loop over samples.
    """''',
    intro='''## Exercise 2: `proxy_anchor_loss`

Proxy losses drop mining altogether: one learned vector per class (a *proxy*) stands in for all of its
samples, and every sample is compared with every proxy, so each batch sees all $C$ classes. **Proxy
Anchor** makes each proxy an anchor: it pulls the proxy's own samples in (hardest first, through the
log-sum-exp) and pushes every other sample out beyond the margin $\\delta$. The scale $\\alpha = 32$
weights hard samples heavily, which is where the numerics bite: $e^{32 \\cdot 1.1} \\approx 2 \\cdot 10^{15}$,
and at $\\alpha = 100$ the official code's `exp` overflows float32 to `inf`. Write
$\\log(1 + \\sum e^{z})$ as `softplus(logsumexp(z))`, or append a 0 to the terms before a `logsumexp`.

Worked example: two unit embeddings $x_0 = (1, 0)$ (class 0) and $x_1 = (0, 1)$ (class 1), proxies equal
to them, $\\alpha = 1$, $\\delta = 0$. Each proxy's positive has cosine 1: $\\log(1 + e^{-1}) \\approx 0.3133$;
each proxy's negative has cosine 0: $\\log(1 + e^{0}) = \\log 2 \\approx 0.6931$. The loss is
$0.3133 + 0.6931 = 1.0064$. With a third proxy $(-1, 0)$ and no sample of class 2, the positive term still
averages over the two proxies with samples, and the negative term adds proxy 2's
$\\log(1 + e^{-1} + e^{0})$ and averages over three.''',
    try_it='''x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], device=device, requires_grad=True)
labels = torch.tensor([0, 1], device=device)
proxies = torch.tensor([[1.0, 0.0], [0.0, 1.0]], device=device)
loss = proxy_anchor_loss(x, labels, proxies, alpha=1.0, delta=0.0)
loss.backward()
print(loss)  # expected: about 1.0064
print(proxy_anchor_loss(x * 5, labels, proxies, alpha=256.0))  # finite at large alpha, and invariant to scaling''',
)

HARD_NEGATIVE_INFONCE = Exercise(
    id="hard_negative_infonce",
    module="solutions",
    signature="def hard_negative_infonce(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):",
    docstring='''"""Hardness-weighted, debiased InfoNCE (HCL, Robinson et al. 2021) over two views.

    Args:
        z1, z2: [B, D] floating tensors of equal shape, dtype and device, no all-zero row;
            z1[i] and z2[i] are two views of item i (not necessarily unit length).
        temperature: > 0. beta: >= 0. tau_plus: in [0, 1).

    Returns:
        0-d tensor in z1's dtype on z1's device.

    The 2B rows of [z1; z2] are the anchors. Anchor i's positive is the other view of its
    item; its N = 2B - 2 negatives are every other row (never itself). With
    s = cosine / temperature (s+ for the positive, s_1..s_N for the negatives):
        reweight = N * sum_i e^{(beta + 1) s_i} / sum_i e^{beta s_i}
        Ng       = max((reweight - tau_plus * N * e^{s+}) / (1 - tau_plus), N * e^{-1/temperature})
        loss     = log(1 + Ng / e^{s+})
    averaged over the 2B anchors (beta multiplies s, not the raw cosine). With tau_plus = 0
    the clamp cannot bind and may be left out.

    Rules: beta = tau_plus = 0 is plain NT-Xent (SimCLR); beta = 0 the debiased loss; float32
    must stay finite and accurate for temperatures down to 1e-4 and beta up to 50 (work in
    log space: logsumexp, logaddexp, log1p/expm1, never exp(s)); the gradient flows through
    every term, the importance weights included. B <= 1 (no negative): exactly 0.0, still
    connected to z1 and z2. Do not modify the inputs. No Python loop over anchors or pairs.
    Values are compared with the reference computed in float64 on the same inputs, within
    64 eps (1 + 1/temperature)(N + 2)(D + 2), eps the machine epsilon of the inputs' dtype
    (gradients: within 1e-3 (float32) or 1e-9 (float64) of the largest entry + 1/temperature).
    """''',
    intro='''## Exercise 1: `hard_negative_infonce`

SimCLR's NT-Xent loss treats every other sample of the batch as a negative and weighs them by
$e^{s_i}$ with $s = \\cos / t$: the **temperature** $t$ is already a hardness dial (a small $t$
gives the most similar negatives almost all the weight). Two papers change only the negative term:

* **Debiasing** (Chuang et al. 2020): a "negative" of the same class as the anchor is really a
  positive; with class prior $\\tau^+$, subtract its expected share $\\tau^+ N e^{s^+}$ and divide by
  $1 - \\tau^+$. The result can become $\\le 0$, so it is clamped at $N e^{-1/t}$, its smallest
  possible value for cosines $\\ge -1$.
* **Hardness weighting** (HCL, Robinson et al. 2021): weigh the negatives by $e^{\\beta s_i}$,
  normalised to mean 1: `reweight` $= N \\sum_i e^{(\\beta+1) s_i} / \\sum_i e^{\\beta s_i}$. $\\beta = 0$ is
  the plain sum; as $\\beta \\to \\infty$ only the hardest negative counts ($N \\max_i e^{s_i}$), and the loss
  never decreases as $\\beta$ grows.

The authors' code evaluates `exp(sim / t)` directly, which is `inf` in float32 once
$(\\beta + 1)\\cos / t > 88.7$: at $t = 0.01$ already, and at $t = 0.5$ for $\\beta = 50$. Write every
quantity as a logarithm: $\\log$ `reweight` is a difference of two `logsumexp`s plus $\\log N$; the
debiased term is $\\log$ `reweight` $+ \\log(1 - r) - \\log(1 - \\tau^+)$ with
$r = \\tau^+ N e^{s^+} /$ `reweight` (and $-\\infty$ when $r \\ge 1$, before the clamp); the loss is
$\\mathrm{softplus}(\\log N_g - s^+)$. Mask the anchor and its positive *after* scaling by $\\beta$
($0 \\cdot (-\\infty)$ is NaN).

Worked example (next cell): three items in 2-D. With $t = 0.5$: $\\beta = \\tau^+ = 0$ gives
NT-Xent $\\approx 0.5252$; $\\beta = 1, \\tau^+ = 0.1$ gives $\\approx 0.6514$. With the second views
reversed and $t = 0.01$ the loss is $\\approx 120.25$, where the authors' code returns NaN.''',
    try_it='''z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], device=device, requires_grad=True)
z2 = torch.tensor([[1.0, 0.5], [0.5, 1.0], [-1.0, -0.5]], device=device)
print(hard_negative_infonce(z1, z2, 0.5, beta=0.0, tau_plus=0.0))  # expected: about 0.5252 (NT-Xent)
loss = hard_negative_infonce(z1, z2, 0.5, beta=1.0, tau_plus=0.1)
loss.backward()
print(loss, z1.grad)  # expected: about 0.6514, a finite gradient
print(hard_negative_infonce(z1.detach(), z2.flip(0), 0.01, beta=1.0, tau_plus=0.1))  # expected: about 120.25''',
)

TOPK_NEGATIVES = Exercise(
    id="topk_negatives",
    module="solutions",
    signature="def topk_negatives(sim, labels, k):",
    docstring='''"""Per anchor, the k most similar negatives (for a "mined" NT-Xent denominator).

    Args:
        sim: [B, B] finite floating similarities (larger = more similar); row a is read for
            anchor a (do not assume symmetry). labels: [B] integers. k: int >= 1.

    Returns:
        int64 [B, k] on sim's device. Row a lists the negatives n of a (labels[n] != labels[a])
        in decreasing sim[a, n], equal similarities by increasing index (also when the row is
        cut at k: the smaller index is kept), the first k of them; when a has fewer than k
        negatives the row is padded with -1 at the end.

    Do not modify the inputs. No Python loop over anchors or pairs.
    """''',
    intro='''## Exercise 2: `topk_negatives`

A "mined" NT-Xent keeps only each anchor's $k$ hardest negatives in its denominator (everything
else is easy and contributes almost nothing, but still costs memory at large batch sizes). The
mining step is a per-row selection: among the anchor's negatives, the $k$ largest similarities.
Make the answer exact: ties go to the smaller index (a *stable* sort keeps equal values in index
order; `torch.topk` does not promise any order for ties), and a row with fewer than $k$ negatives is
padded with $-1$.

Worked example (next cell): labels `[0, 0, 1, 1, 2]`, $k = 2$. Anchor 0's negatives are 2, 3, 4 with
similarities $0.2, 0.5, 0.5$: 3 and 4 tie, so the row is `[3, 4]`. Anchor 4 (the only one of class 2)
has four negatives, similarities $0.5, 0.3, 0.6, 0.8$: `[3, 2]`. With $k = 4$, anchor 0 has only three
negatives: `[3, 4, 2, -1]`.''',
    try_it='''sim = torch.tensor([[1.0, 0.9, 0.2, 0.5, 0.5], [0.9, 1.0, 0.7, 0.1, 0.3], [0.2, 0.7, 1.0, 0.6, 0.6],
                    [0.5, 0.1, 0.6, 1.0, 0.8], [0.5, 0.3, 0.6, 0.8, 1.0]], device=device)
labels = torch.tensor([0, 0, 1, 1, 2], device=device)
print(topk_negatives(sim, labels, 2))  # expected: [[3, 4], [2, 4], [1, 4], [4, 0], [3, 2]]
print(topk_negatives(sim, labels, 4)[0])  # expected: [3, 4, 2, -1]''',
)

ASSIGNMENTS = (
    Assignment(
        name="ps1_distances_semi_hard",
        title="Problem set 1: distances and semi-hard negatives",
        intro="""# Problem set 1: distances and semi-hard negatives

Implement each function in its answer cell, run the "try it" cell, then the check cell below it:
`grader.check` runs the same property tests the course grader uses (on the GPU when there is one),
prints which rules hold, a minimal counterexample for each rule that does not, and the points earned.
Write vectorised torch: no Python loops over samples or pairs.""",
        exercises=(PAIRWISE, SEMI_HARD),
    ),
    Assignment(
        name="ps2_batch_hard_weights",
        title="Problem set 2: batch-hard mining and distance-weighted sampling",
        intro="""# Problem set 2: batch-hard mining and distance-weighted sampling

As in problem set 1: implement, try, check. `grader.check` prints the rules, counterexamples and
points. Write vectorised torch: no Python loops over samples or pairs.""",
        exercises=(BATCH_HARD, DISTANCE_WEIGHTS),
    ),
    Assignment(
        name="ps3_ohem",
        title="Problem set 3: online hard example mining for detection",
        intro="""# Problem set 3: online hard example mining for detection

From box overlaps to non-maximum suppression to OHEM's selection of hard RoIs and its loss: each
exercise uses the one before. As before: implement, try, check. `grader.check` prints the rules,
minimal counterexamples and points. The rules are exact, ties and boundaries included: read the
docstrings closely. Write vectorised torch: no Python loop with a step per box or RoI.""",
        exercises=(BOX_IOU, NMS, OHEM_SELECT, OHEM_LOSS),
    ),
    Assignment(
        name="ps4_contrastive",
        title="Problem set 4: hard negatives inside contrastive losses",
        intro="""# Problem set 4: hard negatives inside contrastive losses

InfoNCE / NT-Xent losses weigh every in-batch negative by its similarity; these exercises make that
weighting explicit (hardness-weighted, debiased InfoNCE) and select the hardest negatives outright (the
top-k negatives of a "mined" denominator). As before: implement, try, check. `grader.check` prints the
rules, minimal counterexamples and points. Work in log space, and write vectorised torch: no Python
loop over anchors or pairs.""",
        exercises=(HARD_NEGATIVE_INFONCE, TOPK_NEGATIVES),
    ),
    Assignment(
        name="ps5_beyond_the_batch",
        title="Problem set 5: beyond the batch",
        intro="""# Problem set 5: beyond the batch

Two ways past the limits of in-batch mining (lessons 09 and 10): negatives mined over a whole corpus, with
the false negatives filtered out, and proxy losses, which need no mining at all. As before: implement, try,
check. `grader.check` prints the rules, minimal counterexamples and points. Write vectorised torch: no
Python loop over queries, candidates or samples.""",
        exercises=(POSITIVE_AWARE, PROXY_ANCHOR),
    ),
)
