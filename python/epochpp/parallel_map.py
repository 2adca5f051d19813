"""``epochpp.parallel_map(fn, *iterables)``: ``list(map(fn, *iterables))`` on all cores.

Two paths, chosen per call (docs/parallel_map.md says why, with measurements):

* compiled: ``fn`` is an ``epochpp.jit`` Dispatcher, or a plain Python function wrapped once
  with ``epochpp.jit``. ``Dispatcher._map(calls)`` runs every item's native code on the oneTBB
  workers with the GIL released, or returns None (nothing ran) when some item's argument
  types cannot run as native code.
* pool: everything else runs on one persistent pool of worker *processes* (the GIL makes
  threads useless for CPU-bound Python). A function the workers cannot receive (lambda,
  closure, ``__main__`` of an interactive session, unpicklable arguments) runs serially in
  this process with one RuntimeWarning saying why and how to fix it.

Results come back in order; the exception of the lowest-index failing item is raised with
its own type and message; Ctrl-C terminates the workers and raises KeyboardInterrupt.

``backend="dask"`` sends the calls to a Dask cluster instead: dask_backend.py, docs/dask.md.
"""
from __future__ import annotations

import math
import os
import sys
import threading
import types
import warnings

# multiprocessing, concurrent.futures and pickle (~40 ms) load on the first pool call, so
# `import epochpp` stays cheap.

__all__ = ["parallel_map"]

BACKENDS = ("local", "dask")

_CHUNKS_PER_WORKER = 4  # a few chunks per worker: balances uneven items, keeps IPC low
_JIT_ATTR = "_epochpp_parallel_map_jit"  # the cached epochpp.jit wrapper of a plain function


def parallel_map(fn, *iterables, backend=None, client=None, progress=None):
    """Return ``list(map(fn, *iterables))``, computed on all cores; results are in order.

    Several iterables are zipped, stopping at the shortest, as in ``map``. Workers:
    ``EPOCHPP_NUM_THREADS`` (0 or unset: all cores). An exception raised for an item reaches
    the caller with its type and message (the lowest-index failing item's); Ctrl-C stops the
    workers and raises KeyboardInterrupt. See docs/parallel_map.md.

    ``backend``: ``"local"`` (this machine) or ``"dask"`` (a Dask cluster: ``client``, else
    ``EPOCHPP_DASK_ADDRESS``, else the default Dask client; see docs/dask.md). Unset, it is
    ``"dask"`` when a ``client`` is given, else ``EPOCHPP_PARALLEL_BACKEND`` (default
    ``"local"``). ``progress`` (True/False; None: ``EPOCHPP_PROGRESS``, else shown on a
    terminal for maps longer than a second) is a line on stderr, for the dask backend.
    """
    if not callable(fn):
        raise TypeError(f"parallel_map(): {type(fn).__name__!r} object is not callable")
    if not iterables:
        raise TypeError("parallel_map() must have at least two arguments: fn and an iterable")
    backend = _backend(backend, client)
    calls = list(zip(*iterables))
    if not calls:
        return []
    if backend == "dask":
        from . import dask_backend

        return dask_backend.run(fn, calls, client=client, progress=progress)
    _refuse_while_worker_imports_main()

    dispatcher = _dispatcher_for(fn)
    if dispatcher is not None:
        results = _run_compiled(dispatcher, calls)
        if results is not None:
            return results

    size = num_workers()
    workers = min(size, len(calls))
    if workers < 2:
        return _run_serial(fn, calls)
    if _in_daemon_process():
        return _run_serial(fn, calls, (
            "this process is a daemon (a Dask worker, or a worker of a multiprocessing pool), "
            "and daemons cannot start worker processes"))
    unguarded = _unguarded_main_call()
    if unguarded is not None:
        return _run_serial(fn, calls, (
            f"the call at {unguarded} is not under `if __name__ == \"__main__\":` and worker "
            "processes import the main script, so each would run it again; put the script's "
            "work under that guard to run in parallel"))
    ref, why = _sendable(fn)
    if ref is None:
        return _run_serial(fn, calls, why)
    payloads, why = _pickle_chunks(ref, calls, workers)
    if payloads is None:
        return _run_serial(fn, calls, why)
    return _run_pool(payloads, size, fn)


def _backend(backend, client) -> str:
    """The backend a call uses: see parallel_map's docstring."""
    where = "backend="
    if backend is None:
        if client is not None:
            return "dask"
        backend = setting("parallel_backend", "EPOCHPP_PARALLEL_BACKEND", "local").strip().lower() or "local"
        where = "EPOCHPP_PARALLEL_BACKEND="
    if backend not in BACKENDS:
        raise ValueError(f"epochpp.parallel_map: {where}{backend!r} is not a backend; choose 'local' "
                         "(this machine's cores) or 'dask' (a Dask cluster, see docs/dask.md)")
    if backend == "local" and client is not None:
        raise ValueError("epochpp.parallel_map: client= is for backend='dask' (the local backend "
                         "runs on this machine)")
    return backend


