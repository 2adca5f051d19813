// jit/codegen/lower_pairwise.cpp — np.sum of a 1-d float element-wise expression without a
// temporary array: each element is computed where NumPy's pairwise summation adds it.
//
// NumPy sums a contiguous float array (the temporary np.sqrt(np.abs(x)) would be) with
// pairwise_sum (numpy/_core/src/umath/loops_utils.h.src), mirrored by runtime/rt_array.cpp:
//   n < 8:     r = 0; r += x[i] in order
//   n <= 128:  8 partial sums r[j] = x[j], r[j] += x[i + j] over whole blocks of 8,
//              res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the tail in order
//   else:      n2 = n / 2 rounded down to a multiple of 8; sum(x[:n2]) + sum(x[n2:])
// add.reduce then adds that to the identity: 0.0 + sum (only -0.0 changes).
// The same additions in the same order give the same bits (no fast-math, no contraction);
// the recursion becomes a loop over an explicit stack of pending right halves.
#include "jit/codegen/codegen_impl.h"
#include "jit/codegen/fusion.h"

namespace epochpp::codegen {

using namespace llvm;

namespace {
constexpr int kStackDepth = 64;  // halving from 2**63 reaches 128 in 56 steps
}

Val FnLowering::fusedPairwiseSum(const ir::Expr& src, int line) {
  Kind dt = src.type.dtype;
  llvm::Type* T = m.memTy(dt);
  Fusion fu{*this, 1, {}, {}};
  std::vector<Value*> shape = prepareFusion(fu, src);
  Value* n = shape[0];
  // every array leaf unit-stride: typed addressing (the 8 partial sums become one vector)
  Value* contig = b.getTrue();
  for (auto& l : fu.leaves)
    if (l.v.t.isArray()) {
      Value* s = l.strides[0] ? l.strides[0] : i64(0);
      contig = b.CreateAnd(contig, b.CreateICmpEQ(s, i64(itemSize(l.v.t.dtype))));
    }

  auto elemAt = [&](Value* i) -> Value* {
    std::vector<Value*> idx{i};
    return convert(fu.elem(src, idx), dt, line).v;
  };
  // for (i = from; i < to; i += step) with loop-carried values; body(i, vals) -> next vals
  auto loop = [&](Value* from, Value* to, int64_t step, std::vector<Value*> init,
                  const std::function<std::vector<Value*>(Value*, const std::vector<Value*>&)>& body) {
    BasicBlock* pre = b.GetInsertBlock();
    auto* head = newBB("pw.head");
    auto* bodyB = newBB("pw.body");
    auto* exitB = newBB("pw.end");
    b.CreateBr(head);
    b.SetInsertPoint(head);
    PHINode* i = b.CreatePHI(b.getInt64Ty(), 2);
    i->addIncoming(from, pre);
    std::vector<PHINode*> phis;
    std::vector<Value*> cur;
    for (auto* v : init) {
      phis.push_back(b.CreatePHI(v->getType(), 2));
      phis.back()->addIncoming(v, pre);
      cur.push_back(phis.back());
    }
    b.CreateCondBr(b.CreateICmpSLT(i, to), bodyB, exitB);
    b.SetInsertPoint(bodyB);
    std::vector<Value*> next = body(i, cur);
    BasicBlock* latch = b.GetInsertBlock();
    i->addIncoming(b.CreateAdd(i, i64(step), "", true, true), latch);
    for (size_t k = 0; k < phis.size(); ++k) phis[k]->addIncoming(next[k], latch);
    b.CreateBr(head);
    b.SetInsertPoint(exitB);
    return cur;  // the phis: the values when the loop ends
  };
  // if (cond) a() else c(), the value of the branch taken
  auto either = [&](Value* cond, const char* name, const std::function<Value*()>& a, const std::function<Value*()>& c) {
    auto* aB = newBB(name);
    auto* cB = newBB(name);
    auto* done = newBB(name);
    b.CreateCondBr(cond, aB, cB);
    b.SetInsertPoint(aB);
    Value* va = a();
    BasicBlock* aEnd = b.GetInsertBlock();
    b.CreateBr(done);
    b.SetInsertPoint(cB);
    Value* vc = c();
    BasicBlock* cEnd = b.GetInsertBlock();
    b.CreateBr(done);
    b.SetInsertPoint(done);
    PHINode* r = b.CreatePHI(T, 2);
    r->addIncoming(va, aEnd);
    r->addIncoming(vc, cEnd);
    return (Value*)r;
  };
  // One leaf block [lo, lo + len), len <= 128, in one addressing version.
  auto shortLeaf = [&](Value* lo, Value* len) -> Value* {  // fewer than 8: added in order from 0.0
    Value* zero = ConstantFP::get(T, 0.0);
    return loop(i64(0), len, 1, {zero}, [&](Value* i, const std::vector<Value*>& acc) {
      return std::vector<Value*>{b.CreateFAdd(acc[0], elemAt(b.CreateAdd(lo, i, "", true, true)))};
    })[0];
  };
  auto blockLeaf = [&](Value* lo, Value* len) -> Value* {
    // the 8 partial sums as one <8 x T> value: its lanes are added exactly as NumPy's r[0..7]
    // are, and the SLP vectoriser turns the 8 element computations into vector code
    auto* VT = FixedVectorType::get(T, 8);
    auto eight = [&](Value* base) {
      Value* v = PoisonValue::get(VT);
      for (int j = 0; j < 8; ++j) v = b.CreateInsertElement(v, elemAt(b.CreateAdd(base, i64(j), "", true, true)), j);
      return v;
    };
    Value* whole = b.CreateAnd(len, i64(~int64_t(7)));
    Value* acc = loop(i64(8), whole, 8, {eight(lo)}, [&](Value* i, const std::vector<Value*>& a) {
      return std::vector<Value*>{b.CreateFAdd(a[0], eight(b.CreateAdd(lo, i, "", true, true)))};
    })[0];
    std::vector<Value*> r;
    for (int j = 0; j < 8; ++j) r.push_back(b.CreateExtractElement(acc, j));
    Value* res = b.CreateFAdd(b.CreateFAdd(b.CreateFAdd(r[0], r[1]), b.CreateFAdd(r[2], r[3])),
                              b.CreateFAdd(b.CreateFAdd(r[4], r[5]), b.CreateFAdd(r[6], r[7])));
    return loop(whole, len, 1, {res}, [&](Value* i, const std::vector<Value*>& acc) {
      return std::vector<Value*>{b.CreateFAdd(acc[0], elemAt(b.CreateAdd(lo, i, "", true, true)))};
    })[0];
  };
  auto leafVersion = [&](Value* lo, Value* len) {
    return either(b.CreateICmpSLT(len, i64(8)), "pw.leaf", [&] { return shortLeaf(lo, len); },
                  [&] { return blockLeaf(lo, len); });
  };
  auto leaf = [&](Value* lo, Value* len) {  // unit stride (typed addressing, vectorises) or any stride
    return either(contig, "pw.version", [&] { fu.contigInner = true; return leafVersion(lo, len); },
                  [&] { fu.contigInner = false; return leafVersion(lo, len); });
  };

  // The recursion as a loop: `descend` splits [lo, lo + len) down to its leftmost leaf,
  // pushing the right halves; `ascend` hands a finished sum to the innermost pending split
  // (left half done: go down its right half; right half done: add, pop, hand on).
  auto* stackTy = ArrayType::get(b.getInt64Ty(), kStackDepth);
  Value* stLo = entryAlloca(stackTy, "pw.lo");
  Value* stLen = entryAlloca(stackTy, "pw.len");
  Value* stLeft = entryAlloca(ArrayType::get(T, kStackDepth), "pw.left");
  Value* stState = entryAlloca(ArrayType::get(b.getInt8Ty(), kStackDepth), "pw.state");
  auto slot = [&](Value* arr, llvm::Type* at, Value* k) { return b.CreateInBoundsGEP(at, arr, {i64(0), k}); };
  auto* descendB = newBB("pw.descend");
  auto* splitB = newBB("pw.split");
  auto* leafB = newBB("pw.leafsum");
  auto* ascendB = newBB("pw.ascend");
  auto* upB = newBB("pw.up");
  auto* rightB = newBB("pw.right");
  auto* addB = newBB("pw.add");
  auto* doneB = newBB("pw.done");
  BasicBlock* entry = b.GetInsertBlock();
  b.CreateBr(descendB);

  b.SetInsertPoint(descendB);
  PHINode* lo = b.CreatePHI(b.getInt64Ty(), 3, "pw.lo");
  PHINode* len = b.CreatePHI(b.getInt64Ty(), 3, "pw.len");
  PHINode* sp = b.CreatePHI(b.getInt64Ty(), 3, "pw.sp");
  lo->addIncoming(i64(0), entry);
  len->addIncoming(n, entry);
  sp->addIncoming(i64(0), entry);
  b.CreateCondBr(b.CreateICmpSGT(len, i64(128)), splitB, leafB);

  b.SetInsertPoint(splitB);
  Value* n2 = b.CreateAnd(b.CreateLShr(len, i64(1)), i64(~int64_t(7)));
  b.CreateStore(b.CreateAdd(lo, n2, "", true, true), slot(stLo, stackTy, sp));
  b.CreateStore(b.CreateSub(len, n2, "", true, true), slot(stLen, stackTy, sp));
  b.CreateStore(b.getInt8(0), slot(stState, ArrayType::get(b.getInt8Ty(), kStackDepth), sp));
  Value* sp1 = b.CreateAdd(sp, i64(1), "", true, true);
  lo->addIncoming(lo, splitB);
  len->addIncoming(n2, splitB);
  sp->addIncoming(sp1, splitB);
  b.CreateBr(descendB);

  b.SetInsertPoint(leafB);
  Value* leafSum = leaf(lo, len);
  BasicBlock* leafEnd = b.GetInsertBlock();
  b.CreateBr(ascendB);

  b.SetInsertPoint(ascendB);
  PHINode* r = b.CreatePHI(T, 2, "pw.r");
  PHINode* asp = b.CreatePHI(b.getInt64Ty(), 2, "pw.asp");
  r->addIncoming(leafSum, leafEnd);
  asp->addIncoming(sp, leafEnd);
  b.CreateCondBr(b.CreateICmpEQ(asp, i64(0)), doneB, upB);

  b.SetInsertPoint(upB);
  Value* top = b.CreateSub(asp, i64(1), "", true, true);
  Value* stPtr = slot(stState, ArrayType::get(b.getInt8Ty(), kStackDepth), top);
  Value* leftPtr = slot(stLeft, ArrayType::get(T, kStackDepth), top);
  b.CreateCondBr(b.CreateICmpEQ(b.CreateLoad(b.getInt8Ty(), stPtr), b.getInt8(0)), rightB, addB);

  b.SetInsertPoint(rightB);  // the left half's sum is r: keep it, go down the right half
  b.CreateStore(r, leftPtr);
  b.CreateStore(b.getInt8(1), stPtr);
  lo->addIncoming(b.CreateLoad(b.getInt64Ty(), slot(stLo, stackTy, top)), rightB);
  len->addIncoming(b.CreateLoad(b.getInt64Ty(), slot(stLen, stackTy, top)), rightB);
  sp->addIncoming(asp, rightB);
  b.CreateBr(descendB);

  b.SetInsertPoint(addB);  // r is the right half's sum
  Value* sum = b.CreateFAdd(b.CreateLoad(T, leftPtr), r);
  r->addIncoming(sum, addB);
  asp->addIncoming(top, addB);
  b.CreateBr(ascendB);

  b.SetInsertPoint(doneB);
  // the reduction starts from the identity 0.0 (a sum of -0.0s is 0.0, as in NumPy)
  return {b.CreateFAdd(ConstantFP::get(T, 0.0), r), Type::scalar(dt)};
}

}  // namespace epochpp::codegen
