"""Types and the expression/variable records of the fuzzer's program generator (gen.py).

A *scalar type* is a frozenset of tags ('bool', 'int', 'float', 'i64', 'i32', 'f64', 'f32',
'nb'); an *array type* is a string 'A:<dtype>' (1-D) or 'A2:<dtype>' (2-D). The result type
of an operator on given operand types is found by evaluating it once on sample values
(cached), so the generator follows CPython's and NumPy's (NEP 50) promotion rules.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

# ------------------------------------------------------------------------------- types
PY_TAGS = ("bool", "int", "float")
NP_TAGS = ("i64", "i32", "f64", "f32", "nb")
KIND = {"bool": "b", "nb": "b", "int": "i", "i64": "i", "i32": "i",
        "float": "f", "f64": "f", "f32": "f"}
SAMPLE = {"bool": True, "int": 3, "float": 2.5, "i64": np.int64(3), "i32": np.int32(3),
          "f64": np.float64(2.5), "f32": np.float32(2.5), "nb": np.bool_(True)}
TAG_OF = {bool: "bool", int: "int", float: "float", np.int64: "i64", np.int32: "i32",
          np.float64: "f64", np.float32: "f32", np.bool_: "nb"}
NP_NAME = {"i64": "np.int64", "i32": "np.int32", "f64": "np.float64", "f32": "np.float32",
           "nb": "np.bool_"}
DTYPES = ("f64", "i64", "i32", "f32", "b")
DT_NAME = {"f64": "np.float64", "i64": "np.int64", "i32": "np.int32", "f32": "np.float32",
           "b": "np.bool_"}
DT_NP = {"f64": np.float64, "i64": np.int64, "i32": np.int32, "f32": np.float32,
         "b": np.bool_}
ELEM = {"f64": "f64", "i64": "i64", "i32": "i32", "f32": "f32", "b": "nb"}

INT = frozenset({"int"})
FLOAT = frozenset({"float"})
BOOL = frozenset({"bool"})
NUM = frozenset({"int", "float"})


def T(*tags):
    return frozenset(tags)


def is_array(t):
    return isinstance(t, str) and t.startswith("A")


def arr_dt(t):
    return t.split(":")[1]


def ndim(t):
    return 2 if t.startswith("A2") else 1


def kind(t):
    """'b', 'i', 'f' for a scalar type whose members share a kind, 'u' for a mixed union,
    'a' for an array."""
    if is_array(t):
        return "a"
    ks = {KIND[x] for x in t}
    return ks.pop() if len(ks) == 1 else "u"


def is_py(t):
    return not is_array(t) and all(x in PY_TAGS for x in t)


_BIN = {}


def _eval_type(expr, env):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            v = eval(expr, {"np": np, "math": math}, env)  # noqa: S307 - fixed templates
        except Exception:  # noqa: BLE001 - an invalid combination
            return None
    if isinstance(v, np.ndarray):
        for k, dt in DT_NP.items():
            if v.dtype == dt and v.ndim in (1, 2):
                return ("A:" if v.ndim == 1 else "A2:") + k
        return None
    return TAG_OF.get(type(v))


def _sample(t):
    if is_array(t):
        if ndim(t) == 2:
            return np.array([[1, 2], [3, 4]], dtype=DT_NP[arr_dt(t)])
        return np.array([1, 2], dtype=DT_NP[arr_dt(t)])
    return SAMPLE[t]


def binop_type(op, t1, t2):
    """Result type of ``x op y`` (None if some member combination raises or gives a type we
    do not model, e.g. int8 from bool ** bool)."""
    m1 = [t1] if is_array(t1) else sorted(t1)
    m2 = [t2] if is_array(t2) else sorted(t2)
    out = set()
    for a in m1:
        for b in m2:
            key = (op, a, b)
            if key not in _BIN:
                _BIN[key] = _eval_type(f"x {op} y", {"x": _sample(a), "y": _sample(b)})
            r = _BIN[key]
            if r is None:
                return None
            out.add(r)
    arrays = [x for x in out if is_array(x)]
    if arrays:
        return arrays[0] if len(out) == 1 else None
    return frozenset(out)


def unop_type(op, t):
    if is_array(t):
        key = (op, t, None)
        if key not in _BIN:
            _BIN[key] = _eval_type(f"{op}x", {"x": _sample(t)})
        return _BIN[key]
    out = set()
    for a in sorted(t):
        key = (op, a, None)
        if key not in _BIN:
            _BIN[key] = _eval_type(f"{op}(x)", {"x": _sample(a)})
        if _BIN[key] is None:
            return None
        out.add(_BIN[key])
    return frozenset(out)


def call_type(template, *ts):
    """Type of a call written as a template with {0}, {1}... for the arguments."""
    members = [[t] if is_array(t) else sorted(t) for t in ts]
    out = set()

    def rec(i, chosen):
        if i == len(members):
            key = (template, tuple(chosen))
            if key not in _BIN:
                env = {f"x{j}": _sample(c) for j, c in enumerate(chosen)}
                _BIN[key] = _eval_type(template.format(*[f"x{j}" for j in range(len(chosen))]),
                                       env)
            if _BIN[key] is None:
                return None
            out.add(_BIN[key])
            return True
        for m in members[i]:
            if rec(i + 1, chosen + [m]) is None:
                return None
        return True

    if rec(0, []) is None:
        return None
    arrays = [x for x in out if is_array(x)]
    if arrays:
        return arrays[0] if len(out) == 1 else None
    return frozenset(out)


# ----------------------------------------------------------------------- constants
INT_EDGE = [0, 1, -1, 2, 3, 5, 7, -7, 10, 100, 255, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 32,
            2 ** 53, 2 ** 53 + 1, 2 ** 62, 2 ** 63 - 1, -(2 ** 63) + 1, 3037000499,
            -3037000500]
INT_EDGE_MIN = -(2 ** 63)
FLOAT_EDGE = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, 2.5, -2.5, 3.0, 0.1, 1e-300, 5e-324,
              1e308, -1e308, 1.7976931348623157e308, 2.0 ** 53, 2.0 ** 63, -(2.0 ** 63),
              1e16, 123.456, -7.25, 710.0, 1e-5, math.pi]
SPECIAL_FLOATS = ["math.inf", "-math.inf", "math.nan"]


def float_src(x):
    """Source text of a float for a function body (no float('nan') call: strings fall back)."""
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "-math.inf"
    return repr(x)


def value_src(x):
    """Source text of a value in an argument tuple (plain Python, evaluated by build_args)."""
    if isinstance(x, (bool, np.bool_)):
        return repr(bool(x))
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(x)
    return repr(int(x))


ARGS_NAMESPACE = {"np": np, "math": math, "nan": math.nan, "inf": math.inf}


def build_args(src):
    """A fresh argument tuple from its source text."""
    v = eval(src, dict(ARGS_NAMESPACE))  # noqa: S307 - generated by this module
    return v if isinstance(v, tuple) else (v,)


class E:
    """A generated expression: source, type, and whether its magnitude is bounded
    independently of loop trip counts ('small': literals, loop indices, array elements,
    x % C, conversions of floats...)."""

    __slots__ = ("src", "t", "small", "lit")

    def __init__(self, src, t, small=False, lit=None):
        self.src, self.t, self.small, self.lit = src, t, small, lit


def pow_type(t1, b):
    """Type of x ** b: an int exponent's sign decides int or float for Python ints."""
    out = set()
    for a in sorted(t1):
        for bt in sorted(b.t):
            if KIND[bt] in "ib" and b.lit is not None:
                tag = _eval_type(f"x ** {b.lit}", {"x": SAMPLE[a]})
            else:
                tag = binop_type("**", T(a), T(bt))
                tag = None if tag is None else next(iter(tag))
                if tag in ("int",) and KIND[bt] == "i":
                    out.add("float")  # sign known only at run time: int|float
            if tag is None:
                return None
            out.add(tag)
    return frozenset(out)


def grows(e):
    """Can e hold a Python int whose size depends on loop trip counts?"""
    return not e.small and not is_array(e.t) and "int" in e.t


class Var:
    __slots__ = ("name", "t", "ro", "small", "maybe", "loopvar", "over")

    def __init__(self, name, t, ro=False, small=False, maybe=False, loopvar=False, over=None):
        self.name, self.t, self.ro, self.small = name, t, ro, small
        self.maybe, self.loopvar, self.over = maybe, loopvar, over


ARITH = ["+", "-", "*", "/", "//", "%", "**"]
ARITH_W = [6, 5, 5, 3, 2, 2, 1]
BITOPS = ["&", "|", "^", "<<", ">>"]
CMPS = ["<", "<=", ">", ">=", "==", "!="]
MATH1 = ["sqrt", "exp", "log", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan",
         "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "fabs", "erf", "erfc", "expm1",
         "log1p", "degrees", "radians"]
MATH2 = ["atan2", "copysign", "pow", "fmod", "hypot", "log"]
MATH_INT = ["floor", "ceil", "trunc"]
MATH_PRED = ["isnan", "isinf", "isfinite"]
