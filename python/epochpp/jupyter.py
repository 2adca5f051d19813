"""Jupyter / IPython integration: ``%load_ext epochpp``, ``%epochpp_level N``, ``%%epochpp_profile``."""
from __future__ import annotations

import io


def load_ipython_extension(ip):
    from IPython.core.magic import register_cell_magic, register_line_magic  # noqa: F401

    def epochpp_level(line):
        """%epochpp_level N — accelerate the notebook's functions at level N (0 turns it off)."""
        from . import accelerate
        text = line.strip()
        if not text:
            print(f"epochpp level: {accelerate.level()}")
            return
        lvl = int(text)
        if lvl == 0:
            accelerate.disable()
        else:
            accelerate.enable(lvl, _namespace=ip.user_ns)
            _hook_new_definitions(ip)
        print(f"epochpp level {accelerate.level()}")

    def epochpp_profile(line, cell):
        """%%epochpp_profile [interval_ms] — run the cell under the profiler and show the report."""
        from .profiling import Profile
        interval = float(line.strip()) if line.strip() else 2.0
        prof = Profile(interval_ms=interval, script="<cell>")
        with prof:
            ip.run_cell(cell)
        _show(ip, prof)
        return None

    ip.register_magic_function(epochpp_level, "line", "epochpp_level")
    ip.register_magic_function(epochpp_profile, "cell", "epochpp_profile")


def _hook_new_definitions(ip):
    """Functions defined in later cells are accelerated too (after each cell runs)."""
    from . import accelerate

    if getattr(ip, "_epochpp_hooked", False):
        return

    def post_run_cell(result=None):
        if accelerate.level() >= 2:
            accelerate.accelerate_namespace(ip.user_ns, "__main__")

    ip.events.register("post_run_cell", post_run_cell)
    ip._epochpp_hooked = True


def _show(ip, prof):
    """A notebook gets the HTML report; a terminal IPython the text one."""
    buf = io.StringIO()
    prof.report(file=buf, color=False)
    if getattr(ip, "kernel", None) is None:
        print(buf.getvalue())
        return
    try:
        from IPython.display import HTML, display
        try:
            from .profiling.html import render_html
            display(HTML(render_html(prof)))
            return
        except ImportError:
            pass
        display(HTML("<pre>" + buf.getvalue().replace("&", "&amp;").replace("<", "&lt;") + "</pre>"))
    except ImportError:
        print(buf.getvalue())
