"""``make gpu-check`` without a GPU: it says why and runs nothing (the GPU run itself is measured, not tested)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu_check  # noqa: E402


def test_gpu_check_skips_cleanly_without_cuda(tmp_path):
    problem = gpu_check.cuda_problem()
    if problem is None:
        pytest.skip("a CUDA device is present: run `make gpu-check` itself")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"gpu-check skipped: {problem}. Nothing was run." and done.stderr == ""
    assert not (tmp_path / "out").exists()


def test_the_report_keeps_the_pytest_summary_and_the_tables():
    pytest_out = "....\n=========================== short test summary info ===========================\n" \
                 "SKIPPED [1] tests/x.py:3: no CUDA\n===== 41 passed, 1 skipped, 7 deselected in 12.3s =====\n"
    assert gpu_check._summary("pytest -m gpu", 0, pytest_out) == [
        "pytest -m gpu: exit 0", "  41 passed, 1 skipped, 7 deselected in 12.3s"]
    bench_out = "  256   ours  1.00 ms\n\n| B | method |\n|---:|---|\n| 256 | ours |\n\ntotal wall time 3 s\n"
    assert gpu_check._summary("bench", 1, bench_out) == [
        "bench: exit 1", "  | B | method |", "  |---:|---|", "  | 256 | ours |", "  total wall time 3 s"]
