"""The adversarial suite: one hostile submission per class of attack, graded in one class run next
to honest students. Each attack must earn nothing, must have been refused (its own report says
"blocked", so it ran), must leave no trace of success anywhere in the output, and must not change a
bystander's results by a single byte compared with grading the bystanders alone.

The attacks (``attacks/*.py``) are templates: ``@ROOT@``, ``@SUBS@``, ``@OUT@``, ``@VICTIM@``,
``@SECRET_FILE@``, ``@PORT@`` and ``@LIBRARY@`` are filled in with what a determined
student could learn, so that the kernel's confinement, not ignorance, is what stops them.
Add a file there for every new hole found (and an assertion below when its harm is a side effect).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from grader.classrun import command as classrun

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "grader" / "samples"
ATTACKS = Path(__file__).resolve().parent / "attacks"
HONEST = ("ada", "ben")
EXAMPLES = 5
SECRET = b"adversarial-suite-course-secret-0123456789"
MARKER = "hnm-instructor-only-7f3a9c"  # in the grading process's environment and the secret file
WON = "STOLEN"  # what an attack says when it gets through (the attacks spell it at run time)
REFUSED = {"forged_reply": "sent a malformed reply", "memory_bomb": "out-of-memory error"}  # the run says no

_LIBRARY = r"""
#include <fcntl.h>
#include <unistd.h>
static char buf[64] = "blocked";
const char *steal(void) {
    int fd = open("@ROOT@/solutions/mining.py", O_RDONLY);
    if (fd >= 0) { read(fd, buf, 63); close(fd); }
    return buf;
}
"""


def _library(tmp: Path) -> str:
    """A small shared library, compiled here when a C compiler exists ("" otherwise)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return ""
    src = tmp / "evil.c"
    src.write_text(_LIBRARY.replace("@ROOT@", str(ROOT)))
    built = subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp / "evil.so"), str(src)], capture_output=True)
    return base64.b64encode((tmp / "evil.so").read_bytes()).decode() if built.returncode == 0 else ""


@pytest.fixture(scope="session")  # session: xdist may interleave other modules, which would tear a module fixture down
def class_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adversarial")
    subs, alone, out = tmp / "subs", tmp / "alone", tmp / "out"
    subs.mkdir()
    alone.mkdir()
    for name in HONEST:
        shutil.copy(SAMPLES / f"{name}.py", subs / f"{name}.py")
        shutil.copy(SAMPLES / f"{name}.py", alone / f"{name}.py")
    secret_file = tmp / "course-secret"
    secret_file.write_text(MARKER + "\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    values = {"@ROOT@": str(ROOT), "@SUBS@": str(subs), "@OUT@": str(out), "@VICTIM@": str(subs / "ada.py"),
              "@SECRET_FILE@": str(secret_file), "@PORT@": str(listener.getsockname()[1]),
              "@LIBRARY@": _library(tmp)}
    for attack in sorted(ATTACKS.glob("*.py")):
        text = attack.read_text()
        for key, value in values.items():
            text = text.replace(key, value)
        (subs / attack.name).write_text(text)
    originals = {p.name: p.read_bytes() for p in subs.iterdir()}
    saved = os.environ.get("HNM_ADVERSARIAL_MARKER")
    os.environ["HNM_ADVERSARIAL_MARKER"] = MARKER  # the instructor's environment
    try:
        docs = classrun.run(subs, out, workers=2, device="cpu", resume=False, examples=EXAMPLES, secret=SECRET)
    finally:
        if saved is None:
            os.environ.pop("HNM_ADVERSARIAL_MARKER", None)
        else:
            os.environ["HNM_ADVERSARIAL_MARKER"] = saved
    try:
        listener.accept()
        connected = True
    except BlockingIOError:
        connected = False
    listener.close()
    classrun.run(alone, tmp / "out-alone", workers=1, device="cpu", resume=False, examples=EXAMPLES, secret=SECRET)
    return {"docs": {d["student"]: d for d in docs}, "out": out, "alone": tmp / "out-alone", "subs": subs,
            "originals": originals, "connected": connected, "library": bool(values["@LIBRARY@"])}


def _assert_class_intact(run) -> None:
    """A complete grades.csv, and every honest student byte-identical to being graded alone."""
    lines = (run["out"] / "grades.csv").read_text().splitlines()
    expected = sorted([*HONEST, *(p.stem for p in ATTACKS.glob("*.py"))])
    assert [line.split(",")[0] for line in lines[1:]] == expected
    for name in HONEST:
        assert (run["out"] / "results" / f"{name}.json").read_bytes() == \
            (run["alone"] / "results" / f"{name}.json").read_bytes(), name
        assert (run["subs"] / f"{name}.py").read_bytes() == run["originals"][f"{name}.py"]


@pytest.mark.parametrize("attack", sorted(p.stem for p in ATTACKS.glob("*.py")))
def test_attack_earns_nothing_and_harms_nobody(class_run, attack):
    doc = class_run["docs"][attack]
    assert doc["total"] == 0.0
    result = json.loads((class_run["out"] / "results" / f"{attack}.json").read_text())
    messages = " ".join(p["message"] for p in result["exercises"]["batch_hard"]["properties"])
    assert REFUSED.get(attack, "blocked") in messages, messages[:2000]  # the attack ran and was refused
    for path in class_run["out"].rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert WON not in text and MARKER not in text, (attack, path.name)
    assert sorted(p.name for p in class_run["subs"].iterdir()) == sorted(class_run["originals"])
    _assert_class_intact(class_run)


def test_nothing_reached_the_network(class_run):
    assert not class_run["connected"]


def test_a_library_written_by_the_student_cannot_be_loaded(class_run):
    if not class_run["library"]:
        pytest.skip("no C compiler to build the library")
    messages = " ".join(p["message"] for p in class_run["docs"]["native"]["exercises"]["batch_hard"]["properties"])
    assert "dlopen" in messages and "failed to map segment" in messages, messages[:1000]