def _native():
    """epochpp._core (ImportError when it is not built); a module-level import would be circular."""
    from . import _native as native

    global _native
    _native = native  # later calls go straight to epochpp._native
    return native()


def setting(name, env, default="") -> str:
    """A setting of the registry (runtime/settings.cpp), or its environment variable when the
    built core is missing or older than the setting."""
    try:
        return str(_native().get_setting(name))
    except Exception:  # noqa: BLE001 - no built core, or it does not know this setting
        return os.environ.get(env, default)


def num_workers() -> int:
    """Workers parallel_map uses: EPOCHPP_NUM_THREADS, 0/unset/not a number meaning all cores."""
    raw = setting("num_threads", "EPOCHPP_NUM_THREADS")
    try:
        n = int(raw.strip() or "0")
    except ValueError:
        n = 0
    return n if n > 0 else _cpu_count()


def _cpu_count() -> int:
    if hasattr(os, "process_cpu_count"):  # 3.13+: honours the affinity mask
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


# --- compiled path ------------------------------------------------------------------------

def _dispatcher_for(fn):
    """The Dispatcher to try ``_map`` on: fn itself, or a cached epochpp.jit of a plain function."""
    try:
        core = _native()
    except ImportError:  # the extension is not built: only the pool path exists
        return None
    if isinstance(fn, core.Dispatcher):
        return fn
    if type(fn) is not types.FunctionType:  # builtins, methods, partials, callable objects
        return None
    d = fn.__dict__.get(_JIT_ATTR)
    if d is None:
        from . import jit
        try:
            d = jit(fn)
        except Exception:  # noqa: BLE001 - not a function the dispatcher takes: the pool runs it
            d = False
        # A function attribute, not a WeakKeyDictionary: the Dispatcher holds fn strongly, so
        # a weak-keyed cache would never drop it; the fn <-> Dispatcher cycle is collected.
        fn.__dict__[_JIT_ATTR] = d
    return d or None


def _run_compiled(dispatcher, calls):
    """The results of ``dispatcher._map(calls)``, or None when the pool path must run them."""
    native_map = getattr(dispatcher, "_map", None)
    if native_map is None:  # a core built before Dispatcher._map existed
        return None
    return native_map(calls)


# --- serial fallback ----------------------------------------------------------------------

def _run_serial(fn, calls, why=None):
    if why is not None:
        warnings.warn(f"epochpp.parallel_map: {_describe(fn)} runs serially in this process: {why}",
                      RuntimeWarning, stacklevel=3)
    return [fn(*args) for args in calls]


def _describe(fn) -> str:
    """``name (file:line)`` of a function, or its repr for other callables."""
    target = getattr(fn, "__wrapped__", fn)
    code = getattr(target, "__code__", None)
    name = getattr(target, "__qualname__", None) or repr(fn)
    if code is None:
        return name
    return f"{name} ({code.co_filename}:{code.co_firstlineno})"


def _in_daemon_process() -> bool:
    mp = sys.modules.get("multiprocessing")
    return mp is not None and bool(mp.current_process().daemon)


def _refuse_while_worker_imports_main():
    """Second line of defence behind _unguarded_main_call: a worker process importing the
    main script met a parallel_map call. Stop there (the caller sees BrokenProcessPool)."""
    mp = sys.modules.get("multiprocessing")  # a worker process has it loaded already
    if mp is not None and getattr(mp.current_process(), "_inheriting", False):
        caller = sys._getframe(2)
        raise RuntimeError(
            f"epochpp.parallel_map was called at {caller.f_code.co_filename}:{caller.f_lineno} "
            "while a worker process imported the main script: worker processes import it to "
            "find its functions, so the script must start its work under "
            "`if __name__ == \"__main__\":`")


def _unguarded_main_call():
    """``file:line`` of the main script's top-level statement running now when it is not under
    ``if __name__ == "__main__":`` (every worker process would run it again), else None."""
    main = sys.modules.get("__main__")
    if not _workers_import_main(main):
        return None
    frame = sys._getframe(2)
    while frame is not None and not (frame.f_code.co_name == "<module>"
                                     and frame.f_globals is main.__dict__):
        frame = frame.f_back
    if frame is None:  # not below the script's top level (a thread, atexit, ...)
        return None
    where = (frame.f_code.co_filename, frame.f_lineno)
    if where not in _guard_cache:
        _guard_cache[where] = _is_guarded(*where)
    return None if _guard_cache[where] else f"{where[0]}:{where[1]}"


_guard_cache = {}


