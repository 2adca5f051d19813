// jit/codegen/lower_ovf.cpp — the per-chunk overflow check of an innermost `for` loop (the facts
// come from passes/overflow_hoist.cpp).
//
// At the entry of each chunk of iterations k in [kc, end), the range of every int `+ - *` node the
// pass listed is computed by interval arithmetic in 128 bits: the loop variable over the chunk's
// values, an unchanged int at its current value, an accumulator from its current value plus or
// minus (chunk length x updates per iteration x the largest |increment|), a temporary as its one
// value. Every endpoint is
// clamped to [-2**63 - 1, 2**63] — outside int64 either way — so that a product of two endpoints
// (at most ~2**126) never wraps 128 bits. The chunk runs without overflow checks only when every
// node's range fits int64; then no node can overflow on any path through the chunk (branches,
// break and return only leave values inside the ranges). Values are frozen when read: a local
// still unbound here holds an undefined value, which the check may use (the loop's own read of
// it raises UnboundLocalError before any arithmetic on it) but must not branch on unfrozen.
#include <algorithm>
#include <map>

#include "jit/codegen/codegen_impl.h"

namespace epochpp::codegen {

using namespace llvm;
using ir::ExprKind;
using ir::Op;

namespace {

struct Range {
  Value* lo;
  Value* hi;
};

struct IntervalBuilder {
  IRBuilderBase& b;
  IntegerType* I128;
  Value* clampLo;
  Value* clampHi;

  explicit IntervalBuilder(IRBuilderBase& builder) : b(builder), I128(b.getInt128Ty()) {
    clampHi = ConstantInt::get(I128, APInt::getOneBitSet(128, 63));                // 2**63
    clampLo = ConstantInt::get(I128, -APInt::getOneBitSet(128, 63) - 1);           // -2**63 - 1
  }
  Value* c(int64_t v) { return ConstantInt::get(I128, v, true); }
  Value* wide(Value* v) { return b.CreateSExt(v, I128); }
  Value* min(Value* x, Value* y) { return b.CreateSelect(b.CreateICmpSLT(x, y), x, y); }
  Value* max(Value* x, Value* y) { return b.CreateSelect(b.CreateICmpSGT(x, y), x, y); }
  Value* clamp(Value* x) { return min(max(x, clampLo), clampHi); }
  Range clamp(Range r) { return {clamp(r.lo), clamp(r.hi)}; }
  Range add(Range x, Range y) { return clamp({b.CreateAdd(x.lo, y.lo), b.CreateAdd(x.hi, y.hi)}); }
  Range sub(Range x, Range y) { return clamp({b.CreateSub(x.lo, y.hi), b.CreateSub(x.hi, y.lo)}); }
  Range mul(Range x, Range y) {
    Value* p[4] = {b.CreateMul(x.lo, y.lo), b.CreateMul(x.lo, y.hi), b.CreateMul(x.hi, y.lo), b.CreateMul(x.hi, y.hi)};
    return clamp({min(min(p[0], p[1]), min(p[2], p[3])), max(max(p[0], p[1]), max(p[2], p[3]))});
  }
  Value* fits(Range r) {
    return b.CreateAnd(b.CreateICmpSGE(r.lo, c(INT64_MIN)), b.CreateICmpSLE(r.hi, c(INT64_MAX)));
  }
};

}  // namespace

Value* FnLowering::overflowFreeChunk(const ir::Stmt& s, Value* start, Value* step, Value* kc, Value* end) {
  IntervalBuilder ib(b);
  // the loop variable over the chunk: start + k*step for k in [kc, end) (end > kc here)
  Value* first = b.CreateAdd(ib.wide(start), b.CreateMul(ib.wide(kc), ib.wide(step)));
  Value* last = b.CreateAdd(ib.wide(start), b.CreateMul(ib.wide(b.CreateSub(end, i64(1))), ib.wide(step)));
  Range loopVar{ib.min(first, last), ib.max(first, last)};
  Value* iterations = ib.wide(b.CreateSub(end, kc));

  std::map<int, Range> vars;  // accumulators and unchanged ints, read once
  std::map<const ir::Expr*, Range> memo;
  std::function<Range(const ir::Expr&)> range = [&](const ir::Expr& e) -> Range {
    if (auto it = memo.find(&e); it != memo.end()) return it->second;
    Range r;
    if (e.kind == ExprKind::Const) {
      r = {ib.c(e.ival), ib.c(e.ival)};
    } else if (e.kind == ExprKind::Var) {
      auto temp = std::find_if(s.ovf_temps.begin(), s.ovf_temps.end(), [&](auto& t) { return t.first == e.slot; });
      if (e.slot == s.slot) {
        r = loopVar;
      } else if (temp != s.ovf_temps.end()) {  // assigned before any read in the iteration: its value's range
        r = range(*temp->second);
      } else if (auto it = vars.find(e.slot); it != vars.end()) {
        r = it->second;
      } else {  // not assigned in the loop: its current value
        Value* v = ib.wide(b.CreateFreeze(b.CreateLoad(b.getInt64Ty(), slots[e.slot])));
        r = vars[e.slot] = {v, v};
      }
    } else {
      Range x = range(*e.args[0]), y = range(*e.args[1]);
      r = e.op == Op::Add ? ib.add(x, y) : e.op == Op::Sub ? ib.sub(x, y) : ib.mul(x, y);
    }
    return memo[&e] = r;
  };
  // accumulators first: their increments read no accumulator
  for (auto& a : s.ovf_accums) {
    Value* down = ib.c(0);  // the most one update can subtract (<= 0) and add (>= 0)
    Value* up = ib.c(0);
    for (auto& [inc, sub] : a.incs) {
      Range r = range(*inc);
      down = ib.min(down, sub ? b.CreateNeg(r.hi) : r.lo);
      up = ib.max(up, sub ? b.CreateNeg(r.lo) : r.hi);
    }
    Value* times = b.CreateMul(iterations, ib.c(a.updates));  // <= 2**16 x a few
    Value* v = ib.wide(b.CreateFreeze(b.CreateLoad(b.getInt64Ty(), slots[a.slot])));
    vars[a.slot] = ib.clamp(Range{b.CreateAdd(v, b.CreateMul(times, down)), b.CreateAdd(v, b.CreateMul(times, up))});
  }
  Value* ok = b.getTrue();
  for (const ir::Expr* e : s.ovf_ops) ok = b.CreateAnd(ok, ib.fits(range(*e)));
  return ok;
}

void FnLowering::overflowVersions(const ir::Stmt& s, Value* start, Value* step, Value* from, Value* to,
                                  const std::function<void()>& emitLoop, Value* canShrink, BasicBlock* shrinkB) {
  if (s.ovf_ops.empty() || m.gpu) {
    emitLoop();
    return;
  }
  auto* fastB = newBB("chunk.nooverflow");
  auto* slowB = newBB("chunk.checked");
  Value* fits = overflowFreeChunk(s, start, step, from, to);
  if (shrinkB) {  // a grown chunk that does not fit is retried smaller before the checked loop
    auto* failB = newBB("chunk.overflows");
    b.CreateCondBr(fits, fastB, failB);
    b.SetInsertPoint(failB);
    b.CreateCondBr(canShrink, shrinkB, slowB);
  } else {
    b.CreateCondBr(fits, fastB, slowB);
  }
  b.SetInsertPoint(fastB);
  for (auto* e : s.ovf_ops) proven.insert(e);
  emitLoop();
  for (auto* e : s.ovf_ops) proven.erase(e);
  b.SetInsertPoint(slowB);
  emitLoop();
}

}  // namespace epochpp::codegen
