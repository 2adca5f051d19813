"""Bad input (issue 8): every kind of argument a user can pass gives CPython's behaviour.

Each category runs a few representative kernels -- a scalar loop, an array read loop (a sum),
an array write loop (out[i] = a[i] * 2), a function using np.sum/np.sqrt and a 2-D kernel --
under CPython and under epochpp.jit (Levels 2 and 3; Level 3 with EPOCHPP_PARALLEL_MIN_WORK=0
so that parallel loops really run on the workers), and requires the same value and type, or
the same exception type and message (diffharness.check), and the same array arguments after
the call. Arguments that compiled code does not take must reach the interpreter (exact); those
it takes must run natively where the test says so (native=True), so a silent fallback of a
supported case fails too.
"""
import decimal
import fractions
import math
import sys

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import diffharness
from bad_input_helpers import _vid, disp, epochpp, halves, huge_virtual, level, same, same_huge  # noqa: F401 (level: a fixture)

pytestmark = pytest.mark.skipif(diffharness.FAKE_JIT, reason="needs the real compiler")

# ---------------------------------------------------------------------------------- kernels
def scalar_loop(n, x):
    s = 0
    for i in range(n):
        s += i * x
        if i >= 5:
            break
    return s


def array_sum(a):
    s = 0.0
    for i in range(len(a)):
        s += a[i]
    return s


def array_scale(a, out):
    for i in range(len(a)):
        out[i] = a[i] * 2
    return out


def np_funcs(a):
    return np.sum(np.sqrt(a))


def kernel2d(m):
    s = 0.0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            s += m[i, j] * (i + 1)
    return s


def heavy_map(a, out):
    # enough work per iteration that Level 3 runs it on the workers (see test_heavy_map_is_parallel)
    for i in range(len(a)):
        out[i] = math.sin(a[i]) * math.cos(a[i]) + math.sqrt(abs(a[i])) + i
    return out


def heavy_two_writes(x, y):
    for i in range(len(x)):
        x[i] = math.sin(i) * math.cos(i) + math.sqrt(i)
        y[i] = math.cos(i) * math.sin(i) - math.sqrt(i)
    return x


def write2d(m, out):
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            out[i, j] = m[i, j] + 1.0
    return out


ARRAY_KERNELS = [array_sum, np_funcs]


# ----------------------------------------------------------------------- wrong types
class IntSub(int):
    pass


class FloatSub(float):
    pass


class Thing:
    """Any other object (equal to its deep copies, so the harness can compare arguments)."""

    def __eq__(self, other):
        return type(other) is Thing

    __hash__ = object.__hash__


NP_SCALARS = [np.bool_(True), np.int8(3), np.int16(3), np.int32(3), np.int64(3), np.uint8(3), np.uint16(3),
              np.uint32(3), np.uint64(3), np.float16(1.5), np.float32(1.5), np.float64(1.5), np.complex64(1 + 2j),
              np.complex128(1 + 2j), np.longlong(3), np.intc(3), np.longdouble(1.5)]

WRONG_VALUES = ["ab", "", [1.0, 2.0], (1.0, 2.0), (), {0: 1.0}, {1.0}, 1 + 2j, fractions.Fraction(3, 2),
                decimal.Decimal("1.5"), True, False, IntSub(3), FloatSub(1.5), 2 ** 63, -2 ** 63 - 1, 2 ** 63 - 1,
                -2 ** 63, 2 ** 62, 10 ** 30, -0.0, math.inf, math.nan, None, Thing(), b"ab",
                bytearray(b"ab"), range(3), *NP_SCALARS]


@pytest.mark.parametrize("v", WRONG_VALUES, ids=_vid)
def test_wrong_types_scalar_kernel(v, level):
    same(scalar_loop, (3, v), level)  # as x: multiplied
    if not (isinstance(v, int) and v > 2 ** 40):  # range(huge) would loop: the kernel breaks at 5 anyway
        same(scalar_loop, (v, 2), level)  # as n: range(n)
    same(scalar_loop, (0, v), level)  # never used: no error in CPython either


