#!/usr/bin/env python3
"""Differential fuzzer driver: random programs (gen.py) under CPython and under epochpp.

    python3 tests/fuzz/run_fuzz.py [--seed S] [--count N | --seconds T] [--long]
                                   [--save-dir DIR] [--jobs J] [--levels 2,3]
                                   [--skip P,P,...] [--gen-opts '-helpers,...']
                                   [--strict-messages] [--warmup] [--json FILE]
                                   [--replay P] [--show P] [--replay-history FILE]

Program i of a run with seed S has the program seed P = S * 1000000 + i; ``--replay P``
runs just that program again and prints everything, ``--show P`` prints its source.

Each program is written to a temporary .py file (epochpp reads source files) and imported
in a *worker* subprocess, which runs every argument set under CPython and under
``epochpp.jit(level=L)`` for each level on fresh copies of the arguments, and compares: the
return value and its
type (floats bit for bit, any NaN equals any NaN, -0.0 is not 0.0; recursively through
tuples; arrays by dtype, shape and bits), aliasing of returned arrays with arguments, the
exception type, and every argument after the call. A worker that dies (a signal in
native code) or hangs is a mismatch too; the driver starts a new one and goes on.

Every mismatch is minimized (statements and sub-expressions deleted, unused parameters
and array elements dropped while the same kind of mismatch remains) and written to
--save-dir as a runnable reproducer; the exit status is then 1 (2: the fuzzer could not
run). See README.md.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import gen  # noqa: E402
from fuzz_worker import core_path, worker_main  # noqa: E402
import minimize_ast  # noqa: E402
from reproducer import save_reproducer  # noqa: E402

PSEED_STRIDE = 1_000_000
MAX_CALL_PROGRAMS = 400          # a worker is replaced after this many programs (memory)


def pseed_of(seed, i):
    return seed * PSEED_STRIDE + i


# ======================================================================================
# Driver side: never imports epochpp; talks to worker subprocesses.
# ======================================================================================
def default_levels():
    """Levels 2 and 3; 4 too where a CUDA driver can be loaded (Level 4 runs on the GPU)."""
    import ctypes  # noqa: PLC0415

    try:
        ctypes.CDLL("libcuda.so.1")
        return [2, 3, 4]
    except OSError:
        return [2, 3]


def core_stamp():
    p = core_path()
    try:
        st = os.stat(p)
        return (p, st.st_mtime_ns, st.st_size)
    except (OSError, TypeError):
        return (p, None, None)


class HarnessError(Exception):
    """The fuzzer itself cannot go on (no extension, extension rebuilt under us, ...)."""


class Worker:
    def __init__(self, log_dir):
        self.log = tempfile.NamedTemporaryFile(prefix="epochpp_fuzz_worker_", suffix=".log",
                                               dir=log_dir, delete=False)
        env = dict(os.environ)
        env.setdefault("PYTHONHASHSEED", "0")
        if WARMUP:
            env["EPOCHPP_FUZZ_WARMUP"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env,
        )
        self.buf = b""
        self.task = None
        self.started = None
        self.done = 0
        self.history = []        # program seeds this worker ran, in order
        self.tmpdir = None       # the worker's directory of program files
        deadline = time.monotonic() + 120
        line = None
        while line is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self], [], [], 1.0)
            if ready:
                line = self.poll_line()
        if not line:
            why = self.death() if line == b"" else "no answer in 120 s"
            self.kill()
            raise HarnessError(f"a fuzz worker did not start: {why}")
        hello = json.loads(line)
        if "fatal" in hello:
            self.close()
            raise HarnessError(f"a fuzz worker cannot load epochpp: {hello['fatal']}")
        self.tmpdir = hello.get("tmp")

    def fileno(self):
        return self.proc.stdout.fileno()

    def send(self, req, task=None):
        self.task = task
        self.started = time.monotonic()
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        self.proc.stdin.flush()

    def poll_line(self):
        """A complete reply if one is buffered or readable now; b'' at EOF; None if not yet."""
        if b"\n" not in self.buf:
            chunk = os.read(self.fileno(), 1 << 20)
            if not chunk:
                return b""
            self.buf += chunk
        if b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            return line
        return None

    def death(self):
        """Why the worker stopped: its exit status and the tail of its stderr."""
        try:
            rc = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        if rc is not None and rc < 0:
            why = f"worker killed by {signal.Signals(-rc).name}"
        else:
            why = f"worker exited with status {rc}"
        self.log.flush()
        try:
            with open(self.log.name, "rb") as fh:
                fh.seek(0, 2)
                fh.seek(max(0, fh.tell() - 1500))
                tail = fh.read().decode("utf-8", "replace").strip()
        except OSError:
            tail = ""
        return why + (f"; stderr tail:\n{tail}" if tail else "")

    def kill(self):
        with contextlib.suppress(Exception):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=5)
        self.close()

    def close(self):
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        with contextlib.suppress(Exception):
            self.log.close()
            os.unlink(self.log.name)
        if self.tmpdir and os.path.basename(self.tmpdir).startswith("epochpp_fuzz_"):
            import shutil  # noqa: PLC0415

            shutil.rmtree(self.tmpdir, ignore_errors=True)


def patient_worker(log_dir, wait_s=900.0):
    """A new worker; if the extension is being rebuilt right now, wait for it to settle."""
    end = time.monotonic() + wait_s
    while True:
        try:
            return Worker(log_dir)
        except HarnessError:
            st = core_stamp()
            if st[1] is None or time.time() - st[1] / 1e9 > 300 or time.monotonic() > end:
                raise
            time.sleep(10)


def request_once(req, timeout, log_dir, worker=None):
    """Send one request to a (new or given) worker and wait: (reply or None, worker, why).
    On a crash or hang the worker is gone and ``worker`` comes back as None."""
    w = worker or patient_worker(log_dir)
    w.send(req)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            w.kill()
            return None, None, f"hang: no answer within {timeout:.0f} s"
        ready, _, _ = select.select([w], [], [], left)
        if ready:
            line = w.poll_line()
            if line == b"":
                why = w.death()
                w.close()
                return None, None, "crash: " + why
            if line is not None:
                return json.loads(line), w, None


# ------------------------------------------------------------------------- results
STRICT_MESSAGES = False  # --strict-messages: a different exception message is a mismatch
WARMUP = False           # --warmup: see worker_main
LEVELS = [2, 3]          # --levels


def first_mismatch(res):
    """(kind, detail, call) of the first mismatching call, or None."""
    if res.get("error"):
        return ("harness-error", res["error"], None)
    for c in res["calls"]:
        if c["mismatch"]:
            return (c["mismatch"][0], c["mismatch"][1], c)
        if STRICT_MESSAGES and c.get("msg_diff"):
            return ("message", c["msg_diff"], c)
    return None


def fallback_reasons(explain):
    out = []
    for line in explain.splitlines():
        m = re.search(r"runs in the interpreter: (?:\S+?:\d+: )?(.*)", line)
        if m:
            text = re.sub(r"'[A-Za-z_]\w*'", "'…'", m.group(1))  # names, not operators
            text = re.sub(r"\b\d+\b", "N", text)
            out.append(text[:140])
    return out


class Tally:
    def __init__(self):
        self.programs = 0
        self.calls = collections.Counter()
        self.level_calls = collections.Counter()   # (level, status)
        self.reassoc = []
        self.reassoc_count = 0
        self.prog_status = collections.Counter()
        self.outcomes = collections.Counter()
        self.reasons = collections.Counter()
        self.reason_example = {}
        self.features = collections.Counter()
        self.msg_diffs = []
        self.mismatches = []   # dicts
        self.skipped = 0
        self.harness_errors = []

    def add(self, pseed, res):
        self.programs += 1
        statuses = set()
        for c in res.get("calls", []):
            self.calls[c["status"]] += 1
            self.level_calls[(c.get("level", 2), c["status"])] += 1
            if c.get("reassoc"):
                self.reassoc_count += 1
                if len(self.reassoc) < 20:
                    self.reassoc.append((pseed, c["level"], c["reassoc"]))
            statuses.add(c["status"])
            if c.get("level", 2) == LEVELS[0]:
                self.outcomes[c["py_exc"] or "return"] += 1
            if c.get("msg_diff") and len(self.msg_diffs) < 200:
                self.msg_diffs.append((pseed, c["msg_diff"]))
        if statuses <= {"native"}:
            self.prog_status["all calls native"] += 1
        elif "fallback" in statuses and not statuses & {"native", "deopt"}:
            self.prog_status["fallback"] += 1
        else:
            self.prog_status["mixed / deopt"] += 1
        explain = res.get("explain", {})
        explain = "\n".join(explain.values()) if isinstance(explain, dict) else explain
        for r in set(fallback_reasons(explain)):
            self.reasons[r] += 1
            self.reason_example.setdefault(r, pseed)
        for f in res.get("features", []):
            self.features[f] += 1

    def line(self, elapsed):
        n = sum(self.calls.values()) or 1
        return (f"[{elapsed:7.1f}s] {self.programs} programs, {sum(self.calls.values())} calls:"
                f" native {100 * self.calls['native'] / n:.1f}%,"
                f" deopt {100 * self.calls['deopt'] / n:.1f}%,"
                f" fallback {100 * self.calls['fallback'] / n:.1f}%;"
                f" mismatches {len(self.mismatches)}")

    def summary(self, elapsed):
        n = sum(self.calls.values()) or 1
        p = self.programs or 1
        out = ["", "==== epochpp fuzz summary ====",
               f"time: {elapsed:.1f} s; programs: {self.programs}; "
               f"calls: {sum(self.calls.values())}"
               + (f"; skipped (known failing): {self.skipped}" if self.skipped else "")]
        for k in ("native", "deopt", "fallback", "none"):
            if self.calls[k]:
                out.append(f"  calls {k:9s} {self.calls[k]:7d}  {100 * self.calls[k] / n:5.1f}%")
        levels = sorted({lv for lv, _ in self.level_calls})
        if len(levels) > 1:
            for lv in levels:
                m = sum(v for (l2, _), v in self.level_calls.items() if l2 == lv) or 1
                out.append(f"  Level {lv}: " + ", ".join(
                    f"{k} {100 * self.level_calls[(lv, k)] / m:.1f}%"
                    for k in ("native", "deopt", "fallback") if self.level_calls[(lv, k)]))
        for k, v in self.prog_status.most_common():
            out.append(f"  programs {k:18s} {v:6d}  {100 * v / p:5.1f}%")
        out.append("CPython outcomes: " + ", ".join(f"{k} {v}" for k, v in
                                                    self.outcomes.most_common()))
        if self.reasons:
            out.append("top fallback reasons (programs):")
            for r, v in self.reasons.most_common(12):
                out.append(f"  {v:6d}  {r}  (e.g. program {self.reason_example[r]})")
        if self.msg_diffs:
            kinds = collections.Counter(re.sub(r"\d+", "N", m)[:110] for _, m in self.msg_diffs)
            example = {}
            for p, m in self.msg_diffs:
                example.setdefault(re.sub(r"\d+", "N", m)[:110], (p, m))
            out.append(f"exception messages that differ (types equal; not failures): "
                       f"{len(self.msg_diffs)}")
            for m, v in kinds.most_common(6):
                p, full = example[m]
                out.append(f"  {v:5d}  e.g. program {p}: {full[:160]}")
        if self.reassoc:
            out.append(f"Level 3 parallel float reductions within 1e-9 of CPython (documented, "
                       f"not failures): {self.reassoc_count} calls, e.g. program "
                       f"{self.reassoc[0][0]}")
        if self.harness_errors:
            out.append(f"harness errors (generator bugs, not mismatches): "
                       f"{len(self.harness_errors)}, e.g. program {self.harness_errors[0][0]}")
        out.append(f"mismatches: {len(self.mismatches)}")
        for m in self.mismatches:
            out.append(f"  program {m['pseed']} (Level {m.get('level', '?')}): {m['kind']}: "
                       f"{m['detail'][:200]}")
            if m.get("file"):
                out.append(f"    reproducer: {m['file']}")
        return "\n".join(out)


# --------------------------------------------------------------------- minimization
def crash_key(why):
    """'crash:SIGSEGV', 'crash:exit', 'hang' from a worker's death description."""
    if why.startswith("hang"):
        return "hang"
    if re.fullmatch(r"crash:(SIG\w+|exit)", why):
        return why
    m = re.search(r"killed by (SIG\w+)", why)
    return "crash:" + (m.group(1) if m else "exit")


