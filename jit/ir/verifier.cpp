// jit/ir/verifier.cpp — structural checks on the IR, run after every pass in debug builds and in tests.
#include <sstream>

#include "jit/ir/nodes.h"

namespace epochpp::ir {
namespace {

struct Verifier {
  const Function& f;
  bool types;
  std::ostringstream err;
  int loop_depth = 0;

  void fail(int line, const std::string& what) { err << "line " << line << ": " << what << "\n"; }

  void slot(int s, int line) {
    if (s < 0 || s >= (int)f.locals.size()) fail(line, "slot " + std::to_string(s) + " out of range");
  }

  void expr(const ExprPtr& e) {
    if (!e) {
      err << "null expression\n";
      return;
    }
    if (types && !e->type.known()) fail(e->line, "untyped expression " + print(*e, f));
    size_t n = e->args.size();
    auto need = [&](size_t k) {
      if (n != k) fail(e->line, "expected " + std::to_string(k) + " operands, got " + std::to_string(n));
    };
    switch (e->kind) {
      case ExprKind::Const: need(0); break;
      case ExprKind::Var: need(0); slot(e->slot, e->line); break;
      case ExprKind::Unary: need(1); break;
      case ExprKind::Binary: case ExprKind::Compare: case ExprKind::BoolOp: need(2); break;
      case ExprKind::IfExp: need(3); break;
      case ExprKind::Slice: need(3); break;
      case ExprKind::RangeMake: need(3); break;
      case ExprKind::Attr: need(1); break;
      case ExprKind::TupleGet: need(1); break;
      case ExprKind::NamedExpr: need(1); slot(e->slot, e->line); break;
      case ExprKind::Index: if (n < 2) fail(e->line, "index without indices"); break;
      case ExprKind::CallFunc:
        if (e->callee < 0 || e->callee >= (int)f.callees.size()) fail(e->line, "bad callee");
        break;
      case ExprKind::Intrinsic: case ExprKind::TupleMake: break;
    }
    for (auto& a : e->args) expr(a);
  }

  void block(const Block& b) {
    for (auto& s : b) stmt(s);
  }

  void stmt(const StmtPtr& s) {
    switch (s->kind) {
      case StmtKind::Assign: slot(s->slot, s->line); expr(s->value); break;
      case StmtKind::Store:
        if (s->args.size() < 2) fail(s->line, "store without indices");
        for (auto& a : s->args) expr(a);
        expr(s->value);
        break;
      case StmtKind::ExprStmt: case StmtKind::Return: expr(s->value); break;
      case StmtKind::If: expr(s->value); block(s->body); block(s->orelse); break;
      case StmtKind::For:
        slot(s->slot, s->line);
        if (!s->value || s->value->kind != ExprKind::RangeMake) fail(s->line, "for without range");
        else expr(s->value);
        ++loop_depth; block(s->body); --loop_depth;
        block(s->orelse);
        break;
      case StmtKind::While:
        expr(s->value);
        ++loop_depth; block(s->body); --loop_depth;
        block(s->orelse);
        break;
      case StmtKind::Break: case StmtKind::Continue:
        if (loop_depth == 0) fail(s->line, "break/continue outside a loop");
        break;
      case StmtKind::Pass: break;
    }
  }
};

}  // namespace

std::string verify(const Function& f, bool require_types) {
  Verifier v{f, require_types, {}};
  if (f.num_params > (int)f.locals.size()) v.err << "more params than locals\n";
  if (require_types) {
    for (auto& l : f.locals)
      if (!l.type.known()) v.err << "local '" << l.name << "' has no type\n";
  }
  v.block(f.body);
  return v.err.str();
}

}  // namespace epochpp::ir
