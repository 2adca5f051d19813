// jit/codegen/lower_gpu.cpp — Level 4: every parallel loop lowered a second time, for NVPTX, as a
// kernel over a grid-stride range of iterations (the same statement lowering as the CPU's; the
// ABI is EpGpuLaunch in runtime/abi.h).
//
// A thread runs iterations k = global id, id + grid size, ...; variables the loop only reads come
// from the caller's block of values, the others are the thread's own. An iteration that raises
// or deopts ORs its status into the launch's status word and the thread stops iterating; the host
// then throws the GPU's results away and runs the loop on the CPU, which raises exactly.
// Reductions: each thread accumulates its iterations, the block combines its threads in shared
// memory as a tree, and block b's partial goes to partials[r * kGpuMaxBlocks + b]; the host
// combines the blocks in order (lower_gpu_host.cpp).
#include <llvm/IR/IntrinsicsNVPTX.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <cstddef>
#include <functional>

#include "jit/codegen/codegen_impl.h"
#include "runtime/abi.h"

namespace epochpp::codegen {

using namespace llvm;
using ir::ExprKind;
using ir::StmtKind;

static const int kGpuDepthLimit = 32;  // compiled recursion on a GPU thread (its stack is small)

static void findParallel(const ir::Block& blk, std::vector<const ir::Stmt*>& out) {
  for (auto& s : blk) {
    if (s->kind == StmtKind::For && s->parallel) {
      out.push_back(s.get());
      continue;  // loops inside a kernel run serially
    }
    findParallel(s->body, out);
    findParallel(s->orelse, out);
  }
}

static bool gpuScalar(const Type& t) {
  switch (t.kind) {
    case Kind::Int: case Kind::Float: case Kind::Bool: case Kind::NpInt64: case Kind::NpInt32:
    case Kind::NpFloat64: case Kind::NpFloat32: case Kind::NpBool:
      return true;
    default:
      return false;
  }
}

// A reduction the GPU can do: its partials have one scalar type (partialType), and the variable
// is that type or a union of types that convert to it without a check (s = 0.0; s += a[i] makes
// float|np.float64: the partials are np.float64).
static bool gpuReducible(const Type& slotT, const Type& valueT) {
  if (!gpuScalar(valueT)) return false;
  if (slotT.kind != Kind::Union) return gpuScalar(slotT);
  bool fl = valueT.kind == Kind::Float || valueT.kind == Kind::NpFloat64;
  bool in = valueT.kind == Kind::Int || valueT.kind == Kind::NpInt64;
  for (Kind k : ir::members(slotT)) {
    if (fl && k != Kind::Float && k != Kind::NpFloat64) return false;
    if (in && k != Kind::Int && k != Kind::NpInt64) return false;
  }
  return fl || in;
}

// A scalar as the 8 bytes of a partial-result slot, and back.
Value* FnLowering::toSlot(Val v) {
  llvm::Type* t = v.v->getType();
  if (t->isDoubleTy()) return b.CreateBitCast(v.v, b.getInt64Ty());
  if (t->isFloatTy()) return b.CreateZExt(b.CreateBitCast(v.v, b.getInt32Ty()), b.getInt64Ty());
  if (t->isIntegerTy(64)) return v.v;
  return b.CreateZExt(v.v, b.getInt64Ty());  // i1, i32: the low bits
}

Val FnLowering::fromSlot(Value* bits, const Type& t) {
  llvm::Type* lt = m.lower(t);
  if (lt->isDoubleTy()) return {b.CreateBitCast(bits, lt), t};
  if (lt->isFloatTy()) return {b.CreateBitCast(b.CreateTrunc(bits, b.getInt32Ty()), lt), t};
  if (lt->isIntegerTy(64)) return {bits, t};
  return {b.CreateTrunc(bits, lt), t};
}

// Shared (not assigned in the loop) variables the loop body reads.
std::set<int> FnLowering::sharedReads(const ir::Stmt& s) {
  std::set<int> priv, reads;
  assignedInBlock(s.body, priv);
  priv.insert(s.slot);
  ir::forEachExpr(s.body, [&](const ir::Expr& e) {
    if (e.kind == ExprKind::Var && !priv.count(e.slot)) reads.insert(e.slot);
  });
  return reads;
}

// The type of a reduction's per-thread partial: what each iteration assigns, or for
// s = max(s, e) / min(s, e) the item e (a partial only ever holds the identity or an item).
const Type& FnLowering::partialType(const ir::Stmt& s, int slot) {
  const ir::Expr* v = nullptr;
  std::function<void(const ir::Block&)> find = [&](const ir::Block& blk) {
    for (auto& st : blk) {
      if (st->kind == StmtKind::Assign && st->slot == slot) v = st->value.get();
      find(st->body);
      find(st->orelse);
    }
  };
  find(s.body);
  if (v->kind == ExprKind::Intrinsic && (v->name == "max" || v->name == "min")) return v->args[1]->type;
  return v->type;
}

// tree step: a is the earlier part, c the later one; integer overflow sets *ovf
static Value* gpuCombine(IRBuilderBase& b, ir::Op op, Value* a, Value* c, Kind k, Value** ovf) {
  using ir::Op;
  bool fp = a->getType()->isFloatingPointTy();
  bool isBool = k == Kind::Bool || k == Kind::NpBool;
  switch (op) {
    case Op::Gt: case Op::Lt: {  // max/min: the later part wins only when strictly better
      Value* better;
      if (fp) better = op == Op::Gt ? b.CreateFCmpOGT(c, a) : b.CreateFCmpOLT(c, a);
      else if (isBool) better = op == Op::Gt ? b.CreateICmpUGT(c, a) : b.CreateICmpULT(c, a);
      else better = op == Op::Gt ? b.CreateICmpSGT(c, a) : b.CreateICmpSLT(c, a);
      return b.CreateSelect(better, c, a);
    }
    case Op::Add: case Op::Mul: {
      if (fp) return op == Op::Add ? b.CreateFAdd(a, c) : b.CreateFMul(a, c);
      Value* r = b.CreateBinaryIntrinsic(op == Op::Add ? Intrinsic::sadd_with_overflow : Intrinsic::smul_with_overflow, a, c);
      *ovf = b.CreateOr(*ovf, b.CreateExtractValue(r, {1}));
      return b.CreateExtractValue(r, {0});
    }
    case Op::BitAnd: case Op::And: return b.CreateAnd(a, c);
    case Op::BitOr: case Op::Or: return b.CreateOr(a, c);
    default: return b.CreateXor(a, c);  // BitXor
  }
}

// The kernel: void (vals, n, start, step, partials, status).
void FnLowering::gpuKernel(const ir::Stmt& s) {
  b.SetInsertPoint(BasicBlock::Create(m.C, "entry", fn));
  Value* vals = fn->getArg(0);
  Value* n = fn->getArg(1);
  Value* start = fn->getArg(2);
  Value* step = fn->getArg(3);
  Value* partials = fn->getArg(4);
  gpuStatus = fn->getArg(5);
  // a context of the thread's own: callees read its recursion limit; raising only sets the status
  ctx = entryAlloca(ArrayType::get(b.getInt8Ty(), sizeof(EpCtx)), "ctx");
  b.CreateStore(i32(kGpuDepthLimit), b.CreateConstGEP1_64(b.getInt8Ty(), ctx, offsetof(EpCtx, depth_limit)));
  depth = i32(0);
  int L = (int)f.locals.size();
  std::vector<llvm::Type*> fields;
  for (auto& l : f.locals) fields.push_back(m.lower(l.type));
  auto* valsTy = StructType::get(m.C, fields);
  std::set<int> priv;
  assignedInBlock(s.body, priv);
  priv.insert(s.slot);
  std::set<int> red;
  for (auto& [slot, op] : s.reductions) red.insert(slot);
  for (int k = 0; k < L; ++k) {
    slots.push_back(entryAlloca(fields[k], f.locals[k].name.c_str()));
    defined.push_back(entryAlloca(b.getInt1Ty(), "def"));
    if (priv.count(k)) {
      b.CreateStore(b.getInt1(red.count(k) > 0), defined.back());
    } else {  // the host checked that the shared variables the loop reads are bound
      b.CreateStore(b.CreateLoad(fields[k], b.CreateStructGEP(valsTy, vals, k)), slots.back());
      b.CreateStore(b.getTrue(), defined.back());
    }
  }
  for (auto& [slot, op] : s.reductions)
    b.CreateStore(reductionIdentity(op, f.locals[slot].type, reductionType(s, slot), s.line).v, slots[slot]);

  auto sreg = [&](Intrinsic::ID id) { return b.CreateZExt(b.CreateIntrinsic(id, {}, {}), b.getInt64Ty()); };
  Value* tid = sreg(Intrinsic::nvvm_read_ptx_sreg_tid_x);
  Value* ntid = sreg(Intrinsic::nvvm_read_ptx_sreg_ntid_x);
  Value* ctaid = sreg(Intrinsic::nvvm_read_ptx_sreg_ctaid_x);
  Value* nctaid = sreg(Intrinsic::nvvm_read_ptx_sreg_nctaid_x);
  Value* first = b.CreateAdd(b.CreateMul(ctaid, ntid), tid);
  Value* stride = b.CreateMul(nctaid, ntid);

  auto* reduceB = newBB("block.reduce");
  gpuFail = reduceB;  // a failed iteration: the status is set, the thread stops and joins the barriers
  auto* bodyB = newBB("grid.body");
  auto* latch = newBB("grid.latch");
  PHINode* k = loopHeader(first, "k", [&](Value* v) { return b.CreateICmpULT(v, n); }, bodyB, reduceB);
  countedLoop(s, start, step, k, b.CreateAdd(k, i64(1)), latch, latch, false);  // one iteration
  b.SetInsertPoint(latch);
  k->addIncoming(b.CreateAdd(k, stride), latch);
  b.CreateBr(k->getParent());

  b.SetInsertPoint(reduceB);
  gpuFail = nullptr;
  int R = (int)s.reductions.size();
  if (R > 0) {
    // dynamic shared memory: R * blockDim 8-byte slots
    auto* smemTy = ArrayType::get(b.getInt64Ty(), 0);
    auto* smem = m.M.getNamedGlobal("ep_smem");
    if (!smem) {
      smem = new GlobalVariable(m.M, smemTy, false, GlobalValue::ExternalLinkage, nullptr, "ep_smem", nullptr,
                                GlobalValue::NotThreadLocal, 3);
      smem->setAlignment(Align(8));
    }
    auto at = [&](int r, Value* idx) { return b.CreateGEP(b.getInt64Ty(), smem, {b.CreateAdd(b.CreateMul(i64(r), ntid), idx)}); };
    for (int r = 0; r < R; ++r) {  // each thread's partial, as the type its iterations assign
      int slot = s.reductions[r].first;
      Kind vk = partialType(s, slot).kind;
      Val acc{b.CreateLoad(fields[slot], slots[slot]), f.locals[slot].type};
      if (acc.t.kind == Kind::Union)
        acc = forEach(acc, Type::scalar(vk), [&](Val x) { return convert(x, vk, s.line); }, s.line);
      b.CreateStore(toSlot(acc), at(r, tid));
    }
    auto barrier = [&] { b.CreateIntrinsic(Intrinsic::nvvm_barrier0, {}, {}); };
    barrier();
    // for (half = ntid / 2; half > 0; half /= 2) { if (tid < half) combine(tid, tid + half); barrier }
    auto* tb = newBB("tree.step");
    auto* tc = newBB("tree.combine");
    auto* tl = newBB("tree.latch");
    auto* te = newBB("tree.end");
    PHINode* half = loopHeader(b.CreateLShr(ntid, i64(1)), "half", [&](Value* v) { return b.CreateICmpUGT(v, i64(0)); },
                               tb, te);
    b.CreateCondBr(b.CreateICmpULT(tid, half), tc, tl);
    b.SetInsertPoint(tc);
    Value* ovf = b.getFalse();
    for (int r = 0; r < R; ++r) {
      int slot = s.reductions[r].first;
      const Type& t = partialType(s, slot);
      Value* a = fromSlot(b.CreateLoad(b.getInt64Ty(), at(r, tid)), t).v;
      Value* c = fromSlot(b.CreateLoad(b.getInt64Ty(), at(r, b.CreateAdd(tid, half))), t).v;
      b.CreateStore(toSlot({gpuCombine(b, s.reductions[r].second, a, c, t.kind, &ovf), t}), at(r, tid));
    }
    auto* ovfB = newBB("tree.overflow");
    b.CreateCondBr(ovf, ovfB, tl);
    b.SetInsertPoint(ovfB);  // an int64 partial overflowed: the CPU computes it exactly
    b.CreateAtomicRMW(AtomicRMWInst::Or, gpuStatus, i32(EP_DEOPT), MaybeAlign(4), AtomicOrdering::Monotonic);
    b.CreateBr(tl);
    b.SetInsertPoint(tl);
    barrier();
    half->addIncoming(b.CreateLShr(half, i64(1)), b.GetInsertBlock());
    b.CreateBr(half->getParent());
    b.SetInsertPoint(te);
    auto* writeB = newBB("block.write");
    auto* endB = newBB("block.end");
    b.CreateCondBr(b.CreateICmpEQ(tid, i64(0)), writeB, endB);
    b.SetInsertPoint(writeB);
    for (int r = 0; r < R; ++r)
      b.CreateStore(b.CreateLoad(b.getInt64Ty(), at(r, i64(0))),
                    b.CreateGEP(b.getInt64Ty(), partials, {b.CreateAdd(i64((int64_t)r * kGpuMaxBlocks), ctaid)}));
    b.CreateBr(endB);
    b.SetInsertPoint(endB);
  }
  b.CreateRetVoid();
}

// Device versions of the runtime calls a kernel may make: raising only returns (the status
// carries the failure), Ctrl-C is the host's business. Others have none: a kernel that still
// calls one after optimisation is not used (engine::emitPTX says which).
static void defineDeviceRuntime(ModuleLowering& m) {
  for (const char* name : {"ep_rt_raise", "ep_rt_raise_index", "ep_rt_raise_int_bounds", "ep_rt_check_signals"}) {
    llvm::Function* fn = m.M.getFunction(name);
    if (!fn || !fn->isDeclaration()) continue;
    fn->setLinkage(GlobalValue::InternalLinkage);
    IRBuilder<> b(BasicBlock::Create(m.C, "entry", fn));
    if (fn->getReturnType()->isVoidTy()) b.CreateRetVoid();
    else b.CreateRet(ConstantInt::get(fn->getReturnType(), 0));
  }
}

std::unique_ptr<Module> lowerKernels(LLVMContext& ctx, const LoweringInput& in, const std::string& prefix,
                                     std::vector<KernelInfo>& kernels) {
  auto mod = std::make_unique<Module>("epochpp.gpu." + in.functions[0]->name, ctx);
  mod->setTargetTriple("nvptx64-nvidia-cuda");
  mod->setDataLayout("e-i64:64-i128:128-v16:16-v32:32-n16:32:64");
  ModuleLowering m(ctx, *mod, in);
  m.gpu = true;
  for (size_t i = 0; i < in.functions.size(); ++i)
    m.fns.push_back(llvm::Function::Create(m.fnType(*in.functions[i]), GlobalValue::InternalLinkage,
                                           "ep." + in.functions[i]->name + "." + std::to_string(i), *mod));
  for (size_t i = 0; i < in.functions.size(); ++i) {
    FnLowering fl(m, *in.functions[i], (int)i);
    fl.run();
  }
  auto* ptr = PointerType::get(ctx, 0);
  auto* i64 = llvm::Type::getInt64Ty(ctx);
  auto* kt = FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, i64, i64, i64, ptr, ptr}, false);
  NamedMDNode* ann = mod->getOrInsertNamedMetadata("nvvm.annotations");
  for (size_t i = 0; i < in.functions.size(); ++i) {
    std::vector<const ir::Stmt*> loops;
    findParallel(in.functions[i]->body, loops);
    for (const ir::Stmt* s : loops) {
      KernelInfo k;
      k.function = (int)i;
      k.loop = s;
      k.line = s->line;
      k.name = prefix + "_k" + std::to_string(kernels.size());
      for (auto& [slot, op] : s->reductions) {
        FnLowering probe(m, *in.functions[i], (int)i);
        const Type& slotT = in.functions[i]->locals[slot].type;
        const Type& valueT = probe.partialType(*s, slot);
        if (!gpuReducible(slotT, valueT))
          k.problem = "reduces '" + in.functions[i]->locals[slot].name + "' (" + slotT.str() + ", assigned " +
                      valueT.str() + "), which has no GPU version";
      }
      if (k.problem.empty() && !in.data_layout.empty()) {  // the kernel reads the host's vals block
        std::vector<llvm::Type*> fields;
        for (auto& l : in.functions[i]->locals) fields.push_back(m.lower(l.type));
        auto* valsTy = StructType::get(ctx, fields);
        const StructLayout* dev = mod->getDataLayout().getStructLayout(valsTy);
        const StructLayout* host = DataLayout(in.data_layout).getStructLayout(valsTy);
        for (unsigned f = 0; f < fields.size(); ++f)
          if (dev->getElementOffset(f) != host->getElementOffset(f)) k.problem = "its variables are laid out differently on the GPU";
      }
      if (k.problem.empty()) {
        auto* kf = llvm::Function::Create(kt, GlobalValue::ExternalLinkage, k.name, *mod);
        FnLowering kl(m, *in.functions[i], (int)i, kf);
        kl.gpuKernel(*s);
        Metadata* md[] = {ValueAsMetadata::get(kf), MDString::get(ctx, "kernel"),
                          ConstantAsMetadata::get(ConstantInt::get(llvm::Type::getInt32Ty(ctx), 1))};
        ann->addOperand(MDNode::get(ctx, md));
      }
      kernels.push_back(k);
    }
  }
  defineDeviceRuntime(m);
  std::string err;
  raw_string_ostream os(err);
  if (verifyModule(*mod, &os))
    throw ir::Unsupported{in.functions[0]->first_line, "internal error: invalid NVPTX IR: " + os.str()};
  return mod;
}

}  // namespace epochpp::codegen
