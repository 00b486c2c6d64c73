"""The bank of known mistakes: per exercise, wrong implementations students actually write,
each with a short name, a title and a one-paragraph hint that explains the mistake without
giving the code. Kept as data: adding a mistake is adding an entry here (``tests/test_misconceptions.py``
checks that each entry is wrong, is told apart from the others, and is diagnosed as itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch

import solutions as S
from grader.misconceptions import families as fam


@dataclass(frozen=True)
class Misconception:
    exercise: str
    name: str
    title: str
    hint: str
    implementation: Callable

    def as_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "hint": self.hint}


def _named(fn: Callable, **flags) -> Callable:
    """``fn`` with its mistake flags fixed, keeping the student-facing signature."""
    return partial(fn, **flags)


def _manhattan(embeddings, squared=False):
    d = (embeddings[:, None, :] - embeddings[None, :, :]).abs().sum(-1)
    return d * d if squared else d


def _gram_without_clamp(embeddings, squared=False):
    sq = (embeddings * embeddings).sum(1)
    d2 = sq[:, None] + sq[None, :] - 2 * embeddings @ embeddings.T
    return d2 if squared else d2.sqrt()


def _weights(**flags) -> Callable:
    def weights(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
        return fam.distance_weights(dist, labels, dim, cutoff, nonzero_loss_cutoff, **flags)

    return weights


def _m(exercise: str, name: str, title: str, hint: str, implementation: Callable) -> Misconception:
    return Misconception(exercise, name, title, " ".join(hint.split()), implementation)


_PD, _SH, _BH, _DW = "pairwise_distances", "semi_hard_negatives", "batch_hard", "distance_weights"
_IOU, _NMS, _SEL, _LOSS = "box_iou", "nms", "ohem_select", "ohem_loss"
_HNI, _TOPK = "hard_negative_infonce", "topk_negatives"
_PAN, _PA = "positive_aware_negatives", "proxy_anchor_loss"

_ENTRIES = (
    _m(_PD, "manhattan", "L1 (Manhattan) distance instead of Euclidean",
       """Your distances match the sum of absolute coordinate differences. The exercise asks for the
       Euclidean distance: the square root of the sum of squared differences (or that sum itself when
       squared=True).""", _manhattan),
    _m(_PD, "ignores_squared", "The squared flag is ignored (always Euclidean)",
       """With squared=True your function still takes the square root. The flag asks for ||x - y||^2,
       which is what a triplet loss on squared distances uses; return it before the square root.""",
       lambda embeddings, squared=False: S.pairwise_distances(embeddings)),
    _m(_PD, "always_squared", "Squared distances returned when squared=False",
       """Your distances are the squared ones even without squared=True. Take the square root for the
       default, masking exact zeros so that the gradient stays finite.""",
       lambda embeddings, squared=False: S.pairwise_distances(embeddings, True)),
    _m(_PD, "gram_without_clamp", "Gram-trick distances without the clamp at zero",
       """||x||^2 + ||y||^2 - 2 x.y cancels catastrophically for identical or nearly identical rows and
       can come out slightly below zero in floating point; its square root is then NaN. Clamp the
       squared distances at 0 (and set the diagonal to exactly 0) before the square root.""",
       _gram_without_clamp),
    _m(_SH, "inclusive_lower", "Semi-hard window with an inclusive lower bound",
       """Your window admits negatives with d(a,n) == d(a,p). Semi-hard negatives are strictly farther than
       the positive: d(a,p) < d(a,n) < d(a,p) + margin, both strict. A negative at exactly the positive's
       distance is a hard negative, not a semi-hard one.""", _named(fam.semi_hard, lower=torch.ge)),
    _m(_SH, "inclusive_upper", "Semi-hard window with an inclusive upper bound",
       """Your window admits negatives with d(a,n) == d(a,p) + margin. Such a triplet has zero loss, so it
       teaches nothing; the upper bound is strict: d(a,n) < d(a,p) + margin.""", _named(fam.semi_hard, upper=torch.le)),
    _m(_SH, "no_lower_bound", "No lower bound: the hardest negative inside the margin",
       """You pick negatives with d(a,n) < d(a,p) + margin but without d(a,n) > d(a,p), so a negative closer
       than the positive (a hard negative) can be chosen. Semi-hard mining exists to avoid exactly those
       early in training (FaceNet); keep both bounds.""", _named(fam.semi_hard, no_lower=True)),
    _m(_SH, "farthest_in_window", "The farthest negative in the window instead of the closest",
       """Among the negatives inside the window you take the one with the largest d(a,n). The rule takes
       the closest one (the smallest d(a,n) strictly beyond d(a,p)), ties to the smallest index.""",
       _named(fam.semi_hard, pick="max")),
    _m(_SH, "anchor_as_own_positive", "The anchor counted as its own positive",
       """Your positive pairs include (a, a). A positive pair needs two different samples (a != p by
       index) with the same label; with p == a, d(a,p) is the diagonal and the triplet is meaningless.""",
       _named(fam.semi_hard, self_pairs=True)),
    _m(_SH, "farthest_fallback", "A fallback to the farthest negative when the window is empty",
       """When no negative lies in the window you still return a triplet with the farthest negative (as
       TensorFlow Addons' semi-hard loss does). This exercise leaves such pairs out.""",
       _named(fam.semi_hard, fallback=True)),
    _m(_SH, "negatives_of_any_label", "Negatives not restricted to other labels",
       """Your window considers every other sample, including ones with the anchor's label. A negative
       must have a different label from the anchor.""", _named(fam.semi_hard, any_label=True)),
    _m(_BH, "anchor_as_own_positive", "Batch-hard over the whole row, anchor included",
       """Your hardest positive is taken over the whole row of same-label samples, including the anchor
       itself. The positive must differ from the anchor by index (p != a), even when dist[a, a] is not
       zero.""", _named(fam.batch_hard, self_pos=True)),
    _m(_BH, "easiest_positive", "The closest positive instead of the farthest",
       """Batch-hard takes, for each anchor, the positive with the largest distance (the hardest
       positive); you took the smallest.""", _named(fam.batch_hard, pos_pick="min")),
    _m(_BH, "easiest_negative", "The farthest negative instead of the closest",
       """Batch-hard takes, for each anchor, the negative with the smallest distance (the hardest
       negative); you took the largest.""", _named(fam.batch_hard, neg_pick="max")),
    _m(_BH, "anchors_without_negatives", "Anchors without a negative kept",
       """An anchor whose row has no negative (every sample shares its label) cannot form a triplet; you
       still return one for it. Keep only anchors with at least one positive and one negative.""",
       _named(fam.batch_hard, anchors="pos_only")),
    _m(_BH, "negative_of_any_label", "Negatives not restricted to other labels",
       """Your hardest negative is the closest sample of any label. A negative must have a different
       label from the anchor.""", _named(fam.batch_hard, any_neg=True)),
    _m(_DW, "global_max", "Log-weights shifted by the global maximum",
       """You subtract one maximum over the whole matrix before exponentiating. Rows whose log-weights
       are all far below that maximum underflow to zero; subtract each row's own maximum (a per-row
       log-sum-exp) so every anchor keeps a distribution.""", _weights(global_max=True)),
    _m(_DW, "no_label_mask", "Weights on non-negatives",
       """Samples with the anchor's label (and the anchor itself) got weight. Only negatives of the
       anchor may be sampled; their weight is 0 before normalising.""", _weights(mask_labels=False)),
    _m(_DW, "no_far_cutoff", "No zero weight beyond nonzero_loss_cutoff",
       """Negatives at distance >= nonzero_loss_cutoff cannot contribute to the loss, and the rule gives
       them weight 0; yours kept them.""", _weights(mask_far=False)),
    _m(_DW, "unnormalised", "Rows not normalised",
       """Each anchor's weights are a sampling distribution: they must sum to 1 over its negatives (or be
       all zero when it has none). Divide by the row sum.""", _weights(normalise=False)),
    _m(_DW, "no_cutoff_clamp", "Distances not clamped at the cutoff",
       """The inverse density is evaluated at max(d, cutoff): very close negatives would otherwise get
       enormous weights (Wu et al. 2017). Clamp the distances from below at cutoff.""", _weights(clamp=False)),
    _m(_IOU, "plus_one_pixel", "The \"+1 pixel\" area convention",
       """You computed widths as x2 - x1 + 1 (the old Pascal VOC pixel convention). Boxes here are
       continuous coordinates: width x2 - x1, height y2 - y1, as in torchvision.""",
       _named(fam.box_iou, plus_one=1.0)),
    _m(_IOU, "over_min_area", "Intersection over the smaller box",
       """You divided the intersection by the smaller box's area. IoU divides by the union:
       area1 + area2 - intersection.""", _named(fam.box_iou, union_rule="min")),
    _m(_IOU, "no_clamp", "Overlap widths not clamped at zero",
       """For boxes that do not overlap, min(x2) - max(x1) is negative, and two negative sides multiply
       to a positive "intersection". Clamp the overlap's width and height at 0 before multiplying.""",
       _named(fam.box_iou, clamp=False)),
    _m(_NMS, "inclusive_threshold", "Suppression at IoU equal to the threshold",
       """A box is suppressed when its IoU with a kept box is strictly greater than iou_threshold
       (torchvision's rule); at exactly the threshold it survives.""", _named(fam.nms, inclusive=True)),
    _m(_NMS, "suppressed_boxes_suppress", "Suppressed boxes suppress others",
       """Only boxes that are kept suppress later ones. A box that was itself suppressed must not remove
       the boxes it overlaps.""", _named(fam.nms, by_all=True)),
    _m(_NMS, "only_last_kept_suppresses", "Only the last kept box is compared",
       """Each candidate must be compared with every box kept so far, not only with the most recent one.""",
       _named(fam.nms, last_only=True)),
    _m(_NMS, "sorted_by_index", "Kept boxes returned in index order",
       """The kept indices are returned in the order NMS keeps them: by decreasing score (ties by index),
       not sorted by index.""", lambda boxes, scores, iou_threshold: torch.sort(S.nms(boxes, scores, iou_threshold)).values),
    _m(_SEL, "rank_before_nms", "Top-K taken before NMS",
       """You cut each image's candidates to the per_image hardest before suppression, so suppressed boxes
       leave empty slots. Run NMS over the ranked candidates first, then keep the first per_image
       survivors.""", _named(fam.ohem_select, topk_first=True)),
    _m(_SEL, "no_nms", "No NMS among the hard examples",
       """With boxes and nms_iou given, overlapping hard RoIs must be suppressed before selection
       (Shrivastava et al. 2016), or the K picks are near-duplicates of one object.""",
       _named(fam.ohem_select, use_nms=False)),
    _m(_SEL, "nms_across_images", "NMS across images",
       """Boxes from different images never overlap in any meaningful sense; NMS runs within each image.""",
       _named(fam.ohem_select, across=True)),
    _m(_SEL, "ignores_valid", "Invalid RoIs selected",
       """RoIs with valid == False (e.g. ignored targets) can never be selected.""",
       _named(fam.ohem_select, use_valid=False)),
    _m(_SEL, "easiest", "The easiest RoIs instead of the hardest",
       """OHEM keeps the RoIs with the largest loss; you kept the smallest.""", _named(fam.ohem_select, easiest=True)),
    _m(_LOSS, "mean_over_all_rois", "The loss averaged over every RoI, not the mined ones",
       """The OHEM loss is the mean cross-entropy of the selected hard RoIs only; averaging over every
       valid RoI is plain training without mining.""", _named(fam.ohem_loss, select_all=True)),
    _m(_LOSS, "normalised_by_batch", "Divided by the nominal batch size",
       """Divide by the number of RoIs actually selected, which can be fewer than per_image x images.""",
       _named(fam.ohem_loss, per_batch=True)),
    _m(_LOSS, "ignore_by_range", "Ignored targets recognised by range, not by ignore_index",
       """A RoI is ignored when its target equals ignore_index; you ignored targets outside [0, C)
       instead, so an ignore_index inside that range is treated as a class.""", _named(fam.ohem_loss, range_valid=True)),
    _m(_HNI, "beta_on_cosine", "beta multiplies the raw cosine, not cosine / temperature",
       """Your importance weights are e^(beta cos). In this exercise (and the HCL authors' code) beta
       multiplies s = cosine / temperature: the weights are e^(beta s), so reweight = N sum e^((beta+1) s) /
       sum e^(beta s). The two conventions differ by a factor 1/temperature in beta.""",
       _named(fam.hcl, beta_on_cosine=True)),
    _m(_HNI, "exp_overflow", "exp(cosine / temperature) overflows float32",
       """Your loss becomes inf or NaN in float32 when (beta + 1) cosine / temperature exceeds about 88
       (temperature 0.01, or beta = 50): the authors' code evaluates exp(s) directly. Keep every
       quantity as a logarithm: logsumexp for the sums, log1p / expm1 for the debiasing, logaddexp or
       softplus for the loss.""", _named(fam.hcl, exp_form=True)),
    _m(_HNI, "anchor_as_own_negative", "The anchor is counted among its own negatives",
       """Each anchor has N = 2B - 2 negatives: every row of [z1; z2] except itself and its other view.
       Your denominator also contains the anchor's similarity with itself (cosine 1), the largest term
       of all at low temperature.""", _named(fam.hcl, self_negative=True)),
    _m(_HNI, "no_clamp_floor", "The debiased term is not clamped at N e^(-1/temperature)",
       """When tau_plus N e^(s+) exceeds the reweighted negatives, the debiased sum is zero or negative:
       Ng must then be clamped at N e^(-1/temperature), its smallest possible value, instead of
       vanishing (or turning into NaN).""", _named(fam.hcl, no_floor=True)),
    _m(_HNI, "masked_before_scaling", "NaN at beta = 0: the excluded entries are masked before scaling",
       """Your loss is NaN when beta = 0: the anchor and its positive were filled with -inf and then
       multiplied by beta, and 0 * (-inf) is NaN. Multiply by beta (and by beta + 1) first, then mask
       the excluded entries (or select the negatives by index).""", _named(fam.hcl, mask_before_scaling=True)),
    _m(_TOPK, "ties_to_larger_index", "Ties go to the larger index",
       """Equal similarities must be listed by increasing index, and at the cut the smaller index is kept.
       A stable sort of the masked row (descending=True, stable=True) keeps equal values in index order;
       torch.topk makes no promise about ties.""", _named(fam.topk, ties_larger=True)),
    _m(_TOPK, "positives_as_negatives", "Positives listed as negatives",
       """Only samples with another label are negatives of an anchor. You masked out the anchor itself but
       not the other samples of its class, which are its positives.""", _named(fam.topk, any_label=True)),
    _m(_TOPK, "least_similar", "The least similar negatives instead of the most similar",
       """Hard negatives are the most similar ones (largest sim[a, n]); you listed the smallest.""",
       _named(fam.topk, least=True)),
    _m(_TOPK, "index_order", "The right negatives in index order",
       """The k negatives are listed by decreasing similarity (the hardest first), not by index.""",
       _named(fam.topk, unsorted=True)),
    _m(_PAN, "margin_sign", "Relative threshold written s_ref * (1 - relative_margin)",
       """For a positive score below 0, s_ref * (1 - m) lies above s_ref, so the filter keeps candidates that
       score higher than the positive (more with the margin on than off: sentence-transformers issue #3819).
       The threshold must move down for every sign: s_ref - |s_ref| * m.""", _named(fam.positive_aware, sign_bug=True)),
    _m(_PAN, "easiest_positive_sets_threshold", "The threshold set by the largest positive score",
       """With several positives per query the threshold comes from the hardest one, the smallest positive
       score; using the largest lets through candidates that score above a true positive.""",
       _named(fam.positive_aware, reference="max")),
    _m(_PAN, "returns_masked", "Masked candidates used as padding",
       """Candidates scored -inf are the query's own positives (or the query itself); they are never returned,
       even when fewer than k candidates pass. Pad the row with -1 instead.""",
       _named(fam.positive_aware, keep_masked=True)),
    _m(_PAN, "easiest", "The lowest-scoring candidates instead of the highest",
       """Hard negatives are the passing candidates the model scores highest (closest to the query); you
       returned the lowest-scoring ones. Sort by decreasing score.""", _named(fam.positive_aware, easiest=True)),
    _m(_PA, "margin_sign", "The margin delta with the wrong sign",
       """Proxy Anchor pulls positives until their cosine exceeds delta, e^(-alpha (s - delta)), and pushes
       negatives until it is below -delta, e^(alpha (s + delta)); your margins point the other way.""",
       _named(fam.proxy_anchor, delta_sign=-1.0)),
    _m(_PA, "positive_over_all_proxies", "Positive term averaged over every proxy",
       """The positive term is averaged over the proxies that have at least one sample in the batch (P+); a
       proxy without positives contributes 0 and is not counted. You divided by the number of all proxies.""",
       _named(fam.proxy_anchor, pos_over_all=True)),
    _m(_PA, "negative_over_present_proxies", "Negative term averaged over the proxies with positives",
       """Every proxy has negatives in the batch, so the negative term is averaged over all proxies (P), not
       only over those with a sample of their class.""", _named(fam.proxy_anchor, neg_over_present=True)),
    _m(_PA, "no_normalisation", "Dot products instead of cosines",
       """Proxy Anchor compares cosine similarities: L2-normalise the embeddings and the proxies before the
       matrix product, or the loss changes when a vector is scaled.""", _named(fam.proxy_anchor, normalise=False)),
    _m(_PA, "exp_overflow", "log(1 + sum e^z) evaluated with exp",
       """At alpha = 32 a term is up to e^(32 * 1.1); at alpha = 64 and beyond e^z overflows float32 to inf
       (the official code's form). Evaluate log(1 + sum e^z) as softplus(logsumexp(z)), which never
       overflows.""", _named(fam.proxy_anchor, exp_form=True)),
)

#: exercise id -> its known mistakes, in the order they are tried.
BANK: dict[str, tuple[Misconception, ...]] = {}
for _entry in _ENTRIES:
    BANK[_entry.exercise] = BANK.get(_entry.exercise, ()) + (_entry,)
