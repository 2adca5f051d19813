#!/usr/bin/env python3
"""Compare epochpp with C++, Numba and CPython on the bench-suite kernels, in one run.

    python3 bench/python/compare_cpp.py [--quick] [--only a,b] [--json out.json]
                                        [--cpp-bin PATH] [--no-cpython] [--no-numba]
                                        [--repeat K] [--rounds R] [--combine min|median]
                                        [--epochpp-threads N]
                                        [--keep-inputs DIR] [--check-targets]

It builds nothing. The C++ reference kernels (bench/cpp, target epochpp_cpp_bench) must
already be built, e.g.

    cmake -S . -B build/bench -G Ninja -DEPOCHPP_BUILD_PYTHON=OFF -DEPOCHPP_BUILD_TESTS=OFF \\
          -DEPOCHPP_BUILD_BENCH=ON && ninja -C build/bench epochpp_cpp_bench

Per kernel (see kernels.py), in this one process:
  * the inputs are built once with kernels.py's make(size) and written to a temporary
    directory (raw .bin arrays plus a small text manifest of the scalar arguments), so
    the C++ binary runs on exactly the same values;
  * the C++ binary runs the kernel once and writes its result, which is the reference
    every other implementation is checked against (with kernels.py's tolerances);
  * CPython: median of K calls (fewer for slow calls, as in run_suite.py);
  * then R rounds, each timing C++ (Google Benchmark; every call timed on its own, the
    median call of each repetition, the median over repetitions), epochpp steady state
    and Numba steady state (run_suite.py's median of calls) one after the other, so that
    all three see the same machine load; a back end's time is the median of its R round
    medians (--combine median) or, by default, the best of them (--combine min: on a
    shared machine a round is often slowed by other work, and taking each back end's
    least-disturbed round is more stable than the middle one). epochpp's and Numba's first calls (with compilation) are recorded in the
    JSON but not compared.
epochpp runs with its own settings, which may use several threads for some loops
(Level 3); the `epp cpu/wall` column shows it (about 1 = one thread). The C++ and Numba
versions are single-threaded; --epochpp-threads 1 makes epochpp single-threaded too.
Prints C++/epochpp/Numba/CPython times, epochpp/C++, epochpp/Numba, epochpp/CPython, their
geometric means, and whether the targets (every kernel epochpp/C++ <= 1.15, geomean
epochpp/Numba <= 0.75) are met. Exit status: 0, 1 on a result mismatch or a failed back
end, 2 on bad usage or a missing C++ binary, 3 with --check-targets when a target is missed.
"""

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import kernels  # noqa: E402
import run_suite as rs  # noqa: E402
from run_suite import fmt_time, log, short_exc  # noqa: E402

TARGET_EPP_OVER_CPP = 1.15       # every kernel
TARGET_GEOMEAN_EPP_OVER_NUMBA = 0.75

DEFAULT_CPP_BINS = [
    os.path.join(REPO, "build", "bench", "bench", "cpp", "epochpp_cpp_bench"),
    os.path.join(REPO, "build", "dev", "bench", "cpp", "epochpp_cpp_bench"),
    os.path.join(REPO, "build", "bench", "cpp", "epochpp_cpp_bench"),
]


# --------------------------------------------------------------------------
# C++ side: inputs out, results and timings in
# --------------------------------------------------------------------------

