"""The adversarial class, shared by the suite's runs as root and as an ordinary user: honest
students next to one hostile submission per attack template (``attacks/*.py``), with the templates'
``@ROOT@``, ``@SUBS@``, ``@OUT@``, ``@VICTIM@``, ``@SECRET_FILE@``, ``@PORT@`` and ``@LIBRARY@``
filled in with what a determined student could learn, so that the kernel's confinement, not
ignorance, is what stops them; and the checks every run of the class must pass."""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "grader" / "samples"
ATTACKS = Path(__file__).resolve().parent / "attacks"
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


def attacks() -> list[str]:
    return sorted(p.stem for p in ATTACKS.glob("*.py"))


def library(tmp: Path) -> str:
    """A small shared library, compiled here when a C compiler exists ("" otherwise)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return ""
    src = tmp / "evil.c"
    src.write_text(_LIBRARY.replace("@ROOT@", str(ROOT)))
    built = subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp / "evil.so"), str(src)], capture_output=True)
    return base64.b64encode((tmp / "evil.so").read_bytes()).decode() if built.returncode == 0 else ""


@dataclasses.dataclass
class Room:
    """One class written to disk: its submissions folder, output folder (not yet made) and the
    listening socket the network attack tries to reach."""

    subs: Path
    out: Path
    secret_file: Path
    originals: dict[str, bytes]
    library: bool
    listener: socket.socket

    def connected(self) -> bool:
        """Whether anything connected to the listener (then closed)."""
        try:
            self.listener.accept()
            return True
        except BlockingIOError:
            return False
        finally:
            self.listener.close()


def write(tmp: Path, honest: tuple[str, ...], marker: str) -> Room:
    """The class in ``tmp/subs``: the sample students ``honest`` and every attack; ``marker`` is the
    instructor-only text of the course secret file (an attack that prints it has stolen it)."""
    subs, out = tmp / "subs", tmp / "out"
    subs.mkdir()
    for name in honest:
        shutil.copy(SAMPLES / f"{name}.py", subs / f"{name}.py")
    secret_file = tmp / "course-secret"
    secret_file.write_text(marker + "\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    library_b64 = library(tmp)
    values = {"@ROOT@": str(ROOT), "@SUBS@": str(subs), "@OUT@": str(out), "@VICTIM@": str(subs / "ada.py"),
              "@SECRET_FILE@": str(secret_file), "@PORT@": str(listener.getsockname()[1]), "@LIBRARY@": library_b64}
    for attack in sorted(ATTACKS.glob("*.py")):
        text = attack.read_text()
        for key, value in values.items():
            text = text.replace(key, value)
        (subs / attack.name).write_text(text)
    originals = {p.name: p.read_bytes() for p in subs.iterdir()}
    return Room(subs, out, secret_file, originals, bool(library_b64), listener)


def assert_attack_refused(room: Room, attack: str, marker: str) -> None:
    """``attack`` earned nothing, ran and was refused (its report says so), left no trace of success
    or of the instructor's secret in any output file, and planted no file among the submissions."""
    doc = json.loads((room.out / "results" / f"{attack}.json").read_text())
    assert doc["total"] == 0.0
    messages = " ".join(p["message"] for p in doc["exercises"]["batch_hard"]["properties"])
    assert REFUSED.get(attack, "blocked") in messages, messages[:2000]
    for path in room.out.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert WON not in text and marker not in text, (attack, path.name)
    assert sorted(p.name for p in room.subs.iterdir()) == sorted(room.originals)


def assert_class_intact(room: Room, honest: tuple[str, ...], alone: Path) -> None:
    """A complete grades.csv, and every honest student's results byte-identical to those in
    ``alone`` (the same students graded without the attackers) and its submission untouched."""
    lines = (room.out / "grades.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == sorted([*honest, *attacks()])
    for name in honest:
        assert (room.out / "results" / f"{name}.json").read_bytes() == (alone / "results" / f"{name}.json").read_bytes(), name
        assert (room.subs / f"{name}.py").read_bytes() == room.originals[f"{name}.py"]
