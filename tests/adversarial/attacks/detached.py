"""A detached helper (double fork, setsid) that rewrites grades.csv after the run."""
import os
import time

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source


def batch_hard(dist, labels):
    try:
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(20)
                with open("@OUT@/grades.csv", "a") as f:
                    f.write("detached,80\n")
            os._exit(0)
        raise RuntimeError(WON + ": a detached helper was started")
    except OSError as exc:
        raise RuntimeError(f"blocked: {exc}") from None
