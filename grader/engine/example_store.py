"""Public-seed examples kept on disk between ``hnm check`` runs.

Drawing an exercise's examples costs Hypothesis 0.4 to 1.8 s on a 2-core machine, every run
of ``hnm check`` draws the same ones (the public seed), and a student runs it again and again.
``hnm check`` therefore keeps each exercise's draws in one file under the user's cache folder
(``$XDG_CACHE_HOME/hnm-course/examples`` or ``~/.cache/...``), written by the grading process,
which the sandboxed worker cannot read.

A file is used only when everything the draws depend on is unchanged: the source of the
``grader`` and ``solutions`` packages, the versions of Python, torch and Hypothesis, the seed
and the numbers of examples (its ``fingerprint``). Every example read back is encoded again
and must give the stored bytes, so a truncated, corrupt or stale file is drawn afresh, never
half used. Examples of any other seed (a course secret's) are never written.

A student can edit their own files, as they can edit the grader they run; that changes only
their own practice check, never a graded run (a secret seed, no store).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

from grader.sandbox import codec

FORMAT = 1


def default_folder() -> Path:
    """``$XDG_CACHE_HOME/hnm-course/examples``, or ``~/.cache/hnm-course/examples``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hnm-course" / "examples"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the sources the draws depend on, and of the libraries' versions."""
    import hypothesis
    import torch

    digest = hashlib.sha256(f"{FORMAT} {sys.version} {torch.__version__} {hypothesis.__version__}".encode())
    for package in ("grader", "solutions"):
        spec = importlib.util.find_spec(package)
        roots = list(spec.submodule_search_locations or []) if spec else []
        for root in roots:
            for path in sorted(Path(root).rglob("*.py")):
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class Store:
    """One folder of draw files, one file per exercise."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, exercise_id: str) -> Path:
        return self.folder / f"{exercise_id}.json"

    @staticmethod
    def _fingerprint(exercise_id: str, seed_: int, counts: list[int]) -> str:
        return hashlib.sha256(json.dumps([code_fingerprint(), exercise_id, seed_, counts]).encode()).hexdigest()

    def read(self, exercise_id: str, seed_: int, counts: list[int]) -> list[tuple[list[list], list[bytes]]] | None:
        """The examples and their keys of each draw, or None when the file is missing or unusable."""
        try:
            data = json.loads(self._path(exercise_id).read_text(encoding="utf-8"))
            if data.get("fingerprint") != self._fingerprint(exercise_id, seed_, counts):
                return None
            draws = data["draws"]
            if not (isinstance(draws, list) and len(draws) == len(counts)):
                return None
            out = []
            for keys, count in zip(draws, counts):
                if not (isinstance(keys, list) and len(keys) <= count and all(isinstance(k, str) for k in keys)):
                    return None
                raw = [k.encode() for k in keys]
                examples = [codec.decode(codec.loads(k)) for k in raw]
                if any(not isinstance(a, list) or codec.dumps(codec.encode(a)) != k for a, k in zip(examples, raw)):
                    return None
                out.append((examples, raw))
            return out
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None

    def write(self, exercise_id: str, seed_: int, counts: list[int], keys: list[list[bytes]]) -> None:
        """Keep the draws' keys (best effort: an unwritable folder only costs the next run a draw)."""
        data = {"fingerprint": self._fingerprint(exercise_id, seed_, counts),
                "draws": [[k.decode() for k in ks] for ks in keys]}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{exercise_id}-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(data, f, separators=(",", ":"))
                os.replace(tmp, self._path(exercise_id))  # whole or not at all
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass
