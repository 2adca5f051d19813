"""Definite assignment in codegen (FnLowering::sure): a local read where it is certainly bound
needs no UnboundLocalError check; everywhere else the check stays. These cases read locals that
are bound on some paths only (first loop iteration, one branch, a loop that ran zero times, a
loop body lowered twice for overflow or bounds versions) and are compared with CPython, at
Levels 2 and 3."""

import numpy as np
import pytest

import diffharness
from diffharness import check

epochpp = diffharness.get_epochpp()
pytestmark = pytest.mark.skipif(diffharness.FAKE_JIT, reason="needs the real compiler")


def run(fn, args, level):
    return check(fn, args, disp=epochpp.jit(fn, level=level), native="entered")


def read_before_assign(n):
    s = 0
    for i in range(n):
        s += x
        x = i
    return s


def read_after_first(n):
    s = 0
    for i in range(n):
        if i > 0:
            s += x
        x = i * 3
    return s


def one_branch(c):
    if c:
        x = 1
    return x


def both_branches(c):
    if c:
        x = 1
    else:
        x = 2
    return x


def loop_var_after(n):
    for i in range(n):
        pass
    return i


def assigned_in_inner(n, m):
    total = 0
    for i in range(n):
        for j in range(m):
            z = j
        total += z
    return total


def while_else(n, stop):
    i = 0
    while i < n:
        if i == stop:
            break
        y = i
        i += 1
    else:
        return y
    return -1


def twice_lowered(a, n):
    # an innermost int loop: its body is lowered in a checked and an unchecked version
    t = 0
    for i in range(n):
        t += y * 2
        y = a[i] + i
    return t


def twice_lowered_ok(a, n):
    t = 0
    for i in range(n):
        if i > 0:
            t += y * 2
        y = a[i] + i
    return t


def after_break(n):
    for i in range(n):
        if i == 2:
            break
        w = i
    return w


def array_loop_unbound(a, out):
    for i in range(len(out)):
        out[i] = a[i] * k
        k = 2.0
    return 0


@pytest.mark.parametrize("n", [0, 1, 3])
def test_read_before_assign(level, n):
    run(read_before_assign, (n,), level)


@pytest.mark.parametrize("n", [0, 1, 5])
def test_read_after_first_iteration(level, n):
    run(read_after_first, (n,), level)


@pytest.mark.parametrize("c", [True, False])
def test_one_branch(level, c):
    run(one_branch, (c,), level)


@pytest.mark.parametrize("c", [True, False])
def test_both_branches(level, c):
    run(both_branches, (c,), level)


@pytest.mark.parametrize("n", [0, 4])
def test_loop_variable_after_loop(level, n):
    run(loop_var_after, (n,), level)


@pytest.mark.parametrize("n, m", [(3, 0), (3, 2), (0, 0)])
def test_assigned_in_inner_loop(level, n, m):
    run(assigned_in_inner, (n, m), level)


@pytest.mark.parametrize("n, stop", [(0, 5), (3, 5), (3, 0), (3, 2)])
def test_while_else(level, n, stop):
    run(while_else, (n, stop), level)


@pytest.mark.parametrize("n", [0, 1, 70_000])
def test_body_lowered_twice(level, n):
    run(twice_lowered, lambda: (np.arange(70_000, dtype=np.int64), n), level)


@pytest.mark.parametrize("n", [0, 1, 70_000])
def test_body_lowered_twice_read_later(level, n):
    run(twice_lowered_ok, lambda: (np.arange(70_000, dtype=np.int64), n), level)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_after_break(level, n):
    run(after_break, (n,), level)


@pytest.mark.parametrize("n", [0, 1, 50])
def test_unbound_in_array_loop(level, n):
    run(array_loop_unbound, lambda: (np.arange(50.0), np.zeros(n)), level)
