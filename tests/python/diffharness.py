"""Differential-test harness: run a function under CPython and under epochpp.jit, compare.

The compiled run must agree with CPython on
  * the return value AND its type(), recursively through tuples/lists (bool is not int,
    np.float64 is not float); floats bit for bit (-0.0 != 0.0) unless a test opts into
    ``rtol``/``atol``; any NaN equals any NaN (payload and sign of a NaN are ignored);
  * returned arrays: dtype, shape, values, and aliasing (is the result one of the
    argument arrays, does it share memory with it -- views must stay views);
  * the exception type when CPython raises (and optionally its message);
  * every array argument after the call (dtype, shape, values): side effects, partial
    writes before an exception, writes through views;
  * what was printed to sys.stdout.

With ``native=True`` (the default) the jitted call must really have run compiled code:
``disp.stats["native_calls"]`` must grow, so a silent fallback to the interpreter fails
the test. See ``check`` for the other modes.

Arguments are given either as a tuple (deep-copied for each run) or as a zero-argument
factory that builds fresh arguments (use a factory for views such as ``a[::2]``: a deep
copy of a view is a new contiguous array, not a view).

Harness self-test: with ``EPOCHPP_TEST_FAKE_JIT=1`` the real compiler is replaced by a
fake dispatcher that simply calls the Python function and counts every call as native.
This is ONLY for checking the tests themselves against CPython while the compiler is
being written; it must never be used to judge the compiler.
"""

import contextlib
import copy
import io
import math
import os
import re
import struct
import warnings

import numpy as np
import pytest

FAKE_JIT = os.environ.get("EPOCHPP_TEST_FAKE_JIT", "") not in ("", "0")

_STAT_KEYS = ("native_calls", "interpreted_calls", "deopts", "compiles")


# --------------------------------------------------------------------------------------
# Harness self-test only (EPOCHPP_TEST_FAKE_JIT=1): an identity "jit".
# --------------------------------------------------------------------------------------
class _FakeDispatcher:
    """Identity dispatcher used only by the harness self-test; counts calls as native."""

    def __init__(self, fn):
        self.py_func = fn
        self.stats = {k: 0 for k in _STAT_KEYS}
        self._sigs = set()

    def __call__(self, *args, **kwargs):
        sig = tuple(type(a) for a in args)
        if sig not in self._sigs:
            self._sigs.add(sig)
            self.stats["compiles"] += 1
        self.stats["native_calls"] += 1
        return self.py_func(*args, **kwargs)

    def inspect(self, what):
        return f"; fake {what} for {self.py_func.__name__}\ndefine fake"


class _FakeEpochpp:
    """Stands in for the epochpp module in the harness self-test."""

    is_fake = True

    @staticmethod
    def jit(fn=None, **options):
        if fn is None:
            return lambda f: _FakeDispatcher(f)
        return _FakeDispatcher(fn)

    @staticmethod
    def explain(disp):
        return f"fake jit: {disp.py_func.__name__} runs natively"


# --------------------------------------------------------------------------------------
# Access to the module under test.
# --------------------------------------------------------------------------------------
_epochpp = None


def get_epochpp():
    """The epochpp module (or the fake in self-test mode); fails the test if missing."""
    global _epochpp
    if _epochpp is None:
        if FAKE_JIT:
            _epochpp = _FakeEpochpp()
        else:
            import importlib.util  # noqa: PLC0415
            import sys  # noqa: PLC0415

            if importlib.util.find_spec("epochpp") is None:  # not installed: source tree
                repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
                sys.path.insert(0, os.path.join(repo, "python"))
            hint = (
                "Build/install the package, or run with EPOCHPP_TEST_FAKE_JIT=1 to "
                "self-test the harness against CPython only."
            )
            try:
                import epochpp  # noqa: PLC0415
            except Exception as err:  # pragma: no cover - depends on the build
                pytest.fail(f"import epochpp failed: {type(err).__name__}: {err}. {hint}",
                            pytrace=False)
            missing = [n for n in ("jit", "explain") if not hasattr(epochpp, n)]
            if missing:
                where = getattr(epochpp, "__file__", None) or list(getattr(epochpp, "__path__", []))
                pytest.fail(f"epochpp ({where}) has no {missing}. {hint}",
                            pytrace=False)
            _epochpp = epochpp
    return _epochpp


_DISPATCHERS = {}


