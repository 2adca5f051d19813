#!/usr/bin/env python3
"""Run the epochpp end-to-end benchmark suite: CPython vs epochpp vs Numba, side by side.

    python3 bench/python/run_suite.py [--quick] [--only name,name] [--repeat K]
                                      [--json out.json] [--no-numba] [--no-epochpp] [--list]

Per kernel (see kernels.py) it measures, in this one process:
  * CPython:  median of K calls of the plain function (fewer when calls are slow);
  * epochpp:  first call of a fresh epochpp.jit(fn) (includes compilation), then the
              median steady-state time of the same dispatcher; whether it really ran
              natively is read from dispatcher.stats -- a fallback is shown as such;
  * Numba:    the same for numba.njit, when numba is importable.
Every implementation's result is checked against CPython's; a mismatch is printed
loudly and makes the exit status 1.  The table goes to stdout, progress to stderr,
and --json writes rows plus machine information.
"""

import argparse
import gc
import inspect
import json
import os
import platform
import statistics
import sys
import time
import traceback
import types

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import kernels  # noqa: E402

# Time budgets (seconds).  CPython calls stop after K calls or once this much time
# was spent (at least one call): "median of K, min 1 for slow ones".
CPYTHON_BUDGET_S = 4.0
# Steady-state timing of compiled code: at least K calls, more (up to MAX_STEADY_CALLS)
# until this much time was spent, so microsecond-scale calls still get a stable median.
STEADY_MIN_S = 0.3
MAX_STEADY_CALLS = 2000


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def short_exc(exc):
    text = "%s: %s" % (type(exc).__name__, exc)
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


# --------------------------------------------------------------------------
# optional back ends
# --------------------------------------------------------------------------

def load_epochpp():
    """Return (module or None, reason-if-unavailable)."""
    errors = []
    for extra in (None, os.path.join(REPO, "python")):
        if extra is not None:
            if not os.path.isdir(extra):
                continue
            sys.path.insert(0, extra)
        try:
            import epochpp  # noqa: F401
            mod = sys.modules["epochpp"]
            if not callable(getattr(mod, "jit", None)):
                where = getattr(mod, "__file__", None) or ", ".join(getattr(mod, "__path__", [])) or "?"
                errors.append("'epochpp' at %s has no jit() (package not built/installed?)" % where)
                sys.modules.pop("epochpp", None)
                continue
            return mod, None
        except Exception as exc:  # ImportError, OSError from a missing .so, ...
            errors.append(short_exc(exc))
            for name in [m for m in sys.modules if m == "epochpp" or m.startswith("epochpp.")]:
                sys.modules.pop(name, None)
        finally:
            if extra is not None and extra in sys.path and "epochpp" not in sys.modules:
                sys.path.remove(extra)
    return None, "; ".join(dict.fromkeys(errors)) or "not importable"


def load_numba():
    try:
        import numba
        return numba, None
    except Exception as exc:
        return None, short_exc(exc)


def _warmup_target(x):
    return x + 1


def warm_up(name, make_dispatcher):
    """Compile and run a trivial function once, so that a back end's one-time start-up
    (LLVM initialisation, imports) is not billed to the first kernel's first call.
    Returns a dict for the JSON report."""
    try:
        t0 = time.perf_counter()
        make_dispatcher(_warmup_target)(1)
        dt = time.perf_counter() - t0
        log("%s warm-up (trivial function, includes one-time start-up): %s" % (name, fmt_time(dt)))
        return {"seconds": dt}
    except Exception as exc:
        log("%s warm-up failed (ignored): %s" % (name, short_exc(exc)))
        return {"error": short_exc(exc)}


def numba_namespace(numba):
    """A fresh copy of the kernels module's globals where every module-level
    function is a fresh numba.njit dispatcher.

    Needed because numba.njit(kernels.fib) resolves the global name `fib` (and
    black_scholes resolves `cnd`) to the plain Python function and fails with
    "Untyped global name".  In the copy, those names are njit dispatchers, so
    self-recursion and helper calls compile.  njit is lazy: functions that are
    never called (factories, compare) are never compiled.
    """
    g = dict(vars(kernels))
    for name, obj in list(vars(kernels).items()):
        if inspect.isfunction(obj) and obj.__module__ == kernels.__name__:
            clone = types.FunctionType(obj.__code__, g, name, obj.__defaults__, obj.__closure__)
            clone.__kwdefaults__ = obj.__kwdefaults__
            g[name] = numba.njit(clone)
    return g


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------

