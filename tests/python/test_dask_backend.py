"""parallel_map(backend="dask"): a real LocalCluster (2 worker processes on loopback) for the module.

Results in order, compiled functions on the workers, exceptions, the ways to find the cluster,
errors that say what to do, progress, and `epochpp run --cluster`. Worker functions live in
dask_helpers.py and parallel_map_helpers.py: the workers import them by name.
"""
import linecache
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import epochpp
import dask_helpers as dh
import parallel_map_helpers as h

from epochpp import dask_backend as db  # imports no dask: that happens at the first dask call

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(epochpp.__file__)))


@pytest.fixture(scope="module", autouse=True)
def _stop_the_local_pool_after_these_tests():
    """A test below runs a function on the local process pool that imports distributed in
    its workers: later test modules get fresh workers."""
    yield
    sys.modules["epochpp.parallel_map"].shutdown()


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed", reason='needs dask.distributed: pip install "epochpp[dask]"')
    quiet = logging.getLogger("distributed")  # its INFO lines would bury a failure's report
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    # dashboard_address=":0": the scheduler's HTTP server takes a free port (8787 may be taken)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as c:
        yield c
    db.shutdown()
    quiet.setLevel(level)


@pytest.fixture(scope="module")
def client(cluster):
    import distributed

    # not the default client: the tests below choose how the cluster is found
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture
def no_cluster_settings(monkeypatch):
    for name in ("EPOCHPP_DASK_ADDRESS", "EPOCHPP_PARALLEL_BACKEND", "EPOCHPP_PROGRESS"):
        monkeypatch.delenv(name, raising=False)


# --- results ------------------------------------------------------------------------------

def test_results_in_order_like_map_on_the_workers(client):
    items = list(range(37))
    got = epochpp.parallel_map(h.pid_with_dict, items, client=client)
    assert [v for v, _ in got] == [v for v, _ in map(h.pid_with_dict, items)]
    assert os.getpid() not in {pid for _, pid in got}
    workers = set(client.nthreads())
    assert {w for _, w in epochpp.parallel_map(dh.batch_and_worker, range(40), client=client)} == workers


def test_several_iterables_stop_at_the_shortest(client):
    a, b, c = range(10), [5, 6, 7, 8], (1, 1, 1, 1, 1, 1)
    assert epochpp.parallel_map(h.add, a, b, c, client=client) == list(map(h.add, a, b, c))
    assert epochpp.parallel_map(h.join_with_dict, iter("xyz"), (i for i in range(9)),
                                client=client) == ["x-0", "y-1", "z-2"]
    assert epochpp.parallel_map(h.square, [], client=client) == []
    assert epochpp.parallel_map(lambda x: x + 0.5, [1, 2], client=client) == [1.5, 2.5]


def test_batches_are_sized_to_the_cluster(client):
    """2 worker threads x 4 batches each: 100 items go as 8 batches of 13 (the last of 9)."""
    batches = [b for b, _ in epochpp.parallel_map(dh.batch_and_worker, range(100), client=client)]
    assert batches == sorted(batches) and sorted(set(batches)) == list(range(8))
    assert [batches.count(b) for b in range(8)] == [13] * 7 + [9]


# --- compiled code on the workers ---------------------------------------------------------

def test_compiled_functions_run_as_native_code_on_the_workers(client):
    items = [100, 2000, 3, 0, 777, 5000]
    assert epochpp.parallel_map(h.collatz_steps, items, client=client) == [h.collatz_steps(n) for n in items]
    assert epochpp.parallel_map(dh.jitted_sum_squares, items, client=client) == [
        dh.jitted_sum_squares.py_func(n) for n in items]
    arrays = [np.arange(n, dtype=np.float64) for n in (0, 3, 1000, 17)]
    assert epochpp.parallel_map(h.array_total, arrays, client=client) == [h.array_total(a) for a in arrays]
    for texts in db.explain_workers(client).values():
        for name in ("collatz_steps", "jitted_sum_squares", "array_total"):
            if name in texts:  # a worker that ran no batch of it has not loaded it
                assert "native code" in texts[name], texts[name]
    ran = set().union(*db.explain_workers(client).values())
    assert {"collatz_steps", "jitted_sum_squares", "array_total"} <= ran


