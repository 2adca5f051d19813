"""Level 3: independent loops run on all cores with the serial result; dependent loops stay serial."""
import subprocess
import sys

import math

import numpy as np
import pytest

import diffharness

epochpp = diffharness.get_epochpp()
pytestmark = pytest.mark.skipif(diffharness.FAKE_JIT, reason="needs the real compiler")
N = 400_000  # above the parallel work threshold


def saxpy(a, x, y, out):
    for i in range(len(x)):
        out[i] = a * x[i] + y[i]
    return out


def heavy(a, x, y, out):
    for i in range(len(x)):
        out[i] = a * math.sin(x[i]) * math.cos(y[i]) + math.sqrt(abs(x[i] * y[i])) - math.exp(-abs(y[i]))
    return out


def int_reduce(x):
    s = 0
    p = 0
    for i in range(len(x)):
        s += x[i] * 3
        p += i % 7
    return s, p


def float_reduce(x):
    t = 0.0
    for i in range(len(x)):
        t += x[i] * 0.5
    return t


def prefix_sum(x, out):
    acc = 0.0
    for i in range(len(x)):
        acc = acc + x[i]
        out[i] = acc
    return out


def shift_left(a):
    for i in range(len(a) - 1):
        a[i] = a[i + 1]
    return a


def write_other(a, b):
    for i in range(len(a)):
        b[i] = a[i] * 2.0
    return b


def fails_midway(x, out, bad):
    for i in range(len(x)):
        out[i] = x[i] + 1.0
        if i == bad:
            out[i] = x[i + len(x)]  # IndexError, after earlier iterations wrote
    return out


def reuse_names(x, y, out1, out2):  # `t` and `i` again in the second loop: dead after the first
    for i in range(len(x)):
        t = math.sin(x[i]) * math.cos(x[i]) + math.sqrt(abs(x[i])) - math.exp(-abs(x[i]))
        out1[i] = t * t
    for i in range(len(y)):
        t = math.cos(y[i]) * math.sin(y[i]) - math.sqrt(abs(y[i])) + math.exp(-abs(y[i]))
        out2[i] = t
    return out1[0]


def reuse_then_read(x, y, out1, out2):  # ... and read after both (the second may run 0 times)
    for i in range(len(x)):
        t = math.sin(x[i]) * math.cos(x[i]) + math.sqrt(abs(x[i])) - math.exp(-abs(x[i]))
        out1[i] = t * t
    for i in range(len(y)):
        t = math.cos(y[i]) * math.sin(y[i]) - math.sqrt(abs(y[i])) + math.exp(-abs(y[i]))
        out2[i] = t
    return t


def parallel_loops(f):
    return "run on all cores" in f.explain()


def test_parallel_results_equal_serial():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(N), rng.standard_normal(N)
    f3 = epochpp.jit(heavy, level=3)
    got = f3(2.5, x, y, np.empty(N))
    assert np.array_equal(got, heavy(2.5, x, y, np.empty(N)))
    assert parallel_loops(f3)
    # a simple loop that only moves memory runs in parallel too, once the arrays are large
    s3 = epochpp.jit(saxpy, level=3)
    assert np.array_equal(s3(2.5, x, y, np.empty(N)), saxpy(2.5, x, y, np.empty(N)))
    assert parallel_loops(s3), s3.explain()
    xi = rng.integers(-1000, 1000, N)
    g3 = epochpp.jit(int_reduce, level=3)
    assert g3(xi) == int_reduce(xi) and type(g3(xi)[0]) is type(int_reduce(xi)[0])
    assert parallel_loops(g3)


