// jit/codegen/fusion.h — fused element-wise expressions: the leaves (evaluated once, in
// Python's order) and one element of the whole expression at given indices. Used by the fused
// loops (lower_array.cpp) and the fused pairwise sums (lower_pairwise.cpp).
#pragma once
#include <map>
#include <set>
#include <string>

#include "jit/codegen/codegen_impl.h"
#include "jit/passes/passes.h"

namespace epochpp::codegen {

using llvm::Value;
using ir::ExprKind;
using ir::Op;

inline const std::set<std::string> kElementwise = {"np.sqrt", "np.exp", "np.log", "np.sin", "np.cos", "np.tan", "np.tanh",
                                             "np.log2", "np.log10", "np.arcsin", "np.arccos", "np.arctan", "np.sinh",
                                             "np.cosh", "np.expm1", "np.log1p", "np.abs", "np.absolute", "np.fabs",
                                             "np.minimum", "np.maximum", "np.where"};
inline bool isElementwise(const ir::Expr& e) {
  if (!e.type.isArray()) return false;
  if ((e.kind == ExprKind::Binary || e.kind == ExprKind::Compare || e.kind == ExprKind::Unary) && e.ival != 1) return true;
  return e.kind == ExprKind::Intrinsic && kElementwise.count(e.name);
}

struct Leaf {
  Val v;                       // array (with broadcast strides) or scalar
  std::vector<Value*> strides;  // per result dim, 0 where broadcast
};

struct Fusion {
  FnLowering& L;
  int nd;
  std::vector<Leaf> leaves;
  std::map<const ir::Expr*, size_t> leafOf;
  bool contigInner = false;  // this loop version: every array leaf is unit-stride in the last dim

  // Evaluates the leaves in Python's order. Each element-wise operation checks that its
  // operands' shapes broadcast right after they are evaluated: in `a - b + a[13]` NumPy raises
  // for `a - b` before Python evaluates `a[13]` (fuzz bug G). Returns the node's shape
  // (right-aligned dims; empty for a scalar).
  std::vector<llvm::Value*> collect(const ir::Expr& e) {
    if (isElementwise(e)) {
      std::vector<std::vector<llvm::Value*>> shapes;
      for (auto& a : e.args) shapes.push_back(collect(*a));
      size_t nd = 0;
      for (auto& sh : shapes) nd = std::max(nd, sh.size());
      std::vector<llvm::Value*> out(nd, L.i64(1));
      int arrays = 0;
      for (auto& sh : shapes) arrays += !sh.empty();
      for (auto& sh : shapes)
        for (size_t d = 0; d < sh.size(); ++d) {
          size_t rd = nd - sh.size() + d;
          if (arrays > 1) {
            llvm::Value* ok = L.b.CreateOr(L.b.CreateOr(L.b.CreateICmpEQ(sh[d], out[rd]), L.b.CreateICmpEQ(sh[d], L.i64(1))),
                                           L.b.CreateICmpEQ(out[rd], L.i64(1)));
            L.raiseIf(L.b.CreateNot(ok), EP_EXC_VALUE, "operands could not be broadcast together", e.line);
          }
          out[rd] = L.b.CreateSelect(L.b.CreateICmpEQ(out[rd], L.i64(1)), sh[d], out[rd]);
        }
      return out;
    }
    Leaf l;
    l.v = L.expr(e);
    leafOf[&e] = leaves.size();
    leaves.push_back(l);
    std::vector<llvm::Value*> sh;
    if (l.v.t.isArray())
      for (int d = 0; d < l.v.t.ndim; ++d) sh.push_back(L.dim(l.v, d));
    return sh;
  }

  // NEP 50: a Python int beside an int32 operand must fit in int32. NumPy raises OverflowError
  // when the ufunc is called, elements or not (true division and comparisons excepted), so it
  // is checked once before the loop: an empty array raises too (fuzz bug L).
  void weakIntChecks(const ir::Expr& e) {
    if (!isElementwise(e)) return;
    for (auto& a : e.args) weakIntChecks(*a);
    if (e.kind != ExprKind::Binary || e.args.size() != 2 || e.op == Op::Div) return;
    for (int s = 0; s < 2; ++s) {
      const ir::Expr& x = *e.args[s];
      const ir::Expr& other = *e.args[1 - s];
      if (isElementwise(x) || x.type.kind != Kind::Int) continue;  // a Python int leaf
      Kind ok = other.type.isArray() ? other.type.dtype : other.type.kind;
      if (ok == Kind::NpInt32) L.convert(leaves[leafOf.at(&x)].v, Kind::NpInt32, e.line);
    }
  }

  // One element of the expression at `idx` (result coordinates).
  Val elem(const ir::Expr& e, const std::vector<Value*>& idx) {
    auto& b = L.b;
    if (!isElementwise(e)) {
      Leaf& l = leaves[leafOf.at(&e)];
      if (!l.v.t.isArray()) return l.v;
      Value* off = b.getInt64(0);
      for (int d = 0; d < nd - (contigInner ? 1 : 0); ++d)
        if (l.strides[d]) off = b.CreateAdd(off, b.CreateMul(idx[d], l.strides[d]));
      llvm::Type* et = L.m.memTy(l.v.t.dtype);
      Value* p = b.CreateGEP(b.getInt8Ty(), b.CreateExtractValue(l.v.v, {0}), off);
      if (contigInner) p = b.CreateGEP(et, p, idx[nd - 1]);  // typed unit stride: LLVM vectorises
      Value* v = b.CreateLoad(et, p);
      if (l.v.t.dtype == Kind::NpBool) v = b.CreateICmpNE(v, b.getInt8(0));
      return {v, Type::scalar(l.v.t.dtype)};
    }
    Kind rk = e.type.dtype;
    if (e.kind == ExprKind::Unary) {
      Val a = elem(*e.args[0], idx);
      if (e.op == Op::Pos) return a;
      if (e.op == Op::Invert) return {a.t.kind == Kind::NpBool ? b.CreateNot(a.v) : b.CreateNot(a.v), a.t};
      if (ir::isFloatKind(a.t.kind)) return {b.CreateFNeg(a.v), a.t};
      return {b.CreateNeg(a.v), a.t};
    }
    if (e.kind == ExprKind::Binary || e.kind == ExprKind::Compare) {
      Val a = elem(*e.args[0], idx), c = elem(*e.args[1], idx);
      // array context: both operands behave as NumPy values (Python scalars are weak)
      Kind ka = a.t.kind, kc = c.t.kind;
      if (!ir::isNumpyScalar(ka) && !ir::isNumpyScalar(kc)) { a = L.convert(a, passes::toNumpyKind(ka), e.line); }
      return L.binaryScalar(e.op, a, c, e.line);
    }
    std::vector<Val> args;
    for (auto& a : e.args) args.push_back(elem(*a, idx));
    return L.elementIntrinsic(e.name, args, rk, e.line);
  }
};

}  // namespace epochpp::codegen
