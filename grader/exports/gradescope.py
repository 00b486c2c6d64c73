"""``hnm export gradescope OUT.zip``: a Gradescope autograder archive for the course grader.

The archive holds, at its root (Gradescope's autograder specification):

- ``setup.sh``: run once, as root, when Gradescope builds the image. It makes a virtual
  environment at ``/autograder/hnm-venv``, installs the pinned torch (CPU build) first and
  then this package from the source shipped in the archive (``hnm/``: ``pyproject.toml``,
  ``grader/``, ``solutions/``), creates the unprivileged account that runs student code,
  makes the installed references unreadable to that account, and deletes the shipped source (the
  installed copy is what runs).
- ``run_autograder``: run, as root, for every submission. It calls
  ``python -m grader.exports.gradescope --autograde /autograder``, which grades the files in
  ``/autograder/submission`` with the same out-of-process grader as ``hnm grade``
  (:func:`grader.grading.pipeline.grade`) and writes ``/autograder/results/results.json``: one test
  per property, the total, the execution time and, when the submission cannot be read, a
  top-level message saying why.
- ``hnm-autograder.json``: the settings chosen at export (examples, assignment, quiz,
  account).
- ``hnm-course-secret`` (only with ``--secret``): the course secret that seeds the graded examples
  (mode 0600; the archive goes to Gradescope, never to students).
- ``hnm-quiz-pool.json`` (only with ``--quiz``, when the instructor has a pool of graded fixed
  questions, ``grader.quiz.graded``; mode 0600). With the secret, the quiz is scored against
  each student's graded attempt; without it, against the public practice attempt 1.

``HNM_GRADESCOPE_ROOT`` (instead of ``/autograder``) and ``HNM_GRADESCOPE_PYTHON`` (instead
of the venv's python) let a test run ``run_autograder`` outside the container;
``HNM_GRADESCOPE_USER`` overrides the account (empty: do not switch).

Student code runs in the sandboxed worker processes as always, under the same kernel confinement
(:mod:`grader.sandbox.confine`; a worker that cannot be confined grades nothing: the instructor-only
output says why, and the student sees an internal error). When the grader runs as root
(Gradescope's default) and the account exists or ``useradd`` can create it, each worker
is started through a small wrapper that hands the worker's fresh temporary folder to that
account and drops to it with ``setpriv`` (else ``runuser``), inside a new network
namespace when ``unshare --net`` works. The trusted grader stays root, so student code can
neither write ``results.json`` nor touch the installed grader. Where none of this works
(no account, no tool, a container that forbids it), student code runs as the grader's
user with the sandbox's other barriers, and ``run_autograder``'s output (shown to
instructors only) says so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path
from typing import Any

SECRET_NAME = "hnm-course-secret"
CONFIG_NAME = "hnm-autograder.json"
DEFAULT_USER = "hnm-student"
TORCH_PIN = "torch==2.13.0"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
VENV = "/autograder/hnm-venv"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SOURCE_PACKAGES = ("grader", "solutions")
QUIZ_POOL_NAME = "hnm-quiz-pool.json"


# --------------------------------------------------------------------------- the CLI
def export_formats(subparsers) -> Any:
    """The sub-parsers of ``hnm export`` (created by whichever export module registers first)."""
    parser = subparsers.choices.get("export")
    if parser is None:
        parser = subparsers.add_parser("export", help="export grades or an autograder to another platform")
        parser.hnm_formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    return parser.hnm_formats


def register(subparsers) -> None:
    p = export_formats(subparsers).add_parser(
        "gradescope", help="a Gradescope autograder archive (setup.sh + run_autograder) running this grader")
    p.add_argument("out", metavar="OUT.zip", help="the archive to write")
    from grader.engine import DEFAULT_EXAMPLES

    p.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, help="Hypothesis examples per property")
    p.add_argument("--assignment", help="grade only this assignment's exercises (e.g. ps1_distances_semi_hard)")
    p.add_argument("--quiz", action="store_true",
                   help="also grade the quick test (answers for the student's attempt 1, as with hnm grade)")
    p.add_argument("--user", default=DEFAULT_USER,
                   help=f"account that runs student code (default {DEFAULT_USER}; '' keeps the grader's user)")
    p.add_argument("--torch", default=TORCH_PIN, help=f"torch requirement installed first (default {TORCH_PIN})")
    p.add_argument("--torch-index-url", default=TORCH_INDEX,
                   help="package index for torch (default: PyTorch's CPU wheels; '' for pip's default index)")
    p.add_argument("--source", metavar="DIR", help="the course's source checkout (default: the one this grader runs from)")
    p.add_argument("--secret", metavar="FILE",
                   help="the course secret to carry into the archive (default: as for hnm grade; none: public examples)")
    p.set_defaults(handler=_command)


def _command(args: argparse.Namespace) -> int:
    from grader import secret as course_secret

    try:
        secret = course_secret.load(Path(args.secret) if args.secret else None)
        if secret is None:
            print(f"hnm export gradescope: warning: {course_secret.PREDICTABLE_WARNING}", file=sys.stderr)
        summary = build_archive(Path(args.out), examples=args.examples, assignment=args.assignment, quiz=args.quiz,
                                user=args.user, torch_pin=args.torch, torch_index=args.torch_index_url,
                                source=Path(args.source) if args.source else None, secret=secret)
    except (OSError, ValueError) as exc:
        print(f"hnm export gradescope: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {summary['files']} files; exercises {', '.join(summary['exercises'])}"
          f"{' + quiz' if args.quiz else ''}; {summary['max_score']:g} points "
          "(set the Gradescope assignment's points to this)")
    return 0


# --------------------------------------------------------------------------- the archive
def build_archive(out: Path, *, examples: int = 100, assignment: str | None = None, quiz: bool = False,
                  user: str = DEFAULT_USER, torch_pin: str = TORCH_PIN, torch_index: str = TORCH_INDEX,
                  source: Path | None = None, secret: bytes | None = None) -> dict[str, Any]:
    """Write the archive (deterministically: same inputs, same bytes); returns a summary."""
    from grader import quiz as quiz_module
    from grader.suites.registry import REGISTRY

    if examples < 1:
        raise ValueError("--examples must be at least 1")
    exercises = _exercises(assignment)
    source = Path(source) if source else Path(__file__).resolve().parents[2]
    if not (source / "pyproject.toml").is_file() or not all((source / p).is_dir() for p in _SOURCE_PACKAGES):
        raise ValueError(f"{source} is not the course's source checkout (pyproject.toml, grader/, solutions/); "
                         "pass --source DIR")
    config = {"examples": examples, "assignment": assignment, "quiz": quiz, "user": user, "device": "cpu"}
    quiz_files = _quiz_files(config) if quiz else []
    entries: list[tuple[str, bytes, int]] = [
        ("setup.sh", _setup_sh(torch_pin, torch_index, user).encode(), 0o755),
        ("run_autograder", _RUN_AUTOGRADER.encode(), 0o755),
        (CONFIG_NAME, (json.dumps(config, indent=1) + "\n").encode(), 0o644),
        *quiz_files,
    ]
    if secret is not None:
        entries.append((SECRET_NAME, secret + b"\n", 0o600))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (source / name).is_file():
            entries.append((f"hnm/{name}", (source / name).read_bytes(), 0o644))
    for package in _SOURCE_PACKAGES:
        for path in sorted((source / package).rglob("*")):
            rel = path.relative_to(source)
            if not path.is_file() or "__pycache__" in rel.parts or path.suffix in (".pyc", ".pyo") \
                    or any(part.startswith(".") for part in rel.parts):
                continue
            entries.append((f"hnm/{rel.as_posix()}", path.read_bytes(), 0o644))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data, mode in entries:
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    max_score = sum(REGISTRY[e].max_score for e in exercises) + (quiz_module.QUESTIONS_PER_QUIZ if quiz else 0)
    return {"files": len(entries), "exercises": list(exercises), "max_score": float(max_score), "config": config}


def _quiz_files(config: dict[str, Any]) -> list[tuple[str, bytes, int]]:
    """The instructor pool of graded fixed questions, if there is one (recorded in ``config``)."""
    from grader.quiz import graded

    pool = graded.pool_path()
    config["quiz_pool"] = pool is not None
    if pool is None:
        return []
    graded.load_pool(pool)  # refuse a malformed pool now, not at grading time
    return [(QUIZ_POOL_NAME, pool.read_bytes(), 0o600)]


def _quiz_environment(root: Path, config: dict[str, Any]) -> None:
    """Point the quiz grading (``grader.quiz.grading``) at the archive's instructor pool."""
    from grader.quiz import graded

    path = root / "source" / QUIZ_POOL_NAME
    if config.get("quiz") and path.is_file():
        os.environ[graded.POOL_ENV] = str(path)
    else:
        os.environ.pop(graded.POOL_ENV, None)


