"""Plain-data encoding of values that cross the sandbox boundary.

Everything is JSON: tensors travel as ``{"__tensor__": {dtype, shape, device, data}}`` with
the raw little-endian bytes in base64, tuples and lists as ``{"__seq__": [...]}``. The
worker's replies carry the raw bytes after the JSON instead (:func:`pack`, :func:`unpack`:
``"blob": [offset, length]`` in place of ``data``), so a 16 MB output costs no base64 and no
JSON string of 22 MB. The trusted parent never unpickles anything a student controls: it
parses JSON and rebuilds fresh ``torch.Tensor`` objects from raw bytes of a dtype it names
itself.

The encoder runs inside the (untrusted) worker and describes what it cannot send — a
tensor subclass, an arbitrary object — instead of sending it; the parent turns such a
description into a clear message.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any

import numpy as np
import torch

DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}


class Rejected(ValueError):
    """A value from the worker that is not plain data of the expected kind."""


class Blob:
    """The raw bytes that follow one message's JSON (worker side): tensors' data, in order."""

    def __init__(self) -> None:
        self.parts: list[memoryview] = []
        self.size = 0

    def add(self, array: np.ndarray) -> list[int]:
        """Append a contiguous array's bytes; ``[offset, length]`` in the blob."""
        view = memoryview(array.reshape(-1)).cast("B")
        ref = [self.size, view.nbytes]
        self.parts.append(view)
        self.size += view.nbytes
        return ref


def encode(value: Any, max_elements: int = 1 << 24, blob: Blob | None = None) -> Any:
    """Encode ``value`` as JSON-compatible plain data (worker side): tensors' bytes in base64,
    or appended to ``blob`` when one is given (a message sent with :func:`pack`)."""
    if type(value) is torch.Tensor:
        if value.dtype not in NAMES:
            return {"__rejected__": f"a tensor of unsupported dtype {value.dtype}"}
        if value.numel() > max_elements:
            return {"__rejected__": f"a tensor with {value.numel()} elements (over the {max_elements} allowed)"}
        t = value.detach()
        device = t.device.type
        t = t.cpu().contiguous()
        array = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy()
        spec = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "device": device}
        if blob is not None:
            spec["blob"] = blob.add(array)
        else:
            spec["data"] = base64.b64encode(array.tobytes()).decode("ascii")
        return {"__tensor__": spec}
    if isinstance(value, torch.Tensor):
        return {"__rejected__": f"a tensor subclass ({type(value).__module__}.{type(value).__qualname__})"}
    if type(value) in (tuple, list):
        return {"__seq__": [encode(v, max_elements, blob) for v in value], "kind": type(value).__name__}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"__dict__": {k: encode(v, max_elements, blob) for k, v in value.items()}}
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return {"__float__": repr(value)} if not math.isfinite(value) else value
    return {"__rejected__": f"an object of type {type(value).__module__}.{type(value).__qualname__}"}


MAX_DEPTH = 32  # nesting of sequences and dicts in a decoded value
MAX_ELEMENTS = 1 << 24  # elements of one decoded tensor


def decode(data: Any) -> Any:
    """Rebuild plain values from :func:`encode`'s output (parent side, strict).

    Anything that is not exactly what :func:`encode` makes (wrong types, nesting deeper than
    :data:`MAX_DEPTH`, a tensor over :data:`MAX_ELEMENTS` or whose bytes do not match its shape)
    raises :class:`Rejected`, whatever the kind of error underneath."""
    try:
        return _decode(data, 0)
    except Rejected:
        raise
    except (TypeError, ValueError, OverflowError, RecursionError, KeyError, AttributeError, RuntimeError,
            MemoryError) as exc:
        raise Rejected(f"malformed data from the worker ({type(exc).__name__})") from None


