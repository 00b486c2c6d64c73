"""``hnm build``: regenerate the instructor masters and the student notebooks.

Masters (nbgrader source notebooks) are written to ``exercises/source/<name>/<name>.ipynb``
from :mod:`grader.nbgrader.assignments`; the student notebooks ``exercises/<name>.ipynb`` are what
real ``nbgrader generate_assignment`` makes of them. ``hnm nbgrader-course DIR`` sets up an
instructor's nbgrader course holding the masters.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from grader.engine.model import AGREE_FULL, AGREE_NONE
from grader.nbgrader.assignments import ASSIGNMENTS, SETUP, Assignment, Exercise
from grader.suites.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
CELL_TIMEOUT = 300

CONFIG = '''# nbgrader configuration for the hard negative mining course (written by `hnm nbgrader-course`).
c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "hnm"
c.CourseDirectory.root = {root!r}
# Solutions are replaced by this stub in the student notebooks.
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
# A check cell runs ~100 generated examples per property: give it time, on slow machines too.
c.ExecutePreprocessor.timeout = {timeout}
# Kernel start-up chatter must not count as test output.
c.ExecutePreprocessor.kernel_name = "python3"
'''


def _nbgrader(cell: str, **extra) -> dict:
    meta = {"schema_version": 3, "solution": False, "grade": False, "locked": False}
    meta.update(extra)
    return {"nbgrader": meta}


def _points(value: float) -> str:
    return f"{value:g}"


def rules_box(exercise_id: str) -> str:
    """Markdown: every rule the grader scores for ``exercise_id``, with its points, from the registry
    (so the notebook's text and the grader cannot drift apart)."""
    exercise = REGISTRY[exercise_id]
    hidden = " *(hidden check: its code is not shown, its result is)*"
    rows = [
        "| " + p.description.replace("|", "\\|") + (hidden if p.visibility == "hidden" else "")
        + f" | `{p.name}` | {_points(p.points)} |"
        for p in exercise.properties
    ]
    return "\n".join(
        [
            f"**Rules the grader checks** for `{exercise.signature_text()}` "
            f"({_points(exercise.max_score)} points; `grader.check` below and the final grading run the same checks):",
            "",
            "| rule | property | points |",
            "|---|---|---|",
            *rows,
            "",
            "Each rule is checked on many generated inputs; the first input that breaks it is shrunk to a "
            "minimal counterexample. A function that raises on an edge input loses only `handles_edge_cases`; on "
            "ordinary inputs an exception fails the rule being checked. A rule earns nothing when your answers are "
            "empty (or all zero) on most inputs where the reference has one. **Points only for right answers:** "
            "before any rule is scored, your function is compared with the reference on generic inputs (random "
            f"values, no ties or boundaries); every rule's points are multiplied by a factor that is 0 when "
            f"{AGREE_NONE:.0%} or fewer of your answers agree, full from {AGREE_FULL:.0%}, and linear between "
            "(so a valid-looking but useless answer earns nothing, while a slip at a boundary or on edge inputs "
            "costs only its rule). The speed point (`scale`) is judged only once half of the other points are "
            "earned; it runs your function once on the large input named in its rule, and its output there must "
            "agree with the reference's, so a Python loop over samples or pairs loses that point alone.",
        ]
    )


def _answer(ex: Exercise) -> str:
    params = list(inspect.signature(getattr(__import__(ex.module), ex.id)).parameters)
    return "\n".join(
        [
            ex.signature,
            "    " + ex.docstring,
            "    ### BEGIN SOLUTION",
            f"    from {ex.module} import {ex.id} as reference  # the course's reference implementation",
            "",
            f"    return reference({', '.join(params)})",
            "    ### END SOLUTION",
        ]
    )


# The notebook metadata exactly as JupyterLab writes it once the kernel has started, so that a
# released notebook does not show as modified the moment it opens (tests/test_browser.py). The
# version is the kernel's Python: the one the course is built and tested with (on another patch
# level JupyterLab updates it on open, and saving then is harmless).
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": "3.11.7",
}


