"""Level 4 test helpers: ep_rt_gpu_for called through ctypes with hand-made launch blocks (runtime/abi.h),
the fake CUDA driver (tests/cpp/fake_cuda) built on demand, and a real PTX kernel for machines with a GPU."""
import ctypes
import os
import shutil
import subprocess

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_SOURCE = os.path.join(HERE, "..", "cpp", "fake_cuda", "fake_libcuda.cpp")


class EpArray(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("shape", ctypes.c_int64 * 3), ("strides", ctypes.c_int64 * 3),
                ("owner", ctypes.c_void_p)]


class EpGpuArray(ctypes.Structure):
    _fields_ = [("offset", ctypes.c_int64), ("written", ctypes.c_int32), ("itemsize", ctypes.c_int32),
                ("ndim", ctypes.c_int32), ("pad", ctypes.c_int32)]


class EpGpuLaunch(ctypes.Structure):
    _fields_ = [("ptx", ctypes.c_char_p), ("kernel", ctypes.c_char_p), ("n", ctypes.c_int64),
                ("start", ctypes.c_int64), ("step", ctypes.c_int64), ("work", ctypes.c_int64),
                ("vals", ctypes.c_void_p), ("vals_size", ctypes.c_int64), ("arrays", ctypes.POINTER(EpGpuArray)),
                ("narrays", ctypes.c_int32), ("nred", ctypes.c_int32), ("partials", ctypes.c_void_p),
                ("max_blocks", ctypes.c_int32), ("line", ctypes.c_int32), ("nblocks", ctypes.c_int64)]


class EpCtx(ctypes.Structure):
    _fields_ = [("exc_kind", ctypes.c_int32), ("exc_line", ctypes.c_int32), ("exc_msg", ctypes.c_char * 240),
                ("owned", ctypes.c_void_p), ("depth_limit", ctypes.c_int32), ("pad", ctypes.c_int32)]


class Vals(ctypes.Structure):  # the caller's block of locals: two arrays (in at byte 0, out at byte 64)
    _fields_ = [("inp", EpArray), ("out", EpArray), ("scalar", ctypes.c_int64)]


EP_OK, EP_ERROR, EP_DEOPT = 0, 1, 2

# out[i] = 2 * in[i] for float64, i = start + k * step; the status word is left alone (runtime/abi.h's kernel
# signature). Checked with `ptxas -arch=sm_90`.
DOUBLE_PTX = """\
.version 7.8
.target sm_80
.address_size 64

// out[i] = 2 * in[i] (float64) for i = start + k * step, k in [0, n); the status word is left alone.
// vals: EpArray in at byte 0 (data +0, strides[0] +32), EpArray out at byte 64 (data +64, strides[0] +96).
.visible .entry ep_test_double(
    .param .u64 p_vals, .param .u64 p_n, .param .u64 p_start, .param .u64 p_step,
    .param .u64 p_partials, .param .u64 p_status)
{
    .reg .pred %p<2>;
    .reg .b32 %r<5>;
    .reg .b64 %rd<24>;
    .reg .f64 %fd<3>;

    ld.param.u64 %rd1, [p_vals];
    ld.param.u64 %rd2, [p_n];
    ld.param.u64 %rd3, [p_start];
    ld.param.u64 %rd4, [p_step];
    cvta.to.global.u64 %rd5, %rd1;
    ld.global.u64 %rd6, [%rd5];
    cvta.to.global.u64 %rd6, %rd6;
    ld.global.u64 %rd7, [%rd5+32];
    ld.global.u64 %rd8, [%rd5+64];
    cvta.to.global.u64 %rd8, %rd8;
    ld.global.u64 %rd9, [%rd5+96];
    mov.u32 %r1, %ctaid.x;
    mov.u32 %r2, %ntid.x;
    mov.u32 %r3, %tid.x;
    mov.u32 %r4, %nctaid.x;
    mul.wide.u32 %rd10, %r1, %r2;
    cvt.u64.u32 %rd11, %r3;
    add.s64 %rd12, %rd10, %rd11;
    mul.wide.u32 %rd13, %r4, %r2;
$L_loop:
    setp.ge.s64 %p1, %rd12, %rd2;
    @%p1 bra $L_done;
    mul.lo.s64 %rd14, %rd12, %rd4;
    add.s64 %rd15, %rd3, %rd14;
    mul.lo.s64 %rd16, %rd15, %rd7;
    add.s64 %rd17, %rd6, %rd16;
    ld.global.f64 %fd1, [%rd17];
    add.f64 %fd2, %fd1, %fd1;
    mul.lo.s64 %rd18, %rd15, %rd9;
    add.s64 %rd19, %rd8, %rd18;
    st.global.f64 [%rd19], %fd2;
    add.s64 %rd12, %rd12, %rd13;
    bra.uni $L_loop;
$L_done:
    ret;
}
"""


def view(a):
    e = EpArray()
    e.data = a.ctypes.data
    e.shape[0] = a.shape[0]
    e.strides[0] = a.strides[0]
    return e


def launch_double(core, inp, out, n=None, ptx=DOUBLE_PTX, line=42):
    """Runs the kernel ep_test_double over 1-D float64 arrays through ep_rt_gpu_for; returns its status."""
    fn = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.POINTER(EpCtx), ctypes.POINTER(EpGpuLaunch))(core._gpu_for_address())
    vals = Vals(view(inp), view(out), 77)
    arrays = (EpGpuArray * 2)(EpGpuArray(Vals.inp.offset, 0, 8, 1, 0), EpGpuArray(Vals.out.offset, 1, 8, 1, 0))
    ptx_buf = ctypes.create_string_buffer(ptx.encode())
    launch_double._keep = ptx_buf  # the runtime caches the module by the text's address: keep it alive
    L = EpGpuLaunch(ptx=ctypes.cast(ptx_buf, ctypes.c_char_p), kernel=b"ep_test_double",
                    n=inp.shape[0] if n is None else n, start=0, step=1, work=10,
                    vals=ctypes.addressof(vals), vals_size=ctypes.sizeof(vals), arrays=arrays, narrays=2, nred=0,
                    partials=None, max_blocks=1024, line=line, nblocks=0)
    ctx = EpCtx()
    return fn(ctypes.byref(ctx), ctypes.byref(L))


def fake_hook_double(lib):
    """Makes the fake driver play ep_test_double in Python (numpy on the fake's host-memory "device")."""
    proto = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64), ctypes.c_uint32,
                             ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p)

    def play(kernel, params, grid, block, shmem, user):
        v = Vals.from_address(params[0])
        n, start, step = params[1], ctypes.c_int64(params[2]).value, ctypes.c_int64(params[3]).value
        src = np.ctypeslib.as_array(ctypes.cast(v.inp.data, ctypes.POINTER(ctypes.c_double)), (v.inp.shape[0],))
        dst = np.ctypeslib.as_array(ctypes.cast(v.out.data, ctypes.POINTER(ctypes.c_double)), (v.out.shape[0],))
        idx = start + step * np.arange(n)
        dst[idx] = 2 * src[idx]

    hook = proto(play)
    lib.fake_cuda_set_launch_hook(hook, None)
    return hook  # keep it alive


def build_fake_driver(directory):
    """Compiles tests/cpp/fake_cuda into directory/libfakecuda.so; None when there is no C++ compiler."""
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
    if not cxx:
        return None
    out = os.path.join(directory, "libfakecuda.so")
    subprocess.run([cxx, "-std=c++17", "-O1", "-shared", "-fPIC", "-o", out, FAKE_SOURCE], check=True)
    return out
