"""The sandboxed worker: runs student code in a child process, never in the grader.

Started by :class:`grader.sandbox.parent.Worker` as ``python -I -m grader.sandbox.worker`` in a fresh
temporary folder. It reads length-prefixed JSON requests on its original stdin and answers on its
original stdout (JSON followed by the tensors' raw bytes: ``codec.pack``); file descriptors 0-2 are pointed away from those pipes (student output goes to a
size-limited file). Before any student code runs, the kernel confines the process
(:mod:`grader.sandbox.confine`: namespaces, limits, privileges, Landlock, seccomp); the first
message says which layers are on. Everything this process says is untrusted data to the parent,
which validates it; this module only has to be honest for honest students.
"""

from __future__ import annotations

import argparse
import inspect
import os
import struct
import sys
import traceback


class Channel:
    def __init__(self, rfd: int, wfd: int):
        self.r = os.fdopen(rfd, "rb", buffering=0)
        self.w = os.fdopen(wfd, "wb", buffering=0)

    def read(self) -> bytes | None:
        head = self._exact(8)
        if head is None:
            return None
        return self._exact(struct.unpack(">Q", head)[0])

    def _exact(self, n: int) -> bytes | None:
        chunks, got = [], 0
        while got < n:
            chunk = self.r.read(n - got)
            if not chunk:
                return None
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def write(self, parts: list) -> None:
        """Send a message made by ``codec.pack`` (its parts in order, each written in full)."""
        for part in parts:
            view = memoryview(part).cast("B")
            while view:
                view = view[self.w.write(view):]


def preload() -> None:
    """Import what a worker needs before student code runs (the zygote calls it once for all its
    workers). Besides torch: the first ``torch.autograd.grad`` of a process imports torch's symbolic
    shapes and with them sympy (0.25-0.6 s), which would otherwise land in the first gradient
    call a student's function is timed or judged on."""
    import torch
    import torch.fx.experimental.symbolic_shapes  # noqa: F401

    from grader.sandbox import codec, scale  # noqa: F401


class Session:
    """State of one worker: the student's namespace and the request handlers."""

    def __init__(self, device: str):
        preload()
        import torch

        from grader.sandbox import codec, scale

        self.torch, self.codec, self.scale_inputs, self.device = torch, codec, scale, device
        self.namespace: dict = {"__name__": "submission", "__builtins__": __builtins__}
        self.scale_output = None
        self.blob = codec.Blob()  # the raw tensor bytes of the reply being made

    def handle(self, request: dict) -> dict:
        op = request.get("op")
        try:
            if op == "load":
                return self.load(request["cells"])
            if op == "signature":
                return self.signature(request["fn"])
            if op == "call":
                return self.call(request)
            if op == "calls":
                return {"ok": True, "replies": [self._one(item) for item in request["items"]]}
            if op == "scale":
                return self.scale(request)
            if op == "scale_value":
                return self.scale_value()
            return {"ok": False, "error": f"unknown op {op!r}"}
        except BaseException as exc:  # noqa: BLE001 - student code may raise anything, SystemExit included
            return {"ok": False, "error": _describe(exc), "traceback": _student_traceback()}

    def load(self, cells: list) -> dict:
        errors = []
        for index, (filename, code) in enumerate(cells):
            try:
                exec(compile(code, filename, "exec"), self.namespace)  # noqa: S102 - this is the sandbox
            except BaseException as exc:  # noqa: BLE001
                errors.append(f"{filename}: {_describe(exc)}")
        functions = sorted(k for k, v in self.namespace.items() if callable(v) and not k.startswith("__"))
        return {"ok": True, "errors": errors, "defined": functions}

    def _function(self, name: str):
        fn = self.namespace.get(name)
        if not callable(fn):
            raise LookupError(f"no function named {name!r}")
        return fn

    def signature(self, name: str) -> dict:
        params = inspect.signature(self._function(name)).parameters.values()
        return {
            "ok": True,
            "params": [[p.name, p.kind.name, p.default is not inspect.Parameter.empty] for p in params],
        }

    def _one(self, request: dict) -> dict:
        """One call of a batch: its reply, or its error (the batch goes on)."""
        try:
            return self.call(request)
        except BaseException as exc:  # noqa: BLE001 - student code may raise anything
            return {"ok": False, "error": _describe(exc), "traceback": _student_traceback()}

    def call(self, request: dict) -> dict:
        torch, codec = self.torch, self.codec
        args = [self._to_device(a) for a in codec.decode(request["args"])]
        before = [a.clone() if isinstance(a, torch.Tensor) else None for a in args]
        grad_wrt = request.get("grad_wrt")
        if grad_wrt is not None:
            args[grad_wrt] = args[grad_wrt].detach().requires_grad_(True)
        fn = self._function(request["fn"])
        out = fn(*args)
        blob = self.blob
        reply = {"ok": True, "value": codec.encode(out, blob=blob)}
        reply["mutated"] = [
            i for i, (a, b) in enumerate(zip(args, before))
            if b is not None and (a.shape != b.shape or not torch.equal(a.detach(), b))
        ]
        if reply["mutated"]:  # what the call left in a small modified input, for the feedback
            reply["after"] = {str(i): codec.encode(args[i].detach(), blob=blob) for i in reply["mutated"] if args[i].numel() <= 4096}
        if grad_wrt is not None:
            upstream = self._to_device(codec.decode(request["upstream"]))
            if type(out) is torch.Tensor and out.numel() == 0:
                reply["grad"] = codec.encode(torch.zeros_like(args[grad_wrt]), blob=blob)  # nothing to differentiate
            elif type(out) is not torch.Tensor or not out.requires_grad:
                reply["grad"] = {"__rejected__": "an output that is not connected to the input (no gradient)"}
            else:
                (grad,) = torch.autograd.grad(out, args[grad_wrt], grad_outputs=upstream.to(out.dtype), allow_unused=True)
                reply["grad"] = codec.encode(torch.zeros_like(args[grad_wrt]) if grad is None else grad, blob=blob)
        return reply

    def scale(self, request: dict) -> dict:
        args = self.scale_inputs.make_inputs(request["exercise"], request["seed"], self.device)
        self.scale_output = None
        out = self._function(request["fn"])(*args)
        if self.device == "cuda":
            self.torch.cuda.synchronize()
        self.scale_output = out  # kept for scale_value, outside the timed request
        return {"ok": True, "summary": self.scale_inputs.describe(out)}

    def scale_value(self) -> dict:
        """The output of the last scale request, encoded (and then dropped)."""
        out, self.scale_output = self.scale_output, None
        return {"ok": True, "value": self.codec.encode(out, blob=self.blob)}

    def _to_device(self, value):
        if isinstance(value, self.torch.Tensor):
            return value.to(self.device)
        return value


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}): the code called sys.exit()"
    text = str(exc).strip().splitlines()
    return (f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__)[:500]


