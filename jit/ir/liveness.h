// jit/ir/liveness.h — which locals a function may still read after a given statement.
#pragma once

#include <set>

#include "jit/ir/nodes.h"

namespace epochpp::ir {

// The locals that some path from the end of statement `target` (in f's body) reads before
// assigning them again: a backward liveness over the structured body (loops to a fixed point,
// `break` and `continue` to their loop's exit and head, `return` ends every path). Conservative:
// a `:=` inside an expression counts as a read, never as an assignment. There is no `try` in the
// subset and locals are not visible outside the function, so nothing else reads them (an
// exception or a deopt ends the call: the interpreter re-runs a deopted call from its start).
// For a loop, its own `else` block counts as after it: a normal exit runs it first (fuzz
// program 2212008055: `for x in a: pass` / `else: v = x` ran in parallel and left x unset).
std::set<int> liveAfter(const Function& f, const Stmt& target);

}  // namespace epochpp::ir
