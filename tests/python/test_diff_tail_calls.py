"""Differential tests for accumulating self tail calls (jit/passes/tail_calls.cpp).

`return x + f(args)` with f the function itself becomes a jump back to the top with a
running sum. It must still be CPython: the sum of ints in another grouping can overflow
int64 where CPython's cannot (deopt: the interpreter's exact answer), RecursionError comes
at the same depth, every "frame" starts with its locals unbound, x is evaluated before
the arguments and before the callee's body (exceptions and writes in that order), and
float results (not associative) keep real calls.
"""

import numpy as np
import pytest

from diffharness import case_id, check, jitted


def params(items):
    return [pytest.param(f, a, id=case_id(f, a)) for f, a in items]


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def rsum(n):
    if n == 0:
        return 0
    return n + rsum(n - 1)


def grouping(i):
    # CPython: x1 + (x2 + (x3 + base)) = 2**62 + (2**62 + (-2**62 + -2**62)) = 0, never
    # leaving int64; the running sum (x1 + x2) overflows: the call deopts, same answer
    xs = (2 ** 62, 2 ** 62, -(2 ** 62), -(2 ** 62))
    if i == 3:
        return xs[3]
    return xs[i] + grouping(i + 1)


def big_sum(n, k):
    if n == 0:
        return 0
    return k + big_sum(n - 1, k)


def unbound_in_new_frame(n):
    if n == 0:
        return y  # noqa: F821 -- UnboundLocalError: this frame never bound y
    y = n
    return y + unbound_in_new_frame(n - 1)


def zero_div_in_x(n):
    if n == 0:
        return 0
    return 10 // (n - 3) + zero_div_in_x(n - 1)


def writes_then_reads(a, n):
    if n == 0:
        return 0
    a[n] = a[n] * 2 + n
    return int(a[n - 1]) + writes_then_reads(a, n - 1)


def writes_then_overflows(a, n):
    if n == 0:
        return 2 ** 62
    a[n] += 1.0
    return 2 ** 62 + writes_then_overflows(a, n - 1)


def float_sum(n):
    if n == 0:
        return 0.0
    return 0.1 + float_sum(n - 1)


def float_deep(n):
    # no tail call (a float result), but self-recursive: its calls go through a twin that
    # LLVM inlines (codegen.cpp); each level still counts for RecursionError
    if n == 0:
        return 0.0
    return float_deep(n - 1) + 0.5


def two_params(n, step):
    if n <= 0:
        return n
    return step + two_params(n - step, step)


def tail_in_else(n):
    if n > 1:
        return n % 7 + tail_in_else(n - 2)
    else:
        return -n


CASES = [(fib, (0,)), (fib, (1,)), (fib, (2,)), (fib, (10,)), (fib, (20,)), (fib, (-3,)),
         (rsum, (0,)), (rsum, (500,)), (rsum, (100_000,)),          # RecursionError, as CPython
         (grouping, (0,)), (big_sum, (3, 2 ** 61)), (big_sum, (5, 2 ** 61)),
         (big_sum, (4, -(2 ** 61))), (big_sum, (5, -(2 ** 61))),
         (unbound_in_new_frame, (0,)), (unbound_in_new_frame, (3,)),
         (zero_div_in_x, (2,)), (zero_div_in_x, (5,)),
         (float_sum, (30,)), (float_deep, (0,)), (float_deep, (999,)), (float_deep, (100_000,)),
         (two_params, (100, 7)), (two_params, (100, -7)),
         (tail_in_else, (50,)), (tail_in_else, (51,))]


@pytest.mark.parametrize("fn,args", params(CASES))
def test_tail_calls_match_cpython(fn, args):
    check(fn, args, native="entered", fresh=True, crash_guard=True)


@pytest.mark.parametrize("n", [5, 9])
def test_tail_calls_with_array_writes(n):
    check(writes_then_reads, lambda: (np.arange(10.0), n), native="entered", fresh=True)
    # the running sum overflows after the writes: the arrays are restored before the rerun
    check(writes_then_overflows, lambda: (np.zeros(10), n), native="entered", fresh=True)


def test_fib_has_one_call_per_frame():
    f = jitted(fib, fresh=True)
    assert f(15) == fib(15)
    assert "# tail call: accumulates" in f.inspect("ir")
    llvm = f.inspect("llvm")
    # the copy without depth checks (recursion_bound.cpp) is where fib runs: its body and its
    # twins' (inlined into it) make one call per frame, the second call being a jump
    body = llvm[llvm.index("@ep.fib.0.free("):llvm.index("define i32 @ep_entry")]
    body = body[:body.index("\n}\n")]
    assert body.count("call fastcc") == 1, body


def test_float_sum_keeps_its_calls():
    f = jitted(float_sum, fresh=True)
    assert f(10) == float_sum(10)
    assert "tail call" not in f.inspect("ir")
