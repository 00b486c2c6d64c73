"""Large inputs for the scale properties, built from a seed on either side of the sandbox.

The worker builds them itself (so megabytes never cross the process boundary) and
returns only a structural summary of the output; the parent times the round trip.
"""

from __future__ import annotations

from typing import Any

import torch

SIZE = 2048
# Few, large classes: hundreds of thousands of positive pairs, so a Python loop over
# pairs cannot finish in time while any vectorised O(B^2 log B) implementation can.
CLASSES = 8
MARGIN = 0.2


def _embeddings(seed: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(SIZE, 64, generator=g), dim=1)
    labels = torch.randint(0, CLASSES, (SIZE,), generator=g)
    return x.to(device), labels.to(device)


def make_inputs(exercise: str, seed: int, device: str = "cpu") -> list[Any]:
    """Positional arguments of ``exercise`` at scale (B = 2048)."""
    x, labels = _embeddings(seed, device)
    if exercise == "pairwise_distances":
        return [x]
    dist = torch.cdist(x, x).clamp_(min=0).fill_diagonal_(0)
    if exercise == "semi_hard_negatives":
        return [dist, labels, MARGIN]
    if exercise == "batch_hard":
        return [dist, labels]
    if exercise == "distance_weights":
        return [dist, labels, x.shape[1]]
    raise KeyError(exercise)


def describe(value: Any) -> Any:
    """A JSON-friendly structural summary: type, dtype, shape, device."""
    if type(value) is torch.Tensor:
        return {"tensor": str(value.dtype).replace("torch.", ""), "shape": list(value.shape), "device": value.device.type}
    if type(value) in (tuple, list):
        return {"sequence": type(value).__name__, "items": [describe(v) for v in value]}
    return {"object": type(value).__name__}
