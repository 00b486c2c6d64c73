"""Maps memory until something stops it: one huge block, then 1 GiB blocks."""
import mmap


def batch_hard(dist, labels):
    try:
        bytearray(1 << 36)  # 64 GiB at once
        first = "a 64 GiB block was allocated"
    except MemoryError:
        first = "64 GiB refused"
    hog = []
    try:
        while len(hog) < 256:
            hog.append(mmap.mmap(-1, 1 << 30))
    except OSError as exc:
        size = len(hog)
        hog.clear()
        raise RuntimeError(f"blocked: {first}; {exc.strerror} after {size} GiB") from None
    raise RuntimeError("256 GiB mapped: nothing stopped it")
