// jit/frontend/frontend.h — Python AST (from `ast.parse`) -> untyped IR, with the globals it relied on.
#pragma once
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "jit/ir/nodes.h"

namespace epochpp::frontend {

namespace py = pybind11;

// A global (or builtin) the IR depends on: the runtime re-checks `expected` is still bound
// to `name` in the function's globals before each call (nullptr: must stay absent).
struct Guard {
  std::string name;
  py::object expected;
};

struct FrontendResult {
  ir::Function fn;
  std::vector<Guard> guards;
  std::vector<py::object> callees;  // parallel to fn.callees: the Python function objects
};

// `funcdef` is an ast.FunctionDef whose line numbers are the file's; `globals` the function's
// __globals__. Throws ir::Unsupported naming the line and construct when it cannot lower.
// `freevars`: the names the function closes over (co_freevars), which are not compiled.
FrontendResult lower(py::handle funcdef, py::handle globals, const std::string& file,
                     const std::vector<std::string>& freevars = {});

}  // namespace epochpp::frontend
