"""Differential tests: the math module (functions, constants, special values, errors).

Results are compared bit for bit: CPython's math module calls the C library, so the
compiled code is expected to produce the same doubles. The only exception is
math.hypot on arbitrary inputs: CPython 3.10+ computes it with its own algorithm
(not libm's hypot), so arbitrary-input hypot is compared within 1 ulp-ish (rtol 2.3e-16).
"""

import math

import pytest

from diffharness import case_id, cases, check

inf = math.inf
nan = math.nan


def m_sqrt(x):
    return math.sqrt(x)


def m_exp(x):
    return math.exp(x)


def m_log(x):
    return math.log(x)


def m_log2(x):
    return math.log2(x)


def m_log10(x):
    return math.log10(x)


def m_sin(x):
    return math.sin(x)


def m_cos(x):
    return math.cos(x)


def m_tan(x):
    return math.tan(x)


def m_asin(x):
    return math.asin(x)


def m_acos(x):
    return math.acos(x)


def m_atan(x):
    return math.atan(x)


def m_sinh(x):
    return math.sinh(x)


def m_cosh(x):
    return math.cosh(x)


def m_tanh(x):
    return math.tanh(x)


def m_floor(x):
    return math.floor(x)


def m_ceil(x):
    return math.ceil(x)


def m_trunc(x):
    return math.trunc(x)


def m_fabs(x):
    return math.fabs(x)


def m_erf(x):
    return math.erf(x)


def m_erfc(x):
    return math.erfc(x)


def m_isnan(x):
    return math.isnan(x)


def m_isinf(x):
    return math.isinf(x)


def m_isfinite(x):
    return math.isfinite(x)


def m_atan2(y, x):
    return math.atan2(y, x)


def m_hypot(x, y):
    return math.hypot(x, y)


def m_pow(x, y):
    return math.pow(x, y)


def m_copysign(x, y):
    return math.copysign(x, y)


UNARY = [m_sqrt, m_exp, m_log, m_log2, m_log10, m_sin, m_cos, m_tan, m_asin, m_acos, m_atan,
         m_sinh, m_cosh, m_tanh, m_floor, m_ceil, m_trunc, m_fabs, m_erf, m_erfc, m_isnan,
         m_isinf, m_isfinite]

# Values chosen to hit ordinary inputs, signed zeros, domain edges, overflow and specials.
# Whatever CPython does (value or ValueError/OverflowError) the jit must do too.
VALUES = [0.5, -0.0, 1.0, -0.7, 2.5, 30.0, 1e300, -inf, nan, 3]

# int results of floor/ceil/trunc beyond int64 may leave the fast path ("entered").
_BIG_INT_RESULT = {m_floor, m_ceil, m_trunc}


def _native_mode(fn, x):
    if fn in _BIG_INT_RESULT and isinstance(x, float) and math.isfinite(x) and abs(x) >= 2 ** 63:
        return "entered"
    return True


UNARY_CASES = [pytest.param(f, x, id=case_id(f, (x,))) for f in UNARY for x in VALUES]


@pytest.mark.parametrize("fn,x", UNARY_CASES)
def test_math_unary(fn, x):
    check(fn, (x,), native=_native_mode(fn, x))


MORE_UNARY = [(m_sqrt, 2.0), (m_sqrt, inf), (m_exp, 709.0), (m_exp, 710.0), (m_exp, -745.2),
              (m_exp, inf), (m_log, 5e-324), (m_log, inf), (m_log2, 1024.0), (m_log10, 1e-5),
              (m_sin, 1e22), (m_sin, inf), (m_cos, 1e22), (m_tan, math.pi / 2),
              (m_asin, 1.0), (m_asin, -1.0000001), (m_acos, -1.0), (m_atan, inf),
              (m_sinh, 710.5), (m_sinh, -inf), (m_cosh, -711.0), (m_tanh, -inf),
              (m_floor, -0.5), (m_floor, 2.0), (m_ceil, -0.5), (m_ceil, 1e-300),
              (m_trunc, -2.9), (m_floor, -inf), (m_ceil, nan), (m_trunc, 9.2e18),
              (m_erf, 6.0), (m_erfc, 30.0), (m_erfc, -inf), (m_fabs, -inf), (m_isnan, 5),
              (m_isinf, -inf), (m_isfinite, 1e308), (m_floor, True), (m_sqrt, True), (m_floor, -7)]


