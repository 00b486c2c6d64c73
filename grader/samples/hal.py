"""Sample submission: a correct semi-hard miner that loops in Python over pairs and a correct
box IoU that loops over the boxes of boxes1 (right answers, too slow at scale), and no
distance_weights at all."""
import torch


def semi_hard_negatives(dist, labels, margin):
    n = dist.shape[0]
    lab = labels.tolist()
    d = dist.tolist()
    hi = (dist + margin).tolist()  # the upper bound in the input's dtype, as the contract says
    anchors, positives, negatives = [], [], []
    for a in range(n):
        for p in range(n):
            if a == p or lab[a] != lab[p]:
                continue
            best = None
            for j in range(n):
                if lab[j] != lab[a] and d[a][p] < d[a][j] < hi[a][p]:
                    if best is None or d[a][j] < d[a][best]:
                        best = j
            if best is not None:
                anchors.append(a)
                positives.append(p)
                negatives.append(best)
    as_tensor = lambda v: torch.tensor(v, dtype=torch.int64, device=dist.device)
    return as_tensor(anchors), as_tensor(positives), as_tensor(negatives)


def box_iou(boxes1, boxes2):
    dtype = torch.promote_types(boxes1.dtype, boxes2.dtype)
    dtype = dtype if dtype.is_floating_point else torch.float32
    b1, b2 = boxes1.to(dtype), boxes2.to(dtype)
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    rows = []
    for box in b1:
        w = (torch.minimum(box[2], b2[:, 2]) - torch.maximum(box[0], b2[:, 0])).clamp(min=0)
        h = (torch.minimum(box[3], b2[:, 3]) - torch.maximum(box[1], b2[:, 1])).clamp(min=0)
        inter = w * h
        union = ((box[2] - box[0]) * (box[3] - box[1]) + area2) - inter
        rows.append(inter / torch.where(union == 0, torch.ones_like(union), union))
    return torch.stack(rows) if rows else torch.zeros(0, len(b2), dtype=dtype, device=b1.device)
