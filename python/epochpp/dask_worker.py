"""The workers' side of ``parallel_map(..., backend="dask")`` (dask_backend.py is the caller's).

A batch arrives as bytes that call ``_run_batch`` when unpickled. It loads the function once
per worker process (wrapping a plain Python function with ``epochpp.jit``, after putting the
shipped source lines in ``linecache`` for the JIT), runs the items in order, and returns the
results, or the first failure with its item's index, as cloudpickle bytes. Nothing here
imports Dask at import time.
"""
from __future__ import annotations

import os
import pickle
import sys
import threading
import types

from .parallel_map import _is_dispatcher, setting


def _client_jit_level(d) -> int:
    """The level ``d`` (or a plain function wrapped here) compiles at in this process."""
    options = (getattr(d, "__dict__", None) or {}).get("_epochpp_options") or {}
    level = options.get("level")
    if level is None:
        try:
            level = int(setting("jit_level", "EPOCHPP_JIT_LEVEL", "2") or 2)
        except ValueError:
            level = 2
    return max(2, min(4, level))


def _attribute(module, qualname):
    obj = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj


def _dispatcher_by_name(module, qualname, level):
    """The worker's own ``module.qualname``; jitted at ``level`` unless it already runs at it."""
    import importlib

    importlib.import_module(module)
    obj = _attribute(module, qualname)
    if _is_dispatcher(obj):
        if _client_jit_level(obj) == level:
            return obj
        obj = obj.py_func
    return _jit_on_worker(obj, level)


def _jit_on_worker(fn, level):
    """``epochpp.jit(fn, level=level)``, or ``fn`` itself where that cannot be made (no built
    core on this worker, not a plain function): the interpreter then runs it."""
    if type(fn) is not types.FunctionType:
        return fn
    try:
        from . import jit

        return jit(fn, level=level)
    except Exception:  # noqa: BLE001 - e.g. epochpp._core is not built on this worker
        return fn


_loaded = {}  # digest of a function payload -> the callable this worker process runs
_loaded_lock = threading.Lock()
_LOADED_MAX = 32


def _load_function(payload):
    import hashlib
    import linecache

    key = hashlib.blake2b(payload, digest_size=16).digest()
    with _loaded_lock:
        fn = _loaded.pop(key, None)
        if fn is None:
            target, level, sources = pickle.loads(payload)
            for filename, lines in sources.items():  # mtime None: linecache keeps the entry
                linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)
            fn = pickle.loads(target)
            if level is not None:
                fn = _jit_on_worker(fn, level)
            while len(_loaded) >= _LOADED_MAX:
                _loaded.pop(next(iter(_loaded)))
        _loaded[key] = fn  # most recently used last
        return fn


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return f"Dask worker {get_worker().address} (pid {os.getpid()})"
    except Exception:  # noqa: BLE001 - not inside a worker (a test calling it directly)
        return f"process {os.getpid()}"


class _BatchCall:
    """Unpickled on a worker, it is ``_run_batch(*args)``: the call happens as it unpickles."""

    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return _run_batch, self.args


def _run_batch(fn_payload, start, batch):
    """On a worker: the results of one batch, or its first failure, as cloudpickle bytes."""
    import cloudpickle

    try:
        fn = _load_function(fn_payload)
        calls = pickle.loads(batch)
    except Exception as e:  # noqa: BLE001 - e.g. a module the worker cannot import
        _note(e, f"(epochpp.parallel_map: the {_worker_name()} could not load the function or "
                 f"items {start}.. sent to it; install the modules they need on every worker)")
        return _dumps_error(start, e)
    results = []
    for i, args in enumerate(calls, start):
        try:
            results.append(fn(*args))
        except BaseException as e:
            _note(e, f"(epochpp.parallel_map: raised by item {i} on the {_worker_name()})")
            return _dumps_error(i, e)
    try:
        return cloudpickle.dumps(("ok", results), pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # noqa: BLE001
        return _dumps_error(start, TypeError(
            f"epochpp.parallel_map: a result of items {start}..{start + len(calls) - 1} cannot be "
            f"sent back from the {_worker_name()} ({type(e).__name__}: {e}); return values that "
            "pickle can copy"))


def _note(e, text):
    if hasattr(e, "add_note"):  # Python 3.11+
        e.add_note(text)


def _dumps_error(index, e):
    import traceback

    import cloudpickle

    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    try:
        data = cloudpickle.dumps(("error", index, e, tb), pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
        return data
    except Exception:  # noqa: BLE001 - the exception would not survive the trip back
        replacement = RuntimeError(f"{type(e).__module__}.{type(e).__qualname__}: {e} (raised by "
                                   f"item {index} on the {_worker_name()}; that exception type "
                                   "cannot be pickled back to the caller)")
        return cloudpickle.dumps(("error", index, replacement, tb), pickle.HIGHEST_PROTOCOL)


def _explain_loaded():
    """For dask_backend.explain_workers, run on each worker by client.run."""
    with _loaded_lock:
        functions = list(_loaded.values())
    return {getattr(f, "__qualname__", None) or repr(f):
            f.explain() if _is_dispatcher(f) else "not an epochpp function: runs as it is\n"
            for f in functions}
