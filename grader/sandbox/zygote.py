"""A fork server for workers: one trusted process per grading process imports torch once, and
each student's worker is forked from it instead of importing torch anew (about a second and a
half of a full submission's grading on two cores).

The zygote (``python -I -m grader.sandbox.zygote``) is started by the grading process with one
end of a Unix socket pair as its stdin, imports what a worker needs and never runs student code.
For each worker the grading process sends the worker's arguments, folder and environment with
the two pipe ends the worker will talk on (``SCM_RIGHTS``); the zygote forks, and the child
becomes exactly what ``python -I -m grader.sandbox.worker ARGS`` in that folder would be after
its imports: a new session, the folder as its working directory, the environment replaced,
every other descriptor closed (the socket to the zygote included), then
:func:`grader.sandbox.worker.main`, which confines it (namespaces, limits, privileges, Landlock,
seccomp) before any student code, as in a worker started directly. The zygote reaps its
children and tells the grading process how each one ended (:class:`Forked` has the part of
``subprocess.Popen``'s interface the :class:`~grader.sandbox.parent.Worker` uses).

Only the local pool's CPU workers are forked (``hnm grade``, where a grading process grades one
student after another on its main thread; Dask's tasks run on threads, which would share the
zygote and its failures): CUDA cannot be initialised in a forked child of a process that used it,
``hnm check`` starts its one worker while it imports its own libraries anyway, and Gradescope's
run starts each worker through a wrapper that hands the worker's folder to an unprivileged
account. If the zygote cannot be reached, the worker is started directly and a new zygote next
time: a zygote's failure never becomes a student's.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

MAX_MESSAGE = 1 << 20


# --------------------------------------------------------------------------- grading process side
class Zygote:
    """The grading process's handle on its fork server (started without waiting for it). The
    zygote answers requests in order; each request has a ticket, and an answer read while
    waiting for another one is kept for its own ticket."""

    def __init__(self, env: dict[str, str]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        folder = self.folder = tempfile.mkdtemp(prefix="hnm-zygote-")  # its working directory while it imports (empty, its own)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-m", "grader.sandbox.zygote", "--parent", str(os.getpid())],
                stdin=theirs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=folder,
                start_new_session=True,
            )
        except OSError:
            os.rmdir(folder)
            raise
        finally:
            theirs.close()
        self.broken = False
        self._sent = self._read = 0
        self._answers: dict[int, dict] = {}
        self._lock = threading.Lock()  # threads of one process (a threaded Dask worker) share the zygote

    def _send(self, message: dict, fds: list[int] = ()) -> int:
        with self._lock:  # the ticket is the message's place in the zygote's queue
            if self.broken:
                raise OSError("the zygote is gone")
            try:
                socket.send_fds(self.sock, [json.dumps(message).encode()], list(fds))
                self._sent += 1
            except BaseException:  # an OSError, or hnm grade's budget alarm mid-way: the count is lost
                self.broken = True
                raise
            return self._sent - 1

    def answer(self, ticket: int, timeout: float | None) -> dict | None:
        """The answer to request ``ticket``; None when it did not come within ``timeout`` or the
        zygote is gone (then it is marked broken)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        left = lambda: None if deadline is None else max(0.0, deadline - time.monotonic())  # noqa: E731
        if not self._lock.acquire(timeout=-1 if deadline is None else left()):
            return None
        try:
            return self._take(ticket, left)
        except BaseException:  # an answer read and not filed (the budget alarm): tickets no longer match
            self.broken = True
            raise
        finally:
            self._lock.release()

    def _take(self, ticket: int, left) -> dict | None:
        """Read answers (filing each under its request's ticket) until ``ticket``'s has come."""
        while ticket not in self._answers:
            if self.broken:
                return None
            try:
                if not select.select([self.sock], [], [], left())[0]:
                    return None
                raw = self.sock.recv(MAX_MESSAGE)
                answer = json.loads(raw) if raw else None
            except (OSError, ValueError):
                answer = None
            if not isinstance(answer, dict):
                self.broken = True
                return None
            self._answers[self._read] = answer  # whichever request it answers
            self._read += 1
        return self._answers.pop(ticket)

    def spawn(self, argv: list[str], home: str, env: dict[str, str]) -> "Forked":
        """Ask for a worker (OSError when the zygote is gone); its pid is read when first needed:
        the zygote may still be importing."""
        from_parent, to_child = os.pipe()  # the child reads requests from from_parent
        from_child, to_parent = os.pipe()
        try:
            ticket = self._send({"op": "spawn", "argv": argv, "home": home, "env": env}, [from_parent, to_parent])
        except BaseException:
            os.close(to_child)
            os.close(from_child)
            raise
        finally:
            os.close(from_parent)
            os.close(to_parent)
        return Forked(self, ticket, os.fdopen(to_child, "wb"), os.fdopen(from_child, "rb"))

    def close(self) -> None:
        self.broken = True
        self.sock.close()
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        try:
            os.rmdir(self.folder)  # still there if it was stopped before its imports were done
        except OSError:
            pass


