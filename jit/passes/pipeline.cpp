// jit/passes/pipeline.cpp — the pass pipeline; reads as the table of contents of the middle end.
#include "jit/passes/passes.h"

namespace epochpp::passes {

static void check(const ir::Function& f, bool typed, const char* after) {
  std::string err = ir::verify(f, typed);
  if (!err.empty()) throw ir::Unsupported{f.first_line, std::string("internal error: IR invalid after ") + after + ":\n" + err};
}

void runPipeline(ir::Function& f, const std::vector<ir::Type>& params, const CalleeTyper& callees,
                 const PipelineOptions& opts) {
  if (opts.verify) check(f, false, "frontend");
  inferTypes(f, params, callees);
  if (opts.verify) check(f, true, "type inference");
  if (opts.level >= 3 && loopArrayExpressions(f)) {  // new statements and locals: typed again
    inferTypes(f, params, callees);
    if (opts.verify) check(f, true, "array_loops");
  }
  inferIntSigns(f);
  inferFloatSigns(f);
  markTailCalls(f);
  if (opts.level >= 3) markParallelLoops(f, opts.callee);
  markLaneLoops(f);
  boundRecursion(f);  // after: a function with a parallel loop keeps its checks
  analyseEffects(f, opts.callee);
  hoistBoundsChecks(f);
  hoistOverflowChecks(f);
}

}  // namespace epochpp::passes
