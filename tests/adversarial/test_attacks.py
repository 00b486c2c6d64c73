"""The adversarial suite: one hostile submission per class of attack, graded in one class run next
to honest students. Each attack must earn nothing, must have been refused (its own report says
"blocked", so it ran), must leave no trace of success anywhere in the output, and must not change a
bystander's results by a single byte compared with grading the bystanders alone.

The attacks (``attacks/*.py``) are templates (see :mod:`tests.adversarial.classroom`). Add a file
there for every new hole found (and an assertion below when its harm is a side effect). The same
class is graded by an ordinary user in ``test_ordinary_user.py``.
"""

from __future__ import annotations

import os
import shutil

import pytest

from grader.classrun import command as classrun

from . import classroom
from .classroom import SAMPLES

HONEST = ("ada", "ben")
EXAMPLES = 5
SECRET = b"adversarial-suite-course-secret-0123456789"
MARKER = "hnm-instructor-only-7f3a9c"  # in the grading process's environment and the secret file


@pytest.fixture(scope="session")  # session: xdist may interleave other modules, which would tear a module fixture down
def class_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adversarial")
    alone = tmp / "alone"
    alone.mkdir()
    for name in HONEST:
        shutil.copy(SAMPLES / f"{name}.py", alone / f"{name}.py")
    room = classroom.write(tmp, HONEST, MARKER)
    saved = os.environ.get("HNM_ADVERSARIAL_MARKER")
    os.environ["HNM_ADVERSARIAL_MARKER"] = MARKER  # the instructor's environment
    try:
        docs = classrun.run(room.subs, room.out, workers=2, device="cpu", resume=False, examples=EXAMPLES, secret=SECRET)
    finally:
        if saved is None:
            os.environ.pop("HNM_ADVERSARIAL_MARKER", None)
        else:
            os.environ["HNM_ADVERSARIAL_MARKER"] = saved
    connected = room.connected()
    classrun.run(alone, tmp / "out-alone", workers=1, device="cpu", resume=False, examples=EXAMPLES, secret=SECRET)
    return {"docs": {d["student"]: d for d in docs}, "room": room, "alone": tmp / "out-alone",
            "connected": connected, "library": room.library}


@pytest.mark.parametrize("attack", classroom.attacks())
def test_attack_earns_nothing_and_harms_nobody(class_run, attack):
    assert class_run["docs"][attack]["total"] == 0.0
    classroom.assert_attack_refused(class_run["room"], attack, MARKER)
    classroom.assert_class_intact(class_run["room"], HONEST, class_run["alone"])


def test_nothing_reached_the_network(class_run):
    assert not class_run["connected"]


def test_a_library_written_by_the_student_cannot_be_loaded(class_run):
    if not class_run["library"]:
        pytest.skip("no C compiler to build the library")
    messages = " ".join(p["message"] for p in class_run["docs"]["native"]["exercises"]["batch_hard"]["properties"])
    assert "dlopen" in messages and "failed to map segment" in messages, messages[:1000]
