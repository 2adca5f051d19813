"""HTML report: one self-contained page (inline CSS and JS, no network) with the breakdown, the
hotspot table and a flame graph built from the samples' stacks."""
from __future__ import annotations

import datetime
import html
import json
import os
import re

from .attribution import CATEGORIES
from .speedscope import display_name, sample_parts, thread_names, user_stacks

# the terminal report's colours (report._COLORS), as the page's palette
COLORS = {"python": "#e8a93a", "native": "#2ba8a0", "compiled": "#3f9e4d", "parallel": "#86c941",
          "gpu": "#a05bd1", "io": "#4a7fd6", "other": "#9aa0a6"}
KIND_COLORS = {"loop": "#e8a93a", "parallel": "#68b63a", "array": "#a05bd1", "io": "#4a7fd6"}
LEVEL_NAMES = {0: "not CPU work: threads or asyncio", 1: "monitoring", 2: "Level 2: JIT",
               3: "Level 3: parallel", 4: "Level 4: GPU"}
MIN_NODE_SHARE = 0.0005  # flame graph nodes under this share of the total are left out


def flame_tree(prof):
    """The samples' stacks as a tree, outermost first, merged by (function, file); the frames of
    Python's import machinery are left out, so an import shows as a module inside a module.

    A node is [name, file, first_line, total_s, self_s, [seconds per category], children]; the root
    stands for all sampled thread time. With several threads, each thread is a child of the root."""
    samples = prof.attribution.samples
    script = prof.script or ""
    ncat = len(CATEGORIES)
    cat_ix = {c: i for i, c in enumerate(CATEGORIES)}

    def node(name, file="", line=0):
        return {"n": name, "f": file, "l": line, "v": 0.0, "s": 0.0, "c": [0.0] * ncat, "k": {}}

    root = node("all")
    tids = {s.tid for s in samples}
    names = thread_names(samples, script) if len(tids) > 1 else {}
    for s, stack in zip(samples, user_stacks(samples, script)):
        parts = sample_parts(s)
        path = [root]
        if names:
            t = root["k"].get(("thread", s.tid))
            if t is None:
                t = root["k"][("thread", s.tid)] = node(names[s.tid])
            path.append(t)
        for fr, _line in stack:
            if fr.file.startswith("<frozen importlib"):
                continue  # the import machinery: show module inside module instead
            parent = path[-1]
            key = (fr.function, fr.file)
            ch = parent["k"].get(key)
            if ch is None:
                ch = parent["k"][key] = node(display_name(fr), fr.file, fr.first_line)
            path.append(ch)
        for cat, w in parts:
            for n in path:
                n["v"] += w
                n["c"][cat_ix[cat]] += w
            path[-1]["s"] += w

    total = root["v"] or 1.0

    def pack(n, depth=0):
        kids = sorted((k for k in n["k"].values() if k["v"] >= MIN_NODE_SHARE * total), key=lambda k: -k["v"])
        return [n["n"], n["f"], n["l"], round(n["v"], 6), round(n["s"], 6), [round(x, 6) for x in n["c"]],
                [pack(k, depth + 1) for k in kids] if depth < 200 else []]

    return pack(root)


def _fmt_s(x):
    if x >= 100:
        return f"{x:.0f} s"
    if x >= 1:
        return f"{x:.2f} s"
    if x >= 0.001:
        return f"{1000 * x:.1f} ms"
    return f"{1e6 * x:.0f} µs"


