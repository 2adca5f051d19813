# expect: array
"""Big NumPy operations on 4M-element arrays: sort, elementwise math, a reduction.
Each call is one long native operation: the array work itself is the bottleneck."""
import numpy as np


def normalize_and_sort(a):
    s = np.sort(a)
    z = (s - s.mean()) / s.std()
    return np.sqrt(np.abs(z)) * np.exp(-0.5 * z * z)


if __name__ == "__main__":
    rng = np.random.default_rng(1)
    a = rng.standard_normal(4_000_000)
    total = 0.0
    for _ in range(2):
        total += float(normalize_and_sort(a).sum())
    print(total)
