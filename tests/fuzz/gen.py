"""Random program generator for the epochpp differential fuzzer (see README.md).

``generate(seed)`` returns a ``Program``: the Python source text of a module that defines
one numeric function ``f`` (and sometimes a helper ``g`` that ``f`` calls), plus a few
argument sets, each the source text of a tuple expression (so a reproducer can print
them literally and every run builds fresh objects with ``build_args``). Everything is
deterministic from the seed.

Generation is typed. A symbol table records each variable's type: a *scalar type* is a
frozenset of tags ('bool', 'int', 'float', 'i64', 'i32', 'f64', 'f32', 'nb' -- the last
five are NumPy scalars; a set of more than one tag is a union such as int|float), an
*array type* is a string 'A:<dtype>' (1-D) or 'A2:<dtype>' (2-D). The result type of an
operator on given operand types is found by evaluating it once on sample values (cached), so the generator
follows CPython's and NumPy's (NEP 50) promotion rules without restating them.

Programs are kept fast and finite: every ``range`` has bounded arguments, every
``while`` loop has a counter, and Python ints can only grow additively per iteration
(``*`` needs a "small" operand, ``**`` a small base and exponent, ``<<`` a shift below
70), so loops that overflow int64 still give CPython a cheap big-int answer.

A few percent of programs come from ``ParallelGen`` instead: one big loop (150k-300k
iterations, or a 2-D loop nest) of the shape Level 3 runs on all cores.

Feature switches (``Options``) let a caller leave out a construct, e.g. while a known
compiler bug in it is being fixed (tests/fuzz/README.md lists them).
"""

from __future__ import annotations

import dataclasses
import math
import random
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


# ------------------------------------------------------------------------- options
@dataclasses.dataclass
class Options:
    """What the generator may use. Turn a feature off to avoid a known bug while it is fixed."""

    numpy_scalars: bool = True     # NumPy scalar parameters and casts (np.float32(x), ...)
    int32: bool = True             # int32 arrays / scalars
    float32: bool = True           # float32 arrays / scalars
    bool_arrays: bool = True
    array_ops: bool = True         # whole-array ops, reductions, slices, np.zeros/...
    helpers: bool = True           # a second function g called from f
    unions: bool = True            # int|float accumulators, ternaries of mixed types
    maybe_unbound: bool = True     # reading a variable first assigned in a block
    aliasing_args: bool = True     # two arguments that are views of one buffer
    big_int_args: bool = True      # Python int arguments outside int64 (never native)
    strided_args: bool = True      # a[::2], a[::-1] arguments
    fortran_args: bool = True      # Fortran-ordered 2-D arguments (also a C array's .T)
    pow_inf_exponent: bool = True  # x ** inf, x ** -inf
    store_eval_order: bool = True  # off: values stored by a[i, j] = v / a[lo:hi] = v cannot raise
    array_expr_eval_order: bool = True  # off: scalars inside array expressions cannot raise
    where_scalar: bool = True      # np.where(c, x, y) with a scalar x or y
    int32_array_big_scalar: bool = True  # off: Python ints beside int32 arrays are small
    helper_mixed_ndim: bool = True  # the helper gets arrays of another rank than declared
    parallel: int = 3              # percent of programs built around one big loop (Level 3)
    np_int_cast_of_numpy: bool = True  # np.int32(x) / np.int64(x) of a NumPy scalar x
    np_int_cast_of_union: bool = True  # ... of a union such as int|float
    slice_store_scalar: bool = True    # a[lo:hi] = scalar
    slice_store_any_value: bool = True  # ... of any value (off: int arrays get small ints)
    arrays_2d: bool = True
    index2d_any: bool = True       # off: the 2nd index of a[i, j] cannot raise (loop var/literal)
    globals_: bool = True          # module-level int/float constants read by f
    array_exprs: bool = True       # element-wise expressions over arrays (fused)
    walrus: bool = True
    max_stmts: int = 22
    max_loop_depth: int = 3

    @classmethod
    def parse(cls, text):
        """'-helpers,-unions,max_stmts=30' -> Options."""
        o = cls()
        for part in filter(None, (p.strip() for p in (text or "").split(","))):
            if "=" in part:
                k, v = part.split("=", 1)
                setattr(o, k, int(v))
            elif part[0] in "+-":
                if not hasattr(o, part[1:]):
                    raise ValueError(f"unknown generator option {part[1:]!r}")
                setattr(o, part[1:], part[0] == "+")
            else:
                raise ValueError(f"bad generator option {part!r}")
        return o


@dataclasses.dataclass
class Program:
    seed: int
    source: str                 # module text; the function under test is FUNC
    arg_sets: list              # source text of argument tuples
    features: set

    FUNC = "f"


HEADER = "import math\nimport numpy as np\n\n\n"


# ---------------------------------------------------------------------- generation
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


