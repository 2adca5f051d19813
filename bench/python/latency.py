#!/usr/bin/env python3
"""epochpp's fixed costs, each in fresh processes (issue 7's latency targets):

    python3 bench/python/latency.py [--runs N]

* import: `import numpy, epochpp` minus `import numpy` (target <= 40 ms);
* first call of a small kernel with an empty disk cache, and the split explain() gives
  (frontend, passes, codegen, LLVM, link; target <= 30 ms median);
* first call in a fresh process whose disk cache has the code (target <= 5 ms);
* dispatch of a compiled call: scalar and array arguments (targets <= 200 ns, <= 1 us),
  with Numba's beside it when installed.
Medians over --runs processes (default 7); the machine's load shows in the spread.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

FIRST_CALL = r"""
import time, sys
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import epochpp
t2 = time.perf_counter()
def kernel(a, x):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * x
    return s
f = epochpp.jit(kernel)
a = np.arange(100.0)
t3 = time.perf_counter()
f(a, 2.0)
t4 = time.perf_counter()
assert f.stats["native_calls"] == 1
print(t1 - t0, t2 - t1, t4 - t3)
print(f.explain().replace("\n", " "))
"""

DISPATCH = r"""
import time, numpy as np, epochpp
def add(a, b):
    return a + b
def first(x):
    return x[0]
rows = [("epochpp", epochpp.jit(add), epochpp.jit(first))]
try:
    import numba
    rows.append(("numba", numba.njit(add), numba.njit(first)))
except ImportError:
    pass
x = np.arange(4.0)
for name, s, a in rows:
    s(1, 2); a(x)
    out = []
    for f, args in ((s, (1, 2)), (a, (x,))):
        best = 1e9
        for r in range(5):
            t = time.perf_counter()
            for _ in range(100000): f(*args)
            best = min(best, (time.perf_counter() - t) / 100000)
        out.append(best)
    t = time.perf_counter()
    for _ in range(100000): pass
    loop = (time.perf_counter() - t) / 100000
    print(name, out[0] - loop, out[1] - loop)
"""


def run(code, env, path):
    # from a file (compiled functions need their source; the file's name is part of the cache key)
    with open(path, "w") as f:
        f.write(code)
    p = subprocess.run([sys.executable, path], capture_output=True, text=True, env=env, timeout=300)
    if p.returncode != 0:
        raise SystemExit(p.stderr)
    return p.stdout.splitlines()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(REPO, "python") + os.pathsep + env.get("PYTHONPATH", "")
    cold, warm, imports, splits = [], [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as cache:
            env["EPOCHPP_CACHE_DIR"] = cache
            script = os.path.join(cache, "first_call.py")
            lines = run(FIRST_CALL, env, script)
            _np, ep, first = (float(v) for v in lines[0].split())
            cold.append(first)
            imports.append(ep)
            splits.append(lines[1])
            lines = run(FIRST_CALL, env, script)
            warm.append(float(lines[0].split()[2]))
            assert "from the cache" in lines[1], lines[1]
    med = statistics.median
    print(f"import epochpp after numpy : {med(imports) * 1e3:6.1f} ms  (min {min(imports) * 1e3:.1f}, max {max(imports) * 1e3:.1f})")
    print(f"first call, empty cache    : {med(cold) * 1e3:6.1f} ms  (min {min(cold) * 1e3:.1f}, max {max(cold) * 1e3:.1f})")
    split = sorted(splits, key=lambda s: s)[len(splits) // 2]
    if "compiled in" in split:
        print("  split (one run)          :", split[split.index("compiled in"):].split(")")[0] + ")")
    print(f"first call, cache has it   : {med(warm) * 1e3:6.1f} ms  (min {min(warm) * 1e3:.1f}, max {max(warm) * 1e3:.1f})")
    env.pop("EPOCHPP_CACHE_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        dispatch = run(DISPATCH, env, os.path.join(tmp, "dispatch.py"))
    for line in dispatch:
        name, s, a = line.split()
        print(f"dispatch {name:8s}          : scalar {float(s) * 1e9:5.0f} ns, array {float(a) * 1e9:5.0f} ns")


if __name__ == "__main__":
    main()