def master(assignment: Assignment) -> nbformat.NotebookNode:
    """The nbgrader source notebook of ``assignment``, with deterministic cell ids."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    cells = [
        nbformat.v4.new_markdown_cell(assignment.intro, id="intro"),
        nbformat.v4.new_code_cell(SETUP, id="setup"),
    ]
    for ex in assignment.exercises:
        points = REGISTRY[ex.id].max_score
        cells += [
            nbformat.v4.new_markdown_cell(ex.intro, id=f"{ex.id}-idea"),
            nbformat.v4.new_markdown_cell(rules_box(ex.id), id=f"{ex.id}-rules"),
            nbformat.v4.new_code_cell(_answer(ex), id=f"{ex.id}-answer",
                                      metadata=_nbgrader("answer", solution=True, grade_id=ex.id)),
            nbformat.v4.new_code_cell(ex.try_it, id=f"{ex.id}-try"),
            nbformat.v4.new_code_cell(
                f'grader.check("{ex.id}", {ex.id})', id=f"{ex.id}-check",
                metadata=_nbgrader("check", grade=True, locked=True, points=points, grade_id=f"check_{ex.id}"),
            ),
        ]
    nb.cells = cells
    return nb


def answer_cells(module: Path) -> dict[str, str]:
    """Function name -> a whole answer cell: the module's imports and that function's source
    (how a .py answer file becomes notebook answers, e.g. for tests and benchmarks)."""
    import ast

    source = Path(module).read_text()
    tree = ast.parse(source)
    imports = [ast.get_source_segment(source, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return {n.name: "\n".join(imports + ["", ast.get_source_segment(source, n)])
            for n in tree.body if isinstance(n, ast.FunctionDef)}


def write_config(course: Path) -> None:
    (course / "nbgrader_config.py").write_text(CONFIG.format(root=str(course.resolve()), timeout=CELL_TIMEOUT))


def run_nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the real ``nbgrader`` CLI in ``course`` (with this interpreter's bin on PATH for alembic)."""
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    env.pop("DISPLAY", None)
    exe = shutil.which("nbgrader", path=env["PATH"]) or "nbgrader"
    done = subprocess.run([exe, *args], cwd=course, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def write_masters(course: Path) -> list[Path]:
    paths = []
    for assignment in ASSIGNMENTS:
        path = course / "source" / assignment.name / f"{assignment.name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(master(assignment), path)
        paths.append(path)
    return paths


def build(exercises: Path = ROOT / "exercises") -> list[Path]:
    """Regenerate the masters and, through nbgrader, the student notebooks in ``exercises``."""
    written = write_masters(exercises)
    with tempfile.TemporaryDirectory(prefix="hnm-build-") as tmp:
        course = Path(tmp)
        shutil.copytree(exercises / "source", course / "source")
        write_config(course)
        for assignment in ASSIGNMENTS:
            run_nbgrader(course, "generate_assignment", assignment.name, "--force")
            release = course / "release" / assignment.name / f"{assignment.name}.ipynb"
            target = exercises / f"{assignment.name}.ipynb"
            shutil.copyfile(release, target)
            written.append(target)
    return written


def course(directory: Path) -> Path:
    """An nbgrader course in ``directory`` holding the masters and a config."""
    directory.mkdir(parents=True, exist_ok=True)
    write_masters(directory)
    write_config(directory)
    return directory


def register(subparsers) -> None:
    b = subparsers.add_parser("build", help="regenerate the exercise masters and student notebooks")
    b.add_argument("--exercises", default=str(ROOT / "exercises"), help="the exercises folder")
    b.set_defaults(handler=lambda a: print("\n".join(str(p) for p in build(Path(a.exercises)))) or 0)
    c = subparsers.add_parser("nbgrader-course", help="set up an nbgrader course with the exercise masters")
    c.add_argument("directory", metavar="DIR")
    c.set_defaults(handler=lambda a: print(f"nbgrader course ready in {course(Path(a.directory))}") or 0)
