// jit/codegen/lower_lanes.cpp — a loop marked by simd_lanes.cpp, W iterations at a time in SIMD lanes.
//
// One step runs iterations k0 .. k0+W-1 of the loop: the loop variable and every local the body
// assigns hold W values (a vector alloca each), locals the body only reads and inner `for`
// variables hold one. `if` and `while` run under a mask of the lanes they apply to (a lane's
// assignments outside its mask keep the old value; a `while` loops while any lane goes on), so
// each lane does exactly the floating-point operations of its scalar iteration. Anything that
// would raise in some active lane (int overflow, float division by zero, math.sqrt of a negative,
// an index out of range) jumps to `lanes.bail`: nothing of the step has been written yet (stores
// and reductions wait for the end of the step), and the scalar loop redoes the W iterations from
// k0, raising where CPython does. At the end of a step the reductions are applied lane by lane
// in iteration order (an int overflow there bails too), then the stores. The loop's last
// iteration runs in the scalar loop, which leaves the loop's variables as CPython does, unless
// nothing the loop assigns is read after it. The iterations left after the whole steps, fewer
// than W, run in a last step with its last lanes off. When the body reads x[..., j] W elements at
// a time in an inner loop, a first step with its first lanes off makes those reads aligned
// vectors (alignShift).
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/MDBuilder.h>

#include <map>
#include <set>

#include "jit/codegen/codegen_impl.h"
#include "jit/passes/passes.h"

namespace epochpp::codegen {

using namespace llvm;
using ir::ExprKind;
using ir::Op;
using ir::StmtKind;

namespace {

enum class LK { Int, Float, Bool };

// (simd_lanes.cpp admits ints, bools and np.bools and unions of them, floats and np.float64s
// and unions of them)
LK kindOf(const ir::Type& t) {
  Kind k = ir::members(t).front();
  if (k == Kind::Int) return LK::Int;
  if (k == Kind::Bool || k == Kind::NpBool) return LK::Bool;
  return LK::Float;
}

// A value in the lanes: one scalar for all of them, or a vector. `unit`: an int vector equal to
// <unit, unit + 1, ..., unit + W-1> (consecutive lanes of a loop with step 1).
struct LV {
  Value* v = nullptr;
  LK k = LK::Int;
  bool vec = false;
  Value* unit = nullptr;
};

struct Lanes {
  FnLowering& F;
  IRBuilderBase& b;
  const ir::Stmt& loop;
  unsigned W;
  std::map<int, AllocaInst*> vslot;  // locals with a value per lane
  Value* mask = nullptr;             // the lanes running (nullptr: all)
  bool partial = false;              // a step with lanes off from its start (aligning, last)
  Value* lastLane = nullptr;         // a partial step's last lane on (nullptr: W-1)
  BasicBlock* bailB = nullptr;
  LV iv;                             // the loop variable in this step
  struct Store { Value* ptr; Value* val; bool contiguous; };
  std::vector<Store> stores;
  // reduction terms of this step, in program order; a term inside an `if` is kept in allocas
  // (its block may be skipped; its mask alloca is cleared at each step's start)
  struct Part { int slot; Value* v; Value* mask; AllocaInst* va = nullptr; AllocaInst* ma = nullptr; };
  std::vector<Part> parts;
  // float `+` reductions whose order is free (a Level 3 chunk's, F.reassocAdd): each lane sums
  // its own terms in a vector, added to the variable when the lanes stop (done or bail)
  std::map<int, AllocaInst*> vsum;

  Lanes(FnLowering& f, const ir::Stmt& s, unsigned w) : F(f), b(f.b), loop(s), W(w) {}

  llvm::Type* sty(LK k) {
    return k == LK::Int ? b.getInt64Ty() : k == LK::Float ? b.getDoubleTy() : (llvm::Type*)b.getInt1Ty();
  }
  llvm::Type* vty(LK k) { return FixedVectorType::get(sty(k), W); }
  Value* splat(Value* s) { return b.CreateVectorSplat(W, s); }
  Value* asVec(const LV& x) { return x.vec ? x.v : splat(x.v); }
  Value* laneIds() {
    std::vector<uint64_t> ids(W);
    for (unsigned l = 0; l < W; ++l) ids[l] = l;
    return ConstantDataVector::get(F.C(), ids);
  }

  // Jumps to the bail block when c holds (in an active lane, for a vector).
  void bailIf(Value* c) {
    if (c->getType()->isVectorTy()) {
      if (mask) c = b.CreateAnd(c, mask);
      c = b.CreateOrReduce(c);
    }
    auto* cont = F.newBB("lanes.ok");
    b.CreateCondBr(c, bailB, cont, MDBuilder(F.C()).createBranchWeights(1, 1 << 20));
    b.SetInsertPoint(cont);
  }