@pytest.mark.parametrize("v", WRONG_VALUES, ids=_vid)
@pytest.mark.parametrize("fn", ARRAY_KERNELS + [kernel2d], ids=lambda f: f.__name__)
def test_wrong_types_array_kernels(fn, v, level):
    same(fn, (v,), level)


@pytest.mark.parametrize("v", WRONG_VALUES, ids=_vid)
def test_wrong_types_write_kernel(v, level):
    same(array_scale, lambda: (v, np.zeros(3)), level)
    same(array_scale, lambda: (halves(3), v), level)


def test_supported_scalars_run_natively(level):
    for v in (3, True, np.int32(3), np.int64(3), np.float32(1.5), np.float64(1.5), np.bool_(True), 2.5, -0.0):
        same(scalar_loop, (4, v), level, native=True)
    for n in (4, True, False, np.int32(4), np.int64(4), -3):  # range() takes what has __index__ (not np.bool_)
        same(scalar_loop, (n, 1.5), level, native=True)


def test_int64_edges_deopt_to_big_ints(level):
    # the products overflow int64 inside the compiled loop: the interpreter's big int comes back
    for x in (2 ** 62, -2 ** 62, 2 ** 63 - 1, -2 ** 63):
        same(scalar_loop, (4, x), level)


# ------------------------------------------------------------ argument counts, keywords
def with_default(a, k=2):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * k
    return s


def star_args(*args):
    s = 0.0
    for x in args:
        s += x
    return s


def kw_only(a, *, k):
    return a * k


def pos_only(a, b, /):
    return a - b


ALL_KERNELS = [scalar_loop, array_sum, array_scale, np_funcs, kernel2d]


def _good_args(fn):
    return {scalar_loop: lambda: (3, 1.5), array_sum: lambda: (halves(5),), array_scale: lambda: (halves(5), np.zeros(5)),
            np_funcs: lambda: (halves(5),), kernel2d: lambda: (halves(6).reshape(2, 3),)}[fn]


def _call_with(fn, args, kwargs):
    """A function of the same name calling fn(*args, **kwargs): check() needs a positional call."""
    return fn(*args, **kwargs)


@pytest.mark.parametrize("fn", ALL_KERNELS, ids=lambda f: f.__name__)
def test_wrong_argument_counts(fn, level):
    d = disp(fn, level)
    good = _good_args(fn)()
    for args in ((), good[:-1], good + (1,), good + (None, None)):
        with pytest.raises(TypeError) as py:
            fn(*args)
        with pytest.raises(TypeError) as jt:
            d(*args)
        assert str(jt.value) == str(py.value)
    same(fn, _good_args(fn), level, native=True)  # the dispatcher still works afterwards


def _outcome(callee, args, kwargs):
    try:
        return ("ok", callee(*args, **kwargs))
    except Exception as e:  # noqa: BLE001 - compared by the caller
        return ("exc", type(e), str(e))


def same_call(fn, d, make):
    """fn(*args, **kwargs) and d(*args, **kwargs) with fresh arguments from make(): same outcome."""
    expected, got = _outcome(fn, *make()), _outcome(d, *make())
    assert got[0] == expected[0], (expected, got)
    if got[0] == "ok":
        assert diffharness.diff(expected[1], got[1]) is None, (expected, got)
    else:
        assert got[1:] == expected[1:]


@pytest.mark.parametrize("fn", ALL_KERNELS, ids=lambda f: f.__name__)
def test_keyword_arguments(fn, level):
    import inspect
    d = disp(fn, level)
    names = list(inspect.signature(fn).parameters)
    good = _good_args(fn)
    calls = [
        lambda: ((), dict(zip(names, good()))),  # all by keyword
        lambda: (good()[:1], dict(zip(names[1:], good()[1:]))),  # mixed
        lambda: (good(), {"bogus": 1}),  # unknown keyword
        lambda: (good(), {names[0]: good()[0]}),  # given twice
        lambda: (good()[:-1], {"bogus": 1}),  # missing one, unknown one
        lambda: ((), {}),
    ]
    for make in calls:
        same_call(fn, d, make)
    same(fn, good, level, native=True)  # positional calls still run natively


