"""Differential tests for the int sign facts (jit/passes/int_signs.cpp).

`a // b` and `a % b` on Python ints become one machine division when the pass proves
a >= 0 and b >= 1. Each case below would give another answer than CPython (a wrong sign, a
missing ZeroDivisionError, a SIGFPE, a wrapped int) if the pass claimed a fact it cannot
prove: negative operands, zero divisors, counters that go down, values near the int64 limits.
The last tests check that the fact is really used where it holds (IR and LLVM text).
"""

import numpy as np
import pytest

from diffharness import case_id, check, jitted

INT64_MAX = 2 ** 63 - 1
INT64_MIN = -(2 ** 63)


def params(items):
    return [pytest.param(f, a, id=case_id(f, a)) for f, a in items]


# ------------------------------------------------------------- facts that hold
def count_primes(n):
    count = 0
    for k in range(2, n):
        is_prime = True
        d = 2
        limit = k
        while d * d <= limit:
            if k % d == 0:
                is_prime = False
                limit = 0
            d += 1
        if is_prime:
            count += 1
    return count


def digit_sum(n):
    s = 0
    x = abs(n)
    while x > 0:
        s += x % 10
        x = x // 10
    return s


def mod_then_div(n, m):
    # r = (k - 10) % 7 is >= 0 (the divisor is positive) though k - 10 is not
    t = 0
    for k in range(n):
        r = (k - 10) % 7
        t += r // 2 + r % 3 * m
    return t


def len_divisor_ok(a):
    s = 0
    for i in range(10):
        s += i % (len(a) + 1) + i // (len(a) + 1)
    return s


def square_mod(n):
    s = 0
    for d in range(n, n + 3):
        s += d * d % 1000003 + (d * d) // 97
    return s


def walrus_and_ifexp(n, c):
    t = 0
    for k in range(1, n):
        x = k if c else 1
        t += (y := k * 3) % x + y // x
    return t


def bool_operands(n):
    t = 0
    for k in range(1, n):
        t += True % k + (k > 2) // k
    return t


def max_bound(n, lo):
    t = 0
    for k in range(n):
        t += 1000 % max(k, 1) + k // max(lo, 1)
    return t


HOLDS = [(count_primes, (2,)), (count_primes, (3,)), (count_primes, (200,)),
         (digit_sum, (0,)), (digit_sum, (987654321,)), (digit_sum, (-987654321,)),
         (digit_sum, (INT64_MAX,)), (digit_sum, (-INT64_MAX,)),
         (digit_sum, (INT64_MIN,)),          # abs() overflows int64: deopt, exact big int
         (mod_then_div, (30, 5)), (mod_then_div, (30, -5)), (mod_then_div, (30, INT64_MAX)),
         (len_divisor_ok, (np.zeros(0),)), (len_divisor_ok, (np.arange(3.0),)),
         (square_mod, (5,)), (square_mod, (3037000498,)),   # d * d crosses 2**63: deopt
         (walrus_and_ifexp, (20, True)), (walrus_and_ifexp, (20, False)),
         (bool_operands, (6,)), (max_bound, (12, 5)), (max_bound, (12, -5))]


@pytest.mark.parametrize("fn,args", params(HOLDS))
def test_sign_facts_that_hold(fn, args):
    check(fn, args, native="entered", fresh=True, crash_guard=True)


# ------------------------------------------------------------- facts that must not be claimed
def counter_goes_down(n):
    d = 6
    s = 0
    for i in range(n):
        d = d - 3           # 3, 0, -3: ZeroDivisionError, then a negative divisor
        s += 100 % d + 100 // d
    return s


def counter_goes_negative(n):
    d = 7
    s = 0
    for i in range(n):
        d = d - 3           # 4, 1, -2, -5, ...: Python floors toward -inf
        s += 100 % d + 100 // d + (-100) % d
    return s


def range_down(hi):
    s = 0
    for k in range(hi, -1, -1):   # reaches 0
        s += 100 % k
    return s


def range_negative_start(n):
    s = 0
    for k in range(-n, n):
        s += k % 7 + k // 7
    return s


def len_divisor_zero(a):
    return 10 % len(a)


def abs_div_by_param(x, y):
    return abs(x) // y + abs(x) % y


def mul_of_negatives(n):
    s = 0
    for k in range(1, n):
        m = -k
        s += 1000 % (m * k) + (m * m) % 7
    return s


def bitand_mask(x):
    s = 0
    for k in range(1, 5):
        s += (x & 255) % k + (x & -1) % k
    return s


def ifexp_negative(c):
    x = 3 if c else -3
    return 10 % x + 10 // x


def reassigned_loop_var(n):
    s = 0
    for k in range(1, n):
        k = k - 5
        s += 100 % k
    return s


NOT_CLAIMED = [(counter_goes_down, (1,)), (counter_goes_down, (2,)), (counter_goes_down, (3,)),
               (counter_goes_negative, (6,)), (range_down, (5,)), (range_negative_start, (10,)),
               (len_divisor_zero, (np.zeros(0),)), (len_divisor_zero, (np.arange(3.0),)),
               (abs_div_by_param, (7, 0)), (abs_div_by_param, (7, -2)), (abs_div_by_param, (-7, 2)),
               (abs_div_by_param, (INT64_MIN, -1)), (abs_div_by_param, (INT64_MAX, -1)),
               (mul_of_negatives, (5,)), (bitand_mask, (-12345,)), (bitand_mask, (12345,)),
               (ifexp_negative, (True,)), (ifexp_negative, (False,)),
               (reassigned_loop_var, (5,)), (reassigned_loop_var, (8,))]


@pytest.mark.parametrize("fn,args", params(NOT_CLAIMED))
def test_sign_facts_not_claimed(fn, args):
    check(fn, args, native="entered", fresh=True, crash_guard=True)


# ------------------------------------------------------------- the fact is used where it holds
def test_trial_division_is_one_unsigned_division():
    f = jitted(count_primes, fresh=True)
    assert f(100) == count_primes(100)
    ir = f.inspect("ir")
    assert "(k %[>=0] d)" in ir
    llvm = f.inspect("llvm")
    assert "urem i64" in llvm
    assert "srem" not in llvm and "sdiv" not in llvm
    assert "integer modulo by zero" not in llvm


def test_no_fact_for_a_counter_that_goes_down():
    f = jitted(counter_goes_negative, fresh=True)
    assert f(3) == counter_goes_negative(3)
    ir = f.inspect("ir")
    assert "[>=0]" not in ir
    assert "srem" in f.inspect("llvm")


def test_mod_result_is_non_negative_for_a_positive_divisor():
    f = jitted(mod_then_div, fresh=True)
    assert f(20, 3) == mod_then_div(20, 3)
    ir = f.inspect("ir")
    assert "((k - 10) % 7)" in ir, ir          # k - 10 may be negative: Python's floor mod
    assert "(r //[>=0] 2)" in ir and "(r %[>=0] 3)" in ir, ir
