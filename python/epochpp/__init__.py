"""epochpp: make slow numeric Python fast — profile, JIT (LLVM), parallel (oneTBB), GPU (CUDA).

    import epochpp

    @epochpp.jit
    def f(a):
        ...

``epochpp.explain(f)`` says why each signature runs where it runs; ``f.inspect("ir"|"llvm"|"asm")``
shows each compiler stage.
"""
from __future__ import annotations

import functools

__version__ = "0.1.0"
__all__ = ["jit", "explain", "settings", "enable", "disable", "level", "report", "profile", "parallel_map",
           "prange", "gpu_info", "gpu_stats", "__version__"]

from .parallel_map import parallel_map  # noqa: E402 - binds the name over the submodule


def prange(*args):
    """``range`` for loops whose iterations you assert are independent.

    In the interpreter and at Level 2 it is ``range``. At Level 3 a compiled ``for i in
    prange(...)`` loop runs on all cores without the dependence and overlap checks: each
    iteration may write any array element that no other iteration touches (``out[idx[i]] = v``).
    Scalars must still be private or reductions; otherwise the loop runs serially and
    ``explain`` says why. Errors stay exact (the arrays are restored and the loop re-runs
    serially). If iterations do overlap, the results are unspecified, as with Numba's prange.
    """
    return range(*args)



_core_module = None  # epochpp._core once loaded


def _native():
    global _core_module
    core = _core_module
    if core is None:
        from . import _core as core  # loaded on first use: `import epochpp` stays cheap

        _core_module = core
    _keep_sigint_chain(core)
    return core


def _keep_sigint_chain(core):
    """Compiled loops notice Ctrl-C through a SIGINT handler chained in front of Python's;
    signal.signal() re-installs Python's, so chain ours in again after it."""
    import signal

    if getattr(signal.signal, "_epochpp", False):
        return
    original = signal.signal

    def chained(signalnum, handler):
        previous = original(signalnum, handler)
        if signalnum == signal.SIGINT:
            core.reinstall_sigint()
        return previous

    chained._epochpp = True
    chained.__doc__ = original.__doc__
    signal.signal = chained


def jit(fn=None, *, level=None, **options):
    """Compile ``fn`` to native code on its first call for each argument-type signature.

    Usable as ``@epochpp.jit``, ``@epochpp.jit(...)`` or ``epochpp.jit(fn)``. A function (or a
    signature) that cannot be compiled runs in the interpreter unchanged; ``epochpp.explain``
    says why, naming the file and line.
    """
    unknown = set(options) - {"deterministic", "cache"}
    if unknown:
        raise TypeError(f"epochpp.jit() got unexpected options: {', '.join(sorted(unknown))}")
    if level is not None and (not isinstance(level, int) or not 0 <= level <= 4):
        raise ValueError(f"epochpp.jit(level=...): 0-4, not {level!r}")

    def wrap(f):
        if isinstance(f, _native().Dispatcher):
            return f
        d = _native().Dispatcher(f)
        functools.update_wrapper(d, f)
        d.__dict__["_epochpp_options"] = dict(options, level=level)
        return d

    return wrap if fn is None else wrap(fn)


def explain(fn) -> str:
    """Why ``fn`` runs where it runs: per signature, native code or the interpreter and the reason."""
    core = _native()
    if isinstance(fn, core.Dispatcher):
        return fn.explain()
    name = getattr(fn, "__qualname__", repr(fn))
    return f"{name}: not an epochpp function; it runs in the interpreter (wrap it with epochpp.jit)\n"


def settings():
    """Every epochpp setting: name, environment variable, default, description, current value."""
    return _native().settings()


def gpu_info():
    """The CUDA device Level 4 uses, as a dict: ``available`` and, when not, ``reason``; ``name``,
    ``cc_major``/``cc_minor``, ``sm_count``, memory; the residency table's size; ``totals`` (as in
    gpu_stats). The first call loads the CUDA driver (libcuda.so.1, or EPOCHPP_CUDA_LIBRARY)."""
    return _native().gpu_info()


def gpu_stats(reset=False):
    """Level 4 statistics: ``{"total": {...}, "kernels": {name: {...}}}`` with launches, fallbacks,
    the last fallback reason (with the loop's line), kernel and transfer seconds, bytes up/down and
    residency hits. ``reset=True`` zeroes them after reading. See docs/gpu.md."""
    return _native().gpu_stats(reset)


def enable(level=None, include=()):
    """Accelerate this program from here on: level 0-4 (default EPOCHPP_LEVEL or 3). See accelerate.py."""
    import sys

    from . import accelerate
    return accelerate.enable(level, include, _namespace=sys._getframe(1).f_globals)


def disable():
    """Undo enable(): every rebound function is put back."""
    from . import accelerate
    accelerate.disable()


def level():
    """The level enable() set (0: off)."""
    from . import accelerate
    return accelerate.level()


def report(file=None):
    """Print what the background profiler (Level >= 1) has seen so far."""
    from . import accelerate
    return accelerate.report(file)


def profile(interval_ms=10.0, **kw):
    """``with epochpp.profile() as p: ...`` then ``p.report()``, ``p.to_json(path)``, ``p.hotspots``."""
    from .profiling import Profile
    return Profile(interval_ms=interval_ms, **kw)


def load_ipython_extension(ip):
    """``%load_ext epochpp``: the %epochpp_level and %%epochpp_profile magics."""
    from .jupyter import load_ipython_extension as load
    load(ip)

