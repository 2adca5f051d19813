"""Differential tests for SIMD lanes (jit/passes/simd_lanes.cpp, jit/codegen/lower_lanes.cpp).

A `for` loop with independent iterations whose body holds a loop runs W iterations at a time,
one per SIMD lane. Every lane must compute exactly what its scalar iteration computes (floats
bit for bit), reductions must add in iteration order, and an error in any lane must come from
the same iteration as in CPython, with the arrays holding exactly what CPython leaves in them
(the earlier iterations' stores done, the later ones not). Sizes around the lane width test
the steps, the scalar remainder and loops too short for a step.
"""

import math
import os

import numpy as np
import pytest

from diffharness import FAKE_JIT, check, jitted


def escape(out, xmin, dx, cy, max_iter):  # mandelbrot's row: a while under a mask, an int reduction
    total = 0
    for j in range(out.shape[0]):
        cx = xmin + j * dx
        zr = 0.0
        zi = 0.0
        k = 0
        limit = max_iter
        while k < limit:
            t = zr * zr - zi * zi + cx
            zi = 2.0 * zr * zi + cy
            zr = t
            k += 1
            if zr * zr + zi * zi > 4.0:
                limit = k
        out[j] = k
        total += k
    return total


def matmul(A, B, C):  # consecutive loads B[p, j] in C order; gathers otherwise
    for i in range(A.shape[0]):
        for j in range(B.shape[1]):
            s = 0.0
            for p in range(A.shape[1]):
                s += A[i, p] * B[p, j]
            C[i, j] = s
    return C[0, 0]


def pairwise(X, D):  # a float reduction across lanes: must add in iteration order
    n = X.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(X.shape[1]):
                t = X[i, k] - X[j, k]
                s += t * t
            r = math.sqrt(s)
            D[i, j] = r
            total += r
    return total


def gravity(pos, vel, mass, eps2):  # an if on the lane's own index; stores then loads of other columns
    n = pos.shape[0]
    for i in range(n):
        ax = 0.0
        ay = 0.0
        for j in range(n):
            if j != i:
                dx = pos[j, 0] - pos[i, 0]
                dy = pos[j, 1] - pos[i, 1]
                r2 = dx * dx + dy * dy + eps2
                inv = mass[j] / (r2 * math.sqrt(r2))
                ax += dx * inv
                ay += dy * inv
        vel[i, 0] = vel[i, 0] + ax
        vel[i, 1] = vel[i, 1] + ay + vel[i, 2]  # another element of the row just stored into
    return vel[0, 1]


def reads_back(a, out):  # reads the element it stored: stores cannot wait, so no lanes
    for j in range(a.shape[0]):
        s = 0.0
        for k in range(2):
            s += a[j] * k
        out[j, 0] = s
        out[j, 1] = out[j, 0] + 1.0
    return out[1, 1]


def stepped(a, out, step):  # constant steps other than 1: gathers and scatters
    for j in range(0, a.shape[0], 2):
        s = 0.0
        for k in range(step):
            s += a[j] * k
        out[j] = s
    for j in range(a.shape[0] - 1, -1, -1):
        c = 0
        while c * c < j:
            c += 1
        out[j] = out[j] + c
    return out[0]


def divides(a, z, out):  # Python float division by zero in one lane: ZeroDivisionError at that iteration
    for j in range(a.shape[0]):
        s = 0.0
        for k in range(3):
            s += a[j] * k + 1.0 / (j * 1.0 - z)
        out[j] = s
    return out[0]


def roots(a, out):  # math.sqrt of a negative in one lane: ValueError at that iteration
    for j in range(a.shape[0]):
        s = 0.0
        for k in range(2):
            s += math.sqrt(a[j] - k)
        out[j] = s
    return out[0]


def indexes(a, idx, out):  # an index out of range in one lane: IndexError at that iteration
    for j in range(out.shape[0]):
        s = 0.0
        for k in range(2):
            s += a[idx[j] + k]
        out[j] = s
    return out[0]


