"""The fuzzer's minimiser: greedy delta reduction of a program and its arguments (run_fuzz.py).

`reduce` tries, one at a time, the edits `_candidates` (statements and sub-expressions of the
source deleted or simplified) and `_arg_candidates` (unused parameters and array elements
dropped) proposes, and keeps an edit whenever `still(source, args)` says the same kind of
mismatch remains; it stops when no edit is kept, at the deadline, or when `more()` says no.
"""

from __future__ import annotations

import ast
import gen  # run_fuzz.py puts this folder on sys.path
import time


def _walk_index(tree):
    return list(ast.walk(tree))


def _stmt_lists(tree):
    """(node index, field) of every statement list in the function definitions."""
    out = []
    for k, node in enumerate(_walk_index(tree)):
        for field in ("body", "orelse"):
            lst = getattr(node, field, None)
            if isinstance(lst, list) and lst and isinstance(lst[0], ast.stmt) \
                    and not isinstance(node, ast.Module):
                out.append((k, field))
    return out


def _candidates(tree):
    """Yield functions that edit a deep copy of ``tree`` (each returns the new tree or None)."""
    import copy  # noqa: PLC0415

    # drop whole helper functions and module-level constants
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Assign) or \
                isinstance(node, ast.FunctionDef) and node.name != gen.Program.FUNC:
            def drop(t, i=i):
                del t.body[i]
                return t
            yield drop
    # statements: delete, or replace a compound statement by its body / else
    for k, field in _stmt_lists(tree):
        n = len(getattr(_walk_index(tree)[k], field))
        for i in range(n - 1, -1, -1):
            def delete(t, k=k, field=field, i=i):
                lst = getattr(_walk_index(t)[k], field)
                del lst[i]
                if not lst and field == "body":
                    lst.append(ast.Pass())
                return t
            yield delete
            for sub in ("body", "orelse"):
                def hoist(t, k=k, field=field, i=i, sub=sub):
                    lst = getattr(_walk_index(t)[k], field)
                    st = lst[i]
                    if not isinstance(st, (ast.If, ast.For, ast.While)) or not getattr(st, sub):
                        return None
                    lst[i:i + 1] = getattr(st, sub)
                    return t
                yield hoist
    # expressions: replace a node by one of its operands
    nodes = _walk_index(tree)
    for k, node in enumerate(nodes):
        if not isinstance(node, ast.expr):
            continue
        kids = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)]
        if isinstance(node, (ast.Name, ast.Constant, ast.Attribute)) or not kids:
            continue
        for j in range(len(kids)):
            def replace(t, k=k, j=j):
                nodes2 = _walk_index(t)
                target = nodes2[k]
                kid = [c for c in ast.iter_child_nodes(target) if isinstance(c, ast.expr)][j]
                for parent in nodes2:
                    for field, value in ast.iter_fields(parent):
                        if value is target:
                            setattr(parent, field, copy.deepcopy(kid))
                            return t
                        if isinstance(value, list):
                            for m, v in enumerate(value):
                                if v is target:
                                    value[m] = copy.deepcopy(kid)
                                    return t
                return None
            yield replace


def _arg_candidates(source, args_src):
    """Edits of the argument tuple: drop unused parameters, drop array elements."""
    tree = ast.parse(source)
    fdef = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
                and n.name == gen.Program.FUNC)
    atree = ast.parse(args_src, mode="eval")
    if isinstance(atree.body, ast.Tuple) and len(atree.body.elts) == len(fdef.args.args):
        used = {n.id for n in ast.walk(fdef) if isinstance(n, ast.Name)}
        for i, a in enumerate(fdef.args.args):
            if a.arg not in used:
                def drop(i=i):
                    t, at = ast.parse(source), ast.parse(args_src, mode="eval")
                    fd = next(n for n in t.body if isinstance(n, ast.FunctionDef)
                              and n.name == gen.Program.FUNC)
                    del fd.args.args[i]
                    del at.body.elts[i]
                    return ast.unparse(t) + "\n", _unparse_args(at)
                yield drop
    lists = [k for k, n in enumerate(_walk_index(atree)) if isinstance(n, ast.List)]
    for k in lists:
        n = len(_walk_index(atree)[k].elts)
        for i in range(n - 1, -1, -1):
            def shrink(k=k, i=i):
                at = ast.parse(args_src, mode="eval")
                del _walk_index(at)[k].elts[i]
                return source, _unparse_args(at)
            yield shrink


def _unparse_args(atree):
    return ast.unparse(atree)  # a 1-tuple comes out as "(x,)", the empty one as "()"


def reduce(source, args_src, best, still, deadline, more):
    """The smallest (source, args_src, result) reached from a failing pair; `best` is still()'s
    result for it."""
    changed = True
    while changed and time.monotonic() < deadline and more():
        changed = False
        tree = ast.parse(source)
        for edit in _candidates(tree):
            if time.monotonic() > deadline:
                break
            new = edit(ast.parse(source))
            if new is None:
                continue
            try:
                src2 = ast.unparse(new) + "\n"
            except Exception:  # noqa: BLE001 - an edit that made an invalid tree
                continue
            if src2 == source:
                continue
            r = still(src2, args_src)
            if r is not None:
                source, best, changed = src2, r, True
                break
        if changed:
            continue
        for edit in _arg_candidates(source, args_src):
            if time.monotonic() > deadline:
                break
            src2, args2 = edit()
            r = still(src2, args2)
            if r is not None:
                source, args_src, best, changed = src2, args2, r, True
                break
    return source, args_src, best
