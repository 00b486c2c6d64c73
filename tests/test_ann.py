"""solutions.experiments.ann on a small generated corpus: FAISS exact search agrees with the
torch exhaustive top-k, IVF becomes exact at nprobe = nlist and its kNN recall never falls as
nprobe grows, HNSW is near exact at a large efSearch, builds are deterministic on one thread,
and the recall and hard-negative helpers match loop oracles."""

import math

import pytest
import torch
from hypothesis import given, strategies as st

pytest.importorskip("faiss")
from solutions.experiments import ann  # noqa: E402

N, DIM, CLASSES, NLIST = 3000, 16, 30, 32


@pytest.fixture(scope="module")
def corpus():
    x, labels = ann.clustered_corpus(N, DIM, CLASSES, 0.7, seed=0)
    return x, labels, x[:200], labels[:200]


def test_clustered_corpus_is_unit_balanced_and_deterministic():
    x, labels = ann.clustered_corpus(100, 8, 7, 0.5, seed=3)
    assert x.shape == (100, 8) and x.dtype == torch.float32 and labels.dtype == torch.int64
    assert torch.allclose(x.norm(dim=1), torch.ones(100), atol=1e-6)
    assert torch.bincount(labels).tolist() == [15, 15] + [14] * 5
    y, labels2 = ann.clustered_corpus(100, 8, 7, 0.5, seed=3)
    assert torch.equal(x, y) and torch.equal(labels, labels2)
    assert not torch.equal(x, ann.clustered_corpus(100, 8, 7, 0.5, seed=4)[0])


def test_flat_index_is_the_exhaustive_search(corpus):
    x, _, q, _ = corpus
    scores, ids = ann.search(ann.build_index(x, "flat"), q, 20)
    want_scores, want_ids = ann.exact_top_k(x, q, 20)
    assert torch.equal(ids, want_ids)
    assert torch.allclose(scores, want_scores, atol=1e-5)
    assert bool((scores[:, :-1] >= scores[:, 1:]).all())


def test_ivf_is_exact_with_every_cell_probed_and_its_knn_recall_never_falls_with_nprobe(corpus):
    x, labels, q, ql = corpus
    index = ann.build_index(x, "ivf", nlist=NLIST, threads=1)
    _, exact = ann.exact_top_k(x, q, 10)
    hard = ann.exact_hard_negatives(x, labels, q, ql, 10)
    recalls = []
    for nprobe in (1, 2, 4, 8, 16, NLIST):
        _, ids = ann.search(index, q, 100, nprobe=nprobe)
        recalls.append(ann.set_recall(ids[:, :10], exact))
    assert recalls == sorted(recalls) and recalls[-1] == 1.0 and recalls[0] < 1.0
    # Each class holds 100 items: some of the hardest negatives sit behind ~99 positives.
    _, ids = ann.search(index, q, 200, nprobe=NLIST)
    assert ann.set_recall(ids, hard) == 1.0 > ann.set_recall(ids[:, :100], hard)


def test_hnsw_is_near_exact_at_a_large_ef_search(corpus):
    x, _, q, _ = corpus
    index = ann.build_index(x, "hnsw", hnsw_m=16, threads=1)
    _, exact = ann.exact_top_k(x, q, 10)
    _, ids = ann.search(index, q, 10, ef_search=512)
    assert ann.set_recall(ids, exact) >= 0.99


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_single_threaded_builds_and_searches_are_bit_identical(corpus, kind):
    x, _, q, _ = corpus
    kwargs = dict(nprobe=4) if kind == "ivf" else dict(ef_search=32)
    runs = [ann.search(ann.build_index(x, kind, nlist=NLIST, hnsw_m=8, threads=1), q, 50, threads=1, **kwargs) for _ in range(2)]
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])


def test_missing_results_are_minus_one_with_minus_inf():
    x, _ = ann.clustered_corpus(5, 4, 2, 0.1)
    scores, ids = ann.search(ann.build_index(x, "flat"), x[:2], 8)
    assert (ids[:, 5:] == -1).all() and (scores[:, 5:] == float("-inf")).all()
    scores, ids = ann.exact_top_k(x, x[:2], 8)
    assert (ids[:, 5:] == -1).all() and (scores[:, 5:] == float("-inf")).all()


