# %% [markdown]
# # Lesson 2 — Mining strategies side by side
#
# A triplet `(anchor, positive, negative)` contributes `max(0, d(a,p) - d(a,n) + margin)` to
# the triplet loss. Most negatives are far away: their triplets contribute exactly zero and
# teach nothing. **Mining** decides which negative goes with each anchor-positive pair. Here
# we freeze one batch of embeddings and look at what five strategies pick from it:
#
# | strategy | rule (for each positive pair `(a, p)` unless said otherwise) | reference |
# |---|---|---|
# | random | any negative, uniformly | `solutions.random_negatives` |
# | semi-hard (FaceNet-style) | the closest negative *farther than the positive but inside the margin*: `d_ap < d_an < d_ap + margin` | `solutions.semi_hard_negatives` |
# | hardest | the closest negative of the anchor, whatever `d_ap` is | `solutions.hardest_negatives` |
# | batch-hard | one triplet per anchor: its farthest positive and its closest negative | `solutions.batch_hard` |
# | distance-weighted | a negative drawn with probability `∝ 1 / q(max(d, 0.5))`, `q` the density of distances between points spread uniformly on the sphere; 0 for `d >= 1.4` | `solutions.distance_weighted_negatives` |
#
# We measure where each one actually picks (distance-weighted sampling turns out to behave
# very differently from its name in a trained embedding), then compare three things that are
# all called "semi-hard" in popular libraries.

# %%
%matplotlib inline
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch

import solutions as S
from solutions.experiments.prelude import compare, print_key_results, start_lesson
from solutions.experiments.training import all_triplets, embed, load_digit_split, mean_std, train_on_split

device = start_lesson()
SEEDS = [0, 1, 2, 3, 4]
MARGIN, DIM, P, K = 0.2, 16, 5, 8

# %% [markdown]
# ## A realistic batch
#
# A freshly initialised network gives meaningless distances and a fully trained one gives
# mostly easy negatives. We take the middle: the lesson-3 network (a 2-layer MLP, 16-d unit
# embeddings) after 100 training steps with random negatives, on the digits of classes 0–4
# with 64 label-free nuisance features (lesson 3 explains why). One PK batch: `P = 5`
# classes x `K = 8` images. Each seed gives a different network and batch.

# %%
split = load_digit_split(nuisance_dims=64, device=device)


def frozen_batch(seed, dim=DIM):
    model, _ = train_on_split(split, "random", seed, steps=100, p=P, k=K, dim=dim, log_every=100)
    idx = next(S.pk_batches(split.y_train.cpu(), P, K, generator=torch.Generator().manual_seed(1000 + seed))).to(device)
    x = embed(model, split.x_train[idx])
    return x, split.y_train[idx]


def mine_all(x, y, seed):
    d = S.pairwise_distances(x)
    g = torch.Generator(device=device).manual_seed(seed)
    return d, {
        "random": S.random_negatives(d, y, generator=g),
        "semi-hard": S.semi_hard_negatives(d, y, MARGIN),
        "hardest": S.hardest_negatives(d, y),
        "batch-hard": S.batch_hard(d, y),
        "distance-weighted": S.distance_weighted_negatives(d, y, DIM, generator=g),
    }


x0, y0 = frozen_batch(0)
d0, picks0 = mine_all(x0, y0, 0)
print(f"batch: {len(y0)} embeddings, classes {sorted(y0.unique().tolist())}, "
      f"{int((y0[:, None] == y0[None]).sum() - len(y0))} positive pairs")

# %% [markdown]
# ## Where each strategy picks
#
# Each row below is one anchor. Grey dots: its distances to the 32 negatives; green crosses:
# to its 7 positives. For the anchor's *farthest* positive (black bar) the shaded band is the
# semi-hard window `(d_ap, d_ap + margin)`, and the coloured markers show the negative each
# strategy chose for that same pair (batch-hard always uses this farthest positive).

# %%
COLORS = {"random": "tab:grey", "semi-hard": "tab:green", "hardest": "tab:red",
          "batch-hard": "tab:purple", "distance-weighted": "tab:blue"}
