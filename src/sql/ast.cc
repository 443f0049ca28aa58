#include "sql/ast.h"

#include <fmt/format.h>

namespace roadpulse::sql::ast {

std::string join_name(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '.';
    out += parts[i];
  }
  return out;
}

namespace {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string args_text(const Expr& e, size_t from = 0) {
  std::string out;
  for (size_t i = from; i < e.args.size(); ++i) {
    if (i > from) out += ", ";
    out += e.args[i]->to_string();
  }
  return out;
}

}  // namespace

std::string Expr::to_string() const {
  switch (kind) {
    case ExprKind::kIdentifier:
      return join_name(names);
    case ExprKind::kStar:
      return names.empty() ? "*" : join_name(names) + ".*";
    case ExprKind::kLiteral:
      switch (literal_kind) {
        case LiteralKind::kNull:
          return "NULL";
        case LiteralKind::kBoolean:
          return bool_value ? "TRUE" : "FALSE";
        case LiteralKind::kString:
          return quote(text);
        case LiteralKind::kDate:
          return "DATE " + quote(text);
        case LiteralKind::kTime:
          return "TIME " + quote(text);
        case LiteralKind::kTimestamp:
          return "TIMESTAMP " + quote(text);
        default:
          return text;
      }
    case ExprKind::kInterval: {
      std::string s = fmt::format("INTERVAL {} {}", quote(text), time_unit_name(interval_unit));
      if (interval_end_unit) s += fmt::format(" TO {}", time_unit_name(*interval_end_unit));
      return s;
    }
    case ExprKind::kUnary:
      return op == "NOT" ? "NOT " + args[0]->to_string() : op + args[0]->to_string();
    case ExprKind::kBinary:
      return fmt::format("{} {} {}", args[0]->to_string(), op, args[1]->to_string());
    case ExprKind::kCall: {
      if (op == "IS DISTINCT FROM" || op == "IS NOT DISTINCT FROM") {
        return fmt::format("{} {} {}", args[0]->to_string(), op, args[1]->to_string());
      }
      if (args.empty() && !star_arg && !time_unit &&
          (op == "CURRENT_TIMESTAMP" || op == "LOCALTIMESTAMP" || op == "CURRENT_DATE" ||
           op == "CURRENT_TIME" || op == "LOCALTIME" || op == "CURRENT_ROW_TIMESTAMP")) {
        return op;
      }
      if (op == "EXTRACT") {
        return fmt::format("EXTRACT({} FROM {})", time_unit_name(*time_unit), args[0]->to_string());
      }
      if (time_unit && (op == "FLOOR" || op == "CEIL" || op == "CEILING")) {
        return fmt::format("{}({} TO {})", op, args[0]->to_string(), time_unit_name(*time_unit));
      }
      if (time_unit) {
        return fmt::format("{}({}, {})", op, time_unit_name(*time_unit), args_text(*this));
      }
      if (star_arg) return op + "(*)";
      return fmt::format("{}({}{})", op, distinct ? "DISTINCT " : "", args_text(*this));
    }
    case ExprKind::kCast:
      return fmt::format("{}({} AS {})", try_cast ? "TRY_CAST" : "CAST", args[0]->to_string(),
                         cast_type.to_string());
    case ExprKind::kCase: {
      std::string s = "CASE";
      size_t i = 0;
      if (has_operand) s += " " + args[i++]->to_string();
      const size_t pairs_end = has_else ? args.size() - 1 : args.size();
      for (; i + 1 < pairs_end + 1 && i < pairs_end; i += 2) {
        s += fmt::format(" WHEN {} THEN {}", args[i]->to_string(), args[i + 1]->to_string());
      }
      if (has_else) s += " ELSE " + args.back()->to_string();
      return s + " END";
    }
    case ExprKind::kInList:
      return fmt::format("{} {}IN ({})", args[0]->to_string(), negated ? "NOT " : "",
                         args_text(*this, 1));
    case ExprKind::kBetween:
      return fmt::format("{} {}BETWEEN {} AND {}", args[0]->to_string(), negated ? "NOT " : "",
                         args[1]->to_string(), args[2]->to_string());
    case ExprKind::kLike: {
      std::string s = fmt::format("{} {}LIKE {}", args[0]->to_string(), negated ? "NOT " : "",
                                  args[1]->to_string());
      if (args.size() > 2) s += " ESCAPE " + args[2]->to_string();
      return s;
    }
    case ExprKind::kIs:
      return fmt::format("{} IS {}{}", args[0]->to_string(), negated ? "NOT " : "", op);
    case ExprKind::kSubquery:
      return "(SELECT ...)";
    case ExprKind::kTableArg:
      return "TABLE " + join_name(names) +
             (args.empty() ? std::string() : " PARTITION BY (" + args_text(*this) + ")");
    case ExprKind::kDescriptor: {
      std::string s = "DESCRIPTOR(";
      for (size_t i = 0; i < names.size(); ++i) s += (i > 0 ? ", " : "") + names[i];
      return s + ")";
    }
  }
  return "?";
}

}  // namespace roadpulse::sql::ast