@pytest.mark.parametrize("fn,x", [pytest.param(f, x, id=case_id(f, (x,))) for f, x in MORE_UNARY])
def test_math_unary_special(fn, x):
    check(fn, (x,), native=_native_mode(fn, x))


BINARY_CASES = [(m_atan2, a) for a in [(1.0, 1.0), (0.0, -0.0), (-0.0, -0.0), (-0.0, 0.0),
                                       (0.0, 0.0), (1.0, -inf), (-inf, inf), (nan, 1.0),
                                       (3, -4), (-2.5, 0.0)]]
BINARY_CASES += [(m_hypot, a) for a in [(3.0, 4.0), (5, 12), (-0.0, 0.0), (inf, nan),
                                        (nan, -inf), (nan, 1.0), (1e308, 1e308), (0.0, 5e-324)]]
BINARY_CASES += [(m_pow, a) for a in [(2.0, 10.0), (2, 0.5), (2.0, -1.0), (-2.0, 3.0),
                                      (-2.0, 0.5), (0.0, -1.0), (-0.0, -3.0), (0.0, 0.0),
                                      (10.0, 400.0), (10.0, -400.0), (1.0, nan), (nan, 0.0),
                                      (-1.0, inf), (inf, -2.0), (-inf, 3.0), (-8.0, 1.0 / 3)]]
BINARY_CASES += [(m_copysign, a) for a in [(1.0, -0.0), (-2.0, 0.0), (3, -1), (nan, -1.0),
                                           (inf, -2.0), (0.0, -inf)]]


@pytest.mark.parametrize("fn,args", cases(BINARY_CASES))
def test_math_binary(fn, args):
    check(fn, args)


def hypot_loop(n):
    s = 0.0
    for i in range(1, n):
        s += math.hypot(i * 0.37, 1.0 / i)
    return s


def test_hypot_arbitrary_inputs_within_an_ulp():
    check(hypot_loop, (200,), rtol=2.3e-16 * 200)


# ----------------------------------------------------------------------- constants
def m_consts():
    return math.pi, math.e, math.inf, math.nan, -math.inf


def m_circle(r):
    return 2.0 * math.pi * r, math.pi * r ** 2


def m_inf_cmp(x):
    return x < math.inf, x == math.inf, math.isnan(x * math.nan)


def m_combo(x):
    y = math.sqrt(math.exp(x) + 1.0)
    return math.atan2(math.sin(y), math.cos(y)) + math.tanh(y) * math.e


CONST_CASES = [(m_consts, ()), (m_circle, (1.5,)), (m_circle, (2,)), (m_inf_cmp, (1e308,)),
               (m_inf_cmp, (inf,)), (m_combo, (0.5,)), (m_combo, (-3.0,))]


@pytest.mark.parametrize("fn,args", cases(CONST_CASES))
def test_math_constants_and_expressions(fn, args):
    check(fn, args)


# ------------------------------------------------------------- math in numeric loops
def integrate_sin(n):
    h = math.pi / n
    s = 0.0
    for i in range(n):
        s += math.sin((i + 0.5) * h)
    return s * h


def gaussian_sum(n):
    s = 0.0
    for i in range(-n, n + 1):
        x = i / n
        s += math.exp(-x * x) * math.erf(x) + math.erfc(x)
    return s


def floor_ceil_mix(n):
    t = 0
    for i in range(n):
        x = (i - n / 2) / 3.0
        t += math.floor(x) * 3 + math.ceil(x) - math.trunc(x)
    return t


@pytest.mark.parametrize("fn,args", [
    pytest.param(integrate_sin, (1000,), id="integrate-sin"),
    pytest.param(gaussian_sum, (200,), id="gaussian"),
    pytest.param(floor_ceil_mix, (301,), id="floor-ceil"),
])
def test_math_in_loops(fn, args):
    check(fn, args)
