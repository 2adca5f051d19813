// jit/codegen/codegen_impl.h — the lowering state shared by the codegen files.
#pragma once
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include <functional>
#include <map>
#include <set>
#include <llvm/IR/MDBuilder.h>

#include "jit/codegen/codegen.h"
#include "jit/codegen/nan_folder.h"
#include "runtime/abi.h"

namespace epochpp::codegen {

using ir::Kind;
using ir::Type;

struct Fusion;

// The index of the module function that CallFunc `call` in function `fnIndex` lowers to.
int calleeTargetOf(const LoweringInput& in, int fnIndex, const ir::Expr& call);

// Adds the slots a block assigns (Assign, For, :=) to `out`.
void assignedInBlock(const ir::Block& b, std::set<int>& out);

// Bytes per element of an array of this element kind.
inline int itemSize(Kind k) { return k == Kind::NpBool ? 1 : (k == Kind::NpInt32 || k == Kind::NpFloat32) ? 4 : 8; }

struct Val {
  llvm::Value* v = nullptr;
  Type t;
};

struct ModuleLowering {
  llvm::LLVMContext& C;
  llvm::Module& M;
  const LoweringInput& in;
  std::vector<llvm::Function*> fns;
  // fns[i]'s copy without the recursion-depth check (nullptr if none): fns[i] calls it when the
  // parameter that bounds its recursion (recursion_bound.cpp) shows no nested call can reach the limit
  std::vector<llvm::Function*> freeFns;
  llvm::StructType* arrayTy = nullptr;
  llvm::StructType* unionTy = nullptr;
  bool gpu = false;  // lowering for NVPTX (Level 4 kernels): math from libdevice, no runtime calls

  ModuleLowering(llvm::LLVMContext& c, llvm::Module& m, const LoweringInput& i);
  llvm::Type* lower(const Type& t);            // register representation
  llvm::Type* scalarTy(Kind k);
  llvm::Type* memTy(Kind dtype);               // in-memory element type (bool is i8)
  llvm::FunctionType* fnType(const ir::Function& f);
  llvm::StructType* retType(const ir::Function& f);
  llvm::FunctionCallee rt(const std::string& name);  // runtime ABI functions by name
  void buildEntry(const ir::Function& f, llvm::Function* impl, const std::string& name);
};

struct FnLowering {
  ModuleLowering& m;
  const ir::Function& f;
  int index;
  llvm::Function* fn;
  Builder b;
  llvm::Value* ctx = nullptr;
  llvm::Value* depth = nullptr;  // recursion depth of this activation
  std::vector<llvm::Value*> slots, defined;  // where each local lives (allocas; shared pointers in outlined bodies)
  struct Loop { llvm::BasicBlock* brk; llvm::BasicBlock* cont; };
  std::vector<Loop> loops;

  FnLowering(ModuleLowering& mm, const ir::Function& ff, int idx);
  FnLowering(ModuleLowering& mm, const ir::Function& ff, int idx, llvm::Function* outlined);
  bool plainStatus = false;  // an outlined parallel body: returns only an i32 status
  bool depthFree = false;    // lowering m.freeFns[index]: no depth check, self-calls stay in the copy
  // a GPU kernel: a failing iteration ORs its status into *gpuStatus and goes on at gpuFail
  // (the block's threads must all reach the reduction's barriers)
  llvm::BasicBlock* gpuFail = nullptr;
  llvm::Value* gpuStatus = nullptr;
  void run();

  // --- helpers (codegen.cpp)
  llvm::LLVMContext& C() { return m.C; }
  llvm::Value* i64(int64_t v) { return b.getInt64(v); }
  llvm::Value* i32(int32_t v) { return b.getInt32(v); }
  // where an error is raised: the line and this function's index in the module (EP_LOC)
  llvm::Value* loc(int line) { return b.getInt32(EP_LOC(line, index)); }
  llvm::BasicBlock* newBB(const char* name) { return llvm::BasicBlock::Create(m.C, name, fn); }
  llvm::AllocaInst* entryAlloca(llvm::Type* t, const char* name);
  // Emits `if (cond) raise kind(msg)` at `line`, continuing in a fresh block.
  void raiseIf(llvm::Value* cond, int kind, const std::string& msg, int line);
  void raiseNow(int kind, const std::string& msg, int line);
  void retStatus(llvm::Value* status);  // return a non-OK status (result undefined)
  void deoptIf(llvm::Value* cond);
  void checkStatus(llvm::Value* status);  // propagate a callee's non-zero status
  llvm::Value* cstr(const std::string& s);

