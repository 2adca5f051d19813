"""Overflow checks hoisted per chunk (jit/passes/overflow_hoist.cpp, jit/codegen/lower_ovf.cpp).

An innermost loop's int `+ - *` runs without per-operation overflow checks when a check at the
entry of each chunk (2**16 iterations, more once iterations are cheap) proves none can overflow; otherwise the chunk runs checked
and a real overflow deopts to exact big ints at the iteration where it happens. Each case is
compared with CPython (value and type) right at and around the points where int64 overflows,
including overflows in a later chunk than the first, accumulators going down, conditional and
repeated updates, and loops the pass must leave alone.
"""

import numpy as np
import pytest

import diffharness
from diffharness import check, jitted

I64_MAX = 2**63 - 1
CHUNK = 1 << 16


def squares_scaled(n, k):
    s = 0
    for i in range(n):
        s += i * i * k
    return s


def going_down(n, k, s):
    for i in range(n):
        s -= i * k
    return s


def conditional(n, k, s):
    for i in range(n):
        if i % 3 == 0:
            s += i * k
        else:
            s = s - k
    return s


def two_updates(n, k):
    s = 0
    t = 0
    for i in range(n):
        s += i * k
        s += k
        t = t + i
    return s, t


def negative_step(n, c):
    s = 0
    for i in range(n, -n, -7):
        s += i * c
    return s


def big_start(a, n):
    s = 0
    for i in range(a, a + n):
        s += i + i
    return s


def invariant_product(n, x, y):
    s = 0
    for i in range(n):
        s += x * y - i
    return s


def loop_var_rebound(n):
    s = 0
    for i in range(n):
        i = i * 3_000_000_000
        s += i * i
    return s


def walrus(n, k):
    s = 0
    t = 0
    for i in range(n):
        s += (t := i * k)
    return s + t


def early_return(n, k, limit):
    s = 0
    for i in range(n):
        s += i * k
        if s > limit:
            return i
    return -1


def unbound_accumulator(n):
    if n > 100:
        s = 0
    for i in range(n):
        s = s + i
    return s


def self_increment(n):
    s = 1
    for i in range(n):
        s = s + s
    return s


