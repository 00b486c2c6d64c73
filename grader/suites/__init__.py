"""What is checked: one module per exercise (its properties, inputs and checks), the
Hypothesis strategies they draw from (``strategies``, ``box_strategies``), helpers shared by
the suites (``_common``) and the registry of exercises in grade-column order (``registry``).

Suites may import ``solutions`` (the references), the engine's model and the codec; the
sandbox's student side never imports a suite.
"""

#: Every exercise id, in grade-column order (here, not in ``registry``, so that naming them imports
#: no suite: ``hnm check`` lists them before torch is loaded).
EXERCISE_IDS = (
    "pairwise_distances",
    "semi_hard_negatives",
    "batch_hard",
    "distance_weights",
    "box_iou",
    "nms",
    "ohem_select",
    "ohem_loss",
    "hard_negative_infonce",
    "topk_negatives",
    "positive_aware_negatives",
    "proxy_anchor_loss",
)
