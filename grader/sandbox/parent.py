"""Parent side of the sandbox: start, talk to, time out and replace worker processes.

Importing this module does not import torch (the codec is imported at the first request), so
``hnm check`` can launch a worker before the grading process pays for its own imports.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from grader.sandbox.zygote import Forked, Zygote

MAX_REPLY_BYTES = 256 << 20


_ZYGOTE: tuple[int, Zygote] | None = None  # (the pid that started it, the zygote)
_ZYGOTE_LOCK = threading.Lock()  # threads of one grading process start one zygote, not one each


def _new_lock_after_fork() -> None:
    global _ZYGOTE_LOCK
    _ZYGOTE_LOCK = threading.Lock()  # a thread that held it is not in the forked process


os.register_at_fork(after_in_child=_new_lock_after_fork)


def _zygote() -> Zygote:
    """This process's fork server, started at the first forked worker and again if it failed
    (a process forked from this one starts its own)."""
    with _ZYGOTE_LOCK:
        return _current_zygote()


def _current_zygote() -> Zygote:
    global _ZYGOTE
    if _ZYGOTE is not None and (_ZYGOTE[0] != os.getpid() or _ZYGOTE[1].broken):
        if _ZYGOTE[0] == os.getpid():
            _ZYGOTE[1].close()
        _ZYGOTE = None
    if _ZYGOTE is None:
        _ZYGOTE = (os.getpid(), Zygote(_environment("cpu", tempfile.gettempdir())))
    return _ZYGOTE[1]


class WorkerFailure(Exception):
    """The worker hung, crashed, was killed or sent garbage; it has been stopped."""


@dataclass(frozen=True)
class Limits:
    call_seconds: float = 10.0  # per call on the ordinary (small) inputs: generous, so load never decides
    first_call_seconds: float = 20.0  # the first call of a fresh worker may import or warm up
    load_seconds: float = 20.0
    start_seconds: float = 60.0
    memory_mb: int = 4096
    cpu_seconds: int = 600
    file_mb: int = 16
    tmp_mb: int = 256  # the worker's private tmpfs
    isolate: bool = True  # kernel confinement (off only to show, in tests, what it prevents)
    # Layers without which no student code runs (grader.sandbox.confine.REQUIRED); () is the
    # instructor's explicit `--unsafe-no-isolation`: whatever can be set up, and a warning.
    required: tuple[str, ...] = ("filesystem", "syscalls")


class IsolationUnavailable(RuntimeError):
    """The kernel confinement the limits require could not be set up on this machine."""


def missing_layers(isolation: dict, required: tuple[str, ...]) -> list[str]:
    """The required layers that are not on, each with the worker's reason."""
    return [f"{name} ({isolation.get(name, 'not reported')})" for name in required
            if not str(isolation.get(name, "")).startswith("on")]


def _environment(device: str, home: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }
    if device == "cuda" and "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


def _strings(value: Any, limit: int = 100_000) -> bool:
    return isinstance(value, list) and len(value) <= limit and all(isinstance(v, str) for v in value)


def _summary(value: Any, depth: int = 0) -> bool:
    """A scale summary as :func:`grader.sandbox.scale.describe` makes it."""
    if depth > 16 or not isinstance(value, dict):
        return False
    if "tensor" in value:
        return isinstance(value["tensor"], str) and isinstance(value.get("device"), str) and \
            isinstance(value.get("shape"), list) and len(value["shape"]) <= 8 and \
            all(type(s) is int and s >= 0 for s in value["shape"])
    if "sequence" in value:
        items = value.get("items")
        return isinstance(value["sequence"], str) and isinstance(items, list) and len(items) <= 64 and \
            all(_summary(v, depth + 1) for v in items)
    return isinstance(value.get("object"), str)


