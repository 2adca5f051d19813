// jit/passes/promotion.cpp — Python's and NumPy's (NEP 50) arithmetic result types, in one table.
#include "jit/passes/passes.h"

namespace epochpp::passes {

using ir::Kind;
using ir::Op;
using ir::Type;

bool usesNumpyRules(Kind a, Kind b) { return ir::isNumpyScalar(a) || ir::isNumpyScalar(b); }

Kind toNumpyKind(Kind k) {
  switch (k) {
    case Kind::Bool: return Kind::NpBool;
    case Kind::Int: return Kind::NpInt64;
    case Kind::Float: return Kind::NpFloat64;
    default: return k;
  }
}

static int rank(Kind k) {
  switch (k) {
    case Kind::NpBool: return 0;
    case Kind::NpInt32: return 1;
    case Kind::NpInt64: return 2;
    case Kind::NpFloat32: return 3;
    case Kind::NpFloat64: return 4;
    default: return -1;
  }
}

Kind numpyPromote(Kind a, Kind b) {
  if (a == b) return a;
  // int + float32 -> float64 (float32 cannot hold every int32/int64)
  bool fa = ir::isFloatKind(a), fb = ir::isFloatKind(b);
  if ((a == Kind::NpFloat32 && !fb && b != Kind::NpBool) || (b == Kind::NpFloat32 && !fa && a != Kind::NpBool))
    return Kind::NpFloat64;
  return rank(a) >= rank(b) ? a : b;
}

Kind numpyWeak(Kind np, Kind py) {
  // A Python scalar adopts the NumPy operand's kind unless it is of a higher category.
  if (py == Kind::Bool) return np;
  if (py == Kind::Int) return np == Kind::NpBool ? Kind::NpInt64 : np;
  if (py == Kind::Float) return ir::isFloatKind(np) ? np : Kind::NpFloat64;
  return np;
}

static Kind npResult(Kind a, Kind b) {
  if (ir::isNumpyScalar(a) && ir::isNumpyScalar(b)) return numpyPromote(a, b);
  if (ir::isNumpyScalar(a)) return numpyWeak(a, b);
  return numpyWeak(b, a);
}

Kind unaryFloatFuncKind(Kind k) { return k == Kind::NpFloat32 ? Kind::NpFloat32 : Kind::NpFloat64; }

Kind arrayResultDtype(Op op, Kind a, Kind b) {
  Kind k = npResult(a, b);
  bool anyBool = a == Kind::NpBool || b == Kind::NpBool;
  if (anyBool && (op == Op::FloorDiv || op == Op::Mod || op == Op::Pow))
    return Kind::Unknown;  // NumPy picks int8 for these with booleans: not compiled
  switch (op) {
    case Op::Div:
      return ir::isFloatKind(k) ? k : Kind::NpFloat64;
    case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge: case Op::Eq: case Op::Ne:
      return Kind::NpBool;
    case Op::Add: case Op::Mul:
      return k;  // bool + bool is logical or/and in NumPy
    case Op::Sub:
      return k == Kind::NpBool ? Kind::Unknown : k;
    case Op::FloorDiv: case Op::Mod: case Op::Pow:
      return k == Kind::NpBool ? Kind::Unknown : k;  // NumPy gives int8 for bools: not compiled
    case Op::BitAnd: case Op::BitOr: case Op::BitXor: case Op::LShift: case Op::RShift:
      return ir::isFloatKind(k) ? Kind::Unknown : k;
    default:
      return Kind::Unknown;
  }
}

Type binaryResult(Op op, Kind a, Kind b, bool rhs_nonneg_const) {
  auto S = [](Kind k) { return Type::scalar(k); };
  bool cmp = op == Op::Lt || op == Op::Le || op == Op::Gt || op == Op::Ge || op == Op::Eq || op == Op::Ne;
  if (usesNumpyRules(a, b)) {
    if (cmp) return S(Kind::NpBool);
    Kind k = npResult(a, b);
    if (k == Kind::NpBool && op != Op::BitAnd && op != Op::BitOr && op != Op::BitXor && op != Op::Add && op != Op::Mul)
      return Type::unknown();  // NumPy bool - and / // % ** (TypeError or int8 results): not supported
    Kind r = arrayResultDtype(op, a, b);
    return r == Kind::Unknown ? Type::unknown() : S(r);
  }
  // Python scalars.
  if (cmp) return S(Kind::Bool);
  bool fl = a == Kind::Float || b == Kind::Float;
  switch (op) {
    case Op::Add: case Op::Sub: case Op::Mul: case Op::FloorDiv: case Op::Mod:
      return S(fl ? Kind::Float : Kind::Int);
    case Op::Div:
      return S(Kind::Float);
    case Op::Pow:
      if (fl) return S(Kind::Float);
      return rhs_nonneg_const ? S(Kind::Int) : ir::makeUnion({Kind::Int, Kind::Float});
    case Op::BitAnd: case Op::BitOr: case Op::BitXor:
      if (fl) return Type::unknown();
      return S(a == Kind::Bool && b == Kind::Bool ? Kind::Bool : Kind::Int);
    case Op::LShift: case Op::RShift:
      if (fl) return Type::unknown();
      return S(Kind::Int);
    default:
      return Type::unknown();
  }
}

}  // namespace epochpp::passes
