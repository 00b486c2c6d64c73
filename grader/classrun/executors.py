"""Where ``hnm grade`` runs its grading processes: a local pool or a Dask cluster.

Both executors take the same jobs (one per submission) and yield ``(job, results
document)`` pairs as grading finishes, in any order; the caller (``grader.classrun.command``)
writes each result as it arrives, so ``--resume`` behaves the same whichever runs.
Each job runs :func:`grade_job`, a trusted grading process that starts
the sandboxed worker processes holding the student's code (``grader.grading.pipeline.grade``):
on a Dask worker exactly as in the local pool.

- ``local``: one process grading in turn (``workers <= 1``) or a pool of ``workers``
  spawned processes.
- ``dask``: a ``distributed`` cluster. Without a scheduler address a ``LocalCluster`` is
  started (processes, ``workers`` workers of one thread each) and closed afterwards.
  With one (``tcp://host:8786``, ``tls://...``, a scheduler file written by
  ``dask scheduler --scheduler-file``, or a ``distributed.Client``), the existing
  cluster is used and left running. Its workers need this package installed (same
  version); they need not see the submissions' folder: each task carries the
  submission's files, and a worker that cannot read them in place (no shared file
  system) grades a copy in a temporary folder.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from grader.grading import submissions

KINDS = ("local", "dask")
BUDGET_SECONDS = 3600.0  # wall-clock budget of one student's grading, in the grading process


class BudgetExceeded(BaseException):
    """One student's grading took longer than its budget (a BaseException: no ``except Exception``
    on the way, in the engine or Hypothesis, may swallow it and grade on)."""


@dataclass(frozen=True)
class Job:
    """One submission to grade and how."""

    sub: submissions.Submission
    digest: str
    device: str
    examples: int
    only: tuple[str, ...] | None = None
    secret: bytes | None = None  # the course secret (travels with the job; never to a worker)
    unsafe: bool = False  # --unsafe-no-isolation: grade even where the kernel cannot confine the workers
    budget_seconds: float = BUDGET_SECONDS

    def args(self) -> tuple:
        """The arguments of :func:`grade_job` (plain, picklable data)."""
        sub = self.sub
        return (sub.student, str(sub.path), [str(f) for f in sub.files], self.device, self.examples, self.only,
                self.secret, self.unsafe, self.budget_seconds)

    def failed(self, why: BaseException | str) -> dict[str, Any]:
        """This job's results document when its grading process broke."""
        from grader.grading import pipeline

        return pipeline.failed(self.sub.student, self.only, why, self.secret)


class Executor:
    """Grades jobs; use as a context manager so that its processes are always stopped."""

    name = "?"

    def grade(self, jobs: Sequence[Job]) -> Iterator[tuple[Job, dict[str, Any]]]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make(kind: str = "local", workers: int = 2, scheduler: Any = None) -> Executor:
    if kind == "local":
        if scheduler is not None:
            raise ValueError("a scheduler address needs the dask executor (--executor dask)")
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(scheduler, workers)
    raise ValueError(f"unknown executor {kind!r}; known: {', '.join(KINDS)}")


def grade_job(student: str, path: str, files: list[str], device: str, examples: int,
              only: tuple[str, ...] | None, secret: bytes | None = None, unsafe: bool = False,
              budget_seconds: float = BUDGET_SECONDS) -> dict[str, Any]:
    """Pool task: runs in a trusted grading process (which starts the sandboxed worker), within a
    wall-clock budget (where it runs on the main thread: the local pool)."""
    import signal
    import threading

    import torch

    from grader.grading import pipeline
    from grader.sandbox.parent import Limits

    torch.set_num_threads(1)
    sub = submissions.Submission(student, Path(path), tuple(Path(f) for f in files))
    limits = Limits(required=()) if unsafe else Limits()
    timed = threading.current_thread() is threading.main_thread() and budget_seconds > 0
    if timed:
        def over(signum, frame):
            raise BudgetExceeded(f"grading took longer than its budget of {budget_seconds:g} s")

        previous = signal.signal(signal.SIGALRM, over)
        signal.setitimer(signal.ITIMER_REAL, budget_seconds)
    try:
        # One student after another on the main thread (the local pool): each worker forked from
        # this process's zygote. Dask runs tasks on threads, which would share a zygote: whatever
        # retired it would end the other threads' workers too; there each worker starts directly.
        return pipeline.grade(sub, device=device, examples=examples, only=only, secret=secret, limits=limits,
                              forked=threading.current_thread() is threading.main_thread())
    except BudgetExceeded as exc:
        return pipeline.failed(student, only, str(exc), secret)
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _grading_process(parent: int) -> None:
    """Pool initializer: a grading process dies with ``hnm grade`` (SIGTERM, kill -9 or a crash),
    ``parent`` being its pid (it may have died while this process was starting)."""
    from grader.sandbox import confine

    confine.die_with_parent(parent)


