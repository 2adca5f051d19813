// jit/codegen/nan_folder.h — codegen's IRBuilder folder: LLVM's ConstantFolder, except that a
// float operation on constants that would make a NaN from non-NaN operands (`math.inf - math.inf`)
// is left as an instruction. The folded NaN would be LLVM's (positive); left alone, the operation
// is guarded by jit/engine/nan_guard.cpp and ends up with the CPU's NaN (negative on x86-64).
#pragma once
#include <llvm/IR/ConstantFolder.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/IRBuilderFolder.h>

namespace epochpp::codegen {

class NaNKeepingFolder final : public llvm::IRBuilderFolder {
  llvm::ConstantFolder cf;

  static bool hasNaN(llvm::Value* v) {
    auto* c = llvm::dyn_cast<llvm::Constant>(v);
    if (!c || !c->getType()->isFPOrFPVectorTy()) return false;
    if (auto* fp = llvm::dyn_cast<llvm::ConstantFP>(c)) return fp->isNaN();
    auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(c->getType());
    if (!vt) return true;  // a scalable vector: assume the worst (not folded)
    for (unsigned i = 0; i < vt->getNumElements(); ++i) {
      auto* e = llvm::dyn_cast_or_null<llvm::ConstantFP>(c->getAggregateElement(i));
      if (!e || e->isNaN()) return true;  // undef/poison lanes too: leave it unfolded
    }
    return false;
  }
  // the folded value, unless it holds a NaN that neither operand had
  static llvm::Value* unlessNewNaN(llvm::Value* r, llvm::Value* a, llvm::Value* b) {
    if (r && hasNaN(r) && !hasNaN(a) && !hasNaN(b)) return nullptr;
    return r;
  }

 public:
  using V = llvm::Value;
  V* FoldBinOp(llvm::Instruction::BinaryOps op, V* a, V* b) const override {
    return unlessNewNaN(cf.FoldBinOp(op, a, b), a, b);
  }
  V* FoldExactBinOp(llvm::Instruction::BinaryOps op, V* a, V* b, bool exact) const override {
    return cf.FoldExactBinOp(op, a, b, exact);
  }
  V* FoldNoWrapBinOp(llvm::Instruction::BinaryOps op, V* a, V* b, bool nuw, bool nsw) const override {
    return cf.FoldNoWrapBinOp(op, a, b, nuw, nsw);
  }
  V* FoldBinOpFMF(llvm::Instruction::BinaryOps op, V* a, V* b, llvm::FastMathFlags fmf) const override {
    return unlessNewNaN(cf.FoldBinOpFMF(op, a, b, fmf), a, b);
  }
  V* FoldUnOpFMF(llvm::Instruction::UnaryOps op, V* v, llvm::FastMathFlags fmf) const override {
    return cf.FoldUnOpFMF(op, v, fmf);
  }
  V* FoldCmp(llvm::CmpInst::Predicate p, V* a, V* b) const override { return cf.FoldCmp(p, a, b); }
  V* FoldGEP(llvm::Type* ty, V* ptr, llvm::ArrayRef<V*> idx, llvm::GEPNoWrapFlags nw) const override {
    return cf.FoldGEP(ty, ptr, idx, nw);
  }
  V* FoldSelect(V* c, V* t, V* f) const override { return cf.FoldSelect(c, t, f); }
  V* FoldExtractValue(V* agg, llvm::ArrayRef<unsigned> idx) const override { return cf.FoldExtractValue(agg, idx); }
  V* FoldInsertValue(V* agg, V* v, llvm::ArrayRef<unsigned> idx) const override {
    return cf.FoldInsertValue(agg, v, idx);
  }
  V* FoldExtractElement(V* vec, V* idx) const override { return cf.FoldExtractElement(vec, idx); }
  V* FoldInsertElement(V* vec, V* elt, V* idx) const override { return cf.FoldInsertElement(vec, elt, idx); }
  V* FoldShuffleVector(V* a, V* b, llvm::ArrayRef<int> mask) const override {
    return cf.FoldShuffleVector(a, b, mask);
  }
  V* FoldCast(llvm::Instruction::CastOps op, V* v, llvm::Type* ty) const override { return cf.FoldCast(op, v, ty); }
  V* FoldBinaryIntrinsic(llvm::Intrinsic::ID id, V* a, V* b, llvm::Type* ty, llvm::Instruction* fmf) const override {
    return cf.FoldBinaryIntrinsic(id, a, b, ty, fmf);
  }
  V* CreatePointerCast(llvm::Constant* c, llvm::Type* ty) const override { return cf.CreatePointerCast(c, ty); }
  V* CreatePointerBitCastOrAddrSpaceCast(llvm::Constant* c, llvm::Type* ty) const override {
    return cf.CreatePointerBitCastOrAddrSpaceCast(c, ty);
  }
};

// The builder codegen lowers with (functions that take one take llvm::IRBuilderBase&).
using Builder = llvm::IRBuilder<NaNKeepingFolder>;

}  // namespace epochpp::codegen
