"""Regression tests for the bugs the differential fuzzer (tests/fuzz/) found: one small
hand-written case per root cause, reduced from the fuzzer's minimized reproducers.

Each bug has a letter (A, B, ...) that tests/fuzz/README.md and the generator options in
tests/python/test_fuzz_short.py refer to. A bug that is not fixed yet is marked with
``KNOWN(...)``: an xfail that is *strict*, so once the compiler is fixed the test reports
XPASS as a failure -- then delete the marker here, and re-enable the matching generator
feature in test_fuzz_short.py.
"""

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from diffharness import FAKE_JIT, check, jitted

inf = math.inf
nan = math.nan


def KNOWN(letter, what):
    """Marks a case that fails until fuzz bug ``letter`` is fixed (strict xfail)."""
    if FAKE_JIT:  # the harness self-test runs CPython on both sides: no bug to see
        return pytest.mark.skipif(False, reason="")
    return pytest.mark.xfail(strict=True, reason=f"fuzz bug {letter}: {what}")


# ----------------------------------------------------------------------------- bug A
# np.int32(x) / np.int64(x) of a *NumPy* scalar is a C cast in NumPy (wraps; NaN and
# infinities give the minimum integer, with a RuntimeWarning). Compiled code raised
# OverflowError / ValueError as for a Python int or float.
def int32_of_int64_element(a):
    return np.int32(a[0])


def int64_of_float64_element(a):
    return np.int64(a[0])


def int32_of_np_abs(x):
    return np.int32(np.abs(x))


# fixed: "A", "np.int32/np.int64 of a NumPy scalar must cast like NumPy, not raise"
@pytest.mark.parametrize("fn,args", [
    (int32_of_int64_element, lambda: (np.array([2 ** 40 + 7], np.int64),)),
    (int32_of_int64_element, lambda: (np.array([-(2 ** 63)], np.int64),)),
    (int64_of_float64_element, lambda: (np.array([nan]),)),
    (int64_of_float64_element, lambda: (np.array([-inf]),)),
    (int32_of_np_abs, (-(2 ** 63) + 1,)),
], ids=["int32(i64 2**40+7)", "int32(i64 min)", "int64(f64 nan)", "int64(f64 -inf)",
        "int32(np.abs(int))"])
def test_A_numpy_int_cast_of_numpy_scalar(fn, args):
    check(fn, args)


# ----------------------------------------------------------------------------- bug B
# a[lo:hi] = scalar where the slice is empty: NumPy still converts the scalar to the
# array's dtype and raises (infinity/NaN into an integer array, a Python int outside
# int32). Compiled code skipped the conversion and wrote nothing.
def store_into_empty_tail(a, x):
    a[len(a):] = x


# fixed: "B", "a scalar stored into an empty slice must still be converted (and raise)"
@pytest.mark.parametrize("args", [
    lambda: (np.zeros(2, np.int64), inf),
    lambda: (np.zeros(2, np.int64), nan),
    lambda: (np.zeros(2, np.int32), 2 ** 40),
    lambda: (np.zeros(0, np.int32), -(2 ** 62)),
], ids=["i64<-inf", "i64<-nan", "i32<-2**40", "empty-i32<-2**62"])
def test_B_empty_slice_store_converts_scalar(args):
    check(store_into_empty_tail, args)


# ----------------------------------------------------------------------------- bug C
# float_pow checks an infinite exponent before a zero base: 0.0 ** -inf is inf (also for
# -0.0 and for an int 0 base). Compiled code raised ZeroDivisionError.
def pow_minus_inf(x):
    return x ** -math.inf


def pow_minus_inf_rounded(k):
    return round(k ** -math.inf)


# fixed: "C", "0.0 ** -inf is inf in CPython, not ZeroDivisionError"
@pytest.mark.parametrize("x", [0.0, -0.0, 0], ids=["0.0", "-0.0", "int 0"])
def test_C_zero_to_minus_inf(x):
    check(pow_minus_inf, (x,))


# fixed: "C", "0 ** -inf is inf, so round() raises OverflowError"
def test_C_zero_to_minus_inf_then_round():
    check(pow_minus_inf_rounded, (0,))


def test_C_nonzero_bases_still_right():
    for x in (0.5, -0.5, 1.0, -1.0, 2.0, -2.0, inf, -inf, nan):
        check(pow_minus_inf, (x,))


