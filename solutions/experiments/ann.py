"""Approximate nearest-neighbour (ANN) mining over a corpus with FAISS: exact, IVF and HNSW
indexes, and the two recalls that tell them apart.

All indexes use the inner product, so on unit vectors they rank by cosine similarity.
Plain kNN recall@k asks whether an index finds a query's nearest neighbours; hard-negative
recall asks whether it finds the query's exact hardest *negatives* (the most similar corpus
items of another label). Hard negatives sit behind the positives, in cells and graph regions
an ANN search explores least, so the second recall can be far lower than the first.

Determinism: IVF training is seeded; with ``threads=1`` every build and search is
bit-identical across runs (multi-threaded HNSW construction is not).
"""

from __future__ import annotations

import contextlib
import math

import faiss
import numpy as np
import torch
from torch import Tensor

from .. import _checks

KINDS = ("flat", "ivf", "hnsw")


def clustered_corpus(n: int, dim: int, n_classes: int, noise: float, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``n`` unit vectors ``[n, dim]`` (float32) in ``n_classes`` classes of (near) equal size:
    a random unit centre per class plus isotropic Gaussian noise of standard deviation
    ``noise / sqrt(dim)`` per coordinate, renormalised; labels int64 ``[n]`` (class ``i % n_classes``)."""
    n = _checks.integer("n", n, 1)
    dim = _checks.integer("dim", dim, 1)
    n_classes = _checks.integer("n_classes", n_classes, 1)
    sd = _checks.real_number("noise", noise)
    if sd < 0:
        raise ValueError(f"noise must be >= 0, got {sd}")
    g = torch.Generator().manual_seed(seed)
    centres = torch.nn.functional.normalize(torch.randn(n_classes, dim, generator=g), dim=1)
    labels = torch.arange(n) % n_classes
    x = centres[labels] + (sd / math.sqrt(dim)) * torch.randn(n, dim, generator=g)
    return torch.nn.functional.normalize(x, dim=1), labels


@contextlib.contextmanager
def _threads(threads: int | None):
    if threads is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _matrix(name: str, value: object, dim: int | None = None) -> np.ndarray:
    x = _checks.floating(name, value, 2)
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {tuple(x.shape)}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns (the index's dimension), got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)


def build_index(
    corpus: Tensor,
    kind: str = "flat",
    nlist: int = 1024,
    hnsw_m: int = 32,
    ef_construction: int = 40,
    seed: int = 0,
    threads: int | None = None,
) -> faiss.Index:
    """An inner-product FAISS index holding ``corpus`` ``[N, D]`` (ids are row numbers).

    ``"flat"``: ``IndexFlatIP`` (exact). ``"ivf"``: ``IndexIVFFlat`` with ``nlist`` cells,
    k-means trained on the corpus with ``seed``. ``"hnsw"``: ``IndexHNSWFlat`` with ``hnsw_m``
    links per node and ``ef_construction``. ``threads`` (None: FAISS's default) applies
    during the build only.
    """
    x = _matrix("corpus", corpus)
    n, d = x.shape
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    nlist = _checks.integer("nlist", nlist, 1)
    hnsw_m = _checks.integer("hnsw_m", hnsw_m, 2)
    ef_construction = _checks.integer("ef_construction", ef_construction, 1)
    if threads is not None:
        _checks.integer("threads", threads, 1)
    with _threads(threads):
        if kind == "flat":
            index = faiss.IndexFlatIP(d)
        elif kind == "ivf":
            if nlist > n:
                raise ValueError(f"nlist must be <= the corpus size {n}, got {nlist}")
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = seed
            index.train(x)
        else:
            index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
        index.add(x)
    return index


def search(
    index: faiss.Index,
    queries: Tensor,
    k: int,
    nprobe: int | None = None,
    ef_search: int | None = None,
    threads: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The ``k`` highest inner products per query: ``(scores float32 [Q, k], ids int64 [Q, k])``
    in decreasing score; ids ``-1`` and scores ``-inf`` where the index found fewer than ``k``.
    ``nprobe`` (IVF) and ``ef_search`` (HNSW) apply to this search only."""
    if not isinstance(index, faiss.Index):
        raise ValueError(f"index must be a faiss.Index, got {type(index).__name__}")
    q = _matrix("queries", queries, index.d)
    k = _checks.integer("k", k, 1)
    params = None
    if nprobe is not None:
        if not isinstance(index, faiss.IndexIVF):
            raise ValueError("nprobe applies to an IVF index only")
        params = faiss.SearchParametersIVF(nprobe=_checks.integer("nprobe", nprobe, 1))
    if ef_search is not None:
        if not isinstance(index, faiss.IndexHNSW):
            raise ValueError("ef_search applies to an HNSW index only")
        params = faiss.SearchParametersHNSW(efSearch=_checks.integer("ef_search", ef_search, 1))
    if threads is not None:
        _checks.integer("threads", threads, 1)
    with _threads(threads):
        scores, ids = index.search(q, k, params=params)
    ids_t = torch.from_numpy(ids).long()
    scores_t = torch.from_numpy(scores).masked_fill(ids_t < 0, float("-inf"))
    return scores_t, ids_t


def exact_top_k(
    corpus: Tensor, queries: Tensor, k: int, exclude: Tensor | None = None, chunk: int = 1024
) -> tuple[Tensor, Tensor]:
    """Exhaustive torch top-``k`` by inner product, ``queries`` chunk by chunk (``chunk x N``
    scores at a time): ``(scores [Q, k], ids int64 [Q, k])``, decreasing, in the inputs' dtype
    and device. ``exclude`` (``[Q, N]`` bool) removes pairs (id ``-1``, score ``-inf`` when
    fewer than ``k`` remain). Ties are broken arbitrarily (``torch.topk``)."""
    c = _checks.floating("corpus", corpus, 2)
    q = _checks.floating("queries", queries, 2)
    if q.shape[1] != c.shape[1]:
        raise ValueError(f"queries must have {c.shape[1]} columns like corpus, got shape {tuple(q.shape)}")
    _checks.same_device("queries", q, "corpus", c)
    k = _checks.integer("k", k, 1)
    chunk = _checks.integer("chunk", chunk, 1)
    if exclude is not None:
        ex = _checks.tensor("exclude", exclude)
        if ex.dtype != torch.bool or tuple(ex.shape) != (q.shape[0], c.shape[0]):
            raise ValueError(f"exclude must be a bool [Q, N] = {(q.shape[0], c.shape[0])} tensor, got {ex.dtype} {tuple(ex.shape)}")
    kk = min(k, c.shape[0])
    out_s, out_i = [], []
    for s in range(0, q.shape[0], chunk):
        block = q[s : s + chunk].detach() @ c.detach().T
        if exclude is not None:
            block = block.masked_fill(exclude[s : s + chunk], float("-inf"))
        top = torch.topk(block, kk, dim=1)
        out_s.append(top.values)
        out_i.append(top.indices.masked_fill(top.values == float("-inf"), -1))
    scores = torch.cat(out_s) if out_s else c.new_zeros(0, kk)
    ids = torch.cat(out_i) if out_i else torch.zeros(0, kk, dtype=torch.int64, device=c.device)
    if kk < k:
        scores = torch.cat([scores, scores.new_full((scores.shape[0], k - kk), float("-inf"))], dim=1)
        ids = torch.cat([ids, ids.new_full((ids.shape[0], k - kk), -1)], dim=1)
    return scores, ids


def exact_hard_negatives(
    corpus: Tensor, corpus_labels: Tensor, queries: Tensor, query_labels: Tensor, k: int, chunk: int = 1024
) -> Tensor:
    """The ``k`` corpus items most similar to each query among those of another label (exact,
    by exhaustive search): int64 ``[Q, k]``, ``-1`` where fewer exist."""
    cl = _checks.labels(corpus_labels, _checks.floating("corpus", corpus, 2).shape[0], name="corpus_labels")
    ql = _checks.labels(query_labels, _checks.floating("queries", queries, 2).shape[0], name="query_labels")
    _checks.same_device("corpus_labels", cl, "corpus", corpus)
    _checks.same_device("query_labels", ql, "corpus", corpus)
    same = ql[:, None] == cl[None, :]
    return exact_top_k(corpus, queries, k, exclude=same, chunk=chunk)[1]


def set_recall(found: Tensor, wanted: Tensor) -> float:
    """Share of the wanted ids (``-1`` entries ignored) that appear anywhere in the same row of
    ``found``, pooled over all queries: ``sum_q |found_q & wanted_q| / sum_q |wanted_q|``.
    kNN recall@k is ``set_recall(ann_ids[:, :k], exact_ids[:, :k])``; hard-negative recall is
    ``set_recall(ann_ids, exact_hard_negatives(...))``. NaN when nothing is wanted."""
    f = _checks.tensor("found", found)
    w = _checks.tensor("wanted", wanted)
    for name, t in (("found", f), ("wanted", w)):
        if t.dtype != torch.int64 or t.dim() != 2:
            raise ValueError(f"{name} must be an int64 [Q, K] tensor, got dtype {t.dtype} and shape {tuple(t.shape)}")
    if f.shape[0] != w.shape[0]:
        raise ValueError(f"wanted must have {f.shape[0]} rows like found, got {w.shape[0]}")
    w = w.to(f.device)
    valid = w >= 0
    hit = ((w[:, :, None] == f[:, None, :]) & (f[:, None, :] >= 0)).any(dim=2) & valid
    total = int(valid.sum())
    return float(hit.sum()) / total if total else float("nan")
