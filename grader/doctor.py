"""``hnm doctor``: which kernel protections student code gets on this machine.

Starts one sandboxed worker exactly as grading does (:class:`grader.sandbox.parent.Worker`) and
prints each confinement layer it reports (:mod:`grader.sandbox.confine`): ``on``, ``partial``
or ``off``, with the reason. Exit status 0 when the required layers are on (student code may
run), 1 when ``hnm grade`` and ``hnm check`` would refuse.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from grader.sandbox import confine
from grader.sandbox.parent import IsolationUnavailable, Limits, Worker, WorkerFailure, missing_layers


def probe(device: str = "cpu", limits: Limits = Limits()) -> dict[str, str]:
    """The layers a worker gets here (an empty dict when it cannot even start)."""
    worker = Worker(device, dataclasses.replace(limits, required=()))
    try:
        worker.start()
        return dict(worker.isolation)
    except WorkerFailure:
        return {}
    finally:
        worker.stop()


def require(device: str = "cpu", unsafe: bool = False, stream=None) -> dict[str, str]:
    """Refuse (IsolationUnavailable) when student code would run without the required layers; with
    ``unsafe`` (the instructor's explicit flag) print a loud warning instead and check nothing."""
    if unsafe:
        (stream or sys.stderr).write(
            "WARNING: --unsafe-no-isolation: student code runs even where the kernel cannot confine it "
            "(see `hnm doctor`). Only for code you trust.\n")
        return {}
    layers = probe(device)
    missing = missing_layers(layers, confine.REQUIRED) if layers else ["the sandboxed worker could not start"]
    if missing:
        raise IsolationUnavailable(
            "refusing to run student code: the kernel cannot confine it on this machine: " + "; ".join(missing)
            + ". Run `hnm doctor` for details; --unsafe-no-isolation runs it anyway (trusted code only).")
    return layers


def _command(args: argparse.Namespace) -> int:
    layers = probe(args.device)
    if not layers:
        print("the sandboxed worker could not start", file=sys.stderr)
        return 1
    width = max(len(name) for name in confine.LAYERS)
    for name in confine.LAYERS:
        state = layers.get(name, "off: not reported")
        print(f"{name:<{width}}  {state}")
    missing = missing_layers(layers, confine.REQUIRED)
    if missing:
        print(f"\nNOT SAFE: hnm grade and hnm check refuse to run student code here (missing: "
              f"{', '.join(m.split(' ')[0] for m in missing)}); see the README's Security section.")
        return 1
    print(f"\nstudent code may run here (required: {', '.join(confine.REQUIRED)})")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("doctor", help="show which kernel protections student code gets on this machine")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.set_defaults(handler=_command)