def minimize(source, args_src, kind, timeout, log_dir, budget_s=90.0, max_tries=600,
             levels=None):
    """Greedy delta reduction keeping the same kind of mismatch. Returns (source, args, res)."""
    state = {"worker": None, "tries": 0}
    crash_kind = kind.split(":")[0] in ("crash", "hang")
    if crash_kind:
        kind = crash_key(kind)

    def still(src, args):
        if state["tries"] >= max_tries:
            return None
        state["tries"] += 1
        try:
            compile(src, "<candidate>", "exec")
        except SyntaxError:
            return None
        res, state["worker"], why = request_once(
            {"op": "check", "source": src, "args": [args], "levels": levels or LEVELS},
            timeout, log_dir, state["worker"])
        if res is None:
            return {"crash": why} if crash_kind and crash_key(why) == kind else None
        if crash_kind:
            return None
        mm = first_mismatch(res)
        if mm and mm[0] == kind:
            return res
        return None

    deadline = time.monotonic() + budget_s
    best = still(source, args_src)
    if best is not None:
        source, args_src, best = minimize_ast.reduce(source, args_src, best, still, deadline,
                                                     lambda: state["tries"] < max_tries)
    if state["worker"]:
        state["worker"].close()
    return source, args_src, best


# ------------------------------------------------------------------------- main loop
def crash_args(prog, kind, opts):
    """The argument sets that reproduce a crash/hang of this program in a fresh worker:
    one set alone if possible, else all of them; None if the program alone does not."""
    for a in prog.arg_sets + [prog.arg_sets]:
        sets = a if isinstance(a, list) else [a]
        res, w, why = request_once({"op": "check", "source": prog.source, "args": sets,
                                    "levels": LEVELS},
                                   opts.timeout, opts.save_dir)
        if w:
            w.close()
        if res is None and crash_key(why) == kind:
            return a
    return None


