"""Property tests of the OHEM references against the loop oracles in ``tests/oracles_ohem.py``."""

import math
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from hypothesis import Phase, find, given, settings, strategies as st

import solutions as S
from grader.suites.box_strategies import boxes, detection_batches, nms_inputs, select_inputs
from solutions import ohem

from . import oracles_ohem as oracles


def assert_indices_equal(got, want):
    assert got.dtype == torch.int64 and got.dim() == 1
    assert torch.equal(got.cpu(), want), f"got {got.tolist()}, want {want.tolist()}"


def on(t, device):
    return None if t is None else t.to(device)


# ------------------------------------------------------------------------------ checks
# Plain functions, so that test_mutants_are_caught can run them against mutated references.
def check_box_iou(b1, b2, device):
    got = S.box_iou(b1.to(device), b2.to(device))
    want = oracles.box_iou(b1, b2)
    assert got.dtype == want.dtype and got.device.type == device and got.shape == want.shape
    assert torch.equal(got.cpu(), want), f"got {got.tolist()}, want {want.tolist()}"
    assert bool(((got >= 0) & (got <= 1)).all())
    assert torch.equal(S.box_iou(b2.to(device), b1.to(device)), got.T)


def check_nms(inputs, device):
    b, s, thr = inputs
    got = S.nms(b.to(device), s.to(device), thr)
    assert got.device.type == device
    assert_indices_equal(got, oracles.nms(b, s, thr))


def check_select(inputs, pass_boxes, device):
    batch, per_image, nms_iou = inputs
    kwargs = {"valid": on(batch["valid"], device)}
    if nms_iou is not None or pass_boxes:
        kwargs["boxes"] = batch["boxes"].to(device)
    got = S.ohem_select(batch["losses"].to(device), batch["image_ids"].to(device), per_image, nms_iou=nms_iou, **kwargs)
    assert got.device.type == device
    want = oracles.ohem_select(
        batch["losses"], batch["image_ids"], per_image, boxes=batch["boxes"], nms_iou=nms_iou, valid=batch["valid"]
    )
    assert_indices_equal(got, want)


# ------------------------------------------------------------------------------ box_iou
@given(data=st.data(), n=st.integers(0, 8), m=st.integers(0, 8))
def test_box_iou_matches_oracle_bit_for_bit(data, n, m, device):
    check_box_iou(data.draw(boxes(n)), data.draw(boxes(m)), device)


def test_box_iou_exact_values_and_degenerate_boxes():
    b = torch.tensor([[0, 0, 2, 2], [0, 0, 2, 1], [1, 0, 3, 1], [2, 0, 4, 2], [1, 1, 1, 1], [0, 0, 0, 4]])
    iou = S.box_iou(b, b)
    assert iou.dtype == torch.float32
    assert iou[0, 1] == 0.5 and iou[1, 2] == torch.tensor(1 / 3, dtype=torch.float32)
    assert iou[0, 3] == 0  # touching edges
    assert torch.equal(iou.diagonal(), torch.tensor([1.0, 1, 1, 1, 0, 0]))  # zero area: 0, not NaN
    assert torch.equal(iou[4], torch.zeros(6)) and torch.equal(iou[:, 5], torch.zeros(6))
    for dtype in (torch.float64, torch.int32, torch.uint8):
        assert S.box_iou(b.to(dtype), b.to(dtype)).dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert S.box_iou(b, b.double()).dtype == torch.float64
    assert S.box_iou(b[:0], b).shape == (0, 6)


def test_box_iou_gradient_is_finite_for_degenerate_boxes():
    b = torch.tensor([[0.0, 0, 2, 2], [1, 1, 1, 1], [1, 0, 3, 1]], requires_grad=True)
    S.box_iou(b, b).sum().backward()
    assert bool(torch.isfinite(b.grad).all())


# ------------------------------------------------------------------------------ nms
@given(inputs=nms_inputs())
def test_nms_matches_oracle(inputs, device):
    check_nms(inputs, device)


@pytest.mark.parametrize("window, max_window, sweeps", [(1, 1, 1), (2, 512, 1), (3, 8, 2), (4, 4, 1), (64, 512, 1)])
@given(inputs=nms_inputs(), selection=select_inputs())
def test_windows_and_sweeps_match_oracle(window, max_window, sweeps, inputs, selection, monkeypatch):
    monkeypatch.setattr(ohem, "_WINDOW", window)
    monkeypatch.setattr(ohem, "_MAX_WINDOW", max_window)
    monkeypatch.setattr(ohem, "_SWEEPS", sweeps)
    check_nms(inputs, "cpu")
    check_select(selection, True, "cpu")


