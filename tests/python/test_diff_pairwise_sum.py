"""Differential tests for np.sum of a 1-d float element-wise expression computed without a
temporary (jit/codegen/lower_pairwise.cpp).

NumPy sums the temporary with its pairwise summation; the fused code must add the same
values in the same order, so results are compared bit for bit (the harness compares floats
exactly, -0.0 included). Lengths cover every branch of the pairwise recursion (< 8, the
8-lane blocks with tails, 128 and its neighbours, splits at several depths); strided,
reversed and float32 operands, -0.0, NaN and inf, broadcasting and its errors are covered.
The last tests check that the fused code is really used (no scratch array, no runtime sum).
"""

import numpy as np
import pytest

from diffharness import case_id, check, jitted

LENGTHS = [0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 127, 128, 129, 135, 136, 200, 255, 256, 257,
           263, 1000, 1023, 1024, 1025, 4099, 65537]


def sum_sqrt_abs(a):
    return np.sum(np.sqrt(np.abs(a)))


def sum_affine(a, b):
    return np.sum(a * b + 1.5)


def method_sum(a):
    return (a * 3.0 - 1.0).sum()


def sum_exp(a):
    return np.sum(np.exp(a * 0.001))


def chunked(a, chunk):
    total = 0.0
    for c in range(len(a) // chunk):
        start = c * chunk
        total += np.sum(np.sqrt(np.abs(a[start:start + chunk])))
    return total


def sum_int_array_expr(a):
    return np.sum(np.sqrt(a * 2))     # int64 leaves, float64 result


def sum_times_one(a):
    return np.sum(a * 1.0)


def plain_sum(a):
    return np.sum(a)


def plain_mean(a):
    return np.mean(a)


def sum_broadcast_error(a, b):
    return np.sum(a + b)


def _values(n, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed + n)
    x = rng.standard_normal(n) * 10.0 ** rng.integers(-6, 7, n)
    return x.astype(dtype)


def params(items):
    return [pytest.param(f, a, id=case_id(f, a)) for f, a in items]


CASES = []
for n in LENGTHS:
    CASES.append((sum_sqrt_abs, (_values(n),)))
    CASES.append((sum_affine, (_values(n, 1), _values(n, 2))))
for n in [0, 9, 129, 257, 1025]:
    CASES.append((sum_sqrt_abs, (_values(n, 3, np.float32),)))
    CASES.append((method_sum, (_values(n, 4),)))
    CASES.append((sum_exp, (_values(n, 5),)))
    CASES.append((sum_int_array_expr, (np.arange(n, dtype=np.int64),)))
for n in [1, 5, 8, 9, 16, 130, 300]:
    # a sum of -0.0s: the pairwise sum is -0.0, and NumPy adds it to the identity 0.0
    for fn in (sum_times_one, plain_sum, plain_mean):
        CASES.append((fn, (np.full(n, -0.0),)))
        CASES.append((fn, (np.full(n, -0.0, dtype=np.float32),)))
CASES += [
    (sum_sqrt_abs, (np.full(5, -0.0),)),           # short sum from 0.0: 0.0 + -0.0 = 0.0
    (sum_affine, (np.full(300, -0.0), np.zeros(300) - 1.5)),
    (sum_sqrt_abs, (np.array([1.0, np.nan, 2.0] * 50),)),
    (sum_affine, (np.array([np.inf, 1.0] * 70), np.array([1.0, -1.0] * 70))),   # inf * -1 ...
    (sum_affine, (np.array([np.inf] * 140), np.array([-1.0, 1.0] * 70))),       # inf - inf = nan
    (sum_affine, (_values(300), np.float64(2.0))),                                # a scalar leaf
    (chunked, (_values(5000), 1000)),
    (chunked, (_values(4096), 129)),
    (sum_broadcast_error, (_values(10), _values(11))),
    (sum_broadcast_error, (_values(10), _values(1))),
]


@pytest.mark.parametrize("fn,args", params(CASES))
def test_fused_pairwise_sum_matches_numpy(fn, args):
    check(fn, args)


def _views():
    a = _values(3001, 7)
    return (a[::3],)


def _reversed_views():
    a = _values(1500, 8)
    b = _values(1500, 9)
    return (a[::-1], b[::-1])


@pytest.mark.parametrize("factory", [_views, _reversed_views], ids=["step3", "reversed"])
def test_fused_pairwise_sum_strided(factory):
    fn = sum_sqrt_abs if len(factory()) == 1 else sum_affine
    check(fn, factory)


def test_fused_sum_has_no_temporary():
    f = jitted(chunked, fresh=True)
    a = _values(4000)
    assert f(a, 1000) == chunked(a, 1000)
    llvm = f.inspect("llvm")
    assert "ep_rt_scratch" not in llvm, "the element-wise chain went to a temporary"
    assert "ep_rt_reduce" not in llvm, "the sum went to the runtime"
    assert "fadd <8 x double>" in llvm, "the 8 partial sums are not one vector"


def test_two_dimensional_sum_still_exact():
    def sum2d(m):
        return np.sum(np.sqrt(np.abs(m)))
    check(sum2d, (_values(600).reshape(20, 30),))
    check(sum2d, lambda: (_values(600).reshape(20, 30).T,))


# ------------------------------------------------------------- np.mean of int and bool arrays
# NumPy casts them to float64 through its ufunc buffer, 8192 elements at a time, and adds each
# buffer's pairwise sum to the running total: one pairwise sum over the whole array differs in
# the last bits beyond 8192 elements (runtime/rt_array.cpp, bufferedPairwiseSum).
def mean_of(a):
    return np.mean(a)


def _big_ints(n, seed):
    return np.random.default_rng(seed).integers(-2**62, 2**62, n)


@pytest.mark.parametrize("n", [1, 7, 100, 8191, 8192, 8193, 16384 + 5, 20000, 50001])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mean_of_int64_is_numpys(n, seed):
    check(mean_of, lambda: (_big_ints(n, seed),))


@pytest.mark.parametrize("make", [
    lambda: _big_ints(40001, 5)[::3],                      # strided view
    lambda: _big_ints(30000, 6)[::-1],                     # reversed
    lambda: _big_ints(24000, 7).reshape(120, 200),         # 2-d, C order
    lambda: _big_ints(24000, 8).astype(np.int32),          # int32
    lambda: np.random.default_rng(9).random(30000) > 0.3,  # bool
], ids=["strided", "reversed", "2d", "int32", "bool"])
def test_mean_of_int_views_is_numpys(make):
    check(mean_of, lambda: (make(),))