# ----------------------------------------------------------------------------- bug D
# a[i, j] evaluates the whole index tuple before indexing: an exception raised by j wins
# over i being out of bounds. Compiled code checked i first (IndexError).
def read_2d_second_index_raises(a, i, j):
    return a[i, 1 // j]


# fixed: "D", "the index tuple of a[i, j] must be evaluated before any bounds check"
def test_D_2d_index_tuple_evaluated_first():
    check(read_2d_second_index_raises, lambda: (np.zeros((2, 2)), 5, 0))


def test_D_in_bounds_still_right():
    check(read_2d_second_index_raises, lambda: (np.arange(4.0).reshape(2, 2), 1, 1))


# ----------------------------------------------------------------------------- bug E
# np.argmax / np.argmin of a Fortran-ordered 2-D array (e.g. a C array's .T) return the
# index in C (logical) order. Compiled code returned the index in memory order.
def argmax_of(a):
    return np.argmax(a)


def argmin_method(a):
    return a.argmin()


# fixed: "E", "argmax/argmin of an F-ordered array must return the C-order flat index"
@pytest.mark.parametrize("fn,args", [
    (argmax_of, lambda: (np.asfortranarray(np.array([[0, 1], [9, 3]])),)),
    (argmin_method, lambda: (np.asfortranarray(np.array([[5, 1], [0, 3]])),)),
    (argmax_of, lambda: (np.array([[1.0, 9.0], [2.0, 3.0]]).T,)),
], ids=["argmax-F", "argmin-F", "argmax-C.T"])
def test_E_argmax_fortran_order(fn, args):
    check(fn, args)


def test_E_c_order_and_strided_still_right():
    check(argmax_of, lambda: (np.array([[0, 1], [9, 3]]),))
    check(argmax_of, lambda: (np.arange(12.0).reshape(3, 4)[:, ::-1],))


# ----------------------------------------------------------------------------- bug F
# In `target[index] = value` Python evaluates the value first. For row stores into 2-D
# arrays (a[i] = v) and slice stores (a[lo:hi] = v), compiled code evaluated and checked
# the subscript first, so the wrong exception was raised.
def store_row(a, i, x):
    a[i] = int(x)


def store_slice(a, i, b):
    a[1 // i:] = b[5]


# fixed: "F", "a row/slice store must evaluate the right-hand side before the subscript"
@pytest.mark.parametrize("fn,args", [
    (store_row, lambda: (np.zeros((2, 2)), 5, inf)),
    (store_slice, lambda: (np.zeros(3), 0, np.zeros(2))),
], ids=["row", "slice"])
def test_F_store_evaluates_value_first(fn, args):
    check(fn, args)


def store_element_2d(a, i, x):
    a[i, 0] = int(x)


def test_F_element_stores_already_right():
    check(store_element_2d, lambda: (np.zeros((2, 2)), 5, inf))
    check(store_row, lambda: (np.zeros((2, 2)), 1, 7.5))


# ----------------------------------------------------------------------------- bug G
# A fused array expression must evaluate left to right: in `a - b + a[13]` the broadcast
# error of `a - b` comes before the IndexError of a[13]. Compiled code evaluated the
# scalar operand first.
def fused_with_scalar_operand(a, b):
    return a - b + a[13]


def scalar_operand_first(a, b):
    return a[13] + (a - b)


def nested_broadcasts(a, b, c):
    return (a + b) * (c - a[5])


# fixed: each element-wise operation checks its operands' shapes right after evaluating them
def test_G_fused_expression_evaluation_order():
    check(fused_with_scalar_operand, lambda: (np.zeros(2), np.zeros(0)))  # ValueError first
    check(scalar_operand_first, lambda: (np.zeros(2), np.zeros(0)))  # IndexError first
    check(nested_broadcasts, lambda: (np.zeros(2), np.zeros(3), np.zeros(2)))
    check(nested_broadcasts, lambda: (np.zeros(8), np.zeros(8), np.zeros(3)))
    check(nested_broadcasts, lambda: (np.zeros((4, 1)), np.zeros(3), np.zeros(3)))


# ----------------------------------------------------------------------------- bug H
# In a fresh process, when the first compiled signature takes only floats/bools and
# returns a NumPy scalar, the process dies with SIGSEGV (it works once any earlier call
# returned a NumPy scalar from an int or array argument). Needs a fresh interpreter.
_H_MODULE = """
import numpy as np


def f(x):
    return np.float64(x)


def g(x):
    return np.abs(x)
"""


@pytest.mark.skipif(FAKE_JIT, reason="needs the real compiler in a fresh process")
# fixed: "H", "a fresh process crashes returning a NumPy scalar from float arguments"
@pytest.mark.parametrize("call", ["f(2.0)", "g(-10.5)", "f(True)"])
def test_H_first_signature_float_to_numpy_scalar(tmp_path, call):
    (tmp_path / "h_mod.py").write_text(_H_MODULE)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = textwrap.dedent(f"""
        import epochpp, h_mod
        fn = h_mod.{call.split('(')[0]}
        d = epochpp.jit(fn)
        arg = {call[call.index('('):]}
        print(repr(d(arg)), repr(fn(arg)), d.stats["native_calls"])
    """)
    env = dict(os.environ)
    import epochpp as _pkg  # the epochpp these tests use (installed, or the built source tree)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), os.path.dirname(os.path.dirname(_pkg.__file__)),
                                         env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"the process died (status {proc.returncode}): {proc.stderr}"
    got, want, native = proc.stdout.split()
    assert got == want and native == "1", proc.stdout


# ----------------------------------------------------------------------------- bug J
# np.where(c, int32_array, python_int) keeps int32 in NumPy 2 and casts an out-of-range
# Python int C-style (NumPy 2.4: no warning). Compiled code raised OverflowError as for
# arithmetic (NEP 50), which np.where does not do. Fixed: compiled code asks the installed
# NumPy once which it does (runtime/compiler.cpp, npWhereWrapsPyInt) and does the same.
def where_big_python_int(a):
    return np.where(a, a, 3037000500)


def where_big_python_int_first(a, v):
    return np.where(a, v, a)


def where_scalars(c, x):
    return np.where(c, np.int32(x), 3037000500)


# fixed: "J", "np.where with an out-of-int32 Python int gives what the installed NumPy gives"
@pytest.mark.parametrize("v", [3037000500, -2**40 - 3, 2**63 - 1, -2**63, 7])
def test_J_where_with_big_python_int(v):
    check(where_big_python_int, lambda: (np.array([6, 0, -1], np.int32),))
    check(where_big_python_int_first, lambda: (np.array([6, 0, -1], np.int32), v))
    check(where_big_python_int, lambda: (np.array([], np.int32),))


@pytest.mark.parametrize("c", [True, False])
def test_J_where_scalars(c):
    check(where_scalars, (c, 5), native=False)  # three scalars: a 0-d array, interpreted


# ----------------------------------------------------------------------------- bug K
# np.int64(x) / np.int32(x) where x is an int|float union that holds a Python float:
# NaN, infinities and out-of-range values must raise as for a plain float (the mirror of
# bug A). Compiled code cast C-style and returned the minimum integer.
def int64_of_union(n, x):
    y = n if n <= 1 else x
    return np.int64(y)


def int32_of_union(n, x):
    y = n if n <= 1 else x
    return np.int32(y)


# fixed: "K", "np.int64/np.int32 of an int|float union holding a float must raise like NumPy"
@pytest.mark.parametrize("fn,x", [(int64_of_union, inf), (int64_of_union, nan),
                                  (int64_of_union, 1e30), (int32_of_union, 1e10)],
                         ids=["int64(inf)", "int64(nan)", "int64(1e30)", "int32(1e10)"])
def test_K_numpy_int_cast_of_union(fn, x):
    check(fn, (2, x))


def test_K_in_range_still_right():
    check(int32_of_union, (2, 2.5))
    check(int64_of_union, (1, 2.5))


# ----------------------------------------------------------------------------- bug L
# An operation between an int32 array and a Python int outside int32 raises
# OverflowError in NumPy 2 (NEP 50) even when the array is empty. Compiled code checked
# the scalar only while walking the elements, so an empty array gave no error (a cousin
# of bug B).
def add_in_place(a, p):
    a += p
    return a


def add_new(a, p):
    return a + p


# fixed: the Python int is checked once before the loop (jit/codegen/lower_array.cpp weakIntChecks)
@pytest.mark.parametrize("fn", [add_in_place, add_new], ids=["a += p", "a + p"])
def test_L_empty_int32_array_with_big_python_int(fn):
    check(fn, lambda: (np.zeros(0, np.int32), 2 ** 31))


def test_L_non_empty_already_right():
    check(add_in_place, lambda: (np.zeros(2, np.int32), 2 ** 31))
    check(add_new, lambda: (np.zeros(2, np.int32), -(2 ** 31) - 1))


# ----------------------------------------------------------------------------- bug M
# A helper called from one compiled function with a 2-D array and then with a 1-D array
# (two specialisations of the callee in one module): the call with the 2-D array ran the
# 1-D code -- wrong values, no error (m.sum() summed the first column, m.size was 3).
def sum_of(a):
    return a.sum()


def len_and_size(a):
    return len(a), a.size


def helper_2d_then_1d(m):
    return sum_of(m), sum_of(m[0])


def helper_2d_then_1d_shape(m):
    return len_and_size(m), len_and_size(m[0])


def helper_2d_then_rows(m):
    t = sum_of(m)
    for r in m:
        t += sum_of(r)
    return t


def helper_1d_then_2d(m):
    return sum_of(m[0]), sum_of(m)


# fixed: "M", "a callee specialised for a 2-D and a 1-D array must run the right code"
@pytest.mark.parametrize("fn", [helper_2d_then_1d, helper_2d_then_1d_shape, helper_2d_then_rows],
                         ids=["sum", "len-size", "rows"])
def test_M_callee_specialisations_by_rank(fn):
    check(fn, lambda: (np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),))


def test_M_1d_first_already_right():
    check(helper_1d_then_2d, lambda: (np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),))