def jitted(fn, fresh=False):
    """The dispatcher for ``fn``; cached per function so signatures compile once."""
    if fresh:
        return get_epochpp().jit(fn)
    disp = _DISPATCHERS.get(fn)
    if disp is None:
        disp = get_epochpp().jit(fn)
        _DISPATCHERS[fn] = disp
    return disp


def stats_of(disp):
    st = dict(disp.stats)
    missing = [k for k in _STAT_KEYS if k not in st]
    assert not missing, f"dispatcher.stats lacks {missing}: {st!r}"
    return st


# --------------------------------------------------------------------------------------
# Comparison.
# --------------------------------------------------------------------------------------
def _float_bits(x):
    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def _is_float_scalar(x):
    return isinstance(x, (float, np.floating))


def _scalar_equal(a, b, rtol, atol):
    """Equal values of the same type; floats bitwise unless a tolerance is given."""
    if _is_float_scalar(a):
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        if rtol is None and atol is None:
            if isinstance(a, np.floating) and a.dtype.itemsize != 8:
                return np.array(a).tobytes() == np.array(b).tobytes()
            return _float_bits(fa) == _float_bits(fb)
        if math.isinf(fa) or math.isinf(fb):
            return fa == fb
        return abs(fa - fb) <= (atol or 0.0) + (rtol or 0.0) * abs(fa)
    if isinstance(a, (complex, np.complexfloating)):
        return _scalar_equal(a.real, b.real, rtol, atol) and _scalar_equal(
            a.imag, b.imag, rtol, atol
        )
    return bool(a == b)


def _array_diff(a, b, rtol, atol):
    """None when the arrays agree, else a description of the first difference."""
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} != {b.dtype}"
    if a.shape != b.shape:
        return f"shape {a.shape} != {b.shape}"
    if a.size == 0:
        return None
    if a.dtype.kind in "fc":
        if a.dtype.kind == "c":
            d = _array_diff(a.real.copy(), b.real.copy(), rtol, atol)
            return d or _array_diff(a.imag.copy(), b.imag.copy(), rtol, atol)
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        if rtol is None and atol is None:
            ia = np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")
            ib = np.ascontiguousarray(b).view(f"u{b.dtype.itemsize}")
            bad = (ia != ib) & ~(nan_a & nan_b)
        else:
            with np.errstate(all="ignore"):
                close = np.isclose(a, b, rtol=rtol or 0.0, atol=atol or 0.0, equal_nan=True)
            bad = ~close
    else:
        bad = a != b
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        return (
            f"{int(np.count_nonzero(bad))} element(s) differ, first at {idx}: "
            f"{a[idx]!r} vs {b[idx]!r}"
        )
    return None


def diff(expected, actual, rtol=None, atol=None, path="result"):
    """None when ``actual`` matches ``expected`` (type and value), else a message."""
    if type(expected) is not type(actual):
        return (
            f"{path}: type {type(expected).__name__} != {type(actual).__name__} "
            f"(expected {expected!r}, got {actual!r})"
        )
    if isinstance(expected, (tuple, list)):
        if len(expected) != len(actual):
            return f"{path}: length {len(expected)} != {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            d = diff(e, a, rtol, atol, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(expected, np.ndarray):
        d = _array_diff(expected, actual, rtol, atol)
        return f"{path}: {d}" if d else None
    if expected is None:
        return None
    if not _scalar_equal(expected, actual, rtol, atol):
        return f"{path}: expected {expected!r}, got {actual!r}"
    return None


def _array_leaves(obj, path="result"):
    if isinstance(obj, np.ndarray):
        yield path, obj
    elif isinstance(obj, (tuple, list)):
        for i, x in enumerate(obj):
            yield from _array_leaves(x, f"{path}[{i}]")


def _alias_pattern(result, args):
    """For each returned array: which argument arrays it is / shares memory with."""
    arg_arrays = list(_array_leaves(args, "args"))
    pattern = []
    for rpath, r in _array_leaves(result):
        for apath, a in arg_arrays:
            pattern.append((rpath, apath, r is a, bool(np.may_share_memory(r, a))))
    return pattern


def _layout(args):
    return [(p, a.dtype, a.shape, a.strides) for p, a in _array_leaves(args, "args")]