def handle_mismatch(tally, opts, pseed, kind, detail, prog, call, history=None):
    """Minimize, save, record."""
    level = call["level"] if call else None
    levels = [level] if level else LEVELS
    entry = {"pseed": pseed, "kind": kind, "detail": detail, "file": None, "level": level}
    args_src = call["args"] if call else prog.arg_sets
    print(f"!! program {pseed}: {kind}: {detail[:300]}", flush=True)
    tally.mismatches.append(entry)
    if not opts.save_dir:
        return
    crash = kind.startswith("crash") or kind == "hang"
    if crash:
        found = crash_args(prog, kind, opts)
        if found is None:
            path = os.path.join(opts.save_dir, f"fuzz_{pseed}_history.txt")
            with open(path, "w") as fh:
                fh.write(f"# {kind}: {detail}\n# the program alone does not reproduce it; the "
                         f"worker ran these program seeds (gen options {opts.gen_opts!r}):\n")
                fh.write("\n".join(str(p) for p in (history or [pseed])) + "\n")
            print(f"   the program alone does not {kind}; worker history in {path} "
                  f"(replay with --replay-history)", flush=True)
            entry["file"] = path
            return
        args_src = found
    orig = save_reproducer(opts.save_dir, f"fuzz_{pseed}_original.py",
                           f"program seed {pseed}, gen options {opts.gen_opts!r}, original",
                           kind, detail, prog.source, args_src, call, level)
    entry["file"] = orig
    if opts.no_minimize or isinstance(args_src, list):
        return
    src, args2, res = minimize(prog.source, args_src, kind, opts.timeout, opts.save_dir,
                               budget_s=opts.minimize_seconds, levels=levels)
    if res is None:
        print(f"   (did not reproduce alone with a fresh dispatcher; kept {orig})", flush=True)
        return
    mcall = None
    if isinstance(res, dict) and res.get("calls"):
        mcall = res["calls"][0]
        detail = (mcall.get("mismatch") or [kind, detail])[1]
    path = save_reproducer(opts.save_dir, f"fuzz_{pseed}_min.py",
                           f"program seed {pseed}, gen options {opts.gen_opts!r}, minimized",
                           kind, detail, src, args2, mcall or call, level)
    entry["file"] = path
    entry["min_source"] = src
    entry["min_args"] = args2
    print(f"   minimized reproducer: {path}", flush=True)
    print("   " + src.replace(gen.HEADER, "").strip().replace("\n", "\n   "), flush=True)
    print(f"   args: {args2}", flush=True)
    if mcall:
        print(f"   CPython: {mcall['py'][:200]}\n   epochpp: {mcall['jit'][:200]}", flush=True)


