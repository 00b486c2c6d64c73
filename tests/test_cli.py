"""The ``hnm`` entry point imports only what the command being run needs."""

from __future__ import annotations

import subprocess
import sys

from grader import cli


def test_the_command_map_names_exactly_what_the_modules_register():
    parser = cli.build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert sorted(choices) == sorted(cli.COMMANDS)
    for command, modules in cli.COMMANDS.items():
        single = cli.build_parser([command])
        assert command in next(a for a in single._actions if a.dest == "command").choices, modules


def test_unknown_or_missing_commands_list_every_command():
    everything = [m for ms in cli.COMMANDS.values() for m in ms]
    assert cli.modules_for([]) == list(dict.fromkeys(everything))
    assert cli.modules_for(["--help"]) == cli.modules_for(["no-such-command"]) == cli.modules_for([])
    assert cli.modules_for(["check", "ps1", "x.py"]) == ["grader.check_command"]


def test_check_does_not_import_the_notebook_and_report_stack():
    code = (
        "import sys; from grader.cli import build_parser; build_parser(['check', 'x.py']);"
        "print(sorted(m for m in ('nbformat', 'jsonschema', 'matplotlib', 'copydetect') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