def fresh_args(kernel, args0):
    if not kernel.mutates:
        return args0
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args0)


def timed_call(fn, args):
    gc_was = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        ret = fn(*args)
        t1 = time.perf_counter()
    finally:
        if gc_was:
            gc.enable()
    return t1 - t0, ret


def time_repeated(kernel, fn, args0, min_calls, budget_s=None, min_total_s=0.0, max_calls=None):
    """Time calls of fn on fresh copies of args0 (copying is outside the timer).

    Runs at least one call; stops after min_calls calls once budget_s is spent, and
    keeps going past min_calls (up to max_calls) until min_total_s is reached.
    Returns (list of seconds, result of the first call, result of the last call).
    """
    times = []
    first = last = None
    total = 0.0
    while True:
        args = fresh_args(kernel, args0)
        dt, ret = timed_call(fn, args)
        res = kernel.result(args, ret)
        if not times:
            first = res
        last = res
        times.append(dt)
        total += dt
        n = len(times)
        if budget_s is not None and total >= budget_s:
            break
        if max_calls is not None and n >= max_calls:
            break
        if n >= min_calls and total >= min_total_s:
            break
    return times, first, last


def read_stats(dispatcher):
    try:
        st = getattr(dispatcher, "stats")
        if callable(st):
            st = st()
        return {str(k): v for k, v in dict(st).items()}
    except Exception as exc:
        return {"_error": short_exc(exc)}


def epochpp_mode(stats):
    """native | mixed | interpreted | unknown.  Only 'native' counts as accelerated."""
    try:
        native = int(stats.get("native_calls", 0))
        interp = int(stats.get("interpreted_calls", 0))
        deopts = int(stats.get("deopts", 0))
    except Exception:
        return "unknown"
    if "native_calls" not in stats:
        return "unknown"
    if native <= 0:
        return "interpreted"
    if interp > 0 or deopts > 0:
        return "mixed"
    return "native"


# --------------------------------------------------------------------------
# one kernel
# --------------------------------------------------------------------------

def check_against(kernel, ref, first, last):
    why = kernel.check(ref, first)
    if why is None:
        why = kernel.check(ref, last)
    return why


