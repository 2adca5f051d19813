"""tests/python/test_level4_fake.py — Level 4 end to end without a GPU: compiled code offers its loop
to the GPU runtime, which runs against the fake CUDA driver (tests/cpp/fake_cuda); the fake's launch
hook plays the kernel in NumPy on the "device" copies. What this checks is everything around the
kernel: the host code's launch block (kernel name, n/start/step, the device copy of the caller's
locals with array pointers moved to device buffers), copy-back of written arrays, reduction partials
combined in block order, the status word sending the loop back to the CPU (exact exceptions), and
residency across calls. The PTX itself is checked by ptxas in test_level4.py; running it needs a GPU
(tests marked `gpu`)."""
import os
import subprocess
import sys
import textwrap

import pytest

from gpu_helpers import build_fake_driver


@pytest.fixture(scope="module")
def fake_driver(tmp_path_factory):
    path = build_fake_driver(str(tmp_path_factory.mktemp("fakecuda")))
    if path is None:
        pytest.skip("no C++ compiler to build the fake CUDA driver")
    return path


def run(source, fake, tmp_path, **env):
    script = tmp_path / "level4_case.py"  # compiled functions need a source file
    script.write_text(PRELUDE + textwrap.dedent(source))
    e = dict(os.environ, EPOCHPP_CUDA_LIBRARY=fake, EPOCHPP_GPU_MIN_ELEMENTS="1", EPOCHPP_GPU_MIN_SPEEDUP="0",
             EPOCHPP_PARALLEL_MIN_WORK="0", EPOCHPP_CACHE_DIR="off", PYTHONPATH=os.pathsep.join(sys.path))
    e.update(env)
    p = subprocess.run([sys.executable, str(script)], env=e, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


# In the child: the fake library (the same one the runtime dlopens), and a hook that finds the
# kernel's arrays in the device copy of the locals block. `layout` lists (name, kind) of the
# function's locals in order: "f" float, "i" int, "a" array (64 bytes: data, shape[3], strides[3], owner).
PRELUDE = '''
import ctypes, os, sys, math
import numpy as np
import epochpp
lib = ctypes.CDLL(os.environ["EPOCHPP_CUDA_LIBRARY"])
HOOK = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64), ctypes.c_uint32, ctypes.c_uint32,
                        ctypes.c_uint32, ctypes.c_void_p)

class Counters(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int64) for n in ("inits alloc_calls allocs frees live_bytes peak_bytes host_allocs "
                "h2d_bytes d2h_bytes h2d_copies d2h_copies pinned_copies module_loads launches launches_run "
                "queries ctx_pushes ctx_pops").split()] + [("last_params", ctypes.c_uint64 * 6),
                ("last_grid", ctypes.c_uint32), ("last_block", ctypes.c_uint32), ("last_shmem", ctypes.c_uint32),
                ("last_kernel", ctypes.c_char * 128)]
lib.fake_cuda_counters.restype = ctypes.POINTER(Counters)
counters = lambda: lib.fake_cuda_counters().contents

def locals_of(params, layout):
    """{name: float | int | ndarray view of device memory} from the kernel's vals block."""
    out, off = {}, 0
    for name, kind in layout:
        size = 64 if kind == "a" else 8
        off = (off + 7) // 8 * 8
        if kind == "f":
            out[name] = ctypes.c_double.from_address(params[0] + off).value
        elif kind == "i":
            out[name] = ctypes.c_int64.from_address(params[0] + off).value
        else:
            data = ctypes.c_uint64.from_address(params[0] + off).value
            n = ctypes.c_int64.from_address(params[0] + off + 8).value
            out[name] = np.ctypeslib.as_array(ctypes.cast(data, ctypes.POINTER(ctypes.c_double)), (n,))
        off += size
    return out

def grid_iterations(params, grid, block):
    """Per block, the iterations its threads run (grid-stride: thread t runs t, t + grid*block, ...)."""
    n = params[1]
    total = grid * block
    k = np.arange(n)
    return [k[(k % total) // block == b] for b in range(grid)]
'''


def test_element_wise_loop_runs_through_the_runtime(fake_driver, tmp_path):
    out = run('''
        def saxpy(a, x, y, out):
            for i in range(x.shape[0]):
                out[i] = a * x[i] + y[i]

        seen = []
        def play(kernel, params, grid, block, shmem, user):
            v = locals_of(params, [("a", "f"), ("x", "a"), ("y", "a"), ("out", "a")])
            n, start, step = params[1], ctypes.c_int64(params[2]).value, ctypes.c_int64(params[3]).value
            idx = start + step * np.arange(n)
            v["out"][idx] = v["a"] * v["x"][idx] + v["y"][idx]
            seen.append((kernel.decode(), n, start, step, grid, block))
        hook = HOOK(play)
        lib.fake_cuda_set_launch_hook(hook, None)
        f = epochpp.jit(saxpy, level=4)
        x = np.arange(1000.0); y = np.ones(1000); out = np.zeros(1000)
        f(3.0, x, y, out)
        assert np.array_equal(out, 3.0 * x + 1.0), out[:5]
        kernel, n, start, step, grid, block = seen[0]
        assert kernel.startswith("ep_gpu_") and (".entry " + kernel) in f.inspect("ptx")
        assert (n, start, step) == (1000, 0, 1) and block >= 32 and grid * block >= 1  # grid-stride covers the rest
        # the device copy of x and y stays resident: the second call uploads nothing but the locals block
        up = counters().h2d_bytes
        f(2.0, x, y, out)
        assert np.array_equal(out, 2.0 * x + 1.0)
        grew = counters().h2d_bytes - up
        assert grew < 8000, grew   # x and y are 8000 bytes each
        st = epochpp.gpu_stats()["total"]
        assert st["launches"] == 2 and st["fallbacks"] == 0 and st["resident_hits"] >= 2, st
        print("ok", f.explain().split("Level 4:")[1][:200])
    ''', fake_driver, tmp_path)
    assert out.startswith("ok"), out
    assert "2 GPU run(s), 0 on the CPU" in out, out


def test_reduction_partials_are_combined_in_block_order(fake_driver, tmp_path):
    run('''
        def total(x):
            s = 0
            for i in range(x.shape[0]):
                s += x[i] * 3
            return s

        def play(kernel, params, grid, block, shmem, user):
            v = locals_of(params, [("x", "a")])
            x = v["x"].view(np.int64)
            parts = (ctypes.c_int64 * (2048)).from_address(params[4])
            for b, ks in enumerate(grid_iterations(params, grid, block)):
                parts[b] = int(np.sum(x[ks] * 3))
        hook = HOOK(play)
        lib.fake_cuda_set_launch_hook(hook, None)
        x = np.arange(-5000, 7000, dtype=np.int64)
        r = epochpp.jit(total, level=4)(x)
        assert r == total(x) and type(r) is type(total(x)), (r, total(x))
        assert epochpp.gpu_stats()["total"]["launches"] == 1
    ''', fake_driver, tmp_path)


def test_status_word_sends_the_loop_back_to_the_cpu_exactly(fake_driver, tmp_path):
    run('''
        def shifted(x, out):
            for i in range(out.shape[0]):
                out[i] = 2.0 * x[i + 1]

        def play(kernel, params, grid, block, shmem, user):
            v = locals_of(params, [("x", "a"), ("out", "a")])
            v["out"][:] = -7.0  # garbage the host must never see
            ctypes.c_int32.from_address(params[5]).value = 1  # an iteration raised (the IndexError)
        hook = HOOK(play)
        lib.fake_cuda_set_launch_hook(hook, None)
        x = np.array([1.0, 2.0, 3.0, 4.0]); out = np.zeros(4)
        try:
            epochpp.jit(shifted, level=4)(x, out)
        except IndexError as e:
            assert str(e) == "index 4 is out of bounds for axis 0 with size 4", e
        else:
            raise AssertionError("no IndexError")
        assert list(out) == [4.0, 6.0, 8.0, 0.0], out  # CPython's partial writes, nothing from the "GPU"
        st = epochpp.gpu_stats()["total"]
        assert st["launches"] == 1 and st["fallbacks"] == 1 and "raised" in st["last_reason"], st
    ''', fake_driver, tmp_path)


def test_failed_launch_falls_back_with_the_drivers_reason(fake_driver, tmp_path):
    run('''
        def scale(x, out):
            for i in range(x.shape[0]):
                out[i] = 2.0 * x[i]
        lib.fake_cuda_fail(b"launch")
        f = epochpp.jit(scale, level=4)
        x = np.arange(50.0); out = np.zeros(50)
        f(x, out)
        assert np.array_equal(out, 2.0 * x)
        ex = f.explain()
        assert "0 GPU run(s), 1 on the CPU" in ex and "cuLaunchKernel failed" in ex, ex
    ''', fake_driver, tmp_path)
