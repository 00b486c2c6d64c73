"""Problem set 5 graded on each device: ada's independently written answers earn every point of
``positive_aware_negatives`` and ``proxy_anchor_loss`` (scale included) when the grader runs them
on the CPU, and on CUDA with ``-m gpu`` (outputs must stay on the inputs' device)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from grader.engine import ExerciseRun, LocalCaller
from grader.suites.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


def _ada():
    spec = importlib.util.spec_from_file_location("ada_sample", ROOT / "grader" / "samples" / "ada.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("exercise_id", ["positive_aware_negatives", "proxy_anchor_loss"])
def test_full_marks_on_the_device(exercise_id, device):
    fn = getattr(_ada(), exercise_id)
    result = ExerciseRun(REGISTRY[exercise_id], LocalCaller({exercise_id: fn}, device=device), examples=20).run()
    assert result.score == result.max_score == 10.0, {p.name: p.message for p in result.properties if not p.passed}
