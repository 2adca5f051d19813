// tests/cpp/pass_test_util.h — building IR by hand for the pass tests (test_passes.cpp, test_loop_facts.cpp).
#pragma once
#include <string>
#include <vector>

#include "jit/ir/nodes.h"
#include "jit/passes/passes.h"

namespace epochpp::passes::testing_util {

using namespace ir;

inline Type S(Kind k) { return Type::scalar(k); }
inline Type Arr(Kind d, int nd, Layout l = Layout::C) { return Type::array(d, nd, l); }
inline Type U(std::vector<Kind> k) { return makeUnion(std::move(k)); }

inline const CalleeTyper kNoCallees = [](int, const std::vector<Type>&, int line) -> Type {
  throw Unsupported{line, "no callees in this test"};
};

// A function under construction, named like the frontend names things.
struct Fn {
  Function f;
  explicit Fn(const std::string& name, std::vector<std::string> params, int line = 1) {
    f.name = name;
    f.file = "test.py";
    f.first_line = line;
    for (auto& p : params) f.addLocal(p, true);
    f.num_params = (int)params.size();
  }
  int local(const std::string& n) { return f.addLocal(n); }
  ExprPtr var(const std::string& n, int line = 0) { return mkVar(f.addLocal(n), line); }
};

inline ExprPtr range0(ExprPtr stop, int line) { return mkRange(mkConstInt(0, line), std::move(stop), mkConstInt(1, line), line); }
inline ExprPtr inplace(Op op, ExprPtr a, ExprPtr b, int line) {
  auto e = mkBinary(op, std::move(a), std::move(b), line);
  e->ival = 1;
  return e;
}

}  // namespace epochpp::passes::testing_util
