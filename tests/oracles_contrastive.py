"""Loop oracles for the InfoNCE family and the proxy losses, in mpmath at 50 digits (and the HCL author code).

They read the formulas literally: cosines from the exact input values, one term per pair,
sample or proxy, ``exp`` and ``log`` without any stabilising trick (mpmath does not
overflow), so they are independent of the references' log-space algebra.
"""

from __future__ import annotations

import mpmath
import numpy as np
import torch

mpmath.mp.dps = 50


def author_hcl(z1, z2, temperature=0.5, beta=1.0, tau_plus=0.1):
    """joshr17/HCL image/main.py criterion as published (exp of sim / t; overflows at low t),
    with its mask built without a Python loop. Also the peer in benchmarks/bench_contrastive.py."""
    b = z1.shape[0]
    out = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    neg = torch.exp(out @ out.T / temperature)
    rows, cols = torch.arange(b, device=z1.device)[:, None], torch.arange(2 * b, device=z1.device)[None, :]
    mask = (cols != rows) & (cols != rows + b)
    neg = neg.masked_select(torch.cat([mask, mask])).view(2 * b, -1)
    pos = torch.exp((out[:b] * out[b:]).sum(dim=-1) / temperature).repeat(2)
    n = 2 * b - 2
    imp = (beta * neg.log()).exp()
    reweight = (imp * neg).sum(dim=-1) / imp.mean(dim=-1)
    ng = ((-tau_plus * n * pos + reweight) / (1 - tau_plus)).clamp(min=n * np.e ** (-1 / temperature))
    return (-torch.log(pos / (pos + ng))).mean()


def _rows(x) -> list[list[mpmath.mpf]]:
    return [[mpmath.mpf(float(v)) for v in row] for row in x.detach().cpu().double().tolist()]


def _cos(u: list[mpmath.mpf], v: list[mpmath.mpf]) -> mpmath.mpf:
    dot = mpmath.fsum(a * b for a, b in zip(u, v))
    return dot / (mpmath.sqrt(mpmath.fsum(a * a for a in u)) * mpmath.sqrt(mpmath.fsum(b * b for b in v)))


def cosines(x, y=None) -> list[list[mpmath.mpf]]:
    xs = _rows(x)
    ys = xs if y is None else _rows(y)
    return [[_cos(u, v) for v in ys] for u in xs]


def ntxent_loss(embeddings, labels, temperature, negatives=None) -> float:
    lab = [int(v) for v in labels.tolist()]
    b = len(lab)
    cos = cosines(embeddings)
    t = mpmath.mpf(temperature)
    terms = []
    for a in range(b):
        if negatives is None:
            negs = [n for n in range(b) if lab[n] != lab[a]]
        else:
            negs = sorted({int(n) for n in negatives[a].tolist() if n >= 0})
        for p in range(b):
            if p != a and lab[p] == lab[a]:
                num = mpmath.exp(cos[a][p] / t)
                den = num + mpmath.fsum(mpmath.exp(cos[a][n] / t) for n in negs)
                terms.append(-mpmath.log(num / den))
    return float(mpmath.fsum(terms) / len(terms)) if terms else 0.0


def _simclr_scores(z1, z2, temperature):
    b = z1.shape[0]
    z = _rows(z1) + _rows(z2)
    t = mpmath.mpf(temperature)
    s = [[_cos(u, v) / t for v in z] for u in z]
    out = []
    for i in range(2 * b):
        j = (i + b) % (2 * b)
        out.append((s[i][j], [s[i][k] for k in range(2 * b) if k not in (i, j)]))
    return out


def _debiased_loop(z1, z2, temperature, tau_plus, negative_sum) -> float:
    """Mean over the 2B anchors of -log(e^{s+} / (e^{s+} + Ng)) with
    Ng = max((negative_sum(s_neg) - tau+ N e^{s+}) / (1 - tau+), N e^{-1/t})."""
    if z1.shape[0] <= 1:
        return 0.0
    t, tau = mpmath.mpf(temperature), mpmath.mpf(tau_plus)
    losses = []
    for s_pos, s_neg in _simclr_scores(z1, z2, temperature):
        n = len(s_neg)
        pos = mpmath.exp(s_pos)
        ng = max((negative_sum(s_neg) - tau * n * pos) / (1 - tau), n * mpmath.exp(-1 / t))
        losses.append(-mpmath.log(pos / (pos + ng)))
    return float(mpmath.fsum(losses) / len(losses))


