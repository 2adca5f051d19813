// jit/codegen/codegen.cpp — module-level lowering: types, function shells, error exits, the C-ABI entry.
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <llvm/Support/raw_ostream.h>

#include <cstddef>

#include "jit/codegen/codegen_impl.h"
#include "runtime/abi.h"

namespace epochpp::codegen {

using namespace llvm;

int slotCount(const Type& t) {
  switch (t.kind) {
    case Kind::Union: return 2;
    case Kind::Array: return 8;
    case Kind::Tuple: {
      int n = 0;
      for (auto& e : t.elems) n += slotCount(e);
      return n;
    }
    default: return 1;
  }
}

ModuleLowering::ModuleLowering(LLVMContext& c, Module& mod, const LoweringInput& i) : C(c), M(mod), in(i) {
  auto* i64 = llvm::Type::getInt64Ty(C);
  auto* ptr = PointerType::get(C, 0);
  arrayTy = StructType::create(C, {ptr, ArrayType::get(i64, 3), ArrayType::get(i64, 3), ptr}, "EpArray");
  unionTy = StructType::create(C, {llvm::Type::getInt8Ty(C), i64}, "EpUnion");
}

llvm::Type* ModuleLowering::scalarTy(Kind k) {
  switch (k) {
    case Kind::Bool: case Kind::NpBool: return llvm::Type::getInt1Ty(C);
    case Kind::NpInt32: return llvm::Type::getInt32Ty(C);
    case Kind::Int: case Kind::NpInt64: return llvm::Type::getInt64Ty(C);
    case Kind::NpFloat32: return llvm::Type::getFloatTy(C);
    case Kind::Float: case Kind::NpFloat64: return llvm::Type::getDoubleTy(C);
    default: return llvm::Type::getInt8Ty(C);  // None
  }
}

llvm::Type* ModuleLowering::memTy(Kind k) {
  return (k == Kind::NpBool || k == Kind::Bool) ? llvm::Type::getInt8Ty(C) : scalarTy(k);
}

llvm::Type* ModuleLowering::lower(const ir::Type& t) {
  switch (t.kind) {
    case Kind::Union: return unionTy;
    case Kind::Array: return arrayTy;
    case Kind::Tuple: {
      std::vector<llvm::Type*> el;
      for (auto& e : t.elems) el.push_back(lower(e));
      return StructType::get(C, el);
    }
    default: return scalarTy(t.kind);
  }
}

// Internal functions: {i32 status, result} f(ctx, i32 depth, params...) — results and the
// recursion depth stay in registers.
FunctionType* ModuleLowering::fnType(const ir::Function& f) {
  auto* ptr = PointerType::get(C, 0);
  std::vector<llvm::Type*> params = {ptr, llvm::Type::getInt32Ty(C)};
  for (int i = 0; i < f.num_params; ++i) params.push_back(lower(f.param_types[i]));
  return FunctionType::get(retType(f), params, false);
}

StructType* ModuleLowering::retType(const ir::Function& f) {
  return StructType::get(C, {llvm::Type::getInt32Ty(C), lower(f.return_type)});
}

FunctionCallee ModuleLowering::rt(const std::string& name) {
  auto* ptr = PointerType::get(C, 0);
  auto* i32 = llvm::Type::getInt32Ty(C);
  auto* i64 = llvm::Type::getInt64Ty(C);
  auto* dbl = llvm::Type::getDoubleTy(C);
  auto* v = llvm::Type::getVoidTy(C);
  FunctionType* ft = nullptr;
  if (name == "ep_rt_raise") ft = FunctionType::get(v, {ptr, i32, i32, ptr}, false);
  else if (name == "ep_rt_raise_index") ft = FunctionType::get(v, {ptr, i32, i64, i32, i64}, false);
  else if (name == "ep_rt_raise_int_bounds") ft = FunctionType::get(v, {ptr, i32, i64, i32}, false);
  else if (name == "ep_rt_alloc") ft = FunctionType::get(i32, {ptr, i32, i32, ptr, i32, i32, ptr}, false);
  else if (name == "ep_rt_numpy_arange") ft = FunctionType::get(i32, {ptr, i32, i32, i64, i64, i64, i32, ptr}, false);
  else if (name == "ep_rt_numpy_dot") ft = FunctionType::get(i32, {ptr, i32, ptr, ptr, ptr}, false);
  else if (name == "ep_rt_round_ndigits") ft = FunctionType::get(i32, {ptr, dbl, i64, ptr}, false);
  else if (name == "ep_rt_scratch") ft = FunctionType::get(ptr, {ptr, i64}, false);
  else if (name == "ep_rt_scratch_free") ft = FunctionType::get(v, {ptr, ptr}, false);
  else if (name == "ep_rt_math_hypot") ft = FunctionType::get(i32, {ptr, dbl, dbl, ptr}, false);
  else if (name == "ep_rt_parallel_for")
    ft = FunctionType::get(i32, {ptr, i64, i64, i64, ptr, ptr, ptr, i32, i64, i64, i32, i32}, false);
  else if (name == "ep_rt_gpu_for") ft = FunctionType::get(i32, {ptr, ptr}, false);
  else if (name == "ep_rt_int_truediv") ft = FunctionType::get(dbl, {i64, i64}, false);
  else if (name == "ep_rt_check_signals") ft = FunctionType::get(i32, {ptr}, false);
  else if (name == "ep_rt_reduce") ft = FunctionType::get(i32, {ptr, i32, i32, i32, ptr, ptr, i32, ptr}, false);
  auto callee = M.getOrInsertFunction(name, ft);
  if (auto* fn = dyn_cast<llvm::Function>(callee.getCallee())) {
    if (name.rfind("ep_rt_raise", 0) == 0) fn->addFnAttr(Attribute::Cold);
    if (name == "ep_rt_int_truediv") fn->setDoesNotAccessMemory();
  }
  return callee;
}

// The C-ABI wrapper: unpacks flattened 8-byte argument slots, calls the typed function,
// flattens its result into the result slots.
void ModuleLowering::buildEntry(const ir::Function& f, llvm::Function* impl, const std::string& name) {
  auto* ptr = PointerType::get(C, 0);
  auto* ft = FunctionType::get(llvm::Type::getInt32Ty(C), {ptr, ptr, ptr}, false);
  auto* entry = llvm::Function::Create(ft, GlobalValue::ExternalLinkage, name, M);
  Builder b(BasicBlock::Create(C, "entry", entry));
  Value* ctx = entry->getArg(0);
  Value* retSlots = entry->getArg(1);
  Value* argSlots = entry->getArg(2);
  auto* i64 = b.getInt64Ty();
  int slot = 0;
  std::function<Value*(const ir::Type&, Value*)> unpack = [&](const ir::Type& t, Value* base) -> Value* {
    auto at = [&](int k) { return b.CreateConstGEP1_64(i64, base, slot + k); };
    Value* out;
    switch (t.kind) {
      case Kind::Array: {
        out = UndefValue::get(arrayTy);
        out = b.CreateInsertValue(out, b.CreateLoad(ptr, at(0)), {0});
        for (int d = 0; d < 3; ++d) {
          out = b.CreateInsertValue(out, b.CreateLoad(i64, at(1 + d)), {1, (unsigned)d});
          out = b.CreateInsertValue(out, b.CreateLoad(i64, at(4 + d)), {2, (unsigned)d});
        }
        out = b.CreateInsertValue(out, b.CreateLoad(ptr, at(7)), {3});
        slot += 8;
        return out;
      }
      case Kind::Tuple: {
        out = UndefValue::get(lower(t));
        for (unsigned i = 0; i < t.elems.size(); ++i) out = b.CreateInsertValue(out, unpack(t.elems[i], base), {i});
        return out;
      }
      case Kind::Union: {
        out = UndefValue::get(unionTy);
        out = b.CreateInsertValue(out, b.CreateTrunc(b.CreateLoad(i64, at(0)), b.getInt8Ty()), {0});
        out = b.CreateInsertValue(out, b.CreateLoad(i64, at(1)), {1});
        slot += 2;
        return out;
      }
      default: {
        llvm::Type* st = scalarTy(t.kind);
        Value* raw = b.CreateLoad(i64, at(0));
        slot += 1;
        if (st->isDoubleTy()) return b.CreateBitCast(raw, st);
        if (st->isFloatTy()) return b.CreateFPTrunc(b.CreateBitCast(raw, b.getDoubleTy()), st);
        return b.CreateTrunc(raw, st);
      }
    }
  };
  std::vector<Value*> args = {ctx, b.getInt32(0)};
  for (int i = 0; i < f.num_params; ++i) args.push_back(unpack(f.param_types[i], argSlots));
  Value* call = b.CreateCall(impl, args);
  Value* status = b.CreateExtractValue(call, {0});
  auto* ok = BasicBlock::Create(C, "ok", entry);
  auto* bad = BasicBlock::Create(C, "bad", entry);
  b.CreateCondBr(b.CreateICmpEQ(status, b.getInt32(0)), ok, bad);
  b.SetInsertPoint(bad);
  b.CreateRet(status);
  b.SetInsertPoint(ok);
  slot = 0;
  std::function<void(const ir::Type&, Value*)> pack = [&](const ir::Type& t, Value* v) {
    auto at = [&](int k) { return b.CreateConstGEP1_64(i64, retSlots, slot + k); };
    switch (t.kind) {
      case Kind::Array:
        b.CreateStore(b.CreateExtractValue(v, {0}), at(0));
        for (unsigned d = 0; d < 3; ++d) {
          b.CreateStore(b.CreateExtractValue(v, {1, d}), at(1 + d));
          b.CreateStore(b.CreateExtractValue(v, {2, d}), at(4 + d));
        }
        b.CreateStore(b.CreateExtractValue(v, {3}), at(7));
        slot += 8;
        return;
      case Kind::Tuple:
        for (unsigned i = 0; i < t.elems.size(); ++i) pack(t.elems[i], b.CreateExtractValue(v, {i}));
        return;
      case Kind::Union:
        b.CreateStore(b.CreateZExt(b.CreateExtractValue(v, {0}), i64), at(0));
        b.CreateStore(b.CreateExtractValue(v, {1}), at(1));
        slot += 2;
        return;
      default: {
        Value* raw;
        if (v->getType()->isDoubleTy()) raw = b.CreateBitCast(v, i64);
        else if (v->getType()->isFloatTy()) raw = b.CreateBitCast(b.CreateFPExt(v, b.getDoubleTy()), i64);
        else if (v->getType()->isIntegerTy(1)) raw = b.CreateZExt(v, i64);
        else raw = b.CreateSExt(v, i64);
        b.CreateStore(raw, at(0));
        slot += 1;
      }
    }
  };
  pack(f.return_type, b.CreateExtractValue(call, {1}));
  b.CreateRet(b.getInt32(0));
}

FnLowering::FnLowering(ModuleLowering& mm, const ir::Function& ff, int idx)
    : m(mm), f(ff), index(idx), fn(mm.fns[idx]), b(mm.C) {}

FnLowering::FnLowering(ModuleLowering& mm, const ir::Function& ff, int idx, llvm::Function* outlined)
    : m(mm), f(ff), index(idx), fn(outlined), b(mm.C) {}

AllocaInst* FnLowering::entryAlloca(llvm::Type* t, const char* name) {
  IRBuilder<> eb(&fn->getEntryBlock(), fn->getEntryBlock().begin());
  return eb.CreateAlloca(t, nullptr, name);
}

Value* FnLowering::cstr(const std::string& s) { return b.CreateGlobalStringPtr(s, "msg", 0, &m.M); }

void FnLowering::retStatus(Value* status) {
  auto* c = dyn_cast<ConstantInt>(status);
  if (!interruptOnly && !(c && c->isZero())) {
    ++failSites;
    if (!(c && c->getSExtValue() == EP_DEOPT)) ++raiseSites;  // (a callee's status may be an error)
  }
  if (gpuFail) {
    b.CreateAtomicRMW(AtomicRMWInst::Or, gpuStatus, status, MaybeAlign(4), AtomicOrdering::Monotonic);
    b.CreateBr(gpuFail);
    return;
  }
  if (plainStatus) {
    b.CreateRet(status);
    return;
  }
  Value* r = UndefValue::get(m.retType(f));
  b.CreateRet(b.CreateInsertValue(r, status, {0}));
}

void FnLowering::raiseNow(int kind, const std::string& msg, int line) {
  b.CreateCall(m.rt("ep_rt_raise"), {ctx, i32(kind), loc(line), cstr(msg)});
  retStatus(i32(EP_ERROR));
  b.SetInsertPoint(newBB("after.raise"));
}

void FnLowering::raiseIf(Value* cond, int kind, const std::string& msg, int line) {
  auto* bad = newBB("raise");
  auto* ok = newBB("ok");
  b.CreateCondBr(cond, bad, ok, MDBuilder(m.C).createBranchWeights(1, 1 << 20));
  b.SetInsertPoint(bad);
  b.CreateCall(m.rt("ep_rt_raise"), {ctx, i32(kind), loc(line), cstr(msg)});
  retStatus(i32(EP_ERROR));
  b.SetInsertPoint(ok);
}

void FnLowering::deoptIf(Value* cond) {
  auto* bad = newBB("deopt");
  auto* ok = newBB("ok");
  b.CreateCondBr(cond, bad, ok, MDBuilder(m.C).createBranchWeights(1, 1 << 20));
  b.SetInsertPoint(bad);
  retStatus(i32(EP_DEOPT));
  b.SetInsertPoint(ok);
}

void FnLowering::checkStatus(Value* status) {
  auto* bad = newBB("propagate");
  auto* ok = newBB("ok");
  b.CreateCondBr(b.CreateICmpNE(status, i32(0)), bad, ok, MDBuilder(m.C).createBranchWeights(1, 1 << 20));
  b.SetInsertPoint(bad);
  retStatus(status);
  b.SetInsertPoint(ok);
}

void FnLowering::run() {
  b.SetInsertPoint(BasicBlock::Create(m.C, "entry", fn));
  ctx = fn->getArg(0);
  // the unchecked copy never reads its depth (it only calls itself, and no parallel loop takes
  // it): a constant, so LLVM drops the argument
  depth = depthFree ? i32(0) : fn->getArg(1);
  for (size_t i = 0; i < f.locals.size(); ++i) {
    slots.push_back(entryAlloca(m.lower(f.locals[i].type), f.locals[i].name.c_str()));
    defined.push_back(entryAlloca(b.getInt1Ty(), "def"));
    b.CreateStore(b.getInt1((int)i < f.num_params), defined.back());
    if ((int)i < f.num_params)
      b.CreateStore(coerce({fn->getArg(2 + i), f.param_types[i]}, f.locals[i].type, f.first_line).v, slots.back());
    sure.push_back((int)i < f.num_params);
  }
  if (!depthFree && index < (int)m.freeFns.size() && m.freeFns[index]) enterDepthFree();
  if (!plainStatus && !m.gpu && hasSelfTailCall(f.body)) {
    // `return x + f(args)` jumps back here (tail_calls.cpp): the depth and the running sum
    BasicBlock* pre = b.GetInsertBlock();
    tailHead = newBB("tail.head");
    b.CreateBr(tailHead);
    b.SetInsertPoint(tailHead);
    tailDepth = b.CreatePHI(b.getInt32Ty(), 2, "tail.depth");
    tailDepth->addIncoming(depth, pre);
    tailAcc = b.CreatePHI(b.getInt64Ty(), 2, "tail.acc");
    tailAcc->addIncoming(i64(0), pre);
    depth = tailDepth;
  }
  // Recursion depth guard (CPython raises RecursionError; we never overflow the C stack).
  if (!depthFree) {
    Value* limitPtr = b.CreateConstGEP1_64(b.getInt8Ty(), ctx, offsetof(EpCtx, depth_limit));
    raiseIf(b.CreateICmpSGE(depth, b.CreateLoad(b.getInt32Ty(), limitPtr)), EP_EXC_RECURSION,
            "maximum recursion depth exceeded", f.first_line);
  }
  block(f.body);
  if (!b.GetInsertBlock()->getTerminator()) b.CreateUnreachable();
}

// With p = f's measure (recursion_bound.cpp) and c its minimum, a call with p = P nests at most
// L = max(0, P - c + 1) levels of calls below itself. When depth + L < limit none of them (nor
// this call) can raise RecursionError: this activation runs as the copy without depth checks,
// with the same depth and arguments. Otherwise it goes on here, checked as before (its own
// self-calls come back through this test, so a deep recursion switches once it is shallow enough).
void FnLowering::enterDepthFree() {
  Value* P = fn->getArg(2 + f.measure_slot);
  Value* c = i64(f.measure_min);
  Value* diff = b.CreateCall(llvm::Intrinsic::getDeclaration(&m.M, llvm::Intrinsic::ssub_with_overflow, {b.getInt64Ty()}),
                             {P, c});
  Value* below = b.CreateICmpSLT(P, c);
  Value* limit = b.CreateLoad(b.getInt32Ty(), b.CreateConstGEP1_64(b.getInt8Ty(), ctx, offsetof(EpCtx, depth_limit)));
  Value* room = b.CreateSub(b.CreateSExt(limit, b.getInt64Ty()), b.CreateSExt(depth, b.getInt64Ty()));  // (from i32s)
  // L < room: with P < c, 0 < room; else L = (P - c) + 1, so P - c < room - 1 (no +1 that could
  // wrap at P - c = 2**63 - 1), and P - c must not have overflowed
  Value* deep = b.CreateAnd(b.CreateNot(b.CreateExtractValue(diff, {1})),
                            b.CreateICmpSLT(b.CreateExtractValue(diff, {0}), b.CreateSub(room, i64(1))));
  Value* fits = b.CreateSelect(below, b.CreateICmpSGT(room, i64(0)), deep);
  auto* freeB = newBB("depth.free");
  auto* checkedB = newBB("depth.checked");
  b.CreateCondBr(fits, freeB, checkedB, MDBuilder(m.C).createBranchWeights(1 << 10, 1));
  b.SetInsertPoint(freeB);
  std::vector<Value*> args;
  for (auto& a : fn->args()) args.push_back(&a);
  auto* call = b.CreateCall(m.freeFns[index], args);
  call->setIsNoInline();  // the copy is optimised once, in its own ring of twins (not again in here)
  b.CreateRet(call);
  b.SetInsertPoint(checkedB);
}

// True when every call in function i lowers to function i itself (recursion_bound.cpp matched
// calls by name; this checks they resolve to this very specialisation).
static bool callsOnlyItself(const LoweringInput& in, int i) {
  bool ok = true;
  ir::forEachExpr(in.functions[i]->body, [&](const ir::Expr& e) {
    if (e.kind == ir::ExprKind::CallFunc && calleeTargetOf(in, i, e) != i) ok = false;
  });
  return ok;
}

std::unique_ptr<Module> lowerToLLVM(LLVMContext& ctx, const LoweringInput& in) {
  auto mod = std::make_unique<Module>("epochpp." + in.functions[0]->name, ctx);
  if (!in.data_layout.empty()) mod->setDataLayout(in.data_layout);  // EpGpuLaunch offsets come from it
  ModuleLowering m(ctx, *mod, in);
  for (size_t i = 0; i < in.functions.size(); ++i) {
    auto* fn = llvm::Function::Create(m.fnType(*in.functions[i]), GlobalValue::InternalLinkage,
                                      "ep." + in.functions[i]->name + "." + std::to_string(i), *mod);
    m.fns.push_back(fn);
  }
  m.freeFns.assign(in.functions.size(), nullptr);
  if (!m.gpu)
    for (size_t i = 0; i < in.functions.size(); ++i)
      if (in.functions[i]->measure_slot >= 0 && callsOnlyItself(in, (int)i))
        m.freeFns[i] = llvm::Function::Create(m.fns[i]->getFunctionType(), GlobalValue::InternalLinkage,
                                              m.fns[i]->getName() + ".free", *mod);
  for (size_t i = 0; i < in.functions.size(); ++i) {
    FnLowering fl(m, *in.functions[i], (int)i);
    fl.run();
    if (m.freeFns[i]) {
      FnLowering free(m, *in.functions[i], (int)i, m.freeFns[i]);
      free.depthFree = true;
      free.run();
    }
  }
  // A function that calls itself gets twins that its self-calls go to, in a ring (f -> twin0
  // -> twin1 -> f): LLVM never inlines a call of a function into itself, but inlines the
  // twins, so a recursive function does the work of three levels per call (fib(32): 6.9 ms
  // with one twin, 4.6 ms with two). A large function gets one twin only (each copy costs
  // LLVM time). Where there is an unchecked copy (freeFns) the copy gets the twins, three of
  // them (fib(32): 4.0 ms with two, 3.5 ms with three, for ~3 ms more LLVM time; a checked
  // function gains less from a third, 4.5 -> 4.3 ms); the checked one, which runs only while
  // the recursion might reach the limit, gets none.
  if (!m.gpu)
    for (size_t i = 0; i < m.fns.size(); ++i) {
      llvm::Function* fn = m.freeFns[i] ? m.freeFns[i] : m.fns[i];
      std::vector<CallInst*> self;
      for (auto& bb : *fn)
        for (auto& inst : bb)
          if (auto* c = dyn_cast<CallInst>(&inst))
            if (c->getCalledFunction() == fn) self.push_back(c);
      if (self.empty()) continue;
      size_t insts = 0;
      for (auto& bb : *fn) insts += bb.size();
      int NT = insts >= 600 ? 1 : m.freeFns[i] ? 3 : 2;
      std::vector<llvm::Function*> twins;
      for (int t = 0; t < NT; ++t) {
        ValueToValueMapTy vmap;
        twins.push_back(CloneFunction(fn, vmap));
        twins.back()->setName(fn->getName() + ".twin" + std::to_string(t));
      }
      for (auto* c : self) c->setCalledFunction(twins[0]);
      for (int t = 0; t + 1 < NT; ++t)
        for (auto& bb : *twins[t])
          for (auto& inst : bb)
            if (auto* c = dyn_cast<CallInst>(&inst))
              if (c->getCalledFunction() == fn) c->setCalledFunction(twins[t + 1]);
    }
  m.buildEntry(*in.functions[0], m.fns[0], in.entry_name);
  std::string err;
  raw_string_ostream os(err);
  if (verifyModule(*mod, &os)) throw ir::Unsupported{in.functions[0]->first_line, "internal error: invalid LLVM IR: " + os.str()};
  return mod;
}

}  // namespace epochpp::codegen
