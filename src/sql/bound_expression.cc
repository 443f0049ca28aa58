#include "sql/bound_expression.h"

#include <arrow/scalar.h>
#include <fmt/format.h>

#include "common/time.h"

namespace roadpulse::sql {

const char* time_unit_name(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::kYear:
      return "YEAR";
    case TimeUnit::kQuarter:
      return "QUARTER";
    case TimeUnit::kMonth:
      return "MONTH";
    case TimeUnit::kWeek:
      return "WEEK";
    case TimeUnit::kDay:
      return "DAY";
    case TimeUnit::kHour:
      return "HOUR";
    case TimeUnit::kMinute:
      return "MINUTE";
    case TimeUnit::kSecond:
      return "SECOND";
    case TimeUnit::kMillisecond:
      return "MILLISECOND";
    case TimeUnit::kMicrosecond:
      return "MICROSECOND";
    case TimeUnit::kNanosecond:
      return "NANOSECOND";
    case TimeUnit::kDayOfWeek:
      return "DOW";
    case TimeUnit::kDayOfYear:
      return "DOY";
    case TimeUnit::kEpoch:
      return "EPOCH";
  }
  return "?";
}

std::unique_ptr<BoundExpr> BoundExpr::clone() const {
  auto out = std::make_unique<BoundExpr>();
  out->kind = kind;
  out->type = type;
  out->args.reserve(args.size());
  for (const auto& a : args) out->args.push_back(a->clone());
  out->column_index = column_index;
  out->column_name = column_name;
  out->literal = literal;  // scalars are immutable
  out->function = function;
  out->time_unit = time_unit;
  out->try_cast = try_cast;
  out->negated = negated;
  return out;
}

namespace {

bool is_infix(const std::string& f) {
  return f == "+" || f == "-" || f == "*" || f == "/" || f == "=" || f == "<>" || f == "<" ||
         f == "<=" || f == ">" || f == ">=" || f == "||" || f == "AND" || f == "OR";
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += "'";
  return out;
}

std::string literal_to_string(const BoundExpr& e) {
  if (!e.literal || !e.literal->is_valid) return "NULL";
  const arrow::Scalar& s = *e.literal;
  switch (e.type.id) {
    case TypeId::kChar:
    case TypeId::kVarChar:
      return quote(static_cast<const arrow::StringScalar&>(s).ToString());
    case TypeId::kTimestamp:
    case TypeId::kTimestampLtz:
      return "TIMESTAMP " +
             quote(format_iso8601(static_cast<const arrow::TimestampScalar&>(s).value));
    case TypeId::kDate:
      return "DATE " + quote(s.ToString());
    case TypeId::kTime:
      return "TIME " + quote(s.ToString());
    case TypeId::kIntervalDayTime: {
      const int64_t us = static_cast<const arrow::DurationScalar&>(s).value;
      if (us % 1000000 == 0) return fmt::format("INTERVAL '{}' SECOND", us / 1000000);
      return fmt::format("INTERVAL '{}' MICROSECOND", us);
    }
    case TypeId::kIntervalYearMonth:
      return fmt::format("INTERVAL '{}' MONTH",
                         static_cast<const arrow::MonthIntervalScalar&>(s).value);
    default:
      return s.ToString();
  }
}

}  // namespace

