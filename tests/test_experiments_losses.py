"""The lessons' generated product data (solutions.experiments.products) and the loss-by-name
training loop (solutions.experiments.loss_training)."""

from __future__ import annotations

import pytest
import torch

import solutions as S
from solutions.experiments.loss_training import LOSSES, make_loss, retrieval_scores, train_with_loss, two_views
from solutions.experiments.products import category_batches, product_split

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data():
    return product_split(n_categories=6, items=(4, 2, 2), images_per_item=4, seed=3)


def test_product_split_shapes_labels_and_disjoint_items(data):
    assert data.x_train.shape == (6 * 4 * 4, 64) and data.x_val.shape == (6 * 2 * 4, 64) and data.x_test.shape == (48, 64)
    assert data.n_train_items == 24 and sorted(data.item_train.unique().tolist()) == list(range(24))
    assert not set(data.item_val.tolist()) & set(data.item_test.tolist())
    for items, cats in ((data.item_train, data.cat_train), (data.item_val, data.cat_val), (data.item_test, data.cat_test)):
        assert sorted(cats.unique().tolist()) == list(range(6))
        for item in items.unique():  # one category per item, images_per_item images each
            assert cats[items == item].unique().numel() == 1 and int((items == item).sum()) == 4
    again = product_split(n_categories=6, items=(4, 2, 2), images_per_item=4, seed=3)
    assert torch.equal(again.x_test, data.x_test) and not torch.equal(product_split(n_categories=6, items=(4, 2, 2), images_per_item=4, seed=4).x_test, data.x_test)


def test_items_of_a_category_are_closer_than_other_categories_in_the_signal(data):
    sig = torch.nn.functional.normalize(data.x_test[:, :16], dim=1)
    cos = sig @ sig.T
    same_cat = data.cat_test[:, None] == data.cat_test[None, :]
    same_item = data.item_test[:, None] == data.item_test[None, :]
    assert cos[same_item].mean() > cos[same_cat & ~same_item].mean() > cos[~same_cat].mean()


