"""``hnm demo``: the reference miners side by side on a bundled, seeded batch of digits."""

from __future__ import annotations

import torch

import solutions as S

MARGIN = 0.2


def bundled_batch(p: int = 8, k: int = 4, dim: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A PK batch of scikit-learn's handwritten digits, embedded by a fixed random
    projection of the pixels and L2-normalised (``[p*k, dim]`` float32, ``[p*k]`` int64)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = torch.tensor(digits.data, dtype=torch.float32)
    labels = torch.tensor(digits.target, dtype=torch.int64)
    g = torch.Generator().manual_seed(seed)
    index = next(S.pk_batches(labels, p, k, generator=g))
    projection = torch.randn(pixels.shape[1], dim, generator=g)
    x = pixels[index] @ projection
    return torch.nn.functional.normalize(x, dim=1), labels[index]


def run() -> str:
    x, y = bundled_batch()
    d = S.pairwise_distances(x)
    g = torch.Generator().manual_seed(0)
    miners = {
        "random": lambda: S.random_negatives(d, y, generator=g),
        "semi-hard": lambda: S.semi_hard_negatives(d, y, MARGIN),
        "hardest": lambda: S.hardest_negatives(d, y),
        "batch-hard": lambda: S.batch_hard(d, y),
        "distance-weighted": lambda: S.distance_weighted_negatives(d, y, x.shape[1], generator=g),
    }
    lines = [
        f"Bundled batch: {x.shape[0]} digits ({len(y.unique())} classes x {x.shape[0] // len(y.unique())}), "
        f"{x.shape[1]}-d unit embeddings, margin {MARGIN}",
        f"{'miner':<18} {'triplets':>8} {'active':>7} {'loss':>7} {'mean d(a,n)':>11}",
    ]
    for name, mine in miners.items():
        a, p, n = mine()
        loss = S.triplet_margin_loss(d, a, p, n, MARGIN)
        active = S.active_triplet_fraction(d, a, p, n, MARGIN)
        mean_an = d[a, n].mean().item() if a.numel() else float("nan")
        lines.append(f"{name:<18} {a.numel():>8} {active:>7.2f} {loss.item():>7.4f} {mean_an:>11.4f}")
    recall = S.recall_at_k(x, y, ks=(1, 5))
    lines.append(f"Recall@1 {recall[1]:.3f}  Recall@5 {recall[5]:.3f}  (random projection, no training)")
    return "\n".join(lines)


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="run the reference miners on a bundled batch of digits")
    parser.set_defaults(handler=lambda args: print(run()) or 0)
