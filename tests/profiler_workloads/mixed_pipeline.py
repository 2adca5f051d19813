# expect: loop
# also: array io
"""A mixed pipeline (the DESIGN story): a Python loop over 1000-element chunks doing tiny NumPy
calls dominates; a big array transform and a slow 'download' (sleep) take the rest."""
import time

import numpy as np


def download(parts):
    for _ in range(parts):
        time.sleep(0.01)


def chunk_scores(a, passes, chunk=1000):
    out = []
    for _ in range(passes):
        for start in range(0, a.size, chunk):
            c = a[start:start + chunk]
            out.append(np.sum(np.sqrt(np.abs(c))))
    return out


def big_transform(a):
    return np.sort(np.exp(-a * a) * np.cos(a))


if __name__ == "__main__":
    download(12)
    data = np.random.default_rng(3).standard_normal(2_000_000)
    scores = chunk_scores(data[:1_000_000], 100)
    big = big_transform(data)
    print(len(scores), float(big[-1]))