def _student_traceback() -> str:
    frames = [f for f in traceback.extract_tb(sys.exc_info()[2]) if not f.filename.endswith("grader/sandbox/worker.py")]
    return "".join(traceback.format_list(frames[-5:]))[-2000:]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--memory-mb", type=int, default=4096)
    ap.add_argument("--cpu-seconds", type=int, default=600)
    ap.add_argument("--file-mb", type=int, default=16)
    ap.add_argument("--tmp-mb", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--hide", action="append", default=[], help="a folder student code must not read")
    ap.add_argument("--parent", type=int, default=None, help="the grading process's pid (the worker dies with it)")
    ap.add_argument("--no-isolation", action="store_true", help="no kernel confinement (demonstrations only)")
    args = ap.parse_args()
    from grader.sandbox import confine

    channel = Channel(os.dup(0), os.dup(1))
    home = os.getcwd()
    if args.no_isolation:
        layers = {"limits": confine.limits(args.memory_mb, args.cpu_seconds, args.file_mb, False)}
    else:  # before torch starts any thread: namespaces, limits, privileges
        layers = confine.early(home, args.memory_mb, args.cpu_seconds, args.file_mb, args.tmp_mb, args.parent)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    out = os.open("output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    import torch

    torch.set_num_threads(1)
    if args.device == "cuda":
        torch.cuda.init()  # before the filesystem closes: CUDA's set-up loads libraries and opens devices
    from grader.sandbox import codec

    session = Session(args.device)  # loads what it needs now: the course's files are unreadable later
    if not args.no_isolation:
        hidden = [*confine.course_paths(), *args.hide]
        for name in list(sys.modules):  # students must import anew (and cannot: the files are hidden)
            if name.split(".")[0] in ("grader", "solutions", "tests"):
                del sys.modules[name]
        layers.update(confine.late([*confine.python_paths(), *confine.SYSTEM_READ], [home],
                                   confine.device_files(args.device), hidden))
    channel.write(codec.pack({"ok": True, "ready": True, "isolation": layers}, codec.Blob()))
    while True:
        raw = channel.read()
        if raw is None:
            return 0
        session.blob = codec.Blob()
        reply = session.handle(codec.loads(raw))
        try:
            parts = codec.pack(reply, session.blob)
        except (TypeError, ValueError) as exc:
            parts = codec.pack({"ok": False, "error": f"unsendable result: {exc}"}, codec.Blob())
        session.blob = None
        channel.write(parts)


if __name__ == "__main__":
    sys.exit(main())