def hard_negative_infonce(z1, z2, temperature, beta, tau_plus) -> float:
    """The author code's estimator (joshr17/HCL image/main.py), term by term:
    reweight = sum_i w_i e^{s_i} / mean_i w_i with w_i = e^{beta s_i}."""
    beta = mpmath.mpf(beta)

    def reweight(s_neg):
        imp = [mpmath.exp(beta * s) for s in s_neg]
        return mpmath.fsum(w * mpmath.exp(s) for w, s in zip(imp, s_neg)) / (mpmath.fsum(imp) / len(s_neg))

    return _debiased_loop(z1, z2, temperature, tau_plus, reweight)


def debiased_infonce(z1, z2, temperature, tau_plus) -> float:
    """Chuang et al. 2020 (chingyaoc/DCL main.py): the plain negative sum, debiased and clamped."""
    return _debiased_loop(z1, z2, temperature, tau_plus, lambda s_neg: mpmath.fsum(mpmath.exp(s) for s in s_neg))


def hardest_only_infonce(z1, z2, temperature, tau_plus) -> float:
    """The beta -> infinity limit: reweight = N * max_i e^{s_i}."""
    return _debiased_loop(z1, z2, temperature, tau_plus, lambda s_neg: len(s_neg) * mpmath.exp(max(s_neg)))


def topk_negatives(sim, labels, k) -> list[list[int]]:
    lab = [int(v) for v in labels.tolist()]
    s = sim.detach().cpu().tolist()
    out = []
    for a in range(len(lab)):
        negs = sorted((n for n in range(len(lab)) if lab[n] != lab[a]), key=lambda n: (-s[a][n], n))[:k]
        out.append(negs + [-1] * (k - len(negs)))
    return out


def proxy_nca_loss(embeddings, labels, proxies, softmax_scale) -> float:
    """Per sample -log( exp(-s d_y) / sum_c exp(-s d_c) ), d the squared distance of unit vectors."""
    xs, ps = _rows(embeddings), _rows(proxies)
    unit = lambda v: [a / mpmath.sqrt(mpmath.fsum(b * b for b in v)) for a in v]  # noqa: E731
    xs, ps = [unit(v) for v in xs], [unit(v) for v in ps]
    s = mpmath.mpf(softmax_scale)
    terms = []
    for x, y in zip(xs, labels.tolist()):
        e = [mpmath.exp(-s * mpmath.fsum((a - b) ** 2 for a, b in zip(x, p))) for p in ps]
        terms.append(-mpmath.log(e[int(y)] / mpmath.fsum(e)))
    return float(mpmath.fsum(terms) / len(terms)) if terms else 0.0


def proxy_anchor_loss(embeddings, labels, proxies, alpha, delta) -> float:
    cos = cosines(embeddings, proxies)
    lab = [int(v) for v in labels.tolist()]
    a, m = mpmath.mpf(alpha), mpmath.mpf(delta)
    n_classes = proxies.shape[0]
    pos_terms, neg_terms = [], []
    for c in range(n_classes):
        mine = [i for i in range(len(lab)) if lab[i] == c]
        others = [i for i in range(len(lab)) if lab[i] != c]
        if mine:
            pos_terms.append(mpmath.log(1 + mpmath.fsum(mpmath.exp(-a * (cos[i][c] - m)) for i in mine)))
        neg_terms.append(mpmath.log(1 + mpmath.fsum(mpmath.exp(a * (cos[i][c] + m)) for i in others)))
    first = mpmath.fsum(pos_terms) / len(pos_terms) if pos_terms else 0
    return float(first + mpmath.fsum(neg_terms) / n_classes)