# --------------------------------------------------------------------------------------
# Running.
# --------------------------------------------------------------------------------------
def _make_args(args):
    if callable(args) and not isinstance(args, np.ndarray):
        made = args()
        return made if isinstance(made, tuple) else (made,)
    if not isinstance(args, tuple):
        args = (args,)
    return copy.deepcopy(args)


def _run(callee, args):
    """Call; return (ok, value_or_exception, printed)."""
    out = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(out):
            try:
                value = callee(*args)
                ok = True
            except Exception as exc:  # noqa: BLE001 - compared below
                value, ok = exc, False
    return ok, value, out.getvalue()


def _describe(fn, args):
    shown = []
    for a in args:
        if isinstance(a, np.ndarray):
            layout = "C" if a.flags.c_contiguous else ("F" if a.flags.f_contiguous else "strided")
            shown.append(f"ndarray({a.dtype}, shape={a.shape}, {layout})")
        else:
            shown.append(repr(a))
    return f"{fn.__name__}({', '.join(shown)})"


def check(
    fn,
    args=(),
    *,
    native=True,
    rtol=None,
    atol=None,
    exc_message=False,
    fresh=False,
    disp=None,
    crash_guard=False,
):
    """Run ``fn`` under CPython and under ``epochpp.jit`` and require the same behaviour.

    fn          a module-level function (the jit reads its source).
    args        a tuple of arguments (deep-copied per run), a single non-tuple argument,
                or a zero-argument callable returning the tuple (called once per run).
    native      True: the compiled code must have run -- ``stats["native_calls"]`` grows;
                      when CPython raised, growth of ``native_calls`` or ``deopts``
                      suffices (the error may be raised by deopting to the interpreter).
                "entered": ``native_calls`` or ``deopts`` must grow (for calls that are
                      expected to leave the fast path: int64 overflow, big-int results).
                False: no requirement (construct may legitimately fall back).
    rtol/atol   opt into tolerant float comparison (results and array arguments).
    exc_message also require ``str(exception)`` to match.
    fresh       use a new dispatcher instead of the per-function cached one.
    disp        use this dispatcher.
    crash_guard run the whole comparison in a forked child, so that native code that
                dies (SIGFPE from an unchecked INT64_MIN // -1 or x // 0, SIGSEGV from an
                unchecked store) fails this test instead of killing the test run.
                EPOCHPP_TEST_NO_FORK=1 runs such cases in-process instead.
    Returns the CPython result (or exception) so tests can add their own assertions
    (None for crash-guarded calls).
    """
    if crash_guard and _FORK_OK:
        return _check_in_child(
            fn, args, native=native, rtol=rtol, atol=atol, exc_message=exc_message,
            fresh=fresh, disp=disp,
        )
    py_args = _make_args(args)
    jit_args = _make_args(args)
    where = _describe(fn, py_args)
    d = diff(py_args, jit_args)
    assert d is None and _layout(py_args) == _layout(jit_args), (
        f"{where}: the argument factory is not deterministic ({d or 'layouts differ'})"
    )

    py_ok, py_val, py_out = _run(fn, py_args)
    if disp is None:
        disp = jitted(fn, fresh=fresh)
    before = stats_of(disp)
    jit_ok, jit_val, jit_out = _run(disp, jit_args)
    after = stats_of(disp)

    # 1. result or exception
    if py_ok and not jit_ok:
        raise AssertionError(
            f"{where}: CPython returned {py_val!r} but the jitted call raised "
            f"{type(jit_val).__name__}: {jit_val}"
        ) from jit_val
    if not py_ok and jit_ok:
        raise AssertionError(
            f"{where}: CPython raised {type(py_val).__name__}: {py_val} but the jitted "
            f"call returned {jit_val!r}"
        )
    if not py_ok:
        if type(py_val) is not type(jit_val):
            raise AssertionError(
                f"{where}: CPython raised {type(py_val).__name__}: {py_val}; jitted "
                f"raised {type(jit_val).__name__}: {jit_val}"
            ) from jit_val
        if exc_message:
            assert str(py_val) == str(jit_val), (
                f"{where}: exception message {str(py_val)!r} != {str(jit_val)!r}"
            )
    else:
        d = diff(py_val, jit_val, rtol, atol)
        assert d is None, f"{where}: {d}"
        pa, ja = _alias_pattern(py_val, py_args), _alias_pattern(jit_val, jit_args)
        assert pa == ja, f"{where}: aliasing of returned arrays differs: {pa} vs {ja}"

    # 2. side effects on arguments (also after an exception: partial writes)
    d = diff(py_args, jit_args, rtol, atol, path="args")
    assert d is None, f"{where}: arguments after the call differ: {d}"

    # 3. printed output
    assert py_out == jit_out, f"{where}: stdout {py_out!r} != {jit_out!r}"

    # 4. did it run natively?
    grew = {k: after[k] - before[k] for k in _STAT_KEYS}
    if native is True:
        if py_ok:
            ok = grew["native_calls"] > 0
        else:
            ok = grew["native_calls"] > 0 or grew["deopts"] > 0
    elif native == "entered":
        ok = grew["native_calls"] > 0 or grew["deopts"] > 0
    elif native is False:
        ok = True
    else:
        raise ValueError(f"native must be True, False or 'entered', not {native!r}")
    if not ok:
        try:
            why = get_epochpp().explain(disp)
        except Exception as err:  # noqa: BLE001
            why = f"<explain failed: {err!r}>"
        raise AssertionError(
            f"{where}: expected the compiled code to run (native={native!r}) but stats "
            f"changed by {grew}; explain says: {why}"
        )
    return py_val


