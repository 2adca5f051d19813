"""Differential tests: control flow (if/elif/else, for/range, while, break/continue, else
clauses, early returns, iteration over arrays) and the fallback path for unsupported code.
"""

import os
import re

import numpy as np
import pytest

from diffharness import FAKE_JIT, cases, check, get_epochpp, jitted, line_of, stats_of


# ---------------------------------------------------------------------------- branching
def sign(x):
    if x > 0:
        return 1
    elif x < 0:
        return -1
    else:
        return 0


def bucket(x):
    if x < 0.0:
        r = -1.0
    elif x < 1.0:
        r = 0.5
    elif x < 10.0:
        r = 5.0
    else:
        r = x
    return r


def nested_if(x, y):
    r = 0
    if x > 0:
        if y > 0:
            r = 1
        else:
            r = 2
    else:
        if y > 0:
            r = 3
    return r


def if_no_else(x):
    r = x
    if x < 0:
        r = -x
    return r


BRANCH_CASES = [(sign, (x,)) for x in (5, -5, 0, 2.5, -0.0, float("nan"))]
BRANCH_CASES += [(bucket, (x,)) for x in (-3.0, 0.0, 0.99, 5.0, 10.0, 1e9)]
BRANCH_CASES += [(nested_if, a) for a in [(1, 1), (1, -1), (-1, 1), (-1, -1)]]
BRANCH_CASES += [(if_no_else, (x,)) for x in (3, -3, -2.5)]


@pytest.mark.parametrize("fn,args", cases(BRANCH_CASES))
def test_branching(fn, args):
    check(fn, args)


# ------------------------------------------------------------------------------- ranges
def range_sum3(a, b, c):
    s = 0
    for i in range(a, b, c):
        s += i
    return s


def range_list3(a, b, c):
    n = 0
    last = -999
    for i in range(a, b, c):
        n += 1
        last = i
    return n, last


