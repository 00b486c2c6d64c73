"""Looks for the socket to the zygote (the fork server its worker came from) among every descriptor it
could have inherited, and asks it for a worker without confinement (``--no-isolation``) that would
run a program of the student's choosing; also writes to the zygote's and the grading process's
descriptors through /proc."""
import json
import os
import socket
import stat
import sys

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source


def _grading_pid():
    argv = list(sys.argv)
    return int(argv[argv.index("--parent") + 1]) if "--parent" in argv else None


def batch_hard(dist, labels):
    refused = []
    for fd in range(0, 1024):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if not stat.S_ISSOCK(mode):
            continue
        try:
            sock = socket.socket(fileno=os.dup(fd))
            r, w = os.pipe()
            request = {"op": "spawn", "argv": ["--no-isolation", "--parent", str(os.getpid())], "home": "/tmp",
                       "env": {"PATH": "/usr/bin:/bin"}}
            socket.send_fds(sock, [json.dumps(request).encode()], [r, w])
            answer = sock.recv(4096)
            raise RuntimeError(f"{WON}: fd {fd} is the zygote's socket: {answer!r}"[:300])
        except OSError as exc:
            refused.append(f"fd {fd}: {exc.strerror}")
    for pid in {os.getppid(), _grading_pid()} - {None}:
        for fd in range(0, 8):
            try:
                with open(f"/proc/{pid}/fd/{fd}", "wb") as f:
                    f.write(b"\x00" * 16)
                raise RuntimeError(f"{WON}: wrote to /proc/{pid}/fd/{fd}")
            except OSError as exc:
                refused.append(f"/proc/{pid}/fd/{fd}: {exc.strerror}")
    raise RuntimeError("blocked: no socket to the zygote; " + "; ".join(sorted(set(r.split(": ", 1)[1] for r in refused))))
