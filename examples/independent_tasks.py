"""Independent tasks: the same numeric function called on many independent inputs (a
comprehension). Level 3 will run such calls on all cores; Level 2 already compiles each call.

    epochpp run --compare examples/independent_tasks.py
"""
import math


def simulate(seed):
    # a small Monte Carlo estimate of pi with a linear congruential generator
    x = seed
    inside = 0
    for _ in range(40_000):
        x = (1103515245 * x + 12345) % 2147483648
        u = x / 2147483648.0
        x = (1103515245 * x + 12345) % 2147483648
        v = x / 2147483648.0
        if u * u + v * v <= 1.0:
            inside += 1
    return 4.0 * inside / 40_000


if __name__ == "__main__":
    estimates = [simulate(s) for s in range(1, 60)]
    print(f"pi ~ {sum(estimates) / len(estimates):.6f} (error {abs(sum(estimates) / len(estimates) - math.pi):.2e})")