def _workers_import_main(main) -> bool:
    """multiprocessing's rule: a script (``__file__``) or ``python -m module`` is run again in
    each worker; an interactive ``__main__`` or a package's ``__main__.py`` is not."""
    spec_name = getattr(getattr(main, "__spec__", None), "name", None) or ""
    return getattr(main, "__file__", None) is not None and not spec_name.endswith("__main__")


def _is_guarded(filename, lineno) -> bool:
    import ast

    try:
        with open(filename, "rb") as f:
            tree = ast.parse(f.read(), filename)
    except (OSError, SyntaxError, ValueError):  # no source to judge by: trust the script
        return True
    for stmt in tree.body:
        if stmt.lineno <= lineno <= stmt.end_lineno:
            in_else = any(o.lineno <= lineno <= o.end_lineno for o in stmt.orelse) \
                if isinstance(stmt, ast.If) else False
            return isinstance(stmt, ast.If) and _is_main_test(stmt.test) \
                and lineno > stmt.test.end_lineno and not in_else
    return True


def _is_main_test(test) -> bool:
    import ast

    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return any(isinstance(x, ast.Name) and x.id == "__name__" for x in sides) and \
        any(isinstance(x, ast.Constant) and x.value == "__main__" for x in sides)


# --- what the workers receive -------------------------------------------------------------

class _ByName:
    """A module-level function sent by name when pickle refuses it because the module name
    is bound to its epochpp.jit Dispatcher (``@epochpp.jit``, ``epochpp.enable()``)."""

    def __init__(self, module, qualname):
        self.module, self.qualname = module, qualname

    def resolve(self):
        obj = sys.modules.get(self.module) or __import__(self.module, fromlist=["_"])
        for part in self.qualname.split("."):
            obj = getattr(obj, part)
        # In a worker only the interpreter path is left: skip compiling in every process.
        return getattr(obj, "__wrapped__", obj) if _is_dispatcher(obj) else obj


def _is_dispatcher(obj) -> bool:
    t = type(obj)
    return t.__name__ == "Dispatcher" and t.__module__ == "epochpp._core"


def _sendable(fn):
    """(what to send to the workers, None) or (None, why the workers cannot receive fn)."""
    import pickle

    target = getattr(fn, "__wrapped__", None) if _is_dispatcher(fn) else fn
    if target is None:
        return None, "it is an epochpp Dispatcher without __wrapped__, so its function is unknown"
    module = getattr(target, "__module__", None)
    if module == "__main__" and getattr(sys.modules.get("__main__"), "__file__", None) is None:
        return None, ("it is defined in an interactive session (__main__ has no file), which "
                      "worker processes cannot import; define it in a module and import it")
    try:
        pickle.dumps(target, pickle.HIGHEST_PROTOCOL)
        return target, None
    except Exception as e:  # noqa: BLE001 - any pickling failure means: not sendable
        error = e
    by_name = _by_name(target, module)
    if by_name is not None:
        return by_name, None
    return None, (f"worker processes receive functions by pickle and it cannot be pickled "
                  f"({type(error).__name__}: {error}); define it with `def` at module level "
                  "(not a lambda, closure or nested function)")


def _by_name(target, module):
    qualname = getattr(target, "__qualname__", "")
    if not isinstance(target, types.FunctionType) or not module or "<" in qualname:
        return None
    obj = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if obj is target or (_is_dispatcher(obj) and obj.__wrapped__ is target):
        return _ByName(module, qualname)
    return None


def _pickle_chunks(ref, calls, workers):
    """Each chunk pickled here, so unpicklable arguments fall back before anything runs."""
    import pickle

    size = max(1, math.ceil(len(calls) / (workers * _CHUNKS_PER_WORKER)))
    payloads = []
    for start in range(0, len(calls), size):
        try:
            payloads.append(pickle.dumps((ref, start, calls[start:start + size]),
                                         pickle.HIGHEST_PROTOCOL))
        except Exception as e:  # noqa: BLE001
            end = min(start + size, len(calls)) - 1
            return None, (f"an argument of items {start}..{end} cannot be pickled "
                          f"for the worker processes ({type(e).__name__}: {e})")
    return payloads, None


# --- in the worker processes --------------------------------------------------------------