MARKERS = {"random": "o", "semi-hard": "s", "hardest": "v", "batch-hard": "D", "distance-weighted": "^"}
anchors_shown = [0, 8, 16, 24, 32, 39]
same = y0[:, None] == y0[None, :]
fig, ax = plt.subplots(figsize=(10, 4.2))
for row, a in enumerate(anchors_shown):
    negs = d0[a][~same[a]].cpu()
    poss = d0[a][same[a] & (torch.arange(len(y0), device=device) != a)].cpu()
    ax.scatter(negs, np.full(len(negs), row), color="lightgrey", s=18, zorder=1)
    ax.scatter(poss, np.full(len(poss), row), color="tab:green", marker="x", s=22, zorder=2)
    p_far = int(torch.where(same[a] & (torch.arange(len(y0), device=device) != a), d0[a], -1.0).argmax())
    d_ap = float(d0[a, p_far])
    ax.axvspan(d_ap, d_ap + MARGIN, ymin=(row + 0.1) / len(anchors_shown), ymax=(row + 0.9) / len(anchors_shown),
               color="tab:green", alpha=0.12)
    ax.plot([d_ap, d_ap], [row - 0.35, row + 0.35], color="black", lw=2)
    for k, (name, (aa, pp, nn)) in enumerate(picks0.items()):
        hit = (aa == a) & (pp == p_far)
        if hit.any():
            n = int(nn[hit][0])
            ax.scatter(float(d0[a, n]), row + 0.18 - 0.09 * k, marker=MARKERS[name], color=COLORS[name], s=40,
                       label=name if row == 0 else None, zorder=3)
ax.set_ylim(-0.5, len(anchors_shown) - 0.5)
ax.set_yticks(range(len(anchors_shown)), [f"anchor {a} (digit {int(y0[a])})" for a in anchors_shown])
ax.set_xlabel("distance from the anchor")
ax.legend(loc="upper right", fontsize=8, ncol=5, bbox_to_anchor=(1.0, 1.13))
plt.tight_layout()
plt.show()

# %% [markdown]
# Random picks land anywhere, mostly among the easy, far negatives. Hardest and batch-hard
# take the leftmost grey dot, which is often *closer than the positive* (a violated
# triplet, large loss). Semi-hard takes the first grey dot inside the green band, and skips
# the pair when the band is empty (no marker). Distance-weighted sampling is random, yet in
# these rows it lands on or next to the hardest negative: the section after the table
# measures how often, and why.
#
# ## How many triplets, how many useful ones — over 5 batches

# %%
def describe(d, triplets):
    a, p, n = triplets
    if a.numel() == 0:
        return {"triplets": 0, "active": float("nan"), "loss": 0.0, "d_an": float("nan"), "gap": float("nan")}
    return {
        "triplets": a.numel(),
        "active": S.active_triplet_fraction(d, a, p, n, MARGIN),
        "loss": float(S.triplet_margin_loss(d, a, p, n, MARGIN)),
        "d_an": float(d[a, n].mean()),
        "gap": float((d[a, n] - d[a, p]).mean()),
    }


per_seed = {}
batches = {}
for seed in SEEDS:
    x, y = (x0, y0) if seed == 0 else frozen_batch(seed)
    batches[seed] = (x, y)
    d, picks = mine_all(x, y, seed)
    for name, t in picks.items():
        per_seed.setdefault(name, []).append(describe(d, t))
    per_seed.setdefault("all triplets", []).append(describe(d, all_triplets(y)))

print(f"{'strategy':<18} {'triplets':>14} {'non-zero loss':>16} {'mean loss':>16} {'mean d(a,n)':>14} {'d_an - d_ap':>16}")
table2 = {}
for name, rows in per_seed.items():
    stats = {k: mean_std([r[k] for r in rows]) for k in rows[0]}
    table2[name] = stats
    print(f"{name:<18} {stats['triplets'][0]:>8.0f} ± {stats['triplets'][1]:<4.0f} {stats['active'][0]:>9.3f} ± {stats['active'][1]:<5.3f}"
          f" {stats['loss'][0]:>9.3f} ± {stats['loss'][1]:<5.3f} {stats['d_an'][0]:>7.3f} ± {stats['d_an'][1]:<5.3f}"
          f" {stats['gap'][0]:>8.3f} ± {stats['gap'][1]:<5.3f}")