  // --- scalars (lower_expr.cpp)
  Val expr(const ir::Expr& e);
  Val constant(const ir::Expr& e);
  Val convert(Val x, Kind to, int line);          // value conversion between scalar kinds
  Val coerce(Val x, const Type& to, int line);    // into a (possibly union) type
  Val forEach(Val x, const Type& result, const std::function<Val(Val)>& body, int line);
  llvm::Value* truth(Val x, int line);
  Val unary(const ir::Expr& e, Val a);
  Val binary(ir::Op op, Val a, Val b, const Type& result, int line, bool rhs_nonneg);
  Val binaryScalar(ir::Op op, Val a, Val b, int line);
  Val pyIntOp(ir::Op op, llvm::Value* a, llvm::Value* b, int line);
  Val pyFloatOp(ir::Op op, llvm::Value* a, llvm::Value* b, int line);
  Val npOp(ir::Op op, Kind k, llvm::Value* a, llvm::Value* b, int line);
  Val compare(ir::Op op, Val a, Val b, int line);
  Val intrinsic(const ir::Expr& e);
  Val mathCall(const std::string& name, std::vector<Val> args, int line, uint8_t facts = 0);
  Val callFunc(const ir::Expr& e);
  Val leafOrCall(const ir::Expr& e, const std::vector<llvm::Value*>& args);
  Val roundIntNeg(llvm::Value* x, llvm::Value* nd, int line);
  llvm::Value* libm(const char* name, std::vector<llvm::Value*> args);
  llvm::Value* toDouble(Val x, int line);  // Python-exact (ints beyond 2**53 deopt)

  // --- arrays (lower_array.cpp)
  Val arrayExpr(const ir::Expr& e);                     // any Array-typed expression
  Val materialise(const ir::Expr& e, bool scratch);     // element-wise expression into a new array
  Val scratchAlloc(Kind dtype, const std::vector<llvm::Value*>& shape);
  std::vector<llvm::Value*> prepareFusion(Fusion& probe, const ir::Expr& e);  // leaves, broadcast: the shape
  Val fusedPairwiseSum(const ir::Expr& src, int line);  // np.sum of a 1-d float expression (lower_pairwise.cpp)
  Val indexExpr(const ir::Expr& e);
  llvm::Value* markDerived(llvm::Value* owner);                     // element load or view
  llvm::Value* elementPtr(Val arr, std::vector<llvm::Value*> idx);
  llvm::Value* normIndex(llvm::Value* i, llvm::Value* size, int axis, int line);
  Val load(Val arr, const std::vector<llvm::Value*>& idx);
  void storeElem(Val arr, const std::vector<llvm::Value*>& idx, Val v, int line);
  void storeRaw(Val arr, const std::vector<llvm::Value*>& idx, Val v);
  Val view(Val arr, const ir::Expr& e, size_t first_idx, const Type& result);
  llvm::Value* dim(Val arr, int d);
  llvm::Value* stride(Val arr, int d);
  Val alloc(Kind dtype, std::vector<llvm::Value*> shape, int order, int init, int line);
  Val arange(const ir::Expr& e);
  void elementwiseInto(Val dest, const ir::Expr& e, int line);
  void fusedLoops(Fusion& fu, Val dest, const std::vector<llvm::Value*>& shape, const ir::Expr& e, int line);
  void broadcastLeaves(Fusion& fu, const std::vector<llvm::Value*>& shape, int line);
  void assignInto(Val dest, const ir::Expr& value, int line);  // dest[...] = value (broadcast)
  void assignValue(Val dest, Val src, int line);
  Val itemValue(Kind dt, Val v, int line);
  Val reduce(const std::string& op, Val arr, const Type& result, int line);
  Val arrayIntrinsic(const ir::Expr& e);
  Val arrayScalarFunc(const std::string& n, Val a, Kind rk, int line);
  Val elementIntrinsic(const std::string& n, const std::vector<Val>& args, Kind rk, int line);
  void storeStmt(const ir::Stmt& s);
  // Visits every index of `shape` in C order (a loop nest); body gets the indices.
  void loopNest(const std::vector<llvm::Value*>& shape, const std::function<void(std::vector<llvm::Value*>&)>& body);

