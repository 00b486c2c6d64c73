"""Every lesson notebook runs from scratch and reproduces the results it was committed with.

For each ``lessons/src/NN_name.py`` source:

* the committed ``lessons/NN_name.ipynb`` holds exactly the cells the source builds
  (``python lessons/build.py`` was run after the last edit);
* a fresh build executes headless with nbclient (kernel ``python3`` from this Python,
  cwd ``lessons/``, ``MPLBACKEND=Agg``) without an error and without writing to stderr;
* it shows at least one plot and ends with a "Check yourself" section;
* its ``KEY-RESULTS {json}`` line equals the committed notebook's, character for character
  (on a CUDA machine, where the numbers legitimately differ, only the keys must agree).
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
import solutions.memory_bank
import solutions.training

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lessons"))
import build  # noqa: E402

SOURCES = build.sources()


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
    for module in (solutions.training, solutions.memory_bank):
        names |= {n for n, obj in vars(module).items() if callable(obj) and getattr(obj, "__module__", "") == module.__name__}
    redefined = sorted(n for n in names if re.search(rf"^\s*(def|class)\s+{re.escape(n)}\b", text, re.M))
    assert not redefined, f"{source.name} re-defines {redefined}"
    assert "import solutions" in text or "from solutions" in text


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_lesson_runs_fresh_and_reproduces_its_committed_results(source):
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
    assert not stderr, f"the lesson wrote to stderr: {stderr}"
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no plot"
    assert fresh.cells[-1].cell_type == "markdown" and "Check yourself" in fresh.cells[-1].source

    fresh_key, committed_key = key_results(fresh), key_results(committed)
    if torch.cuda.is_available():
        # The committed results were measured on the CPU; CUDA kernels round differently.
        strip = lambda k: json.loads(k.removeprefix("KEY-RESULTS ")).keys()  # noqa: E731
        assert strip(fresh_key) == strip(committed_key)
    else:
        assert fresh_key == committed_key
