"""Classification: each hotspot gets a kind (loop, parallel, array, io), the level that helps it,
and one readable line of evidence. The rules read the samples and the function's source (AST)."""
from __future__ import annotations

import ast
import linecache
import os
from dataclasses import dataclass

ARRAY_MIN_ELEMENTS = 100_000
BLAS_NAMES = {"dot", "matmul", "inner", "outer", "tensordot", "einsum", "solve", "inv", "svd", "eig", "eigh",
              "lstsq", "cholesky", "qr", "det", "vdot"}
SYSCALL_NAMES = {0: "read", 1: "write", 7: "poll", 17: "pread", 18: "pwrite", 23: "select", 35: "sleep",
                 42: "connect", 43: "accept", 44: "send", 45: "recv", 46: "send", 47: "recv", 61: "wait",
                 74: "fsync", 230: "sleep", 232: "epoll_wait", 257: "open", 270: "select", 271: "poll",
                 281: "epoll_wait", 288: "accept"}


@dataclass
class Hotspot:
    function: str
    file: str
    line: int
    kind: str
    share: float
    self_s: float
    calls: int | None
    level: int
    evidence: str
    status: str = ""  # what epochpp did with it (filled by `epochpp run`)

    def to_json(self):
        return {"function": self.function, "file": self.file, "line": self.line, "kind": self.kind,
                "share": round(self.share, 6), "self_s": round(self.self_s, 6), "calls": self.calls,
                "level": self.level, "evidence": self.evidence}


class SourceInfo:
    """Loops, comprehensions and calls of one function, from its source."""

    _trees: dict = {}

    def __init__(self, file, first_line, module=False):
        self.loop_lines: set = set()
        self.loop_ranges: list = []
        self.calls_on_line: dict = {}  # line -> set of called names (last attribute)
        self.names_on_line: dict = {}  # line -> set of names read
        self.matmul_lines: set = set()
        self.node = self._tree(file) if module else self._find(file, first_line)
        if self.node is not None:
            self._scan(self.node)

    @classmethod
    def _tree(cls, file):
        if file not in cls._trees:
            try:
                src = "".join(linecache.getlines(file)) or (open(file).read() if os.path.exists(file) else "")
                cls._trees[file] = ast.parse(src)
            except (SyntaxError, OSError, ValueError):
                cls._trees[file] = None
        return cls._trees[file]

    def _find(self, file, first_line):
        tree = self._tree(file)
        if tree is None:
            return None
        best = None
        for n in ast.walk(tree):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                lines = [n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])]
                if first_line in lines:
                    best = n
        if best is None and first_line <= 1:
            return tree  # module level
        return best

    def _scan(self, root):
        for n in ast.walk(root):
            if isinstance(n, (ast.For, ast.While, ast.AsyncFor)):
                lo, hi = n.lineno, getattr(n, "end_lineno", n.lineno)
                self.loop_ranges.append((lo, hi))
                self.loop_lines.update(range(lo, hi + 1))
            elif isinstance(n, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                self.loop_lines.update(range(n.lineno, getattr(n, "end_lineno", n.lineno) + 1))
            elif isinstance(n, ast.Call):
                f = n.func
                name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
                self.calls_on_line.setdefault(n.lineno, set()).add(name)
            elif isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult):
                self.matmul_lines.add(n.lineno)
            elif isinstance(n, ast.Name):
                self.names_on_line.setdefault(n.lineno, set()).add(n.id)

    def in_loop(self, line):
        return line in self.loop_lines

    def has_loops(self):
        return bool(self.loop_ranges)

    def is_blas(self, line):
        return line in self.matmul_lines or bool(self.calls_on_line.get(line, set()) & BLAS_NAMES)


def _pct(x):
    return f"{100 * x:.0f}%"


def _size(n):
    return f"{n:,}"


COMPREHENSIONS = {"<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"}