def _worker_init():
    import signal

    # Ctrl-C in a terminal reaches the whole process group; the caller stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_chunk(payload):
    import pickle

    ref, start, calls = pickle.loads(payload)
    fn = ref.resolve() if isinstance(ref, _ByName) else ref
    results = []
    # The replacement errors are raised outside the except blocks, so they have no __context__:
    # tblib (which dask.distributed installs on import) pickles the context chain, and an
    # unpicklable context would break the pool in the caller.
    error = None
    for i, args in enumerate(calls, start):
        try:
            results.append(fn(*args))
        except BaseException as e:
            if hasattr(e, "add_note"):
                e.add_note(f"(epochpp.parallel_map: raised by item {i} in worker process "
                           f"{os.getpid()})")
            if _survives_pickle(e):
                raise
            error = RuntimeError(f"{type(e).__module__}.{type(e).__qualname__}: {e} (raised by "
                                 f"item {i} in a worker process; that exception type cannot be "
                                 "pickled back to the caller)")
            break
    if error is None:
        try:
            return pickle.dumps(results, pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # noqa: BLE001
            error = TypeError(f"epochpp.parallel_map: a result of items {start}..{start + len(calls) - 1}"
                              " cannot be sent back from the worker process "
                              f"({type(e).__name__}: {e}); return values that pickle can copy")
    raise error


def _survives_pickle(e) -> bool:
    import pickle

    try:
        pickle.loads(pickle.dumps(e))
        return True
    except Exception:  # noqa: BLE001
        return False


# --- the pool -----------------------------------------------------------------------------

_pool = None
_pool_size = 0
_pool_lock = threading.Lock()
_exit_hook = False


def _start_method() -> str:
    import multiprocessing

    # fork copies a process that may hold oneTBB/LLVM threads and locks: never. forkserver
    # forks each worker from a clean single-threaded server with the imports preloaded.
    if sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods():
        return "forkserver"
    return "spawn"


def _forkserver_preload(fn):
    """Modules for the fork server to import once, so each worker forks with them loaded.

    Every worker runs the main script again to find its functions, imports included; the
    server's own ``'__main__'`` preload does nothing before Python 3.13.8 (CPython
    gh-126631), so the top-level packages the script refers to are named as well."""
    names = {"epochpp", (getattr(fn, "__module__", None) or "").partition(".")[0]}
    main = sys.modules.get("__main__")
    for value in list(vars(main).values()) if _workers_import_main(main) else ():
        module = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(module, str):
            names.add(module.partition(".")[0])
    names -= {"__main__", "builtins"}
    return ["__main__"] + sorted(n for n in names if n in sys.modules)


def _get_pool(size, fn):
    global _pool, _pool_size, _exit_hook
    with _pool_lock:
        if _pool is not None and (_pool_size != size or getattr(_pool, "_broken", False)):
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None
        if _pool is None:
            import atexit
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            if not _exit_hook:
                atexit.register(shutdown)
                _exit_hook = True
            ctx = multiprocessing.get_context(_start_method())
            if ctx.get_start_method() == "forkserver":  # no effect once the server runs
                ctx.set_forkserver_preload(_forkserver_preload(fn))
            _pool = ProcessPoolExecutor(max_workers=size, mp_context=ctx, initializer=_worker_init)
            _pool_size = size
        return _pool


def _drop_pool(pool, terminate):
    """Forget ``pool`` (the next call makes a fresh one); with ``terminate``, kill its workers."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    processes = list((getattr(pool, "_processes", None) or {}).values())
    if terminate:
        for p in processes:  # SIGTERM: Python code dies at once, no cleanup runs
            p.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    if terminate:
        for p in processes:
            p.join(1.0)
            if p.is_alive():
                p.kill()


def shutdown():
    """Stop the worker processes (registered at exit; a later call starts a new pool)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_pool(payloads, size, fn):
    import pickle
    from concurrent.futures.process import BrokenProcessPool

    def broken(e):
        return BrokenProcessPool(f"{e} (epochpp.parallel_map of {_describe(fn)}: a worker process died: "
                                 "killed, crashed, or failed to start (its error is printed above); "
                                 "the next call starts a new pool)")

    pool = None
    try:
        pool = _get_pool(size, fn)
        futures = [pool.submit(_run_chunk, p) for p in payloads]
    except BrokenProcessPool as e:  # a worker died while later chunks were still being sent
        if pool is not None:
            _drop_pool(pool, terminate=True)
        raise broken(e) from e
    except BaseException:  # Ctrl-C, or the workers could not start: this pool is done
        if pool is not None:
            _drop_pool(pool, terminate=True)
        raise
    try:
        results = []
        for f in futures:
            results.extend(pickle.loads(f.result()))
        return results
    except KeyboardInterrupt:
        _drop_pool(pool, terminate=True)
        raise
    except BrokenProcessPool as e:
        _drop_pool(pool, terminate=True)
        raise broken(e) from e
    except BaseException:
        for f in futures:  # the lowest-index failure wins: cancel the rest, and wait for the
            f.cancel()     # chunks already running so no work of this call outlives it
        for f in futures:
            if not f.cancelled():
                try:
                    f.exception()
                except KeyboardInterrupt:
                    _drop_pool(pool, terminate=True)
                    raise
                except BaseException:  # noqa: BLE001 - their errors lose to the first one
                    pass
        raise
