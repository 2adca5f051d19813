"""Reports of a profile: the versioned JSON dict and the terminal table (colour when supported)."""
from __future__ import annotations

import os
import sys

from .attribution import CATEGORIES

SCHEMA_VERSION = 1
_LEVEL_ADVICE = {0: "not CPU work: use threads or asyncio", 2: "Level 2: epochpp.jit / enable(level=2)",
                 3: "Level 3: enable(level=3) (independent loop iterations on all cores)", 4: "Level 4: a GPU (enable(level=4))"}
_COLORS = {"python": "33", "native": "36", "compiled": "32", "parallel": "92", "gpu": "35", "io": "34", "other": "90"}


def to_dict(prof):
    return {
        "version": SCHEMA_VERSION,
        "tool": "epochpp",
        "script": prof.script,
        "wall_s": round(prof.wall_s, 6),
        "cpu_s": round(prof.cpu_s, 6),
        "samples": prof.sample_count,
        "interval_ms": prof.interval_ms,
        "level": prof.level,
        "breakdown": {k: round(v, 6) for k, v in prof.breakdown.items()},
        "hotspots": [dict(h.to_json(), **({"status": h.status} if h.status else {})) for h in prof.hotspots],
        "functions": list(getattr(prof, "functions", [])),  # what epochpp did with each function it handled
        "gpu": _gpu_json(prof.gpu),
    }


def _gpu_json(g):
    return {"kernel_s": round(g["kernel_s"], 6), "transfer_s": round(g["transfer_s"], 6), "bytes_up": int(g["bytes_up"]),
            "bytes_down": int(g["bytes_down"]), "launches": int(g["launches"]), "fallbacks": int(g["fallbacks"]),
            "last_reason": g["last_reason"]}


def gpu_line(g):
    """One line on Level 4 for the text report, or None when the GPU runtime was not called."""
    if not g["launches"] and not g["fallbacks"]:
        return None
    line = (f"  GPU: {g['launches']} launches, {g['kernel_s'] * 1e3:.1f} ms in kernels, "
            f"{g['transfer_s'] * 1e3:.1f} ms moving {(g['bytes_up'] + g['bytes_down']) / 1e6:.1f} MB")
    if g["fallbacks"]:
        line += f"; {g['fallbacks']} ran on the CPU instead (last: {g['last_reason']})"
    return line


def _use_color(file):
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(file, "isatty") and file.isatty() and os.environ.get("TERM") != "dumb"


def bar(share, width=30):
    full = int(round(share * width))
    return "█" * full + "░" * (width - full)


def render(prof, file=None, color=None, top=8):
    file = file or sys.stdout
    color = _use_color(file) if color is None else color

    def c(code, text):
        return f"\033[{code}m{text}\033[0m" if color else text

    name = os.path.basename(prof.script) if prof.script else "profile"
    lines = [c("1", f"epochpp profile — {name}") +
             f" — {prof.wall_s:.3f} s wall, {prof.cpu_s:.3f} s CPU, {prof.sample_count} samples every {prof.interval_ms:g} ms",
             "", c("1", "Where the time goes")]
    for k in CATEGORIES:
        v = prof.breakdown.get(k, 0.0)
        if v < 0.0005 and k not in ("python", "native", "compiled"):
            continue
        lines.append(f"  {k:9} {c(_COLORS[k], bar(v))} {100 * v:5.1f}%")
    g = gpu_line(prof.gpu)
    if g:
        lines.append(c(_COLORS["gpu"], g))
    hs = prof.hotspots[:top]
    lines += ["", c("1", "Top hotspots")]
    if not hs:
        lines.append("  (no samples: the run was shorter than the sampling interval)")
    else:
        lines.append(f"  {'#':>2} {'share':>6} {'self':>8}  {'kind':8} {'lvl':>3}  function")
        for i, h in enumerate(hs, 1):
            where = f"{h.function} ({os.path.basename(h.file)}:{h.line})"
            lines.append(f"  {i:>2} {100 * h.share:5.1f}% {h.self_s:7.3f}s  {c('1', f'{h.kind:8}')} {h.level:>3}  {where}")
            lines.append(f"  {'':>2} {'':>6} {'':>8}  {c('2', h.evidence)}")
            if h.status:
                lines.append(f"  {'':>2} {'':>6} {'':>8}  {c('32', 'epochpp: ' + h.status)}")
        seen = []
        for h in hs:
            if h.level not in seen:
                seen.append(h.level)
        lines += ["", c("1", "What helps")]
        for lvl in seen:
            names = ", ".join(h.function for h in hs if h.level == lvl)
            lines.append(f"  {names}: {_LEVEL_ADVICE.get(lvl, '')}")
    print("\n".join(lines), file=file)
