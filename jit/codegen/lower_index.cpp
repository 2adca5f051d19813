// jit/codegen/lower_index.cpp — array elements: bounds-checked access, item stores (NumPy's
// conversion rules), views and slicing, indexing expressions, allocation, loop nests.
#include "jit/codegen/codegen_impl.h"
#include "runtime/abi.h"

namespace epochpp::codegen {

using namespace llvm;
using ir::ExprKind;
using ir::Op;

Value* FnLowering::dim(Val a, int d) { return b.CreateExtractValue(a.v, {1, (unsigned)d}); }
Value* FnLowering::stride(Val a, int d) { return b.CreateExtractValue(a.v, {2, (unsigned)d}); }

Value* FnLowering::normIndex(Value* i, Value* size, int axis, int line) {
  Value* j = b.CreateSelect(b.CreateICmpSLT(i, i64(0)), b.CreateAdd(i, size), i);
  auto* bad = newBB("index.error");
  auto* ok = newBB("index.ok");
  b.CreateCondBr(b.CreateICmpUGE(j, size), bad, ok, MDBuilder(m.C).createBranchWeights(1, 1 << 20));
  b.SetInsertPoint(bad);
  b.CreateCall(m.rt("ep_rt_raise_index"), {ctx, loc(line), i, i32(axis), size});
  retStatus(i32(EP_ERROR));
  b.SetInsertPoint(ok);
  return j;
}

// Address of an element; C and F layouts address through the shape so LLVM sees unit strides.
Value* FnLowering::elementPtr(Val a, std::vector<Value*> idx) {
  int nd = a.t.ndim;
  int64_t item = itemSize(a.t.dtype);
  Value* off;
  if (a.t.layout == ir::Layout::C) {
    off = idx[0];
    for (int d = 1; d < nd; ++d) off = b.CreateAdd(b.CreateMul(off, dim(a, d)), idx[d]);
    off = b.CreateMul(off, i64(item));
  } else if (a.t.layout == ir::Layout::F) {
    off = idx[nd - 1];
    for (int d = nd - 2; d >= 0; --d) off = b.CreateAdd(b.CreateMul(off, dim(a, d)), idx[d]);
    off = b.CreateMul(off, i64(item));
  } else {
    off = i64(0);
    for (int d = 0; d < nd; ++d) off = b.CreateAdd(off, b.CreateMul(idx[d], stride(a, d)));
  }
  return b.CreateGEP(b.getInt8Ty(), b.CreateExtractValue(a.v, {0}), off);
}

Val FnLowering::load(Val a, const std::vector<Value*>& idx) {
  Value* p = elementPtr(a, idx);
  Value* v = b.CreateLoad(m.memTy(a.t.dtype), p);
  if (a.t.dtype == Kind::NpBool) v = b.CreateICmpNE(v, b.getInt8(0));
  return {v, Type::scalar(a.t.dtype)};
}

// Item assignment: NumPy converts a scalar like Python's int()/float() (NaN and inf raise for
// integer arrays, out-of-range ints raise OverflowError).
void FnLowering::storeElem(Val a, const std::vector<Value*>& idx, Val v, int line) {
  storeRaw(a, idx, itemValue(a.t.dtype, v, line));
}

// NumPy's item assignment conversion of a scalar to the element kind (may raise).
Val FnLowering::itemValue(Kind dt, Val v, int line) {
  Val c;
  if (!ir::isFloatKind(dt) && dt != Kind::NpBool) {
    Val asInt = v;
    if (v.t.kind == Kind::Union || ir::isFloatKind(v.t.kind)) asInt = convert(v, Kind::Int, line);
    // through a Python int: an np.int64 too big for int32 raises OverflowError like a Python int
    if (dt == Kind::NpInt32) asInt = convert(asInt, Kind::Int, line);
    c = convert(asInt, dt, line);
  } else {
    c = convert(v, dt, line);
  }
  return c;
}

// Stores a value already of the array's element kind (bool as one byte).
void FnLowering::storeRaw(Val a, const std::vector<Value*>& idx, Val v) {
  Value* raw = v.v;
  if (a.t.dtype == Kind::NpBool) raw = b.CreateZExt(raw, b.getInt8Ty());
  b.CreateStore(raw, elementPtr(a, idx));
}

// a[i:j:k, ...] views: slices adjust (start, length, stride) like PySlice_AdjustIndices.
Val FnLowering::view(Val a, const ir::Expr& e, size_t first, const Type& result) {
  Value* data = b.CreateExtractValue(a.v, {0});
  std::vector<Value*> shp, str;
  int d = 0;
  for (size_t k = first; k < e.args.size(); ++k, ++d) {
    const ir::Expr& ix = *e.args[k];
    Value* n = dim(a, d);
    Value* s = stride(a, d);
    if (ix.kind != ExprKind::Slice) {
      Value* i = normIndex(convert(expr(ix), Kind::Int, ix.line).v, n, d, ix.line);
      data = b.CreateGEP(b.getInt8Ty(), data, b.CreateMul(i, s));
      continue;
    }
    auto part = [&](int p) -> Value* {
      const ir::Expr& x = *ix.args[p];
      if (x.type.kind == Kind::None) {
        if (x.kind != ExprKind::Const) expr(x);
        return nullptr;
      }
      return convert(expr(x), Kind::Int, ix.line).v;
    };
    Value* start = part(0);
    Value* stop = part(1);
    Value* step = part(2);
    if (step) raiseIf(b.CreateICmpEQ(step, i64(0)), EP_EXC_VALUE, "slice step cannot be zero", ix.line);
    Value* st = step ? step : i64(1);
    Value* neg = b.CreateICmpSLT(st, i64(0));
    // defaults: step > 0: [0, n); step < 0: [n-1, -1)
    Value* dStart = b.CreateSelect(neg, b.CreateSub(n, i64(1)), i64(0));
    Value* dStop = b.CreateSelect(neg, i64(-1), n);
    auto clampBound = [&](Value* v, Value* dflt) -> Value* {
      if (!v) return dflt;
      Value* w = b.CreateSelect(b.CreateICmpSLT(v, i64(0)), b.CreateAdd(v, n), v);
      // below 0: step<0 -> -1 else 0;  >= n: step<0 -> n-1 else n
      Value* lo = b.CreateSelect(neg, i64(-1), i64(0));
      Value* hi = b.CreateSelect(neg, b.CreateSub(n, i64(1)), n);
      w = b.CreateSelect(b.CreateICmpSLT(w, i64(0)), lo, w);
      w = b.CreateSelect(b.CreateICmpSGE(w, n), hi, w);
      return w;
    };
    Value* s0 = clampBound(start, dStart);
    Value* s1 = clampBound(stop, dStop);
    // length = step>0 ? (s1>s0 ? (s1-s0-1)/step+1 : 0) : (s0>s1 ? (s0-s1-1)/(-step)+1 : 0)
    Value* posLen = b.CreateSelect(b.CreateICmpSGT(s1, s0), b.CreateAdd(b.CreateSDiv(b.CreateSub(b.CreateSub(s1, s0), i64(1)), st), i64(1)), i64(0));
    Value* negLen = b.CreateSelect(b.CreateICmpSGT(s0, s1), b.CreateAdd(b.CreateSDiv(b.CreateSub(b.CreateSub(s0, s1), i64(1)), b.CreateNeg(st)), i64(1)), i64(0));
    Value* len = b.CreateSelect(neg, negLen, posLen);
    data = b.CreateGEP(b.getInt8Ty(), data, b.CreateSelect(b.CreateICmpSGT(len, i64(0)), b.CreateMul(s0, s), i64(0)));
    shp.push_back(len);
    str.push_back(b.CreateMul(s, st));
  }
  for (; d < a.t.ndim; ++d) {
    shp.push_back(dim(a, d));
    str.push_back(stride(a, d));
  }
  Value* out = UndefValue::get(m.arrayTy);
  out = b.CreateInsertValue(out, data, {0});
  for (unsigned k = 0; k < 3; ++k) {
    out = b.CreateInsertValue(out, k < shp.size() ? shp[k] : i64(1), {1, k});
    out = b.CreateInsertValue(out, k < str.size() ? str[k] : i64(0), {2, k});
  }
  out = b.CreateInsertValue(out, markDerived(b.CreateExtractValue(a.v, {3})), {3});
  return {out, result};
}

// A view's owner pointer carries bit 0: the result is a new view object, never the base itself.
Value* FnLowering::markDerived(Value* owner) {
  Value* i = b.CreatePtrToInt(owner, b.getInt64Ty());
  return b.CreateIntToPtr(b.CreateOr(i, i64(1)), b.getPtrTy());
}

Val FnLowering::indexExpr(const ir::Expr& e) {
  Val base = expr(*e.args[0]);
  if (base.t.kind == Kind::Tuple) {
    int64_t n = (int64_t)base.t.elems.size();
    if (e.args[1]->kind == ExprKind::Const) {
      int64_t i = e.args[1]->ival;
      if (i < 0) i += n;
      return {b.CreateExtractValue(base.v, {(unsigned)i}), e.type};
    }
    Value* i = convert(expr(*e.args[1]), Kind::Int, e.line).v;
    Value* j = b.CreateSelect(b.CreateICmpSLT(i, i64(0)), b.CreateAdd(i, i64(n)), i);
    raiseIf(b.CreateICmpUGE(j, i64(n)), EP_EXC_INDEX, "tuple index out of range", e.line);
    auto* merge = newBB("tuple.merge");
    auto* sw = b.CreateSwitch(j, merge, (unsigned)n);
    BasicBlock* dflt = b.GetInsertBlock();
    std::vector<std::pair<Value*, BasicBlock*>> in;
    for (int64_t k = 0; k < n; ++k) {
      auto* bb = newBB("tuple.elem");
      sw->addCase(b.getInt64(k), bb);
      b.SetInsertPoint(bb);
      Val el = coerce({b.CreateExtractValue(base.v, {(unsigned)k}), base.t.elems[k]}, e.type, e.line);
      in.push_back({el.v, b.GetInsertBlock()});
      b.CreateBr(merge);
    }
    b.SetInsertPoint(merge);
    auto* phi = b.CreatePHI(m.lower(e.type), (unsigned)n + 1);
    for (auto& [v, bb] : in) phi->addIncoming(v, bb);
    phi->addIncoming(UndefValue::get(m.lower(e.type)), dflt);
    return {phi, e.type};
  }
  bool allScalar = (int)e.args.size() - 1 == base.t.ndim;
  for (size_t k = 1; k < e.args.size(); ++k) allScalar &= e.args[k]->kind != ExprKind::Slice;
  if (!allScalar) return view(base, e, 1, e.type);
  // the whole index tuple is evaluated before any bounds check (as Python builds the tuple)
  std::vector<Value*> raw, idx;
  for (size_t k = 1; k < e.args.size(); ++k) raw.push_back(convert(expr(*e.args[k]), Kind::Int, e.line).v);
  // first-axis iteration (`for x in a`) indexes within range by construction
  bool known = e.col == 1 || proven.count(&e);
  for (size_t k = 0; k < raw.size(); ++k)
    idx.push_back(known ? raw[k] : normIndex(raw[k], dim(base, (int)k), (int)k, e.line));
  return load(base, idx);
}

Val FnLowering::alloc(Kind dtype, std::vector<Value*> shape, int order, int init, int line) {
  Value* shp = entryAlloca(ArrayType::get(b.getInt64Ty(), 3), "shape");
  for (size_t d = 0; d < 3; ++d)
    b.CreateStore(d < shape.size() ? shape[d] : i64(1), b.CreateConstGEP2_64(ArrayType::get(b.getInt64Ty(), 3), shp, 0, d));
  Value* out = entryAlloca(m.arrayTy, "arr");
  Value* st = b.CreateCall(m.rt("ep_rt_alloc"), {ctx, i32((int)dtype), i32((int)shape.size()), shp, i32(order), i32(init), out});
  checkStatus(st);
  (void)line;
  return {b.CreateLoad(m.arrayTy, out), Type::array(dtype, (int)shape.size(), order == 1 ? ir::Layout::F : ir::Layout::C)};
}

// np.arange as NumPy computes it. The length is ceil((stop - start) / step) with Python's (or
// NumPy's) arithmetic on the arguments as passed; whatever compiled int64/double arithmetic cannot
// decide exactly -- a zero step (its error depends on the arguments' types), a span beyond int64,
// a NaN or out-of-range length, a length no machine could allocate -- is handed to NumPy itself
// with the original arguments, so its result or its error is what CPython gets.
Val FnLowering::arange(const ir::Expr& e) {
  int line = e.line;
  std::vector<Val> orig;
  for (auto& x : e.args) orig.push_back(expr(*x));
  size_t n = orig.size();
  // NumPy's arguments: (start, stop, step), defaults 0 and 1 (Python ints)
  Value* raw[3] = {i64(0), nullptr, i64(1)};
  int kinds[3] = {(int)Kind::Int, 0, (int)Kind::Int};
  for (size_t i = 0; i < n; ++i) {
    size_t at = n == 1 ? 1 : i;
    Val v = orig[i];
    raw[at] = ir::isFloatKind(v.t.kind) ? b.CreateBitCast(convert(v, Kind::Float, line).v, b.getInt64Ty())
                                        : convert(v, Kind::Int, line).v;
    kinds[at] = (int)v.t.kind;
  }
  // NumPy scalars among the arguments: NumPy's own arithmetic (wrapping in their width, NEP 50
  // errors for Python ints that do not fit): always NumPy's
  bool numpyArgs = false;
  for (int k : kinds) numpyArgs |= k >= (int)Kind::NpBool && k <= (int)Kind::NpFloat64;
  auto fetchFromNumpy = [&](Value* cond, const std::function<Val()>& fast) -> Val {
    if (numpyArgs) cond = b.getTrue();
    auto* slowB = newBB("arange.numpy");
    auto* fastB = newBB("arange.fill");
    auto* joinB = newBB("arange.done");
    b.CreateCondBr(cond, slowB, fastB);
    b.SetInsertPoint(slowB);
    Value* out = entryAlloca(m.arrayTy, "arange");
    Value* packed = i32(kinds[0] | kinds[1] << 8 | kinds[2] << 16);
    checkStatus(b.CreateCall(m.rt("ep_rt_numpy_arange"),
                             {ctx, i32((int)e.type.dtype), i32(e.ival), raw[0], raw[1], raw[2], packed, out}));
    Value* fromNumpy = b.CreateLoad(m.arrayTy, out);
    BasicBlock* slowEnd = b.GetInsertBlock();
    b.CreateBr(joinB);
    b.SetInsertPoint(fastB);
    Val arr = fast();
    BasicBlock* fastEnd = b.GetInsertBlock();
    b.CreateBr(joinB);
    b.SetInsertPoint(joinB);
    PHINode* phi = b.CreatePHI(m.arrayTy, 2);
    phi->addIncoming(fromNumpy, slowEnd);
    phi->addIncoming(arr.v, fastEnd);
    return {phi, arr.t};
  };
  if (e.type.dtype == Kind::NpFloat64) {
    // NumPy: n = ceil((stop - start) / step); a[0] = start, a[1] = start + step,
    // a[i] = start + i * delta with delta = a[1] - a[0]
    auto* dt = b.getDoubleTy();
    auto asDouble = [&](int k) {  // ints exactly rounded, as Python's int / float do
      if (ir::isFloatKind((Kind)kinds[k])) return b.CreateBitCast(raw[k], dt);
      return convert({raw[k], Type::scalar(Kind::Int)}, Kind::Float, line).v;
    };
    Value* start = asDouble(0);
    Value* stop = asDouble(1);
    Value* step = asDouble(2);
    Value* q = b.CreateUnaryIntrinsic(Intrinsic::ceil, b.CreateFDiv(b.CreateFSub(stop, start), step));
    Value* slow = b.CreateOr(b.CreateFCmpOEQ(step, ConstantFP::get(dt, 0.0)), b.CreateFCmpUNO(q, q));
    slow = b.CreateOr(slow, b.CreateFCmpOGT(q, ConstantFP::get(dt, double(int64_t(1) << 40))));
    slow = b.CreateOr(slow, b.CreateFCmpOLT(q, ConstantFP::get(dt, -9223372036854775808.0)));
    // Python does int arithmetic exactly (stop - start, start + step) before NumPy rounds to float:
    // the same as in doubles only while the ints are exact doubles
    for (int k = 0; k < 3; ++k)
      if (!ir::isFloatKind((Kind)kinds[k])) {
        Value* big = b.CreateICmpUGT(b.CreateAdd(raw[k], i64(int64_t(1) << 53)), i64(int64_t(1) << 54));
        slow = b.CreateOr(slow, big);
      }
    return fetchFromNumpy(slow, [&] {
      Value* len = b.CreateSelect(b.CreateFCmpOLE(q, ConstantFP::get(dt, 0.0)), i64(0), b.CreateFPToSI(q, b.getInt64Ty()));
      Val arr = alloc(Kind::NpFloat64, {len}, 0, 0, line);
      Value* second = b.CreateFAdd(start, step);
      Value* delta = b.CreateFSub(second, start);
      loopNest({len}, [&](std::vector<Value*>& idx) {
        Value* i = idx[0];
        Value* x = b.CreateFAdd(start, b.CreateFMul(b.CreateSIToFP(i, dt), delta));
        x = b.CreateSelect(b.CreateICmpEQ(i, i64(0)), start, b.CreateSelect(b.CreateICmpEQ(i, i64(1)), second, x));
        b.CreateStore(x, elementPtr(arr, idx));
      });
      return arr;
    });
  }
  Value* start = raw[0];
  Value* stop = raw[1];
  Value* step = raw[2];
  Value* sub = b.CreateBinaryIntrinsic(Intrinsic::ssub_with_overflow, stop, start);
  Value* span = b.CreateExtractValue(sub, {0});
  Value* wide = b.CreateOr(b.CreateExtractValue(sub, {1}),
                           b.CreateAnd(b.CreateICmpEQ(span, i64(INT64_MIN)), b.CreateICmpEQ(step, i64(-1))));
  Value* odd = b.CreateOr(wide, b.CreateICmpEQ(step, i64(0)));
  Value* divisor = b.CreateSelect(odd, i64(1), step);
  Value* q = b.CreateSDiv(span, divisor);
  Value* r = b.CreateSRem(span, divisor);
  // the ceiling of a positive quotient is one more than its truncation when there is a remainder;
  // a negative quotient's truncation is its ceiling (np.arange(0, -1, 5) is empty)
  Value* up = b.CreateAnd(b.CreateICmpNE(r, i64(0)), b.CreateICmpSGE(b.CreateXor(r, divisor), i64(0)));
  Value* len = b.CreateAdd(q, b.CreateZExt(up, b.getInt64Ty()));
  len = b.CreateSelect(b.CreateICmpSLT(len, i64(0)), i64(0), len);
  Value* slow = b.CreateOr(odd, b.CreateICmpSGT(len, i64(int64_t(1) << 40)));
  return fetchFromNumpy(slow, [&] {
    Val arr = alloc(e.type.dtype, {len}, 0, 0, line);
    loopNest({len}, [&](std::vector<Value*>& idx) {
      Val x{b.CreateAdd(start, b.CreateMul(idx[0], step)), Type::scalar(Kind::NpInt64)};
      storeRaw(arr, idx, convert(x, e.type.dtype, line));
    });
    return arr;
  });
}

void FnLowering::loopNest(const std::vector<Value*>& shape, const std::function<void(std::vector<Value*>&)>& body) {
  std::vector<Value*> idx(shape.size());
  std::function<void(size_t)> level = [&](size_t d) {
    if (d == shape.size()) {
      body(idx);
      return;
    }
    BasicBlock* pre = b.GetInsertBlock();
    auto* head = newBB("nest.head");
    auto* bodyB = newBB("nest.body");
    auto* exitB = newBB("nest.end");
    b.CreateBr(head);
    b.SetInsertPoint(head);
    PHINode* i = b.CreatePHI(b.getInt64Ty(), 2);
    i->addIncoming(i64(0), pre);
    b.CreateCondBr(b.CreateICmpSLT(i, shape[d]), bodyB, exitB);
    b.SetInsertPoint(bodyB);
    idx[d] = i;
    level(d + 1);
    Value* next = b.CreateAdd(i, i64(1), "", true, true);
    i->addIncoming(next, b.GetInsertBlock());
    b.CreateBr(head);
    b.SetInsertPoint(exitB);
  };
  level(0);
}

// ---- fused element-wise expressions -----------------------------------------------------------

}  // namespace epochpp::codegen
