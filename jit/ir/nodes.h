// jit/ir/nodes.h — the nodes of the one typed IR: structured statements over pure-ish expressions.
//
// The IR stays close to the Python AST (structured loops, no CFG) so that dependence analysis
// (Level 3) and kernel extraction (Level 4) see loops directly. Types are filled in by the
// type-inference pass; the frontend leaves them Unknown.
#pragma once
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "jit/ir/types.h"

namespace epochpp::ir {

enum class ExprKind : uint8_t {
  Const,      // ival/fval/bval per type; None
  Var,        // local slot `slot`
  Unary,      // op: Neg, Pos, Not, Invert
  Binary,     // op: Add .. RShift
  Compare,    // op: Lt .. Ne (two operands; chains are desugared)
  BoolOp,     // op: And, Or (two operands, returns an operand as Python does)
  IfExp,      // args: cond, then, else
  Intrinsic,  // name: "math.sqrt", "abs", "np.zeros", "array.sum", ... args
  CallFunc,   // name: callee's qualified name; callee: index into Module::callees; args
  Index,      // args[0]: array (or tuple); args[1..]: indices (scalars or Slice)
  Slice,      // args: start, stop, step (None consts where absent)
  Attr,       // name: shape | size | ndim | T ; args[0]: array
  TupleMake,  // args: elements
  TupleGet,   // args[0]: tuple; ival: constant index
  NamedExpr,  // slot := args[0]; value is args[0]
  RangeMake,  // args: start, stop, step (only as the iterable of For)
};

enum class Op : uint8_t {
  None,
  // unary
  Neg, Pos, Not, Invert,
  // binary
  Add, Sub, Mul, Div, FloorDiv, Mod, Pow, BitAnd, BitOr, BitXor, LShift, RShift, MatMul,
  // compare
  Lt, Le, Gt, Ge, Eq, Ne,
  // bool
  And, Or,
};

const char* opName(Op op);

struct Expr;
using ExprPtr = std::shared_ptr<Expr>;

struct Expr {
  ExprKind kind;
  Op op = Op::None;
  Type type;            // filled by type inference
  int line = 0;
  int col = 0;
  int slot = -1;        // Var, NamedExpr
  int callee = -1;      // CallFunc
  int64_t ival = 0;     // Const int/bool, TupleGet index, Intrinsic dtype= (ir::Kind, -1: none),
                        // Binary: 1 when in place (augmented assignment)
  double fval = 0.0;    // Const float
  std::string name;     // Intrinsic / CallFunc / Attr
  std::vector<ExprPtr> args;
  uint8_t facts = 0;    // ExprFact bits written by passes (part of the fingerprint)
};

// Facts a pass proved about one expression; codegen may emit cheaper code for it.
enum ExprFact : uint8_t {
  // int_signs.cpp: Binary `//` or `%` on Python ints whose left operand is >= 0 and right
  // operand >= 1 on every path: no ZeroDivisionError, no INT64_MIN // -1, no floor correction.
  kFactNonNegDivMod = 1,
  // float_signs.cpp: `math.sqrt(x)` whose argument is never negative (>= 0, -0.0, inf or NaN):
  // no domain-error check.
  kFactNonNegArg = 2,
};

// An element access inside a loop whose indices are affine in loop-invariant integers
// (written by the bounds-hoisting pass): index d is value(slot_d) + offset_d (slot -1: constant).
struct IndexTerm {
  int slot = -1;
  int64_t offset = 0;
  const Expr* arith = nullptr;  // the `v + c` / `v - c` node, if any (cannot overflow once proven)
  // set when the access was lifted out of the loop it is in (bounds_hoist.cpp): `slot` is the
  // variable of this inner `for` loop, whose range (invariant in the hoisting loop) codegen
  // evaluates at the hoisting loop's entry
  const struct Stmt* loop = nullptr;
};
struct HoistedAccess {
  const Expr* load = nullptr;   // an Index expression, or
  const struct Stmt* store = nullptr;  // a Store statement
  int base_slot = -1;           // the array (a local not assigned in the loop)
  std::vector<IndexTerm> dims;
};

// An int accumulator of an innermost `for` loop (written by the overflow-hoisting pass): in the loop,
// `slot` changes only by `slot = slot + inc` (or `- inc`), at most `updates` times an iteration.
struct OvfAccum {
  int slot = -1;
  int updates = 0;
  std::vector<std::pair<const struct Expr*, bool>> incs;  // (inc, subtracted)
};

enum class StmtKind : uint8_t {
  Assign,    // slot = value
  Store,     // target[indices] = value   (target: args[0], indices args[1..], value: `value`)
  ExprStmt,  // value
  If,        // cond: value; body; orelse
  For,       // slot in range(value=RangeMake); body; orelse
  While,     // cond: value; body; orelse
  Break,
  Continue,
  Return,    // value (None const for bare return)
  Pass,
};

struct Stmt;
using StmtPtr = std::shared_ptr<Stmt>;
using Block = std::vector<StmtPtr>;

struct Stmt {
  StmtKind kind;
  int line = 0;
  int slot = -1;               // Assign target, For induction variable
  ExprPtr value;               // Assign/ExprStmt/Return value; If/While cond; For range
  std::vector<ExprPtr> args;   // Store: target and indices
  Block body, orelse;
  // Facts written by passes.
  bool prange = false;         // For: written as epochpp.prange(...): the user asserts independent iterations
  bool parallel = false;       // For: iterations are independent (Level 3)
  std::vector<std::pair<int, Op>> reductions;  // For, parallel: (slot, Add Mul BitAnd BitOr BitXor And Or, Gt: max, Lt: min)
  std::vector<int> written_arrays, read_arrays;  // For, parallel: array locals (for the overlap check)
  int64_t work = 0;            // For, parallel: a static estimate of one iteration's cost
  std::vector<HoistedAccess> hoisted;  // For: accesses whose bounds are checked once, before the loop
  // For (innermost): Python-int `+ - *` nodes whose operands' ranges are known at each chunk's entry
  // (constants, the loop variable, values the loop does not change, accumulators), and the
  // accumulators: codegen checks once per chunk that none can overflow int64, then runs the chunk
  // without overflow checks.
  std::vector<const Expr*> ovf_ops;
  std::vector<OvfAccum> ovf_accums;
  std::vector<std::pair<int, const Expr*>> ovf_temps;  // (slot, its one value): assigned before any read
  // For (simd_lanes.cpp): codegen may run W iterations at a time in SIMD lanes; lane_reductions:
  // the loop's `s = s + e` reductions (int or float), applied lane by lane in iteration order
  bool lanes = false;
  std::vector<int> lane_reductions;
  // lanes_to_end: nothing the loop assigns (other than its reductions) is read after it, so the
  // lanes may also run its last iterations (else the last one runs in the scalar loop, to leave
  // CPython's values in its variables)
  bool lanes_to_end = false;
  bool tail_accumulate = false;  // Return of `x + f(args)`, f maybe this function (tail_calls.cpp)
};

struct Local {
  std::string name;
  Type type;
  bool is_param = false;
};

// A user function called from compiled code (resolved from the caller's globals).
struct CalleeRef {
  std::string name;        // the global name used at the call site
  void* pyfunc = nullptr;  // the Python function object (borrowed; guarded by the runtime)
  int function = -1;       // index into Module::functions once specialised
};

struct Function {
  std::string name;
  std::string file;
  int first_line = 0;
  std::vector<Local> locals;   // params first
  int num_params = 0;
  std::vector<Type> param_types;  // the specialisation's argument types (a param's local may widen to a union)
  Block body;
  Type return_type;            // join of all returns
  std::vector<CalleeRef> callees;
  bool writes_args = false;    // set by the effects pass: stores into memory it did not allocate
  bool may_deopt = false;      // set by the effects pass: has int64 paths that can overflow
  // set by recursion_bound.cpp: every call in the body is a self-call with parameter
  // `measure_slot` lowered by >= 1 and made only while it is >= measure_min (-1: none such)
  int measure_slot = -1;
  int64_t measure_min = 0;
  // and when the body starts with `if <measure> < leaf_below: return <param or constant>`:
  // that value (a call with such an argument is a leaf: it makes no call and cannot fail)
  const Expr* leaf_value = nullptr;
  int64_t leaf_below = 0;
  std::vector<std::string> notes;  // pass findings for explain(), e.g. why a prange loop runs serially
  int slotOf(const std::string& name) const;
  int addLocal(const std::string& name, bool is_param = false);
};

// Node constructors (the builder). Lines are carried so errors can name the user's line.
ExprPtr mkConstInt(int64_t v, int line = 0);
ExprPtr mkConstBool(bool v, int line = 0);
ExprPtr mkConstFloat(double v, int line = 0);
ExprPtr mkConstNone(int line = 0);
ExprPtr mkVar(int slot, int line = 0);
ExprPtr mkUnary(Op op, ExprPtr a, int line = 0);
ExprPtr mkBinary(Op op, ExprPtr a, ExprPtr b, int line = 0);
ExprPtr mkCompare(Op op, ExprPtr a, ExprPtr b, int line = 0);
ExprPtr mkBoolOp(Op op, ExprPtr a, ExprPtr b, int line = 0);
ExprPtr mkIfExp(ExprPtr c, ExprPtr t, ExprPtr e, int line = 0);
ExprPtr mkIntrinsic(const std::string& name, std::vector<ExprPtr> args, int line = 0);
ExprPtr mkCallFunc(int callee, const std::string& name, std::vector<ExprPtr> args, int line = 0);
ExprPtr mkIndex(ExprPtr base, std::vector<ExprPtr> idx, int line = 0);
ExprPtr mkSlice(ExprPtr start, ExprPtr stop, ExprPtr step, int line = 0);
ExprPtr mkAttr(const std::string& name, ExprPtr base, int line = 0);
ExprPtr mkTuple(std::vector<ExprPtr> elems, int line = 0);
ExprPtr mkTupleGet(ExprPtr t, int64_t i, int line = 0);
ExprPtr mkNamed(int slot, ExprPtr v, int line = 0);
ExprPtr mkRange(ExprPtr start, ExprPtr stop, ExprPtr step, int line = 0);

StmtPtr mkAssign(int slot, ExprPtr v, int line = 0);
StmtPtr mkStore(ExprPtr target, std::vector<ExprPtr> idx, ExprPtr v, int line = 0);
StmtPtr mkExprStmt(ExprPtr v, int line = 0);
StmtPtr mkIf(ExprPtr c, Block body, Block orelse, int line = 0);
StmtPtr mkFor(int slot, ExprPtr range, Block body, Block orelse, int line = 0);
StmtPtr mkWhile(ExprPtr c, Block body, Block orelse, int line = 0);
StmtPtr mkBreak(int line = 0);
StmtPtr mkContinue(int line = 0);
StmtPtr mkReturn(ExprPtr v, int line = 0);
StmtPtr mkPass(int line = 0);

// Printer (golden-text format) and verifier.
std::string print(const Function& f);
std::string print(const Expr& e, const Function& f);
// Everything codegen reads from the function (nodes, types, constants, pass facts), as text:
// equal fingerprints lower to the same code (the disk cache's key).
std::string fingerprint(const Function& f);
// Returns an empty string when the function is well formed, else what is wrong.
std::string verify(const Function& f, bool require_types);

// Calls f(e) on every expression in b: each statement's value and operands and their
// sub-expressions (a parent before its children), nested blocks included.
template <class F>
void forEachExpr(const Block& b, F&& f) {
  auto walk = [&](const Expr& e, auto& self) -> void {
    f(e);
    for (auto& a : e.args) self(*a, self);
  };
  for (auto& s : b) {
    if (s->value) walk(*s->value, walk);
    for (auto& a : s->args) walk(*a, walk);
    forEachExpr(s->body, f);
    forEachExpr(s->orelse, f);
  }
}

// Whether b holds a `for` or `while` loop (at any depth).
bool containsLoop(const Block& b);
// The slots b binds, nested blocks included: `slot = ...` targets into `assigned`, `for` targets into `forVars`.
void assignedSlots(const Block& b, std::set<int>& assigned, std::set<int>& forVars);

// An int constant, or minus one (the frontend keeps `-50` as a negation): its value in v.
bool intConstant(const Expr& e, int64_t& v);

// Thrown by any stage when the function cannot be compiled; the runtime turns it into a
// readable fallback reason naming the user's file and line.
struct Unsupported {
  int line;
  std::string what;
};

}  // namespace epochpp::ir
