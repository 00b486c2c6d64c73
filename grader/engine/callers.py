"""How the engine reaches a student's functions: through a sandboxed worker (``hnm grade``,
``hnm check FILE``, Gradescope) or in-process (the notebook self-check ``grader.check``).

Every value a caller returns has been through the plain-data codec, so the engine's checks
see fresh ``torch.Tensor`` objects whichever caller produced them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from grader.engine.model import Hang, Reply, StudentError
from grader.sandbox import codec
from grader.sandbox.parent import WorkerFailure

class Caller:
    """How the engine reaches the student's functions."""

    device = "cpu"

    def signature(self, fn: str) -> list | None: ...

    def call(self, fn: str, args: list, grad_wrt: int | None, upstream: Any) -> Reply: ...

    def call_many(self, fn: str, calls: list[tuple[list, int | None, Any]]) -> list[Reply | StudentError]:
        """Several calls at once, in order: each one's reply, or its :class:`StudentError`.
        Raises :class:`Hang` when the batch as a whole did not come back; the engine then
        makes the calls one by one."""
        out: list[Reply | StudentError] = []
        for args, grad_wrt, upstream in calls:
            try:
                out.append(self.call(fn, args, grad_wrt, upstream))
            except StudentError as exc:
                out.append(exc)
        return out

    #: whether a batch started with :meth:`send_many` runs while the engine goes on (in a worker)
    concurrent = False

    def send_many(self, fn: str, calls: list[tuple[list, int | None, Any]]) -> Callable[[], list[Reply | StudentError]]:
        """Start :meth:`call_many`; the function returned waits for its result (or raises its
        :class:`Hang`). In process the calls are only deferred until then."""
        return lambda: self.call_many(fn, calls)

    def scale(self, fn: str, exercise: str, seed_: int, timeout: float) -> Any: ...

    def ready(self) -> None:
        """Start whatever the next call needs (a replacement worker), so that no timing counts it."""

    def scale_value(self) -> Any:
        """The output of the last :meth:`scale` call (decoded plain data)."""


class WorkerCaller(Caller):
    """Calls into a sandboxed worker; a dead worker is replaced and the code reloaded."""

    concurrent = True

    def __init__(self, worker, cells: list[tuple[str, str]]):
        self.worker, self.cells, self.device = worker, cells, worker.device
        self.load_report: dict | None = None
        self._unread: Callable[[], None] | None = None  # reads the answer of a batch still in the worker

    def _ensure(self) -> None:
        if self.worker.proc is None or self.worker.launched:
            self.worker.start()
            reply = self.worker.request({"op": "load", "cells": self.cells}, timeout=self.worker.limits.load_seconds)
            if self.load_report is None:
                self.load_report = reply

    def ready(self) -> None:
        try:
            self._ensure()
        except WorkerFailure as exc:
            raise Hang(str(exc)) from None

    def load(self) -> dict:
        try:
            self._ensure()
        except WorkerFailure as exc:
            return {"ok": False, "error": f"{exc} while the submission was being loaded"}
        return self.load_report or {}

    def _settle(self) -> None:
        """Read the answer of a batch still in the worker (kept for whoever asked), so that the
        next request's answer is its own."""
        if self._unread is not None:
            unread, self._unread = self._unread, None
            unread()

    def _request(self, message: dict, timeout: float | None = None) -> dict:
        self._settle()
        try:
            self._ensure()
            return self.worker.request(message, timeout)
        except WorkerFailure as exc:
            raise Hang(str(exc)) from None

    def signature(self, fn: str) -> list | None:
        reply = self._request({"op": "signature", "fn": fn})
        return reply.get("params") if reply.get("ok") else None

    @staticmethod
    def _message(fn, args, grad_wrt, upstream) -> dict:
        message = {"op": "call", "fn": fn, "args": codec.encode(list(args))}
        if grad_wrt is not None:
            message.update(grad_wrt=grad_wrt, upstream=codec.encode(upstream))
        return message

    def call(self, fn, args, grad_wrt, upstream) -> Reply:
        return self._reply(self._request(self._message(fn, args, grad_wrt, upstream)), grad_wrt)

    def call_many(self, fn, calls):
        """One round trip for the whole batch, within the time limit of one call."""
        return self.send_many(fn, calls)()

    def send_many(self, fn, calls):
        """Send the whole batch now (one request, within the time limit of one call); the worker
        computes it while the engine judges the last batch."""
        items = [self._message(fn, args, grad_wrt, upstream) for args, grad_wrt, upstream in calls]
        self._settle()
        outcome: dict[str, Any] = {}
        try:
            self._ensure()
            sent = self.worker.send({"op": "calls", "items": items})
        except WorkerFailure as exc:
            outcome["hang"] = Hang(str(exc))
            sent = None

        def read() -> None:
            if not outcome:
                try:
                    outcome["reply"] = self.worker.wait(sent)
                except WorkerFailure as exc:
                    outcome["hang"] = Hang(str(exc))

        if sent is not None:
            self._unread = read

        def result() -> list[Reply | StudentError]:
            if self._unread is read:
                self._unread = None
            read()
            if "hang" in outcome:
                raise outcome["hang"]
            return self._replies(outcome["reply"], calls)

        return result

    def _replies(self, reply: dict, calls) -> list[Reply | StudentError]:
        if not reply.get("ok"):
            raise Hang(f"the batch of calls failed: {reply.get('error', 'an error')}")
        out: list[Reply | StudentError] = []
        for item, (_, grad_wrt, _) in zip(reply["replies"], calls):
            try:
                out.append(self._reply(item, grad_wrt))
            except StudentError as exc:
                out.append(exc)
        return out

    @staticmethod
    def _reply(reply: dict, grad_wrt: int | None) -> Reply:
        if not reply.get("ok"):
            raise StudentError(f"raised {reply.get('error', 'an error')}")
        try:
            value = codec.decode(reply.get("value"))
            grad = codec.decode(reply.get("grad")) if grad_wrt is not None else None
        except codec.Rejected as exc:
            raise StudentError(str(exc)) from None
        mutated = reply.get("mutated", [])
        mutated = tuple(i for i in mutated if isinstance(i, int)) if isinstance(mutated, list) else ()
        after = {}
        for index, encoded in (reply.get("after") or {}).items():
            try:  # only shown in the feedback: an unreadable value is left out
                after[int(index)] = codec.decode(encoded)
            except (codec.Rejected, ValueError):
                pass
        return Reply(value, mutated, grad, after)

    def scale(self, fn, exercise, seed_, timeout):
        reply = self._request({"op": "scale", "fn": fn, "exercise": exercise, "seed": seed_}, timeout=timeout)
        if not reply.get("ok"):
            raise StudentError(f"raised {reply.get('error', 'an error')}")
        return reply.get("summary")

    def scale_value(self):
        reply = self._request({"op": "scale_value"}, timeout=max(self.worker.limits.call_seconds, 30.0))
        try:
            return codec.decode(reply.get("value"))
        except codec.Rejected as exc:
            raise StudentError(str(exc)) from None


