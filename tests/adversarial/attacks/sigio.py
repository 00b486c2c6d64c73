"""Asks the kernel to signal other processes for it: a pipe owned (``F_SETOWN``) by the worker's parent
(the zygote it was forked from, or the grading process), by the grading process and by their process
groups, with ``SIGKILL`` as its I/O signal (``F_SETSIG``), then makes the pipe readable (the signal's
sender is the kernel: the filter on ``kill`` never sees it). Refused by seccomp (``F_SETOWN``) and by
Landlock's signal scope (ABI 6+); with neither, a worker of uid 0 killed any process of uid 0. An owner
taken counts as a success (one layer gone); a signal delivered kills the grading process (or the zygote,
and this worker with it), and the run says so instead of this report."""
import fcntl
import os
import signal
import sys
import time

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source
F_SETSIG = 10


def batch_hard(dist, labels):
    owners = {"parent": os.getppid()}
    if "--parent" in sys.argv:  # the grading process, when the worker's parent is the zygote
        owners["grading process"] = int(sys.argv[sys.argv.index("--parent") + 1])
    for name, pid in list(owners.items()):
        owners[f"{name}'s group"] = -pid  # F_SETOWN with -pgid: the whole group (each leads its own)
    armed, refused = [], []
    for name, owner in owners.items():
        try:
            r, w = os.pipe()
            fcntl.fcntl(r, fcntl.F_SETOWN, owner)
            fcntl.fcntl(r, F_SETSIG, signal.SIGKILL)
            fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)
            os.write(w, b"x")
            armed.append(name)
        except OSError as exc:
            refused.append(f"{name}: {exc.strerror}")
    time.sleep(0.5)  # the signals, if any, are delivered by now: whoever got one is gone
    if armed:  # aimed, and only Landlock's signal scope (a kernel of 6.12 or later) held it back
        raise RuntimeError(f"{WON}: the kernel took {armed} as owners of a SIGKILL on I/O")
    raise RuntimeError(f"blocked: {refused}")