def index_arith(a, k):
    s = 0
    for i in range(len(a) // 2):
        s += a[i * 2] * k + i * k
    return s


def with_temp(n, k):
    s = 0
    for i in range(n):
        t = i * k + 1
        s += t * t
    return s


def temp_read_before(n, k):
    s = 0
    t = 0
    for i in range(n):
        s += t  # the previous iteration's t: not a temporary
        t = i * k
    return s


def temp_assigned_twice(n, k):
    s = 0
    for i in range(n):
        t = i
        if i % 2:
            t = i * k
        s += t
    return s


def _first_overflow(fn, args, n_index, lo, hi):
    """The smallest n in [lo, hi] for which fn's result leaves int64 (CPython computes it)."""
    def big(n):
        a = list(args)
        a[n_index] = n
        r = fn(*a)
        return any(abs(x) > I64_MAX for x in (r if isinstance(r, tuple) else (r,)))
    assert not big(lo) and big(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if big(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _around(n):
    return sorted({max(0, n - 2), max(0, n - 1), n, n + 1})


# the overflow of k * sum(i*i) lands in the second chunk for k = 80_000 and in the first for 10**9
SQUARE_CASES = []
for _k in (80_000, 10**9, -10**9, 1):
    if abs(_k) == 1:
        SQUARE_CASES += [(n, _k) for n in (0, 1, 10, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5)]
        continue
    _n0 = _first_overflow(squares_scaled, (0, _k), 0, 0, 200_000)
    SQUARE_CASES += [(n, _k) for n in _around(_n0)]


SQUARE_CASES_80K = [n for n, k in SQUARE_CASES if k == 80_000]


@pytest.mark.parametrize("n,k", SQUARE_CASES)
def test_squares_scaled(n, k):
    check(squares_scaled, (n, k), native="entered")


def _first_sum_of_squares_overflow(k):
    """The smallest n with k * sum(i*i for i < n) outside int64 (the closed form, exact ints)."""
    lo, hi = 0, 1 << 22
    while hi - lo > 1:
        mid = (lo + hi) // 2
        v = k * (mid - 1) * mid * (2 * mid - 1) // 6
        if -2**63 <= v <= I64_MAX:
            lo = mid
        else:
            hi = mid
    return hi


# millions of iterations: the chunks have grown past 2**16 (lower_stmt.cpp) when int64 runs out,
# and a grown chunk whose bound fails is retried at half its length before the checked loop
@pytest.mark.parametrize("n,k", [(n, k) for k in (1, -1, 3) for n in _around(_first_sum_of_squares_overflow(k))])
def test_squares_overflow_after_chunks_grew(n, k):
    assert n > 2_000_000
    check(squares_scaled, (n, k), native="entered")


def test_boundary_is_past_the_first_chunk():
    assert _first_overflow(squares_scaled, (0, 80_000), 0, 0, 200_000) > CHUNK


@pytest.mark.parametrize("s0", [0, -2**63 + 10**6, 2**62, -2**63])
@pytest.mark.parametrize("n", [0, 1, 1000, CHUNK + 3])
def test_going_down(n, s0):
    check(going_down, (n, 1000, s0), native="entered")


@pytest.mark.parametrize("args", [(100, 7, 0), (CHUNK + 10, 10**12, 0), (CHUNK + 10, 10**13, 0),
                                  (CHUNK * 2, 10**14, -2**63 + 10**15), (5, 2**62, 2**62)])
def test_conditional(args):
    check(conditional, args, native="entered")


@pytest.mark.parametrize("args", [(10, 3), (CHUNK + 1, 10**13), (CHUNK + 1, 10**9), (3, 2**62)])
def test_two_updates(args):
    check(two_updates, args, native="entered")


@pytest.mark.parametrize("args", [(0, 1), (100, 5), (CHUNK * 3, 10**13), (CHUNK * 3, 10**8), (10, 2**62)])
def test_negative_step(args):
    check(negative_step, args, native="entered")


@pytest.mark.parametrize("a", [0, -2**62 - 5, 2**62 - 10, 2**62 - 3, 2**62, 2**63 - 10])
def test_big_start(a):
    check(big_start, (a, 8), native="entered")


@pytest.mark.parametrize("x,y", [(3, 4), (2**31, 2**31), (2**32, 2**31), (-2**32, 2**31), (2**62, 2), (3037000499, 3037000499)])
def test_invariant_product(x, y):
    check(invariant_product, (CHUNK + 7, x, y), native="entered")


@pytest.mark.parametrize("n", [0, 3, 1000, 2000])
def test_loop_var_rebound(n):
    check(loop_var_rebound, (n,), native="entered")


@pytest.mark.parametrize("args", [(10, 3), (CHUNK + 1, 10**13), (5, 2**62)])
def test_walrus(args):
    check(walrus, args, native="entered")


@pytest.mark.parametrize("args", [(10**6, 10**9, 10**15), (10**6, 10**12, 2**63 - 2**50), (100, 1, 10**9)])
def test_early_return(args):
    check(early_return, args, native="entered")


@pytest.mark.parametrize("n", [0, 5, 200])
def test_unbound_accumulator(n):
    check(unbound_accumulator, (n,), native="entered")


@pytest.mark.parametrize("n", [10, 62, 63, 64, 100])
def test_self_increment(n):
    check(self_increment, (n,), native="entered")


@pytest.mark.parametrize("k", [3, 2**40, 2**61])
def test_index_arith(k):
    check(index_arith, (np.arange(1000, dtype=np.int64), k), native="entered")


@pytest.mark.parametrize("fn", [with_temp, temp_read_before, temp_assigned_twice])
@pytest.mark.parametrize("n,k", [(10, 3), (CHUNK + 5, 10**5), (CHUNK + 5, 10**7), (CHUNK * 2 + 1, -10**9),
                                 (50, 2**61), (3, 2**62)])
def test_temporaries(fn, n, k):
    check(fn, (n, k), native="entered")


def test_temporary_overflow_boundary():
    n0 = _first_overflow(with_temp, (0, 10**6), 0, 0, 200_000)
    for n in _around(n0):
        check(with_temp, (n, 10**6), native="entered")


# ----------------------------------------------------------------------- the facts themselves
def _ir(fn, *args):
    d = jitted(fn, fresh=True)
    d(*args)
    return d.inspect("ir")


@pytest.mark.skipif(diffharness.FAKE_JIT, reason="needs the real compiler")
def test_facts_in_the_ir():
    assert "int overflow checked per chunk: 3 op(s), 1 accumulator(s)" in _ir(squares_scaled, 10, 2)
    assert "2 accumulator(s)" in _ir(two_updates, 10, 2)
    assert "4 op(s), 1 accumulator(s), 1 temporary(ies)" in _ir(with_temp, 10, 2)
    assert "1 op(s), 0 accumulator(s)" in _ir(temp_read_before, 10, 2)  # only i * k
    assert "temporary" not in _ir(temp_assigned_twice, 10, 2)
    # an increment that reads its accumulator is not bounded: only nothing is hoisted there
    assert "overflow checked per chunk" not in _ir(self_increment, 3)
    # the loop variable rebound in the body: only `i * 3_000_000_000` cannot be bounded... nor anything reading i
    assert "overflow checked per chunk" not in _ir(loop_var_rebound, 3)


@pytest.mark.skipif(diffharness.FAKE_JIT, reason="needs the real compiler")
def test_fast_chunk_has_no_overflow_checks():
    """The optimised code of `s += i * i * k` has the chunk's range check (128-bit compares against
    int64's limits) and keeps the checked copy of the loop for chunks that fail it."""
    d = jitted(squares_scaled, fresh=True)
    d(10, 2)
    ll = d.inspect("llvm")
    assert "icmp slt i128" in ll and "9223372036854775808" in ll
    assert "smul.with.overflow" in ll  # the checked copy is still there
    # and without the pass's facts (an accumulator that reads itself) there is no such check
    d2 = jitted(self_increment, fresh=True)
    d2(3)
    assert "icmp slt i128" not in d2.inspect("llvm")


# ----------------------------------------------------------------------- Level 3: the same per strip
@pytest.mark.skipif(diffharness.FAKE_JIT, reason="needs the real compiler")
@pytest.mark.parametrize("fn,args", [(squares_scaled, (n, 80_000)) for n in SQUARE_CASES_80K] +
                         [(negative_step, (CHUNK * 3, 10**13)), (invariant_product, (CHUNK + 7, 2**31, 2**31)),
                          (invariant_product, (CHUNK + 7, 3037000499, 3037000499))])
def test_level3_parallel_reduction(fn, args, monkeypatch):
    """A parallel int reduction: each worker's strip checks its own partial sum's range."""
    monkeypatch.setenv("EPOCHPP_PARALLEL_MIN_WORK", "0")
    epochpp = diffharness.get_epochpp()
    d = epochpp.jit(fn, level=3)
    check(fn, args, native="entered", disp=d)
    ir = d.inspect("ir")
    assert "for[parallel]" in ir and "overflow checked per chunk" in ir


# ----------------------------------------------------------------------- seeded random shapes
_TEMPLATE = '''
def f{idx}(n, a, b):
    s = {s0}
    for i in range({start}, n, {step}):
        {temp}
        s {op}= {expr}
        {cond}
    return s
'''


def _random_module(tmp_path, seed, count=24):
    import importlib.util
    import random
    rnd = random.Random(seed)
    src = []
    for idx in range(count):
        temp = rnd.choice(["t = i * a + {c}", "t = a - i", "pass", "t = i"]).format(c=rnd.choice([1, -7, 2**40]))
        uses_t = temp.startswith("t =")
        exprs = ["i * a", "a * b - i", "i * i", "b", "i * i * a"] + (["t * b", "t - b", "t * t"] if uses_t else [])
        src.append(_TEMPLATE.format(
            idx=idx, s0=rnd.choice([0, 1, -2**62, 2**62, 2**63 - 2**20, -2**63 + 5]),
            start=rnd.choice([0, -50_000, 7]), step=rnd.choice([1, 1, 3, -1]),
            temp=temp, op=rnd.choice(["+", "-"]), expr=rnd.choice(exprs),
            cond=rnd.choice(["pass", "if i % 3 == 0:\n            s -= b", "if s > a:\n            s = s + 1"])))
    path = tmp_path / f"ovf_random_{seed}.py"
    path.write_text("".join(src))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, count, rnd


@pytest.mark.parametrize("seed", range(4))
def test_random_shapes(seed, tmp_path):
    mod, count, rnd = _random_module(tmp_path, seed)
    values = [0, 1, -1, 3, 2**20, -2**31, 2**31, 2**40, 3037000499, 2**61, -2**62, 2**62]
    for idx in range(count):
        fn = getattr(mod, f"f{idx}")
        for _ in range(3):
            n = rnd.choice([0, 5, 1000, CHUNK + 3, 2 * CHUNK + 11])
            check(fn, (n, rnd.choice(values), rnd.choice(values)), native="entered")
