"""A pure numeric loop: counting primes by trial division (ints, while, break, modulo).

    epochpp run --compare examples/numeric_loop.py
"""


def count_primes(n):
    count = 0
    for i in range(2, n):
        j = 2
        prime = True
        while j * j <= i:
            if i % j == 0:
                prime = False
                break
            j += 1
        if prime:
            count += 1
    return count


if __name__ == "__main__":
    print("primes below 150000:", count_primes(150_000))
