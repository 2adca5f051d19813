# expect: parallel
"""Independent calls from a list comprehension: each simulation is a few ms of pure-Python work
on its own seed, and no call depends on another."""


def simulate(seed, steps=6000):
    x, pos, best = seed, 0.0, 0.0
    for _ in range(steps):
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        pos += ((x >> 33) / 2147483648.0) - 0.5
        if pos > best:
            best = pos
    return best


if __name__ == "__main__":
    results = [simulate(seed) for seed in range(400)]
    print(max(results))
