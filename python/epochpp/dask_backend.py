"""``parallel_map(..., backend="dask")``: independent calls on a Dask cluster (dask.distributed).

The caller's side of the protocol; dask_worker.py is the workers' side:

* the function is pickled once per call, with cloudpickle: by reference when the workers can
  import it (module-level, not ``__main__``), else by value, together with the source lines of
  the files of the functions sent by value, so the workers' JIT can read them. An ``epochpp.jit``
  Dispatcher (which does not pickle) goes as its module attribute when its module binds it,
  else as its Python function with the level it compiles at here;
* on a worker, a plain Python function is wrapped once with ``epochpp.jit`` (kept per worker
  process), so compiled code runs there; the on-disk cache makes that one compile per machine;
* the items go in batches, about four per worker thread; a batch runs its items in order and
  stops at its first exception, which comes back as a value with the item's index;
* the caller collects batches as they finish (progress on stderr), puts the results in order
  and raises the lowest-index failing item's exception with its own type and message.

docs/dask.md explains how to use it and how to point it at a real cluster.
"""
from __future__ import annotations

import math
import pickle
import sys
import threading
import time
import types
import uuid

from .dask_worker import (_BatchCall, _attribute, _client_jit_level, _dispatcher_by_name, _explain_loaded,
                          _jit_on_worker, _note)
from .parallel_map import _describe, _is_dispatcher, setting

__all__ = ["run", "shutdown", "explain_workers"]

BATCHES_PER_THREAD = 4  # a few batches per worker thread: balances uneven items, keeps tasks few
WAIT_FOR_WORKERS_S = 30.0  # a scheduler without workers: how long to wait before saying so
_INSTALL = 'pip install "epochpp[dask]"  (or: pip install "dask[distributed]")'


def run(fn, calls, client=None, progress=None):
    """``[fn(*args) for args in calls]`` computed on a Dask cluster; see the module docstring."""
    distributed = _import_distributed()
    client, where = _client(distributed, client)
    nthreads = _nthreads(client, where)  # {worker address: threads}
    threads = sum(nthreads.values())
    size = max(1, math.ceil(len(calls) / (threads * BATCHES_PER_THREAD)))
    starts = list(range(0, len(calls), size))
    batches, sources = [], {}
    for start in starts:
        end = min(start + size, len(calls))
        batches.append(_dumps(calls[start:end], sources,
                              f"an argument of items {start}..{end - 1} cannot be sent to the Dask workers"))
    fn_payload = _function_payload(fn, sources)

    name = f"epochpp.parallel_map-{getattr(fn, '__name__', type(fn).__name__)}-{uuid.uuid4().hex[:8]}"
    # Each task is pickle.loads(bytes that call _run_batch when unpickled): the scheduler, which
    # unpickles the tasks it receives, then needs no epochpp, only Dask.
    futures = [client.submit(pickle.loads, pickle.dumps(_BatchCall(fn_payload, start, batch),
                                                        pickle.HIGHEST_PROTOCOL),
                             key=(name, b), pure=False, priority=len(batches) - b)
               for b, (start, batch) in enumerate(zip(starts, batches))]
    shown = _Progress(progress, len(calls), len(nthreads), fn)
    try:
        return _collect(distributed, client, futures, shown, fn)
    except BaseException:
        # Released, the batches not started are dropped; running ones finish, unread. Not
        # client.cancel(): it tells every client of the scheduler, and a client connecting at
        # that moment fails its handshake (distributed's Client expects one message there).
        for f in futures:
            f.release()
        raise
    finally:
        shown.close()


def explain_workers(client):
    """``{worker address: {function: what epochpp did with it}}`` for the functions that
    parallel_map calls sent to each worker process: ``epochpp.explain`` text per signature."""
    return client.run(_explain_loaded)


# --- the client ---------------------------------------------------------------------------

def _import_distributed():
    try:
        import distributed
    except ImportError as e:
        raise ImportError(f"epochpp.parallel_map(backend='dask') needs dask.distributed, which is not "
                          f"installed here: {_INSTALL}") from e
    return distributed


_clients = {}  # address -> the Client this process opened for EPOCHPP_DASK_ADDRESS
_clients_lock = threading.Lock()
_exit_hook = False