def test_nms_boundaries_are_strict_in_the_iou_dtype():
    # IoU(0, 1) = 1/2, IoU(0, 2) = 1/3, IoU(1, 2) = 1/6 (exact fractions, rounded to the IoU dtype)
    b = torch.tensor([[0, 0, 2, 2], [0, 0, 2, 1], [0, 0, 2, 6]])
    s = torch.tensor([3.0, 2.0, 1.0])
    for dtype in (torch.int64, torch.float32, torch.float64):
        bb = b.to(dtype)
        assert S.nms(bb, s, 0.5).tolist() == [0, 1, 2]
        assert S.nms(bb, s, 1 / 3).tolist() == [0, 2]  # fl(1/3) is not > fl(1/3), in either dtype
        assert S.nms(bb, s, 0.49).tolist() == [0, 2]
        assert S.nms(bb, s, 0.3).tolist() == [0]
    assert S.nms(b, s, 1.0).tolist() == [0, 1, 2]
    same = torch.tensor([[1, 1, 4, 4]] * 3)
    assert S.nms(same, s, 1.0).tolist() == [0, 1, 2]  # IoU 1 is not > 1
    assert S.nms(same, s, 0.999).tolist() == [0]


def test_nms_ties_go_to_the_smaller_index_and_only_kept_boxes_suppress():
    b = torch.tensor([[0, 0, 4, 4], [0, 0, 4, 4], [0, 0, 4, 3], [10, 10, 11, 11]])
    assert S.nms(b, torch.tensor([1.0, 1.0, 1.0, 1.0]), 0.5).tolist() == [0, 3]
    assert S.nms(b, torch.tensor([0.0, -0.0, 0.0, 2.0]), 0.5).tolist() == [3, 0]
    # chain: 0 suppresses 1, so 2 (overlapping only 1) survives
    chain = torch.tensor([[0, 0, 4, 1], [1, 0, 5, 1], [2, 0, 6, 1]])
    assert S.nms(chain, torch.tensor([3.0, 2.0, 1.0]), 0.5).tolist() == [0, 2]


def test_nms_large_clustered_input_matches_oracle():
    g = torch.Generator().manual_seed(0)
    centers = torch.randint(0, 60, (5, 2), generator=g)
    pick = torch.randint(0, 5, (300,), generator=g)
    xy = centers[pick] + torch.randint(-3, 4, (300, 2), generator=g)
    wh = torch.randint(4, 12, (300, 2), generator=g)
    b = torch.cat([xy, xy + wh], dim=1)
    s = torch.randint(0, 20, (300,), generator=g).float()  # many ties
    for thr in (0.5, 0.7):
        assert_indices_equal(S.nms(b, s, thr), oracles.nms(b, s, thr))


# ------------------------------------------------------------------------------ ohem_select
@given(inputs=select_inputs(), pass_boxes=st.booleans())
def test_ohem_select_matches_oracle(inputs, pass_boxes, device):
    check_select(inputs, pass_boxes, device)


def test_ohem_select_rules_by_hand():
    losses = torch.tensor([1.0, 5.0, 5.0, 3.0, 9.0, 2.0])
    ids = torch.tensor([7, -3, 7, 7, -3, 10**12])
    assert S.ohem_select(losses, ids, 1).tolist() == [2, 4, 5]
    assert S.ohem_select(losses, ids, 2).tolist() == [1, 2, 3, 4, 5]
    valid = torch.tensor([True, True, True, True, False, False])  # image 10**12 has no valid RoI
    assert S.ohem_select(losses, ids, 1, valid=valid).tolist() == [1, 2]
    assert S.ohem_select(losses, ids, 0).tolist() == []
    # RoI 2 overlaps RoI 3 (IoU 1/2) and RoI 0 (IoU 1): with NMS at 0.5 it suppresses 0 only;
    # RoI 4 (another image, invalid) overlaps everything but suppresses nothing.
    b = torch.tensor([[0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 2, 1], [0, 0, 2, 2], [0, 0, 2, 2]])
    assert S.ohem_select(losses, ids, 3, boxes=b, nms_iou=0.5, valid=valid).tolist() == [1, 2, 3]
    assert S.ohem_select(losses, ids, 3, boxes=b, nms_iou=0.49, valid=valid).tolist() == [1, 2]
    assert S.ohem_select(losses, ids, 3, boxes=b, valid=valid).tolist() == [0, 1, 2, 3]  # boxes alone: no NMS


