// jit/codegen/lower_gpu_host.cpp — Level 4, host side: the code before a parallel loop that offers
// it to the GPU (ep_rt_gpu_for with an EpGpuLaunch, runtime/abi.h) and combines the blocks'
// reduction partials in block order when the GPU ran it.
#include "jit/codegen/codegen_impl.h"
#include "runtime/abi.h"

namespace epochpp::codegen {

using namespace llvm;

static GlobalVariable* cString(Module& M, const std::string& name, const std::string& text) {
  if (auto* g = M.getNamedGlobal(name)) return g;
  auto* init = ConstantDataArray::getString(M.getContext(), text, true);
  auto* g = new GlobalVariable(M, init->getType(), true, GlobalValue::PrivateLinkage, init, name);
  g->setAlignment(Align(1));
  return g;
}

void FnLowering::gpuAttempt(const ir::Stmt& s, const std::string& kernel, Value* vals, StructType* valsTy, Value* n,
                            Value* start, Value* step, BasicBlock* okB, BasicBlock* cpuB) {
  auto* I64 = b.getInt64Ty();
  auto* i32t = b.getInt32Ty();
  auto* ptr = b.getPtrTy();
  std::set<int> reads = sharedReads(s);
  // an unbound shared variable: the CPU path raises UnboundLocalError where CPython does
  Value* bound = b.getTrue();
  for (int k : reads) bound = b.CreateAnd(bound, b.CreateLoad(b.getInt1Ty(), defined[k]));
  auto* tryB = newBB("gpu.try");
  b.CreateCondBr(bound, tryB, cpuB);
  b.SetInsertPoint(tryB);

  // the arrays the kernel touches: each lives in `vals` at its local's offset
  const StructLayout* layout = m.M.getDataLayout().getStructLayout(valsTy);
  std::vector<int> arrays;
  for (int k : reads)
    if (f.locals[k].type.isArray()) arrays.push_back(k);
  auto* arrTy = StructType::get(m.C, {I64, i32t, i32t, i32t, i32t});  // EpGpuArray
  auto* arrsTy = ArrayType::get(arrTy, std::max<size_t>(arrays.size(), 1));
  Value* arrs = entryAlloca(arrsTy, "gpu.arrays");
  for (size_t j = 0; j < arrays.size(); ++j) {
    int k = arrays[j];
    const Type& t = f.locals[k].type;
    bool written = std::find(s.written_arrays.begin(), s.written_arrays.end(), k) != s.written_arrays.end();
    Value* e = b.CreateConstGEP2_64(arrsTy, arrs, 0, j);
    b.CreateStore(i64(layout->getElementOffset(k)), b.CreateStructGEP(arrTy, e, 0));
    b.CreateStore(i32(written), b.CreateStructGEP(arrTy, e, 1));
    b.CreateStore(i32(itemSize(t.dtype)), b.CreateStructGEP(arrTy, e, 2));
    b.CreateStore(i32(t.ndim), b.CreateStructGEP(arrTy, e, 3));
    b.CreateStore(i32(0), b.CreateStructGEP(arrTy, e, 4));
  }
  int R = (int)s.reductions.size();
  Value* partials = ConstantPointerNull::get(ptr);
  if (R > 0) partials = entryAlloca(ArrayType::get(I64, (uint64_t)R * kGpuMaxBlocks), "gpu.partials");

  // EpGpuLaunch, field by field
  auto* launchTy = StructType::get(m.C, {ptr, ptr, I64, I64, I64, I64, ptr, I64, ptr, i32t, i32t, ptr, i32t, i32t, I64});
  Value* launch = entryAlloca(launchTy, "gpu.launch");
  auto set = [&](int field, Value* v) { b.CreateStore(v, b.CreateStructGEP(launchTy, launch, field)); };
  set(0, cString(m.M, "ep.ptx", m.in.ptx));
  set(1, cString(m.M, "ep.kname." + kernel, kernel));
  set(2, n);
  set(3, start);
  set(4, step);
  set(5, i64(std::max<int64_t>(1, s.work)));
  set(6, vals);
  set(7, i64(layout->getSizeInBytes()));
  set(8, arrs);
  set(9, i32((int)arrays.size()));
  set(10, i32(R));
  set(11, partials);
  set(12, i32(kGpuMaxBlocks));
  set(13, i32(s.line));
  set(14, i64(0));
  Value* status = b.CreateCall(m.rt("ep_rt_gpu_for"), {ctx, launch});
  auto* ranB = newBB("gpu.ran");
  auto* notB = newBB("gpu.not");
  b.CreateCondBr(b.CreateICmpEQ(status, i32(EP_OK)), ranB, notB);
  b.SetInsertPoint(notB);
  checkStatus(b.CreateSelect(b.CreateICmpEQ(status, i32(EP_DEOPT)), i32(EP_OK), status));  // Ctrl-C propagates
  b.CreateBr(cpuB);  // nothing on the host changed: the CPU runs the loop
  b.SetInsertPoint(ranB);
  if (R > 0) {
    Value* nblocks = b.CreateLoad(I64, b.CreateStructGEP(launchTy, launch, 14));
    for (int r = 0; r < R; ++r) {
      int slot = s.reductions[r].first;
      const Type& slotT = f.locals[slot].type;
      loopNest({nblocks}, [&](std::vector<Value*>& idx) {
        Val cur{b.CreateLoad(m.lower(slotT), slots[slot]), slotT};
        Value* at = b.CreateGEP(I64, partials, {b.CreateAdd(i64((int64_t)r * kGpuMaxBlocks), idx[0])});
        Val part = coerce(fromSlot(b.CreateLoad(I64, at), partialType(s, slot)), slotT, s.line);
        b.CreateStore(reductionCombine(s.reductions[r].second, cur, part, slotT, s.line).v, slots[slot]);
      });
    }
  }
  b.CreateBr(okB);
}

}  // namespace epochpp::codegen
