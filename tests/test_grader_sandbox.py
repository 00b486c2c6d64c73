"""The grader end to end: sandboxed workers, cheats, crashes, the sample class, the CLI."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.classrun import command as classrun

from grader.grading import pipeline as grading

from grader.grading import submissions

from grader.reports import class_report
from grader.suites.registry import EXERCISE_IDS, REGISTRY

from .test_class_report import assert_report_numbers

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "grader" / "samples"
# The class's maximum, from the registry (problem sets add exercises).
MAX_TOTAL = float(sum(p.points for ex in REGISTRY.values() for p in ex.properties))
# Exercises no sample student but ada attempts (ben..hal have no function for them; eve's stubs raise).
CHEATS = Path(__file__).resolve().parent / "cheats"
HNM = [sys.executable, "-m", "grader.cli"]
# `make test` distributes whole files (pytest-xdist --dist loadfile), so the session fixtures below
# (the sample class, the crowd of cheats) are built once, on the one worker that runs this file.


def _sleepers() -> set[str]:
    return set(subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True, text=True).stdout.split())


@pytest.fixture(scope="session")  # computed once per xdist worker even if modules interleave
def crowd(tmp_path_factory):
    """Every cheat and an honest student (ada) graded in one class run, and ada alone: the cheats'
    results, ada's files both ways, and the processes named "sleep 600" before and after."""
    tmp = tmp_path_factory.mktemp("crowd")
    alone, crowd = tmp / "alone", tmp / "crowd"
    alone.mkdir()
    shutil.copy(SAMPLES / "ada.py", alone / "ada.py")
    shutil.copytree(CHEATS, crowd)
    shutil.copy(SAMPLES / "ada.py", crowd / "ada.py")
    before = _sleepers()
    classrun.run(alone, tmp / "out1", workers=1, device="cpu", resume=False, examples=25)
    docs = classrun.run(crowd, tmp / "out2", workers=2, device="cpu", resume=False, examples=25)
    return {"docs": {d["student"]: d for d in docs}, "out1": tmp / "out1", "out2": tmp / "out2",
            "before": before, "after": _sleepers()}


@pytest.mark.parametrize("cheat", sorted(p.stem for p in CHEATS.glob("*.py")))
def test_cheats_earn_nothing(crowd, cheat):
    doc = crowd["docs"][cheat]
    earned = {e: x["score"] for e, x in doc["exercises"].items() if x["score"]}
    assert doc["total"] == 0.0, earned


@pytest.fixture(scope="session")
def sample_class(tmp_path_factory):
    """The bundled sample class graded as `make demo` grades it (100 examples, two workers)."""
    out = tmp_path_factory.mktemp("samples") / "out"
    docs = classrun.run(SAMPLES, out, workers=2, device="cpu", resume=False, examples=100)
    return {"docs": docs, "out": out, "by_student": {d["student"]: d for d in docs}}


def test_a_crash_or_hang_costs_only_that_exercise(sample_class):
    fay = sample_class["by_student"]["fay"]
    assert fay["exercises"]["batch_hard"]["score"] == 10.0
    assert "died (exit status 3)" in fay["exercises"]["semi_hard_negatives"]["message"]
    gus = sample_class["by_student"]["gus"]
    assert gus["exercises"]["pairwise_distances"]["score"] == 10.0
    assert gus["exercises"]["batch_hard"]["score"] == 0.0
    assert "did not finish within its time limit" in gus["exercises"]["batch_hard"]["message"]


def test_loop_version_loses_only_the_scale_property(sample_class):
    doc = sample_class["by_student"]["hal"]
    failed = [p["name"] for p in doc["exercises"]["semi_hard_negatives"]["properties"] if not p["passed"]]
    assert failed == ["scale"]
    assert "too slow" in doc["exercises"]["semi_hard_negatives"]["properties"][-1]["message"]


