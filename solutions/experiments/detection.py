"""Shared experiment code for lesson 7: OHEM for the classification head of a small detector.

A procedurally generated detection task ("shapes"), region proposals labelled by IoU, fixed
RoI features, a small classification head, a training loop whose RoI sampler is either the
Fast R-CNN random sampler or one of several OHEM variants, and RoI-level evaluation.

Not part of the graded contract: the lesson imports it so that every run generates, trains and
measures in exactly the same way. Selection always goes through the references
``solutions.box_iou`` and ``solutions.ohem_select`` (the plain OHEM loss equals
``solutions.ohem_loss``). Nothing loops over boxes or pixels in Python: the data generator
works on chunks of images at once, and the only other loops are over images (labelling) and
over training steps.

Shapes: ``N`` images of ``S x S`` pixels, ``G = grid**2`` item slots per image, ``R``
proposals per image, ``F`` features per RoI, ``C = 4`` classes (0 background, 1 square,
2 disc, 3 triangle). Boxes are ``(x1, y1, x2, y2)`` in pixel-edge coordinates (pixel ``(i, j)``
covers ``[j, j + 1] x [i, i + 1]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ohem import box_iou, ohem_select
from .training import seed_everything

CLASSES = ("background", "square", "disc", "triangle")
DISTRACTORS = ("ring", "frame", "bar")  # item kinds 4, 5, 6: background that looks like an object
KINDS = ("empty",) + CLASSES[1:] + DISTRACTORS
IGNORE = -1
# Where a proposal comes from (``ShapesDetection.source``) and, for training statistics, what a
# chosen RoI is (``roi_category``).
SOURCES = ("random", "around object", "around distractor")
CATEGORIES = ("foreground", "bg near object", "bg on distractor", "bg elsewhere")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ShapesDetection:
    """A generated detection split with its proposals, labels and RoI features.

    Attributes:
        images: ``[N, 1, S, S]`` float32 grey images.
        item_boxes: ``[N, G, 4]`` float32 boxes of the items in the ``grid x grid`` cells
            (zeros where a cell is empty).
        kinds: ``[N, G]`` int64 item kind per cell: 0 empty, 1..3 an object of that class,
            4..6 a distractor (ring, frame, bar; labelled background).
        proposals: ``[N, R, 4]`` float32 proposal boxes.
        source: ``[N, R]`` int64, 0 random box, 1 jittered around an object, 2 jittered around
            a distractor.
        iou: ``[N, R]`` float32 largest IoU with an object of the image (0 if it has none).
        labels: ``[N, R]`` int64: the class of the best-matching object if ``iou >= fg_iou``,
            0 (background) if ``iou < bg_iou``, ``IGNORE`` (-1) in between.
        features: ``[N, R, F]`` float32 RoI features (:func:`roi_features`).
    """

    images: Tensor
    item_boxes: Tensor
    kinds: Tensor
    proposals: Tensor
    source: Tensor
    iou: Tensor
    labels: Tensor
    features: Tensor

    @property
    def n_images(self) -> int:
        return self.images.shape[0]

    def to(self, device: str | torch.device) -> ShapesDetection:
        return ShapesDetection(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def render_shapes(
    n_images: int,
    generator: torch.Generator,
    *,
    size: int = 48,
    grid: int = 3,
    p_object: float = 0.4,
    p_distractor: float = 0.2,
    chunk: int = 64,
) -> tuple[Tensor, Tensor, Tensor]:
    """Draw ``n_images`` cluttered images with at most one item per ``grid x grid`` cell.

    Each cell holds an object (probability ``p_object``, class uniform over square, disc,
    triangle), a distractor (``p_distractor``, uniform over ring, frame, bar) or nothing;
    every image gets at least one object. Items are 7-13 px, placed at random inside their
    cell, brighter than the background by a random contrast, with anti-aliased edges. The
    background is smooth random shading plus pixel noise and two faint random streaks.

    Returns ``(images [N, 1, S, S], item_boxes [N, G, 4], kinds [N, G])`` on the CPU,
    ``S = size``, ``G = grid**2``. All randomness comes from ``generator`` (CPU).
    """
    g = grid * grid
    cell = size / grid
    u = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    # Item kinds per cell.
    r = u(n_images, g)
    obj_class = torch.randint(1, 4, (n_images, g), generator=generator)
    dis_kind = torch.randint(4, 7, (n_images, g), generator=generator)
    kinds = torch.where(r < p_object, obj_class, torch.where(r < p_object + p_distractor, dis_kind, 0))
    no_object = ~((kinds >= 1) & (kinds <= 3)).any(dim=1)
    forced = torch.randint(0, g, (n_images,), generator=generator)
    rows = torch.arange(n_images)
    kinds[rows[no_object], forced[no_object]] = obj_class[rows[no_object], forced[no_object]]
    # Geometry: side s, half extents (bars are 3x longer than wide, either orientation).
    s = 7.0 + 6.0 * u(n_images, g)
    flat = s / 3.0
    horizontal = u(n_images, g) < 0.5
    is_bar = kinds == 6
    hw = torch.where(is_bar & horizontal, s, torch.where(is_bar, flat, s)) / 2
    hh = torch.where(is_bar & ~horizontal, s, torch.where(is_bar, flat, s)) / 2
    col = torch.arange(g) % grid
    row = torch.arange(g) // grid
    cx = (col + 0.5) * cell + (u(n_images, g) - 0.5) * (cell - 2 * hw - 1).clamp(min=0)
    cy = (row + 0.5) * cell + (u(n_images, g) - 0.5) * (cell - 2 * hh - 1).clamp(min=0)
    boxes = torch.stack([cx - hw, cy - hh, cx + hw, cy + hh], dim=2)
    boxes = torch.where((kinds > 0)[:, :, None], boxes, 0.0)
    contrast = 0.3 + 0.4 * u(n_images, g)
    # Background: smooth shading (bicubic 6x6 noise), two faint streaks, pixel noise.
    shade = F.interpolate(torch.randn(n_images, 1, 6, 6, generator=generator), size=(size, size), mode="bicubic",
                          align_corners=False)
    streak_angle = math.pi * u(n_images, 2)
    streak_offset = size * u(n_images, 2)
    streak_contrast = 0.1 + 0.15 * u(n_images, 2)
    noise = torch.randn(n_images, 1, size, size, generator=generator)

    coords = torch.arange(size, dtype=torch.float32) + 0.5
    py, px = coords[:, None], coords[None, :]  # [S, 1], [1, S]
    images = []
    for lo in range(0, n_images, chunk):  # bounded memory: [chunk, G, S, S] per intermediate
        sl = slice(lo, lo + chunk)
        dx, dy = torch.broadcast_tensors(px - cx[sl, :, None, None], py - cy[sl, :, None, None])  # [c, G, S, S]
        half = (s[sl] / 2)[:, :, None, None]
        radius = torch.sqrt(dx * dx + dy * dy)
        cheb = torch.maximum(dx.abs(), dy.abs())
        # Signed "inside" distance (px, > 0 inside) of every kind, then pick each slot's kind.
        top = cy[sl, :, None, None] - half
        inside = torch.stack([
            torch.full_like(dx, -1e3),                                                   # empty
            half - cheb,                                                                 # square
            half - radius,                                                               # disc
            torch.minimum(top + 2 * half - py, ((py - top) / 2 - dx.abs()) / 1.118),   # triangle
            0.9 - (radius - (half - 0.9)).abs(),                                         # ring
            0.9 - (cheb - (half - 0.9)).abs(),                                           # frame
            torch.minimum(hw[sl, :, None, None] - dx.abs(), hh[sl, :, None, None] - dy.abs()),  # bar
        ])
        inside = inside.gather(0, kinds[sl][None, :, :, None, None].expand(1, -1, -1, size, size))[0]
        alpha = torch.sigmoid(inside / 0.35) * (kinds[sl] > 0)[:, :, None, None]
        items = (alpha * contrast[sl, :, None, None]).sum(dim=1, keepdim=True)          # disjoint cells
        coverage = alpha.sum(dim=1, keepdim=True).clamp(max=1)
        # Streaks: distance of each pixel to a line through the image.
        ang = streak_angle[sl, :, None, None]
        dist = (px * torch.cos(ang) + py * torch.sin(ang) - streak_offset[sl, :, None, None]).abs()
        streaks = (streak_contrast[sl, :, None, None] * torch.sigmoid((0.8 - dist) / 0.35)).sum(dim=1, keepdim=True)
        back = 0.35 + 0.12 * shade[sl] + streaks
        images.append(back * (1 - coverage) + (back + items) * coverage + 0.04 * noise[sl])
    return torch.cat(images), boxes, kinds


def make_proposals(
    item_boxes: Tensor,
    kinds: Tensor,
    generator: torch.Generator,
    *,
    per_image: int = 96,
    around_items: float = 0.5,
    size: int = 48,
    jitter: float = 0.5,
) -> tuple[Tensor, Tensor]:
    """Region proposals, like a class-agnostic proposal generator would give.

    A fraction ``around_items`` of the ``R = per_image`` proposals of an image are jittered
    copies of its item boxes (objects *and* distractors, chosen uniformly among the
    non-empty cells): centre shifted by up to ``jitter`` of the width/height, width and
    height scaled by ``exp(U(-jitter, jitter))``. The rest are random boxes of 5-18 px
    anywhere in the image. Boxes are clipped to the image and are at least 2 px wide and high.

    Args: item_boxes ``[N, G, 4]``, kinds ``[N, G]`` (see :class:`ShapesDetection`).

    Returns: ``(proposals [N, R, 4] float32, source [N, R] int64)`` with ``source`` 0 for a
    random box, 1 around an object, 2 around a distractor. Randomness from ``generator``.
    """
    n, g = kinds.shape
    n_around = int(round(around_items * per_image))
    u = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    # Around items: pick a non-empty slot per proposal.
    weights = (kinds > 0).float()
    slot = torch.multinomial(weights, n_around, replacement=True, generator=generator)       # [N, A]
    base = item_boxes.gather(1, slot[:, :, None].expand(-1, -1, 4))
    w, h = base[..., 2] - base[..., 0], base[..., 3] - base[..., 1]
    cx = (base[..., 0] + base[..., 2]) / 2 + w * jitter * (2 * u(n, n_around) - 1)
    cy = (base[..., 1] + base[..., 3]) / 2 + h * jitter * (2 * u(n, n_around) - 1)
    w = w * torch.exp(jitter * (2 * u(n, n_around) - 1))
    h = h * torch.exp(jitter * (2 * u(n, n_around) - 1))
    around = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=2)
    src_around = torch.where(kinds.gather(1, slot) >= 4, 2, 1)
    # Random boxes.
    m = per_image - n_around
    side = 5.0 + 13.0 * u(n, m)
    aspect = torch.exp(0.5 * (2 * u(n, m) - 1))
    rw, rh = side * aspect.sqrt(), side / aspect.sqrt()
    rx, ry = size * u(n, m), size * u(n, m)
    random_boxes = torch.stack([rx - rw / 2, ry - rh / 2, rx + rw / 2, ry + rh / 2], dim=2)
    boxes = torch.cat([around, random_boxes], dim=1).clamp(0, size)
    # At least 2 px: grow degenerate boxes inwards from the image border.
    x1 = torch.minimum(boxes[..., 0], boxes[..., 2] - 2).clamp(min=0)
    y1 = torch.minimum(boxes[..., 1], boxes[..., 3] - 2).clamp(min=0)
    boxes = torch.stack([x1, y1, torch.maximum(boxes[..., 2], x1 + 2), torch.maximum(boxes[..., 3], y1 + 2)], dim=2)
    source = torch.cat([src_around, torch.zeros(n, m, dtype=torch.int64)], dim=1)
    return boxes, source


def label_proposals(
    proposals: Tensor, item_boxes: Tensor, kinds: Tensor, *, fg_iou: float = 0.5, bg_iou: float = 0.3
) -> tuple[Tensor, Tensor]:
    """Label every proposal by its IoU with the image's objects (``solutions.box_iou``).

    Distractors are not objects: a proposal on a distractor is background. A proposal's
    label is the class of the object it overlaps most (first such object on ties) when that
    IoU is ``>= fg_iou``, 0 when it is ``< bg_iou`` and ``IGNORE`` (-1) in between: those
    RoIs are neither trained on nor scored.

    Args: proposals ``[N, R, 4]``, item_boxes ``[N, G, 4]``, kinds ``[N, G]``.

    Returns: ``(labels [N, R] int64, iou [N, R] float32)``. One ``box_iou`` call per image.
    """
    n, r, _ = proposals.shape
    is_object = (kinds >= 1) & (kinds <= 3)
    labels = torch.zeros(n, r, dtype=torch.int64, device=proposals.device)
    best = torch.zeros(n, r, dtype=torch.float32, device=proposals.device)
    for i in range(n):  # a loop over images: each has its own set of objects
        gt = item_boxes[i][is_object[i]]
        if gt.shape[0] == 0:
            continue
        iou, j = box_iou(proposals[i], gt).max(dim=1)
        best[i] = iou
        labels[i] = kinds[i][is_object[i]][j]
    labels = torch.where(best >= fg_iou, labels, torch.where(best < bg_iou, 0, IGNORE))
    return labels, best


def _sobel_magnitude(images: Tensor) -> Tensor:
    """Gradient magnitude ``[N, 1, S, S]`` of ``images [N, 1, S, S]`` (Sobel, replicate border)."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=images.device) / 8
    k = torch.stack([kx, kx.T])[:, None]
    grad = F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), k)
    return grad.square().sum(dim=1, keepdim=True).sqrt()