_FORK_OK = hasattr(os, "fork") and os.environ.get("EPOCHPP_TEST_NO_FORK", "") in ("", "0")
_CHILD_TIMEOUT_S = 30.0


def _check_in_child(fn, args, **kw):
    """Run check() in a forked child; a crash or hang becomes an AssertionError here."""
    import select  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import time  # noqa: PLC0415

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        code, msg = 0, ""
        try:
            os.close(read_fd)
            check(fn, args, **kw)
        except AssertionError as err:
            code, msg = 1, str(err)
        except BaseException as err:  # noqa: BLE001 - includes pytest.fail's exception
            code, msg = 2, f"{type(err).__name__}: {err}"
        try:
            data = msg.encode("utf-8", "replace")
            while data:
                data = data[os.write(write_fd, data):]
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks, deadline = [], time.monotonic() + _CHILD_TIMEOUT_S
    try:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_fd], [], [], max(left, 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(
                    f"{fn.__name__}: crash-guarded check did not finish in "
                    f"{_CHILD_TIMEOUT_S:.0f}s (hang? set EPOCHPP_TEST_NO_FORK=1 to run in-process)"
                )
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    msg = b"".join(chunks).decode("utf-8", "replace")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        raise AssertionError(
            f"{fn.__name__}: the process died with {signal.Signals(sig).name} "
            f"(args {args!r}); native code must raise CPython's exception instead"
        )
    code = os.WEXITSTATUS(status)
    if code != 0:
        raise AssertionError(msg or f"{fn.__name__}: child exited with status {code}")
    return None


# --------------------------------------------------------------------------------------
# Small helpers for tests.
# --------------------------------------------------------------------------------------
def outputs_per_thread_count(script, threads):
    """Runs the Python file `script` once per EPOCHPP_NUM_THREADS value (the worker count is
    fixed when a process makes its arena) and returns the set of their stripped outputs."""
    import subprocess
    import sys
    outs = set()
    for t in threads:
        r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           env=dict(os.environ, EPOCHPP_NUM_THREADS=str(t)), timeout=120)
        assert r.returncode == 0, r.stderr
        outs.add(r.stdout.strip())
    return outs


def case_id(fn, args):
    """A readable pytest id for (fn, args)."""
    if callable(args) and not isinstance(args, tuple):
        return f"{fn.__name__}-{getattr(args, '__name__', 'factory')}"
    parts = []
    for a in args if isinstance(args, tuple) else (args,):
        if isinstance(a, np.ndarray):
            parts.append(f"arr{a.dtype}{list(a.shape)}")
        else:
            parts.append(repr(a))
    text = f"{fn.__name__}-" + ",".join(parts)
    return re.sub(r"\s+", "", text)[:90]


def cases(fn_args_list):
    """Turn [(fn, args), ...] into pytest params with readable ids."""
    return [pytest.param(fn, args, id=case_id(fn, args)) for fn, args in fn_args_list]


def line_of(fn, marker):
    """Absolute line number, in fn's file, of the first source line containing marker."""
    import inspect  # noqa: PLC0415

    lines, start = inspect.getsourcelines(fn)
    for i, text in enumerate(lines):
        if marker in text:
            return start + i
    raise AssertionError(f"marker {marker!r} not in the source of {fn.__name__}")
