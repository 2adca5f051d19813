"""Source of a function as an ``ast.FunctionDef`` with the file's line numbers (the JIT frontend's input)."""
import ast
import inspect
import linecache
import textwrap

_cache = {}


def _last_line(code):
    """The last line any bytecode of ``code`` (or of the code objects nested in it) comes from."""
    last = code.co_firstlineno
    for _start, _end, line in code.co_lines():
        if line is not None and line > last:
            last = line
    for const in code.co_consts:
        if hasattr(const, "co_lines"):
            last = max(last, _last_line(const))
    return last


def _fast(fn, code):
    """The def from the lines the code object spans, without inspect's tokenizer (its first use
    in a process costs 2-8 ms: the first call of a compiled function in a fresh process is
    meant to take a few ms). None when that does not give the function: the caller asks
    inspect."""
    filename = code.co_filename
    lines = linecache.getlines(filename, fn.__globals__ if hasattr(fn, "__globals__") else None)
    first = code.co_firstlineno
    if not lines or first < 1 or first > len(lines):
        return None
    last = _last_line(code)
    # a statement may go on past the last line with code (a closing bracket on its own line)
    for end in range(last, min(len(lines), last + 20) + 1):
        src = textwrap.dedent("".join(lines[first - 1:end]))
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        if len(tree.body) != 1:
            return None
        node = tree.body[0]
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name != code.co_name:
            return None
        return node, first
    return None


def funcdef(fn):
    """Return ``(FunctionDef node, filename)`` for ``fn``; raises OSError/TypeError when no source exists."""
    code = fn.__code__
    key = (code, code.co_firstlineno)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    found = _fast(fn, code)
    if found is not None:
        node, first = found
    else:
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
