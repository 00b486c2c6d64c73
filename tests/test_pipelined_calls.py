"""The engine sends a worker the next batch of calls before it judges the last one (so that the
two processes compute at once), and every report is the one of one batch at a time: the same
cache, the same answers, the same counterexamples, also when a batch sent ahead is never reached
or hangs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.engine import ExerciseRun, Hang, LocalCaller, callers
from grader.engine import examples as drawing
from grader.grading import pipeline as grading
from grader.grading import submissions
from grader.sandbox.parent import Worker

from .test_engine import toy

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "grader" / "samples"


def _both(monkeypatch, path: Path, **kwargs) -> tuple[dict, dict]:
    sub = submissions.single(path)
    ahead = grading.grade(sub, **kwargs)
    monkeypatch.setattr(callers.WorkerCaller, "concurrent", False)
    one_at_a_time = grading.grade(sub, **kwargs)
    monkeypatch.undo()
    return ahead, one_at_a_time


@pytest.mark.parametrize("student", ["cat", "gus"])
def test_sending_ahead_changes_no_report(monkeypatch, student):
    """cat and gus fail rules of several exercises (shrunk counterexamples, named mistakes)."""
    ahead, one_at_a_time = _both(monkeypatch, SAMPLES / f"{student}.py", examples=30,
                                 only=("semi_hard_negatives", "batch_hard", "box_iou", "nms"))
    assert json.dumps(ahead, sort_keys=True) == json.dumps(one_at_a_time, sort_keys=True)


class Batches(LocalCaller):
    """In process, but batches go through send_many as with a worker; every batch after the
    first hangs."""

    def __init__(self, fn, concurrent: bool):
        super().__init__({"doubled": fn})
        self.concurrent, self.batches = concurrent, []

    def send_many(self, fn, calls):
        self.batches.append([drawing.key(a) for a, _, _ in calls])
        number = len(self.batches)

        def result():
            if number > 1:
                raise Hang("the batch did not come back")
            return [LocalCaller.call(self, fn, a, g, u) for a, g, u in calls]

        return result

    def call_many(self, fn, calls):
        return self.send_many(fn, calls)()


def test_a_batch_sent_ahead_that_the_screening_never_reaches_changes_nothing_even_if_it_hangs():
    """Both rules fail on the first example, so the batch sent ahead is read and dropped; it hung,
    and the report is still the one of one batch at a time."""
    wrong = lambda x: (x + 1).float()  # noqa: E731 - neither int64 nor twice the input
    ahead, alone = Batches(wrong, concurrent=True), Batches(wrong, concurrent=False)
    with_ahead = ExerciseRun(toy(), ahead, 30).run()
    one_at_a_time = ExerciseRun(toy(), alone, 30).run()
    assert with_ahead == one_at_a_time and with_ahead.score == 0
    assert len(alone.batches) == 1 and len(ahead.batches) == 2  # the second was sent ahead, then dropped


def test_one_request_waits_for_its_answer_at_a_time():
    worker = Worker()
    try:
        caller = callers.WorkerCaller(worker, [submissions.STAND_IN, ("<t>", "def f(x):\n    return x + 1\n")])
        assert caller.load()["defined"] == ["f"]
        import torch

        result = caller.send_many("f", [([torch.tensor([1])], None, None), ([torch.tensor([2])], None, None)])
        with pytest.raises(RuntimeError, match="already waiting"):
            worker.send({"op": "signature", "fn": "f"})
        # A request made meanwhile first reads the batch's answer, and keeps it for its sender.
        assert [p[0] for p in caller.signature("f")] == ["x"]
        assert [r.value.tolist() for r in result()] == [[2], [3]]
        assert [r.value.tolist() for r in result()] == [[2], [3]]  # read once, kept
    finally:
        worker.stop()