# ----------------------------------------------------------------------------- bug N
# The sign of a NaN made from non-NaN operands (0/0, inf - inf, 0 * inf, inf % y) is the
# CPU's: negative on x86-64. LLVM folds such operations on constants to a positive NaN, so a
# value known at compile time gave the other sign: `p -= p; math.copysign(10.0, p / p)` with
# p an np.int32 stored 10.0 where CPython stores -10.0 (program 2211011969). Constants reach
# the folder many ways, each case below one of them; jit/engine/nan_guard.cpp has the fix.
def n_fuzz_2211011969(p2, a3):
    p2 -= p2
    a3[int(np.sqrt(len(a3)))] = math.copysign(10.0, p2 / p2)


def n_literals():
    return math.copysign(1.0, math.inf - math.inf), math.copysign(1.0, 0.0 * math.inf), math.inf - math.inf


def n_local_constant():
    x = math.inf
    return math.copysign(1.0, x - x)


def n_unrolled_loop():
    t = 0.0
    for i in range(4):
        t += math.copysign(1.0, float(i) * math.inf)
    return t


def n_stored_then_loaded(a):
    a[0] = math.inf
    return math.copysign(1.0, a[0] - a[0])


def n_known_by_comparison(x):
    if x == math.inf:
        return math.copysign(1.0, x - x)
    return 0.0