def bench_kernel(kernel, size, repeat, epochpp, numba, index, count):
    tag = "[%d/%d] %s (size %s)" % (index, count, kernel.name, size)
    row = {"kernel": kernel.name, "size": size, "note": kernel.note,
           "rtol": kernel.rtol, "atol": kernel.atol}
    args0 = kernel.make(size)

    # --- CPython -----------------------------------------------------------
    log("%s: CPython ..." % tag)
    try:
        times, ref, last = time_repeated(kernel, kernel.fn, args0, repeat, budget_s=CPYTHON_BUDGET_S)
    except Exception as exc:
        row["cpython"] = {"error": short_exc(exc)}
        row["ok"] = False
        log("%s: CPython FAILED: %s" % (tag, short_exc(exc)))
        return row
    cpy = statistics.median(times)
    row["cpython"] = {"median_s": cpy, "times_s": times}
    drift = kernel.check(ref, last)
    if drift is not None:
        row["cpython"]["warning"] = "CPython result not reproducible across calls: " + drift
    log("%s: CPython %s (median of %d)" % (tag, fmt_time(cpy), len(times)))

    mismatches = []

    # --- epochpp -----------------------------------------------------------
    ep = {"available": epochpp is not None}
    row["epochpp"] = ep
    if epochpp is not None:
        log("%s: epochpp first call (compiles) ..." % tag)
        try:
            disp = epochpp.jit(kernel.fn)
            args = fresh_args(kernel, args0)
            dt, ret = timed_call(disp, args)
            first_res = kernel.result(args, ret)
            ep["first_call_s"] = dt
            stats_after_first = read_stats(disp)
            times, r1, r2 = time_repeated(kernel, disp, args0, repeat, min_total_s=STEADY_MIN_S,
                                          max_calls=MAX_STEADY_CALLS)
            ep["steady_s"] = statistics.median(times)
            ep["steady_calls"] = len(times)
            ep["steady_min_s"] = min(times)
            stats = read_stats(disp)
            ep["stats_after_first_call"] = stats_after_first
            ep["stats"] = stats
            ep["mode"] = epochpp_mode(stats)
            ep["accelerated"] = ep["mode"] == "native"
            ep["ratio_measured"] = cpy / ep["steady_s"] if ep["steady_s"] > 0 else None
            # The speedup is only claimed for code that ran natively.
            ep["speedup"] = ep["ratio_measured"] if ep["mode"] in ("native", "mixed") else None
            why = kernel.check(ref, first_res) or check_against(kernel, ref, r1, r2)
            ep["check"] = "ok" if why is None else "MISMATCH: " + why
            if why is not None:
                mismatches.append("epochpp")
                log("!!! %s: epochpp result MISMATCH vs CPython: %s" % (kernel.name, why))
            log("%s: epochpp first %s, steady %s (%s, %d calls)" % (
                tag, fmt_time(ep["first_call_s"]), fmt_time(ep["steady_s"]), ep["mode"], len(times)))
        except Exception as exc:
            ep["error"] = short_exc(exc)
            ep["traceback"] = traceback.format_exc(limit=6)
            ep["mode"] = "error"
            ep["accelerated"] = False
            log("%s: epochpp FAILED: %s" % (tag, ep["error"]))

    # --- Numba -------------------------------------------------------------
    nb = {"available": numba is not None}
    row["numba"] = nb
    if numba is not None:
        log("%s: numba first call (compiles) ..." % tag)
        try:
            disp = numba_namespace(numba)[kernel.name]
            args = fresh_args(kernel, args0)
            dt, ret = timed_call(disp, args)
            first_res = kernel.result(args, ret)
            nb["first_call_s"] = dt
            times, r1, r2 = time_repeated(kernel, disp, args0, repeat, min_total_s=STEADY_MIN_S,
                                          max_calls=MAX_STEADY_CALLS)
            nb["steady_s"] = statistics.median(times)
            nb["steady_calls"] = len(times)
            nb["steady_min_s"] = min(times)
            nb["speedup"] = cpy / nb["steady_s"] if nb["steady_s"] > 0 else None
            why = kernel.check(ref, first_res) or check_against(kernel, ref, r1, r2)
            nb["check"] = "ok" if why is None else "MISMATCH: " + why
            if why is not None:
                mismatches.append("numba")
                log("!!! %s: numba result MISMATCH vs CPython: %s" % (kernel.name, why))
            log("%s: numba first %s, steady %s (%d calls)" % (
                tag, fmt_time(nb["first_call_s"]), fmt_time(nb["steady_s"]), len(times)))
        except Exception as exc:
            nb["error"] = short_exc(exc)
            log("%s: numba FAILED: %s" % (tag, nb["error"]))

    if ep.get("steady_s") and nb.get("steady_s") and ep.get("mode") in ("native", "mixed"):
        row["epochpp_over_numba"] = ep["steady_s"] / nb["steady_s"]
    else:
        row["epochpp_over_numba"] = None
    row["mismatch"] = mismatches
    row["ok"] = not mismatches
    return row


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

def fmt_time(s):
    if s is None:
        return "-"
    if s >= 1.0:
        return "%.2f s" % s
    if s >= 1e-3:
        return "%.1f ms" % (s * 1e3)
    return "%.1f us" % (s * 1e6)


def fmt_x(x):
    if x is None:
        return "-"
    if x >= 100:
        return "%.0fx" % x
    if x >= 10:
        return "%.1fx" % x
    return "%.2fx" % x