def test_defaults_star_args_keyword_only(level):
    same(with_default, (halves(4),), level)
    same(with_default, (halves(4), 3), level)
    same(with_default, (halves(4), 2.5), level)
    same(with_default, ("x",), level)
    same(star_args, (), level)
    same(star_args, (1.0, 2, True), level)
    same(star_args, (1.0, "x"), level)
    same(kw_only, (2,), level)  # missing keyword-only argument: TypeError
    assert disp(kw_only, level)(2, k=3) == 6
    same(pos_only, (5, 2), level)
    with pytest.raises(TypeError) as py:
        pos_only(a=5, b=2)
    with pytest.raises(TypeError) as jt:
        disp(pos_only, level)(a=5, b=2)
    assert str(jt.value) == str(py.value)


# -------------------------------------------------------------------------------- None
@pytest.mark.parametrize("fn", ALL_KERNELS, ids=lambda f: f.__name__)
def test_none_in_each_position(fn, level):
    good = _good_args(fn)()
    for k in range(len(good)):
        same(fn, lambda: tuple(None if j == k else x for j, x in enumerate(_good_args(fn)())), level)


def none_default(a, scale):
    if scale is None:
        scale = 1.0
    s = 0.0
    for i in range(len(a)):
        s += a[i] * scale
    return s


def maybe_none(x):
    if x == None:  # noqa: E711 - the compiled == None path
        return -1
    return x * 2


def test_none_where_the_code_expects_it(level):
    same(maybe_none, (None,), level)
    same(maybe_none, (3,), level, native=True)
    same(maybe_none, (np.float32(2),), level)
    same(none_default, (halves(3), None), level)
    same(none_default, (halves(3), 2.0), level)  # `is` is not compiled: the interpreter runs it


# ----------------------------------------------------------------------- zero-size arrays
ZERO_SHAPES = [(0,), (0, 3), (3, 0), (0, 0), (0, 2, 2), (2, 0, 2)]


@pytest.mark.parametrize("shape", ZERO_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.float32, np.int32, np.bool_], ids=lambda d: d.__name__)
def test_zero_size_arrays(shape, dtype, level):
    for fn in (array_sum, np_funcs, kernel2d):
        same(fn, lambda: (np.zeros(shape, dtype),), level)
    same(array_scale, lambda: (np.zeros(shape, dtype), np.zeros(shape, dtype)), level)
    same(array_scale, lambda: (np.zeros(shape, dtype), np.zeros((0,), dtype)), level)
    same(write2d, lambda: (np.zeros(shape, dtype), np.zeros(shape, dtype)), level)


def test_zero_size_runs_natively(level):
    same(array_sum, lambda: (np.zeros(0),), level, native=True)
    same(kernel2d, lambda: (np.zeros((0, 3)),), level, native=True)
    same(kernel2d, lambda: (np.zeros((3, 0)),), level, native=True)
    same(np_funcs, lambda: (np.zeros((3, 0)),), level, native=True)
    same(array_scale, lambda: (np.zeros(0), np.zeros(0)), level, native=True)
    # m.shape[1] of a 1-D array is never evaluated when the outer loop does not run
    same(kernel2d, lambda: (np.zeros(0),), level)
    same(kernel2d, lambda: (np.zeros(2),), level)


def positive_sum(a):
    s = 0.0
    for i in range(len(a)):
        if a[i] > 0:
            s += a[i]
    return s


def test_reduction_with_no_update_keeps_its_type(level):
    # Level 3: a chunk that never adds leaves s a Python float (it was np.float64 before the fix)
    same(positive_sum, lambda: (-halves(64),), level, native=True)
    same(positive_sum, lambda: (np.where(np.arange(64) < 60, -1.0, 2.0),), level, native=True)
    same(positive_sum, lambda: (np.where(np.arange(64) < 60, -1, 2).astype(np.int32),), level, native=True)
    same(kernel2d, lambda: (np.zeros((64, 0)),), level, native=True)


