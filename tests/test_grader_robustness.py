"""The trusted side never trusts a shape: replies, files and failures of one student stay that
student's problem (issue 19, "total fault containment"), and --resume trusts only signed results."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import doctor
from grader.classrun import command as classrun
from grader.classrun import signing
from grader.grading import pipeline as grading
from grader.grading import submissions
from grader.sandbox import codec, confine
from grader.sandbox.parent import IsolationUnavailable, malformed

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "grader" / "samples"

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["__tensor__", "__seq__", "__dict__", "__float__", "__rejected__", "kind", "dtype",
                         "shape", "data", "device", "x"]), inner, max_size=4),
    max_leaves=20,
)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(_json)
def test_decode_accepts_plain_data_or_rejects_it_never_anything_else(data):
    try:
        codec.decode(data)
    except codec.Rejected:
        pass


def test_decode_rejects_deep_nesting_huge_tensors_and_lying_shapes():
    deep = 1
    for _ in range(codec.MAX_DEPTH + 5):
        deep = {"__seq__": [deep]}
    with pytest.raises(codec.Rejected, match="nested"):
        codec.decode(deep)
    huge = {"__tensor__": {"dtype": "float32", "shape": [1 << 20, 1 << 20], "data": ""}}
    with pytest.raises(codec.Rejected, match="elements"):
        codec.decode(huge)
    lying = {"__tensor__": {"dtype": "int64", "shape": [4], "data": "AAAA" * 1000}}
    with pytest.raises(codec.Rejected, match="does not match"):
        codec.decode(lying)
    with pytest.raises(ValueError):
        codec.loads(b"[" * 100000 + b"]" * 100000)


def _packed(message, blob) -> bytes:
    """What the worker writes for ``message``, without the leading length the reader strips."""
    return b"".join(bytes(part) for part in codec.pack(message, blob))[8:]


def test_a_packed_reply_rebuilds_every_tensor_bit_for_bit():
    values = [torch.arange(12, dtype=torch.float32).reshape(3, 4) / 7, torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
              torch.zeros(0, 5, dtype=torch.int64), torch.tensor(True), (torch.tensor([3], dtype=torch.uint8), "x")]
    blob = codec.Blob()
    reply = {"ok": True, "value": codec.encode(values, blob=blob)}
    assert "data" not in json.dumps(reply["value"])  # the bytes follow the JSON, not base64 inside it
    got = codec.decode(codec.unpack(_packed(reply, blob))["value"])
    want = codec.decode(codec.encode(values))  # the base64 form, as before
    for a, b in zip(got[:4] + list(got[4][:1]), want[:4] + list(want[4][:1])):
        assert a.dtype == b.dtype and a.shape == b.shape and a.view(-1).view(torch.uint8).tolist() == b.view(-1).view(torch.uint8).tolist()
    assert got[4][1] == "x"


@pytest.mark.parametrize("ref", [[0, 1000], [-1, 8], [8, 8], "AAAA", [0], [0, 8, 1], [True, 8], [0.0, 8]])
def test_a_blob_reference_outside_the_bytes_or_malformed_rejects_that_tensor_only(ref):
    blob = codec.Blob()
    value = codec.encode([torch.ones(2, dtype=torch.float64)], blob=blob)  # 16 bytes after the JSON
    value["__seq__"][0]["__tensor__"]["blob"] = ref
    reply = codec.unpack(_packed({"ok": True, "value": value, "n": 1}, blob))
    assert reply["n"] == 1
    with pytest.raises(codec.Rejected, match="does not match"):
        codec.decode(reply["value"])


def test_a_message_whose_header_lies_is_malformed_and_json_cannot_forge_a_blob():
    with pytest.raises(ValueError):
        codec.unpack(b"\x00" * 4)
    with pytest.raises(ValueError):
        codec.unpack((1 << 40).to_bytes(8, "big") + b"{}")
    with pytest.raises(ValueError):  # the old form (JSON right after the length) is refused as a whole
        codec.unpack(b'{"ok": true, "value": 1}')
    text = json.dumps({"value": {"__tensor__": {"dtype": "uint8", "shape": [2], "blob": "AA=="}}}).encode()
    forged = codec.unpack(len(text).to_bytes(8, "big") + text + b"\x01\x02")
    with pytest.raises(codec.Rejected):  # a blob written as text in the JSON is no blob
        codec.decode(forged["value"])


@pytest.mark.parametrize("op, reply, ok", [
    ("load", {"ok": True, "errors": [], "defined": ["f"]}, True),
    ("load", {"ok": True, "errors": "x", "defined": ["f"]}, False),
    ("signature", {"ok": True, "params": [["a", "POSITIONAL_OR_KEYWORD", False]]}, True),
    ("signature", {"ok": True, "params": [["a", 1, False]]}, False),
    ("call", {"ok": True, "value": None, "mutated": [0]}, True),
    ("call", {"ok": True, "value": None, "mutated": "all"}, False),
    ("call", {"ok": True}, False),
    ("call", {"ok": False, "error": {"nested": 1}}, False),
    ("call", {"ok": "yes", "value": 1}, False),
    ("scale", {"ok": True, "summary": {"tensor": "int64", "shape": [3], "device": "cpu"}}, True),
    ("scale", {"ok": True, "summary": {"tensor": "int64", "shape": "big", "device": "cpu"}}, False),
    ("call", {"ok": True, "value": None, "mutated": [0], "after": {"0": None}}, True),
    ("call", {"ok": True, "value": None, "mutated": [0], "after": {"../x": None}}, False),
    ("call", {"ok": True, "value": None, "mutated": [0], "after": ["not", "a", "dict"]}, False),
    ("scale_value", {"ok": True, "value": None}, True),
    ("scale_value", {"ok": True}, False),
])
def test_every_reply_is_checked_against_its_schema(op, reply, ok):
    assert (malformed(op, reply) is None) == ok


def test_a_batch_of_replies_must_answer_every_call_with_a_valid_reply():
    good = {"ok": True, "value": None, "mutated": []}
    assert malformed("calls", {"ok": True, "replies": [good, good]}, expected_items=2) is None
    assert malformed("calls", {"ok": True, "replies": [good]}, expected_items=2)  # one call left unanswered
    assert malformed("calls", {"ok": True, "replies": [good, good, good]}, expected_items=2)  # an extra one
    assert malformed("calls", {"ok": True, "replies": [good, {"ok": True}]}, expected_items=2)  # no value
    assert malformed("calls", {"ok": True, "replies": [good, "forged"]}, expected_items=2)
    assert malformed("calls", {"ok": True, "replies": "all fine"}, expected_items=2)


def test_odd_entries_are_skipped_and_reported_never_fatal(tmp_path):
    (tmp_path / "ada.py").write_bytes((SAMPLES / "ada.py").read_bytes())
    outside = tmp_path.parent / f"{tmp_path.name}-outside.py"
    outside.write_text("SECRET = 1\n")
    (tmp_path / "link.py").symlink_to(outside)
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "answers.py").write_text("x = 1\n")
    (tmp_path / "bob" / "stolen.py").symlink_to(outside)
    os.mkfifo(tmp_path / "bob" / "pipe.py")
    (tmp_path / os.fsdecode(b"caf\xe9.py")).write_text("x = 1\n")
    (tmp_path / "=cmd.py").write_text("x = 1\n")
    skipped: list[str] = []
    subs = submissions.discover(tmp_path, skipped)
    assert [s.student for s in subs] == ["ada", "bob"]
    assert [f.name for f in subs[1].files] == ["answers.py"]
    assert len(skipped) == 4 and any("symbolic link" in s for s in skipped)
    with pytest.raises(submissions.SubmissionError, match="not a regular file"):
        submissions.read_bytes(tmp_path / "bob" / "pipe.py")
    with pytest.raises(submissions.SubmissionError, match="cannot be read"):
        submissions.read_bytes(tmp_path / "link.py")


def test_malformed_quiz_files_and_notebook_metadata_are_that_students_error(tmp_path):
    (tmp_path / "deep.py").write_text("x = 1\n")
    (tmp_path / "deep.quiz.json").write_text("[" * 100000 + "]" * 100000)
    (tmp_path / "listy.py").write_text("x = 1\n")
    (tmp_path / "listy.quiz.json").write_text("[1, 2]")
    nb = json.loads((SAMPLES / "dan.ipynb").read_text())
    for cell in nb["cells"]:
        cell["metadata"]["nbgrader"] = ["not", "a", "dict"]
    (tmp_path / "meta.ipynb").write_text(json.dumps(nb))
    for cell in nb["cells"]:
        cell["metadata"] = ["not", "a", "dict"]
    (tmp_path / "listmeta.ipynb").write_text(json.dumps(nb))
    by_id = {s.student: s for s in submissions.discover(tmp_path)}
    from grader.quiz.grading import grade_submission

    assert "not usable JSON" in grade_submission(by_id["deep"], None)["error"]
    assert "JSON object" in grade_submission(by_id["listy"], None)["error"]
    assert submissions.cells(by_id["meta"])  # nbgrader metadata that is not a dict is no metadata
    with pytest.raises(submissions.SubmissionError, match="not a readable notebook"):
        submissions.cells(by_id["listmeta"])  # which grading turns into this student's zero, with the reason


def test_an_exception_while_grading_is_that_students_result(monkeypatch):
    from grader.engine import ExerciseRun

    def broken(self):
        raise RecursionError("a check went wrong")

    monkeypatch.setattr(ExerciseRun, "run", broken)
    doc = grading.grade(submissions.single(SAMPLES / "ada.py"), examples=3, only=("batch_hard", "pairwise_distances"))
    assert doc["total"] == 0.0
    for ex in doc["exercises"].values():
        assert "internal grading error: RecursionError: a check went wrong" in ex["properties"][0]["message"]


def test_resume_trusts_only_results_this_grader_signed(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(SAMPLES / "eve.py", subs / "eve.py")
    out = tmp_path / "out"
    secret = b"robustness-test-course-secret-0123"
    classrun.run(subs, out, workers=1, device="cpu", resume=False, examples=3, secret=secret)
    path = out / "results" / "eve.json"
    honest = path.read_bytes()
    key = signing.results_key(secret)
    assert signing.verified(path, key) is not None
    forged = json.loads(honest)
    forged["total"] = 80.0
    path.write_text(json.dumps(forged))  # what a student who could write OUT would plant
    assert signing.verified(path, key) is None
    classrun.run(subs, out, workers=1, device="cpu", resume=True, examples=3, secret=secret)
    assert path.read_bytes() == honest  # regraded, not trusted
    marker = path.stat().st_mtime_ns
    classrun.run(subs, out, workers=1, device="cpu", resume=True, examples=3, secret=secret)
    assert path.stat().st_mtime_ns == marker  # its own signed file is kept
    assert signing.verified(path, signing.results_key(b"another-course-secret-0123456789")) is None


def test_grading_refuses_without_the_required_layers_unless_told(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "probe", lambda device="cpu", limits=None: {"filesystem": "off: no Landlock",
                                                                            "syscalls": "on: seccomp"})
    with pytest.raises(IsolationUnavailable, match="filesystem"):
        doctor.require("cpu")
    doctor.require("cpu", unsafe=True)
    assert "WARNING: --unsafe-no-isolation" in capsys.readouterr().err
    from grader.sandbox.parent import Limits, Worker

    with pytest.raises(IsolationUnavailable, match="not-a-layer"):  # and every worker checks for itself
        Worker("cpu", Limits(required=("filesystem", "not-a-layer"))).start()


def test_doctor_reports_every_layer_of_a_real_worker():
    layers = doctor.probe("cpu")
    assert set(confine.LAYERS) <= set(layers)
    assert all(layers[name].startswith("on") for name in confine.REQUIRED), layers


def test_the_seccomp_program_is_well_formed():
    code = confine.program(1234)
    assert len(code) < 4096 and code[-1][0] == 0x06
    for i, (op, jt, jf, _) in enumerate(code):
        if op in (0x15, 0x45, 0x35):
            assert i + 1 + max(jt, jf) < len(code)
    assert confine.carve(["/usr"], ["/usr/lib"]) != ["/usr"] and "/usr/lib" not in confine.carve(["/usr"], ["/usr/lib"])


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_grading_processes_and_workers_die_with_hnm_grade(tmp_path, how):
    import signal
    import subprocess
    import sys
    import time

    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(SAMPLES / "gus.py", subs / "gus.py")  # batch_hard loops: a worker is alive for a while
    victim = subprocess.Popen([sys.executable, "-m", "grader.cli", "grade", str(subs), "--out", str(tmp_path / "out"),
                               "--workers", "1", "--examples", "5", "--device", "cpu"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    family: set[int] = set()
    while time.monotonic() < deadline and len(family) < 2:  # the grading process and its worker
        family = _descendants(victim.pid)
        time.sleep(0.2)
    assert len(family) >= 2, "grading never started"
    victim.send_signal(getattr(signal, how))
    victim.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _living(family):
        time.sleep(0.2)
    assert _living(family) == [], "processes outlived hnm grade"


def _living(pids: set[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":  # a zombie has died; only its parent's wait is missing
            alive.append(pid)
    return alive