def _exercises(assignment: str | None) -> tuple[str, ...]:
    from grader.suites.registry import REGISTRY

    if not assignment:
        return tuple(REGISTRY)
    from grader.nbgrader.gradebook import exercises_of

    return exercises_of(assignment)


def _setup_sh(torch_pin: str, torch_index: str, user: str) -> str:
    index = f" --index-url {shlex.quote(torch_index)}" if torch_index else ""
    account = (f"id -u {shlex.quote(user)} >/dev/null 2>&1 || "
               f"useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin {shlex.quote(user)} "
               "|| echo 'no account for student code: it will run as root (see run_autograder output)'") if user else \
        "echo 'student code runs as the grading user (exported with --user \"\")'"
    return f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (hnm export gradescope).
set -euxo pipefail
SOURCE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
VENV={VENV}
export DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip
fi
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "the grader needs Python >= 3.10: choose a newer base image")'
python3 -m venv "$VENV"
# torch first, pinned (the CPU build): nothing installed after it can pull another build.
"$VENV/bin/python" -m pip install {shlex.quote(torch_pin)}{index}
"$VENV/bin/python" -m pip install "$SOURCE/hnm"
"$VENV/bin/python" -c 'import grader.exports.gradescope, grader.sandbox.worker, solutions'
{account}
# The references are for the (root) grader only: the account that runs student code cannot read them
# (the workers' Landlock rules hide them as well; see the README's Security section).
chmod -R go-rwx "$("$VENV/bin/python" -c 'import os, solutions; print(os.path.dirname(solutions.__file__))')"
# Student code never needs the course's source; the installed copy is what runs.
rm -rf "$SOURCE/hnm"
chmod -R go-rwx "$SOURCE"
"""


_RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this, as root, for every submission (hnm export gradescope).
# HNM_GRADESCOPE_ROOT and HNM_GRADESCOPE_PYTHON let a test run it outside the container.
set -u
ROOT="${HNM_GRADESCOPE_ROOT:-/autograder}"
PYTHON="${HNM_GRADESCOPE_PYTHON:-""" + VENV + """/bin/python}"
mkdir -p "$ROOT/results"
cd "$ROOT"
"$PYTHON" -I -m grader.exports.gradescope --autograde "$ROOT"
status=$?
if [ ! -s "$ROOT/results/results.json" ]; then
    printf '{"score": 0.0, "output": "The autograder could not run (exit status %s), so your submission was not graded. Please tell your instructor.", "tests": []}\\n' "$status" > "$ROOT/results/results.json"
fi
exit "$status"
"""


