"""Expressions for the fuzzer's program generator (gen.Gen): literals, leaves, operators,
calls, casts."""

from __future__ import annotations

from gen_types import *  # noqa: F401,F403 (the type helpers and records)


class ExprMixin:
    """Methods of gen.Gen (they use its random source, symbol table and options)."""

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
