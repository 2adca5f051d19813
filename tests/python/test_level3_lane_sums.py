"""Level 3: a float `+` reduction of a parallel loop, summed in a SIMD lane loop, keeps one sum
per lane (its order is free at Level 3; docs/levels.md "Float reductions are reassociated").

The inputs here are integer-valued floats whose sums stay below 2**53, so every order of the
additions gives CPython's exact answer: a term counted twice (a lane step that bails and is
redone by the scalar loop) or lost (lane sums not added back) changes the result."""
import math
import os

import numpy as np
import pytest

import diffharness

epochpp = diffharness.get_epochpp()
pytestmark = pytest.mark.skipif(diffharness.FAKE_JIT, reason="needs the real compiler")
N = 400_000  # above the parallel work threshold


def dist_total(X):  # pairwise_distances' shape: rows in chunks, columns in lanes, total in lane sums
    n = X.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(X.shape[1]):
                t = X[i, k] - X[j, k]
                s += t * t
            total += math.sqrt(s)
    return total


def bails_at_333(X, off):  # X[j - off] wraps in Python; in lanes the step holding j = 333 bails
    n = X.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(X.shape[1]):
                t = X[i, k] - X[j, k]
                s += t * t
            r = math.sqrt(s)
            if j == 333:
                r = math.sqrt(X[j - off, 0] * X[j - off, 0])
            if r > 50.0:  # a term under a mask
                total += r
    return total


def int_terms(X):
    n = X.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(X.shape[1]):
                t = X[i, k] - X[j, k]
                s += t * t
            total += j - i
    return total


def negated(X, start):
    n = X.shape[0]
    total = start
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(X.shape[1]):
                t = X[i, k] - X[j, k]
                s += t * t
            total += -math.sqrt(s)
    return total


def float_terms(x):  # an innermost loop: LLVM's vectoriser sums it in lanes once the adds may reorder
    t = 0.0
    for i in range(len(x)):
        t += float(x[i])
    return t


def same(a, b):
    return type(a) is type(b) and a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def points(n=700, d=1, seed=3):  # integer-valued coordinates: with d = 1 every distance is exact
    return np.random.default_rng(seed).integers(-1000, 1000, (n, d)).astype(np.float64)


def chunk_ir(f):
    ll = f.inspect("llvm")
    assert "run on all cores" in f.explain(), f.explain()
    par = ll[ll.index("@ep.par."):]
    return par[:par.index("\n}\n")]


def lane_sums(f):
    par = chunk_ir(f)
    return "vector.reduce.fadd" in par and "reassoc" in par


@pytest.mark.parametrize("fn,extra", [(dist_total, ()), (bails_at_333, (400,)), (int_terms, ())])
def test_lane_sums_give_the_exact_sum(fn, extra):
    X = points()
    f3 = epochpp.jit(fn, level=3)
    got, want = f3(X, *extra), fn(X, *extra)
    assert same(got, want), (got, want)
    assert lane_sums(f3)
    f2 = epochpp.jit(fn, level=2)
    assert same(f2(X, *extra), want)
    assert "reassoc" not in f2.inspect("llvm")  # Level 2 adds in CPython's order


def test_lane_sums_round_like_a_reordered_sum():
    X = np.random.default_rng(4).standard_normal((700, 3))
    got, want = epochpp.jit(dist_total, level=3)(X), dist_total(X)
    assert got == pytest.approx(want, rel=1e-12)


def test_an_index_error_in_a_lane_step_stays_cpythons():
    X = points()  # j - 1100 is below -700 at j = 333: IndexError in CPython
    with pytest.raises(IndexError):
        bails_at_333(X, 1100)
    with pytest.raises(IndexError):
        epochpp.jit(bails_at_333, level=3)(X, 1100)


def test_negative_zero_terms_keep_the_sign_python_gives():
    X = np.zeros((700, 1))  # every term is -0.0
    f3 = epochpp.jit(negated, level=3)
    for start in (0.0, -0.0):
        got, want = f3(X, start), negated(X, start)
        assert same(got, want), (start, got, want)
    assert lane_sums(f3)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_and_inf_terms():
    X = points()
    f3 = epochpp.jit(dist_total, level=3)
    X[400, 0] = 1e200  # its distances square to inf
    assert f3(X) == dist_total(X) == math.inf
    X[400, 0] = np.nan
    assert math.isnan(f3(X)) and math.isnan(dist_total(X))


def test_innermost_float_sum_is_vectorised_and_exact_on_integers():
    x = points(n=400_000).ravel()
    f3 = epochpp.jit(float_terms, level=3)
    assert same(f3(x), float_terms(x))
    assert "fadd reassoc <" in chunk_ir(f3)
    y = np.random.default_rng(5).random(400_000)
    assert f3(y) == pytest.approx(float_terms(y), rel=1e-12)


DET = """
import sys
import numpy as np
sys.path.insert(0, %r)
from test_level3_lane_sums import dist_total, epochpp
f = epochpp.jit(dist_total, level=3)
print(repr(f(np.random.default_rng(1).standard_normal((500, 3)))), "vector.reduce.fadd" in f.inspect("llvm"))
""" % os.path.dirname(os.path.abspath(__file__))


def test_lane_sums_give_the_same_bits_for_any_thread_count(tmp_path):
    script = tmp_path / "det.py"
    script.write_text(DET)
    outs = diffharness.outputs_per_thread_count(script, (1, 2, 5))
    assert len(outs) == 1 and outs.pop().endswith("True"), outs
