// jit/codegen/lower_parallel.cpp — Level 3: a parallel `for` loop is outlined into a function over
// a chunk of iterations and run by ep_rt_parallel_for on the oneTBB workers.
//
// The outlined function sees the caller's locals through `env` (pointers to their slots):
// variables the loop only reads are shared, variables it assigns are private to the chunk,
// reductions get a chunk-local accumulator stored into env's partial buffers; the caller
// combines the partials in chunk order.
#include <llvm/IR/Intrinsics.h>

#include <algorithm>
#include <functional>
#include <set>

#include "jit/codegen/codegen_impl.h"
#include "runtime/abi.h"

namespace epochpp::codegen {

using namespace llvm;
using ir::ExprKind;
using ir::StmtKind;

static const int64_t kMaxChunks = 256;

void assignedInBlock(const ir::Block& b, std::set<int>& out) {
  std::function<void(const ir::Expr&)> ex = [&](const ir::Expr& e) {
    if (e.kind == ExprKind::NamedExpr) out.insert(e.slot);
    for (auto& a : e.args) ex(*a);
  };
  for (auto& s : b) {
    if (s->kind == StmtKind::Assign || s->kind == StmtKind::For) out.insert(s->slot);
    if (s->value) ex(*s->value);
    assignedInBlock(s->body, out);
    assignedInBlock(s->orelse, out);
  }
}

const Type& FnLowering::reductionType(const ir::Stmt& s, int slot) {
  const Type* t = nullptr;
  std::function<void(const ir::Block&)> find = [&](const ir::Block& b) {
    for (auto& st : b) {
      if (st->kind == StmtKind::Assign && st->slot == slot) t = &st->value->type;
      find(st->body);
      find(st->orelse);
    }
  };
  find(s.body);
  return *t;
}

// A chunk's reduction starts at the operator's identity, a value of the variable's type.
Val FnLowering::reductionIdentity(ir::Op op, const Type& slotT, const Type& valueT, int line) {
  using ir::Op;
  if (op == Op::Gt || op == Op::Lt) {
    // max/min: a value no item can lose to (ties keep the earlier item, so it never shows)
    std::vector<Kind> ms = ir::members(slotT);
    Kind pick = Kind::Unknown;
    for (Kind k : {Kind::Float, Kind::NpFloat64, Kind::NpFloat32})
      if (pick == Kind::Unknown && std::find(ms.begin(), ms.end(), k) != ms.end()) pick = k;
    for (Kind k : {Kind::Int, Kind::NpInt64, Kind::NpInt32})
      if (pick == Kind::Unknown && std::find(ms.begin(), ms.end(), k) != ms.end()) pick = k;
    Type t = Type::scalar(pick);
    llvm::Type* lt = m.lower(t);
    bool mx = op == Op::Gt;
    Value* v;
    if (lt->isFloatingPointTy()) v = ConstantFP::getInfinity(lt, mx);
    else if (pick == Kind::NpInt32) v = ConstantInt::get(lt, mx ? INT32_MIN : INT32_MAX, true);
    else v = ConstantInt::get(lt, mx ? INT64_MIN : INT64_MAX, true);
    return coerce({v, t}, slotT, line);
  }
  llvm::Type* ty = m.lower(valueT);
  Value* v;
  if (op == Op::Add || op == Op::Mul)
    v = ty->isFloatingPointTy() ? ConstantFP::get(ty, op == Op::Add ? -0.0 : 1.0)  // x + -0.0 == x
                                : ConstantInt::get(ty, op == Op::Add ? 0 : 1);
  else if (op == Op::BitAnd || op == Op::And)
    v = ConstantInt::getAllOnesValue(ty);  // -1 / True
  else
    v = ConstantInt::get(ty, 0);  // | ^ or: 0 / False
  return coerce({v, valueT}, slotT, line);
}

// cur OP partial, in that order (the serial loop's order across chunks).
Val FnLowering::reductionCombine(ir::Op op, Val cur, Val part, const Type& slotT, int line) {
  using ir::Op;
  if (op == Op::Gt || op == Op::Lt) {
    Val better = forEach(part, Type::scalar(Kind::Bool), [&](Val x) {
      return forEach(cur, Type::scalar(Kind::Bool), [&](Val y) {
        return Val{truth(compare(op, x, y, line), line), Type::scalar(Kind::Bool)};
      }, line);
    }, line);
    return {b.CreateSelect(better.v, part.v, cur.v), slotT};
  }
  if (op == Op::And) return {b.CreateAnd(cur.v, part.v), slotT};
  if (op == Op::Or) return {b.CreateOr(cur.v, part.v), slotT};
  return coerce(binary(op, cur, part, slotT, line, false), slotT, line);
}

// [lo, hi): exactly the bytes an array's elements occupy (addresses as integers).
void FnLowering::byteSpan(Val a, Value*& lo, Value*& hi) {
  Value* base = b.CreatePtrToInt(b.CreateExtractValue(a.v, {0}), b.getInt64Ty());
  lo = hi = base;
  for (int d = 0; d < a.t.ndim; ++d) {
    Value* ext = b.CreateMul(b.CreateSub(dim(a, d), i64(1)), stride(a, d));
    Value* neg = b.CreateICmpSLT(ext, i64(0));
    lo = b.CreateAdd(lo, b.CreateSelect(neg, ext, i64(0)));
    hi = b.CreateAdd(hi, b.CreateSelect(neg, i64(0), ext));
  }
  hi = b.CreateAdd(hi, i64(itemSize(a.t.dtype)));
}

// No two elements share a byte: with the axes ordered by |stride|, each stride spans at least
// the whole extent of the smaller ones plus an item (mixed-radix addresses are then distinct).
// Views made with as_strided can break this (a zero stride: every index is the same element).
Value* FnLowering::noSelfOverlap(Val a) {
  int nd = a.t.ndim;
  std::vector<Value*> big(nd), mag(nd), ext(nd);
  for (int d = 0; d < nd; ++d) {
    Value* s = stride(a, d);
    big[d] = b.CreateICmpSGT(dim(a, d), i64(1));
    mag[d] = b.CreateSelect(b.CreateICmpSLT(s, i64(0)), b.CreateNeg(s), s);
    ext[d] = b.CreateMul(mag[d], b.CreateSub(dim(a, d), i64(1)));
  }
  Value* ok = b.getTrue();
  for (int k = 0; k < nd; ++k) {
    Value* need = i64(itemSize(a.t.dtype));
    for (int j = 0; j < nd; ++j) {
      if (j == k) continue;
      Value* inner = b.CreateICmpULT(mag[j], mag[k]);
      if (j < k) inner = b.CreateOr(inner, b.CreateICmpEQ(mag[j], mag[k]));
      need = b.CreateAdd(need, b.CreateSelect(b.CreateAnd(big[j], inner), ext[j], i64(0)));
    }
    ok = b.CreateAnd(ok, b.CreateOr(b.CreateNot(big[k]), b.CreateICmpUGE(mag[k], need)));
  }
  return ok;
}

Value* FnLowering::sameView(Val a, Val c) {
  if (a.t.ndim != c.t.ndim) return b.getFalse();
  Value* same = b.CreateICmpEQ(b.CreateExtractValue(a.v, {0}), b.CreateExtractValue(c.v, {0}));
  for (int d = 0; d < a.t.ndim; ++d) {
    same = b.CreateAnd(same, b.CreateICmpEQ(dim(a, d), dim(c, d)));
    same = b.CreateAnd(same, b.CreateICmpEQ(stride(a, d), stride(c, d)));
  }
  return same;
}

Value* FnLowering::parallelProfitable(const ir::Stmt& s, Value* start, Value* step, Value* n) {
  Value* work = b.CreateMul(n, i64(std::max<int64_t>(1, s.work)));
  Value* ok = b.CreateAnd(b.CreateICmpSGE(n, i64(2)), b.CreateICmpSGE(work, i64(m.in.parallel_min_work)));
  // a reduction variable must be bound before the loop (else the first iteration raises)
  for (auto& [slot, op] : s.reductions) ok = b.CreateAnd(ok, b.CreateLoad(b.getInt1Ty(), defined[slot]));
  if (s.prange) return ok;  // epochpp.prange: the user vouches for independence; no overlap checks
  if (!s.written_arrays.empty()) {
    // a[i] with i < 0 counts from the end: a range that crosses 0 could reach one element twice
    Value* last = b.CreateAdd(start, b.CreateMul(b.CreateSub(n, i64(1)), step));
    Value* sameSign = b.CreateICmpEQ(b.CreateICmpSLT(start, i64(0)), b.CreateICmpSLT(last, i64(0)));
    ok = b.CreateAnd(ok, sameSign);
  }
  // written arrays may not overlap arrays read elsewhere, nor each other unless identical views
  auto range = [&](int slot, Value*& lo, Value*& hi) {
    byteSpan({b.CreateLoad(m.arrayTy, slots[slot]), f.locals[slot].type}, lo, hi);
  };
  auto disjoint = [&](int x, int y) {
    Value *l1, *h1, *l2, *h2;
    range(x, l1, h1);
    range(y, l2, h2);
    return b.CreateOr(b.CreateICmpULE(h1, l2), b.CreateICmpULE(h2, l1));
  };
  for (int w : s.written_arrays) {
    Val a{b.CreateLoad(m.arrayTy, slots[w]), f.locals[w].type};
    // iterations write distinct elements only if the array does not overlap itself (C and F
    // contiguous arrays never do; an as_strided view may)
    if (a.t.layout == ir::Layout::A) ok = b.CreateAnd(ok, noSelfOverlap(a));
    for (int r : s.read_arrays) ok = b.CreateAnd(ok, disjoint(w, r));
    for (int w2 : s.written_arrays)
      if (w2 > w) {
        Val c{b.CreateLoad(m.arrayTy, slots[w2]), f.locals[w2].type};
        ok = b.CreateAnd(ok, b.CreateOr(disjoint(w, w2), sameView(a, c)));  // x[i] and y[i]: one element
      }
  }
  return ok;
}

void FnLowering::parallelLoop(const ir::Stmt& s, Value* start, Value* step, Value* n, BasicBlock* serialB) {
  int L = (int)f.locals.size();
  int R = (int)s.reductions.size();
  auto* ptrTy = b.getPtrTy();
  auto* envTy = ArrayType::get(ptrTy, 2 * L + 2 + R);
  Value* env = entryAlloca(envTy, "par.env");
  auto envAt = [&](int k) { return b.CreateConstGEP2_64(envTy, env, 0, k); };
  // the locals' current values go to a separate buffer: the slots themselves never escape
  // (an escaping alloca would keep LLVM from holding that local in a register anywhere)
  std::vector<llvm::Type*> fields;
  for (auto& l : f.locals) fields.push_back(m.lower(l.type));
  auto* valsTy = StructType::get(m.C, fields);
  auto* defsTy = ArrayType::get(b.getInt1Ty(), L);
  Value* vals = entryAlloca(valsTy, "par.vals");
  Value* defs = entryAlloca(defsTy, "par.defined");
  for (int k = 0; k < L; ++k) {
    Value* vp = b.CreateStructGEP(valsTy, vals, k);
    Value* dp = b.CreateConstGEP2_64(defsTy, defs, 0, k);
    b.CreateStore(b.CreateLoad(fields[k], slots[k]), vp);
    b.CreateStore(b.CreateLoad(b.getInt1Ty(), defined[k]), dp);
    b.CreateStore(vp, envAt(2 * k));
    b.CreateStore(dp, envAt(2 * k + 1));
  }
  // Level 4: a loop with a GPU kernel tries the GPU first (it declines when there is none or
  // the work is too small: then the CPU run below)
  auto* finishB = newBB("par.finish");
  auto kernel = m.in.gpu_kernels.find(&s);
  if (kernel != m.in.gpu_kernels.end()) {
    auto* cpuB = newBB("par.cpu");
    gpuAttempt(s, kernel->second, vals, valsTy, n, start, step, finishB, cpuB);
    b.SetInsertPoint(cpuB);
  }
  Value* startA = entryAlloca(b.getInt64Ty(), "par.start");
  Value* stepA = entryAlloca(b.getInt64Ty(), "par.step");
  b.CreateStore(start, startA);
  b.CreateStore(step, stepA);
  b.CreateStore(startA, envAt(2 * L));
  b.CreateStore(stepA, envAt(2 * L + 1));
  std::vector<Value*> bufs;
  for (int r = 0; r < R; ++r) {
    int slot = s.reductions[r].first;
    Value* buf = entryAlloca(ArrayType::get(m.lower(f.locals[slot].type), kMaxChunks), "par.partials");
    b.CreateStore(buf, envAt(2 * L + 2 + r));
    bufs.push_back(buf);
  }
  Value* nchunks = b.CreateSelect(b.CreateICmpSLT(n, i64(kMaxChunks)), n, i64(kMaxChunks));
  Value* align = i64(1);
  if (s.lanes && !m.gpu && m.in.simd_lanes >= 2) {
    // chunks of whole lane steps (they start at multiples of W; a chunk's iterations after its
    // whole steps run in one step with its last lanes off), at most one chunk per step, the
    // last, partial step counted: with n / W chunks, n % W != 0 made the last chunk two steps
    // and the guided loop's last piece twice the others (nbody 600 / 16: 37 chunks for 38
    // steps, the two threads ending 18 us apart on average in a 175 us call, now 5 us)
    align = i64(m.in.simd_lanes);
    Value* W = i64(m.in.simd_lanes);
    Value* most = b.CreateAdd(b.CreateUDiv(n, W), b.CreateZExt(b.CreateICmpNE(b.CreateURem(n, W), i64(0)), b.getInt64Ty()));
    most = b.CreateSelect(b.CreateICmpULT(most, i64(1)), i64(1), most);
    nchunks = b.CreateSelect(b.CreateICmpULT(most, nchunks), most, nchunks);
  }
  // outline the body
  auto* ft = FunctionType::get(b.getInt32Ty(), {ptrTy, b.getInt32Ty(), ptrTy, b.getInt64Ty(), b.getInt64Ty(), b.getInt64Ty()},
                               false);
  auto* outlined = llvm::Function::Create(ft, GlobalValue::InternalLinkage, "ep.par." + f.name, m.M);
  bool noFail = false, deoptOnly = false;
  {
    FnLowering sub(m, f, index, outlined);
    sub.plainStatus = true;
    sub.proven = proven;  // an enclosing loop's check covers the chunk too
    // (a union-typed one, float|np.float64, adds through a tag switch: neither lanes nor LLVM
    // can reorder it, so only plain floats)
    for (auto& [slot, op] : s.reductions)
      if (op == ir::Op::Add && f.locals[slot].type.kind == Kind::Float) sub.reassocAdd.insert(slot);
    sub.runOutlined(s);
    noFail = sub.uncheckedFails == 0;
    // Only deopt exits (an int overflow): a chunk that takes one makes the whole call deopt, and
    // the interpreter runs it again from the start on the arguments as they were (the runtime
    // copies written array arguments before every call of a function that may deopt).
    deoptOnly = !noFail && sub.uncheckedRaises == 0 && f.may_deopt;
  }
  // what the loop may overwrite (the runtime keeps it aside and restores it on failure)
  int W = (int)s.written_arrays.size();
  auto* writtenTy = StructType::get(m.C, {m.arrayTy, b.getInt32Ty(), b.getInt32Ty()});  // EpWritten
  Value* written = entryAlloca(ArrayType::get(writtenTy, std::max(W, 1)), "par.written");
  for (int j = 0; j < W; ++j) {
    int w = s.written_arrays[j];
    const Type& t = f.locals[w].type;
    Value* e = b.CreateConstGEP2_64(ArrayType::get(writtenTy, std::max(W, 1)), written, 0, j);
    b.CreateStore(b.CreateLoad(m.arrayTy, slots[w]), b.CreateStructGEP(writtenTy, e, 0));
    b.CreateStore(i32(t.ndim), b.CreateStructGEP(writtenTy, e, 1));
    b.CreateStore(i32(itemSize(t.dtype)), b.CreateStructGEP(writtenTy, e, 2));
  }
  // Nothing needs keeping when no chunk can fail but for Ctrl-C (the chunk's unchecked version
  // has no failure site: no exception, deopt or call that can fail, failSites), or can only
  // deopt (deoptOnly), and every chunk will take that version, i.e. the hoisted bounds checks
  // pass over the whole loop.
  Value* keep = i32(1);
  if (noFail || deoptOnly) {
    Value* first = start;
    Value* last = b.CreateAdd(start, b.CreateMul(b.CreateSub(n, i64(1)), step));
    Value* lo = b.CreateSelect(b.CreateICmpSLT(first, last), first, last);
    Value* hi = b.CreateSelect(b.CreateICmpSLT(first, last), last, first);
    Value* ok = b.getTrue();
    for (auto& h : s.hoisted)
      if (!proven.count(h.load ? (const void*)h.load : (const void*)h.store)) ok = b.CreateAnd(ok, hoistedInRange(s, h, lo, hi));
    keep = b.CreateSelect(ok, i32(0), i32(1));
  }
  // rows: without prange every write is a[i, ...], so each chunk can keep just its own rows;
  // merge: without reductions, chunks that run one after another on a thread are one call
  int flags = (s.prange ? 0 : EP_PAR_ROWS) | (R == 0 ? EP_PAR_MERGE : 0);
  Value* status = b.CreateCall(m.rt("ep_rt_parallel_for"),
                               {ctx, n, nchunks, align, outlined, env, written, i32(W), start, step, i32(flags), keep});
  auto* okB = newBB("par.ok");
  auto* failB = newBB("par.failed");
  b.CreateCondBr(b.CreateICmpEQ(status, i32(EP_OK)), okB, failB);
  b.SetInsertPoint(failB);
  if (deoptOnly) {  // nothing kept: no chunk could raise, so the call deopts
    auto* deoptB = newBB("par.deopt");
    auto* otherB = newBB("par.other");
    b.CreateCondBr(b.CreateAnd(b.CreateICmpEQ(status, i32(EP_DEOPT)), b.CreateICmpEQ(keep, i32(0))), deoptB, otherB);
    b.SetInsertPoint(deoptB);
    retStatus(i32(EP_DEOPT));
    b.SetInsertPoint(otherB);
  }
  checkStatus(b.CreateSelect(b.CreateICmpEQ(status, i32(EP_DEOPT)), i32(EP_OK), status));  // Ctrl-C propagates
  b.CreateBr(serialB);  // arrays restored: the serial loop redoes it and fails exactly where CPython does
  b.SetInsertPoint(okB);
  // combine the partial results in chunk order (reproducible for any thread count)
  for (int r = 0; r < R; ++r) {
    int slot = s.reductions[r].first;
    ir::Op op = s.reductions[r].second;
    const Type& slotT = f.locals[slot].type;
    loopNest({nchunks}, [&](std::vector<Value*>& idx) {
      Val cur{b.CreateLoad(m.lower(slotT), slots[slot]), slotT};
      Value* p = b.CreateLoad(m.lower(slotT), b.CreateGEP(ArrayType::get(m.lower(slotT), kMaxChunks), bufs[r], {i64(0), idx[0]}));
      b.CreateStore(reductionCombine(op, cur, {p, slotT}, slotT, s.line).v, slots[slot]);
    });
  }
  b.CreateBr(finishB);
  b.SetInsertPoint(finishB);
  lastValue(s, start, step, n);
}

// Like the serial loop, the loop variable ends at its last value.
void FnLowering::lastValue(const ir::Stmt& s, Value* start, Value* step, Value* n) {
  auto* setB = newBB("par.lastvalue");
  auto* doneB = newBB("par.done");
  b.CreateCondBr(b.CreateICmpSGT(n, i64(0)), setB, doneB);
  b.SetInsertPoint(setB);
  assign(s.slot, {b.CreateAdd(start, b.CreateMul(b.CreateSub(n, i64(1)), step)), Type::scalar(Kind::Int)}, s.line);
  b.CreateBr(doneB);
  b.SetInsertPoint(doneB);
}

// The outlined chunk function: i32 (ctx, depth, env, kbegin, kend, chunk).
void FnLowering::runOutlined(const ir::Stmt& s) {
  b.SetInsertPoint(BasicBlock::Create(m.C, "entry", fn));
  ctx = fn->getArg(0);
  depth = fn->getArg(1);
  Value* env = fn->getArg(2);
  Value* kb = fn->getArg(3);
  Value* ke = fn->getArg(4);
  Value* chunk = fn->getArg(5);
  int L = (int)f.locals.size();
  auto* ptrTy = b.getPtrTy();
  auto* envTy = ArrayType::get(ptrTy, 2 * L + 2 + (int)s.reductions.size());
  auto envLoad = [&](int k) { return b.CreateLoad(ptrTy, b.CreateConstGEP2_64(envTy, env, 0, k)); };
  std::set<int> priv;
  assignedInBlock(s.body, priv);
  priv.insert(s.slot);
  std::set<int> red;
  for (auto& [slot, op] : s.reductions) red.insert(slot);
  for (int k = 0; k < L; ++k) {
    if (priv.count(k)) {
      slots.push_back(entryAlloca(m.lower(f.locals[k].type), f.locals[k].name.c_str()));
      defined.push_back(entryAlloca(b.getInt1Ty(), "def"));
      b.CreateStore(b.getInt1(red.count(k) > 0), defined.back());
      sure.push_back(red.count(k) > 0);
    } else {
      slots.push_back(nullptr);
      defined.push_back(nullptr);
      sure.push_back(0);
    }
  }
  // shared variables are read-only in the loop: copy them in, so they live in registers
  // (through the caller's pointers LLVM would reload them after every array store)
  for (int k = 0; k < L; ++k)
    if (!priv.count(k)) {
      llvm::Type* t = m.lower(f.locals[k].type);
      slots[k] = entryAlloca(t, f.locals[k].name.c_str());
      defined[k] = entryAlloca(b.getInt1Ty(), "def");
      b.CreateStore(b.CreateLoad(t, envLoad(2 * k)), slots[k]);
      b.CreateStore(b.CreateLoad(b.getInt1Ty(), envLoad(2 * k + 1)), defined[k]);
    }
  // Every shared variable the loop reads must be bound: checked once here instead of at each
  // read (LLVM cannot see through env that they are). An unbound one fails the chunk, and the
  // serial loop raises UnboundLocalError exactly where CPython does.
  {
    std::set<int> readSlots = sharedReads(s);
    Value* bound = b.getTrue();
    for (int k = 0; k < L; ++k)
      if (readSlots.count(k)) {
        bound = b.CreateAnd(bound, b.CreateLoad(b.getInt1Ty(), defined[k]));
        b.CreateStore(b.getTrue(), defined[k]);
        sure[k] = 1;  // past this check
      }
    auto* unboundB = newBB("chunk.unbound");
    auto* boundB = newBB("chunk.bound");
    b.CreateCondBr(bound, boundB, unboundB);
    b.SetInsertPoint(unboundB);
    b.CreateRet(i32(EP_DEOPT));
    b.SetInsertPoint(boundB);
  }
  for (auto& [slot, op] : s.reductions) {
    const Type& slotT = f.locals[slot].type;
    Val id = reductionIdentity(op, slotT, reductionType(s, slot), s.line);
    if (slotT.kind == Kind::Union && op != ir::Op::Gt && op != ir::Op::Lt) {
      // The identity takes the kind the variable holds before the loop, so a chunk that never
      // updates it changes neither its value nor its type (s = 0.0 stays a float when no
      // iteration adds an np.float64 to it, as in CPython).
      Val fixed = id;
      Val before{b.CreateLoad(m.lower(slotT), envLoad(2 * slot)), slotT};
      id = forEach(before, slotT, [&](Val v) {
        return v.t.kind == Kind::None ? fixed : reductionIdentity(op, slotT, v.t, s.line);
      }, s.line);
    }
    b.CreateStore(id.v, slots[slot]);
  }
  Value* start = b.CreateLoad(b.getInt64Ty(), envLoad(2 * L));
  // a constant step (range(a, b) has step 1) is the constant here too, as in the serial loop: read
  // from the environment, LLVM would see a stride it does not know and vectorise a simple loop with
  // gathers and scatters (a saxpy chunk ran 3x slower than Level 2's loop on one core)
  const ir::Expr& stepE = *s.value->args[2];
  Value* step = stepE.kind == ir::ExprKind::Const ? i64(stepE.ival) : b.CreateLoad(b.getInt64Ty(), envLoad(2 * L + 1));
  // Ctrl-C: every chunk looks before it starts (chunks are short: 1/256 of the loop)
  checkSignals(s.line);
  auto* exitB = newBB("chunk.end");
  // 0 <= kb <= ke <= n: no wrap. As the serial loop: an innermost loop in strips of 2**16 iterations
  // (Ctrl-C looked at between strips; a strip's int arithmetic checked once when its ranges are known)
  // accesses whose ranges are known here (bounds_hoist.cpp): checked once for the chunk
  // a loop that also runs in SIMD lanes (lower_lanes.cpp) does so in each chunk
  // (the chunk's variables die with it: its last iteration need not be scalar)
  Value* from = s.lanes && !m.gpu && m.in.simd_lanes >= 2 ? laneLoop(s, start, step, kb, ke, false) : kb;
  checkedVersions(s, start, step, from, ke, exitB, exitB);
  b.SetInsertPoint(exitB);
  int r = 0;
  for (auto& [slot, op] : s.reductions) {
    const Type& slotT = f.locals[slot].type;
    Value* buf = envLoad(2 * L + 2 + r++);
    Value* dst = b.CreateGEP(ArrayType::get(m.lower(slotT), kMaxChunks), buf, {i64(0), chunk});
    b.CreateStore(b.CreateLoad(m.lower(slotT), slots[slot]), dst);
  }
  b.CreateRet(i32(EP_OK));
}

}  // namespace epochpp::codegen
