# %% [markdown]
# # Lesson 1 — Embeddings and distances
#
# Every miner in this course reads one object: the matrix of distances between the
# embeddings of a batch. Before choosing negatives we make sure that matrix is right:
#
# 1. what an embedding is and why we usually **normalise** it;
# 2. **Euclidean vs cosine**: when they rank neighbours the same way;
# 3. computing all **in-batch pairwise distances** in one shot;
# 4. two numerical traps: the square root that turns gradients into **NaN** at coincident
#    points, and the **Gram-matrix shortcut** that loses all precision for near-duplicates.
#
# Everything below is measured here, with fixed seeds, on scikit-learn's 8x8 digits.

# %%
%matplotlib inline
import json
import random
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import solutions as S
from solutions.experiments.prelude import start_lesson
from solutions.experiments.training import EmbeddingNet, embed, load_digit_split, mean_std, seed_everything

device = start_lesson()
SEEDS = [0, 1, 2, 3, 4]
print("device:", device)

# %% [markdown]
# ## 1. Embeddings and normalisation
#
# An **embedding network** maps an input (here 64 pixel values) to a short vector, here 16
# numbers, such that "similar" inputs land close together. Nothing forces those vectors to
# have a particular length, and length is a nuisance: a brighter or bigger image may produce a
# longer vector without being a different digit. Dividing every embedding by its length
# (**L2 normalisation**) puts all of them on the unit sphere, so only the *direction* counts.
#
# On the unit sphere two common distances become the same thing. For unit vectors `x`, `y`:
#
# $$\|x - y\|^2 = \|x\|^2 + \|y\|^2 - 2\,x\cdot y = 2 - 2\cos(x, y).$$
#
# The squared Euclidean distance is a decreasing function of the cosine similarity, so both
# rank neighbours identically, and every distance lies in `[0, 2]`. Without normalisation
# the two can disagree. Let us measure how often, with untrained networks (5 seeds).

# %%
split = load_digit_split(device=device)  # clean digits: classes 0-4 train, 5-9 held out
x_all = torch.cat([split.x_train, split.x_test])


def nearest(dist: torch.Tensor) -> torch.Tensor:
    """Index of each row's nearest other row."""
    return dist.fill_diagonal_(float("inf")).argmin(dim=1)


rows = []
for seed in SEEDS:
    seed_everything(seed)
    net = EmbeddingNet(normalize=False).to(device)
    z = embed(net, x_all)                             # [N, 16], raw lengths
    u = torch.nn.functional.normalize(z, dim=1)       # [N, 16], unit length
    cos_dist_raw = 1 - torch.nn.functional.normalize(z, dim=1) @ torch.nn.functional.normalize(z, dim=1).T
    eu_raw = S.pairwise_distances(z)
    eu_unit = S.pairwise_distances(u)
    cos_unit = u @ u.T
    rows.append(
        {
            "norm_cv": float(z.norm(dim=1).std() / z.norm(dim=1).mean()),
            "disagree_raw": float((nearest(eu_raw.clone()) != nearest(cos_dist_raw.clone())).double().mean()),
            "disagree_unit": float((nearest(eu_unit.clone()) != nearest(1 - cos_unit)).double().mean()),
            "identity_err": float((eu_unit.square() - (2 - 2 * cos_unit)).abs().max()),
        }
    )

summary_norm = {k: mean_std([r[k] for r in rows]) for k in rows[0]}
print(f"{'quantity (5 seeds)':<48} {'mean':>10} {'std':>10}")
for k, label in [
    ("norm_cv", "spread of embedding lengths (std / mean)"),
    ("disagree_raw", "nearest neighbour differs, raw embeddings"),
    ("disagree_unit", "nearest neighbour differs, unit embeddings"),
    ("identity_err", "max |d^2 - (2 - 2 cos)|, unit embeddings"),
]:
    m, s = summary_norm[k]
    print(f"{label:<48} {m:>10.4f} {s:>10.4f}")

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 3.2))
ax[0].hist(z.norm(dim=1).cpu(), bins=40, color="tab:blue")
ax[0].set(title="lengths of raw embeddings (seed 4)", xlabel="||z||", ylabel="count")
ax[1].hist(eu_unit[torch.triu_indices(len(u), len(u), 1).unbind()].cpu(), bins=60, color="tab:orange")
ax[1].set(title="pairwise distances after normalisation", xlabel="||x - y||  (always in [0, 2])")
plt.tight_layout()
plt.show()

