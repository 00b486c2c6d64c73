"""Hypothesis strategies for mining inputs, shared by the test suite and the grader.

They deliberately produce the cases random floats never hit: exact ties, values exactly
on a margin boundary (quantised to multiples of 1/8, which every float dtype represents
exactly), singleton classes, single-class batches, all-unique labels, duplicate
embeddings, and tiny batches (B = 0, 1, 2).
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

FLOAT_DTYPES = (torch.float32, torch.float64)
LABEL_DTYPES = (torch.int64, torch.int32, torch.int16, torch.uint8)
# Margins that are multiples of the 1/8 grid, so boundary hits are exact.
GRID_MARGINS = (0.125, 0.25, 0.5, 1.0)


@st.composite
def label_vectors(draw, min_size: int = 0, max_size: int = 12) -> torch.Tensor:
    """1-D integer labels: random small alphabets, all-equal, all-unique, with singletons."""
    n = draw(st.integers(min_size, max_size))
    kind = draw(st.sampled_from(["few", "few", "single", "unique", "pairs"]))
    if kind == "single":
        values = [draw(st.integers(0, 5))] * n
    elif kind == "unique":
        values = list(range(n))
    elif kind == "pairs":
        values = [i // 2 for i in range(n)]
    else:
        values = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    dtype = draw(st.sampled_from(LABEL_DTYPES))
    perm = draw(st.permutations(range(n)))
    return torch.tensor([values[i] for i in perm], dtype=torch.int64).to(dtype)


@st.composite
def distance_matrices(draw, n: int, dtype: torch.dtype | None = None, max_value: float = 2.0) -> torch.Tensor:
    """``[n, n]`` non-negative distances: quantised (ties, boundaries), arbitrary floats,
    or true Euclidean distances of (possibly duplicated) points. Not necessarily symmetric."""
    dtype = dtype or draw(st.sampled_from(FLOAT_DTYPES))
    kind = draw(st.sampled_from(["grid", "grid", "float", "points"]))
    if kind == "grid":
        steps = int(max_value * 8)
        cells = draw(st.lists(st.integers(0, steps), min_size=n * n, max_size=n * n))
        return torch.tensor(cells, dtype=torch.float64).reshape(n, n).to(dtype) / 8
    if kind == "float":
        cells = draw(
            st.lists(
                st.floats(0, max_value, allow_nan=False, allow_infinity=False, width=32),
                min_size=n * n,
                max_size=n * n,
            )
        )
        return torch.tensor(cells, dtype=dtype).reshape(n, n)
    points = draw(embeddings(n, dim=draw(st.integers(2, 4)), dtype=torch.float64, unit=True))
    return torch.cdist(points, points).to(dtype)


@st.composite
def embeddings(draw, n: int, dim: int, dtype: torch.dtype | None = None, unit: bool = False) -> torch.Tensor:
    """``[n, dim]`` embeddings with some duplicated rows and quantised coordinates."""
    dtype = dtype or draw(st.sampled_from(FLOAT_DTYPES))
    coords = draw(
        st.lists(
            st.one_of(st.integers(-8, 8).map(lambda v: v / 4), st.floats(-3, 3, allow_nan=False, width=32)),
            min_size=n * dim,
            max_size=n * dim,
        )
    )
    x = torch.tensor(coords, dtype=torch.float64).reshape(n, dim)
    if n >= 2 and draw(st.booleans()):
        src = draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n))
        dup = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        x = torch.stack([x[s] if d else x[i] for i, (s, d) in enumerate(zip(src, dup))])
    if unit:
        norms = x.norm(dim=1, keepdim=True)
        x = torch.where(norms > 0, x / norms.clamp(min=1e-12), torch.nn.functional.one_hot(torch.zeros(n, dtype=torch.long), dim).double())
    return x.to(dtype)


@st.composite
def mining_inputs(draw, max_size: int = 12, max_value: float = 2.0):
    """``(dist, labels)`` with matching sizes (B may be 0)."""
    labels = draw(label_vectors(max_size=max_size))
    dist = draw(distance_matrices(labels.shape[0], max_value=max_value))
    return dist, labels
