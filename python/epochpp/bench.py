"""`epochpp bench`: a workload (a script) or the built-in kernel suite at each level, K times,
with progress; writes a Markdown table (median, spread, speedup over level 0), an HTML page
with an SVG bar chart (log scale) and JSON. A level this build or machine cannot run is
reported as such, with what ran instead — never silently skipped."""
from __future__ import annotations

import html
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

LEVEL_NAMES = {0: "plain CPython", 1: "+ profiler", 2: "JIT", 3: "JIT + parallel", 4: "JIT + parallel + GPU"}


def gpu_available() -> bool:
    import ctypes
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
        if cuda.cuInit(0) != 0:
            return False
        n = ctypes.c_int(0)
        return cuda.cuDeviceGetCount(ctypes.byref(n)) == 0 and n.value > 0
    except OSError:
        return False


def effective_level(level: int):
    """(what actually runs, why) for a requested level."""
    if level <= 3:
        return level, ""
    if gpu_available():
        return 4, ""
    return 3, "no CUDA GPU on this machine: ran as Level 3 (its loops were compiled for the GPU and ran on the CPU)"


def _progress(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ measuring
def _bench_script(script, args, level, repeat):
    times = []
    for r in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "p.json")
            cmd = [sys.executable, "-m", "epochpp", "run", "--level", str(level), "--json", out, "--no-report",
                   script, *args]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(f"{script} failed at level {level}:\n{proc.stderr.decode(errors='replace')}")
            t = json.load(open(out))["wall_s"] if os.path.exists(out) else wall
        times.append(t)
        _progress(f"  level {level}: run {r + 1}/{repeat}: {t:.3f} s")
    return times


def _suite_kernels(quick):
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.join(here, "bench_kernels.py"),
                  os.path.join(os.path.dirname(os.path.dirname(here)), "bench", "python", "kernels.py")]
    path = next((p for p in candidates if os.path.exists(p)), None)
    if path is None:
        raise FileNotFoundError("the benchmark kernels are not installed (bench_kernels.py)")
    spec = importlib.util.spec_from_file_location("epochpp_bench_kernels", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _bench_kernel(kmod, k, level, repeat, quick):
    import epochpp
    from epochpp.profiling import Profile

    args = k.make(k.quick if quick else k.size)

    def fresh():
        return tuple(a.copy() if i in k.outputs else a for i, a in enumerate(args))

    fn = k.fn
    if level >= 2:
        # callees (cnd, fib) compile too: the dispatcher resolves module-level functions itself
        fn = epochpp.jit(k.fn, level=level)
        fn(*fresh())  # first call compiles
        if fn.stats["native_calls"] == 0:
            raise RuntimeError(f"{k.name} did not compile: {epochpp.explain(fn)}")
    times, result = [], None
    for _ in range(repeat):
        a = fresh()
        prof = Profile(interval_ms=10.0).start() if level == 1 else None
        t0 = time.perf_counter()
        ret = fn(*a)
        t = time.perf_counter() - t0
        if prof:
            prof.stop()
        times.append(t)
        result = k.result(a, ret)
    return times, result


# ------------------------------------------------------------------------------ outputs
def _summary(times):
    med = statistics.median(times)
    spread = (max(times) - min(times)) / med if med > 0 and len(times) > 1 else 0.0
    return {"median_s": med, "min_s": min(times), "max_s": max(times), "spread": spread, "times_s": times}


def write_outputs(results, levels, outdir, meta):
    os.makedirs(outdir, exist_ok=True)
    # JSON
    with open(os.path.join(outdir, "bench.json"), "w") as f:
        json.dump({"meta": meta, "levels": levels, "results": results}, f, indent=2)
    # Markdown
    lines = [f"# epochpp bench — {meta['when']}", "",
             f"{meta['python']} on {meta['cpu']} ({meta['cores']} cores); median of {meta['repeat']} runs, "
             "spread = (max - min) / median, speedup over level 0.", ""]
    head = "| workload | " + " | ".join(f"level {lv} ({LEVEL_NAMES[lv]})" for lv in levels) + " |"
    lines += [head, "|" + "---|" * (len(levels) + 1)]
    notes = {}
    for name, row in results.items():
        cells = []
        base = row.get("0", {}).get("median_s")
        for lv in levels:
            c = row.get(str(lv))
            if c is None:
                cells.append("—")
                continue
            sp = f", {base / c['median_s']:.1f}x" if base else ""
            mark = "*" if c.get("note") else ""
            if c.get("note"):
                notes[lv] = c["note"]
            cells.append(f"{c['median_s'] * 1e3:.2f} ms ±{100 * c['spread']:.0f}%{sp}{mark}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for lv, note in sorted(notes.items()):
        lines.append(f"\n\\* level {lv}: {note}")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(outdir, "bench.md"), "w") as f:
        f.write(md)
    # HTML with an SVG bar chart, log scale
    with open(os.path.join(outdir, "bench.html"), "w") as f:
        f.write(_html(results, levels, meta, notes))
    return md


_COLORS = ["#9aa0a6", "#f4b400", "#0f9d58", "#4285f4", "#db4437"]


def _html(results, levels, meta, notes):
    all_t = [c["median_s"] for row in results.values() for c in row.values() if c]
    lo, hi = math.log10(min(all_t) / 2), math.log10(max(all_t) * 2)
    bar_h, gap, left, width = 14, 10, 170, 560
    rows = []
    y = 30
    for name, row in results.items():
        rows.append(f'<text x="{left - 8}" y="{y + bar_h * len(levels) / 2 + 4}" text-anchor="end">{html.escape(name)}</text>')
        for i, lv in enumerate(levels):
            c = row.get(str(lv))
            if not c:
                continue
            w = max(1.0, (math.log10(c["median_s"]) - lo) / (hi - lo) * width)
            tip = f"{name} level {lv}: {c['median_s'] * 1e3:.3f} ms" + (f" ({c['note']})" if c.get("note") else "")
            rows.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{_COLORS[lv]}">'
                        f'<title>{html.escape(tip)}</title></rect>'
                        f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 4}" font-size="10">{c["median_s"] * 1e3:.2f} ms</text>')
            y += bar_h
        y += gap
    ticks = []
    for p in range(math.floor(lo), math.ceil(hi) + 1):
        x = left + (p - lo) / (hi - lo) * width
        if left <= x <= left + width:
            label = f"{10 ** p * 1e3:g} ms"
            ticks.append(f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{y}" stroke="#eee"/>'
                         f'<text x="{x:.1f}" y="14" font-size="10" text-anchor="middle">{label}</text>')
    legend = "".join(f'<span style="display:inline-block;width:12px;height:12px;background:{_COLORS[lv]}"></span> '
                     f'level {lv} ({html.escape(LEVEL_NAMES[lv])}) &nbsp; ' for lv in levels)
    note_html = "".join(f"<p>* level {lv}: {html.escape(n)}</p>" for lv, n in sorted(notes.items()))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>epochpp bench</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#222}} svg text{{font-family:system-ui,sans-serif;font-size:12px}}</style>
