"""tests/python/test_level4_real.py — Level 4 on a real GPU: compiled loops launched on the device,
checked against CPython (and the CPU levels) for every bench-suite kernel, integer exactness,
libdevice's error bound, residency, an iteration that raises, reductions and the profile's GPU line.

All tests are marked `gpu` and skip where epochpp.gpu_info()["available"] is False (CI has no GPU);
scripts/device_check.sh runs them on a lent GPU machine. EPOCHPP_TEST_GPU_DRYRUN=1 runs them without
a GPU, every loop then on the CPU, with the launch counts not asserted: that checks the tests' own
logic (inputs, expected values, tolerances) on any machine.
"""
import copy
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import epochpp
from epochpp import _core

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "python"))
import kernels  # noqa: E402

pytestmark = pytest.mark.gpu

REAL = epochpp.gpu_info()["available"]
DRY = os.environ.get("EPOCHPP_TEST_GPU_DRYRUN") == "1"
NO_KERNEL = {"fib", "chunked_mixed"}  # no loop Level 4 offloads (see test_level4.py)


@pytest.fixture(autouse=True)
def every_loop_to_the_gpu():
    """Offload every loop with a kernel, however small (the cost model is tested elsewhere)."""
    if not REAL and not DRY:
        pytest.skip(f"no GPU: {epochpp.gpu_info()['reason']}")
    _core.set_setting("gpu_min_elements", "0")
    _core.set_setting("gpu_min_speedup", "0")
    yield
    for name in ("gpu_min_elements", "gpu_min_speedup"):
        _core.set_setting(name, next(s["default"] for s in epochpp.settings() if s["name"] == name))


def totals():
    return dict(epochpp.gpu_stats()["total"])


def assert_on_gpu(before, after, launches=1):
    """At least `launches` kernels ran and nothing fell back to the CPU in between."""
    if not REAL:
        return
    assert after["launches"] >= before["launches"] + launches, after["last_reason"]
    assert after["fallbacks"] == before["fallbacks"], after["last_reason"]


@pytest.mark.parametrize("name", [k.name for k in kernels.REGISTRY if k.name not in NO_KERNEL])
def test_bench_kernel_on_the_gpu(name):
    k = kernels.BY_NAME[name]
    args = k.make(k.quick)
    py_args = copy.deepcopy(args)
    expected = k.result(py_args, k.fn(*py_args))
    f = epochpp.jit(k.fn, level=4)
    before = totals()
    got = k.result(args, f(*args))
    assert k.check(expected, got) is None, k.check(expected, got)
    assert_on_gpu(before, totals())


def mandel_rows(out, max_iter):
    h, w = out.shape
    for y in range(h):
        for x in range(w):
            cr = -2.0 + 2.5 * x / w
            ci = -1.25 + 2.5 * y / h
            zr = 0.0
            zi = 0.0
            k = 0
            while k < max_iter and zr * zr + zi * zi <= 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                k += 1
            out[y, x] = k


def test_integer_results_equal_the_cpu_levels():
    a = np.zeros((300, 400), dtype=np.int64)
    b = np.zeros_like(a)
    c = np.zeros_like(a)
    epochpp.jit(mandel_rows, level=2)(a, 200)
    epochpp.jit(mandel_rows, level=3)(b, 200)
    before = totals()
    epochpp.jit(mandel_rows, level=4)(c, 200)
    assert_on_gpu(before, totals())
    assert np.array_equal(a, b) and np.array_equal(a, c)


def int_reductions(a):
    total = 0
    hi = -(2 ** 63)
    lo = 2 ** 63 - 1
    bits = 0
    for i in range(a.shape[0]):
        total += a[i]
        hi = max(hi, a[i])
        lo = min(lo, a[i])
        bits ^= a[i]
    return total, hi, lo, bits


def test_integer_reductions_are_exact():
    a = np.random.default_rng(3).integers(-2 ** 40, 2 ** 40, 1 << 22)
    f = epochpp.jit(int_reductions, level=4)
    before = totals()
    assert f(a) == int_reductions(a)
    assert_on_gpu(before, totals())


def py_int_sum(a):
    total = 0
    for i in range(a.shape[0]):
        total += int(a[i])  # a Python int: never wraps (a NumPy int64 sum would)
    return total


def test_an_int64_overflow_in_the_tree_gives_pythons_int():
    a = np.full(1 << 20, 2 ** 61, dtype=np.int64)  # the sum needs 81 bits
    f = epochpp.jit(py_int_sum, level=4)
    assert f(a) == py_int_sum(a) == 2 ** 81
    if REAL:
        assert "raised or left the compiled path" in totals()["last_reason"]


