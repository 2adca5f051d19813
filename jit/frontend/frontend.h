// jit/frontend/frontend.h — Python AST (from `ast.parse`) -> untyped IR, with the globals it relied on.
#pragma once
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "jit/ir/nodes.h"

namespace epochpp::frontend {

namespace py = pybind11;

// A global (or builtin) the IR depends on: the runtime re-checks `expected` is still bound
// to `name` in the function's globals before each call (nullptr: must stay absent). With
// `dict` set, the name lives there instead: a module's __dict__ for `np.sqrt` or `math.sin`.
struct Guard {
  std::string name;
  py::object expected;
  py::object dict;
};

struct FrontendResult {
  ir::Function fn;
  std::vector<Guard> guards;
  std::vector<py::object> callees;  // parallel to fn.callees: the Python function objects
};

// `funcdef` is an ast.FunctionDef whose line numbers are the file's; `globals` the function's
// __globals__. Throws ir::Unsupported naming the line and construct when it cannot lower.
// `freevars`: the names the function closes over (co_freevars), which are not compiled.
// `partial`, when given, receives the guards collected before lowering failed: the decision
// to fall back may rest on a global's value (an int beyond int64), so it is retried once that
// global is rebound.
FrontendResult lower(py::handle funcdef, py::handle globals, const std::string& file,
                     const std::vector<std::string>& freevars = {}, std::vector<Guard>* partial = nullptr);

}  // namespace epochpp::frontend
