"""I/O-bound work: reading files and waiting. epochpp reports it as `io` and says plainly that it
will not speed it up (threads or asyncio would overlap the waits).

    epochpp run --compare examples/io_bound.py
"""
import os
import tempfile
import time


def read_all(paths):
    total = 0
    for p in paths:
        with open(p, "rb") as f:
            total += len(f.read())
        time.sleep(0.02)  # stands for a network round trip
    return total


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i in range(30):
            p = os.path.join(d, f"f{i}.bin")
            with open(p, "wb") as f:
                f.write(os.urandom(200_000))
            paths.append(p)
        print("bytes read:", read_all(paths))
