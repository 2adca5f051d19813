// jit/codegen/lower_array.cpp — whole arrays: fused element-wise expressions (one loop, no
// temporaries), slice assignment, reductions. Element access and views: lower_index.cpp.
#include <llvm/IR/Intrinsics.h>

#include <set>

#include "jit/codegen/codegen_impl.h"
#include "jit/codegen/fusion.h"
#include "jit/passes/passes.h"
#include "runtime/abi.h"

namespace epochpp::codegen {

using namespace llvm;
using ir::ExprKind;
using ir::Op;

// minimum / maximum (NaN-propagating) / where / unary NumPy functions on one element.
Val FnLowering::elementIntrinsic(const std::string& n, const std::vector<Val>& args, Kind rk, int line) {
  if (n == "np.minimum" || n == "np.maximum") {
    Val a = convert(args[0], rk, line), c = convert(args[1], rk, line);
    bool mn = n == "np.minimum";
    if (ir::isFloatKind(rk)) {
      // ties (0.0 vs -0.0) give the second operand, NaN in either operand propagates
      Value* pick = b.CreateOr(mn ? b.CreateFCmpOLT(a.v, c.v) : b.CreateFCmpOGT(a.v, c.v), b.CreateFCmpUNO(a.v, a.v));
      return {b.CreateSelect(pick, a.v, c.v), Type::scalar(rk)};
    }
    Value* pick = mn ? b.CreateICmpSLE(a.v, c.v) : b.CreateICmpSGE(a.v, c.v);
    return {b.CreateSelect(pick, a.v, c.v), Type::scalar(rk)};
  }
  if (n == "np.where") {
    Value* cond = truth(args[0], line);
    auto value = [&](const Val& v) {
      // a Python int that does not fit a narrower int dtype: cast C-style, as NumPy's np.where does
      if (v.t.kind == Kind::Int && m.in.np_where_wraps_py_int && rk == Kind::NpInt32)
        return Val{b.CreateTrunc(v.v, m.scalarTy(rk)), Type::scalar(rk)};
      return convert(v, rk, line);
    };
    Val x = value(args[1]), y = value(args[2]);
    return {b.CreateSelect(cond, x.v, y.v), Type::scalar(rk)};
  }
  return arrayScalarFunc(n, args[0], rk, line);
}

// NumPy unary functions on one element (no exceptions: NaN/inf as IEEE gives).
Val FnLowering::arrayScalarFunc(const std::string& n, Val a, Kind rk, int line) {
  if (n == "np.abs" || n == "np.absolute") {
    if (ir::isFloatKind(a.t.kind)) return {b.CreateUnaryIntrinsic(Intrinsic::fabs, a.v), a.t};
    if (a.t.kind == Kind::NpBool) return a;
    return {b.CreateBinaryIntrinsic(Intrinsic::abs, a.v, b.getInt1(false)), a.t};
  }
  Val x = convert(a, rk, line);
  bool f32 = rk == Kind::NpFloat32;
  Type T = Type::scalar(rk);
  if (n == "np.fabs") return {b.CreateUnaryIntrinsic(Intrinsic::fabs, x.v), T};
  if (n == "np.sqrt") return {b.CreateUnaryIntrinsic(Intrinsic::sqrt, x.v), T};
  static const std::map<std::string, const char*> names = {
      {"np.exp", "exp"}, {"np.log", "log"}, {"np.sin", "sin"}, {"np.cos", "cos"}, {"np.tan", "tan"},
      {"np.tanh", "tanh"}, {"np.log2", "log2"}, {"np.log10", "log10"}, {"np.arcsin", "asin"},
      {"np.arccos", "acos"}, {"np.arctan", "atan"}, {"np.sinh", "sinh"}, {"np.cosh", "cosh"},
      {"np.expm1", "expm1"}, {"np.log1p", "log1p"}};
  std::string fname = names.at(n);
  if (f32) fname += "f";
  return {libm(fname.c_str(), {x.v}), T};
}

// The loop nest of a fused expression, in two versions: unit-stride last dimension for every
// operand (typed addressing, vectorises) and any strides.
void FnLowering::fusedLoops(Fusion& fu, Val dest, const std::vector<Value*>& shape, const ir::Expr& e, int line) {
  int nd = (int)shape.size();
  Value* contig = b.CreateICmpEQ(stride(dest, nd - 1), i64(itemSize(dest.t.dtype)));
  for (auto& l : fu.leaves)
    if (l.v.t.isArray()) {
      Value* s = l.strides[nd - 1] ? l.strides[nd - 1] : i64(0);
      contig = b.CreateAnd(contig, b.CreateICmpEQ(s, i64(itemSize(l.v.t.dtype))));
    }
  Val destA{dest.v, Type::array(dest.t.dtype, nd, dest.t.layout == ir::Layout::C ? ir::Layout::C : ir::Layout::A)};
  auto body = [&](std::vector<Value*>& idx) {
    storeRaw(destA, idx, convert(fu.elem(e, idx), dest.t.dtype, line));
  };
  auto* fast = newBB("fused.contig");
  auto* slow = newBB("fused.strided");
  auto* done = newBB("fused.done");
  b.CreateCondBr(contig, fast, slow);
  b.SetInsertPoint(fast);
  fu.contigInner = true;
  loopNest(shape, body);
  b.CreateBr(done);
  b.SetInsertPoint(slow);
  fu.contigInner = false;
  loopNest(shape, body);
  b.CreateBr(done);
  b.SetInsertPoint(done);
}

// Broadcast strides of the leaves against `shape` (0 where a leaf's dimension is 1).
void FnLowering::broadcastLeaves(Fusion& fu, const std::vector<Value*>& shape, int line) {
  int nd = (int)shape.size();
  for (auto& l : fu.leaves) {
    if (!l.v.t.isArray()) continue;
    int k = l.v.t.ndim;
    l.strides.assign(nd, nullptr);
    for (int d = 0; d < k; ++d) {
      int rd = nd - k + d;
      Value* ld = dim(l.v, d);
      Value* ok = b.CreateOr(b.CreateICmpEQ(ld, shape[rd]), b.CreateICmpEQ(ld, i64(1)));
      raiseIf(b.CreateNot(ok), EP_EXC_VALUE, "operands could not be broadcast together", line);
      l.strides[rd] = b.CreateSelect(b.CreateICmpEQ(ld, i64(1)), i64(0), stride(l.v, d));
    }
  }
}

// Evaluates element-wise expression `e` into `dest` (whose shape is the broadcast shape).
void FnLowering::elementwiseInto(Val dest, const ir::Expr& e, int line) {
  Fusion fu{*this, dest.t.ndim, {}, {}};
  fu.collect(e);
  std::vector<Value*> shape;
  for (int d = 0; d < dest.t.ndim; ++d) shape.push_back(dim(dest, d));
  broadcastLeaves(fu, shape, line);
  fusedLoops(fu, dest, shape, e, line);
}

// A C-ordered scratch array (malloc, no GIL) for a temporary that never reaches Python.
Val FnLowering::scratchAlloc(Kind dtype, const std::vector<Value*>& shape) {
  Value* n = i64(itemSize(dtype));
  for (auto* d : shape) n = b.CreateMul(n, d);
  Value* p = b.CreateCall(m.rt("ep_rt_scratch"), {ctx, n});
  raiseIf(b.CreateIsNull(p), EP_EXC_MEMORY, "cannot allocate scratch memory", 0);
  Value* out = UndefValue::get(m.arrayTy);
  out = b.CreateInsertValue(out, p, {0});
  Value* st = i64(itemSize(dtype));
  for (int d = 2; d >= 0; --d) {
    bool has = d < (int)shape.size();
    out = b.CreateInsertValue(out, has ? shape[d] : i64(1), {1, (unsigned)d});
    out = b.CreateInsertValue(out, has ? st : i64(0), {2, (unsigned)d});
    if (has) st = b.CreateMul(st, shape[d]);
  }
  out = b.CreateInsertValue(out, ConstantPointerNull::get(b.getPtrTy()), {3});
  return {out, Type::array(dtype, (int)shape.size(), ir::Layout::C)};
}

Val FnLowering::arrayExpr(const ir::Expr& e) { return materialise(e, false); }

// Evaluates the leaves of element-wise expression `e` (once, in Python's order), checks that
// they broadcast, and returns the result's shape.
std::vector<Value*> FnLowering::prepareFusion(Fusion& probe, const ir::Expr& e) {
  int nd = e.type.ndim;
  probe.collect(e);
  std::vector<Value*> shape(nd, i64(1));
  for (auto& l : probe.leaves) {
    if (!l.v.t.isArray()) continue;
    int k = l.v.t.ndim;
    for (int d = 0; d < k; ++d) {
      int rd = nd - k + d;
      Value* ld = dim(l.v, d);
      shape[rd] = b.CreateSelect(b.CreateICmpEQ(shape[rd], i64(1)), ld, shape[rd]);
    }
  }
  broadcastLeaves(probe, shape, e.line);
  probe.weakIntChecks(e);
  return shape;
}

Val FnLowering::materialise(const ir::Expr& e, bool scratch) {
  if (e.kind == ExprKind::Attr && e.name == "T") {
    Val a = expr(*e.args[0]);
    Value* out = a.v;
    int nd = a.t.ndim;
    for (int d = 0; d < nd; ++d) {
      out = b.CreateInsertValue(out, dim(a, nd - 1 - d), {1, (unsigned)d});
      out = b.CreateInsertValue(out, stride(a, nd - 1 - d), {2, (unsigned)d});
    }
    out = b.CreateInsertValue(out, markDerived(b.CreateExtractValue(a.v, {3})), {3});
    return {out, e.type};
  }
  if (e.kind == ExprKind::Binary && e.ival == 1) {
    // a += b on an array: NumPy writes into a's buffer; when b overlaps a, through a temporary.
    Val target = expr(*e.args[0]);
    ir::Expr copy = e;
    copy.ival = 0;
    copy.type = Type::array(e.type.dtype, e.type.ndim, ir::Layout::C);
    auto tmpExpr = std::make_shared<ir::Expr>(copy);
    assignInto(target, *tmpExpr, e.line);
    return {target.v, e.type};
  }
  // A fresh result: evaluate the leaves' shapes first, then allocate and fill in one loop.
  Fusion probe{*this, e.type.ndim, {}, {}};
  std::vector<Value*> shape = prepareFusion(probe, e);
  Val dest = scratch ? scratchAlloc(e.type.dtype, shape) : alloc(e.type.dtype, shape, 0, 0, e.line);
  fusedLoops(probe, dest, shape, e, e.line);
  return {dest.v, e.type};
}

// dest[...] = value with broadcasting. Scalars follow item-assignment rules; arrays are cast.
// When the value reads memory that overlaps dest (a[1:] = a[:-1]), it is evaluated into a
// temporary first, as NumPy does.
void FnLowering::assignInto(Val dest, const ir::Expr& value, int line) { assignValue(dest, expr(value), line); }

// dest[...] = an already evaluated value (Python evaluates the right-hand side first).
void FnLowering::assignValue(Val dest, Val src, int line) {
  int nd = dest.t.ndim;
  std::vector<Value*> shape;
  for (int d = 0; d < nd; ++d) shape.push_back(dim(dest, d));
  if (!src.t.isArray()) {
    Val c = itemValue(dest.t.dtype, src, line);  // converted (and checked) once, even for no element
    loopNest(shape, [&](std::vector<Value*>& idx) { storeRaw(dest, idx, c); });
    return;
  }
  if (src.t.ndim > nd) throw ir::Unsupported{line, "assigning a higher-rank array into a slice"};
  // overlap: [lo, hi) byte ranges of both
  auto range = [&](Val a, Value*& lo, Value*& hi) {
    Value* base = b.CreatePtrToInt(b.CreateExtractValue(a.v, {0}), b.getInt64Ty());
    Value* l = base, *h = base;
    Value* empty = b.getFalse();
    for (int d = 0; d < a.t.ndim; ++d) {
      Value* ext = b.CreateMul(b.CreateSub(dim(a, d), i64(1)), stride(a, d));
      Value* neg = b.CreateICmpSLT(ext, i64(0));
      l = b.CreateAdd(l, b.CreateSelect(neg, ext, i64(0)));
      h = b.CreateAdd(h, b.CreateSelect(neg, i64(0), ext));
      empty = b.CreateOr(empty, b.CreateICmpEQ(dim(a, d), i64(0)));
    }
    lo = l;
    hi = b.CreateSelect(empty, l, b.CreateAdd(h, i64(itemSize(a.t.dtype))));
  };
  Value *dl, *dh, *sl, *sh;
  range(dest, dl, dh);
  range(src, sl, sh);
  Value* overlap = b.CreateAnd(b.CreateICmpULT(sl, dh), b.CreateICmpULT(dl, sh));
  // Identical element-for-element views are safe (a += b reads a[i] then writes a[i]).
  Value* same = b.CreateICmpEQ(b.CreateExtractValue(dest.v, {0}), b.CreateExtractValue(src.v, {0}));
  for (int d = 0; d < src.t.ndim && src.t.ndim == nd; ++d)
    same = b.CreateAnd(same, b.CreateICmpEQ(stride(dest, d), stride(src, d)));
  if (src.t.ndim != nd) same = b.getFalse();
  Value* needCopy = b.CreateAnd(overlap, b.CreateNot(same));
  auto* copyB = newBB("assign.copy");
  auto* joinB = newBB("assign.src");
  BasicBlock* pre = b.GetInsertBlock();
  b.CreateCondBr(needCopy, copyB, joinB);
  b.SetInsertPoint(copyB);
  std::vector<Value*> sshape;
  for (int d = 0; d < src.t.ndim; ++d) sshape.push_back(dim(src, d));
  Val tmp = alloc(src.t.dtype, sshape, 0, 0, line);
  Val srcA{src.v, Type::array(src.t.dtype, src.t.ndim, ir::Layout::A)};
  loopNest(sshape, [&](std::vector<Value*>& idx) { storeRaw(tmp, idx, load(srcA, idx)); });
  BasicBlock* copyEnd = b.GetInsertBlock();
  b.CreateBr(joinB);
  b.SetInsertPoint(joinB);
  auto* phi = b.CreatePHI(m.arrayTy, 2);
  phi->addIncoming(src.v, pre);
  phi->addIncoming(tmp.v, copyEnd);
  Val from{phi, Type::array(src.t.dtype, src.t.ndim, ir::Layout::A)};
  // broadcast strides of the source against dest
  std::vector<Value*> bstr(nd, nullptr);
  int k = from.t.ndim;
  for (int d = 0; d < k; ++d) {
    int rd = nd - k + d;
    Value* ld = dim(from, d);
    Value* ok = b.CreateOr(b.CreateICmpEQ(ld, shape[rd]), b.CreateICmpEQ(ld, i64(1)));
    raiseIf(b.CreateNot(ok), EP_EXC_VALUE, "could not broadcast input array into the destination shape", line);
    bstr[rd] = b.CreateSelect(b.CreateICmpEQ(ld, i64(1)), i64(0), stride(from, d));
  }
  loopNest(shape, [&](std::vector<Value*>& idx) {
    Value* off = i64(0);
    for (int d = 0; d < nd; ++d)
      if (bstr[d]) off = b.CreateAdd(off, b.CreateMul(idx[d], bstr[d]));
    Value* v = b.CreateLoad(m.memTy(from.t.dtype), b.CreateGEP(b.getInt8Ty(), b.CreateExtractValue(from.v, {0}), off));
    Val sv{from.t.dtype == Kind::NpBool ? b.CreateICmpNE(v, b.getInt8(0)) : v, Type::scalar(from.t.dtype)};
    storeRaw(dest, idx, convert(sv, dest.t.dtype, line));
  });
}

void FnLowering::storeStmt(const ir::Stmt& s) {
  // Python evaluates the value, then the target, then the whole index tuple, then stores
  Val v = expr(*s.value);
  Val base = expr(*s.args[0]);
  bool allScalar = (int)s.args.size() - 1 == base.t.ndim;
  for (size_t k = 1; k < s.args.size(); ++k) allScalar &= s.args[k]->kind != ExprKind::Slice;
  if (allScalar) {
    std::vector<Value*> raw, idx;
    for (size_t k = 1; k < s.args.size(); ++k) raw.push_back(convert(expr(*s.args[k]), Kind::Int, s.line).v);
    for (size_t k = 0; k < raw.size(); ++k)
      idx.push_back(proven.count(&s) ? raw[k] : normIndex(raw[k], dim(base, (int)k), (int)k, s.line));
    storeElem(base, idx, v, s.line);
    return;
  }
  ir::Expr probe;
  probe.kind = ExprKind::Index;
  probe.args = s.args;
  int nd = base.t.ndim;
  for (size_t k = 1; k < s.args.size(); ++k) nd -= s.args[k]->kind != ExprKind::Slice;
  Val target = view(base, probe, 1, Type::array(base.t.dtype, nd, ir::Layout::A));
  assignValue(target, v, s.line);
}

Val FnLowering::reduce(const std::string& op, Val arr, const Type& result, int line) {
  int code = op == "sum" ? EP_RED_SUM : op == "min" || op == "amin" ? EP_RED_MIN : op == "max" || op == "amax" ? EP_RED_MAX
           : op == "mean" ? EP_RED_MEAN : op == "argmin" ? EP_RED_ARGMIN : EP_RED_ARGMAX;
  Value* a = entryAlloca(m.arrayTy, "red.in");
  b.CreateStore(arr.v, a);
  Value* out = entryAlloca(b.getInt64Ty(), "red.out");
  Value* st = b.CreateCall(m.rt("ep_rt_reduce"), {ctx, i32(code), i32((int)arr.t.dtype), i32(arr.t.ndim), a,
                                                  ConstantPointerNull::get(b.getPtrTy()), loc(line), out});
  checkStatus(st);
  llvm::Type* rt = m.memTy(result.kind);
  Value* v = b.CreateLoad(rt, out);
  if (result.kind == Kind::NpBool) v = b.CreateICmpNE(v, b.getInt8(0));
  return {v, result};
}

Val FnLowering::arrayIntrinsic(const ir::Expr& e) {
  const std::string& n = e.name;
  std::string op = n.substr(n.find('.') + 1);
  int line = e.line;
  if (e.type.isArray() && isElementwise(e)) return arrayExpr(e);
  if (!e.type.isArray() && kElementwise.count(n)) {
    // NumPy function on scalars: NumPy semantics, NumPy scalar result
    if (n == "np.minimum" || n == "np.maximum" || n == "np.where") {
      std::vector<Val> args;
      for (auto& x : e.args) {
        Val v = expr(*x);
        args.push_back(v.t.kind == Kind::Union ? v : convert(v, passes::toNumpyKind(v.t.kind), line));
      }
      for (auto& v : args)
        if (v.t.kind == Kind::Union) throw ir::Unsupported{line, n + "() of a value of changing type"};
      return elementIntrinsic(n, args, e.type.kind, line);
    }
    Val a = expr(*e.args[0]);
    return forEach(a, e.type, [&](Val x) {
      Kind k = passes::toNumpyKind(x.t.kind);
      Val nx = convert(x, k, line);
      Kind rk = (n == "np.abs" || n == "np.absolute") ? k : passes::unaryFloatFuncKind(k);
      return arrayScalarFunc(n, nx, rk, line);
    }, line);
  }
  std::vector<Val> a;
  auto shapeOf = [&](Val s) {
    std::vector<Value*> shp;
    if (s.t.kind == Kind::Tuple)
      for (unsigned d = 0; d < s.t.elems.size(); ++d) shp.push_back(convert({b.CreateExtractValue(s.v, {d}), s.t.elems[d]}, Kind::Int, line).v);
    else shp.push_back(convert(s, Kind::Int, line).v);
    for (auto* d : shp) raiseIf(b.CreateICmpSLT(d, i64(0)), EP_EXC_VALUE, "negative dimensions are not allowed", line);
    return shp;
  };
  if (op == "zeros" || op == "ones" || op == "empty") {
    Val s = expr(*e.args[0]);
    return alloc(e.type.dtype, shapeOf(s), 0, op == "empty" ? 0 : op == "zeros" ? 1 : 2, line);
  }
  if (op == "full") {
    Val s = expr(*e.args[0]);
    Val v = expr(*e.args[1]);
    Val arr = alloc(e.type.dtype, shapeOf(s), 0, 0, line);
    std::vector<Value*> shape;
    for (int d = 0; d < arr.t.ndim; ++d) shape.push_back(dim(arr, d));
    loopNest(shape, [&](std::vector<Value*>& idx) { storeElem(arr, idx, v, line); });
    return arr;
  }
  if (op == "zeros_like" || op == "empty_like" || op == "ones_like") {
    Val src = expr(*e.args[0]);
    std::vector<Value*> shape;
    for (int d = 0; d < src.t.ndim; ++d) shape.push_back(dim(src, d));
    int order = src.t.layout == ir::Layout::F ? 1 : 0;
    Val r = alloc(e.type.dtype, shape, order, op == "empty_like" ? 0 : op == "zeros_like" ? 1 : 2, line);
    return {r.v, e.type};
  }
  if (op == "copy") {
    Val src = expr(*e.args[0]);
    std::vector<Value*> shape;
    for (int d = 0; d < src.t.ndim; ++d) shape.push_back(dim(src, d));
    Val r = alloc(e.type.dtype, shape, e.type.layout == ir::Layout::F ? 1 : 0, 0, line);
    Val srcA{src.v, Type::array(src.t.dtype, src.t.ndim, ir::Layout::A)};
    loopNest(shape, [&](std::vector<Value*>& idx) { storeRaw(r, idx, load(srcA, idx)); });
    return {r.v, e.type};
  }
  if (op == "arange") return arange(e);
  if (op == "fill") {
    Val arr = expr(*e.args[0]);
    Val v = expr(*e.args[1]);
    std::vector<Value*> shape;
    for (int d = 0; d < arr.t.ndim; ++d) shape.push_back(dim(arr, d));
    loopNest(shape, [&](std::vector<Value*>& idx) { storeElem(arr, idx, v, line); });
    return {b.getInt8(0), Type::none()};
  }
  if (op == "dot") {
    Val x = expr(*e.args[0]);
    Val y = expr(*e.args[1]);
    Kind k = e.type.kind;
    Val xs = x, ys = y;
    if (x.t.dtype != k || y.t.dtype != k) {
      // promote into temporaries of the common dtype
      auto promote = [&](Val s) -> Val {
        if (s.t.dtype == k) return s;
        Val t = alloc(k, {dim(s, 0)}, 0, 0, line);
        Val sA{s.v, Type::array(s.t.dtype, 1, ir::Layout::A)};
        loopNest({dim(s, 0)}, [&](std::vector<Value*>& idx) {
          storeRaw(t, idx, convert(load(sA, idx), k, line));
        });
        return t;
      };
      xs = promote(x);
      ys = promote(y);
    }
    Value* pa = entryAlloca(m.arrayTy, "dot.a");
    Value* pb = entryAlloca(m.arrayTy, "dot.b");
    b.CreateStore(xs.v, pa);
    b.CreateStore(ys.v, pb);
    Value* out = entryAlloca(b.getInt64Ty(), "dot.out");
    Value* st = b.CreateCall(m.rt("ep_rt_reduce"), {ctx, i32(EP_RED_DOT), i32((int)k), i32(1), pa, pb, loc(line), out});
    checkStatus(st);
    Value* v = b.CreateLoad(m.memTy(k), out);
    if (k == Kind::NpBool) v = b.CreateICmpNE(v, b.getInt8(0));
    return {v, e.type};
  }
  if (op == "sum" || op == "min" || op == "max" || op == "mean" || op == "argmin" || op == "argmax" || op == "amin" || op == "amax") {
    const ir::Expr& src = *e.args[0];
    if (!isElementwise(src)) return reduce(op, expr(src), e.type, line);
    // np.sum(np.sqrt(np.abs(x))) on a 1-d float expression: NumPy's pairwise sum, element by element
    if (op == "sum" && src.type.ndim == 1 && ir::isFloatKind(src.type.dtype) && e.type.kind == src.type.dtype)
      return fusedPairwiseSum(src, line);
    // np.sum(np.sqrt(np.abs(x))): the fused expression goes to scratch memory, not a NumPy array
    Val tmp = materialise(src, true);
    Val r = reduce(op, tmp, e.type, line);
    b.CreateCall(m.rt("ep_rt_scratch_free"), {ctx, b.CreateExtractValue(tmp.v, {0})});
    return r;
  }
  if (op == "cast") {
    // np.int32(x) of a float converts like int(x) (NaN/inf raise) and then checks the range
    Val x = expr(*e.args[0]);
    Kind k = e.type.kind;
    return forEach(x, e.type, [&](Val v) {
      if (ir::isIntKind(k) && v.t.kind == Kind::Float) v = convert(v, Kind::Int, line);  // a Python float
      return convert(v, k, line);
    }, line);
  }
  throw ir::Unsupported{line, "internal error: array intrinsic " + n};
}

}  // namespace epochpp::codegen