def _client(distributed, client):
    """(the Client to use, how it was found: words for error messages)."""
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise TypeError(f"parallel_map(client=...) must be a distributed.Client, not "
                            f"{type(client).__name__}")
        return client, "the client= given"
    address = setting("dask_address", "EPOCHPP_DASK_ADDRESS").strip()
    if address:
        return _connect(distributed, address), f"the scheduler at {address} (EPOCHPP_DASK_ADDRESS)"
    try:
        return distributed.default_client(), "the default Dask client"
    except ValueError:
        pass
    raise ValueError("epochpp.parallel_map(backend='dask') has no Dask cluster to use: pass "
                     "client=distributed.Client('tcp://HOST:8786'), set EPOCHPP_DASK_ADDRESS="
                     "tcp://HOST:8786, or run the script with `epochpp run --cluster tcp://HOST:8786`"
                     " (see docs/dask.md)")


def _connect(distributed, address):
    global _exit_hook
    with _clients_lock:
        client = _clients.get(address)
        if client is not None and client.status == "running":
            return client
        try:
            client = distributed.Client(address, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise OSError(f"epochpp.parallel_map: cannot reach the Dask scheduler at {address} "
                          f"(EPOCHPP_DASK_ADDRESS): {e}. Start one with `dask scheduler` and workers "
                          f"with `dask worker {address}`, or fix the address") from e
        if not _exit_hook:
            import atexit

            atexit.register(shutdown)
            _exit_hook = True
        _clients[address] = client
        return client


def shutdown():
    """Close the clients opened for EPOCHPP_DASK_ADDRESS (at exit; a later call reconnects)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for c in clients:
        c.close()


def _nthreads(client, where):
    nthreads = client.nthreads()
    if sum(nthreads.values()):
        return nthreads
    try:
        client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
    except TimeoutError:
        address = getattr(client.scheduler, "address", None) or "ADDRESS"
        raise RuntimeError(f"epochpp.parallel_map: {where} has no Dask workers after "
                           f"{WAIT_FOR_WORKERS_S:g} s; start some with `dask worker {address}`") from None
    return client.nthreads()


# --- what the workers receive -------------------------------------------------------------

def _function_payload(fn, sources):
    """Bytes of ``(pickled fn, jit level or None, {file: source lines})`` for the workers."""
    level = _client_jit_level(None) if type(fn) is types.FunctionType else None
    target = _dumps(fn, sources, f"{_describe(fn)} cannot be sent to the Dask workers")
    return pickle.dumps((target, level, sources), pickle.HIGHEST_PROTOCOL)


def _dumps(obj, sources, what) -> bytes:
    import io

    buffer = io.BytesIO()
    try:
        _Pickler(buffer, sources).dump(obj)
    except Exception as e:  # noqa: BLE001 - any pickling failure: say which
        raise TypeError(f"epochpp.parallel_map: {what} ({type(e).__name__}: {e}); send functions "
                        "defined with `def` and data that pickle can copy") from None
    return buffer.getvalue()


_pickler_class = None


def _Pickler(file, sources):
    global _pickler_class
    if _pickler_class is None:
        _pickler_class = _make_pickler()
    return _pickler_class(file, sources)


def _make_pickler():
    import cloudpickle  # dask.distributed depends on it; imported late like dask itself

    class Pickler(cloudpickle.Pickler):
        """cloudpickle, plus: a Dispatcher goes as its function, and the files of the functions
        sent by value go along as source lines (the JIT compiles from source)."""

        def __init__(self, file, sources):
            super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
            self.sources = sources

        def reducer_override(self, obj):
            if _is_dispatcher(obj):
                return _reduce_dispatcher(obj)
            reduced = super().reducer_override(obj)
            if reduced is not NotImplemented and isinstance(obj, types.FunctionType):
                self._keep_source(obj)  # sent by value: the worker may have no such file
            return reduced

        def _keep_source(self, fn):
            import linecache

            filename = fn.__code__.co_filename
            if filename not in self.sources:
                lines = linecache.getlines(filename, fn.__globals__)
                if lines:
                    self.sources[filename] = lines

    return Pickler


def _reduce_dispatcher(d):
    fn = d.py_func
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    level = _client_jit_level(d)
    if module and module != "__main__" and "<" not in qualname and _attribute(module, qualname) is d:
        return _dispatcher_by_name, (module, qualname, level)
    return _jit_on_worker, (fn, level)


# --- collecting the results ---------------------------------------------------------------

class _WorkerTraceback(Exception):
    """The worker's traceback, as the ``__cause__`` of the exception raised in the caller."""

    def __init__(self, tb):
        super().__init__(tb)
        self.tb = tb

    def __str__(self):
        return f'\n"""\n{self.tb}"""'


def _collect(distributed, client, futures, shown, fn):
    batch_of = {f.key: b for b, f in enumerate(futures)}
    results = [None] * len(futures)  # each: the list of a finished batch
    failures = {}  # batch -> (item index, exception, traceback text) or a failed future
    ended = 0
    done_items = 0
    # with_results: the results are fetched as the batches end, not one round trip each
    for f, result in distributed.as_completed(futures, loop=client.loop, with_results=True,
                                              raise_errors=False):
        b = batch_of[f.key]
        ended += 1
        if f.status == "finished":
            outcome = pickle.loads(result)
            if outcome[0] == "ok":
                results[b] = outcome[1]
                done_items += len(outcome[1])
            else:
                failures[b] = outcome[1:]
        else:  # the task itself failed: the worker died, could not unpickle it, was cancelled
            failures[b] = f
        shown.update(done_items, ended, len(futures))
        if failures:
            first = min(failures)
            if all(results[j] is not None for j in range(first)):
                _raise(failures[first], fn)
    return [r for batch in results for r in batch]


def _raise(failure, fn):
    if isinstance(failure, tuple):
        _, e, tb = failure
        raise e from _WorkerTraceback(tb)
    try:
        failure.result()  # dask re-raises the task's exception with the worker's traceback
    except ModuleNotFoundError as e:
        if (e.name or "").partition(".")[0] == "epochpp":
            _note(e, "(epochpp.parallel_map: the Dask workers need epochpp installed, the same "
                     "version as here: pip install epochpp on every worker machine)")
        raise
    except BaseException as e:
        _note(e, f"(epochpp.parallel_map of {_describe(fn)}: a Dask task failed before or after "
                 "running its items)")
        raise
    raise RuntimeError(f"epochpp.parallel_map: a Dask task ended as {failure.status!r}")


# --- progress -----------------------------------------------------------------------------

class _Progress:
    """One line on stderr: shown with progress=True or EPOCHPP_PROGRESS=1 (always), never with
    False or EPOCHPP_PROGRESS=0, and by default when stderr is a terminal and the map has run
    for a second. A terminal gets one line rewritten in place; a file, a line every 2 s."""

    def __init__(self, progress, n_items, workers, fn):
        if progress is None:
            text = setting("progress", "EPOCHPP_PROGRESS").strip().lower()
            progress = {"1": True, "true": True, "yes": True, "0": False, "false": False,
                        "no": False}.get(text)
        self.tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self.enabled = progress if progress is not None else self.tty
        self.delay = 0.0 if progress else 1.0
        self.n_items, self.workers = n_items, workers
        self.name = getattr(fn, "__qualname__", None) or type(fn).__name__
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.shown = False
        self.state = (0, 0, 0)

    def update(self, items, batches, n_batches):
        self.state = (items, batches, n_batches)
        now = time.perf_counter() - self.t0
        if not self.enabled or now < self.delay or now - self.last < (0.1 if self.tty else 2.0):
            return
        self.last = now
        self._write(now, "\r" if self.tty else "", "" if self.tty else "\n")

    def close(self):
        now = time.perf_counter() - self.t0
        if self.enabled and (self.shown or now >= self.delay):
            self._write(now, "\r" if self.tty and self.shown else "", "\n")

    def _write(self, now, head, tail):
        items, batches, n_batches = self.state
        sys.stderr.write(f"{head}epochpp.parallel_map({self.name}) on Dask: {items}/{self.n_items} "
                         f"items, {batches}/{n_batches} batches, {self.workers} workers, "
                         f"{now:.1f} s{tail}")
        sys.stderr.flush()
        self.shown = True