def malformed(op: str | None, reply: dict, expected_items: int = 0) -> str | None:
    """Why ``reply`` is not a well-formed answer to a request ``op`` (None when it is): the
    schema of every reply the engine reads, checked before anything reads it (a batch of
    calls must hold exactly ``expected_items`` replies)."""
    if not isinstance(reply.get("ok"), bool):
        return "no ok flag"
    if not reply["ok"]:
        return None if isinstance(reply.get("error", ""), str) and isinstance(reply.get("traceback", ""), str) \
            else "an error that is not text"
    if op is None:
        return None if isinstance(reply.get("isolation", {}), dict) else "a malformed greeting"
    if op == "load":
        return None if _strings(reply.get("errors")) and _strings(reply.get("defined")) else "a malformed load report"
    if op == "signature":
        params = reply.get("params")
        good = isinstance(params, list) and len(params) <= 256 and all(
            isinstance(p, list) and len(p) == 3 and isinstance(p[0], str) and isinstance(p[1], str)
            and isinstance(p[2], bool) for p in params)
        return None if good else "a malformed signature"
    if op == "call":
        mutated = reply.get("mutated", [])
        if not (isinstance(mutated, list) and len(mutated) <= 64 and all(type(i) is int for i in mutated)):
            return "a malformed list of mutated inputs"
        after = reply.get("after", {})
        if not (isinstance(after, dict) and len(after) <= 64 and all(isinstance(k, str) and k.isdigit() for k in after)):
            return "a malformed set of modified inputs"
        return None if "value" in reply else "no value"
    if op == "calls":
        replies = reply.get("replies")
        if not isinstance(replies, list) or len(replies) != expected_items:
            return "a malformed batch of replies"
        for item in replies:
            why = malformed("call", item) if isinstance(item, dict) else "a reply that is not an object"
            if why is not None:
                return f"{why} in a batch"
        return None
    if op == "scale_value":
        return None if "value" in reply else "no value"
    if op == "scale":
        return None if _summary(reply.get("summary")) else "a malformed scale summary"
    return None


