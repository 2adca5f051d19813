"""The dispatcher's contract beyond values: stages, dumps, settings, the GIL, Ctrl-C, references, caches."""
import gc
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

import diffharness  # noqa: F401  (puts the package on sys.path when it is not installed)

epochpp = diffharness.get_epochpp()

pytestmark = pytest.mark.skipif(diffharness.FAKE_JIT, reason="needs the real compiler")


def saxpy(a, x, y):
    for i in range(len(x)):
        y[i] = a * x[i] + y[i]
    return y


def test_inspect_stages():
    f = epochpp.jit(saxpy)
    x = np.arange(8.0)
    f(2.0, x, np.ones(8))
    ir = f.inspect("ir")
    assert "func saxpy(a: float, x: array[float64, 1d, C], y: array[float64, 1d, C])" in ir
    assert "bounds checked before the loop" in ir
    llvm = f.inspect("llvm")
    assert "define" in llvm and "fmul" in llvm
    asm = f.inspect("asm")
    assert "ret" in asm
    with pytest.raises(ValueError):
        f.inspect("nonsense")


def test_inspect_before_first_call_says_so():
    f = epochpp.jit(saxpy)
    with pytest.raises(RuntimeError, match="call the function once"):
        f.inspect("ir")


def test_dump_files(tmp_path, monkeypatch):
    monkeypatch.setenv("EPOCHPP_DUMP", "ir,llvm,asm")
    monkeypatch.setenv("EPOCHPP_DUMP_DIR", str(tmp_path))

    def dumped(n):
        s = 0
        for i in range(n):
            s += i
        return s

    assert epochpp.jit(dumped)(10) == 45
    names = sorted(p.name for p in tmp_path.iterdir())
    assert any(n.endswith(".ir") for n in names), names
    assert any(n.endswith(".ll") for n in names), names
    assert any(n.endswith(".s") for n in names), names
    ir = next(p for p in tmp_path.iterdir() if p.name.endswith(".ir")).read_text()
    assert "func dumped(n: int) -> int" in ir


def test_settings_registry_lists_every_variable():
    names = {s["env"]: s for s in epochpp.settings()}
    for env in ("EPOCHPP_LEVEL", "EPOCHPP_DISABLE", "EPOCHPP_DUMP", "EPOCHPP_DUMP_DIR", "EPOCHPP_NUM_THREADS",
                "EPOCHPP_CACHE_DIR", "EPOCHPP_GPU_MIN_ELEMENTS", "EPOCHPP_MAX_SIGNATURES", "EPOCHPP_WORKER_LINGER_US"):
        assert env in names and names[env]["doc"]


def test_decorator_forms_and_metadata():
    @epochpp.jit
    def a(x):
        """doc"""
        return x + 1

    @epochpp.jit()
    def b(x):
        return x + 2

    @epochpp.jit(level=2)
    def c(x):
        return x + 3

    assert (a(1), b(1), c(1)) == (2, 3, 4)
    assert a.__name__ == "a" and a.__doc__ == "doc" and a.py_func.__name__ == "a"
    assert epochpp.jit(a) is a
    with pytest.raises(TypeError):
        epochpp.jit(lambda x: x, bogus=1)


def test_keyword_and_default_arguments_run_in_the_interpreter():
    def kw(x, y):
        return x - y

    f = epochpp.jit(kw)
    assert f(5, y=2) == 3
    assert f.stats["interpreted_calls"] == 1

    def dflt(x, y=10):
        return x * y

    g = epochpp.jit(dflt)
    assert g(3) == 30 and "default arguments" in epochpp.explain(g)


def spin(n):
    s = 0.0
    for i in range(n):
        s += (i % 7) * 0.5
    return s


def test_gil_is_released_during_native_code():
    f = epochpp.jit(spin)
    f(10)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    time.sleep(0.01)
    before = len(ticks)
    f(400_000_000)  # ~0.3-1 s of native work
    after = len(ticks)
    stop.set()
    t.join()
    assert after - before > 20, "the other thread did not run while compiled code ran"


def test_ctrl_c_interrupts_a_long_compiled_loop():
    f = epochpp.jit(spin)
    f(10)
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        f(50_000_000_000)  # minutes of work
    elapsed = time.perf_counter() - t0 - 0.2
    assert elapsed < 0.5, f"KeyboardInterrupt took {elapsed:.3f} s"


def deep(n):
    if n == 0:
        return 0
    return 1 + deep(n - 1)


def test_recursion_limit_raises_recursion_error():
    f = epochpp.jit(deep)
    assert f(100) == 100
    with pytest.raises(RecursionError):
        f(100_000)


