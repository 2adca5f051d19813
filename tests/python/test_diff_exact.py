"""Differential tests: exactness where native code is most tempted to differ from CPython.

int64 overflow must give Python's big-int answer (without applying side effects twice),
errors are raised exactly where CPython raises them (ZeroDivisionError, math domain/range
errors, IndexError with the same partial writes), globals are re-read after rebinding,
and NaN / inf / -0.0 / empty arrays / round-half-even behave as in CPython.

native="entered": the call must enter compiled code (native_calls or deopts grows) but
may finish in the interpreter; such cases use a fresh dispatcher so that one deopt does
not influence other cases.
"""

import math
import sys

import numpy as np
import pytest

from diffharness import case_id, check, jitted

inf = math.inf
nan = math.nan
INT64_MAX = 2 ** 63 - 1
INT64_MIN = -(2 ** 63)


def params(items):
    return [pytest.param(f, a, id=case_id(f, a)) for f, a in items]


# ------------------------------------------------------------------- int64 overflow
def mul_to_2_70(n):
    x = 1
    for i in range(n):
        x *= 2
    return x


def factorial_loop(n):
    r = 1
    for i in range(2, n + 1):
        r *= i
    return r


def sum_near_2_63(k, n):
    s = 0
    for i in range(n):
        s += k
    return s


def add1(x):
    return x + 1


def sub1(x):
    return x - 1


def neg(x):
    return -x


def absolute(x):
    return abs(x)


def floordiv(x, y):
    return x // y


def mod(x, y):
    return x % y


def power(x, y):
    return x ** y


def mul(x, y):
    return x * y


def overflow_then_back(x):
    y = x * 4
    return y // 8


def mul_div(x, y, z):
    return x * y // z


def overflow_in_loop_then_small(n):
    big = 1
    for i in range(n):
        big *= 10
    return big % 1000003


