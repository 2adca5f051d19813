#!/usr/bin/env python3
"""bench/python/l3_scaling.py — Level 3 over Level 2 on the parallelisable bench kernels, per thread count.

    PYTHONPATH=python python3 bench/python/l3_scaling.py [--threads 1,2,4,8,16] [--rounds 3]
                                                         [--processes K] [--only a,b] [--reuse]
                                                         [--size name=N,...] [--json F]

For each thread count, K fresh processes (EPOCHPP_NUM_THREADS is read once, when the worker arena
is made) each compile each kernel at Level 2 and at Level 3 and time `--rounds` x 15 pairs of
calls (Level 2 then Level 3, the order swapped every other pair), every call on fresh copies of
the inputs. A process's ratio is the median over its pairs of L2 time / L3 time, so both sides of
a ratio see the same machine; the table gives the median of the K processes' ratios and their
range (on a shared VM a process can land in a slow spell, and layouts differ from process to
process). Results are checked against Level 2's with kernels.py's tolerances.

--reuse: each level gets one copy of the inputs, made once, and every timed call reuses it, as
a program calling a kernel in a loop on the same buffers does (results are checked on the first
calls, on fresh copies, as without it). The fresh copies of the default land in the calling
core's cache (and a fresh array's pages may be first touched by the kernel itself); the two
ways differ most for pairwise_distances, whose 3.9 MB result is written on both cores.

The ceiling column: in each pair, also `threads` Level 2 calls at once (epochpp.parallel_map,
one per worker, each on its own copy of the inputs), against the pair's Level 2 call alone:
`threads` x L2 time / their time together, the median over pairs and the processes' range. It
is what this machine gives the same serial code on that many cores at that time; on a VM
whose vCPUs share a physical core for a while it drops with Level 3's ratio, which then says
nothing about Level 3.

The measuring processes run with OPENBLAS_NUM_THREADS=1 unless it is set: NumPy's OpenBLAS
threads spin for ~0.1 s after `import numpy`, and on 2 cores that took the second core from
Level 3's worker for the first ~30 calls of a process (docs/levels.md). No kernel here calls BLAS.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PARALLEL = ["mandelbrot", "pairwise_distances", "black_scholes", "nbody_step", "matmul"]


def cpu_ticks():
    """(steal, total) jiffies of all CPUs from /proc/stat, or None where there is none (not Linux)."""
    try:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (f[7] if len(f) > 7 else 0), sum(f[:8])


def steal_share(t0, t1):
    """Share of the CPUs' time the hypervisor gave to someone else between two cpu_ticks()."""
    if t0 is None or t1 is None or t1[1] <= t0[1]:
        return None
    return (t1[0] - t0[0]) / (t1[1] - t0[1])


def child(names, sizes, rounds, reuse=False, ceiling_too=True):
    sys.path.insert(0, HERE)
    threads = int(os.environ.get("EPOCHPP_NUM_THREADS") or os.cpu_count())
    import numpy as np
    import epochpp
    import kernels
    rows = []
    for name in names:
        k = kernels.BY_NAME[name]
        args = k.make(sizes.get(name, k.size))
        f2, f3 = epochpp.jit(k.fn, level=2), epochpp.jit(k.fn, level=3)

        kept = {f2: [x.copy() if isinstance(x, np.ndarray) else x for x in args],
                f3: [x.copy() if isinstance(x, np.ndarray) else x for x in args]}

        def call(f, fresh=True):
            a = [x.copy() if isinstance(x, np.ndarray) else x for x in args] if fresh else kept[f]
            t0 = time.perf_counter()
            r = f(*a)
            return time.perf_counter() - t0, k.result(a, r)

        _, want = call(f2)
        _, got = call(f3)
        bad = k.check(want, got)
        # paired calls, L2 then L3 (order swapped every other pair): the machine's slow drifts
        # (other tenants of the VM, clock changes) hit both sides of a pair alike
        # the ceiling: `threads` Level 2 calls at once, one per worker (parallel_map), against
        # one call alone; what the machine gives the same serial code on that many cores now
        # (a VM's vCPUs can share a physical core for a while: then this drops too)
        sets = [[x.copy() if isinstance(x, np.ndarray) else x for x in args] for _ in range(threads)] \
            if reuse and ceiling_too else None

        def at_once():
            a = [[x.copy() if isinstance(x, np.ndarray) else x for x in args] for _ in range(threads)] \
                if not reuse else sets
            t0 = time.perf_counter()
            epochpp.parallel_map(f2, *zip(*a))
            return time.perf_counter() - t0

        if ceiling_too:
            at_once()
        t2, t3, pair, ceiling = [], [], [], []
        ticks = cpu_ticks()
        for j in range(rounds * 15):
            if j % 2 == 0:
                a2 = call(f2, not reuse)[0]
                a3 = call(f3, not reuse)[0]
            else:
                a3 = call(f3, not reuse)[0]
                a2 = call(f2, not reuse)[0]
            t2.append(a2)
            t3.append(a3)
            pair.append(a2 / a3)
            if ceiling_too:
                ceiling.append(threads * a2 / at_once())
        steal = steal_share(ticks, cpu_ticks())
        m2, m3 = statistics.median(t2), statistics.median(t3)
        rows.append({"kernel": name, "size": sizes.get(name, k.size), "L2_s": m2, "L3_s": m3,
                     "ratio": statistics.median(pair), "L3_min_ratio": min(t2) / min(t3), "steal": steal,
                     "ceiling": statistics.median(ceiling) if ceiling else None,
                     "check": bad or "ok"})
    print(json.dumps(rows))