  LV toFloat(const LV& x) {
    if (x.k == LK::Float) return x;
    Value* v = b.CreateSIToFP(x.v, x.vec ? vty(LK::Float) : sty(LK::Float));  // CPython's float(int): round to nearest
    return {v, LK::Float, x.vec};
  }
  // both operands as vectors when either is one
  void pair(LV& a, LV& c) {
    if (a.vec && !c.vec) c = {splat(c.v), c.k, true};
    if (c.vec && !a.vec) a = {splat(a.v), a.k, true};
  }

  Val arrayOf(int slot) { return {b.CreateLoad(F.m.arrayTy, F.slots[slot]), F.f.locals[slot].type}; }

  // ---- expressions ----------------------------------------------------------------------
  LV shape(const ir::Expr& e) {
    const ir::Expr* arr;
    int64_t k = 0;
    if (e.kind == ExprKind::Intrinsic) arr = e.args[0].get();  // len(x)
    else {
      arr = e.args[0]->args[0].get();
      k = e.kind == ExprKind::TupleGet ? e.ival : e.args[1]->ival;
    }
    if (k < 0) k += arr->type.ndim;
    return {F.dim(arrayOf(arr->slot), (int)k), LK::Int, false};
  }

  LV ex(const ir::Expr& e) {
    switch (e.kind) {
      case ExprKind::Const:
        if (e.type.kind == Kind::Float) return {ConstantFP::get(b.getDoubleTy(), e.fval), LK::Float, false};
        if (e.type.kind == Kind::Bool) return {b.getInt1(e.ival != 0), LK::Bool, false};
        return {F.i64(e.ival), LK::Int, false};
      case ExprKind::Var: {
        if (e.slot == loop.slot) return iv;
        LK k = kindOf(F.f.locals[e.slot].type);
        auto it = vslot.find(e.slot);
        if (it != vslot.end()) return {b.CreateLoad(vty(k), it->second), k, true};
        return {b.CreateLoad(sty(k), F.slots[e.slot]), k, false};
      }
      case ExprKind::Binary: return binary(e);
      case ExprKind::Compare: {
        LV a = ex(*e.args[0]), c = ex(*e.args[1]);
        pair(a, c);
        bool fp = a.k == LK::Float;
        CmpInst::Predicate p;
        switch (e.op) {
          case Op::Lt: p = fp ? CmpInst::FCMP_OLT : CmpInst::ICMP_SLT; break;
          case Op::Le: p = fp ? CmpInst::FCMP_OLE : CmpInst::ICMP_SLE; break;
          case Op::Gt: p = fp ? CmpInst::FCMP_OGT : CmpInst::ICMP_SGT; break;
          case Op::Ge: p = fp ? CmpInst::FCMP_OGE : CmpInst::ICMP_SGE; break;
          case Op::Eq: p = fp ? CmpInst::FCMP_OEQ : CmpInst::ICMP_EQ; break;
          default: p = fp ? CmpInst::FCMP_UNE : CmpInst::ICMP_NE; break;  // Ne: NaN != x holds
        }
        return {b.CreateCmp(p, a.v, c.v), LK::Bool, a.vec};
      }
      case ExprKind::Unary: {
        LV a = ex(*e.args[0]);
        if (e.op == Op::Not) return {b.CreateNot(a.v), LK::Bool, a.vec};
        if (a.k == LK::Float) return {b.CreateFNeg(a.v), LK::Float, a.vec};
        Value* r = b.CreateBinaryIntrinsic(Intrinsic::ssub_with_overflow, Constant::getNullValue(a.v->getType()), a.v);
        bailIf(b.CreateExtractValue(r, {1}));
        return {b.CreateExtractValue(r, {0}), LK::Int, a.vec};
      }
      case ExprKind::Intrinsic: {
        if (e.name == "len") return shape(e);
        LV a = toFloat(ex(*e.args[0]));
        if (e.name == "abs") return {b.CreateUnaryIntrinsic(Intrinsic::fabs, a.v), LK::Float, a.vec};
        // math.sqrt: ValueError below zero (NaN and -0.0 are fine), unless float_signs.cpp proved it never is
        if (!(e.facts & ir::kFactNonNegArg)) bailIf(b.CreateFCmpOLT(a.v, Constant::getNullValue(a.v->getType())));
        return {b.CreateUnaryIntrinsic(Intrinsic::sqrt, a.v), LK::Float, a.vec};
      }
      case ExprKind::TupleGet: return shape(e);
      case ExprKind::Index:
        if (e.args[0]->kind == ExprKind::Attr) return shape(e);
        return load(e);
      default: break;
    }
    throw ir::Unsupported{e.line, "internal error: an expression simd_lanes.cpp should have refused"};
  }

