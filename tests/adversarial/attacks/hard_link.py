"""Makes a hard link to a reference file in its own folder, then reads the link."""
import os

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source


def batch_hard(dist, labels):
    try:
        os.link("@ROOT@/solutions/mining.py", "mine.py")
        raise RuntimeError(WON + ":" + open("mine.py").read(200).replace("\n", " "))
    except OSError as exc:
        raise RuntimeError(f"blocked: {exc}") from None