# %% [markdown]
# Raw lengths vary by tens of percent, and for a sizeable fraction of queries the Euclidean
# and cosine nearest neighbours differ. After normalisation they never differ (up to float
# rounding of the identity above), so "Euclidean on unit vectors" and "cosine" are one
# choice, not two. The rest of the course uses unit-length embeddings and Euclidean
# distances; a margin of 0.2 therefore means "0.2 on a scale from 0 to 2".
#
# ## 2. All pairwise distances of a batch at once
#
# Miners need the full `B x B` matrix. Three ways to get it:
#
# | method | how | extra memory | exact? |
# |---|---|---|---|
# | broadcasting | `(x[:, None] - x[None]).norm(dim=2)` | `B x B x D` | yes |
# | Gram shortcut | `|x|^2 + |y|^2 - 2 x.y`, one matrix product | `B x B` | no (see section 4) |
# | `solutions.pairwise_distances` | Gram shortcut, then recompute the few suspicious pairs from differences | `B x B` | yes |
#
# Timings on this machine (median of 5 repeats, one thread). They depend on the hardware,
# so they are printed but not part of the lesson's key results.

# %%
def broadcast(x):
    return (x[:, None, :] - x[None, :, :]).norm(dim=2)


def gram(x):
    sq = (x * x).sum(dim=1)
    return (sq[:, None] + sq[None, :] - 2 * x @ x.T).clamp(min=0).sqrt()


def median_ms(fn, x, repeats=5):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(1000 * (time.perf_counter() - t))
    return float(np.median(times))


print(f"{'B':>6} {'D':>4} | {'broadcast ms':>12} {'gram ms':>9} {'solutions ms':>12} | {'B*B*D floats (MiB)':>18}")
for b in (256, 1024):
    xb = torch.nn.functional.normalize(torch.randn(b, 64, device=device), dim=1)
    print(
        f"{b:>6} {64:>4} | {median_ms(broadcast, xb):>12.2f} {median_ms(gram, xb):>9.2f} "
        f"{median_ms(S.pairwise_distances, xb):>12.2f} | {b * b * 64 * 4 / 2**20:>18.0f}"
    )

# %% [markdown]
# The broadcast version allocates a `B x B x D` tensor (256 MiB at B = 1024, D = 64) and is
# the slowest; the matrix product is the fast path every library uses. The reference adds a
# cheap check on top of it, which we justify next.
#
# ## 3. The square root and NaN gradients
#
# The derivative of `sqrt(s)` is `1 / (2 sqrt(s))`: infinite at `s = 0`. A distance matrix
# always has zeros on its diagonal, and two identical images give another zero. Autograd
# multiplies the upstream gradient by that infinity; even when the upstream gradient is 0
# (the loss never looks at the diagonal), `0 * inf` is **NaN**, and one NaN poisons every
# weight at the next optimiser step.
#
# We build a batch with one exact duplicate, take a loss that only uses *off-diagonal*
# distances between different images, and count the non-finite gradient entries for three
# ways of taking the square root (the squared distances are computed from differences here,
# so that this section is about the root alone; section 4 deals with the Gram shortcut).

# %%
def squared_from_differences(x):
    return (x[:, None, :] - x[None, :, :]).square().sum(dim=2)  # exact zeros, no Gram rounding


def naive(x):
    return squared_from_differences(x).sqrt()


def with_epsilon(x, eps=1e-12):
    return (squared_from_differences(x) + eps).sqrt()