def roi_features(images: Tensor, proposals: Tensor, *, pool: int = 7, sampling: int = 2) -> Tensor:
    """Hand-made RoI features: RoIAlign-style crops of the image and of its edge map.

    Each RoI is cut into ``pool x pool`` bins; every bin averages ``sampling x sampling``
    bilinear samples (``F.grid_sample``) of two channels, the grey level minus the RoI's
    mean grey level, and the Sobel gradient magnitude. Three geometry features follow:
    ``log`` width, ``log`` height (in units of 10 px) and ``log(width / height)`` — a warped
    crop forgets the box's shape, and a bar distractor warped to a square looks like a square.

    Args: images ``[N, 1, S, S]``, proposals ``[N, R, 4]`` (pixel-edge coordinates).

    Returns: ``[N, R, F]`` float32 with ``F = 2 * pool**2 + 3``, on ``images``' device.
    """
    n, r, _ = proposals.shape
    size_h, size_w = images.shape[-2:]
    chans = torch.cat([images, _sobel_magnitude(images)], dim=1)                      # [N, 2, S, S]
    steps = pool * sampling
    t = (torch.arange(steps, dtype=torch.float32, device=images.device) + 0.5) / steps  # sample positions in [0, 1]
    x1, y1, x2, y2 = proposals.unbind(dim=2)                                            # [N, R] each
    xs = x1[..., None] + t * (x2 - x1)[..., None]                                       # [N, R, steps]
    ys = y1[..., None] + t * (y2 - y1)[..., None]
    # align_corners=False: pixel-edge coordinate u maps to 2u/S - 1.
    gx = (2 * xs / size_w - 1)[:, :, None, :].expand(n, r, steps, steps)
    gy = (2 * ys / size_h - 1)[:, :, :, None].expand(n, r, steps, steps)
    grid = torch.stack([gx, gy], dim=-1).reshape(n, r * steps, steps, 2)
    samples = F.grid_sample(chans, grid, mode="bilinear", padding_mode="border", align_corners=False)
    samples = samples.reshape(n, 2, r, steps, steps).permute(0, 2, 1, 3, 4).reshape(n * r, 2, steps, steps)
    bins = F.avg_pool2d(samples, sampling).reshape(n, r, 2, pool * pool)
    grey = bins[:, :, 0] - bins[:, :, 0].mean(dim=2, keepdim=True)
    w = (x2 - x1).clamp(min=1e-3)
    h = (y2 - y1).clamp(min=1e-3)
    geometry = torch.stack([torch.log(w / 10), torch.log(h / 10), torch.log(w / h)], dim=2)
    return torch.cat([grey, bins[:, :, 1], geometry], dim=2)