</head><body><h1>epochpp bench</h1><p>{html.escape(meta['python'])} on {html.escape(meta['cpu'])} ({meta['cores']} cores),
median of {meta['repeat']} runs, log scale (shorter is faster).</p><p>{legend}</p>
<svg width="{left + width + 90}" height="{y + 10}" xmlns="http://www.w3.org/2000/svg">{''.join(ticks)}{''.join(rows)}</svg>
{note_html}</body></html>
"""


def _cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(args) -> int:
    levels = sorted({int(x) for x in args.levels.split(",")})
    if any(lv < 0 or lv > 4 for lv in levels):
        print("epochpp bench: levels are 0-4", file=sys.stderr)
        return 2
    meta = {"when": time.strftime("%Y-%m-%d %H:%M"), "python": f"Python {platform.python_version()}",
            "cpu": _cpu_name(), "cores": os.cpu_count(), "repeat": args.repeat}
    results = {}
    if args.suite or not args.script:
        kmod = _suite_kernels(args.quick)
        kernels = [k for k in kmod.REGISTRY if not args.only or k.name in args.only.split(",")]
        for k in kernels:
            _progress(f"{k.name}:")
            row, ref = {}, None
            for lv in levels:
                eff, note = effective_level(lv)
                times, res = _bench_kernel(kmod, k, eff, args.repeat, args.quick)
                if ref is None:
                    ref = res
                else:
                    bad = k.check(ref, res)
                    if bad:
                        print(f"!! {k.name} at level {lv} gives a different result: {bad}", file=sys.stderr)
                        note = (note + "; " if note else "") + "RESULT DIFFERS"
                row[str(lv)] = dict(_summary(times), ran_as=eff, note=note)
                _progress(f"  level {lv}: {row[str(lv)]['median_s'] * 1e3:.2f} ms" + (f"  ({note})" if note else ""))
            results[k.name] = row
    else:
        script = os.path.abspath(args.script)
        _progress(f"{os.path.basename(script)}:")
        row = {}
        for lv in levels:
            eff, note = effective_level(lv)
            row[str(lv)] = dict(_summary(_bench_script(script, args.args, eff, args.repeat)), ran_as=eff, note=note)
        results[os.path.basename(script)] = row
    md = write_outputs(results, levels, args.out, meta)
    print(md)
    print(f"epochpp bench: wrote {args.out}/bench.md, bench.html, bench.json", file=sys.stderr)
    return 0