@given(seed=st.integers(0, 2**31), n=st.integers(1, 30), n_q=st.integers(1, 6), classes=st.integers(1, 4), k=st.integers(1, 8), chunk=st.integers(1, 4))
def test_exact_hard_negatives_matches_a_loop(seed, n, n_q, classes, k, chunk):
    g = torch.Generator().manual_seed(seed)
    x, q = torch.randn(n, 3, generator=g, dtype=torch.float64), torch.randn(n_q, 3, generator=g, dtype=torch.float64)
    labels, q_labels = torch.randint(0, classes, (n,), generator=g), torch.randint(0, classes, (n_q,), generator=g)
    got = ann.exact_hard_negatives(x, labels, q, q_labels, k, chunk=chunk).tolist()
    s = (q @ x.T).tolist()
    for row, qi in zip(got, range(n_q)):
        negs = sorted((j for j in range(n) if labels[j] != q_labels[qi]), key=lambda j: -s[qi][j])[:k]
        assert row == negs + [-1] * (k - len(negs))


@given(
    found=st.lists(st.lists(st.integers(-1, 9), min_size=4, max_size=4), min_size=0, max_size=5),
    data=st.data(),
)
def test_set_recall_matches_a_loop(found, data):
    wanted = [data.draw(st.lists(st.integers(-1, 9), min_size=3, max_size=3)) for _ in found]
    f = torch.tensor(found, dtype=torch.int64).reshape(len(found), 4)
    w = torch.tensor(wanted, dtype=torch.int64).reshape(len(found), 3)
    hits = sum(1 for fr, wr in zip(found, wanted) for v in wr if v >= 0 and v in fr)
    total = sum(1 for wr in wanted for v in wr if v >= 0)
    got = ann.set_recall(f, w)
    assert (math.isnan(got) and total == 0) or got == hits / total


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda x: ann.build_index(x, "pq"), "kind"),
        (lambda x: ann.build_index(x[:10], "ivf", nlist=11), "nlist"),
        (lambda x: ann.build_index(x.double().fill_(float("nan")), "flat"), "corpus"),
        (lambda x: ann.build_index(x[:0], "flat"), "corpus"),
        (lambda x: ann.build_index(x, "hnsw", hnsw_m=1), "hnsw_m"),
        (lambda x: ann.search(ann.build_index(x, "flat"), x[:, :3], 2), "queries"),
        (lambda x: ann.search(ann.build_index(x, "flat"), x, 0), "k"),
        (lambda x: ann.search(ann.build_index(x, "flat"), x, 2, nprobe=2), "nprobe"),
        (lambda x: ann.search(ann.build_index(x, "flat"), x, 2, ef_search=2), "ef_search"),
        (lambda x: ann.search("index", x, 2), "index"),
        (lambda x: ann.exact_top_k(x, x[:, :3], 2), "queries"),
        (lambda x: ann.exact_top_k(x, x, 2, exclude=torch.zeros(3, 3)), "exclude"),
        (lambda x: ann.exact_hard_negatives(x, torch.zeros(3, dtype=torch.int64), x, torch.zeros(20, dtype=torch.int64), 2), "corpus_labels"),
        (lambda x: ann.set_recall(torch.zeros(2, 2), torch.zeros(2, 2, dtype=torch.int64)), "found"),
        (lambda x: ann.set_recall(torch.zeros(2, 2, dtype=torch.int64), torch.zeros(3, 2, dtype=torch.int64)), "wanted"),
        (lambda x: ann.clustered_corpus(10, 2, 2, -1.0), "noise"),
    ],
)
def test_rejects_bad_input_naming_the_argument(call, name):
    x, _ = ann.clustered_corpus(20, 4, 2, 0.3)
    with pytest.raises(ValueError, match=name):
        call(x)