def make_split(
    n_images: int,
    seed: int,
    *,
    proposals_per_image: int = 96,
    fg_iou: float = 0.5,
    bg_iou: float = 0.3,
    device: str | torch.device = "cpu",
    **render_kwargs,
) -> ShapesDetection:
    """Generate a whole split: images (:func:`render_shapes`), proposals (:func:`make_proposals`),
    labels (:func:`label_proposals`) and features (:func:`roi_features`), all from ``seed``.

    Generated on the CPU (identical on every machine), then moved to ``device``.
    """
    gen = torch.Generator().manual_seed(seed)
    images, item_boxes, kinds = render_shapes(n_images, gen, **render_kwargs)
    size = images.shape[-1]
    proposals, source = make_proposals(item_boxes, kinds, gen, per_image=proposals_per_image, size=size)
    labels, iou = label_proposals(proposals, item_boxes, kinds, fg_iou=fg_iou, bg_iou=bg_iou)
    features = roi_features(images, proposals)
    return ShapesDetection(images, item_boxes, kinds, proposals, source, iou, labels, features).to(device)


def roi_category(labels: Tensor, source: Tensor) -> Tensor:
    """What each RoI is, for statistics (index into ``CATEGORIES``): 0 foreground, 1 background
    near an object (a poorly placed box around one), 2 background on a distractor, 3 other
    background; -1 for ignored RoIs. ``labels`` and ``source`` have any equal shape."""
    bg = torch.where(source == 1, 1, torch.where(source == 2, 2, 3))
    return torch.where(labels > 0, 0, torch.where(labels == 0, bg, -1))