  LV binary(const ir::Expr& e) {
    LV a = ex(*e.args[0]), c = ex(*e.args[1]);
    if (a.k == LK::Int && c.k == LK::Int) {  // Python ints: an overflow goes back to the scalar loop (which deopts)
      Value* ua = a.unit;
      Value* uc = c.unit;
      Value* as = a.vec ? nullptr : a.v;  // the operands' one value, when they have one
      Value* cs = c.vec ? nullptr : c.v;
      pair(a, c);
      Intrinsic::ID id = e.op == Op::Add ? Intrinsic::sadd_with_overflow
                         : e.op == Op::Sub ? Intrinsic::ssub_with_overflow : Intrinsic::smul_with_overflow;
      LV out{nullptr, LK::Int, a.vec};
      if (F.proven.count(&e)) {  // a check before the loop (or chunk) covered its range: no overflow
        out.v = e.op == Op::Add ? b.CreateNSWAdd(a.v, c.v) : e.op == Op::Sub ? b.CreateNSWSub(a.v, c.v) : b.CreateNSWMul(a.v, c.v);
      } else {
        Value* r = b.CreateBinaryIntrinsic(id, a.v, c.v);
        bailIf(b.CreateExtractValue(r, {1}));
        out.v = b.CreateExtractValue(r, {0});
      }
      // consecutive lanes stay consecutive when a uniform int is added or subtracted (no lane overflowed)
      if (e.op == Op::Add && ua && cs) out.unit = b.CreateAdd(ua, cs);
      if (e.op == Op::Add && uc && as) out.unit = b.CreateAdd(as, uc);
      if (e.op == Op::Sub && ua && cs) out.unit = b.CreateSub(ua, cs);
      return out;
    }
    a = toFloat(a);
    c = toFloat(c);
    pair(a, c);
    switch (e.op) {
      case Op::Add: return {b.CreateFAdd(a.v, c.v), LK::Float, a.vec};
      case Op::Sub: return {b.CreateFSub(a.v, c.v), LK::Float, a.vec};
      case Op::Mul: return {b.CreateFMul(a.v, c.v), LK::Float, a.vec};
      default: break;
    }
    // `/`: a Python float division by zero raises; NumPy's gives inf or NaN. Unless both operands
    // are known NumPy-rule kinds, a zero divisor goes back to the scalar loop, which knows.
    Kind ka = e.args[0]->type.kind, kc = e.args[1]->type.kind;
    bool numpy = ka != Kind::Union && kc != Kind::Union && passes::usesNumpyRules(ka, kc);
    if (!numpy) bailIf(b.CreateFCmpOEQ(c.v, Constant::getNullValue(c.v->getType())));
    return {b.CreateFDiv(a.v, c.v), LK::Float, a.vec};
  }

  // The address of x[idx...] (checked: an index out of range bails; a negative index that wraps
  // is fine for one value and bails in lanes), as one pointer, W pointers, or the pointer to W
  // consecutive elements (`contiguous`). `known`: a check before an enclosing loop (or Level 3
  // chunk) proved every index of this access in range and >= 0 for every iteration it runs in
  // (bounds_hoist.cpp; FnLowering::proven), so for every lane too: no check.
  Value* address(const ir::Expr& base, const std::vector<ir::ExprPtr>& args, bool known, bool& vec, bool& contiguous) {
    Val arr = arrayOf(base.slot);
    int nd = arr.t.ndim;
    std::vector<LV> idx;
    for (int d = 0; d < nd; ++d) {
      LV i = ex(*args[d + 1]);
      Value* size = F.dim(arr, d);
      if (known) {
      } else if (i.unit && !partial) {  // consecutive: in range when the first and the last are
        Value* last = b.CreateAdd(i.unit, F.i64(W - 1));
        bailIf(b.CreateOr(b.CreateICmpSLT(i.unit, F.i64(0)), b.CreateICmpSGE(last, size)));
      } else if (i.vec) {  // a lane with a negative index bails too: two lanes must not wrap onto one element
        bailIf(b.CreateICmpUGE(i.v, splat(size)));
      } else {
        Value* j = b.CreateSelect(b.CreateICmpSLT(i.v, F.i64(0)), b.CreateAdd(i.v, size), i.v);
        bailIf(b.CreateICmpUGE(j, size));
        i.v = j;
      }
      idx.push_back(i);
    }
    vec = false;
    for (auto& i : idx) vec |= i.vec;
    int64_t item = itemSize(arr.t.dtype);
    contiguous = vec && arr.t.layout == ir::Layout::C && idx[nd - 1].unit;
    for (int d = 0; d + 1 < nd; ++d) contiguous = contiguous && !idx[d].vec;
    if (contiguous) idx[nd - 1] = {idx[nd - 1].unit, LK::Int, false};
    bool v = vec && !contiguous;
    auto op = [&](Value* x) { return v && !x->getType()->isVectorTy() ? splat(x) : x; };
    auto at = [&](int d) { return op(idx[d].v); };
    Value* off;
    if (arr.t.layout == ir::Layout::C) {
      off = at(0);
      for (int d = 1; d < nd; ++d) off = b.CreateAdd(b.CreateMul(off, op(F.dim(arr, d))), at(d));
      off = b.CreateMul(off, op(F.i64(item)));
    } else if (arr.t.layout == ir::Layout::F) {
      off = at(nd - 1);
      for (int d = nd - 2; d >= 0; --d) off = b.CreateAdd(b.CreateMul(off, op(F.dim(arr, d))), at(d));
      off = b.CreateMul(off, op(F.i64(item)));
    } else {
      off = op(F.i64(0));
      for (int d = 0; d < nd; ++d) off = b.CreateAdd(off, b.CreateMul(at(d), op(F.stride(arr, d))));
    }
    return b.CreateGEP(b.getInt8Ty(), b.CreateExtractValue(arr.v, {0}), off);
  }

