"""Parent side of the sandbox: start, talk to, time out and replace worker processes."""

from __future__ import annotations

import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from grader.sandbox import codec

MAX_REPLY_BYTES = 256 << 20


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
    isolate: bool = True  # the worker's audit hook (off only to show, in tests, what it prevents)


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


class Worker:
    """One sandboxed child process holding one student's code."""

    def __init__(self, device: str = "cpu", limits: Limits = Limits()):
        self.device, self.limits = device, limits
        self.proc: subprocess.Popen | None = None
        self.home: str | None = None
        self.calls = 0

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> None:
        self.stop()
        self.home = tempfile.mkdtemp(prefix="hnm-worker-")
        cmd = [
            sys.executable, "-I", "-m", "grader.sandbox.worker",
            "--memory-mb", str(self.limits.memory_mb),
            "--cpu-seconds", str(self.limits.cpu_seconds),
            "--file-mb", str(self.limits.file_mb),
            "--device", self.device,
        ] + ([] if self.limits.isolate else ["--no-isolation"])
        # -I isolates from the environment and the cwd; the installed packages stay importable.
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=self.home, env=_environment(self.device, self.home), start_new_session=True,
        )
        self.calls = 0
        self._receive(self.limits.start_seconds)

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.proc = None
        if self.home:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- requests ---------------------------------------------------------------------
    def request(self, message: dict, timeout: float | None = None) -> dict:
        if self.proc is None:
            self.start()
        if timeout is None:
            timeout = self.limits.first_call_seconds if self.calls == 0 else self.limits.call_seconds
        self.calls += 1
        payload = codec.dumps(message)
        try:
            self.proc.stdin.write(struct.pack(">Q", len(payload)) + payload)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._failed("stopped before the request could be sent") from None
        return self._receive(timeout)

    def _receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        head = self._read(8, deadline, timeout)
        size = struct.unpack(">Q", head)[0]
        if size > MAX_REPLY_BYTES:
            raise self._failed(f"sent a reply of {size} bytes (over {MAX_REPLY_BYTES})")
        body = self._read(size, deadline, timeout)
        try:
            reply = codec.loads(body)
        except ValueError:
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
