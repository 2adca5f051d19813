# expect: array
"""BLAS: products of big dense matrices (np.dot on 1200x1200). Already near-optimal on the CPU."""
import numpy as np


def gram_chain(a, b, rounds):
    c = a
    for _ in range(rounds):
        c = np.dot(c, b)
        c /= np.abs(c).max()
    return c


if __name__ == "__main__":
    rng = np.random.default_rng(2)
    a = rng.standard_normal((1200, 1200))
    b = rng.standard_normal((1200, 1200))
    print(float(gram_chain(a, b, 12).sum()))
