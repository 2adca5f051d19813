// jit/engine/nan_guard.h — NaNs that LLVM folds at compile time get the sign the CPU would give them.
#pragma once

namespace llvm {
class Module;
}

namespace epochpp::engine {

// LLVM folds `fsub inf, inf` (and the other invalid operations) to a positive NaN, whatever
// the CPU. On x86-64 the CPU gives a negative one, so a folded `math.inf - math.inf`, or
// `math.copysign(1.0, x / x)` where x is known to be 0 at compile time, would differ from
// CPython's. Each floating-point operation that can make a NaN from non-NaN operands gets a
// guard: `is.constant(r) ? (r is NaN && operands are not ? host NaN : r) : r`. When LLVM folds
// r, the guard gives the host's NaN; otherwise llvm.is.constant becomes false in the O1-O3
// pipeline (LowerConstantIntrinsics, before the vectorisers) and the guard folds away; the
// caller runs DCE after that (engine.cpp: optimise). Until then a guard may hold back a few
// loop transformations (is.constant is convergent); the bench kernels kept their speed.
// The CPU's NaN is read once at run time: 0xFFF8000000000000 (negative) on x86-64,
// 0x7FF8000000000000 on AArch64, and the same for float32. Does nothing where LLVM's folded
// NaN is already the host's. Returns the guards added.
int guardFoldedNaNs(llvm::Module& m);

}  // namespace epochpp::engine