nan_rows = []
for seed in SEEDS:
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.normalize(torch.randn(8, 16, generator=g), dim=1)
    batch = torch.cat([base, base[:1]]).to(device)  # row 8 duplicates row 0
    off_diag = ~torch.eye(9, dtype=torch.bool, device=device)
    off_diag[0, 8] = off_diag[8, 0] = False  # the loss ignores the duplicate pair, as a miner would
    for name, fn in [("naive sqrt", naive), ("sqrt(d^2 + 1e-12)", with_epsilon), ("solutions.pairwise_distances", S.pairwise_distances)]:
        x = batch.clone().requires_grad_(True)
        d = fn(x)
        d[off_diag].sum().backward()
        nan_rows.append(
            {"seed": seed, "method": name, "nonfinite": int((~torch.isfinite(x.grad)).sum()),
             "self": float(d.detach().diagonal().max()), "dup": float(d.detach()[0, 8])}
        )

print(f"{'method':<30} {'non-finite grads (of 144)':>26} {'max d(x, x)':>12} {'d(dup)':>10}")
for name in dict.fromkeys(r["method"] for r in nan_rows):
    sel = [r for r in nan_rows if r["method"] == name]
    nf = mean_std([r["nonfinite"] for r in sel])
    print(f"{name:<30} {nf[0]:>20.1f} ± {nf[1]:<3.1f} {max(r['self'] for r in sel):>12.2e} {max(r['dup'] for r in sel):>10.2e}")

# %% [markdown]
# The naive square root produces NaN gradients every time, although the loss never used a
# zero distance. Adding a tiny epsilon inside the root hides the problem but changes the
# distances: `d(x, x)` becomes `1e-6` instead of 0, and near zero the gradient is huge
# (`1 / (2 sqrt(eps))`). The reference masks instead: where the squared distance is exactly
# 0, the root's gradient is defined as 0, everywhere else it is the true derivative. The
# distances stay exact and the gradients stay finite.
#
# ## 4. The Gram shortcut and near-duplicates
#
# `|x|^2 + |y|^2 - 2 x.y` subtracts numbers of size `|x|^2` to obtain `|x - y|^2`. In float32
# each term carries a rounding error of about `1e-7 |x|^2`, so whenever `|x - y|^2` is
# smaller than that, the result is mostly rounding noise: **catastrophic cancellation**.
# Near-duplicates (two crops of the same photo, the same product shot twice) are exactly
# the pairs where this happens, and they are also the pairs a miner cares about most.
#
# The experiment: 128 random unit vectors (scaled by a norm `s`), each paired with a copy
# moved by a distance `delta` in a random direction. We compare three float32 methods with
# the exact distance computed in float64 from differences: the Gram shortcut, `torch.cdist`
# (which switches to the matrix-product path for more than 25 rows) and
# `solutions.pairwise_distances`. Five seeds; we report the median relative error over the
# 128 pairs, then mean ± std over seeds.

# %%
DELTAS = [1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5]
NORMS = [1.0, 10.0]
METHODS = {
    "gram": gram,
    "torch.cdist": lambda x: torch.cdist(x, x),
    "solutions": S.pairwise_distances,
}
errors = {}  # (method, norm, delta) -> list over seeds
for seed in SEEDS:
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(128, 16, generator=g, dtype=torch.float64), dim=1)
    direction = torch.nn.functional.normalize(torch.randn(128, 16, generator=g, dtype=torch.float64), dim=1)
    for s in NORMS:
        for delta in DELTAS:
            pts = torch.cat([s * x, s * x + delta * direction])   # rows i and 128 + i are the pair
            true = (pts[:128] - pts[128:]).norm(dim=1)            # float64, from differences
            pts32 = pts.float().to(device)
            true32 = (pts32[:128].double() - pts32[128:].double()).norm(dim=1).cpu()  # exact for the rounded inputs
            for name, fn in METHODS.items():
                d = fn(pts32).cpu().double()
                got = d[torch.arange(128), torch.arange(128) + 128]
                rel = ((got - true32).abs() / true32).median()
                errors.setdefault((name, s, delta), []).append(float(rel))

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
for ax, s in zip(axes, NORMS):
    for name, style in zip(METHODS, ["o-", "s--", "^-"]):
        stats = [mean_std(errors[(name, s, dl)]) for dl in DELTAS]
        ax.errorbar(DELTAS, [max(m, 1e-9) for m, _ in stats], yerr=[sd for _, sd in stats], fmt=style, label=name, capsize=3)
    ax.set(xscale="log", yscale="log", xlabel="true distance delta", title=f"embedding norm s = {s:g}")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.invert_xaxis()