# %% [markdown]
# The last row is the whole batch: every valid `(a, p, n)` (40 x 7 x 32 = 8960 triplets).
# Only a minority of them has a non-zero loss; that fraction is the room a miner has.
#
# * **random** reproduces that minority: most of its triplets are wasted;
# * **semi-hard** keeps only pairs whose window holds a negative, so it returns fewer
#   triplets, and all of them are active by construction (`0 < d_an - d_ap < margin`),
#   with a small loss each (`< margin`);
# * **hardest** and **batch-hard** take the same, closest negative of each anchor. Hardest pairs
#   it with every positive; batch-hard only with the farthest positive, one triplet per anchor,
#   which makes batch-hard's triplets the most violated (on average `d_an < d_ap`) and its
#   loss the largest;
# * **distance-weighted** picks negatives almost as close as the hardest ones, far closer than
#   random (paired verdicts below, over the 5 seeds).
#
# Larger losses are not automatically better: lesson 3 measures what each does to training,
# lesson 5 what goes wrong with the hardest negatives.

# %%
col = lambda name, k: [r[k] for r in per_seed[name]]  # noqa: E731  per-seed values, seeds paired
verdicts = {
    "batch-hard_vs_hardest_loss": compare(col("batch-hard", "loss"), col("hardest", "loss"), ("batch-hard", "hardest"),
                                          word="larger loss"),
    "dw_vs_random_d_an": compare(col("distance-weighted", "d_an"), col("random", "d_an"),
                                 ("distance-weighted", "random"), higher_is_better=False, word="closer"),
    "dw_vs_hardest_d_an": compare(col("distance-weighted", "d_an"), col("hardest", "d_an"),
                                  ("distance-weighted", "hardest"), higher_is_better=False, word="closer"),
}

# %% [markdown]
# ## What distance-weighted sampling does in a trained embedding
#
# Wu et al. (2017) observe that for points spread uniformly on the unit sphere in `R^dim`,
# pairwise distances have the density `q(d) ∝ d^(dim-2) (1 - d²/4)^((dim-3)/2)`: in high
# dimension almost every distance is close to `√2`. Sampling a negative with weight `1/q(d)`
# cancels that concentration, so *if the distances follow `q`*, the picks spread evenly over
# the distances that occur. The reference clamps `d` at `cutoff = 0.5` (every negative closer
# than 0.5 gets the same weight as one at 0.5) and gives weight 0 at `d >= 1.4`.
#
# A trained embedding is not uniform: its negatives sit at distances that are rare under `q`,
# and `1/q` grows very fast towards small distances. Relative to a negative at `d <= 0.5`, the
# weights are:

# %%
def relative_weight(d, dim, cutoff=0.5):
    log_q = lambda x: (dim - 2) * np.log(x) + (dim - 3) / 2 * np.log1p(-x * x / 4)  # noqa: E731
    return np.exp(log_q(cutoff) - log_q(np.maximum(d, cutoff)))


HIGH_DIM = 128
print(f"{'d(a,n)':>8} " + " ".join(f"{d:>9.1f}" for d in (0.5, 0.6, 0.7, 0.8, 1.0, 1.3)))
for dim in (DIM, HIGH_DIM):
    print(f"{dim:>5}-d  " + " ".join(f"{relative_weight(d, dim):>9.2g}" for d in (0.5, 0.6, 0.7, 0.8, 1.0, 1.3)))

# %% [markdown]
# In 16-d a negative at 0.7 gets 1.4 % of the weight of one at 0.5 and a negative at 1.0
# 0.03 %; in 128-d the fall is so steep that only the closest few negatives count at all. So
# in a trained embedding distance-weighted sampling is *a random negative among the nearest
# few*, not a spread over all distances. We measure it per seed: the fraction of its picks
# that are the anchor's hardest (closest) negative, and the mean rank of the pick among the
# anchor's 32 negatives (0 = the closest), on the same frozen batches, on the same batches of
# a network trained the same way with `dim = 128`, and on points drawn uniformly on the
# 16-d sphere (where Wu et al.'s argument holds).

# %%
def pick_stats(d, y, triplets):
    a, p, n = triplets
    neg = y[:, None] != y[None, :]
    nearest = torch.where(neg, d, float("inf")).min(dim=1).values
    rank = ((d[a] < d[a, n][:, None]) & neg[a]).sum(dim=1).double()
    return {"hardest": float((d[a, n] == nearest[a]).double().mean()), "rank": float(rank.mean()),
            "d_an": d[a, n].cpu()}


