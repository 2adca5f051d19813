// jit/ir/printer.cpp — prints the IR as Python-like text; the format of golden .ref files.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "jit/ir/nodes.h"

namespace epochpp::ir {
namespace {

std::string fmtFloat(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

struct Printer {
  const Function& f;
  std::ostringstream out;

  std::string name(int slot) const {
    return slot >= 0 && slot < (int)f.locals.size() ? f.locals[slot].name : "$" + std::to_string(slot);
  }

  std::string expr(const Expr& e) {
    auto a = [&](size_t i) { return expr(*e.args[i]); };
    switch (e.kind) {
      case ExprKind::Const:
        switch (e.type.kind) {
          case Kind::None: return "None";
          case Kind::Bool: return e.ival ? "True" : "False";
          case Kind::Float: return fmtFloat(e.fval);
          default: return std::to_string(e.ival);
        }
      case ExprKind::Var: return name(e.slot);
      case ExprKind::Unary:
        return std::string("(") + opName(e.op) + (e.op == Op::Not ? " " : "") + a(0) + ")";
      case ExprKind::Binary:
        // a proven fact shows after the operator: (k %[>=0] d)
        return "(" + a(0) + " " + opName(e.op) + (e.facts & kFactNonNegDivMod ? "[>=0]" : "") + " " + a(1) + ")";
      case ExprKind::Compare:
      case ExprKind::BoolOp:
        return "(" + a(0) + " " + opName(e.op) + " " + a(1) + ")";
      case ExprKind::IfExp: return "(" + a(1) + " if " + a(0) + " else " + a(2) + ")";
      case ExprKind::Intrinsic:
      case ExprKind::CallFunc: {
        std::string s = e.name + "(";
        for (size_t i = 0; i < e.args.size(); ++i) s += (i ? ", " : "") + a(i);
        return s + ")";
      }
      case ExprKind::Index: {
        std::string s = a(0) + "[";
        for (size_t i = 1; i < e.args.size(); ++i) s += (i > 1 ? ", " : "") + a(i);
        return s + "]";
      }
      case ExprKind::Slice: {
        auto part = [&](size_t i) {
          return e.args[i]->kind == ExprKind::Const && e.args[i]->type.kind == Kind::None ? std::string() : a(i);
        };
        return part(0) + ":" + part(1) + ":" + part(2);
      }
      case ExprKind::Attr: return a(0) + "." + e.name;
      case ExprKind::TupleMake: {
        std::string s = "(";
        for (size_t i = 0; i < e.args.size(); ++i) s += (i ? ", " : "") + a(i);
        return s + (e.args.size() == 1 ? ",)" : ")");
      }
      case ExprKind::TupleGet: return a(0) + "[" + std::to_string(e.ival) + "]";
      case ExprKind::NamedExpr: return "(" + name(e.slot) + " := " + a(0) + ")";
      case ExprKind::RangeMake: return "range(" + a(0) + ", " + a(1) + ", " + a(2) + ")";
    }
    return "?";
  }

  void block(const Block& b, int depth) {
    if (b.empty()) {
      line(depth) << "pass\n";
      return;
    }
    for (auto& s : b) stmt(*s, depth);
  }

  std::ostream& line(int depth) {
    for (int i = 0; i < depth; ++i) out << "  ";
    return out;
  }

  void stmt(const Stmt& s, int d) {
    switch (s.kind) {
      case StmtKind::Assign: {
        auto& t = f.locals[s.slot].type;
        line(d) << name(s.slot) << (t.known() ? ": " + t.str() : "") << " = " << expr(*s.value) << "\n";
        break;
      }
      case StmtKind::Store: {
        line(d) << expr(*s.args[0]) << "[";
        for (size_t i = 1; i < s.args.size(); ++i) out << (i > 1 ? ", " : "") << expr(*s.args[i]);
        out << "] = " << expr(*s.value) << "\n";
        break;
      }
      case StmtKind::ExprStmt: line(d) << expr(*s.value) << "\n"; break;
      case StmtKind::If:
        line(d) << "if " << expr(*s.value) << ":\n";
        block(s.body, d + 1);
        if (!s.orelse.empty()) {
          line(d) << "else:\n";
          block(s.orelse, d + 1);
        }
        break;
      case StmtKind::For:
        line(d) << "for" << (s.prange ? (s.parallel ? "[prange, parallel]" : "[prange]") : s.parallel ? "[parallel]" : "") << " " << name(s.slot) << " in "
                << expr(*s.value) << ":";
        if (s.lanes) out << "  # SIMD lanes: iterations side by side" << (s.lanes_to_end ? ", to the last step" : "");
        if (!s.hoisted.empty()) out << "  # bounds checked before the loop: " << s.hoisted.size() << " access(es)";
        if (!s.ovf_ops.empty())
          out << "  # int overflow checked per chunk: " << s.ovf_ops.size() << " op(s), " << s.ovf_accums.size() << " accumulator(s)"
              << (s.ovf_temps.empty() ? "" : ", " + std::to_string(s.ovf_temps.size()) + " temporary(ies)");
        out << "\n";
        block(s.body, d + 1);
        if (!s.orelse.empty()) {
          line(d) << "else:\n";
          block(s.orelse, d + 1);
        }
        break;
      case StmtKind::While:
        line(d) << "while " << expr(*s.value) << ":\n";
        block(s.body, d + 1);
        if (!s.orelse.empty()) {
          line(d) << "else:\n";
          block(s.orelse, d + 1);
        }
        break;
      case StmtKind::Break: line(d) << "break\n"; break;
      case StmtKind::Continue: line(d) << "continue\n"; break;
      case StmtKind::Return:
        line(d) << "return " << expr(*s.value) << (s.tail_accumulate ? "  # tail call: accumulates" : "") << "\n";
        break;
      case StmtKind::Pass: line(d) << "pass\n"; break;
    }
  }
};

}  // namespace

std::string print(const Expr& e, const Function& f) {
  Printer p{f, {}};
  return p.expr(e);
}

std::string print(const Function& f) {
  Printer p{f, {}};
  p.out << "func " << f.name << "(";
  for (int i = 0; i < f.num_params; ++i) {
    auto& l = f.locals[i];
    p.out << (i ? ", " : "") << l.name;
    if (l.type.known()) p.out << ": " << l.type.str();
  }
  p.out << ")";
  if (f.return_type.known()) p.out << " -> " << f.return_type.str();
  p.out << ":\n";
  if (f.measure_slot >= 0)  // recursion_bound.cpp
    p.out << "  # recursion depth bounded by " << f.locals[f.measure_slot].name << " (calls only while "
          << f.locals[f.measure_slot].name << " >= " << f.measure_min << ")\n";
  if (f.leaf_value)
    p.out << "  # a self-call with " << f.locals[f.measure_slot].name << " < " << f.leaf_below
          << " is a leaf: its value without a call\n";
  p.block(f.body, 1);
  return p.out.str();
}

}  // namespace epochpp::ir

namespace epochpp::ir {
namespace {
void fpExpr(const Expr& e, std::string& o) {
  o += "(" + std::to_string((int)e.kind) + "," + std::to_string((int)e.op) + "," + e.type.str() + "," +
       std::to_string(e.slot) + "," + std::to_string(e.callee) + "," + std::to_string(e.ival) + "," +
       fmtFloat(e.fval) + "," + std::to_string(e.col) + "," + std::to_string(e.line) + "," + e.name;
  if (e.facts) o += ",f" + std::to_string((int)e.facts);
  for (auto& a : e.args) fpExpr(*a, o);
  o += ")";
}
void fpBlock(const Block& b, std::string& o) {
  for (auto& s : b) {
    o += "[" + std::to_string((int)s->kind) + "," + std::to_string(s->slot) + "," + std::to_string(s->line) + "," +
         std::to_string(s->parallel) + (s->prange ? "p" : "") + (s->tail_accumulate ? "t" : "") + "," + std::to_string(s->work) + ",h" + std::to_string(s->hoisted.size());
    for (auto& h : s->hoisted) {
      o += "{" + std::to_string(h.base_slot) + (h.load ? "L" : "S");
      for (auto& t : h.dims) o += "," + std::to_string(t.slot) + ":" + std::to_string(t.offset) + (t.arith ? "a" : "") + (t.loop ? "l" + std::to_string(t.loop->line) : "");
      o += "}";
    }
    o += ",o" + std::to_string(s->ovf_ops.size()) + ":" + std::to_string(s->ovf_temps.size());
    for (auto& a : s->ovf_accums) o += ",a" + std::to_string(a.slot) + ":" + std::to_string(a.updates) + ":" + std::to_string(a.incs.size());
    for (auto& [slot, op] : s->reductions) o += ",r" + std::to_string(slot) + ":" + std::to_string((int)op);
    for (int w : s->written_arrays) o += ",w" + std::to_string(w);
    if (s->lanes) o += s->lanes_to_end ? ",lanesE" : ",lanes";
    for (int r : s->lane_reductions) o += ",lr" + std::to_string(r);
    for (int r : s->read_arrays) o += ",x" + std::to_string(r);
    if (s->value) fpExpr(*s->value, o);
    for (auto& a : s->args) fpExpr(*a, o);
    o += "{";
    fpBlock(s->body, o);
    o += "|";
    fpBlock(s->orelse, o);
    o += "}]";
  }
}
}  // namespace

std::string fingerprint(const Function& f) {
  std::string o = f.name + "@" + f.file + ":" + std::to_string(f.first_line) + "->" + f.return_type.str() + ";";
  for (auto& t : f.param_types) o += t.str() + ",";
  for (auto& l : f.locals) o += l.name + ":" + l.type.str() + ",";
  o += std::to_string(f.writes_args) + std::to_string(f.may_deopt) + ";";
  if (f.measure_slot >= 0) o += "measure=" + std::to_string(f.measure_slot) + ">=" + std::to_string(f.measure_min) + ";";
  if (f.leaf_value) {  // (the value itself is in the body, as the first statement's return)
    o += "leaf<" + std::to_string(f.leaf_below) + ";";
  }
  fpBlock(f.body, o);
  return o;
}
}  // namespace epochpp::ir
