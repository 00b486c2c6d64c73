"""The adversarial suite in Gradescope's layout: each hostile submission alone in a container laid
out as Gradescope's (/autograder/source with the installed grader and references, submission/,
results/), graded by the exported ``run_autograder``. Gradescope grades one student per container,
so there is no classmate to harm here; what is at stake is the references, the instructor's
environment and secrets, the results file, and the run itself. Each attack must earn nothing, be
refused (its report says so), leak nothing into the results, and leave a valid results.json.

One attack per class whose target exists in this layout: reference theft by import routes, by
directory descriptors and by a native library, the environment and secret files, a detached
helper that would rewrite the results after the run, killing the grader, exhausting memory, and
the network. (Sabotage of classmates, resume poisoning and the checkout's history have no
target in a one-student container.)
"""

from __future__ import annotations

import json
import socket

import pytest

from tests.adversarial.classroom import ATTACKS, REFUSED, WON, library
from tests.adversarial.test_attacks import MARKER
from tests.test_export_gradescope import archive, container, run_autograder, validate  # noqa: F401 - archive is a fixture

IN_LAYOUT = ("imports", "dirfd", "native", "environment", "detached", "killer", "memory_bomb", "network")


@pytest.mark.parametrize("attack", IN_LAYOUT)
def test_an_attack_in_the_gradescope_layout_earns_nothing_and_leaks_nothing(archive, tmp_path, attack, monkeypatch):  # noqa: F811
    root = container(archive, tmp_path, {})
    secret_file = root / "source" / "course-secret"
    secret_file.write_text(MARKER + "\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    library_b64 = library(tmp_path) if attack == "native" else ""
    values = {"@ROOT@": str(root / "source" / "hnm"), "@SUBS@": str(root / "submission"), "@OUT@": str(root / "results"),
              "@VICTIM@": str(root / "submission" / f"{attack}.py"), "@SECRET_FILE@": str(secret_file),
              "@PORT@": str(listener.getsockname()[1]), "@LIBRARY@": library_b64}
    text = (ATTACKS / f"{attack}.py").read_text()
    for key, value in values.items():
        text = text.replace(key, value)
    (root / "submission" / f"{attack}.py").write_text(text)
    monkeypatch.setenv("HNM_ADVERSARIAL_MARKER", MARKER)  # the instructor's environment
    try:
        done, results = run_autograder(root)
        try:
            listener.accept()
            connected = True
        except BlockingIOError:
            connected = False
    finally:
        listener.close()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    validate(results)
    assert results["score"] == 0
    said = " ".join(t["output"] for t in results["tests"] if t["name"].startswith("batch_hard"))
    assert REFUSED.get(attack, "blocked") in said, said[:2000]
    for path in (root / "results").rglob("*"):
        assert path.name == "results.json", path  # nothing else was written there
    written = json.dumps(results)
    assert WON not in written and MARKER not in written
    assert not connected
