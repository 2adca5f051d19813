"""EPOCHPP_PERF_MAP=1: compiled functions are named for Linux perf in /tmp/perf-<pid>.map."""
import os
import subprocess
import sys
import textwrap

import epochpp

# the folder holding the package these tests imported (site-packages in CI, python/ in a dev tree)
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(epochpp.__file__)))

CHILD = textwrap.dedent("""
    import os
    import numpy as np
    import epochpp

    def scale(a, out, s):
        for i in range(a.shape[0]):  # a loop over loops: Level 3 runs it on the workers
            t = 0.0
            for k in range(4):
                t += a[i] * s
            out[i] = t

    def twice(x):
        return 2 * x

    f = epochpp.jit(scale, level=3)
    a = np.arange(1000.0)
    out = np.empty_like(a)
    f(a, out, 3.0)
    assert out[10] == 120.0
    assert "1 loop(s) run on all cores" in f.explain(), f.explain()
    g = epochpp.jit(twice)
    assert g(21) == 42
    assert "compiled" in g.explain() and "interpreter" not in g.explain()
    print(os.getpid())
""")


def run_child(tmp_path, perf_map):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR, EPOCHPP_CACHE_DIR=str(tmp_path / "cache"),
               EPOCHPP_PARALLEL_MIN_WORK="0")
    env.pop("EPOCHPP_PERF_MAP", None)
    if perf_map is not None:
        env["EPOCHPP_PERF_MAP"] = perf_map
    script = tmp_path / "child.py"  # a file: compiled functions need their source
    script.write_text(CHILD)
    p = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    path = "/tmp/perf-%s.map" % p.stdout.split()[-1]
    try:
        with open(path) as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    finally:
        if os.path.exists(path):
            os.unlink(path)


def parse(text):
    rows = []
    for line in text.splitlines():
        start, size, name = line.split(" ", 2)
        rows.append((int(start, 16), int(size, 16), name))
    return rows


def check_map(text):
    rows = parse(text)
    names = [r[2] for r in rows]
    assert sum(n.startswith("ep_entry_") for n in names) == 2, names  # scale's and twice's entries
    assert "ep.par.scale" in names, names  # the parallel loop's chunk function (a local symbol)
    spans = sorted((s, s + n) for s, n, _ in rows)
    for s, n, _ in rows:
        assert s > 0 and 0 < n < 1 << 20
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert a1 <= b0, "code ranges overlap: %x-%x and %x-%x" % (a0, a1, b0, b1)


def test_perf_map_names_compiled_and_cached_code(tmp_path):
    check_map(run_child(tmp_path, "1"))   # compiled in this process
    check_map(run_child(tmp_path, "1"))   # the same objects, now linked from the disk cache


def test_no_perf_map_by_default(tmp_path):
    assert run_child(tmp_path, None) is None
    assert run_child(tmp_path, "0") is None
