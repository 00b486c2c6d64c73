"""The ``hnm`` command line: one entry point for every command of the course.

Each command lives in its own module, listed in ``COMMANDS`` under the command names it
registers; a module exposes ``register(subparsers)``, which adds its sub-parser and sets
``handler`` (a function taking the parsed arguments and returning the exit status).

Only the modules of the command being run are imported, so ``hnm check`` does not pay for
nbformat, jsonschema or the class-report stack; ``hnm --help`` (or an unknown command) imports
them all to list every command. ``tests/test_cli.py`` checks that the map is complete.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys

#: command name -> the modules that register it (in the order they register).
COMMANDS: dict[str, tuple[str, ...]] = {
    "demo": ("grader.demo",),
    "secret": ("grader.secret",),
    "grade": ("grader.classrun.command",),
    "report": ("grader.reports.class_report",),
    "similarity": ("grader.similarity.command",),
    "check": ("grader.check_command",),
    "doctor": ("grader.doctor",),
    "build": ("grader.nbgrader.build",),
    "nbgrader-course": ("grader.nbgrader.build",),
    "quiz": ("grader.quiz.cli",),
    "export": ("grader.exports.gradescope", "grader.exports.canvas"),
}


def modules_for(argv: list[str]) -> list[str]:
    """The modules to import for ``argv``: those of its command, or all of them."""
    command = next((a for a in argv if not a.startswith("-")), None)
    names = COMMANDS[command] if command in COMMANDS else [m for ms in COMMANDS.values() for m in ms]
    return list(dict.fromkeys(names))


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv`` (every command when ``argv`` is None)."""
    parser = argparse.ArgumentParser(prog="hnm", description="Hard negative mining course tools.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in modules_for([] if argv is None else argv):
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None, leave: bool = False) -> int:
    """Run the command of ``argv``; return its exit status. With ``leave``, a command that writes
    no files (its parser sets ``leave_at_once``, e.g. ``hnm check``) ends the process as soon as
    its output is flushed and the exit handlers have run, without the interpreter's teardown of
    every module (about a second once torch is loaded, for a student waiting on a verdict)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    status = args.handler(args)
    if leave and getattr(args, "leave_at_once", False):
        sys.stdout.flush()
        sys.stderr.flush()
        run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
        if run_exit_handlers is not None:
            run_exit_handlers()
            os._exit(status)
    return status


def run() -> None:
    """The ``hnm`` console script. Hypothesis's entry-point plugins stay unloaded: the engine draws
    with a fixed seed and no plugin's strategies, and the one installed here (trio's) costs a
    third of a second of imports and a full garbage collection in every command that draws."""
    os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")
    sys.exit(main(leave=True))


if __name__ == "__main__":
    run()