# --------------------------------------------------------------------------- grading
def autograde(root: Path) -> int:
    """Grade ``root/submission`` and write ``root/results/results.json``; 0 unless the grader failed."""
    from grader.reports import grades as report

    start = time.monotonic()
    results = Path(root) / "results" / "results.json"
    try:
        config = _config(Path(root))
        document = _grade(Path(root), config, start)
        status = 0
    except Exception as exc:  # noqa: BLE001 - whatever broke, the student gets a clear message
        traceback.print_exc()
        document = {
            "score": 0.0, "execution_time": round(time.monotonic() - start),
            "output": "The autograder hit an internal error, so your submission was not graded. "
                      f"Please tell your instructor ({type(exc).__name__}).",
            "tests": [],
        }
        status = 1
    report.atomic_write(results, json.dumps(document, indent=1, allow_nan=False) + "\n")
    print(f"wrote {results}: {document['score']:g} points")
    return status


def _config(root: Path) -> dict[str, Any]:
    path = root / "source" / CONFIG_NAME
    config = {"examples": 100, "assignment": None, "quiz": False, "user": DEFAULT_USER, "device": "cpu"}
    if path.is_file():
        config.update(json.loads(path.read_text()))
    if "HNM_GRADESCOPE_USER" in os.environ:
        config["user"] = os.environ["HNM_GRADESCOPE_USER"]
    return config


