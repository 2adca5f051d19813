"""A mismatch the fuzzer found, written as a runnable reproducer script (run_fuzz.py)."""

from __future__ import annotations

import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REPRO_TEMPLATE = '''"""epochpp fuzz reproducer ({origin}).

Mismatch: {kind}: {detail}
CPython : {py}
epochpp : {jit}

Run: PYTHONPATH=python python3 {relpath}
"""
{source}

ARG_SETS = {args!r}  # argument tuples (source text), called in order


if __name__ == "__main__":
    import warnings

    import epochpp

    def build(src):
        return eval(src, {{"np": np, "math": math, "nan": math.nan, "inf": math.inf}})

    def run(fn, args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                v = fn(*args)
                return f"return {{type(v).__name__}} {{v!r}}"
            except Exception as e:  # noqa: BLE001
                return f"raise {{type(e).__name__}}: {{e}}"

    d = epochpp.jit(f, level={level})
    for src in ARG_SETS:
        pa, ja = build(src), build(src)
        print("args    :", src)
        print("CPython :", run(f, pa), "| args after:", pa)
        print("epochpp :", run(d, ja), "| args after:", ja)
    print("stats   :", d.stats)
    print(epochpp.explain(d))
'''


def save_reproducer(save_dir, name, origin, kind, detail, source, args_src, call, level=None):
    os.makedirs(save_dir, exist_ok=True)
    path = os.path.join(save_dir, name)
    lines = source.strip("\n").splitlines()
    while lines and lines[0].strip() in ("import math", "import numpy as np", ""):
        lines.pop(0)
    body = "\n".join(lines)
    with open(path, "w") as fh:
        fh.write(REPRO_TEMPLATE.format(
            origin=origin + (f", Level {level}" if level else ""), level=level or 2,
            kind=kind, detail=detail.replace('"""', "'''")[:600],
            py=(call or {}).get("py", "?")[:300].replace('"""', "'''"),
            jit=(call or {}).get("jit", "?")[:300].replace('"""', "'''"),
            relpath=os.path.relpath(path, REPO) if path.startswith(REPO) else path,
            source="import math\n\nimport numpy as np\n\n\n" + body + "\n",
            args=args_src if isinstance(args_src, list) else [args_src]))
    return path
