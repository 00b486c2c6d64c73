"""The exercise notebooks, as data: one assignment per notebook, one exercise per function.

``grader.build`` turns these into nbgrader source notebooks (the instructor masters) and,
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
`nonzero_loss_cutoff` (they give no loss anyway).

The numbers are extreme: for `dim = 512` the log-weights of one row can differ by hundreds. Work in
log space and normalise **per row** (a log-softmax over the row's valid negatives); normalising by one
global maximum makes whole rows underflow to zero.''',
    try_it=WORKED_BATCH + '''

w = distance_weights(dist, labels, dim=4)
print(w.round(decimals=3))
print("row sums:", w.sum(dim=1))''',
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
)
