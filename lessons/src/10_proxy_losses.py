# %% [markdown]
# # Lesson 10 — Proxy losses: the mining-free baseline
#
# Every lesson so far had to *find* informative negatives: in the batch (lessons 2–5), in a
# memory (6), among RoIs (7), inside a softmax (8), in a corpus (9). Proxy losses sidestep
# mining: each training class gets one learned vector, its **proxy**, and every sample is
# pulled to its own proxy and pushed from the others. A batch of `B` samples then has `B x C`
# sample–proxy pairs instead of `B²` sample–sample pairs, and every class is a negative of
# every sample at every step, whatever the batch holds.
#
# * **Proxy-NCA** (Movshovitz-Attias et al., ICCV 2017): a softmax over the proxies,
#   `l(x) = -log softmax_c(-s · d(x, p_c))[y]` with `d` the squared distance of unit vectors
#   (`solutions.proxy_nca_loss`, the form with the positive proxy in the denominator that
#   implementations use);
# * **Proxy Anchor** (Kim et al., CVPR 2020): each proxy is an anchor; it pulls all of its
#   class's samples in the batch and pushes all others, with a scale `α` (32) and margin `δ`
#   (0.1) (`solutions.proxy_anchor_loss`). Its log-sum-exp weights the hardest samples most:
#   mining happens inside the loss, as with a low NT-Xent temperature.
#
# Are they better than pair losses with mining? Musgrave, Belongie & Lim ("A Metric Learning
# Reality Check", ECCV 2020) re-ran the field with the same network, the same budget and
# hyperparameters tuned on validation for every loss. On CUB200, MAP@R: contrastive 26.53,
# NT-Xent 25.09, ProxyNCA 24.21, triplet 23.69; on Cars196: ProxyNCA 25.38, contrastive 24.89,
# NT-Xent 24.40, triplet 23.02. The ranking flips between data sets, and the spread is a few
# points: **under fair tuning proxy vs pair is a wash**. (Proxy Anchor was not in their study;
# its published gains used a different crop, pooling and test-set epoch selection.)
#
# This lesson runs the same kind of fair comparison in miniature.

# %%
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch

import solutions as S
from solutions.experiments.loss_training import retrieval_scores, train_with_loss
from solutions.experiments.prelude import choose, compare, print_key_results, start_lesson
from solutions.experiments.products import product_split
from solutions.experiments.training import mean_std

device = start_lesson()
SEEDS = [0, 1, 2, 3]
STEPS, P, K, DIM, PROXY_LR = 300, 32, 2, 16, 0.1
data = product_split(device=device)
print(f"{data.n_train_items} training items (one proxy each), {len(data.item_train)} training images; "
      f"{len(data.item_val.unique())} validation and {len(data.item_test.unique())} test items")

# %% [markdown]
# ## A pitfall first: a Proxy-NCA that drops the hardest samples
#
# A popular implementation (pytorch-metric-learning 2.9's `ProxyNCALoss`) computes each
# sample's softmax probability of its own proxy, and then keeps only the samples whose
# probability is **not 0**: in float32 the probability of a sample far from its proxy
# underflows to exactly 0 at a large scale, and that sample is silently dropped. The
# hardest samples leave the loss, so the loss *falls* as the batch gets harder. The cell
# below writes that rule out and compares it with the exact `solutions.proxy_nca_loss` on a
# batch whose embeddings are mixed towards random directions (mix 0: every sample on its
# proxy; mix 1: random).

# %%
def dropping_proxy_nca(emb, labels, proxies, scale):
    """Mean of -log p(own proxy) over the samples whose float32 probability is not 0 (the dropping rule)."""
    u, v = torch.nn.functional.normalize(emb, dim=1), torch.nn.functional.normalize(proxies, dim=1)
    prob = torch.softmax(2 * scale * (u @ v.T), dim=1).gather(1, labels[:, None]).squeeze(1)
    kept = prob != 0
    return -torch.log(prob[kept]).mean() if bool(kept.any()) else torch.tensor(float("nan")), float(kept.double().mean())


g = torch.Generator().manual_seed(0)
proxies = torch.nn.functional.normalize(torch.randn(data.n_train_items, DIM, generator=g), dim=1)
labels = torch.randint(0, data.n_train_items, (64,), generator=g)
noise = torch.nn.functional.normalize(torch.randn(64, DIM, generator=g), dim=1)
SCALES, MIXES = [8.0, 30.0, 100.0], [0.0, 0.25, 0.5, 0.75, 1.0]
pitfall = {}
for scale in SCALES:
    for mix in MIXES:
        emb = (1 - mix) * proxies[labels] + mix * noise
        common, kept = dropping_proxy_nca(emb, labels, proxies, scale)
        pitfall[(scale, mix)] = {"exact": float(S.proxy_nca_loss(emb, labels, proxies, scale)), "common": float(common), "kept": kept}
