// jit/ir/types.h — the type lattice of the one typed IR (scalars, NumPy scalars, arrays, tuples, unions).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace epochpp::ir {

// Python scalars (Bool, Int, Float) follow Python's rules; Np* scalars follow NumPy's (wrap, no raise).
enum class Kind : uint8_t {
  Unknown, None, Bool, Int, Float,
  NpBool, NpInt32, NpInt64, NpFloat32, NpFloat64,
  Array, Tuple, Union, Range,
};

enum class Layout : uint8_t { C, F, A };  // C-contiguous, Fortran-contiguous, any strides

struct Type {
  Kind kind = Kind::Unknown;
  Kind dtype = Kind::Unknown;      // Array: element kind (one of the Np* kinds)
  uint8_t ndim = 0;                // Array
  Layout layout = Layout::A;       // Array
  bool readonly = false;           // Array
  std::vector<Type> elems;         // Tuple: elements; Union: members (scalar kinds, sorted)

  static Type unknown() { return {}; }
  static Type none() { return scalar(Kind::None); }
  static Type scalar(Kind k) { Type t; t.kind = k; return t; }
  static Type array(Kind dtype, int ndim, Layout layout, bool readonly = false);
  static Type tuple(std::vector<Type> elems);
  static Type range() { return scalar(Kind::Range); }

  bool operator==(const Type& o) const;
  bool operator!=(const Type& o) const { return !(*this == o); }
  bool known() const { return kind != Kind::Unknown; }
  bool isScalar() const;          // a single numeric scalar (not a union)
  bool isNumeric() const { return isScalar() || kind == Kind::Union; }
  bool isArray() const { return kind == Kind::Array; }
  bool isFloatLike() const;       // Float, NpFloat32, NpFloat64
  bool isIntLike() const;         // Int, NpInt32, NpInt64
  bool isBoolLike() const { return kind == Kind::Bool || kind == Kind::NpBool; }
  std::string str() const;
};

// Scalar-kind helpers.
bool isNumpyScalar(Kind k);
bool isFloatKind(Kind k);
bool isIntKind(Kind k);
int bitWidth(Kind k);            // storage bits of a scalar kind (Bool 1, Int 64, Float 64, ...)
const char* kindName(Kind k);

// The union (join) of two types: equal -> same; scalar mixes -> Union; anything else -> Unknown.
Type join(const Type& a, const Type& b);
// Members of a scalar or union type (a scalar is a one-member set).
std::vector<Kind> members(const Type& t);
Type makeUnion(std::vector<Kind> kinds);

}  // namespace epochpp::ir
