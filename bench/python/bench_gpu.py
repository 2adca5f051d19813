"""bench/python/bench_gpu.py — Level 4 vs Level 2 and Level 3 on 10M-element work, with CuPy doing
the same work, side by side in one run; achieved memory bandwidth vs the card's.

    PYTHONPATH=python python3 bench/python/bench_gpu.py [--n 10000000] [--repeat 7] [--json F]

Each workload is an epochpp loop (compiled at Levels 2, 3 and 4) and the same computation in CuPy
(when installed and a GPU is present). Times are medians of --repeat runs after one warm-up call
(which compiles, loads the module and makes the inputs resident on the device). Level 4 numbers
include what a call really costs: the residency check of the inputs (a content digest of the
host arrays), the kernel, and copying the written arrays back. CuPy's numbers are for arrays that
already live on the device (cupy.asarray once, outside the timing) plus, separately, with the
host->device->host copies a NumPy user would need. Without a GPU, Level 4 runs on the CPU and the
table says so (the ratio then compares two CPU runs).
"""
import argparse
import json
import math
import statistics
import sys
import time

import numpy as np

import epochpp


# ---------------------------------------------------------------------------------- workloads
def saxpy(a, x, y, out):
    for i in range(x.shape[0]):
        out[i] = a * x[i] + y[i]