# --------------------------------------------------------------------------- model


class RoIHead(nn.Module):
    """The detector's classification head: ``[M, F]`` RoI features -> ``[M, C]`` logits.

    Features are standardised with the training set's mean and standard deviation (fixed
    buffers), then an MLP ``F -> hidden -> C`` with a ReLU.
    """

    def __init__(self, mean: Tensor, std: Tensor, hidden: int = 64, n_classes: int = len(CLASSES)) -> None:
        super().__init__()
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone().clamp(min=1e-6))
        self.net = nn.Sequential(nn.Linear(mean.numel(), hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.mean) / self.std)


# --------------------------------------------------------------------------- RoI samplers


@dataclass(frozen=True)
class Sampler:
    """How a training step chooses the ``per_image`` RoIs per image it back-propagates.

    Attributes:
        name: label for tables and plots.
        hard: rank candidates by their current loss (OHEM) instead of at random.
        nms_iou: with ``hard``, remove co-located RoIs first by NMS over the losses at this
            IoU (the paper: 0.7); ``None``: no NMS.
        per_class_nms: run that NMS separately for each label value (the authors' Caffe code)
            instead of class-agnostically (the paper's text, ``solutions.ohem_select``).
        per_image: take ``per_image`` RoIs from every image; ``False``: the hardest
            ``images x per_image`` of the whole batch, however they are spread over images.
        fg_fraction: reserve up to this fraction of each image's RoIs for foreground, the rest
            for background, chosen separately (the Fast R-CNN sampler: 0.25 at random;
            mmdetection's ``OHEMSampler``: 0.25 by loss, no NMS); ``None``: no quota.
    """

    name: str
    hard: bool = False
    nms_iou: float | None = None
    per_class_nms: bool = False
    per_image: bool = True
    fg_fraction: float | None = None