class LocalCaller(Caller):
    """In-process calls, for self-checks in a notebook. Outputs still go through the codec,
    so the same strictness applies (no tensor subclasses, plain data only)."""

    def __init__(self, functions: dict[str, Callable], device: str = "cpu", alarm=None, call_seconds: float = 10.0):
        self.functions, self.device, self.alarm, self.call_seconds = functions, device, alarm, call_seconds
        self._scale_output = None  # the last scale call's output, for scale_value

    def _limit(self, seconds: float):
        import contextlib

        return self.alarm.limit(seconds) if self.alarm is not None else contextlib.nullcontext()

    def signature(self, fn):
        import inspect

        params = inspect.signature(self.functions[fn]).parameters.values()
        return [[p.name, p.kind.name, p.default is not inspect.Parameter.empty] for p in params]

    def call(self, fn, args, grad_wrt, upstream) -> Reply:
        # Copies: the student's function must never touch the engine's own inputs.
        moved = [a.detach().to(self.device, copy=True) if isinstance(a, torch.Tensor) else a for a in args]
        before = [a.clone() if isinstance(a, torch.Tensor) else None for a in moved]
        if grad_wrt is not None:
            moved[grad_wrt] = moved[grad_wrt].detach().requires_grad_(True)
        try:
            with self._limit(self.call_seconds):
                out = self.functions[fn](*moved)
        except TimeoutError as exc:
            raise Hang(f"the function {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the student's exception is the feedback
            raise StudentError(f"raised {type(exc).__name__}" + (f": {exc}" if str(exc) else "")) from None
        mutated = tuple(
            i for i, (a, b) in enumerate(zip(moved, before))
            if b is not None and (a.shape != b.shape or not torch.equal(a.detach(), b))
        )
        grad = None
        if grad_wrt is not None:
            if type(out) is torch.Tensor and out.numel() == 0:
                grad = torch.zeros_like(moved[grad_wrt]).cpu()  # nothing to differentiate
            elif type(out) is not torch.Tensor or not out.requires_grad:
                grad = codec.RejectedValue("an output that is not connected to the input (no gradient)")
            else:
                try:
                    (g,) = torch.autograd.grad(out, moved[grad_wrt], upstream.to(out.device, out.dtype),
                                               allow_unused=True)
                except Exception as exc:  # noqa: BLE001 - e.g. an output of the wrong shape
                    raise StudentError(f"could not be differentiated: {type(exc).__name__}: {exc}") from None
                grad = codec.decode(codec.encode(torch.zeros_like(moved[grad_wrt]) if g is None else g))
        try:
            value = codec.decode(codec.loads(codec.dumps(codec.encode(out))))
        except codec.Rejected as exc:
            raise StudentError(str(exc)) from None
        after = {i: moved[i].detach().cpu().clone() for i in mutated if moved[i].numel() <= 4096}
        return Reply(value, mutated, grad, after)

    def scale(self, fn, exercise, seed_, timeout):
        from grader.sandbox import scale

        args = scale.make_inputs(exercise, seed_, self.device)
        self._scale_output = None
        try:
            with self._limit(timeout):
                out = self.functions[fn](*args)
        except TimeoutError as exc:
            raise Hang(f"the function {exc}") from None
        except Exception as exc:  # noqa: BLE001
            raise StudentError(f"raised {type(exc).__name__}: {exc}") from None
        self._scale_output = out
        return scale.describe(out)

    def scale_value(self):
        out, self._scale_output = self._scale_output, None
        try:
            return codec.decode(codec.loads(codec.dumps(codec.encode(out))))
        except codec.Rejected as exc:
            raise StudentError(str(exc)) from None