EXPECTED_TOTALS = {
    "ada": MAX_TOTAL,  # everything right, every exercise
    # inclusive semi-hard window; "+1 pixel" IoU (another formula: 0); NMS suppresses at IoU == threshold;
    # top-k ties to the larger index; the false-negative margin s_pos * (1 - m), wrong for negative scores
    "ben": 43.75,
    # NaN gradients at coincident points; self as positive; OHEM without NMS (0: another selection);
    # hard-negative InfoNCE in exp form (inf/NaN at low temperature)
    "cat": 22.0,
    "dan": 9.0,  # notebook: global-max normalisation underflows; batch-level OHEM loss, NaN when empty
    "eve": 0.0,  # the stubs
    "fay": 13.0,  # semi-hard kills its worker; IoU NaN for two zero-area boxes (NaN fails every rule it reaches)
    # batch-hard loops forever; NMS writes -inf into the caller's scores (and so never keeps a box scored -inf);
    # proxy anchor normalises the caller's proxies in place
    "gus": 29.0,
    "hal": 18.0,  # correct semi-hard and box IoU by Python loops (too slow at scale), nothing else
}


# The known mistakes the feedback names (grader.misconceptions), per student: exercise -> mistake.
EXPECTED_DIAGNOSES = {
    "ben": {"semi_hard_negatives": "inclusive_upper", "box_iou": "plus_one_pixel", "nms": "inclusive_threshold",
            "topk_negatives": "ties_to_larger_index", "positive_aware_negatives": "margin_sign"},
    "cat": {"batch_hard": "anchor_as_own_positive", "ohem_select": "no_nms", "hard_negative_infonce": "exp_overflow"},
    "dan": {"distance_weights": "global_max"},
}


def test_sample_class_grades_and_files(sample_class, tmp_path):
    out, docs = sample_class["out"], sample_class["docs"]
    assert {d["student"]: d["total"] for d in docs} == EXPECTED_TOTALS
    by_student = {d["student"]: d for d in docs}
    assert all(x["score"] == x["max_score"] for x in by_student["ada"]["exercises"].values())
    for exercise in by_student["ada"]["exercises"]:  # every exercise shows someone's typical mistake
        assert any(d["exercises"][exercise]["score"] < d["exercises"][exercise]["max_score"]
                   and "no function named" not in d["exercises"][exercise].get("message", "")
                   for d in docs if d["student"] != "ada"), exercise
    # ...with partial credit, but where the mistake is another algorithm, which the agreement gate scores 0
    # (cat's selection without NMS, dan's batch-level OHEM loss)
    partial = {e for e in by_student["ada"]["exercises"]
               if any(0 < d["exercises"][e]["score"] < d["exercises"][e]["max_score"] for d in docs)}
    assert partial == set(by_student["ada"]["exercises"]) - {"ohem_select", "ohem_loss"}
    lines = (out / "grades.csv").read_text().splitlines()
    assert lines[0] == ",".join(["student", *EXERCISE_IDS, "total", "max_total"])
    assert [line.split(",")[0] for line in lines[1:]] == sorted(EXPECTED_TOTALS)
    for student in EXPECTED_TOTALS:
        doc = json.loads((out / "results" / f"{student}.json").read_text())
        assert set(doc) >= {"student", "total", "max_total", "exercises"} and doc["max_total"] == MAX_TOTAL
        for ex in doc["exercises"].values():
            assert set(ex) >= {"score", "max_score", "properties"}
            for p in ex["properties"]:
                assert set(p) - {"diagnosis"} == {"name", "score", "max_score", "passed", "message", "counterexample"}
                assert "diagnosis" not in p or not p["passed"]
        named = {e: {p["diagnosis"]["name"] for p in ex["properties"] if "diagnosis" in p} for e, ex in doc["exercises"].items()}
        assert {e: n.pop() for e, n in named.items() if n and len(n) == 1} == EXPECTED_DIAGNOSES.get(student, {})
        assert all(len(n) <= 1 for n in named.values())
        html = (out / "feedback" / f"{student}.html").read_text()
        assert student in html
    ben = (out / "feedback" / "ben.html").read_text()
    assert "upper_bound_strict" in ben and "Minimal counterexample" in ben and "Expected (reference)" in ben
    # Counterexamples about the rule, through the worker: gradients, and inputs as the call left them.
    assert "Your gradient" in (out / "feedback" / "cat.html").read_text()
    assert "Your inputs after the call (modified in place)" in (out / "feedback" / "gus.html").read_text()
    # The class report: its numbers against the results files, and the README's figures of it fresh.
    assert_report_numbers(out)
    figures = ROOT / "docs" / "class-report"
    fresh = "stale: regenerate with `make docs-figures`"
    assert (out / class_report.CSV).read_bytes() == (figures / class_report.CSV).read_bytes(), fresh
    drawn = tmp_path / "figures"
    class_report.write_figures(class_report.read_results(out / "results")[0], drawn)
    assert sorted(p.name for p in drawn.glob("*.png")) == sorted(p.name for p in figures.glob("*.png")), fresh
    if (drawn / class_report.MATPLOTLIB).read_text() == (figures / class_report.MATPLOTLIB).read_text():
        for png in drawn.glob("*.png"):  # another matplotlib may draw other pixels: then the numbers above decide
            assert png.read_bytes() == (figures / png.name).read_bytes(), f"{png.name} {fresh}"