def _secret(root: Path) -> bytes | None:
    """The course secret shipped in the archive, or None (public examples)."""
    from grader import secret as course_secret

    path = root / "source" / SECRET_NAME
    return course_secret.read(path) if path.is_file() else None


def _student_id(root: Path) -> str:
    """The quiz's user id: Gradescope's student id (sid), else the e-mail address, else 'student'."""
    try:
        users = json.loads((root / "submission_metadata.json").read_text()).get("users") or []
    except (OSError, ValueError, AttributeError):
        users = []
    for key in ("sid", "email"):
        for u in users:
            if isinstance(u, dict) and isinstance(u.get(key), str) and u[key].strip():
                return u[key].strip()
    return "student"


def _submission(root: Path, student: str):
    from grader.grading import submissions

    folder = root / "submission"
    files: tuple[Path, ...] = ()
    if folder.is_dir() and not folder.is_symlink():
        files = submissions.folder_files(folder)  # regular files only, no symbolic link followed
    return submissions.Submission(student, folder, files)


def _problem(sub) -> str | None:
    """Why the submission cannot be read, in words for the student, or None."""
    from grader.grading import submissions

    if not sub.path.is_dir():
        return "no files were received."
    if not sub.files:
        names = sorted(p.relative_to(sub.path).as_posix() for p in sub.path.rglob("*") if p.is_file())
        got = f" (received: {', '.join(names[:10])}{', ...' if len(names) > 10 else ''})" if names else " (it is empty)"
        return f"no .py file or notebook (.ipynb) was found in it{got}. Upload your answers as a .py file or the exercise notebook."
    try:
        submissions.cells(sub)
    except submissions.SubmissionError as exc:
        return f"{exc}."
    return None


def _grade(root: Path, config: dict[str, Any], start: float) -> dict[str, Any]:
    from grader.grading import pipeline as grading
    from grader.grading import submissions

    exercises = _exercises(config.get("assignment"))
    sub = _submission(root, _student_id(root))
    if config.get("assignment"):
        sub = submissions.restrict(sub, config["assignment"])
    problem = _problem(sub)
    _quiz_environment(root, config)
    workdir = Path(tempfile.mkdtemp(prefix="hnm-gradescope-"))
    saved = sys.executable
    try:
        python, note = (None, "the submission cannot be read: no student code runs") if problem else \
            unprivileged_python(config.get("user") or "", workdir)
        print(note)
        if python:
            sys.executable = python  # grader.sandbox.parent starts each worker as `sys.executable -I -m grader.sandbox.worker`
        doc = grading.grade(sub, device=config.get("device", "cpu"), examples=int(config["examples"]), only=exercises,
                            secret=_secret(root))
    finally:
        sys.executable = saved
        shutil.rmtree(workdir, ignore_errors=True)
    return results_document(doc, exercises, bool(config.get("quiz")), time.monotonic() - start, problem,
                            int(config["examples"]))


