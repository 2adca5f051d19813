"""Bounds checks lifted out of loop nests (jit/passes/bounds_hoist.cpp, FnLowering::checkedVersions).

An element access in an inner loop is checked once at the entry of the outermost loop whose
entry knows its whole index range (the inner loops' ranges invariant there), or once per
Level 3 chunk of a parallel loop. When that check fails the nest runs checked, the inner loops
versioned as before, so an IndexError still comes at CPython's iteration with CPython's writes
before it. Each case runs at Level 2 and at Level 3 (EPOCHPP_PARALLEL_MIN_WORK=0: every
parallel loop goes to the oneTBB workers) and is compared with CPython: value, exception,
and the arrays' contents after the call.
"""

import numpy as np
import pytest

import diffharness
from diffharness import check

epochpp = diffharness.get_epochpp()
pytestmark = pytest.mark.skipif(diffharness.FAKE_JIT, reason="needs the real compiler")


def run(fn, args, level, **kw):
    return check(fn, args, disp=epochpp.jit(fn, level=level), crash_guard=True, **kw)


def pairwise(X, D):
    n = X.shape[0]
    d = X.shape[1]
    total = 0.0
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(d):
                t = X[i, k] - X[j, k]
                s += t * t
            D[i, j] = s
            total += s
    return total


def shifted(a, out, m):
    for i in range(len(out)):
        for k in range(m):
            out[i, k] = a[i, k + 1] * 2.0
    return out[0, 0]


def negative_steps(a, out, lo):
    for i in range(out.shape[0]):
        for k in range(out.shape[1] - 1, lo, -2):
            out[i, k] = a[i, k] + 1.0
    return 0


def inner_bound_changes(a, out):
    m = 0
    for i in range(out.shape[0]):
        m = i % 4  # assigned in the outer loop: the inner range is not known at its entry
        for k in range(m):
            out[i, k] = a[i, k]
    return m


def triangle(a, out):
    for i in range(out.shape[0]):
        for j in range(i):
            out[i, j] = a[j, i]
    return 0


def guarded(a, out):
    d = a.shape[1]
    for i in range(out.shape[0]):
        for k in range(d):
            if k + 1 < d:
                out[i, k] = a[i, k + 1]
    return 0


def maybe_unbound(a, out, flag):
    if flag:
        m = a.shape[1]
    for i in range(out.shape[0]):
        for k in range(m):
            out[i, k] = a[i, k]
    return 0


def through_while(a, out):
    d = a.shape[1]
    for i in range(out.shape[0]):
        w = 0
        while w < 2:
            for k in range(d):
                out[i, k] += a[i, k]
            w += 1
    return 0


def three_deep(a, out, p):
    for t in range(p):
        for i in range(out.shape[0]):
            for k in range(out.shape[1]):
                out[i, k] += a[t, i + 1, k]
    return 0


def last_axis(a, out):
    for i in range(out.shape[0]):
        for k in range(a.shape[-1]):
            out[i, k] = a[i, k] * 3.0
    return 0


def rng(*shape):
    return np.random.default_rng(sum(shape) + 3).standard_normal(shape)


@pytest.mark.parametrize("n_rows", [0, 1, 40])
def test_pairwise_in_range(level, n_rows):
    check_args = lambda: (rng(n_rows, 3) if n_rows else np.zeros((0, 3)), np.zeros((n_rows, n_rows)))
    run(pairwise, check_args, level)


@pytest.mark.parametrize("rows, cols", [(39, 40), (40, 39), (40, 2)])
def test_pairwise_output_too_small(level, rows, cols):
    run(pairwise, lambda: (rng(40, 3), np.zeros((rows, cols))), level)


def test_pairwise_narrow_x(level):
    run(pairwise, lambda: (rng(30, 0), np.zeros((30, 30))), level)  # inner range empty everywhere


@pytest.mark.parametrize("m", [0, 4, 5, 6])
def test_offset_past_the_end(level, m):
    run(shifted, lambda: (rng(30, 6), np.zeros((30, 5)), m), level)


@pytest.mark.parametrize("lo", [-1, 0, 3, -3, 10])
def test_negative_step_inner(level, lo):
    run(negative_steps, lambda: (rng(30, 8), np.zeros((30, 8)), lo), level)


def test_negative_step_wider_output(level):
    run(negative_steps, lambda: (rng(30, 6), np.zeros((30, 8)), -1), level)


@pytest.mark.parametrize("cols", [2, 3, 4])
def test_inner_bound_assigned_in_outer_loop(level, cols):
    run(inner_bound_changes, lambda: (rng(30, cols), np.zeros((30, 4))), level)


@pytest.mark.parametrize("rows", [20, 25])
def test_triangle(level, rows):
    run(triangle, lambda: (rng(rows, 20), np.zeros((20, 20))), level)


def test_guarded_access(level):
    run(guarded, lambda: (rng(30, 5), np.zeros((30, 4))), level)


@pytest.mark.parametrize("flag, rows", [(True, 30), (False, 30), (False, 0)])
def test_range_stop_maybe_unbound(level, flag, rows):
    run(maybe_unbound, lambda: (rng(30, 4), np.zeros((rows, 4)), flag), level)


@pytest.mark.parametrize("cols", [4, 5])
def test_inner_loop_inside_a_while(level, cols):
    run(through_while, lambda: (rng(30, cols), np.zeros((30, 4))), level)


@pytest.mark.parametrize("depth, rows", [(3, 9), (3, 10), (4, 9)])
def test_three_deep(level, depth, rows):
    run(three_deep, lambda: (rng(3, 10, 5), np.zeros((rows, 5)), depth), level)


@pytest.mark.parametrize("cols", [4, 5])
def test_range_over_shape_minus_one(level, cols):
    run(last_axis, lambda: (rng(30, cols), np.zeros((30, 4))), level)


def test_lifted_checks_show_in_the_ir():
    f = epochpp.jit(pairwise, level=2)
    f(rng(5, 3), np.zeros((5, 5)))
    ir = f.inspect("ir")
    outer = [line for line in ir.splitlines() if "for i in" in line][0]
    assert "bounds checked before the loop: 3 access(es)" in outer, ir  # X[i, k], X[j, k], D[i, j]