def find_cpp_bin(path):
    if path:
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    for cand in DEFAULT_CPP_BINS:
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def write_inputs(kernel, size, args0, directory):
    """Write <name>.txt (manifest) and <name>.argK.in.bin for kernels.py's arguments."""
    lines = ["epochpp-bench-input 1", "kernel %s" % kernel.name, "size %d" % size,
             "mutates %d" % (1 if kernel.mutates else 0), "nargs %d" % len(args0)]
    for k, a in enumerate(args0):
        if isinstance(a, np.ndarray):
            if a.dtype == np.float64:
                code, dt = "f8", "<f8"
            elif a.dtype == np.int64:
                code, dt = "i8", "<i8"
            else:
                raise ValueError("%s: argument %d has unsupported dtype %s" % (kernel.name, k, a.dtype))
            fname = "%s.arg%d.in.bin" % (kernel.name, k)
            np.ascontiguousarray(a, dtype=dt).tofile(os.path.join(directory, fname))
            lines.append("array %s %d %s %s" % (code, a.ndim, " ".join(str(s) for s in a.shape), fname))
        elif isinstance(a, (bool, np.bool_)):
            raise ValueError("%s: argument %d is a bool (unsupported)" % (kernel.name, k))
        elif isinstance(a, (int, np.integer)):
            lines.append("int %d" % int(a))
        elif isinstance(a, (float, np.floating)):
            lines.append("float %s" % float(a).hex())
        else:
            raise ValueError("%s: argument %d has unsupported type %s" % (kernel.name, k, type(a).__name__))
    with open(os.path.join(directory, kernel.name + ".txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def read_result(kernel, args0, directory):
    """The C++ result in kernels.py's form: (return value, *output arrays)."""
    path = os.path.join(directory, kernel.name + ".result.txt")
    with open(path) as f:
        toks = [ln.split() for ln in f if ln.strip()]
    if not toks or toks[0] != ["epochpp-bench-result", "1"]:
        raise ValueError("%s: not an epochpp-bench-result 1 file" % path)
    ret = None
    args = list(args0)
    for t in toks[1:]:
        if t[0] == "ret":
            ret = int(t[2]) if t[1] == "int" else float.fromhex(t[2])
        elif t[0] == "array":
            k = int(t[1])
            ref = args0[k]
            arr = np.fromfile(os.path.join(directory, t[2]), dtype=ref.dtype.newbyteorder("<"))
            args[k] = arr.astype(ref.dtype).reshape(ref.shape)
    return kernel.result(tuple(args), ret)


def run_cpp(cpp_bin, kernel, directory, repetitions, min_time, write_result):
    """Run epochpp_cpp_bench for one kernel.

    Returns (per-repetition median call time in seconds, details, benchmark context).
    """
    cmd = [cpp_bin, "--input-dir=" + directory, "--kernels=" + kernel.name,
           "--benchmark_repetitions=%d" % repetitions,
           "--benchmark_min_time=%g" % min_time,
           "--benchmark_format=json"]
    if write_result:
        cmd.append("--result-dir=" + directory)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError("C++ binary exited %d: %s" % (proc.returncode, " ".join(proc.stderr.split())[-400:]))
    doc = json.loads(proc.stdout)
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    reps = [b for b in doc.get("benchmarks", [])
            if b.get("run_type", "iteration") == "iteration"
            and b.get("run_name", b["name"]).split("/")[0] == kernel.name]
    if not reps:
        raise RuntimeError("C++ binary reported no timings for %s" % kernel.name)
    # The median of the individual calls of each repetition (as for the Python back ends);
    # Google Benchmark's own mean per iteration and CPU time are kept for the JSON.
    times = [b.get("call_median_s", b["real_time"] * scale[b.get("time_unit", "ns")]) for b in reps]
    details = {"repetitions_s": times,
               "mean_s": [b["real_time"] * scale[b.get("time_unit", "ns")] for b in reps],
               "cpu_mean_s": [b["cpu_time"] * scale[b.get("time_unit", "ns")] for b in reps],
               "min_call_s": min(b.get("call_min_s", float("inf")) for b in reps),
               "iterations": [b.get("iterations") for b in reps]}
    return times, details, doc.get("context", {})


# --------------------------------------------------------------------------
# one kernel
# --------------------------------------------------------------------------

def steady(kernel, disp, args0, repeat):
    """run_suite's steady-state timing.

    Returns (median, times, first result, last result, process CPU time / wall time of the
    calls); the last is about 1 for single-threaded code and above 1 when the compiled
    code ran on several threads (copying the inputs, outside the timer, is included).
    """
    w0, c0 = time.perf_counter(), time.process_time()
    times, r1, r2 = rs.time_repeated(kernel, disp, args0, repeat, min_total_s=rs.STEADY_MIN_S,
                                     max_calls=rs.MAX_STEADY_CALLS)
    cpu_over_wall = (time.process_time() - c0) / max(time.perf_counter() - w0, 1e-9)
    return statistics.median(times), times, r1, r2, cpu_over_wall


def bench_kernel(kernel, size, opts, cpp_bin, workdir, epochpp, numba, index, count):
    tag = "[%d/%d] %s (size %s)" % (index, count, kernel.name, size)
    row = {"kernel": kernel.name, "size": size, "rtol": kernel.rtol, "atol": kernel.atol,
           "cpp": {}, "epochpp": {"available": epochpp is not None},
           "numba": {"available": numba is not None},
           "cpython": {"available": not opts.no_cpython}, "mismatch": [], "errors": []}
    args0 = kernel.make(size)
    cpp, ep, nb, cp = row["cpp"], row["epochpp"], row["numba"], row["cpython"]

    # --- C++ reference result --------------------------------------------
    ref = None
    try:
        write_inputs(kernel, size, args0, workdir)
        log("%s: C++ result + round 1 ..." % tag)
        times, det, ctx = run_cpp(cpp_bin, kernel, workdir, opts.cpp_repetitions, opts.cpp_min_time, True)
        ref = read_result(kernel, args0, workdir)
        cpp["rounds"] = [dict(median_s=statistics.median(times), **det)]
        cpp["context"] = ctx
    except Exception as exc:
        cpp["error"] = short_exc(exc)
        row["errors"].append("C++: " + cpp["error"])
        log("%s: C++ FAILED: %s" % (tag, cpp["error"]))

    def check(name, d, *results):
        if ref is None:
            d["check"] = "no C++ reference"
            return
        why = None
        for r in results:
            why = kernel.check(ref, r)
            if why is not None:
                break
        d["check"] = "ok" if why is None else "MISMATCH: " + why
        if why is not None:
            row["mismatch"].append(name)
            log("!!! %s: %s result MISMATCH vs C++: %s" % (kernel.name, name, why))

    # --- CPython ------------------------------------------------------------
    if not opts.no_cpython:
        log("%s: CPython ..." % tag)
        try:
            times, first, last = rs.time_repeated(kernel, kernel.fn, args0, opts.repeat,
                                                  budget_s=rs.CPYTHON_BUDGET_S)
            cp["median_s"] = statistics.median(times)
            cp["times_s"] = times
            check("cpython", cp, first, last)
            log("%s: CPython %s (median of %d)" % (tag, fmt_time(cp["median_s"]), len(times)))
        except Exception as exc:
            cp["error"] = short_exc(exc)
            row["errors"].append("CPython: " + cp["error"])

    # --- first calls (compilation) ----------------------------------------------
    disps = {}
    for name, d, mod, make in (("epochpp", ep, epochpp, lambda m: m.jit(kernel.fn)),
                               ("numba", nb, numba, lambda m: rs.numba_namespace(m)[kernel.name])):
        if mod is None:
            continue
        try:
            disp = make(mod)
            args = rs.fresh_args(kernel, args0)
            dt, ret = rs.timed_call(disp, args)
            d["first_call_s"] = dt
            d["rounds"] = []
            d["_first"] = kernel.result(args, ret)
            disps[name] = disp
            log("%s: %s first call %s" % (tag, name, fmt_time(dt)))
        except Exception as exc:
            d["error"] = short_exc(exc)
            row["errors"].append("%s: %s" % (name, d["error"]))
            log("%s: %s FAILED: %s" % (tag, name, d["error"]))

    # --- interleaved rounds: C++, epochpp, Numba ------------------------------
    for rnd in range(opts.rounds):
        if rnd > 0 and "error" not in cpp:
            try:
                times, det, _ = run_cpp(cpp_bin, kernel, workdir, opts.cpp_repetitions, opts.cpp_min_time, False)
                cpp["rounds"].append(dict(median_s=statistics.median(times), **det))
            except Exception as exc:
                cpp["error"] = short_exc(exc)
                row["errors"].append("C++: " + cpp["error"])
        for name, d in (("epochpp", ep), ("numba", nb)):
            disp = disps.get(name)
            if disp is None or "error" in d:
                continue
            try:
                med, times, r1, r2, cw = steady(kernel, disp, args0, opts.repeat)
                d["rounds"].append({"median_s": med, "calls": len(times), "min_s": min(times),
                                    "cpu_over_wall": cw})
                if rnd == 0:
                    check(name, d, d.pop("_first"), r1, r2)
            except Exception as exc:
                d["error"] = short_exc(exc)
                row["errors"].append("%s: %s" % (name, d["error"]))
        log("%s: round %d/%d: C++ %s, epochpp %s, numba %s" % (
            tag, rnd + 1, opts.rounds,
            fmt_time(cpp["rounds"][-1]["median_s"]) if cpp.get("rounds") else "-",
            fmt_time(ep["rounds"][-1]["median_s"]) if ep.get("rounds") else "-",
            fmt_time(nb["rounds"][-1]["median_s"]) if nb.get("rounds") else "-"))

    for d in (cpp, ep, nb):
        d.pop("_first", None)
        if d.get("rounds") and "error" not in d:
            combine = min if opts.combine == "min" else statistics.median
            d["median_s"] = combine([r["median_s"] for r in d["rounds"]])
            if "cpu_over_wall" in d["rounds"][0]:
                d["cpu_over_wall"] = max(r["cpu_over_wall"] for r in d["rounds"])
    if "epochpp" in disps:
        stats = rs.read_stats(disps["epochpp"])
        ep["stats"] = stats
        ep["mode"] = rs.epochpp_mode(stats)
    elif epochpp is not None:
        ep["mode"] = "error"

    # --- ratios (time / time; below 1 = epochpp faster) -------------------------
    e = ep.get("median_s")
    counted = ep.get("mode") == "native"

    def ratio(other):
        return e / other if e and other else None

    row["epochpp_over_cpp"] = ratio(cpp.get("median_s"))
    row["epochpp_over_numba"] = ratio(nb.get("median_s"))
    row["epochpp_over_cpython"] = ratio(cp.get("median_s"))
    row["numba_over_cpp"] = (nb["median_s"] / cpp["median_s"]
                             if nb.get("median_s") and cpp.get("median_s") else None)
    row["epochpp_native"] = counted
    row["ok"] = not row["mismatch"] and not row["errors"]
    return row


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt_ratio(x, native=True):
    if x is None:
        return "-"
    s = "%.3f" % x if x < 10 else "%.1f" % x
    if x < 0.01:
        s = "%.2e" % x
    return s if native else s + "?"


def summarize(rows):
    native = [r for r in rows if r["epochpp_native"]]
    epp_cpp = [r["epochpp_over_cpp"] for r in native]
    s = {
        "kernels": len(rows),
        "epochpp_native": len(native),
        "geomean_epochpp_over_cpp": geomean(epp_cpp),
        "max_epochpp_over_cpp": max([x for x in epp_cpp if x is not None], default=None),
        "geomean_epochpp_over_numba": geomean(r["epochpp_over_numba"] for r in native),
        "geomean_epochpp_over_cpython": geomean(r["epochpp_over_cpython"] for r in native),
        "geomean_numba_over_cpp": geomean(r["numba_over_cpp"] for r in rows),
    }
    over = [r["kernel"] for r in rows
            if not r["epochpp_native"] or r["epochpp_over_cpp"] is None
            or r["epochpp_over_cpp"] > TARGET_EPP_OVER_CPP]
    s["kernels_over_cpp_target"] = over
    s["target_cpp_met"] = not over and bool(rows)
    g = s["geomean_epochpp_over_numba"]
    all_numba = all(r["epochpp_over_numba"] is not None for r in native) and len(native) == len(rows)
    s["target_numba_met"] = g is not None and all_numba and g <= TARGET_GEOMEAN_EPP_OVER_NUMBA
    return s


def print_report(rows, summary, info, out=sys.stdout):
    headers = ["kernel", "size", "C++", "epochpp", "Numba", "CPython",
               "epp/C++", "epp/Numba", "epp/CPython", "Numba/C++", "epp cpu/wall", "epp mode", "check"]
    body = []
    for r in rows:
        ep = r["epochpp"]
        nat = r["epochpp_native"]
        if r["mismatch"]:
            check = "MISMATCH " + ",".join(r["mismatch"])
        elif r["errors"]:
            check = "ERROR"
        elif "error" in r["cpp"]:
            check = "no C++"
        else:
            check = "ok"
        mark = ""
        if r["epochpp_over_cpp"] is not None and r["epochpp_over_cpp"] > TARGET_EPP_OVER_CPP:
            mark = " *"
        body.append([r["kernel"], str(r["size"]), fmt_time(r["cpp"].get("median_s")),
                     fmt_time(ep.get("median_s")), fmt_time(r["numba"].get("median_s")),
                     fmt_time(r["cpython"].get("median_s")),
                     fmt_ratio(r["epochpp_over_cpp"], nat) + mark,
                     fmt_ratio(r["epochpp_over_numba"], nat),
                     fmt_ratio(r["epochpp_over_cpython"], nat),
                     fmt_ratio(r["numba_over_cpp"]),
                     "%.2f" % ep["cpu_over_wall"] if ep.get("cpu_over_wall") else "-",
                     ep.get("mode", "n/a") if ep.get("available") else "n/a", check])
    left = {0, 11, 12}
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    cpp_ctx = info.get("cpp", {}).get("context", {})
    print("epochpp vs C++ / Numba / CPython (%s sizes; %d interleaved round(s), %s of round medians;"
          " C++: %d repetitions x >= %g s)"
          % ("quick" if info["quick"] else "full", info["rounds"], info["combine"], info["cpp_repetitions"],
             info["cpp_min_time"]), file=out)
    print("machine: %s, %s cores, Python %s, numpy %s; load average %s at start, %s at end" % (
        info["cpu_model"], info["cpu_count"], info["python"], info["numpy"],
        info.get("loadavg_start", "?"), info.get("loadavg_end", "?")), file=out)
    ep, nb = info["epochpp"], info["numba"]
    print("epochpp: %s, EPOCHPP_NUM_THREADS=%s" % (
        ep["version"] if ep["available"] else "UNAVAILABLE (" + ep["reason"] + ")",
        info.get("epochpp_num_threads") or "(unset: all cores)"), file=out)
    print("numba:   %s" % (nb["version"] if nb["available"] else "not used (" + nb["reason"] + ")"), file=out)
    print("C++:     %s (%s, %s)" % (info["cpp"]["bin"], cpp_ctx.get("compiler", "?"),
                                    cpp_ctx.get("kernel_flags", "?")), file=out)
    print(file=out)
    print(line(headers), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for b in body:
        print(line(b), file=out)
    print(file=out)

    def g(x):
        return "-" if x is None else "%.3f" % x

    s = summary
    print("geomean over %d kernel(s) where epochpp ran natively (of %d):" % (s["epochpp_native"], s["kernels"]),
          file=out)
    print("  epochpp/C++     %s   (max %s)" % (g(s["geomean_epochpp_over_cpp"]), g(s["max_epochpp_over_cpp"])),
          file=out)
    print("  epochpp/Numba   %s" % g(s["geomean_epochpp_over_numba"]), file=out)
    gc_ = s["geomean_epochpp_over_cpython"]
    print("  epochpp/CPython %s%s" % (g(gc_) if gc_ is None or gc_ >= 0.001 else "%.2e" % gc_,
                                      "" if not gc_ else "   (%.0fx faster)" % (1 / gc_)), file=out)
    print("  Numba/C++       %s   (all kernels with both)" % g(s["geomean_numba_over_cpp"]), file=out)
    print(file=out)
    print("targets:", file=out)
    over = s["kernels_over_cpp_target"]
    print("  every kernel epochpp/C++ <= %.2f : %s" % (
        TARGET_EPP_OVER_CPP, "MET" if s["target_cpp_met"] else "NOT MET (%s)" % ", ".join(
            "%s %s" % (k, fmt_ratio(next(r["epochpp_over_cpp"] for r in rows if r["kernel"] == k)))
            for k in over)), file=out)
    print("  geomean epochpp/Numba <= %.2f    : %s" % (
        TARGET_GEOMEAN_EPP_OVER_NUMBA, "MET" if s["target_numba_met"] else "NOT MET"), file=out)
    print(file=out)

    notes = []
    for r in rows:
        for e in r["errors"]:
            notes.append("%s: %s" % (r["kernel"], e))
        for name in ("cpython", "epochpp", "numba"):
            c = str(r[name].get("check", ""))
            if c.startswith("MISMATCH"):
                notes.append("!!! %s: %s %s" % (r["kernel"], name, c))
        if (r["epochpp"].get("cpu_over_wall") or 0) > 1.3:
            notes.append("%s: epochpp used more than one thread (cpu/wall %.2f); C++ and Numba run on one"
                         % (r["kernel"], r["epochpp"]["cpu_over_wall"]))
        if r["epochpp"].get("mode") not in (None, "native", "error"):
            notes.append("%s: epochpp mode %s -- not counted (ratios marked '?')" % (r["kernel"], r["epochpp"]["mode"]))
    if notes:
        print("notes:", file=out)
        for n in notes:
            print("  " + n, file=out)
        print(file=out)
    print("Times: per back end, the %s over rounds of each round's median call time; ratios are time / time,"
          % ("best (min)" if info["combine"] == "min" else "median"), file=out)
    print("below 1 = epochpp faster; '*' marks epochpp/C++ above %.2f. Results are checked against C++'s with"
          % TARGET_EPP_OVER_CPP, file=out)
    print("kernels.py's tolerances. On a loaded machine only ratios from the same run are meaningful.", file=out)
    bad = [r["kernel"] for r in rows if r["mismatch"]]
    if bad:
        print("\n!!! RESULT MISMATCH in: %s !!!" % ", ".join(bad), file=out)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="kernels.py's quick sizes (about 10x less work)")
    p.add_argument("--only", default="", help="comma-separated kernel names")
    p.add_argument("--json", metavar="PATH", help="write rows, summary and machine info as JSON")
    p.add_argument("--cpp-bin", metavar="PATH",
                   help="the epochpp_cpp_bench binary (default: build/bench/bench/cpp/epochpp_cpp_bench, "
                        "then build/dev/bench/cpp/...)")
    p.add_argument("--no-cpython", action="store_true", help="skip the (slow) CPython timings")
    p.add_argument("--no-numba", action="store_true", help="do not run Numba")
    p.add_argument("--repeat", type=int, default=5, metavar="K",
                   help="calls per median for CPython/epochpp/Numba, as in run_suite.py (default 5)")
    p.add_argument("--rounds", type=int, default=3, metavar="R",
                   help="interleaved C++/epochpp/Numba timing rounds per kernel (default 3)")
    p.add_argument("--combine", choices=("min", "median"), default="min",
                   help="how a back end's round medians are combined (default min: the best round)")
    p.add_argument("--cpp-repetitions", type=int, default=5, metavar="N",
                   help="Google Benchmark repetitions per round (default 5)")
    p.add_argument("--cpp-min-time", type=float, default=0.06, metavar="S",
                   help="Google Benchmark min time per repetition, seconds (default 0.06)")
    p.add_argument("--keep-inputs", metavar="DIR",
                   help="write the inputs/results for the C++ binary here and keep them")
    p.add_argument("--epochpp-threads", type=int, metavar="N",
                   help="set EPOCHPP_NUM_THREADS=N before importing epochpp (1: single-threaded, like "
                        "the C++ and Numba versions; default: leave epochpp's own setting)")
    p.add_argument("--check-targets", action="store_true", help="exit 3 when a target is not met")
    a = p.parse_args(argv)
    if a.repeat < 1 or a.rounds < 1 or a.cpp_repetitions < 1 or a.cpp_min_time <= 0:
        p.error("--repeat, --rounds, --cpp-repetitions and --cpp-min-time must be positive")
    return a


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)

    selected = kernels.REGISTRY
    if opts.only:
        names = [n.strip() for n in opts.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in kernels.BY_NAME]
        if unknown:
            log("unknown kernel(s): %s; available: %s" % (", ".join(unknown), ", ".join(kernels.BY_NAME)))
            return 2
        selected = [kernels.BY_NAME[n] for n in names]

    cpp_bin = find_cpp_bin(opts.cpp_bin)
    if cpp_bin is None:
        log("C++ benchmark binary not found (%s). Build it first:\n"
            "  cmake -S %s -B %s/build/bench -G Ninja -DEPOCHPP_BUILD_PYTHON=OFF -DEPOCHPP_BUILD_TESTS=OFF "
            "-DEPOCHPP_BUILD_BENCH=ON\n  ninja -C %s/build/bench epochpp_cpp_bench"
            % (opts.cpp_bin or " or ".join(DEFAULT_CPP_BINS), REPO, REPO, REPO))
        return 2

    if opts.epochpp_threads is not None:
        os.environ["EPOCHPP_NUM_THREADS"] = str(opts.epochpp_threads)
    epochpp, ep_reason = rs.load_epochpp()
    if opts.no_numba:
        numba, nb_reason = None, "disabled by --no-numba"
    else:
        numba, nb_reason = rs.load_numba()
    if epochpp is None:
        log("epochpp unavailable: %s -- epochpp columns will be empty" % ep_reason)
    if numba is None:
        log("numba not used: %s" % nb_reason)

    info = rs.machine_info(opts, epochpp, ep_reason, numba, nb_reason)
    info.update({"rounds": opts.rounds, "combine": opts.combine, "cpp_repetitions": opts.cpp_repetitions,
                 "cpp_min_time": opts.cpp_min_time, "cpp": {"bin": cpp_bin},
                 "loadavg_start": "%.2f" % os.getloadavg()[0],
                 "epochpp_num_threads": os.environ.get("EPOCHPP_NUM_THREADS")})
    if epochpp is not None:
        info["epochpp"]["warmup"] = rs.warm_up("epochpp", epochpp.jit)
    if numba is not None:
        info["numba"]["warmup"] = rs.warm_up("numba", numba.njit)

    tmp = None
    if opts.keep_inputs:
        workdir = opts.keep_inputs
        os.makedirs(workdir, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="epochpp_cpp_bench_")
        workdir = tmp.name
    rows = []
    try:
        for i, k in enumerate(selected, 1):
            size = k.quick if opts.quick else k.size
            rows.append(bench_kernel(k, size, opts, cpp_bin, workdir, epochpp, numba, i, len(selected)))
            if "context" in rows[-1]["cpp"] and "context" not in info["cpp"]:
                info["cpp"]["context"] = rows[-1]["cpp"]["context"]
            gc.collect()
    finally:
        if tmp is not None:
            tmp.cleanup()
    info["loadavg_end"] = "%.2f" % os.getloadavg()[0]
    info["timestamp_end"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    summary = summarize(rows)
    log("")
    print_report(rows, summary, info)

    if opts.json:
        doc = {"schema": "epochpp-bench-cpp/1", "machine": info, "summary": summary,
               "targets": {"epochpp_over_cpp_max": TARGET_EPP_OVER_CPP,
                           "geomean_epochpp_over_numba_max": TARGET_GEOMEAN_EPP_OVER_NUMBA},
               "rows": rows}
        with open(opts.json, "w") as f:
            json.dump(doc, f, indent=2, default=rs._json_default)
            f.write("\n")
        log("wrote %s" % opts.json)

    if any(r["mismatch"] or r["errors"] for r in rows):
        return 1
    if opts.check_targets and not (summary["target_cpp_met"] and summary["target_numba_met"]):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