class Rebuilt(Exception):
    """The extension file changed under the running workers."""


def run(opts):
    gopts = gen.Options.parse(opts.gen_opts)
    tally = Tally()
    t0 = time.monotonic()
    deadline = t0 + opts.seconds if opts.seconds else None
    log_dir = opts.save_dir or tempfile.gettempdir()
    if opts.save_dir:
        os.makedirs(opts.save_dir, exist_ok=True)
    state = {"stamp": core_stamp(), "next": 0}
    workers = []
    retry = []                # program seeds to run again (in flight during a rebuild)
    pending_mismatch = []

    def start_workers():
        workers[:] = []
        try:
            for _ in range(opts.jobs):
                workers.append(Worker(log_dir))
        except HarnessError:
            for w in workers:
                w.close()
            workers[:] = []
            raise

    def stop_workers():
        for w in workers:
            if w.task is not None:
                retry.append(w.task)
                w.kill()
            else:
                w.close()
        workers[:] = []

    def wait_for_rebuild():
        stop_workers()
        print("fuzz: the epochpp extension changed (rebuilt?); waiting for it to settle "
              f"(up to {opts.rebuild_wait:.0f} s)", flush=True)
        end = time.monotonic() + opts.rebuild_wait
        while time.monotonic() < end:
            s1 = core_stamp()
            time.sleep(10)
            if core_stamp() != s1 or s1[1] is None:
                continue
            try:
                start_workers()
            except HarnessError:
                continue
            state["stamp"] = s1
            print("fuzz: the new extension loads; going on", flush=True)
            return
        raise HarnessError("the epochpp extension changed and did not settle; run again")

    def more():
        if retry:
            return True
        if opts.count is not None and state["next"] >= opts.count:
            return False
        if deadline is not None and time.monotonic() >= deadline:
            return False
        return not (opts.stop_on_first and tally.mismatches)

    def dispatch(w):
        while more():
            if retry:
                pseed = retry.pop(0)
            else:
                pseed = pseed_of(opts.seed, state["next"])
                state["next"] += 1
                if pseed in opts.skip:
                    tally.skipped += 1
                    continue
            w.send({"op": "program", "pseed": pseed, "gen_opts": opts.gen_opts,
                    "levels": LEVELS}, task=pseed)
            w.history.append(pseed)
            return True
        w.task = None
        return False

    def replacement():
        try:
            return Worker(log_dir)
        except HarnessError:
            if core_stamp() != state["stamp"]:
                raise Rebuilt() from None
            raise

    def step():
        """Wait for one answer (or time-out) and handle it."""
        busy = [w for w in workers if w.task is not None]
        now = time.monotonic()
        wait = min(w.started + opts.timeout - now for w in busy)
        ready, _, _ = select.select(busy, [], [], max(0.0, min(wait, 5.0)))
        now = time.monotonic()
        for idx, w in enumerate(workers):
            if w.task is None:
                continue
            res, why = None, None
            if w in ready:
                line = w.poll_line()
                if line is None:
                    continue
                if line == b"":
                    why = "crash: " + w.death()
                else:
                    res = json.loads(line)
            elif now - w.started > opts.timeout:
                why = f"hang: no answer within {opts.timeout:.0f} s"
                w.kill()
            else:
                continue
            pseed = w.task
            mm = first_mismatch(res) if res is not None else None
            if (res is None or mm) and core_stamp() != state["stamp"]:
                w.task = None
                retry.append(pseed)
                raise Rebuilt()
            if res is not None and res.get("error"):
                # the generator made something the harness cannot run: not a compiler bug
                tally.harness_errors.append((pseed, res["error"]))
                print(f"!! program {pseed}: harness error (not counted as a mismatch): "
                      f"{res['error'][:300]}", flush=True)
                if len(tally.harness_errors) > 20:
                    raise HarnessError("too many harness errors; see above")
                res, mm = {"calls": []}, None
            if res is not None:
                tally.add(pseed, res)
                if mm:
                    pending_mismatch.append((pseed, mm[0], mm[1], mm[2], None))
                w.done += 1
                if w.done >= MAX_CALL_PROGRAMS:
                    w.close()
                    w = workers[idx] = replacement()
            else:
                tally.programs += 1
                pending_mismatch.append((pseed, crash_key(why), why, None, list(w.history)))
                w.close()
                w = workers[idx] = replacement()
            while pending_mismatch:
                p, kind, detail, call, hist = pending_mismatch.pop(0)
                handle_mismatch(tally, opts, p, kind, detail, gen.generate(p, gopts), call, hist)
            dispatch(w)

    last_print = t0
    try:
        try:
            start_workers()
        except HarnessError:
            st = state["stamp"]
            if st[1] is None or time.time() - st[1] / 1e9 > 300:
                raise
            wait_for_rebuild()  # the extension is being written right now
        for w in workers:
            dispatch(w)
        while any(w.task is not None for w in workers):
            try:
                step()
            except Rebuilt:
                wait_for_rebuild()
                for w in workers:
                    dispatch(w)
            if time.monotonic() - last_print >= opts.progress:
                last_print = time.monotonic()
                print(tally.line(last_print - t0), flush=True)
    except HarnessError as err:
        print(tally.summary(time.monotonic() - t0), flush=True)
        print(f"fuzz: {err}", flush=True)
        return 2
    finally:
        stop_workers()
    elapsed = time.monotonic() - t0
    print(tally.line(elapsed), flush=True)
    print(tally.summary(elapsed), flush=True)
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump({"seed": opts.seed, "programs": tally.programs,
                       "calls": dict(tally.calls), "outcomes": dict(tally.outcomes),
                       "levels": LEVELS,
                       "level_calls": {f"{lv}:{k}": v for (lv, k), v in tally.level_calls.items()},
                       "reassociated": tally.reassoc_count,
                       "harness_errors": len(tally.harness_errors),
                       "fallback_reasons": dict(tally.reasons),
                       "features": dict(tally.features),
                       "mismatches": tally.mismatches, "seconds": elapsed}, fh, indent=1)
    return 1 if tally.mismatches else 0


