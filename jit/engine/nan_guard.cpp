// jit/engine/nan_guard.cpp — NaNs that LLVM folds at compile time get the sign the CPU would give them.
//
// IEEE 754 leaves the sign and payload of a NaN made from non-NaN operands to the machine. x86-64
// gives the "default NaN" 0xFFF8000000000000 (negative); LLVM's constant folder (APFloat) gives
// 0x7FF8000000000000 (positive), and folds `math.copysign(1.0, inf - inf)` to 1.0 where CPython
// on x86-64 returns -1.0. Found by the differential fuzzer (program 2211011969: `p -= p` then
// `p / p` with p an np.int32, folded to 0.0 / 0.0). See nan_guard.h for the guard.
#include "jit/engine/nan_guard.h"

#include <llvm/ADT/APFloat.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include <cstring>
#include <vector>

namespace epochpp::engine {

using namespace llvm;

namespace {

// The bits of the NaN this CPU makes from non-NaN operands (0.0 / 0.0), for F = double or float.
template <class F, class Bits>
Bits hostDefaultNaN() {
  volatile F zero = 0;  // volatile: the C++ compiler must not fold 0.0 / 0.0 either
  F nan = zero / zero;
  Bits bits;
  static_assert(sizeof bits == sizeof nan);
  std::memcpy(&bits, &nan, sizeof bits);
  return bits;
}

// What is known of an operand without looking further than the operand itself.
struct Facts {
  bool finite = false;   // never inf or NaN
  bool nonzero = false;  // never 0.0 or -0.0 (and finite)
  bool nan = false;      // a NaN constant: the operation returns it (or the other NaN)
};

// The value of a float constant, or of every lane of a splat vector constant; else null.
const APFloat* constantValue(Value* v) {
  auto* c = dyn_cast<Constant>(v);
  if (!c) return nullptr;
  auto* fp = dyn_cast_or_null<ConstantFP>(c->getType()->isVectorTy() ? c->getSplatValue() : c);
  return fp ? &fp->getValueAPF() : nullptr;
}

Facts factsOf(Value* v) {
  Facts f;
  if (isa<Constant>(v)) {
    if (const APFloat* x = constantValue(v)) {
      f.finite = x->isFinite();
      f.nonzero = x->isFinite() && !x->isZero();
      f.nan = x->isNaN();
    }
    return f;
  }
  if (auto* cast = dyn_cast<CastInst>(v))  // an int of up to 64 bits as a float: finite
    if ((cast->getOpcode() == Instruction::SIToFP || cast->getOpcode() == Instruction::UIToFP) &&
        cast->getSrcTy()->getScalarSizeInBits() <= 64)
      f.finite = true;
  return f;
}

// Can `a op b` be a NaN when neither a nor b is one? (0/0, inf/inf, 0*inf, inf-inf, x%0, inf%y)
bool canMakeNaN(unsigned op, const Facts& a, const Facts& b) {
  if (a.nan || b.nan) return false;  // a NaN operand comes out as it is: nothing to fix
  switch (op) {
    case Instruction::FAdd:
    case Instruction::FSub:
      return !a.finite && !b.finite;
    case Instruction::FMul:
      return (!a.nonzero && !b.finite) || (!a.finite && !b.nonzero);
    case Instruction::FDiv:
      return (!a.nonzero && !b.nonzero) || (!a.finite && !b.finite);
    case Instruction::FRem:
      return !b.nonzero || !a.finite;
    default:
      return false;
  }
}

struct Site {
  Instruction* inst;
  Value* a;
  Value* b;  // the same as a for a one-operand operation (sqrt)
};

}  // namespace

int guardFoldedNaNs(Module& m) {
  static const uint64_t nan64 = hostDefaultNaN<double, uint64_t>();  // once per process
  static const uint32_t nan32 = hostDefaultNaN<float, uint32_t>();
  // the same as what LLVM folds 0.0 / 0.0 to?
  static const bool same64 = APFloat::getQNaN(APFloat::IEEEdouble()).bitcastToAPInt().getZExtValue() == nan64;
  static const bool same32 = APFloat::getQNaN(APFloat::IEEEsingle()).bitcastToAPInt().getZExtValue() == nan32;
  if (same64 && same32) return 0;

  std::vector<Site> sites;
  for (Function& fn : m)
    for (BasicBlock& bb : fn)
      for (Instruction& i : bb) {
        Type* st = i.getType()->getScalarType();
        if (!((st->isDoubleTy() && !same64) || (st->isFloatTy() && !same32))) continue;
        if (auto* bo = dyn_cast<BinaryOperator>(&i)) {
          if (canMakeNaN(bo->getOpcode(), factsOf(bo->getOperand(0)), factsOf(bo->getOperand(1))))
            sites.push_back({&i, bo->getOperand(0), bo->getOperand(1)});
        } else if (auto* call = dyn_cast<IntrinsicInst>(&i)) {
          if (call->getIntrinsicID() != Intrinsic::sqrt) continue;
          Value* x = call->getArgOperand(0);
          const APFloat* c = constantValue(x);
          if (c && (!c->isNegative() || c->isNaN())) continue;  // sqrt of a constant >= 0 or NaN: no new NaN
          sites.push_back({&i, x, x});
        }
      }

  for (const Site& s : sites) {
    Instruction* r = s.inst;
    Type* ty = r->getType();
    const bool dbl = ty->getScalarType()->isDoubleTy();
    APFloat hostNaN = dbl ? APFloat(APFloat::IEEEdouble(), APInt(64, nan64)) : APFloat(APFloat::IEEEsingle(), APInt(32, nan32));
    IRBuilder<> b(r->getNextNode());
    Function* isConst = Intrinsic::getDeclaration(&m, Intrinsic::is_constant, {ty});
    Value* folded = b.CreateCall(isConst, {r});
    Value* isNaN = b.CreateFCmpUNO(r, r);
    Value* made = b.CreateAnd(isNaN, b.CreateFCmpORD(s.a, s.b));  // a NaN from non-NaN operands
    Value* fixed = b.CreateSelect(made, ConstantFP::get(ty, hostNaN), r);
    Value* guarded = b.CreateSelect(folded, fixed, r);
    // Once llvm.is.constant is false, `guarded` folds to r and the rest is dead: DCE at the
    // vectoriser's start (optimise() in engine.cpp) removes it, since a dead user of a
    // reduction's `s + x` would keep the loop vectoriser from taking the reduction.
    std::vector<Value*> mine{folded, isNaN, fixed, guarded};
    r->replaceUsesWithIf(guarded, [&mine](Use& u) {
      for (Value* v : mine)
        if (u.getUser() == v) return false;
      return true;
    });
  }
  return (int)sites.size();
}

}  // namespace epochpp::engine
