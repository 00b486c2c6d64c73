"""Tests for the lessons' shared experiment code: solutions.experiments.training and solutions.experiments.memory_bank."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from sklearn.metrics import roc_auc_score

import solutions as S
from solutions.experiments.memory_bank import CrossBatchMemory, block_distances, memory_triplets, mine_with_memory
from solutions.experiments.training import (
    EmbeddingNet,
    all_triplets,
    embed,
    far_at_frr,
    flip_labels,
    load_digit_split,
    make_miner,
    mean_std,
    pair_distances,
    retrieval,
    roc_auc,
    roc_curve,
    subsample,
    train_embedding,
    train_on_split,
    verification_report,
)


@pytest.fixture(scope="module")
def split():
    return load_digit_split(nuisance_dims=8)


def _batch(seed: int, b: int = 24, classes: int = 4, dim: int = 6, quantise: bool = False):
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(b, dim, generator=g), dim=1)
    if quantise:  # many exact ties
        x = torch.round(x * 2) / 2
    y = torch.randint(0, classes, (b,), generator=g)
    return x, y


# --------------------------------------------------------------------------- data


def test_split_holds_classes_out(split):
    assert split.x_train.shape[1] == split.x_test.shape[1] == 64 + 8
    assert set(split.y_train.tolist()) == {0, 1, 2, 3, 4}
    assert set(split.y_test.tolist()) == {5, 6, 7, 8, 9}
    assert split.x_train.shape[0] + split.x_test.shape[0] == 1797
    assert split.x_train.dtype == torch.float32 and split.y_train.dtype == torch.int64
    # pixels centred with the training mean
    assert split.x_train[:, :64].mean(dim=0).abs().max() < 1e-5


def test_a_validation_split_leaves_the_unused_classes_out_and_keeps_each_image_unchanged(split):
    val = load_digit_split(held_out=(3, 4), unused=(5, 6, 7, 8, 9), nuisance_dims=8)
    assert set(val.y_train.tolist()) == {0, 1, 2} and set(val.y_test.tolist()) == {3, 4}
    # The same image has the same nuisance columns whatever is unused; pixels are centred on its own training classes.
    assert torch.equal(val.x_train[:, 64:], split.x_train[torch.isin(split.y_train, torch.tensor([0, 1, 2]))][:, 64:])
    assert torch.allclose(val.x_train[:, :64].mean(dim=0), torch.zeros(64), atol=1e-6)
    with pytest.raises(ValueError, match="unused"):
        load_digit_split(held_out=(3, 4), unused=(4, 5))


def test_redraw_nuisance_touches_only_the_nuisance_columns(split):
    x = split.x_train[:10]
    out = split.redraw_nuisance(x, torch.Generator().manual_seed(0))
    assert torch.equal(out[:, :64], x[:, :64])
    assert not torch.equal(out[:, 64:], x[:, 64:])
    again = split.redraw_nuisance(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    clean = load_digit_split()
    assert clean.redraw_nuisance(clean.x_train[:3], torch.Generator()) is not None
    assert torch.equal(clean.redraw_nuisance(clean.x_train[:3], torch.Generator()), clean.x_train[:3])


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 1.0])
def test_flip_labels_flips_exactly_a_fraction_to_other_classes(fraction):
    y = torch.arange(200) % 5
    out = flip_labels(y, fraction, torch.Generator().manual_seed(3))
    changed = out != y
    assert int(changed.sum()) == round(fraction * 200)
    assert set(out.tolist()) <= {0, 1, 2, 3, 4}
    assert torch.equal(out, flip_labels(y, fraction, torch.Generator().manual_seed(3)))


# --------------------------------------------------------------------------- model and miners


def test_embedding_net_shapes_and_norm():
    net = EmbeddingNet(in_dim=10, hidden=7, dim=4)
    x = torch.randn(5, 10)
    z = net(x)
    assert z.shape == (5, 4)
    assert torch.allclose(z.norm(dim=1), torch.ones(5), atol=1e-6)
    assert not EmbeddingNet(in_dim=10, dim=4, normalize=False)(x).norm(dim=1).allclose(torch.ones(5))
    net.train()
    e = embed(net, x)
    assert net.training and not e.requires_grad and torch.allclose(e, z.detach())


@pytest.mark.parametrize("seed", range(5))
def test_all_triplets_matches_brute_force(seed):
    _, y = _batch(seed, b=10, classes=3)
    a, p, n = all_triplets(y)
    expected = [
        (i, j, k)
        for i, j, k in itertools.product(range(10), repeat=3)
        if i != j and y[i] == y[j] and y[k] != y[i]
    ]
    assert list(zip(a.tolist(), p.tolist(), n.tolist())) == expected


def test_subsample_keeps_order_and_size():
    t = tuple(torch.arange(20) + o for o in (0, 100, 200))
    a, p, n = subsample(t, 0.25, torch.Generator().manual_seed(0))
    assert a.numel() == 5 and torch.equal(p, a + 100) and torch.equal(n, a + 200)
    assert torch.all(a[1:] > a[:-1])


@pytest.mark.parametrize("seed", range(3))
def test_make_miner_calls_the_references(seed):
    x, y = _batch(seed)
    d = S.pairwise_distances(x)
    same = lambda u, v: all(torch.equal(s, t) for s, t in zip(u, v))  # noqa: E731
    assert same(make_miner("semi-hard", margin=0.3)(d, y, 0), S.semi_hard_negatives(d, y, 0.3))
    assert same(make_miner("hardest")(d, y, 0), S.hardest_negatives(d, y))
    assert same(make_miner("batch-hard")(d, y, 0), S.batch_hard(d, y))
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert same(make_miner("random", generator=g1)(d, y, 0), S.random_negatives(d, y, generator=g2))
    assert same(
        make_miner("distance-weighted", dim=6, generator=g1)(d, y, 0), S.distance_weighted_negatives(d, y, 6, generator=g2)
    )


def test_curriculum_switches_after_warmup():
    x, y = _batch(0, b=32)
    d = S.pairwise_distances(x)
    miner = make_miner("curriculum", margin=0.2, generator=torch.Generator().manual_seed(0), warmup_steps=5, hard_fraction=0.5)
    semi = S.semi_hard_negatives(d, y, 0.2)
    before = miner(d, y, 4)
    assert all(torch.equal(s, t) for s, t in zip(before, semi))
    after = miner(d, y, 5)
    hard = S.hardest_negatives(d, y)
    assert after[0].numel() == semi[0].numel() + round(0.5 * hard[0].numel())
    tail = set(zip(*(t[semi[0].numel():].tolist() for t in after)))
    assert tail <= set(zip(*(t.tolist() for t in hard)))


def test_curriculum_ramp_grows_the_hard_share_linearly_to_its_cap():
    x, y = _batch(1, b=32)
    d = S.pairwise_distances(x)
    semi, hard = S.semi_hard_negatives(d, y, 0.2), S.hardest_negatives(d, y)
    miner = make_miner("curriculum", margin=0.2, generator=torch.Generator().manual_seed(0), warmup_steps=3,
                       hard_fraction=0.5, ramp_steps=4)
    added = [miner(d, y, step)[0].numel() - semi[0].numel() for step in range(10)]
    t = hard[0].numel()
    assert added == [0, 0, 0] + [round(0.5 * t * min(1, (s - 3 + 1) / 4)) for s in range(3, 10)]
    assert added[-1] == round(0.5 * t) and added[3] < added[4] < added[5] < added[6]
    for bad in ({"hard_fraction": 1.5}, {"ramp_steps": -1}, {"warmup_steps": -2}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            make_miner("curriculum", generator=torch.Generator(), **bad)


def test_make_miner_rejects_unknown_names():
    with pytest.raises(ValueError, match="name"):
        make_miner("semihard")
    with pytest.raises(ValueError, match="generator"):
        make_miner("curriculum")


# --------------------------------------------------------------------------- training


def test_after_step_sees_every_step_and_leaves_training_unchanged(split):
    kw = dict(steps=6, p=5, k=4, log_every=5)
    probe = split.x_train[:16]
    seen = []
    m1, h1 = train_on_split(split, "semi-hard", 2, after_step=lambda step, model: seen.append((step, embed(model, probe))), **kw)
    m2, h2 = train_on_split(split, "semi-hard", 2, **kw)
    assert [s for s, _ in seen] == list(range(6)) and h1.loss == h2.loss
    assert torch.equal(seen[-1][1], embed(m2, probe))  # the model after the last step
    assert not torch.equal(seen[0][1], seen[-1][1])


def test_training_is_seeded_and_logs(split):
    kw = dict(steps=12, p=5, k=4, log_every=5)
    m1, h1 = train_on_split(split, "batch-hard", 3, **kw)
    m2, h2 = train_on_split(split, "batch-hard", 3, **kw)
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    assert h1.step == [0, 5, 10, 11] and h1.loss == h2.loss
    assert len(h1.active_all) == len(h1.collapse) == len(h1.n_triplets) == 4
    assert h1.n_triplets[0] == 20  # one batch-hard triplet per anchor of a 5 x 4 batch
    m3, _ = train_on_split(split, "batch-hard", 4, **kw)
    assert not torch.equal(m1.net[0].weight, m3.net[0].weight)
    r = retrieval(m1, split.x_test, split.y_test)
    assert set(r) == {1, 5} and 0 <= r[1] <= r[5] <= 1


def test_training_without_positive_pairs_never_moves(split):
    model, hist = train_on_split(split, "semi-hard", 0, steps=5, p=5, k=1, log_every=1)
    torch.manual_seed(0)
    fresh = EmbeddingNet(in_dim=split.x_train.shape[1])
    assert hist.n_triplets == [0] * 5 and hist.loss == [0.0] * 5
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


def test_training_with_memory_runs_and_fills_it(split):
    memory = CrossBatchMemory(16, 16)
    _, hist = train_on_split(split, "semi-hard", 0, steps=6, p=2, k=4, memory=memory, memory_start=2, log_every=1)
    assert len(memory) == 16 and len(hist.loss) == 6
    assert all(math.isfinite(v) for v in hist.loss)


# --------------------------------------------------------------------------- verification


@pytest.mark.parametrize("seed", range(4))
def test_roc_auc_matches_scikit_learn_with_ties(seed):
    g = torch.Generator().manual_seed(seed)
    d = torch.randint(0, 12, (300,), generator=g).double() / 4  # many ties
    genuine = torch.rand(300, generator=g) < 0.3 + 0.3 * (d < 1.5).double()
    far, tar, thr = roc_curve(d, genuine)
    assert far[0] == tar[0] == 0 and far[-1] == tar[-1] == 1
    assert torch.all(far[1:] >= far[:-1]) and torch.all(tar[1:] >= tar[:-1])
    assert thr.numel() == torch.unique(d).numel() + 1
    assert roc_auc(far, tar) == pytest.approx(roc_auc_score(genuine.numpy(), -d.numpy()), abs=1e-12)


@pytest.mark.parametrize("frr", [0.0, 0.01, 0.05, 0.3])
def test_far_at_frr_matches_its_definition(frr):
    g = torch.Generator().manual_seed(7)
    d = torch.rand(500, generator=g)
    genuine = torch.rand(500, generator=g) < 0.5 + 0.4 * (d < 0.4).double() - 0.4 * (d >= 0.4).double()
    far, t = far_at_frr(d, genuine, frr)
    gen, imp = d[genuine], d[~genuine]
    # t is a genuine distance, its FRR is within the target, and no smaller genuine distance is.
    assert t in gen.tolist()
    assert (gen > t).double().mean() <= frr + 1e-12
    smaller = gen[gen < t]
    if smaller.numel():
        assert (gen > smaller.max()).double().mean() > frr
    assert far == pytest.approx(float((imp <= t).double().mean()))


def test_verification_helpers_validate_and_report(split):
    with pytest.raises(ValueError):
        roc_curve(torch.rand(5), torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError):
        far_at_frr(torch.rand(5), torch.tensor([True, False, True, False, True]), 1.0)
    d, gen = pair_distances(split.x_test[:30], split.y_test[:30])
    assert d.shape == gen.shape == (30 * 29 // 2,)
    net = EmbeddingNet(in_dim=split.x_train.shape[1])
    rep = verification_report(net, split.x_test[:60], split.y_test[:60])
    assert 0 <= rep["auc"] <= 1 and 0 <= rep["far_at_frr"] <= 1


def test_mean_std():
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2)))
    assert mean_std([5.0]) == (5.0, 0.0)


# --------------------------------------------------------------------------- memory bank


def test_memory_is_a_fifo_ring():
    mem = CrossBatchMemory(5, 2)
    assert len(mem) == 0 and mem.embeddings.shape == (0, 2)
    oracle: list[int] = []
    for step, b in enumerate([2, 2, 3, 7, 1]):
        labels = torch.arange(b) + 10 * step
        mem.enqueue(labels[:, None].float().repeat(1, 2), labels)
        oracle = (oracle + labels.tolist())[-5:]
        assert sorted(mem.labels.tolist()) == sorted(oracle)
        assert torch.equal(mem.embeddings[:, 0].long(), mem.labels)
    assert mem.nbytes == 5 * 2 * 4 + 5 * 8
    with pytest.raises(ValueError):
        mem.enqueue(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))
    mem.reset()
    assert len(mem) == 0


@pytest.mark.parametrize("seed,quantise", [(s, q) for s in range(6) for q in (False, True)])
def test_memory_triplets_with_an_empty_memory_equal_the_references(seed, quantise):
    x, y = _batch(seed, quantise=quantise)
    d = S.pairwise_distances(x)
    empty = torch.empty(0, dtype=torch.long)
    refs = {
        "hardest": S.hardest_negatives(d, y),
        "semi-hard": S.semi_hard_negatives(d, y, 0.3),
        "batch-hard": S.batch_hard(d, y),
    }
    for strategy, ref in refs.items():
        got = memory_triplets(d, y, empty, strategy, 0.3)
        assert all(torch.equal(s, t) for s, t in zip(got, ref)), strategy


def _oracle(d, lab_b, lab_r, strategy, margin):
    b, r = len(d), len(d[0])
    out = []
    for a in range(b):
        pos = [j for j in range(r) if lab_r[j] == lab_b[a] and j != a]
        neg = [j for j in range(r) if lab_r[j] != lab_b[a]]
        if not pos or not neg:
            continue
        if strategy == "batch-hard":
            p = max(pos, key=lambda j: (d[a][j], -j))
            n = min(neg, key=lambda j: (d[a][j], j))
            out.append((a, p, n))
            continue
        for p in pos:
            if strategy == "hardest":
                out.append((a, p, min(neg, key=lambda j: (d[a][j], j))))
            else:
                window = [j for j in neg if d[a][p] < d[a][j] < d[a][p] + margin]
                if window:
                    out.append((a, p, min(window, key=lambda j: (d[a][j], j))))
    return out


@pytest.mark.parametrize("seed,quantise", [(s, q) for s in range(5) for q in (False, True)])
def test_memory_triplets_match_a_loop_oracle(seed, quantise):
    x, y = _batch(seed, b=10, classes=3, quantise=quantise)
    bank_x, bank_y = _batch(100 + seed, b=17, classes=4, quantise=quantise)
    mem = CrossBatchMemory(20, x.shape[1])
    mem.enqueue(bank_x, bank_y)
    d = block_distances(x, mem)
    assert d.shape == (10, 27)
    exact = (x.double()[:, None] - torch.cat([x, bank_x]).double()[None]).norm(dim=2)
    assert torch.allclose(d.double(), exact, atol=1e-6)
    cols = torch.cat([y, bank_y])
    for strategy in ("hardest", "semi-hard", "batch-hard"):
        got = memory_triplets(d, y, bank_y, strategy, 0.3)
        assert list(zip(*(t.tolist() for t in got))) == _oracle(d.tolist(), y.tolist(), cols.tolist(), strategy, 0.3)
    with pytest.raises(ValueError, match="strategy"):
        memory_triplets(d, y, bank_y, "random", 0.3)


def test_mine_with_memory_sends_gradients_to_the_batch_only():
    x, y = _batch(0, b=8, classes=2)
    bank_x, bank_y = _batch(1, b=12, classes=4)
    mem = CrossBatchMemory(12, x.shape[1])
    mem.enqueue(bank_x.clone().requires_grad_(True), bank_y)
    xb = x.clone().requires_grad_(True)
    dist, (a, p, n) = mine_with_memory(xb, y, mem, "hardest", 0.2)
    assert dist.shape == (20, 20) and bool((a < 8).all()) and bool((n >= 8).any())
    loss = S.triplet_margin_loss(dist, a, p, n, 0.2)
    loss.backward()
    assert xb.grad is not None and torch.isfinite(xb.grad).all()
    assert not mem.embeddings.requires_grad