def replay_history(opts):
    """Run a crashed worker's programs again, in order, in one worker."""
    with open(opts.replay_history) as fh:
        seeds = [int(x) for x in fh.read().split() if x.strip().isdigit()]
    w = None
    for p in seeds:
        res, w, why = request_once({"op": "program", "pseed": p, "gen_opts": opts.gen_opts,
                                    "levels": LEVELS},
                                   opts.timeout, tempfile.gettempdir(), w)
        if res is None:
            print(f"program {p}: {why}")
            return 1
    if w:
        w.close()
    print(f"{len(seeds)} programs ran without a crash")
    return 0


def replay(opts, pseed):
    prog = gen.generate(pseed, gen.Options.parse(opts.gen_opts))
    print(prog.source)
    for a in prog.arg_sets:
        print("# args:", a)
    if opts.show:
        return 0
    res, w, why = request_once({"op": "check", "source": prog.source, "args": prog.arg_sets,
                                "levels": LEVELS},
                               opts.timeout, tempfile.gettempdir())
    if w:
        w.close()
    if res is None:
        print(why)
        return 1
    for c in res["calls"]:
        print(f"- L{c['level']} {c['status']:8s} CPython: {c['py'][:150]}\n"
              f"              epochpp: {c['jit'][:150]}"
              + (f"\n  MISMATCH {c['mismatch']}" if c["mismatch"] else ""))
    if res.get("error"):
        print("harness error:", res["error"])
    for lv, text in res.get("explain", {}).items():
        print(f"Level {lv}: {text}", end="")
    return 1 if first_mismatch(res) else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=None, help="run seed (default: from the clock)")
    ap.add_argument("--count", type=int, default=None, help="number of programs")
    ap.add_argument("--seconds", type=float, default=None, help="run for this long")
    ap.add_argument("--long", action="store_true",
                    help="run for hours (default 4 h unless --seconds/--count)")
    ap.add_argument("--save-dir", default=None,
                    help="where reproducers go (default: ./fuzz-failures)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds one program may take before it counts as a hang")
    ap.add_argument("--skip", default="", help="comma-separated program seeds to skip")
    ap.add_argument("--gen-opts", default="", help="generator options, e.g. '-helpers,-unions'")
    ap.add_argument("--stop-on-first", action="store_true")
    ap.add_argument("--levels", default="auto",
                    help="comma-separated epochpp.jit levels to test (default: 2,3, and 4 "
                         "when a CUDA driver is present)")
    ap.add_argument("--warmup", action="store_true",
                    help="each worker first runs one compiled call with an array argument "
                         "(avoids known bug H; see README.md)")
    ap.add_argument("--strict-messages", action="store_true",
                    help="count a different exception message (same type) as a mismatch")
    ap.add_argument("--rebuild-wait", type=float, default=900.0,
                    help="when the extension is rebuilt during a run, wait this long for it")
    ap.add_argument("--no-minimize", action="store_true")
    ap.add_argument("--minimize-seconds", type=float, default=90.0)
    ap.add_argument("--progress", type=float, default=10.0, help="seconds between progress lines")
    ap.add_argument("--json", default=None, help="also write the summary as JSON here")
    ap.add_argument("--replay", type=int, default=None, help="run one program seed verbosely")
    ap.add_argument("--show", type=int, default=None, help="print one program seed's source")
    ap.add_argument("--replay-history", default=None,
                    help="run the program seeds listed in a *_history.txt file in one worker")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    if opts.worker:
        worker_main()
        return 0
    # thousands of one-off programs must not fill the user's object cache: the workers get
    # a private one, removed at the end (unless EPOCHPP_CACHE_DIR is set)
    # fuzz programs use small arrays: without this, their Level 3 parallel loops would stay
    # serial (below the work threshold) and the parallel code would never be tested
    os.environ.setdefault("EPOCHPP_PARALLEL_MIN_WORK", "0")
    own_cache = None
    if not os.environ.get("EPOCHPP_CACHE_DIR"):
        own_cache = tempfile.mkdtemp(prefix="epochpp_fuzz_cache_")
        os.environ["EPOCHPP_CACHE_DIR"] = own_cache
    try:
        return _main(opts)
    finally:
        if own_cache:
            import shutil  # noqa: PLC0415

            shutil.rmtree(own_cache, ignore_errors=True)