def stolen(shares):
    """The table's steal column: the largest share of CPU time stolen in any of the processes."""
    known = [x for x in shares if x is not None]
    return f"{max(known) * 100:.1f}%" if known else "-"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default=str(os.cpu_count()), help="comma list of EPOCHPP_NUM_THREADS values")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--processes", type=int, default=3, help="fresh processes per thread count (default 3)")
    ap.add_argument("--only", help="comma list of kernels (default: the five parallelisable ones)")
    ap.add_argument("--size", default="", help="name=N,... input sizes (default: kernels.py's)")
    ap.add_argument("--reuse", action="store_true", help="every timed call reuses one copy of the inputs per level")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the ceiling calls (Level 2 on every core at once)")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    o = ap.parse_args(argv)
    names = o.only.split(",") if o.only else PARALLEL
    sizes = {kv.split("=")[0]: int(kv.split("=")[1]) for kv in o.size.split(",") if kv}
    if o.child:
        return child(names, sizes, o.rounds, o.reuse, not o.no_ceiling)
    out = []
    print("| threads | kernel | size | Level 2 | Level 3 | L3/L2 speed-up (median of processes) | (range) "
          "| (best call / best call) | ceiling: Level 2 on every core at once | steal | check |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for t in [int(x) for x in o.threads.split(",")]:
        env = dict(os.environ, EPOCHPP_NUM_THREADS=str(t))
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--rounds", str(o.rounds), "--only", ",".join(names)]
        if o.size:
            cmd += ["--size", o.size]
        if o.reuse:
            cmd.append("--reuse")
        if o.no_ceiling:
            cmd.append("--no-ceiling")
        per = {}
        for _ in range(max(1, o.processes)):
            p = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if p.returncode != 0:
                print(p.stderr, file=sys.stderr)
                return 1
            for r in json.loads(p.stdout.strip().splitlines()[-1]):
                per.setdefault(r["kernel"], []).append(r)
        for name in names:
            rs = per[name]
            med = lambda key: statistics.median(r[key] for r in rs)  # noqa: E731
            ratios = [r["ratio"] for r in rs]
            bad = [r["check"] for r in rs if r["check"] != "ok"]
            row = {"threads": t, "kernel": name, "size": rs[0]["size"], "L2_s": med("L2_s"), "L3_s": med("L3_s"),
                   "ratio": statistics.median(ratios), "ratios": ratios, "L3_min_ratio": med("L3_min_ratio"),
                   "ceilings": [r["ceiling"] for r in rs if r["ceiling"] is not None],
                   "steal": [r.get("steal") for r in rs], "check": bad[0] if bad else "ok"}
            row["ceiling"] = statistics.median(row["ceilings"]) if row["ceilings"] else None
            out.append(row)
            ceil = f"{row['ceiling']:.2f}x ({min(row['ceilings']):.2f}-{max(row['ceilings']):.2f})" if row["ceilings"] else "-"
            print(f"| {t} | {name} | {row['size']} | {row['L2_s'] * 1e3:.3f} ms | {row['L3_s'] * 1e3:.3f} ms | "
                  f"{row['ratio']:.2f}x | {min(ratios):.2f}-{max(ratios):.2f} | {row['L3_min_ratio']:.2f}x | "
                  f"{ceil} | "
                  f"{stolen(row['steal'])} | {row['check']} |", flush=True)
    if o.json:
        with open(o.json, "w") as fh:
            json.dump({"cpus": os.cpu_count(), "rows": out}, fh, indent=1)
    return 1 if any(r["check"] != "ok" for r in out) else 0


if __name__ == "__main__":
    sys.exit(main())