RANDOM = Sampler("random (Fast R-CNN, 25% fg)", fg_fraction=0.25)
OHEM = Sampler("OHEM (NMS 0.7)", hard=True, nms_iou=0.7)


def top_per_image(scores: Tensor, image_ids: Tensor, caps: Tensor, valid: Tensor) -> Tensor:
    """Per image, the ``caps[image]`` valid RoIs with the largest scores.

    Args:
        scores: ``[M]`` float (ties: smaller index first). image_ids: ``[M]`` int64 in
            ``[0, n)``. caps: ``[n]`` int64 ``>= 0``. valid: ``[M]`` bool.

    Returns: int64 ``[K]`` chosen indices in increasing order. Two stable sorts, no loop.
    """
    cand = valid.nonzero().squeeze(1)
    cand = cand[torch.sort(scores[cand] + 0.0, descending=True, stable=True).indices]
    cand = cand[torch.sort(image_ids[cand], stable=True).indices]
    ids = image_ids[cand]
    counts = torch.bincount(ids, minlength=caps.numel())
    start = torch.cumsum(counts, 0) - counts
    rank = torch.arange(cand.numel(), device=cand.device) - start[ids]
    return torch.sort(cand[rank < caps[ids]]).values


def select_rois(
    sampler: Sampler,
    logits: Tensor,
    labels: Tensor,
    image_ids: Tensor,
    boxes: Tensor,
    per_image: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The RoIs one training step back-propagates, as chosen by ``sampler``.

    Args:
        logits: ``[M, C]`` current logits of every RoI of the step's images (read detached).
        labels: ``[M]`` int64 in ``{IGNORE, 0, .., C - 1}``; ignored RoIs are never chosen.
        image_ids: ``[M]`` int64 in ``[0, n)`` for the step's ``n`` images.
        boxes: ``[M, 4]`` RoI boxes (for NMS).
        per_image: the budget, RoIs per image (``n * per_image`` per step).
        generator: random sampler only: drives the random choice (on ``logits``' device).

    Returns: int64 ``[K]`` chosen indices, increasing, ``K <= n * per_image``.

    Plain OHEM (``hard``, per image, class-agnostic NMS or none, no quota) is exactly
    ``solutions.ohem_select`` on the per-RoI cross-entropy, so the mean cross-entropy of the
    chosen RoIs equals ``solutions.ohem_loss``.
    """
    valid = labels != IGNORE
    n = int(image_ids.max()) + 1 if image_ids.numel() else 0
    if sampler.hard:
        scores = F.cross_entropy(logits.detach(), labels.clamp(min=0), reduction="none")
    else:
        if generator is None:
            raise ValueError("the random sampler needs a generator")
        scores = torch.rand(labels.shape, generator=generator, device=generator.device).to(logits.device)
    if sampler.fg_fraction is not None:
        fg = valid & (labels > 0)
        caps = torch.full((n,), int(sampler.fg_fraction * per_image), dtype=torch.int64, device=labels.device)
        chosen_fg = top_per_image(scores, image_ids, caps, fg)
        n_fg = torch.bincount(image_ids[chosen_fg], minlength=n)
        chosen_bg = top_per_image(scores, image_ids, per_image - n_fg, valid & (labels == 0))
        return torch.sort(torch.cat([chosen_fg, chosen_bg])).values
    if not sampler.hard:
        caps = torch.full((n,), per_image, dtype=torch.int64, device=labels.device)
        return top_per_image(scores, image_ids, caps, valid)
    ids, k, b = image_ids, per_image, boxes
    if not sampler.per_image:
        # One group for the whole batch; shift each image's boxes so NMS never crosses images.
        width = float(boxes[:, 2].max()) + 1 if boxes.numel() else 1.0
        b = boxes + (image_ids * width)[:, None] * boxes.new_tensor([1.0, 0.0, 1.0, 0.0])
        ids, k = torch.zeros_like(image_ids), per_image * n
    if sampler.nms_iou is not None and sampler.per_class_nms:
        # The authors' code: NMS per (image, label), then the top k of the union per image.
        groups = image_ids * (int(labels.max()) + 2) + labels.clamp(min=0)
        survivors = ohem_select(scores, groups, labels.numel(), boxes=boxes, nms_iou=sampler.nms_iou, valid=valid)
        valid = torch.zeros_like(valid).index_fill_(0, survivors, True)
        return ohem_select(scores, ids, k, valid=valid)
    return ohem_select(scores, ids, k, boxes=b if sampler.nms_iou is not None else None,
                       nms_iou=sampler.nms_iou, valid=valid)


# --------------------------------------------------------------------------- training


def step_loss(
    head: nn.Module,
    features: Tensor,
    labels: Tensor,
    image_ids: Tensor,
    boxes: Tensor,
    sampler: Sampler,
    per_image: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One training step's loss: forward every RoI, choose, average the chosen RoIs' loss.

    Args: features ``[M, F]`` of the step's RoIs; labels, image_ids, boxes, sampler,
    per_image, generator as in :func:`select_rois`.

    Returns ``(loss, chosen, logits)``: the mean cross-entropy (0-d) over the ``chosen``
    RoIs (int64 ``[K]``) and the ``[M, C]`` logits of all RoIs. Unchosen RoIs contribute
    exactly zero gradient, so the parameter gradient is the one the paper gets by running a
    second, trainable copy of the head on the chosen RoIs only.
    """
    logits = head(features)
    chosen = select_rois(sampler, logits, labels, image_ids, boxes, per_image, generator)
    if chosen.numel() == 0:
        return (logits * 0.0).sum(), chosen, logits
    return F.cross_entropy(logits[chosen], labels[chosen]), chosen, logits


@dataclass
class HeadHistory:
    """Per training step: the loss, and how many chosen RoIs fall in each of ``CATEGORIES``."""

    loss: list[float] = field(default_factory=list)
    composition: list[list[int]] = field(default_factory=list)


def train_head(
    data: ShapesDetection,
    sampler: Sampler,
    *,
    seed: int = 0,
    steps: int = 300,
    images_per_step: int = 2,
    per_image: int = 16,
    hidden: int = 64,
    lr: float = 3e-3,
) -> tuple[RoIHead, HeadHistory]:
    """Train a :class:`RoIHead` on ``data`` with ``sampler`` under a fixed budget.

    Every step takes the next ``images_per_step`` images (a fresh permutation each pass),
    forwards *all* their RoIs through the head, lets :func:`select_rois` choose at most
    ``per_image`` RoIs per image and takes an Adam step on the mean cross-entropy of the
    chosen RoIs only (the others get exactly zero gradient). Same ``steps``, ``per_image``
    and ``seed`` give every sampler the same budget, initialisation and image order.

    Returns the trained head and its :class:`HeadHistory`. Runs on ``data``'s device.
    """
    device = data.features.device
    seed_everything(seed)
    n, r, f = data.features.shape
    feats = data.features.reshape(n * r, f)
    head = RoIHead(feats.mean(dim=0), feats.std(dim=0), hidden).to(device)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    order_gen = torch.Generator().manual_seed(seed)
    pick_gen = torch.Generator(device=device).manual_seed(seed + 1)
    category = roi_category(data.labels, data.source)
    image_ids = torch.arange(images_per_step, device=device).repeat_interleave(r)
    hist = HeadHistory()
    order = torch.empty(0, dtype=torch.int64)
    for _ in range(steps):
        if order.numel() < images_per_step:
            order = torch.cat([order, torch.randperm(n, generator=order_gen)])
        idx, order = order[:images_per_step].to(device), order[images_per_step:]
        loss, chosen, _ = step_loss(head, data.features[idx].reshape(-1, f), data.labels[idx].reshape(-1), image_ids,
                                    data.proposals[idx].reshape(-1, 4), sampler, per_image, pick_gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist.loss.append(float(loss.detach()))
        hist.composition.append(torch.bincount(category[idx].reshape(-1)[chosen], minlength=4).tolist())
    return head, hist


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def roi_probabilities(head: nn.Module, data: ShapesDetection) -> Tensor:
    """Softmax class probabilities ``[N, R, C]`` of every proposal of ``data`` (eval mode)."""
    n, r, f = data.features.shape
    was_training = head.training
    head.eval()
    probs = torch.softmax(head(data.features.reshape(n * r, f)), dim=1).reshape(n, r, -1)
    head.train(was_training)
    return probs


def fp_rate_at_recall(scores: Tensor, positive: Tensor, negative: Tensor, recall: float) -> tuple[float, float]:
    """False-positive rate at the strictest threshold that reaches ``recall``.

    A RoI is detected iff ``score >= t``. ``t`` is the largest threshold at which at least
    ``ceil(recall * P)`` of the ``P`` positives are detected (the ``ceil(recall * P)``-th
    largest positive score); the false-positive rate is the fraction of negatives detected.

    Args: scores ``[M]`` float; positive, negative ``[M]`` bool (RoIs in neither, e.g.
    ignored ones, are not counted); recall in ``(0, 1]``.

    Returns: ``(fp_rate, t)``.
    """
    if not 0 < recall <= 1:
        raise ValueError(f"recall must be in (0, 1], got {recall}")
    pos = torch.sort(scores[positive], descending=True).values
    neg = scores[negative]
    if pos.numel() == 0 or neg.numel() == 0:
        raise ValueError("need at least one positive and one negative")
    need = max(1, math.ceil(recall * pos.numel() - 1e-9))
    t = pos[need - 1]
    return float((neg >= t).double().mean()), float(t)


def fp_rates_at_recalls(scores: Tensor, positive: Tensor, negative: Tensor, recalls: Tensor) -> Tensor:
    """:func:`fp_rate_at_recall` at every recall of ``recalls [K]`` (each in ``(0, 1]``) at once:
    float64 ``[K]``. One sort of the positives and one of the negatives.

    ``recalls`` is a sequence of floats or a tensor; it is used in float64, so pass Python
    floats or float64 values (a float32 ``1/3`` is not ``1/3``)."""
    pos = torch.sort(scores[positive], descending=True).values
    neg = torch.sort(scores[negative]).values
    if pos.numel() == 0 or neg.numel() == 0:
        raise ValueError("need at least one positive and one negative")
    r = torch.as_tensor(recalls, dtype=torch.float64, device=scores.device)
    if r.numel() and not bool(((r > 0) & (r <= 1)).all()):
        raise ValueError("recalls must lie in (0, 1]")
    need = torch.ceil(r * pos.numel() - 1e-9).long().clamp(min=1)
    t = pos[need - 1]
    # Negatives with score >= t: everything from the first position where neg >= t.
    return (neg.numel() - torch.searchsorted(neg, t, right=False)).double() / neg.numel()


def rate_curve(scores: Tensor, positive: Tensor, negative: Tensor) -> tuple[Tensor, Tensor]:
    """Recall and false-positive rate of "detected iff ``score >= t``" for every distinct
    score ``t``, by decreasing ``t``: ``(recall [U], fp_rate [U])`` float64 (tied scores move
    together)."""
    keep = positive | negative
    s, p = scores[keep], positive[keep]
    order = torch.argsort(s, descending=True, stable=True)
    s, p = s[order], p[order].double()
    tp, fp = torch.cumsum(p, 0), torch.cumsum(1 - p, 0)
    last = torch.ones_like(s, dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]
    return tp[last] / p.sum(), fp[last] / (1 - p).sum()


def objectness(head: nn.Module, data: ShapesDetection) -> tuple[Tensor, Tensor, Tensor]:
    """Flattened RoI scores for detection metrics: ``(score, positive, negative)``, each
    ``[N * R]``: ``score = 1 - p(background)``, positives are foreground RoIs, negatives
    background RoIs (ignored RoIs are neither)."""
    score = (1 - roi_probabilities(head, data)[..., 0]).reshape(-1)
    labels = data.labels.reshape(-1)
    return score, labels > 0, labels == 0


def evaluate(head: nn.Module, data: ShapesDetection, recall: float = 0.9) -> dict[str, float]:
    """RoI-level detection quality of ``head`` on ``data``'s proposals (no test-time NMS).

    Score of a RoI: ``1 - p(background)``. Positives: foreground RoIs; negatives: background
    RoIs; ignored RoIs are left out. Returns ``fpr`` (false-positive rate at ``recall``,
    :func:`fp_rate_at_recall`), the same rate within each background category
    (``fpr_near``, ``fpr_distractor``, ``fpr_elsewhere``, see ``CATEGORIES``),
    ``fp_per_image`` (false positives per image at that threshold), ``class_acc``
    (foreground RoIs whose most likely object class is right) and ``threshold``.
    """
    probs = roi_probabilities(head, data)
    score = (1 - probs[..., 0]).reshape(-1)
    labels = data.labels.reshape(-1)
    category = roi_category(data.labels, data.source).reshape(-1)
    pos, neg = labels > 0, labels == 0
    fpr, t = fp_rate_at_recall(score, pos, neg, recall)
    out = {"fpr": fpr, "threshold": t}
    for name, c in (("near", 1), ("distractor", 2), ("elsewhere", 3)):
        out[f"fpr_{name}"] = float((score[category == c] >= t).double().mean())
    out["fp_per_image"] = float((score[neg] >= t).sum()) / data.n_images
    pred = probs[..., 1:].argmax(dim=-1).reshape(-1) + 1
    out["class_acc"] = float((pred[pos] == labels[pos]).double().mean())
    return out