def make_arrays(a):
    b = a * 2.0
    c = np.zeros(len(a))
    return b, c, a[1:], np.sum(np.sqrt(a))


def test_no_reference_leaks():
    f = epochpp.jit(make_arrays)
    a = np.arange(100.0)
    f(a)
    gc.collect()
    base_a = sys.getrefcount(a)
    for _ in range(200):
        f(a)
    gc.collect()
    assert sys.getrefcount(a) == base_a
    if hasattr(sys, "gettotalrefcount"):  # debug builds only
        return
    import tracemalloc
    tracemalloc.start()
    for _ in range(100):
        f(a)
    snap1 = tracemalloc.take_snapshot()
    for _ in range(2000):
        f(a)
    snap2 = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in snap2.compare_to(snap1, "filename") if s.size_diff > 0)
    assert grown < 200_000, f"memory grew by {grown} bytes over 2000 calls"


def test_signature_cache_is_bounded(monkeypatch):
    monkeypatch.setenv("EPOCHPP_MAX_SIGNATURES", "3")

    def ident(x):
        return x

    f = epochpp.jit(ident)
    values = [1, 2.5, True, np.float32(1), np.int32(3), np.int64(4), (1, 2)]
    for v in values:
        assert f(v) == v
    assert len(f.signatures) == 3
    assert f.stats["interpreted_calls"] == len(values) - 3


def test_global_rebinding_is_seen():
    ns = {}
    exec("K = 3\ndef g(x):\n    return x * K\n", ns)
    import linecache
    # give the exec'd function a real source so the frontend can read it
    src = "K = 3\ndef g(x):\n    return x * K\n"
    linecache.cache["<epochpp-test-global>"] = (len(src), None, src.splitlines(True), "<epochpp-test-global>")
    code = compile(src, "<epochpp-test-global>", "exec")
    ns = {}
    exec(code, ns)
    f = epochpp.jit(ns["g"])
    assert f(2) == 6 and f.stats["native_calls"] == 1
    ns["K"] = 10
    assert f(2) == 20
    ns["K"] = 2.5
    assert f(2) == 5.0 and type(f(2)) is float


def test_ctrl_c_after_user_installs_a_sigint_handler():
    f = epochpp.jit(spin)
    f(10)
    seen = []
    old = signal.signal(signal.SIGINT, lambda s, fr: (seen.append(s), (_ for _ in ()).throw(KeyboardInterrupt())))
    try:
        timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
        t0 = time.perf_counter()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            f(50_000_000_000)
        assert time.perf_counter() - t0 < 0.7
        assert seen == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, old)


def while_continue(n):
    i = 0
    s = 0
    while i < n:
        i += 1
        if i % 2 == 0:
            continue
        s += 1
    return s


def test_ctrl_c_in_a_while_loop_that_continues():
    f = epochpp.jit(while_continue)
    assert f(10) == 5
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        f(10 ** 15)
    assert time.perf_counter() - t0 < 0.7


def test_ctrl_c_after_the_handler_is_replaced_in_c():
    # _signal.signal installs Python's C handler directly, dropping epochpp's (as C extensions
    # do); compiled code's polls notice within ~20 ms and chain it in again
    import _signal
    f = epochpp.jit(while_continue)
    assert f(10) == 5
    old = _signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
        t0 = time.perf_counter()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            f(3 * 10 ** 9)  # seconds of work
        assert time.perf_counter() - t0 < 0.7
    finally:
        signal.signal(signal.SIGINT, old)


def many_arrays(a):
    return a, a, a, a, a, a, a, a, a, a, a[1:]


def test_large_results_are_returned():
    a = np.arange(3.0)
    r = epochpp.jit(many_arrays)(a)
    assert len(r) == 11 and r[0] is a and r[10].base is a


def tuple_writer(t, k):
    a = t[0]
    for i in range(len(a)):
        a[i] = a[i] + 1.0
        k = k * 4
    return k


def test_arrays_inside_tuples_are_restored_on_deopt():
    a = np.zeros(3)
    ref = np.zeros(3)
    expected = tuple_writer((ref, 0), 2 ** 61)
    f = epochpp.jit(tuple_writer)
    assert f((a, 0), 2 ** 61) == expected
    assert (a == ref).all()
    assert f.stats["deopts"] == 1


