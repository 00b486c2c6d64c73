"""``hnm export gradescope``: the archive, and run_autograder in a folder laid out like
Gradescope's container, checked against a JSON schema of Gradescope's results format."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "grader" / "samples"
ASSIGNMENT = "ps2_batch_hard_weights"  # batch_hard (10) + distance_weights (10): fast, and enough
POINTS = 20.0
EXAMPLES = 10

# Gradescope's results.json (gradescope-autograders.readthedocs.io, "Autograder Specifications"):
# every field is optional except a score, on the top level or on every test.
_VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
_FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
RESULTS_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["score", "output", "tests"],
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number", "minimum": 0},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": _FORMAT,
        "test_output_format": _FORMAT,
        "test_name_format": _FORMAT,
        "visibility": _VISIBILITY,
        "stdout_visibility": _VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "number", "score", "max_score", "status", "visibility", "output", "output_format"],
                "additionalProperties": False,
                "properties": {
                    "score": {"type": "number", "minimum": 0},
                    "max_score": {"type": "number", "minimum": 0},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string", "minLength": 1},
                    "name_format": _FORMAT,
                    "number": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)*$"},
                    "output": {"type": "string"},
                    "output_format": _FORMAT,
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": _VISIBILITY,
                    "extra_data": {"type": "object"},
                },
            },
        },
        "leaderboard": {
            "type": "array",
            "items": {"type": "object", "required": ["name", "value"],
                      "properties": {"name": {"type": "string"}, "order": {"enum": ["asc", "desc"]}}},
        },
    },
}


def validate(doc: dict) -> None:
    import jsonschema  # installed with nbformat

    jsonschema.validate(doc, RESULTS_SCHEMA)
    for t in doc["tests"]:
        assert t["score"] <= t["max_score"]
        assert (t["status"] == "passed") == (t["score"] == t["max_score"]), t["name"]
    assert doc["score"] == pytest.approx(sum(t["score"] for t in doc["tests"]))


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "autograder.zip"
    assert cli.main(["export", "gradescope", str(out), "--examples", str(EXAMPLES), "--assignment", ASSIGNMENT]) == 0
    return out


def container(archive: Path, tmp_path: Path, files: dict[str, bytes]) -> Path:
    """/autograder as Gradescope lays it out: source/ (the unzipped archive), run_autograder
    copied beside it, submission/ with the student's files, results/."""
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(archive) as z:
        z.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    for name, data in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_bytes(data)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"email": "ada@example.edu", "sid": "ada"}]}))
    return root


def run_autograder(root: Path, python: str = sys.executable) -> tuple[subprocess.CompletedProcess, dict]:
    env = {**os.environ, "HNM_GRADESCOPE_ROOT": str(root), "HNM_GRADESCOPE_PYTHON": python,
           "HNM_GRADESCOPE_USER": "nobody"}  # an account that exists: the test creates none
    done = subprocess.run([str(root / "run_autograder")], capture_output=True, text=True, env=env, timeout=300)
    return done, json.loads((root / "results" / "results.json").read_text())


