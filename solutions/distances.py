"""In-batch pairwise Euclidean distances, exact where the Gram shortcut is not."""

from __future__ import annotations

import torch
from torch import Tensor

from . import _checks

# Pairs whose Gram-form squared distance is below this fraction of |x|^2 + |y|^2 lose
# most of their significant digits to cancellation; they are recomputed from differences.
_REFINE_FRACTION = 1e-2
# Upper bound on the elements materialised per refinement chunk (pairs x dim).
_REFINE_CHUNK_ELEMENTS = 1 << 22


def pairwise_distances(embeddings: Tensor, squared: bool = False) -> Tensor:
    """Euclidean (or squared Euclidean) distances between all rows of ``embeddings``.

    Args:
        embeddings: ``[B, D]`` floating tensor (float32 or float64), finite.
        squared: return squared distances instead.

    Returns:
        ``[B, B]`` tensor in the input's dtype and on its device, with
        ``out[i, j] = ||x_i - x_j||`` (squared if asked).

    Guarantees:
        * exactly 0 on the diagonal and between identical rows, exactly symmetric,
          never negative;
        * accurate to float rounding at the scale of the inputs' norms; pairs that
          are close relative to their norms (near-duplicates), where the Gram-matrix
          shortcut ``|x|^2 + |y|^2 - 2 x.y`` cancels catastrophically, are recomputed
          from explicit differences;
        * finite gradients everywhere; the gradient through a zero distance is 0
          (the square root is masked, so coincident points give no NaN).

    Cost: one ``B x B x D`` matmul plus ``O(B^2)`` elementwise work and memory,
    plus ``O(D)`` per refined pair (chunked).
    """
    x = _checks.floating("embeddings", embeddings, 2)
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError("embeddings must be finite (found NaN or inf)")
    n = x.shape[0]
    sq = (x * x).sum(dim=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    d2 = 0.5 * (d2 + d2.T)  # exact symmetry: a + b == b + a in IEEE arithmetic
    eye = torch.eye(n, dtype=torch.bool, device=x.device)
    with torch.no_grad():
        suspect = (d2 <= _REFINE_FRACTION * (sq[:, None] + sq[None, :])).triu_(diagonal=1)
        rows, cols = suspect.nonzero(as_tuple=True)
    if rows.numel():
        step = max(1, _REFINE_CHUNK_ELEMENTS // max(1, x.shape[1]))
        exact = torch.cat(
            [
                (x[rows[s : s + step]] - x[cols[s : s + step]]).square().sum(dim=1)
                for s in range(0, rows.numel(), step)
            ]
        )
        d2 = d2.index_put((torch.cat([rows, cols]), torch.cat([cols, rows])), torch.cat([exact, exact]))
    d2 = d2.masked_fill(eye, 0.0)
    if squared:
        return d2
    positive = d2 > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, d2, torch.ones_like(d2))), torch.zeros_like(d2))