dw_stats = {"trained 16-d": [], f"trained {HIGH_DIM}-d": [], "uniform 16-d": []}
for seed in SEEDS:
    x, y = batches[seed]
    g = torch.Generator(device=device).manual_seed(seed)
    d = S.pairwise_distances(x)
    dw_stats["trained 16-d"].append(pick_stats(d, y, S.distance_weighted_negatives(d, y, DIM, generator=g)))
    xh, yh = frozen_batch(seed, dim=HIGH_DIM)
    dh = S.pairwise_distances(xh)
    dw_stats[f"trained {HIGH_DIM}-d"].append(pick_stats(dh, yh, S.distance_weighted_negatives(dh, yh, HIGH_DIM, generator=g)))
    u = torch.nn.functional.normalize(torch.randn(len(y), DIM, generator=g, device=device), dim=1)
    du = S.pairwise_distances(u)
    dw_stats["uniform 16-d"].append(pick_stats(du, y, S.distance_weighted_negatives(du, y, DIM, generator=g)))

print(f"{'embedding':<16} {'picks = hardest':>17} {'mean rank of pick (of 32)':>27}")
for name, rows in dw_stats.items():
    h, r = mean_std([s["hardest"] for s in rows]), mean_std([s["rank"] for s in rows])
    print(f"{name:<16} {h[0]:>9.3f} ± {h[1]:.3f} {r[0]:>17.2f} ± {r[1]:.2f}")
hardest_share = lambda name: [s["hardest"] for s in dw_stats[name]]  # noqa: E731
verdicts["dw_hardest_share_128_vs_16"] = compare(hardest_share(f"trained {HIGH_DIM}-d"), hardest_share("trained 16-d"),
                                                 (f"{HIGH_DIM}-d", "16-d"), word="higher")
verdicts["dw_hardest_share_trained_vs_uniform"] = compare(hardest_share("trained 16-d"), hardest_share("uniform 16-d"),
                                                          ("trained 16-d", "uniform 16-d"), word="higher")
pick_rank = lambda name: [s["rank"] for s in dw_stats[name]]  # noqa: E731
verdicts["dw_pick_rank_trained_vs_uniform"] = compare(pick_rank("trained 16-d"), pick_rank("uniform 16-d"),
                                                      ("trained 16-d", "uniform 16-d"), higher_is_better=False,
                                                      word="closer (lower rank)")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True)
bins = np.linspace(0.0, 1.6, 33)
for ax, name, (x, y) in [(axes[0], "uniform 16-d", (u, y)), (axes[1], "trained 16-d", batches[SEEDS[-1]])]:
    d = S.pairwise_distances(x)
    negs = d[y[:, None] != y[None, :]].cpu()
    ax.hist(negs, bins=bins, density=True, color="lightgrey", label="all negatives")
    ax.hist(dw_stats[name][-1]["d_an"], bins=bins, density=True, histtype="step", lw=2, color=COLORS["distance-weighted"],
            label="distance-weighted picks")
    ax.axvline(0.5, color="black", ls=":", lw=1)
    ax.axvline(1.4, color="black", ls="--", lw=1)
    ax.set(title=f"{name} (seed {SEEDS[-1]})", xlabel="d(a, n)   (dotted: cutoff 0.5, dashed: 1.4)")
axes[0].set_ylabel("density")
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# What the table and the plot show:
#
# * On **uniform** points (left), where distances follow `q`, the picks cover the whole range
#   of negatives below 1.4 roughly evenly, although most negatives lie near 1.4 and beyond:
#   this is the regime Wu et al. describe.
# * On the **trained** 16-d batches (right) the picks pile up at the low end of the negatives,
#   just above the cutoff, with a thin tail: almost half of them *is* the hardest negative, and
#   the mean rank of the pick is measurably lower than on uniform points (last verdict above).
#   The share of hardest picks alone is higher than on uniform points on average, but with 5
#   seeds that difference is not measurable (its interval only just reaches below 0).
# * At **128-d** the weight falls so steeply that distance-weighted sampling picks the hardest
#   negative most of the time (measurably more often than at 16-d): in high dimension and a
#   trained embedding it behaves almost like hardest-negative mining, which is consistent with
#   lesson 3, where distance-weighted and batch-hard end up with no measurable difference.
#
# Two more details of the reference. The clamp at 0.5 means that negatives closer than 0.5
# are drawn *uniformly* among themselves. The zero weight at `d >= 1.4`
# (`nonzero_loss_cutoff`) comes from Wu et al.'s **margin loss**, where `1.4 = α + β`
# (`β = 1.2`, `α = 0.2`) and a negative beyond it gives no loss. For the *triplet* loss used
# here that is not exactly true: a negative at 1.4 still has a loss when `d_ap > 1.2`. It
# removes almost nothing in practice (few positives are that far), but the reason is the
# margin loss, not the triplet loss.

