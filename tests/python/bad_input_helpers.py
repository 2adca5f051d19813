"""Shared by the bad-input tests (test_bad_input.py, test_bad_input_more.py): the Level 2/3
fixture, one dispatcher per kernel and level, the comparison with CPython, and value builders."""
import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import diffharness
from diffharness import check

epochpp = diffharness.get_epochpp()

LEVELS = [2, 3]


@pytest.fixture(params=LEVELS, ids=lambda lv: f"L{lv}")
def level(request, monkeypatch):
    if request.param == 3:
        monkeypatch.setenv("EPOCHPP_PARALLEL_MIN_WORK", "0")  # parallel loops run on the workers
    return request.param


_DISPS = {}


def disp(fn, level):
    """One dispatcher per (kernel, level): a signature compiles once for the whole file."""
    d = _DISPS.get((fn, level))
    if d is None:
        d = _DISPS[(fn, level)] = epochpp.jit(fn, level=level)
    return d


def same(fn, args, level, native=False, **kw):
    return check(fn, args, disp=disp(fn, level), native=native, exc_message=True, **kw)


def halves(n, dtype=np.float64):
    """Values whose sums are exact in any order (Level 3 parallel sums are then bit-identical)."""
    return (np.arange(n) * 0.5).astype(dtype)


def _vid(v):
    return f"{type(v).__name__}:{v!r}"[:40]


def huge_virtual(shape, dtype=np.float64):
    """An array of `shape` over one real element: zero strides cost no memory."""
    base = np.full(1, 7, dtype)
    return as_strided(base, shape=shape, strides=(0,) * len(shape), writeable=False)


def _outcome_huge(callee, make):
    try:
        r = callee(*make())
    except Exception as e:  # noqa: BLE001 - compared by the caller
        return ("exc", type(e), str(e))
    return ("ok", type(r), r.item() if isinstance(r, np.generic) else r)


def same_huge(fn, make, level):
    """fn(*make()) natively and in CPython give the same outcome. For arrays too big to copy or
    compare element by element (diffharness would do both)."""
    d = disp(fn, level)
    before = d.stats["native_calls"] + d.stats["deopts"]
    expected = _outcome_huge(fn, make)
    got = _outcome_huge(d, make)
    assert got == expected, (fn.__name__, expected, got)
    assert d.stats["native_calls"] + d.stats["deopts"] > before, (fn.__name__, d.explain())
