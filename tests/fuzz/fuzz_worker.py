#!/usr/bin/env python3
"""The worker side of the differential fuzzer (run_fuzz.py starts it as `run_fuzz.py --worker`).

A worker imports epochpp, runs programs under CPython and under epochpp.jit at each level,
and answers one JSON line per request read from stdin: {"op": "program", "pseed": P} runs
gen.py's program P, {"op": "check", "source": ..., "args": [...]} runs given source (the
minimiser's candidates). The driver (run_fuzz.py) never imports epochpp.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import sys
import tempfile
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import gen  # noqa: E402


def use_source_tree():
    """Put the repository's python/ first only when it holds a built extension (a developer's
    tree); otherwise the installed epochpp is used (a clean clone after `pip install .`)."""
    d = os.path.join(REPO, "python", "epochpp")
    if os.path.isdir(d) and any(n.startswith("_core.") and n.endswith(".so") for n in os.listdir(d)):
        sys.path.insert(0, os.path.join(REPO, "python"))


class WorkerState:
    def __init__(self):
        use_source_tree()
        sys.path.insert(0, os.path.join(REPO, "tests", "python"))
        import numpy as np  # noqa: PLC0415

        import diffharness  # noqa: PLC0415
        import epochpp  # noqa: PLC0415

        self.np = np
        self.epochpp = epochpp
        self.dh = diffharness
        self.tmp = tempfile.mkdtemp(prefix="epochpp_fuzz_")
        self.n = 0
        import atexit  # noqa: PLC0415
        import shutil  # noqa: PLC0415

        atexit.register(shutil.rmtree, self.tmp, True)

    def load(self, source):
        self.n += 1
        name = f"fz_{os.getpid()}_{self.n}"
        path = os.path.join(self.tmp, name + ".py")
        with open(path, "w") as fh:
            fh.write(source)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return name, path, mod

    def unload(self, name, path):
        sys.modules.pop(name, None)
        with contextlib.suppress(OSError):
            os.unlink(path)

    @staticmethod
    def call(fn, args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                try:
                    return True, fn(*args)
                except Exception as exc:  # noqa: BLE001 - compared by the caller
                    return False, exc

    @staticmethod
    def describe(ok, val):
        if not ok:
            return f"raise {type(val).__name__}: {val}"
        text = repr(val)
        if len(text) > 300:
            text = text[:300] + "..."
        return f"return {type(val).__name__} {text}"

    def compare(self, py, jit, py_args, jit_args, rtol=None, atol=None):
        """(kind, detail) of the first difference, or None; plus a message-only note."""
        (pok, pval), (jok, jval) = py, jit
        if pok and not jok:
            return ("exception-vs-value", f"CPython returned, epochpp raised "
                    f"{type(jval).__name__}: {jval}"), None
        if not pok and jok:
            return ("value-vs-exception", f"CPython raised {type(pval).__name__}: {pval}, "
                    f"epochpp returned {jval!r}"), None
        note = None
        if not pok:
            if type(pval) is not type(jval):
                return ("exception-type", f"{type(pval).__name__}: {pval} vs "
                        f"{type(jval).__name__}: {jval}"), None
            if str(pval) != str(jval):
                note = f"{type(pval).__name__}: {str(pval)!r} vs {str(jval)!r}"
        else:
            d = self.dh.diff(pval, jval, rtol=rtol, atol=atol)
            if d:
                return ("type" if re.search(r": type \S+ != ", d) else "value", d), None
            if self.dh._alias_pattern(pval, py_args) != self.dh._alias_pattern(jval, jit_args):
                return ("aliasing", "returned arrays alias the arguments differently"), None
        d = self.dh.diff(py_args, jit_args, rtol=rtol, atol=atol, path="args")
        if d:
            return ("arguments", d), note
        return None, note

    def run_source(self, source, arg_sets, levels=(2,)):
        """Run every argument set under CPython, then under epochpp.jit at each level (one
        dispatcher per level, fresh arguments for every call)."""
        res = {"calls": [], "explain": {}, "error": None}
        name = path = None
        try:
            name, path, mod = self.load(source)
            fn = getattr(mod, gen.Program.FUNC)
            disps = {lv: self.epochpp.jit(fn, level=lv) for lv in levels}
            for src in arg_sets:
                py_args = gen.build_args(src)
                py = self.call(fn, py_args)
                for lv, disp in disps.items():
                    res["calls"].append(self.run_jit(disp, lv, src, py, py_args))
            for lv, disp in disps.items():
                try:
                    res["explain"][str(lv)] = self.epochpp.explain(disp)
                except Exception as err:  # noqa: BLE001
                    res["explain"][str(lv)] = f"<explain failed: {type(err).__name__}: {err}>"
        except Exception as err:  # noqa: BLE001 - a harness problem, reported as such
            import traceback  # noqa: PLC0415

            res["error"] = f"{type(err).__name__}: {err}\n{traceback.format_exc()[-2000:]}"
        finally:
            if name:
                self.unload(name, path)
        return res

    def run_jit(self, disp, level, src, py, py_args):
        jit_args = gen.build_args(src)
        call = {"args": src, "level": level}
        before = dict(disp.stats)
        jit = self.call(disp, jit_args)
        after = dict(disp.stats)
        grew = {k: after[k] - before[k] for k in after}
        call["status"] = ("deopt" if grew.get("deopts") else
                          "native" if grew.get("native_calls") else
                          "fallback" if grew.get("interpreted_calls") else "none")
        call["py"] = self.describe(*py)
        call["jit"] = self.describe(*jit)
        call["py_exc"] = None if py[0] else type(py[1]).__name__
        mismatch, note = self.compare(py, jit, py_args, jit_args)
        call["reassoc"] = None
        if mismatch and level >= 3 and mismatch[0] in ("value", "arguments") and \
                "run on all cores" in disp.explain():
            # the one documented exception at Level 3: parallel float reductions are
            # reassociated and may differ in the last bits (absolutely, after cancellation)
            close = self.compare(py, jit, py_args, jit_args, rtol=1e-9, atol=1e-6)[0]
            if close is None:
                call["reassoc"] = mismatch[1]
                mismatch = None
        call["mismatch"] = list(mismatch) if mismatch else None
        call["msg_diff"] = note
        return call


def worker_main():
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed by programs or the library goes to stderr
    try:
        state = WorkerState()
        state.epochpp._native()  # load the extension now: a broken build is not a mismatch
        if os.environ.get("EPOCHPP_FUZZ_WARMUP"):
            # --warmup: one compiled call with an array argument first. It hides bug H of
            # README.md (a fresh process whose first signature takes only floats/bools and
            # returns a NumPy scalar crashes), which the short CI round must not trip on.
            state.run_source("import numpy as np\n\n\ndef f(a):\n    return a[0]\n",
                             ["(np.ones(1),)"], (2, 3))
    except BaseException as err:  # noqa: BLE001
        proto.write(json.dumps({"fatal": f"{type(err).__name__}: {err}"}) + "\n")
        return
    proto.write(json.dumps({"ready": True, "core": core_path(), "tmp": state.tmp}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "program":
            opts = gen.Options.parse(req.get("gen_opts", ""))
            prog = gen.generate(req["pseed"], opts)
            res = state.run_source(prog.source, prog.arg_sets, req.get("levels", (2,)))
            res["features"] = sorted(prog.features)
        elif req["op"] == "check":
            res = state.run_source(req["source"], req["args"], req.get("levels", (2,)))
        else:
            res = {"error": f"unknown op {req['op']}"}
        proto.write(json.dumps(res) + "\n")


def core_path():
    """The compiled extension the workers load (resolved through the symlink)."""
    dirs = [os.path.join(REPO, "python", "epochpp")]
    try:
        import importlib.util  # noqa: PLC0415
        spec = importlib.util.find_spec("epochpp")
        if spec and spec.origin:
            dirs.append(os.path.dirname(spec.origin))
    except (ImportError, ValueError):
        pass
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.startswith("_core.") and name.endswith(".so"):
                return os.path.realpath(os.path.join(d, name))
    return None
