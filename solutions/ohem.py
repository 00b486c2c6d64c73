"""Online hard example mining (OHEM, Shrivastava, Gupta & Girshick, CVPR 2016) for detection.

OHEM forwards *all* RoIs of an image, ranks them by their current loss, removes co-located
duplicates by greedy NMS with the losses as scores (IoU 0.7 in the paper) and trains on the
top ``B/N`` of what is left (64 per image in the paper).

Shared rules:
    * Boxes are ``(x1, y1, x2, y2)`` rows with ``x1 <= x2`` and ``y1 <= y2``, finite, of any
      integer or floating dtype. IoU is computed in the *IoU dtype* (the boxes' floating
      dtype, float32 for integer boxes) with the fixed formula of ``solutions._boxes``;
      thresholds are rounded to the IoU dtype and every comparison is ``iou > threshold``,
      made in that dtype.
    * Ranking is by score (or loss) descending; equal values, ``-0.0`` and ``0.0`` included,
      go to the smaller index first. Infinite scores are ranked like any other value.
    * Index outputs are int64 tensors on the inputs' device. Selection never needs
      gradients: it reads ``detach()``-ed values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _boxes, _checks

# Greedy NMS visits the undecided boxes of every image in windows, all images at once, and
# resolves a window with _SWEEPS Jacobi sweeps of the rule "kept iff no earlier kept box
# overlaps it" (exact for the prefix that has stopped changing, see _greedy). A window holds
# _WINDOW boxes, or up to _MAX_WINDOW when most of them turn out to be suppressed already.
# (64 and 4: fastest on the CPU for 2000 RoIs per image, see benchmarks/bench_ohem.py.)
_WINDOW = 64
_MAX_WINDOW = 512
_SWEEPS = 4


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection over union of every box of ``boxes1`` with every box of ``boxes2``.

    Args:
        boxes1: ``[N, 4]``, boxes2: ``[M, 4]``; rows ``(x1, y1, x2, y2)`` with ``x1 <= x2``,
            ``y1 <= y2``, finite; integer or floating dtypes, on one device.

    Returns:
        ``[N, M]``, ``out[i, j] = |b1_i & b2_j| / |b1_i | b2_j|`` in the IoU dtype: the
        floating dtype of the inputs (promoted if they differ), float32 if both are integer
        (integer coordinates are converted to float32 first, exact up to 2**24). Values lie
        in ``[0, 1]``; boxes that only touch, and any pair with a zero-area box, have IoU 0
        (never NaN). Exactly symmetric: ``box_iou(a, b) == box_iou(b, a).T``.
        Differentiable with respect to floating boxes.
    """
    b1 = _boxes.boxes("boxes1", boxes1)
    b2 = _boxes.boxes("boxes2", boxes2)
    _checks.same_device("boxes2", b2, "boxes1", b1)
    dtype = _boxes.iou_dtype(b1, b2)
    return _boxes.pairwise_iou(b1.to(dtype), b2.to(dtype))


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Exact greedy non-maximum suppression.

    Visits the boxes by decreasing score (equal scores: smaller index first) and keeps a box
    unless its IoU with an already *kept* box is strictly greater than ``iou_threshold``
    (so IoU equal to the threshold never suppresses; threshold 1 keeps every box, threshold
    0 drops every box that overlaps a kept one with positive area).

    Args:
        boxes: ``[N, 4]`` boxes (see the module rules). scores: ``[N]`` integer or floating,
            no NaN (``+-inf`` allowed), on ``boxes``' device. iou_threshold: real in ``[0, 1]``.

    Returns:
        int64 ``[K]``: indices of the kept boxes in visiting order (scores non-increasing).

    Algorithm: the score-sorted boxes are visited in windows of 64 (up to 512 when most are
    already suppressed); a window is first checked against every box kept so far, then
    settled with a few vectorised sweeps (see ``_greedy``). No per-box host round trip: a few
    synchronisations per window, ``O(N * (K + 64))`` IoU evaluations, ``O(N + 64 * K)`` memory.
    """
    b = _boxes.boxes("boxes", boxes)
    s = _boxes.real_vector("scores", scores, b.shape[0])
    _checks.same_device("scores", s, "boxes", b)
    threshold = _boxes.unit_interval("iou_threshold", iou_threshold)
    order = _visiting_order(s.detach())
    n = order.numel()
    if n == 0:
        return order
    sorted_boxes = b.detach()[order].to(_boxes.iou_dtype(b))
    group = torch.zeros(n, dtype=torch.int64, device=b.device)
    rank = torch.arange(n, device=b.device)
    return order[_greedy(sorted_boxes, group, rank, 1, n, threshold, None)]


def ohem_select(
    losses: Tensor,
    image_ids: Tensor,
    per_image: int,
    boxes: Tensor | None = None,
    nms_iou: float | None = None,
    valid: Tensor | None = None,
) -> Tensor:
    """The RoIs OHEM trains on: per image, the ``per_image`` hardest after optional NMS.

    For each image (RoIs with equal ``image_ids``; ids are arbitrary integers in any order),
    its valid RoIs are ranked by loss descending (equal losses: smaller index first); with
    ``nms_iou`` they are de-duplicated by :func:`nms` at ``nms_iou`` with the losses as scores
    (class-agnostic, within the image, invalid RoIs take no part and suppress nothing); the
    first ``per_image`` of the ranked (surviving) RoIs are selected. Fewer are selected when
    an image has fewer; none when ``per_image == 0``.

    Args:
        losses: ``[R]`` floating, no NaN (``+-inf`` allowed); read detached (selection passes
            no gradient). image_ids: ``[R]`` integers. per_image: int ``>= 0``.
        boxes: ``[R, 4]`` RoI boxes or ``None``; used only with ``nms_iou``.
        nms_iou: ``None`` (no NMS) or a real in ``[0, 1]`` (the paper uses 0.7); requires boxes.
        valid: ``[R]`` bool or ``None`` (all valid).

    Returns:
        int64 ``[K]``: the selected RoI indices in increasing order, on ``losses``' device.

    Cost: two stable sorts over the valid RoIs; without NMS nothing else (no loop). With NMS,
    the windowed greedy NMS of :func:`nms` runs on all images at once (no loop over images)
    and stops for each image once it has ``per_image`` survivors, so an image costs about
    ``visited * (per_image + 64)`` IoU evaluations, however many RoIs it has after them.
    """
    loss = _checks.floating("losses", losses, 1)
    if loss.numel() and bool(torch.isnan(loss.detach()).any()):
        raise ValueError("losses must not contain NaN")
    r = loss.shape[0]
    ids = _checks.labels(image_ids, r, name="image_ids")
    _checks.same_device("image_ids", ids, "losses", loss)
    k = _checks.integer("per_image", per_image, 0)
    b = None
    if boxes is not None:
        b = _boxes.boxes("boxes", boxes, r)
        _checks.same_device("boxes", b, "losses", loss)
    threshold = None
    if nms_iou is not None:
        if b is None:
            raise ValueError("nms_iou needs boxes: pass boxes ([R, 4], one per RoI) or leave nms_iou=None")
        threshold = _boxes.unit_interval("nms_iou", nms_iou)
    if valid is not None:
        valid = _boxes.mask("valid", valid, r)
        _checks.same_device("valid", valid, "losses", loss)
    dev = loss.device
    cand = torch.arange(r, device=dev) if valid is None else valid.nonzero().squeeze(1)
    if k == 0 or cand.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=dev)
    # Group by image (stable), hardest first within an image, ties by index.
    cand = cand[_visiting_order(loss.detach()[cand])]
    cand = cand[torch.sort(ids[cand], stable=True).indices]
    g = ids[cand]
    start = torch.ones_like(cand, dtype=torch.bool)
    start[1:] = g[1:] != g[:-1]
    pos = torch.arange(cand.numel(), device=dev)
    rank = pos - torch.cummax(torch.where(start, pos, 0), dim=0).values
    if threshold is None:
        return torch.sort(cand[rank < k]).values
    group = start.cumsum(0) - 1
    n_groups, width = torch.stack([group[-1] + 1, rank.max() + 1]).tolist()
    sorted_boxes = b.detach()[cand].to(_boxes.iou_dtype(b))
    return torch.sort(cand[_greedy(sorted_boxes, group, rank, n_groups, width, threshold, k)]).values


def ohem_loss(
    logits: Tensor,
    targets: Tensor,
    image_ids: Tensor,
    per_image: int,
    boxes: Tensor | None = None,
    nms_iou: float | None = None,
    ignore_index: int = -1,
) -> Tensor:
    """Cross-entropy averaged over the RoIs :func:`ohem_select` picks by their own loss.

    Per-RoI loss ``ce_i = logsumexp(logits[i]) - logits[i, targets[i]]`` (torch's
    ``cross_entropy``, in ``logits``' dtype) ranks the RoIs; RoIs whose target equals
    ``ignore_index`` are invalid (never selected, never suppress), even when ``ignore_index``
    is also a class index. The result is the mean of ``ce`` over the selected RoIs,
    recomputed on those rows only, so the gradient reaches the selected rows of ``logits``
    and is exactly zero on all others (selection itself passes no gradient).

    Args:
        logits: ``[R, C]`` floating, finite, ``C >= 1``. targets: ``[R]`` integers, each in
            ``[0, C)`` or equal to ``ignore_index``. image_ids, per_image, boxes, nms_iou: as
            in :func:`ohem_select`. ignore_index: int.

    Returns:
        0-d tensor in ``logits``' dtype; exactly ``0.0`` when nothing is selected, still
        connected to ``logits`` so ``.backward()`` works (with a zero gradient).
    """
    x = _checks.floating("logits", logits, 2)
    r, c = x.shape
    if c < 1:
        raise ValueError(f"logits must have at least one class column, got shape {tuple(x.shape)}")
    t = _checks.labels(targets, r, name="targets")
    _checks.same_device("targets", t, "logits", x)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise ValueError(f"ignore_index must be an int, got {type(ignore_index).__name__}")
    if not -(2**63) <= ignore_index < 2**63:
        raise ValueError(f"ignore_index must fit in int64, got {ignore_index}")
    if r:
        t64 = t.long()
        valid = t64 != ignore_index
        in_range = ((t64 >= 0) & (t64 < c)) | ~valid
        finite = torch.isfinite(x.detach()).all()
        if not bool(in_range.all() & finite):
            if not bool(finite):
                raise ValueError("logits must be finite (found NaN or inf)")
            raise ValueError(f"targets must be in [0, {c}) or equal to ignore_index ({ignore_index})")
    else:
        t64, valid = t.long(), torch.zeros(0, dtype=torch.bool, device=x.device)
    with torch.no_grad():
        per_roi = F.cross_entropy(x.detach(), t64.masked_fill(~valid, 0), reduction="none")
    chosen = ohem_select(per_roi, image_ids, per_image, boxes=boxes, nms_iou=nms_iou, valid=valid)
    if chosen.numel() == 0:
        return (x * 0.0).sum() + 0.0  # +0.0 turns a -0.0 sum into 0.0
    return F.cross_entropy(x[chosen], t64[chosen])


# ----------------------------------------------------------------------------- internals
def _suppresses(iou: Tensor, threshold: Tensor) -> Tensor:
    """The suppression rule: IoU strictly greater than the threshold (both in the IoU dtype)."""
    return iou > threshold


def _visiting_order(scores: Tensor) -> Tensor:
    """Indices by decreasing score, equal scores (``-0.0 == 0.0``) by increasing index."""
    if scores.is_floating_point():
        scores = scores + 0.0  # -0.0 + 0.0 = 0.0: radix sorts would otherwise split them
    return torch.sort(scores, descending=True, stable=True).indices


def _greedy(
    boxes: Tensor, group: Tensor, rank: Tensor, n_groups: int, width: int, threshold: float, limit: int | None
) -> Tensor:
    """Greedy NMS of every group at once, at most ``limit`` kept per group.

    ``boxes`` ``[V, 4]`` (IoU dtype) are already in visiting order within each group;
    position ``p`` belongs to group ``group[p]`` at rank ``rank[p]`` (its place in the group's
    visiting order). Returns the kept positions in increasing order.

    Every group's undecided positions (``pending``) sit left-aligned in a padded
    ``[groups, width]`` matrix; everything before them is decided. Each round takes a window
    of the first ``w`` pending positions of every group, drops those that overlap an already
    kept box, and solves greedy NMS on the rest of the window, whose unique solution obeys
    ``x[k] = alive[k] and not any(over[j, k] and x[j] for j < k)``. Jacobi sweeps from
    ``x = alive`` make ``x[:t]`` exact after ``t`` sweeps, and more: if the last two sweeps
    agree on ``x[:d]``, that prefix solves its own triangular system, hence is exact, and so
    is ``x[d]`` (which only reads ``x[:d]``). That settled prefix is committed (its kept boxes
    join the kept list), and the window's undecided survivors move to the front of ``pending``.
    Kept boxes are only compared with the boxes actually visited, so a group that reaches
    ``limit`` early costs ``O(visited * limit)``, not ``O(V * limit)``.
    """
    dev = boxes.device
    v = boxes.shape[0]
    thr = torch.tensor(threshold, dtype=boxes.dtype, device=dev)
    cap = v if limit is None else limit
    # Position v is a padding sentinel: a dummy box, never alive, never kept.
    boxes = torch.cat([boxes, boxes.new_zeros(1, 4)])
    pending = torch.full((n_groups, width), v, dtype=torch.int64, device=dev)
    pending[group, rank] = torch.arange(v, device=dev)
    lengths = torch.bincount(group, minlength=n_groups)
    kept = torch.full((n_groups, 0), v, dtype=torch.int64, device=dev)  # kept positions, v-padded
    n_kept = torch.zeros(n_groups, dtype=torch.int64, device=dev)
    chosen = torch.zeros(v + 1, dtype=torch.bool, device=dev)
    top = max(_WINDOW, min(_MAX_WINDOW, width))
    upper = torch.ones(top, top, dtype=torch.bool, device=dev).triu_(1)
    w = _WINDOW
    while True:
        w = min(w, pending.shape[1])
        win = pending[:, :w]
        steps = torch.arange(w, device=dev)
        wb = boxes[win]
        alive = steps < lengths[:, None]
        if kept.shape[1]:
            hit = _suppresses(_boxes.pairwise_iou(wb, boxes[kept]), thr).logical_and_((kept < v)[:, None, :])
            alive &= ~hit.any(dim=2)
        # over[g, j, k]: j comes before k in the window, both alive, IoU above the threshold.
        over = _suppresses(_boxes.pairwise_iou(wb, wb), thr).logical_and_(upper[:w, :w]).logical_and_(alive[:, :, None])
        x = alive
        for _ in range(_SWEEPS):
            prev, x = x, alive & ~(over & x[:, :, None]).any(dim=1)
        changed = x != prev
        settled = torch.where(changed.any(dim=1), changed.to(torch.uint8).argmax(dim=1) + 1, w)
        keep = x & (steps < settled[:, None])
        keep &= (n_kept[:, None] + keep.cumsum(dim=1)) <= cap
        n_new = keep.sum(dim=1)
        n_kept += n_new
        chosen[win] = chosen[win] | keep  # a real position sits in one row, once; padding is v
        # The window's undecided survivors first, then the positions after the window.
        survive = alive & (steps >= settled[:, None])
        n_survive = survive.sum(dim=1)
        lengths = torch.where(n_kept < cap, n_survive + (lengths - w).clamp_(min=0), 0)
        k, new_width, n_alive = torch.stack([n_new.max(), lengths.max(), alive.sum(dim=1).max()]).tolist()
        if new_width == 0:
            break
        if k:
            first = torch.sort(keep.to(torch.uint8), dim=1, descending=True, stable=True).indices[:, :k]
            fresh = win.gather(1, first).masked_fill_(torch.arange(k, device=dev) >= n_new[:, None], v)
            kept = torch.cat([kept, fresh], dim=1)
        front = torch.sort((~survive).to(torch.uint8), dim=1, stable=True).indices
        cols = torch.arange(new_width, device=dev)
        source = torch.where(
            cols < n_survive[:, None],
            front.gather(1, cols.clamp(max=w - 1).expand(front.shape[0], -1)),
            (cols + w - n_survive[:, None]).clamp_(max=pending.shape[1] - 1),
        )
        # Padding beyond a group's length becomes the sentinel again (never a live position twice).
        pending = pending.gather(1, source).masked_fill_(cols >= lengths[:, None], v)
        # Aim at _WINDOW alive boxes per window when many are dropped by kept boxes.
        w = min(top, max(_WINDOW, w * _WINDOW // max(n_alive, 1)))
        live = lengths > 0
        if not bool(live.all()):
            live = live.nonzero().squeeze(1)
            pending, lengths, kept, n_kept = pending[live], lengths[live], kept[live], n_kept[live]
    return chosen[:v].nonzero().squeeze(1)
