"""Big-array work: whole-array NumPy operations on 5M elements. This is already native code; the
profile classifies it as `array` (Level 4: a GPU). Without a GPU epochpp says so (~1.0x).

    epochpp run --compare examples/big_arrays.py
"""
import numpy as np


def step(x, y):
    return np.sqrt(x * x + y * y) * np.exp(-0.5 * x) + np.tanh(y)


if __name__ == "__main__":
    rng = np.random.default_rng(1)
    x = rng.standard_normal(5_000_000)
    y = rng.standard_normal(5_000_000)
    acc = 0.0
    for _ in range(6):
        acc += float(step(x, y).sum())
    print(f"{acc:.6e}")