  LV load(const ir::Expr& e) {  // a float64 element
    bool vec, contiguous;
    Value* p = address(*e.args[0], e.args, F.proven.count(&e) > 0, vec, contiguous);
    llvm::Type* vt = vty(LK::Float);
    if (!vec) return {b.CreateAlignedLoad(b.getDoubleTy(), p, Align(8)), LK::Float, false};
    Value* m = mask ? mask : Constant::getAllOnesValue(FixedVectorType::get(b.getInt1Ty(), W));
    if (contiguous) {
      if (!mask) return {b.CreateAlignedLoad(vt, p, Align(8)), LK::Float, true};
      return {b.CreateMaskedLoad(vt, p, Align(8), m, Constant::getNullValue(vt)), LK::Float, true};
    }
    return {b.CreateMaskedGather(vt, p, Align(8), m, Constant::getNullValue(vt)), LK::Float, true};
  }

  // ---- statements -----------------------------------------------------------------------
  void block(const ir::Block& blk) {
    for (auto& s : blk) stmt(*s);
  }

  bool isReduction(int slot) const {
    for (int r : loop.lane_reductions)
      if (r == slot) return true;
    return false;
  }

  void stmt(const ir::Stmt& s) {
    switch (s.kind) {
      case StmtKind::Pass: return;
      case StmtKind::Assign: {
        if (isReduction(s.slot)) {  // s = s + e: the term waits for the end of the step
          LV t = ex(*s.value->args[1]);
          if (!mask) {
            parts.push_back({s.slot, asVec(t), nullptr});
            return;
          }
          AllocaInst* va = F.entryAlloca(vty(t.k), "lane.term");
          AllocaInst* ma = F.entryAlloca(mask->getType(), "lane.term.on");
          b.CreateStore(asVec(t), va);
          b.CreateStore(mask, ma);
          parts.push_back({s.slot, nullptr, nullptr, va, ma});
          return;
        }
        LK k = kindOf(F.f.locals[s.slot].type);
        LV v = ex(*s.value);
        if (k == LK::Float) v = toFloat(v);
        Value* x = asVec(v);
        AllocaInst* a = vslot.at(s.slot);
        if (mask) x = b.CreateSelect(mask, x, b.CreateLoad(vty(k), a));
        b.CreateStore(x, a);
        return;
      }
      case StmtKind::Store: {
        bool vec, contiguous;
        Value* p = address(*s.args[0], s.args, F.proven.count(&s) > 0, vec, contiguous);
        LV v = ex(*s.value);
        if (s.args[0]->type.dtype == Kind::NpFloat64) v = toFloat(v);
        // one address for every lane: the last lane's value, as the last iteration leaves it
        Value* last = lastLane ? lastLane : F.i64(W - 1);
        Value* val = vec ? asVec(v) : v.vec ? b.CreateExtractElement(v.v, last) : v.v;
        stores.push_back({p, val, vec && contiguous});
        return;
      }
      case StmtKind::If: {
        Value* c = asVec(ex(*s.value));
        Value* m0 = mask;
        branch(m0 ? b.CreateAnd(m0, c) : c, s.body);
        branch(m0 ? b.CreateAnd(m0, b.CreateNot(c)) : b.CreateNot(c), s.orelse);
        mask = m0;
        return;
      }
      case StmtKind::While: {
        Value* m0 = mask;
        Value* all = Constant::getAllOnesValue(FixedVectorType::get(b.getInt1Ty(), W));
        BasicBlock* pre = b.GetInsertBlock();
        auto* head = F.newBB("lanes.while");
        auto* body = F.newBB("lanes.while.body");
        auto* exit = F.newBB("lanes.while.end");
        b.CreateBr(head);
        b.SetInsertPoint(head);
        PHINode* mp = b.CreatePHI(all->getType(), 2, "lanes.going");
        mp->addIncoming(m0 ? m0 : all, pre);
        mask = mp;
        Value* cv = b.CreateAnd(mp, asVec(ex(*s.value)));
        b.CreateCondBr(b.CreateOrReduce(cv), body, exit);
        b.SetInsertPoint(body);
        mask = cv;
        block(s.body);
        F.pollEvery(s.line);
        mp->addIncoming(cv, b.GetInsertBlock());
        b.CreateBr(head);
        b.SetInsertPoint(exit);
        mask = m0;
        return;
      }
      case StmtKind::For: innerFor(s); return;
      default: break;
    }
    throw ir::Unsupported{s.line, "internal error: a statement simd_lanes.cpp should have refused"};
  }

