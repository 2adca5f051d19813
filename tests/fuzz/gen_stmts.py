"""Statements for the fuzzer's program generator (gen.Gen): blocks, assignments, stores,
loops, array operations, returns."""

from __future__ import annotations

from gen_types import *  # noqa: F401,F403 (the type helpers and records)


class StmtMixin:
    """Methods of gen.Gen (they use its random source, symbol table and options)."""

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