# ------------------------------------------------------------------------- huge arrays
def at(a, i):
    return a[i]


def at2(m, i, j):
    return m[i, j]


def put(a, i, v):
    a[i] = v
    return a[i]


def ends(a):
    return a[len(a) - 1] + a[-1] + a[0], len(a), a.size


def corner(m):
    return m[m.shape[0] - 1, m.shape[1] - 1], m.shape[0] * m.shape[1], m.size


@pytest.mark.parametrize("n", [2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32 + 3, 2 ** 40, 2 ** 59])
def test_huge_virtual_arrays(n, level):
    same_huge(ends, lambda: (huge_virtual((n,)),), level)
    for i in (n - 1, -n, n, -n - 1, 2 ** 31, -2 ** 31 - 1):
        same_huge(at, lambda: (huge_virtual((n,)), i), level)
    if 3 * n * 8 >= 2 ** 63:
        return  # NumPy: "array is too big" (its size in bytes must fit an intp)
    same_huge(corner, lambda: (huge_virtual((n, 3)),), level)
    same_huge(corner, lambda: (huge_virtual((3, n)),), level)
    for i, j in ((n - 1, 2), (2, n), (-n, -3), (2 ** 31, 0), (0, 3)):
        same_huge(at2, lambda: (huge_virtual((n, 3)), i, j), level)


@pytest.fixture(scope="module")
def big_bytes():
    """2**31 + 64 bytes of zeros: calloc'd, so only the pages touched cost memory."""
    return np.zeros(2 ** 31 + 64, dtype=np.uint8)


def test_offsets_beyond_2_31_bytes(big_bytes, level):
    # real memory past 2 GiB: index * itemsize no longer fits an int32 (the harness would copy
    # and compare 2 GiB arrays, so the outcomes are compared here; `put` writes the same value
    # twice, so the second run sees what the first left)
    f64 = big_bytes.view(np.float64)  # 2**28 + 8 elements
    boolean = big_bytes.view(np.bool_)  # 2**31 + 64 elements
    n = len(f64)
    cases = [
        (at, lambda: (f64, n - 1)), (at, lambda: (f64, 2 ** 28 + 3)), (at, lambda: (f64, -n)),
        (at, lambda: (f64, n)), (at, lambda: (boolean, 2 ** 31 + 5)), (at, lambda: (boolean, -(2 ** 31))),
        (at, lambda: (boolean, 2 ** 31 + 64)),
        (put, lambda: (f64, 2 ** 28 + 5, 2.5)), (put, lambda: (f64, -1, -1.5)), (put, lambda: (boolean, 2 ** 31 + 7, True)),
        (ends, lambda: (f64,)), (ends, lambda: (boolean,)),
        (at2, lambda: (f64[:2 ** 28].reshape(2 ** 14, 2 ** 14), 2 ** 14 - 1, 2 ** 14 - 1)),
        (at2, lambda: (f64[:2 ** 28].reshape(2 ** 14, 2 ** 14).T, 3, 2 ** 14 - 2)),
        (at2, lambda: (boolean[:2 ** 31].reshape(2, -1), 1, 2 ** 30 + 9)),
    ]
    for fn, make in cases:
        same_huge(fn, make, level)
    assert f64[2 ** 28 + 5] == 2.5 and f64[-1] == -1.5 and boolean[2 ** 31 + 7]


# ---------------------------------------------------------------------- read-only arrays
def readonly(a):
    a.setflags(write=False)
    return a


def ro_view(shape=(6,)):
    """A view of a read-only base: not writeable either."""
    base = readonly(halves(int(np.prod(shape)) + 1))
    return base[1:].reshape(shape)


def fill_then_fail(a, out):
    for i in range(len(a)):
        out[i] = a[i]
    return out


