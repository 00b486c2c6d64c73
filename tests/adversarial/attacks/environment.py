"""Looks for the instructor's environment and the course secret (the test checks that none leaked)."""
import os

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source


def batch_hard(dist, labels):
    found, read = [f"{k}={v}" for k, v in sorted(os.environ.items())], False
    for path in ("@SECRET_FILE@", os.path.expanduser("~/.config/hnm/course-secret"), f"/proc/{os.getppid()}/environ"):
        try:
            found.append(open(path, "rb").read(300).decode(errors="replace"))
            read = True
        except OSError as exc:
            found.append(f"{os.path.basename(path)}: {exc.strerror}")
    text = " ".join(found).replace("\n", " ")
    raise RuntimeError((WON + ": " if read else "blocked: ") + text[:600])
