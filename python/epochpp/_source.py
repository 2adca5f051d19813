"""Source of a function as an ``ast.FunctionDef`` with the file's line numbers (the JIT frontend's input)."""
import ast
import inspect
import textwrap

_cache = {}


def funcdef(fn):
    """Return ``(FunctionDef node, filename)`` for ``fn``; raises OSError/TypeError when no source exists."""
    code = fn.__code__
    key = (code, code.co_firstlineno)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    lines, first = inspect.getsourcelines(fn)
    src = textwrap.dedent("".join(lines))
    tree = ast.parse(src)
    node = tree.body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise TypeError(f"{fn.__qualname__} is not defined by a def statement")
    ast.increment_lineno(node, first - 1)
    out = (node, inspect.getsourcefile(fn) or code.co_filename)
    _cache[key] = out
    return out
