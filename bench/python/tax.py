"""The tax of epochpp.enable(level=3) on a program it cannot accelerate (strings, dicts, classes).

    python3 bench/python/tax.py [--rounds N] [--repeat K]

Runs bench/python/tax_workload.py plain and with enable(level=3), alternating, in fresh
processes, and reports the median ratio (target: <= 1.03)."""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(args):
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, os.path.join(HERE, "tax_workload.py"), *args], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    setup, work = (float(x) for x in out.stderr.split()[-2:])
    return (dt, setup, work), out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    timed([str(a.rounds // 10)])  # warm the file cache
    plain, enabled = [], []
    for i in range(a.repeat):
        for mode, acc in (("plain", plain), ("enable", enabled)) if i % 2 == 0 else (("enable", enabled), ("plain", plain)):
            dt, out = timed([str(a.rounds)] + (["enable"] if mode == "enable" else []))
            acc.append((dt, out))
            print(f"  run {i + 1}/{a.repeat} {mode:6} {dt[0]:.3f} s", file=sys.stderr)
    assert len({o for _, o in plain + enabled}) == 1, "outputs differ between plain and enabled runs"
    med = lambda runs, k: statistics.median(d[k] for d, _ in runs)  # noqa: E731
    p, e = med(plain, 0), med(enabled, 0)
    pw, ew = med(plain, 2), med(enabled, 2)
    print(f"whole process: plain {p:.3f} s, enable(level=3) {e:.3f} s -> tax {100 * (e / p - 1):+.1f}% "
          f"(median of {a.repeat}; includes import epochpp + enable: {1e3 * med(enabled, 1):.0f} ms)")
    print(f"the program itself: plain {pw:.3f} s, enabled {ew:.3f} s -> tax {100 * (ew / pw - 1):+.1f}%  (target <= +3%)")


if __name__ == "__main__":
    main()
