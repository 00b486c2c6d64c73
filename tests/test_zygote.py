"""Workers forked from a zygote (issue 21): the class run's grading processes fork each student's
worker from a process that has imported torch once. A forked worker must be the worker a direct
start gives (same confinement, same reports, same account of how it ended), must hold nothing of
the zygote's, and a zygote that fails must cost no student anything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from grader.grading import pipeline as grading
from grader.grading import submissions
from grader.sandbox import parent
from grader.sandbox.parent import Worker
from grader.sandbox.zygote import Forked

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "grader" / "samples"
EXAMPLES = 5


def _grade(path: Path, forked: bool, only=("batch_hard",)) -> dict:
    return grading.grade(submissions.single(path), examples=EXAMPLES, only=only, forked=forked)


def test_a_forked_worker_is_confined_and_graded_exactly_as_a_direct_one():
    direct = _grade(SAMPLES / "ada.py", forked=False, only=("batch_hard", "pairwise_distances"))
    forked = _grade(SAMPLES / "ada.py", forked=True, only=("batch_hard", "pairwise_distances"))
    assert forked == direct
    assert all(v == "on" for k, v in forked["isolation"].items() if k in ("filesystem", "syscalls", "namespaces"))
    assert os.readlink(f"/proc/{parent._zygote().proc.pid}/cwd") == "/"  # its start-up folder is gone


def test_the_worker_is_a_child_of_the_zygote_and_holds_none_of_its_descriptors(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(textwrap.dedent("""
        import os

        def batch_hard(dist, labels):
            fds = sorted(os.listdir("/proc/self/fd"), key=int)[:-1]  # the last one is the listing's own
            kinds = [os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).split(":")[0] for fd in fds]
            raise RuntimeError(f"ppid={os.getppid()} fds={kinds}")
    """))
    forked, direct = (_grade(probe, forked=f)["exercises"]["batch_hard"]["properties"][0]["message"] for f in (True, False))
    assert f"ppid={parent._zygote().proc.pid} " in forked, forked
    assert forked.split("fds=")[1] == direct.split("fds=")[1], (forked, direct)  # the worker's own, no more
    assert "socket" not in forked and forked.count("pipe") == 2, forked  # its request and reply pipes only


def test_how_a_worker_ended_is_reported_the_same_forked_or_direct(tmp_path):
    ending = tmp_path / "ending.py"
    ending.write_text(textwrap.dedent("""
        import os, signal

        def batch_hard(dist, labels):
            if dist.shape[0] > 3:
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(3)
    """))
    direct, forked = _grade(ending, forked=False), _grade(ending, forked=True)
    assert forked == direct
    said = " ".join(p["message"] for p in forked["exercises"]["batch_hard"]["properties"])
    assert "killed by SIGKILL" in said or "exit status 3" in said, said[:500]


def test_a_dead_zygote_costs_no_student_anything():
    before = _grade(SAMPLES / "ada.py", forked=True)
    zygote = parent._zygote()
    os.kill(zygote.proc.pid, signal.SIGKILL)
    zygote.proc.wait()
    after = _grade(SAMPLES / "ada.py", forked=True)  # the worker starts directly, the zygote is replaced
    assert after == before
    assert parent._zygote() is not zygote and parent._zygote().proc.poll() is None
    again = _grade(SAMPLES / "ada.py", forked=True)
    assert again == before


def test_a_worker_launched_and_stopped_before_the_zygote_answers_leaves_nothing_behind():
    worker = Worker("cpu", forked=True)
    worker.launch()
    home = worker.home
    assert isinstance(worker.proc, Forked)
    worker.stop()
    assert worker.proc is None and not os.path.exists(home)


def test_the_zygote_and_its_workers_end_with_the_grading_process(tmp_path):
    script = tmp_path / "grading.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from grader.sandbox import parent
        from grader.sandbox.parent import Worker
        w = Worker("cpu", forked=True)
        w.start()
        print(parent._zygote().proc.pid, w.proc.pid, flush=True)
        time.sleep(600)
    """))
    grading_process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        zygote_pid, worker_pid = map(int, grading_process.stdout.readline().split())
        os.kill(grading_process.pid, signal.SIGKILL)
        grading_process.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(p) for p in (zygote_pid, worker_pid)):
            time.sleep(0.1)
        assert not _alive(zygote_pid) and not _alive(worker_pid)
    finally:
        if grading_process.poll() is None:
            grading_process.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False


def test_only_cpu_workers_are_forked(monkeypatch):
    def refuse():
        raise AssertionError("a CUDA worker was asked of the zygote")

    monkeypatch.setattr(parent, "_zygote", refuse)
    worker = Worker("cuda", forked=True)
    worker.launch()  # started directly (it would fail later on a machine without CUDA)
    try:
        assert isinstance(worker.proc, subprocess.Popen)
    finally:
        worker.stop()