def test_read_only_arrays(level):
    # reading runs natively
    same(array_sum, lambda: (readonly(halves(6)),), level, native=True)
    same(np_funcs, lambda: (readonly(halves(6)),), level, native=True)
    same(kernel2d, lambda: (readonly(halves(6).reshape(2, 3)),), level, native=True)
    same(array_sum, lambda: (ro_view(),), level, native=True)
    # writing raises NumPy's ValueError (writes to the other arrays before it stay made)
    same(array_scale, lambda: (halves(4), readonly(np.zeros(4))), level)
    same(array_scale, lambda: (halves(4), ro_view((4,))), level)
    same(write2d, lambda: (halves(6).reshape(2, 3), readonly(np.zeros((2, 3)))), level)
    same(heavy_map, lambda: (halves(64), readonly(np.zeros(64))), level)
    same(put, lambda: (readonly(np.zeros(3)), 1, 2.0), level)
    same(put, lambda: (readonly(np.zeros(3)), 7, 2.0), level)  # IndexError? CPython says which comes first
    # a read-only output is fine when nothing is written
    same(array_scale, lambda: (halves(0), readonly(np.zeros(4))), level)
    # the same array object, writeable again after a read-only call: a new signature
    a = halves(4)
    a.setflags(write=False)
    with pytest.raises(ValueError, match="assignment destination is read-only"):
        disp(array_scale, level)(halves(4), a)
    a.setflags(write=True)
    assert disp(array_scale, level)(halves(4), a) is a and list(a) == [0.0, 1.0, 2.0, 3.0]


# ------------------------------------------------------------ byte order, layout, odd arrays
def byteswapped(dtype, n=6):
    return halves(n).astype(np.dtype(dtype).newbyteorder(">" if sys.byteorder == "little" else "<"))


@pytest.mark.parametrize("dtype", ["f8", "i4", "i8", "f4"])
def test_non_native_byte_order(dtype, level):
    for fn in (array_sum, np_funcs):
        same(fn, lambda: (byteswapped(dtype),), level)
    same(kernel2d, lambda: (byteswapped(dtype).reshape(2, 3),), level)
    same(array_scale, lambda: (byteswapped(dtype), np.zeros(6)), level)
    same(array_scale, lambda: (halves(6), byteswapped(dtype)), level)


def unaligned(n=6):
    raw = np.zeros(n * 8 + 1, np.uint8)[1:]
    a = raw.view(np.float64)
    a[:] = halves(n)
    return a


def test_unaligned_arrays(level):
    same(array_sum, lambda: (unaligned(),), level)
    same(array_scale, lambda: (halves(6), unaligned()), level)


VIEWS = {
    "strided": lambda: halves(12)[::2],
    "reversed": lambda: halves(6)[::-1],
    "reversed-strided": lambda: halves(12)[::-3],
    "fortran": lambda: np.asfortranarray(halves(6).reshape(2, 3)),
    "transposed": lambda: halves(6).reshape(2, 3).T,
    "column-slice": lambda: halves(12).reshape(3, 4)[:, ::2],
    "negative-2d": lambda: halves(12).reshape(3, 4)[::-1, ::-2],
    "broadcast": lambda: np.broadcast_to(halves(3), (4, 3)),
    "zero-stride-1d": lambda: huge_virtual((5,)),
}


@pytest.mark.parametrize("name", VIEWS)
def test_views_and_layouts(name, level):
    make = VIEWS[name]
    nd = make().ndim
    for fn, native in ((array_sum, nd == 1), (np_funcs, True), (kernel2d, nd == 2)):
        same(fn, lambda: (make(),), level, native=native)
    a = make()
    if a.flags.writeable:
        same(array_scale, lambda: (halves(len(a)), make()), level, native=a.ndim == 1)
        if a.ndim == 2:
            same(write2d, lambda: (np.ones(a.shape), make()), level, native=True)


class ArraySub(np.ndarray):
    pass


def structured():
    return np.zeros(3, dtype=[("x", "f8"), ("y", "i4")])


