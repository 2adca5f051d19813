"""Differential tests: NumPy arrays (dtypes, layouts, views, indexing, creation, element-wise
expressions, reductions, slice assignment, NumPy scalar types and promotion).

Array data are small multiples of 0.25/0.75 so that sums and dot products are exact in any
summation order: results are compared bit for bit. Only transcendental ufuncs (NumPy has its
own SIMD implementations) and reductions over random data opt into a tolerance.
Scalar promotion follows the NumPy that is installed (NEP 50 on NumPy 2): the jit must match
what CPython + this NumPy produce, including numpy scalar result types.
"""

import math

import numpy as np
import pytest

from diffharness import check

DTYPES = [np.float64, np.float32, np.int64, np.int32, np.bool_]
NUMERIC = [np.float64, np.float32, np.int64, np.int32]
FLOATS = [np.float64, np.float32]
INTS = [np.int64, np.int32]
SHAPES = {1: (10,), 2: (4, 6), 3: (2, 3, 4)}
LAYOUTS = ["C", "F", "strided"]


def _values(n, dtype):
    k = np.arange(n)
    if dtype == np.bool_:
        return (k % 3) == 0
    if np.issubdtype(dtype, np.floating):
        return ((k * 7) % 11 - 4.5) * 0.75
    return (k * 7) % 23 - 9


def make(dtype, ndim=1, layout="C", seed=0):
    """Deterministic array: C order, Fortran order, or a strided view into a larger base."""
    shape = SHAPES[ndim]
    if layout == "strided":  # 1-D: base[::2]; 2-D: base[:, ::3]; 3-D: base[::2, :, ::3]
        if ndim == 1:
            big, idx = [shape[0] * 2], (slice(None, None, 2),)
        elif ndim == 2:
            big, idx = [shape[0], shape[1] * 3], (slice(None), slice(None, None, 3))
        else:
            big = [shape[0] * 2, shape[1], shape[2] * 3]
            idx = (slice(None, None, 2), slice(None), slice(None, None, 3))
        base = _values(int(np.prod(big)) + seed, dtype)[seed:].astype(dtype).reshape(big)
        v = base[idx]
        assert v.shape == shape and not v.flags.c_contiguous
        return v
    a = _values(int(np.prod(shape)) + seed, dtype)[seed:].astype(dtype).reshape(shape)
    if layout == "F":
        a = np.asfortranarray(a)
    return a


def fac(*specs):
    """Argument factory: each spec is (dtype, ndim, layout[, seed]) or a plain value."""

    def build():
        out = []
        for s in specs:
            if isinstance(s, tuple) and s and isinstance(s[0], type):
                out.append(make(*s))
            else:
                out.append(s.copy() if isinstance(s, np.ndarray) else s)
        return tuple(out)

    names = []
    for s in specs:
        if isinstance(s, tuple) and s and isinstance(s[0], type):
            names.append(f"{np.dtype(s[0]).name}{s[1] if len(s) > 1 else 1}d"
                         f"{s[2] if len(s) > 2 else 'C'}")
        elif isinstance(s, np.ndarray):
            names.append(f"arr{s.dtype}")
        else:
            names.append(repr(s))
    build.__name__ = "_".join(names)
    return build


def P(fn, factory, **kw):
    return pytest.param(fn, factory, kw, id=f"{fn.__name__}-{factory.__name__}")


def run_cases(items):
    return pytest.mark.parametrize("fn,args,kw", items)


# ------------------------------------------------------------ element access, loops
def sum_index_1d(a):
    s = 0
    for i in range(len(a)):
        s += a[i]
    return s


def sum_iter_1d(a):
    s = 0.0
    for x in a:
        s += x
    return s


