"""enable(level) / disable() / level(): transparent acceleration without decorators.

After ``enable(level>=2)``, plain functions that hold loops — in the calling module, in user
modules already imported and in user modules imported later — are replaced by epochpp
dispatchers that compile on their first call. A function that turns out not to be compilable
is put back exactly as it was (no per-call tax), with its reason kept for ``epochpp.explain``.
Library code (the standard library, site-packages) is left alone unless named in ``include``.
No frame-evaluation hook (PEP 523) is used: only module attributes are rebound.
"""
from __future__ import annotations

import dis
import importlib.abc
import importlib.machinery
import os
import sys
import sysconfig
import types


_state = {"level": 0, "include": (), "wrapped": [], "finder": None, "monitor": None, "explained": {}}
LEVELS = {0: "plain CPython", 1: "monitoring (profiler)", 2: "JIT (LLVM)", 3: "JIT + parallel (oneTBB)",
          4: "JIT + parallel + GPU (CUDA)"}


def env_level(default: int = 3) -> int:
    """EPOCHPP_LEVEL, checked (a bad value is an error that says what is allowed)."""
    text = os.environ.get("EPOCHPP_LEVEL", "").strip()
    if not text:
        return default
    if text not in {"0", "1", "2", "3", "4"}:
        raise ValueError(f"EPOCHPP_LEVEL must be 0, 1, 2, 3 or 4, not {text!r}")
    return int(text)


def level() -> int:
    """The level set by enable() (0 when disabled)."""
    return _state["level"]


_LIB_DIRS = None


def _library_dirs():
    global _LIB_DIRS
    if _LIB_DIRS is not None:
        return _LIB_DIRS
    paths = {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # epochpp itself
    _LIB_DIRS = tuple(os.path.abspath(p) + os.sep for p in paths if p)
    return _LIB_DIRS


def is_user_module(mod, include=()) -> bool:
    name = getattr(mod, "__name__", "")
    if any(name == i or name.startswith(i + ".") for i in include):
        return True
    if name == "epochpp" or name.startswith("epochpp."):
        return False
    f = getattr(mod, "__file__", None)
    if not f or not f.endswith(".py"):
        return False
    return not os.path.abspath(f).startswith(_library_dirs())


def holds_loops(fn) -> bool:
    """True when the function's own code has a loop (a backward jump or FOR_ITER)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return False
    for ins in dis.get_instructions(code):
        if ins.opname == "FOR_ITER" or ins.opname.startswith("JUMP_BACKWARD"):
            return True
        if "JUMP" in ins.opname and isinstance(ins.argval, int) and ins.argval < ins.offset:
            return True
    return False


def _wrap_function(namespace: dict, name: str, fn):
    from . import jit

    d = jit(fn)
    d.__dict__["_epochpp_home"] = (namespace, name)
    _state["wrapped"].append((namespace, name, fn, d))
    return d


def accelerate_namespace(namespace: dict, module_name: str | None = None) -> int:
    """Rebinds the plain functions with loops defined in this namespace. Returns how many."""
    n = 0
    mod_name = module_name or namespace.get("__name__")
    for name, obj in list(namespace.items()):
        if (isinstance(obj, types.FunctionType) and obj.__module__ == mod_name and holds_loops(obj)
                and not obj.__code__.co_freevars and obj.__code__.co_flags & 0x20 == 0):  # no closures, no generators
            namespace[name] = _wrap_function(namespace, name, obj)
            n += 1
    return n


class _Loader(importlib.abc.Loader):
    def __init__(self, inner):
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        if _state["level"] >= 2 and is_user_module(module, _state["include"]):
            accelerate_namespace(module.__dict__, module.__name__)


class _Finder(importlib.abc.MetaPathFinder):
    """Wraps the loader of modules imported after enable() so their functions are accelerated."""

    def find_spec(self, fullname, path, target=None):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


def _on_fallback(d):
    """Called by the dispatcher when no signature of a rebound function compiles."""
    home = d.__dict__.get("_epochpp_home")
    if not home:
        return
    namespace, name = home
    if namespace.get(name) is d:
        namespace[name] = d.py_func
        _state["explained"][(namespace.get("__name__"), name)] = d.explain()


def explained_fallbacks():
    """{(module, name): explain text} for functions enable() put back because they do not compile."""
    return dict(_state["explained"])


def enable(level: int | None = None, include=(), _namespace=None, _from_runner=False) -> int:
    """Turns epochpp on at `level` (0-4, default EPOCHPP_LEVEL or 3). Returns the level."""
    if os.environ.get("EPOCHPP_DISABLE") == "1":
        level = 0
    if level is None:
        level = env_level()
    if not isinstance(level, int) or not 0 <= level <= 4:
        raise ValueError(f"epochpp.enable: level must be 0-4, got {level}")
    level = int(level)
    if _state["level"]:
        disable()
    _state["level"] = level
    _state["include"] = tuple(include)
    from . import _native
    _native().set_setting("level", str(level))
    _native().set_setting("jit_level", str(max(2, level)))  # functions compile at this level
    if level >= 1 and not _from_runner:  # `epochpp run` profiles on its own
        from .profiling import Profile
        # the background monitor: a long interval and a short watch keep its tax near zero
        _state["monitor"] = Profile(interval_ms=50.0, level=level, watch_ms=0.1).start()
    if level >= 2:
        caller = _namespace if _namespace is not None else sys._getframe(1).f_globals
        accelerate_namespace(caller)
        for mod in list(sys.modules.values()):
            if mod is not None and getattr(mod, "__dict__", None) is not caller and is_user_module(mod, include):
                accelerate_namespace(mod.__dict__, mod.__name__)
        _state["finder"] = _Finder()
        sys.meta_path.insert(0, _state["finder"])
    return level


def disable() -> None:
    """Turns epochpp off: every rebound function is put back, the import hook and sampler stop."""
    for namespace, name, fn, d in reversed(_state["wrapped"]):
        if namespace.get(name) is d:
            namespace[name] = fn
    if _state["level"]:
        from . import _native
        _native().set_setting("jit_level", "2")
    _state["wrapped"].clear()
    if _state["finder"] in sys.meta_path:
        sys.meta_path.remove(_state["finder"])
    _state["finder"] = None
    if _state["monitor"] is not None:
        _state["monitor"].stop()
        _state["monitor"] = None
    _state["level"] = 0


def monitor():
    """The background profile of Level >= 1 (None when off)."""
    return _state["monitor"]


def report(file=None):
    """Prints what the Level >= 1 background profiler has seen so far."""
    m = _state["monitor"]
    if m is None:
        print("epochpp.report(): the profiler is off; call epochpp.enable(level=1) or higher first",
              file=file or sys.stderr)
        return None
    m.snapshot()
    m.report(file=file)
    return m


def accelerated_functions():
    """(name, module namespace name, dispatcher) for every function enable() rebound."""
    return [(name, ns.get("__name__"), d) for ns, name, fn, d in _state["wrapped"]]