def saxpy_sin(a, x, y, out):
    for i in range(x.shape[0]):
        out[i] = a * x[i] + math.sin(y[i])


def test_libdevice_math_within_two_ulp():
    n = 1 << 21
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal(n), rng.uniform(-100.0, 100.0, n)
    cpu, gpu = np.empty(n), np.empty(n)
    epochpp.jit(saxpy_sin, level=2)(1.5, x, y, cpu)
    before = totals()
    epochpp.jit(saxpy_sin, level=4)(1.5, x, y, gpu)
    assert_on_gpu(before, totals())
    # sin within 2 ulp (docs/levels.md), then one rounded multiply-add: 3 ulp of the larger term
    ulp = np.spacing(np.maximum(np.abs(1.5 * x), 1.0) + np.abs(cpu))
    assert np.all(np.abs(gpu - cpu) <= 3 * ulp)


def sum_of_squares(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s


def test_float_sum_within_the_reassociation_bound():
    x = np.random.default_rng(5).random(1 << 22)
    f = epochpp.jit(sum_of_squares, level=4)
    before = totals()
    got = f(x)
    assert_on_gpu(before, totals())
    exact = math.fsum(v * v for v in x.tolist())
    assert abs(got - exact) <= x.size * 2.0 ** -53 * exact  # n·u·sum: any summation order


def scale(x, out):
    for i in range(x.shape[0]):
        out[i] = 2.0 * x[i]


def test_unchanged_inputs_stay_on_the_device():
    if REAL and not epochpp.gpu_info()["residency"]:
        pytest.skip("residency is off (EPOCHPP_GPU_RESIDENCY=0)")
    x = np.random.default_rng(6).random(1 << 22)
    out = np.empty_like(x)
    f = epochpp.jit(scale, level=4)
    f(x, out)
    first = totals()
    f(x, out)  # x unchanged: its device copy is reused
    second = totals()
    assert np.array_equal(out, 2.0 * x)
    if REAL:
        assert second["resident_hits"] > first["resident_hits"]
        assert second["bytes_up"] - first["bytes_up"] < x.nbytes
    x[12345] = -1.0  # one element changed on the host: seen, uploaded again
    f(x, out)
    third = totals()
    assert out[12345] == -2.0 and np.array_equal(out, 2.0 * x)
    if REAL:
        assert third["resident_misses"] > second["resident_misses"]
        assert third["bytes_up"] - second["bytes_up"] >= x.nbytes


def gather(x, idx, out):
    for i in range(idx.shape[0]):
        out[i] = x[idx[i]]


def test_an_iteration_that_raises_reruns_on_the_cpu_exactly():
    n = 1 << 20
    x = np.arange(n, dtype=np.int64) * 3
    idx = np.arange(n, dtype=np.int64)[::-1].copy()
    idx[700_001] = n + 5
    ref = np.full(n, -1, dtype=np.int64)
    out = np.full(n, -1, dtype=np.int64)
    with pytest.raises(IndexError) as want:
        gather(x, idx, ref)
    f = epochpp.jit(gather, level=4)
    with pytest.raises(IndexError) as got:
        f(x, idx, out)
    assert str(got.value) == str(want.value)
    assert np.array_equal(out, ref)  # CPython's partial writes: 0..700000 done, the rest untouched
    if REAL:
        assert "raised or left the compiled path" in totals()["last_reason"]
    idx[700_001] = 0
    before = totals()
    f(x, idx, out)  # the same function, nothing raising: back on the GPU
    assert_on_gpu(before, totals())
    assert np.array_equal(out, x[idx])


def test_the_profile_shows_gpu_time():
    x = np.random.default_rng(7).random(1 << 22)
    out = np.empty_like(x)
    f = epochpp.jit(saxpy_sin, level=4)
    f(1.0, x, x, out)
    with epochpp.profile(interval_ms=1) as p:
        for _ in range(5):
            f(1.0, x, x, out)
    gpu = p.to_dict()["gpu"]
    if REAL:
        assert gpu["launches"] >= 5 and gpu["kernel_s"] > 0 and gpu["fallbacks"] == 0, gpu
    else:
        assert gpu["launches"] == 0


def test_device_properties():
    info = epochpp.gpu_info()
    if not REAL:
        assert info["reason"]
        return
    assert info["cc_major"] >= 5 and info["sm_count"] > 0 and info["total_mem"] > 0
    assert info["mem_bandwidth_gbs"] > 100
    ptx = epochpp.jit(scale, level=4)
    ptx(np.ones(8), np.empty(8))
    assert f".target sm_{info['cc_major']}{info['cc_minor']}" in ptx.inspect("ptx")
