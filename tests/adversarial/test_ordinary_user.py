"""The adversarial class graded by an ordinary user, as on an instructor's laptop: no root, no
capabilities, and the workers run under the grader's own uid, so file permissions protect
nothing and only the kernel's confinement (user namespaces, Landlock, seccomp) stands between a
student and the references, the classmates' files, the output and the grading process.

Run as root (CI), the test starts ``hnm grade`` through ``setpriv`` with a uid that has no account
and no capabilities. The interpreter may live under a directory that other users cannot enter
(``/root`` is mode 700 here): a private mount namespace then shows that directory as a
world-readable tmpfs holding just what the grader needs, at the same paths. Run as an ordinary
user, ``test_attacks.py`` already is this test."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grader import secret as course_secret

from . import classroom

HONEST = ("ada",)
EXAMPLES = 5
MARKER = "hnm-instructor-only-5b1e02"
UID = 64123  # no account: nothing on the machine belongs to it


def _blocked(path: Path) -> Path | None:
    """The outermost folder above ``path`` that other users cannot enter, if any."""
    for parent in reversed(path.parents):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return parent
    return None


def _as_ordinary_user(argv: list[str], env: dict[str, str], keep: Path) -> list[str]:
    """A command that runs ``argv`` as :data:`UID` with no capabilities, the paths the grader needs
    reachable (see the module docstring; ``keep`` is an empty folder for the bind mounts)."""
    needed = sorted({Path(p).resolve() for p in (sys.base_prefix, sys.prefix, classroom.ROOT)})
    needed = [p for p in needed if not any(q != p and q in p.parents for q in needed)]
    keep = Path(tempfile.mkdtemp(dir=keep))  # a fresh one per command: each gets its own mount namespace
    hidden = {i: (path, _blocked(path)) for i, path in enumerate(needed) if _blocked(path) is not None}
    # Keep each path reachable through a bind mount, cover the folders above them with a
    # world-readable tmpfs, then put each path back where it was.
    steps = [f"mkdir {keep}/{i} && mount --bind {shlex.quote(str(path))} {keep}/{i}" for i, (path, _) in hidden.items()]
    steps += [f"mount -t tmpfs -o mode=755 tmpfs {shlex.quote(str(top))}"
              for top in dict.fromkeys(top for _, top in hidden.values())]
    steps += [f"mkdir -p {shlex.quote(str(path))} && mount --bind {keep}/{i} {shlex.quote(str(path))}"
              for i, (path, _) in hidden.items()]
    user = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
            "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]
    script = " && ".join([*steps, "exec " + shlex.join(user)])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


@pytest.fixture(scope="module")
def ordinary_run():
    if os.geteuid() != 0:
        pytest.skip("this suite already runs as an ordinary user: test_attacks.py grades the class so")
    missing = [tool for tool in ("unshare", "setpriv") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (util-linux) to start an ordinary user's process")
    tmp = Path(tempfile.mkdtemp(prefix="hnm-ordinary-"))
    try:
        room = classroom.write(tmp, HONEST, MARKER)
        alone = tmp / "alone"
        alone.mkdir()
        for name in HONEST:
            shutil.copy(classroom.SAMPLES / f"{name}.py", alone / f"{name}.py")
        secret_file = course_secret.create(tmp / "grading-secret")
        (tmp / "home").mkdir()
        (tmp / "keep").mkdir()
        for path in [tmp, *tmp.rglob("*")]:
            if path != tmp / "keep":
                os.chown(path, UID, UID, follow_symlinks=False)
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp / "home"),
               "HNM_ADVERSARIAL_MARKER": MARKER}  # the instructor's environment holds the marker too
        grade = [sys.executable, "-m", "grader.cli", "grade", "--workers", "2", "--device", "cpu",
                 "--examples", str(EXAMPLES), "--secret", str(secret_file)]
        whoami = subprocess.run(_as_ordinary_user([sys.executable, "-m", "grader.cli", "doctor"], env, tmp / "keep"),
                                capture_output=True, text=True, cwd=classroom.ROOT, timeout=120)
        runs = [subprocess.run(_as_ordinary_user([*grade, str(subs), "--out", str(out)], env, tmp / "keep"),
                               capture_output=True, text=True, cwd=classroom.ROOT, timeout=900)
                for subs, out in ((room.subs, room.out), (alone, tmp / "out-alone"))]
        yield {"room": room, "alone": tmp / "out-alone", "doctor": whoami, "runs": runs, "connected": room.connected()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_the_grader_ran_as_an_ordinary_user_with_every_protection(ordinary_run):
    doctor = ordinary_run["doctor"]
    assert doctor.returncode == 0, doctor.stderr[-3000:]
    assert f"uid {UID} (not root), no capabilities" in doctor.stdout, doctor.stdout
    assert "in a user namespace" in doctor.stdout and "student code may run here" in doctor.stdout, doctor.stdout
    for run in ordinary_run["runs"]:
        assert run.returncode == 0, run.stderr[-3000:]


@pytest.mark.parametrize("attack", classroom.attacks())
def test_attack_by_a_classmate_of_an_ordinary_user_earns_nothing(ordinary_run, attack):
    classroom.assert_attack_refused(ordinary_run["room"], attack, MARKER)
    classroom.assert_class_intact(ordinary_run["room"], HONEST, ordinary_run["alone"])


def test_nothing_reached_the_network(ordinary_run):
    assert not ordinary_run["connected"]
