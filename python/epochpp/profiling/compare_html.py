"""The HTML page of `epochpp run --compare --html F`: both profiles side by side, with a chart."""
from __future__ import annotations

import html
import os

from .attribution import CATEGORIES

_COLORS = {"python": "#f4b400", "native": "#00acc1", "compiled": "#0f9d58", "parallel": "#34a853", "gpu": "#ab47bc",
           "io": "#4285f4", "other": "#9e9e9e"}


def _bar(breakdown):
    parts = []
    for c in CATEGORIES:
        v = breakdown.get(c, 0)
        if v > 0.001:
            parts.append(f'<div class="seg" style="width:{100 * v:.2f}%;background:{_COLORS[c]}" '
                         f'title="{c} {100 * v:.1f}%"></div>')
    return '<div class="bar">' + "".join(parts) + "</div>"


def _table(p):
    rows = []
    for h in p["hotspots"][:10]:
        rows.append("<tr><td>{}</td><td>{}</td><td class=num>{:.1f}%</td><td class=num>{:.4f}</td><td>{}</td><td>{}</td></tr>".format(
            html.escape(f"{h['function']} ({os.path.basename(h['file'])}:{h['line']})"), html.escape(h["kind"]),
            100 * h["share"], h["self_s"], h["level"], html.escape(h.get("status") or h["evidence"])))
    return ("<table><tr><th>function</th><th>kind</th><th>share</th><th>self s</th><th>level</th><th>evidence / what epochpp did</th></tr>"
            + "".join(rows) + "</table>")


def _chart(before, after):
    """Seconds per hotspot, before and after (SVG, log scale)."""
    import math
    rows = []
    after_by = {(h["file"], h["function"]): h["self_s"] for h in after["hotspots"]}
    items = [(h["function"], h["self_s"], after_by.get((h["file"], h["function"]), 0.0)) for h in before["hotspots"][:8]]
    items.append(("whole run", before["wall_s"], after["wall_s"]))
    vals = [v for _, b, a in items for v in (b, a) if v > 0]
    if not vals:
        return ""
    lo, hi = math.log10(min(vals) / 2), math.log10(max(vals) * 2)
    y, left, width = 10, 200, 520
    for name, b, a in items:
        rows.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{html.escape(name[:28])}</text>')
        for v, color, label in ((b, "#f4b400", "before"), (a, "#0f9d58", "after")):
            w = 0 if v <= 0 else max(1.0, (math.log10(v) - lo) / (hi - lo) * width)
            rows.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="9" fill="{color}"><title>{label}: {v:.4f} s</title></rect>'
                        f'<text x="{left + w + 4:.1f}" y="{y + 8}" font-size="9">{v * 1e3:.1f} ms</text>')
            y += 11
        y += 8
    return f'<svg width="{left + width + 80}" height="{y}" xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>'


def write_compare_html(result, path):
    b, a = result["before"], result["after"]
    sp = result.get("speedup") or 0
    same = result.get("outputs_identical")
    legend = " ".join(f'<span class="sw" style="background:{_COLORS[c]}"></span>{c}' for c in CATEGORIES)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>epochpp run --compare</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#222}} .bar{{display:flex;height:22px;width:100%;border-radius:4px;overflow:hidden;background:#eee}}
.seg{{height:100%}} .cols{{display:flex;gap:24px}} .col{{flex:1;min-width:0}} table{{border-collapse:collapse;width:100%;font-size:13px}}
td,th{{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}} .num{{text-align:right}} .sw{{display:inline-block;width:11px;height:11px;margin:0 4px 0 10px}}
.big{{font-size:28px;font-weight:600}} .bad{{color:#c62828;font-weight:700}} svg text{{font-size:11px}}</style></head><body>
<h1>epochpp run --compare — {html.escape(os.path.basename(a.get('script') or ''))}</h1>
<p class="big">{b['wall_s']:.3f} s → {a['wall_s']:.3f} s &nbsp; ({sp:.2f}x)</p>
<p>{'outputs identical' if same else '<span class="bad">OUTPUTS DIFFER between the plain and the accelerated run</span>'}
 · before: plain CPython (level 0) · after: epochpp level {a.get('level')}</p>
<p>{legend}</p>
<div class="cols"><div class="col"><h2>before</h2>{_bar(b['breakdown'])}{_table(b)}</div>
<div class="col"><h2>after</h2>{_bar(a['breakdown'])}{_table(a)}</div></div>
<h2>Time per hotspot, before and after (log scale)</h2>{_chart(b, a)}
</body></html>
"""
    with open(path, "w") as f:
        f.write(page)