def test_argument_copies_are_reused_and_still_restore_exactly():
    # The copy a call keeps of the arrays it writes is kept afterwards as a spare for the next
    # copy of an array of the same shape and dtype: each call must still be undone to its own
    # arguments' contents, whether it deopts (k overflows) or not, called directly or in
    # parallel_map (several copies alive at once).
    f = epochpp.jit(tuple_writer)
    g = np.random.default_rng(5)
    for rep in range(6):
        k = 2 ** 61 if rep % 2 else 1
        a = g.standard_normal(20)  # k = 1: 4**20 fits; k = 2**61 overflows
        ref = a.copy()
        want = tuple_writer((ref, 0), k)
        assert f((a, 0), k) == want
        assert np.array_equal(a, ref), rep
    before = f.stats["deopts"]
    arrays = [g.standard_normal(20) for _ in range(5)]
    refs = [x.copy() for x in arrays]
    ks = [2 ** 61, 1, 2 ** 61, 1, 1]
    want = [tuple_writer((r, 0), k) for r, k in zip(refs, ks)]
    assert epochpp.parallel_map(f, [(x, 0) for x in arrays], ks) == want
    for x, r in zip(arrays, refs):
        assert np.array_equal(x, r)
    assert f.stats["deopts"] == before + 2 and before == 3


def rows_writer(a, k):
    t = 0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] = a[i, j] * 2 + 1
        t += k  # overflows after a few rows for k = 2**61: the call deopts
    return t


def _big_arrays(g):
    """Arrays of 0.5 MB, over the size copied on every core (runtime/dispatcher.cpp, copyArray),
    not a whole number of its 64 KB pieces: C order, Fortran order, a strided view, int64."""
    base = g.standard_normal((301, 406))
    return [g.standard_normal((301, 203)), np.asfortranarray(g.standard_normal((301, 203))),
            base[:, ::2], g.integers(-9, 9, (301, 203))]


def test_large_copies_on_every_core_restore_exactly(monkeypatch):
    # At Level 3 (a parallel loop), the copy of a large array a call writes is made on every
    # core: a deopting call must still put back every byte, whatever the layout.
    monkeypatch.setenv("EPOCHPP_PARALLEL_MIN_WORK", "0")
    f = epochpp.jit(rows_writer, level=3)
    g = np.random.default_rng(7)
    for rep, a in enumerate(_big_arrays(g) + _big_arrays(g)):
        k = 2 ** 61 if rep % 2 == 0 else 3
        ref = a.copy()
        want = rows_writer(ref, k)
        assert f(a, k) == want
        assert np.array_equal(a, ref), rep
    assert f.stats["deopts"] == 4
    assert f.explain().count("Level 3: 1 loop(s) run on all cores") == 4, f.explain()  # native code, each
    arrays = _big_arrays(g)
    refs = [x.copy() for x in arrays]
    ks = [2 ** 61, 1, 2 ** 61, 2 ** 61]
    want = [rows_writer(r, k) for r, k in zip(refs, ks)]
    assert epochpp.parallel_map(f, arrays, ks) == want
    for x, r in zip(arrays, refs):
        assert np.array_equal(x, r)


def test_error_notes_name_the_compiled_line():
    def bad(a, i):
        return a[i]

    f = epochpp.jit(bad)
    with pytest.raises(IndexError) as ei:
        f(np.zeros(2), 5)
    if sys.version_info >= (3, 11):
        assert any("test_jit_api.py" in n and "bad" in n for n in ei.value.__notes__)


CACHE_SCRIPT = """
import sys, time
import numpy as np
import epochpp

def kern(a):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * a[i]
    return s

f = epochpp.jit(kern)
t0 = time.perf_counter()
r = f(np.arange(10.0))
print(r, time.perf_counter() - t0, "from the cache" in f.explain() or "code from the cache" in f.explain())
"""