def sum_2d(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s += a[i, j] * (i + 1) - j
    return s


def sum_3d(a):
    s = 0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            for k in range(a.shape[2]):
                s += a[i, j, k]
    return s


def elem(a, i):
    return a[i]


def elem2(a, i, j):
    return a[i, j]


def neg_index(a):
    return a[-1], a[-len(a)], a[-2]


def elem_types(a):
    x = a[0]
    return x, x + 1, x * 2.5, x > 0, float(x), int(x), abs(x)


ACCESS = []
for _dt in DTYPES:
    for _lay in LAYOUTS:
        ACCESS.append(P(sum_index_1d, fac((_dt, 1, _lay))))
        ACCESS.append(P(sum_2d, fac((_dt, 2, _lay))))
    ACCESS.append(P(sum_iter_1d, fac((_dt, 1, "strided"))))
    ACCESS.append(P(sum_3d, fac((_dt, 3, "F"))))
    ACCESS.append(P(neg_index, fac((_dt, 1, "C"))))
    ACCESS.append(P(elem_types, fac((_dt, 1, "C"))))
    ACCESS.append(P(elem2, fac((_dt, 2, "strided"), -1, 2)))
ACCESS += [P(sum_3d, fac((np.float64, 3, "strided"))), P(sum_3d, fac((np.int32, 3, "C"))),
           P(elem, fac((np.float64, 1, "C"), 3)), P(elem, fac((np.int32, 1, "strided"), -10)),
           P(elem2, fac((np.float32, 2, "F"), 3, -6)), P(elem2, fac((np.int64, 2, "C"), -4, 5))]


@run_cases(ACCESS)
def test_element_access(fn, args, kw):
    check(fn, args, **kw)


# ----------------------------------------------------------------------- properties
def props(a):
    return a.shape, a.size, a.ndim, len(a)


def props_loop(a):
    n = 0
    for i in range(a.size):
        n += 1
    return n + a.shape[-1]


PROPS = [P(props, fac((dt, nd, lay))) for dt in (np.float64, np.int32) for nd in (1, 2, 3)
         for lay in LAYOUTS]
PROPS += [P(props_loop, fac((np.float32, 2, "F")))]


@run_cases(PROPS)
def test_properties(fn, args, kw):
    check(fn, args, **kw)


# ---------------------------------------------------------------------------- views
def slice_view_sum(a, i, j):
    b = a[i:j]
    s = 0.0
    for x in b:
        s += x
    return s, len(b)


def slice_step(a, i, j, k):
    return a[i:j:k]


def slice_write_through(a):
    v = a[2:5]
    v[0] = 99
    v[-1] = -1
    return a


def column_view(a, j):
    c = a[:, j]
    c[0] = 100
    return c, a


def row_view(a, i):
    r = a[i]
    r[1] = 7
    return r.shape, a


def plane_view(a):
    p = a[1]
    p[0, 0] = -5
    return p[0, 0] + a[1, 0, 0], p.shape


def view_of_view(a):
    v = a[1:-1][::2]
    v[0] = 42
    return v


VIEWS = []
for _dt in NUMERIC:
    VIEWS += [P(slice_view_sum, fac((_dt, 1, "C"), 2, 7)),
              P(slice_view_sum, fac((_dt, 1, "strided"), -4, 100)),
              P(slice_write_through, fac((_dt, 1, "strided"))),
              P(column_view, fac((_dt, 2, "F"), 2)),
              P(row_view, fac((_dt, 2, "strided"), -1))]
VIEWS += [P(slice_view_sum, fac((np.float64, 1, "C"), 7, 2)),
          P(slice_view_sum, fac((np.float64, 1, "C"), -100, 3)),
          P(slice_step, fac((np.float64, 1, "C"), 1, 9, 3)),
          P(slice_step, fac((np.float64, 1, "C"), None, None, -1)),
          P(slice_step, fac((np.int32, 1, "strided"), 8, 1, -2)),
          P(slice_step, fac((np.float32, 1, "C"), -2, -9, -3)),
          P(slice_step, fac((np.int64, 1, "C"), 0, 10, 20)),
          P(column_view, fac((np.float64, 2, "C"), -1)),
          P(column_view, fac((np.int32, 2, "strided"), 0)),
          P(row_view, fac((np.float64, 2, "C"), 0)),
          P(plane_view, fac((np.float64, 3, "C"))),
          P(plane_view, fac((np.int32, 3, "F"))),
          P(view_of_view, fac((np.float64, 1, "C"))),
          P(view_of_view, fac((np.int64, 1, "strided")))]


@run_cases(VIEWS)
def test_views(fn, args, kw):
    check(fn, args, **kw)


# ------------------------------------------------------------------ slice assignment
def assign_slice_scalar(a, v):
    a[1:4] = v
    return a


def assign_slice_step(a):
    a[::2] = a[1::2]
    return a


def assign_overlap(a):
    a[1:] = a[:-1]
    return a


def assign_all(a):
    a[:] = a * 2 + 1
    return a


def assign_row_col(a):
    a[1, :] = 5
    a[:, 0] = a[:, 1]
    return a


def assign_elem(a, i, v):
    a[i] = v
    return a[i]


ASSIGN = []
for _dt in NUMERIC:
    ASSIGN += [P(assign_slice_scalar, fac((_dt, 1, "C"), 2.75)),
               P(assign_slice_step, fac((_dt, 1, "strided"))),
               P(assign_overlap, fac((_dt, 1, "C"))),
               P(assign_all, fac((_dt, 1, "strided"))),
               P(assign_row_col, fac((_dt, 2, "F")))]
    for _v in (3, -2.7, True):
        ASSIGN.append(P(assign_elem, fac((_dt, 1, "C"), 4, _v)))
ASSIGN += [P(assign_slice_scalar, fac((np.bool_, 1, "C"), 5)),
           P(assign_elem, fac((np.bool_, 1, "C"), -1, 0.0)),
           P(assign_overlap, fac((np.float64, 1, "strided"))),
           P(assign_row_col, fac((np.int32, 2, "strided"))),
           P(assign_all, fac((np.float32, 1, "C")))]


@run_cases(ASSIGN)
def test_slice_assignment(fn, args, kw):
    check(fn, args, **kw)


# --------------------------------------------------------------------------- creation
def c_zeros(n):
    return np.zeros(n)


def c_zeros_2d(n, m):
    return np.zeros((n, m))


def c_zeros_i32(n):
    return np.zeros(n, dtype=np.int32)


def c_ones_f32(n):
    return np.ones(n, np.float32)


def c_ones_2d_int(n):
    return np.ones((n, 2), dtype=np.int64)


def c_full(n, v):
    return np.full(n, v)


def c_full_2d(n, v):
    return np.full((2, n), v)


def c_empty_shape(n, m):
    e = np.empty((n, m))
    return e.shape, e.size


def c_empty_fill(n):
    e = np.empty(n, np.int32)
    for i in range(n):
        e[i] = i * 3
    return e


def c_zeros_like(a):
    z = np.zeros_like(a)
    z[0] = a[1]
    return z


def c_empty_like(a):
    e = np.empty_like(a)
    e[:] = 1
    return e, e.shape


def c_arange(n):
    return np.arange(n)


def c_arange2(a, b):
    return np.arange(a, b)


def c_arange3(a, b, s):
    return np.arange(a, b, s)


def c_copy(a):
    c = a.copy()
    c[0] = 77
    return c, a


def c_fill_loop(n):
    out = np.zeros(n)
    for i in range(n):
        out[i] = i * i * 0.5
    return out


CREATE = [P(c_zeros, fac(5)), P(c_zeros, fac(0)), P(c_zeros_2d, fac(2, 3)),
          P(c_zeros_i32, fac(4)), P(c_ones_f32, fac(3)), P(c_ones_2d_int, fac(3)),
          P(c_full, fac(4, 2.5)), P(c_full, fac(4, 7)), P(c_full, fac(3, True)),
          P(c_full_2d, fac(3, -1.5)), P(c_empty_shape, fac(3, 4)), P(c_empty_fill, fac(6)),
          P(c_arange, fac(6)), P(c_arange, fac(0)), P(c_arange, fac(-2)),
          P(c_arange2, fac(-3, 4)), P(c_arange2, fac(1.5, 4)), P(c_arange3, fac(0.0, 1.0, 0.25)),
          P(c_arange3, fac(5, 0, -1)), P(c_arange3, fac(10, 1, -3)), P(c_fill_loop, fac(7))]
for _dt in DTYPES:
    CREATE += [P(c_zeros_like, fac((_dt, 1, "C"))), P(c_empty_like, fac((_dt, 2, "F"))),
               P(c_copy, fac((_dt, 1, "strided"))), P(c_copy, fac((_dt, 2, "F")))]


@run_cases(CREATE)
def test_creation(fn, args, kw):
    check(fn, args, **kw)


# ------------------------------------------------------------------ element-wise ops
def ew_arith(a, b):
    return a + b, a - b, a * b


def ew_div(a, b):
    return a / b


def ew_floordiv(a, b):
    return a // b


def ew_pow2(a):
    return a ** 2


def ew_pow_arrays(a, b):
    return np.abs(a) ** b, a ** 3


def ew_scalar(a):
    return a + 1, 2.5 * a, -a, a - 0.5


def ew_compare(a, b):
    return a > b, a == b, a <= 0.5


def ew_exact_funcs(a, b):
    return np.sqrt(np.abs(a)), np.minimum(a, b), np.maximum(a, 0.0), np.abs(a)


def ew_where(a):
    return np.where(a > 0, a, -a), np.where(a > 1, a, 0.0)


def ew_transcendental(a):
    return np.exp(a), np.log(np.abs(a) + 1), np.sin(a), np.cos(a), np.tanh(a)


def ew_fused(a, b):
    return np.sqrt(a * a + b * b) / (1.0 + np.abs(a - b))


def ew_into(a, b):
    a[:] = np.maximum(a, b) * 0.5
    return a


EW = []
for _dt in NUMERIC:
    for _lay in ("C", "strided"):
        EW += [P(ew_arith, fac((_dt, 1, _lay), (_dt, 1, "C", 3))),
               P(ew_div, fac((_dt, 1, _lay), (_dt, 1, "C", 1))),
               P(ew_floordiv, fac((_dt, 1, _lay), (_dt, 1, "C", 2))),
               P(ew_compare, fac((_dt, 1, _lay), (_dt, 1, "C", 5))),
               P(ew_exact_funcs, fac((_dt, 1, _lay), (_dt, 1, "C", 4)))]
    EW += [P(ew_pow2, fac((_dt, 2, "F"))), P(ew_scalar, fac((_dt, 2, "strided"))),
           P(ew_where, fac((_dt, 1, "C"))), P(ew_arith, fac((_dt, 2, "F"), (_dt, 2, "C"))),
           P(ew_into, fac((_dt, 2, "F"), (_dt, 2, "strided")))]
for _dt, _tol in ((np.float64, 1e-14), (np.float32, 2e-6)):
    for _lay in ("C", "F", "strided"):
        EW.append(P(ew_transcendental, fac((_dt, 2, _lay)), rtol=_tol, atol=_tol))
EW += [P(ew_fused, fac((np.float64, 1, "C"), (np.float64, 1, "strided", 2))),
       P(ew_fused, fac((np.float32, 2, "F"), (np.float32, 2, "C", 1))),
       P(ew_arith, fac((np.float32, 1, "C"), (np.float64, 1, "C"))),
       P(ew_arith, fac((np.int32, 1, "C"), (np.float32, 1, "C"))),
       P(ew_arith, fac((np.int32, 1, "C"), (np.int64, 1, "C"))),
       P(ew_arith, fac((np.bool_, 1, "C"), (np.int32, 1, "C"))),
       P(ew_div, fac((np.int64, 1, "C"), (np.float32, 1, "C"))),
       P(ew_pow_arrays, fac((np.float64, 1, "C"), (np.float64, 1, "strided", 1)),
         rtol=1e-14, atol=0.0),
       P(ew_pow_arrays, fac((np.float32, 2, "F"), (np.float32, 2, "C", 2)),
         rtol=2e-6, atol=0.0),
       P(ew_pow_arrays, fac((np.int64, 1, "C"), np.arange(10) % 4))]


@run_cases(EW)
def test_elementwise(fn, args, kw):
    check(fn, args, **kw)


# ------------------------------------------------------------------------ reductions
def r_funcs(a):
    return np.sum(a), np.min(a), np.max(a), np.mean(a)


def r_methods(a):
    return a.sum(), a.min(), a.max(), a.mean()


def r_arg(a):
    return np.argmin(a), np.argmax(a), a.argmin(), a.argmax()


def r_dot(a, b):
    return np.dot(a, b)


def r_in_loop(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += np.sum(a[i]) * np.max(a[i])
    return s


def _ties():
    return (np.array([3.0, -1.0, 7.0, -1.0, 7.0, 2.0]),)


REDUCE = []
for _dt in DTYPES:
    for _nd, _lay in ((1, "C"), (1, "strided"), (2, "F"), (3, "strided")):
        REDUCE.append(P(r_funcs, fac((_dt, _nd, _lay))))
    REDUCE += [P(r_methods, fac((_dt, 2, "C"))), P(r_arg, fac((_dt, 1, "strided"))),
               P(r_dot, fac((_dt, 1, "C"), (_dt, 1, "strided", 1)))]
REDUCE += [P(r_arg, _ties), P(r_in_loop, fac((np.float64, 2, "F"))),
           P(r_in_loop, fac((np.int32, 2, "strided"))),
           P(r_dot, fac((np.float32, 1, "C"), (np.float64, 1, "C"))),
           P(r_dot, fac((np.int32, 1, "C"), (np.int64, 1, "C")))]


@run_cases(REDUCE)
def test_reductions(fn, args, kw):
    check(fn, args, **kw)


def _random(n, dtype=np.float64, seed=1):
    def build():
        rng = np.random.default_rng(seed)
        return (rng.standard_normal(n).astype(dtype),)
    build.__name__ = f"random{n}_{np.dtype(dtype).name}"
    return build


def _random_pair(n):
    def build():
        rng = np.random.default_rng(7)
        return rng.standard_normal(n), rng.standard_normal(n)
    build.__name__ = f"randompair{n}"
    return build


@run_cases([P(r_funcs, _random(1001), rtol=1e-12, atol=1e-12),
            P(r_funcs, _random(999, np.float32), rtol=1e-5, atol=1e-5),
            P(r_methods, _random(300), rtol=1e-12, atol=1e-12),
            P(r_arg, _random(500)),
            P(r_dot, _random_pair(777), rtol=1e-12, atol=1e-12)])
def test_reductions_random_data(fn, args, kw):
    check(fn, args, **kw)


# ---------------------------------------------------------- the chunked mixed loop
def chunked(a, n):
    s = 0.0
    for k in range(0, n, 1000):
        s += np.sum(np.sqrt(np.abs(a[k:k + 1000])))
    return s


def _chunk_args(n):
    def build():
        rng = np.random.default_rng(3)
        return rng.standard_normal(n), n
    build.__name__ = f"n{n}"
    return build


@pytest.mark.parametrize("n", [0, 999, 1000, 2500, 20000])
def test_chunked_mixed_loop(n):
    check(chunked, _chunk_args(n), rtol=1e-12)


def test_chunked_mixed_loop_exact_data():
    def build():
        return (np.arange(5000.0) % 17 * 0.25) ** 2 - 3.0, 5000
    check(chunked, build)  # sqrt of exact squares: bit-exact in any order


# ------------------------------------------------- NumPy scalar types and promotion
def i32_wrap_scalar(a):
    return a[0] + a[1], a[0] * 2, a[2] - a[1], -a[2]


def i32_wrap_array(a):
    return a + a, a * 65536, a - 1


def i32_accumulate(a):
    s = 0
    for x in a:
        s += x
    return s


def f32_arith(a):
    x = a[0]
    y = a[1]
    return x * y, x + 0.1, x / 3, x * 1.5 + y, math.sqrt(x), np.sqrt(x)


def f32_accumulate(a):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * 0.1
    return s


def scalar_np_funcs(x):
    return np.sqrt(x), np.abs(-x), np.minimum(x, 1.0), np.maximum(x, 1.0)


def mixed_dtype_scalars(a, b):
    return a[0] + b[0], a[1] * b[1], a[0] > b[0]


def bool_array_logic(a):
    n = 0
    for i in range(len(a)):
        if a[i]:
            n += 1
    return n, np.sum(a), a[0] + a[1], a[0] and True


def _i32_edge():
    return (np.array([2 ** 31 - 1, 1, -(2 ** 31), 5], dtype=np.int32),)


def _i32_big_sum():
    return (np.array([2 ** 31 - 1, 2 ** 31 - 1, 7, 2 ** 30], dtype=np.int32),)


def _f32_data():
    return (np.array([0.1, 3.3, 1e30, -2.5], dtype=np.float32),)


def _f32_many():
    return (np.linspace(0.0, 7.0, 257).astype(np.float32),)


def _mixed():
    return np.array([1.5, 2.25], np.float32), np.array([3, -4], np.int32)


SCALARS = [P(i32_wrap_scalar, _i32_edge), P(i32_wrap_array, _i32_edge),
           P(i32_accumulate, _i32_edge), P(i32_accumulate, _i32_big_sum), P(f32_arith, _f32_data),
           P(f32_accumulate, _f32_many),
           P(scalar_np_funcs, fac(2.0)), P(scalar_np_funcs, fac(7)), P(mixed_dtype_scalars, _mixed),
           P(bool_array_logic, fac((np.bool_, 1, "C"))),
           P(bool_array_logic, fac((np.bool_, 1, "strided")))]


@run_cases(SCALARS)
def test_numpy_scalar_semantics(fn, args, kw):
    check(fn, args, **kw)


# ----------------------------------------------------------- arrays through calls
def helper_get(a, i):
    return a[i] * 2


def helper_fill(a, v):
    for i in range(len(a)):
        a[i] = v
    return len(a)


def calls_with_arrays(a, b):
    n = helper_fill(b[1:3], a[0])
    return helper_get(a, -1) + helper_get(b, 0) + n


def tuple_of_arrays(t):
    a, b = t
    return a[0] + b[0], (a, b)


def matvec(m, v):
    out = np.zeros(m.shape[0])
    for i in range(m.shape[0]):
        s = 0.0
        for j in range(m.shape[1]):
            s += m[i, j] * v[j]
        out[i] = s
    return out


def _tup():
    return ((make(np.float64, 1, "C"), make(np.int64, 1, "strided")),)


def _mv(layout):
    def build():
        return make(np.float64, 2, layout), make(np.float64, 1, "C")[:6]
    build.__name__ = layout
    return build


CALLS = [P(calls_with_arrays, fac((np.float64, 1, "C"), (np.float64, 1, "strided", 2))),
         P(tuple_of_arrays, _tup), P(matvec, _mv("C")), P(matvec, _mv("F")),
         P(matvec, _mv("strided"))]


@run_cases(CALLS)
def test_arrays_through_calls(fn, args, kw):
    check(fn, args, **kw)
