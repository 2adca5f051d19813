// jit/ir/types.cpp — type construction, equality, join and printing.
#include "jit/ir/types.h"

#include <algorithm>

namespace epochpp::ir {

Type Type::array(Kind dtype, int ndim, Layout layout, bool readonly) {
  Type t;
  t.kind = Kind::Array;
  t.dtype = dtype;
  t.ndim = static_cast<uint8_t>(ndim);
  t.layout = layout;
  t.readonly = readonly;
  return t;
}

Type Type::tuple(std::vector<Type> elems) {
  Type t;
  t.kind = Kind::Tuple;
  t.elems = std::move(elems);
  return t;
}

bool Type::operator==(const Type& o) const {
  return kind == o.kind && dtype == o.dtype && ndim == o.ndim && layout == o.layout &&
         readonly == o.readonly && elems == o.elems;
}

bool isNumpyScalar(Kind k) { return k >= Kind::NpBool && k <= Kind::NpFloat64; }
bool isFloatKind(Kind k) { return k == Kind::Float || k == Kind::NpFloat32 || k == Kind::NpFloat64; }
bool isIntKind(Kind k) { return k == Kind::Int || k == Kind::NpInt32 || k == Kind::NpInt64; }

bool Type::isScalar() const { return kind >= Kind::Bool && kind <= Kind::NpFloat64; }
bool Type::isFloatLike() const { return isFloatKind(kind); }
bool Type::isIntLike() const { return isIntKind(kind); }

int bitWidth(Kind k) {
  switch (k) {
    case Kind::Bool: case Kind::NpBool: return 1;
    case Kind::NpInt32: case Kind::NpFloat32: return 32;
    default: return 64;
  }
}

const char* kindName(Kind k) {
  switch (k) {
    case Kind::Unknown: return "?";
    case Kind::None: return "none";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::NpBool: return "np.bool";
    case Kind::NpInt32: return "np.int32";
    case Kind::NpInt64: return "np.int64";
    case Kind::NpFloat32: return "np.float32";
    case Kind::NpFloat64: return "np.float64";
    case Kind::Array: return "array";
    case Kind::Tuple: return "tuple";
    case Kind::Union: return "union";
    case Kind::Range: return "range";
  }
  return "?";
}

std::string Type::str() const {
  switch (kind) {
    case Kind::Array: {
      std::string d = kindName(dtype);
      if (d.rfind("np.", 0) == 0) d = d.substr(3);
      std::string s = "array[" + d + ", " + std::to_string(ndim) + "d, " +
                      (layout == Layout::C ? "C" : layout == Layout::F ? "F" : "A");
      if (readonly) s += ", ro";
      return s + "]";
    }
    case Kind::Tuple: {
      std::string s = "(";
      for (size_t i = 0; i < elems.size(); ++i) s += (i ? ", " : "") + elems[i].str();
      if (elems.size() == 1) s += ",";
      return s + ")";
    }
    case Kind::Union: {
      std::string s;
      for (size_t i = 0; i < elems.size(); ++i) s += (i ? "|" : "") + elems[i].str();
      return s;
    }
    default: return kindName(kind);
  }
}

std::vector<Kind> members(const Type& t) {
  if (t.kind == Kind::Union) {
    std::vector<Kind> out;
    for (auto& e : t.elems) out.push_back(e.kind);
    return out;
  }
  return {t.kind};
}

Type makeUnion(std::vector<Kind> kinds) {
  std::sort(kinds.begin(), kinds.end());
  kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
  if (kinds.size() == 1) return Type::scalar(kinds[0]);
  Type t;
  t.kind = Kind::Union;
  for (Kind k : kinds) t.elems.push_back(Type::scalar(k));
  return t;
}

Type join(const Type& a, const Type& b) {
  if (!a.known()) return b;
  if (!b.known()) return a;
  if (a == b) return a;
  auto unionable = [](const Type& t) { return t.isNumeric() || t.kind == Kind::None; };
  if (unionable(a) && unionable(b)) {
    auto ka = members(a), kb = members(b);
    ka.insert(ka.end(), kb.begin(), kb.end());
    return makeUnion(ka);
  }
  if (a.kind == Kind::Tuple && b.kind == Kind::Tuple && a.elems.size() == b.elems.size()) {
    std::vector<Type> e;
    for (size_t i = 0; i < a.elems.size(); ++i) {
      Type j = join(a.elems[i], b.elems[i]);
      if (!j.known()) return Type::unknown();
      e.push_back(j);
    }
    return Type::tuple(e);
  }
  if (a.kind == Kind::Array && b.kind == Kind::Array && a.dtype == b.dtype && a.ndim == b.ndim) {
    // Same element type and rank: the join forgets layout facts.
    return Type::array(a.dtype, a.ndim, a.layout == b.layout ? a.layout : Layout::A,
                       a.readonly || b.readonly);
  }
  Type bad;
  bad.kind = Kind::Unknown;
  return bad;
}

}  // namespace epochpp::ir