ODD_ARRAYS = {
    "object": lambda: halves(4).astype(object),
    "object-mixed": lambda: np.array([1, 2.5, "x", None], dtype=object),
    "structured": structured,
    "zero-d-float": lambda: np.array(2.5),
    "zero-d-int": lambda: np.array(3),
    "4-d": lambda: halves(16).reshape(2, 2, 2, 2),
    "datetime": lambda: np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]"),
    "timedelta": lambda: np.array([1, 2], dtype="timedelta64[s]"),
    "strings": lambda: np.array(["a", "bc"]),
    "bytes": lambda: np.array([b"a", b"bc"]),
    "matrix-subclass": lambda: np.asmatrix(halves(6).reshape(2, 3)),
    "ndarray-subclass": lambda: halves(4).view(ArraySub),
    "recarray": lambda: np.rec.array([(1.0, 2)], dtype=[("x", "f8"), ("y", "i4")]),
    "longlong": lambda: np.arange(4, dtype=np.longlong),
    "metadata-dtype": lambda: halves(4).astype(np.dtype(np.float64, metadata={"unit": "m"})),
}


@pytest.mark.parametrize("name", ODD_ARRAYS)
def test_odd_arrays(name, level):
    make = ODD_ARRAYS[name]
    for fn in (array_sum, np_funcs, kernel2d, first_row):
        same(fn, lambda: (make(),), level)
    same(array_scale, lambda: (make(), np.zeros(4)), level)
    same(array_scale, lambda: (halves(2), make()), level)


def first_row(a):
    return a[0]


# --------------------------------------------------------------------- every dtype
ALL_DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
              np.float16, np.float32, np.float64, np.complex64, np.complex128, np.longlong, np.intc]
COMPILED_DTYPES = {np.bool_, np.int32, np.int64, np.float32, np.float64, np.intc}


def values(dtype, n=6):
    v = np.array([3.5, -2.25, 0.0, 7.0, -0.0, 100.75, 1.5, -9.0][:n])
    if np.dtype(dtype).kind in "ub":
        v = np.abs(v)
    return v.astype(dtype)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda d: np.dtype(d).name + ("-ll" if d is np.longlong else ""))
def test_every_dtype(dtype, level):
    compiled = dtype in COMPILED_DTYPES
    with np.errstate(all="ignore"):
        same(array_sum, lambda: (values(dtype),), level, native=compiled)
        same(np_funcs, lambda: (values(dtype),), level, native=compiled and dtype is not np.bool_)
        same(kernel2d, lambda: (values(dtype).reshape(2, 3),), level, native=compiled)
        same(first_row, lambda: (values(dtype).reshape(2, 3),), level, native=compiled)
        same(first_row, lambda: (values(dtype),), level, native=compiled)
        same(array_scale, lambda: (values(dtype), np.zeros(6, dtype)), level, native=compiled)
        same(array_scale, lambda: (values(dtype), np.zeros(6)), level, native=compiled)
        same(array_scale, lambda: (values(np.float64), np.zeros(6, dtype)), level, native=False)
        same(write2d, lambda: (values(dtype).reshape(2, 3), np.zeros((2, 3), dtype)), level, native=False)


SPECIAL = [np.nan, np.inf, -np.inf, 1e10, -1e10, 2.0 ** 31, -2.0 ** 31 - 1, 2.0 ** 63, -2.0 ** 63, 2.0 ** 64, 1e300,
           -0.0, 0.999, -0.999, 2.0 ** 31 - 0.5]


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_, np.float32, np.int8, np.uint64])
@pytest.mark.parametrize("v", SPECIAL, ids=repr)
def test_float_into_other_dtypes(dtype, v, level):
    # item assignment of a float (Python float and np.float64) into arrays of other dtypes:
    # truncation, NaN -> ValueError, infinities and out-of-range values as NumPy does
    with np.errstate(all="ignore"):
        same(put, lambda: (np.zeros(3, dtype), 1, v), level)
        same(put, lambda: (np.zeros(3, dtype), 1, np.float64(v)), level)
        same(put, lambda: (np.zeros(3, dtype), 1, np.float32(v)), level)
        same(array_scale, lambda: (np.array([1.0, v / 2, 3.0]), np.zeros(3, dtype)), level)