def test_function_sent_by_value_compiles_from_the_shipped_source(client, tmp_path):
    """Defined from source no worker can read (a file that does not exist, as in Jupyter):
    the source lines travel with the function, and its callee, a Dispatcher, travels too."""
    source = textwrap.dedent("""\
        def tri_helper(i):
            return i * (i + 1) // 2

        def tri_total(n):
            s = 0
            for i in range(n):
                s += tri_helper(i)
            return s
        """)
    filename = str(tmp_path / "nowhere" / "made_in_a_notebook.py")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "not_an_importable_module"}
    exec(compile(source, filename, "exec"), namespace)
    namespace["tri_helper"] = epochpp.jit(namespace["tri_helper"])
    tri_total = namespace["tri_total"]
    items = [0, 1, 10, 300, 12345]
    assert epochpp.parallel_map(tri_total, items, client=client) == [tri_total(n) for n in items]
    texts = [t["tri_total"] for t in db.explain_workers(client).values() if "tri_total" in t]
    assert texts and all("native code" in t for t in texts), texts


def test_a_local_map_inside_a_dask_worker_runs_serially_there(client):
    for values, warned in epochpp.parallel_map(dh.nested_local_map, [3, 5], client=client):
        assert values == [10 * x for x in range(len(values))]
        assert len(warned) == 1 and "this process is a daemon (a Dask worker" in warned[0]


# --- exceptions ---------------------------------------------------------------------------

def test_exception_type_message_and_item(client):
    with pytest.raises(ValueError) as info:
        epochpp.parallel_map(h.fail_at, range(8), client=client)
    assert str(info.value) == "bad item 3"
    assert any("raised by item 3 on the Dask worker tcp://127.0.0.1:" in n for n in info.value.__notes__)
    assert "in fail_at" in str(info.value.__cause__), "the worker's traceback is the cause"


def test_lowest_index_failure_wins_even_when_it_fails_last(client):
    with pytest.raises(KeyError, match="item 2"):
        epochpp.parallel_map(h.fail_two, range(40), client=client)
    with pytest.raises(ValueError) as info:
        epochpp.parallel_map(dh.slow_then_fail, range(40), client=client)
    assert str(info.value) == "item 1 failed (slowly)"
    assert epochpp.parallel_map(h.square, range(5), client=client) == [0, 1, 4, 9, 16], "still usable"


def test_exception_that_cannot_be_pickled_back(client):
    with pytest.raises(RuntimeError, match=r"NeedsTwoArgs: 0 and b \(raised by item 0 on the Dask worker"):
        epochpp.parallel_map(h.raise_unpicklable, range(4), client=client)


def test_what_cannot_be_sent_is_named(client):
    with pytest.raises(TypeError, match=r"an argument of items 0\.\.0 cannot be sent to the Dask workers"):
        epochpp.parallel_map(h.add, [threading.Lock(), 1], [1, 2], client=client)
    lock = threading.Lock()
    with pytest.raises(TypeError, match=r"<lambda> .*cannot be sent to the Dask workers"):
        epochpp.parallel_map(lambda x: (lock, x), [1, 2], client=client)
    with pytest.raises(TypeError, match=r"a result of items 0\.\.0 cannot be sent back from the Dask worker"):
        epochpp.parallel_map(lambda x: (y for y in range(x)), [1, 2], client=client)