def test_each_forked_worker_draws_its_own_torch_seed(tmp_path):
    """A worker started directly seeds torch anew; a forked one would otherwise inherit the zygote's
    generator, and every classmate graded by that zygote would draw the same "random" numbers."""
    probe = tmp_path / "seed.py"
    probe.write_text(textwrap.dedent("""
        import torch

        def batch_hard(dist, labels):
            raise RuntimeError(f"seed={torch.initial_seed()} draw={float(torch.rand(1))}")
    """))
    said = [_grade(probe, forked=True)["exercises"]["batch_hard"]["properties"][0]["message"] for _ in range(2)]
    assert all("seed=" in s for s in said), said
    assert said[0].split("seed=")[1] != said[1].split("seed=")[1], said


def test_the_zygote_outlives_the_thread_that_started_it(monkeypatch):
    """PR_SET_PDEATHSIG follows the thread that started a process: a zygote started by a thread of a
    pool must not die (killing every other thread's worker) when that thread ends."""
    import threading

    monkeypatch.setattr(parent, "_ZYGOTE", None)  # a zygote of this test's own
    box = {}

    def first_student():  # a pool thread grades a student, starting the zygote, then ends
        with Worker("cpu", forked=True) as worker:
            worker.start()
        box["zygote"] = parent._zygote()

    thread = threading.Thread(target=first_student)
    thread.start()
    thread.join()
    zygote = box["zygote"]
    try:
        with Worker("cpu", forked=True) as worker:
            worker.start()
            assert isinstance(worker.proc, Forked) and worker.proc._pid is not None
            time.sleep(1.5)  # the starting thread is gone
            assert zygote.proc.poll() is None
            reply = worker.request({"op": "load", "cells": [["a.py", "def f():\n    return 1\n"]]})
            assert reply["defined"] == ["f"]
    finally:
        zygote.close()


class _Alarm(BaseException):
    """What hnm grade's budget alarm raises wherever the grading process happens to be."""


class _CutShort:
    """The zygote's socket, with an exception raised just after one answer has been read."""

    def __init__(self, sock):
        self.sock, self.armed = sock, False

    def __getattr__(self, name):
        return getattr(self.sock, name)

    def fileno(self):
        return self.sock.fileno()

    def recv(self, n):
        data = self.sock.recv(n)
        if self.armed:
            self.armed = False
            raise _Alarm("the alarm fired between the read and the filing")
        return data


def test_an_exchange_with_the_zygote_cut_short_retires_it(monkeypatch):
    """An answer read but not filed shifts every later answer onto the wrong ticket (a classmate's
    spawn would get another request's answer, a pid or an exit code not its own): the zygote is
    retired instead, and the next worker comes from a new one, with its own pid."""
    monkeypatch.setattr(parent, "_ZYGOTE", None)
    first = Worker("cpu", forked=True)
    first.start()
    zygote = parent._zygote()
    zygote.sock = _CutShort(zygote.sock)
    zygote.sock.armed = True
    try:
        first.stop()
    except _Alarm:
        pass
    assert zygote.broken
    first.stop()
    with Worker("cpu", forked=True) as second:
        second.start()
        fresh = parent._zygote()
        assert fresh is not zygote and isinstance(second.proc, Forked)
        with open(f"/proc/{second.proc.pid}/stat") as f:
            assert int(f.read().split(") ")[1].split()[1]) == fresh.proc.pid  # its pid is its own
    fresh.close()


def test_threads_share_one_zygote(monkeypatch):
    import threading

    monkeypatch.setattr(parent, "_ZYGOTE", None)
    barrier, got = threading.Barrier(4), []

    def ask():
        barrier.wait()
        got.append(parent._zygote())

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len({id(z) for z in got}) == 1
    finally:
        for z in {id(z): z for z in got}.values():
            z.close()


def test_stopping_a_forked_worker_waits_for_a_busy_zygote(monkeypatch):
    """Stopping waits without a timeout, as Popen.wait does: a zygote busy with other threads'
    requests (its lock held, after the wait was asked, longer than one answer's 6 s) is no reason
    to raise."""
    import threading

    worker = Worker("cpu", forked=True)
    worker.start()
    zygote = worker.proc.zygote
    held = threading.Event()

    def busy():  # another thread reading answers for its own, later request
        with zygote._lock:
            held.set()
            time.sleep(7)

    thread = threading.Thread(target=busy)
    send = zygote._send

    def send_then_busy(message, fds=()):
        ticket = send(message, fds)
        if message["op"] == "wait" and not held.is_set():
            thread.start()
            held.wait()
        return ticket

    monkeypatch.setattr(zygote, "_send", send_then_busy)
    try:
        worker.stop()  # Forked.wait() raised subprocess.TimeoutExpired out of stop() after 6 s
        assert worker.proc is None and not zygote.broken
    finally:
        if held.is_set():
            thread.join()


def test_a_zygote_retired_before_it_is_ready_leaves_no_folder():
    zygote = parent.Zygote(parent._environment("cpu", "/tmp"))
    folder = zygote.folder
    zygote.close()  # at once: it is still importing torch in its start-up folder
    assert not os.path.exists(folder)
