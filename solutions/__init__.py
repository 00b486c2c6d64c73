"""Reference implementations of hard negative mining: the course's single source of truth.

Exercises are generated from these functions and students are graded against them.
Every function validates its input and raises ``ValueError`` naming the bad argument.
"""

from .batches import pk_batches
from .contrastive import hard_negative_infonce, ntxent_loss, topk_negatives
from .distances import pairwise_distances
from .false_negatives import positive_aware_negatives
from .losses import contrastive_loss, triplet_margin_loss
from .metrics import active_triplet_fraction, collapse_ratio, map_at_r, mean_pairwise_distance, recall_at_k
from .mining import (
    batch_hard,
    distance_weighted_negatives,
    hardest_negatives,
    random_negatives,
    semi_hard_negatives,
)
from .ohem import box_iou, nms, ohem_loss, ohem_select
from .proxies import proxy_anchor_loss, proxy_nca_loss
from .weights import distance_weights

__all__ = [
    "active_triplet_fraction",
    "batch_hard",
    "box_iou",
    "collapse_ratio",
    "contrastive_loss",
    "distance_weighted_negatives",
    "distance_weights",
    "hard_negative_infonce",
    "hardest_negatives",
    "map_at_r",
    "mean_pairwise_distance",
    "nms",
    "ntxent_loss",
    "ohem_loss",
    "ohem_select",
    "pairwise_distances",
    "pk_batches",
    "positive_aware_negatives",
    "proxy_anchor_loss",
    "proxy_nca_loss",
    "random_negatives",
    "recall_at_k",
    "semi_hard_negatives",
    "topk_negatives",
    "triplet_margin_loss",
]
