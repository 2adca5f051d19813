"""tests/python/test_level4.py — Level 4 codegen, checked without a GPU: PTX for every bench-suite
kernel that has a parallel loop, accepted by the CUDA toolkit's ptxas; results equal CPython's
when no GPU runs the kernels (the CPU path); the reasons explain() gives for loops that stay on
the CPU; EPOCHPP_DUMP=ptx and EPOCHPP_GPU_ARCH."""
import copy
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import epochpp

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "python"))
import kernels  # noqa: E402

CUDA_HOME = os.environ.get("CUDA_HOME", "/usr/local/cuda")
PTXAS = shutil.which("ptxas") or (f"{CUDA_HOME}/bin/ptxas" if os.access(f"{CUDA_HOME}/bin/ptxas", os.X_OK) else None)
HAS_LIBDEVICE = os.path.exists(f"{CUDA_HOME}/nvvm/libdevice/libdevice.10.bc")

# bench kernels without a loop to offload, and why
NO_KERNEL = {
    "fib": "recursion, no loop",
    "chunked_mixed": "its loop calls np.sum on a chunk (a whole-array reduction) and carries a sum",
}


def ptxas_ok(ptx, tmp_path, arch="sm_90"):
    src = tmp_path / "k.ptx"
    src.write_text(ptx)
    p = subprocess.run([PTXAS, f"-arch={arch}", str(src), "-o", str(tmp_path / "k.cubin")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return True


@pytest.mark.parametrize("name", [k.name for k in kernels.REGISTRY])
def test_bench_kernel_ptx_and_results(name, tmp_path):
    k = kernels.BY_NAME[name]
    args = k.make(k.quick)
    py_args = copy.deepcopy(args)
    expected = k.result(py_args, k.fn(*py_args))
    f = epochpp.jit(k.fn, level=4)
    got = k.result(args, f(*args))
    assert k.check(expected, got) is None, k.check(expected, got)
    if name in NO_KERNEL:
        with pytest.raises(ValueError, match="no PTX"):
            f.inspect("ptx")
        return
    ptx = f.inspect("ptx")
    assert ".target sm_90" in ptx and ".entry ep_gpu" in ptx, ptx[:400]
    assert "Level 4: this loop stays on the CPU" not in f.explain()
    if PTXAS is None:
        pytest.skip("ptxas (CUDA toolkit) not found: the PTX was not assembled")
    ptxas_ok(ptx, tmp_path)


def saxpy_sin(a, x, y, out):
    for i in range(x.shape[0]):
        out[i] = a * x[i] + math.sin(y[i])


def sum_of_squares(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s


def int_reductions(a):
    total = 0
    hi = -(2 ** 63)
    for i in range(a.shape[0]):
        total += a[i]
        hi = max(hi, a[i])
    return total, hi


def hypots(x, y, out):
    for i in range(x.shape[0]):
        out[i] = math.hypot(x[i], y[i])


def scale(x, out):
    for i in range(x.shape[0]):
        out[i] = 2.0 * x[i]


def test_math_comes_from_libdevice(tmp_path):
    if not HAS_LIBDEVICE:
        pytest.skip("libdevice.10.bc (CUDA toolkit) not found")
    x = np.linspace(0, 1, 1000)
    y = np.linspace(1, 2, 1000)
    out = np.empty(1000)
    f = epochpp.jit(saxpy_sin, level=4)
    f(2.0, x, y, out)
    assert np.array_equal(out, 2.0 * x + np.sin(y))
    ptx = f.inspect("ptx")
    assert "__nv_sin" not in ptx or ".func" in ptx  # linked in, never left as an external call
    assert ".extern .func" not in ptx


def test_reductions_have_block_trees(tmp_path):
    x = np.arange(5000, dtype=np.float64)
    f = epochpp.jit(sum_of_squares, level=4)
    assert f(x) == sum_of_squares(x)
    ptx = f.inspect("ptx")
    assert "bar.sync" in ptx and "ep_smem" in ptx  # the in-block tree through shared memory
    a = np.arange(-3000, 3000, dtype=np.int64)
    g = epochpp.jit(int_reductions, level=4)
    assert g(a) == int_reductions(a)
    assert "atom.global.or.b32" in g.inspect("ptx")  # int64 overflow in the tree -> status word
    if PTXAS:
        ptxas_ok(f.inspect("ptx"), tmp_path)
        ptxas_ok(g.inspect("ptx"), tmp_path)


def test_loop_that_stays_on_the_cpu_says_why():
    x = np.arange(12.0)
    out = np.empty(12)
    f = epochpp.jit(hypots, level=4)
    f(x, x + 1, out)
    ref = np.empty(12)
    hypots(x, x + 1, ref)
    assert np.array_equal(out, ref)
    ex = f.explain()
    # math.hypot runs CPython's own algorithm (runtime/rt_abi.cpp), which has no GPU version
    assert "Level 4: this loop stays on the CPU: it calls math.hypot" in ex, ex
    assert "test_level4.py:" in ex  # the file and line of the loop


def test_memory_bound_loop_is_parallel_with_a_gpu_kernel_at_level4():
    # a loop that only moves memory runs on all CPU cores at Level 3 (when large enough) and has
    # a GPU kernel at Level 4
    x = np.arange(10.0)
    out = np.empty(10)
    f3 = epochpp.jit(scale, level=3)
    f3(x, out)
    assert "for[parallel] i" in f3.inspect("ir")
    f4 = epochpp.jit(scale, level=4)
    f4(x, out)
    assert np.array_equal(out, 2.0 * x)
    assert "for[parallel] i" in f4.inspect("ir")
    assert ".entry" in f4.inspect("ptx")


def test_no_ptx_below_level4():
    f = epochpp.jit(scale, level=3)
    f(np.ones(3), np.empty(3))
    with pytest.raises(ValueError, match="Level 4"):
        f.inspect("ptx")


def test_large_loop_without_gpu_gives_cpu_results():
    # big enough for the GPU's cost model: no device here, so the CPU runs it, exactly
    n = 300_000
    x = np.random.default_rng(1).random(n)
    y = np.random.default_rng(2).random(n)
    out = np.empty(n)
    epochpp.jit(saxpy_sin, level=4)(1.5, x, y, out)
    ref = np.empty(n)
    saxpy_sin(1.5, x, y, ref)
    assert np.array_equal(out, ref)
    a = np.arange(n, dtype=np.int64) - n // 2
    assert epochpp.jit(int_reductions, level=4)(a) == int_reductions(a)


SCRIPT = """
import numpy as np, epochpp
def scale(x, out):
    for i in range(x.shape[0]):
        out[i] = 2.0 * x[i]
f = epochpp.jit(scale, level=4)
f(np.ones(4), np.empty(4))
print(f.inspect("ptx").split(".target ")[1].split()[0])
"""


def test_dump_ptx_and_arch(tmp_path):
    script = tmp_path / "k.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, EPOCHPP_DUMP="ptx", EPOCHPP_DUMP_DIR=str(tmp_path / "dump"), EPOCHPP_GPU_ARCH="sm_80",
               EPOCHPP_CACHE_DIR="off")
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "sm_80"
    dumped = list((tmp_path / "dump").glob("scale.*.ptx"))
    assert dumped and ".target sm_80" in dumped[0].read_text()
    if PTXAS:
        ptxas_ok(dumped[0].read_text(), tmp_path, arch="sm_80")


_SIDECAR_SCRIPT = r'''
import sys
import numpy as np
import epochpp
sys.path.insert(0, sys.argv[1])
import kernels
k = kernels.BY_NAME["black_scholes"]
args = k.make(k.quick)
f = epochpp.jit(k.fn, level=4)
r = f(*args)
print(repr(float(r)))
print(f.explain())
'''


def test_ptx_comes_from_the_disk_cache(tmp_path):
    """A second process compiling the same Level 4 function takes the PTX, and which loops have
    kernels, from <key>.gpu next to the cached object instead of making them again."""
    env = dict(os.environ, EPOCHPP_CACHE_DIR=str(tmp_path / "cache"))
    bench = str(Path(__file__).resolve().parents[2] / "bench" / "python")
    runs = [subprocess.run([sys.executable, "-c", _SIDECAR_SCRIPT, bench], env=env, capture_output=True, text=True,
                           timeout=300) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    first, second = (r.stdout.splitlines() for r in runs)
    assert first[0] == second[0]  # the same result
    assert "PTX made in" in first[1] and "PTX from the cache" not in first[1]
    assert "PTX from the cache" in second[1] and "code from the cache" in second[1]
    kernels_first = first[1].split("Level 4: ")[1].split(" loop(s)")[0]
    assert kernels_first == second[1].split("Level 4: ")[1].split(" loop(s)")[0] != "0"
    sidecars = list((tmp_path / "cache").glob("*.gpu"))
    assert len(sidecars) == 1 and sidecars[0].read_text().startswith("epochpp-gpu 1\n")
    # a damaged sidecar is ignored: the PTX is made again
    sidecars[0].write_text("epochpp-gpu 1\nkernel 99 x\nptx 5\nab")
    r = subprocess.run([sys.executable, "-c", _SIDECAR_SCRIPT, bench], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == first[0] and "PTX made in" in r.stdout
