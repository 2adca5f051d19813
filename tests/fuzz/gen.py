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

The generator is split by what it makes: gen_types.py (types, promotion, the expression and
variable records), gen_exprs.py and gen_stmts.py (``Gen``'s expression and statement methods,
as mixins), and this file (options, parameters and arguments, whole programs).

Feature switches (``Options``) let a caller leave out a construct, e.g. while a known
compiler bug in it is being fixed (tests/fuzz/README.md lists them).
"""

from __future__ import annotations

import dataclasses
import random

from gen_exprs import ExprMixin
from gen_stmts import StmtMixin
from gen_types import *  # noqa: F401,F403 (re-exported: the fuzzer's other modules use gen.*)


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

class Gen(ExprMixin, StmtMixin):
    """One program from one seed: the symbol table, the options and the random source;
    expressions in gen_exprs.py, statements in gen_stmts.py, parameters and the program here."""

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
