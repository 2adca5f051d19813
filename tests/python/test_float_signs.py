"""math.sqrt without its domain check where the argument is never negative
(jit/passes/float_signs.cpp): sums of squares, abs, exp, constants >= 0 (and -0.0). Everywhere
else `math.sqrt` of a negative number must still raise ValueError as in CPython; NaN and -0.0
pass through. Compared with CPython at Levels 2 and 3."""

import math

import numpy as np
import pytest

import diffharness
from diffharness import check

epochpp = diffharness.get_epochpp()
pytestmark = pytest.mark.skipif(diffharness.FAKE_JIT, reason="needs the real compiler")


def run(fn, args, level):
    return check(fn, args, disp=epochpp.jit(fn, level=level), exc_message=True)


def norm(x):
    s = 0.0
    for i in range(len(x)):
        s += x[i] * x[i]
    return math.sqrt(s)


def norm_sub(x):
    s = 0.0
    for i in range(len(x)):
        s -= x[i] * x[i]  # never positive: a domain error unless every term is 0 or NaN
    return math.sqrt(s)


def start_negative(x, s):
    for i in range(len(x)):
        t = x[i]
        s += t * t
    return math.sqrt(s)


def square_of_param(a):
    return math.sqrt(a * a)


def product_of_two(a, b):
    return math.sqrt(a * b)


def neg_zero():
    z = -0.0
    return math.sqrt(z)


def via_abs_and_exp(a, b):
    return math.sqrt(abs(a)) + math.sqrt(math.exp(b))


def ratio(a, b):
    q = abs(a) / abs(b)
    return math.sqrt(q)


def rows(X, out):
    for i in range(X.shape[0]):
        s = 0.0
        for k in range(X.shape[1]):
            s += X[i, k] * X[i, k]
        out[i] = math.sqrt(s)
    return 0


def rows_shifted(X, out, c):
    for i in range(X.shape[0]):
        s = c
        for k in range(X.shape[1]):
            s += X[i, k] * X[i, k]
        out[i] = math.sqrt(s)
    return 0


@pytest.mark.parametrize("vals", [[], [3.0, 4.0], [float("nan"), 1.0], [float("inf")], [-0.0]])
def test_norm(level, vals):
    run(norm, (np.array(vals, dtype=float),), level)


@pytest.mark.parametrize("vals", [[], [0.0, -0.0], [1.0], [float("nan")]])
def test_subtracted_squares_still_raise(level, vals):
    run(norm_sub, (np.array(vals, dtype=float),), level)


@pytest.mark.parametrize("s0", [0.0, -1.0, -100.0, -0.0, float("nan")])
def test_accumulator_from_a_parameter(level, s0):
    run(start_negative, (np.array([1.0, 2.0]), s0), level)


@pytest.mark.parametrize("a", [-3.0, 0.0, -0.0, float("nan"), float("-inf"), 1e200])
def test_square_of_a_parameter(level, a):
    run(square_of_param, (a,), level)


@pytest.mark.parametrize("a, b", [(-2.0, 3.0), (-2.0, -3.0), (0.0, -1.0), (-0.0, 5.0)])
def test_product_of_two_values(level, a, b):
    run(product_of_two, (a, b), level)


def test_negative_zero(level):
    run(neg_zero, (), level)


@pytest.mark.parametrize("a, b", [(-4.0, 0.0), (-4.0, -800.0), (float("nan"), 1.0)])
def test_abs_and_exp(level, a, b):
    run(via_abs_and_exp, (a, b), level)


@pytest.mark.parametrize("a, b", [(-4.0, -2.0), (0.0, 0.0), (1.0, -0.0)])
def test_ratio(level, a, b):
    run(ratio, (a, b), level)


def test_rows(level):
    run(rows, lambda: (np.arange(-60.0, 60.0).reshape(40, 3), np.zeros(40)), level)


@pytest.mark.parametrize("c", [0.0, -5.0, -1e9])
def test_rows_from_a_parameter(level, c):
    run(rows_shifted, lambda: (np.arange(-60.0, 60.0).reshape(40, 3), np.zeros(40), c), level)