print(f"{'scale':>6} {'mix':>5} {'exact loss':>11} {'dropping loss':>14} {'samples kept':>13}")
for (scale, mix), r in pitfall.items():
    print(f"{scale:>6g} {mix:>5} {r['exact']:>11.2f} {r['common']:>14.2f} {r['kept']:>13.3f}")
fig, ax = plt.subplots(figsize=(7, 3.4))
for scale, color in zip(SCALES, ["tab:blue", "tab:orange", "tab:red"]):
    ax.plot(MIXES, [pitfall[(scale, m)]["exact"] for m in MIXES], color=color, marker="o", label=f"exact, scale {scale:g}")
    ax.plot(MIXES, [pitfall[(scale, m)]["common"] for m in MIXES], color=color, marker="x", ls="--", label=f"dropping, scale {scale:g}")
ax.set(xlabel="mix towards random embeddings (harder batch →)", ylabel="mean loss", yscale="symlog", title="Proxy-NCA: exact vs dropping underflowed samples")
ax.legend(fontsize=7, ncol=2)
plt.tight_layout()
plt.show()

# %% [markdown]
# What the table shows: at scale 8 and 30 the two agree on this batch. At scale 100, once the
# batch is hard (mix 0.75 and 1), the probabilities of the samples far from their proxies
# underflow and those samples are dropped: on the random batch only about 40 % of the samples
# count, and the reported loss is about half the exact one. The dropped samples also get no
# gradient, so the loss ignores exactly the samples it should work on. (At mix 0 the printed
# `-0.00` is float32 rounding of a loss of 0.) The course's reference computes
# `logsumexp_c(logits) − logit_y` in log space and never drops a sample.
#
# ## The fair comparison
#
# Four losses, each with the **same tuning budget**: three settings, chosen on the
# **validation items** by Recall@1, reported on the **test items**. Same network (MLP 64 → 128
# → 16), PK batches of 32 items x 2 images, 300 Adam steps, 4 seeds shared by every run; the
# proxies are learned at lr 0.1 (the Proxy Anchor paper trains them 100x faster than the
# backbone; not tuned here).
#
# | loss | settings tried (network lr, loss parameter) |
# |---|---|
# | batch-hard triplet | (3e-3, margin 0.2), (3e-3, margin 0.1), (1e-3, margin 0.2) |
# | NT-Xent | (3e-3, t 0.1), (3e-3, t 0.5), (1e-3, t 0.5) |
# | Proxy-NCA | (3e-3, scale 3), (3e-3, scale 8), (1e-3, scale 3) |
# | Proxy Anchor | (3e-3, α 32), (3e-3, α 16), (1e-3, α 32); δ = 0.1 |
#
# The best mean validation Recall@1 wins; settings within 0.01 of it count as tied and the first
# listed wins (the course's or the paper's default), so that a choice cannot flip on the last
# digits of another CPU.

# %%
GRID = {
    "batch-hard triplet": ("triplet", [(3e-3, {"margin": 0.2}), (3e-3, {"margin": 0.1}), (1e-3, {"margin": 0.2})]),
    "NT-Xent": ("ntxent", [(3e-3, {"temperature": 0.1}), (3e-3, {"temperature": 0.5}), (1e-3, {"temperature": 0.5})]),
    "Proxy-NCA": ("proxy-nca", [(3e-3, {"scale": 3.0}), (3e-3, {"scale": 8.0}), (1e-3, {"scale": 3.0})]),
    "Proxy Anchor": ("proxy-anchor", [(3e-3, {"alpha": 32.0}), (3e-3, {"alpha": 16.0}), (1e-3, {"alpha": 32.0})]),
}


def setting_name(lr, hp):
    return f"lr {lr:g}, " + ", ".join(f"{k} {v:g}" for k, v in hp.items())


runs = {}
for name, (loss, settings) in GRID.items():
    for lr, hp in settings:
        out = []
        for seed in SEEDS:
            model, _ = train_with_loss(data.x_train, data.item_train, loss, seed=seed, steps=STEPS, p=P, k=K, dim=DIM,
                                       lr=lr, proxy_lr=PROXY_LR, **hp)
            out.append({"val": retrieval_scores(model, data.x_val, data.item_val), "test": retrieval_scores(model, data.x_test, data.item_test),
                        "train": retrieval_scores(model, data.x_train, data.item_train)})
        runs[(name, setting_name(lr, hp))] = out


def scores(rs, split, metric):
    return [r[split][metric] for r in rs]