INT_VALUES = [2 ** 31, -2 ** 31 - 1, 2 ** 31 - 1, -2 ** 31, 2 ** 63 - 1, -2 ** 63, 2 ** 63, 2 ** 64, -1, 255, 256, True]


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_, np.float32, np.float64, np.uint8, np.uint64])
@pytest.mark.parametrize("v", INT_VALUES, ids=repr)
def test_ints_into_arrays(dtype, v, level):
    with np.errstate(all="ignore"):
        same(put, lambda: (np.zeros(3, dtype), 1, v), level)
        same(put, lambda: (np.zeros(3, dtype), 1, np.int64(v) if -2 ** 63 <= v < 2 ** 63 else v), level)
        same(put, lambda: (np.zeros(3, dtype), 1, np.int32(v) if -2 ** 31 <= v < 2 ** 31 else v), level)


BAD_INDICES = [1.0, np.float64(1), "1", None, (1,), [1], np.array(1), np.array([1]), np.True_, True, 1 + 0j,
               2 ** 63, -2 ** 63 - 1, np.uint64(1), np.int8(-1), IntSub(1), 3, -4]


@pytest.mark.parametrize("i", BAD_INDICES, ids=_vid)
def test_bad_indices(i, level):
    same(at, lambda: (halves(3), i), level)
    same(put, lambda: (halves(3), i, 5.0), level)
    same(at2, lambda: (halves(6).reshape(2, 3), i, 0), level)
    same(at2, lambda: (halves(6).reshape(2, 3), 0, i), level)


# ----------------------------------------------------------- arrays that alias each other
N_PAR = 4096  # enough iterations for 256 chunks


def _shifted(k, n=N_PAR):
    def make():
        base = halves(n + abs(k))
        return (base[:n], base[k:k + n]) if k >= 0 else (base[-k:], base[:n])
    make.__name__ = f"shift{k}"
    return make


