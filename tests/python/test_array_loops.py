"""tests/python/test_array_loops.py — whole-array float64 expressions as loops (jit/passes/array_loops.cpp).

At Levels 3 and 4, `c = <element-wise expression of 1-d float64 arrays>` becomes an explicit loop
(parallel on the CPU, a kernel on the GPU) with the fused expression kept for broadcasting and
errors. Every result must be CPython's (bit for bit where NumPy's arrays use the same IEEE
operation; for libm functions, bit for bit Level 2's fused loop), and every error the same.
"""
import math

import numpy as np
import pytest

import epochpp

LEVELS = [2, 3, 4]


@pytest.fixture(autouse=True)
def small_loops_parallel(monkeypatch):
    monkeypatch.setenv("EPOCHPP_PARALLEL_MIN_WORK", "0")  # every parallel loop on the workers


def same(x, y):
    x, y = np.asarray(x), np.asarray(y)
    return (x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
            and np.array_equal(np.signbit(x), np.signbit(y)))


def arith(a, b, s):
    c = (a * b - a / s) + np.sqrt(np.abs(b)) * -a + np.minimum(a, b) - np.maximum(b, 2.5) / 3
    return c


EDGE = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan, 1e308, 5e-324, 3.0, -7.25, 2.5])
EDGE2 = np.array([-0.0, 0.0, 0.0, np.nan, 2.0, -np.inf, 1.0, 1e-308, -0.0, np.inf, 7.25, np.nan])


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("s", [2.0, 0.0, -0.0, 3, np.float64(0.5)])
def test_exact_ops_equal_numpy(level, s):
    f = epochpp.jit(arith, level=level)
    with np.errstate(all="ignore"):
        want = arith(EDGE, EDGE2, s)
        got = f(EDGE, EDGE2, s)
    assert same(got, want)


def rewritten(f):
    return "$ep_arr" in f.inspect("ir")


def test_only_levels_3_and_4_rewrite():
    for level, expect in ((2, False), (3, True), (4, True)):
        f = epochpp.jit(arith, level=level)
        f(EDGE, EDGE2, 2.0)
        assert rewritten(f) is expect, level
    f = epochpp.jit(arith, level=3)
    f(np.ones(4), np.ones(4), 1.0)
    assert "for[parallel] $ep_i0" in f.inspect("ir")


def transcendental(a, b):
    c = np.exp(-a) * np.sin(b) + np.log1p(np.abs(a)) - np.tanh(b) / np.cosh(a * 0.25) + np.arctan(b)
    return c


@pytest.mark.parametrize("level", [3, 4])
def test_libm_functions_give_level_2s_bits(level):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(200_001) * 3, rng.uniform(-50, 50, 200_001)
    want = epochpp.jit(transcendental, level=2)(a, b)
    f = epochpp.jit(transcendental, level=level)
    assert same(f(a, b), want)
    assert rewritten(f)
    assert np.allclose(want, transcendental(a, b), rtol=1e-13, atol=1e-9)  # NumPy may use SIMD routines


def bcast(a, b):
    c = a * 2.0 + b
    return c


@pytest.mark.parametrize("level", LEVELS)
def test_length_one_arrays_broadcast_through_the_fused_loop(level):
    f = epochpp.jit(bcast, level=level)
    a = np.arange(6.0)
    assert same(f(a, np.array([0.5])), bcast(a, np.array([0.5])))
    assert same(f(np.array([0.5]), a), bcast(np.array([0.5]), a))
    assert same(f(np.empty(0), np.empty(0)), bcast(np.empty(0), np.empty(0)))
    assert same(f(np.empty(0), np.array([1.0])), bcast(np.empty(0), np.array([1.0])))


@pytest.mark.parametrize("level", LEVELS)
def test_mismatched_lengths_raise_numpys_error(level):
    f = epochpp.jit(bcast, level=level)
    with pytest.raises(ValueError) as want:
        bcast(np.ones(5), np.ones(3))
    with pytest.raises(ValueError) as got:
        f(np.ones(5), np.ones(3))
    assert "could not be broadcast" in str(want.value) and "could not be broadcast" in str(got.value)


def maybe_unbound(a, b, flag):
    if flag:
        c = b
    d = a - b + c
    return d


@pytest.mark.parametrize("level", LEVELS)
def test_first_failure_is_pythons(level):
    f = epochpp.jit(maybe_unbound, level=level)
    # a and b mismatched: NumPy's ValueError comes before reading the unbound c
    with pytest.raises(ValueError):
        maybe_unbound(np.ones(3), np.ones(4), False)
    with pytest.raises(ValueError):
        f(np.ones(3), np.ones(4), False)
    # a and b fine: the unbound c raises
    with pytest.raises(UnboundLocalError):
        maybe_unbound(np.ones(3), np.ones(3), False)
    with pytest.raises(UnboundLocalError):
        f(np.ones(3), np.ones(3), False)
    assert same(f(np.ones(3), np.full(3, 2.0), True), maybe_unbound(np.ones(3), np.full(3, 2.0), True))


def rebind(a):
    a = a * 2.0 + a  # a new array: the caller's is not touched
    a = np.sqrt(a) - a
    return a


@pytest.mark.parametrize("level", LEVELS)
def test_the_target_may_be_an_operand(level):
    x = np.linspace(0, 10, 1001)
    keep = x.copy()
    got = epochpp.jit(rebind, level=level)(x)
    assert same(got, rebind(keep.copy()))
    assert same(x, keep)
    assert got.flags.c_contiguous and got.flags.writeable and got.flags.owndata