print(f"{'loss':<20} {'setting':<24} {'validation Recall@1':>20}")
chosen = {}
for name, (_, settings) in GRID.items():
    for lr, hp in settings:
        v = mean_std(scores(runs[(name, setting_name(lr, hp))], "val", "r1"))
        print(f"{name:<20} {setting_name(lr, hp):<24} {v[0]:>13.3f} ± {v[1]:.3f}")
    chosen[name] = choose({setting_name(lr, hp): scores(runs[(name, setting_name(lr, hp))], "val", "r1") for lr, hp in settings})
print("chosen on validation: " + "; ".join(f"{n}: {s}" for n, s in chosen.items()))

# %% [markdown]
# ## On the test items

# %%
final = {name: runs[(name, s)] for name, s in chosen.items()}
print(f"{'loss (test items)':<20} {'Recall@1':>15} {'Recall@5':>15} {'MAP@R':>15}")
for name, rs in final.items():
    print(f"{name:<20} " + " ".join(f"{mean_std(scores(rs, 'test', m))[0]:>8.3f} ± {mean_std(scores(rs, 'test', m))[1]:.3f}"
                                  for m in ("r1", "r5", "map_r")))
verdicts = {}
for proxy in ("Proxy-NCA", "Proxy Anchor"):
    for pair in ("batch-hard triplet", "NT-Xent"):
        for metric in ("r1", "map_r"):
            verdicts[f"{metric}: {proxy} vs {pair}"] = compare(scores(final[proxy], "test", metric), scores(final[pair], "test", metric),
                                                               (f"{proxy} {metric}", f"{pair} {metric}"))
for metric in ("r1", "map_r"):
    verdicts[f"{metric}: Proxy Anchor vs Proxy-NCA"] = compare(scores(final["Proxy Anchor"], "test", metric), scores(final["Proxy-NCA"], "test", metric),
                                                               (f"Proxy Anchor {metric}", f"Proxy-NCA {metric}"))
    verdicts[f"{metric}: NT-Xent vs batch-hard triplet"] = compare(scores(final["NT-Xent"], "test", metric), scores(final["batch-hard triplet"], "test", metric),
                                                                   (f"NT-Xent {metric}", f"batch-hard triplet {metric}"))

print(f"{'loss':<20} {'Recall@1 train items':>21} {'test items':>11} {'gap':>7}")
gap = {name: [a - b for a, b in zip(scores(rs, "train", "r1"), scores(rs, "test", "r1"))] for name, rs in final.items()}
for name, rs in final.items():
    print(f"{name:<20} {np.mean(scores(rs, 'train', 'r1')):>21.3f} {np.mean(scores(rs, 'test', 'r1')):>11.3f} {np.mean(gap[name]):>7.3f}")
for proxy in ("Proxy-NCA", "Proxy Anchor"):
    verdicts[f"gap: {proxy} vs NT-Xent"] = compare(gap[proxy], gap["NT-Xent"], (f"{proxy} train-test gap", "NT-Xent train-test gap"),
                                                   higher_is_better=False, word="smaller")

fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
xs = np.arange(len(final))
for off, metric, color in ((-0.2, "r1", "tab:blue"), (0.2, "map_r", "tab:green")):
    ms = [mean_std(scores(rs, "test", metric)) for rs in final.values()]
    ax[0].bar(xs + off, [m for m, _ in ms], 0.4, yerr=[s for _, s in ms], capsize=3, color=color, label={"r1": "Recall@1", "map_r": "MAP@R"}[metric])
ax[0].set_xticks(xs, list(final), fontsize=8)
ax[0].set(ylabel="test items (mean ± std, 4 seeds)", title="validation-chosen settings, same budget")
ax[0].legend(fontsize=8)
for name, (_, settings) in GRID.items():
    v = [np.mean(scores(runs[(name, setting_name(lr, hp))], "val", "r1")) for lr, hp in settings]
    ax[1].plot(range(len(v)), v, marker="o", label=name)
ax[1].set_xticks(range(3), ["setting 1", "setting 2", "setting 3"])
ax[1].set(ylabel="validation Recall@1", title="how much tuning moved each loss")
ax[1].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# What the test items show (4 paired seeds, settings chosen on validation):
#
# * **Both proxy losses are measurably worse than both pair losses here**, on Recall@1 and
#   MAP@R: Proxy-NCA by about 0.14 Recall@1 below batch-hard triplet and about 0.19 below
#   NT-Xent; Proxy Anchor a little further down (measurably below Proxy-NCA, by about 0.05).
# * NT-Xent is measurably better than batch-hard triplet (about +0.05 Recall@1), as in
#   lesson 8 (there at lr 1e-3; here both gained from lr 3e-3, chosen on validation).
# * **Why**: on the *training* items the proxy losses do as well as the pair losses or better
#   (Recall@1 on training images about 0.99 for Proxy-NCA, 0.96 for Proxy Anchor, 0.94 for
#   NT-Xent), but they lose far more on new items: their train–test gap is measurably larger
#   than NT-Xent's (by about 0.24–0.26). One proxy per item turns the task into classifying
#   the 144 training items; what separates *those* need not separate unseen lookalikes (a
#   reading of the gap, not a separate measurement).
#
# This is not a contradiction of Musgrave et al.'s "wash": their benchmarks have classes with
# about 30–80 images each, an ImageNet-pretrained network and long training; here each class
# has 8 images, the network starts from scratch and the test items are lookalikes of the
# training items. The numbers hold for this regime and these settings only, which is the
# point of their paper: a ranking of losses is a property of a regime, measured with equal
# tuning, not a property of the losses.
#
# ## Is it the budget?
#
# A proxy is updated only when its class is in the batch: with 144 classes and 32 items per
# batch, about once every 4.5 steps, so 300 steps give each proxy about 67 updates. If the
# proxies were simply under-trained, twice the steps should close part of the gap. Both proxy
# losses again at their chosen settings, 600 steps, same seeds:

# %%
longer = {}
for name in ("Proxy-NCA", "Proxy Anchor"):
    loss, settings = GRID[name]
    lr, hp = next((lr, hp) for lr, hp in settings if setting_name(lr, hp) == chosen[name])
    longer[name] = []
    for seed in SEEDS:
        model, _ = train_with_loss(data.x_train, data.item_train, loss, seed=seed, steps=2 * STEPS, p=P, k=K, dim=DIM,
                                   lr=lr, proxy_lr=PROXY_LR, **hp)
        longer[name].append({"test": retrieval_scores(model, data.x_test, data.item_test)})
    print(f"{name}: test Recall@1 {mean_std(scores(final[name], 'test', 'r1'))[0]:.3f} at {STEPS} steps, "
          f"{mean_std(scores(longer[name], 'test', 'r1'))[0]:.3f} at {2 * STEPS}")
    verdicts[f"r1: {name} 600 vs 300 steps"] = compare(scores(longer[name], "test", "r1"), scores(final[name], "test", "r1"),
                                                       (f"{name} {2 * STEPS} steps", f"{name} {STEPS} steps"))
    verdicts[f"r1: {name} 600 steps vs NT-Xent"] = compare(scores(longer[name], "test", "r1"), scores(final["NT-Xent"], "test", "r1"),
                                                           (f"{name} {2 * STEPS} steps", f"NT-Xent {STEPS} steps"))

# %% [markdown]
# Doubling the steps made no measurable difference for either proxy loss, and both stay
# measurably below NT-Xent at 300 steps: in this regime the gap is not a matter of budget. The
# measured mechanism is the generalisation gap above.

# %%
key = {"pitfall": {f"scale{s:g}_mix{m}": {k: round(v, 3) for k, v in r.items()} for (s, m), r in pitfall.items() if m in (0.5, 1.0)},
       "chosen": chosen,
       "val_r1": {f"{n} | {s}": round(float(np.mean(scores(rs, "val", "r1"))), 3) for (n, s), rs in runs.items()},
       "test": {name: {m: round(mean_std(scores(rs, "test", m))[0], 3) for m in ("r1", "r5", "map_r")} for name, rs in final.items()},
       "train_r1": {name: round(float(np.mean(scores(rs, "train", "r1"))), 3) for name, rs in final.items()},
       "test_r1_600_steps": {name: round(mean_std(scores(rs, "test", "r1"))[0], 3) for name, rs in longer.items()}}
print_key_results(key, verdicts)

# %% [markdown]
# ## Check yourself
#
# 1. Why does a proxy loss need no miner? *(Every class's proxy is a negative of every sample
#    at every step, so the batch's composition no longer limits the negatives; the softmax
#    (Proxy-NCA) or log-sum-exp (Proxy Anchor) then weights the hard ones most.)*
# 2. A Proxy-NCA implementation reports a *lower* loss on a harder batch at scale 100. What
#    is going on? *(Samples whose own-proxy probability underflows to 0 in float32 are dropped
#    from the mean: the hardest samples vanish. Compute `logsumexp − logit` in log space, as
#    `solutions.proxy_nca_loss` does.)*
# 3. Why did every loss get the same number of settings to try, chosen on validation items?
#    *(A loss tuned more, or tuned on the test set, looks better than it is; Musgrave et al.
#    2020 found most published gaps shrink to noise under equal tuning.)*
# 4. What does a proxy loss cost that a pair loss does not? *(`C x D` extra parameters and
#    their learning rate; with many classes and few samples per class, a proxy sees its
#    class rarely and learns slowly. Pair losses need no per-class parameters.)*
#
# Then take the quick test below: 8 questions, 70 % to pass. It is anonymous here and saves
# nothing; `quiz_widget(user="your name")` keeps your progress.

# %%
from grader.quiz.notebook import quiz_widget
quiz_widget();