def grows(out, m):  # int overflow in a lane: the scalar loop takes over (and deopts to big ints)
    total = 0
    for j in range(out.shape[0]):
        x = j + 1
        k = 0
        while k < m:
            x = x * 3
            k += 1
        out[j] = k
        total += x
    return total


def big_total(out, base):  # the int reduction overflows when applied lane by lane
    total = 0
    for j in range(out.shape[0]):
        k = 0
        while k < 2:
            k += 1
        out[j] = k
        total += base + j
    return total


def last_index(out):  # the loop variable after the loop
    for j in range(out.shape[0]):
        k = 0
        while k < j:
            k += 1
        out[j] = k
    return j


def nan_cond(a, out):  # comparisons with NaN in the while condition and an if
    for j in range(a.shape[0]):
        x = a[j]
        c = 0
        while x < 10.0:
            x = x + 3.0
            c += 1
        if x != x:
            c = -1
        out[j] = c
    return out.sum()


def numpy_div(a, out):  # np.float64 / 0.0 gives inf or nan (NumPy's rule), no error
    for j in range(a.shape[0]):
        s = a[j]
        for k in range(2):
            s = s / a[(j + k) % 3]
        out[j] = s
    return out[0]


def _rng(seed=7):
    return np.random.default_rng(seed)


SIZES = [0, 1, 3, 4, 5, 8, 9, 13, 31]


@pytest.mark.parametrize("n", SIZES)
def test_escape(n):
    check(escape, lambda: (np.zeros(n, np.int64), -2.0, 3.0 / max(n, 1), 0.3, 60))


@pytest.mark.parametrize("n", SIZES)
def test_pairwise(n):
    check(pairwise, lambda: (_rng().standard_normal((n, 3)), np.zeros((n, n))))


@pytest.mark.parametrize("order", ["C", "F", "strided"])
@pytest.mark.parametrize("n", [5, 9, 17])
def test_matmul_layouts(n, order):
    def make():
        g = _rng(n)
        A = g.standard_normal((n, n + 2))
        B = g.standard_normal((n + 2, 2 * n + 1))
        if order == "F":
            B = np.asfortranarray(B)
        elif order == "strided":
            B = B[:, ::2]
        return A, B, np.zeros((n, B.shape[1]))

    check(matmul, make)


def col_ratio(A, B, C, lo, hi, z):  # B[p, j] read W columns at a time in the inner loop: aligned steps
    total = 0
    for j in range(lo, hi):
        s = 0.0
        for p in range(A.shape[1]):
            s += A[0, p] * B[p, j]
        C[0, j] = s / (j - z)  # z == j: ZeroDivisionError at that iteration
        total += j
    return total


