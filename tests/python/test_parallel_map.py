"""epochpp.parallel_map: results in order as list(map(...)), exceptions, fallbacks, Ctrl-C.

Worker functions live in parallel_map_helpers.py: worker processes import them by name.
The process pool starts once for the session (~0.4 s) and is reused by every test.
"""
import functools
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest

import epochpp
import parallel_map_helpers as h

HERE = os.path.dirname(os.path.abspath(__file__))
# where the epochpp in use lives (the source tree's python/ in development, site-packages
# after `pip install .`): the scripts below must import the same one
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(epochpp.__file__)))
pm_module = sys.modules["epochpp.parallel_map"]  # `epochpp.parallel_map` is the function

try:
    HAS_MAP = hasattr(epochpp.jit(h.element), "_map")
except ImportError:
    HAS_MAP = False
needs_map = pytest.mark.skipif(not HAS_MAP, reason="epochpp._core has no Dispatcher._map yet: "
                                                   "the compiled path of parallel_map cannot run")
needs_cores = pytest.mark.skipif(pm_module.num_workers() < 2,
                                 reason="one core (or EPOCHPP_NUM_THREADS=1): no process pool")


@pytest.fixture(scope="module", autouse=True)
def _stop_the_pool_after_these_tests():
    """The pool's manager thread waits in select(): later tests that profile this process
    (test_profiler.py) would see it. Leave no threads or worker processes behind."""
    yield
    pm_module.shutdown()


def pids(results):
    return {pid for _, pid in results}


# --- the pool path --------------------------------------------------------------------------

@needs_cores
def test_pool_results_in_order_like_map():
    items = list(range(37))
    got = epochpp.parallel_map(h.pid_with_dict, items)
    assert [v for v, _ in got] == [v for v, _ in map(h.pid_with_dict, items)]
    assert os.getpid() not in pids(got), "a function that cannot compile runs in worker processes"


@needs_cores
def test_pool_is_reused_across_calls():
    first = pids(epochpp.parallel_map(h.pid_with_dict, range(20)))
    second = pids(epochpp.parallel_map(h.pid_with_dict, range(20)))
    assert first & second, "the second call uses the same worker processes"


def test_several_iterables_stop_at_the_shortest():
    a, b = [1, 2, 3, 4, 5], ("x", "y", "z")
    assert epochpp.parallel_map(h.join_with_dict, a, b) == list(map(h.join_with_dict, a, b))
    assert epochpp.parallel_map(h.join_with_dict, iter(a), (c for c in b)) == ["1-x", "2-y", "3-z"]


def test_empty_and_one_item():
    assert epochpp.parallel_map(h.pid_with_dict, []) == []
    assert epochpp.parallel_map(h.join_with_dict, [], range(5)) == []
    assert epochpp.parallel_map(h.pid_with_dict, [7]) == [(70, os.getpid())], "one item: no pool"


def test_argument_errors_like_map():
    with pytest.raises(TypeError, match="at least two arguments"):
        epochpp.parallel_map(h.square)
    with pytest.raises(TypeError, match="not callable"):
        epochpp.parallel_map(3, [1, 2])


def test_other_callables_use_the_pool():
    items = list(range(10))
    assert epochpp.parallel_map(h.Scaler(3), items) == [3 * x for x in items]
    assert epochpp.parallel_map(h.Scaler(2).scale, items) == [2 * x for x in items]
    assert epochpp.parallel_map(functools.partial(h.join_with_dict, "p"), items) == [f"p-{x}" for x in items]
    assert epochpp.parallel_map(len, ["", "a", "bb"]) == [0, 1, 2]


@needs_cores
def test_module_name_bound_to_a_dispatcher_is_sent_by_name():
    got = epochpp.parallel_map(h.jitted_dict, range(8))
    assert [v for v, _ in got] == list(range(1, 9))
    assert os.getpid() not in pids(got)


def test_exception_type_and_message_reach_the_caller():
    with pytest.raises(ValueError) as info:
        epochpp.parallel_map(h.fail_at, range(8))
    assert str(info.value) == "bad item 3"
    if pm_module.num_workers() >= 2:
        assert any("raised by item 3" in n for n in getattr(info.value, "__notes__", []))


def test_lowest_index_failure_wins():
    with pytest.raises(KeyError, match="item 2"):
        epochpp.parallel_map(h.fail_two, range(8))
    assert epochpp.parallel_map(h.pid_with_dict, range(4))[0][0] == 0, "the pool still works"


@needs_cores
def test_exception_that_cannot_be_pickled_back():
    with pytest.raises(RuntimeError, match=r"NeedsTwoArgs: 0 and b \(raised by item 0"):
        epochpp.parallel_map(h.raise_unpicklable, range(4))


@needs_cores
def test_exception_that_cannot_be_pickled_back_where_tblib_pickles_contexts():
    pytest.importorskip("tblib")  # a dependency of dask.distributed
    try:
        with pytest.raises(RuntimeError, match=r"NeedsTwoArgs: 0 and b \(raised by item 0"):
            epochpp.parallel_map(h.raise_unpicklable_with_tblib, range(4))
    finally:
        pm_module.shutdown()  # later tests get workers without tblib's reducers