# %%
fig, ax = plt.subplots(figsize=(9, 3.4))
bins = np.linspace(-1.2, 1.2, 49)
a_all, p_all, n_all = all_triplets(y0)
ax.hist((d0[a_all, n_all] - d0[a_all, p_all]).cpu(), bins=bins, density=True, color="lightgrey", label="all triplets")
for name, (a, p, n) in picks0.items():
    ax.hist((d0[a, n] - d0[a, p]).cpu(), bins=bins, density=True, histtype="step", lw=1.8, color=COLORS[name], label=name)
ax.axvspan(0, MARGIN, color="tab:green", alpha=0.1)
ax.axvline(MARGIN, color="black", ls=":", lw=1)
ax.set(xlabel="d(a,n) - d(a,p)   (loss > 0 left of the dotted line)", ylabel="density", title="seed 0 batch")
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Three different "semi-hard" rules
#
# The name comes from FaceNet (Schroff et al., 2015), but libraries implement it differently:
#
# 1. **FaceNet-style window (our `solutions.semi_hard_negatives`)**: per positive pair, the
#    closest negative with `d_ap < d_an < d_ap + margin`, both bounds strict; pairs with none
#    are dropped. Two differences from the paper: FaceNet states the window on **squared**
#    distances, `‖a−p‖² < ‖a−n‖² < ‖a−p‖² + α` with `α = 0.2` (at `d_ap = 0.5` that is
#    `(0.5, 0.671)` in plain distance, not `(0.5, 0.7)`), and it says negatives inside the
#    window are used, not which one. Unsquared distances and "the closest one in the window"
#    are this course's choice (as in TF-Addons): it is deterministic, and the closest
#    semi-hard negative is the hardest one that is not yet violated.
#
#    A warning about the seed page's pseudocode: it keeps negatives with
#    `D[a,n] < D[a,p] + margin` and then "chooses the closest". Without the lower bound
#    `D[a,n] > D[a,p]`, the closest such negative is simply the **hardest** negative
#    whenever it lies inside the upper bound. The window needs both bounds.
# 2. **TensorFlow Addons `triplet_semihard_loss`**: per positive pair, the closest negative
#    with `d_an > d_ap` — *no upper bound*: the margin plays no role in the choice. If no
#    negative is farther than the positive, it falls back to the **farthest** negative. Every
#    pair keeps a triplet, and the loss is averaged over all pairs (including those that
#    contribute 0).
# 3. **pytorch-metric-learning `TripletMarginMiner(type_of_triplets="semihard")`**: *every*
#    triplet with `0 < d_an - d_ap <= margin`, the upper bound inclusive, so one pair can
#    bring many negatives.
#
# Rule 2 is written out below as a clearly-labelled illustration (it is not part of our
# contract); rule 3 is the installed library itself. pytorch-metric-learning computes its own
# distances (`torch.cdist` on normalised embeddings), which agree with ours up to float
# rounding on these unit vectors.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.miners import TripletMarginMiner


def tfa_semihard_illustration(dist, labels):
    """ILLUSTRATION of TensorFlow Addons' rule (not our contract): per positive pair, the
    closest negative strictly farther than the positive, else the farthest negative."""
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=dist.device)
    a, p = pos.nonzero(as_tuple=True)
    rows = dist[a]                                   # [pairs, B]
    neg = ~same[a]
    beyond = neg & (rows > dist[a, p][:, None])
    closest_beyond = torch.where(beyond, rows, float("inf")).argmin(dim=1)
    farthest = torch.where(neg, rows, -1.0).argmax(dim=1)
    has_beyond = beyond.any(dim=1)
    return a, p, torch.where(has_beyond, closest_beyond, farthest), ~has_beyond


