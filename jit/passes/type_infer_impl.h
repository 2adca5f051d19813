// jit/passes/type_infer_impl.h — state shared by type_inference.cpp and type_intrinsics.cpp.
#pragma once
#include "jit/passes/passes.h"

namespace epochpp::passes {

struct TypeInfer {
  ir::Function& f;
  const CalleeTyper& callees;
  bool strict = false;    // final round: every expression must get a type
  bool changed = false;

  [[noreturn]] void fail(int line, const std::string& what) { throw ir::Unsupported{line, what}; }

  ir::Type expr(ir::Expr& e);
  ir::Type intrinsic(ir::Expr& e, const std::vector<ir::Type>& args);
  ir::Type index(ir::Expr& e, const std::vector<ir::Type>& args);
  ir::Type binary(ir::Expr& e, const ir::Type& a, const ir::Type& b);
  void block(ir::Block& b);
  void stmt(ir::Stmt& s);
  void assign(int slot, const ir::Type& t, int line);
};

}  // namespace epochpp::passes
