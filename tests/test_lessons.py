"""Every lesson notebook runs from scratch and reproduces the results it was committed with.

For each ``lessons/src/NN_name.py`` source:

* the committed ``lessons/NN_name.ipynb`` holds exactly the cells the source builds
  (``python lessons/build.py`` was run after the last edit);
* a fresh build executes headless with nbclient (kernel ``python3`` from this Python,
  cwd ``lessons/``, ``MPLBACKEND=Agg``) without an error and without writing to stderr;
* it shows at least one plot and ends with a "Check yourself" section (which may be followed
  by one last cell, the anonymous quiz widget ``quiz_widget()``);
* its ``KEY-RESULTS {json}`` line equals the committed notebook's, character for character
  (on a CUDA machine, where the numbers legitimately differ, only the keys must agree).

The other notebooks built from ``lessons/src`` (``build.EXTRAS``: the quick test) must be
fresh, executed, and run again from scratch without an error or stderr output.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch

import solutions
import solutions.experiments.detection
import solutions.experiments.memory_bank
import solutions.experiments.training

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lessons"))
import build  # noqa: E402

SOURCES = build.sources()
EXTRAS = build.extra_sources()
QUIZ_CELL = "from grader.quiz.notebook import quiz_widget"


def key_results(nb: nbformat.NotebookNode) -> str:
    lines = [
        line
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.output_type == "stream" and out.name == "stdout"
        for line in out.text.splitlines()
        if line.startswith("KEY-RESULTS ")
    ]
    assert len(lines) == 1, f"expected exactly one KEY-RESULTS line, found {len(lines)}"
    return lines[0]


def test_there_are_six_lessons_and_the_readme_lists_them():
    assert [s.stem[:2] for s in SOURCES][:6] == ["01", "02", "03", "04", "05", "06"]
    readme = (ROOT / "lessons" / "README.md").read_text()
    for source in SOURCES:
        assert build.notebook_path(source).name in readme
    assert "jupyter lab lessons/" in readme


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_lessons_never_redefine_library_functions(source):
    text = source.read_text()
    names = set(solutions.__all__)
    for module in (solutions.experiments.training, solutions.experiments.memory_bank, solutions.experiments.detection):
        names |= {n for n, obj in vars(module).items() if callable(obj) and getattr(obj, "__module__", "") == module.__name__}
    redefined = sorted(n for n in names if re.search(rf"^\s*(def|class)\s+{re.escape(n)}\b", text, re.M))
    assert not redefined, f"{source.name} re-defines {redefined}"
    assert "import solutions" in text or "from solutions" in text


def is_quiz_cell(cell: nbformat.NotebookNode) -> bool:
    """The anonymous quiz widget cell: imports ``quiz_widget`` and calls it without a user."""
    return cell.cell_type == "code" and QUIZ_CELL in cell.source and bool(re.search(r"^quiz_widget\(\);?$", cell.source, re.M))


def shows_a_widget(cell: nbformat.NotebookNode) -> bool:
    return any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.get("outputs", []))


def fresh_and_executed(source: Path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode, float]:
    """``(committed, fresh, seconds)``: the committed notebook must hold exactly the source's
    cells and carry outputs; ``fresh`` is a new build, executed headless in ``seconds``."""
    committed = nbformat.read(build.notebook_path(source), as_version=4)
    fresh = build.build(source)
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in fresh.cells], (
        f"{build.notebook_path(source).name} is stale: run `python lessons/build.py {source.stem[:2]}`"
    )
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "the committed notebook was not executed"

    start = time.perf_counter()
    build.execute(fresh)  # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - start
    print(f"{source.stem}: executed in {seconds:.1f} s")

    outputs = [o for c in fresh.cells if c.cell_type == "code" for o in c.outputs]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{source.stem} wrote to stderr: {stderr}"
    assert not [o for o in outputs if o.output_type == "error"]
    return committed, fresh, seconds


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_lesson_runs_fresh_and_reproduces_its_committed_results(source):
    committed, fresh, _ = fresh_and_executed(source)
    outputs = [o for c in fresh.cells if c.cell_type == "code" for o in c.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no plot"
    cells = fresh.cells
    if is_quiz_cell(cells[-1]):  # "Check yourself" may end with the quiz widget
        assert shows_a_widget(cells[-1]), "the quiz cell displayed no widget"
        cells = cells[:-1]
    assert cells[-1].cell_type == "markdown" and "Check yourself" in cells[-1].source

    fresh_key, committed_key = key_results(fresh), key_results(committed)
    if torch.cuda.is_available():
        # The committed results were measured on the CPU; CUDA kernels round differently.
        strip = lambda k: json.loads(k.removeprefix("KEY-RESULTS ")).keys()  # noqa: E731
        assert strip(fresh_key) == strip(committed_key)
    else:
        assert fresh_key == committed_key


def test_the_readme_lists_the_other_notebooks():
    assert [s.stem for s in EXTRAS] == ["quick_test"]
    readme = (ROOT / "lessons" / "README.md").read_text()
    for source in EXTRAS:
        assert build.notebook_path(source).name in readme


def test_the_ohem_lesson_ends_with_the_anonymous_quiz():
    nb = nbformat.read(ROOT / "lessons" / "07_ohem_detection.ipynb", as_version=4)
    assert is_quiz_cell(nb.cells[-1]) and "user=" not in nb.cells[-1].source
    assert nb.cells[-2].cell_type == "markdown" and "Check yourself" in nb.cells[-2].source


@pytest.mark.parametrize("source", EXTRAS, ids=lambda s: s.stem)
def test_other_notebooks_run_fresh_without_errors(source):
    committed, fresh, _ = fresh_and_executed(source)
    quiz = [c for c in fresh.cells if is_quiz_cell(c)]
    assert quiz and all(shows_a_widget(c) for c in quiz), "the quiz widget was not shown"
    assert "user=" not in "".join(c.source for c in quiz), "the committed quiz must be anonymous (nothing saved)"
    # The committed notebook carries the widget's state, so viewers can render it without a kernel.
    state = committed.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    assert state.get("state"), "the committed notebook holds no widget state"