def pml_semihard(x, y):
    miner = TripletMarginMiner(margin=MARGIN, type_of_triplets="semihard", distance=LpDistance(normalize_embeddings=True))
    return miner(x, y)


def compare_definitions(x, y):
    d = S.pairwise_distances(x)
    ours = S.semi_hard_negatives(d, y, MARGIN)
    ta, tp, tn, fallback = tfa_semihard_illustration(d, y)
    pml = pml_semihard(x, y)
    out = {}
    for name, (a, p, n) in {"FaceNet window (ours)": ours, "TF-Addons rule": (ta, tp, tn), "PML TripletMarginMiner": pml}.items():
        out[name] = {
            "triplets": a.numel(),
            "pairs": len(set(zip(a.tolist(), p.tolist()))),
            "active": S.active_triplet_fraction(d, a, p, n, MARGIN) if a.numel() else float("nan"),
            "loss": float(S.triplet_margin_loss(d, a, p, n, MARGIN)),
        }
    ours_set = set(zip(*(t.tolist() for t in ours)))
    out["tfa_fallbacks"] = int(fallback.sum())
    out["tfa_beyond_margin"] = int(((d[ta, tn] - d[ta, tp]) >= MARGIN).sum())
    out["ours_in_pml"] = len(ours_set & set(zip(*(t.tolist() for t in pml)))) / max(1, len(ours_set))
    out["ours_in_tfa"] = len(ours_set & set(zip(ta.tolist(), tp.tolist(), tn.tolist()))) / max(1, len(ours_set))
    return out


defs = [compare_definitions(*batches[s]) for s in SEEDS]
names = ["FaceNet window (ours)", "TF-Addons rule", "PML TripletMarginMiner"]
print(f"{'rule':<24} {'triplets':>14} {'(a,p) pairs':>14} {'non-zero loss':>15} {'mean loss':>15}")
for name in names:
    st = {k: mean_std([r[name][k] for r in defs]) for k in defs[0][name]}
    print(f"{name:<24} {st['triplets'][0]:>7.0f} ± {st['triplets'][1]:<5.0f} {st['pairs'][0]:>6.0f} ± {st['pairs'][1]:<5.0f}"
          f" {st['active'][0]:>7.3f} ± {st['active'][1]:<5.3f} {st['loss'][0]:>7.3f} ± {st['loss'][1]:<5.3f}")
for k, label in [("tfa_fallbacks", "TF-Addons pairs that fell back to the farthest negative"),
                 ("tfa_beyond_margin", "TF-Addons picks at or beyond the margin (zero loss)"),
                 ("ours_in_pml", "fraction of our triplets also returned by PML"),
                 ("ours_in_tfa", "fraction of our triplets also chosen by TF-Addons")]:
    m, s = mean_std([r[k] for r in defs])
    print(f"{label:<58} {m:>8.3f} ± {s:.3f}")

# %% [markdown]
# Same batch, same margin, three different answers:
#
# * our window and the TF-Addons rule choose the **same negative** whenever the window holds
#   one (every one of our triplets is also a TF-Addons triplet); TF-Addons additionally keeps
#   every other pair, with a negative beyond the margin (zero loss, but still counted in its
#   average, which dilutes the loss) or, when nothing is farther than the positive, the
#   *farthest* negative (a fallback that is neither hard nor semi-hard);
# * pytorch-metric-learning returns *all* negatives in the window, several per pair, so its
#   triplet count is several times larger; our closest-in-window negative is always among them.
#
# The boundaries differ too. A 1-D toy batch shows them; with margin 0.5 every distance below
# is exactly representable in binary floating point, so the ties are real ties: anchor at 0,
# positive at 0.25, negatives at -0.25 (tied with the positive), 0.75 (exactly at
# `d_ap + margin`) and -1.5 (far). A second positive at 2.0 is farther than every negative,
# which triggers TF-Addons' fallback.

