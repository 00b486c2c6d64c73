"""Native code: raw system calls through ctypes, and a shared library written to its own folder."""
import base64
import ctypes
import os
import platform

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source

LIBRARY = "@LIBRARY@"  # base64 of a compiled shared library (empty when no compiler was found)


def batch_hard(dist, labels):
    libc = ctypes.CDLL(None, use_errno=True)
    refused = []
    openat, kill = (257, 62) if platform.machine() == "x86_64" else (56, 129)  # else aarch64
    fd = libc.syscall(openat, -100, b"@ROOT@/solutions/mining.py", 0, 0)  # openat(AT_FDCWD, ...)
    if fd >= 0:
        buf = ctypes.create_string_buffer(200)
        libc.read(fd, buf, 200)
        raise RuntimeError(WON + ":" + buf.value.decode(errors="replace").replace("\n", " "))
    refused.append(f"openat: errno {ctypes.get_errno()}")
    if libc.syscall(kill, os.getppid(), 9) == 0:  # kill(parent, SIGKILL)
        raise RuntimeError(WON + ": killed the grading process")
    refused.append(f"kill: errno {ctypes.get_errno()}")
    if LIBRARY:
        with open("evil.so", "wb") as f:
            f.write(base64.b64decode(LIBRARY))
        try:
            lib = ctypes.CDLL(os.path.abspath("evil.so"))
            raise RuntimeError(f"{WON}: loaded its own library ({lib.steal()})")
        except OSError as exc:
            refused.append(f"dlopen: {str(exc).split(':')[-1].strip()}")
    raise RuntimeError("blocked: " + "; ".join(refused))