def n_int_known_by_comparison(n):
    if n == 0:
        return math.copysign(1.0, np.float64(n) / np.float64(n))
    return 0.0


def n_remainders():
    return math.copysign(1.0, math.inf % 2.0), math.copysign(1.0, np.float64(3.0) % np.float64(0.0))


def n_float32():
    z = np.float32(0.0)
    return z / z


def n_stored_nans(out):
    out[0] = math.inf - math.inf
    out[1] = -(math.inf - math.inf)
    out[2] = abs(math.inf - math.inf)
    out[3] = (math.inf - math.inf) + 1.0


def n_user_nans():
    # NaNs the program writes keep their own sign: only NaNs the CPU makes change
    return math.copysign(1.0, math.nan), math.copysign(1.0, -math.nan), math.nan + 1.0, -math.nan * 2.0


# fixed: "N", "a NaN folded at compile time must have the sign the CPU gives it"
@pytest.mark.parametrize("fn,args", [
    (n_fuzz_2211011969, lambda: (np.int32(2147483647), np.array([0.0, -0.0, 0.0])[::2])),
    (n_literals, ()),
    (n_local_constant, ()),
    (n_unrolled_loop, ()),
    (n_stored_then_loaded, lambda: (np.zeros(2),)),
    (n_known_by_comparison, (math.inf,)),
    (n_int_known_by_comparison, (0,)),
    (n_remainders, ()),
    (n_float32, ()),
    (n_stored_nans, lambda: (np.zeros(4),)),
    (n_user_nans, ()),
], ids=["fuzz-2211011969", "literals", "local", "unrolled", "store-load", "x==inf", "n==0",
        "remainders", "float32", "stored", "user-nans"])