def unprivileged_python(user: str, workdir: Path) -> tuple[str | None, str]:
    """A wrapper that starts this Python as ``user`` (see the module's docstring), or None,
    and a sentence for the instructor saying who runs student code."""
    if not user:
        return None, "student code runs as the grading user (no account configured)"
    if os.geteuid() != 0:
        return None, f"the grader is not root: student code runs as uid {os.geteuid()}, like the grader"
    import pwd

    try:
        account = pwd.getpwnam(user)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            return None, f"WARNING: no account {user!r} and no useradd: student code runs as root"
        made = subprocess.run([useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent",
                               "--shell", "/usr/sbin/nologin", user], capture_output=True, text=True)
        if made.returncode != 0:
            return None, f"WARNING: useradd {user} failed ({made.stderr.strip()}): student code runs as root"
        account = pwd.getpwnam(user)
    uid, gid = account.pw_uid, account.pw_gid
    if uid == 0:
        return None, f"WARNING: {user!r} is root: student code runs as root"
    chown, setpriv, runuser, unshare = (shutil.which(t) for t in ("chown", "setpriv", "runuser", "unshare"))
    drops = []
    if setpriv:
        drops.append([setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"])
    if runuser:
        drops.append([runuser, "-u", user, "--"])
    candidates = [([unshare, "--net", "--"] + d, True) for d in drops if unshare] + [(d, False) for d in drops]
    if not chown or not candidates:
        return None, "WARNING: neither setpriv nor runuser is available: student code runs as root"
    wrapper = workdir / "hnm-worker-python"
    for prefix, netns in candidates:
        wrapper.write_text(
            "#!/bin/sh\n"
            "# Starts one sandboxed grading worker as the unprivileged account (grader.exports.gradescope).\n"
            f"{shlex.quote(chown)} {uid}:{gid} . || exit 70\n"
            f"exec {' '.join(shlex.quote(a) for a in prefix)} {shlex.quote(sys.executable)} \"$@\"\n")
        wrapper.chmod(0o700)
        probe = Path(tempfile.mkdtemp(prefix="hnm-probe-"))
        try:
            ran = subprocess.run([str(wrapper), "-I", "-c", "import os, grader.sandbox.worker; print(os.geteuid())"],
                                 cwd=probe, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            continue
        finally:
            shutil.rmtree(probe, ignore_errors=True)
        if ran.returncode == 0 and ran.stdout.strip() == str(uid):
            where = ", in its own network namespace" if netns else ""
            return str(wrapper), f"student code runs as {user} (uid {uid}){where}"
    return None, f"WARNING: could not start Python as {user} (the container forbids it?): student code runs as root"


# --------------------------------------------------------------------------- results.json
def results_document(doc: dict[str, Any], exercises: tuple[str, ...], quiz: bool, elapsed: float,
                     problem: str | None = None, examples: int | None = None) -> dict[str, Any]:
    """Gradescope's results.json for one grading document (see Gradescope's specification)."""
    from grader import quiz as quiz_module
    from grader.suites.registry import REGISTRY

    tests = []
    for i, ex_id in enumerate(exercises, 1):
        exercise = REGISTRY[ex_id]
        props = {p.name: p for p in exercise.properties}
        result = doc["exercises"][ex_id]
        for j, p in enumerate(result["properties"], 1):
            prop = props.get(p["name"])
            hidden = prop is not None and prop.visibility == "hidden"
            tests.append({
                "name": f"{ex_id}: {p['name']}",
                "number": f"{i}.{j}",
                "score": float(p["score"]),
                "max_score": float(p["max_score"]),
                "status": "passed" if p["passed"] else "failed",
                "visibility": "after_published" if hidden else "visible",
                "tags": [ex_id],
                "output": _property_output(p, prop.description if prop else "", hidden),
                "output_format": "md",
            })
    if quiz:
        q = doc.get("quiz")
        if q is None:
            q = {"score": 0.0, "max_score": float(quiz_module.QUESTIONS_PER_QUIZ),
                 "error": "no quiz answers were submitted (quiz.json, or QUIZ_ANSWERS in a notebook)"}
        # A graded (secret-seeded) quiz is shown after publication: per-question feedback on
        # a resubmittable assignment would give the keys away.
        graded = str(q.get("draw", "")).startswith("graded")
        tests.append({
            "name": "quick test", "number": f"{len(exercises) + 1}.1",
            "score": float(q["score"]), "max_score": float(q["max_score"]),
            "status": "passed" if q["score"] >= q["max_score"] else "failed",
            "visibility": "after_published" if graded else "visible",
            "tags": ["quiz"], "output": _quiz_output(q), "output_format": "md",
        })
    score = float(sum(t["score"] for t in tests))
    max_score = float(sum(t["max_score"] for t in tests))
    if problem:
        output = (f"**Your submission could not be read:** {_md(problem)}\n\n"
                  f"Nothing was graded, so every test below scores 0 (out of {max_score:g}). Fix this and submit again.")
    else:
        passed = sum(t["status"] == "passed" for t in tests)
        output = f"**Total: {score:g} / {max_score:g}**. {passed} of {len(tests)} tests passed."
        if examples:
            output += (f" Each property was checked on {examples} generated inputs; a failed one shows the"
                       " smallest input on which your function breaks its rule.")
        for message in doc.get("messages", []):
            output += f"\n\n{_md(message)}"
    return {
        "score": score,
        "execution_time": round(elapsed),
        "output": output,
        "output_format": "md",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _property_output(p: dict[str, Any], rule: str, hidden: bool) -> str:
    from grader.reports.feedback import _pretty, counterexample_sections, diagnosis_text

    parts = [f"**Rule:** {_md(rule)}" if rule else ""]
    parts.append("Passed." if p["passed"] else f"**Failed:** {_md(p['message'])}")
    known = diagnosis_text(p)
    if known:
        parts.append(f"**{_md(known)}**")
    cx = p.get("counterexample")
    if cx and not p["passed"]:
        parts += [f"**{label}**:\n\n" + _block(_pretty(value)) for _, label, value in counterexample_sections(cx)]
    if hidden:
        parts.append("_This is a hidden property: how it is checked is not shown._")
    return "\n\n".join(x for x in parts if x)


def _quiz_output(q: dict[str, Any]) -> str:
    if q.get("error"):
        return f"**Not graded:** {_md(q['error'])}"
    lines = [f"{q.get('correct', 0)} of {q['max_score']:g} correct."]
    for r in q.get("results", []):
        lines.append(f"- `{r['id']}`: {'correct' if r['correct'] else 'wrong'}. {_md(r.get('explanation', ''))}")
    return "\n".join(lines)


_MD_SPECIAL = re.compile(r"[\\`*\[\]<>#|~]|(?<!\w)_|_(?!\w)")


def _md(text: str) -> str:
    """Plain text shown as Markdown: special characters escaped, so student text cannot format
    (an underscore inside a word, as in ``distance_weights``, formats nothing and stays)."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), str(text))


def _block(text: str, limit: int = 4000) -> str:
    text = text if len(text) <= limit else text[:limit] + "\n... (cut)"
    run = longest = 0
    for c in text:
        run = run + 1 if c == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m grader.exports.gradescope")
    ap.add_argument("--autograde", metavar="ROOT", required=True,
                    help="Gradescope's /autograder folder: grade submission/, write results/results.json")
    args = ap.parse_args(argv)
    return autograde(Path(args.autograde))


if __name__ == "__main__":
    sys.exit(main())