OVERFLOW = [(mul_to_2_70, (70,)), (mul_to_2_70, (63,)), (mul_to_2_70, (62,)),
            (factorial_loop, (20,)), (factorial_loop, (21,)), (factorial_loop, (25,)),
            (sum_near_2_63, (2 ** 62, 1)), (sum_near_2_63, (2 ** 62, 2)),
            (sum_near_2_63, (2 ** 62, 3)), (sum_near_2_63, (-(2 ** 62), 2)),
            (sum_near_2_63, (-(2 ** 62), 3)), (sum_near_2_63, (INT64_MAX // 3, 4)),
            (add1, (INT64_MAX,)), (add1, (INT64_MAX - 1,)), (sub1, (INT64_MIN,)),
            (neg, (INT64_MIN,)), (neg, (INT64_MAX,)), (absolute, (INT64_MIN,)),
            (floordiv, (INT64_MIN, -1)), (mod, (INT64_MIN, -1)), (floordiv, (INT64_MIN, 1)),
            (power, (2, 62)), (power, (2, 63)), (power, (-2, 63)), (power, (-2, 64)),
            (power, (3, 40)), (power, (10, 18)), (power, (10, 19)), (mul, (INT64_MAX, 2)),
            (mul, (INT64_MIN, -1)), (mul, (2 ** 32, 2 ** 31)), (mul, (-(2 ** 32), 2 ** 31)),
            (overflow_then_back, (2 ** 62,)), (mul_div, (2 ** 40, 2 ** 40, 2 ** 30)),
            (overflow_in_loop_then_small, (40,))]


@pytest.mark.parametrize("fn,args", params(OVERFLOW))
def test_int64_overflow_gives_bigint(fn, args):
    # crash_guard: INT64_MIN // -1 and % -1 trap (SIGFPE) if done with a bare idiv.
    check(fn, args, native="entered", fresh=True, crash_guard=True)


# ------------------------------------------- side effects before an overflow: once only
def write_then_overflow(a, n):
    for i in range(len(a)):
        a[i] += 1.0
    p = 1
    for i in range(n):
        p *= 1000
    return p


def interleaved_write_overflow(a, n):
    p = 1
    for i in range(n):
        a[i % len(a)] += 1
        p *= 1000
    return p, a[0]


def store_bigint_into_int64(a, n):
    p = 1
    for i in range(n):
        p *= 10
        a[i] = p
    return p


def store_bigint_into_float64(a, n):
    p = 1
    for i in range(n):
        p *= 10
        a[i] = p
    return p


WRITE_OVERFLOW = [
    (write_then_overflow, lambda: (np.zeros(5), 10)),
    (write_then_overflow, lambda: (np.zeros(5), 3)),
    (interleaved_write_overflow, lambda: (np.zeros(4, np.int64), 12)),
    (interleaved_write_overflow, lambda: (np.zeros(3)[::-1], 9)),
    (store_bigint_into_int64, lambda: (np.zeros(25, np.int64), 25)),
    (store_bigint_into_float64, lambda: (np.zeros(25), 25)),
]


@pytest.mark.parametrize("fn,args", [pytest.param(f, a, id=f"{f.__name__}-{i}")
                                     for i, (f, a) in enumerate(WRITE_OVERFLOW)])
def test_side_effects_not_applied_twice(fn, args):
    check(fn, args, native="entered", fresh=True)


def test_bigint_arguments_still_correct():
    check(add1, (2 ** 70,), native=False, fresh=True)
    check(mul, (-(2 ** 64), 3), native=False, fresh=True)


def numpy_int64_wraps(a):
    # NumPy scalars wrap (with a warning); they are NOT Python ints.
    return a[0] * a[0], a[1] + a[1], a[0] * 3


def test_numpy_int64_scalars_wrap_not_bigint():
    check(numpy_int64_wraps, lambda: (np.array([2 ** 40, INT64_MAX], np.int64),))


# ------------------------------------------------------- ints vs floats, exactly
def int_float_eq(x, y):
    return x == y, x < y, x > y, x != y


def int_truediv(x, y):
    return x / y


def float_of_int(x):
    return float(x), x + 0.0


def int_of_float(x):
    return int(x)


MIXED_EXACT = [(int_float_eq, (2 ** 53 + 1, 9007199254740992.0)),
               (int_float_eq, (2 ** 53, 9007199254740992.0)),
               (int_float_eq, (INT64_MAX, 9.223372036854775807e18)),
               (int_float_eq, (-(2 ** 60) - 1, -1.152921504606846976e18)),
               (int_truediv, (2 ** 53 + 1, 3)), (int_truediv, (INT64_MAX, 7)),
               (int_truediv, (-(2 ** 62) - 1, 2 ** 61 + 3)), (int_truediv, (1, 3)),
               (float_of_int, (2 ** 53 + 1,)), (float_of_int, (INT64_MAX,)),
               (int_of_float, (-9.223372036854775808e18,))]


@pytest.mark.parametrize("fn,args", params(MIXED_EXACT))
def test_int_float_mixing_exact(fn, args):
    check(fn, args)


BIG_FROM_FLOAT = [(int_of_float, (1e20,)), (int_of_float, (-1e300,)),
                  (int_of_float, (9.223372036854775808e18,))]


@pytest.mark.parametrize("fn,args", params(BIG_FROM_FLOAT))
def test_int_from_huge_float_is_bigint(fn, args):
    check(fn, args, native="entered", fresh=True)


def b_round(x):
    return round(x)


def m_floor(x):
    return math.floor(x)


@pytest.mark.parametrize("fn,x", [(b_round, 1e20), (m_floor, -1e19), (b_round, 2.5e18)])
def test_round_floor_huge_is_bigint(fn, x):
    check(fn, (x,), native="entered", fresh=True)


# -------------------------------------------------------------------- division by zero
def div(x, y):
    return x / y


def div_loop(a, k):
    for i in range(len(a)):
        a[i] = 10 // (i - k)
    return a


def fdiv_loop(a, k):
    for i in range(len(a)):
        a[i] = 1.0 / (i - k)
    return a


ZERO_DIV = [(f, a) for f in (div, floordiv, mod)
            for a in [(1, 0), (0, 0), (-5, 0), (1.0, 0.0), (1.0, -0.0), (0.0, 0.0), (1, 0.0),
                      (2.5, 0), (True, False), (nan, 0.0), (inf, 0.0)]]


@pytest.mark.parametrize("fn,args", params(ZERO_DIV))
def test_zero_division(fn, args):
    # A bare integer idiv by zero is SIGFPE: guard the all-int cases.
    check(fn, args, crash_guard=all(isinstance(x, int) for x in args))


@pytest.mark.parametrize("fn,args", params([(div, (1, 0)), (floordiv, (1, 0)), (mod, (1, 0)),
                                            (div, (1.0, 0.0)), (floordiv, (1.0, 0.0)),
                                            (mod, (1.0, 0.0)), (power, (0, -1)),
                                            (power, (0.0, -1.0))]))
def test_zero_division_message(fn, args):
    check(fn, args, exc_message=True, crash_guard=all(isinstance(x, int) for x in args))


@pytest.mark.parametrize("fn,args", [
    pytest.param(div_loop, lambda: (np.zeros(6, np.int64), 3), id="int-partial"),
    pytest.param(fdiv_loop, lambda: (np.zeros(6), 4), id="float-partial"),
    pytest.param(fdiv_loop, lambda: (np.zeros(6), 9), id="float-no-error"),
])
def test_zero_division_partial_writes(fn, args):
    check(fn, args, crash_guard=True)


POW_ERRORS = [(power, (0, -1)), (power, (0.0, -1.0)), (power, (-0.0, -3)), (power, (2.0, 1024)),
              (power, (10.0, 400.0)), (power, (-10.0, 401)), (power, (2.0, -2000)),
              (power, (2, -1080)), (power, (1e300, 2)), (power, (0.5, -1100.0))]


@pytest.mark.parametrize("fn,args", params(POW_ERRORS))
def test_pow_errors(fn, args):
    check(fn, args)


def test_pow_negative_base_fractional_gives_complex():
    check(power, (-8.0, 1 / 3), native=False, fresh=True)
    check(power, (-2.0, 0.5), native=False, fresh=True)


# ------------------------------------------------------------------------ math errors
def m_sqrt(x):
    return math.sqrt(x)


def m_log(x):
    return math.log(x)


def m_log2(x):
    return math.log2(x)


def m_log10(x):
    return math.log10(x)


def m_exp(x):
    return math.exp(x)


def m_acos(x):
    return math.acos(x)


def m_asin(x):
    return math.asin(x)


def m_sin(x):
    return math.sin(x)


def m_sinh(x):
    return math.sinh(x)


def m_cosh(x):
    return math.cosh(x)


def m_pow(x, y):
    return math.pow(x, y)


def b_int(x):
    return int(x)


def m_trunc(x):
    return math.trunc(x)


def m_ceil(x):
    return math.ceil(x)


MATH_ERRORS = [(m_sqrt, (-1.0,)), (m_sqrt, (-1,)), (m_sqrt, (-inf,)), (m_log, (0.0,)),
               (m_log, (0,)), (m_log, (-1.0,)), (m_log, (-inf,)), (m_log2, (0.0,)),
               (m_log10, (-1.0,)), (m_exp, (1000.0,)), (m_exp, (710,)), (m_acos, (2.0,)),
               (m_acos, (-inf,)), (m_asin, (-2,)), (m_sin, (inf,)), (m_sinh, (1000.0,)),
               (m_cosh, (-1000.0,)), (m_pow, (0.0, -1.0)), (m_pow, (-8.0, 1 / 3)),
               (m_pow, (10.0, 400.0)), (m_floor, (inf,)), (m_floor, (nan,)),
               (m_ceil, (-inf,)), (m_trunc, (nan,)), (b_int, (nan,)), (b_int, (inf,)),
               (b_round, (nan,)), (b_round, (-inf,))]


@pytest.mark.parametrize("fn,args", params(MATH_ERRORS))
def test_math_errors(fn, args):
    check(fn, args)


@pytest.mark.parametrize("fn,args", params([(m_sqrt, (-1.0,)), (m_log, (0.0,)),
                                            (m_exp, (1000.0,)), (m_acos, (2.0,)),
                                            (b_int, (nan,)), (b_round, (inf,))]))
def test_math_error_message(fn, args):
    check(fn, args, exc_message=True)


def math_error_after_writes(a):
    for i in range(len(a)):
        a[i] = math.sqrt(3.0 - i)
    return a


def test_math_error_partial_writes():
    check(math_error_after_writes, lambda: (np.zeros(6),))


# ------------------------------------------------------------------------- IndexError
def read(a, i):
    return a[i]


def read2(a, i, j):
    return a[i, j]


def write(a, i):
    a[i] = 5
    return a


def write2(a, i, j):
    a[i, j] = 5
    return a


def fill_past_end(a, extra):
    for i in range(len(a) + extra):
        a[i] = i + 1
    return a


def fill_2d_past(a):
    for i in range(a.shape[0]):
        for j in range(a.shape[1] + 1):
            a[i, j] = i * 10 + j
    return a


def read_view_past(a):
    b = a[2:5]
    return b[3]


def read_strided_view(a, i):
    b = a[::3]
    return b[i]


def tuple_index(t, i):
    return t[i]


def _a1():
    return np.arange(6.0)


INDEX = [(read, lambda: (_a1(), 6)), (read, lambda: (_a1(), -7)), (read, lambda: (_a1(), 5)),
         (read, lambda: (_a1(), -6)), (read, lambda: (np.zeros(0), 0)),
         (read2, lambda: (np.zeros((3, 4)), 2, 4)), (read2, lambda: (np.zeros((3, 4)), 3, 0)),
         (read2, lambda: (np.zeros((3, 4)), -4, 0)), (read2, lambda: (np.zeros((3, 4)), -3, -4)),
         (read2, lambda: (np.asfortranarray(np.ones((3, 4))), 1, -5)),
         (write, lambda: (_a1(), 6)), (write, lambda: (_a1(), -7)),
         (write, lambda: (np.zeros(10, np.int32)[::2], 5)),
         (write2, lambda: (np.zeros((3, 4), np.int64), 0, 4)),
         (fill_past_end, lambda: (np.zeros(5), 2)), (fill_past_end, lambda: (np.zeros(5), 0)),
         (fill_past_end, lambda: (np.zeros(12, np.int32)[::3], 1)),
         (fill_2d_past, lambda: (np.zeros((3, 4)),)),
         (fill_2d_past, lambda: (np.asfortranarray(np.zeros((3, 4), np.int32)),)),
         (read_view_past, lambda: (_a1(),)), (read_strided_view, lambda: (np.arange(10.0), 4)),
         (read_strided_view, lambda: (np.arange(10.0), 3)),
         (tuple_index, ((1, 2, 3), 3)), (tuple_index, ((1, 2, 3), -4))]


@pytest.mark.parametrize("fn,args", [pytest.param(f, a, id=f"{f.__name__}-{i}")
                                     for i, (f, a) in enumerate(INDEX)])
def test_index_errors(fn, args):
    check(fn, args, crash_guard=True)


# ----------------------------------------------------------------- global rebinding
SCALE = 2.0
OFFSET = 1


def helper_v1(x):
    return x + 100


def helper_v2(x):
    return x - 100


HELPER = helper_v1


def reads_globals(x):
    s = 0.0
    for i in range(3):
        s += x * SCALE + OFFSET
    return s


def calls_global_helper(x):
    return HELPER(x) * 2


def test_global_rebinding_seen(monkeypatch):
    mod = sys.modules[__name__]
    disp = jitted(reads_globals, fresh=True)
    check(reads_globals, (1.5,), disp=disp)
    monkeypatch.setattr(mod, "SCALE", 3.0)
    check(reads_globals, (1.5,), disp=disp, native="entered")
    monkeypatch.setattr(mod, "SCALE", 4)  # type changes too
    monkeypatch.setattr(mod, "OFFSET", 0.5)
    check(reads_globals, (2,), disp=disp, native="entered")
    monkeypatch.setattr(mod, "SCALE", 2.0)
    monkeypatch.setattr(mod, "OFFSET", 1)
    check(reads_globals, (1.5,), disp=disp, native="entered")


def test_global_function_rebinding_seen(monkeypatch):
    mod = sys.modules[__name__]
    disp = jitted(calls_global_helper, fresh=True)
    check(calls_global_helper, (5,), disp=disp)
    monkeypatch.setattr(mod, "HELPER", helper_v2)
    check(calls_global_helper, (5,), disp=disp, native="entered")


# --------------------------------------------------------------- NaN / inf propagation
def nan_arith(x):
    return x + 1.0, x * 0.0, x - x, x / 2.0, x ** 0, 1.0 ** x


def nan_compare(x):
    return x < 1.0, x > 1.0, x == x, x != x, not x, bool(x)


def nan_minmax(x):
    return min(x, 1.0), min(1.0, x), max(x, 1.0), max(1.0, x)


def inf_arith(x):
    return x - x, x * 0.0, x + x, 1.0 / x, x // 1.0, x % 2.0, 1.0 % x, -1.0 % x, 1.0 // x


def overflow_to_inf(x):
    return x * 10.0, x + x, -x * 10.0


def nan_branch(x):
    if x > 0.0:
        return 1
    elif x <= 0.0:
        return 2
    return 3


def nan_array_reductions(a):
    return np.sum(a), np.max(a), np.min(a), np.argmax(a), np.argmin(a), np.mean(a)


def nan_array_elementwise(a):
    return (a * 2.0, np.maximum(a, 0.0), np.minimum(a, 0.0), a > 0.0, np.where(a != a, -1.0, a),
            np.sqrt(a), np.log(a))


NAN_CASES = [(nan_arith, (nan,)), (nan_arith, (inf,)), (nan_arith, (-inf,)),
             (nan_compare, (nan,)), (nan_minmax, (nan,)), (inf_arith, (inf,)),
             (inf_arith, (-inf,)), (overflow_to_inf, (1e308,)), (nan_branch, (nan,)),
             (nan_branch, (inf,))]


@pytest.mark.parametrize("fn,args", params(NAN_CASES))
def test_nan_inf(fn, args):
    check(fn, args)


@pytest.mark.parametrize("fn,args", [
    pytest.param(nan_array_reductions, lambda: (np.array([1.0, nan, 3.0, -inf, nan]),), id="red"),
    pytest.param(nan_array_reductions, lambda: (np.array([1.0, inf, -2.0, inf]),), id="red-inf"),
    pytest.param(nan_array_reductions, lambda: (np.array([nan, 1.0], np.float32),), id="red-f32"),
    pytest.param(nan_array_elementwise, lambda: (np.array([1.0, nan, -inf, -0.0]),), id="ew"),
])
def test_nan_inf_arrays(fn, args):
    check(fn, args)


# ------------------------------------------------------------------------------ -0.0
def negzero_ops(x):
    return -x, x * -1.0, x + 0.0, x + x, x - 0.0, 0.0 - x, abs(x), float(x)


def negzero_floor_mod(x):
    return x // 1.0, x % 1.0, x % -1.0, -x // -1.0, x * 5


def negzero_minmax(x, y):
    return min(x, y), max(x, y)


def negzero_round(x):
    return round(x), round(x, 0), round(x, 2), math.floor(x), math.ceil(x), math.trunc(x)


def negzero_math(x):
    return math.sqrt(x), math.fabs(x), math.copysign(1.0, x), math.atan2(x, -1.0), math.sin(x)


def negzero_array(a):
    a[0] = -a[1]
    return a * 1.0, -a, np.abs(a), np.sum(a)


NEGZERO = [(negzero_ops, (-0.0,)), (negzero_ops, (0.0,)), (negzero_floor_mod, (-0.0,)),
           (negzero_floor_mod, (0.0,)), (negzero_floor_mod, (-1e-320,)),
           (negzero_minmax, (0.0, -0.0)), (negzero_minmax, (-0.0, 0.0)),
           (negzero_round, (-0.4,)), (negzero_round, (-0.0,)), (negzero_round, (-0.001,)),
           (negzero_math, (-0.0,))]


@pytest.mark.parametrize("fn,args", params(NEGZERO))
def test_negative_zero(fn, args):
    check(fn, args)


def test_negative_zero_array():
    check(negzero_array, lambda: (np.array([5.0, 0.0, -0.0]),))


# ---------------------------------------------------------------------- float // and %
def fdivmod(x, y):
    return x // y, x % y


FLOAT_DIVMOD = [(1.0, 0.1), (-1.0, 0.1), (7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (1e300, 1e-300),
                (0.3, 0.1), (-1e-320, 1.0), (1.0, inf), (-1.0, inf), (inf, 3.0), (5, 0.5)]


@pytest.mark.parametrize("args", FLOAT_DIVMOD, ids=[case_id(fdivmod, a) for a in FLOAT_DIVMOD])
def test_float_floordiv_mod_exact(args):
    check(fdivmod, args)


# ------------------------------------------------------------------- round half even
def round0(x):
    return round(x)


def round_n(x, n):
    return round(x, n)


ROUND = [(round0, (x,)) for x in (0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 4503599627370495.5,
                                   0.49999999999999994, 1e16, -1e-300)]
ROUND += [(round_n, a) for a in [(2.675, 2), (0.125, 2), (0.375, 2), (1.005, 2), (2.5, 0),
                                 (3.5, 0), (0.5, 0), (-0.5, 0), (5e-324, 323), (1e300, -299),
                                 (1.7976931348623157e308, -308), (123.456, -1), (0.045, 2),
                                 (25, -1), (35, -1), (-25, -1), (15, -1), (7, 0),
                                 (INT64_MAX - 10, -1)]]


@pytest.mark.parametrize("fn,args", params(ROUND))
def test_round_half_even(fn, args):
    check(fn, args)


# ----------------------------------------------------------------------- empty arrays
def empty_reduce_sum(a):
    return np.sum(a), a.sum(), len(a), a.size, a.shape


def empty_min(a):
    return np.min(a)


def empty_argmax(a):
    return np.argmax(a)


def empty_mean(a):
    return np.mean(a)


def empty_loop(a):
    s = 0.0
    for x in a:
        s += x
    for i in range(len(a)):
        s += a[i]
    return s


def empty_ops(a):
    b = a * 2.0 + 1.0
    c = a.copy()
    return b, c, np.dot(a, a), np.zeros_like(a), np.sqrt(a)


def empty_slice(a):
    b = a[5:2]
    return len(b), np.sum(b), b


EMPTY = []
for _f in (empty_reduce_sum, empty_min, empty_argmax, empty_mean, empty_loop, empty_ops,
           empty_slice):
    EMPTY.append(pytest.param(_f, lambda: (np.zeros(0),), id=f"{_f.__name__}-f64"))
EMPTY += [pytest.param(empty_reduce_sum, lambda: (np.zeros(0, np.int32),), id="sum-i32"),
          pytest.param(empty_reduce_sum, lambda: (np.zeros((0, 3)),), id="sum-2d"),
          pytest.param(empty_min, lambda: (np.zeros((2, 0)),), id="min-2d"),
          pytest.param(empty_slice, lambda: (np.arange(10.0),), id="slice-of-full"),
          pytest.param(empty_loop, lambda: (np.arange(10.0)[10:],), id="loop-empty-view")]


@pytest.mark.parametrize("fn,args", EMPTY)
def test_empty_arrays(fn, args):
    check(fn, args)
