"""The ``hnm`` command line: one entry point for every command of the course.

Each command lives in its own module, listed in ``COMMANDS``; a module exposes
``register(subparsers)``, which adds its sub-parser and sets ``handler`` (a function
taking the parsed arguments and returning the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = (
    "grader.demo",
    "grader.secret",
    "grader.classrun.command",
    "grader.reports.class_report",
    "grader.similarity.command",
    "grader.selfcheck",
    "grader.nbgrader.build",
    "grader.quiz.cli",
    "grader.exports.gradescope",
    "grader.exports.canvas",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hnm", description="Hard negative mining course tools.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