class Gen:
    def __init__(self, seed, opts=None):
        self.seed = seed
        self.r = random.Random(seed)
        self.o = opts or Options()
        self.features = set()
        self.vars = {}
        self.counter = 0
        self.lines = []
        self.budget = 0
        self.loops = []          # stack of 'for' / 'while'
        self.ret_shape = None
        self.helper = None       # (name, param types, return type)
        self.nest = 0            # nesting of array indices
        self.globals = {}

    # ------------------------------------------------------------------ utilities
    def chance(self, p):
        return self.r.random() < p

    def pick(self, seq, weights=None):
        return self.r.choices(seq, weights)[0] if weights else self.r.choice(seq)

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def emit(self, indent, text):
        self.lines.append("    " * indent + text)

    def readable(self, pred):
        out = []
        for v in self.vars.values():
            if not pred(v):
                continue
            if v.maybe and not (self.o.maybe_unbound and self.chance(0.01)):
                continue
            out.append(v)
        return out

    def scalar_vars(self, k=None):
        return self.readable(lambda v: not is_array(v.t) and (k is None or kind(v.t) == k))

    def array_vars(self, dt=None, nd=None):
        return self.readable(lambda v: is_array(v.t) and (dt is None or arr_dt(v.t) == dt)
                             and (nd is None or ndim(v.t) == nd))

    def loop_vars(self):
        return [v for v in self.vars.values() if v.loopvar and not v.maybe]

    # ------------------------------------------------------------------ literals
    def int_lit(self, small_only=False):
        r = self.r.random()
        if small_only or r < 0.7:
            v = self.r.randint(-3, 10)
        elif r < 0.97:
            v = self.pick(INT_EDGE)
            if self.chance(0.3):
                v = -v
        else:
            self.features.add("int64_min_literal")
            return E("(-9223372036854775807 - 1)", INT, True, INT_EDGE_MIN)
        src = f"({v})" if v < 0 else str(v)
        return E(src, INT, True, v)

    def float_lit(self):
        r = self.r.random()
        if r < 0.55:
            v = self.pick([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 0.25, 10.0, 0.1])
            if self.chance(0.3):
                v = -v
        elif r < 0.9:
            v = self.pick(FLOAT_EDGE)
            if self.chance(0.3):
                v = -v
        else:
            self.features.add("nan_inf_literal")
            s = self.pick(SPECIAL_FLOATS)
            return E(s if not s.startswith("-") else f"({s})", FLOAT, True)
        s = float_src(v)
        return E(f"({s})" if s.startswith("-") else s, FLOAT, True)

    def literal(self, want):
        if want == "i":
            return self.int_lit()
        if want == "f":
            return self.float_lit()
        if want == "b":
            return E(self.pick(["True", "False"]), BOOL, True)
        return self.literal(self.pick("iiff" + "b"))

    # ------------------------------------------------------------------ leaves
    def leaf(self, want):
        r = self.r.random()
        if r < 0.55:
            cands = self.scalar_vars(want) if want in "ifb" else self.scalar_vars()
            if want == "b":
                cands = [v for v in cands if kind(v.t) == "b"]
            if cands:
                v = self.pick(cands)
                return E(v.name, v.t, v.small)
        if r < 0.75:
            e = self.array_read(want)
            if e is not None:
                return e
        if r < 0.8 and want in "ia":
            arrs = self.array_vars()
            if arrs:
                a = self.pick(arrs)
                forms = ["len({})", "len({})", "{}.size", "{}.shape[0]"]
                if ndim(a.t) == 2:
                    forms += ["{}.shape[1]", "{}.ndim"]
                form = self.pick(forms) if self.o.array_ops else "len({})"
                return E(form.format(a.name), INT, True)
        if want == "b" and self.chance(0.8):
            cands = self.scalar_vars()
            if cands:  # a simple comparison instead of a bare True/False
                v = self.pick(cands)
                lit = self.literal(kind(v.t) if kind(v.t) in "if" else "i")
                t = binop_type("<", v.t, lit.t)
                if t is not None:
                    return E(f"({v.name} {self.pick(CMPS)} {lit.src})", t, True)
        if want != "b" and self.chance(0.5):
            cands = self.scalar_vars()
            if cands:
                v = self.pick(cands)
                return E(v.name, v.t, v.small)
        return self.literal(want)

    def array_read(self, want):
        arrs = self.array_vars()
        if want == "i":
            arrs = [a for a in arrs if arr_dt(a.t) in ("i64", "i32")]
        elif want == "f":
            arrs = [a for a in arrs if arr_dt(a.t) in ("f64", "f32")]
        elif want == "b":
            arrs = [a for a in arrs if arr_dt(a.t) == "b"]
        if not arrs:
            return None
        a = self.pick(arrs)
        if ndim(a.t) == 2:
            self.features.add("array2d")
            return E(f"{a.name}[{self.index(a, 0)}, {self.index2(a)}]",
                     T(ELEM[arr_dt(a.t)]), True)
        return E(f"{a.name}[{self.index(a)}]", T(ELEM[arr_dt(a.t)]), True)

    def index(self, a, axis=0):
        """An index into axis ``axis`` of array variable a: usually in range, sometimes not."""
        n = a.name
        length = f"len({n})" if axis == 0 else f"{n}.shape[{axis}]"
        lv = self.loop_vars()
        own = [v for v in lv if v.over == (n, axis)]
        if self.nest >= 2:  # an index inside an index inside an index: keep it simple
            if own and self.chance(0.7):
                return self.pick(own).name
            return str(self.pick([0, -1, 1]))
        self.nest += 1
        try:
            return self._index(n, length, lv, own)
        finally:
            self.nest -= 1

    def index2(self, a):
        """The second index of a 2-D access."""
        if self.o.index2d_any:
            return self.index(a, 1)
        own = [v for v in self.loop_vars() if v.over == (a.name, 1)]
        if own and self.chance(0.6):
            return self.pick(own).name
        return str(self.pick([0, 1, -1, 2]))

    def _index(self, n, length, lv, own):
        r = self.r.random()
        if own and r < 0.4:
            i = self.pick(own).name
            return i if self.chance(0.85) else self.pick([f"{i} + 1", f"{i} - 1", f"-{i}",
                                                           f"{i} // 2", f"-1 - {i}"])
        if r < 0.75:
            e = self.int_expr(1)
            if len(e.t) > 1:
                e = E(f"int({e.src})", INT, True)
            self.features.add("mod_len_index")
            return f"({e.src}) % {length}"
        if r < 0.85:
            return str(self.pick([0, 0, -1, -1, 1, 2]))
        if lv and r < 0.9:
            i = self.pick(lv).name
            return self.pick([i, f"{i} + 1", f"{i} - 1"])
        if r < 0.95:
            e = self.int_expr(1)
            if len(e.t) > 1 and self.chance(0.8):
                e = E(f"int({e.src})", INT, True)
            return e.src
        if r < 0.98:
            return f"{length} - 1"
        return str(self.pick([2 ** 63 - 1, -(2 ** 63) + 1, 2 ** 31, 9]))

    def int_expr(self, depth):
        """An expression of int kind (Python or NumPy integer; never bool)."""
        e = self.expr("i", depth)
        if kind(e.t) != "i":
            e = self.to_int(e)
        return e

    def to_int(self, e):
        if is_array(e.t):
            return E(f"len({e.src})", INT, True)
        k = kind(e.t)
        if k == "f" and self.chance(0.5):
            fns = ["math.floor", "math.ceil"]
            if "f32" not in e.t:
                fns.append("math.trunc")
            if is_py(e.t):
                fns.append("round")
            return E(f"{self.pick(fns)}({e.src})", INT, True)
        return E(f"int({e.src})", INT, e.small or k in "fb")

    def safe_value(self, want):
        """A value whose evaluation cannot raise: a defined variable or a literal."""
        cands = [v for v in self.vars.values() if not v.maybe and not is_array(v.t)
                 and (kind(v.t) == want or want == "a")]
        if cands and self.chance(0.6):
            v = self.pick(cands)
            return E(v.name, v.t, v.small)
        return self.literal(want if want in "ifb" else "f")

    def bounded(self):
        """A small int for range() bounds: |value| stays below ~12."""
        r = self.r.random()
        lv = [v for v in self.loop_vars()]
        if r < 0.35:
            return E(str(self.r.randint(0, 8)), INT, True)
        if r < 0.55:
            arrs = self.array_vars()
            if arrs:
                v = self.pick(arrs)
                a = v.name
                ln = f"{a}.shape[1]" if ndim(v.t) == 2 and self.chance(0.5) else f"len({a})"
                return E(self.pick([ln, ln, f"{ln} - 1", f"{ln} + 1"]), INT, True)
        if r < 0.7 and lv:
            v = self.pick(lv).name
            return E(self.pick([v, f"{v} + 1", f"{v} - 1", f"{v} + 2"]), INT, True)
        e = self.int_expr(1)
        c = self.r.randint(2, 9)
        if self.chance(0.1):
            c = -c
        return E(f"({e.src}) % {c}", e.t, True)

    # ------------------------------------------------------------------ expressions
    def expr(self, want="a", depth=2):
        """An expression; want is a hint: 'i', 'f', 'b' or 'a' (any scalar)."""
        if depth <= 0 or self.chance(0.3):
            return self.leaf(want)
        r = self.r.random()
        if want == "b":
            if r < 0.55:
                return self.compare(depth)
            if r < 0.7:
                a, b = self.expr("b", depth - 1), self.expr("b", depth - 1)
                op = self.pick(["and", "or"])
                t = (a.t | b.t) if not (is_array(a.t) or is_array(b.t)) else None
                if t is not None:
                    return E(f"({a.src} {op} {b.src})", t, a.small and b.small)
            if r < 0.8:
                a = self.expr("a", depth - 1)
                if not is_array(a.t):
                    return E(f"(not {a.src})", BOOL, True)
            if r < 0.9:
                return self.math_pred(depth)
            return self.leaf("b")
        if r < 0.45:
            return self.arith(want, depth)
        if r < 0.5 and want in "ia":
            e = self.bitop(depth)
            if e is not None:
                return e
        if r < 0.58:
            return self.unary(want, depth)
        if r < 0.64:
            return self.ternary(want, depth)
        if r < 0.76:
            e = self.builtin_call(want, depth)
            if e is not None:
                return e
        if r < 0.9:
            return self.math_call(want, depth)
        if r < 0.95 and self.o.numpy_scalars:
            e = self.np_scalar_call(want, depth)
            if e is not None:
                return e
        if self.o.array_ops and self.chance(0.6):
            e = self.reduction(want)
            if e is not None:
                return e
        if self.o.helpers and self.helper and self.chance(0.7):
            e = self.helper_call(depth)
            if e is not None:
                return e
        return self.leaf(want)

    def scalar(self, want, depth):
        e = self.expr(want, depth)
        if is_array(e.t):
            return E(f"len({e.src})", INT, True)
        return e

    def arith(self, want, depth):
        for _ in range(6):
            op = self.pick(ARITH, ARITH_W)
            a = self.scalar(want, depth - 1)
            if op == "**":
                a, b = self.pow_operands(a, depth)
            else:
                b = self.scalar(want if self.chance(0.7) else "a", depth - 1)
            if op == "*" and grows(a) and grows(b):
                b = self.small_of(b)
            t = binop_type(op, a.t, b.t)
            if op == "**" and t is not None:
                t = pow_type(a.t, b)
            if t is None:
                continue
            if not is_array(t) and "nb" in t and self.chance(0.9):
                continue  # NumPy bools in arithmetic are mostly not compiled
            small = a.small and b.small and op != "**"
            if op in ("//", "%") and b.small and kind(b.t) in "ib":
                small = small or op == "%"
            return E(f"({a.src} {op} {b.src})", t, small)
        return self.leaf(want)

    def small_of(self, e):
        c = self.r.randint(2, 13)
        t = binop_type("%", e.t, INT) or e.t
        return E(f"({e.src} % {c})", t, True)

    def pow_operands(self, a, depth):
        """Base and exponent for **: an int base must be small, the exponent tiny."""
        if grows(a):
            a = self.small_of(a)
        r = self.r.random()
        if r < 0.6:
            v = self.r.randint(0, 4)
            b = E(str(v), INT, True, v)
        elif r < 0.75:
            v = -self.r.randint(1, 3)
            b = E(f"({v})", INT, True, v)
        elif r < 0.9:
            b = self.float_lit()
            if not self.o.pow_inf_exponent and "inf" in b.src:
                b = E("0.5", FLOAT, True)
        else:
            e = self.int_expr(1)
            b = E(f"({e.src} % 5)", e.t, True)
        return a, b

    def bitop(self, depth):
        op = self.pick(BITOPS)
        a = self.int_expr(depth - 1)
        if op in ("<<", ">>"):
            if self.chance(0.9):
                b = E(str(self.r.randint(0, 66)), INT, True)
            else:
                e = self.int_expr(1)
                b = E(f"({e.src} % {self.pick([8, 64, 70])})", e.t, True)
            if self.chance(0.03):
                b = E("(-1)", INT, True)
        else:
            b = self.int_expr(depth - 1)
        t = binop_type(op, a.t, b.t)
        if t is None:
            return None
        self.features.add("bitop")
        return E(f"({a.src} {op} {b.src})", t, a.small and b.small and op != "<<")

    def unary(self, want, depth):
        a = self.scalar(want, depth - 1)
        op = self.pick(["-", "-", "+", "~"] if kind(a.t) == "i" else ["-", "-", "+"])
        t = unop_type(op, a.t)
        if t is None:
            return a
        return E(f"({op}{a.src})", t, a.small)

    def ternary(self, want, depth):
        c = self.expr("b", depth - 1)
        a = self.scalar(want, depth - 1)
        b = self.scalar(want, depth - 1)
        if a.t != b.t and not self.o.unions:
            b = self.coerce(b, a.t)
        return E(f"({a.src} if {c.src} else {b.src})", a.t | b.t, a.small and b.small)

    def compare(self, depth):
        a = self.scalar("a", depth - 1)
        b = self.scalar(kind(a.t) if kind(a.t) in "if" else "a", depth - 1)
        op = self.pick(CMPS)
        if self.chance(0.1):
            c = self.scalar("a", depth - 1)
            op2 = self.pick(CMPS)
            t = binop_type(op, a.t, b.t)
            t2 = binop_type(op2, b.t, c.t)
            if t is not None and t2 is not None:
                return E(f"({a.src} {op} {b.src} {op2} {c.src})", t | t2, True)
        t = binop_type(op, a.t, b.t)
        if t is None:
            return E("True", BOOL, True)
        return E(f"({a.src} {op} {b.src})", t, True)

    def builtin_call(self, want, depth):
        fn = self.pick(["abs", "min", "max", "int", "float", "round", "round2"],
                       [3, 3, 3, 2, 2, 2, 1])
        if fn in ("min", "max"):
            n = self.pick([2, 2, 2, 3])
            args = [self.scalar(want, depth - 1) for _ in range(n)]
            if not self.o.unions:
                args = [args[0]] + [self.coerce(x, args[0].t) for x in args[1:]]
            t = frozenset().union(*[a.t for a in args])
            if any(x in t for x in ("nb",)):
                return None
            return E(f"{fn}({', '.join(a.src for a in args)})", t, all(a.small for a in args))
        a = self.scalar(want if fn != "int" else "f", depth - 1)
        if fn == "abs":
            t = call_type("abs({0})", a.t)
            return None if t is None else E(f"abs({a.src})", t, a.small)
        if fn == "int":
            return E(f"int({a.src})", INT, True)
        if fn == "float":
            return E(f"float({a.src})", FLOAT, True)
        if not is_py(a.t):
            a = E(f"float({a.src})", FLOAT, True)
        if fn == "round":
            return E(f"round({a.src})", INT, True)
        nd = self.r.randint(-3, 4)
        t = call_type(f"round({{0}}, {nd})", a.t)
        return None if t is None else E(f"round({a.src}, {nd})", t, a.small)

    def math_arg(self, depth):
        return self.scalar(self.pick("ffi"), depth - 1)

    def math_call(self, want, depth):
        r = self.r.random()
        if want == "i" or (want == "a" and r < 0.2):
            a = self.math_arg(depth)
            if "nb" in a.t or kind(a.t) == "i" and not is_py(a.t) or kind(a.t) == "u" \
                    and not is_py(a.t):
                a = E(f"float({a.src})", FLOAT, True)
            fn = self.pick(MATH_INT)
            if fn == "trunc" and "f32" in a.t:
                fn = "floor"
            self.features.add("math_int")
            return E(f"math.{fn}({a.src})", INT, True)
        if r < 0.75:
            fn = self.pick(MATH1)
            a = self.math_arg(depth)
            return E(f"math.{fn}({a.src})", FLOAT, True)
        fn = self.pick(MATH2)
        a, b = self.math_arg(depth), self.math_arg(depth)
        return E(f"math.{fn}({a.src}, {b.src})", FLOAT, True)

    def math_pred(self, depth):
        a = self.math_arg(depth)
        return E(f"math.{self.pick(MATH_PRED)}({a.src})", BOOL, True)

    def np_scalar_call(self, want, depth):
        r = self.r.random()
        if r < 0.6:
            tags = {"i": ["i64", "i32"], "f": ["f64", "f32"]}.get(want, ["i64", "i32", "f64",
                                                                         "f32"])
            tags = [x for x in tags if (x != "i32" or self.o.int32) and
                    (x != "f32" or self.o.float32)]
            if not tags:
                return None
            tag = self.pick(tags)
            a = self.scalar("f" if tag[0] == "f" else "i", depth - 1)
            return self.np_cast(tag, a)
        fn = self.pick(["np.sqrt", "np.abs"])
        a = self.scalar(want, depth - 1)
        t = call_type(fn + "({0})", a.t)
        if t is None or "nb" in a.t or "bool" in a.t:
            return None
        return E(f"{fn}({a.src})", t, a.small)

    def reduction(self, want):
        arrs = self.array_vars()
        if not arrs:
            return None
        a = self.pick(arrs)
        form = self.pick(["np.sum({})", "{}.sum()", "np.max({})", "np.min({})", "{}.max()",
                          "np.argmax({})", "np.argmin({})", "np.mean({})", "np.dot({}, {})",
                          "{}.dot({}[::-1])"])
        if "dot" in form:
            if ndim(a.t) != 1 or arr_dt(a.t) == "b":
                return None
            others = [b for b in self.array_vars(arr_dt(a.t), 1)] or [a]
            b = self.pick(others)
            src = form.format(a.name, b.name)
            t = call_type(form.format("{0}", "{1}"), a.t, b.t)
            if t is None:
                return None
            self.features.add("dot")
            return E(src, t, True)
        if arr_dt(a.t) == "b" and "sum" not in form:
            return None
        if ndim(a.t) == 2 and arr_dt(a.t) in ("f64", "f32") and ("sum" in form or "mean" in form):
            return None
        t = call_type(form.replace("{}", "{0}"), a.t)
        if t is None:
            return None
        self.features.add("reduction")
        return E(form.format(a.name), t, True)

    def helper_call(self, depth):
        name, ptypes, rt = self.helper
        args = []
        for pt in ptypes:
            if is_array(pt):
                cands = self.array_vars(arr_dt(pt), None if self.o.helper_mixed_ndim
                                        else ndim(pt))
                if not cands:
                    return None
                args.append(self.pick(cands).name)
            else:
                args.append(self.coerce(self.scalar(kind(pt), depth - 1), pt).src)
        self.features.add("helper_call")
        return E(f"{name}({', '.join(args)})", rt, False)

    def coerce(self, e, t):
        """e converted to type t (a frozenset of tags, possibly a union)."""
        if is_array(e.t):
            e = E(f"len({e.src})", INT, True)
        if e.t <= t:
            return e
        if t == NUM and is_py(e.t):
            return e
        if len(t) > 1:
            return E(f"float({e.src})", FLOAT, True) if "float" in t else \
                E(f"int({e.src})", INT, e.small)
        (tag,) = t
        if tag == "int":
            return self.to_int(e)
        if tag == "float":
            return E(f"float({e.src})", FLOAT, True)
        if tag == "bool":
            return E(f"bool({e.src})", BOOL, True)
        return self.np_cast(tag, e)

    def np_cast(self, tag, e):
        """np.int64(e), np.float32(e), ...: a NumPy scalar of type tag."""
        if tag in ("i64", "i32") and len(e.t) > 1 and not self.o.np_int_cast_of_union:
            e = E(f"float({e.src})", FLOAT, e.small)
        if tag in ("i64", "i32") and not is_py(e.t):
            if not self.o.np_int_cast_of_numpy:
                e = E(f"{'int' if kind(e.t) == 'i' else 'float'}({e.src})",
                      INT if kind(e.t) == "i" else FLOAT, e.small)
            else:
                self.features.add("np_int_cast_of_numpy")
        self.features.add("np_cast")
        return E(f"{NP_NAME[tag]}({e.src})", T(tag), e.small)

    # ------------------------------------------------------------------ statements
    def block(self, indent, n, allow_exit=True):
        """Emit up to n statements at indent; always at least one line."""
        start = len(self.lines)
        before = set(self.vars)
        for _ in range(n):
            if self.budget <= 0:
                break
            self.stmt(indent, allow_exit)
        if len(self.lines) == start:
            self.assign(indent)
        # names first bound in a block may be unbound afterwards
        for name in set(self.vars) - before:
            self.vars[name].maybe = True

    def stmt(self, indent, allow_exit=True):
        self.budget -= 1
        in_loop = bool(self.loops)
        depth_ok = len(self.loops) < self.o.max_loop_depth and indent < 5
        choices = [("assign", 14), ("aug", 14), ("store", 12 if self.array_vars() else 0),
                   ("if", 10 if indent < 5 else 0), ("for", 11 if depth_ok else 0),
                   ("foreach", 3 if depth_ok and self.array_vars() else 0),
                   ("while", 4 if depth_ok else 0),
                   ("accum", 6), ("exit", 6 if in_loop and allow_exit else 0),
                   ("return", 3 if allow_exit else 0),
                   ("arrayop", 5 if self.o.array_ops and self.array_vars() else 0),
                   ("swap", 2)]
        what = self.pick([c for c, _ in choices], [w for _, w in choices])
        getattr(self, "s_" + what)(indent)

    def s_assign(self, indent):
        self.assign(indent)

    def assign(self, indent, name=None):
        existing = [v for v in self.vars.values() if not v.ro and not is_array(v.t)]
        if name is None and existing and self.chance(0.45):
            v = self.pick(existing)
            e = self.coerce(self.scalar(kind(v.t) if kind(v.t) != "u" else "a", 2), v.t)
            self.emit(indent, f"{v.name} = {e.src}")
            return
        e = self.scalar(self.pick("iifab"), 3)
        name = name or self.fresh("v")
        self.emit(indent, f"{name} = {e.src}")
        self.vars[name] = Var(name, e.t)

    def s_aug(self, indent):
        cands = [v for v in self.readable(lambda v: not v.ro and not is_array(v.t))]
        if not cands:
            return self.assign(indent)
        v = self.pick(cands)
        for _ in range(4):
            op = self.pick(["+", "-", "*", "/", "//", "%", "&", "|", "^", "<<", ">>"],
                           [8, 6, 5, 2, 2, 2, 1, 1, 1, 1, 1])
            if op in ("&", "|", "^", "<<", ">>"):
                if kind(v.t) not in "ib":
                    continue
                e = self.int_expr(1) if op in "&|^" else E(str(self.r.randint(0, 66)), INT, True)
            else:
                e = self.scalar(kind(v.t) if kind(v.t) in "if" else "a", 2)
                if op == "*" and "int" in v.t and grows(e):
                    e = self.small_of(e)
            t = binop_type(op, v.t, e.t)
            if t is None or not (t <= v.t or (v.t == NUM and t <= NUM)):
                continue
            self.emit(indent, f"{v.name} {op}= {e.src}")
            v.small = False
            return
        self.assign(indent)

    def s_accum(self, indent):
        """Int accumulators that overflow int64 inside loops (-> deopt, big-int answer)."""
        if not self.loops or self.chance(0.3):
            # declare one
            name = self.fresh("acc")
            if self.o.unions and self.chance(0.3):
                self.emit(indent, f"{name} = 0")
                self.vars[name] = Var(name, NUM)
            else:
                init = self.pick(["0", "1", "7", str(2 ** 62), str(-(2 ** 62)), "3037000499"])
                self.emit(indent, f"{name} = {init}")
                self.vars[name] = Var(name, INT)
            return
        accs = [v for v in self.vars.values() if not v.ro and v.t in (INT, NUM) and not v.maybe]
        if not accs:
            return self.assign(indent)
        v = self.pick(accs)
        x = self.scalar("a" if v.t == NUM else "i", 1)
        if v.t == INT and not x.t <= INT:
            x = self.coerce(x, INT)
        if not x.small:
            x = self.small_of(x)
        form = self.pick(["{v} = {v} * {c} + {x}", "{v} += {x}", "{v} -= {x}",
                          "{v} = {v} * {c} - {x}", "{v} += {big}", "{v} = ({v} << 5) ^ {x}",
                          "{v} *= {c}"])
        if v.t == NUM and "<<" in form:
            form = "{v} += {x}"
        c = self.pick([3, 10, 31, 1000003, -7, 2 ** 31])
        big = self.pick([2 ** 62, 2 ** 61, -(2 ** 62), 2 ** 63 - 1])
        if v.t == NUM and "float" not in x.t:
            half = self.chance(0.5)
            x = E(f"{x.src} * 0.5" if half else x.src,
                  (binop_type("*", x.t, FLOAT) or x.t) if half else x.t, True)
            if not (x.t <= NUM):
                x = E(f"float({x.src})", FLOAT, True)
        self.emit(indent, form.format(v=v.name, c=c, x=x.src, big=big))
        self.features.add("accumulator")

    def s_store(self, indent):
        arrs = self.array_vars()
        a = self.pick(arrs)
        if a.ro and a.loopvar:
            return self.assign(indent)
        idx = self.index(a) if ndim(a.t) == 1 else f"{self.index(a, 0)}, {self.index2(a)}"
        dt = arr_dt(a.t)
        want = {"f64": "f", "f32": "f", "i64": "i", "i32": "i", "b": "b"}[dt]
        e = self.scalar(want if self.chance(0.75) else "a", 2)
        if self.chance(0.3) and (ndim(a.t) == 1 or self.o.store_eval_order):
            op = self.pick(["+", "-", "*", "/", "//", "%"])
            t = binop_type(op, T(ELEM[dt]), e.t)
            if t is not None and not is_array(t):
                self.emit(indent, f"{a.name}[{idx}] {op}= {e.src}")
                self.features.add("array_aug_store")
                return
        if dt == "b" and "nb" not in e.t and self.chance(0.5):
            e = self.expr("b", 2)
        if ndim(a.t) == 2 and not self.o.store_eval_order:
            e = self.safe_value(want)
        self.emit(indent, f"{a.name}[{idx}] = {e.src}")
        self.features.add("array_store")

    def s_if(self, indent):
        c = self.expr("b", 2)
        if is_array(c.t):
            c = E(f"len({c.src})", INT, True)
        if self.o.walrus and self.chance(0.07):
            e = self.scalar(self.pick("if"), 2)
            name = self.fresh("w")
            lit = self.literal(kind(e.t) if kind(e.t) in "if" else "i")
            c = E(f"({name} := {e.src}) {self.pick(CMPS)} {lit.src}", BOOL)
            self.vars[name] = Var(name, e.t)
            self.features.add("walrus")
        self.emit(indent, f"if {c.src}:")
        self.block(indent + 1, self.r.randint(1, 3))
        n_elif = self.pick([0, 0, 0, 1, 2]) if self.chance(0.5) else 0
        for _ in range(n_elif):
            c = self.expr("b", 2)
            self.emit(indent, f"elif {c.src}:")
            self.block(indent + 1, self.r.randint(1, 2))
        if self.chance(0.45):
            self.emit(indent, "else:")
            self.block(indent + 1, self.r.randint(1, 3))

    def s_for(self, indent):
        i = self.fresh("i")
        r = self.r.random()
        arrs = self.array_vars()
        over = None
        if r < 0.35 and arrs:
            v = self.pick(arrs)
            axis = self.r.randint(0, 1) if ndim(v.t) == 2 else 0
            over = (v.name, axis)
            rng = f"range(len({v.name}))" if axis == 0 else f"range({v.name}.shape[1])"
        elif r < 0.55:
            rng = f"range({self.bounded().src})"
        elif r < 0.8:
            rng = f"range({self.bounded().src}, {self.bounded().src})"
        else:
            step = self.pick([1, 2, 3, -1, -2, -3])
            if self.chance(0.05):
                step = self.int_expr(1).src + " % 3"
                self.features.add("computed_step")
            a, b = self.bounded().src, self.bounded().src
            if isinstance(step, int) and step < 0 and self.chance(0.7):
                a, b = b, a
            rng = f"range({a}, {b}, {step})"
        self.emit(indent, f"for {i} in {rng}:")
        self.loop_body(indent, "for", i, INT, small=True, over=over)

    def s_foreach(self, indent):
        a = self.pick(self.array_vars())
        x = self.fresh("x")
        if self.chance(0.4):
            i = self.fresh("i")
            self.emit(indent, f"for {i}, {x} in enumerate({a.name}):")
            self.vars[i] = Var(i, INT, ro=True, small=True, loopvar=True, over=(a.name, 0))
        else:
            i = None
            self.emit(indent, f"for {x} in {a.name}:")
        self.features.add("foreach")
        et = T(ELEM[arr_dt(a.t)]) if ndim(a.t) == 1 else "A:" + arr_dt(a.t)
        self.loop_body(indent, "for", x, et, small=True, loopvar=False, extra=i)

    def loop_body(self, indent, kind_, name, t, small, loopvar=True, extra=None, over=None):
        self.vars[name] = Var(name, t, ro=True, small=small, loopvar=loopvar, over=over)
        self.loops.append(kind_)
        self.block(indent + 1, self.r.randint(1, 5))
        self.loops.pop()
        for nm in (name, extra):
            if nm:
                v = self.vars[nm]
                v.ro, v.loopvar, v.maybe, v.small = False, False, True, False
        if self.chance(0.08):
            self.emit(indent, "else:")
            self.block(indent + 1, 1, allow_exit=False)

    def s_while(self, indent):
        k = self.fresh("k")
        self.emit(indent, f"{k} = 0")
        limit = self.r.randint(1, 9)
        cond = f"{k} < {limit}"
        if self.chance(0.5):
            c = self.expr("b", 1)
            cond = f"{cond} and {c.src}" if self.chance(0.5) else f"{c.src} and {cond}"
        self.emit(indent, f"while {cond}:")
        self.emit(indent + 1, f"{k} += 1")
        self.vars[k] = Var(k, INT, ro=True, small=True)
        self.loops.append("while")
        self.block(indent + 1, self.r.randint(1, 4))
        self.loops.pop()
        self.vars[k].ro = False
        self.vars[k].small = False
        self.features.add("while")

    def s_exit(self, indent):
        c = self.expr("b", 2)
        self.emit(indent, f"if {c.src}:")
        self.emit(indent + 1, self.pick(["break", "continue"]))

    def s_return(self, indent):
        c = self.expr("b", 2)
        self.emit(indent, f"if {c.src}:")
        self.emit(indent + 1, self.return_stmt())
        self.features.add("early_return")

    def s_swap(self, indent):
        cands = [v for v in self.readable(lambda v: not v.ro and not is_array(v.t))]
        if len(cands) < 2:
            return self.assign(indent)
        a, b = self.r.sample(cands, 2)
        eb = self.coerce(E(b.name, b.t), a.t)
        ea = self.coerce(self.scalar(kind(b.t) if kind(b.t) != "u" else "a", 1), b.t)
        self.emit(indent, f"{a.name}, {b.name} = {eb.src}, {ea.src}")
        a.small = b.small = False
        self.features.add("tuple_assign")

    def s_arrayop(self, indent):
        arrs = self.array_vars()
        a = self.pick(arrs)
        dt = arr_dt(a.t)
        r = self.r.random()
        if r < 0.12 and self.o.array_exprs and dt != "b":
            e = self.array_expr(a, 3)
            if e is not None and is_array(e.t):
                name = self.fresh("b")
                self.emit(indent, f"{name} = {e.src}")
                self.vars[name] = Var(name, e.t)
                self.features.add("array_expr")
                return
        if r < 0.25:  # new local array
            name = self.fresh("b")
            n = self.bounded().src
            form = self.pick(["np.zeros({n})", "np.ones({n})", "np.zeros({n}, np.int64)",
                              "np.full({n}, {v})", "{a}.copy()", "np.copy({a})", "{a}[::-1]",
                              "{a}[1:]", "{a}[::2]", "{a}[{n}:]", "np.arange({n})",
                              "np.zeros_like({a})", "np.sqrt({a})", "np.abs({a})",
                              "{a} * {v}", "{a} + {a}", "-{a}", "{a}[:{n}]"])
            v = self.scalar(self.pick("if"), 1)
            src = form.format(n=n, a=a.name, v=v.src)
            t = call_type(form.format(n="2", a="{0}", v="{1}"), a.t, v.t)
            if t is None or not is_array(t):
                return self.assign(indent)
            self.emit(indent, f"{name} = {src}")
            self.vars[name] = Var(name, t)
            self.features.add("local_array")
            return
        if r < 0.5 and self.o.slice_store_scalar:  # slice store
            lo, hi = self.bounded().src, self.bounded().src
            e = self.scalar({"f64": "f", "f32": "f", "i64": "i", "i32": "i", "b": "b"}[dt], 1)
            if not self.o.store_eval_order:
                e = self.safe_value({"f64": "f", "f32": "f", "i64": "i", "i32": "i", "b": "b"}[dt])
            if not self.o.slice_store_any_value and dt not in ("f64", "f32"):
                e = self.int_lit(small_only=True)
            form = self.pick(["{a}[{lo}:{hi}] = {e}", "{a}[{lo}:] = {e}", "{a}[:] = {e}",
                              "{a}[::-1][{lo}:{hi}] = {e}"])
            self.emit(indent, form.format(a=a.name, lo=lo, hi=hi, e=e.src))
            self.features.add("slice_store")
            return
        if r < 0.75:  # in place
            op = self.pick(["+", "-", "*"])
            e = self.scalar({"f64": "f", "f32": "f", "i64": "i", "i32": "i", "b": "b"}[dt], 1)
            if dt == "i32" and not self.o.int32_array_big_scalar and "int" in e.t:
                e = self.int_lit(small_only=True)
            t = binop_type(op, a.t, e.t)
            if t != a.t:
                return self.assign(indent)
            self.emit(indent, f"{a.name} {op}= {e.src}")
            self.features.add("inplace_array")
            return
        # array-valued assignment into an existing local array var of the same type
        others = [b for b in arrs if b.t == a.t and b is not a and not b.ro]
        if others and self.chance(0.5):
            b = self.pick(others)
            self.emit(indent, f"{b.name} = {a.name}")
            return
        e = self.reduction("a")
        if e is None:
            return self.assign(indent)
        name = self.fresh("s")
        self.emit(indent, f"{name} = {e.src}")
        self.vars[name] = Var(name, e.t, small=True)

    def array_expr(self, base, depth):
        """An element-wise expression over arrays shaped like base (fused by the compiler)."""
        if depth <= 0 or self.chance(0.25):
            r = self.r.random()
            if r < 0.5:
                return E(base.name, base.t)
            if r < 0.6:
                return E(f"{base.name}[::-1]", base.t)
            if r < 0.68:
                others = [v for v in self.array_vars(nd=ndim(base.t)) if arr_dt(v.t) != "b"]
                v = self.pick(others or [base])
                return E(v.name, v.t)
            if not self.o.int32_array_big_scalar and arr_dt(base.t) == "i32":
                return self.pick([self.int_lit(small_only=True), self.float_lit()])
            if not self.o.array_expr_eval_order:
                return self.safe_value(self.pick("ffi"))
            e = self.scalar(self.pick("ffi"), 1)
            return e if is_py(e.t) or self.chance(0.3) else E(f"float({e.src})", FLOAT)
        r = self.r.random()
        x = self.array_expr(base, depth - 1)
        if r < 0.5:
            y = self.array_expr(base, depth - 1)
            op = self.pick(["+", "-", "*", "/", "+", "*"])
            if x is None or y is None:
                return None
            t = binop_type(op, x.t, y.t)
            return None if t is None else E(f"({x.src} {op} {y.src})", t)
        if x is None:
            return None
        if r < 0.75:
            fn = self.pick(["np.sqrt", "np.abs", "-", "np.abs"])
            t = call_type(fn + "({0})", x.t)
            return None if t is None else E(f"{fn}({x.src})", t)
        y = self.array_expr(base, depth - 1)
        if y is None:
            return None
        if r < 0.9:
            fn = self.pick(["np.minimum", "np.maximum"])
            t = call_type(fn + "({0}, {1})", x.t, y.t)
            return None if t is None else E(f"{fn}({x.src}, {y.src})", t)
        c = self.scalar("f", 0)
        t = call_type("np.where({0} > {2}, {0}, {1})", x.t, y.t, c.t)
        if t is None or not is_array(x.t) or (not self.o.where_scalar and not is_array(y.t)):
            return None
        return E(f"np.where({x.src} > {c.src}, {x.src}, {y.src})", t)

    # ------------------------------------------------------------------ returns
    def return_expr(self):
        shape = self.ret_shape
        if shape == "none":
            return None
        if shape == "array":
            cands = [v for v in self.array_vars() if v.t == self.ret_array_t]
            if cands:
                return self.pick(cands).name
            return self.ret_array_default
        if shape == "tuple":
            return "(" + ", ".join(self.scalar("a", 2).src for _ in range(self.ret_len)) + ")"
        return self.scalar("a", 3).src

    def return_stmt(self):
        e = self.return_expr()
        return "return" if e is None else f"return {e}"

    # ------------------------------------------------------------------ params / args
    def param_types(self, n, arrays=True):
        out = []
        for _ in range(n):
            r = self.r.random()
            if r < 0.3:
                out.append(INT)
            elif r < 0.52:
                out.append(FLOAT)
            elif r < 0.56:
                out.append(BOOL)
            elif r < 0.62 and self.o.numpy_scalars:
                tags = ["i64", "f64"] + (["i32"] if self.o.int32 else []) + \
                    (["f32"] if self.o.float32 else [])
                out.append(T(self.pick(tags)))
            elif arrays:
                dts = [d for d in DTYPES if (d != "i32" or self.o.int32) and
                       (d != "f32" or self.o.float32) and (d != "b" or self.o.bool_arrays)]
                w = {"f64": 10, "i64": 7, "i32": 2, "f32": 2, "b": 1}
                prefix = "A2:" if self.o.arrays_2d and self.chance(0.2) else "A:"
                out.append(prefix + self.pick(dts, [w[d] for d in dts]))
            else:
                out.append(FLOAT)
        return out

    def arg_value(self, t):
        r = self.r.random()
        if is_array(t) and ndim(t) == 2:
            dt = arr_dt(t)
            rows, cols = self.pick([0, 1, 2, 3, 4], [1, 3, 4, 3, 2]), self.pick([1, 2, 3, 4])
            if self.chance(0.05):
                cols = 0
            vals = [self.elem_value(dt) for _ in range(rows * cols)]
            body = f"np.array([{', '.join(vals)}], dtype={DT_NAME[dt]}).reshape({rows}, {cols})"
            r2 = self.r.random()
            if self.o.fortran_args and r2 < 0.15:
                body = f"np.asfortranarray({body})"
                self.features.add("fortran_arg")
            elif self.o.strided_args and r2 < 0.22:
                views = ["[:, ::-1]", "[::-1]", "[:, ::2]"] + \
                    ([".T"] if self.o.fortran_args else [])
                body += self.pick(views)
                self.features.add("strided_arg")
            return body
        if is_array(t):
            dt = arr_dt(t)
            n = self.pick([0, 1, 2, 3, 4, 5, 6, 8], [1, 2, 3, 4, 4, 3, 2, 2])
            vals = [self.elem_value(dt) for _ in range(n)]
            body = f"np.array([{', '.join(vals)}], dtype={DT_NAME[dt]})"
            if self.o.strided_args and self.chance(0.12):
                extra = [self.elem_value(dt) for _ in range(n)]
                mixed = [x for pair in zip(vals, extra) for x in pair]
                body = f"np.array([{', '.join(mixed)}], dtype={DT_NAME[dt]})[::2]"
                self.features.add("strided_arg")
            elif self.o.strided_args and self.chance(0.06):
                body += "[::-1]"
                self.features.add("strided_arg")
            return body
        (tag,) = t
        if tag == "int":
            if self.o.big_int_args and r < 0.02:
                self.features.add("big_int_arg")
                return self.pick(["2 ** 64", "-(2 ** 63) - 1", "2 ** 100"])
            if r < 0.5:
                return str(self.r.randint(-3, 12))
            if r < 0.55:
                return "-(2 ** 63)"
            v = self.pick(INT_EDGE)
            return str(-v if self.chance(0.3) else v)
        if tag == "float":
            if r < 0.4:
                return repr(self.pick([0.5, 1.5, 2.0, -1.0, 3.25, 0.0, 10.0, -2.5]))
            if r < 0.55:
                return self.pick(["nan", "inf", "-inf", "-0.0"])
            v = self.pick(FLOAT_EDGE)
            return value_src(-v if self.chance(0.3) else v)
        if tag == "bool":
            return self.pick(["True", "False"])
        if tag in ("i64", "i32"):
            v = self.elem_value(tag)
            return f"{NP_NAME[tag]}({v})"
        if tag in ("f64", "f32"):
            return f"{NP_NAME[tag]}({self.elem_value(tag)})"
        return f"np.bool_({self.pick(['True', 'False'])})"

    def elem_value(self, dt):
        r = self.r.random()
        if dt == "b":
            return self.pick(["True", "False"])
        if dt in ("i64", "i32"):
            if r < 0.75:
                return str(self.r.randint(-5, 9))
            lim = 2 ** 63 if dt == "i64" else 2 ** 31
            return str(self.pick([lim - 1, -lim, -lim + 1, lim // 2, 3037000499, 65536,
                                  -(2 ** 31)]) if dt == "i64" else
                       self.pick([lim - 1, -lim, 65536, 46341]))
        if r < 0.6:
            return repr(self.pick([0.0, 0.5, 1.0, 1.5, 2.0, -1.0, -2.5, 3.75, 7.0, 0.1]))
        if r < 0.75:
            return self.pick(["nan", "inf", "-inf", "-0.0"])
        v = self.pick(FLOAT_EDGE)
        if dt == "f32" and abs(v) > 3e38:
            v = 3.0e38
        return value_src(v)

    def args_src(self, ptypes):
        vals = [self.arg_value(t) for t in ptypes]
        if self.o.aliasing_args and self.chance(0.04):
            arr_idx = [i for i, t in enumerate(ptypes) if is_array(t)]
            pairs = [(i, j) for i in arr_idx for j in arr_idx if i < j and ptypes[i] == ptypes[j]]
            if pairs:
                i, j = self.pick(pairs)
                self.features.add("aliased_args")
                view = self.pick(["_b", "_b[::-1]", "_b[1:]", "_b[::2]"])
                vals = [("_b" if k == i else view if k == j else v) for k, v in enumerate(vals)]
                return f"(lambda _b: ({', '.join(vals)},))({self.arg_value(ptypes[i])})"
        return "(" + ", ".join(vals) + ("," if len(vals) == 1 else "") + ")"

    # ------------------------------------------------------------------ functions
    def function(self, name, ptypes, n_stmts, ret_shape):
        self.vars = {n: Var(n, t, ro=True, small=True) for n, t in self.globals.items()}
        self.lines = []
        self.loops = []
        params = []
        for t in ptypes:
            p = self.fresh("a" if is_array(t) else "p")
            params.append(p)
            self.vars[p] = Var(p, t)
        self.ret_shape = ret_shape
        self.ret_len = self.r.randint(2, 3)
        arrays = [p for p, t in zip(params, ptypes) if is_array(t)]
        if ret_shape == "array":
            if not arrays:
                self.ret_shape = ret_shape = "scalar"
            else:
                p = self.pick(arrays)
                self.ret_array_t = self.vars[p].t
                self.ret_array_default = p
        # params are not 'small' once assigned: keep a frozen copy of the flag only for
        # those that are never assigned (decided up front)
        for p in params:
            v = self.vars[p]
            v.ro = self.chance(0.5)
            v.small = v.ro and not is_array(v.t)
        self.budget = n_stmts
        while self.budget > 0:
            self.stmt(1)
        if ret_shape != "none" or self.chance(0.5):
            self.emit(1, self.return_stmt())
        head = f"def {name}({', '.join(params)}):"
        return "\n".join([head] + self.lines) + "\n"

    def parallel_program(self):
        return ParallelGen(self).program()

    def program(self):
        o = self.o
        if self.r.randrange(100) < o.parallel:
            return self.parallel_program()
        parts = [HEADER]
        self.globals = {}
        if o.globals_ and self.chance(0.2):
            for _ in range(self.r.randint(1, 2)):
                name = f"G{len(self.globals) + 1}"
                e = self.literal(self.pick("iifb"))
                parts.append(f"{name} = {e.src}\n")
                self.globals[name] = e.t
            parts.append("\n\n")
            self.features.add("global")
        if o.helpers and self.chance(0.15):
            hp = self.param_types(self.r.randint(1, 3))
            src = self.function("g", hp, self.r.randint(1, 6), "scalar")
            # the helper's result type is not tracked precisely: treat it as a union
            self.helper = ("g", hp, NUM)
            parts.append(src + "\n\n")
            self.features.add("helper")
        ptypes = self.param_types(self.r.randint(1, 4))
        shape = self.pick(["scalar", "tuple", "array", "none"], [60, 20, 10, 10])
        src = self.function("f", ptypes, self.r.randint(3, o.max_stmts), shape)
        parts.append(src)
        arg_sets = [self.args_src(ptypes) for _ in range(3)]
        return Program(self.seed, "".join(parts), arg_sets, set(self.features))