def test_grading_is_deterministic_across_runs_and_worker_counts(tmp_path):
    subset = tmp_path / "subs"
    subset.mkdir()
    for name in ("ben.py", "cat.py", "dan.ipynb"):
        shutil.copy(SAMPLES / name, subset / name)
    outputs = []
    for run, workers in enumerate((1, 2, 2)):
        out = tmp_path / f"out{run}"
        classrun.run(subset, out, workers=workers, device="cpu", resume=False, examples=20)
        outputs.append({p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
    assert {"report.html", "item_analysis.csv", "grades.csv", "results/ben.json"} <= set(outputs[0])
    assert outputs[0] == outputs[1] == outputs[2]


def test_resume_keeps_finished_students(tmp_path):
    subset = tmp_path / "subs"
    subset.mkdir()
    for name in ("eve.py", "hal.py"):
        shutil.copy(SAMPLES / name, subset / name)
    out = tmp_path / "out"
    classrun.run(subset, out, workers=1, device="cpu", resume=False, examples=20)
    first = (out / "results" / "hal.json").read_bytes()
    (out / "results" / "eve.json").unlink()
    marker = (out / "results" / "hal.json").stat().st_mtime_ns
    classrun.run(subset, out, workers=1, device="cpu", resume=True, examples=20)
    assert (out / "results" / "hal.json").stat().st_mtime_ns == marker  # not regraded
    assert (out / "results" / "eve.json").exists() and (out / "results" / "hal.json").read_bytes() == first


def test_submission_discovery(tmp_path):
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "alice.py").write_text("x = 1\n")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "ps1").mkdir()
    (tmp_path / "bob" / "ps1" / "answers.ipynb").write_text(json.dumps(_notebook()))
    subs = submissions.discover(tmp_path)
    assert [s.student for s in subs] == ["alice", "bob"]
    cells = submissions.cells(subs[1])
    assert [c[1] for c in cells] == ["print('scratch')", "def f():\n    pass  # %time 1\n    return 1"]
    (tmp_path / "alice.ipynb").write_text("{}")
    with pytest.raises(submissions.SubmissionError, match="duplicate student id 'alice'"):
        submissions.discover(tmp_path)


def _notebook() -> dict:
    import nbformat

    nb = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell("def f():\n    %time 1\n    return 1")
    answer.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "f", "schema_version": 3}
    test = nbformat.v4.new_code_cell("import grader\ngrader.check('batch_hard', f)")
    test.metadata["nbgrader"] = {"solution": False, "grade": True, "grade_id": "t", "points": 1, "schema_version": 3}
    nb.cells = [nbformat.v4.new_code_cell("print('scratch')"), answer, test]
    return nb


def _write(name: str, data: bytes):
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder

    return make


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing", "does not exist"),
        (lambda d: d, "no submissions"),
        (_write("a.py", b"\x00\x01binary"), None),
        (_write("b.ipynb", b"{not json"), None),
    ],
)
def test_bad_submissions_give_clear_messages(tmp_path, make, message):
    root = make(tmp_path)
    if message:
        with pytest.raises(submissions.SubmissionError, match=message):
            submissions.discover(root)
        return
    (sub,) = submissions.discover(root)
    doc = grading.grade(sub, examples=5)
    assert doc["total"] == 0.0
    assert "could not be read" in doc["exercises"]["batch_hard"]["properties"][0]["message"]


