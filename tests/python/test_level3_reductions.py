"""Level 3: min/max/bitwise/bool reductions give CPython's answer exactly; epochpp.prange;
loops whose indices cross zero stay serial."""
import math

import numpy as np
import pytest

import diffharness

epochpp = diffharness.get_epochpp()
pytestmark = pytest.mark.skipif(diffharness.FAKE_JIT, reason="needs the real compiler")
N = 400_000  # above the parallel work threshold
prange = epochpp.prange


def running_max(x):
    m = -5.0
    for i in range(len(x)):
        m = max(m, x[i])
    return m


def running_min_int(x):
    m = 10**9
    for i in range(len(x)):
        m = min(m, x[i] * 3 - 7)
    return m


def max_of_positives(x):
    m = 0.0
    for i in range(len(x)):
        if x[i] > 0.5:
            m = max(m, x[i] * 2.0)
    return m


def bitwise(x):
    a = -1
    o = 0
    z = 0
    for i in range(len(x)):
        v = int(x[i])
        a &= v | 1024
        o |= v
        z ^= v
    return a, o, z


def all_any(x):
    ok = True
    seen = False
    for i in range(len(x)):
        ok = ok and bool(x[i] > -3.0)
        seen = seen or bool(x[i] > 3.0)
    return ok, seen


def max_swapped(x):  # max(x[i], m): ties and NaNs go the other way; must stay serial
    m = -5.0
    for i in range(len(x)):
        m = max(x[i], m)
    return m


def parallel_loops(f):
    return "run on all cores" in f.explain()


def same(a, b):
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, (float, np.floating)):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


