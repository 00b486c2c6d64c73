"""Floods standard output, the error stream and its own folder."""
import os
import sys

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source


def batch_hard(dist, labels):
    block = "x" * (1 << 20)
    refused = []
    for name, write in (("stdout", sys.stdout.write), ("stderr", sys.stderr.write), ("fd 1", lambda b: os.write(1, b.encode()))):
        try:
            for _ in range(4096):
                write(block)
            refused.append(f"{name}: 4 GiB written")
        except OSError as exc:
            refused.append(f"{name}: {exc.strerror}")
    try:
        for i in range(4096):
            with open(f"big{i}", "w") as f:
                f.write(block * 8)
        refused.append("files: 32 GiB written")
    except OSError as exc:
        refused.append(f"files: {exc.strerror}")
    outcome = WON + ": " if "GiB written" in " ".join(refused) else "blocked: "
    raise RuntimeError(outcome + "; ".join(refused))
