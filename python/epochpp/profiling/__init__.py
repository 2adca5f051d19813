"""The epochpp profiler: a C++ sampler (profiler/) plus attribution, classification and reports.

    with epochpp.profile() as p:
        work()
    p.report(); p.to_json("p.json"); p.to_html("p.html"); p.breakdown; p.hotspots
"""
from __future__ import annotations

import json
import os
import resource
import runpy
import sys
import time

from .attribution import Attribution, decode
from .classify import classify
from . import report as _report

DEFAULT_INTERVAL_MS = 10.0


class Profile:
    """A profiling session. Use as a context manager, or start()/stop()."""

    def __init__(self, interval_ms: float = DEFAULT_INTERVAL_MS, script: str = "", level: int = 0,
                 watch_ms: float = 5.0):
        self.interval_ms = float(interval_ms)
        self.watch_ms = float(watch_ms)
        self.script = script
        self.level = level
        self.wall_s = 0.0
        self.cpu_s = 0.0
        self._sampler = None
        self._samples = []
        self._codes = []
        self._attr = None
        self._hotspots = None
        self._old_switch = None

    # -- running
    def start(self):
        from .. import _native
        core = _native()
        self._old_switch = sys.getswitchinterval()
        # a short switch interval lets the sampler take the GIL promptly from Python code
        if self.watch_ms > 0.5:  # (a light background monitor leaves the interpreter alone)
            sys.setswitchinterval(min(self._old_switch, self.interval_ms / 4000.0))
        import threading
        self._main_tid = threading.get_native_id()
        self._t0 = time.perf_counter()
        self._c0 = _cpu()
        self._gpu0 = core.gpu_stats()["total"]  # the profile's gpu section is the change over the run
        self._sampler = core.Sampler(self.interval_ms / 1000.0, self.watch_ms / 1000.0)
        self._sampler.start()
        return self

    def stop(self):
        if self._sampler is None:
            return self
        self._sampler.stop()
        self._gpu_add(self._gpu_delta())
        self.wall_s += time.perf_counter() - self._t0
        self.cpu_s += _cpu() - self._c0
        raw, codes = self._sampler.take()
        self._samples.extend(raw)
        self._codes = codes
        self._sampler = None
        if self._old_switch is not None:
            sys.setswitchinterval(self._old_switch)
        self._attr = self._hotspots = None
        return self

    def snapshot(self):
        """Folds in what a running sampler has collected so far (for background profiling)."""
        if self._sampler is not None:
            raw, codes = self._sampler.take()
            self._samples.extend(raw)
            self._codes = codes
            self._gpu_add(self._gpu_delta())
            now = time.perf_counter()
            self.wall_s += now - self._t0
            self._t0 = now
            c = _cpu()
            self.cpu_s += c - self._c0
            self._c0 = c
            self._attr = self._hotspots = None
        return self

    # -- Level 4: what the GPU runtime did during the profiled run (gpu_stats totals, as a difference)
    _GPU_KEYS = ("launches", "fallbacks", "kernel_s", "transfer_s", "bytes_up", "bytes_down")

    def _gpu_delta(self):
        from .. import _native
        now = _native().gpu_stats()["total"]
        before, self._gpu0 = getattr(self, "_gpu0", now), now
        d = {k: now[k] - before[k] for k in self._GPU_KEYS}
        if now["fallbacks"] > before["fallbacks"]:
            d["last_reason"] = now["last_reason"]
        return d

    def _gpu_add(self, d):
        g = getattr(self, "_gpu", None) or {k: 0 for k in self._GPU_KEYS}
        for k in self._GPU_KEYS:
            g[k] += d[k]
        if d.get("last_reason"):
            g["last_reason"] = d["last_reason"]
        g.setdefault("last_reason", "")
        self._gpu = g

    @property
    def gpu(self) -> dict:
        """Level 4 during the run: launches, fallbacks (and the last reason), kernel and transfer seconds,
        bytes up and down."""
        g = dict(getattr(self, "_gpu", None) or {k: 0 for k in self._GPU_KEYS})
        g.setdefault("last_reason", "")
        return g

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- results
    @property
    def sample_count(self):
        return len(self._samples)

    @property
    def attribution(self):
        if self._attr is None:
            self._attr = Attribution(decode(self._samples, self._codes), getattr(self, "_main_tid", None))
        return self._attr

    @property
    def breakdown(self) -> dict:
        return self.attribution.breakdown()

    @property
    def hotspots(self) -> list:
        if self._hotspots is None:
            self._hotspots = classify(self.attribution, self.wall_s)
        return self._hotspots

    def to_dict(self) -> dict:
        return _report.to_dict(self)

    def report(self, file=None, color=None):
        _report.render(self, file=file, color=color)

    def to_json(self, path):
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=2)

    def to_html(self, path):
        from .html import write_html
        write_html(self, path)

    def to_speedscope(self, path):
        from .speedscope import write_speedscope
        write_speedscope(self, path)


def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def profile(interval_ms: float = DEFAULT_INTERVAL_MS, **kw) -> Profile:
    """``with epochpp.profile() as p: ...`` then ``p.report()``."""
    return Profile(interval_ms=interval_ms, **kw)


def run_script(path, args=(), interval_ms=DEFAULT_INTERVAL_MS, level=0, before_run=None):
    """Runs a script exactly as ``python path args...`` would (argv, __main__, exit code), profiled.

    Returns (exit_code, Profile). Uncaught exceptions print the user's traceback (exit code 1);
    sys.exit codes are kept. The profile is complete in every case."""
    import traceback

    path = os.path.abspath(path)
    old_argv, old_path0 = sys.argv, sys.path[0] if sys.path else None
    sys.argv = [path, *args]
    sys.path.insert(0, os.path.dirname(path))
    prof = Profile(interval_ms=interval_ms, script=path, level=level)
    code = 0
    try:
        if before_run:
            before_run()
        prof.start()
        try:
            runpy.run_path(path, run_name="__main__")
        finally:
            prof.stop()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            print(e.code, file=sys.stderr)
    except KeyboardInterrupt:
        traceback.print_exc()
        code = 130
    except BaseException:
        # print the user's traceback, without runpy's and epochpp's frames
        etype, value, tb = sys.exc_info()
        while tb is not None and not tb.tb_frame.f_code.co_filename == path:
            tb = tb.tb_next
        traceback.print_exception(etype, value, tb)
        code = 1
    finally:
        sys.argv = old_argv
        if sys.path and sys.path[0] == os.path.dirname(path):
            sys.path.pop(0)
        del old_path0
    return code, prof
