"""Reads a reference file through torch's C++ file loading (from_file, load)."""
import torch

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source

PATH = "@ROOT@/solutions/mining.py"


def batch_hard(dist, labels):
    try:
        data = torch.from_file(PATH, size=200, dtype=torch.uint8)
        raise RuntimeError(WON + ":" + bytes(data.tolist()).decode(errors="replace").replace("\n", " "))
    except RuntimeError as exc:
        if str(exc).startswith(WON):
            raise
        first = str(exc).splitlines()[0]
    try:
        torch.load(PATH, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a refusal to open, or a parse error after reading
        if "Permission denied" not in str(exc) and "unable to open" not in str(exc):
            raise RuntimeError(WON + ": torch.load opened the file") from None
        raise RuntimeError(f"blocked: {first}; {type(exc).__name__}") from None
