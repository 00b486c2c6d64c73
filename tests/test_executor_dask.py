"""``hnm grade --executor dask``: the same files as the local pool, on a real LocalCluster."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.classrun import command as classrun

from grader import cli

from grader.classrun import executors

from grader.grading import submissions


distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "grader" / "samples"
HNM = [sys.executable, "-m", "grader.cli"]
EXAMPLES = 20
ASSIGNMENT = "ps2_batch_hard_weights"  # two of the exercises: the same check in half the time


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def subs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("subs")
    for name in ("ada.py", "cat.py", "eve.py"):
        shutil.copy(SAMPLES / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def local_files(subs, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("local") / "out"
    classrun.run(subs, out, workers=2, device="cpu", resume=False, examples=EXAMPLES, assignment=ASSIGNMENT)
    return files(out)


def test_dask_local_cluster_gives_the_local_executors_files(subs, local_files, tmp_path):
    out = tmp_path / "out"
    docs = classrun.run(subs, out, workers=2, device="cpu", resume=False, examples=EXAMPLES, assignment=ASSIGNMENT,
                        executor="dask")
    assert [d["student"] for d in docs] == ["ada", "cat", "eve"]
    assert {"report.html", "item_analysis.csv"} <= set(local_files)  # the class report too
    assert files(out) == local_files


def test_existing_cluster_through_the_cli_and_resume(subs, local_files, tmp_path):
    out = tmp_path / "out"
    for name, data in local_files.items():  # a run that stopped after two students
        if name not in ("results/cat.json", "feedback/cat.html", "grades.csv", "report.html", "item_analysis.csv"):
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)
    kept = (out / "results" / "ada.json").stat().st_mtime_ns
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        done = subprocess.run([*HNM, "grade", str(subs), "--out", str(out), "--examples", str(EXAMPLES),
                               "--device", "cpu", "--assignment", ASSIGNMENT, "--resume", "--executor", "dask",
                               "--scheduler", cluster.scheduler_address],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (out / "results" / "ada.json").stat().st_mtime_ns == kept  # not regraded
    assert files(out) == local_files


def test_a_worker_without_the_files_grades_a_copy(tmp_path):
    """No shared file system: the task carries the files; the report is the same."""
    folder = tmp_path / "subs"
    (folder / "kim" / "ps1").mkdir(parents=True)
    (folder / "kim" / "ps1" / "answers.py").write_text("def helper(:\n")
    (folder / "kim" / "quiz.json").write_text("{}")
    (sub,) = submissions.discover(folder)
    job = executors.Job(sub, submissions.digest(sub), "cpu", 5, ("batch_hard",))
    in_place = executors._grade_shipped(job.args(), job.digest, executors._payload(sub), False)
    moved = executors._grade_shipped(job.args(), "another digest", executors._payload(sub), False)
    assert moved == in_place and "ps1/answers.py" in moved["messages"][0] and "quiz" in moved


def test_executor_choices_are_checked(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown executor"):
        executors.make("ray")
    with pytest.raises(ValueError, match="needs the dask executor"):
        executors.make("local", scheduler="tcp://127.0.0.1:8786")
    assert cli.main(["grade", str(SAMPLES), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--scheduler needs --executor dask" in capsys.readouterr().err
