# expect: loop
"""Many tiny NumPy calls in a Python loop: 1000-element chunks, each np.sum(np.sqrt(np.abs(chunk))).
The per-call overhead dominates; the real numeric work is small."""
import numpy as np


def chunked_norms(a, passes, chunk=1000):
    total = 0.0
    for _ in range(passes):
        for start in range(0, a.size, chunk):
            c = a[start:start + chunk]
            total += np.sum(np.sqrt(np.abs(c)))
            total += float(np.max(c) - np.min(c))
    return total


if __name__ == "__main__":
    data = np.random.default_rng(0).standard_normal(1_000_000)
    print(chunked_norms(data, 60))
