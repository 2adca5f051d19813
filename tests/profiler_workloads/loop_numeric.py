# expect: loop
"""Pure-Python numeric loops: a nested-loop reduction and a Monte Carlo estimate of pi."""


def sum_of_products(n):
    total = 0.0
    for i in range(n):
        x = i * 0.5
        for j in range(40):
            total += x * j - (x / (j + 1))
    return total


def pi_estimate(n):
    seed, inside = 12345, 0
    for _ in range(n):
        seed = (1103515245 * seed + 12345) % 2147483648
        x = seed / 2147483648.0
        seed = (1103515245 * seed + 12345) % 2147483648
        y = seed / 2147483648.0
        if x * x + y * y <= 1.0:
            inside += 1
    return 4.0 * inside / n


if __name__ == "__main__":
    print(sum_of_products(60_000), pi_estimate(1_200_000))
