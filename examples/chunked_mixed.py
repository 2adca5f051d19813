"""The classic mixed workload: a Python loop over 1000-element chunks of an array, each doing
np.sum(np.sqrt(np.abs(chunk))). Plain CPython spends most of its time in interpreter overhead
and tiny NumPy calls; compiled, the loop and the fused sqrt/abs/sum are one native loop.

    epochpp run --compare examples/chunked_mixed.py
"""
import numpy as np


def chunked(a):
    s = 0.0
    for k in range(0, len(a), 1000):
        s += np.sum(np.sqrt(np.abs(a[k:k + 1000])))
    return s


def main():
    a = np.random.default_rng(0).standard_normal(2_000_000)
    total = 0.0
    for _ in range(60):
        total += chunked(a)
    print(f"sum of sqrt|x| over 60 passes: {total:.6f}")


if __name__ == "__main__":
    main()
