"""Build the lesson notebooks from their readable sources and execute them.

Each lesson is written as a percent-format script, ``lessons/src/NN_name.py``:

* ``# %% [markdown]`` starts a markdown cell; its lines are written as comments
  (``# text``), and the leading ``# `` is removed;
* ``# %%`` starts a code cell (IPython magics such as ``%matplotlib inline`` are allowed).

``python lessons/build.py`` turns every source into ``lessons/NN_name.ipynb`` and executes it
with nbclient (kernel ``python3``, working directory ``lessons/``), so the committed notebook
carries its outputs. ``python lessons/build.py 03`` builds only the lessons whose name starts
with ``03``; ``--no-execute`` writes the notebooks without running them.

A few notebooks that are not numbered lessons (``EXTRAS``, e.g. ``lessons/src/quick_test.py``)
are built and executed the same way; ``python lessons/build.py quick_test`` builds one alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
import zmq
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

LESSONS = Path(__file__).resolve().parent
SOURCES = LESSONS / "src"
KERNEL = "python3"
TIMEOUT_S = 600
EXTRAS = ("quick_test",)  # non-lesson notebooks: built like lessons, not held to the lesson checks
REPRODUCIBLE_MATH = {"MKL_CBWR": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def sources() -> list[Path]:
    """Every lesson source, in lesson order."""
    return sorted(SOURCES.glob("[0-9][0-9]_*.py"))


def extra_sources() -> list[Path]:
    """The sources of the non-lesson notebooks (``EXTRAS``) that exist."""
    return [p for p in (SOURCES / f"{name}.py" for name in EXTRAS) if p.exists()]


def notebook_path(source: Path) -> Path:
    return LESSONS / (source.stem + ".ipynb")


def parse(text: str) -> list[tuple[str, str]]:
    """Split a percent-format source into ``(kind, source)`` cells, ``kind`` in {code, markdown}."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line else "code"
            cells.append((kind, []))
        elif cells:
            cells[-1][1].append(line)
        elif line.strip():
            raise ValueError("a lesson source must start with a '# %%' cell marker")
    out = []
    for kind, lines in cells:
        if kind == "markdown":
            lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines]
        body = "\n".join(lines).strip("\n")
        if body:
            out.append((kind, body))
    return out


def build(source: Path) -> nbformat.NotebookNode:
    """The (unexecuted) notebook of a lesson source."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, body) in enumerate(parse(source.read_text())):
        cell = nbformat.v4.new_markdown_cell(body) if kind == "markdown" else nbformat.v4.new_code_cell(body)
        cell["id"] = f"{source.stem[:2]}-{i:03d}"  # stable ids keep diffs small
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = TIMEOUT_S) -> nbformat.NotebookNode:
    """Run ``nb`` in place with a fresh kernel, cwd ``lessons/``, headless matplotlib."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    # Training amplifies last-bit differences, so the kernel's math must take the same code path on
    # every x86 machine: AVX2 kernels in MKL (conditional numerical reproducibility), ATen and oneDNN,
    # which every x86-64 CPU of the last decade has. Measured here: on an AVX-512 AMD EPYC the
    # forced path gives the default results; MKL's own default differs between CPU vendors.
    if platform.machine().lower() in ("x86_64", "amd64"):
        for name, value in REPRODUCIBLE_MATH.items():
            os.environ.setdefault(name, value)
    # On a fresh machine matplotlib builds its font cache on first import and says so on
    # stderr; do that here, outside the notebook, so lessons never write to stderr.
    import matplotlib.font_manager  # noqa: F401

    km = KernelManager(kernel_name=KERNEL)
    # Encrypt the kernel's sockets where pyzmq can: otherwise recent ipykernels print a
    # "running over TCP without encryption" warning on every start.
    if km.has_trait("transport_encryption") and zmq.has("curve"):
        km.transport_encryption = "auto"
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(LESSONS)}},
        record_timing=False,
    )
    try:
        client.execute()
    finally:
        if km.has_kernel:
            km.shutdown_kernel()
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="build only lessons whose file name starts with one of these")
    parser.add_argument("--no-execute", action="store_true", help="write the notebooks without running them")
    args = parser.parse_args(argv)
    for source in sources() + extra_sources():
        if args.only and not any(source.name.startswith(o) for o in args.only):
            continue
        start = time.perf_counter()
        nb = build(source)
        if not args.no_execute:
            execute(nb)
        nbformat.write(nb, notebook_path(source))
        print(f"{notebook_path(source).name}: {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
