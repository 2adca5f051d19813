"""Differential tests: scalar types (bool, int, float), operators, builtins, tuples, calls.

Every function here is compiled by epochpp.jit and compared with CPython (value, type,
exception) by diffharness.check; each must run natively unless marked otherwise.
"""

import math

import pytest

from diffharness import case_id, cases, check, get_epochpp, jitted, stats_of

inf = math.inf
nan = math.nan


# ----------------------------------------------------------------------------- operators
def op_add(x, y):
    return x + y


def op_sub(x, y):
    return x - y


def op_mul(x, y):
    return x * y


def op_truediv(x, y):
    return x / y


def op_floordiv(x, y):
    return x // y


def op_mod(x, y):
    return x % y


def op_pow(x, y):
    return x ** y


def op_neg(x):
    return -x


def op_pos(x):
    return +x


INT_PAIRS = [(7, 3), (-7, 3), (7, -3), (-7, -3), (0, 5), (6, 3), (-6, 3), (1, 1 << 40),
             (123456789, 1000), (-1, 7)]
FLOAT_PAIRS = [(7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (-7.5, -2.0), (1.0, 0.1), (0.1, 0.3),
               (1e308, 10.0), (5e-324, 0.5), (inf, 2.0), (2.0, inf), (-1.0, inf),
               (nan, 1.0), (-0.0, 1.0), (0.0, -1.0), (inf, inf)]
MIXED_PAIRS = [(7, 2.5), (2.5, 7), (-7, 2.0), (True, 2), (True, 2.5), (3, False),
               (True, True), (-3, -0.5)]

ARITH_CASES = []
for _op in (op_add, op_sub, op_mul, op_floordiv, op_mod):
    for _p in INT_PAIRS[:6] + FLOAT_PAIRS + MIXED_PAIRS[:5]:
        if _p[1] in (0, 0.0, False):
            continue  # division by zero lives in test_diff_exact
        ARITH_CASES.append((_op, _p))
for _p in INT_PAIRS + FLOAT_PAIRS + MIXED_PAIRS:
    ARITH_CASES.append((op_truediv, _p))


@pytest.mark.parametrize("fn,args", cases(ARITH_CASES))
def test_arith(fn, args):
    check(fn, args)


POW_CASES = [(2, 10), (-2, 3), (2, -2), (-3, -3), (0, 0), (1, -5), (10, -1), (7, 0), (-1, 63),
             (2.0, 0.5), (2.0, -1.5), (-2.0, 3.0), (-2.0, 2), (0.0, 0.0), (inf, -1.0),
             (1.0, nan), (nan, 0.0), (2, 0.5), (2.5, 2), (True, 2), (-0.0, 3), (-0.0, -0.0)]


@pytest.mark.parametrize("args", POW_CASES, ids=[case_id(op_pow, a) for a in POW_CASES])
def test_pow(args):
    check(op_pow, args)


@pytest.mark.parametrize("x", [0, 5, -5, True, False, 0.0, -0.0, 2.5, -inf, nan])
@pytest.mark.parametrize("fn", [op_neg, op_pos])
def test_unary(fn, x):
    check(fn, (x,))


# --------------------------------------------------------------------------- comparisons
def cmp_all(x, y):
    return (x < y, x <= y, x == y, x != y, x > y, x >= y)


def cmp_chain(x, y, z):
    return x < y < z


def cmp_chain2(x, y, z):
    return x < y > z


def cmp_chain3(x, y, z):
    return x == y == z


def cmp_chain_long(x, y, z):
    return 0 <= x < y <= z < 100


CMP_PAIRS = [(1, 2), (2, 1), (2, 2), (1.5, 1.5), (-0.0, 0.0), (nan, nan), (nan, 1.0),
             (1, 1.0), (3, 2.5), (True, 1), (inf, 1e308), (False, 0.0)]


@pytest.mark.parametrize("args", CMP_PAIRS, ids=[case_id(cmp_all, a) for a in CMP_PAIRS])
def test_compare(args):
    check(cmp_all, args)


CHAIN_CASES = [(fn, a) for fn in (cmp_chain, cmp_chain2, cmp_chain3, cmp_chain_long)
               for a in [(1, 2, 3), (3, 2, 1), (1, 3, 2), (2, 2, 2), (1.0, 2, 3.5),
                         (nan, 1.0, 2.0)]]


@pytest.mark.parametrize("fn,args", cases(CHAIN_CASES))
def test_chained_compare(fn, args):
    check(fn, args)


# ------------------------------------------------------------------------------- boolean
def bool_and(x, y):
    return x and y


def bool_or(x, y):
    return x or y


def bool_not(x):
    return not x


def bool_mix(x, y, z):
    return x and y or z


def bool_in_if(x, y):
    if x > 0 and y > 0 or x < -10:
        return 1
    return 0


BOOL_CASES = [(f, a) for f in (bool_and, bool_or)
              for a in [(0, 3), (2, 3), (0.0, 1.5), (nan, 2.0), (-0.0, 4.0), (True, False),
                        (False, True), (0, 2.5), (3, 2.5)]]
BOOL_CASES += [(bool_not, (x,)) for x in (0, 7, 0.0, -0.0, nan, True, False)]
BOOL_CASES += [(bool_mix, a) for a in [(1, 0, 5), (0, 2, 5), (1, 2, 5), (0.0, 1.0, 0.0)]]
BOOL_CASES += [(bool_in_if, a) for a in [(1, 1), (1, -1), (-20, 5), (-5, 5), (0.5, 0.5)]]


@pytest.mark.parametrize("fn,args", cases(BOOL_CASES))
def test_boolean(fn, args):
    check(fn, args)


def cond_expr(x, y):
    return x if x > y else y


def cond_expr_mixed(x):
    return 1 if x > 0 else 1.5


@pytest.mark.parametrize("fn,args", [
    pytest.param(cond_expr, (1, 2), id="int"),
    pytest.param(cond_expr, (2.5, -1.0), id="float"),
    pytest.param(cond_expr, (nan, 1.0), id="nan"),
    pytest.param(cond_expr_mixed, (3,), id="mixed-int"),
    pytest.param(cond_expr_mixed, (-3,), id="mixed-float"),
])
def test_conditional_expression(fn, args):
    check(fn, args)


# ------------------------------------------------------------------------------ builtins
def b_abs(x):
    return abs(x)


def b_min2(x, y):
    return min(x, y)


def b_max2(x, y):
    return max(x, y)


def b_min3(x, y, z):
    return min(x, y, z)


def b_max3(x, y, z):
    return max(x, y, z)


def b_int(x):
    return int(x)


def b_float(x):
    return float(x)


def b_bool(x):
    return bool(x)


def b_round(x):
    return round(x)


def b_round_n(x, n):
    return round(x, n)


BUILTIN_CASES = [(b_abs, (x,)) for x in (-5, 5, 0, True, -2.5, -0.0, -inf, nan)]
BUILTIN_CASES += [(f, a) for f in (b_min2, b_max2)
                  for a in [(1, 2), (2, 1), (-1.5, 2.5), (0.0, -0.0), (-0.0, 0.0), (nan, 1.0),
                            (1.0, nan), (3, 3)]]
BUILTIN_CASES += [(f, a) for f in (b_min3, b_max3)
                  for a in [(1, 2, 3), (3, 1, 2), (2.5, -1.0, 7.0), (4, 4, 1)]]
BUILTIN_CASES += [(b_int, (x,)) for x in (2.7, -2.7, 0.0, -0.5, 1e15 + 0.5, True, 7)]
BUILTIN_CASES += [(b_float, (x,)) for x in (3, -7, True, 2.5, 9007199254740993)]
BUILTIN_CASES += [(b_bool, (x,)) for x in (0, 3, 0.0, -0.0, nan, 0.1, True)]
BUILTIN_CASES += [(b_round, (x,)) for x in (0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 3.5000001,
                                            -2.6, 7, -3, 1e15 + 0.5)]
BUILTIN_CASES += [(b_round_n, a) for a in [(2.675, 2), (0.125, 2), (0.375, 2), (1.23456, 3),
                                           (15.0, -1), (25.0, -1), (-0.4, 0), (1.5, 0),
                                           (2.5, 0), (1.23, 400), (123.0, -400), (1234, -2),
                                           (1250, -2), (1350, -2), (5, 2), (-1250, -2)]]


@pytest.mark.parametrize("fn,args", cases(BUILTIN_CASES))
def test_builtins(fn, args):
    check(fn, args)


def mixed_min(x, y):
    return min(x, y)


@pytest.mark.parametrize("args", [(1, 1.0), (1.0, 1), (2, 1.5), (1.5, 2)])
def test_min_mixed_types_any_tier(args):
    # min(int, float) returns one operand unchanged: type depends on the values. The jit
    # may fall back here; the answer must still be CPython's.
    check(mixed_min, args, native=False)


# ----------------------------------------------------------------- assignment statements
def assign_chain(x):
    a = b = x + 1
    a += 1
    return a, b


def assign_swap(x, y):
    x, y = y, x
    return x, y


def assign_unpack(x):
    a, (b, c) = x, (x * 2, x * 3)
    return a + b + c


def aug_all_int(x, y):
    r = x
    r += y
    r -= 3
    r *= y
    r //= 2
    r %= 1000
    r **= 2
    return r


def aug_float(x, y):
    r = x
    r += y
    r -= 0.25
    r *= y
    r /= 3
    r //= 0.5
    r %= 7.5
    r **= 0.5
    return r


def type_change(x):
    r = 0
    for i in range(x):
        r = r + 0.5
    return r


ASSIGN_CASES = [(assign_chain, (3,)), (assign_chain, (2.5,)), (assign_swap, (1, 2.5)),
                (assign_swap, (True, -4)), (assign_unpack, (5,)), (assign_unpack, (0.5,)),
                (aug_all_int, (17, 5)), (aug_all_int, (-17, 5)), (aug_float, (17.5, 2.0)),
                (aug_float, (3.0, 4.0)), (type_change, (0,)), (type_change, (3,))]


@pytest.mark.parametrize("fn,args", cases(ASSIGN_CASES))
def test_assignment(fn, args):
    check(fn, args)


# -------------------------------------------------------------------------------- tuples
def tup_arg(t):
    a, b = t
    return a * b


def tup_index(t):
    return t[0] + t[-1] + len(t)


def tup_return(x):
    return x, x * 2.0, x > 0


def tup_nested(x):
    return (x, (x + 1, float(x))), -x


def tup_of_tup_arg(t):
    (a, b), c = t
    return a + b * c


def tup_loop(t):
    s = 0.0
    for i in range(len(t)):
        s += t[i]
    return s


TUPLE_CASES = [(tup_arg, ((3, 4),)), (tup_arg, ((2.5, -2),)), (tup_index, ((1, 2, 3),)),
               (tup_index, ((1.5, 7),)), (tup_return, (3,)), (tup_return, (-2.5,)),
               (tup_nested, (7,)), (tup_of_tup_arg, (((1, 2), 3.5),)),
               (tup_loop, ((1.0, 2.0, 3.5),)),
               (tup_loop, ((1, 2, 3),))]


@pytest.mark.parametrize("fn,args", cases(TUPLE_CASES))
def test_tuples(fn, args):
    check(fn, args)


# ---------------------------------------------------------------- returns of other types
def ret_int_or_float(x):
    if x > 0:
        return 1
    return 1.5


def ret_bool_or_int(x):
    if x == 0:
        return False
    elif x > 0:
        return x
    else:
        return True


def ret_none_or_int(x):
    if x > 0:
        return x
    return None


def ret_implicit_none(x):
    y = x + 1  # noqa: F841


@pytest.mark.parametrize("fn,args", [
    pytest.param(ret_int_or_float, (5,), id="int"),
    pytest.param(ret_int_or_float, (-5,), id="float"),
    pytest.param(ret_int_or_float, (0.5,), id="int-from-float-arg"),
    pytest.param(ret_bool_or_int, (0,), id="false"),
    pytest.param(ret_bool_or_int, (4,), id="int4"),
    pytest.param(ret_bool_or_int, (-4,), id="true"),
    pytest.param(ret_none_or_int, (3,), id="some"),
    pytest.param(ret_none_or_int, (-3,), id="none"),
    pytest.param(ret_implicit_none, (3,), id="implicit-none"),
])
def test_return_types(fn, args):
    check(fn, args)


# -------------------------------------------------------------------------------- calls
def helper_scale(x, k):
    return x * k + 1


def helper_pair(x):
    return x + 1, x - 1


def calls_helper(x):
    a = helper_scale(x, 2)
    b = helper_scale(x, 0.5)
    lo, hi = helper_pair(a)
    return a + b + lo * hi


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def fact_float(n):
    if n <= 1:
        return 1.0
    return n * fact_float(n - 1)


def is_even(n):
    if n == 0:
        return True
    return is_odd(n - 1)


def is_odd(n):
    if n == 0:
        return False
    return is_even(n - 1)


@pytest.mark.parametrize("fn,args", [
    pytest.param(calls_helper, (3,), id="helper-int"),
    pytest.param(calls_helper, (2.5,), id="helper-float"),
    pytest.param(fib, (0,), id="fib0"),
    pytest.param(fib, (1,), id="fib1"),
    pytest.param(fib, (20,), id="fib20"),
    pytest.param(fact_float, (20,), id="fact-float20"),
    pytest.param(fact_float, (170,), id="fact-float170"),
    pytest.param(fact_float, (171,), id="fact-float171-inf"),
    pytest.param(is_even, (10,), id="even10"),
    pytest.param(is_odd, (7,), id="odd7"),
])
def test_calls(fn, args):
    check(fn, args)


# ------------------------------------------------------- beyond the subset (any tier)
def with_default(x, y=2):
    return x * y


def uses_bitops(x, y):
    return (x & y) | (x ^ y), x << 3, x >> 1


def uses_divmod(x, y):
    return divmod(x, y)


@pytest.mark.parametrize("fn,args", [
    pytest.param(with_default, (3,), id="default-arg"),
    pytest.param(uses_bitops, (12, 10), id="bitops"),
    pytest.param(uses_bitops, (-12, 10), id="bitops-neg"),
    pytest.param(uses_divmod, (-7, 2), id="divmod-int"),
    pytest.param(uses_divmod, (7.5, -2.0), id="divmod-float"),
    pytest.param(op_add, (2 ** 70, 1), id="bigint-arg"),
    pytest.param(op_mul, (-(2 ** 64), 3), id="bigint-arg-neg"),
    pytest.param(op_pow, (-8.0, 1 / 3), id="complex-result"),
])
def test_outside_subset_still_correct(fn, args):
    check(fn, args, native=False)


# ----------------------------------------------------------------- dispatcher contract
def contract_fn(x, y):
    s = 0
    for i in range(x):
        s += i * y
    return s


def test_dispatcher_contract_py_func_and_stats():
    disp = get_epochpp().jit(contract_fn)
    assert disp.py_func is contract_fn
    st = stats_of(disp)
    assert all(isinstance(st[k], int) for k in st)
    assert disp(10, 3) == contract_fn(10, 3)
    assert disp(20, 5) == contract_fn(20, 5)
    st1 = stats_of(disp)
    assert st1["native_calls"] - st["native_calls"] == 2
    assert st1["compiles"] - st["compiles"] == 1, "one signature compiles once"
    r = disp(4, 2.5)
    assert type(r) is float and r == contract_fn(4, 2.5)
    st2 = stats_of(disp)
    assert st2["compiles"] - st1["compiles"] == 1, "a new signature compiles again"


def test_dispatcher_decorator_forms():
    ep = get_epochpp()
    d1 = ep.jit(contract_fn)
    d2 = ep.jit(level=2)(contract_fn)
    for d in (d1, d2):
        check(contract_fn, (6, 7), disp=d)


@pytest.mark.parametrize("what", ["ir", "llvm", "asm"])
def test_dispatcher_inspect(what):
    disp = jitted(contract_fn)
    check(contract_fn, (5, 2), disp=disp)
    text = disp.inspect(what)
    assert isinstance(text, str) and text.strip()
    if what == "llvm":
        assert "define" in text


def test_explain_native():
    disp = jitted(contract_fn)
    check(contract_fn, (3, 3), disp=disp)
    text = get_epochpp().explain(disp)
    assert isinstance(text, str) and text.strip()