def _decode(data: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise Rejected(f"data nested more than {MAX_DEPTH} levels deep")
    if isinstance(data, dict):
        if "__tensor__" in data:
            return _tensor(data["__tensor__"])
        if "__seq__" in data:
            if not isinstance(data["__seq__"], list):
                raise Rejected("malformed sequence from the worker")
            items = [_decode(v, depth + 1) for v in data["__seq__"]]
            return tuple(items) if data.get("kind") == "tuple" else items
        if "__dict__" in data:
            if not isinstance(data["__dict__"], dict):
                raise Rejected("malformed dict from the worker")
            return {str(k): _decode(v, depth + 1) for k, v in data["__dict__"].items()}
        if "__float__" in data:
            text = data["__float__"]
            if not isinstance(text, str) or len(text) > 40:
                raise Rejected("malformed float from the worker")
            return float(text)
        if "__rejected__" in data:
            return RejectedValue(str(data["__rejected__"])[:500])
        raise Rejected("malformed data from the worker")
    if data is None or isinstance(data, (bool, int, float, str)):
        if type(data) is int and not -(1 << 63) <= data < (1 << 64):
            raise Rejected("an integer out of range from the worker")
        return data
    raise Rejected("malformed data from the worker")


class RejectedValue:
    """Stands in for a value the worker refused to send (parent side)."""

    def __init__(self, what: str):
        self.what = what

    def __repr__(self) -> str:
        return f"<{self.what}>"


def _tensor(spec: Any) -> torch.Tensor:
    if not isinstance(spec, dict) or spec.get("dtype") not in DTYPES:
        raise Rejected("malformed tensor from the worker")
    shape = spec.get("shape")
    if not isinstance(shape, list) or len(shape) > 8 or \
            not all(type(s) is int and 0 <= s <= MAX_ELEMENTS for s in shape):
        raise Rejected("malformed tensor shape from the worker")
    if math.prod(shape) > MAX_ELEMENTS:
        raise Rejected(f"a tensor of {math.prod(shape)} elements (over {MAX_ELEMENTS})")
    dtype = DTYPES[spec["dtype"]]
    storage = torch.int16 if dtype == torch.bfloat16 else dtype
    itemsize = torch.empty(0, dtype=storage).element_size()
    if "blob" in spec:  # bytes after the JSON, placed here by unpack (JSON itself cannot make a memoryview)
        raw = spec["blob"]
        if not isinstance(raw, memoryview):
            raise Rejected("tensor data does not match its shape")
    else:
        text = spec.get("data", "")
        if not isinstance(text, str) or len(text) != 4 * -(-itemsize * math.prod(shape) // 3):
            raise Rejected("tensor data does not match its shape")  # checked before anything is decoded
        raw = base64.b64decode(text, validate=True)
    if len(raw) != itemsize * math.prod(shape):
        raise Rejected("tensor data does not match its shape")
    array = np.frombuffer(raw, dtype=torch.empty(0, dtype=storage).numpy().dtype).copy() if raw else None
    t = torch.from_numpy(array) if array is not None else torch.empty(0, dtype=storage)
    t = t.reshape(shape)
    if dtype == torch.bfloat16:
        t = t.view(torch.bfloat16)
    # The parent keeps every tensor on its CPU and remembers where the worker's lived.
    t._hnm_device = str(spec.get("device", "cpu"))[:16]
    return t


def device_of(t: torch.Tensor) -> str:
    """The device type the worker reported for a decoded tensor."""
    return getattr(t, "_hnm_device", t.device.type)


def dumps(message: Any) -> bytes:
    return json.dumps(message, allow_nan=True, separators=(",", ":")).encode()


def loads(raw: bytes) -> Any:
    """Parse a message; every malformation (bad UTF-8 or JSON, nesting too deep for the parser,
    numbers too long to convert) is a ValueError."""
    try:
        return json.loads(raw.decode())
    except RecursionError:
        raise ValueError("a message nested too deeply") from None


def pack(message: Any, blob: Blob) -> list:
    """A message whose tensors were encoded into ``blob``, as the byte strings to send in order:
    the length of what follows, the JSON's length, the JSON, the blob (see :func:`unpack`)."""
    text = dumps(message)
    return [struct.pack(">QQ", 8 + len(text) + blob.size, len(text)), text, *blob.parts]


def unpack(body: bytes) -> Any:
    """Parse a message made by :func:`pack` (without its leading length). Each well-formed
    ``"blob": [offset, length]`` of a tensor becomes a view of those bytes after the JSON; a
    reference outside them becomes None (that tensor is then rejected, as a lying shape is).
    Every malformation of the message itself is a ValueError, as in :func:`loads`."""
    if len(body) < 8:
        raise ValueError("a message shorter than its header")
    size = struct.unpack(">Q", body[:8])[0]
    if size > len(body) - 8:
        raise ValueError("a message whose JSON is longer than the message")
    blob = memoryview(body)[8 + size:]

    def place(obj: dict) -> dict:
        spec = obj.get("__tensor__")
        if isinstance(spec, dict) and "blob" in spec:
            ref = spec["blob"]
            ok = isinstance(ref, list) and len(ref) == 2 and all(type(v) is int and v >= 0 for v in ref) \
                and ref[0] + ref[1] <= len(blob)
            spec["blob"] = blob[ref[0]:ref[0] + ref[1]] if ok else None
        return obj

    try:
        return json.loads(body[8:8 + size].decode(), object_hook=place)
    except RecursionError:
        raise ValueError("a message nested too deeply") from None


def to_jsonable(value: Any) -> Any:
    """Readable JSON for reports: tensors as nested lists with their dtype."""
    if isinstance(value, torch.Tensor):
        v = value.detach().cpu()
        return {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "value": to_jsonable(v.tolist())}
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, RejectedValue):
        return repr(value)
    return value
