"""Writes its own replies straight into the reply pipe: one nested too deeply for any parser, then a
forged "pass" for every later request (the parent must treat both as this student's failure)."""
import os
import stat
import struct


def _pipes():
    for fd in range(3, 16):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                yield fd
        except OSError:
            pass


def batch_hard(dist, labels):
    deep = b'{"ok": true, "value": ' + b"[" * 200000 + b"]" * 200000 + b"}"
    for fd in _pipes():
        try:
            os.write(fd, struct.pack(">Q", len(deep)) + deep)
        except OSError:
            pass
    raise RuntimeError("blocked: the parent did not take the forged reply")