# --------------------------------------------------------------------------- local pool
class LocalExecutor(Executor):
    name = "local"

    def __init__(self, workers: int = 2):
        self.workers = workers

    def grade(self, jobs: Sequence[Job]) -> Iterator[tuple[Job, dict[str, Any]]]:
        if not jobs:
            return
        # Always in fresh spawned grading processes, also for one worker: every run takes the
        # same path, so the files are byte-identical whatever the number of workers.
        import multiprocessing

        from concurrent.futures.process import BrokenProcessPool

        from grader.sandbox.parent import IsolationUnavailable

        context = multiprocessing.get_context("spawn")
        todo, broken = list(jobs), set()
        while todo:  # a pool that breaks (a grading process killed) is replaced; its jobs get one more try
            with ProcessPoolExecutor(max_workers=max(1, self.workers), mp_context=context,
                                     initializer=_grading_process, initargs=(os.getpid(),)) as pool:
                pending = {pool.submit(grade_job, *job.args()): job for job in todo}
                todo = []
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        job = pending.pop(future)
                        try:
                            doc = future.result()
                        except BrokenProcessPool:
                            if job.sub.student in broken:
                                yield job, job.failed("its grading process died twice")
                            else:
                                broken.add(job.sub.student)
                                todo.append(job)
                            continue
                        except IsolationUnavailable:
                            raise
                        except Exception as exc:  # noqa: BLE001 - one student's failure, never the run's
                            doc = job.failed(exc)
                        yield job, doc


# --------------------------------------------------------------------------- dask
def _payload(sub: submissions.Submission) -> list[tuple[str, bytes]]:
    """The submission's files (and quiz answers) as ``(relative path, bytes)``.

    Relative to the file's folder for a single-file submission, to the student's folder
    otherwise, so that a copy has the same names (which reports may quote)."""
    if sub.path.is_file():
        base = sub.path.parent
        paths = [*sub.files, sub.path.with_name(f"{sub.student}.quiz.json")]
    else:
        base = sub.path
        paths = [*sub.files, *sorted(sub.path.rglob("quiz.json"))]
    out, seen = [], set()
    for path in paths:
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        try:
            out.append((path.relative_to(base).as_posix(), submissions.read_bytes(path)))
        except submissions.SubmissionError:
            continue  # graded where it runs as unreadable
    return out


def _grade_shipped(args: tuple, digest: str, files: list[tuple[str, bytes]], single_file: bool) -> dict[str, Any]:
    """Dask task: grade in place when this worker sees the same files, else grade a copy."""
    import warnings

    # Hypothesis warns when the global `random` state moves while it draws an example; on a
    # Dask worker the event-loop thread uses `random` (jittered timeouts). The grader's
    # strategies draw only from Hypothesis, so the examples are the same; silence the noise.
    warnings.filterwarnings("ignore", message="Do not use the `random` module inside strategies")
    student, path, names, device, examples, only, secret = args[:7]
    sub = submissions.Submission(student, Path(path), tuple(Path(f) for f in names))
    try:
        same = submissions.digest(sub) == digest
    except (OSError, ValueError):
        same = False
    if same:
        return grade_job(*args)
    with tempfile.TemporaryDirectory(prefix="hnm-submission-") as tmp:
        root = Path(tmp) if single_file else Path(tmp) / Path(path).name
        root.mkdir(parents=True, exist_ok=True)
        for rel, data in files:
            target = root / rel
            if not target.resolve().is_relative_to(root.resolve()):
                raise ValueError(f"refusing to write {rel!r} outside the copy of the submission")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        base = Path(path).parent if single_file else Path(path)
        copy = root / Path(path).name if single_file else root
        copied = [str(root / Path(f).relative_to(base)) for f in names]
        return grade_job(student, str(copy), copied, device, examples, only, secret, *args[7:])


class DaskExecutor(Executor):
    name = "dask"

    def __init__(self, scheduler: Any = None, workers: int = 2):
        try:
            import distributed
        except ImportError:
            raise ValueError("the dask executor needs dask and distributed: "
                             "pip install 'hard-negative-mining-course[dask]'") from None
        self._distributed = distributed
        self.cluster = None
        self.own_client = True
        if scheduler is None:
            self.cluster = distributed.LocalCluster(
                n_workers=max(1, workers), threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None,
            )
            self.client = distributed.Client(self.cluster)
        elif isinstance(scheduler, distributed.Client):
            self.client, self.own_client = scheduler, False
        else:
            try:
                if "://" not in str(scheduler) and os.path.isfile(scheduler):
                    self.client = distributed.Client(scheduler_file=str(scheduler))
                else:
                    self.client = distributed.Client(str(scheduler))
            except OSError as exc:  # refused, unreachable, timed out, TLS failures
                raise ValueError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None

    def grade(self, jobs: Sequence[Job]) -> Iterator[tuple[Job, dict[str, Any]]]:
        if not jobs:
            return
        run = uuid.uuid4().hex[:8]
        futures = {}
        for i, job in enumerate(jobs):
            future = self.client.submit(
                _grade_shipped, job.args(), job.digest, _payload(job.sub), job.sub.path.is_file(),
                key=f"hnm-grade-{run}-{i}-{job.sub.student}", pure=False, retries=0,
            )
            futures[future] = job
        try:
            for future in self._distributed.as_completed(list(futures)):
                try:
                    doc = future.result()
                except Exception as exc:  # noqa: BLE001 - a lost or failed task is that student's failure
                    if type(exc).__name__ == "IsolationUnavailable":
                        raise
                    doc = futures[future].failed(exc)
                yield futures[future], doc
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        if self.own_client:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