def test_a_module_the_workers_cannot_import(client, tmp_path, monkeypatch):
    (tmp_path / "only_on_the_client.py").write_text("def twice(x):\n    return {'v': 2 * x}['v']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import only_on_the_client

    with pytest.raises(ModuleNotFoundError, match="only_on_the_client") as info:
        epochpp.parallel_map(only_on_the_client.twice, range(4), client=client)
    assert any("install the modules they need on every worker" in n for n in info.value.__notes__)


def test_a_scheduler_and_worker_without_this_epochpp(tmp_path, no_cluster_settings):
    """`dask scheduler` and `dask worker` processes that import a different epochpp (one with
    no dask_backend): the scheduler takes the tasks anyway (it needs only Dask), and the
    worker's failure says to install epochpp on the workers."""
    distributed = pytest.importorskip("distributed")
    other = tmp_path / "other_epochpp"
    (other / "epochpp").mkdir(parents=True)
    (other / "epochpp" / "__init__.py").write_text("# an epochpp without dask_backend\n")
    env = dict(os.environ, PYTHONPATH=str(other))
    scheduler_file = tmp_path / "scheduler.json"
    common = ["--scheduler-file", str(scheduler_file), "--dashboard-address", ":0"]
    processes = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                   "--port", "0", *common], env=env, stderr=subprocess.DEVNULL)]
    try:
        processes.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--nthreads", "1",
                                           "--no-nanny", *common], env=env, stderr=subprocess.DEVNULL))
        with distributed.Client(scheduler_file=str(scheduler_file), set_as_default=False, timeout=60) as c:
            c.wait_for_workers(1, timeout=60)
            with pytest.raises(ModuleNotFoundError, match="epochpp") as info:
                epochpp.parallel_map(h.square, range(4), client=c)
        assert any("the Dask workers need epochpp installed, the same version as here" in n
                   for n in info.value.__notes__)
    finally:
        for p in reversed(processes):  # the worker first: it closes cleanly while the scheduler runs
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# --- finding the cluster ------------------------------------------------------------------

def test_epochpp_dask_address_and_backend_settings(cluster, monkeypatch, no_cluster_settings):
    monkeypatch.setenv("EPOCHPP_DASK_ADDRESS", cluster.scheduler_address)
    assert epochpp.parallel_map(dh.running_on_a_dask_worker, range(6), backend="dask") == [True] * 6
    monkeypatch.setenv("EPOCHPP_PARALLEL_BACKEND", "dask")
    assert epochpp.parallel_map(dh.running_on_a_dask_worker, range(6)) == [True] * 6
    assert epochpp.parallel_map(dh.running_on_a_dask_worker, range(6), backend="local") == [False] * 6
    assert list(db._clients) == [cluster.scheduler_address], "one connection, reused"
    db.shutdown()
    assert not db._clients


def test_the_default_dask_client_is_used(cluster, no_cluster_settings):
    import distributed

    with distributed.Client(cluster):  # becomes the default client
        assert epochpp.parallel_map(dh.running_on_a_dask_worker, range(3), backend="dask") == [True] * 3


def test_no_cluster_says_how_to_give_one(no_cluster_settings):
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="pass client=distributed.Client.*EPOCHPP_DASK_ADDRESS.*--cluster"):
        epochpp.parallel_map(h.square, [1, 2], backend="dask")
    assert epochpp.parallel_map(h.square, [], backend="dask") == [], "no items: nothing to send"


def test_unreachable_scheduler(monkeypatch, no_cluster_settings):
    dask = pytest.importorskip("dask")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("EPOCHPP_DASK_ADDRESS", f"tcp://127.0.0.1:{port}")
    with dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}):
        with pytest.raises(OSError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}.*dask worker"):
            epochpp.parallel_map(h.square, [1, 2], backend="dask")


def test_a_scheduler_without_workers(monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(db, "WAIT_FOR_WORKERS_S", 0.2)
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=":0") as c, \
            distributed.Client(c, set_as_default=False) as empty:
        with pytest.raises(RuntimeError, match="has no Dask workers after 0.2 s; start some with `dask worker tcp://"):
            epochpp.parallel_map(h.square, [1, 2], client=empty)