  // --- statements (lower_stmt.cpp)
  void block(const ir::Block& b);
  void stmt(const ir::Stmt& s);
  void assign(int slot, Val v, int line);
  Val readVar(int slot, int line);
  void forRange(const ir::Stmt& s);
  void forRangeBody(const ir::Stmt& s);
  void whileBody(const ir::Stmt& s);
  void checkSignals(int line);
  // Branches to a new loop header with a phi (`init` on entry) that goes to `body` while
  // cond(phi) holds, else to `exit`; leaves the builder in `body`. The caller adds the latch's
  // incoming value to the phi.
  llvm::PHINode* loopHeader(llvm::Value* init, const char* name, const std::function<llvm::Value*(llvm::Value*)>& cond,
                            llvm::BasicBlock* body, llvm::BasicBlock* exit);
  void countedLoop(const ir::Stmt& s, llvm::Value* start, llvm::Value* step, llvm::Value* from, llvm::Value* to,
                   llvm::BasicBlock* done, llvm::BasicBlock* exitB, bool pollEach);
  void checkedVersions(const ir::Stmt& s, llvm::Value* start, llvm::Value* step, llvm::Value* from, llvm::Value* to,
                       llvm::BasicBlock* elseB, llvm::BasicBlock* exitB);
  llvm::Value* hoistedInRange(const ir::Stmt& s, const ir::HoistedAccess& h, llvm::Value* lo, llvm::Value* hi);
  llvm::Value* invariantInt(const ir::Expr& e);
  void rangeLoops(const ir::Stmt& s, llvm::Value* start, llvm::Value* step, llvm::Value* from, llvm::Value* n, llvm::BasicBlock* elseB,
                  llvm::BasicBlock* exitB);
  void pollEvery(int line);
  // lower_ovf.cpp: true when none of loop s's ovf_ops can overflow int64 while the loop runs
  // k in [kc, end) (i = start + k*step), from the accumulators' and invariants' current values.
  llvm::Value* overflowFreeChunk(const ir::Stmt& s, llvm::Value* start, llvm::Value* step, llvm::Value* kc, llvm::Value* end);
  // Emits the loop over k in [from, to) twice when s has ovf_ops: without overflow checks when
  // overflowFreeChunk holds, else checked (emitLoop lowers the loop and branches away).
  // With shrinkB: a failed check goes there instead while canShrink holds (a grown chunk, retried smaller).
  void overflowVersions(const ir::Stmt& s, llvm::Value* start, llvm::Value* step, llvm::Value* from, llvm::Value* to,
                        const std::function<void()>& emitLoop, llvm::Value* canShrink = nullptr,
                        llvm::BasicBlock* shrinkB = nullptr);
  // SIMD lanes (lower_lanes.cpp): runs iterations k in [from, end) of loop s (i = start + k*step)
  // W at a time, the last few in a step with its last lanes off; returns the k from which the
  // scalar loop goes on to n (end, `from`, or the first iteration of a step that had to be sent
  // back to it). With lastScalar, end = n - 1: the loop's last iteration runs in the scalar loop,
  // which leaves CPython's values in the variables; else (a Level 3 chunk, whose variables die
  // with it, or a loop whose variables are dead after it) end = n.
  llvm::Value* laneLoop(const ir::Stmt& s, llvm::Value* start, llvm::Value* step, llvm::Value* from, llvm::Value* n,
                        bool lastScalar = true);
  // how many lanes the aligning step leaves off (0 to min(W, 8)-1), or nullptr when nothing is worth aligning
  llvm::Value* alignShift(const ir::Stmt& s, llvm::Value* start, llvm::Value* from, const std::set<int>& varying);
  // Level 3 (lower_parallel.cpp)
  llvm::Value* parallelProfitable(const ir::Stmt& s, llvm::Value* start, llvm::Value* step, llvm::Value* n);
  void byteSpan(Val a, llvm::Value*& lo, llvm::Value*& hi);
  llvm::Value* noSelfOverlap(Val a);  // true when no two elements of the array share a byte
  llvm::Value* sameView(Val a, Val c);  // same data, shape and strides
  // Emits the parallel run; on any failure it restores the arrays the loop wrote and branches
  // to `serialB` (the checked serial loop then raises exactly where CPython would).
  void parallelLoop(const ir::Stmt& s, llvm::Value* start, llvm::Value* step, llvm::Value* n, llvm::BasicBlock* serialB);
  void runOutlined(const ir::Stmt& s);
  void lastValue(const ir::Stmt& s, llvm::Value* start, llvm::Value* step, llvm::Value* n);
  const ir::Type& reductionType(const ir::Stmt& s, int slot);
  Val reductionIdentity(ir::Op op, const Type& slotT, const Type& valueT, int line);
  Val reductionCombine(ir::Op op, Val cur, Val part, const Type& slotT, int line);
  // Level 4 (lower_gpu.cpp: the kernel; lower_gpu_host.cpp: the launch from host code)
  void gpuKernel(const ir::Stmt& s);
  // Calls ep_rt_gpu_for; on success combines the blocks' partials and goes to okB, else to cpuB.
  void gpuAttempt(const ir::Stmt& s, const std::string& kernel, llvm::Value* vals, llvm::StructType* valsTy,
                  llvm::Value* n, llvm::Value* start, llvm::Value* step, llvm::BasicBlock* okB, llvm::BasicBlock* cpuB);
  std::set<int> sharedReads(const ir::Stmt& s);
  const Type& partialType(const ir::Stmt& s, int slot);  // a GPU thread's partial of reduction `slot`
  llvm::Value* toSlot(Val v);                        // a scalar as an 8-byte partial-result slot
  Val fromSlot(llvm::Value* bits, const Type& t);  // shared (not assigned in the loop) variables the loop reads
  llvm::AllocaInst* pollCounter = nullptr;
  // places that return a failure status (an exception, a deopt, a callee's failure), Ctrl-C
  // polls not counted; uncheckedFails: those in the last checkedVersions' unchecked version.
  // raiseSites / uncheckedRaises: the same without the deopt exits (EP_DEOPT)
  int failSites = 0;
  int raiseSites = 0;
  int uncheckedRaises = 0;
  // locals certainly bound at the point being lowered (definite assignment, followed statement by
  // statement: an If keeps what both branches bind, a loop what was bound before it); reading one
  // needs no UnboundLocalError check
  std::vector<char> sure;
  bool interruptOnly = false;
  int uncheckedFails = 0;
  std::set<const void*> proven;  // accesses / index arithmetic proven in range for the loop being emitted
  // Level 3 chunk: float `+` reductions of the parallel loop (their order is free there, see
  // docs/levels.md); a SIMD lane loop in the chunk keeps their terms in a vector per lane
  std::set<int> reassocAdd;
  void whileLoop(const ir::Stmt& s);
  void ret(Val v, int line);
  // Accumulating self tail calls (tail_calls.cpp marks them): the body starts at tailHead,
  // with the recursion depth and the running sum of the `x` parts as phis.
  int calleeTarget(const ir::Expr& call);  // the module function a CallFunc lowers to
  void enterDepthFree();  // fns[i]'s entry: go to the unchecked copy when the recursion bound allows
  bool selfTailCall(const ir::Stmt& s);    // a marked return whose call is this specialisation
  bool hasSelfTailCall(const ir::Block& blk);
  void tailJump(const ir::Stmt& s);
  llvm::BasicBlock* tailHead = nullptr;
  llvm::PHINode* tailDepth = nullptr;
  llvm::PHINode* tailAcc = nullptr;
};

}  // namespace epochpp::codegen
