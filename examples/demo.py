"""epochpp demo: the classic mixed workload, before (CPython) and after (epochpp Level 2 JIT).

A Python loop over 1000-element chunks of an array, each doing np.sum(np.sqrt(np.abs(chunk))).
In CPython most of the time is interpreter overhead and tiny NumPy calls; compiled, the loop
and the fused sqrt/abs/sum run as one native loop.
"""
import math
import time

import numpy as np

import epochpp


def chunked(a):
    s = 0.0
    for k in range(0, len(a), 1000):
        s += np.sum(np.sqrt(np.abs(a[k:k + 1000])))
    return s


def count_primes(n):
    count = 0
    for i in range(2, n):
        is_prime = True
        j = 2
        while j * j <= i:
            if i % j == 0:
                is_prime = False
                break
            j += 1
        if is_prime:
            count += 1
    return count


def black_scholes(s, k, t, r, v, out):
    for i in range(len(s)):
        d1 = (math.log(s[i] / k[i]) + (r + 0.5 * v * v) * t[i]) / (v * math.sqrt(t[i]))
        d2 = d1 - v * math.sqrt(t[i])
        out[i] = s[i] * 0.5 * (1 + math.erf(d1 / math.sqrt(2))) - k[i] * math.exp(-r * t[i]) * 0.5 * (1 + math.erf(d2 / math.sqrt(2)))
    return out[0]


def timed(fn, *args, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(2_000_000)
    n = 200_000
    s, k, t = rng.uniform(10, 100, n), rng.uniform(10, 100, n), rng.uniform(0.1, 2, n)
    cases = [("chunked np.sum(np.sqrt(np.abs(chunk)))", chunked, (a,)),
             ("count primes below 60000", count_primes, (60_000,)),
             ("Black-Scholes, 200k options", black_scholes, (s, k, t, 0.02, 0.3, np.empty(n)))]
    print("epochpp demo — before (CPython) / after (epochpp.jit, Level 2)\n")
    print(f"{'workload':42} {'CPython':>10} {'epochpp':>10} {'first call':>11} {'speedup':>8}  same result")
    for name, fn, args in cases:
        before, ref = timed(fn, *args)
        jf = epochpp.jit(fn)
        t0 = time.perf_counter()
        jf(*args)
        first = time.perf_counter() - t0
        after, got = timed(jf, *args, repeat=5)
        same = (got == ref) or (isinstance(ref, float) and math.isclose(got, ref, rel_tol=1e-12))
        print(f"{name:42} {before * 1e3:8.1f}ms {after * 1e3:8.2f}ms {first * 1e3:9.1f}ms {before / after:7.1f}x  "
              f"{'yes' if same else 'NO: ' + repr((ref, got))}")
        assert jf.stats["native_calls"] > 0, epochpp.explain(jf)
    print("\nWhy each function runs where it runs (epochpp.explain):")
    print(epochpp.explain(epochpp.jit(chunked)) or "")
    jc = epochpp.jit(chunked)
    jc(a[:10_000])
    print(epochpp.explain(jc))
    print("The full before/after profile (`epochpp run --compare`) arrives with the profiler (issue 3).")


if __name__ == "__main__":
    main()