def inputs():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(N)
    with_nan = x.copy()
    with_nan[[7, N // 2, N - 1]] = np.nan
    zeros = np.zeros(N)
    zeros[::3] = -0.0
    zeros[0] = -0.0
    return {"normal": x, "nan": with_nan, "signed_zeros": zeros, "all_nan": np.full(N, np.nan),
            "ints": rng.integers(-1000, 1000, N)}


@pytest.mark.parametrize("fn,names", [
    (running_max, ["normal", "nan", "signed_zeros", "all_nan", "ints"]),
    (running_min_int, ["ints"]),
    (max_of_positives, ["normal", "nan"]),
    (bitwise, ["ints"]),
    (all_any, ["normal", "nan"]),
])
def test_reductions_are_exact_and_parallel(fn, names):
    data = inputs()
    f3 = epochpp.jit(fn, level=3)
    for name in names:
        want, got = fn(data[name]), f3(data[name])
        assert same(want, got), (name, want, got)
    assert parallel_loops(f3), f3.explain()


def test_nan_as_the_start_value_wins_as_in_python():
    def start_nan(x):
        m = math.nan
        for i in range(len(x)):
            m = max(m, x[i])
        return m
    x = np.random.default_rng(6).standard_normal(N)
    f3 = epochpp.jit(start_nan, level=3)
    assert same(start_nan(x), f3(x))
    assert parallel_loops(f3)


def test_swapped_max_stays_serial_and_exact():
    x = inputs()["nan"]
    f3 = epochpp.jit(max_swapped, level=3)
    assert same(max_swapped(x), f3(x))
    assert not parallel_loops(f3)


def scatter(x, idx, out):
    for i in prange(len(idx)):
        out[idx[i]] = x[i] * 2.0 + 1.0
    return out


def scatter_attr(x, idx, out):
    for i in epochpp.prange(len(idx)):
        out[idx[i]] = math.sqrt(x[i]) + 1.0
    return out


def carried(x):
    c = 0.0
    for i in prange(len(x)):
        c = c * 0.5 + x[i]
    return c


def scatter_fails(x, idx, out, bad):
    for i in prange(len(idx)):
        out[idx[i]] = x[i] + 1.0
        if i == bad:
            out[idx[i]] = x[i + len(x)]  # IndexError after other iterations wrote
    return out


def test_prange_is_range_in_python():
    assert list(prange(2, 9, 3)) == list(range(2, 9, 3))


@pytest.mark.parametrize("fn", [scatter, scatter_attr])
def test_prange_parallelises_indirect_writes(fn):
    rng = np.random.default_rng(7)
    x, idx = rng.random(N), rng.permutation(N)
    f3 = epochpp.jit(fn, level=3)
    assert np.array_equal(f3(x, idx, np.zeros(N)), fn(x, idx, np.zeros(N)))
    assert parallel_loops(f3), f3.explain()
    assert "for[prange, parallel]" in f3.inspect("ir")
    # the same loop with range() is not provably independent: it stays serial
    f2 = epochpp.jit(fn, level=2)
    assert np.array_equal(f2(x, idx, np.zeros(N)), fn(x, idx, np.zeros(N)))


def test_prange_with_a_carried_scalar_runs_serially_and_says_why():
    x = np.random.default_rng(8).random(N)
    f3 = epochpp.jit(carried, level=3)
    assert f3(x) == carried(x)
    text = f3.explain()
    assert not parallel_loops(f3)
    assert "the prange loop runs serially" in text and "'c' carries a value" in text
    assert "test_level3_reductions.py" in text


def test_prange_errors_stay_exact():
    rng = np.random.default_rng(9)
    x, idx = rng.random(N), rng.permutation(N)
    out, ref = np.zeros(N), np.zeros(N)
    with pytest.raises(IndexError):
        scatter_fails(x, idx, ref, N // 2)
    f3 = epochpp.jit(scatter_fails, level=3)
    with pytest.raises(IndexError):
        f3(x, idx, out, N // 2)
    assert np.array_equal(out, ref)


def crosses_zero(a, lo, hi):
    for i in range(lo, hi):  # the order of two updates of one element matters (+ i)
        a[i] = a[i] * 0.5 + math.exp(-abs(a[i])) + math.sin(a[i]) + i
    return a


def test_negative_indices_reaching_one_element_twice_stay_serial():
    # i = -n .. n-1 touches every element twice (a[-1] is a[n-1]): not independent
    n = N // 2
    a = np.random.default_rng(10).random(n)
    f3 = epochpp.jit(crosses_zero, level=3)
    assert np.array_equal(f3(a.copy(), -n, n), crosses_zero(a.copy(), -n, n))
    # all negative or all non-negative: independent, and parallel
    assert np.array_equal(f3(a.copy(), -n, 0), crosses_zero(a.copy(), -n, 0))
    assert np.array_equal(f3(a.copy(), 0, n), crosses_zero(a.copy(), 0, n))
    assert parallel_loops(f3)


def fill2d(m, bad):  # bad=None: no failure (i == None is never true)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            m[i, j] = m[i, j] * 2.0 + math.sqrt(i + j)
        if i == bad:
            m[i, 0] = m[i, m.shape[1]]  # IndexError after other rows were rewritten
    return m


def fill2d_negative(m, bad):
    for i in range(-m.shape[0], 0):
        for j in range(m.shape[1]):
            m[i, j] = m[i, j] * 2.0 + math.sqrt(j + 1.0)
        if i == bad:
            m[i, 0] = m[i, m.shape[1]]
    return m


@pytest.mark.parametrize("view", ["C", "transposed", "reversed_rows", "every_other_row"])
@pytest.mark.parametrize("fn,bad", [(fill2d, 700), (fill2d, None), (fill2d_negative, -300), (fill2d_negative, None)])
def test_failed_parallel_loop_restores_every_row(view, fn, bad):
    # the runtime keeps each chunk's own rows (rows that do not interleave in memory) or the
    # whole span (a transposed array): either way a failure leaves CPython's exact state
    base = np.random.default_rng(11).random((2000, 1000))
    def make():  # 1000 x 160 views
        a = base.copy()
        return {"C": np.ascontiguousarray(a[:1000, :160]), "transposed": a[:160, :1000].T,
                "reversed_rows": a[:1000, :160][::-1], "every_other_row": a[:2000:2, :160]}[view]
    ref, got = make(), make()
    f3 = epochpp.jit(fn, level=3)
    if bad is None:  # no failure
        assert np.array_equal(f3(got, bad), fn(ref, bad))
    else:
        with pytest.raises(IndexError):
            fn(ref, bad)
        with pytest.raises(IndexError):
            f3(got, bad)
        assert np.array_equal(got, ref)
    assert parallel_loops(f3), f3.explain()


def small_sum(v):
    a = np.zeros(4)  # allocates: on a oneTBB worker this takes the GIL (it crashed before)
    for k in range(4):
        a[k] = v + k
    return a.sum()


def calls_allocating(x, out):
    for i in prange(len(x)):
        out[i] = small_sum(x[i])
    return out


def test_callee_that_allocates_inside_a_parallel_loop():
    x = np.random.default_rng(12).random(300_000)
    f3 = epochpp.jit(calls_allocating, level=3)
    assert np.array_equal(f3(x, np.zeros_like(x)), calls_allocating(x, np.zeros_like(x)))
    assert parallel_loops(f3), f3.explain()


def test_diff_suites_with_every_parallel_loop_on_the_workers():
    # The diff suites' inputs are small, so their parallel loops normally stay serial.
    # EPOCHPP_PARALLEL_MIN_WORK=0 puts every one with 2+ iterations on the oneTBB workers
    # (and EPOCHPP_JIT_LEVEL=3 compiles at Level 3): the same exact results are expected.
    # test_diff_math is left out: its float sums are reassociated at Level 3, by design.
    import os
    import subprocess
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    suites = [os.path.join(here, f) for f in ("test_diff_arrays.py", "test_diff_control.py",
                                             "test_diff_scalars.py", "test_diff_exact.py")]
    env = dict(os.environ, EPOCHPP_JIT_LEVEL="3", EPOCHPP_PARALLEL_MIN_WORK="0")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *suites],
                       capture_output=True, text=True, env=env, cwd=here, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def simulate(p, steps):  # reads its row, writes nothing it did not allocate
    x = p[0]
    v = p[1]
    k = p[2]
    e = 0.0
    for t in range(steps):
        a = -k * x - 0.01 * v
        v += a * 0.01
        x += v * 0.01
        e += x * x
    return e


def halve_first(row):  # writes its argument
    row[0] = row[0] / 2.0
    return row[0]


def run_all(params, steps, out):
    for i in range(params.shape[0]):
        out[i] = simulate(params[i], steps)
    return out


def halve_all(params, out):
    for i in range(params.shape[0]):
        out[i] = halve_first(params[i])
    return out


def test_independent_calls_with_row_views_run_in_parallel():
    # the cost of the called function counts: 500 items of a 200-step simulation are enough
    p = np.random.default_rng(13).random((500, 3))
    f3 = epochpp.jit(run_all, level=3)
    assert np.array_equal(f3(p, 200, np.zeros(500)), run_all(p, 200, np.zeros(500)))
    assert parallel_loops(f3), f3.explain()


def test_a_callee_that_writes_its_array_keeps_the_loop_serial():
    p = np.random.default_rng(14).random((300_000, 3))
    f3 = epochpp.jit(halve_all, level=3)
    a, b = p.copy(), p.copy()
    assert np.array_equal(f3(a, np.zeros(len(p))), halve_all(b, np.zeros(len(p))))
    assert np.array_equal(a, b)
    assert not parallel_loops(f3), f3.explain()


def maybe_unbound(x, out, flag):
    if flag:
        c = 2.0
    for i in range(len(x)):
        out[i] = math.sqrt(abs(x[i])) * c + math.exp(-abs(x[i]))
    return out


def test_unbound_shared_variable_raises_like_python():
    # the chunks check once that the variables they read are bound; the serial loop raises
    x = np.random.default_rng(15).random(N)
    f3 = epochpp.jit(maybe_unbound, level=3)
    assert np.array_equal(f3(x, np.zeros(N), True), maybe_unbound(x, np.zeros(N), True))
    assert parallel_loops(f3)
    out = np.ones(N)
    with pytest.raises(UnboundLocalError):
        f3(x, out, False)
    assert (out == 1.0).all()