def test_ohem_select_takes_no_gradient_and_keeps_inputs():
    losses = torch.tensor([0.5, 2.0, 1.0], requires_grad=True)
    ids, b = torch.tensor([0, 0, 1]), torch.tensor([[0.0, 0, 1, 1]] * 3)
    saved = (losses.detach().clone(), ids.clone(), b.clone())
    out = S.ohem_select(losses, ids, 1, boxes=b, nms_iou=0.7)
    assert out.tolist() == [1, 2] and not out.requires_grad
    assert all(torch.equal(x, y) for x, y in zip(saved, (losses.detach(), ids, b)))


# ------------------------------------------------------------------------------ ohem_loss
@given(batch=detection_batches())
def test_ohem_loss_matches_oracle_and_grads_only_selected(batch, device):
    logits, targets, ids, b, ignore = (batch[k] for k in ("logits", "targets", "image_ids", "boxes", "ignore_index"))
    per_image, nms_iou = batch["per_image"], batch["nms_iou"]
    x = logits.to(device).requires_grad_()
    loss = S.ohem_loss(x, targets.to(device), ids.to(device), per_image, boxes=b.to(device), nms_iou=nms_iou,
                       ignore_index=ignore)
    assert loss.shape == () and loss.dtype == logits.dtype and loss.device.type == device
    # Rank by torch's own per-RoI values (the primitive the contract names), so exact ties agree;
    # the oracle's loss value and gradient come from float64 math.
    valid = targets != ignore
    ranking = F.cross_entropy(logits.to(device), targets.masked_fill(~valid, 0).to(device), reduction="none").cpu()
    sel, want = oracles.ohem_loss(logits, targets, ids, per_image, boxes=b, nms_iou=nms_iou, ignore_index=ignore,
                                  ranking=ranking)
    ce = oracles.cross_entropy(logits, targets.masked_fill(~valid, 0))
    assert torch.allclose(ranking.double(), torch.tensor(ce, dtype=torch.float64).reshape(-1), rtol=1e-5, atol=1e-5)
    assert math.isclose(loss.item(), want, rel_tol=1e-5, abs_tol=1e-5)
    loss.backward()
    grad = x.grad.cpu().double()
    expected = torch.zeros_like(grad)
    if sel.numel():
        p = torch.softmax(logits.double()[sel], dim=1)
        p[torch.arange(sel.numel()), targets[sel]] -= 1
        expected[sel] = p / sel.numel()
    else:
        assert loss.item() == 0.0 and math.copysign(1.0, loss.item()) == 1.0
    unselected = torch.ones(grad.shape[0], dtype=torch.bool)
    unselected[sel] = False
    assert bool((grad[unselected] == 0).all()), "gradient leaked to unselected RoIs"
    assert torch.allclose(grad, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "case",
    ["per_image 0", "all ignored", "no RoI", "negative logits", "ignore_index is a class"],
)
def test_ohem_loss_empty_selection_is_exactly_zero_with_a_working_backward(case, device):
    logits = -torch.rand(5, 3, generator=torch.Generator().manual_seed(0)) - 1  # sum < 0: no -0.0 allowed
    targets, ids, per_image, ignore = torch.tensor([0, 1, 2, 1, 0]), torch.tensor([0, 0, 1, 1, 2]), 2, -1
    if case == "per_image 0":
        per_image = 0
    elif case == "all ignored":
        targets = torch.full((5,), -1)
    elif case == "no RoI":
        logits, targets, ids = logits[:0], targets[:0], ids[:0]
    elif case == "ignore_index is a class":
        targets, ignore = torch.full((5,), 2), 2
    x = logits.to(device).requires_grad_()
    loss = S.ohem_loss(x, targets.to(device), ids.to(device), per_image, ignore_index=ignore)
    if case == "negative logits":
        assert loss.item() > 0
        return
    assert loss.item() == 0.0 and math.copysign(1.0, loss.item()) == 1.0
    loss.backward()
    assert x.grad is not None and bool((x.grad == 0).all())


def test_ohem_loss_selects_the_hardest_by_hand():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 0.0], [5.0, 0.0]], requires_grad=True)
    targets = torch.tensor([1, 1, 0, 1])  # losses: high, low, log 2, highest
    loss = S.ohem_loss(logits, targets, torch.tensor([0, 0, 0, 1]), 1)
    want = (F.cross_entropy(logits[[0]], targets[[0]]) + F.cross_entropy(logits[[3]], targets[[3]])) / 2
    assert math.isclose(loss.item(), want.item(), rel_tol=1e-6)
    loss.backward()
    assert torch.equal(logits.grad[1:3], torch.zeros(2, 2)) and bool((logits.grad[[0, 3]] != 0).all())