  // the body under mask m, skipped when no lane is in it
  void branch(Value* m, const ir::Block& body) {
    if (body.empty()) return;
    auto* in = F.newBB("lanes.if");
    auto* end = F.newBB("lanes.if.end");
    b.CreateCondBr(b.CreateOrReduce(m), in, end);
    b.SetInsertPoint(in);
    mask = m;
    block(body);
    b.CreateBr(end);
    b.SetInsertPoint(end);
  }

  // for v in range(a, z, c) with a and z the same in every lane: one scalar loop
  void innerFor(const ir::Stmt& s) {
    const ir::Expr& r = *s.value;
    Value* a = ex(*r.args[0]).v;
    Value* z = ex(*r.args[1]).v;
    int64_t c = 0;
    ir::intConstant(*r.args[2], c);  // (simd_lanes.cpp checked it is a constant other than 0)
    Value* lo = c > 0 ? a : z;
    Value* hi = c > 0 ? z : a;
    Value* st = F.i64(c > 0 ? c : -(uint64_t)c);
    Value* n = b.CreateSelect(b.CreateICmpSLT(lo, hi), b.CreateAdd(b.CreateUDiv(b.CreateSub(b.CreateSub(hi, lo), F.i64(1)), st), F.i64(1)), F.i64(0));
    auto* body = F.newBB("lanes.for.body");
    auto* done = F.newBB("lanes.for.end");
    PHINode* k = F.loopHeader(F.i64(0), "lanes.k", [&](Value* v) { return b.CreateICmpULT(v, n); }, body, done);
    b.CreateStore(b.CreateAdd(a, b.CreateMul(k, F.i64(c))), F.slots[s.slot]);
    b.CreateStore(b.getInt1(true), F.defined[s.slot]);
    block(s.body);
    F.pollEvery(s.line);
    k->addIncoming(b.CreateAdd(k, F.i64(1), "", true, true), b.GetInsertBlock());
    b.CreateBr(k->getParent());
    b.SetInsertPoint(done);
  }

  // the end of a step: reductions lane by lane (an int overflow bails), then the stores
  void commit() {
    std::map<int, Value*> acc;
    for (int r : loop.lane_reductions) acc[r] = b.CreateLoad(sty(kindOf(F.f.locals[r].type)), F.slots[r]);
    Value* ovf = b.getFalse();
    for (auto& p : parts)
      if (p.va) {
        p.v = b.CreateLoad(p.va->getAllocatedType(), p.va);
        p.mask = b.CreateLoad(p.ma->getAllocatedType(), p.ma);
      }
    for (unsigned l = 0; l < W; ++l)
      for (auto& p : parts) {
        if (vsum.count(p.slot)) continue;
        LK k = kindOf(F.f.locals[p.slot].type);
        Value* x = b.CreateExtractElement(p.v, (uint64_t)l);
        if (x->getType()->isIntegerTy(1)) x = b.CreateZExt(x, b.getInt64Ty());  // True counts 1
        Value* on = p.mask ? b.CreateExtractElement(p.mask, (uint64_t)l) : nullptr;
        Value*& s = acc[p.slot];
        Value* t;
        if (k == LK::Int) {
          Value* r = b.CreateBinaryIntrinsic(Intrinsic::sadd_with_overflow, s, x);
          Value* o = b.CreateExtractValue(r, {1});
          ovf = b.CreateOr(ovf, on ? b.CreateAnd(on, o) : o);
          t = b.CreateExtractValue(r, {0});
        } else {
          if (x->getType()->isIntegerTy()) x = b.CreateSIToFP(x, b.getDoubleTy());
          t = b.CreateFAdd(s, x);
        }
        s = on ? b.CreateSelect(on, t, s) : t;
      }
    if (!parts.empty()) bailIf(ovf);
    // (after the bail: a step that bails adds nothing, the scalar loop redoes it)
    for (auto& p : parts) {
      auto it = vsum.find(p.slot);
      if (it == vsum.end()) continue;
      Value* x = p.v;  // (simd_lanes.cpp admits float + float and float + int terms)
      if (x->getType()->isIntOrIntVectorTy()) x = b.CreateSIToFP(x, vty(LK::Float));
      Value* sum = b.CreateLoad(vty(LK::Float), it->second);
      Value* t = b.CreateFAdd(sum, x);
      b.CreateStore(p.mask ? b.CreateSelect(p.mask, t, sum) : t, it->second);
    }
    // (a partial step stores only its lanes; a store of one element keeps the last active
    // lane's value, `lastLane`)
    Value* on = mask ? mask : Constant::getAllOnesValue(FixedVectorType::get(b.getInt1Ty(), W));
    for (auto& st : stores) {
      if (!st.val->getType()->isVectorTy()) b.CreateAlignedStore(st.val, st.ptr, Align(8));
      else if (st.contiguous && !mask) b.CreateAlignedStore(st.val, st.ptr, Align(8));
      else if (st.contiguous) b.CreateMaskedStore(st.val, st.ptr, Align(8), on);
      else b.CreateMaskedScatter(st.val, st.ptr, Align(8), on);
    }
    for (auto& [r, v] : acc) b.CreateStore(v, F.slots[r]);
  }

