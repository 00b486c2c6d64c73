"""Starts programs: subprocess (_posixsubprocess.fork_exec underneath), os.posix_spawn, os.system, fork."""
import os
import subprocess

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source


def _system():
    status = os.system("cat @ROOT@/solutions/mining.py > stolen.txt")
    if status != 0:  # glibc reports a shell that could not be started as exit status 127
        raise OSError(0, f"os.system gave status {status} and ran nothing")
    return open("stolen.txt").read(200)


def batch_hard(dist, labels):
    refused = []
    for name, attempt in (
        ("subprocess", lambda: subprocess.run(["cat", "@ROOT@/solutions/mining.py"], capture_output=True).stdout),
        ("posix_spawn", lambda: os.posix_spawn("/bin/cat", ["cat", "@ROOT@/solutions/mining.py"], {})),
        ("system", _system),
        ("fork", lambda: os.fork()),
    ):
        try:
            got = attempt()
            if got == 0:  # a forked child
                os._exit(0)
            raise RuntimeError(f"{WON}: {name} ran: {got!r}"[:300])
        except OSError as exc:
            refused.append(f"{name}: {exc.strerror}")
    raise RuntimeError("blocked: " + "; ".join(refused))