# ------------------------------------------------------------------------------ validation
B = torch.tensor([[0.0, 0, 1, 1], [0, 0, 2, 2]])
SC = torch.tensor([0.5, 0.2])
IDS = torch.tensor([0, 1])
X, T = torch.rand(2, 3), torch.tensor([0, 1])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: S.box_iou(B.numpy(), B), "boxes1 must be a torch.Tensor"),
        (lambda: S.box_iou(B, B[:, :3]), r"boxes2 must have shape \[N, 4\]"),
        (lambda: S.box_iou(B[0], B), r"boxes1 must have shape \[N, 4\]"),
        (lambda: S.box_iou(B, B.bool()), "boxes2 must have an integer or floating dtype"),
        (lambda: S.box_iou(B, B[:, [2, 1, 0, 3]]), "boxes2 must have x1 <= x2 and y1 <= y2"),
        (lambda: S.box_iou(B.masked_fill(B > 1, float("nan")), B), "boxes1 must be finite"),
        (lambda: S.box_iou(B, B.masked_fill(B > 1, float("inf"))), "boxes2 must be finite"),
        (lambda: S.nms(B, SC, 1.5), r"iou_threshold must be in \[0, 1\]"),
        (lambda: S.nms(B, SC, -0.1), r"iou_threshold must be in \[0, 1\]"),
        (lambda: S.nms(B, SC, float("nan")), "iou_threshold must be finite"),
        (lambda: S.nms(B, SC, "0.5"), "iou_threshold must be a real number"),
        (lambda: S.nms(B, torch.tensor([0.5, float("nan")]), 0.5), "scores must not contain NaN"),
        (lambda: S.nms(B, SC[:1], 0.5), "scores must have length 2"),
        (lambda: S.nms(B, SC[None], 0.5), "scores must be 1-D"),
        (lambda: S.nms(B, SC > 0, 0.5), "scores must have an integer or floating dtype"),
        (lambda: S.nms(B[:, [0, 3, 2, 1]], SC, 0.5), "boxes must have x1 <= x2"),
        (lambda: S.ohem_select(SC, IDS, -1), "per_image must be >= 0"),
        (lambda: S.ohem_select(SC, IDS, 1.0), "per_image must be an int"),
        (lambda: S.ohem_select(torch.tensor([0.5, float("nan")]), IDS, 1), "losses must not contain NaN"),
        (lambda: S.ohem_select(SC.long(), IDS, 1), "losses must be a floating-point tensor"),
        (lambda: S.ohem_select(SC[None], IDS, 1), "losses must have 1 dimension"),
        (lambda: S.ohem_select(SC, IDS.float(), 1), "image_ids must have an integer dtype"),
        (lambda: S.ohem_select(SC, IDS[:1], 1), "image_ids must have length 2"),
        (lambda: S.ohem_select(SC, IDS, 1, nms_iou=0.7), "nms_iou needs boxes"),
        (lambda: S.ohem_select(SC, IDS, 1, boxes=B, nms_iou=1.1), r"nms_iou must be in \[0, 1\]"),
        (lambda: S.ohem_select(SC, IDS, 1, boxes=B[:1], nms_iou=0.7), "boxes must have 2 rows"),
        (lambda: S.ohem_select(SC, IDS, 1, boxes=B[:, :2]), r"boxes must have shape \[N, 4\]"),
        (lambda: S.ohem_select(SC, IDS, 1, valid=torch.tensor([1, 0])), "valid must be a 1-D bool tensor of length 2"),
        (lambda: S.ohem_select(SC, IDS, 1, valid=torch.tensor([True])), "valid must be a 1-D bool tensor of length 2"),
        (lambda: S.ohem_loss(torch.rand(2, 3), torch.tensor([0, 3]), IDS, 1), r"targets must be in \[0, 3\) or equal"),
        (lambda: S.ohem_loss(torch.rand(2, 3), torch.tensor([0, -2]), IDS, 1), r"targets must be in \[0, 3\)"),
        (lambda: S.ohem_loss(torch.rand(2, 3), torch.tensor([0.0, 1.0]), IDS, 1), "targets must have an integer dtype"),
        (lambda: S.ohem_loss(torch.rand(2, 3), torch.tensor([0, 1, 1]), IDS, 1), "targets must have length 2"),
        (lambda: S.ohem_loss(torch.rand(3), torch.tensor([0, 1]), IDS, 1), "logits must have 2 dimension"),
        (lambda: S.ohem_loss(torch.rand(2, 0), torch.tensor([-1, -1]), IDS, 1), "logits must have at least one class"),
        (lambda: S.ohem_loss(torch.rand(2, 3).long(), torch.tensor([0, 1]), IDS, 1), "logits must be a floating-point"),
        (lambda: S.ohem_loss(torch.full((2, 3), float("inf")), torch.tensor([0, 1]), IDS, 1), "logits must be finite"),
        (lambda: S.ohem_loss(torch.rand(2, 3), torch.tensor([0, 1]), IDS[:1], 1), "image_ids must have length 2"),
        (lambda: S.ohem_loss(torch.rand(2, 3), torch.tensor([0, 1]), IDS, -2), "per_image must be >= 0"),
        (lambda: S.ohem_loss(X, T, IDS, 1, ignore_index=None), "ignore_index must be an int"),
        (lambda: S.ohem_loss(X, T, IDS, 1, ignore_index=2**64), "ignore_index must fit in int64"),
        (lambda: S.ohem_loss(X, T, IDS, 1, nms_iou=0.5), "nms_iou needs boxes"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------------ strategies
def _boundary_hit(inputs):
    b, _, thr = inputs
    iou = oracles.box_iou(b, b)
    return 0 < thr < 1 and bool((iou == torch.tensor(thr, dtype=iou.dtype)).any())


def _empty_image_and_big_quota(inputs):
    batch, per_image, _ = inputs
    ids, valid = batch["image_ids"].tolist(), batch["valid"]
    if valid is None or not valid.any():
        return False
    empty = [i for i in set(ids) if not any(v for j, v in zip(ids, valid.tolist()) if j == i)]
    return bool(empty) and per_image > max(ids.count(i) for i in ids)


def _class_index_ignored(d):
    return 0 <= d["ignore_index"] < d["logits"].shape[1] and d["ignore_index"] in d["targets"].tolist()


@pytest.mark.parametrize(
    "strategy, condition",
    [
        (nms_inputs(), _boundary_hit),
        (nms_inputs(), lambda x: x[1].numel() > len(set(x[1].tolist())) and bool((x[0][:, :2] == x[0][:, 2:]).any())),
        (select_inputs(), _empty_image_and_big_quota),
        (detection_batches(), _class_index_ignored),
    ],
    ids=["IoU == threshold", "score ties and zero-area boxes", "image without valid RoI", "ignore_index is a class"],
)
def test_strategies_reach_the_edge_cases(strategy, condition):
    find(strategy, condition, settings=settings(max_examples=500, phases=[Phase.generate]))


# ------------------------------------------------------------------------------ mutants
def _suppress_at_equality(iou, thr):
    return iou >= thr


def _suppress_at_interior_equality(iou, thr):  # differs from the rule only at 0 < IoU == thr < 1
    return (iou > thr) | ((iou == thr) & (thr > 0) & (thr < 1))


def _ties_to_larger_index(scores):
    n = scores.shape[0]
    return (n - 1) - torch.sort(scores.flip(0) + 0, descending=True, stable=True).indices


def _compare_in_float64(iou, thr):  # the threshold not rounded to the IoU dtype (p/q recovered)
    return iou.double() > float(Fraction(thr.item()).limit_denominator(1000))


MUTANTS = [
    ("_suppresses", _suppress_at_equality),
    ("_suppresses", _suppress_at_interior_equality),
    ("_suppresses", _compare_in_float64),
    ("_visiting_order", _ties_to_larger_index),
]


@pytest.mark.parametrize("name, mutant", MUTANTS, ids=[m.__name__ for _, m in MUTANTS])
def test_mutants_are_caught(name, mutant, monkeypatch):
    monkeypatch.setattr(ohem, name, mutant)
    # Generation only (the first failing example is enough), with a fixed budget: each mutant
    # fell within 120 examples over random seeds, and within 50 under the derandomized profile.
    quick = settings(phases=[Phase.generate], report_multiple_bugs=False, max_examples=300)

    @quick
    @given(inputs=nms_inputs())
    def nms_property(inputs):
        check_nms(inputs, "cpu")

    @quick
    @given(inputs=select_inputs())
    def select_property(inputs):
        check_select(inputs, True, "cpu")

    for prop in (nms_property, select_property):
        with pytest.raises(AssertionError):
            prop()