def test_the_archive(archive, tmp_path):
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
        setup = z.read("setup.sh").decode()
        run = z.read("run_autograder").decode()
        config = json.loads(z.read("hnm-autograder.json"))
    assert names[:2] == ["setup.sh", "run_autograder"] and modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert {"hnm/pyproject.toml", "hnm/grader/sandbox/worker.py", "hnm/grader/grading/pipeline.py", "hnm/solutions/__init__.py"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/." in n]
    assert config == {"examples": EXAMPLES, "assignment": ASSIGNMENT, "quiz": False, "user": "hnm-student", "device": "cpu"}
    torch_line = setup.index("pip install torch==2.13.0 --index-url")
    assert torch_line < setup.index('pip install "$SOURCE/hnm"')  # torch first, then the package
    assert "useradd --system" in setup and "-m grader.exports.gradescope --autograde" in run
    for script in ("setup.sh", "run_autograder"):
        (tmp_path / script).write_text(setup if script == "setup.sh" else run)
        assert subprocess.run(["bash", "-n", str(tmp_path / script)]).returncode == 0
    again = tmp_path / "again.zip"
    assert cli.main(["export", "gradescope", str(again), "--examples", str(EXAMPLES), "--assignment", ASSIGNMENT]) == 0
    assert again.read_bytes() == archive.read_bytes()  # deterministic


def test_run_autograder_grades_a_correct_submission(archive, tmp_path):
    root = container(archive, tmp_path, {"ada.py": (SAMPLES / "ada.py").read_bytes()})
    done, results = run_autograder(root)
    assert done.returncode == 0, done.stdout + done.stderr
    validate(results)
    assert results["score"] == POINTS and "Total: 20 / 20" in results["output"]
    tests = results["tests"]
    assert [t["number"] for t in tests[:3]] == ["1.1", "1.2", "1.3"] and tests[-1]["number"].startswith("2.")
    assert {t["name"].split(":")[0] for t in tests} == {"batch_hard", "distance_weights"}
    assert all(t["status"] == "passed" and t["output_format"] == "md" and "**Rule:**" in t["output"] for t in tests)
    hidden = {t["name"]: t["visibility"] for t in tests if t["visibility"] != "visible"}
    assert hidden == {"batch_hard: matches_reference": "after_published",
                      "distance_weights: matches_reference": "after_published"}


def test_a_wrong_submission_shows_the_rule_and_the_counterexample(archive, tmp_path):
    root = container(archive, tmp_path, {"answers/cat.py": (SAMPLES / "cat.py").read_bytes()})
    done, results = run_autograder(root)
    assert done.returncode == 0, done.stdout + done.stderr
    validate(results)
    failed = {t["name"]: t for t in results["tests"] if t["status"] == "failed"}
    positive = failed["batch_hard: positive_is_positive"]
    assert positive["score"] == 0 and "**Failed:**" in positive["output"]
    assert "Minimal counterexample" in positive["output"] and "**Expected (reference)**" in positive["output"]
    assert "no function named distance_weights" in failed["distance_weights: shape_dtype_device"]["output"]


@pytest.mark.parametrize("files, says", [
    ({"notes.txt": b"my answers are in my head"}, "no .py file or notebook (.ipynb) was found in it (received: notes.txt)"),
    ({}, "no .py file or notebook (.ipynb) was found in it (it is empty)"),
    ({"answers.py": b"\x00\x01\x02"}, "answers.py is a binary file"),
    ({"answers.ipynb": b"{not a notebook"}, "answers.ipynb is not a readable notebook"),
])
def test_an_unreadable_submission_gets_a_clear_message(archive, tmp_path, files, says):
    root = container(archive, tmp_path, files)
    done, results = run_autograder(root)
    assert done.returncode == 0, done.stdout + done.stderr
    validate(results)
    assert results["output"].startswith("**Your submission could not be read:**") and says in results["output"]
    assert results["score"] == 0 and sum(t["max_score"] for t in results["tests"]) == POINTS


def test_a_broken_installation_still_writes_results(archive, tmp_path):
    root = container(archive, tmp_path, {"ada.py": b"x = 1\n"})
    done, results = run_autograder(root, python=shutil.which("false") or "/bin/false")
    assert done.returncode != 0
    validate(results)
    assert results["score"] == 0 and "could not run" in results["output"]
    (root / "source" / "hnm-autograder.json").write_text("{")  # the grader starts, then fails
    done, results = run_autograder(root)
    assert done.returncode == 1 and "JSONDecodeError" in done.stderr
    validate(results)
    assert results["score"] == 0 and "internal error" in results["output"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can switch accounts")
def test_student_code_runs_unprivileged_when_the_grader_is_root(archive, tmp_path):
    """A submission that is only complete when it does not run as root."""
    import pwd

    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' account")
    code = (SAMPLES / "ada.py").read_bytes() + b"\nimport os\nif os.geteuid() == 0:\n    del batch_hard\n"
    root = container(archive, tmp_path, {"ada.py": code})
    done, results = run_autograder(root)
    if "WARNING" in done.stdout:
        pytest.skip(f"this machine cannot switch accounts: {done.stdout.strip()}")
    assert "student code runs as nobody" in done.stdout
    validate(results)
    assert results["score"] == POINTS  # batch_hard was there: the code did not run as root
    mode = stat.S_IMODE((root / "results" / "results.json").stat().st_mode)
    assert (root / "results" / "results.json").stat().st_uid == 0 and not mode & 0o022
