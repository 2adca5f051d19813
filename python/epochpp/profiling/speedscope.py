"""Speedscope export: a profile as speedscope's "sampled" file format (one profile per thread).

The file follows https://www.speedscope.app/file-format-schema.json: `shared.frames` holds one
frame per function (name, file, first line); each thread is a profile whose `samples` are stacks
of frame indices, outermost first, and whose `weights` are the wall seconds each sample stands
for. Time that was not spent running Python (native code, I/O, locks, compiled code) appears as a
leaf pseudo-frame such as ``[native]``, ``[io]`` or ``[lock]`` under the function that was waiting, so it
shows in speedscope's views; pass ``categories=False`` to leave those frames out.
"""
from __future__ import annotations

import json
import os
import sysconfig
import threading

from .attribution import _FOLD

SCHEMA_URL = "https://www.speedscope.app/file-format-schema.json"


def user_stack(sample, script=""):
    """The sample's stack outermost-first, without the frames outside the profiled script.

    When a script was run (``epochpp run``), the frames around its outermost frame (runpy, the
    CLI, a test runner) are dropped, so stacks start at the script's ``<module>`` or, in a thread
    it started, at its thread function. Otherwise the stack is kept whole."""
    stack = list(reversed(sample.stack))
    if script:
        for i, (fr, _) in enumerate(stack):
            if fr.file == script:
                return stack[i:]
    return stack


def _library_dirs():
    dirs = {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(d + os.sep for d in dirs if d)


def is_library(file, _dirs=[]):
    """Whether a file is Python's or an installed package's (not the user's own code)."""
    if not _dirs:
        _dirs.append(_library_dirs())
    return file.startswith("<frozen") or file.startswith(_dirs[0])


def user_stacks(samples, script=""):
    """[user_stack(s)] for all samples. Without a script (``with epochpp.profile():``), the outer
    library frames that every sample of a thread shares (a test runner, IPython, runpy around the
    user's code) are dropped too."""
    stacks = [user_stack(s, script) for s in samples]
    if script:
        return stacks
    common: dict = {}  # tid -> how many outer library frames all its stacks share
    first: dict = {}
    for s, st in zip(samples, stacks):
        if s.tid not in first:
            first[s.tid] = st
            common[s.tid] = next((i for i, (fr, _) in enumerate(st) if not is_library(fr.file)), len(st))
            continue
        ref, n = first[s.tid], min(common[s.tid], len(st))
        i = 0
        while i < n and ref[i][0].key == st[i][0].key:
            i += 1
        common[s.tid] = i
    return [st[common[s.tid]:] if common[s.tid] < len(st) else st for s, st in zip(samples, stacks)]


def display_name(frame):
    """A function's name as shown to users: ``<module>`` frames get their file name."""
    if frame.function == "<module>":
        return f"<module {os.path.basename(frame.file)}>"
    return frame.function


def sample_parts(sample, fold=True):
    """[(category, seconds)] for one sample: Python samples carrying ``native_gil`` are split as
    the attribution does; with `fold`, locks count as "other" as in the breakdown."""
    parts = [(sample.category, sample.wall)]
    if sample.native_gil > 0 and sample.category == "python":
        parts = [("python", max(0.0, sample.wall - sample.native_gil)),
                 ("native", min(sample.wall, sample.native_gil))]
    return [(_FOLD.get(c, c) if fold else c, w) for c, w in parts if w > 0]


def thread_names(samples, script=""):
    """tid -> a readable name: "main thread" or "thread <tid> (<outermost user function>)"."""
    main_tid = threading.main_thread().native_id
    time_by_root: dict = {}  # tid -> {root frame key: seconds}
    frames = {}
    for s, st in zip(samples, user_stacks(samples, script)):
        seen = time_by_root.setdefault(s.tid, {})
        if st:
            fr = st[0][0]
            frames[fr.key] = fr
            seen[fr.key] = seen.get(fr.key, 0.0) + s.wall
    names = {}
    for tid, seen in time_by_root.items():
        if tid == main_tid:
            names[tid] = f"main thread ({tid})"
        elif seen:  # named after the outermost function it spent most time in: its target, usually
            names[tid] = f"thread {tid} ({display_name(frames[max(seen, key=seen.get)])})"
        else:
            names[tid] = f"thread {tid}"
    return names


def to_speedscope(prof, categories=True) -> dict:
    """The speedscope document for a Profile, as a dict ready for json.dump."""
    samples = prof.attribution.samples
    script = prof.script or ""
    frames, index = [], {}

    def frame_index(key, info):
        i = index.get(key)
        if i is None:
            i = index[key] = len(frames)
            frames.append(info)
        return i

    by_thread: dict = {}
    for s, st in sorted(zip(samples, user_stacks(samples, script)), key=lambda x: x[0].t):
        by_thread.setdefault(s.tid, []).append((s, st))
    names = thread_names(samples, script)
    main_tid = threading.main_thread().native_id
    order = sorted(by_thread, key=lambda tid: (tid != main_tid, tid))

    profiles = []
    for tid in order:
        stacks, weights = [], []
        for s, st in by_thread[tid]:
            base = []
            for fr, _line in st:
                info = {"name": display_name(fr), "file": fr.file, "line": fr.first_line}
                base.append(frame_index(("f", fr.file, fr.function, fr.first_line), info))
            if not base:
                base = [frame_index(("p", "(no Python frame)"), {"name": "(no Python frame)"})]
            for cat, w in sample_parts(s, fold=False):
                stack = base
                if categories and cat != "python":
                    stack = base + [frame_index(("c", cat), {"name": f"[{cat}]"})]
                if stacks and stacks[-1] == stack:  # the same stack again: one longer sample
                    weights[-1] += w
                else:
                    stacks.append(stack)
                    weights.append(w)
        end = sum(weights)
        profiles.append({"type": "sampled", "name": names.get(tid, f"thread {tid}"), "unit": "seconds",
                         "startValue": 0, "endValue": end, "samples": stacks, "weights": weights})
    if not profiles:  # speedscope wants at least one profile to show
        profiles.append({"type": "sampled", "name": "main thread (no samples)", "unit": "seconds",
                         "startValue": 0, "endValue": 0, "samples": [], "weights": []})
    from .. import __version__
    title = os.path.basename(script) if script else "profile"
    return {"$schema": SCHEMA_URL, "shared": {"frames": frames}, "profiles": profiles,
            "name": f"epochpp — {title}", "activeProfileIndex": 0, "exporter": f"epochpp@{__version__}"}


def write_speedscope(prof, path, categories=True):
    """Writes the profile as a speedscope file (open it at speedscope.app or with `speedscope`)."""
    with open(path, "w") as f:
        json.dump(to_speedscope(prof, categories=categories), f, separators=(",", ":"))