def test_cli_grade_check_and_errors(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(SAMPLES / "ada.py", subs / "ada.py")
    done = subprocess.run([*HNM, "grade", str(subs), "--out", str(tmp_path / "out"), "--examples", "10"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "ada" in done.stdout and f"{MAX_TOTAL:g}/{MAX_TOTAL:g}" in done.stdout
    check = subprocess.run([*HNM, "check", "batch_hard", str(SAMPLES / "cat.py"), "--examples", "20"],
                           capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 1 and "[FAIL] positive_is_positive" in check.stdout
    missing = subprocess.run([*HNM, "grade", str(tmp_path / "nope"), "--out", str(tmp_path / "o")],
                             capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_other_students_get_exactly_their_own_scores(crowd):
    """Cheats and crashes in the same run change nothing for an honest student."""
    assert (crowd["out1"] / "results" / "ada.json").read_bytes() == (crowd["out2"] / "results" / "ada.json").read_bytes()
    assert crowd["docs"]["ada"]["total"] == MAX_TOTAL


def test_no_process_outlives_its_worker(crowd):
    """resource_bombs.py starts a detached `sleep 600` in a new session: it dies with its worker."""
    assert crowd["docs"]["resource_bombs"]["total"] == 0.0
    assert crowd["after"] <= crowd["before"], "a spawned process survived"


def test_the_kernel_confinement_is_what_stops_reference_theft():
    from grader.sandbox.parent import Limits

    for cheat in ("imports_reference.py", "reads_reference.py"):
        sub = submissions.single(CHEATS / cheat)
        open_door = grading.grade(sub, examples=20, only=("batch_hard",), limits=Limits(isolate=False))
        assert open_door["total"] == 10.0, cheat  # without confinement the cheat works...
        assert grading.grade(sub, examples=20, only=("batch_hard",))["total"] == 0.0  # ...with it, nothing


def test_kill_9_mid_run_then_resume_gives_the_uninterrupted_files(tmp_path):
    import os
    import signal
    import time

    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("ada.py", "cat.py", "eve.py", "hal.py"):
        shutil.copy(SAMPLES / name, subs / name)
    args = ["grade", str(subs), "--workers", "1", "--examples", "15", "--device", "cpu"]
    subprocess.run([*HNM, *args, "--out", str(tmp_path / "clean")], check=True, capture_output=True, cwd=ROOT)
    victim = subprocess.Popen([*HNM, *args, "--out", str(tmp_path / "cut")], cwd=ROOT, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = tmp_path / "cut" / "results"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    finished = len(list(results.glob("*.json")))
    assert 1 <= finished < 4 and not (tmp_path / "cut" / "grades.csv").exists()
    assert not [p for p in results.iterdir() if p.name.startswith(".")], "a half-written file was left"
    subprocess.run([*HNM, *args, "--out", str(tmp_path / "cut"), "--resume"], check=True, capture_output=True, cwd=ROOT)
    clean = {p.relative_to(tmp_path / "clean"): p.read_bytes() for p in (tmp_path / "clean").rglob("*") if p.is_file()}
    cut = {p.relative_to(tmp_path / "cut"): p.read_bytes() for p in (tmp_path / "cut").rglob("*") if p.is_file()}
    assert cut == clean


def test_output_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("")
    done = subprocess.run([*HNM, "grade", str(SAMPLES), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "is a file" in done.stderr


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def test_a_killed_grading_process_is_replaced_and_the_class_still_completes(tmp_path):
    """A grading process that dies mid-student (OOM killer, an operator's kill -9) breaks the pool;
    a new pool grades what was left, and every file is as if nothing had happened."""
    import os
    import signal
    import threading
    import time

    subset = tmp_path / "subs"
    subset.mkdir()
    for name in ("ben.py", "cat.py", "eve.py"):
        shutil.copy(SAMPLES / name, subset / name)
    classrun.run(subset, tmp_path / "calm", workers=1, device="cpu", resume=False, examples=20)
    killed: list[int] = []
    done = threading.Event()

    def kill_a_busy_grading_process():
        while not done.is_set() and not killed:
            for child in _children(os.getpid()):
                if _children(child):  # it has started a student's worker: mid-student
                    os.kill(child, signal.SIGKILL)
                    killed.append(child)
                    break
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_grading_process)
    killer.start()
    try:
        classrun.run(subset, tmp_path / "killed", workers=1, device="cpu", resume=False, examples=20)
    finally:
        done.set()
        killer.join()
    assert killed, "no grading process was seen to kill"
    files = lambda out: {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}  # noqa: E731
    assert files(tmp_path / "killed") == files(tmp_path / "calm")