class Forked:
    """A worker forked by the zygote, with what :class:`~grader.sandbox.parent.Worker` uses of a
    ``Popen``: ``pid``, ``stdin``, ``stdout`` and ``wait``."""

    def __init__(self, zygote: Zygote, ticket: int, stdin, stdout):
        self.zygote, self.ticket, self.stdin, self.stdout = zygote, ticket, stdin, stdout
        self._pid: int | None = None
        self.returncode: int | None = None

    def spawned(self, timeout: float) -> bool:
        """Whether the zygote forked the worker (waiting up to ``timeout`` for it to say so)."""
        if self._pid is None and self.ticket is not None:
            answer = self.zygote.answer(self.ticket, timeout)
            pid = answer.get("pid") if answer is not None else None
            self.ticket = None  # asked once: the answer is taken (or will never come)
            if type(pid) is int and pid > 0:
                self._pid = pid
            else:
                self.zygote.broken = True
        return self._pid is not None

    @property
    def pid(self) -> int:
        if not self.spawned(60.0):
            raise ProcessLookupError("the zygote did not fork the worker")
        return self._pid

    def wait(self, timeout: float | None = None) -> int:
        """The exit code as ``Popen.wait`` gives it (negative: the signal that ended it)."""
        if self.returncode is not None:
            return self.returncode
        if not self.spawned(60.0):
            self.returncode = -9  # never started: nothing to wait for
            return self.returncode
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:  # in slices of at most a second: the zygote serves one request at a time
            left = 1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
            try:
                ticket = self.zygote._send({"op": "wait", "pid": self._pid, "timeout": left})
            except OSError:
                ticket = None
            answer = None if ticket is None else self.zygote.answer(ticket, left + 5)
            if answer is None:  # the zygote is gone, and with it (PR_SET_PDEATHSIG) the worker
                if not self.zygote.broken:
                    if timeout is None:  # as Popen.wait(): no timeout, no TimeoutExpired (the zygote was busy)
                        continue
                    raise subprocess.TimeoutExpired("worker", timeout)
                self.returncode = -9
                return self.returncode
            if answer.get("code") is not None:
                self.returncode = int(answer["code"])
                return self.returncode
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired("worker", timeout)


# --------------------------------------------------------------------------- the zygote itself
def _child(request: dict, fds: list[int]) -> None:
    """In the forked child: become the worker of ``request`` (never returns)."""
    code = 1
    try:
        os.setsid()
        os.chdir(request["home"])
        os.dup2(fds[0], 0)
        os.dup2(fds[1], 1)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 2)
        os.closerange(3, 1 << 16)  # the socket to the zygote and everything else the zygote holds
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        sys.argv = ["grader.sandbox.worker", *[str(a) for a in request["argv"]]]
        sys.modules["torch"].seed()  # a process of its own draws its own seed, not the zygote's (shared by all)
        from grader.sandbox import worker

        code = worker.main()
    finally:
        os._exit(code if isinstance(code, int) else 1)


def _wait(pid: int, timeout: float | None) -> int | None:
    """The exit code of child ``pid`` once it has ended, within ``timeout`` (None: still running)."""
    try:
        if timeout is not None:
            fd = os.pidfd_open(pid)
            try:
                select.select([fd], [], [], timeout)
            finally:
                os.close(fd)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                return None
        else:
            _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        return -9  # already reaped, or not ours
    except ProcessLookupError:
        return -9


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--parent", type=int, required=True, help="the grading process's pid (the zygote dies with it)")
    args = ap.parse_args()
    # The zygote ends with the grading process: its end of the socket closes (an empty message
    # below) and the zygote is reparented (checked every second). Not PR_SET_PDEATHSIG: that
    # follows the *thread* that started the zygote, and the threads of a grading process come and
    # go while the zygote's children (other threads' students) still run.
    if os.getppid() != args.parent:
        return 1
    control = socket.socket(fileno=0)
    # What a worker imports before it is confined (grader.sandbox.worker.main, Session).
    import torch

    torch.set_num_threads(1)
    from grader.sandbox import worker

    worker.preload()
    here = os.getcwd()  # torch's libraries need a working directory while they load; now it can go
    os.chdir("/")
    if os.path.basename(here).startswith("hnm-zygote-"):
        try:
            os.rmdir(here)
        except OSError:
            pass

    while True:
        if not select.select([control], [], [], 1.0)[0]:
            if os.getppid() != args.parent:
                return 0
            continue
        try:
            message, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, 2)
        except OSError:
            return 0
        if not message:
            return 0  # the grading process closed its end
        try:
            request = json.loads(message)
        except ValueError:
            request = {}
        op = request.get("op")
        if op == "spawn" and len(fds) == 2:
            pid = os.fork()
            if pid == 0:
                control.detach()  # the child closes the descriptor itself, with every other one
                _child(request, fds)
            for fd in fds:
                os.close(fd)
            control.sendall(json.dumps({"pid": pid}).encode())
        elif op == "wait":
            for fd in fds:
                os.close(fd)
            timeout = request.get("timeout")
            code = _wait(int(request["pid"]), None if timeout is None else float(timeout))
            control.sendall(json.dumps({"code": code}).encode())
        else:
            for fd in fds:
                os.close(fd)
            control.sendall(json.dumps({"error": "unknown request"}).encode())


if __name__ == "__main__":
    sys.exit(main())
