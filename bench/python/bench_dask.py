"""parallel_map on a Dask cluster (1 and 2 local workers) against the local backend and serial.

    python3 bench/python/bench_dask.py [--items N] [--size S] [--repeat K]

Two CPU-bound workloads, timed side by side in one run: after one warm-up call per row
(compiles, starts the pool, ships the function), K rounds each time every row once; the
table shows each row's median and best round (on a shared machine, the least-disturbed
round is the steadier figure):

* compiled: ``collatz_steps(n)``, ints and nested loops, which epochpp.jit compiles. Serial is
  a list comprehension of the epochpp.jit function; local is ``parallel_map`` (oneTBB);
* Python: ``word_score(n)``, a dict and ``str``, which runs in the interpreter. Serial is a
  list comprehension; local is ``parallel_map`` (its process pool).

The Dask rows use ``LocalCluster``s on loopback: 1 and 2 worker processes with 1 thread
each, and 1 process with 2 threads. They run on the same cores as the local rows, so they
show Dask's cost and its scaling with workers, not a bigger machine. Ratios are against the serial row of the same workload.
Needs dask[distributed] (pip install "epochpp[dask]").
"""
import argparse
import contextlib
import functools
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "python"))

import epochpp  # noqa: E402

SHAPES = ((1, 1), (2, 1), (1, 2))  # LocalClusters: (worker processes, threads per worker)


def _shape(workers, threads):
    return f"dask, {workers} worker{'s' if workers > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}"


def collatz_steps(n):
    total = 0
    for k in range(1, n):
        m = k
        while m != 1:
            if m % 2 == 0:
                m = m // 2
            else:
                m = 3 * m + 1
            total += 1
    return total


def word_score(n):
    counts = {}
    for i in range(n):
        w = str(i % 97)
        counts[w] = counts.get(w, 0) + len(w)
    return sum(counts.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=64, help="items per map (default 64)")
    ap.add_argument("--size", type=int, default=60000, help="collatz_steps(n) argument (default 60000)")
    ap.add_argument("--py-size", type=int, default=60000, help="word_score(n) argument (default 60000)")
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per row (default 5)")
    a = ap.parse_args()
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SystemExit('bench_dask.py needs dask.distributed: pip install "epochpp[dask]"')

    jitted = epochpp.jit(collatz_steps)
    workloads = {
        "compiled": (collatz_steps, [a.size] * a.items, lambda xs: [jitted(x) for x in xs]),
        "Python": (word_score, [a.py_size] * a.items, lambda xs: [word_score(x) for x in xs]),
    }
    expected = {name: serial(items) for name, (_, items, serial) in workloads.items()}
    t0 = time.perf_counter()
    # The clusters run for the whole benchmark and every round times each row once, so the
    # rows of one round share the machine's load (an idle worker costs a heartbeat).
    with contextlib.ExitStack() as stack:
        clients = {}
        for workers, threads in SHAPES:
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=threads, processes=True, host="127.0.0.1",
                dashboard_address=":0"))
            clients[workers, threads] = stack.enter_context(Client(cluster, set_as_default=False))
        startup = time.perf_counter() - t0
        rows = {}  # (workload, how) -> list of seconds
        for name, (fn, items, serial) in workloads.items():
            local = "oneTBB" if name == "compiled" else "process pool"
            hows = {"serial": lambda: serial(items),
                    f"local parallel_map ({local})": lambda: epochpp.parallel_map(fn, items)}
            for (workers, threads), client in clients.items():
                hows[_shape(workers, threads)] = functools.partial(epochpp.parallel_map, fn, items, client=client)
            for how, call in hows.items():  # warm-up: compile, start the pool, ship the function
                assert call() == expected[name], (name, how)
                rows[name, how] = []
            for _ in range(a.repeat):
                for how, call in hows.items():
                    t = time.perf_counter()
                    call()
                    rows[name, how].append(time.perf_counter() - t)
    median = {key: statistics.median(ts) for key, ts in rows.items()}
    best = {key: min(ts) for key, ts in rows.items()}
    print(f"# parallel_map backends: {a.items} items, {os.cpu_count()} CPUs, {a.repeat} rounds "
          f"({len(SHAPES)} LocalClusters started in {startup:.2f} s)")
    print("| workload | how | median (s) | best (s) | speedup vs serial: median | best |")
    print("|---|---|---|---|---|---|")
    for name, how in rows:
        serial_m, serial_b = median[name, "serial"], best[name, "serial"]
        print(f"| {name} | {how} | {median[name, how]:.3f} | {best[name, how]:.3f} | "
              f"{serial_m / median[name, how]:.2f}x | {serial_b / best[name, how]:.2f}x |")
    for name in workloads:
        one, two = (name, _shape(1, 1)), (name, _shape(2, 1))
        print(f"{name}: Dask from 1 to 2 workers: {median[one] / median[two]:.2f}x (median), "
              f"{best[one] / best[two]:.2f}x (best)")
    sys.modules["epochpp.parallel_map"].shutdown()  # the local process pool


if __name__ == "__main__":
    main()
