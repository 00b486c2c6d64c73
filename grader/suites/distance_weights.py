"""Properties of ``distance_weights(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4)``."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

import solutions
from grader.sandbox import codec
from grader.engine import Case, CheckFailed, Exercise, Property
from grader.suites import generic
from grader.suites.strategies import distance_matrices, label_vectors

from grader.suites._common import (
    agree_close,
    agrees,
    edge_property,
    guarded,
    neg_mask,
    scale_checked,
    scale_property,
    square_summary_structure,
    tensor,
    unchanged_property,
)

PARAMS = ("dist", "labels", "dim", "cutoff", "nonzero_loss_cutoff")
CUTS = [(0.5, 1.4), (0.25, 2.0), (0.125, 0.5), (1.0, 1.125)]


@st.composite
def _inputs(draw, dims=st.integers(2, 64), max_size: int = 12):
    labels = draw(label_vectors(max_size=max_size))
    dist = draw(distance_matrices(labels.shape[0], max_value=2.0))
    cutoff, nlc = draw(st.sampled_from(CUTS))
    return [dist, labels, draw(dims), cutoff, nlc]


inputs = _inputs()
high_dim = _inputs(dims=st.integers(256, 1024))
edge_inputs = _inputs(max_size=3)


def _weights(case: Case) -> torch.Tensor:
    w = tensor(case.actual, "the result")
    b = case.args[0].shape[0]
    if w.shape != (b, b):
        raise CheckFailed(f"expected shape ({b}, {b}), got {tuple(w.shape)}")
    if not bool(torch.isfinite(w).all()):
        raise CheckFailed("the weights contain NaN or inf")
    return w.double()


def _valid(case: Case) -> torch.Tensor:
    dist, labels, _, _, nlc = case.args
    return neg_mask(labels) & (dist < nlc)


def _tol(case: Case) -> float:
    return 1e-4 if case.args[0].dtype == torch.float32 else 1e-9


@guarded
def shape_dtype_device(case: Case) -> str | None:
    """A [B, B] tensor in dist's dtype on dist's device."""
    w = tensor(case.actual, "the result")
    b = case.args[0].shape[0]
    if w.shape != (b, b) or w.dtype != case.args[0].dtype:
        return f"expected a ({b}, {b}) tensor of dtype {case.args[0].dtype}, got {tuple(w.shape)} {w.dtype}"
    if codec.device_of(w) != case.device:
        return f"the result is on {codec.device_of(w)}, but the inputs were on {case.device}"
    return None


@guarded
def zero_for_non_negatives(case: Case) -> str | None:
    """Weight 0 for same-label entries (the diagonal included)."""
    w = _weights(case)
    bad = (~neg_mask(case.args[1]) & (w != 0)).nonzero().tolist()
    return f"w[{bad[0][0]},{bad[0][1]}] must be 0: same label (not a negative)" if bad else None


@guarded
def zero_beyond_cutoff(case: Case) -> str | None:
    """Weight 0 where dist >= nonzero_loss_cutoff (such negatives give no loss)."""
    w = _weights(case)
    far = case.args[0] >= case.args[4]
    bad = (far & (w != 0)).nonzero().tolist()
    return f"w[{bad[0][0]},{bad[0][1]}] must be 0: dist >= nonzero_loss_cutoff" if bad else None


@guarded
def rows_normalised(case: Case) -> str | None:
    """Rows with a valid negative sum to 1; rows without one are all zeros."""
    w = _weights(case)
    has = _valid(case).any(dim=1)
    sums = w.sum(dim=1)
    for a in range(w.shape[0]):
        if has[a] and abs(sums[a].item() - 1) > 10 * _tol(case):
            return f"row {a} sums to {sums[a].item()!r}, expected 1"
        if not has[a] and bool((w[a] != 0).any()):
            return f"row {a} has no valid negative, so it must be all zeros"
    return None


@guarded
def inverse_density(case: Case) -> str | None:
    """Valid negatives are weighted in proportion to 1 / q(max(dist, cutoff))."""
    w = _weights(case)
    want = case.expected.double()
    valid = _valid(case)
    for a in range(w.shape[0]):
        row, ref = w[a][valid[a]], want[a][valid[a]]
        if row.numel() < 2 or row.sum() <= 0:
            continue
        if not torch.allclose(row / row.sum(), ref, rtol=_tol(case), atol=1e-12):
            return f"row {a}: the weights are not proportional to 1 / q(max(dist, cutoff))"
    return None


@guarded
def no_underflow(case: Case) -> str | None:
    """Even in high dimensions each row with a valid negative sums to 1 (normalise per row, in log space)."""
    w = _weights(case)
    has = _valid(case).any(dim=1)
    bad = (has & ((w.sum(dim=1) - 1).abs() > 10 * _tol(case))).nonzero().flatten().tolist()
    if bad:
        return f"row {bad[0]} sums to {w[bad[0]].sum().item()!r} instead of 1 (underflow? work in log space, per row)"
    return None


@guarded
def matches_reference(case: Case) -> str | None:
    """Same weights as the reference."""
    w = _weights(case)
    if not torch.allclose(w, case.expected.double(), rtol=_tol(case), atol=_tol(case) * 1e-3):
        return "the weights differ from the reference"
    return None


def _substantive(case: Case) -> bool | None:
    """Telling when a row has a valid negative; substantive when all such rows have weight."""
    has = _valid(case).any(dim=1)
    if not bool(has.any()):
        return None
    return bool((_weights(case)[has].sum(dim=1) > 0).all())


def _readable(case: Case) -> None:
    """The result is a finite [B, B] tensor."""
    _weights(case)
    return None



# -- agreement with the reference (issue #20) -------------------------------------------
GENERIC = generic.weight_inputs()


def _same_as_reference(case: Case) -> str | None:
    """The reference's weights, up to the rules' tolerance or AGREE_RTOL."""
    if matches_reference(case) is None or bool(agree_close(_weights(case), case.expected).all()):
        return None
    return "the weights differ from the reference's"


AGREEMENT = agrees(_same_as_reference, telling=lambda case: bool(_valid(case).any()))


@scale_checked
def _scale_agreement(args: list, actual, expected) -> str | None:
    """The B x B scale answer equals the reference's weights (the rules' tolerance)."""
    w = tensor(actual, "the result")
    b = args[0].shape[0]
    if tuple(w.shape) != (b, b):
        raise CheckFailed(f"expected shape ({b}, {b}), got {tuple(w.shape)}")
    tol = 1e-4 if args[0].dtype == torch.float32 else 1e-9
    got, want = w.detach().cpu().double(), expected.detach().cpu().double()
    bad = ~((got - want).abs() <= tol * 1e-3 + tol * want.abs())  # NaN never agrees
    outside = bad.nonzero(as_tuple=True)  # the relative test only where the first one fails (4 M entries)
    bad[outside] = ~agree_close(got[outside], want[outside])
    if bool(bad.any()):
        i, j = bad.nonzero()[0].tolist()
        return (f"{int(bad.sum())} of {b * b} weights differ from the reference's, e.g. w[{i},{j}] = "
                f"{w[i, j].item()!r}, the reference's is {expected[i, j].item()!r}")
    return None


SCALE_AGREEMENT = _scale_agreement


EXERCISE = Exercise(
    id="distance_weights",
    reference=solutions.distance_weights,
    params=PARAMS,
    defaults={"cutoff": 0.5, "nonzero_loss_cutoff": 1.4},
    summary="Distance-weighted sampling probabilities (Wu et al. 2017).",
    structure=square_summary_structure,
    ordinary=lambda args: args[0].shape[0] >= 2 and bool(neg_mask(args[1]).any()),
    substantive=_substantive,
    generic=GENERIC,
    agreement=AGREEMENT,
    scale_agreement=SCALE_AGREEMENT,
    properties=(
        Property("shape_dtype_device", 1, "A [B, B] tensor in dist's dtype on dist's device.", inputs, shape_dtype_device),
        Property("zero_for_non_negatives", 1, "Weight 0 for same-label entries and the diagonal.", inputs, zero_for_non_negatives),
        Property("zero_beyond_cutoff", 1, "Weight 0 where dist >= nonzero_loss_cutoff.", inputs, zero_beyond_cutoff),
        Property("rows_normalised", 1.5, "Each row sums to 1, or is all zeros without a valid negative.", inputs, rows_normalised),
        Property("inverse_density", 1.5, "Weights proportional to 1 / q(max(dist, cutoff)).", inputs, inverse_density),
        Property("no_underflow", 1, "No row underflows to zeros, even for dim in the hundreds.", high_dim, no_underflow),
        unchanged_property(inputs, PARAMS, _readable),
        edge_property(edge_inputs, _readable),
        Property("matches_reference", 1, "Same weights as the reference.", inputs, matches_reference, visibility="hidden"),
        scale_property(),
    ),
)