def test_a_name_reused_by_a_later_loop_does_not_keep_a_loop_serial():
    """A private local counts as used after the loop only where it may be read before it is
    assigned again (ir::liveAfter): two loops that both use `t` run in parallel; when `t` is
    read after both, neither does (if the second loop runs 0 times, the first one's `t` is
    returned), and the values are CPython's either way."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal(N), rng.standard_normal(N)
    f3 = epochpp.jit(reuse_names, level=3)
    want = (reuse_names(x, y, np.empty(N), o2 := np.empty(N)), o2)
    got = (f3(x, y, np.empty(N), g2 := np.empty(N)), g2)
    assert got[0] == want[0] and np.array_equal(got[1], want[1])
    assert f3.inspect("ir").count("[parallel]") == 2, f3.inspect("ir")
    r3 = epochpp.jit(reuse_then_read, level=3)
    for m in (N, 0):
        assert r3(x, y[:m], np.empty(N), np.empty(m)) == reuse_then_read(x, y[:m], np.empty(N), np.empty(m))
    assert "[parallel]" not in r3.inspect("ir")


def test_float_reductions_are_close_and_reproducible():
    x = np.random.default_rng(1).standard_normal(N)
    f3 = epochpp.jit(float_reduce, level=3)
    r = f3(x)
    assert parallel_loops(f3)
    assert r == pytest.approx(float_reduce(x), rel=1e-12)  # reassociated: last bits may differ
    assert f3(x) == r  # same chunks every time


@pytest.mark.parametrize("fn", [prefix_sum, shift_left])
def test_dependent_loops_stay_serial(fn):
    x = np.random.default_rng(2).standard_normal(N)
    args = (x, np.empty(N)) if fn is prefix_sum else (x.copy(),)
    ref_args = (x, np.empty(N)) if fn is prefix_sum else (x.copy(),)
    f3 = epochpp.jit(fn, level=3)
    assert np.array_equal(f3(*args), fn(*ref_args))
    assert not parallel_loops(f3), f3.explain()


def test_aliasing_views_run_serially_and_exactly():
    a = np.arange(float(N + 1))
    ref = a.copy()
    write_other(ref[:-1], ref[1:])  # b overlaps a: the serial result chains
    f3 = epochpp.jit(write_other, level=3)
    f3(a[:-1], a[1:])
    assert np.array_equal(a, ref)


def test_error_in_a_parallel_loop_is_exact():
    x = np.arange(float(N))
    out, ref = np.zeros(N), np.zeros(N)
    with pytest.raises(IndexError):
        fails_midway(x, ref, N // 2)
    f3 = epochpp.jit(fails_midway, level=3)
    with pytest.raises(IndexError):
        f3(x, out, N // 2)
    assert np.array_equal(out, ref)  # exactly the writes CPython made before the error


def sum_and_write(x, out, m):  # the Python-int sum overflows int64 partway: the call deopts
    total = 0
    for i in range(len(x)):
        total += i * m
        out[i] = math.sqrt(abs(x[i])) + math.sqrt(abs(x[i]) + 1.0) * math.sqrt(abs(x[i]) + 2.0)
    return total


def write_products(out, m):  # i * m overflows at some i: CPython raises OverflowError storing it
    for i in range(len(out)):
        out[i] = i * m + abs(i - 3) + abs(i - 5) + max(i, 11) + min(i, 13)
    return 0


def parallel_for_keep(f):
    ll = f.inspect("llvm")
    call = ll[ll.index("call i32 @ep_rt_parallel_for("):]
    return call[:call.index("\n")].rsplit(",", 1)[1].strip(" )")


def test_chunks_that_can_only_deopt_keep_nothing_and_the_call_deopts_exactly():
    x = np.arange(float(N))
    out, ref = np.full(N, -1.0), np.full(N, -1.0)
    f3 = epochpp.jit(sum_and_write, level=3)
    for m in (3, 2**50):  # fits in int64; passes 2**63 after ~128 iterations (a big int in CPython)
        want = sum_and_write(x, ref, m)
        got = f3(x, out, m)
        assert got == want and type(got) is int
        assert np.array_equal(out, ref)
    assert "run on all cores" in f3.explain()
    assert parallel_for_keep(f3) != "i32 1", "chunks that can only deopt should keep nothing"

    g3 = epochpp.jit(write_products, level=3)
    out, ref = np.full(N, -1, np.int64), np.full(N, -1, np.int64)
    m = 2**63 // (N // 2)  # overflows from i = N // 2 on
    with pytest.raises(OverflowError):
        write_products(ref, m)
    out2 = out.copy()
    r = np.arange(1000)
    assert g3(out2[:1000], 5) == 0
    assert np.array_equal(out2[:1000], r * 5 + abs(r - 3) + abs(r - 5) + np.maximum(r, 11) + np.minimum(r, 13))
    with pytest.raises(OverflowError):
        g3(out, m)
    assert np.array_equal(out, ref)  # CPython's writes, before its error, and none after
    assert "run on all cores" in g3.explain()
    assert parallel_for_keep(g3) != "i32 1"


DET = """
import sys, numpy as np, epochpp
def float_reduce(x):
    t = 0.0
    for i in range(len(x)):
        t += x[i] * 0.5
    return t
