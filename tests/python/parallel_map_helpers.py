"""Worker functions for test_parallel_map.py.

They live in a plain module (not the test module) because parallel_map's worker processes
receive functions by name and import their module; tests/python is on their sys.path.
"""
import os
import time

import epochpp


def square(x):
    return x * x


def add(a, b, c=0):
    return a + b + c


def describe(x):
    """Uses a dict and str formatting: not compilable, so it takes the process pool."""
    table = {"pid": os.getpid(), "x": x}
    return f"{table['x']}:{len(str(table))>0}"


def word_score(n):
    """CPU-bound pure Python the JIT cannot compile (dict + str): ~n * 1 us."""
    counts = {}
    for i in range(n):
        w = str(i % 97)
        counts[w] = counts.get(w, 0) + len(w)
    return sum(counts.values())


def fail_at(x, bad=3):
    if x == bad:
        raise ValueError(f"bad item {x}")
    return x


def fail_two(x):
    if x in (2, 5):
        raise KeyError(f"item {x}")
    return x


class NeedsTwoArgs(Exception):
    """An exception pickle cannot rebuild (its __init__ needs two arguments)."""

    def __init__(self, a, b):
        super().__init__(f"{a} and {b}")


def raise_unpicklable(x):
    raise NeedsTwoArgs(x, "b")


def raise_unpicklable_with_tblib(x):
    """As raise_unpicklable, in a worker where tblib pickles RuntimeError with its __context__
    (importing dask.distributed installs that for the exception classes defined by then)."""
    import tblib.pickling_support

    tblib.pickling_support.install(RuntimeError)
    raise NeedsTwoArgs(x, "b")


def pid_of(_):
    time.sleep(0.05)
    return os.getpid()


def sleep_for(seconds):
    time.sleep(seconds)
    return seconds


def spin_for(seconds):
    """Busy for `seconds` of wall time in Python code (the dict keeps it off the compiler)."""
    state = {"n": 0, "end": time.perf_counter() + seconds}
    while time.perf_counter() < state["end"]:
        state["n"] += 1
    return state["n"]


def exit_worker(_):
    os._exit(3)


def pid_with_dict(x):
    """A dict: cannot be compiled, so parallel_map sends it to the worker processes."""
    seen = {"pid": os.getpid(), "x": x}
    return seen["x"] * 10, seen["pid"]


def join_with_dict(a, b):
    parts = {"a": str(a), "b": str(b)}
    return parts["a"] + "-" + parts["b"]


class Scaler:
    """A callable object: pickled by value and run by the pool."""

    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return {"v": x * self.k}["v"]

    def scale(self, x):
        return {"v": x * self.k}["v"]


# Compilable by epochpp.jit (ints, NumPy arrays): parallel_map's compiled path.

def collatz_steps(n):
    total = 0
    for k in range(1, n):
        m = k
        while m != 1:
            if m % 2 == 0:
                m = m // 2
            else:
                m = 3 * m + 1
            total += 1
    return total


def array_total(a):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * a[i]
    return s


def element(a, i):
    return a[i]


@epochpp.jit
def jitted_dict(x):
    """A module name bound to a Dispatcher whose function cannot compile: sent by name."""
    return {"v": x + 1, "pid": os.getpid()}["v"], os.getpid()