def views(a):
    u = a[1:]
    v = a[:-1]
    w = a[::3]
    d = u - v
    e = w * w
    return d, e


@pytest.mark.parametrize("level", LEVELS)
def test_overlapping_and_strided_views(level):
    x = np.cumsum(np.random.default_rng(2).random(3001))
    f = epochpp.jit(views, level=level)
    for got, want in zip(f(x), views(x)):
        assert same(got, want)
    for got, want in zip(f(x[::2]), views(x[::2])):  # a strided argument
        assert same(got, want)


def in_loop(a, b, k):
    acc = np.zeros(a.shape[0])
    for i in range(k):
        t = a * i - b
        acc = acc + t
    return acc


@pytest.mark.parametrize("level", LEVELS)
def test_inside_a_loop(level):
    a, b = np.arange(10.0), np.ones(10)
    assert same(epochpp.jit(in_loop, level=level)(a, b, 7), in_loop(a, b, 7))


def not_rewritten_int(a):
    c = a * 2 + 1
    return c


def not_rewritten_2d(a):
    c = a * 2.0 + 1.0
    return c


def not_rewritten_pow(a):
    c = a ** 2.0 + 1.0
    return c


def not_rewritten_subscript(a):
    c = a[1:] * 2.0
    return c


@pytest.mark.parametrize("fn,arg", [
    (not_rewritten_int, np.arange(5)),
    (not_rewritten_2d, np.ones((3, 4))),
    (not_rewritten_pow, np.arange(5.0)),
    (not_rewritten_subscript, np.arange(5.0)),
    (not_rewritten_int, np.arange(5.0, dtype=np.float32)),
])
def test_what_keeps_the_fused_loop(fn, arg):
    f = epochpp.jit(fn, level=3)
    assert same(f(arg), fn(arg))
    assert not rewritten(f)


def test_level4_makes_a_kernel_of_it():
    f = epochpp.jit(transcendental, level=4)
    x = np.linspace(-1, 1, 100)
    f(x, x)
    assert ".entry" in f.inspect("ptx")
    assert "Level 4: 1 loop(s) have GPU kernels" in f.explain()


def scalars(a, n, x):
    y = x * 0.5
    c = a * n + y - math.pi
    return c


@pytest.mark.parametrize("level", LEVELS)
def test_scalar_operands(level):
    a = np.linspace(-3, 3, 50)
    f = epochpp.jit(scalars, level=level)
    for n, x in ((3, 1.5), (-(2 ** 60), 2.0), (0, np.float64(-0.0))):
        assert same(f(a, n, x), scalars(a, n, x))


def _random_expr(rnd, depth):
    """An array-valued expression: every inner node an array, scalars only as operands."""
    def operand():
        return _random_expr(rnd, depth - 1) if rnd.random() < 0.6 else rnd.choice(["s", "n", "2.5", "3", "-0.0"])
    if depth == 0 or rnd.random() < 0.2:
        return rnd.choice(["a", "b", "c"])
    kind = rnd.random()
    if kind < 0.55:
        x, y = _random_expr(rnd, depth - 1), operand()
        x, y = (x, y) if rnd.random() < 0.5 else (y, x)
        return f"({x} {rnd.choice('+-*/')} {y})"
    if kind < 0.65:
        return f"(-{_random_expr(rnd, depth - 1)})"
    if kind < 0.8:
        fn = rnd.choice(["np.minimum", "np.maximum"])
        return f"{fn}({_random_expr(rnd, depth - 1)}, {operand()})"
    fn = rnd.choice(["np.sqrt", "np.abs", "np.exp", "np.log", "np.sin", "np.tanh", "np.fabs", "np.expm1"])
    return f"{fn}({_random_expr(rnd, depth - 1)})"


def _random_module(tmp_path, seed, count=16):
    import importlib.util
    import random
    rnd = random.Random(seed)
    src = ["import numpy as np\n"]
    for idx in range(count):
        e = _random_expr(rnd, 4)
        if e in ("a", "b", "c"):
            e = f"np.sqrt({e})"  # a bare local is a copy of the reference, nothing to compute
        src.append(f"\ndef f{idx}(a, b, c, s, n):\n    r = {e}\n    return r\n")
    path = tmp_path / f"array_loops_random_{seed}.py"
    path.write_text("".join(src))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, count


@pytest.mark.parametrize("seed", range(3))
def test_random_expressions_give_level_2s_bits(seed, tmp_path):
    """Random trees of the qualifying operations: Levels 3 and 4 (loops) against Level 2 (fused)."""
    mod, count = _random_module(tmp_path, seed)
    rng = np.random.default_rng(seed)
    n = 3001
    a = rng.standard_normal(n) * 4
    a[:len(EDGE)] = EDGE
    b, c = rng.uniform(-3, 3, n), rng.random(n)
    for idx in range(count):
        fn = getattr(mod, f"f{idx}")
        for args in ((a, b, c, 1.5, 7), (a, b[:1], c, -0.0, 0), (a[::2], b[::2], c[::2], 2.0, -3)):
            with np.errstate(all="ignore"):
                want = epochpp.jit(fn, level=2)(*args)
                for level in (3, 4):
                    f = epochpp.jit(fn, level=level)
                    got = f(*args)
                    assert same(got, want), (idx, level, fn.__name__)
                    assert rewritten(f)