@needs_cores
def test_unpicklable_lambda_runs_serially_with_one_warning():
    fn = lambda x: {"v": x * 2}["v"]  # noqa: E731 - a dict: the compiler leaves it to the pool
    with pytest.warns(RuntimeWarning) as record:
        assert epochpp.parallel_map(fn, range(6)) == [0, 2, 4, 6, 8, 10]
    assert len(record) == 1
    message = str(record[0].message)
    assert "<lambda>" in message and "test_parallel_map.py:" in message
    assert "runs serially" in message and "module level" in message
    assert record[0].filename == __file__, "the warning points at the parallel_map call"


@needs_cores
def test_unpicklable_argument_runs_serially_with_a_warning():
    items = [(1, functools.partial(int)), (2, (lambda: 0))]  # a lambda cannot be pickled
    with pytest.warns(RuntimeWarning, match="cannot be pickled"):
        got = epochpp.parallel_map(h.join_with_dict, *zip(*items))
    assert got == [h.join_with_dict(a, b) for a, b in items]


def test_one_worker_runs_in_this_process(monkeypatch):
    monkeypatch.setenv("EPOCHPP_NUM_THREADS", "1")
    assert pm_module.num_workers() == 1
    fn = functools.partial(h.pid_with_dict)  # not a function: no Dispatcher, no oneTBB arena made
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pids(epochpp.parallel_map(fn, range(6))) == {os.getpid()}
    monkeypatch.setenv("EPOCHPP_NUM_THREADS", "0")
    assert pm_module.num_workers() == pm_module._cpu_count()


@needs_cores
def test_crashed_worker_raises_and_the_next_call_starts_a_new_pool():
    with pytest.raises(BrokenProcessPool, match="a worker process died"):
        epochpp.parallel_map(h.exit_worker, range(4))
    assert epochpp.parallel_map(h.join_with_dict, [1, 2, 3], "abc") == ["1-a", "2-b", "3-c"]


# --- scripts: Ctrl-C and the __main__ guard -------------------------------------------------

def run_script(tmp_path, source, **kw):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PYTHON_DIR, HERE]), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has stopped
    except OSError:
        return True


@needs_cores
@pytest.mark.skipif(sys.platform != "linux", reason="SIGINT and /proc: Linux")
def test_ctrl_c_stops_the_workers_promptly(tmp_path):
    proc = run_script(tmp_path, """
        import sys, time
        import epochpp, parallel_map_helpers as h
        if __name__ == "__main__":
            epochpp.parallel_map(h.pid_with_dict, range(8))
            pool = sys.modules["epochpp.parallel_map"]._pool
            print("workers", *pool._processes, flush=True)
            t = time.perf_counter()
            try:
                epochpp.parallel_map(h.spin_for, [60.0] * 4)  # 2 minutes on 2 cores
            except KeyboardInterrupt:
                print(f"interrupted after {time.perf_counter() - t:.2f} s", flush=True)
                raise
        """)
    try:
        line = proc.stdout.readline()
        assert line.startswith("workers"), line + proc.stderr.read()
        workers = [int(p) for p in line.split()[1:]]
        time.sleep(1.0)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        took = time.perf_counter() - sent
    finally:
        proc.kill()
    assert "interrupted after" in out
    assert err.rstrip().endswith("KeyboardInterrupt"), err
    assert proc.returncode == -signal.SIGINT
    assert took < 5, f"exited {took:.1f} s after Ctrl-C"
    deadline = time.time() + 3
    while not all(gone(p) for p in workers) and time.time() < deadline:
        time.sleep(0.05)
    assert all(gone(p) for p in workers), "worker processes outlived Ctrl-C"


@needs_cores
def test_unguarded_script_runs_serially_with_a_warning(tmp_path):
    proc = run_script(tmp_path, """
        import epochpp, parallel_map_helpers as h
        print("top level")
        print(epochpp.parallel_map(h.join_with_dict, range(4), "abcd"))
        """)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["top level", "['0-a', '1-b', '2-c', '3-d']"]
    assert "script.py:4 is not under `if __name__ == \"__main__\":`" in err


# --- the compiled path ----------------------------------------------------------------------

@needs_map
def test_compiled_ints_like_map():
    items = list(range(40, 90))
    assert epochpp.parallel_map(h.collatz_steps, items) == list(map(h.collatz_steps, items))
    d = h.collatz_steps.__dict__[pm_module._JIT_ATTR]
    assert "native code" in epochpp.explain(d), epochpp.explain(d)
    jitted = epochpp.jit(h.collatz_steps)
    assert epochpp.parallel_map(jitted, items) == list(map(h.collatz_steps, items))


@needs_map
def test_compiled_numpy_arrays_like_map():
    rng = np.random.default_rng(1)
    arrays = [rng.random(n) for n in (0, 1, 7, 100, 1000, 33)]
    assert epochpp.parallel_map(h.array_total, arrays) == list(map(h.array_total, arrays))
    idx = [0, 0, 3, 50, 999, -1]
    assert epochpp.parallel_map(h.element, arrays[1:], idx[1:]) == list(map(h.element, arrays[1:], idx[1:]))


@needs_map
def test_compiled_exception_like_map():
    a = np.arange(5.0)
    args = ([a] * 6, [0, 1, 7, 2, 9, 3])
    with pytest.raises(IndexError) as serial:
        list(map(h.element, *args))
    with pytest.raises(IndexError) as parallel:
        epochpp.parallel_map(h.element, *args)
    assert str(parallel.value) == str(serial.value)


@needs_map
@needs_cores
def test_function_that_cannot_compile_goes_to_the_pool():
    got = epochpp.parallel_map(h.pid_with_dict, range(8))
    assert [v for v, _ in got] == [10 * x for x in range(8)]
    assert os.getpid() not in pids(got)
