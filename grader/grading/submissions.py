"""Finding submissions and turning them into code cells for the worker.

A submission is a ``.py`` file, a notebook, or a folder holding them. The student id is
the file's stem or the folder's name. In a notebook every code cell runs, in order (set-up
imports included), except nbgrader's test cells and cells that call the self-check
(``grader.check``): those belong to the notebook, not to the answer. A cell that raises is
reported and the next one still runs. IPython magics and shell escapes (lines starting
with ``%`` or ``!``) are dropped. The grader runs :data:`STAND_IN` before a submission: it makes
the released notebook's ``import grader`` load a stand-in whose ``check`` does nothing: the
sandbox never lets a submission import the real grader.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

SUFFIXES = (".py", ".ipynb")
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


class SubmissionError(ValueError):
    """The submission (or the folder of submissions) cannot be read."""


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path
    files: tuple[Path, ...] = field(default_factory=tuple)


def discover(root: Path, skipped: list[str] | None = None) -> list[Submission]:
    """Submissions in ``root``, sorted by student id. Other files are ignored.

    nbgrader's ``submitted/<student>/<assignment>/`` layout works when ``root`` is
    ``submitted/``: each student folder is searched recursively. Symbolic links, files that are not
    regular, names that are not text and unusable student ids are skipped, never followed, and
    described in ``skipped`` (when given): one odd entry never stops the class.
    """
    root = Path(root)
    if not root.exists():
        raise SubmissionError(f"SUBMISSIONS folder {root} does not exist")
    if not root.is_dir():
        raise SubmissionError(f"SUBMISSIONS must be a folder, {root} is a file")
    skipped = [] if skipped is None else skipped
    found: dict[str, Submission] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if not _usable_name(entry.name):
            skipped.append(f"{entry.name!r}: the name is not text")
            continue
        if entry.is_symlink():
            skipped.append(f"{entry.name}: a symbolic link (not followed)")
            continue
        if entry.is_file() and entry.suffix in SUFFIXES:
            sub = Submission(entry.stem, entry, (entry,))
        elif entry.is_dir():
            sub = Submission(entry.name, entry, folder_files(entry, skipped))
        else:
            continue
        if not _STUDENT_ID.match(sub.student):
            skipped.append(f"{entry.name}: {sub.student!r} is not a usable student id (letters, digits, . _ @ + -)")
            continue
        if sub.student in found:
            raise SubmissionError(f"duplicate student id {sub.student!r}: {found[sub.student].path} and {entry}")
        found[sub.student] = sub
    if not found:
        raise SubmissionError(f"no submissions (.py, .ipynb or folders) in {root}")
    return [found[k] for k in sorted(found)]


def _usable_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes (surrogate escapes)
        return False
    return name.isprintable()


def folder_files(folder: Path, skipped: list[str] | None = None) -> tuple[Path, ...]:
    """The .py and .ipynb files of a folder submission: regular files only, reached without
    following any symbolic link, with hidden paths and unusable names left out."""
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.suffix not in SUFFIXES or any(part.startswith(".") for part in rel.parts):
            continue
        if not all(_usable_name(part) for part in rel.parts):
            if skipped is not None:
                skipped.append(f"{folder.name}/{rel.as_posix()!r}: the name is not text")
            continue
        if any((folder / Path(*rel.parts[:i + 1])).is_symlink() for i in range(len(rel.parts))):
            if skipped is not None:
                skipped.append(f"{folder.name}/{rel.as_posix()}: a symbolic link (not followed)")
            continue
        if path.is_file():
            files.append(path)
    return tuple(files)


def single(path: Path) -> Submission:
    """One file or folder as a submission (for ``hnm check``)."""
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path} does not exist")
    if path.is_dir():
        return Submission(path.name, path, folder_files(path))
    if path.suffix not in SUFFIXES:
        raise SubmissionError(f"{path} is not a .py file or a notebook")
    return Submission(path.stem, path, (path,))


def restrict(sub: Submission, assignment: str) -> Submission:
    """Keep only files under a folder named ``assignment`` (nbgrader's layout), if there are any."""
    inside = tuple(f for f in sub.files if assignment in f.relative_to(sub.path).parts[:-1]) if sub.path.is_dir() else ()
    return Submission(sub.student, sub.path, inside) if inside else sub


STAND_IN = ("<grader stand-in>", '''import sys as _sys
import types as _types

_grader = _types.ModuleType("grader", "Stand-in for the course's self-check while grading: check() does nothing.")
_grader.check = lambda *args, **kwargs: None
_sys.modules["grader"] = _grader
del _sys, _types, _grader
''')
"""Run before every submission: ``import grader`` (the student notebook's set-up cell) then gives
this module, never the real grader, whose submodules stay unimportable in the sandbox."""


def cells(sub: Submission) -> list[tuple[str, str]]:
    """``(filename, code)`` pairs to execute, in order (the grader runs :data:`STAND_IN` first)."""
    if not sub.files:
        raise SubmissionError(f"{sub.path} holds no .py file or notebook")
    out: list[tuple[str, str]] = []
    for path in sub.files:
        name = str(path.relative_to(sub.path)) if path != sub.path else path.name
        text = _read_text(path)
        if path.suffix == ".py":
            out.append((name, text))
        else:
            out.extend((f"{name}[cell {i}]", code) for i, code in _notebook_cells(path, text))
    return out


QUIZ_CELL = "QUIZ_ANSWERS"


def quiz_answers(sub: Submission) -> dict | None:
    """The quiz answers a submission carries, or None.

    Looked for, in order: ``<student>.quiz.json`` beside a single-file submission,
    ``quiz.json`` anywhere in a student's folder, or a notebook code cell that assigns a
    literal dict to ``QUIZ_ANSWERS`` (read with ``ast.literal_eval``, never executed).
    """
    import ast
    import json

    if sub.path.is_file():
        candidates = [sub.path.with_name(f"{sub.student}.quiz.json")]
    else:
        candidates = sorted(sub.path.rglob("quiz.json"))
    for path in candidates:
        if path.is_file() and not path.is_symlink():
            try:
                answers = json.loads(_read_text(path, MAX_QUIZ_BYTES))
            except json.JSONDecodeError as exc:
                raise SubmissionError(f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
            except (ValueError, RecursionError) as exc:  # nesting too deep, numbers too long
                raise SubmissionError(f"{path.name} is not usable JSON ({type(exc).__name__})") from None
            if not isinstance(answers, dict):
                raise SubmissionError(f"{path.name} must hold a JSON object (question id: answer)")
            return answers
    for path in sub.files:
        if path.suffix != ".ipynb":
            continue
        for _, code in _notebook_cells(path, _read_text(path)):
            if QUIZ_CELL not in code:
                continue
            try:
                tree = ast.parse(code)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == QUIZ_CELL for t in node.targets):
                    try:
                        answers = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                        answers = None
                    if not isinstance(answers, dict):
                        raise SubmissionError(f"{QUIZ_CELL} in {path.name} must be a literal dict") from None
                    return answers
    return None


def digest(sub: Submission) -> str:
    """A hash of the submission's files (names and bytes), for ``--resume``."""
    h = hashlib.sha256()
    quiz = sub.path.with_name(f"{sub.student}.quiz.json") if sub.path.is_file() else None
    for path in (*sub.files, *([quiz] if quiz is not None and quiz.is_file() else [])):
        h.update(str(path.relative_to(sub.path) if path.is_relative_to(sub.path) and path != sub.path else path.name).encode() + b"\0")
        try:
            h.update(read_bytes(path) + b"\0")
        except SubmissionError as exc:  # graded (and reported) as unreadable; the digest still exists
            h.update(f"unreadable: {exc}".encode() + b"\0")
    return h.hexdigest()


MAX_FILE_BYTES = 16 << 20  # one source file or notebook
MAX_QUIZ_BYTES = 1 << 20


def read_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """A submitted file's bytes: opened without following a symbolic link, a regular file only,
    at most ``limit`` bytes; anything else is a SubmissionError naming the file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SubmissionError(f"{Path(path).name} cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError(f"{Path(path).name} is not a regular file")
        if info.st_size > limit:
            raise SubmissionError(f"{Path(path).name} is larger than {limit >> 10} KiB")
        with os.fdopen(os.dup(fd), "rb") as f:
            raw = f.read(limit + 1)
        if len(raw) > limit:
            raise SubmissionError(f"{Path(path).name} is larger than {limit >> 10} KiB")
        return raw
    finally:
        os.close(fd)


def _read_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    raw = read_bytes(path, limit)
    if b"\0" in raw:
        raise SubmissionError(f"{path.name} is a binary file, not source code")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SubmissionError(f"{path.name} is not UTF-8 text") from None


def _notebook_cells(path: Path, text: str) -> list[tuple[int, str]]:
    import nbformat

    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several unrelated types
        raise SubmissionError(f"{path.name} is not a readable notebook ({type(exc).__name__})") from None
    cells = nb.get("cells", []) if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise SubmissionError(f"{path.name} is not a readable notebook (no list of cells)")
    chosen = []
    for i, c in enumerate(cells):
        if not isinstance(c, dict) or c.get("cell_type") != "code":
            continue
        metadata = c.get("metadata", {})
        meta = metadata.get("nbgrader", {}) if isinstance(metadata, dict) else {}
        meta = meta if isinstance(meta, dict) else {}
        source = c.get("source", "")
        source = "".join(source) if isinstance(source, list) and all(isinstance(x, str) for x in source) else source
        if not isinstance(source, str):
            raise SubmissionError(f"{path.name}: cell {i} has no readable source")
        if meta.get("grade") and not meta.get("solution"):
            continue  # nbgrader's test cells: they belong to the notebook, not the answer
        if any("grader.check(" in line.split("#", 1)[0] for line in source.splitlines()):
            continue
        chosen.append((i, _strip_magics(source)))
    return chosen


def _strip_magics(source: str) -> str:
    lines = []
    for line in source.splitlines():
        body = line.lstrip()
        if body.startswith(("%", "!")):
            line = line[: len(line) - len(body)] + "pass  # " + body
        lines.append(line)
    return "\n".join(lines)
