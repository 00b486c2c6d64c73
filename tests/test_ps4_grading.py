"""Problem set 4 graded on each device: ada's independently written answers earn every point of
``hard_negative_infonce`` and ``topk_negatives`` (scale included) when the grader runs them on the
CPU, and on CUDA with ``-m gpu`` (outputs must stay on the inputs' device)."""

from __future__ import annotations

import pytest
import torch

from grader.engine import ExerciseRun, LocalCaller
from grader.suites.registry import REGISTRY

from .test_ps5_grading import _ada

torch.set_num_threads(1)


@pytest.mark.parametrize("exercise_id", ["hard_negative_infonce", "topk_negatives"])
def test_full_marks_on_the_device(exercise_id, device):
    fn = getattr(_ada(), exercise_id)
    result = ExerciseRun(REGISTRY[exercise_id], LocalCaller({exercise_id: fn}, device=device), examples=20).run()
    assert result.score == result.max_score == 10.0, {p.name: p.message for p in result.properties if not p.passed}
