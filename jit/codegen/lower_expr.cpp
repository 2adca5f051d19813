// jit/codegen/lower_expr.cpp — scalar expressions: constants, conversions, unions, Python and NumPy arithmetic.
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/MDBuilder.h>

#include <climits>

#include "jit/codegen/codegen_impl.h"
#include "jit/passes/passes.h"
#include "runtime/abi.h"

namespace epochpp::codegen {

using namespace llvm;
using ir::ExprKind;
using ir::Op;

Val FnLowering::constant(const ir::Expr& e) {
  switch (e.type.kind) {
    case Kind::Bool: return {b.getInt1(e.ival != 0), e.type};
    case Kind::Int: return {i64(e.ival), e.type};
    case Kind::Float: return {ConstantFP::get(b.getDoubleTy(), e.fval), e.type};
    default: return {b.getInt8(0), e.type};
  }
}

// ---- unions ---------------------------------------------------------------------------
static Value* toPayload(IRBuilderBase& b, Value* v) {
  auto* i64t = b.getInt64Ty();
  if (v->getType()->isDoubleTy()) return b.CreateBitCast(v, i64t);
  if (v->getType()->isFloatTy()) return b.CreateBitCast(b.CreateFPExt(v, b.getDoubleTy()), i64t);
  if (v->getType()->isIntegerTy(1) || v->getType()->isIntegerTy(8)) return b.CreateZExt(v, i64t);
  if (v->getType()->isIntegerTy(32)) return b.CreateSExt(v, i64t);
  return v;
}

Val FnLowering::coerce(Val x, const Type& to, int line) {
  if (x.t == to) return x;
  if (to.kind == Kind::Union) {
    if (x.t.kind == Kind::Union) return {x.v, to};
    Value* u = UndefValue::get(m.unionTy);
    u = b.CreateInsertValue(u, b.getInt8((uint8_t)x.t.kind), {0});
    u = b.CreateInsertValue(u, toPayload(b, x.v), {1});
    return {u, to};
  }
  if (to.kind == Kind::Array && x.t.kind == Kind::Array) return {x.v, to};  // layout facts forgotten
  if (to.kind == Kind::Tuple && x.t.kind == Kind::Tuple) {
    Value* out = UndefValue::get(m.lower(to));
    for (unsigned i = 0; i < to.elems.size(); ++i) {
      Val el = coerce({b.CreateExtractValue(x.v, {i}), x.t.elems[i]}, to.elems[i], line);
      out = b.CreateInsertValue(out, el.v, {i});
    }
    return {out, to};
  }
  if (x.t.isScalar() && to.isScalar()) return convert(x, to.kind, line);
  throw ir::Unsupported{line, "internal error: cannot coerce " + x.t.str() + " to " + to.str()};
}

static Value* fromPayload(IRBuilderBase& b, Value* p, llvm::Type* t) {
  if (t->isDoubleTy()) return b.CreateBitCast(p, t);
  if (t->isFloatTy()) return b.CreateFPTrunc(b.CreateBitCast(p, b.getDoubleTy()), t);
  if (t->isIntegerTy(64)) return p;
  return b.CreateTrunc(p, t);
}

Val FnLowering::forEach(Val x, const Type& result, const std::function<Val(Val)>& body, int line) {
  if (x.t.kind != Kind::Union) return coerce(body(x), result, line);
  Value* tag = b.CreateExtractValue(x.v, {0});
  Value* payload = b.CreateExtractValue(x.v, {1});
  auto* merge = newBB("union.merge");
  auto* dflt = newBB("union.bad");
  auto* sw = b.CreateSwitch(tag, dflt, (unsigned)x.t.elems.size());
  std::vector<std::pair<Value*, BasicBlock*>> incoming;
  for (auto& mt : x.t.elems) {
    auto* bb = newBB(ir::kindName(mt.kind));
    sw->addCase(b.getInt8((uint8_t)mt.kind), bb);
    b.SetInsertPoint(bb);
    Val member{fromPayload(b, payload, m.lower(mt)), mt};
    Val r = coerce(body(member), result, line);
    if (!b.GetInsertBlock()->getTerminator()) {
      incoming.push_back({r.v, b.GetInsertBlock()});
      b.CreateBr(merge);
    }
  }
  b.SetInsertPoint(dflt);
  b.CreateUnreachable();
  b.SetInsertPoint(merge);
  if (incoming.empty()) {
    b.CreateUnreachable();
    b.SetInsertPoint(newBB("dead"));
    return {UndefValue::get(m.lower(result)), result};
  }
  auto* phi = b.CreatePHI(m.lower(result), (unsigned)incoming.size());
  for (auto& [v, bb] : incoming) phi->addIncoming(v, bb);
  return {phi, result};
}

// ---- conversions ------------------------------------------------------------------------
Val FnLowering::convert(Val x, Kind to, int line) {
  Kind from = x.t.kind;
  Type tt = Type::scalar(to);
  if (from == to) return x;
  if (from == Kind::Union) return forEach(x, tt, [&](Val v) { return convert(v, to, line); }, line);
  llvm::Type* dst = m.scalarTy(to);
  bool fromFloat = ir::isFloatKind(from), toFloat = ir::isFloatKind(to);
  if (to == Kind::Bool || to == Kind::NpBool) return {truth(x, line), tt};
  if (from == Kind::None) throw ir::Unsupported{line, "a conversion of None to a number"};
  if (toFloat) {
    if (fromFloat) return {b.CreateFPCast(x.v, dst), tt};
    if (from == Kind::Bool || from == Kind::NpBool) return {b.CreateUIToFP(x.v, dst), tt};
    return {b.CreateSIToFP(x.v, dst), tt};
  }
  // to an integer kind
  if (!fromFloat) {
    Value* v = x.v;
    if (from == Kind::Bool || from == Kind::NpBool) return {b.CreateZExt(v, dst), tt};
    if (to == Kind::NpInt32 && from == Kind::Int) {
      // NEP 50: a Python int that does not fit the NumPy type raises OverflowError.
      Value* out = b.CreateOr(b.CreateICmpSGT(v, i64(INT32_MAX)), b.CreateICmpSLT(v, i64(INT32_MIN)));
      auto* bad = newBB("int.bounds");
      auto* ok = newBB("ok");
      b.CreateCondBr(out, bad, ok);
      b.SetInsertPoint(bad);
      b.CreateCall(m.rt("ep_rt_raise_int_bounds"), {ctx, loc(line), v, i32(32)});
      retStatus(i32(EP_ERROR));
      b.SetInsertPoint(ok);
    }
    return {b.CreateSExtOrTrunc(v, dst), tt};
  }
  // float -> int
  Value* d = b.CreateFPExt(x.v, b.getDoubleTy());
  if (to == Kind::Int) {  // Python int(x): exact, raises on nan/inf, deopts beyond int64
    raiseIf(b.CreateFCmpUNO(d, d), EP_EXC_VALUE, "cannot convert float NaN to integer", line);
    Value* inf = b.CreateFCmpOEQ(b.CreateUnaryIntrinsic(Intrinsic::fabs, d), ConstantFP::getInfinity(b.getDoubleTy()));
    raiseIf(inf, EP_EXC_OVERFLOW, "cannot convert float infinity to integer", line);
    Value* t = b.CreateUnaryIntrinsic(Intrinsic::trunc, d);
    deoptIf(b.CreateOr(b.CreateFCmpOGE(t, ConstantFP::get(b.getDoubleTy(), 9223372036854775808.0)),
                       b.CreateFCmpOLT(t, ConstantFP::get(b.getDoubleTy(), -9223372036854775808.0))));
    return {b.CreateFPToSI(t, dst), tt};
  }
  // NumPy cast (C cast on x86: out of range and NaN give INT_MIN)
  int bits = to == Kind::NpInt32 ? 32 : 64;
  double lim = bits == 32 ? 2147483648.0 : 9223372036854775808.0;
  Value* inRange = b.CreateAnd(b.CreateFCmpOLT(d, ConstantFP::get(b.getDoubleTy(), lim)),
                               b.CreateFCmpOGT(d, ConstantFP::get(b.getDoubleTy(), -lim - 1.0)));
  Value* safe = b.CreateSelect(inRange, d, ConstantFP::get(b.getDoubleTy(), 0.0));
  Value* r = b.CreateFPToSI(safe, dst);
  Value* minv = bits == 32 ? (Value*)b.getInt32(INT32_MIN) : i64(INT64_MIN);
  return {b.CreateSelect(inRange, r, minv), tt};
}

Value* FnLowering::truth(Val x, int line) {
  switch (x.t.kind) {
    case Kind::Bool: case Kind::NpBool: return x.v;
    case Kind::None: return b.getInt1(false);
    case Kind::Int: case Kind::NpInt32: case Kind::NpInt64:
      return b.CreateICmpNE(x.v, ConstantInt::get(x.v->getType(), 0));
    case Kind::Float: case Kind::NpFloat32: case Kind::NpFloat64:
      return b.CreateFCmpUNE(x.v, ConstantFP::get(x.v->getType(), 0.0));
    case Kind::Tuple: return b.getInt1(!x.t.elems.empty());
    case Kind::Union:
      return forEach(x, Type::scalar(Kind::Bool), [&](Val v) { return Val{truth(v, line), Type::scalar(Kind::Bool)}; }, line).v;
    default:
      throw ir::Unsupported{line, "the truth value of " + x.t.str()};
  }
}

Value* FnLowering::toDouble(Val x, int line) {
  Val d = convert(x, Kind::Float, line);
  return d.v;
}

// ---- unary ------------------------------------------------------------------------------
Val FnLowering::unary(const ir::Expr& e, Val a) {
  if (e.op == Op::Not) return {b.CreateNot(truth(a, e.line)), Type::scalar(Kind::Bool)};
  return forEach(a, e.type, [&](Val x) -> Val {
    Kind k = x.t.kind;
    if (k == Kind::Bool) x = convert(x, Kind::Int, e.line), k = Kind::Int;
    Type t = Type::scalar(k);
    if (e.op == Op::Pos) return x;
    if (e.op == Op::Invert) return {b.CreateNot(x.v), t};
    if (ir::isFloatKind(k)) return {b.CreateFNeg(x.v), t};
    if (k == Kind::Int) deoptIf(b.CreateICmpEQ(x.v, i64(INT64_MIN)));
    return {b.CreateSub(ConstantInt::get(x.v->getType(), 0), x.v), t};
  }, e.line);
}

// ---- Python int (int64 fast path; overflow deopts to the interpreter) -----------------
static Value* ovf(IRBuilderBase& b, Intrinsic::ID id, Value* a, Value* c, Value** flag) {
  Value* r = b.CreateBinaryIntrinsic(id, a, c);
  *flag = b.CreateExtractValue(r, {1});
  return b.CreateExtractValue(r, {0});
}

Val FnLowering::pyIntOp(Op op, Value* a, Value* c, int line) {
  Type I = Type::scalar(Kind::Int);
  Value* flag = nullptr;
  Value* zero = i64(0);
  switch (op) {
    case Op::Add: { Value* r = ovf(b, Intrinsic::sadd_with_overflow, a, c, &flag); deoptIf(flag); return {r, I}; }
    case Op::Sub: { Value* r = ovf(b, Intrinsic::ssub_with_overflow, a, c, &flag); deoptIf(flag); return {r, I}; }
    case Op::Mul: { Value* r = ovf(b, Intrinsic::smul_with_overflow, a, c, &flag); deoptIf(flag); return {r, I}; }
    case Op::FloorDiv: case Op::Mod: {
      raiseIf(b.CreateICmpEQ(c, zero), EP_EXC_ZERO_DIVISION,
              op == Op::Mod ? "integer modulo by zero" : "integer division or modulo by zero", line);
      // INT64_MIN // -1 is 2**63, beyond int64: the interpreter's. x % -1 is 0 for every x: divide
      // by 1 instead (the machine division traps on INT64_MIN / -1), so % never deopts.
      if (op == Op::FloorDiv) deoptIf(b.CreateAnd(b.CreateICmpEQ(a, i64(INT64_MIN)), b.CreateICmpEQ(c, i64(-1))));
      else c = b.CreateSelect(b.CreateICmpEQ(c, i64(-1)), i64(1), c);
      Value* q = b.CreateSDiv(a, c);
      Value* r = b.CreateSRem(a, c);
      Value* adj = b.CreateAnd(b.CreateICmpNE(r, zero), b.CreateICmpNE(b.CreateICmpSLT(r, zero), b.CreateICmpSLT(c, zero)));
      if (op == Op::FloorDiv) return {b.CreateSub(q, b.CreateZExt(adj, b.getInt64Ty())), I};
      return {b.CreateSelect(adj, b.CreateAdd(r, c), r), I};
    }
    case Op::Div: {
      raiseIf(b.CreateICmpEQ(c, zero), EP_EXC_ZERO_DIVISION, "division by zero", line);
      // Correctly rounded like CPython: plain division when both fit in 53 bits, else exact in 128 bits.
      Value* lim = i64(1LL << 53);
      auto big = [&](Value* v) { return b.CreateICmpUGT(b.CreateAdd(v, lim), i64(1LL << 54)); };
      Value* fast = b.CreateFDiv(b.CreateSIToFP(a, b.getDoubleTy()), b.CreateSIToFP(c, b.getDoubleTy()));
      if (m.gpu) {  // a GPU kernel has no 128-bit path: the CPU re-runs the loop
        deoptIf(b.CreateOr(big(a), big(c)));
        return {fast, Type::scalar(Kind::Float)};
      }
      Value* slow = b.CreateCall(m.rt("ep_rt_int_truediv"), {a, c});
      return {b.CreateSelect(b.CreateOr(big(a), big(c)), slow, fast), Type::scalar(Kind::Float)};
    }
    case Op::BitAnd: return {b.CreateAnd(a, c), I};
    case Op::BitOr: return {b.CreateOr(a, c), I};
    case Op::BitXor: return {b.CreateXor(a, c), I};
    case Op::LShift: {
      raiseIf(b.CreateICmpSLT(c, zero), EP_EXC_VALUE, "negative shift count", line);
      deoptIf(b.CreateICmpSGE(c, i64(63)));
      Value* r = b.CreateShl(a, c);
      deoptIf(b.CreateICmpNE(b.CreateAShr(r, c), a));
      return {r, I};
    }
    case Op::RShift: {
      raiseIf(b.CreateICmpSLT(c, zero), EP_EXC_VALUE, "negative shift count", line);
      Value* sh = b.CreateSelect(b.CreateICmpSGT(c, i64(63)), i64(63), c);
      return {b.CreateAShr(a, sh), I};
    }
    case Op::Pow: {
      // exponent >= 0 here (the caller routes negative exponents to float pow)
      Function* fn_ = fn;
      BasicBlock* pre = b.GetInsertBlock();
      auto* head = BasicBlock::Create(m.C, "ipow.head", fn_);
      auto* bodyB = BasicBlock::Create(m.C, "ipow.body", fn_);
      auto* done = BasicBlock::Create(m.C, "ipow.done", fn_);
      b.CreateBr(head);
      b.SetInsertPoint(head);
      PHINode* res = b.CreatePHI(b.getInt64Ty(), 2);
      PHINode* base = b.CreatePHI(b.getInt64Ty(), 2);
      PHINode* ex = b.CreatePHI(b.getInt64Ty(), 2);
      res->addIncoming(i64(1), pre);
      base->addIncoming(a, pre);
      ex->addIncoming(c, pre);
      b.CreateCondBr(b.CreateICmpSGT(ex, zero), bodyB, done);
      b.SetInsertPoint(bodyB);
      Value* odd = b.CreateTrunc(ex, b.getInt1Ty());
      Value* f1 = nullptr;
      Value* mr = ovf(b, Intrinsic::smul_with_overflow, res, base, &f1);
      Value* nres = b.CreateSelect(odd, mr, res);
      Value* nex = b.CreateAShr(ex, i64(1));
      Value* f2 = nullptr;
      Value* nb = ovf(b, Intrinsic::smul_with_overflow, base, base, &f2);
      Value* bad = b.CreateOr(b.CreateAnd(odd, f1), b.CreateAnd(b.CreateICmpSGT(nex, zero), f2));
      deoptIf(bad);
      res->addIncoming(nres, b.GetInsertBlock());
      base->addIncoming(nb, b.GetInsertBlock());
      ex->addIncoming(nex, b.GetInsertBlock());
      b.CreateBr(head);
      b.SetInsertPoint(done);
      return {res, I};
    }
    default: break;
  }
  throw ir::Unsupported{line, std::string("internal error: int op ") + ir::opName(op)};
}

// ---- Python float -----------------------------------------------------------------------
Val FnLowering::pyFloatOp(Op op, Value* a, Value* c, int line) {
  Type F = Type::scalar(Kind::Float);
  auto* dt = b.getDoubleTy();
  Value* zero = ConstantFP::get(dt, 0.0);
  switch (op) {
    case Op::Add: return {b.CreateFAdd(a, c), F};
    case Op::Sub: return {b.CreateFSub(a, c), F};
    case Op::Mul: return {b.CreateFMul(a, c), F};
    case Op::Div:
      raiseIf(b.CreateFCmpOEQ(c, zero), EP_EXC_ZERO_DIVISION, "float division by zero", line);
      return {b.CreateFDiv(a, c), F};
    case Op::Mod: case Op::FloorDiv: {
      raiseIf(b.CreateFCmpOEQ(c, zero), EP_EXC_ZERO_DIVISION,
              op == Op::Mod ? "float modulo" : "float floor division by zero", line);
      Value* mod = b.CreateFRem(a, c);  // fmod
      Value* modNZ = b.CreateFCmpUNE(mod, zero);
      Value* signDiff = b.CreateXor(b.CreateFCmpOLT(c, zero), b.CreateFCmpOLT(mod, zero));
      Value* fix = b.CreateAnd(modNZ, signDiff);
      if (op == Op::Mod) {
        Value* m1 = b.CreateSelect(fix, b.CreateFAdd(mod, c), mod);
        Value* z = b.CreateBinaryIntrinsic(Intrinsic::copysign, zero, c);
        return {b.CreateSelect(modNZ, m1, z), F};
      }
      Value* div = b.CreateFDiv(b.CreateFSub(a, mod), c);
      div = b.CreateSelect(fix, b.CreateFSub(div, ConstantFP::get(dt, 1.0)), div);
      Value* fl = b.CreateUnaryIntrinsic(Intrinsic::floor, div);
      fl = b.CreateSelect(b.CreateFCmpOGT(b.CreateFSub(div, fl), ConstantFP::get(dt, 0.5)), b.CreateFAdd(fl, ConstantFP::get(dt, 1.0)), fl);
      Value* z = b.CreateBinaryIntrinsic(Intrinsic::copysign, zero, b.CreateFDiv(a, c));
      return {b.CreateSelect(b.CreateFCmpUNE(div, zero), fl, z), F};
    }
    case Op::Pow: {
      // CPython float_pow: x**0 == 1, 1**y == 1, 0**neg raises, neg**fraction is complex (deopt),
      // finite**finite overflowing raises OverflowError.
      Value* one = ConstantFP::get(dt, 1.0);
      Value* yInt = b.CreateFCmpOEQ(b.CreateUnaryIntrinsic(Intrinsic::floor, c), c);
      Value* finiteY = b.CreateFCmpONE(b.CreateUnaryIntrinsic(Intrinsic::fabs, c), ConstantFP::getInfinity(dt));
      Value* finiteX = b.CreateFCmpONE(b.CreateUnaryIntrinsic(Intrinsic::fabs, a), ConstantFP::getInfinity(dt));
      Value* trivial = b.CreateOr(b.CreateFCmpOEQ(c, zero), b.CreateFCmpOEQ(a, one));
      deoptIf(b.CreateAnd(b.CreateNot(trivial), b.CreateAnd(b.CreateAnd(b.CreateFCmpOLT(a, zero), finiteX),
                                                            b.CreateAnd(finiteY, b.CreateNot(yInt)))));
      raiseIf(b.CreateAnd(b.CreateAnd(b.CreateFCmpOEQ(a, zero), b.CreateFCmpOLT(c, zero)), finiteY), EP_EXC_ZERO_DIVISION,
              "0.0 cannot be raised to a negative power", line);
      Value* r = libm("pow", {a, c});
      Value* over = b.CreateAnd(b.CreateAnd(finiteX, finiteY),
                                b.CreateFCmpOEQ(b.CreateUnaryIntrinsic(Intrinsic::fabs, r), ConstantFP::getInfinity(dt)));
      raiseIf(b.CreateAnd(b.CreateNot(trivial), over), EP_EXC_OVERFLOW, "(34, 'Numerical result out of range')", line);
      return {b.CreateSelect(trivial, one, r), F};
    }
    default: break;
  }
  throw ir::Unsupported{line, std::string("the float operator ") + ir::opName(op)};
}

// ---- NumPy scalars (wrap-around ints, IEEE floats, no exceptions) ----------------------
Val FnLowering::npOp(Op op, Kind k, Value* a, Value* c, int line) {
  Type T = Type::scalar(k);
  llvm::Type* ty = m.scalarTy(k);
  if (ir::isFloatKind(k)) {
    Value* zero = ConstantFP::get(ty, 0.0);
    switch (op) {
      case Op::Add: return {b.CreateFAdd(a, c), T};
      case Op::Sub: return {b.CreateFSub(a, c), T};
      case Op::Mul: return {b.CreateFMul(a, c), T};
      case Op::Div: return {b.CreateFDiv(a, c), T};
      case Op::Pow: {
        Value* r = libm(k == Kind::NpFloat32 ? "powf" : "pow", {a, c});
        return {r, T};
      }
      case Op::Mod: case Op::FloorDiv: {
        Value* mod = b.CreateFRem(a, c);
        Value* modNZ = b.CreateFCmpUNE(mod, zero);
        Value* fix = b.CreateAnd(modNZ, b.CreateXor(b.CreateFCmpOLT(c, zero), b.CreateFCmpOLT(mod, zero)));
        Value* cz = b.CreateFCmpOEQ(c, zero);
        if (op == Op::Mod) {
          Value* m1 = b.CreateSelect(fix, b.CreateFAdd(mod, c), mod);
          Value* z = b.CreateBinaryIntrinsic(Intrinsic::copysign, zero, c);
          return {b.CreateSelect(cz, mod, b.CreateSelect(modNZ, m1, z)), T};
        }
        Value* div = b.CreateFDiv(b.CreateFSub(a, mod), c);
        div = b.CreateSelect(fix, b.CreateFSub(div, ConstantFP::get(ty, 1.0)), div);
        Value* fl = b.CreateUnaryIntrinsic(Intrinsic::floor, div);
        fl = b.CreateSelect(b.CreateFCmpOGT(b.CreateFSub(div, fl), ConstantFP::get(ty, 0.5)), b.CreateFAdd(fl, ConstantFP::get(ty, 1.0)), fl);
        Value* z = b.CreateBinaryIntrinsic(Intrinsic::copysign, zero, b.CreateFDiv(a, c));
        return {b.CreateSelect(cz, b.CreateFDiv(a, c), b.CreateSelect(b.CreateFCmpUNE(div, zero), fl, z)), T};
      }
      default: break;
    }
    throw ir::Unsupported{line, std::string("the NumPy float operator ") + ir::opName(op)};
  }
  Value* zero = ConstantInt::get(ty, 0);
  int bits = ty->getIntegerBitWidth();
  switch (op) {
    case Op::Add: return {b.CreateAdd(a, c), T};
    case Op::Sub: return {b.CreateSub(a, c), T};
    case Op::Mul: return {b.CreateMul(a, c), T};
    case Op::BitAnd: return {b.CreateAnd(a, c), T};
    case Op::BitOr: return {b.CreateOr(a, c), T};
    case Op::BitXor: return {b.CreateXor(a, c), T};
    case Op::LShift: case Op::RShift: {
      Value* inRange = b.CreateICmpULT(c, ConstantInt::get(ty, bits));
      Value* sh = b.CreateSelect(inRange, c, zero);
      if (op == Op::LShift) return {b.CreateSelect(inRange, b.CreateShl(a, sh), zero), T};
      Value* fill = b.CreateSelect(b.CreateICmpSLT(a, zero), ConstantInt::get(ty, -1), zero);
      return {b.CreateSelect(inRange, b.CreateAShr(a, sh), fill), T};
    }
    case Op::FloorDiv: case Op::Mod: {
      Value* cz = b.CreateICmpEQ(c, zero);
      Value* minv = ConstantInt::get(ty, APInt::getSignedMinValue(bits));
      Value* ovfl = b.CreateAnd(b.CreateICmpEQ(a, minv), b.CreateICmpEQ(c, ConstantInt::get(ty, -1)));
      Value* safeC = b.CreateSelect(b.CreateOr(cz, ovfl), ConstantInt::get(ty, 1), c);
      Value* q = b.CreateSDiv(a, safeC);
      Value* r = b.CreateSRem(a, safeC);
      Value* adj = b.CreateAnd(b.CreateICmpNE(r, zero), b.CreateICmpNE(b.CreateICmpSLT(r, zero), b.CreateICmpSLT(safeC, zero)));
      if (op == Op::FloorDiv) {
        Value* fq = b.CreateSub(q, b.CreateZExt(adj, ty));
        return {b.CreateSelect(cz, zero, b.CreateSelect(ovfl, minv, fq)), T};
      }
      Value* fr = b.CreateSelect(adj, b.CreateAdd(r, safeC), r);
      return {b.CreateSelect(b.CreateOr(cz, ovfl), zero, fr), T};
    }
    case Op::Pow: {
      raiseIf(b.CreateICmpSLT(c, zero), EP_EXC_VALUE, "Integers to negative integer powers are not allowed.", line);
      BasicBlock* pre = b.GetInsertBlock();
      auto* head = newBB("npow.head");
      auto* bodyB = newBB("npow.body");
      auto* done = newBB("npow.done");
      b.CreateBr(head);
      b.SetInsertPoint(head);
      PHINode* res = b.CreatePHI(ty, 2);
      PHINode* base = b.CreatePHI(ty, 2);
      PHINode* ex = b.CreatePHI(ty, 2);
      res->addIncoming(ConstantInt::get(ty, 1), pre);
      base->addIncoming(a, pre);
      ex->addIncoming(c, pre);
      b.CreateCondBr(b.CreateICmpSGT(ex, zero), bodyB, done);
      b.SetInsertPoint(bodyB);
      Value* odd = b.CreateTrunc(ex, b.getInt1Ty());
      res->addIncoming(b.CreateSelect(odd, b.CreateMul(res, base), res), bodyB);
      base->addIncoming(b.CreateMul(base, base), bodyB);
      ex->addIncoming(b.CreateAShr(ex, ConstantInt::get(ty, 1)), bodyB);
      b.CreateBr(head);
      b.SetInsertPoint(done);
      return {res, T};
    }
    default: break;
  }
  throw ir::Unsupported{line, std::string("the NumPy integer operator ") + ir::opName(op)};
}

// ---- comparisons ----------------------------------------------------------------------
static CmpInst::Predicate predFor(Op op, bool fp, bool isSigned) {
  if (fp) {
    switch (op) {
      case Op::Lt: return CmpInst::FCMP_OLT;
      case Op::Le: return CmpInst::FCMP_OLE;
      case Op::Gt: return CmpInst::FCMP_OGT;
      case Op::Ge: return CmpInst::FCMP_OGE;
      case Op::Eq: return CmpInst::FCMP_OEQ;
      default: return CmpInst::FCMP_UNE;
    }
  }
  switch (op) {
    case Op::Lt: return isSigned ? CmpInst::ICMP_SLT : CmpInst::ICMP_ULT;
    case Op::Le: return isSigned ? CmpInst::ICMP_SLE : CmpInst::ICMP_ULE;
    case Op::Gt: return isSigned ? CmpInst::ICMP_SGT : CmpInst::ICMP_UGT;
    case Op::Ge: return isSigned ? CmpInst::ICMP_SGE : CmpInst::ICMP_UGE;
    case Op::Eq: return CmpInst::ICMP_EQ;
    default: return CmpInst::ICMP_NE;
  }
}

Val FnLowering::compare(Op op, Val a, Val c, int line) {
  Kind ka = a.t.kind, kc = c.t.kind;
  if (ka == Kind::None || kc == Kind::None) {
    bool same = ka == kc;
    return {b.getInt1(op == Op::Eq ? same : !same), Type::scalar(Kind::Bool)};
  }
  if (passes::usesNumpyRules(ka, kc)) {
    // NumPy 2 compares a Python int with a NumPy integer exactly (no OverflowError)
    bool pyIntSide = (ka == Kind::Int && ir::isIntKind(kc)) || (kc == Kind::Int && ir::isIntKind(ka));
    if (pyIntSide) {
      Value* x = convert(a, Kind::Int, line).v;
      Value* y = convert(c, Kind::Int, line).v;
      return {b.CreateICmp(predFor(op, false, true), x, y), Type::scalar(Kind::NpBool)};
    }
    Kind k;
    if (ir::isNumpyScalar(ka) && ir::isNumpyScalar(kc)) k = passes::numpyPromote(ka, kc);
    else if (ir::isNumpyScalar(ka)) k = passes::numpyWeak(ka, kc);
    else k = passes::numpyWeak(kc, ka);
    if (k == Kind::NpBool) k = Kind::NpInt32;  // compare bools as small ints
    Value* x = convert(a, k, line).v;
    Value* y = convert(c, k, line).v;
    bool fp = ir::isFloatKind(k);
    return {b.CreateCmp(predFor(op, fp, true), x, y), Type::scalar(Kind::NpBool)};
  }
  bool fa = ka == Kind::Float, fc = kc == Kind::Float;
  if (!fa && !fc) {
    Value* x = convert(a, Kind::Int, line).v;
    Value* y = convert(c, Kind::Int, line).v;
    return {b.CreateICmp(predFor(op, false, true), x, y), Type::scalar(Kind::Bool)};
  }
  // int vs float: exact, as CPython compares them (never by rounding the int to a double).
  auto* dt = b.getDoubleTy();
  auto order = [&](Value* i, Value* d) -> Value* {  // sign of (i - d) as -1/0/1; NaN handled by caller
    Value* big = b.CreateFCmpOGE(d, ConstantFP::get(dt, 9223372036854775808.0));
    Value* small = b.CreateFCmpOLT(d, ConstantFP::get(dt, -9223372036854775808.0));
    Value* safe = b.CreateSelect(b.CreateOr(big, small), ConstantFP::get(dt, 0.0), d);
    Value* t = b.CreateUnaryIntrinsic(Intrinsic::trunc, safe);
    Value* ti = b.CreateFPToSI(t, b.getInt64Ty());
    Value* frac = b.CreateFSub(safe, t);
    Value* ord = b.CreateSelect(b.CreateICmpSLT(i, ti), b.getInt32(-1),
                  b.CreateSelect(b.CreateICmpSGT(i, ti), b.getInt32(1),
                   b.CreateSelect(b.CreateFCmpOGT(frac, ConstantFP::get(dt, 0.0)), b.getInt32(-1),
                    b.CreateSelect(b.CreateFCmpOLT(frac, ConstantFP::get(dt, 0.0)), b.getInt32(1), b.getInt32(0)))));
    ord = b.CreateSelect(big, b.getInt32(-1), ord);
    return b.CreateSelect(small, b.getInt32(1), ord);
  };
  if (fa && fc) return {b.CreateFCmp(predFor(op, true, true), a.v, c.v), Type::scalar(Kind::Bool)};
  Value* d = fa ? a.v : c.v;
  Value* iv = convert(fa ? c : a, Kind::Int, line).v;
  Value* ord = order(iv, d);
  if (fa) ord = b.CreateNeg(ord);  // we computed sign(int - float); the float is on the left
  Value* r = b.CreateICmp(predFor(op, false, true), ord, b.getInt32(0));
  Value* nan = b.CreateFCmpUNO(d, d);
  return {b.CreateSelect(nan, b.getInt1(op == Op::Ne), r), Type::scalar(Kind::Bool)};
}

// ---- binary dispatch --------------------------------------------------------------------
Val FnLowering::binaryScalar(Op op, Val a, Val c, int line) {
  Kind ka = a.t.kind, kc = c.t.kind;
  bool cmp = op == Op::Lt || op == Op::Le || op == Op::Gt || op == Op::Ge || op == Op::Eq || op == Op::Ne;
  if (cmp) return compare(op, a, c, line);
  if (passes::usesNumpyRules(ka, kc)) {
    Type r = passes::binaryResult(op, ka, kc, false);
    Kind rk = r.kind;
    Kind compute = rk;
    if (op == Op::Div && !ir::isFloatKind(passes::arrayResultDtype(Op::Add, ka, kc))) compute = Kind::NpFloat64;
    Value* x = convert(a, compute, line).v;
    Value* y = convert(c, compute, line).v;
    if (rk == Kind::NpBool) {  // & | ^ on bools; NumPy's bool + is or, * is and
      if (op == Op::BitAnd || op == Op::Mul) return {b.CreateAnd(x, y), r};
      if (op == Op::BitOr || op == Op::Add) return {b.CreateOr(x, y), r};
      return {b.CreateXor(x, y), r};
    }
    return npOp(op, compute, x, y, line);
  }
  bool fl = ka == Kind::Float || kc == Kind::Float;
  if (op == Op::Div || fl) {
    if (op == Op::Div && !fl) return pyIntOp(Op::Div, convert(a, Kind::Int, line).v, convert(c, Kind::Int, line).v, line);
    if (op == Op::BitAnd || op == Op::BitOr || op == Op::BitXor || op == Op::LShift || op == Op::RShift)
      throw ir::Unsupported{line, "a bitwise operator on a float"};
    return pyFloatOp(op, convert(a, Kind::Float, line).v, convert(c, Kind::Float, line).v, line);
  }
  if (ka == Kind::Bool && kc == Kind::Bool && (op == Op::BitAnd || op == Op::BitOr || op == Op::BitXor)) {
    Type B = Type::scalar(Kind::Bool);
    if (op == Op::BitAnd) return {b.CreateAnd(a.v, c.v), B};
    if (op == Op::BitOr) return {b.CreateOr(a.v, c.v), B};
    return {b.CreateXor(a.v, c.v), B};
  }
  Value* x = convert(a, Kind::Int, line).v;
  Value* y = convert(c, Kind::Int, line).v;
  if (op == Op::Pow) {
    // int ** negative int is a float; pick at run time when the exponent's sign is unknown.
    Type U = ir::makeUnion({Kind::Int, Kind::Float});
    auto* negB = newBB("pow.neg");
    auto* posB = newBB("pow.pos");
    auto* merge = newBB("pow.merge");
    b.CreateCondBr(b.CreateICmpSLT(y, i64(0)), negB, posB);
    b.SetInsertPoint(negB);
    Val fr = pyFloatOp(Op::Pow, b.CreateSIToFP(x, b.getDoubleTy()), b.CreateSIToFP(y, b.getDoubleTy()), line);
    Val fu = coerce(fr, U, line);
    BasicBlock* negEnd = b.GetInsertBlock();
    b.CreateBr(merge);
    b.SetInsertPoint(posB);
    Val ir_ = pyIntOp(Op::Pow, x, y, line);
    Val iu = coerce(ir_, U, line);
    BasicBlock* posEnd = b.GetInsertBlock();
    b.CreateBr(merge);
    b.SetInsertPoint(merge);
    auto* phi = b.CreatePHI(m.unionTy, 2);
    phi->addIncoming(fu.v, negEnd);
    phi->addIncoming(iu.v, posEnd);
    return {phi, U};
  }
  return pyIntOp(op, x, y, line);
}

Val FnLowering::binary(Op op, Val a, Val c, const Type& result, int line, bool rhs_nonneg) {
  return forEach(a, result, [&](Val x) {
    return forEach(c, result, [&](Val y) {
      if (op == Op::Pow && rhs_nonneg && !passes::usesNumpyRules(x.t.kind, y.t.kind) && x.t.kind != Kind::Float && y.t.kind != Kind::Float)
        return pyIntOp(Op::Pow, convert(x, Kind::Int, line).v, convert(y, Kind::Int, line).v, line);
      return binaryScalar(op, x, y, line);
    }, line);
  }, line);
}

}  // namespace epochpp::codegen