std::string BoundExpr::to_string() const {
  switch (kind) {
    case BoundExprKind::kColumnRef:
      return column_name.empty() ? fmt::format("${}", column_index) : column_name;
    case BoundExprKind::kLiteral:
      return literal_to_string(*this);
    case BoundExprKind::kCall: {
      if (is_infix(function) && args.size() == 2) {
        return fmt::format("({} {} {})", args[0]->to_string(), function, args[1]->to_string());
      }
      if (function == "NOT" && args.size() == 1) return "NOT " + args[0]->to_string();
      if (function == "NEGATE" && args.size() == 1) return "-" + args[0]->to_string();
      if (function.starts_with("IS ") && args.size() == 1) {
        return fmt::format("({} {})", args[0]->to_string(), function);
      }
      std::string s = function + "(";
      if (time_unit) {
        s += time_unit_name(*time_unit);
        if (!args.empty()) s += ", ";
      }
      for (size_t i = 0; i < args.size(); ++i) {
        if (i > 0) s += ", ";
        s += args[i]->to_string();
      }
      return s + ")";
    }
    case BoundExprKind::kCast:
      return fmt::format("{}({} AS {})", try_cast ? "TRY_CAST" : "CAST", args[0]->to_string(),
                         type.with_nullable(true).without_time_attribute().to_string());
    case BoundExprKind::kCase: {
      std::string s = "CASE";
      for (size_t i = 0; i + 1 < args.size(); i += 2) {
        s += fmt::format(" WHEN {} THEN {}", args[i]->to_string(), args[i + 1]->to_string());
      }
      return s + fmt::format(" ELSE {} END", args.back()->to_string());
    }
    case BoundExprKind::kInList: {
      std::string s = args[0]->to_string() + (negated ? " NOT IN (" : " IN (");
      for (size_t i = 1; i < args.size(); ++i) {
        if (i > 1) s += ", ";
        s += args[i]->to_string();
      }
      return "(" + s + "))";
    }
    case BoundExprKind::kLike: {
      std::string s = fmt::format("({} {} {}", args[0]->to_string(), negated ? "NOT LIKE" : "LIKE",
                                  args[1]->to_string());
      if (args.size() > 2) s += " ESCAPE " + args[2]->to_string();
      return s + ")";
    }
    case BoundExprKind::kIsNull:
      return fmt::format("({} IS {}NULL)", args[0]->to_string(), negated ? "NOT " : "");
  }
  return "?";
}

bool BoundExpr::is_constant() const {
  if (kind == BoundExprKind::kColumnRef) return false;
  if (kind == BoundExprKind::kCall &&
      (function == "CURRENT_TIMESTAMP" || function == "LOCALTIMESTAMP" || function == "NOW" ||
       function == "PROCTIME" || function == "RAND" || function == "CURRENT_WATERMARK")) {
    return false;
  }
  for (const auto& a : args) {
    if (!a->is_constant()) return false;
  }
  return true;
}

bool BoundExpr::contains_call(std::string_view name) const {
  if (kind == BoundExprKind::kCall && function == name) return true;
  for (const auto& a : args) {
    if (a->contains_call(name)) return true;
  }
  return false;
}

void BoundExpr::collect_columns(std::vector<int>& out) const {
  if (kind == BoundExprKind::kColumnRef) out.push_back(column_index);
  for (const auto& a : args) a->collect_columns(out);
}

void BoundExpr::remap_columns(const std::vector<int>& mapping) {
  if (kind == BoundExprKind::kColumnRef) column_index = mapping.at(column_index);
  for (auto& a : args) a->remap_columns(mapping);
}

std::unique_ptr<BoundExpr> BoundExpr::column(int index, std::string name, SqlType type) {
  auto e = std::make_unique<BoundExpr>();
  e->kind = BoundExprKind::kColumnRef;
  e->column_index = index;
  e->column_name = std::move(name);
  e->type = type;
  return e;
}

std::unique_ptr<BoundExpr> BoundExpr::make_literal(std::shared_ptr<arrow::Scalar> value,
                                                   SqlType type) {
  auto e = std::make_unique<BoundExpr>();
  e->kind = BoundExprKind::kLiteral;
  e->literal = std::move(value);
  e->type = type;
  return e;
}

std::unique_ptr<BoundExpr> BoundExpr::null_literal(SqlType type) {
  type.nullable = true;
  return make_literal(arrow::MakeNullScalar(type.to_arrow()), type);
}

std::unique_ptr<BoundExpr> BoundExpr::call(std::string function, SqlType type,
                                           std::vector<std::unique_ptr<BoundExpr>> args) {
  auto e = std::make_unique<BoundExpr>();
  e->kind = BoundExprKind::kCall;
  e->function = std::move(function);
  e->type = type;
  e->args = std::move(args);
  return e;
}

std::unique_ptr<BoundExpr> BoundExpr::cast(std::unique_ptr<BoundExpr> input, SqlType type,
                                           bool try_cast) {
  auto e = std::make_unique<BoundExpr>();
  e->kind = BoundExprKind::kCast;
  e->type = type;
  e->try_cast = try_cast;
  e->args.push_back(std::move(input));
  return e;
}

}  // namespace roadpulse::sql
