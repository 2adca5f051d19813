// jit/codegen/lower_stmt.cpp — statements: locals, if/for/while with break/continue/else, returns.
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/MDBuilder.h>

#include "jit/codegen/codegen_impl.h"
#include "runtime/abi.h"

namespace epochpp::codegen {

using namespace llvm;
using ir::StmtKind;

void FnLowering::assign(int slot, Val v, int line) {
  Val c = coerce(v, f.locals[slot].type, line);
  b.CreateStore(c.v, slots[slot]);
  b.CreateStore(b.getInt1(true), defined[slot]);
}

Val FnLowering::readVar(int slot, int line) {
  if ((size_t)slot < sure.size() && sure[slot]) return {b.CreateLoad(m.lower(f.locals[slot].type), slots[slot]), f.locals[slot].type};
  Value* def = b.CreateLoad(b.getInt1Ty(), defined[slot]);
  raiseIf(b.CreateNot(def), EP_EXC_UNBOUND_LOCAL,
          "cannot access local variable '" + f.locals[slot].name + "' where it is not associated with a value", line);
  return {b.CreateLoad(m.lower(f.locals[slot].type), slots[slot]), f.locals[slot].type};
}

void FnLowering::ret(Val v, int line) {
  Val c = coerce(v, f.return_type, line);
  if (tailAcc) c = pyIntOp(ir::Op::Add, tailAcc, c.v, line);  // the x parts of the jumps so far, checked
  Value* r = UndefValue::get(m.retType(f));
  r = b.CreateInsertValue(r, i32(EP_OK), {0});
  b.CreateRet(b.CreateInsertValue(r, c.v, {1}));
  b.SetInsertPoint(newBB("after.return"));
}

// ---- accumulating self tail calls ------------------------------------------------------------
bool FnLowering::selfTailCall(const ir::Stmt& s) {
  if (!s.tail_accumulate) return false;  // only then is the value `x + call`
  const ir::Expr& call = *s.value->args[1];
  return (int)call.args.size() == f.num_params && calleeTarget(call) == index;
}

bool FnLowering::hasSelfTailCall(const ir::Block& blk) {
  for (auto& s : blk) {
    if (s->kind == StmtKind::Return && selfTailCall(*s)) return true;
    if (s->kind == StmtKind::If && (hasSelfTailCall(s->body) || hasSelfTailCall(s->orelse))) return true;
  }
  return false;
}

// `return x + f(args)` with f this specialisation: evaluate x, then the arguments (Python's
// order), add x to the running sum (an overflow deopts), rebind the parameters, unbind the
// other locals (a new frame has none) and go back to the depth check at the top.
void FnLowering::tailJump(const ir::Stmt& s) {
  const ir::Expr& e = *s.value;
  const ir::Expr& call = *e.args[1];
  Val x = convert(expr(*e.args[0]), Kind::Int, s.line);
  std::vector<Value*> args;
  for (size_t i = 0; i < call.args.size(); ++i) args.push_back(coerce(expr(*call.args[i]), f.param_types[i], s.line).v);
  Value* sum = pyIntOp(ir::Op::Add, tailAcc, x.v, s.line).v;
  for (size_t i = 0; i < f.locals.size(); ++i) {
    bool param = (int)i < f.num_params;
    if (param) b.CreateStore(coerce({args[i], f.param_types[i]}, f.locals[i].type, s.line).v, slots[i]);
    b.CreateStore(b.getInt1(param), defined[i]);
  }
  tailDepth->addIncoming(b.CreateAdd(tailDepth, i32(1)), b.GetInsertBlock());
  tailAcc->addIncoming(sum, b.GetInsertBlock());
  b.CreateBr(tailHead);
  b.SetInsertPoint(newBB("after.tailcall"));
}

void FnLowering::block(const ir::Block& blk) {
  for (auto& s : blk) stmt(*s);
}

void FnLowering::stmt(const ir::Stmt& s) {
  switch (s.kind) {
    case StmtKind::Assign: {
      Val v = expr(*s.value);
      // a Level 3 chunk's float `+` reduction: any order (LLVM may then vectorise the sum)
      if (reassocAdd.count(s.slot) && s.value->kind == ir::ExprKind::Binary && s.value->op == ir::Op::Add)
        if (auto* add = dyn_cast<BinaryOperator>(v.v); add && add->getOpcode() == Instruction::FAdd) add->setHasAllowReassoc(true);
      assign(s.slot, v, s.line);
      if ((size_t)s.slot < sure.size()) sure[s.slot] = 1;
      break;
    }
    case StmtKind::Store: storeStmt(s); break;
    case StmtKind::ExprStmt: expr(*s.value); break;
    case StmtKind::Return:
      if (tailAcc && selfTailCall(s)) tailJump(s);
      else ret(expr(*s.value), s.line);
      break;
    case StmtKind::Pass: break;
    case StmtKind::If: {
      Value* c = truth(expr(*s.value), s.line);
      auto* thenB = newBB("if.then");
      auto* elseB = newBB("if.else");
      auto* endB = newBB("if.end");
      b.CreateCondBr(c, thenB, elseB);
      b.SetInsertPoint(thenB);
      std::vector<char> before = sure;
      block(s.body);
      std::vector<char> afterThen = std::move(sure);
      sure = std::move(before);
      b.CreateBr(endB);
      b.SetInsertPoint(elseB);
      block(s.orelse);
      for (size_t k = 0; k < sure.size(); ++k) sure[k] = sure[k] && afterThen[k];  // bound on both paths
      b.CreateBr(endB);
      b.SetInsertPoint(endB);
      break;
    }
    case StmtKind::For: forRange(s); break;
    case StmtKind::While: whileLoop(s); break;
    case StmtKind::Break:
      b.CreateBr(loops.back().brk);
      b.SetInsertPoint(newBB("after.break"));
      break;
    case StmtKind::Continue:
      b.CreateBr(loops.back().cont);
      b.SetInsertPoint(newBB("after.continue"));
      break;
  }
}

// for i in range(start, stop, step): the trip count is computed once (as CPython's range
// object does), the induction variable is start + k*step, so the loop is canonical for LLVM.
void FnLowering::forRange(const ir::Stmt& s) {
  std::vector<char> before = sure;  // after the loop: what was bound before it (it may run 0 times, or break)
  forRangeBody(s);
  sure = std::move(before);
}

void FnLowering::forRangeBody(const ir::Stmt& s) {
  const ir::Expr& r = *s.value;
  auto asInt = [&](const ir::Expr& e) { return convert(expr(e), Kind::Int, s.line).v; };
  Value* start = asInt(*r.args[0]);
  Value* stop = asInt(*r.args[1]);
  Value* step = asInt(*r.args[2]);
  bool constStep = r.args[2]->kind == ir::ExprKind::Const;
  int64_t cs = constStep ? r.args[2]->ival : 0;
  if (!constStep || cs == 0) raiseIf(b.CreateICmpEQ(step, i64(0)), EP_EXC_VALUE, "range() arg 3 must not be zero", s.line);
  // n = step > 0 ? (start < stop ? (stop - start - 1) / step + 1 : 0)
  //              : (start > stop ? (start - stop - 1) / (-step) + 1 : 0)   in unsigned arithmetic
  auto count = [&](bool positive) -> Value* {
    Value* lo = positive ? start : stop;
    Value* hi = positive ? stop : start;
    Value* st = positive ? step : b.CreateSub(i64(0), step);
    Value* span = b.CreateSub(b.CreateSub(hi, lo), i64(1));
    Value* n = b.CreateAdd(b.CreateUDiv(span, st), i64(1));
    return b.CreateSelect(b.CreateICmpSLT(lo, hi), n, i64(0));
  };
  Value* n;
  if (constStep) n = count(cs > 0);
  else n = b.CreateSelect(b.CreateICmpSGT(step, i64(0)), count(true), count(false));

  auto* elseB = newBB("for.else");
  auto* exitB = newBB("for.end");
  // (inside a GPU kernel every loop is serial)
  if (s.parallel && !m.gpu) {
    // Level 3: on all cores when there is enough work and the arrays it writes overlap nothing
    auto* parB = newBB("for.parallel");
    auto* serB = newBB("for.serial");
    b.CreateCondBr(parallelProfitable(s, start, step, n), parB, serB);
    b.SetInsertPoint(parB);
    parallelLoop(s, start, step, n, serB);
    b.CreateBr(elseB);
    b.SetInsertPoint(serB);
  }
  Value* from = i64(0);
  if (s.lanes && !m.gpu && m.in.simd_lanes >= 2) from = laneLoop(s, start, step, from, n, !s.lanes_to_end);
  checkedVersions(s, start, step, from, n, elseB, exitB);
  b.SetInsertPoint(elseB);
  block(s.orelse);
  b.CreateBr(exitB);
  b.SetInsertPoint(exitB);
}

// An int that bounds_hoist.cpp found invariant in the loop being entered (a constant, a local,
// len(x), x.shape[k]), read without the checks an expression would make: a local may still be
// unbound here (then the loop that uses it raises before any access it guards), hence the freeze.
Value* FnLowering::invariantInt(const ir::Expr& e) {
  switch (e.kind) {
    case ir::ExprKind::Const: return i64(e.ival);
    case ir::ExprKind::Var: return b.CreateFreeze(b.CreateLoad(b.getInt64Ty(), slots[e.slot]));
    case ir::ExprKind::Intrinsic: {  // len(x)
      const ir::Expr& a = *e.args[0];
      return b.CreateFreeze(dim({b.CreateLoad(m.arrayTy, slots[a.slot]), a.type}, 0));
    }
    default: {  // x.shape[k]: a TupleGet, or an Index with a constant
      const ir::Expr& a = *e.args[0]->args[0];
      int64_t k = e.kind == ir::ExprKind::TupleGet ? e.ival : e.args[1]->ival;
      if (k < 0) k += a.type.ndim;
      return b.CreateFreeze(dim({b.CreateLoad(m.arrayTy, slots[a.slot]), a.type}, (int)k));
    }
  }
}

// Whether every index of access h is in range whenever it executes, the loop's own variable
// spanning [lo, hi] and an inner loop's variable that loop's whole range (an inner range that is
// empty makes the access never run: true).
Value* FnLowering::hoistedInRange(const ir::Stmt& s, const ir::HoistedAccess& h, Value* lo, Value* hi) {
  Val arr{b.CreateFreeze(b.CreateLoad(m.lower(f.locals[h.base_slot].type), slots[h.base_slot])), f.locals[h.base_slot].type};
  Value* ok = b.getTrue();
  Value* never = b.getFalse();
  for (size_t d = 0; d < h.dims.size(); ++d) {
    const ir::IndexTerm& t = h.dims[d];
    Value *tlo, *thi;
    if (t.slot == s.slot) {
      tlo = lo;
      thi = hi;
    } else if (t.loop) {  // for v in range(a, b, c): v spans [a, a + (count-1)*c] (or the reverse)
      const ir::Expr& r = *t.loop->value;
      Value* a = invariantInt(*r.args[0]);
      Value* e = invariantInt(*r.args[1]);
      int64_t c = r.args[2]->ival;
      Value* first = a;
      Value* last;
      Value* empty;
      if (c > 0) {
        empty = b.CreateICmpSGE(a, e);
        Value* cnt1 = b.CreateUDiv(b.CreateSub(b.CreateSub(e, a), i64(1)), i64(c));  // count - 1
        last = b.CreateAdd(a, b.CreateMul(cnt1, i64(c)));
        tlo = first;
        thi = last;
      } else {
        empty = b.CreateICmpSLE(a, e);
        Value* cnt1 = b.CreateUDiv(b.CreateSub(b.CreateSub(a, e), i64(1)), i64(-(uint64_t)c));
        last = b.CreateSub(a, b.CreateMul(cnt1, i64(-(uint64_t)c)));
        tlo = last;
        thi = first;
      }
      never = b.CreateOr(never, empty);
    } else if (t.slot >= 0) {
      tlo = thi = b.CreateFreeze(b.CreateLoad(b.getInt64Ty(), slots[t.slot]));
    } else {
      tlo = thi = i64(0);
    }
    auto add = b.CreateBinaryIntrinsic(Intrinsic::sadd_with_overflow, tlo, i64(t.offset));
    auto add2 = b.CreateBinaryIntrinsic(Intrinsic::sadd_with_overflow, thi, i64(t.offset));
    Value* a1 = b.CreateExtractValue(add, {0});
    Value* a2 = b.CreateExtractValue(add2, {0});
    Value* wrapped = b.CreateOr(b.CreateExtractValue(add, {1}), b.CreateExtractValue(add2, {1}));
    Value* in = b.CreateAnd(b.CreateICmpSGE(a1, i64(0)), b.CreateICmpSLT(a2, dim(arr, (int)d)));
    ok = b.CreateAnd(ok, b.CreateAnd(in, b.CreateNot(wrapped)));
  }
  return b.CreateOr(ok, never);
}

// The loop over k in [from, to) in two versions when it has hoisted accesses: one check of them
// all over the range, then the version without their bounds checks, or the fully checked one.
// Accesses an enclosing loop's check already covers are not checked again.
void FnLowering::checkedVersions(const ir::Stmt& s, Value* start, Value* step, Value* from, Value* to, BasicBlock* elseB,
                                 BasicBlock* exitB) {
  auto key = [](const ir::HoistedAccess& h) { return h.load ? (const void*)h.load : (const void*)h.store; };
  std::vector<const ir::HoistedAccess*> todo;
  for (auto& h : s.hoisted)
    if (!proven.count(key(h))) todo.push_back(&h);
  if (todo.empty()) {
    int before = failSites, beforeR = raiseSites;
    rangeLoops(s, start, step, from, to, elseB, exitB);
    uncheckedFails = failSites - before;
    uncheckedRaises = raiseSites - beforeR;
    return;
  }
  Value* first = b.CreateAdd(start, b.CreateMul(from, step));
  Value* last = b.CreateAdd(start, b.CreateMul(b.CreateSub(to, i64(1)), step));
  Value* lo = b.CreateSelect(b.CreateICmpSLT(first, last), first, last);
  Value* hi = b.CreateSelect(b.CreateICmpSLT(first, last), last, first);
  Value* ok = b.getTrue();
  for (auto* h : todo) ok = b.CreateAnd(ok, hoistedInRange(s, *h, lo, hi));
  ok = b.CreateOr(ok, b.CreateICmpSGE(from, to));
  auto* fastB = newBB("for.unchecked");
  auto* slowB = newBB("for.checked");
  b.CreateCondBr(ok, fastB, slowB);
  b.SetInsertPoint(fastB);
  std::set<const void*> saved = proven;
  for (auto* h : todo) {
    proven.insert(key(*h));
    for (auto& t : h->dims)
      if (t.arith) proven.insert(t.arith);
  }
  int before = failSites, beforeR = raiseSites;
  rangeLoops(s, start, step, from, to, elseB, exitB);
  int fails = failSites - before, raises = raiseSites - beforeR;
  proven = std::move(saved);
  b.SetInsertPoint(slowB);
  rangeLoops(s, start, step, from, to, elseB, exitB);
  uncheckedFails = fails;  // (the checked version's inner loops set them too)
  uncheckedRaises = raises;
}

// Raises KeyboardInterrupt when a Ctrl-C is pending.
void FnLowering::checkSignals(int line) {
  bool was = interruptOnly;
  interruptOnly = true;  // not a failure site (failSites): Ctrl-C is not an error of the code
  raiseIf(b.CreateICmpNE(b.CreateCall(m.rt("ep_rt_check_signals"), {ctx}), i32(0)), EP_EXC_KEYBOARD_INTERRUPT, "", line);
  interruptOnly = was;
}

// The body of `for` loop s for k in [from, to) (0 <= from; the loop variable is start + k*step),
// going on to `done` when it runs out; `break` goes to `exitB`. `pollEach`: count iterations
// and look for Ctrl-C every 2**16 of them.
PHINode* FnLowering::loopHeader(Value* init, const char* name, const std::function<Value*(Value*)>& cond, BasicBlock* body,
                                BasicBlock* exit) {
  BasicBlock* pre = b.GetInsertBlock();
  auto* head = newBB("loop.head");
  b.CreateBr(head);
  b.SetInsertPoint(head);
  PHINode* phi = b.CreatePHI(init->getType(), 2, name);
  phi->addIncoming(init, pre);
  b.CreateCondBr(cond(phi), body, exit);
  b.SetInsertPoint(body);
  return phi;
}

void FnLowering::countedLoop(const ir::Stmt& s, Value* start, Value* step, Value* from, Value* to, BasicBlock* done,
                             BasicBlock* exitB, bool pollEach) {
  auto* bodyB = newBB("for.body");
  auto* latch = newBB("for.latch");
  PHINode* k = loopHeader(from, "k", [&](Value* v) { return b.CreateICmpULT(v, to); }, bodyB, done);
  assign(s.slot, {b.CreateAdd(start, b.CreateMul(k, step)), Type::scalar(Kind::Int)}, s.line);
  std::vector<char> before = sure;  // each iteration starts with at least this bound
  if ((size_t)s.slot < sure.size()) sure[s.slot] = 1;
  loops.push_back({exitB, latch});
  block(s.body);
  loops.pop_back();
  sure = std::move(before);  // (a body may be lowered more than once: each copy starts alike)
  b.CreateBr(latch);
  b.SetInsertPoint(latch);
  if (pollEach) pollEvery(s.line);
  k->addIncoming(b.CreateAdd(k, i64(1), "", true, true), b.GetInsertBlock());
  b.CreateBr(k->getParent());
}

// The loop over k in [from, n) (i = start + k*step), ending in `elseB` when it runs out and in
// `exitB` on break. Innermost loops are strip-mined: no poll inside a chunk (so it vectorises),
// Ctrl-C is noticed between chunks.
//
// A chunk is 2**16 iterations. In a loop with hoisted int overflow checks it grows 4x while
// iterations cost less than a cycle each (timed with the cycle counter): a loop LLVM folded into
// a closed form (a sum of squares) then makes a few chunks, not n / 2**16 of them
// (sum_squares(3M): 46 chunks took 0.78 us a call, 12 ns each; now 0.43 us). Growth stops at
// 2**22 iterations, and a chunk that took a cycle or more per iteration sends the size back to
// 2**16, so Ctrl-C stays prompt. When a chunk longer than 2**16 fails its overflow check
// (lower_ovf.cpp), half of it is tried before the checked loop is used: a long chunk's coarse
// bound must not send iterations that fit int64 to the slow loop. Chunking never changes results.
void FnLowering::rangeLoops(const ir::Stmt& s, Value* start, Value* step, Value* from, Value* n, BasicBlock* elseB,
                            BasicBlock* exitB) {
  if (!ir::containsLoop(s.body)) {
    const int64_t CH = 1 << 16, CHMAX = int64_t(1) << 22;
    // Only loops with hoisted int overflow checks grow (the loops LLVM can fold into a closed
    // form): the extra phi and test cost a loop of 3 iterations entered 490,000 times (pairwise's
    // inner loop) 12%. A GPU kernel's loops keep the fixed size (no host cycle counter).
    bool adaptive = !m.gpu && !s.ovf_ops.empty();
    auto* cbody = newBB("chunk.body");
    auto* clatch = newBB("chunk.latch");
    BasicBlock* pre = b.GetInsertBlock();
    auto* head = newBB("chunk.head");
    b.CreateBr(head);
    b.SetInsertPoint(head);
    PHINode* kc = b.CreatePHI(b.getInt64Ty(), 3, "kc");
    PHINode* ch = b.CreatePHI(b.getInt64Ty(), 3, "ch");
    kc->addIncoming(from, pre);
    ch->addIncoming(i64(CH), pre);
    b.CreateCondBr(b.CreateICmpULT(kc, n), cbody, elseB);
    b.SetInsertPoint(cbody);
    Value* end = b.CreateSelect(b.CreateICmpULT(b.CreateSub(n, kc), ch), n, b.CreateAdd(kc, ch));
    Value* cycles = nullptr;
    if (adaptive) {  // the counter is read only when another chunk follows: a short loop (pairwise's
                     // inner loop over 3 coordinates) must not pay ~30 cycles per entry for it
      auto* timeB = newBB("chunk.time");
      auto* goB = newBB("chunk.go");
      BasicBlock* from = b.GetInsertBlock();
      b.CreateCondBr(b.CreateICmpULT(end, n), timeB, goB, MDBuilder(m.C).createBranchWeights(1, 1 << 10));
      b.SetInsertPoint(timeB);
      Value* t0 = b.CreateIntrinsic(Intrinsic::readcyclecounter, {}, {});
      b.CreateBr(goB);
      b.SetInsertPoint(goB);
      auto* phi = b.CreatePHI(b.getInt64Ty(), 2, "chunk.t0");
      phi->addIncoming(t0, timeB);
      phi->addIncoming(i64(0), from);
      cycles = phi;
    }
    BasicBlock* shrinkB = nullptr;
    Value* canShrink = nullptr;
    if (adaptive) {
      shrinkB = newBB("chunk.shrink");
      canShrink = b.CreateICmpUGT(b.CreateSub(end, kc), i64(CH));
    }
    // int arithmetic whose ranges are known: one overflow check per chunk instead of one per operation
    overflowVersions(s, start, step, kc, end, [&] { countedLoop(s, start, step, kc, end, clatch, exitB, false); },
                     canShrink, shrinkB);
    if (shrinkB) {
      b.SetInsertPoint(shrinkB);
      kc->addIncoming(kc, shrinkB);
      ch->addIncoming(b.CreateLShr(b.CreateSub(end, kc), i64(1)), shrinkB);  // half of what failed
      b.CreateBr(head);
    }
    b.SetInsertPoint(clatch);
    // poll only between chunks: a loop shorter than a chunk never calls out
    auto* pollB = newBB("chunk.poll");
    b.CreateCondBr(b.CreateICmpULT(end, n), pollB, elseB, MDBuilder(m.C).createBranchWeights(1, 1 << 10));
    b.SetInsertPoint(pollB);
    checkSignals(s.line);
    Value* next = ch;
    if (adaptive) {  // (a counter that went backwards reads as a huge unsigned time: not cheap)
      Value* took = b.CreateSub(b.CreateIntrinsic(Intrinsic::readcyclecounter, {}, {}), cycles);
      Value* grown = b.CreateSelect(b.CreateICmpULT(ch, i64(CHMAX / 4)), b.CreateShl(ch, i64(2)), i64(CHMAX));
      next = b.CreateSelect(b.CreateICmpULT(took, ch), grown, i64(CH));
    }
    kc->addIncoming(end, b.GetInsertBlock());
    ch->addIncoming(next, b.GetInsertBlock());
    b.CreateBr(head);
  } else {
    countedLoop(s, start, step, from, n, elseB, exitB, true);
  }
}

// Outer loops and while loops: count iterations in a local, poll for Ctrl-C every 2**16.
void FnLowering::pollEvery(int line) {
  if (!pollCounter) {
    pollCounter = entryAlloca(b.getInt64Ty(), "poll.n");
    IRBuilder<> eb(pollCounter->getNextNode());
    eb.CreateStore(i64(0), pollCounter);
  }
  Value* c = b.CreateAdd(b.CreateLoad(b.getInt64Ty(), pollCounter), i64(1));
  b.CreateStore(c, pollCounter);
  auto* pollB = newBB("poll");
  auto* cont = newBB("poll.done");
  b.CreateCondBr(b.CreateICmpEQ(b.CreateAnd(c, i64((1 << 16) - 1)), i64(0)), pollB, cont,
                 MDBuilder(m.C).createBranchWeights(1, 1 << 16));
  b.SetInsertPoint(pollB);
  checkSignals(line);
  b.CreateBr(cont);
  b.SetInsertPoint(cont);
}

void FnLowering::whileLoop(const ir::Stmt& s) {
  std::vector<char> before = sure;
  whileBody(s);
  sure = std::move(before);
}

void FnLowering::whileBody(const ir::Stmt& s) {
  auto* head = newBB("while.head");
  auto* bodyB = newBB("while.body");
  auto* elseB = newBB("while.else");
  auto* exitB = newBB("while.end");
  b.CreateBr(head);
  b.SetInsertPoint(head);
  Value* c = truth(expr(*s.value), s.line);
  b.CreateCondBr(c, bodyB, elseB);
  auto* latch = newBB("while.latch");
  b.SetInsertPoint(bodyB);
  loops.push_back({exitB, latch});  // `continue` polls too
  std::vector<char> entry = sure;
  block(s.body);
  sure = std::move(entry);  // the else clause runs after the body ran 0 or more times
  loops.pop_back();
  b.CreateBr(latch);
  b.SetInsertPoint(latch);
  pollEvery(s.line);
  b.CreateBr(head);
  b.SetInsertPoint(elseB);
  block(s.orelse);
  b.CreateBr(exitB);
  b.SetInsertPoint(exitB);
}

}  // namespace epochpp::codegen