def classify(attr, wall_s, limit=10, min_share=0.01):
    """The top hotspots of an Attribution, each classified."""
    total = sum(attr.all_by_cat.values()) or 1.0

    def active(f):  # time doing something: idle waits (an idle thread, a join) are not hotspots
        return f.self_s - f.self_by_cat.get("other", 0.0)

    fns = sorted((f for f in attr.functions.values() if active(f) > 0.1 * f.self_s), key=lambda f: -active(f))
    out = []
    for fs in fns[:limit * 3]:
        S = fs.self_s
        share = S / total
        if share < min_share or S <= 0:
            continue
        fr = fs.frame
        src = SourceInfo(fr.file, fr.first_line, module=fr.function == "<module>")
        hot_line = max(fs.lines.items(), key=lambda kv: sum(kv[1].values()))[0] if fs.lines else fr.first_line
        cat = fs.self_by_cat
        io, native, compiled = cat.get("io", 0) / S, cat.get("native", 0) / S, (cat.get("compiled", 0) + cat.get("parallel", 0)) / S
        python = cat.get("python", 0) / S
        name = fr.function if fr.function != "<module>" else f"<module> line {fr.first_line}"
        h = Hotspot(name, fr.file, hot_line, "loop", share, S, fs.calls_seen or None, 2, "")
        waiting = (cat.get("other", 0) + cat.get("io", 0)) / S
        if waiting >= 0.5 and io < 0.5:
            h.kind, h.level = "io", 0
            h.evidence = (f"{_pct(waiting)} of its time waiting (a lock, another thread, the GIL): not CPU work here; "
                          f"epochpp will not speed it up")
        elif io >= 0.5:
            sc = max(fs.syscalls.items(), key=lambda kv: kv[1])[0] if fs.syscalls else -1
            what = SYSCALL_NAMES.get(sc, "I/O")
            h.kind, h.level = "io", 0
            h.evidence = (f"{_pct(io)} of its time blocked in {what}: not CPU work, epochpp will not speed it up; "
                          f"overlap the waits with threads or asyncio")
        elif compiled >= 0.5:
            h.kind, h.level = "loop", 2
            h.evidence = f"{_pct(compiled)} of its time in epochpp compiled code (already accelerated)"
        elif native >= python:
            # native code: big arrays are array work; tiny NumPy calls in a loop are loop overhead
            nat_line = max(fs.lines.items(), key=lambda kv: kv[1].get("native", 0))[0]
            h.line = nat_line
            names = src.names_on_line.get(nat_line, set())
            sizes = {n: s for n, s in fs.arrays.get(nat_line, {}).items() if not names or n in names}
            biggest = max(sizes.values()) if sizes else None
            if src.is_blas(nat_line):
                h.kind, h.level = "array", 4
                size_txt = f" on arrays of up to {_size(biggest)} elements" if biggest else ""
                h.evidence = (f"{_pct(native)} of its time in BLAS (line {nat_line}){size_txt}: already near-optimal "
                              f"on the CPU; only a GPU (Level 4) can help")
            elif biggest is not None and biggest >= ARRAY_MIN_ELEMENTS:
                h.kind, h.level = "array", 4
                h.evidence = (f"{_pct(native)} of its time in native array operations on {_size(biggest)}-element arrays "
                              f"(line {nat_line})")
            elif src.in_loop(nat_line):
                h.kind, h.level = "loop", 2
                small = f" on arrays of ~{_size(biggest)} elements" if biggest else ""
                if fs.library_calls.get(nat_line) and not small:
                    small = " (NumPy/library calls)"
                h.evidence = (f"{_pct(native)} native + {_pct(python)} interpreter time in many small native calls{small} "
                              f"inside a loop (line {nat_line}): loop overhead, not array work")
            else:
                h.kind, h.level = "array", 4
                size_txt = f"{_size(biggest)}-element arrays" if biggest else "arrays of unknown size"
                h.evidence = f"{_pct(native)} of its time in native code on {size_txt} (line {nat_line})"
        else:
            site = max(fs.callers.items(), key=lambda kv: kv[1]) if fs.callers else None
            parallel = False
            # many separate calls from one loop or comprehension: Level 3 runs them on all cores
            # (and compiles each one: Level 3 includes Level 2)
            if site is not None and site[1] >= 0.8 * fs.total and fs.calls_seen >= 3:
                (cfile, cname, cfirst), cline = site[0]
                csrc = SourceInfo(cfile, cfirst, module=cname == "<module>")
                if cname in COMPREHENSIONS or csrc.in_loop(cline):
                    parallel = True
                    h.kind, h.level = "parallel", 3
                    h.evidence = (f"called again and again from the loop at {os.path.basename(cfile)}:{cline} "
                                  f"({fs.calls_seen}+ separate calls sampled, {_pct(python)} interpreter time): "
                                  f"independent calls; Level 3 compiles it and runs independent loop iterations "
                                  f"on all cores; epochpp.parallel_map(fn, items) runs the calls themselves in parallel")
            if not parallel:
                loop_time = sum(sum(c.values()) for ln, c in fs.lines.items() if src.in_loop(ln))
                if src.has_loops() and loop_time >= 0.5 * S:
                    lines = sorted(ln for ln in fs.lines if src.in_loop(ln))
                    span = f"lines {lines[0]}-{lines[-1]}" if len(lines) > 1 else f"line {lines[0]}"
                    h.evidence = f"{_pct(python)} of its time in the interpreter running its loops ({span})"
                else:
                    h.evidence = f"{_pct(python)} of its time in the interpreter"
        out.append(h)
        if len(out) >= limit:
            break
    out.sort(key=lambda h: -h.share)  # the contract: hotspots sorted by share
    return out
