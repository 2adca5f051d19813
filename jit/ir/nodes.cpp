// jit/ir/nodes.cpp — the IR builder: node constructors and Function helpers.
#include "jit/ir/nodes.h"

namespace epochpp::ir {

const char* opName(Op op) {
  switch (op) {
    case Op::None: return "?";
    case Op::Neg: return "-";
    case Op::Pos: return "+";
    case Op::Not: return "not";
    case Op::Invert: return "~";
    case Op::Add: return "+";
    case Op::Sub: return "-";
    case Op::Mul: return "*";
    case Op::Div: return "/";
    case Op::FloorDiv: return "//";
    case Op::Mod: return "%";
    case Op::Pow: return "**";
    case Op::BitAnd: return "&";
    case Op::BitOr: return "|";
    case Op::BitXor: return "^";
    case Op::LShift: return "<<";
    case Op::RShift: return ">>";
    case Op::MatMul: return "@";
    case Op::Lt: return "<";
    case Op::Le: return "<=";
    case Op::Gt: return ">";
    case Op::Ge: return ">=";
    case Op::Eq: return "==";
    case Op::Ne: return "!=";
    case Op::And: return "and";
    case Op::Or: return "or";
  }
  return "?";
}

int Function::slotOf(const std::string& n) const {
  for (size_t i = 0; i < locals.size(); ++i)
    if (locals[i].name == n) return static_cast<int>(i);
  return -1;
}

int Function::addLocal(const std::string& n, bool is_param) {
  int s = slotOf(n);
  if (s >= 0) return s;
  locals.push_back({n, Type::unknown(), is_param});
  return static_cast<int>(locals.size()) - 1;
}

static ExprPtr mk(ExprKind k, int line) {
  auto e = std::make_shared<Expr>();
  e->kind = k;
  e->line = line;
  return e;
}

ExprPtr mkConstInt(int64_t v, int line) {
  auto e = mk(ExprKind::Const, line);
  e->type = Type::scalar(Kind::Int);
  e->ival = v;
  return e;
}
ExprPtr mkConstBool(bool v, int line) {
  auto e = mk(ExprKind::Const, line);
  e->type = Type::scalar(Kind::Bool);
  e->ival = v;
  return e;
}
ExprPtr mkConstFloat(double v, int line) {
  auto e = mk(ExprKind::Const, line);
  e->type = Type::scalar(Kind::Float);
  e->fval = v;
  return e;
}
ExprPtr mkConstNone(int line) {
  auto e = mk(ExprKind::Const, line);
  e->type = Type::none();
  return e;
}
ExprPtr mkVar(int slot, int line) {
  auto e = mk(ExprKind::Var, line);
  e->slot = slot;
  return e;
}
ExprPtr mkUnary(Op op, ExprPtr a, int line) {
  auto e = mk(ExprKind::Unary, line);
  e->op = op;
  e->args = {std::move(a)};
  return e;
}
ExprPtr mkBinary(Op op, ExprPtr a, ExprPtr b, int line) {
  auto e = mk(ExprKind::Binary, line);
  e->op = op;
  e->args = {std::move(a), std::move(b)};
  return e;
}
ExprPtr mkCompare(Op op, ExprPtr a, ExprPtr b, int line) {
  auto e = mkBinary(op, std::move(a), std::move(b), line);
  e->kind = ExprKind::Compare;
  return e;
}
ExprPtr mkBoolOp(Op op, ExprPtr a, ExprPtr b, int line) {
  auto e = mkBinary(op, std::move(a), std::move(b), line);
  e->kind = ExprKind::BoolOp;
  return e;
}
ExprPtr mkIfExp(ExprPtr c, ExprPtr t, ExprPtr f, int line) {
  auto e = mk(ExprKind::IfExp, line);
  e->args = {std::move(c), std::move(t), std::move(f)};
  return e;
}
ExprPtr mkIntrinsic(const std::string& name, std::vector<ExprPtr> args, int line) {
  auto e = mk(ExprKind::Intrinsic, line);
  e->name = name;
  e->args = std::move(args);
  e->ival = -1;  // no dtype= argument
  return e;
}
ExprPtr mkCallFunc(int callee, const std::string& name, std::vector<ExprPtr> args, int line) {
  auto e = mk(ExprKind::CallFunc, line);
  e->callee = callee;
  e->name = name;
  e->args = std::move(args);
  return e;
}
ExprPtr mkIndex(ExprPtr base, std::vector<ExprPtr> idx, int line) {
  auto e = mk(ExprKind::Index, line);
  e->args.push_back(std::move(base));
  for (auto& i : idx) e->args.push_back(std::move(i));
  return e;
}
ExprPtr mkSlice(ExprPtr start, ExprPtr stop, ExprPtr step, int line) {
  auto e = mk(ExprKind::Slice, line);
  e->args = {std::move(start), std::move(stop), std::move(step)};
  return e;
}
ExprPtr mkAttr(const std::string& name, ExprPtr base, int line) {
  auto e = mk(ExprKind::Attr, line);
  e->name = name;
  e->args = {std::move(base)};
  return e;
}
ExprPtr mkTuple(std::vector<ExprPtr> elems, int line) {
  auto e = mk(ExprKind::TupleMake, line);
  e->args = std::move(elems);
  return e;
}
ExprPtr mkTupleGet(ExprPtr t, int64_t i, int line) {
  auto e = mk(ExprKind::TupleGet, line);
  e->args = {std::move(t)};
  e->ival = i;
  return e;
}
ExprPtr mkNamed(int slot, ExprPtr v, int line) {
  auto e = mk(ExprKind::NamedExpr, line);
  e->slot = slot;
  e->args = {std::move(v)};
  return e;
}
ExprPtr mkRange(ExprPtr start, ExprPtr stop, ExprPtr step, int line) {
  auto e = mk(ExprKind::RangeMake, line);
  e->args = {std::move(start), std::move(stop), std::move(step)};
  return e;
}

static StmtPtr mks(StmtKind k, int line) {
  auto s = std::make_shared<Stmt>();
  s->kind = k;
  s->line = line;
  return s;
}

StmtPtr mkAssign(int slot, ExprPtr v, int line) {
  auto s = mks(StmtKind::Assign, line);
  s->slot = slot;
  s->value = std::move(v);
  return s;
}
StmtPtr mkStore(ExprPtr target, std::vector<ExprPtr> idx, ExprPtr v, int line) {
  auto s = mks(StmtKind::Store, line);
  s->args.push_back(std::move(target));
  for (auto& i : idx) s->args.push_back(std::move(i));
  s->value = std::move(v);
  return s;
}
StmtPtr mkExprStmt(ExprPtr v, int line) {
  auto s = mks(StmtKind::ExprStmt, line);
  s->value = std::move(v);
  return s;
}
StmtPtr mkIf(ExprPtr c, Block body, Block orelse, int line) {
  auto s = mks(StmtKind::If, line);
  s->value = std::move(c);
  s->body = std::move(body);
  s->orelse = std::move(orelse);
  return s;
}
StmtPtr mkFor(int slot, ExprPtr range, Block body, Block orelse, int line) {
  auto s = mks(StmtKind::For, line);
  s->slot = slot;
  s->value = std::move(range);
  s->body = std::move(body);
  s->orelse = std::move(orelse);
  return s;
}
StmtPtr mkWhile(ExprPtr c, Block body, Block orelse, int line) {
  auto s = mks(StmtKind::While, line);
  s->value = std::move(c);
  s->body = std::move(body);
  s->orelse = std::move(orelse);
  return s;
}
StmtPtr mkBreak(int line) { return mks(StmtKind::Break, line); }
StmtPtr mkContinue(int line) { return mks(StmtKind::Continue, line); }
StmtPtr mkReturn(ExprPtr v, int line) {
  auto s = mks(StmtKind::Return, line);
  s->value = v ? std::move(v) : mkConstNone(line);
  return s;
}
StmtPtr mkPass(int line) { return mks(StmtKind::Pass, line); }

bool containsLoop(const Block& b) {
  for (auto& s : b)
    if (s->kind == StmtKind::For || s->kind == StmtKind::While || containsLoop(s->body) || containsLoop(s->orelse))
      return true;
  return false;
}

void assignedSlots(const Block& b, std::set<int>& assigned, std::set<int>& forVars) {
  for (auto& s : b) {
    if (s->kind == StmtKind::Assign) assigned.insert(s->slot);
    if (s->kind == StmtKind::For) forVars.insert(s->slot);
    assignedSlots(s->body, assigned, forVars);
    assignedSlots(s->orelse, assigned, forVars);
  }
}

bool intConstant(const Expr& e, int64_t& v) {
  if (e.kind == ExprKind::Const && e.type.kind == Kind::Int) {
    v = e.ival;
    return true;
  }
  if (e.kind == ExprKind::Unary && e.op == Op::Neg && e.type.kind == Kind::Int && intConstant(*e.args[0], v) &&
      v != INT64_MIN) {
    v = -v;
    return true;
  }
  return false;
}

}  // namespace epochpp::ir