class ParallelGen:
    """Programs around one big loop that Level 3 can run on all cores (see docs/levels.md:
    writes only out[i], private temporaries, + and * reductions, no return or break),
    with enough iterations to pass the run-time work threshold (~200,000) -- or a bit
    fewer, so the serial fallback runs too. Values include NaN/inf/0 at a few indices, so
    errors inside chunks (-> deopt, CPython's exception after CPython's writes) happen."""

    def __init__(self, g):
        self.g, self.r = g, g.r

    def pexpr(self, leaves, depth):
        r = self.r.random()
        if depth <= 0 or r < 0.3:
            return self.r.choice(leaves)
        a, b = self.pexpr(leaves, depth - 1), self.pexpr(leaves, depth - 1)
        if r < 0.75:
            return f"({a} {self.r.choice(['+', '-', '*', '*', '/'])} {b})"
        fn = self.r.choice(["math.sqrt(abs({}))", "math.sin({})", "math.exp({} * 0.01)",
                            "math.log(abs({}) + 1.0)", "abs({})", "min({}, {b})",
                            "max({}, {b})", "math.floor({})", "math.log({})", "({} % 3.0)",
                            "({} // 1.5)"])
        return fn.format(a, b=b)

    def big_array(self, n, kind_):
        seed = self.r.randrange(1000)
        if kind_ == "i64":
            base = f"np.random.default_rng({seed}).integers(-50, 50, {n})"
            edge = self.r.choice(["0", "-1", "2 ** 62", "9"])
        else:
            base = f"np.random.default_rng({seed}).uniform(-4.0, 4.0, {n})"
            edge = self.r.choice(["nan", "inf", "-0.0", "0.0", "1e308", "-inf"])
        if self.r.random() < 0.5:
            period = self.r.choice([n // 3 + 1, 50021, 99991, 7])
            return f"np.where(np.arange({n}) % {period} == {self.r.randrange(5)}, {edge}, {base})"
        return base

    def program(self):
        g, r = self.g, self.r
        g.features.add("parallel_template")
        two_d = r.random() < 0.3
        n = r.choice([300_000, 250_000, 210_000, 150_000, 5_000])
        y_int = r.random() < 0.3
        lines = []
        emit = lines.append
        red_f = r.random() < 0.8
        red_i = r.random() < 0.4
        red_p = r.random() < 0.15
        red_f_py = r.random() < 0.5          # s += float(...) keeps s a Python float
        out_int = r.random() < 0.15
        if two_d:
            rows, cols = r.choice([(3000, 100), (2000, 120), (400, 50)])
            emit("def f(m, v, out, c, k):")
            leaves = ["m[i, j]", "v[j]", "c", "t", "m[i, j] * v[j]", "1.5"]
        else:
            emit("def f(x, y, out, c, k):")
            leaves = ["x[i]", "y[i]", "x[len(x) - 1 - i]", "c", "k", "i", "0.5", "x[i] * c"]
        if red_f:
            emit("    s = 0.0")
        if red_i:
            emit("    n = 0")
        if red_p:
            emit("    p = 1.0")
        if two_d:
            emit("    for i in range(m.shape[0]):")
            emit("        t = 0.0")
            emit("        for j in range(m.shape[1]):")
            emit(f"            t += {self.pexpr(leaves, 2)}")
            body_leaves = ["t", "c", "v[i % len(v)]", "m[i, 0]", "k", "i"]
        else:
            emit("    for i in range(len(x)):")
            emit(f"        t = {self.pexpr(leaves, 2)}")
            body_leaves = leaves + ["t"]
        ind = "        "
        if r.random() < 0.5:
            emit(f"{ind}if {self.pexpr(body_leaves, 1)} > {r.choice(['0.0', 'c', '1.0'])}:")
            emit(f"{ind}    t = {self.pexpr(body_leaves, 2)}")
            if r.random() < 0.4:
                emit(f"{ind}else:")
                emit(f"{ind}    t = {self.pexpr(body_leaves, 1)}")
        if r.random() < 0.4:
            emit(f"{ind}u = {self.pexpr(body_leaves, 2)}")
            body_leaves = body_leaves + ["u"]
        emit(f"{ind}out[i] = {self.pexpr(body_leaves, 1)}")
        if red_f:
            e = self.pexpr(body_leaves, 1)
            emit(f"{ind}s += float({e})" if red_f_py else f"{ind}s += {e}")
        if red_i:
            emit(f"{ind}n += {r.choice(['int(t)', 'k * (i % 3)', 'i', 'int(out[i] > 0)'])}")
        if red_p:
            emit(f"{ind}p *= {r.choice(['1.0000001', '(1.0 + abs(t) * 1e-6)', 'c'])}")
        rets = (["s"] if red_f else []) + (["n"] if red_i else []) + (["p"] if red_p else [])
        rets.append(r.choice(["out[0]", "out[-1]", "len(out)"]))
        emit(f"    return ({', '.join(rets)})")
        source = HEADER + "\n".join(lines) + "\n"

        def args():
            c = r.choice(["0.5", "-1.25", "3.0", "0.0", "nan", "1e300"])
            k = r.choice(["3", "-2", "0", str(2 ** 62), "7"])
            if two_d:
                mm = f"{self.big_array(rows * cols, 'f64')}.reshape({rows}, {cols})"
                v = self.big_array(cols, "f64")
                out = f"np.zeros({rows}{', np.int64' if out_int else ''})"
                return f"({mm}, {v}, {out}, {c}, {k})"
            x = self.big_array(n, "f64")
            y = self.big_array(n, "i64" if y_int else "f64")
            out = f"np.zeros({n}{', np.int64' if out_int else ''})"
            if r.random() < 0.1:  # out is x itself: the overlap check keeps the loop serial
                g.features.add("parallel_overlap")
                return f"(lambda _b: (_b, {y}, _b, {c}, {k}))({x})"
            return f"({x}, {y}, {out}, {c}, {k})"

        return Program(g.seed, source, [args(), args()], set(g.features))


def generate(seed, opts=None):
    """The program for ``seed`` (deterministic)."""
    return Gen(seed, opts).program()


if __name__ == "__main__":  # print a few programs: python3 gen.py [seed] [count]
    import sys

    s0 = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    cnt = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    for s in range(s0, s0 + cnt):
        p = generate(s)
        print(f"# ---- seed {s}  features: {sorted(p.features)}")
        print(p.source)
        for a in p.arg_sets:
            print("# args:", a)
        print()