def test_without_dask_the_error_says_what_to_install(monkeypatch, no_cluster_settings, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now fails
    with pytest.raises(ImportError, match=r'pip install "epochpp\[dask\]".*pip install "dask\[distributed\]"'):
        epochpp.parallel_map(h.square, [1, 2], backend="dask")
    from epochpp import cli

    script = tmp_path / "s.py"
    script.write_text("print('never runs')\n")
    assert cli.main(["run", "--cluster", "tcp://127.0.0.1:1", str(script)]) == 2
    assert 'pip install "epochpp[dask]"' in capsys.readouterr().err


def test_import_epochpp_and_the_local_backend_do_not_load_dask():
    code = ("import sys, epochpp; epochpp.parallel_map(abs, [1, -2]); "
            "print(sorted(m for m in ('dask', 'distributed', 'cloudpickle', 'epochpp.dask_backend', 'epochpp.dask_worker')"
            " if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [PYTHON_DIR, os.environ.get("PYTHONPATH")])))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[]\n"


def test_bad_backend_and_client_arguments(monkeypatch, no_cluster_settings):
    with pytest.raises(ValueError, match=r"backend='ray' is not a backend; choose 'local' .* or 'dask'"):
        epochpp.parallel_map(h.square, [1], backend="ray")
    monkeypatch.setenv("EPOCHPP_PARALLEL_BACKEND", "spark")
    with pytest.raises(ValueError, match="EPOCHPP_PARALLEL_BACKEND='spark' is not a backend"):
        epochpp.parallel_map(h.square, [1])
    with pytest.raises(ValueError, match="client= is for backend='dask'"):
        epochpp.parallel_map(h.square, [1], backend="local", client=object())
    pytest.importorskip("distributed")
    with pytest.raises(TypeError, match="must be a distributed.Client, not str"):
        epochpp.parallel_map(h.square, [1], client="tcp://127.0.0.1:8786")


# --- progress -----------------------------------------------------------------------------

def test_progress_line(client, capfd, monkeypatch, no_cluster_settings):
    epochpp.parallel_map(h.square, range(10), client=client)
    assert "epochpp.parallel_map" not in capfd.readouterr().err, "quiet when stderr is not a terminal"
    epochpp.parallel_map(h.square, range(16), client=client, progress=True)
    assert "epochpp.parallel_map(square) on Dask: 16/16 items, 8/8 batches, 2 workers" in capfd.readouterr().err
    monkeypatch.setenv("EPOCHPP_PROGRESS", "1")
    epochpp.parallel_map(h.square, range(3), client=client)
    assert "3/3 items" in capfd.readouterr().err
    epochpp.parallel_map(h.square, range(3), client=client, progress=False)
    assert capfd.readouterr().err == ""


# --- epochpp run --cluster ----------------------------------------------------------------

def test_epochpp_run_cluster_sends_parallel_map_to_the_cluster(cluster, client, tmp_path):
    script = tmp_path / "uses_the_cluster.py"
    script.write_text(textwrap.dedent("""\
        import os
        import epochpp

        def steps(k):
            m, n = k, 0
            while m != 1:
                m = m // 2 if m % 2 == 0 else 3 * m + 1
                n += 1
            return n

        def total_steps(n):
            total = 0
            for k in range(1, n):
                total += steps(k)
            return total

        def pid(_):
            return os.getpid()

        print(epochpp.parallel_map(total_steps, range(12)))
        print("elsewhere:", os.getpid() not in epochpp.parallel_map(pid, range(8)))
        """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [PYTHON_DIR, os.environ.get("PYTHONPATH")])))
    for name in ("EPOCHPP_DASK_ADDRESS", "EPOCHPP_PARALLEL_BACKEND"):
        env.pop(name, None)
    r = subprocess.run([sys.executable, "-m", "epochpp", "run", "--cluster", cluster.scheduler_address, str(script)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    expected = [sum(_steps(k) for k in range(1, n)) for n in range(12)]
    assert r.stdout == f"{expected}\nelsewhere: True\n"
    texts = [t["total_steps"] for t in db.explain_workers(client).values() if "total_steps" in t]
    assert texts and all("native code (Level 3)" in t for t in texts), texts


def _steps(k):
    m, n = k, 0
    while m != 1:
        m = m // 2 if m % 2 == 0 else 3 * m + 1
        n += 1
    return n


# --- Ctrl-C (last: the batches it leaves running finish on the workers) --------------------

def test_ctrl_c_stops_the_wait_at_once(cluster, tmp_path):
    """5 s of items on 2 workers; SIGINT after the first batches started: KeyboardInterrupt
    reaches the script at once, and it exits."""
    script = tmp_path / "interrupted.py"
    script.write_text(textwrap.dedent(f"""\
        import time
        import distributed
        import epochpp
        import parallel_map_helpers as h

        client = distributed.Client({cluster.scheduler_address!r})
        print("ready", flush=True)
        t0 = time.perf_counter()
        try:
            epochpp.parallel_map(h.sleep_for, [0.1] * 100, client=client)
        except KeyboardInterrupt:
            print(f"interrupted after {{time.perf_counter() - t0:.2f}} s", flush=True)
        """))
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PYTHON_DIR, here]))
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    try:
        assert p.stdout.readline() == "ready\n"
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 0, err
    seconds = float(out.split("interrupted after ")[1].split()[0])
    assert seconds < 3.0, out