def _json_for_script(obj):
    # safe inside <script>: no "</script>", no "<!--"
    return json.dumps(obj, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("&", "\\u0026")


def render_html(prof) -> str:
    """The report page as a string."""
    e = html.escape
    d = prof.to_dict()
    script = prof.script or ""
    title = os.path.basename(script) if script else "profile"
    bd = d["breakdown"]

    # -- breakdown bar and legend
    segs, legend = [], []
    for c in CATEGORIES:
        v = bd.get(c, 0.0)
        if v > 0:
            segs.append(f'<div class="seg" style="width:{100 * v:.3f}%;background:{COLORS[c]}" '
                        f'title="{c}: {100 * v:.1f}% of the sampled thread time"></div>')
        dim = "" if v >= 0.0005 else " dim"
        legend.append(f'<li class="{dim.strip()}"><span class="sw" style="background:{COLORS[c]}"></span>'
                      f'<span class="lg-name">{c}</span><span class="lg-pct">{100 * v:.1f}%</span></li>')

    # -- hotspot table
    rows = []
    for i, h in enumerate(prof.hotspots, 1):
        where = f"{os.path.basename(h.file)}:{h.line}"
        status = f'<div class="status">epochpp: {e(h.status)}</div>' if getattr(h, "status", "") else ""
        calls = "" if h.calls is None else f"{h.calls:,}+"
        rows.append(
            f'<tr data-fn="{e(h.function)}" data-file="{e(h.file)}">'
            f'<td class="num">{i}</td>'
            f'<td class="share"><div class="minibar"><div style="width:{min(100.0, 100 * h.share):.2f}%;'
            f'background:{KIND_COLORS.get(h.kind, "#888")}"></div></div>'
            f'<span>{100 * h.share:.1f}%</span></td>'
            f'<td class="num">{e(_fmt_s(h.self_s))}</td>'
            f'<td class="num">{calls}</td>'
            f'<td><span class="badge" style="background:{KIND_COLORS.get(h.kind, "#888")}">{e(h.kind)}</span></td>'
            f'<td><span class="lvl" title="{e(LEVEL_NAMES.get(h.level, ""))}">L{h.level}</span></td>'
            f'<td class="fn"><code>{e(h.function)}</code><div class="loc" title="{e(h.file)}">{e(where)}</div></td>'
            f'<td class="ev">{e(h.evidence)}{status}</td></tr>')
    if rows:
        table = ('<table id="hotspots"><thead><tr><th>#</th><th>share</th><th>self</th><th>calls</th>'
                 '<th>kind</th><th>level</th><th>function</th><th>evidence</th></tr></thead><tbody>'
                 + "".join(rows) + "</tbody></table>")
    else:
        table = ('<table id="hotspots"><tbody><tr><td class="empty">No hotspots: the run was shorter than '
                 'the sampling interval.</td></tr></tbody></table>')

    helps = []
    for lvl in sorted({h.level for h in prof.hotspots}):
        fns = ", ".join(f"<code>{e(h.function)}</code>" for h in prof.hotspots if h.level == lvl)
        helps.append(f"<li><b>{e(LEVEL_NAMES.get(lvl, f'Level {lvl}'))}</b> — {fns}</li>")

    legend_cats = "".join(f'<span><span class="sw" style="background:{COLORS[c]}"></span>{c}</span>'
                          for c in CATEGORIES)
    meta = [("wall", _fmt_s(prof.wall_s)), ("CPU", _fmt_s(prof.cpu_s)), ("samples", f"{prof.sample_count:,}"),
            ("every", f"{prof.interval_ms:g} ms"), ("level", str(prof.level))]
    meta_html = "".join(f'<div class="stat"><div class="k">{k}</div><div class="v">{e(v)}</div></div>'
                        for k, v in meta)
    data = {"tree": flame_tree(prof), "cats": list(CATEGORIES), "colors": COLORS}
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    fields = {"TITLE": e(title), "SCRIPT": e(script or "(in-process profile)"), "WHEN": e(when), "META": meta_html,
              "SEGS": "".join(segs), "LEGEND": "".join(legend), "TABLE": table, "HELPS": "".join(helps),
              "CATLEGEND": legend_cats, "DATA": _json_for_script(data), "CSS": _CSS, "JS": _JS}
    # one pass, so nothing inserted (a path, a function name) is ever substituted again
    return re.sub(r"%([A-Z]+)%", lambda m: fields.get(m.group(1), m.group(0)), _PAGE)


def write_html(prof, path):
    """Writes the report page to `path` (one file; it loads nothing from the network)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_html(prof))


_CSS = r"""
:root { --fg:#1d232b; --muted:#66707c; --line:#e4e7eb; --bg:#f6f7f9; --card:#fff; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
       color:var(--fg); background:var(--bg); }
header { background:#1d232b; color:#fff; padding:18px 28px 16px; }
header h1 { margin:0; font-size:20px; font-weight:600; letter-spacing:.2px; }
header h1 .brand { color:#e8a93a; }
header .script { color:#aab3be; font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; margin-top:3px;
                 word-break:break-all; }
.stats { display:flex; gap:26px; margin-top:14px; flex-wrap:wrap; }
.stat .k { font-size:11px; text-transform:uppercase; letter-spacing:.6px; color:#8d97a3; }
.stat .v { font-size:18px; font-weight:600; }
main { max-width:1280px; margin:0 auto; padding:20px 28px 40px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px 18px 18px;
          margin-bottom:18px; }
h2 { font-size:15px; margin:0 0 12px; font-weight:600; color:var(--fg); }
h2 .hint { font-weight:400; color:var(--muted); font-size:12px; margin-left:8px; }
.bar { display:flex; height:26px; border-radius:5px; overflow:hidden; background:#eceef1; }
.bar .seg { height:100%; }
.bar .seg + .seg { border-left:1px solid rgba(255,255,255,.6); }
ul.legend { list-style:none; padding:0; margin:12px 0 0; display:flex; flex-wrap:wrap; gap:6px 22px; }
ul.legend li { display:flex; align-items:center; gap:5px; }
ul.legend li.dim { opacity:.4; }
.sw { display:inline-block; width:11px; height:11px; border-radius:3px; margin-right:2px; vertical-align:-1px; }
.lg-pct { font-variant-numeric:tabular-nums; font-weight:600; }
table { border-collapse:collapse; width:100%; }
th { text-align:left; font-size:11px; text-transform:uppercase; letter-spacing:.5px; color:var(--muted);
     font-weight:600; border-bottom:1px solid var(--line); padding:6px 8px; }
td { border-bottom:1px solid var(--line); padding:8px; vertical-align:top; }
tbody tr { cursor:pointer; }
tbody tr:hover, tbody tr.sel { background:#fbf6ea; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.share { white-space:nowrap; font-variant-numeric:tabular-nums; font-weight:600; }
.minibar { display:inline-block; width:56px; height:7px; background:#eceef1; border-radius:4px; margin-right:7px;
           vertical-align:1px; overflow:hidden; }
.minibar div { height:100%; background:#e8a93a; }
.badge { display:inline-block; color:#fff; font-size:11px; font-weight:600; padding:2px 8px; border-radius:10px;
         letter-spacing:.3px; }
.lvl { display:inline-block; font:600 11px ui-monospace,Menlo,Consolas,monospace; border:1px solid #c9ced5;
       border-radius:4px; padding:1px 5px; color:#3b434d; }
td.fn code { font:600 13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
.loc { color:var(--muted); font:12px ui-monospace,Menlo,Consolas,monospace; }
td.ev { color:#3b434d; max-width:560px; }
.status { color:#3f9e4d; margin-top:3px; }
td.empty { color:var(--muted); }
ul.helps { margin:12px 0 0; padding-left:18px; color:#3b434d; }
#flame { position:relative; overflow:hidden; user-select:none; font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
#flame .fr { position:absolute; height:19px; border-right:1px solid #fff; border-bottom:1px solid #fff;
             overflow:hidden; white-space:nowrap; text-overflow:ellipsis; padding:2px 4px; color:#1d232b;
             cursor:pointer; border-radius:2px; }
#flame .fr:hover { filter:brightness(1.08); outline:1px solid #1d232b; z-index:2; }
#flame .fr.faded { opacity:.35; }
#flame .fr.hl { outline:2px solid #d6336c; z-index:3; }
.flame-bar { display:flex; justify-content:space-between; align-items:center; margin-bottom:8px; gap:12px;
             flex-wrap:wrap; color:var(--muted); font-size:12px; }
.flame-bar .cats span { margin-right:12px; white-space:nowrap; }
button { font:inherit; font-size:12px; border:1px solid #c9ced5; background:#fff; border-radius:5px; padding:3px 10px;
         cursor:pointer; }
#tip { position:fixed; pointer-events:none; background:#1d232b; color:#fff; padding:8px 10px; border-radius:6px;
       font-size:12px; max-width:460px; display:none; z-index:10; box-shadow:0 4px 14px rgba(0,0,0,.25); }
#tip .t { font:600 12px ui-monospace,Menlo,Consolas,monospace; word-break:break-all; }
#tip .f { color:#aab3be; word-break:break-all; }
#tip .cb { display:flex; height:6px; margin:6px 0 4px; border-radius:3px; overflow:hidden; background:#444; }
.empty-flame { color:var(--muted); padding:14px 0; }
footer { color:var(--muted); font-size:12px; text-align:center; padding-bottom:24px; }
"""

_JS = r"""
(function () {
  var D = JSON.parse(document.getElementById('epochpp-data').textContent);
  var root = D.tree, cats = D.cats, colors = D.colors;
  var box = document.getElementById('flame'), tip = document.getElementById('tip');
  var ROW = 20, zoom = [root], highlight = null;
  // node: [name, file, line, total, self, catSeconds[], children[]]
  function fmt(s) {
    if (s >= 1) return s.toFixed(2) + ' s';
    if (s >= 0.001) return (s * 1000).toFixed(1) + ' ms';
    return Math.round(s * 1e6) + ' \u00b5s';
  }
  function pct(x) { return (100 * x).toFixed(1) + '%'; }
  function dominant(n) {
    var best = 0;
    for (var i = 1; i < n[5].length; i++) if (n[5][i] > n[5][best]) best = i;
    return best;
  }
  function hash(s) { var h = 0; for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0; return h; }
  function shade(hex, name) {
    // a small lightness jitter per function, so neighbours stay distinguishable
    var k = ((hash(name) % 7) + 7) % 7 / 6 * 0.32 - 0.02;
    var r = parseInt(hex.substr(1, 2), 16), g = parseInt(hex.substr(3, 2), 16), b = parseInt(hex.substr(5, 2), 16);
    r = Math.round(r + (255 - r) * k); g = Math.round(g + (255 - g) * k); b = Math.round(b + (255 - b) * k);
    return 'rgb(' + r + ',' + g + ',' + b + ')';
  }
  function depthOf(n, d) { var m = d; for (var i = 0; i < n[6].length; i++) m = Math.max(m, depthOf(n[6][i], d + 1)); return m; }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; }); }
  function matches(n) {
    if (!highlight || n[1] !== highlight[1]) return false;
    return n[0] === highlight[0] || (n[0].lastIndexOf('<module', 0) === 0 && highlight[0].lastIndexOf('<module', 0) === 0);
  }
  function draw() {
    box.innerHTML = '';
    if (!root[3]) { box.innerHTML = '<div class="empty-flame">No samples: nothing to draw.</div>'; box.style.height = 'auto'; return; }
    var W = box.clientWidth || 1000, top = zoom[zoom.length - 1];
    var frag = document.createDocumentFragment(), rows = 0;
    function add(n, x, w, d, faded) {
      if (w < 0.8) return;
      var el = document.createElement('div');
      el.className = 'fr' + (faded ? ' faded' : '') + (matches(n) ? ' hl' : '');
      el.style.left = x + 'px'; el.style.width = Math.max(w, 1) + 'px'; el.style.top = (d * ROW) + 'px';
      el.style.background = shade(colors[cats[dominant(n)]], n[0] + n[1]);
      if (w > 28) el.textContent = n[0];
      el._node = n;
      frag.appendChild(el);
      rows = Math.max(rows, d + 1);
      return el;
    }
    // the zoom path, full width
    for (var i = 0; i < zoom.length - 1; i++) add(zoom[i], 0, W, i, true);
    (function walk(n, x, d) {
      var w = n[3] / top[3] * W;
      if (!add(n, x, w, d, false)) return;
      var cx = x;
      for (var j = 0; j < n[6].length; j++) { var c = n[6][j]; walk(c, cx, d + 1); cx += c[3] / top[3] * W; }
    })(top, 0, zoom.length - 1);
    box.appendChild(frag);
    box.style.height = (rows * ROW + 2) + 'px';
    document.getElementById('unzoom').style.visibility = zoom.length > 1 ? 'visible' : 'hidden';
  }
  function pathTo(target, n, acc) {
    acc.push(n);
    if (n === target) return true;
    for (var i = 0; i < n[6].length; i++) if (pathTo(target, n[6][i], acc)) return true;
    acc.pop();
    return false;
  }
  box.addEventListener('mousemove', function (ev) {
    var n = ev.target._node;
    if (!n) { tip.style.display = 'none'; return; }
    var total = root[3] || 1, cb = '', parts = [];
    for (var i = 0; i < cats.length; i++) if (n[5][i] > 0) {
      cb += '<div style="width:' + (100 * n[5][i] / n[3]) + '%;background:' + colors[cats[i]] + '"></div>';
      parts.push(cats[i] + ' ' + pct(n[5][i] / n[3]));
    }
    tip.innerHTML = '<div class="t">' + esc(n[0]) + '</div>' +
      (n[1] ? '<div class="f">' + esc(n[1]) + (n[2] ? ':' + n[2] : '') + '</div>' : '') +
      '<div>' + fmt(n[3]) + ' total (' + pct(n[3] / total) + '), ' + fmt(n[4]) + ' self</div>' +
      '<div class="cb">' + cb + '</div><div>' + esc(parts.join(' \u00b7 ')) + '</div>';
    tip.style.display = 'block';
    var x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth - 8) x = ev.clientX - tip.offsetWidth - 14;
    if (y + tip.offsetHeight > window.innerHeight - 8) y = ev.clientY - tip.offsetHeight - 14;
    tip.style.left = x + 'px'; tip.style.top = y + 'px';
  });
  box.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  box.addEventListener('click', function (ev) {
    var n = ev.target._node;
    if (!n) return;
    var p = [];
    if (pathTo(n, root, p)) { zoom = p; draw(); }
  });
  document.getElementById('unzoom').addEventListener('click', function () { zoom = [root]; draw(); });
  var rows = document.querySelectorAll('#hotspots tbody tr[data-fn]');
  for (var r = 0; r < rows.length; r++) rows[r].addEventListener('click', function () {
    var fn = this.getAttribute('data-fn'), file = this.getAttribute('data-file');
    var same = highlight && highlight[0] === fn && highlight[1] === file;
    for (var q = 0; q < rows.length; q++) rows[q].classList.remove('sel');
    highlight = same ? null : [fn, file];
    if (!same) this.classList.add('sel');
    draw();
  });
  var t = null;
  window.addEventListener('resize', function () { clearTimeout(t); t = setTimeout(draw, 80); });
  document.getElementById('depth').textContent = root[3] ? (depthOf(root, 1) + ' levels') : '';
  draw();
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>epochpp profile — %TITLE%</title>
<style>%CSS%</style>
</head>
<body>
<header>
  <h1><span class="brand">epochpp</span> profile — %TITLE%</h1>
  <div class="script">%SCRIPT%</div>
  <div class="stats">%META%</div>
</header>
<main>
<section id="breakdown">
  <h2>Where the time goes <span class="hint">share of sampled thread time</span></h2>
  <div class="bar">%SEGS%</div>
  <ul class="legend">%LEGEND%</ul>
</section>
<section>
  <h2>Top hotspots <span class="hint">click a row to find it in the flame graph</span></h2>
  %TABLE%
  <ul class="helps">%HELPS%</ul>
</section>
<section>
  <div class="flame-bar">
    <h2 style="margin:0">Flame graph <span class="hint">outermost call on top; width = time; colour = what it was
    mostly doing; click to zoom</span></h2>
    <div><span id="depth"></span> <button id="unzoom" style="visibility:hidden">reset zoom</button></div>
  </div>
  <div class="flame-bar"><div class="cats">%CATLEGEND%</div></div>
  <div id="flame"></div>
</section>
</main>
<footer>generated by epochpp on %WHEN%</footer>
<div id="tip"></div>
<script type="application/json" id="epochpp-data">%DATA%</script>
<script>%JS%</script>
</body>
</html>
"""