def range_sum1(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def range_sum2(a, b):
    s = 0.0
    for i in range(a, b):
        s += 1.0 / (i * i + 1)
    return s


def loop_var_after(n):
    for i in range(n):
        pass
    return i  # noqa: F821 - UnboundLocalError when the range is empty


def loop_var_rebound(n):
    s = 0
    for i in range(n):
        i += 10
        s += i
    return s


RANGE3 = [(0, 10, 1), (0, 10, 3), (10, 0, -1), (10, 0, -3), (0, 10, -1), (-5, 5, 2),
          (5, -5, -2), (0, 0, 1), (3, 4, 100), (-1, -10, -4), (2 ** 40, 2 ** 40 + 5, 2)]
RANGE_CASES = [(f, a) for f in (range_sum3, range_list3) for a in RANGE3]
RANGE_CASES += [(range_sum1, (n,)) for n in (0, 1, 100, -3)]
RANGE_CASES += [(range_sum2, a) for a in [(0, 50), (-10, 10), (5, 2)]]
RANGE_CASES += [(loop_var_after, (5,)), (loop_var_after, (0,)),
                (loop_var_rebound, (5,)), (loop_var_rebound, (0,))]


@pytest.mark.parametrize("fn,args", cases(RANGE_CASES))
def test_range_loops(fn, args):
    check(fn, args)


@pytest.mark.parametrize("args", [(0, 10, 0), (5, 0, 0)])
def test_range_zero_step_raises(args):
    check(range_sum3, args)


# ------------------------------------------------------------------------------- while
def collatz_steps(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def isqrt_newton(n):
    if n < 2:
        return n
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


def newton_sqrt(x):
    g = x if x > 1.0 else 1.0
    for _ in range(100):
        ng = 0.5 * (g + x / g)
        if ng == g:
            break
        g = ng
    return g


def while_true_return(n):
    i = 0
    while True:
        i += 1
        if i * i > n:
            return i


def while_else(n):
    i = 0
    while i < n:
        if i == 7:
            break
        i += 1
    else:
        return -1
    return i


def while_continue(n):
    i = 0
    s = 0
    while i < n:
        i += 1
        if i % 3 == 0:
            continue
        s += i
    return s


WHILE_CASES = [(collatz_steps, (n,)) for n in (1, 6, 27, 97)]
WHILE_CASES += [(gcd, a) for a in [(48, 18), (17, 5), (0, 9), (-48, 18), (48, -18)]]
WHILE_CASES += [(isqrt_newton, (n,)) for n in (0, 1, 15, 16, 10 ** 12 + 7)]
WHILE_CASES += [(newton_sqrt, (x,)) for x in (2.0, 0.25, 1e10)]
WHILE_CASES += [(while_true_return, (n,)) for n in (0, 50)]
WHILE_CASES += [(while_else, (n,)) for n in (3, 10)]
WHILE_CASES += [(while_continue, (n,)) for n in (0, 10)]


@pytest.mark.parametrize("fn,args", cases(WHILE_CASES))
def test_while_loops(fn, args):
    check(fn, args)


# ------------------------------------------------------------ break / continue / else
def first_divisor(n):
    for d in range(2, n):
        if n % d == 0:
            break
    else:
        return -1
    return d


def count_primes(n):
    count = 0
    for k in range(2, n):
        for d in range(2, k):
            if d * d > k:
                count += 1
                break
            if k % d == 0:
                break
        else:
            count += 1
    return count


def skip_odd(n):
    s = 0
    for i in range(n):
        if i % 2:
            continue
        s += i
    return s


def nested_break(n):
    total = 0
    for i in range(n):
        for j in range(n):
            if j > i:
                break
            total += i * j
        if total > 1000:
            break
    return total, i


def early_return_nested(n, target):
    for i in range(n):
        for j in range(n):
            if i * j == target:
                return i, j
    return -1, -1


FLOW_CASES = [(first_divisor, (n,)) for n in (2, 13, 91, 100)]
FLOW_CASES += [(count_primes, (n,)) for n in (2, 3, 100)]
FLOW_CASES += [(skip_odd, (n,)) for n in (0, 9)]
FLOW_CASES += [(nested_break, (n,)) for n in (1, 5, 40)]
FLOW_CASES += [(early_return_nested, a) for a in [(10, 12), (10, 97), (5, 0)]]


@pytest.mark.parametrize("fn,args", cases(FLOW_CASES))
def test_break_continue_else(fn, args):
    check(fn, args)


# --------------------------------------------------------- iteration over array axis 0
def iter_sum(a):
    s = 0.0
    for x in a:
        s += x
    return s


def iter_rows(a):
    s = 0.0
    for row in a:
        s += row[0] - row[-1]
    return s


def iter_rows_write(a):
    for row in a:
        row[0] = row[1] * 2
    return a[0, 0]


def iter_planes(a):
    s = 0
    for plane in a:
        for row in plane:
            s += row[0]
    return s


def iter_break(a, limit):
    n = 0
    for x in a:
        if x > limit:
            break
        n += 1
    else:
        n = -1
    return n


def _ar1():
    return (np.arange(10.0) * 0.5 - 2.0,)


def _ar1_strided():
    return (np.arange(20.0)[::2] * 1.0,)


def _ar1_strided_view():
    return (np.arange(20.0)[::2],)


def _ar2():
    return (np.arange(24.0).reshape(4, 6),)


def _ar2_f():
    return (np.asfortranarray(np.arange(24.0).reshape(4, 6)),)


def _ar2_strided():
    return (np.arange(72.0).reshape(4, 18)[:, ::3],)


def _ar2_int():
    return (np.arange(24, dtype=np.int64).reshape(4, 6) - 10,)


def _ar3():
    return (np.arange(24, dtype=np.int32).reshape(2, 3, 4),)


def _ar1_empty():
    return (np.zeros(0),)


def _ar_break():
    return (np.array([1.0, 2.0, 3.0, 10.0, 1.0]), 5.0)


def _ar_nobreak():
    return (np.array([1.0, 2.0, 3.0]), 5.0)


ITER_CASES = [(iter_sum, f) for f in (_ar1, _ar1_strided_view, _ar1_empty)]
ITER_CASES += [(iter_rows, f) for f in (_ar2, _ar2_f, _ar2_strided, _ar2_int)]
ITER_CASES += [(iter_rows_write, f) for f in (_ar2, _ar2_f, _ar2_strided, _ar2_int)]
ITER_CASES += [(iter_planes, _ar3), (iter_break, _ar_break), (iter_break, _ar_nobreak)]


@pytest.mark.parametrize("fn,args", cases(ITER_CASES))
def test_iterate_arrays(fn, args):
    check(fn, args)


# --------------------------------------------------- unsupported constructs: fallback
def uses_dict(n):
    d = {}  # UNSUPPORTED
    for i in range(n):
        d[i] = i * i
    return sum(d.values())


def uses_str(n):
    s = 0
    for i in range(n):
        s += i
    return "total=" + str(s)  # UNSUPPORTED


def uses_print(n):
    s = 0
    for i in range(n):
        s += i
    print("sum is", s)  # UNSUPPORTED
    return s


@pytest.mark.parametrize("fn,words", [
    pytest.param(uses_dict, ("dict",), id="dict"),
    pytest.param(uses_str, ("str",), id="str"),
    pytest.param(uses_print, ("print",), id="print"),
])
def test_unsupported_falls_back_and_explains(fn, words):
    disp = get_epochpp().jit(fn)
    before = stats_of(disp)
    check(fn, (10,), native=False, disp=disp)
    check(fn, (0,), native=False, disp=disp)
    after = stats_of(disp)
    if FAKE_JIT:
        return  # the identity jit of the harness self-test cannot classify code
    assert after["interpreted_calls"] - before["interpreted_calls"] == 2, (before, after)
    assert after["native_calls"] == before["native_calls"], (before, after)
    text = get_epochpp().explain(disp)
    assert isinstance(text, str)
    line = line_of(fn, "# UNSUPPORTED")
    fname = os.path.basename(fn.__code__.co_filename)
    assert fname in text, f"explain does not name the file {fname}: {text!r}"
    assert re.search(rf"(?<!\d){line}(?!\d)", text), (
        f"explain does not name line {line} of the unsupported construct: {text!r}"
    )
    assert any(w in text.lower() for w in words), (
        f"explain does not name the construct ({words}): {text!r}"
    )


def test_unsupported_cached_dispatcher_consistent():
    # Repeated calls through one dispatcher keep giving CPython's answer.
    disp = jitted(uses_dict)
    for n in (0, 1, 5, 3):
        check(uses_dict, (n,), native=False, disp=disp)