def test_disk_cache_across_processes(tmp_path):
    import subprocess
    script = tmp_path / "k.py"
    script.write_text(CACHE_SCRIPT)
    env = dict(os.environ, EPOCHPP_CACHE_DIR=str(tmp_path / "cache"))

    def run():
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        value, seconds, hit = out.stdout.split()
        return float(value), float(seconds), hit == "True"

    v1, t1, hit1 = run()
    v2, t2, hit2 = run()
    assert v1 == v2 == 285.0
    assert not hit1 and hit2
    assert len(list((tmp_path / "cache").glob("*.o"))) == 1
    # a changed function gets a new entry (never a stale object)
    script.write_text(CACHE_SCRIPT.replace("a[i] * a[i]", "a[i] * 2.0"))
    v3, _, hit3 = run()
    assert v3 == 90.0 and not hit3
    assert len(list((tmp_path / "cache").glob("*.o"))) == 2
    r = subprocess.run([sys.executable, "-m", "epochpp", "cache", "clear"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "removed 2" in r.stdout
    r = subprocess.run([sys.executable, "-m", "epochpp", "cache", "info"], capture_output=True, text=True, env=env)
    assert "entries   : 0" in r.stdout


def _elf_section_names(data):
    """The section names of a 64-bit little-endian ELF object."""
    import struct
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def header(i):
        return struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
    strtab = header(shstrndx)
    names = []
    for i in range(shnum):
        off = strtab[4] + header(i)[0]
        names.append(data[off:data.index(b"\0", off)].decode())
    return names


def test_cached_objects_use_the_jits_code_model(tmp_path, monkeypatch):
    # The disk cache's objects must be the code the in-memory JIT makes: small code model, PIC.
    # They were once emitted with the JIT's large default (.ltext, movabs per address), 10% slower.
    monkeypatch.setenv("EPOCHPP_CACHE_DIR", str(tmp_path))

    def tri(n):
        s = 0
        for i in range(n):
            s += i * i
        return s

    f = epochpp.jit(tri)
    assert f(10) == 285
    objs = list(tmp_path.glob("*.o"))
    assert len(objs) == 1
    names = _elf_section_names(objs[0].read_bytes())
    assert ".text" in names and not any(n.startswith(".ltext") for n in names), names
    assert ".ltext" not in f.inspect("asm")


def _grow(x):  # int64 arithmetic that overflows for large x: deopts
    return x * x * x


def _half(x):  # float arithmetic only: never deopts
    return x * 0.5


def _apply_grow(a, out):
    for i in range(len(a)):
        out[i] += _grow(int(a[i]))  # reads what it wrote: a re-run without the copy would add twice
    return out


def _apply_half(a, out):
    for i in range(len(a)):
        out[i] = _half(a[i])
    return out


def test_callee_facts_decide_the_argument_copy():
    # a caller that writes its arguments is copied before each call only when something it
    # calls may deopt; a callee's own analysis decides (not "every call may deopt")
    grow = epochpp.jit(_apply_grow)
    a = np.array([2, 3, 2**30, 5], dtype=np.int64)
    out, ref = np.zeros(4, np.int64), np.zeros(4, np.int64)
    with pytest.raises(OverflowError):
        _apply_grow(a, ref)  # the interpreter's answer: the big int does not fit the array
    with pytest.raises(OverflowError):
        grow(a, out)
    assert np.array_equal(out, ref)  # exact partial writes after the deopt
    assert "copied before each call" in epochpp.explain(grow)
    half = epochpp.jit(_apply_half)
    x = np.arange(5.0)
    assert np.array_equal(half(x, np.zeros(5)), _apply_half(x, np.zeros(5)))
    assert "copied before each call" not in epochpp.explain(half)


def _wrap_rows(a, out, x, m):
    # int % never leaves int64 (x % -1 is 0, even for -2**63); `//` with a proven
    # non-negative numerator and positive divisor neither
    for i in range(len(out)):
        out[i] = a[i % m]
        out[i] = x % m
        out[i] = i // 3
    return out


def _floor_any(a, out, d):
    for i in range(len(a)):
        out[i] = int(a[i]) // d  # Python ints: -2**63 // -1 is 2**63, so this one may deopt
    return out


def test_mod_never_deopts_so_no_argument_copy():
    f = epochpp.jit(_wrap_rows)
    a = np.array([-(2**63), 2**63 - 1, -7, 7, 0], dtype=np.int64)
    for x in (-(2**63), 2**63 - 1, -7, 0):
        for m in (-1, 1, 3, -3):
            want = _wrap_rows(a, np.zeros(5, np.int64), x, m)
            assert np.array_equal(f(a, np.zeros(5, np.int64), x, m), want), (x, m)
    assert "copied before each call" not in epochpp.explain(f)
    with pytest.raises(ZeroDivisionError):
        f(a, np.zeros(5, np.int64), 1, 0)
    g = epochpp.jit(_floor_any)
    out, ref = np.zeros(5, np.int64), np.zeros(5, np.int64)
    with pytest.raises(OverflowError):
        _floor_any(a, ref, -1)  # 2**63 does not fit the int64 array
    with pytest.raises(OverflowError):
        g(a, out, -1)
    assert np.array_equal(out, ref)
    assert "copied before each call" in epochpp.explain(g)


def _dot(a):
    return np.dot(a, a)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_integer_dot_wraps_like_numpy():
    # np.dot of int arrays wraps modulo 2**bits as NumPy does (the runtime now multiplies as
    # unsigned: the signed product was undefined behaviour, found by UBSan via the fuzzer)
    f = epochpp.jit(_dot)
    for a in (np.array([65536, 3], np.int32), np.array([2**62, 5], np.int64),
              np.arange(10, dtype=np.int64)[::3] * 2**40, np.array([-70000, 70000], np.int32)):
        want, got = _dot(a), f(a)
        assert want == got and type(want) is type(got), (a, want, got)