@pytest.mark.parametrize("off", range(8))
@pytest.mark.parametrize("lo,hi", [(0, 48), (1, 30), (3, 17), (0, 9), (5, 14)])
def test_aligning_and_last_steps(off, lo, hi):
    """B's rows are 48 floats (a whole number of 64-byte lines), so the lanes start with a step
    whose first lanes are off, after which every step reads B[p, j:j+W] as one aligned vector,
    and end with a step whose last lanes are off (nothing is read after the loop). B lies at each
    of the 8 element offsets of a line; a division by zero in the first, a middle or the last
    step must raise at CPython's iteration, with exactly the earlier columns written."""
    for z in [-1.0, lo, lo + 2, (lo + hi) // 2, hi - 2, hi - 1]:

        def make():
            buf = np.linspace(-1.0, 1.0, 16 * 48 + 8)
            B = buf[off:off + 16 * 48].reshape(16, 48)
            return np.full((1, 16), 0.5), B, np.zeros((1, 48)), lo, hi, float(z)

        check(col_ratio, make)


@pytest.mark.skipif(FAKE_JIT, reason="inspects the compiled code")
def test_aligning_step_only_for_vectors_read_in_an_inner_loop():
    ratio = jitted(col_ratio)
    ratio(np.ones((1, 4)), np.ones((4, 16)), np.zeros((1, 16)), 0, 16, -1.0)
    ll = ratio.inspect("llvm")
    assert "lanes.align" in ll and "lanes.tail" in ll
    esc = jitted(escape)  # reads no array in lanes: nothing to align
    esc(np.zeros(20, np.int64), -2.0, 0.15, 0.3, 20)
    ll = esc.inspect("llvm")
    assert "lanes.align" not in ll and "lanes.tail" in ll


@pytest.mark.parametrize("n", [2, 5, 12])
@pytest.mark.parametrize("eps2", [1e-3, 0.0])
def test_gravity(n, eps2):
    def make():
        g = _rng(n)
        pos = g.standard_normal((n, 2))
        if eps2 == 0.0 and n > 4:
            pos[4] = pos[1]  # r2 == 0 in a lane: division by zero
        return pos, 0.1 * g.standard_normal((n, 3)), g.uniform(0.5, 1.5, n), eps2

    check(gravity, make)


@pytest.mark.parametrize("n", [1, 6, 11, 20])
def test_stepped(n):
    check(stepped, lambda: (np.arange(n, dtype=np.float64) * 0.5, np.zeros(n), 3))


@pytest.mark.parametrize("zero_at", [-1.0, 0.0, 2.0, 5.0, 7.0, 10.0])
def test_division_by_zero_in_a_lane(zero_at):
    check(divides, lambda: (np.linspace(1.0, 2.0, 11), zero_at, np.zeros(11)))


@pytest.mark.parametrize("bad_at", [None, 1, 4, 6, 9])
def test_sqrt_domain_error_in_a_lane(bad_at):
    def make():
        a = np.linspace(2.0, 5.0, 10)
        if bad_at is not None:
            a[bad_at] = 0.5  # sqrt(0.5 - 1) raises
        return a, np.zeros(10)

    check(roots, make)


@pytest.mark.parametrize("bad_at", [None, 0, 3, 5, 8])
@pytest.mark.parametrize("value", [-3, 9, 100])
def test_index_error_in_a_lane(bad_at, value):
    def make():
        idx = np.array([0, 2, 4, 1, 3, 5, 6, 7, 0], dtype=np.int64)
        if bad_at is not None:
            idx[bad_at] = value  # -3: wraps (fine for CPython too); 9, 100: out of range
        return np.arange(10.0), idx, np.zeros(9)

    check(indexes, make)


@pytest.mark.parametrize("m", [3, 38, 39, 41])
def test_int_overflow_in_a_lane(m):
    check(grows, lambda: (np.zeros(9, np.int64), m), native="entered")


@pytest.mark.parametrize("base", [0, 2**62, 2**63 - 6, -(2**63) + 1])
def test_int_reduction_overflow(base):
    check(big_total, lambda: (np.zeros(10, np.int64), base), native="entered")


@pytest.mark.parametrize("n", [1, 4, 5, 10])
def test_loop_variable_after_the_loop(n):
    check(last_index, lambda: (np.zeros(n, np.int64),))


def test_nan_in_conditions():
    a = np.array([1.0, np.nan, 12.0, -20.0, 3.0, np.nan, 0.0, 9.5, np.inf, -2.0])
    check(nan_cond, lambda: (a.copy(), np.zeros(10, np.int64)))


def test_numpy_division_by_zero():
    a = np.array([1.0, 0.0, -2.0, 0.0, 5.0, 0.0, 7.0, 1.0, -0.0])
    with np.errstate(all="ignore"):
        check(numpy_div, lambda: (a.copy(), np.zeros(9)))


@pytest.mark.skipif(FAKE_JIT, reason="inspects the compiled IR")
@pytest.mark.parametrize(
    "fn, args",
    [
        (escape, (np.zeros(8, np.int64), -2.0, 0.1, 0.3, 20)),
        (matmul, (np.ones((4, 4)), np.ones((4, 4)), np.zeros((4, 4)))),
        (pairwise, (np.ones((4, 3)), np.zeros((4, 4)))),
        (gravity, (np.ones((4, 2)), np.ones((4, 3)), np.ones(4), 1.0)),
        (grows, (np.zeros(9, np.int64), 3)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_loops_run_in_lanes(fn, args):
    """The loops above really are the lane loops (else the tests above test the scalar path)."""
    disp = jitted(fn)
    disp(*args)
    assert "SIMD lanes" in disp.inspect("ir")


def not_in_lanes_carried(a):
    s = 0.0
    for j in range(a.shape[0]):
        for k in range(2):
            s = s * 0.5 + a[j]  # carried from iteration to iteration
    return s


@pytest.mark.skipif(FAKE_JIT, reason="inspects the compiled IR")
@pytest.mark.parametrize(
    "fn, make",
    [(not_in_lanes_carried, lambda: (np.arange(9.0),)), (reads_back, lambda: (np.arange(9.0), np.zeros((9, 2))))],
    ids=["carried", "reads_back"],
)
def test_loops_that_stay_scalar(fn, make):
    disp = jitted(fn)
    check(fn, make)
    assert "SIMD lanes" not in disp.inspect("ir")


def image(out, max_iter):  # mandelbrot: rows in parallel at Level 3, each row's pixels in lanes
    h = out.shape[0]
    w = out.shape[1]
    total = 0
    for i in range(h):
        cy = -1.0 + 2.0 * i / h
        for j in range(w):
            cx = -2.0 + 3.0 * j / w
            zr = 0.0
            zi = 0.0
            k = 0
            limit = max_iter
            while k < limit:
                t = zr * zr - zi * zi + cx
                zi = 2.0 * zr * zi + cy
                zr = t
                k += 1
                if zr * zr + zi * zi > 4.0:
                    limit = k
            out[i, j] = k
            total += k
    return total


@pytest.mark.skipif(FAKE_JIT, reason="compares levels of the real jit")
def test_lanes_inside_a_parallel_loop(level):
    """At Level 3 the row loop runs on the workers (outlined; EPOCHPP_PARALLEL_MIN_WORK=0 from
    the `level` fixture), the pixel loop in lanes inside."""
    import epochpp

    out_py = np.zeros((40, 37), np.int64)
    want = image(out_py, 80)
    f = epochpp.jit(image, level=level)
    out = np.zeros((40, 37), np.int64)
    assert f(out, 80) == want
    assert np.array_equal(out, out_py)
    ir = f.inspect("ir")
    assert "SIMD lanes" in ir
    assert ("[parallel]" in ir) == (level == 3)


# ---- random lane loops ----------------------------------------------------------------------
# Small generated programs in the lane subset: a while under a mask with an early exit, ifs,
# an inner for, divisions and square roots that may raise in one lane, indices that may fall
# out of range, float and int reductions. Each runs under CPython and compiled (check()).

def _lane_source(seed, after=None, anchor=False):
    """after: None (nothing the loop assigns is read after it), "return" (the loop variable's
    last value is returned) or "outer" (an outer loop reads it before the loop runs again).
    anchor: the inner `for` also reads b[p, j] (or b[p, j + 1]), W columns at a time: the
    lanes align their steps to it (a sixth argument, b)."""
    import random

    r = random.Random(seed)
    leaves = ["x", "y", "a[j]", "j * 0.5", "1.5", "-0.25", "2.0", "k * 1.0"]

    def fexpr(d, leaves=leaves):
        if d == 0 or r.random() < 0.3:
            return r.choice(leaves)
        a, b = fexpr(d - 1, leaves), fexpr(d - 1, leaves)
        c = r.random()
        if c < 0.7:
            return f"({a} {r.choice(['+', '-', '*', '*', '/'])} {b})"
        if c < 0.85:
            return f"math.sqrt({a})"
        return f"abs({a})"

    cmp_ = lambda: f"{fexpr(1)} {r.choice(['<', '>', '<=', '!=', '=='])} {fexpr(1)}"
    step = r.choice(["", "", ", 2", ", 3"])
    rng = "range(n - 1, -1, -1)" if r.random() < 0.2 else f"range(0, n{step})"
    shift = r.choice(["j", "j", "j + 1", "(n - 1 - j)"])
    lines = [
        "import math",
        "def f(a, out, n, m, q, b):" if anchor else "def f(a, out, n, m, q):",
        "    total = 0.0",
        "    count = 0",
        f"    for j in {rng}:",
        f"        x = a[{shift}]",
        "        k = 0",
        f"        y = {fexpr(2, ['x', 'a[j]', 'j * 0.5', '1.5', '0.0'])}",
        "        limit = m",
        "        while k < limit:",
        f"            x = {fexpr(2)}",
        f"            y = {fexpr(2)}",
        "            k += 1",
        f"            if {cmp_()}:",
        "                limit = k",
    ]
    if r.random() < 0.5:
        lines += [f"            else:", f"                y = {fexpr(1)}"]
    lines += [
        "        for p in range(q):",
        f"            x = x + a[p] * {fexpr(1)}" + (f" + b[p, {r.choice(['j', 'j + 1'])}]" if anchor else ""),
        f"        if {cmp_()}:",
        f"            total += k * {r.choice(['0.5', '-1.25', '3.0'])}",
        "            count += k",
        f"        out[j] = {fexpr(2)}",
    ]
    if after == "outer":  # everything from the loop on, twice; the second time reads the first's j
        at = lines.index(f"    for j in {rng}:")
        lines[at:] = ["    for rep in range(2):", "        if rep > 0:", "            total += j * 0.25"] + [
            "    " + ln for ln in lines[at:]
        ]
    lines.append("    return total + count" + (" + j" if after == "return" else ""))
    return "\n".join(lines) + "\n"


def _load(src, tmp_path, name):
    """The module of generated source `src` (the jit reads a function's source from its file)."""
    import importlib.util

    path = tmp_path / f"{name}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# EPOCHPP_LANES_FUZZ=N runs N programs (a longer search; the default keeps the suite quick)
@pytest.mark.parametrize("seed", range(int(os.environ.get("EPOCHPP_LANES_FUZZ", "40"))))
def test_random_lane_loops(seed, tmp_path, level):
    src = _lane_source(seed)
    mod = _load(src, tmp_path, f"lanes_{seed}")
    g = np.random.default_rng(seed)
    n = int(g.integers(5, 30))
    a = g.uniform(-3.0, 3.0, n + 2)
    a[g.integers(0, n)] = 0.0
    with np.errstate(all="ignore"):
        if FAKE_JIT:
            check(mod.f, lambda: (a.copy(), np.zeros(n + 2), n, 7, 2))
            return
        import epochpp

        disp = epochpp.jit(mod.f, level=level)  # Level 3: the loop on the workers; the serial fallback in lanes
        check(mod.f, lambda: (a.copy(), np.zeros(n + 2), n, 7, 2), disp=disp)
        assert "SIMD lanes" in disp.inspect("ir"), src


# The same programs reading b[p, j] in the inner loop, b at each element offset of a cache line:
# the lanes start with a partial step that aligns the later ones, and end with a partial step.
@pytest.mark.parametrize("seed", range(int(os.environ.get("EPOCHPP_LANES_FUZZ", "40")) // 2))
def test_random_lane_loops_aligned(seed, tmp_path, level):
    after = [None, None, "return", "outer"][seed % 4]
    src = _lane_source(seed, after, anchor=True)
    mod = _load(src, tmp_path, f"lanes_aligned_{seed}")
    g = np.random.default_rng(2000 + seed)
    disp = None
    if not FAKE_JIT:
        import epochpp

        disp = epochpp.jit(mod.f, level=level)
    for n in (16, int(g.integers(9, 40))):
        cols = (n + 2 + 7) // 8 * 8  # rows of whole 64-byte lines
        a = g.uniform(-3.0, 3.0, n + 2)
        a[g.integers(0, n)] = 0.0
        bvals = g.uniform(-2.0, 2.0, 2 * cols + 8)
        for off in (int(g.integers(0, 8)), int(g.integers(0, 8))):

            def make():
                return a.copy(), np.zeros(n + 2), n, 7, 2, bvals.copy()[off:off + 2 * cols].reshape(2, cols)

            with np.errstate(all="ignore"):
                check(mod.f, make, disp=disp)
    if disp is not None:
        assert "SIMD lanes" in disp.inspect("ir"), src
        assert ("to the last step" in disp.inspect("ir")) == (after is None), src


# The same programs with the loop variable read after the loop, directly or by an outer loop
# before the loop runs again: its last iteration must then run in the scalar loop (so j holds
# CPython's last value), where without such a read the lanes run to the last step.
@pytest.mark.skipif(FAKE_JIT, reason="inspects the compiled IR")
@pytest.mark.parametrize("after", [None, "return", "outer"])
@pytest.mark.parametrize("seed", range(int(os.environ.get("EPOCHPP_LANES_FUZZ", "40")) // 4))
def test_random_lane_loops_read_after(seed, after, tmp_path, level):
    import epochpp

    src = _lane_source(seed, after)
    mod = _load(src, tmp_path, f"lanes_after_{seed}")
    g = np.random.default_rng(1000 + seed)
    disp = epochpp.jit(mod.f, level=level)
    for n in (8, 16, int(g.integers(5, 30))):  # whole lane steps (W = 8, 16) and not
        a = g.uniform(-3.0, 3.0, n + 2)
        a[g.integers(0, n)] = 0.0
        with np.errstate(all="ignore"):
            check(mod.f, lambda: (a.copy(), np.zeros(n + 2), n, 7, 2), disp=disp)
    ir = disp.inspect("ir")
    assert "SIMD lanes" in ir, src
    assert ("to the last step" in ir) == (after is None), src


def smear(a, out):  # with out is a: each iteration reads what the one before wrote
    for j in range(1, a.shape[0]):
        s = 0.0
        for k in range(2):
            s += a[j - 1] * 0.5
        out[j] = s + 1.0
    return out[a.shape[0] - 1]


def zero_stride(a, out):  # out[j, 0] and out[j, 1] are one element when axis 1 has stride 0
    for j in range(a.shape[0]):
        s = 0.0
        for k in range(2):
            s += a[j]
        out[j, 0] = s
        out[j, 1] = out[j, 1] + 1.0
    return out[0, 1]


@pytest.mark.parametrize("alias", [False, True])
def test_arrays_sharing_memory(alias):
    """Stores wait for the end of a step: an array written that shares memory with another array
    the loop touches, or with itself, must send the loop to the scalar path."""

    def make_smear():
        x = np.arange(13.0)
        return (x, x) if alias else (x, np.zeros(13))

    def make_zero_stride():
        buf = np.zeros(13)
        out = np.lib.stride_tricks.as_strided(buf, shape=(13, 2), strides=(8, 0)) if alias else np.zeros((13, 2))
        return np.arange(13.0), out

    check(smear, make_smear)
    check(zero_stride, make_zero_stride)
    if not FAKE_JIT:
        assert "SIMD lanes" in jitted(smear).inspect("ir")
        assert "SIMD lanes" in jitted(zero_stride).inspect("ir")


def inner_var_after(a, out, q):  # p after an inner loop that may run 0 times: stays scalar
    for j in range(a.shape[0]):
        s = 0.0
        for p in range(q):
            s += a[j] * p
        out[j] = s + p  # q == 0: UnboundLocalError
    return out[0]


@pytest.mark.parametrize("q", [0, 3])
def test_inner_loop_variable_read_after_its_loop(q):
    check(inner_var_after, lambda: (np.arange(9.0), np.zeros(9), q))
    if not FAKE_JIT:
        assert "SIMD lanes" not in jitted(inner_var_after).inspect("ir")


@pytest.mark.skipif(FAKE_JIT, reason="compares levels of the real jit")
@pytest.mark.parametrize("n", [600, 4003])
def test_parallel_chunks_run_in_lanes(level, n):
    """At Level 3 the pixel loop is parallel too: each worker's chunk (n / 256 iterations) runs
    in lanes, its last iterations and any bail-out in the scalar loop."""
    import epochpp

    disp = epochpp.jit(escape, level=level)
    check(escape, lambda: (np.zeros(n, np.int64), -2.0, 3.0 / n, 0.3, 40), disp=disp)
    check(escape, lambda: (np.zeros(n, np.int64), -2.0, 3.0 / n, 0.0, 30), disp=disp)
    ir = disp.inspect("ir")
    assert "SIMD lanes" in ir
    assert ("[parallel]" in ir) == (level == 3)


@pytest.mark.skipif(FAKE_JIT, reason="compares levels of the real jit")
@pytest.mark.parametrize("zero_at", [-1.0, 7.0, 1234.0])
def test_error_in_a_lane_of_a_parallel_chunk(level, zero_at):
    import epochpp

    disp = epochpp.jit(divides, level=level)
    check(divides, lambda: (np.linspace(1.0, 2.0, 2500), zero_at, np.zeros(2500)), disp=disp)


@pytest.mark.skipif(FAKE_JIT, reason="sets the compiler's lane width")
@pytest.mark.parametrize("width", [4, 8, 16])
def test_every_lane_width(width, monkeypatch, tmp_path):
    """The default width is the machine's (16 with AVX-512, else 4), so the suite's other tests
    run at one width only; the others must be just as exact: aligning steps at every offset,
    last steps, errors in them, and generated programs."""
    import epochpp

    monkeypatch.setenv("EPOCHPP_SIMD_LANES", str(width))
    ratio = epochpp.jit(col_ratio)
    for off in range(8):
        for lo, hi, z in [(0, 48, 47.0), (3, 17, 5.0), (1, 30, -1.0), (2, 9, 8.0)]:

            def make():
                buf = np.linspace(-1.0, 1.0, 16 * 48 + 8)
                return np.full((1, 16), 0.5), buf[off:off + 16 * 48].reshape(16, 48), np.zeros((1, 48)), lo, hi, z

            check(col_ratio, make, disp=ratio)
    assert f"<{width} x double>" in ratio.inspect("llvm")
    esc = epochpp.jit(escape)
    for n in SIZES:
        check(escape, lambda: (np.zeros(n, np.int64), -2.0, 3.0 / max(n, 1), 0.3, 60), disp=esc)
    for seed in range(6):
        after = [None, "return", "outer"][seed % 3]
        mod = _load(_lane_source(seed, after, anchor=True), tmp_path, f"lanes_w{width}_{seed}")
        disp = epochpp.jit(mod.f)
        g = np.random.default_rng(3000 + seed)
        for n in (width, width + 3, int(g.integers(2, 40))):
            cols = (n + 2 + 7) // 8 * 8
            a = g.uniform(-3.0, 3.0, n + 2)
            bvals = g.uniform(-2.0, 2.0, 2 * cols + 8)
            off = int(g.integers(0, 8))
            with np.errstate(all="ignore"):
                check(mod.f, lambda: (a.copy(), np.zeros(n + 2), n, 7, 2,
                                      bvals.copy()[off:off + 2 * cols].reshape(2, cols)), disp=disp)