@pytest.mark.parametrize("bad", [{"n_categories": 1}, {"items": (4, 2)}, {"images_per_item": 1}, {"noise": -1.0}])
def test_product_split_rejects_bad_arguments(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        product_split(**bad)


def test_category_batches_draw_lookalikes_item_by_item(data):
    stream = category_batches(data.item_train, data.cat_train, 2, 3, 2, torch.Generator().manual_seed(0))
    for _ in range(20):
        idx = next(stream)
        items, cats = data.item_train[idx], data.cat_train[idx]
        assert idx.numel() == 12 and cats.unique().numel() == 2 and items.unique().numel() == 6
        assert torch.equal(items[0::2], items[1::2])  # k = 2 images per item, consecutive
        for c in cats.unique():
            assert items[cats == c].unique().numel() == 3
    with pytest.raises(ValueError, match="n_categories"):
        next(category_batches(data.item_train, data.cat_train, 7, 3, 2, torch.Generator()))
    with pytest.raises(ValueError, match="categories"):
        next(category_batches(data.item_train, torch.arange(data.item_train.numel()) % 6, 2, 3, 2, torch.Generator()))


def test_two_views_and_hcl_at_beta_zero_is_ntxent(data):
    idx = next(S.pk_batches(data.item_train, 8, 2, generator=torch.Generator().manual_seed(1)))
    z, y = data.x_train[idx].double(), data.item_train[idx]
    z1, z2 = two_views(z, y)
    assert torch.equal(z1, z[0::2])
    hcl, _ = make_loss("hcl", temperature=0.3, beta=0.0, tau_plus=0.0)
    ntx, _ = make_loss("ntxent", temperature=0.3)
    torch.testing.assert_close(hcl(z, y), ntx(z, y))
    with pytest.raises(ValueError, match="labels"):
        two_views(z[:-1], y[:-1])


@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_trains_deterministically_and_beats_raw_features(loss, data):
    model, _ = train_with_loss(data.x_train, data.item_train, loss, seed=0, steps=200, p=8, k=2, lr=3e-3, proxy_lr=0.1)
    again, _ = train_with_loss(data.x_train, data.item_train, loss, seed=0, steps=200, p=8, k=2, lr=3e-3, proxy_lr=0.1)
    for a, b in zip(model.parameters(), again.parameters()):
        assert torch.equal(a, b)
    trained = retrieval_scores(model, data.x_test, data.item_test)
    raw = retrieval_scores(torch.nn.Identity(), data.x_test, data.item_test)
    assert set(trained) == {"r1", "r5", "map_r"} and trained["map_r"] > raw["map_r"]


def test_proxies_are_learned_with_their_own_rate(data):
    fn, params = make_loss("proxy-anchor", n_classes=24)
    assert len(params) == 1 and params[0].shape == (24, 16) and params[0].requires_grad
    idx = next(S.pk_batches(data.item_train, 8, 2, generator=torch.Generator().manual_seed(1)))
    fn(torch.randn(16, 16), data.item_train[idx]).backward()
    assert params[0].grad is not None and params[0].grad.abs().sum() > 0


def test_bad_loss_names_and_settings_are_refused(data):
    with pytest.raises(ValueError, match="loss"):
        train_with_loss(data.x_train, data.item_train, "arcface", steps=1)
    with pytest.raises(ValueError, match="name"):
        make_loss("arcface")
    with pytest.raises(ValueError, match="hp"):
        make_loss("ntxent", temprature=0.1)
    with pytest.raises(ValueError, match="n_classes"):
        make_loss("proxy-nca")


# ----------------------------------------------------------------------------- ANCE-style refresh
from solutions.experiments.refresh import list_overlap, train_with_refreshed_index  # noqa: E402


def test_list_overlap_counts_shared_ids_per_row_and_ignores_padding():
    old = torch.tensor([[1, 2, 3, -1], [4, 5, 6, 7]])
    new = torch.tensor([[3, 2, 9, 8], [0, 0, 0, 0]])
    assert list_overlap(old, new) == pytest.approx(2 / 7)
    assert list_overlap(new, new) == 1.0


def test_refreshed_training_records_staleness_at_each_refresh_and_is_deterministic(data):
    model, hist = train_with_refreshed_index(data.x_train, data.item_train, refresh_every=20, seed=0, steps=61, p=8, top=4)
    again, hist2 = train_with_refreshed_index(data.x_train, data.item_train, refresh_every=20, seed=0, steps=61, p=8, top=4)
    assert hist.step == [20, 40, 60] and hist.drift == hist2.drift and hist.overlap == hist2.overlap
    assert all(d > 0 for d in hist.drift) and all(0 <= o <= 1 for o in hist.overlap)
    for a, b in zip(model.parameters(), again.parameters()):
        assert torch.equal(a, b)
    _, every = train_with_refreshed_index(data.x_train, data.item_train, refresh_every=1, seed=0, steps=3, p=8, top=4)
    assert every.step == [1, 2]
    with pytest.raises(ValueError, match="refresh_every"):
        train_with_refreshed_index(data.x_train, data.item_train, refresh_every=0)


def test_choose_takes_the_best_mean_and_breaks_near_ties_by_order():
    from solutions.experiments.prelude import choose

    assert choose({"a": [0.5, 0.7], "b": [0.8, 0.8]}) == "b"
    assert choose({"default": [0.795, 0.795], "other": [0.8, 0.8]}) == "default"  # within 0.01: the first listed
    assert choose({"default": [0.795, 0.795], "other": [0.8, 0.8]}, tie=0.0) == "other"
    with pytest.raises(ValueError, match="scores"):
        choose({})
    with pytest.raises(ValueError, match="tie"):
        choose({"a": [1.0]}, tie=-1)
