"""Sample submission: batch-hard never returns; the distances are right; NMS marks visited
boxes by writing -inf into the caller's scores (and so also stops at real -inf scores); the proxy-anchor loss normalises the caller's
proxies in place."""
import math

import torch


def pairwise_distances(embeddings, squared=False):
    g = embeddings @ embeddings.T
    sq = g.diagonal()
    d2 = (sq[:, None] + sq[None, :] - 2 * g).clamp(min=0)
    d2 = d2 * (1 - torch.eye(len(g), dtype=g.dtype, device=g.device))
    if squared:
        return d2
    positive = d2 > 0
    return torch.where(positive, d2, torch.ones_like(d2)).sqrt() * positive


def batch_hard(dist, labels):
    while True:  # an infinite loop: the grader must stop it and go on
        pass


def nms(boxes, scores, iou_threshold):
    scores = scores if scores.is_floating_point() else scores.double()  # room for -inf
    b = boxes.float()
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    keep = []
    while len(scores) and scores.max() > -math.inf:
        i = int(scores.argmax())
        keep.append(i)
        w = (torch.minimum(b[i, 2], b[:, 2]) - torch.maximum(b[i, 0], b[:, 0])).clamp(min=0)
        h = (torch.minimum(b[i, 3], b[:, 3]) - torch.maximum(b[i, 1], b[:, 1])).clamp(min=0)
        union = area[i] + area - w * h
        iou = torch.where(union > 0, w * h / union, torch.zeros_like(union))
        scores[iou > iou_threshold] = -math.inf  # modifies the caller's tensor
        scores[i] = -math.inf
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)


def proxy_anchor_loss(embeddings, labels, proxies, alpha=32.0, delta=0.1):
    with torch.no_grad():  # unit-length proxies, as some trainers keep them: in place, the caller's tensor changes
        proxies.div_(proxies.norm(dim=1, keepdim=True))
    x = torch.nn.functional.normalize(embeddings, dim=1)
    p = proxies
    cos = x @ p.T
    member = labels.long()[:, None] == torch.arange(p.shape[0], device=x.device)[None, :]
    pos_z = torch.where(member, -alpha * (cos - delta), torch.full_like(cos, -math.inf))
    neg_z = torch.where(~member, alpha * (cos + delta), torch.full_like(cos, -math.inf))
    zero = cos.new_zeros(1, cos.shape[1])
    pos = torch.logsumexp(torch.cat([pos_z, zero]), dim=0)
    neg = torch.logsumexp(torch.cat([neg_z, zero]), dim=0)
    return pos.sum() / member.any(dim=0).sum().clamp(min=1) + neg.mean()
