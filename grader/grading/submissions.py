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
import re
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


def discover(root: Path) -> list[Submission]:
    """Submissions in ``root``, sorted by student id. Other files are ignored.

    nbgrader's ``submitted/<student>/<assignment>/`` layout works when ``root`` is
    ``submitted/``: each student folder is searched recursively.
    """
    root = Path(root)
    if not root.exists():
        raise SubmissionError(f"SUBMISSIONS folder {root} does not exist")
    if not root.is_dir():
        raise SubmissionError(f"SUBMISSIONS must be a folder, {root} is a file")
    found: dict[str, Submission] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix in SUFFIXES:
            sub = Submission(entry.stem, entry, (entry,))
        elif entry.is_dir():
            files = tuple(
                sorted(
                    p for p in entry.rglob("*")
                    if p.is_file() and p.suffix in SUFFIXES and not any(part.startswith(".") for part in p.relative_to(entry).parts)
                )
            )
            sub = Submission(entry.name, entry, files)
        else:
            continue
        if not _STUDENT_ID.match(sub.student):
            raise SubmissionError(f"{entry}: {sub.student!r} is not a usable student id (letters, digits, . _ @ + -)")
        if sub.student in found:
            raise SubmissionError(f"duplicate student id {sub.student!r}: {found[sub.student].path} and {entry}")
        found[sub.student] = sub
    if not found:
        raise SubmissionError(f"no submissions (.py, .ipynb or folders) in {root}")
    return [found[k] for k in sorted(found)]


def single(path: Path) -> Submission:
    """One file or folder as a submission (for ``hnm check``)."""
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path} does not exist")
    if path.is_dir():
        files = tuple(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES))
        return Submission(path.name, path, files)
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
        if path.is_file():
            try:
                return json.loads(_read_text(path))
            except json.JSONDecodeError as exc:
                raise SubmissionError(f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
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
                        return ast.literal_eval(node.value)
                    except ValueError:
                        raise SubmissionError(f"{QUIZ_CELL} in {path.name} must be a literal dict") from None
    return None


def digest(sub: Submission) -> str:
    """A hash of the submission's files (names and bytes), for ``--resume``."""
    h = hashlib.sha256()
    quiz = sub.path.with_name(f"{sub.student}.quiz.json") if sub.path.is_file() else None
    for path in (*sub.files, *([quiz] if quiz is not None and quiz.is_file() else [])):
        h.update(str(path.relative_to(sub.path) if path.is_relative_to(sub.path) and path != sub.path else path.name).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
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
    chosen = []
    for i, c in enumerate(nb.get("cells", [])):
        meta = c.get("metadata", {}).get("nbgrader", {})
        if c.get("cell_type") != "code" or (meta.get("grade") and not meta.get("solution")):
            continue  # markdown, and nbgrader's test cells: they belong to the notebook, not the answer
        if any("grader.check(" in line.split("#", 1)[0] for line in c.get("source", "").splitlines()):
            continue
        chosen.append((i, _strip_magics(c.get("source", ""))))
    return chosen


def _strip_magics(source: str) -> str:
    lines = []
    for line in source.splitlines():
        body = line.lstrip()
        if body.startswith(("%", "!")):
            line = line[: len(line) - len(body)] + "pass  # " + body
        lines.append(line)
    return "\n".join(lines)