def sum_squares(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s


def black_scholes(S, K, T, r, v, call):
    for i in range(S.shape[0]):
        s = S[i]
        k = K[i]
        t = T[i]
        sqt = math.sqrt(t)
        d1 = (math.log(s / k) + (r + 0.5 * v * v) * t) / (v * sqt)
        d2 = d1 - v * sqt
        call[i] = s * 0.5 * (1.0 + math.erf(d1 / math.sqrt(2.0))) - k * math.exp(-r * t) * 0.5 * (
            1.0 + math.erf(d2 / math.sqrt(2.0)))


def make(n):
    rng = np.random.default_rng(0)
    return {
        "saxpy": ((2.0, rng.random(n), rng.random(n), np.empty(n)), 3 * 8 * n),
        "sum_squares": ((rng.random(n),), 8 * n),
        "black_scholes": ((rng.uniform(10, 100, n), rng.uniform(10, 100, n), rng.uniform(0.1, 2, n), 0.02, 0.3,
                           np.empty(n)), 4 * 8 * n),
    }


FUNCS = {"saxpy": saxpy, "sum_squares": sum_squares, "black_scholes": black_scholes}


def cupy_versions(cp):
    erf = cp.ElementwiseKernel("float64 x", "float64 y", "y = erf(x)", "ep_erf")

    def c_saxpy(a, x, y, out):
        cp.multiply(x, a, out=out)
        out += y

    def c_sum(x):
        return float(cp.sum(x * x))

    def c_bs(S, K, T, r, v, call):
        sqt = cp.sqrt(T)
        d1 = (cp.log(S / K) + (r + 0.5 * v * v) * T) / (v * sqt)
        d2 = d1 - v * sqt
        call[...] = S * 0.5 * (1.0 + erf(d1 / math.sqrt(2.0))) - K * cp.exp(-r * T) * 0.5 * (1.0 + erf(d2 / math.sqrt(2.0)))

    return {"saxpy": c_saxpy, "sum_squares": c_sum, "black_scholes": c_bs}


# ---------------------------------------------------------------------------------- timing
def median_time(fn, args, repeat, sync=None):
    fn(*args)  # warm-up: compile, load, make resident
    if sync:
        sync()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        if sync:
            sync()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def outcome(fn, args):
    """What one call computes: its return value and the arrays it writes (run on copies)."""
    a = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    r = fn(*a)
    return [np.asarray(r, dtype=np.float64).ravel()] + [x.ravel() for x in a if isinstance(x, np.ndarray)]


def max_rel_diff(want, got):
    worst = 0.0
    for w, g in zip(want, got):
        if w.size:
            worst = max(worst, float(np.max(np.abs(g - w) / np.maximum(np.abs(w), 1e-300))))
    return worst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--only", help="comma list of workloads")
    ap.add_argument("--json", help="write the results here")
    opts = ap.parse_args(argv)
    info = epochpp.gpu_info()
    gpu = bool(info.get("available"))
    print(f"device: {info.get('name') if gpu else 'none (' + str(info.get('reason')) + ')'}; "
          f"card bandwidth {info.get('mem_bandwidth_gbs', 0):.0f} GB/s; n = {opts.n:,}", file=sys.stderr)
    try:
        import cupy as cp
        cupy = cupy_versions(cp) if gpu else None
    except ImportError:
        cp, cupy = None, None
    data = make(opts.n)
    names = opts.only.split(",") if opts.only else list(FUNCS)
    rows = []
    for name in names:
        args, nbytes = data[name]
        row = {"workload": name, "bytes": nbytes}
        results = {}
        for level in (2, 3, 4):
            f = epochpp.jit(FUNCS[name], level=level)
            if level == 4:
                epochpp.gpu_stats(reset=True)
            row[f"L{level}"] = median_time(f, args, opts.repeat)
            results[level] = outcome(f, args)
            print(f"  {name} L{level}: {row[f'L{level}'] * 1e3:.2f} ms", file=sys.stderr, flush=True)
        row["L4_vs_L2_max_rel_diff"] = max_rel_diff(results[2], results[4])
        st = epochpp.gpu_stats()["total"]
        row["gpu_launches"] = st.get("launches", 0)
        row["gpu_fallbacks"] = st.get("fallbacks", 0)
        row["gpu_last_reason"] = st.get("last_reason", "")
        row["kernel_s"] = st.get("kernel_s", 0.0) / max(1, st.get("launches", 0))
        if cupy:
            dev = tuple(cp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
            row["cupy_resident"] = median_time(cupy[name], dev, opts.repeat, cp.cuda.Device().synchronize)

            def with_copies(*host):
                d = tuple(cp.asarray(a) if isinstance(a, np.ndarray) else a for a in host)
                r = cupy[name](*d)
                for h, x in zip(host, d):
                    if isinstance(h, np.ndarray) and h is host[-1]:
                        x.get(out=h)
                return r
            row["cupy_with_copies"] = median_time(with_copies, args, opts.repeat, cp.cuda.Device().synchronize)
        rows.append(row)

    print(f"\n| workload | Level 2 | Level 3 | Level 4 | L4 vs L2 | L4 vs L3 | L4 kernel | bandwidth (kernel) "
          f"| CuPy resident | CuPy with copies | L4 / CuPy resident | GPU launches / fallbacks | L4 vs L2 max rel. diff |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        bw = r["bytes"] / r["kernel_s"] / 1e9 if r.get("kernel_s") else 0.0
        card = info.get("mem_bandwidth_gbs") or 0
        bw_s = f"{bw:.0f} GB/s" + (f" ({100 * bw / card:.0f}% of card)" if bw and card else "") if bw else "n/a"
        cpr, cpc = r.get("cupy_resident"), r.get("cupy_with_copies")
        cells = [r["workload"], f"{r['L2'] * 1e3:.2f} ms", f"{r['L3'] * 1e3:.2f} ms", f"{r['L4'] * 1e3:.2f} ms",
                 f"{r['L2'] / r['L4']:.1f}x", f"{r['L3'] / r['L4']:.1f}x",
                 f"{r['kernel_s'] * 1e3:.3f} ms" if r.get("kernel_s") else "n/a", bw_s,
                 f"{cpr * 1e3:.2f} ms" if cpr else "n/a", f"{cpc * 1e3:.2f} ms" if cpc else "n/a",
                 f"{r['L4'] / cpr:.2f}" if cpr else "n/a", f"{r['gpu_launches']} / {r['gpu_fallbacks']}",
                 f"{r['L4_vs_L2_max_rel_diff']:.1e}"]
        print("| " + " | ".join(cells) + " |")
    if not gpu:
        print(f"\nNo GPU: Level 4 ran on the CPU ({info.get('reason')}).")
    elif any(r["gpu_fallbacks"] for r in rows):
        for r in rows:
            if r["gpu_fallbacks"]:
                print(f"{r['workload']}: fell back: {r['gpu_last_reason']}")
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump({"device": info, "n": opts.n, "rows": rows}, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
