// jit/codegen/lower_call.cpp — the expression dispatcher, builtins, the math module and calls between compiled functions.
#include <llvm/IR/Intrinsics.h>

#include <climits>

#include "jit/codegen/codegen_impl.h"
#include "jit/passes/passes.h"
#include "runtime/abi.h"

namespace epochpp::codegen {

using namespace llvm;
using ir::ExprKind;
using ir::Op;

Value* FnLowering::libm(const char* name, std::vector<Value*> args) {
  std::vector<llvm::Type*> tys;
  for (auto* a : args) tys.push_back(a->getType());
  auto* ft = FunctionType::get(args[0]->getType(), tys, false);
  // on a GPU the same functions come from libdevice (__nv_sin, __nv_erff, ...)
  auto callee = m.M.getOrInsertFunction(m.gpu ? std::string("__nv_") + name : std::string(name), ft);
  if (auto* f = dyn_cast<llvm::Function>(callee.getCallee())) {
    f->setDoesNotThrow();
    f->setOnlyAccessesInaccessibleMemory();  // errno only
  }
  return b.CreateCall(callee, args);
}

Val FnLowering::expr(const ir::Expr& e) {
  if (e.type.isArray() && (e.kind == ExprKind::Binary || e.kind == ExprKind::Compare || e.kind == ExprKind::Unary ||
                            (e.kind == ExprKind::Attr && e.name == "T")))
    return arrayExpr(e);
  switch (e.kind) {
    case ExprKind::Const: return constant(e);
    case ExprKind::Var: return readVar(e.slot, e.line);
    case ExprKind::NamedExpr: {
      Val v = expr(*e.args[0]);
      assign(e.slot, v, e.line);
      return v;
    }
    case ExprKind::Unary: return unary(e, expr(*e.args[0]));
    case ExprKind::Binary: case ExprKind::Compare: {
      if (proven.count(&e)) {  // int arithmetic whose range a check before the loop (or chunk) covered
        Value* x = convert(expr(*e.args[0]), Kind::Int, e.line).v;
        Value* y = convert(expr(*e.args[1]), Kind::Int, e.line).v;
        return {e.op == Op::Add ? b.CreateNSWAdd(x, y) : e.op == Op::Sub ? b.CreateNSWSub(x, y) : b.CreateNSWMul(x, y), e.type};
      }
      Val a = expr(*e.args[0]);
      Val c = expr(*e.args[1]);
      if ((e.facts & ir::kFactNonNegDivMod) && a.t.kind == Kind::Int && c.t.kind == Kind::Int) {
        // int_signs.cpp proved a >= 0 and c >= 1: truncating division is Python's floor division
        if (e.op == Op::Mod) return {b.CreateURem(a.v, c.v), e.type};
        if (e.op == Op::FloorDiv) return {b.CreateUDiv(a.v, c.v), e.type};
      }
      const ir::Expr& r = *e.args[1];
      bool nonneg = r.kind == ExprKind::Const && r.type.kind == Kind::Int && r.ival >= 0;
      return binary(e.op, a, c, e.type, e.line, nonneg);
    }
    case ExprKind::BoolOp: {
      // a and b -> b if a is true else a;  a or b -> a if a is true else b
      Val a0 = expr(*e.args[0]);
      Value* ta = truth(a0, e.line);
      Val aw = coerce(a0, e.type, e.line);
      BasicBlock* from = b.GetInsertBlock();
      auto* evalB = newBB("boolop.rhs");
      auto* merge = newBB("boolop.end");
      if (e.op == Op::And) b.CreateCondBr(ta, evalB, merge);
      else b.CreateCondBr(ta, merge, evalB);
      b.SetInsertPoint(evalB);
      Val bw = coerce(expr(*e.args[1]), e.type, e.line);
      BasicBlock* evalEnd = b.GetInsertBlock();
      b.CreateBr(merge);
      b.SetInsertPoint(merge);
      auto* phi = b.CreatePHI(m.lower(e.type), 2);
      phi->addIncoming(aw.v, from);
      phi->addIncoming(bw.v, evalEnd);
      return {phi, e.type};
    }
    case ExprKind::IfExp: {
      Value* c = truth(expr(*e.args[0]), e.line);
      auto* tB = newBB("ifexp.then");
      auto* fB = newBB("ifexp.else");
      auto* merge = newBB("ifexp.end");
      b.CreateCondBr(c, tB, fB);
      b.SetInsertPoint(tB);
      Val tv = coerce(expr(*e.args[1]), e.type, e.line);
      BasicBlock* tEnd = b.GetInsertBlock();
      b.CreateBr(merge);
      b.SetInsertPoint(fB);
      Val fv = coerce(expr(*e.args[2]), e.type, e.line);
      BasicBlock* fEnd = b.GetInsertBlock();
      b.CreateBr(merge);
      b.SetInsertPoint(merge);
      auto* phi = b.CreatePHI(m.lower(e.type), 2);
      phi->addIncoming(tv.v, tEnd);
      phi->addIncoming(fv.v, fEnd);
      return {phi, e.type};
    }
    case ExprKind::Intrinsic: return intrinsic(e);
    case ExprKind::CallFunc: return callFunc(e);
    case ExprKind::Index: return indexExpr(e);
    case ExprKind::Attr: {
      Val a = expr(*e.args[0]);
      if (e.name == "shape") {
        Value* t = UndefValue::get(m.lower(e.type));
        for (unsigned d = 0; d < a.t.ndim; ++d) t = b.CreateInsertValue(t, dim(a, d), {d});
        return {t, e.type};
      }
      if (e.name == "ndim") return {i64(a.t.ndim), e.type};
      if (e.name == "size") {
        Value* n = i64(1);
        for (int d = 0; d < a.t.ndim; ++d) n = b.CreateMul(n, dim(a, d));
        return {n, e.type};
      }
      break;
    }
    case ExprKind::TupleMake: {
      Value* t = UndefValue::get(m.lower(e.type));
      for (unsigned i = 0; i < e.args.size(); ++i) t = b.CreateInsertValue(t, coerce(expr(*e.args[i]), e.type.elems[i], e.line).v, {i});
      return {t, e.type};
    }
    case ExprKind::TupleGet: {
      Val t = expr(*e.args[0]);
      return {b.CreateExtractValue(t.v, {(unsigned)e.ival}), e.type};
    }
    default: break;
  }
  throw ir::Unsupported{e.line, "internal error: cannot lower " + ir::print(e, f)};
}

// math.* with CPython's error rules: a NaN from a non-NaN input is a domain error (ValueError);
// an infinity from a finite input is OverflowError for the functions that can overflow.
Val FnLowering::mathCall(const std::string& n, std::vector<Val> args, int line, uint8_t facts) {
  std::vector<Value*> d;
  for (auto& a : args) d.push_back(toDouble(a, line));
  auto* dt = b.getDoubleTy();
  Type F = Type::scalar(Kind::Float);
  Value* inf = ConstantFP::getInfinity(dt);
  auto isnan = [&](Value* v) { return b.CreateFCmpUNO(v, v); };
  auto isinf = [&](Value* v) { return b.CreateFCmpOEQ(b.CreateUnaryIntrinsic(Intrinsic::fabs, v), inf); };
  auto finite = [&](Value* v) { return b.CreateFCmpONE(b.CreateUnaryIntrinsic(Intrinsic::fabs, v), inf); };
  std::string fnm = n.substr(5);
  if (fnm == "isnan") return {isnan(d[0]), Type::scalar(Kind::Bool)};
  if (fnm == "isinf") return {isinf(d[0]), Type::scalar(Kind::Bool)};
  if (fnm == "isfinite") return {finite(d[0]), Type::scalar(Kind::Bool)};
  if (fnm == "fabs") return {b.CreateUnaryIntrinsic(Intrinsic::fabs, d[0]), F};
  if (fnm == "copysign") return {b.CreateBinaryIntrinsic(Intrinsic::copysign, d[0], d[1]), F};
  if (fnm == "floor" || fnm == "ceil" || fnm == "trunc") {
    Intrinsic::ID id = fnm == "floor" ? Intrinsic::floor : fnm == "ceil" ? Intrinsic::ceil : Intrinsic::trunc;
    if (args[0].t.isIntLike() || args[0].t.isBoolLike()) return convert(args[0], Kind::Int, line);
    Value* r = b.CreateUnaryIntrinsic(id, d[0]);
    return convert({r, F}, Kind::Int, line);
  }
  if (fnm == "degrees") return {b.CreateFMul(d[0], ConstantFP::get(dt, 180.0 / 3.141592653589793)), F};
  if (fnm == "radians") return {b.CreateFMul(d[0], ConstantFP::get(dt, 3.141592653589793 / 180.0)), F};
  if (fnm == "sqrt") {
    Value* r = b.CreateUnaryIntrinsic(Intrinsic::sqrt, d[0]);
    if (!(facts & ir::kFactNonNegArg))  // float_signs.cpp: never negative, no error possible
      raiseIf(b.CreateAnd(isnan(r), b.CreateNot(isnan(d[0]))), EP_EXC_VALUE, "math domain error", line);
    return {r, F};
  }
  if (fnm == "log" || fnm == "log2" || fnm == "log10") {
    // CPython's loghelper: x <= 0 -> ValueError; log(x, base) = log(x) / log(base)
    auto one = [&](Value* x) {
      raiseIf(b.CreateFCmpOLE(x, ConstantFP::get(dt, 0.0)), EP_EXC_VALUE, "math domain error", line);
      return libm(fnm == "log" ? "log" : fnm.c_str(), {x});
    };
    Value* r = one(d[0]);
    if (d.size() == 2) {
      Value* den = one(d[1]);
      raiseIf(b.CreateFCmpOEQ(den, ConstantFP::get(dt, 0.0)), EP_EXC_ZERO_DIVISION, "float division by zero", line);
      r = b.CreateFDiv(r, den);
    }
    return {r, F};
  }
  if (fnm == "pow") {
    // math.pow: like float ** but a negative base with a fractional exponent is ValueError
    Value* x = d[0], *y = d[1];
    Value* zero = ConstantFP::get(dt, 0.0);
    Value* r = libm("pow", {x, y});
    Value* domain = b.CreateAnd(isnan(r), b.CreateAnd(b.CreateNot(isnan(x)), b.CreateNot(isnan(y))));
    raiseIf(domain, EP_EXC_VALUE, "math domain error", line);
    Value* over = b.CreateAnd(b.CreateAnd(finite(x), finite(y)), isinf(r));
    raiseIf(b.CreateAnd(over, b.CreateFCmpOEQ(x, zero)), EP_EXC_VALUE, "math domain error", line);
    raiseIf(over, EP_EXC_OVERFLOW, "math range error", line);
    return {r, F};
  }
  if (fnm == "fmod") {
    Value* x = d[0], *y = d[1];
    Value* r = b.CreateFRem(x, y);
    Value* domain = b.CreateAnd(isnan(r), b.CreateAnd(b.CreateNot(isnan(x)), b.CreateNot(isnan(y))));
    raiseIf(domain, EP_EXC_VALUE, "math domain error", line);
    return {r, F};
  }
  if (fnm == "atan2") return {libm("atan2", {d[0], d[1]}), F};
  if (fnm == "hypot") {  // CPython's algorithm (not libm's hypot): computed by CPython itself
    Value* out = entryAlloca(dt, "hypot.out");
    checkStatus(b.CreateCall(m.rt("ep_rt_math_hypot"), {ctx, d[0], d[1], out}));
    return {b.CreateLoad(dt, out), F};
  }
  static const char* overflowing[] = {"exp", "expm1", "cosh", "sinh"};
  bool canOverflow = false;
  for (auto* o : overflowing) canOverflow |= fnm == o;
  Value* r = libm(fnm.c_str(), {d[0]});
  raiseIf(b.CreateAnd(isnan(r), b.CreateNot(isnan(d[0]))), EP_EXC_VALUE, "math domain error", line);
  raiseIf(b.CreateAnd(isinf(r), finite(d[0])), canOverflow ? EP_EXC_OVERFLOW : EP_EXC_VALUE,
          canOverflow ? "math range error" : "math domain error", line);
  return {r, F};
}

Val FnLowering::intrinsic(const ir::Expr& e) {
  const std::string& n = e.name;
  if (n.rfind("np.", 0) == 0 || n.rfind("array.", 0) == 0) return arrayIntrinsic(e);
  std::vector<Val> a;
  for (auto& x : e.args) a.push_back(expr(*x));
  if (n.rfind("math.", 0) == 0) {
    if (a[0].t.kind == Kind::Union && n != "math.floor" && n != "math.ceil" && n != "math.trunc") {
      // convert each member to float first, then one call
      for (auto& v : a) v = convert(v, Kind::Float, e.line);
    }
    if (a[0].t.kind == Kind::Union)
      return forEach(a[0], e.type, [&](Val x) { std::vector<Val> aa = a; aa[0] = x; return mathCall(n, aa, e.line, e.facts); }, e.line);
    return mathCall(n, a, e.line, e.facts);
  }
  if (n == "abs") {
    return forEach(a[0], e.type, [&](Val x) -> Val {
      Kind k = x.t.kind;
      if (k == Kind::Bool) return convert(x, Kind::Int, e.line);
      if (ir::isFloatKind(k)) return {b.CreateUnaryIntrinsic(Intrinsic::fabs, x.v), x.t};
      if (k == Kind::Int) deoptIf(b.CreateICmpEQ(x.v, i64(INT64_MIN)));
      return {b.CreateBinaryIntrinsic(Intrinsic::abs, x.v, b.getInt1(false)), x.t};
    }, e.line);
  }
  if (n == "min" || n == "max") {
    // Python: keep the first; replace when item < current (min) / item > current (max).
    Val cur = coerce(a[0], e.type, e.line);
    for (size_t i = 1; i < a.size(); ++i) {
      Val item = a[i];
      Val curv = cur;
      Val better = forEach(item, Type::scalar(Kind::Bool), [&](Val x) {
        return forEach(curv, Type::scalar(Kind::Bool), [&](Val y) {
          Val c = compare(n == "min" ? Op::Lt : Op::Gt, x, y, e.line);
          return Val{truth(c, e.line), Type::scalar(Kind::Bool)};
        }, e.line);
      }, e.line);
      Val iw = coerce(item, e.type, e.line);
      cur = {b.CreateSelect(better.v, iw.v, curv.v), e.type};
    }
    return cur;
  }
  if (n == "int") return convert(a[0], Kind::Int, e.line);
  if (n == "float") return convert(a[0], Kind::Float, e.line);
  if (n == "bool") return {truth(a[0], e.line), e.type};
  if (n == "len") {
    if (a[0].t.kind == Kind::Tuple) return {i64((int64_t)a[0].t.elems.size()), e.type};
    return {dim(a[0], 0), e.type};
  }
  if (n == "pow") return binary(Op::Pow, a[0], a[1], e.type, e.line, false);
  if (n == "round") {
    bool nd = a.size() == 2 && a[1].t.kind != Kind::None;
    return forEach(a[0], e.type, [&](Val x) -> Val {
      if (x.t.kind != Kind::Float) {
        Val iv = convert(x, Kind::Int, e.line);
        if (!nd) return iv;
        // round(int, n): n >= 0 is the identity; negative n rounds half to even at 10**-n
        Value* ndv = convert(a[1], Kind::Int, e.line).v;
        return roundIntNeg(iv.v, ndv, e.line);
      }
      if (!nd) {
        // round-half-even to an int; nan/inf raise like int()
        Value* r = b.CreateUnaryIntrinsic(Intrinsic::roundeven, x.v);
        return convert({r, x.t}, Kind::Int, e.line);
      }
      Value* ndv = convert(a[1], Kind::Int, e.line).v;
      Value* out = entryAlloca(b.getDoubleTy(), "round.out");
      checkStatus(b.CreateCall(m.rt("ep_rt_round_ndigits"), {ctx, x.v, ndv, out}));
      return {b.CreateLoad(b.getDoubleTy(), out), x.t};
    }, e.line);
  }
  throw ir::Unsupported{e.line, "internal error: intrinsic " + n};
}

// round(x, n) for an int x and n < 0: to a multiple of 10**-n, ties to even (CPython's rule).
Val FnLowering::roundIntNeg(Value* x, Value* nd, int line) {
  Type I = Type::scalar(Kind::Int);
  auto* negB = newBB("roundi.neg");
  auto* doneB = newBB("roundi.done");
  BasicBlock* pre = b.GetInsertBlock();
  b.CreateCondBr(b.CreateICmpSLT(nd, i64(0)), negB, doneB);
  b.SetInsertPoint(negB);
  Value* k = b.CreateNeg(nd);
  // 10**k for k <= 18; beyond that every int64 rounds to 0
  Value* p = i64(1);
  Value* kk = b.CreateSelect(b.CreateICmpSGT(k, i64(18)), i64(18), k);
  for (int i = 0; i < 18; ++i) p = b.CreateSelect(b.CreateICmpSLT(i64(i), kk), b.CreateMul(p, i64(10)), p);
  Value* huge = b.CreateICmpSGT(k, i64(18));
  Val q = pyIntOp(Op::FloorDiv, x, p, line);
  Value* r = b.CreateSub(x, b.CreateMul(q.v, p));
  Value* twice = b.CreateShl(r, i64(1));
  Value* up = b.CreateOr(b.CreateICmpSGT(twice, p),
                         b.CreateAnd(b.CreateICmpEQ(twice, p), b.CreateTrunc(q.v, b.getInt1Ty())));
  Value* q2 = b.CreateAdd(q.v, b.CreateZExt(up, b.getInt64Ty()));
  Val res = pyIntOp(Op::Mul, q2, p, line);
  Value* out = b.CreateSelect(huge, i64(0), res.v);
  BasicBlock* negEnd = b.GetInsertBlock();
  b.CreateBr(doneB);
  b.SetInsertPoint(doneB);
  auto* phi = b.CreatePHI(b.getInt64Ty(), 2);
  phi->addIncoming(x, pre);
  phi->addIncoming(out, negEnd);
  return {phi, I};
}

int calleeTargetOf(const LoweringInput& in, int index, const ir::Expr& e) {
  int target = in.callee_map[index][e.callee];
  if (index < (int)in.call_targets.size()) {
    std::string sig = "(";
    for (size_t i = 0; i < e.args.size(); ++i) sig += (i ? ", " : "") + e.args[i]->type.str();
    auto it = in.call_targets[index].find({e.callee, sig + ")"});
    if (it != in.call_targets[index].end()) target = it->second;
  }
  return target;
}

int FnLowering::calleeTarget(const ir::Expr& e) { return calleeTargetOf(m.in, index, e); }

Val FnLowering::callFunc(const ir::Expr& e) {
  int target = calleeTarget(e);
  const ir::Function& g = *m.in.functions[target];
  std::vector<Value*> args = {ctx, b.CreateAdd(depth, i32(1))};
  for (size_t i = 0; i < e.args.size(); ++i) args.push_back(coerce(expr(*e.args[i]), g.param_types[i], e.line).v);
  if (depthFree && target == index && f.leaf_value) return leafOrCall(e, args);
  // the unchecked copy calls itself: its caller checked that no nested call reaches the limit
  Value* call = b.CreateCall(depthFree && target == index ? m.freeFns[index] : m.fns[target], args);
  checkStatus(b.CreateExtractValue(call, {0}));
  return coerce({b.CreateExtractValue(call, {1}), g.return_type}, e.type, e.line);
}

// A self-call in the unchecked copy of a function with a leaf (recursion_bound.cpp): with the
// measure below leaf_below the callee would return its leaf value straight away, and no depth
// check is due in this copy, so that value is taken without the call (fib: half of all calls).
Val FnLowering::leafOrCall(const ir::Expr& e, const std::vector<Value*>& args) {
  const ir::Expr& v = *f.leaf_value;
  auto* leafB = newBB("leaf");
  auto* callB = newBB("leaf.call");
  auto* merge = newBB("leaf.end");
  b.CreateCondBr(b.CreateICmpSLT(args[2 + f.measure_slot], i64(f.leaf_below)), leafB, callB);
  b.SetInsertPoint(leafB);
  Val lv = v.kind == ExprKind::Var  // the parameter as the callee's local holds it, then returned
               ? coerce(coerce({args[2 + v.slot], f.param_types[v.slot]}, f.locals[v.slot].type, e.line), f.return_type, e.line)
               : coerce(constant(v), f.return_type, e.line);
  BasicBlock* leafEnd = b.GetInsertBlock();
  b.CreateBr(merge);
  b.SetInsertPoint(callB);
  Value* call = b.CreateCall(m.freeFns[index], args);
  checkStatus(b.CreateExtractValue(call, {0}));
  Value* rv = b.CreateExtractValue(call, {1});
  BasicBlock* callEnd = b.GetInsertBlock();
  b.CreateBr(merge);
  b.SetInsertPoint(merge);
  auto* phi = b.CreatePHI(rv->getType(), 2);
  phi->addIncoming(lv.v, leafEnd);
  phi->addIncoming(rv, callEnd);
  return coerce({phi, f.return_type}, e.type, e.line);
}

}  // namespace epochpp::codegen
