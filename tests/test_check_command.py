"""``hnm check`` is fast without judging differently: its worker starts before torch is imported,
the public seed's examples are kept on disk between runs (and never a secret seed's), and a
kept file that is stale, corrupt or edited is drawn afresh.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.engine import SEED, ExerciseRun
from grader.engine import examples as drawing
from grader.engine.example_store import Store
from grader.suites.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "grader" / "samples"
HNM = [sys.executable, "-m", "grader.cli"]


def _check(tmp_path: Path, exercise: str, sample: str, *extra: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return subprocess.run([*HNM, "check", exercise, str(SAMPLES / sample), *extra],
                          capture_output=True, text=True, cwd=ROOT, env=env)


def test_a_second_check_reads_the_kept_examples_and_prints_the_same_report(tmp_path):
    first = _check(tmp_path, "batch_hard", "cat.py", "--examples", "20")
    kept = tmp_path / "cache" / "hnm-course" / "examples" / "batch_hard.json"
    assert first.returncode == 1 and "[FAIL]" in first.stdout and kept.is_file()
    written = kept.stat().st_mtime_ns
    second = _check(tmp_path, "batch_hard", "cat.py", "--examples", "20")
    assert (second.returncode, second.stdout) == (first.returncode, first.stdout)
    assert kept.stat().st_mtime_ns == written  # read, not drawn and written again


def test_the_worker_starts_before_the_grading_process_imports_torch(tmp_path):
    code = (
        "import sys\n"
        "from grader.sandbox import parent\n"
        "launch = parent.Worker.launch\n"
        "def spy(self):\n"
        "    print('torch loaded at launch:', 'torch' in sys.modules, flush=True)\n"
        "    launch(self)\n"
        "parent.Worker.launch = spy\n"
        "from grader import cli\n"
        f"cli.main(['check', 'box_iou', {str(SAMPLES / 'ada.py')!r}, '--examples', '5'])\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "torch loaded at launch: False"
    assert "box_iou: 10 / 10 points" in done.stdout


def _wanted(exercise_id: str, examples: int):
    return ExerciseRun(REGISTRY[exercise_id], None, examples).wanted()


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(drawing, "_drawn", type(drawing._drawn)())
    kept = Store(tmp_path / "examples")
    drawing.use_store(kept)
    yield kept
    drawing.use_store(None)


def _no_drawing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("drew examples instead of reading the kept ones")

    monkeypatch.setattr(drawing, "_drawn", type(drawing._drawn)())
    monkeypatch.setattr(drawing, "run_hypothesis", refuse)


def test_kept_examples_are_exactly_the_drawn_ones(store, monkeypatch):
    ex = REGISTRY["semi_hard_negatives"]
    wanted = _wanted(ex.id, 12)
    drawn = drawing.draw_all(ex.id, ex.reference, wanted, SEED)
    _no_drawing(monkeypatch)
    read = drawing.draw_all(ex.id, ex.reference, wanted, SEED)
    assert [d.keys for d in read] == [d.keys for d in drawn]
    assert [[drawing.key(a) for a in d.examples] for d in read] == [d.keys for d in drawn]


def test_a_secret_seed_is_never_kept(store):
    ex = REGISTRY["box_iou"]
    drawing.draw_all(ex.id, ex.reference, _wanted(ex.id, 6), SEED + 12345)
    assert not store.folder.exists() or not any(store.folder.iterdir())


@pytest.mark.parametrize("damage", ["truncated", "other code", "edited example", "other counts"])
def test_an_unusable_file_is_drawn_afresh(store, monkeypatch, damage):
    ex = REGISTRY["box_iou"]
    wanted = _wanted(ex.id, 6)
    drawn = drawing.draw_all(ex.id, ex.reference, wanted, SEED)
    path = store.folder / "box_iou.json"
    original = json.loads(path.read_text())
    data = json.loads(path.read_text())
    if damage == "truncated":
        path.write_text(path.read_text()[: len(path.read_text()) // 2])
    elif damage == "other code":
        data["fingerprint"] = "0" * 64
        path.write_text(json.dumps(data))
    elif damage == "edited example":  # the stored bytes no longer encode what they decode to
        data["draws"][-1][0] = data["draws"][-1][0].replace('"kind":"list"', '"kind":"list" ', 1)
        assert data != original
        path.write_text(json.dumps(data))
    else:
        wanted = [(s, n + 1) for s, n in wanted]
    monkeypatch.setattr(drawing, "_drawn", type(drawing._drawn)())
    again = drawing.draw_all(ex.id, ex.reference, wanted, SEED)
    now = json.loads(path.read_text())
    if damage == "other counts":
        assert now["fingerprint"] != original["fingerprint"]
    else:
        assert [d.keys for d in again] == [d.keys for d in drawn] and now == original
    _no_drawing(monkeypatch)
    assert [d.keys for d in drawing.draw_all(ex.id, ex.reference, wanted, SEED)] == [d.keys for d in again]


def test_draws_do_not_depend_on_hypothesis_plugins():
    """`hnm` leaves Hypothesis's entry-point plugins unloaded; this process (pytest) loads them."""
    ex = REGISTRY["hard_negative_infonce"]
    here = [d.keys for d in drawing.draw_all(ex.id, ex.reference, _wanted(ex.id, 8), SEED)]
    code = (
        "import sys, json; from tests.test_check_command import _wanted; from grader.engine import SEED;"
        "from grader.engine import examples as d; from grader.suites.registry import REGISTRY;"
        "ex = REGISTRY['hard_negative_infonce'];"
        "print(json.dumps([[k.decode() for k in x.keys] for x in d.draw_all(ex.id, ex.reference, _wanted(ex.id, 8), SEED)]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "HYPOTHESIS_NO_PLUGINS": "1"}, check=True)
    assert json.loads(done.stdout) == [[k.decode() for k in ks] for ks in here]


def test_a_worker_launched_for_another_device_is_replaced(tmp_path):
    from grader.grading import pipeline, submissions
    from grader.sandbox.parent import Worker

    guessed = Worker("cuda")
    guessed.launch()
    doc = pipeline.grade(submissions.single(SAMPLES / "ada.py"), device="cpu", examples=5, only=("box_iou",),
                         worker=guessed)
    assert guessed.proc is None and doc["exercises"]["box_iou"]["score"] == REGISTRY["box_iou"].max_score
