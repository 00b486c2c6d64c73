"""In-batch pairwise Euclidean distances, exact where the Gram shortcut is not."""

from __future__ import annotations

import torch
from torch import Tensor

from . import _checks

# Pairs whose Gram-form squared distance is below this fraction of |x|^2 + |y|^2 lose
# most of their significant digits to cancellation; they are recomputed from differences.
_REFINE_FRACTION = 1e-2
# Upper bound on the elements materialised per refinement chunk (pairs x dim).
_REFINE_CHUNK_ELEMENTS = 1 << 20


class _MaskedSqrt(torch.autograd.Function):
    """``sqrt`` of a non-negative tensor whose gradient is 0 (not inf or NaN) at 0."""

    @staticmethod
    def forward(ctx, squared: Tensor) -> Tensor:
        root = squared.sqrt()
        ctx.save_for_backward(root)
        return root

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (root,) = ctx.saved_tensors
        return torch.where(root > 0, grad / (2 * root).clamp(min=torch.finfo(root.dtype).tiny), 0.0)


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

    Cost: one ``B x B x D`` matmul plus a few ``B x B`` passes, ``O(B^2)`` memory,
    plus ``O(D)`` per refined pair (in chunks).
    """
    x = _checks.floating("embeddings", embeddings, 2)
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError("embeddings must be finite (found NaN or inf)")
    if x.shape[0] == 0:
        return torch.mm(x, x.T)
    sq = (x * x).sum(dim=1)
    if x.requires_grad:
        d2 = torch.addmm(sq[:, None] + sq[None, :], x, x.T, alpha=-2.0)
        # Exact symmetry: a + b == b + a in IEEE arithmetic (the matmul alone may not be symmetric).
        d2 = torch.add(d2, d2.T.contiguous()).mul_(0.5)
    else:  # the same arithmetic in place, without the allocations autograd needs
        d2 = torch.mm(x, x.T).mul_(-2.0).add_(sq[:, None]).add_(sq[None, :])
        d2 = d2.add_(d2.T.contiguous()).mul_(0.5)
    with torch.no_grad():
        s = sq.detach()
        # Cheap scalar prefilter, then the exact per-pair test on the few candidates.
        rows, cols = (d2.detach() <= (2 * _REFINE_FRACTION) * s.max()).nonzero(as_tuple=True)
        suspect = (rows < cols) & (d2.detach()[rows, cols] <= _REFINE_FRACTION * (s[rows] + s[cols]))
        rows, cols = rows[suspect], cols[suspect]
    if rows.numel():
        step = max(1, _REFINE_CHUNK_ELEMENTS // max(1, x.shape[1]))
        exact = torch.cat(
            [
                (x[rows[s : s + step]] - x[cols[s : s + step]]).square().sum(dim=1)
                for s in range(0, rows.numel(), step)
            ]
        )
        d2 = d2.index_put((torch.cat([rows, cols]), torch.cat([cols, rows])), torch.cat([exact, exact]))
    if d2.requires_grad:
        d2 = d2.masked_fill(torch.eye(d2.shape[0], dtype=torch.bool, device=d2.device), 0.0)
    else:
        d2.fill_diagonal_(0.0)
    if squared:
        return d2
    # Every entry is >= 0 here: unrefined ones exceed a non-negative threshold, refined ones are sums of squares.
    return _MaskedSqrt.apply(d2) if d2.requires_grad else d2.sqrt_()
