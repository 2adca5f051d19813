"""Profiler overhead: a CPU-bound pure-Python loop and a NumPy-heavy script, run plain, under
`epochpp profile` and under Scalene (when installed), in fresh processes, alternating.

    python3 bench/python/profiler_overhead.py [--repeat K]

Reports each profiler's wall time over plain (target for epochpp: <= 1.03)."""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PURE = """
def work(n):
    s = 0
    for i in range(n):
        s += (i * 7) % 13
    return s
print(work(6_000_000))
"""
NUMPY = """
import numpy as np
rng = np.random.default_rng(0)
a = rng.standard_normal(2_000_000)
acc = 0.0
for _ in range(40):
    b = np.sqrt(np.abs(a)) * 1.5 + np.sin(a)
    acc += float(b.sum())
print(round(acc, 3))
"""


def run(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{p.stderr[-2000:]}")
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    scalene = shutil.which("scalene") or None
    with tempfile.TemporaryDirectory() as d:
        rows = []
        for name, src in (("pure-Python loop", PURE), ("NumPy-heavy", NUMPY)):
            path = os.path.join(d, name.split()[0].replace("-", "_") + ".py")
            with open(path, "w") as f:
                f.write(src)
            modes = {"plain": [sys.executable, path],
                     "epochpp profile": [sys.executable, "-m", "epochpp", "profile", "--no-color", path]}
            if scalene:
                # Scalene 2.x: `scalene run --cpu-only` (CPU sampling, the same job as epochpp's sampler)
                modes["scalene --cpu-only"] = [sys.executable, "-m", "scalene", "run", "--cpu-only", "-o",
                                               os.path.join(d, "scalene.json"), path]
            times = {m: [] for m in modes}
            for r in range(a.repeat):
                for m, cmd in (modes.items() if r % 2 == 0 else reversed(list(modes.items()))):
                    times[m].append(run(cmd))
                print(f"  {name}: run {r + 1}/{a.repeat}", file=sys.stderr)
            med = {m: statistics.median(v) for m, v in times.items()}
            rows.append((name, med))
    print(f"{'workload':18} {'plain':>8} " + " ".join(f"{m:>16}" for m in rows[0][1] if m != "plain"))
    for name, med in rows:
        base = med["plain"]
        cells = " ".join(f"{med[m]:7.3f}s {med[m] / base:6.3f}x" for m in med if m != "plain")
        print(f"{name:18} {base:7.3f}s {cells}")
    print("(whole-process wall time, median of", a.repeat, "runs; ratios are over plain; epochpp target <= 1.03)")
    if not scalene:
        print("scalene is not installed: `pip install scalene` to compare")


if __name__ == "__main__":
    main()
