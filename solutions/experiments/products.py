"""Generated "product lookalikes": images with two-level labels, a category and an item.

The seed lesson's worked example: in product retrieval, a negative from the same category
(two black sneakers) teaches more than one from another category (sneaker vs toaster). This
module makes such data with no download, like lesson 07's generated scenes:

* each **category** has a random centre (the category-level shape, easy to tell apart);
* each **item** adds a smaller random offset to its category's centre (the item-level
  detail that separates lookalikes);
* each **image** of an item adds per-image noise to the ``signal_dim`` signal columns and
  appends ``nuisance_dim`` columns of label-free noise (background, lighting) that a
  network must learn to ignore.

Items, not images, are split into train / validation / test: every category has items on
each side, so retrieval on the held-out items is full of same-category lookalikes.
``category_batches`` draws batches whose items come from a few categories, so that most
in-batch negatives are lookalikes; :func:`solutions.pk_batches` over the item labels draws
items from any category.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from .. import _checks
from ..batches import pk_batches


@dataclass(frozen=True)
class ProductSplit:
    """Features ``x_* [N, signal_dim + nuisance_dim]`` (float32), item labels ``item_*`` and
    category labels ``cat_* [N]`` (int64) of the train / val / test items. Training item
    labels are ``0 .. n_train_items - 1`` (one class per item, e.g. one proxy each); held-out
    item labels are global item ids, so they never collide with each other."""

    x_train: Tensor
    item_train: Tensor
    cat_train: Tensor
    x_val: Tensor
    item_val: Tensor
    cat_val: Tensor
    x_test: Tensor
    item_test: Tensor
    cat_test: Tensor
    n_categories: int

    @property
    def n_train_items(self) -> int:
        return int(self.item_train.max()) + 1


def product_split(
    n_categories: int = 24,
    items: tuple[int, int, int] = (6, 3, 3),
    images_per_item: int = 8,
    signal_dim: int = 16,
    nuisance_dim: int = 48,
    item_scale: float = 0.45,
    noise: float = 0.3,
    nuisance_std: float = 0.6,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> ProductSplit:
    """Generate the data set with ``seed``: ``n_categories`` categories with ``items =
    (train, val, test)`` items each and ``images_per_item`` images per item.

    Category centres are random unit vectors in ``signal_dim`` dimensions; an item's centre is
    its category's centre plus a Gaussian offset of norm about ``item_scale``; an image adds
    Gaussian noise of norm about ``noise`` and ``nuisance_dim`` columns of std ``nuisance_std``.
    """
    n_categories = _checks.integer("n_categories", n_categories, 2)
    if not isinstance(items, tuple) or len(items) != 3:
        raise ValueError(f"items must be a (train, val, test) tuple of item counts, got {items!r}")
    n_tr, n_va, n_te = (_checks.integer("items", v, 1) for v in items)
    per = _checks.integer("images_per_item", images_per_item, 2)
    sd = _checks.integer("signal_dim", signal_dim, 1)
    nd = _checks.integer("nuisance_dim", nuisance_dim, 0)
    for name, v in (("item_scale", item_scale), ("noise", noise), ("nuisance_std", nuisance_std)):
        if _checks.real_number(name, v) < 0:
            raise ValueError(f"{name} must be >= 0, got {v}")
    g = torch.Generator().manual_seed(seed)
    per_cat = n_tr + n_va + n_te
    n_items = n_categories * per_cat
    centres = torch.nn.functional.normalize(torch.randn(n_categories, sd, generator=g), dim=1)
    item_cat = torch.arange(n_items) // per_cat
    item_centre = centres[item_cat] + (item_scale / math.sqrt(sd)) * torch.randn(n_items, sd, generator=g)
    img_item = torch.arange(n_items).repeat_interleave(per)
    signal = item_centre[img_item] + (noise / math.sqrt(sd)) * torch.randn(img_item.numel(), sd, generator=g)
    x = torch.cat([signal, nuisance_std * torch.randn(img_item.numel(), nd, generator=g)], dim=1)
    slot = img_item % per_cat  # the item's position inside its category: 0..per_cat-1
    cat = item_cat[img_item]
    train, val = slot < n_tr, (slot >= n_tr) & (slot < n_tr + n_va)
    test = slot >= n_tr + n_va
    # Training items relabelled 0..n_train-1 (category-major order).
    train_item = cat[train] * n_tr + slot[train]
    x = x - x[train].mean(dim=0)
    to = lambda t: t.to(device)  # noqa: E731
    return ProductSplit(to(x[train]), to(train_item), to(cat[train]), to(x[val]), to(img_item[val]), to(cat[val]),
                        to(x[test]), to(img_item[test]), to(cat[test]), n_categories)


def category_batches(
    items: Tensor, categories: Tensor, n_categories: int, items_per_category: int, k: int, generator: torch.Generator
) -> Iterator[Tensor]:
    """Endless batches of ``n_categories`` random categories x ``items_per_category`` random items
    of each x ``k`` images per item (CPU int64 indices, item by item as in
    :func:`solutions.pk_batches`): every anchor's in-batch negatives are mostly lookalikes.

    ``items`` and ``categories`` are ``[N]`` labels of the same images; each item must belong
    to one category. Categories with fewer than ``items_per_category`` items are never drawn.
    """
    it = _checks.labels(items, name="items").cpu()
    ca = _checks.labels(categories, it.numel(), name="categories").cpu()
    nc = _checks.integer("n_categories", n_categories, 1)
    ipc = _checks.integer("items_per_category", items_per_category, 1)
    k = _checks.integer("k", k, 1)
    uniq_items, first = torch.unique(it, return_inverse=True)
    item_cat = torch.full((uniq_items.numel(),), -1, dtype=torch.int64).scatter_(0, first, ca)
    if not bool((item_cat[first] == ca).all()):
        raise ValueError("categories must give every item a single category")
    cats, counts = torch.unique(item_cat, return_counts=True)
    usable = cats[counts >= ipc]
    if usable.numel() < nc:
        raise ValueError(f"n_categories must be <= the {usable.numel()} categories with >= {ipc} items, got {nc}")
    while True:
        chosen_cats = usable[torch.randperm(usable.numel(), generator=generator)[:nc]]
        # items_per_category random items of each chosen category: smallest random keys per category.
        in_cat = item_cat[None, :] == chosen_cats[:, None]  # [nc, n_items]
        keys = torch.rand(in_cat.shape, generator=generator, dtype=torch.float64).masked_fill(~in_cat, math.inf)
        chosen_items = uniq_items[keys.argsort(dim=1)[:, :ipc].reshape(-1)]
        mask = torch.isin(it, chosen_items)
        where = mask.nonzero().squeeze(1)
        yield where[next(pk_batches(it[mask], chosen_items.numel(), k, generator=generator))]