def row_cells(row):
    cpy = row.get("cpython", {})
    ep = row.get("epochpp", {})
    nb = row.get("numba", {})

    if not ep.get("available"):
        ep_first = ep_steady = ep_x = "-"
        mode = "n/a"
    elif "error" in ep:
        ep_first = fmt_time(ep.get("first_call_s"))
        ep_steady = ep_x = "-"
        mode = "ERROR"
    else:
        ep_first = fmt_time(ep.get("first_call_s"))
        ep_steady = fmt_time(ep.get("steady_s"))
        mode = ep.get("mode", "unknown")
        if mode == "native":
            ep_x = fmt_x(ep.get("speedup"))
        elif mode == "mixed":
            ep_x = fmt_x(ep.get("speedup")) + "?"
        else:  # interpreted / unknown: never shown as an acceleration
            ep_x = "interp" if mode == "interpreted" else "?"
        mode = mode.upper() if mode != "native" else mode

    if not nb.get("available"):
        nb_first = nb_steady = nb_x = "-"
    elif "error" in nb:
        nb_first, nb_steady, nb_x = "ERROR", "-", "-"
    else:
        nb_first = fmt_time(nb.get("first_call_s"))
        nb_steady = fmt_time(nb.get("steady_s"))
        nb_x = fmt_x(nb.get("speedup"))

    ratio = row.get("epochpp_over_numba")
    ratio_s = "-" if ratio is None else "%.2f" % ratio

    if "error" in cpy:
        check = "CPYTHON ERROR"
    elif row.get("mismatch"):
        check = "MISMATCH " + ",".join(row["mismatch"])
    else:
        done = [n for n, d in (("epp", ep), ("numba", nb)) if d.get("check") == "ok"]
        check = "ok" if done else "ref only"
    return [row["kernel"], str(row["size"]), fmt_time(cpy.get("median_s")),
            ep_first, ep_steady, ep_x, mode,
            nb_first, nb_steady, nb_x, ratio_s, check]


HEADERS = ["kernel", "size", "CPython", "epp first", "epp steady", "speedup", "epp mode",
           "numba first", "numba steady", "nb speedup", "epp/numba", "check"]
LEFT = {0, 6, 11}


