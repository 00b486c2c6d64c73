"""Tests for lesson 7's experiment code, solutions.experiments.detection: data, labels, features, RoI
samplers, the training step and the evaluation metric (against brute-force loops)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import solutions as S
from solutions.experiments.detection import (
    IGNORE,
    OHEM,
    RANDOM,
    RoIHead,
    Sampler,
    evaluate,
    fp_rate_at_recall,
    fp_rates_at_recalls,
    make_split,
    objectness,
    rate_curve,
    roi_category,
    roi_features,
    select_rois,
    step_loss,
    top_per_image,
    train_head,
)


@pytest.fixture(scope="module")
def split():
    return make_split(8, seed=3)


def _batch(split, images=(0, 1), seed=0):
    """The flattened RoIs of some images, with random logits: (logits, labels, image_ids, boxes)."""
    idx = torch.tensor(images)
    r = split.proposals.shape[1]
    labels = split.labels[idx].reshape(-1)
    boxes = split.proposals[idx].reshape(-1, 4)
    ids = torch.arange(len(images)).repeat_interleave(r)
    logits = torch.randn(labels.numel(), 4, generator=torch.Generator().manual_seed(seed))
    return logits, labels, ids, boxes


# --------------------------------------------------------------------------- data


def test_split_shapes_dtypes_and_ranges(split):
    n, r = 8, 96
    assert split.images.shape == (n, 1, 48, 48) and split.images.dtype == torch.float32
    assert split.item_boxes.shape == (n, 9, 4) and split.kinds.shape == (n, 9)
    assert split.proposals.shape == (n, r, 4) and split.proposals.dtype == torch.float32
    assert split.source.shape == split.labels.shape == split.iou.shape == (n, r)
    assert split.features.shape == (n, r, 2 * 49 + 3)
    assert split.kinds.dtype == split.labels.dtype == split.source.dtype == torch.int64
    assert set(split.kinds.unique().tolist()) <= set(range(7))
    assert ((split.kinds >= 1) & (split.kinds <= 3)).any(dim=1).all(), "every image has an object"
    assert set(split.labels.unique().tolist()) <= {IGNORE, 0, 1, 2, 3}
    assert {0, 1, 2, 3} <= set(split.labels.unique().tolist())
    assert set(split.source.unique().tolist()) == {0, 1, 2}
    assert (split.source[:, :48] > 0).all() and (split.source[:, 48:] == 0).all()
    p = split.proposals
    assert (p >= 0).all() and (p <= 48).all()
    assert ((p[..., 2] - p[..., 0]) >= 2 - 1e-5).all() and ((p[..., 3] - p[..., 1]) >= 2 - 1e-5).all()
    occupied = split.kinds > 0
    b = split.item_boxes
    assert ((b[..., 2] > b[..., 0]) == occupied).all() and (b[~occupied] == 0).all()
    assert torch.isfinite(split.features).all() and torch.isfinite(split.images).all()
    assert ((split.iou >= 0) & (split.iou <= 1)).all()


def test_items_sit_in_their_own_cells(split):
    b = split.item_boxes[split.kinds > 0]
    cell = torch.nonzero(split.kinds > 0)[:, 1]
    col, row = cell % 3, cell // 3
    assert (b[:, 0] >= col * 16 - 1e-4).all() and (b[:, 2] <= (col + 1) * 16 + 1e-4).all()
    assert (b[:, 1] >= row * 16 - 1e-4).all() and (b[:, 3] <= (row + 1) * 16 + 1e-4).all()


def test_generation_is_deterministic(split):
    again = make_split(8, seed=3)
    for name in split.__dataclass_fields__:
        assert torch.equal(getattr(split, name), getattr(again, name)), name
    other = make_split(8, seed=4)
    assert not torch.equal(split.images, other.images)


def test_labels_match_box_iou_pair_by_pair(split):
    for i in range(3):
        objects = [(box, int(k)) for box, k in zip(split.item_boxes[i], split.kinds[i]) if 1 <= k <= 3]
        for j in range(split.proposals.shape[1]):
            ious = [float(S.box_iou(split.proposals[i, j][None], box[None])[0, 0]) for box, _ in objects]
            best = max(ious)
            cls = objects[ious.index(best)][1]  # first object on ties
            expected = cls if best >= 0.5 else (0 if best < 0.3 else IGNORE)
            assert float(split.iou[i, j]) == pytest.approx(best, abs=1e-6)
            assert int(split.labels[i, j]) == expected, (i, j, best)


def test_labelling_thresholds_are_parameters():
    strict = make_split(4, seed=3, fg_iou=0.7, bg_iou=0.1)
    assert (strict.labels[strict.iou >= 0.7] > 0).all()
    assert (strict.labels[(strict.iou >= 0.1) & (strict.iou < 0.7)] == IGNORE).all()
    assert (strict.labels[strict.iou < 0.1] == 0).all()


def test_roi_features_of_a_pixel_aligned_box_are_pooled_pixels():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 1, 48, 48, generator=g)
    boxes = torch.tensor([[[8.0, 8.0, 22.0, 22.0], [0.0, 20.0, 28.0, 48.0]]] * 2)  # 14 and 28 px: 7x7 bins of 2 or 4 px
    feats = roi_features(images, boxes)
    assert feats.shape == (2, 2, 101)
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
    grad = F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), torch.stack([gx, gx.T])[:, None])
    edges = grad.square().sum(dim=1, keepdim=True).sqrt()
    for k, (x1, y1, x2, y2) in enumerate([(8, 8, 22, 22), (0, 20, 28, 48)]):
        bin_px = (x2 - x1) // 7
        crop = F.avg_pool2d(images[:, :, y1:y2, x1:x2], bin_px).reshape(2, 49)
        edge = F.avg_pool2d(edges[:, :, y1:y2, x1:x2], bin_px).reshape(2, 49)
        torch.testing.assert_close(feats[:, k, :49], crop - crop.mean(dim=1, keepdim=True), atol=1e-5, rtol=0)
        torch.testing.assert_close(feats[:, k, 49:98], edge, atol=1e-5, rtol=0)
        w, h = x2 - x1, y2 - y1
        torch.testing.assert_close(feats[:, k, 98:], torch.tensor([math.log(w / 10), math.log(h / 10), math.log(w / h)]).expand(2, 3))


def test_roi_category():
    labels = torch.tensor([2, 0, 0, 0, IGNORE, 1])
    source = torch.tensor([1, 1, 2, 0, 0, 0])
    assert roi_category(labels, source).tolist() == [0, 1, 2, 3, -1, 0]


# --------------------------------------------------------------------------- samplers


def test_top_per_image_matches_a_loop():
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        m = int(torch.randint(0, 40, (1,), generator=g))
        scores = torch.randint(0, 5, (m,), generator=g).float()  # many ties
        ids = torch.randint(0, 3, (m,), generator=g)
        valid = torch.rand(m, generator=g) < 0.8
        caps = torch.randint(0, 6, (3,), generator=g)
        expected = []
        for img in range(3):
            cand = [i for i in range(m) if ids[i] == img and valid[i]]
            cand.sort(key=lambda i: (-float(scores[i]), i))
            expected += cand[: int(caps[img])]
        assert top_per_image(scores, ids, caps, valid).tolist() == sorted(expected)


def test_random_sampler_respects_budget_quota_and_ignore(split):
    logits, labels, ids, boxes = _batch(split, (0, 1, 2))
    gen = torch.Generator().manual_seed(0)
    chosen = select_rois(RANDOM, logits, labels, ids, boxes, 16, gen)
    assert (labels[chosen] != IGNORE).all()
    for img in range(3):
        mine = chosen[ids[chosen] == img]
        assert mine.numel() == min(16, int(((labels != IGNORE) & (ids == img)).sum()))
        n_fg = int((labels[mine] > 0).sum())
        assert n_fg == min(4, int(((labels > 0) & (ids == img)).sum()))
    again = select_rois(RANDOM, logits, labels, ids, boxes, 16, torch.Generator().manual_seed(0))
    assert torch.equal(chosen, again)
    assert not torch.equal(chosen, select_rois(RANDOM, logits, labels, ids, boxes, 16, torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError, match="generator"):
        select_rois(RANDOM, logits, labels, ids, boxes, 16)


def _ce(logits, labels):
    return F.cross_entropy(logits, labels.clamp(min=0), reduction="none")


def test_ohem_sampler_is_ohem_select(split):
    logits, labels, ids, boxes = _batch(split)
    ce = _ce(logits, labels)
    valid = labels != IGNORE
    chosen = select_rois(OHEM, logits, labels, ids, boxes, 16)
    assert torch.equal(chosen, S.ohem_select(ce, ids, 16, boxes=boxes, nms_iou=0.7, valid=valid))
    no_nms = select_rois(Sampler("x", hard=True), logits, labels, ids, boxes, 16)
    assert torch.equal(no_nms, S.ohem_select(ce, ids, 16, valid=valid))


def test_per_class_nms_matches_a_loop(split):
    logits, labels, ids, boxes = _batch(split, seed=5)
    labels = torch.where(labels == IGNORE, 0, labels)  # the paper's labelling: many fg/bg neighbours
    ce = _ce(logits, labels)
    sampler = Sampler("x", hard=True, nms_iou=0.3, per_class_nms=True)
    expected = []
    for img in range(2):
        survivors = []
        for lab in labels.unique().tolist():
            members = torch.nonzero((ids == img) & (labels == lab)).squeeze(1)
            survivors += members[S.nms(boxes[members], ce[members], 0.3)].tolist()
        survivors.sort(key=lambda i: (-float(ce[i]), i))
        expected += survivors[:16]
    chosen = select_rois(sampler, logits, labels, ids, boxes, 16)
    assert chosen.tolist() == sorted(expected)
    agnostic = select_rois(Sampler("y", hard=True, nms_iou=0.3), logits, labels, ids, boxes, 16)
    assert not torch.equal(chosen, agnostic)  # at IoU 0.3 fg and bg boxes do suppress each other


def test_batch_sampler_takes_the_hardest_of_the_batch_without_cross_image_nms(split):
    logits, labels, ids, boxes = _batch(split, seed=2)
    ce = _ce(logits, labels)
    valid = labels != IGNORE
    chosen = select_rois(Sampler("x", hard=True, nms_iou=0.7, per_image=False), logits, labels, ids, boxes, 16)
    survivors = S.ohem_select(ce, ids, 10**6, boxes=boxes, nms_iou=0.7, valid=valid)  # NMS within each image
    order = sorted(survivors.tolist(), key=lambda i: (-float(ce[i]), i))
    assert chosen.tolist() == sorted(order[:32])
    logits[ids == 0] *= 10  # make image 0 much harder: it may take more than half the budget
    chosen = select_rois(Sampler("x", hard=True, per_image=False), logits, labels, ids, boxes, 16)
    assert chosen.numel() == 32 and int((ids[chosen] == 0).sum()) > 16


def test_mmdet_style_sampler_mines_fg_and_bg_separately(split):
    logits, labels, ids, boxes = _batch(split, (0, 1, 2), seed=3)
    ce = _ce(logits, labels)
    chosen = select_rois(Sampler("x", hard=True, fg_fraction=0.25), logits, labels, ids, boxes, 16)
    for img in range(3):
        mine = chosen[ids[chosen] == img].tolist()
        fg = [i for i in range(labels.numel()) if ids[i] == img and labels[i] > 0]
        bg = [i for i in range(labels.numel()) if ids[i] == img and labels[i] == 0]
        fg.sort(key=lambda i: (-float(ce[i]), i))
        bg.sort(key=lambda i: (-float(ce[i]), i))
        n_fg = min(4, len(fg))
        assert sorted(mine) == sorted(fg[:n_fg] + bg[: 16 - n_fg])


# --------------------------------------------------------------------------- training


def _head(split, seed=0):
    torch.manual_seed(seed)
    f = split.features.reshape(-1, split.features.shape[2])
    return RoIHead(f.mean(dim=0), f.std(dim=0))


@pytest.mark.parametrize("sampler", [OHEM, Sampler("OHEM, no NMS", hard=True), RANDOM], ids=lambda s: s.name)
def test_training_step_only_touches_the_chosen_rois(split, sampler):
    _, labels, ids, boxes = _batch(split)
    feats = split.features[:2].reshape(-1, split.features.shape[2]).clone().requires_grad_(True)
    head = _head(split)
    gen = torch.Generator().manual_seed(0)
    loss, chosen, logits = step_loss(head, feats, labels, ids, boxes, sampler, 16, gen)
    logits.retain_grad()
    loss.backward()
    touched_logits = logits.grad.abs().sum(dim=1) > 0
    touched_feats = feats.grad.abs().sum(dim=1) > 0
    mask = torch.zeros_like(touched_logits).index_fill_(0, chosen, True)
    assert torch.equal(touched_logits, mask) and torch.equal(touched_feats, mask)
    assert (labels[chosen] != IGNORE).all() and chosen.numel() == 32
    # The same parameter gradient as a second copy of the head run on the chosen RoIs only.
    grads = [p.grad.clone() for p in head.net.parameters()]
    head.zero_grad()
    F.cross_entropy(head(feats.detach()[chosen]), labels[chosen]).backward()
    for g1, p in zip(grads, head.net.parameters()):
        torch.testing.assert_close(g1, p.grad, atol=1e-6, rtol=1e-5)
    if sampler is OHEM:
        ref = S.ohem_loss(logits.detach(), labels, ids, 16, boxes=boxes, nms_iou=0.7, ignore_index=IGNORE)
        torch.testing.assert_close(loss.detach(), ref, atol=0, rtol=0)


def test_train_head_is_deterministic_and_keeps_the_budget(split):
    h1, hist1 = train_head(split, OHEM, seed=0, steps=12, per_image=8)
    h2, hist2 = train_head(split, OHEM, seed=0, steps=12, per_image=8)
    for p1, p2 in zip(h1.state_dict().values(), h2.state_dict().values()):
        assert torch.equal(p1, p2)
    assert hist1.loss == hist2.loss and len(hist1.loss) == 12
    assert all(sum(c) == 16 for c in hist1.composition)
    h3, _ = train_head(split, RANDOM, seed=0, steps=12, per_image=8)
    assert not torch.equal(h1.net[0].weight, h3.net[0].weight)
    # Before the first step both runs start from the same weights (same seed).
    h0, _ = train_head(split, RANDOM, seed=0, steps=0)
    h0b, _ = train_head(split, OHEM, seed=0, steps=0)
    assert torch.equal(h0.net[0].weight, h0b.net[0].weight)


# --------------------------------------------------------------------------- evaluation


def _brute_fpr(scores, positive, negative, recall):
    pos = [float(s) for s, p in zip(scores, positive) if p]
    neg = [float(s) for s, n in zip(scores, negative) if n]
    best = None
    for t in sorted(set(pos)):  # the largest threshold whose recall reaches the target
        if sum(p >= t for p in pos) >= recall * len(pos) - 1e-9:
            best = t
    return sum(n >= best for n in neg) / len(neg), best


def test_fp_rate_at_recall_matches_a_brute_force_loop():
    g = torch.Generator().manual_seed(0)
    for trial in range(30):
        m = int(torch.randint(2, 60, (1,), generator=g))
        scores = torch.randint(0, 8, (m,), generator=g).float() / 8 if trial % 2 else torch.rand(m, generator=g)
        kind = torch.randint(0, 3, (m,), generator=g)
        kind[0], kind[1] = 1, 2
        positive, negative = kind == 1, kind == 2  # kind 0: ignored
        recalls = [0.01, 0.3, 0.5, 0.9, 1.0, 1 / 3]
        rates = fp_rates_at_recalls(scores, positive, negative, recalls)
        for rec, rate in zip(recalls, rates.tolist()):
            fpr, t = fp_rate_at_recall(scores, positive, negative, rec)
            bf, bt = _brute_fpr(scores, positive, negative, rec)
            assert fpr == pytest.approx(bf, abs=1e-12) and t == bt and rate == pytest.approx(bf, abs=1e-12)


def test_fp_rate_validates():
    s, p, n = torch.tensor([0.5, 0.2]), torch.tensor([True, False]), torch.tensor([False, True])
    with pytest.raises(ValueError):
        fp_rate_at_recall(s, p, n, 0.0)
    with pytest.raises(ValueError):
        fp_rate_at_recall(s, p, torch.zeros(2, dtype=torch.bool), 0.5)
    with pytest.raises(ValueError):
        fp_rates_at_recalls(s, p, n, torch.tensor([1.5]))


def test_rate_curve_matches_a_loop():
    g = torch.Generator().manual_seed(1)
    scores = torch.randint(0, 6, (40,), generator=g).float()
    kind = torch.randint(0, 3, (40,), generator=g)
    positive, negative = kind == 1, kind == 2
    recall, fpr = rate_curve(scores, positive, negative)
    ts = sorted(set(scores[positive | negative].tolist()), reverse=True)
    assert recall.tolist() == pytest.approx([float((scores[positive] >= t).double().mean()) for t in ts])
    assert fpr.tolist() == pytest.approx([float((scores[negative] >= t).double().mean()) for t in ts])


def test_evaluate_is_consistent_with_its_parts(split):
    head, _ = train_head(split, OHEM, seed=0, steps=10)
    ev = evaluate(head, split, recall=0.8)
    score, pos, neg = objectness(head, split)
    fpr, t = fp_rate_at_recall(score, pos, neg, 0.8)
    assert ev["fpr"] == fpr and ev["threshold"] == t
    assert ev["fp_per_image"] == pytest.approx(fpr * int(neg.sum()) / split.n_images)
    cat = roi_category(split.labels, split.source).reshape(-1)
    counts = torch.stack([(cat == c).sum() for c in (1, 2, 3)]).double()
    rates = torch.tensor([ev["fpr_near"], ev["fpr_distractor"], ev["fpr_elsewhere"]], dtype=torch.float64)
    assert float((rates * counts).sum() / counts.sum()) == pytest.approx(fpr)
    assert 0 <= ev["class_acc"] <= 1