class Worker:
    """One sandboxed child process holding one student's code."""

    def __init__(self, device: str = "cpu", limits: Limits = Limits(), forked: bool = False):
        self.device, self.limits, self.forked = device, limits, forked
        self.proc: subprocess.Popen | Forked | None = None
        self._args: list[str] = []
        self.home: str | None = None
        self.calls = 0
        self.isolation: dict[str, str] = {}
        self.launched = False  # started by launch(), its ready message not read yet
        self._unanswered = False  # a request sent, its answer not read yet

    # -- life cycle -------------------------------------------------------------------
    def launch(self) -> None:
        """Start the process without waiting for it: it imports its libraries while the caller
        prepares (draws examples, times the reference); :meth:`start` then waits for it. A
        ``forked`` CPU worker comes from this process's zygote, which has imported them already."""
        self.stop()
        self.home = tempfile.mkdtemp(prefix="hnm-worker-")
        self._args = [
            "--memory-mb", str(self.limits.memory_mb),
            "--cpu-seconds", str(self.limits.cpu_seconds),
            "--file-mb", str(self.limits.file_mb),
            "--tmp-mb", str(self.limits.tmp_mb),
            "--device", self.device,
            "--hide", os.path.expanduser("~"), "--hide", os.getcwd(), "--parent", str(os.getpid()),
        ] + ([] if self.limits.isolate else ["--no-isolation"])
        self.proc = None
        if self.forked and self.device == "cpu":
            try:
                self.proc = _zygote().spawn(self._args, self.home, _environment(self.device, self.home))
            except OSError:
                self.proc = None
        if self.proc is None:
            self._direct()
        self.calls = 0
        self.launched = True

    def _direct(self) -> None:
        """Start the worker as a program of its own (``hnm check``, CUDA, or no zygote to fork it)."""
        # -I isolates from the environment and the cwd; the installed packages stay importable.
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "grader.sandbox.worker", *self._args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=self.home, env=_environment(self.device, self.home), start_new_session=True,
        )

    def start(self) -> None:
        """Start the process (or take the one :meth:`launch` started) and wait until it is ready
        and confined; :class:`IsolationUnavailable` when the kernel could not confine it."""
        if not (self.launched and self.proc is not None):
            self.launch()
        self.launched = False
        if isinstance(self.proc, Forked) and not self.proc.spawned(self.limits.start_seconds):
            self._close_pipes()  # the zygote failed: this worker starts directly (a new zygote next time)
            self._direct()
        ready = self._receive(self.limits.start_seconds)
        layers = ready.get("isolation")
        self.isolation = {str(k)[:40]: str(v)[:300] for k, v in layers.items()} if isinstance(layers, dict) else {}
        missing = missing_layers(self.isolation, self.limits.required) if self.limits.isolate else []
        if missing:
            self.stop()
            raise IsolationUnavailable("student code is not run: the kernel could not confine the worker: "
                                       + "; ".join(missing))

    def stop(self) -> None:
        self.launched = False
        self._unanswered = False
        if self.proc is not None:
            # Its group, and the process itself (a forked one may not lead a group yet); not once it
            # has been waited for: its pid may belong to another process by now.
            for kill in (os.killpg, os.kill) if self.proc.returncode is None else ():
                try:
                    kill(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self.proc.wait()
            self._close_pipes()
            self.proc = None
        if self.home:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def _close_pipes(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- requests ---------------------------------------------------------------------
    def request(self, message: dict, timeout: float | None = None) -> dict:
        return self.wait(self.send(message, timeout))

    def send(self, message: dict, timeout: float | None = None) -> tuple:
        """Write ``message`` without waiting for the answer; :meth:`wait` reads it (within
        ``timeout`` of now). The worker answers in order, and one request at a time may be
        unanswered: the engine sends the next batch of calls while it judges the last one."""
        if self._unanswered:
            raise RuntimeError("a request is already waiting for its answer")
        if self.proc is None or self.launched:
            self.start()
        if timeout is None:
            timeout = self.limits.first_call_seconds if self.calls == 0 else self.limits.call_seconds
        self.calls += 1
        from grader.sandbox import codec

        payload = codec.dumps(message)
        try:
            self.proc.stdin.write(struct.pack(">Q", len(payload)) + payload)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._failed("stopped before the request could be sent") from None
        self._unanswered = True
        return message.get("op"), len(message.get("items", ())), time.monotonic() + timeout, timeout

    def wait(self, sent: tuple) -> dict:
        """The answer to the request :meth:`send` returned ``sent`` for, checked against its schema."""
        op, items, deadline, timeout = sent
        if self.proc is None or not self._unanswered:
            raise self._failed("was stopped before it answered")
        self._unanswered = False
        reply = self._receive(timeout, deadline)
        why = malformed(op, reply, items)
        if why is not None:
            raise self._failed(f"sent a malformed reply ({why})")
        return reply

    def _receive(self, timeout: float, deadline: float | None = None) -> dict:
        deadline = time.monotonic() + timeout if deadline is None else deadline
        head = self._read(8, deadline, timeout)
        size = struct.unpack(">Q", head)[0]
        if size > MAX_REPLY_BYTES:
            raise self._failed(f"sent a reply of {size} bytes (over {MAX_REPLY_BYTES})")
        body = self._read(size, deadline, timeout)
        from grader.sandbox import codec

        try:
            reply = codec.unpack(body)
        except (ValueError, RecursionError):
            raise self._failed("sent a malformed reply") from None
        if not isinstance(reply, dict):
            raise self._failed("sent a malformed reply")
        return reply

    def _read(self, n: int, deadline: float, timeout: float) -> bytes:
        fd = self.proc.stdout.fileno()
        chunks, got = [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise self._failed(f"did not finish within its time limit ({timeout:g} s)", timed_out=True)
            chunk = os.read(fd, min(n - got, 1 << 20))
            if not chunk:
                raise self._failed("died")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _failed(self, what: str, timed_out: bool = False) -> WorkerFailure:
        code = None
        if self.proc is not None and not timed_out:
            try:
                code = self.proc.wait(timeout=2)  # it closed its pipe: collect how it ended
            except subprocess.TimeoutExpired:
                code = None
        detail = ""
        if code is not None and code < 0:
            try:
                detail = f" (killed by {signal.Signals(-code).name})"
            except ValueError:
                detail = f" (killed by signal {-code})"
        elif code is not None:
            detail = f" (exit status {code})"
        self.stop()
        failure = WorkerFailure(f"the student's code {what}{detail}")
        failure.timed_out = timed_out
        return failure