def print_table(rows, info, out=sys.stdout):
    body = [row_cells(r) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(HEADERS)]

    def line(cells):
        return "  ".join(c.ljust(w) if i in LEFT else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    ep = info["epochpp"]
    nb = info["numba"]
    print("epochpp benchmark suite (%s sizes, repeat %d)" % ("quick" if info["quick"] else "full", info["repeat"]), file=out)
    print("machine: %s, %s cores, Python %s, numpy %s" % (
        info["cpu_model"], info["cpu_count"], info["python"], info["numpy"]), file=out)
    print("epochpp: %s" % (ep["version"] if ep["available"] else "UNAVAILABLE (" + ep["reason"] + ")"), file=out)
    print("numba:   %s" % (nb["version"] if nb["available"] else "not used (" + nb["reason"] + ")"), file=out)
    print(file=out)
    print(line(HEADERS), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for b in body:
        print(line(b), file=out)
    print(file=out)

    notes = []
    for r in rows:
        ep_r = r.get("epochpp", {})
        nb_r = r.get("numba", {})
        if "error" in r.get("cpython", {}):
            notes.append("%s: CPython failed: %s" % (r["kernel"], r["cpython"]["error"]))
        if "warning" in r.get("cpython", {}):
            notes.append("%s: %s" % (r["kernel"], r["cpython"]["warning"]))
        if "error" in ep_r:
            notes.append("%s: epochpp failed: %s" % (r["kernel"], ep_r["error"]))
        elif ep_r.get("mode") in ("interpreted", "unknown", "mixed"):
            notes.append("%s: epochpp mode %s (stats %s) -- not counted as accelerated" % (
                r["kernel"], ep_r["mode"], ep_r.get("stats")))
        if "error" in nb_r:
            notes.append("%s: numba failed: %s" % (r["kernel"], nb_r["error"]))
        for name, d in (("epochpp", ep_r), ("numba", nb_r)):
            if str(d.get("check", "")).startswith("MISMATCH"):
                notes.append("!!! %s: %s %s" % (r["kernel"], name, d["check"]))
    if notes:
        print("notes:", file=out)
        for n in notes:
            print("  " + n, file=out)
        print(file=out)
    print("speedup = CPython / epochpp steady (only when epochpp ran natively; 'interp' = it fell back"
          " to the interpreter, '?' = partly native); nb speedup = CPython / numba steady;", file=out)
    print("epp/numba = epochpp steady / numba steady (below 1 = epochpp faster);"
          " times are medians; 'first' includes compilation.", file=out)
    bad = [r["kernel"] for r in rows if r.get("mismatch") or "error" in r.get("cpython", {})]
    if bad:
        print("\n!!! RESULT MISMATCH in: %s !!!" % ", ".join(bad), file=out)


def machine_info(args, epochpp, ep_reason, numba, nb_reason):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.lower().startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        ncpu = len(os.sched_getaffinity(0))
    except Exception:
        ncpu = os.cpu_count()
    return {
        "cpu_model": cpu,
        "cpu_count": ncpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "numba": {"available": numba is not None,
                  "version": getattr(numba, "__version__", None) if numba else None,
                  "reason": nb_reason},
        "epochpp": {"available": epochpp is not None,
                    "version": (getattr(epochpp, "__version__", None) or "unknown version") if epochpp else None,
                    "file": getattr(epochpp, "__file__", None) if epochpp else None,
                    "reason": ep_reason},
        "quick": args.quick,
        "repeat": args.repeat,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
    }


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="about 10x smaller inputs")
    p.add_argument("--only", default="", help="comma-separated kernel names (see --list)")
    p.add_argument("--repeat", type=int, default=5, metavar="K",
                   help="calls per median (default 5; slow CPython calls stop after %.0f s)" % CPYTHON_BUDGET_S)
    p.add_argument("--json", metavar="PATH", help="write rows and machine info as JSON to PATH")
    p.add_argument("--no-numba", action="store_true", help="do not run Numba")
    p.add_argument("--no-epochpp", action="store_true", help="do not run epochpp")
    p.add_argument("--list", action="store_true", help="list kernels and sizes, then exit")
    a = p.parse_args(argv)
    if a.repeat < 1:
        p.error("--repeat must be >= 1")
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)

    if args.list:
        for k in kernels.REGISTRY:
            print("%-20s size %-10s quick %-8s %s" % (k.name, k.size, k.quick, k.note))
        return 0

    selected = kernels.REGISTRY
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in kernels.BY_NAME]
        if unknown:
            log("unknown kernel(s): %s; available: %s" % (", ".join(unknown), ", ".join(kernels.BY_NAME)))
            return 2
        selected = [kernels.BY_NAME[n] for n in names]

    if args.no_epochpp:
        epochpp, ep_reason = None, "disabled by --no-epochpp"
    else:
        epochpp, ep_reason = load_epochpp()
    if args.no_numba:
        numba, nb_reason = None, "disabled by --no-numba"
    else:
        numba, nb_reason = load_numba()
    if epochpp is None:
        log("epochpp unavailable: %s -- epochpp columns will be empty" % ep_reason)
    if numba is None:
        log("numba not used: %s" % nb_reason)

    info = machine_info(args, epochpp, ep_reason, numba, nb_reason)
    if epochpp is not None:
        info["epochpp"]["warmup"] = warm_up("epochpp", epochpp.jit)
    if numba is not None:
        info["numba"]["warmup"] = warm_up("numba", numba.njit)
    rows = []
    for i, k in enumerate(selected, 1):
        size = k.quick if args.quick else k.size
        rows.append(bench_kernel(k, size, args.repeat, epochpp, numba, i, len(selected)))
        gc.collect()

    log("")
    print_table(rows, info)

    if args.json:
        doc = {"schema": "epochpp-bench/1", "machine": info, "rows": rows}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2, default=_json_default)
            f.write("\n")
        log("wrote %s" % args.json)

    failed = any(r.get("mismatch") or "error" in r.get("cpython", {}) for r in rows)
    return 1 if failed else 0


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


if __name__ == "__main__":
    sys.exit(main())
