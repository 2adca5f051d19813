// jit/passes/passes.h — every pass over the IR, declared in one place. Each returns whether it changed anything.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "jit/ir/nodes.h"

namespace epochpp::passes {

// Resolves the signature of a callee for given argument types (specialising it if needed)
// and returns its return type; throws ir::Unsupported if the callee cannot be compiled.
using CalleeTyper = std::function<ir::Type(int callee, const std::vector<ir::Type>& args, int line)>;

// type_inference.cpp: assigns a type to every local and expression from the parameter types.
bool inferTypes(ir::Function& f, const std::vector<ir::Type>& params, const CalleeTyper& callees);
// array_loops.cpp (Levels 3, 4): `c = <element-wise expression of 1-d float64 arrays>` becomes an
// explicit loop over a fresh np.empty array (the fused expression kept for other shapes), so
// the loop can run on all cores or be offloaded. True when it rewrote something (the function is then typed again).
bool loopArrayExpressions(ir::Function& f);

// bounds_hoist.cpp: finds array accesses in `for` loops whose indices are affine in the loop
// variable and loop-invariant integers, so codegen can check their bounds once before the loop
// (running a fully checked copy of the loop when the check fails: errors stay exact).
bool hoistBoundsChecks(ir::Function& f);
// float_signs.cpp: marks math.sqrt calls whose argument is never negative (kFactNonNegArg)
bool inferFloatSigns(ir::Function& f);

// overflow_hoist.cpp: in innermost `for` loops, finds the int `+ - *` whose operand ranges are
// known at each chunk's entry (constants, the loop variable, values the loop does not change,
// `v = v + inc` accumulators), so codegen can check once per chunk that none overflows.
bool hoistOverflowChecks(ir::Function& f);

// parallel_loops.cpp (Level 3): marks the outermost `for` loops whose iterations are
// independent — writes only at [i, ...] of the loop variable i, scalars private to an
// iteration or reductions, no early exits, no allocation — for oneTBB. `callee(c, args)` gives
// the compiled callee c for those argument types (nullptr while unknown, e.g. in recursion):
// calls may pass arrays when it writes no memory it did not allocate, and its body counts in
// the loop's cost estimate.
using CalleeLookup = std::function<const ir::Function*(int callee, const std::vector<ir::Type>& args)>;
bool markParallelLoops(ir::Function& f, const CalleeLookup& callee = {});
// The same independence rules for one loop, without Level 3's cost decisions, except that the
// loop variable may index any one dimension of an array (the same one at each access, the other
// indices unchanged by the loop): true when the iterations of `for` loop s are independent;
// `reductions` gets its reductions.
bool independentIterations(ir::Function& f, const ir::Stmt& s, std::vector<std::pair<int, ir::Op>>& reductions,
                           std::string& why);

// simd_lanes.cpp (all levels): marks `for` loops with independent iterations whose body holds
// a loop (what LLVM's vectoriser leaves alone: mandelbrot's pixels, a matmul's columns) and uses
// only what codegen can run several iterations of side by side in SIMD lanes (Stmt::lanes).
bool markLaneLoops(ir::Function& f);

// effects.cpp: which functions write memory they did not allocate, and which may deopt. A call
// counts with its compiled callee's own facts when `callee` knows it, else as writing and deopting.
bool analyseEffects(ir::Function& f, const CalleeLookup& callee = {});

// int_signs.cpp: proves int locals >= 0 / >= 1 (a fixed point over their assignments) and marks
// `a // b`, `a % b` with a >= 0 and b >= 1 (kFactNonNegDivMod): one machine division, no checks.
bool inferIntSigns(ir::Function& f);

// tail_calls.cpp: marks `return x + f(args)` (ints, outside loops) where f may be this function:
// codegen turns such a call of the same specialisation into a jump with a running sum.
bool markTailCalls(ir::Function& f);

// recursion_bound.cpp: finds an int parameter that every self-call lowers by >= 1 and that is
// >= a constant wherever a call is made (fib's `if n < 2: return n`): the recursion depth below
// a call is then bounded by the parameter, and codegen checks the limit once, not per call.
bool boundRecursion(ir::Function& f);

// pipeline.cpp: runs the passes in order (verifier after each in debug builds).
struct PipelineOptions {
  bool verify = true;
  int level = 2;  // 3 and up: parallel loops
  CalleeLookup callee;  // the compiled callees, for parallel loops that call them
};
void runPipeline(ir::Function& f, const std::vector<ir::Type>& params, const CalleeTyper& callees,
                 const PipelineOptions& opts = {});

// promotion.cpp — the arithmetic rules shared by type inference and codegen.
// Result kind of `a op b` on scalar kinds, or Kind::Unknown if Python/NumPy would raise TypeError.
// `rhs_nonneg_const` tells `**` that the exponent is a known non-negative int constant.
ir::Type binaryResult(ir::Op op, ir::Kind a, ir::Kind b, bool rhs_nonneg_const);
// Kind in which the operation is computed (e.g. int ** int computed in Int; np.int32 + int in NpInt32).
bool usesNumpyRules(ir::Kind a, ir::Kind b);
ir::Kind numpyPromote(ir::Kind a, ir::Kind b);          // both NumPy kinds
ir::Kind numpyWeak(ir::Kind np, ir::Kind py);           // NumPy kind with a Python scalar (NEP 50)
ir::Kind toNumpyKind(ir::Kind py);                      // Bool->NpBool, Int->NpInt64, Float->NpFloat64
ir::Kind arrayResultDtype(ir::Op op, ir::Kind a, ir::Kind b);  // dtype of an element-wise op
ir::Kind unaryFloatFuncKind(ir::Kind k);                // np.sqrt etc.: NpFloat32 stays, else NpFloat64

// Walkers shared by the fixed-point passes (int_signs.cpp, float_signs.cpp).
// Every binding of a local in b, in program order, nested blocks included: f(slot, value, stmt)
// with value the assigned expression (an Assign's, a `:=`'s) or nullptr for a `for` target.
template <class F>
void forEachBinding(const ir::Block& b, F&& f) {
  std::function<void(const ir::Expr&, const ir::Stmt&)> inExpr = [&](const ir::Expr& e, const ir::Stmt& s) {
    for (auto& a : e.args) inExpr(*a, s);
    if (e.kind == ir::ExprKind::NamedExpr) f(e.slot, e.args[0].get(), s);
  };
  for (auto& s : b) {
    if (s->value) inExpr(*s->value, *s);
    for (auto& a : s->args) inExpr(*a, *s);
    if (s->kind == ir::StmtKind::Assign) f(s->slot, s->value.get(), *s);
    if (s->kind == ir::StmtKind::For) f(s->slot, nullptr, *s);
    forEachBinding(s->body, f);
    forEachBinding(s->orelse, f);
  }
}

// Sets a pass's fact bit `bit` on exactly the expressions of b where has(e) holds (children
// first); returns whether any expression's facts changed.
template <class P>
bool setFact(ir::Block& b, uint8_t bit, P&& has) {
  std::function<bool(ir::Expr&)> mark = [&](ir::Expr& e) {
    bool changed = false;
    for (auto& a : e.args) changed |= mark(*a);
    uint8_t old = e.facts;
    e.facts = (uint8_t)((e.facts & ~bit) | (has(e) ? bit : 0));
    return changed || old != e.facts;
  };
  bool changed = false;
  for (auto& s : b) {
    if (s->value) changed |= mark(*s->value);
    for (auto& a : s->args) changed |= mark(*a);
    changed |= setFact(s->body, bit, has);
    changed |= setFact(s->orelse, bit, has);
  }
  return changed;
}

}  // namespace epochpp::passes
