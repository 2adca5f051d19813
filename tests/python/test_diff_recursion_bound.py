"""Differential tests for the recursion bound (jit/passes/recursion_bound.cpp).

A self-recursive function whose calls all lower an int parameter n by >= 1 and happen only
while n >= c runs, when depth + (n - c + 1) is below the limit, as a copy without the
per-call depth check. RecursionError must still come exactly where CPython raises it: the
largest n that runs without it is the same compiled and interpreted, from any stack depth,
and the values are CPython's.
"""

import sys

import pytest

from diffharness import FAKE_JIT, case_id, check, jitted


def down(n):
    if n < 1:
        return 0
    return 1 + down(n - 1)


def down_float(n):  # no tail call (a float result): real calls, through the copy's twins
    if n <= 0:
        return 0.0
    return down_float(n - 1) + 0.5


def by_three(n):  # the bound (n - 2 levels) is loose: deep calls switch to the copy on the way down
    if n >= 3:
        return by_three(n - 3) + 1.0
    return 0.0


def cond_expr(n):
    return 0.0 if n < 1 else 1.0 + cond_expr(n - 1)


def negative_floor(n):
    if n < -50:
        return 0
    return 1 + negative_floor(n - 1)


def zero_floor(n):  # c = 0: n - c can be 2**63 - 1, and the bound's + 1 must not wrap (real calls)
    if n < 0:
        return 0.0
    return zero_floor(n - 1) + 1.0


def count(k, n):  # the measure is the second parameter
    if n < 1:
        return k
    return count(k + 1, n - 1)


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def fib_expr(n):  # a conditional expression typed through the recursion (type_inference.cpp)
    return n if n < 2 else fib_expr(n - 1) + fib_expr(n - 2)


def halves(n):  # int for n < 1, float above: the result is int|float, as in CPython
    return 1 if n < 1 else 0.5 * halves(n - 1)


def half_stmt(n):  # a leaf constant (int) into an int|float result
    if n < 1:
        return 1
    return 0.5 * half_stmt(n - 1)


def leaf_other_param(n, x):  # the leaf is the other parameter, as the call passes it
    if n < 1:
        return x
    return leaf_other_param(n - 1, x * 3) - 1


def grows(n):  # no measure: the argument grows, every call is checked
    if n > 2000:
        return 0
    return 1 + grows(n + 1)


def via_local(n):  # no measure: the argument is a local, not `n - k`, so every call is checked
    m = n - 1
    if n < 1:
        return 0
    return 1 + via_local(m)


LINEAR = [down, down_float, by_three, cond_expr, negative_floor]


def survives(fn, n):
    try:
        fn(n)
        return True
    except RecursionError:
        return False


def edge(fn, lo=-60, hi=4000):
    """The largest n in [lo, hi] for which fn(n) does not raise RecursionError (called from here)."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if survives(fn, mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def at_depth(k, thunk):
    """thunk() called k Python frames deeper than the caller."""
    return thunk() if k == 0 else at_depth(k - 1, thunk)


@pytest.mark.skipif(FAKE_JIT, reason="needs the real compiler")
@pytest.mark.parametrize("fn", LINEAR, ids=lambda f: f.__name__)
@pytest.mark.parametrize("depth", [0, 300])
def test_recursion_error_at_cpythons_depth(fn, depth):
    f = jitted(fn, fresh=True)
    hi = 4000 if fn is not by_three else 12000
    want = at_depth(depth, lambda: edge(fn, hi=hi))
    got = at_depth(depth, lambda: edge(f, hi=hi))
    assert got == want
    assert f.stats["deopts"] == 0
    assert "# recursion depth bounded by n" in f.inspect("ir")
    assert at_depth(depth, lambda: f(got)) == at_depth(depth, lambda: fn(got))


@pytest.mark.skipif(FAKE_JIT, reason="needs the real compiler")
def test_two_parameters_edge():
    f = jitted(count, fresh=True)
    assert edge(lambda n: f(7, n)) == edge(lambda n: count(7, n))
    assert "# recursion depth bounded by n (calls only while n >= 1)" in f.inspect("ir")


@pytest.mark.skipif(FAKE_JIT, reason="needs the real compiler")
@pytest.mark.parametrize("fn", [grows, via_local], ids=lambda f: f.__name__)
def test_unbounded_shapes_keep_every_check(fn):
    f = jitted(fn, fresh=True)
    assert edge(f, lo=0, hi=3000) == edge(fn, lo=0, hi=3000)
    assert "recursion depth bounded" not in f.inspect("ir")
    assert ".free" not in f.inspect("llvm")


@pytest.mark.skipif(FAKE_JIT, reason="needs the real compiler")
def test_fib_runs_in_the_unchecked_copy():
    f = jitted(fib, fresh=True)
    assert f(25) == fib(25)
    llvm = f.inspect("llvm")
    assert "@ep.fib.0.free" in llvm
    # the checked function calls the copy once the bound fits; the copy has no depth check
    free = llvm[llvm.index("define internal fastcc { i32, i64 } @ep.fib.0.free("):]
    free = free[:free.index("\n}\n")]
    assert "maximum recursion depth" not in free and "ep_rt_raise" not in free
    assert "# a self-call with n < 2 is a leaf: its value without a call" in f.inspect("ir")


CASES = [(down, (0,)), (down, (-5,)), (down, (500,)), (down, (100_000,)), (down_float, (700,)),
         (by_three, (2,)), (by_three, (2500,)), (by_three, (1_000_000,)), (cond_expr, (300,)),
         (negative_floor, (-51,)), (negative_floor, (-50,)), (negative_floor, (100,)),
         (count, (3, 50)), (count, (0, 10 ** 6)), (fib, (0,)), (fib, (1,)), (fib, (-4,)), (fib, (22,)),
         (down, (2 ** 62,)), (down, (-(2 ** 63),)), (negative_floor, (2 ** 63 - 1,)),
         (zero_floor, (2 ** 63 - 1,)), (zero_floor, (2 ** 63 - 2,)), (zero_floor, (-1,)), (zero_floor, (300,)),
         (fib_expr, (0,)), (fib_expr, (18,)), (halves, (0,)), (halves, (-3,)), (halves, (6,)), (halves, (5000,)),
         (half_stmt, (0,)), (half_stmt, (1,)), (half_stmt, (7,)), (leaf_other_param, (0, 5)), (leaf_other_param, (1, 5)),
         (leaf_other_param, (12, 5)), (leaf_other_param, (60, 5)), (leaf_other_param, (30, 2.5))]


@pytest.mark.parametrize("fn,args", [pytest.param(f, a, id=case_id(f, a)) for f, a in CASES])
def test_bounded_recursion_matches_cpython(fn, args):
    check(fn, args, native="entered", fresh=True, crash_guard=True)


@pytest.mark.skipif(FAKE_JIT, reason="needs the real compiler")
def test_lower_recursion_limit_is_respected():
    f = jitted(down, fresh=True)
    old = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(200)
        want, got = edge(down, hi=400), edge(f, hi=400)
    finally:
        sys.setrecursionlimit(old)
    assert got == want < 200