x = np.random.default_rng(1).standard_normal(400_000)
print(repr(epochpp.jit(float_reduce, level=3)(x)))
"""


def test_same_bits_for_any_thread_count(tmp_path):
    script = tmp_path / "det.py"
    script.write_text(DET)
    outs = diffharness.outputs_per_thread_count(script, (1, 2, 3))
    assert len(outs) == 1, outs


FORK = """
import os, signal, sys, numpy as np, epochpp
def float_reduce(x):
    t = 0.0
    for i in range(len(x)):
        t += x[i] * 0.5
    return t
f = epochpp.jit(float_reduce, level=3)
x = np.random.default_rng(1).standard_normal(400_000)
want = f(x)  # the parent's oneTBB workers exist now
assert "run on all cores" in f.explain()
pid = os.fork()
if pid == 0:
    signal.alarm(60)  # a deadlock fails instead of hanging
    os._exit(0 if f(x) == want and f(x) == want else 3)
_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
assert f(x) == want  # and the parent goes on
print("ok")
"""


def test_parallel_loops_work_after_fork(tmp_path):
    script = tmp_path / "fork.py"
    script.write_text(FORK)
    r = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", str(script)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def row_norms(X, out):
    for i in range(X.shape[0]):
        s = 0.0
        for k in range(X.shape[1]):
            s += X[i, k] * X[i, k]
        out[i] = math.sqrt(s) * 0.5
    return 0


def row_roots(X, out):
    for i in range(X.shape[0]):
        s = 0.0
        for k in range(X.shape[1]):
            s += X[i, k]
        out[i] = math.sqrt(s)  # a negative row sum raises ValueError
    return 0


def _keep_argument(f):
    """The last argument compiled code passes to ep_rt_parallel_for: whether to keep a copy."""
    calls = [l for l in f.inspect("llvm").splitlines() if "call i32 @ep_rt_parallel_for(" in l]
    assert calls, f.inspect("llvm")
    return calls[0].rstrip(")").rsplit(",", 1)[1].strip()


def test_chunks_that_cannot_fail_keep_nothing():
    # row_norms' chunks can only stop on Ctrl-C once its bounds check passes: nothing is kept
    # (the keep flag is the bounds check's outcome); row_roots' can raise: always kept.
    X = np.arange(-300.0, 300.0).reshape(200, 3)
    out, ref = np.zeros(200), np.zeros(200)
    f = epochpp.jit(row_norms, level=3)
    f(X, out)
    row_norms(X, ref)
    assert np.array_equal(out, ref)
    assert _keep_argument(f) != "i32 1"
    g = epochpp.jit(row_roots, level=3)
    with pytest.raises(ValueError):
        g(X, out)
    assert _keep_argument(g) == "i32 1"


def fails_midway_heavy(x, out, bad):
    for i in range(len(x)):
        out[i] = math.sin(x[i]) * math.exp(x[i] * 1e-6) + 1.0  # enough work to run in parallel
        if i == bad:
            out[i] = x[i + len(x)]
    return 0


def fails_midway_rows(x, out, bad):
    for i in range(out.shape[0]):
        for k in range(out.shape[1]):
            out[i, k] = math.sin(x[i, k]) + 1.0
        if i == bad:
            out[i, 0] = x[i + len(x), 0]
    return 0


@pytest.mark.parametrize("bad", [0, 1, N // 3, N - 1])
def test_error_in_a_parallel_loop_restores_what_later_chunks_wrote(bad):
    x = np.random.default_rng(5).standard_normal(N)
    out, ref = np.full(N, 7.0), np.full(N, 7.0)
    with pytest.raises(IndexError):
        fails_midway_heavy(x, ref, bad)
    f3 = epochpp.jit(fails_midway_heavy, level=3)
    with pytest.raises(IndexError):
        f3(x, out, bad)
    assert parallel_loops(f3), f3.explain()
    assert np.array_equal(out, ref)
    x2 = x.reshape(-1, 40)
    out2, ref2 = np.full(x2.shape, 3.0), np.full(x2.shape, 3.0)
    bad2 = bad * x2.shape[0] // N
    with pytest.raises(IndexError):
        fails_midway_rows(x2, ref2, bad2)
    g3 = epochpp.jit(fails_midway_rows, level=3)
    with pytest.raises(IndexError):
        g3(x2, out2, bad2)
    assert parallel_loops(g3), g3.explain()
    assert np.array_equal(out2, ref2)


def saxpy_prange(a, x, y, out):
    for i in epochpp.prange(len(x)):
        out[i] = a * x[i] + y[i]
    return out


def sin_stepped(a, x, y, out, start, stop, step):
    for i in range(start, stop, step):
        out[i] = a * math.sin(x[i]) * math.cos(y[i]) + math.exp(-abs(y[i]))
    return out


def sin_backwards(a, x, y, out):
    for i in range(len(x) - 1, -1, -3):
        out[i] = a * math.sin(x[i]) * math.cos(y[i]) + math.exp(-abs(y[i]))
    return out


def test_chunks_of_a_simple_loop_load_vectors_not_gathers():
    # A chunk's loop uses the range's constant step (1 here), as the serial loop does. Read from
    # the chunk's environment, LLVM saw an unknown stride and vectorised the loop with gathers and
    # scatters: 3x slower than Level 2 on one core.
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(N), rng.standard_normal(N)
    f3 = epochpp.jit(saxpy_prange, level=3)
    assert np.array_equal(f3(2.5, x, y, np.empty(N)), saxpy(2.5, x, y, np.empty(N)))
    assert parallel_loops(f3), f3.explain()
    asm = f3.inspect("asm")
    assert "gather" not in asm and "scatter" not in asm
    # a step that is not a constant still comes from the environment; a constant one may be negative
    g3 = epochpp.jit(sin_stepped, level=3)
    for start, stop, step in [(0, N, 1), (N - 1, -1, -1), (3, N, 7), (N - 2, 0, -5)]:
        want = sin_stepped(2.5, x, y, np.zeros(N), start, stop, step)
        assert np.array_equal(g3(2.5, x, y, np.zeros(N), start, stop, step), want), (start, stop, step)
    assert parallel_loops(g3), g3.explain()
    h3 = epochpp.jit(sin_backwards, level=3)
    assert np.array_equal(h3(2.5, x, y, np.zeros(N)), sin_backwards(2.5, x, y, np.zeros(N)))
    assert parallel_loops(h3), h3.explain()


def lane_rows(pos, out, n, m):  # the outer loop is both the lane loop and the parallel loop
    for i in range(n):
        s = 0.0
        for j in range(m):
            if j != i:
                s += math.sqrt(abs(pos[j] - pos[i]))
        out[i] = s
    return out[0]


@pytest.mark.parametrize("width", [4, 8, 16])
def test_lane_chunks_are_one_step_each_the_partial_last_step_too(width, monkeypatch):
    """A loop in SIMD lanes that is also the parallel loop is cut at whole lane steps, one chunk
    per step up to 256 chunks, and the last, partial step is a chunk of its own. With n // W
    chunks a loop with n % W != 0 had a last chunk of two steps, the guided loop's largest last
    piece: nbody_step (600 / 16) had its two threads end 18 us apart in a 175 us call."""
    from epochpp import _core

    monkeypatch.setenv("EPOCHPP_SIMD_LANES", str(width))
    monkeypatch.setenv("EPOCHPP_PARALLEL_MIN_WORK", "0")
    f3 = epochpp.jit(lane_rows, level=3)
    m = 7
    for n in [2, width - 1, width, width + 1, 3 * width + 2, 600, 256 * width, 256 * width + 5, 300 * width]:
        x = np.linspace(-1.0, 1.0, max(n, m))
        got, want = np.zeros(len(x)), np.zeros(len(x))
        assert f3(x, got, n, m) == lane_rows(x, want, n, m)
        assert np.array_equal(got, want), n
        shape = _core.last_parallel_loop()
        assert shape["iterations"] == n and shape["align"] == width, (n, shape)
        assert shape["chunks"] == min(256, -(-n // width)), (n, shape)
    assert "SIMD lanes" in f3.inspect("ir")
    assert parallel_loops(f3), f3.explain()
