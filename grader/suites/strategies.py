"""Hypothesis strategies for mining inputs, shared by the test suite and the grader.

They deliberately produce the cases random floats never hit: exact ties, values exactly
on a margin boundary (quantised to multiples of 1/8, which every float dtype represents
exactly), singleton classes, single-class batches, all-unique labels, duplicate
embeddings, and tiny batches (B = 0, 1, 2).

Bulk values (matrix cells, coordinates) are drawn as one byte string and mapped to
numbers: one Hypothesis choice per matrix instead of one per cell, which makes drawing
an example about ten times cheaper, while shrinking still moves every value towards 0.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

FLOAT_DTYPES = (torch.float32, torch.float64)
LABEL_DTYPES = (torch.int64, torch.int32, torch.int16, torch.uint8)
# Margins that are multiples of the 1/8 grid, so boundary hits are exact.
GRID_MARGINS = (0.125, 0.25, 0.5, 1.0)


def byte_values(draw, n: int, width: int = 1) -> list[int]:
    """``n`` unsigned integers of ``width`` bytes from one Hypothesis choice (a byte string):
    one draw instead of ``n``, and shrinking still moves every value towards 0."""
    raw = draw(st.binary(min_size=n * width, max_size=n * width))
    if width == 1:
        return list(raw)
    return [int.from_bytes(raw[i:i + width], "big") for i in range(0, n * width, width)]


def zigzag(value: int) -> int:
    """0, 1, 2, 3, 4, ... -> 0, -1, 1, -2, 2, ...: small bytes give small magnitudes of either sign."""
    return (value + 1) // 2 * (-1 if value % 2 else 1)


def _bytes_tensor(raw: bytes, shape: tuple[int, ...], width: int) -> torch.Tensor:
    """Unsigned integers of ``width`` bytes (big-endian) from ``raw``, as float64."""
    if not raw:
        return torch.zeros(shape, dtype=torch.float64)
    values = torch.tensor(list(raw), dtype=torch.float64).reshape(-1, width)
    weights = 256.0 ** torch.arange(width - 1, -1, -1, dtype=torch.float64)
    return (values @ weights).reshape(shape)


@st.composite
def label_vectors(draw, min_size: int = 0, max_size: int = 12) -> torch.Tensor:
    """1-D integer labels: random small alphabets, all-equal, all-unique, pairs, any dtype."""
    n = draw(st.integers(min_size, max_size))
    kind = draw(st.sampled_from(["few", "few", "single", "unique", "pairs"]))
    if kind == "single":
        values = [draw(st.integers(0, 5))] * n
    elif kind == "unique":
        values = list(range(n))
    elif kind == "pairs":
        values = [i // 2 for i in range(n)]
    else:
        values = [v % 4 for v in byte_values(draw, n)]
    dtype = draw(st.sampled_from(LABEL_DTYPES))
    order = byte_values(draw, n)  # a permutation: stable sort by random keys (all-zero keys: none)
    perm = sorted(range(n), key=lambda i: order[i])
    return torch.tensor([values[i] for i in perm], dtype=torch.int64).to(dtype)


@st.composite
def distance_matrices(draw, n: int, dtype: torch.dtype | None = None, max_value: float = 2.0) -> torch.Tensor:
    """``[n, n]`` non-negative distances: quantised to 1/8 (ties, boundaries), fine-grained
    (multiples of 2^-16 of max_value), or true Euclidean distances of (possibly duplicated)
    points. Not necessarily symmetric, diagonal not necessarily 0."""
    dtype = dtype or draw(st.sampled_from(FLOAT_DTYPES))
    kind = draw(st.sampled_from(["grid", "grid", "fine", "points"]))
    if kind == "grid":
        steps = int(max_value * 8) + 1
        raw = draw(st.binary(min_size=n * n, max_size=n * n))
        return (_bytes_tensor(raw, (n, n), 1).remainder(steps) / 8).to(dtype)
    if kind == "fine":
        raw = draw(st.binary(min_size=2 * n * n, max_size=2 * n * n))
        return (_bytes_tensor(raw, (n, n), 2) / 65536 * max_value).to(dtype)
    points = draw(embeddings(n, dim=draw(st.integers(2, 4)), dtype=torch.float64, unit=True))
    return torch.cdist(points, points).clamp(max=max_value).to(dtype)


@st.composite
def embeddings(draw, n: int, dim: int, dtype: torch.dtype | None = None, unit: bool = False, far: bool = False) -> torch.Tensor:
    """``[n, dim]`` embeddings: coordinates on a 1/4 grid in [-8, 8) or fine-grained in
    [-3, 3), with some rows duplicated; optionally L2-normalised (zero rows become e_0).

    With ``far``, half the time normal noise around a common point far from the origin (norm
    up to ~2^10), the first half of the rows repeated (n // 2 pairs of identical rows): there the Gram shortcut
    ``|x|^2 + |y|^2 - 2 x.y`` cancels, and for two identical float32 rows it often rounds
    below 0 (the natural "no clamp" and "plain square root" mistakes)."""
    dtype = dtype or draw(st.sampled_from(FLOAT_DTYPES))
    distant = far and draw(st.booleans())
    if distant:  # normal noise around a far centre: full mantissas, so squares and dot products round
        g = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1)))
        centre = torch.randn(1, dim, generator=g, dtype=torch.float64) * 2.0 ** draw(st.integers(2, 10))
        x = centre + torch.randn(n, dim, generator=g, dtype=torch.float64)
        x[n // 2:2 * (n // 2)] = x[:n // 2]  # the first half twice: n // 2 pairs of identical rows
    elif draw(st.booleans()):
        raw = draw(st.binary(min_size=n * dim, max_size=n * dim))
        x = (_bytes_tensor(raw, (n, dim), 1).remainder(64) - 32) / 4
    else:
        raw = draw(st.binary(min_size=2 * n * dim, max_size=2 * n * dim))
        x = _bytes_tensor(raw, (n, dim), 2) / 65536 * 6 - 3
    if n >= 2 and not distant and draw(st.booleans()):
        src = [v % n for v in byte_values(draw, n)]
        dup = [v % 2 == 1 for v in byte_values(draw, n)]
        x = torch.stack([x[s] if d else x[i] for i, (s, d) in enumerate(zip(src, dup))])
    if unit:
        norms = x.norm(dim=1, keepdim=True)
        e0 = torch.nn.functional.one_hot(torch.zeros(n, dtype=torch.long), dim).double()
        x = torch.where(norms > 0, x / norms.clamp(min=1e-12), e0)
    return x.to(dtype)


@st.composite
def mining_inputs(draw, max_size: int = 12, max_value: float = 2.0):
    """``(dist, labels)`` with matching sizes (B may be 0)."""
    labels = draw(label_vectors(max_size=max_size))
    dist = draw(distance_matrices(labels.shape[0], max_value=max_value))
    return dist, labels
