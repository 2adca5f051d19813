"""`epochpp run`: a script run exactly as `python script.py` would, accelerated at a level; and
`--compare`: the same script plain and accelerated, with the before/after profile."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
import traceback
import types

from . import accelerate


class _WrapTopLevelDefs(ast.NodeTransformer):
    """After each top-level `def f`, inserts `f = __epochpp_wrap__(f, globals())` (same line)."""

    def visit_Module(self, node):
        body = []
        for stmt in node.body:
            body.append(stmt)
            if isinstance(stmt, ast.FunctionDef):
                call = ast.Call(func=ast.Name("__epochpp_wrap__", ast.Load()),
                                args=[ast.Name(stmt.name, ast.Load()), ast.Constant(stmt.name)], keywords=[])
                assign = ast.Assign(targets=[ast.Name(stmt.name, ast.Store())], value=call)
                body.append(ast.copy_location(assign, stmt))
        node.body = body
        return ast.fix_missing_locations(node)


def _wrapper_for(namespace):
    def wrap(fn, name):
        if (isinstance(fn, types.FunctionType) and accelerate.holds_loops(fn) and not fn.__code__.co_freevars
                and fn.__code__.co_flags & 0x20 == 0 and not fn.__dict__.get("_epochpp_options")):
            return accelerate._wrap_function(namespace, name, fn)
        return fn
    return wrap


def _print_user_traceback(path):
    etype, value, tb = sys.exc_info()
    t = tb
    while t is not None and t.tb_frame.f_code.co_filename != path:
        t = t.tb_next
    traceback.print_exception(etype, value, t if t is not None else tb)


def run_accelerated(path, args=(), level=3, interval_ms=10.0, profile=True):
    """Runs the script in this process at `level`. Returns (exit code, Profile or None, statuses)."""
    from .profiling import Profile

    path = os.path.abspath(path)
    with open(path, "rb") as f:
        source = f.read()
    tree = ast.parse(source, path)
    if level >= 2:
        tree = _WrapTopLevelDefs().visit(tree)
    code_obj = compile(tree, path, "exec")
    main = types.ModuleType("__main__")
    main.__dict__.update({"__file__": path, "__builtins__": __builtins__, "__loader__": None, "__spec__": None,
                          "__cached__": None})
    main.__dict__["__epochpp_wrap__"] = _wrapper_for(main.__dict__)
    old_main, old_argv = sys.modules.get("__main__"), sys.argv
    sys.modules["__main__"] = main
    sys.argv = [path, *args]
    sys.path.insert(0, os.path.dirname(path))
    prof = Profile(interval_ms=interval_ms, script=path, level=level) if profile else None
    exit_code = 0
    try:
        accelerate.enable(level, _namespace=main.__dict__, _from_runner=True)
        if prof:
            prof.start()
        try:
            exec(code_obj, main.__dict__)
        finally:
            if prof:
                prof.stop()
    except SystemExit as e:
        exit_code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            print(e.code, file=sys.stderr)
    except KeyboardInterrupt:
        _print_user_traceback(path)
        exit_code = 130
    except BaseException:
        _print_user_traceback(path)
        exit_code = 1
    finally:
        sys.stdout.flush()
        statuses = function_statuses(level)
        accelerate.disable()
        sys.argv = old_argv
        if sys.path and sys.path[0] == os.path.dirname(path):
            sys.path.pop(0)
        if old_main is not None:
            sys.modules["__main__"] = old_main
    if prof:
        for h in prof.hotspots:
            h.status = statuses.get((os.path.abspath(h.file), h.function), "")
        prof.functions = [{"file": f, "function": n, "status": s} for (f, n), s in sorted(statuses.items())]
    return exit_code, prof, statuses


def function_statuses(level):
    """(file, function) -> what epochpp did with it, for the functions enable() handled."""
    out = {}
    for name, modname, d in accelerate.accelerated_functions():
        f = d.py_func
        key = (os.path.abspath(f.__code__.co_filename), f.__name__)
        st = d.stats
        if st["native_calls"]:
            text = d.explain()
            if "run on all cores" in text:
                lvl = "Level 3: its independent loops run on all cores"
            elif level >= 3:
                lvl = "Level 2: no parallel loop"
            else:
                lvl = "Level 2"
            note = ""
            if level >= 4:
                tail = text.split("Level 4: ", 1)[1].split(";")[0].strip() if "Level 4: " in text else ""
                note = f"; Level 4: {tail}" if tail else ""
            out[key] = f"compiled ({lvl}): {st['native_calls']} native calls, {st['deopts']} deopts{note}"
        elif st["compiles"]:
            why = d.explain().strip().splitlines()
            out[key] = "not compiled: " + (why[-1].split(": ", 1)[-1] if why else "unsupported")
    for (modname, name), text in accelerate.explained_fallbacks().items():
        lines = [ln for ln in text.splitlines() if "in the interpreter" in ln]
        if lines:
            m = sys.modules.get(modname)
            f = getattr(m, name, None) if m else None
            code = getattr(f, "__code__", None)
            if code:
                out[(os.path.abspath(code.co_filename), name)] = ("not compiled (put back as it was): " +
                                                                  lines[0].split("interpreter: ", 1)[-1])
    return out


# ---------------------------------------------------------------------------------- compare
def _run_child(script, args, level, json_path, stdin_data, interval_ms):
    cmd = [sys.executable, "-m", "epochpp", "run", "--level", str(level), "--json", json_path,
           "--interval", str(interval_ms), "--no-report", script, *args]
    return subprocess.run(cmd, input=stdin_data, capture_output=True)


def compare(script, args=(), level=3, interval_ms=10.0, json_out=None, html_out=None, file=None):
    """Runs the script plain (level 0) and at `level`, checks the outputs match, prints the shift."""
    file = file or sys.stderr
    stdin_data = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    with tempfile.TemporaryDirectory() as tmp:
        jb, ja = os.path.join(tmp, "before.json"), os.path.join(tmp, "after.json")
        print(f"epochpp run --compare: running {os.path.basename(script)} plain (level 0)...", file=file, flush=True)
        before = _run_child(script, args, 0, jb, stdin_data, interval_ms)
        print(f"epochpp run --compare: running it at level {level}...", file=file, flush=True)
        after = _run_child(script, args, level, ja, stdin_data, interval_ms)
        pb = json.load(open(jb)) if os.path.exists(jb) else None
        pa = json.load(open(ja)) if os.path.exists(ja) else None
    sys.stdout.buffer.write(after.stdout)
    sys.stdout.flush()
    sys.stderr.buffer.write(after.stderr)
    same = before.stdout == after.stdout and before.returncode == after.returncode
    result = {"before": pb, "after": pa, "speedup": None, "outputs_identical": same}
    if pb and pa and pa["wall_s"] > 0:
        result["speedup"] = pb["wall_s"] / pa["wall_s"]
    from .profiling.compare_report import render_compare
    render_compare(result, before, after, file=file)
    if json_out:
        with open(json_out, "w") as f:
            json.dump(result, f, indent=2)
        print(f"epochpp: wrote {json_out}", file=file)
    if html_out:
        from .profiling.compare_html import write_compare_html
        write_compare_html(result, html_out)
        print(f"epochpp: wrote {html_out}", file=file)
    return after.returncode