def _main(opts):
    global STRICT_MESSAGES, WARMUP, LEVELS
    STRICT_MESSAGES = opts.strict_messages
    WARMUP = opts.warmup
    LEVELS = default_levels() if opts.levels == "auto" else \
        [int(x) for x in opts.levels.split(",") if x.strip()]
    if opts.replay_history:
        return replay_history(opts)
    if opts.show is not None or opts.replay is not None:
        return replay(opts, opts.show if opts.show is not None else opts.replay)
    if opts.seed is None:
        opts.seed = int(time.time()) % 100000
    opts.skip = {int(x) for x in opts.skip.replace(" ", "").split(",") if x}
    if opts.count is None and opts.seconds is None:
        opts.seconds = 4 * 3600.0 if opts.long else 120.0
    if opts.save_dir is None:
        opts.save_dir = os.path.abspath("fuzz-failures")
    print(f"epochpp fuzz: seed {opts.seed}, "
          + (f"{opts.count} programs" if opts.count is not None else f"{opts.seconds:.0f} s")
          + f", {opts.jobs} worker(s), levels {','.join(map(str, LEVELS))}"
          + (f", gen options {opts.gen_opts!r}" if opts.gen_opts else ""), flush=True)
    return run(opts)


if __name__ == "__main__":
    sys.exit(main())