ALIAS_CASES = {
    "out=a[1:]": _shifted(1),
    "out=a[-1:]": _shifted(-1),
    "out=a[3:]": _shifted(3),
    "same-array": lambda: (lambda a: (a, a))(halves(N_PAR)),
    "reversed": lambda: (lambda a: (a, a[::-1]))(halves(N_PAR)),
    "strided-same-start": lambda: (lambda b: (b[:N_PAR], b[::2]))(halves(2 * N_PAR)),
    "zero-stride-out": lambda: (halves(N_PAR), as_strided(np.zeros(1), shape=(N_PAR,), strides=(0,))),
    "zero-stride-in": lambda: (as_strided(np.full(1, 2.5), shape=(N_PAR,), strides=(0,)), np.zeros(N_PAR)),
    "overlapping-rows": lambda: (halves(N_PAR), as_strided(np.zeros(N_PAR // 2 + 1), shape=(N_PAR,), strides=(4,))),
}


@pytest.mark.parametrize("name", ALIAS_CASES)
@pytest.mark.parametrize("fn", [array_scale, heavy_map, heavy_two_writes], ids=lambda f: f.__name__)
def test_aliasing_arguments(fn, name, level):
    # element by element what CPython computes, whatever order the compiled loop runs in
    make = ALIAS_CASES[name]
    same(fn, make, level, native=name != "overlapping-rows")  # unaligned float64: the interpreter


def test_heavy_map_is_parallel():
    # the aliasing cases above are only meaningful if Level 3 really runs this loop in parallel
    f = epochpp.jit(heavy_map, level=3)
    f(halves(8), np.zeros(8))
    assert "1 loop(s) run on all cores" in f.explain(), f.explain()
    g = epochpp.jit(heavy_two_writes, level=3)
    g(np.zeros(8), np.zeros(8))
    assert "1 loop(s) run on all cores" in g.explain(), g.explain()


def rows2d(m, out):
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            out[i, j] = m[i, j] * 2.0 + out[i, j]
    return out


ALIAS_2D = {
    "same": lambda: (lambda m: (m, m))(halves(64 * 64).reshape(64, 64)),
    "transposed": lambda: (lambda m: (m, m.T))(halves(64 * 64).reshape(64, 64)),
    "shifted-rows": lambda: (lambda m: (m[1:], m[:-1]))(halves(65 * 64).reshape(65, 64)),
    "out-zero-stride-rows": lambda: (halves(64 * 64).reshape(64, 64),
                                     as_strided(np.zeros(64), shape=(64, 64), strides=(0, 8))),
    "out-overlapping-rows": lambda: (halves(64 * 64).reshape(64, 64),
                                     as_strided(np.zeros(64 * 2 + 64), shape=(64, 64), strides=(16, 8))),
}


@pytest.mark.parametrize("name", ALIAS_2D)
def test_aliasing_2d(name, level):
    same(rows2d, ALIAS_2D[name], level, native=True)
    same(write2d, ALIAS_2D[name], level, native=True)


# ------------------------------------------------------- functions redefined at run time
THIS = sys.modules[__name__]

def helper(x):
    return x * 2.0


def helper_other(x):
    return x - 100.0


def helper_int(x):
    return 7


def calls_helper(a):
    s = 0.0
    for i in range(len(a)):
        s += helper(a[i])
    return s


def np_user(a):
    return np.sum(np.sqrt(a)) + math.floor(2.5)


def test_helper_rebound(level, monkeypatch):
    same(calls_helper, (halves(4),), level, native=True)
    for replacement in (helper_other, helper_int, epochpp.jit(helper_other), abs, float, 3, None, np.sqrt):
        monkeypatch.setattr(THIS, "helper", replacement)
        same(calls_helper, (halves(4),), level)
    monkeypatch.delattr(THIS, "helper")
    same(calls_helper, (halves(4),), level)  # NameError
    monkeypatch.undo()
    same(calls_helper, (halves(4),), level, native=True)


def test_code_object_replaced(level):
    # assigning __code__ (what IPython's autoreload does) is seen at the next call: of a callee
    # and of the compiled function itself
    saved = helper.__code__, calls_helper.__code__
    d = disp(calls_helper, level)
    try:
        same(calls_helper, (halves(4),), level, native=True)
        helper.__code__ = helper_other.__code__
        same(calls_helper, (halves(4),), level, native=True)
        calls_helper.__code__ = array_sum.__code__
        same(calls_helper, (halves(4),), level, native=True)
        calls_helper.__code__ = with_default.__code__  # two parameters now
        same(calls_helper, (halves(4), 3), level)
        same(calls_helper, (halves(4),), level)  # TypeError: missing argument
        calls_helper.__code__ = star_args.__code__
        same(calls_helper, (1.5, 2.5, 3.0), level)
    finally:
        helper.__code__, calls_helper.__code__ = saved
    same(calls_helper, (halves(4),), level, native=True)
    assert d(halves(4)) == calls_helper(halves(4))


def test_module_attribute_patched(level, monkeypatch):
    # np.sqrt / math.floor replaced by the user: CPython calls the replacement
    same(np_user, (halves(4),), level, native=True)
    monkeypatch.setattr(np, "sqrt", lambda a: a * 10)
    same(np_user, (halves(4),), level)
    monkeypatch.setattr(math, "floor", lambda x: -1)
    same(np_user, (halves(4),), level)
    monkeypatch.undo()
    same(np_user, (halves(4),), level, native=True)


class FakeNumpy:
    @staticmethod
    def sum(a):
        return "summed"

    @staticmethod
    def sqrt(a):
        return a


def test_module_name_rebound(level, monkeypatch):
    a, out = halves(4), np.zeros(4)  # made before `np` is rebound (tuples are deep-copied per run)
    same(np_funcs, (a,), level, native=True)
    monkeypatch.setattr(THIS, "np", FakeNumpy)
    same(np_funcs, (a,), level)
    monkeypatch.setattr(THIS, "math", FakeNumpy)
    same(heavy_map, (a, out), level)  # AttributeError: no sin
    monkeypatch.undo()
    same(np_funcs, (a,), level, native=True)