def test_N_folded_nan_has_the_cpus_sign(fn, args):
    with np.errstate(all="ignore"):
        check(fn, args)  # values, types, arrays (any NaN equals any NaN there)
    # and the NaNs' bits, which check() does not compare (exactness.md: NaN signs)
    _same_nan_bits(fn, args, jitted(fn))


@pytest.mark.skipif(FAKE_JIT, reason="sets the compiler's optimisation level")
@pytest.mark.parametrize("fn,args", [(n_literals, ()), (n_remainders, ()), (n_stored_nans, lambda: (np.zeros(4),))],
                         ids=["literals", "remainders", "stored"])
def test_N_also_at_opt_level_0(fn, args, monkeypatch):
    # at O0 LLVM's code generator folds operations on constants itself (engine.cpp: optimise)
    monkeypatch.setenv("EPOCHPP_OPT_LEVEL", "0")
    _same_nan_bits(fn, args, jitted(fn, fresh=True))


def _same_nan_bits(fn, args, disp):
    """CPython and `disp` give the same bits in every float of the result and the arguments."""
    make = args if callable(args) else (lambda: args)
    py_args, jit_args = make(), make()
    with np.errstate(all="ignore"):
        py_out, jit_out = fn(*py_args), disp(*jit_args)
    assert _nan_bits(py_out) == _nan_bits(jit_out)
    assert _nan_bits(py_args) == _nan_bits(jit_args)


def _nan_bits(x):
    """The bytes of every float and float array in x (a result or the argument tuple)."""
    if isinstance(x, tuple):
        return tuple(_nan_bits(v) for v in x)
    if isinstance(x, (float, np.floating, np.ndarray)):
        return np.array(x).tobytes().hex()
    return x


# ----------------------------------------------------------------------------- bug O
# A Level 3 parallel loop whose own `else` block reads a variable the body assigns: the
# dependence analysis asked which variables are read *after* the loop statement, and the
# `else` block is part of that statement, so `x` counted as private to the iterations and was
# left unset: `for x in a: pass` / `else: v = x` raised UnboundLocalError (program 2212008055).
# Now the loop's `else` counts as after it (ir::liveAfter), so such a loop stays serial.
def o_element_in_else(a):
    for x in a:
        pass
    else:
        v = x
    return v


def o_body_value_in_else(a):
    for i in range(len(a)):
        x = a[i] * 2.0
        a[i] = x
    else:
        y = x
    return y


def o_lane_loop_sum_in_else(out, b):
    for j in range(out.shape[0]):
        s = 0.0
        for p in range(b.shape[0]):
            s += b[p, j]
        out[j] = s
    else:
        last = s
    return last


def o_else_reassigns_first(a):  # the else assigns x before reading it: the loop may stay parallel
    for i in range(len(a)):
        x = a[i] * 2.0
        a[i] = x
    else:
        x = a[0]
    return x


# fixed: "O", "a parallel loop must leave the values its own else block reads"
@pytest.mark.skipif(FAKE_JIT, reason="compares levels of the real jit")
@pytest.mark.parametrize("fn,args", [
    (o_element_in_else, lambda: (np.array([2, -9223372036854775808, 5], np.int64)[::2],)),
    (o_body_value_in_else, lambda: (np.arange(5.0),)),
    (o_lane_loop_sum_in_else, lambda: (np.zeros(40), np.arange(120.0).reshape(3, 40))),
    (o_else_reassigns_first, lambda: (np.arange(5.0),)),
], ids=["element", "body-value", "lanes", "reassigned"])
def test_O_loop_else_reads_what_the_body_assigned(fn, args, level):
    import epochpp

    check(fn, args, disp=epochpp.jit(fn, level=level))


@pytest.mark.skipif(FAKE_JIT, reason="reads the compiled IR")
def test_O_only_the_loops_whose_else_reads_their_values_stay_serial(monkeypatch):
    import epochpp

    monkeypatch.setenv("EPOCHPP_PARALLEL_MIN_WORK", "0")
    par = epochpp.jit(o_else_reassigns_first, level=3)
    check(o_else_reassigns_first, lambda: (np.arange(5.0),), disp=par)
    assert "for[parallel]" in par.inspect("ir")
    ser = epochpp.jit(o_body_value_in_else, level=3)
    check(o_body_value_in_else, lambda: (np.arange(5.0),), disp=ser)
    assert "for[parallel]" not in ser.inspect("ir")