# %%
toy_x = torch.tensor([[0.0], [0.25], [-0.25], [0.75], [-1.5], [2.0]], device=device)
toy_y = torch.tensor([0, 0, 1, 1, 1, 0], device=device)
toy_d = S.pairwise_distances(toy_x)
toy_margin = 0.5
ours_toy = S.semi_hard_negatives(toy_d, toy_y, toy_margin)
pml_toy = TripletMarginMiner(margin=toy_margin, type_of_triplets="semihard",
                             distance=LpDistance(normalize_embeddings=False))(toy_x, toy_y)
ta, tp, tn, fb = tfa_semihard_illustration(toy_d, toy_y)
print("anchor 0 at 0.0, positive 1 at 0.25 (d_ap = 0.25); negatives 2 at -0.25 (d = 0.25, tie), 3 at 0.75 (d = 0.75 = d_ap + margin), 4 at -1.5")


def for_pair(t, a=0, p=1):
    aa, pp, nn = t
    return sorted(nn[(aa == a) & (pp == p)].tolist())


print(f"{'rule':<27} {'pair (0, 1): d_ap = 0.25':>26} {'pair (0, 5): d_ap = 2.0':>25}")
for label, t in [("ours (strict window)", ours_toy), ("PML (inclusive at margin)", pml_toy), ("TF-Addons (no upper bound)", (ta, tp, tn))]:
    print(f"{label:<27} {str(for_pair(t)):>26} {str(for_pair(t, 0, 5)):>25}")

# %% [markdown]
# * The negative tied with the positive (`d_an = d_ap`) is semi-hard for nobody: all three
#   rules are strict at the lower bound.
# * The negative at exactly `d_ap + margin` has a loss of exactly 0. PML still returns it
#   (`<= margin`); our window excludes it (strict); TF-Addons picks it because it is the closest
#   negative farther than the positive, margin or not.
# * For the pair whose positive is farther than every negative (`d_ap = 2.0`), no negative is
#   semi-hard: ours and PML return nothing, TF-Addons falls back to the farthest negative (4,
#   at 1.5), which is in fact a *hard* negative with loss `2.0 - 1.5 + 0.5 = 1.0`.
#
# When you read "semi-hard" in a paper or a library, check which of these three it means.

# %%
key = {"triplets": {}, "active": {}}
key["dw_picks_hardest"] = {name: round(mean_std(hardest_share(name))[0], 3) for name in dw_stats}
for name, st in table2.items():
    key["triplets"][name] = round(st["triplets"][0], 1)
    key["active"][name] = round(st["active"][0], 3)
for name in names:
    key.setdefault("semi_hard_rules", {})[name] = round(mean_std([r[name]["triplets"] for r in defs])[0], 1)
key["tfa_fallbacks"] = round(mean_std([r["tfa_fallbacks"] for r in defs])[0], 1)
key["toy"] = {name: [for_pair(t), for_pair(t, 0, 5)] for name, t in [("ours", ours_toy), ("pml", pml_toy), ("tfa", (ta, tp, tn))]}
print_key_results(key, verdicts)

# %% [markdown]
# ## Check yourself
#
# 1. Why does the semi-hard miner return fewer triplets than the random miner on the same
#    batch? *(Pairs whose window `(d_ap, d_ap + margin)` holds no negative are dropped.)*
# 2. Every semi-hard triplet has a non-zero loss, yet each loss is below the margin. Why?
#    *(`0 < d_an - d_ap < margin` ⇒ `0 < d_ap - d_an + margin < margin`.)*
# 3. A negative is closer to the anchor than the positive. Which strategies can pick it?
#    *(hardest, batch-hard, random, distance-weighted — never semi-hard.)*
# 4. Why does distance-weighted sampling pick the hardest negative so often in a trained
#    128-d embedding? *(Its weight `1/q(d)` grows like `d^-(dim-2)` towards small distances; in
#    a trained embedding the negatives are not spread like uniform points, so the closest ones
#    take almost all the weight.)*
# 5. TF-Addons' `triplet_semihard_loss` and our miner agree on every triplet we return. What
#    does TF-Addons do for the other pairs, and what does that do to the averaged loss?
#    *(It keeps them with a negative beyond the margin or the farthest negative; most add 0 to
#    the sum but count in the denominator.)*
# 6. With margin 0.5, is a negative at exactly `d_ap + 0.5` semi-hard? *(PML: yes; ours: no;
#    it has zero loss either way.)*
