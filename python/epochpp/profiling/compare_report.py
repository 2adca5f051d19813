"""The before/after report of `epochpp run --compare`: speedup, breakdown shift, hotspots then and now."""
from __future__ import annotations

import os

from .attribution import CATEGORIES
from .report import _use_color


def _fmt_s(x):
    return f"{x:.3f} s" if x >= 0.01 else f"{x * 1e3:.2f} ms"


def render_compare(result, before_proc, after_proc, file):
    color = _use_color(file)

    def c(code, t):
        return f"\033[{code}m{t}\033[0m" if color else t

    pb, pa = result["before"], result["after"]
    print("", file=file)
    if not result["outputs_identical"]:
        print(c("1;31", "!! OUTPUTS DIFFER between the plain and the accelerated run !!"), file=file)
        print(f"   exit codes: plain {before_proc.returncode}, accelerated {after_proc.returncode}; "
              f"stdout {len(before_proc.stdout)} vs {len(after_proc.stdout)} bytes", file=file)
        bl, al = before_proc.stdout.decode(errors="replace").splitlines(), after_proc.stdout.decode(errors="replace").splitlines()
        for i, (x, y) in enumerate(zip(bl, al)):
            if x != y:
                print(f"   first difference at line {i + 1}:\n     plain:       {x}\n     accelerated: {y}", file=file)
                break
    if pb is None or pa is None:
        print(c("1;31", "epochpp run --compare: a run produced no profile"), file=file)
        if pb is None:
            print(before_proc.stderr.decode(errors="replace"), file=file)
        return
    lvl = pa.get("level", "?")
    sp = result["speedup"]
    print(c("1", f"epochpp run --compare — {os.path.basename(pa.get('script') or '')}"), file=file)
    print(f"  before (plain CPython)    {_fmt_s(pb['wall_s']):>10}", file=file)
    print(f"  after  (epochpp level {lvl})  {_fmt_s(pa['wall_s']):>10}   speedup {c('1;32', f'{sp:.2f}x')}   "
          f"outputs: {c('32', 'identical') if result['outputs_identical'] else c('1;31', 'DIFFERENT')}", file=file)
    print("", file=file)
    print(c("1", "  Where the time goes (share of wall time)"), file=file)
    for k in CATEGORIES:
        b, a = pb["breakdown"].get(k, 0), pa["breakdown"].get(k, 0)
        if b < 0.005 and a < 0.005:
            continue
        arrow = "→"
        print(f"    {k:9} {100 * b:5.1f}% {arrow} {100 * a:5.1f}%", file=file)
    print("", file=file)
    print(c("1", "  Hotspots"), file=file)
    after_by = {(h["file"], h["function"]): h for h in pa["hotspots"]}
    done = {(os.path.abspath(f["file"]), f["function"]): f["status"] for f in pa.get("functions", [])}
    print(f"    {'function':32} {'kind':8} {'before':>9} {'after':>9}  what epochpp did", file=file)
    for h in pb["hotspots"][:8]:
        a = after_by.get((h["file"], h["function"]))
        after_s = _fmt_s(a["self_s"]) if a else "—"
        status = (a or {}).get("status") or done.get((os.path.abspath(h["file"]), h["function"])) or \
            ("not a hotspot any more" if a is None else "left as is")
        where = f"{h['function']} ({os.path.basename(h['file'])}:{h['line']})"
        print(f"    {where[:32]:32} {h['kind']:8} {_fmt_s(h['self_s']):>9} {after_s:>9}  {status}", file=file)
    shown = {(h["file"], h["function"]) for h in pb["hotspots"][:8]}
    new = [h for h in pa["hotspots"][:5] if (h["file"], h["function"]) not in shown]
    if new:
        print(c("2", "    now also visible:"), file=file)
        for h in new:
            where = f"{h['function']} ({os.path.basename(h['file'])}:{h['line']})"
            print(f"    {where[:32]:32} {h['kind']:8} {'':>9} {_fmt_s(h['self_s']):>9}  {h.get('evidence', '')}", file=file)