axes[0].set_ylabel("median relative error (float32)")
axes[0].legend()
plt.tight_layout()
plt.show()

print(f"{'norm':>5} {'delta':>8} | " + " | ".join(f"{n:>20}" for n in METHODS))
for s in NORMS:
    for delta in [1e-2, 1e-3, 1e-4, 1e-5]:
        cells = [mean_std(errors[(n, s, delta)]) for n in METHODS]
        print(f"{s:>5g} {delta:>8.0e} | " + " | ".join(f"{m:>11.2e} ± {sd:<7.1e}" for m, sd in cells))

# %% [markdown]
# Reading the plot from left (far apart) to right (near-duplicates): for unit vectors the Gram
# shortcut and `torch.cdist` are accurate to better than 0.1 % down to distances of `1e-2`,
# off by a few percent at `1e-3`, and at `1e-4` (table) their error is 100 %; the plot puts the
# edge near `3e-4` (a relative error of 1 means the computed distance is 0 or pure noise).
# With longer embeddings
# (`s = 10`) the same happens ten times earlier, because the rounding error scales with
# `|x|^2`. The reference stays at float32 rounding level all the way down:
# it detects pairs whose Gram value is tiny compared with `|x|^2 + |y|^2` and recomputes those
# from explicit differences, which costs almost nothing because few pairs qualify.
#
# Consequences for mining: a hardest-negative miner looks for the *smallest* distances, so
# it lands precisely on the pairs where the shortcut is least reliable. Normalising helps
# (it keeps `s = 1`), but does not remove the problem for genuine near-duplicates.

# %%
key = {
    "disagree_raw": round(summary_norm["disagree_raw"][0], 3),
    "disagree_unit": round(summary_norm["disagree_unit"][0], 3),
    "nonfinite_naive": mean_std([r["nonfinite"] for r in nan_rows if r["method"] == "naive sqrt"])[0],
    "nonfinite_reference": mean_std([r["nonfinite"] for r in nan_rows if r["method"].startswith("solutions")])[0],
    "relerr_gram_s1_1e-4": round(mean_std(errors[("gram", 1.0, 1e-4)])[0], 3),
    "relerr_cdist_s1_1e-4": round(mean_std(errors[("torch.cdist", 1.0, 1e-4)])[0], 3),
    "relerr_reference_s1_1e-4": float(f"{mean_std(errors[('solutions', 1.0, 1e-4)])[0]:.1e}"),
    "relerr_gram_s10_1e-3": round(mean_std(errors[("gram", 10.0, 1e-3)])[0], 3),
}
print("KEY-RESULTS " + json.dumps(key, sort_keys=True))

# %% [markdown]
# ## Check yourself
#
# 1. Two unit vectors have cosine similarity 0.98. What is their Euclidean distance?
#    *(√(2 − 2·0.98) = 0.2 — exactly one default margin.)*
# 2. Your triplet loss never uses the diagonal of the distance matrix, yet the first
#    backward pass returns NaN. Why? *(The naive square root has an infinite derivative at the
#    zero diagonal; `0 · inf = NaN`. Mask the root, don't add an epsilon.)*
# 3. Why is the Gram shortcut worst exactly where hard-negative mining looks?
#    *(It cancels catastrophically for the smallest distances relative to `|x|^2`; hardest
#    negatives are the smallest distances.)*
# 4. Does normalising the embeddings remove the cancellation problem?
#    *(It removes the growth with the norm, not the problem: near-duplicates at
#    `delta ≈ 1e-4` are still wrong by ~100 % with the shortcut.)*