  // the lanes' sums into their variables (any order: these reductions are reassociated anyway)
  void foldSums() {
    for (auto& [r, a] : vsum) {
      Value* s = b.CreateLoad(b.getDoubleTy(), F.slots[r]);
      auto* red = b.CreateFAddReduce(s, b.CreateLoad(vty(LK::Float), a));
      FastMathFlags fm;
      fm.setAllowReassoc();
      cast<Instruction>(red)->setFastMathFlags(fm);
      b.CreateStore(red, F.slots[r]);
    }
  }
};

void slotsRead(const ir::Expr& e, std::set<int>& out) {
  if (e.kind == ExprKind::Var) out.insert(e.slot);
  for (auto& a : e.args) slotsRead(*a, out);
}

}  // namespace

// The anchor: a float64 element x[..., j + c] read inside an inner `for` of lane loop s over j
// (step 1), x a C-ordered array whose other indices are the same in every lane. Each step reads
// it at W consecutive elements, again and again as the inner loop goes round; the aligning step
// makes those W elements one aligned vector from the second step on (aligned to 64 bytes at most),
// in every row when the rows' strides are multiples of that (else q = 0: nothing is gained).
Value* FnLowering::alignShift(const ir::Stmt& s, Value* start, Value* from, const std::set<int>& varying) {
  const int64_t W = m.in.simd_lanes;
  const ir::Expr* anchor = nullptr;
  int64_t off = 0;
  auto lanesIndex = [&](const ir::Expr& e, int64_t& c) {
    if (e.kind == ExprKind::Var && e.slot == s.slot) return c = 0, true;
    if (e.kind == ExprKind::Binary && (e.op == Op::Add || e.op == Op::Sub) && e.args[0]->kind == ExprKind::Var &&
        e.args[0]->slot == s.slot && e.args[1]->kind == ExprKind::Const && e.args[1]->type.kind == Kind::Int &&
        e.args[1]->ival > -(1ll << 40) && e.args[1]->ival < (1ll << 40))
      return c = e.op == Op::Add ? e.args[1]->ival : -e.args[1]->ival, true;
    return false;
  };
  auto consider = [&](const ir::Expr& e) {
    if (anchor || e.kind != ExprKind::Index || e.args[0]->kind != ExprKind::Var) return;
    const Type& t = e.args[0]->type;
    if (!t.isArray() || t.dtype != Kind::NpFloat64 || t.layout != ir::Layout::C || (int)e.args.size() != t.ndim + 1) return;
    int64_t c;
    if (!lanesIndex(*e.args.back(), c)) return;
    for (size_t d = 1; d + 1 < e.args.size(); ++d) {
      std::set<int> r;
      slotsRead(*e.args[d], r);
      for (int x : r)
        if (x == s.slot || varying.count(x)) return;
    }
    anchor = &e;
    off = c;
  };
  std::function<void(const ir::Block&)> visit = [&](const ir::Block& blk) {
    for (auto& st : blk) {
      if (st->kind == StmtKind::For) ir::forEachExpr(st->body, consider);
      else {
        visit(st->body);
        visit(st->orelse);
      }
    }
  };
  visit(s.body);
  if (!anchor) return nullptr;
  const ir::Expr& a = *anchor->args[0];
  Val arr{b.CreateFreeze(b.CreateLoad(m.arrayTy, slots[a.slot])), a.type};
  // the address of x[0, ..., 0, first + c]: first = start + from (step 1)
  Value* j = b.CreateAdd(b.CreateAdd(start, from), i64(off));
  Value* addr = b.CreateAdd(b.CreatePtrToInt(b.CreateExtractValue(arr.v, {0}), b.getInt64Ty()), b.CreateShl(j, i64(3)));
  // aligned to the vector, or to the 64-byte cache line when the vector is wider (W = 16: two
  // lines, each read whole once the first is)
  const int64_t A = std::min<int64_t>(W, 8);
  Value* ok = b.CreateICmpEQ(b.CreateAnd(addr, i64(7)), i64(0));
  for (int d = 0; d + 1 < a.type.ndim; ++d)
    ok = b.CreateAnd(ok, b.CreateICmpEQ(b.CreateAnd(stride(arr, d), i64(8 * A - 1)), i64(0)));
  Value* q = b.CreateAnd(b.CreateLShr(addr, i64(3)), i64(A - 1));
  return b.CreateSelect(ok, q, i64(0));
}

Value* FnLowering::laneLoop(const ir::Stmt& s, Value* start, Value* step, Value* from, Value* n, bool lastScalar) {
  unsigned W = (unsigned)m.in.simd_lanes;
  Lanes L(*this, s, W);
  // which locals have a value per lane, and which the body reads as one value
  std::set<int> assigned, forVars, reads;
  ir::assignedSlots(s.body, assigned, forVars);
  ir::forEachExpr(s.body, [&](const ir::Expr& e) {
    if (e.kind == ExprKind::Var) reads.insert(e.slot);
  });
  for (int r : s.lane_reductions) reads.insert(r);
  // The lanes run [from, end): end = n, or n - 1 when the last iteration must be the scalar
  // loop's. Half a step of iterations or more (at least 2), and every local read as one value
  // bound (else the scalar loop raises UnboundLocalError where CPython does).
  Value* end = lastScalar ? b.CreateSub(n, i64(1)) : n;
  Value* ok = b.CreateICmpSGE(b.CreateSub(end, from), i64(std::max(2u, W / 2)));
  for (int r : reads)
    if ((!assigned.count(r) || L.isReduction(r)) && !forVars.count(r) &&
        r != s.slot && !((size_t)r < sure.size() && sure[r]))
      ok = b.CreateAnd(ok, b.CreateLoad(b.getInt1Ty(), defined[r]));
  // Stores wait for the step's end, and lanes read before earlier lanes' stores: that is exact
  // only if no array the loop writes shares memory with another array it touches, or with
  // itself (two names for one buffer, a view with a zero stride); the scalar loop runs otherwise.
  std::set<int> written, touched;
  std::function<void(const ir::Block&)> arrays = [&](const ir::Block& blk) {
    for (auto& st : blk) {
      if (st->kind == StmtKind::Store) written.insert(st->args[0]->slot);
      arrays(st->body);
      arrays(st->orelse);
    }
  };
  arrays(s.body);
  ir::forEachExpr(s.body, [&](const ir::Expr& e) {
    if (e.kind == ExprKind::Index && e.args[0]->kind == ExprKind::Var && e.args[0]->type.isArray())
      touched.insert(e.args[0]->slot);
  });
  touched.insert(written.begin(), written.end());
  BasicBlock* pre = b.GetInsertBlock();
  auto* contB = newBB("lanes.cont");
  BasicBlock* overlapB = nullptr;
  if (!written.empty()) {  // (after the bound check: the arrays' slots hold arrays)
    overlapB = newBB("lanes.overlap");
    b.CreateCondBr(ok, overlapB, contB);
    b.SetInsertPoint(overlapB);
    auto arr = [&](int slot) {
      return Val{b.CreateFreeze(b.CreateLoad(m.arrayTy, slots[slot])), f.locals[slot].type};
    };
    ok = b.getTrue();
    for (int w : written) {
      Val aw = arr(w);
      ok = b.CreateAnd(ok, noSelfOverlap(aw));
      Value *lw, *hw;
      byteSpan(aw, lw, hw);
      for (int x : touched) {
        if (x == w) continue;
        Value *lx, *hx;
        byteSpan(arr(x), lx, hx);
        ok = b.CreateAnd(ok, b.CreateOr(b.CreateICmpULE(hw, lx), b.CreateICmpULE(hx, lw)));
      }
    }
  }
  auto* setupB = newBB("lanes.setup");
  auto* headB = newBB("lanes.head");
  auto* bodyB = newBB("lanes.body");
  auto* doneB = newBB("lanes.done");
  L.bailB = newBB("lanes.bail");
  BasicBlock* checkB = b.GetInsertBlock();
  b.CreateCondBr(ok, setupB, contB);
  b.SetInsertPoint(setupB);
  for (int slot : assigned)
    if (!L.isReduction(slot)) {
      LK k = kindOf(f.locals[slot].type);
      AllocaInst* a = entryAlloca(L.vty(k), "lane");
      b.CreateStore(Constant::getNullValue(L.vty(k)), a);  // defined values in lanes never assigned
      L.vslot[slot] = a;
    }
  for (int r : s.lane_reductions)
    if (reassocAdd.count(r)) {  // (plain floats only)
      AllocaInst* a = entryAlloca(L.vty(LK::Float), "lane.sum");
      b.CreateStore(ConstantFP::get(L.vty(LK::Float), -0.0), a);  // x + -0.0 == x, also for x = -0.0
      L.vsum[r] = a;
    }
  int64_t cs = 0;
  bool unitStep = ir::intConstant(*s.value->args[2], cs) && cs == 1;
  // one step of the body for iterations k0 .. k0+W-1, the lanes where `on` is false left out;
  // a partial step bails to its own block, and a store of one element takes lane `last`
  auto step1 = [&](BasicBlock* at, Value* k0, Value* on, BasicBlock* bail = nullptr, Value* last = nullptr) {
    BasicBlock* mainBail = L.bailB;
    if (bail) L.bailB = bail;
    L.lastLane = last;
    Value* first = b.CreateAdd(start, b.CreateMul(k0, step));
    Value* ivv = b.CreateAdd(L.splat(first), b.CreateMul(L.splat(step), L.laneIds()));
    L.iv = {ivv, LK::Int, true, unitStep ? first : nullptr};
    L.mask = on;
    L.partial = on != nullptr;
    L.parts.clear();
    L.stores.clear();
    L.block(s.body);
    L.commit();
    IRBuilder<> reset(at, at->getFirstInsertionPt());  // terms in `if`s start each step absent
    for (auto& p : L.parts)
      if (p.ma) reset.CreateStore(Constant::getNullValue(p.ma->getAllocatedType()), p.ma);
    L.mask = nullptr;
    L.partial = false;
    L.lastLane = nullptr;
    L.bailB = mainBail;
  };
  // The aligning step: when an array the body reads in an inner loop (B[p, j] in a matmul's
  // column loop) is read W elements at a time, the steps start where those W elements fill one
  // aligned vector (a misaligned one spans two cache lines: matmul's Level 2 ran 1.7x slower).
  // Its first lanes, before `from`, are off. Not with lane sums (F.reassocAdd): which lane gets
  // which term would depend on where the array lies, and the sum with it.
  Value* next = from;
  BasicBlock* alignBailB = nullptr;
  if (unitStep && L.vsum.empty()) {
    if (Value* q = alignShift(s, start, from, assigned)) {
      auto* alignB = newBB("lanes.align");
      auto* fullB = newBB("lanes.full");
      BasicBlock* fromB = b.GetInsertBlock();
      b.CreateCondBr(b.CreateICmpNE(q, i64(0)), alignB, fullB);
      b.SetInsertPoint(alignB);
      alignBailB = newBB("lanes.align.bail");
      Value* k0 = b.CreateSub(from, q);
      Value* lastOn = b.CreateAdd(q, b.CreateSub(end, from));  // one past the last lane on, if below W
      Value* on = b.CreateAnd(b.CreateICmpUGE(L.laneIds(), L.splat(q)), b.CreateICmpULT(L.laneIds(), L.splat(lastOn)));
      step1(alignB, k0, on, alignBailB, b.CreateSub(b.CreateSelect(b.CreateICmpSLT(lastOn, i64(W)), lastOn, i64(W)), i64(1)));
      Value* after = b.CreateAdd(k0, i64(W));
      after = b.CreateSelect(b.CreateICmpSGT(after, end), end, after);  // (a loop shorter than the step)
      BasicBlock* alignEnd = b.GetInsertBlock();
      b.CreateBr(fullB);
      b.SetInsertPoint(fullB);
      PHINode* nx = b.CreatePHI(b.getInt64Ty(), 2, "lanes.aligned");
      nx->addIncoming(from, fromB);
      nx->addIncoming(after, alignEnd);
      next = nx;
    }
  }
  BasicBlock* fullB = b.GetInsertBlock();
  Value* todo = b.CreateSub(end, next);
  Value* nv = b.CreateAdd(next, b.CreateMul(b.CreateUDiv(todo, i64(W)), i64(W)));
  b.CreateBr(headB);
  b.SetInsertPoint(headB);
  PHINode* kv = b.CreatePHI(b.getInt64Ty(), 2, "lanes.k0");
  kv->addIncoming(next, fullB);
  b.CreateCondBr(b.CreateICmpULT(kv, nv), bodyB, doneB);
  b.SetInsertPoint(bodyB);
  step1(bodyB, kv, nullptr);
  pollEvery(s.line);
  kv->addIncoming(b.CreateAdd(kv, i64(W), "", true, true), b.GetInsertBlock());
  b.CreateBr(headB);
  b.SetInsertPoint(doneB);
  // the last step: the iterations left before `end`, fewer than W, in a step with its last lanes off
  Value* rem = b.CreateSub(end, nv);
  auto* tailB = newBB("lanes.tail");
  auto* endB = newBB("lanes.end");
  auto* tailBailB = newBB("lanes.tail.bail");
  b.CreateCondBr(b.CreateICmpNE(rem, i64(0)), tailB, endB);
  b.SetInsertPoint(tailB);
  step1(tailB, nv, b.CreateICmpULT(L.laneIds(), L.splat(rem)), tailBailB, b.CreateSub(rem, i64(1)));
  b.CreateBr(endB);
  b.SetInsertPoint(endB);
  L.foldSums();
  b.CreateBr(contB);
  b.SetInsertPoint(L.bailB);
  L.foldSums();
  b.CreateBr(contB);
  b.SetInsertPoint(tailBailB);
  L.foldSums();
  b.CreateBr(contB);
  if (alignBailB) {  // (no lane sums here)
    b.SetInsertPoint(alignBailB);
    b.CreateBr(contB);
  }
  b.SetInsertPoint(contB);
  PHINode* resume = b.CreatePHI(b.getInt64Ty(), 6, "lanes.scalar.from");
  resume->addIncoming(from, pre);
  if (overlapB) resume->addIncoming(from, checkB);
  resume->addIncoming(end, endB);
  resume->addIncoming(kv, L.bailB);
  resume->addIncoming(nv, tailBailB);  // the scalar loop redoes the last step's lanes
  if (alignBailB) resume->addIncoming(from, alignBailB);  // the scalar loop redoes the aligning step's lanes
  return resume;
}

}  // namespace epochpp::codegen
