"""Attribution: raw samples -> time per function and per line, by category, and the breakdown.

A sample says: thread T, for `wall` seconds, was doing `category` (python, native, compiled,
parallel, gpu, io, lock, other) with this Python stack. Python samples may carry `native_gil`,
the part of their wall time that native code spent holding the GIL; it is moved to `native`.
"""
from __future__ import annotations

import os
import sysconfig
from collections import defaultdict
from dataclasses import dataclass, field

CATEGORIES = ("python", "native", "compiled", "parallel", "gpu", "io", "other")

_LIB_DIRS = tuple(os.path.abspath(p) + os.sep for p in
                  {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")} if p)


def is_library(file: str) -> bool:
    """Standard library, site-packages or frozen modules: time there is charged to the user's caller."""
    return file.startswith("<frozen") or os.path.abspath(file).startswith(_LIB_DIRS)
_FOLD = {"lock": "other"}  # the breakdown keeps seven categories; locks count as "other"


@dataclass
class Frame:
    file: str
    function: str
    first_line: int

    @property
    def key(self):
        return (self.file, self.function, self.first_line)


@dataclass
class Sample:
    t: float
    wall: float
    cpu: float
    tid: int
    category: str
    syscall: int
    stack: list  # [(Frame, line)], innermost first
    arrays: tuple  # ((name, size), ...) of the top frame, when native
    native_gil: float = 0.0
    frame_ids: tuple = ()  # identities of the frame objects (a new id: a new call)


@dataclass
class FunctionStats:
    frame: Frame
    self_by_cat: dict = field(default_factory=lambda: defaultdict(float))
    total: float = 0.0
    lines: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))  # line -> cat -> s
    callers: dict = field(default_factory=lambda: defaultdict(float))  # (caller Frame key, line) -> s
    arrays: dict = field(default_factory=dict)  # line -> {name: max size seen}
    syscalls: dict = field(default_factory=lambda: defaultdict(float))
    calls_seen: int = 0  # distinct invocations seen by the sampler (a lower bound on calls)
    _last_fid: dict = field(default_factory=dict)  # per thread
    library_calls: dict = field(default_factory=lambda: defaultdict(float))  # line -> {library function: s}

    @property
    def self_s(self):
        return sum(self.self_by_cat.values())


def decode(raw_samples, codes):
    """The sampler's tuples -> Sample objects (internal frames of epochpp itself are dropped)."""
    frames = [Frame(f, n, l) for (f, n, l) in codes]
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = []
    for (t, wall, cpu, ngil, tid, cat, sc, stack, arrays) in raw_samples:
        kept = [(frames[c], line, fid) for (c, line, fid) in stack if not frames[c].file.startswith(here)]
        out.append(Sample(t, wall, cpu, tid, cat, sc, [(f, line) for f, line, _ in kept], arrays, ngil,
                          tuple(fid for _, _, fid in kept)))
    return out


class Attribution:
    """Aggregates samples. `functions` maps a frame key to FunctionStats (self time = the
    function was the innermost Python frame); `breakdown` is the share of sampled thread time."""

    def __init__(self, samples, main_tid=None):
        self.samples = samples
        self.functions: dict = {}
        self.by_cat = defaultdict(float)       # the main thread: the breakdown (shares of wall time)
        self.all_by_cat = defaultdict(float)   # every thread
        self.main_time = 0.0    # seconds sampled on the main thread
        self.main_tid = main_tid
        for s in samples:
            self._add(s)

    def _fn(self, frame):
        fs = self.functions.get(frame.key)
        if fs is None:
            fs = self.functions[frame.key] = FunctionStats(frame)
        return fs

    def _add(self, s):
        parts = [(s.category, s.wall)]
        if s.native_gil > 0 and s.category == "python":
            parts = [("python", max(0.0, s.wall - s.native_gil)), ("native", min(s.wall, s.native_gil))]
        # library frames (numpy's Python wrappers, the stdlib) are charged to the user's caller
        stack = s.stack
        lib = None
        k = 0
        while k < len(stack) - 1 and is_library(stack[k][0].file):
            k += 1
        if k and not is_library(stack[k][0].file):
            lib = stack[k - 1][0].function
            stack = stack[k:]
        # a thread made by the library that waits with none of the user's code on its stack
        # (concurrent.futures' manager thread, multiprocessing's queue feeder, parallel_map's
        # pool) is idle machinery: its waiting is "other", not the program's I/O
        idle_machinery = (s.tid != self.main_tid and stack and k == len(stack) - 1 and is_library(stack[k][0].file)
                          and s.category in ("io", "lock"))
        for cat, w in parts:
            cat = "other" if idle_machinery else _FOLD.get(cat, cat)
            self.all_by_cat[cat] += w
            if self.main_tid is None or s.tid == self.main_tid:
                self.by_cat[cat] += w
                self.main_time += w
            if not stack:
                continue
            top, line = stack[0]
            if top.function == "<module>":
                # module-level code has no functions to group by: each line is its own hotspot
                top = Frame(top.file, "<module>", line)
            fs = self._fn(top)
            fid = s.frame_ids[k] if len(s.frame_ids) > k else 0
            if fid != fs._last_fid.get(s.tid):
                fs.calls_seen += 1
                fs._last_fid[s.tid] = fid
            if lib:
                fs.library_calls[line] += w
            fs.self_by_cat[cat] += w
            fs.lines[line][cat] += w
            if cat == "io" and s.syscall >= 0:
                fs.syscalls[s.syscall] += w
            if s.arrays and cat == "native":
                seen = fs.arrays.setdefault(line, {})
                for name, size in s.arrays:
                    seen[name] = max(seen.get(name, 0), size)
            if len(stack) > 1:
                caller, cline = stack[1]
                fs.callers[(caller.key, cline)] += w
            for fr, _ in {id(f): (f, l) for f, l in stack}.values():
                self._fn(fr).total += w

    @property
    def thread_time(self):
        """Seconds sampled over every thread (hotspot shares are of this)."""
        return sum(self.all_by_cat.values())

    def breakdown(self):
        """Shares of the main thread's wall time (what the program waits for) by category;
        other threads' time shows in the hotspots and the flame graph."""
        total = self.main_time or 1.0
        shares = {c: self.by_cat.get(c, 0.0) / total for c in CATEGORIES}
        if self.main_time == 0:
            shares["other"] = 1.0
        # make them sum to exactly 1 despite rounding
        s = sum(shares.values())
        if s:
            shares = {c: v / s for c, v in shares.items()}
        return shares
