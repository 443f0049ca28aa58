// Expression binding: names, literals, operators and the function library, with Flink's type
// rules (type_coercion.h). See bound_expression.h for what the result guarantees exec.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include <arrow/scalar.h>
#include <arrow/type.h>
#include <arrow/util/decimal.h>
#include <fmt/format.h>

#include "common/time.h"
#include "sql/binder.h"
#include "sql/type_coercion.h"

namespace roadpulse::sql {

namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int32_t utf8_length(std::string_view s) {
  int32_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// "yyyy-MM-dd" -> days since epoch.
std::optional<int32_t> parse_date(std::string_view s) {
  int y = 0, m = 0, d = 0;
  if (std::sscanf(std::string(s).c_str(), "%d-%d-%d", &y, &m, &d) != 3) return std::nullopt;
  if (m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
  auto r = parse_timestamp(fmt::format("{:04}-{:02}-{:02}", y, m, d));
  if (!r.ok()) return std::nullopt;
  return static_cast<int32_t>(*r / kMicrosPerDay);
}

// "HH:mm[:ss[.fff]]" -> microseconds since midnight.
std::optional<int64_t> parse_time(std::string_view s, int32_t* precision) {
  int h = 0, mi = 0;
  double sec = 0;
  std::string str(s);
  const int n = std::sscanf(str.c_str(), "%d:%d:%lf", &h, &mi, &sec);
  if (n < 2 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec >= 60) return std::nullopt;
  const auto dot = str.find('.');
  *precision = dot == std::string::npos ? 0 : static_cast<int32_t>(str.size() - dot - 1);
  return (h * 3600LL + mi * 60LL) * kMicrosPerSecond + std::llround(sec * kMicrosPerSecond);
}

// Digits only, at most 9 of them (interval fields): nullopt otherwise.
std::optional<int64_t> whole_number(const std::string& s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Digits with at most one '.', at least one digit, at most 18 integer digits.
std::optional<long double> decimal_number(const std::string& s) {
  const auto dot = s.find('.');
  if (dot != std::string::npos && s.find('.', dot + 1) != std::string::npos) return std::nullopt;
  const std::string whole = s.substr(0, dot);
  const std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  if ((whole.empty() && frac.empty()) || whole.size() > 18) return std::nullopt;
  long double v = 0;
  for (char c : whole) v = v * 10 + (c - '0');
  long double scale = 0.1L;
  for (char c : frac) {
    v += (c - '0') * scale;
    scale /= 10;
  }
  return v;
}

std::string type_list(const std::vector<BoundExprPtr>& args) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += ", ";
    out += args[i]->type.with_nullable(true).without_time_attribute().to_string();
  }
  return out;
}

bool any_nullable(const std::vector<BoundExprPtr>& args) {
  return std::any_of(args.begin(), args.end(), [](const auto& a) { return a->type.nullable; });
}

const std::set<std::string, std::less<>> kAggregates = {
    "COUNT",       "SUM",        "AVG",        "MIN",         "MAX",     "LISTAGG",
    "FIRST_VALUE", "LAST_VALUE", "STDDEV_POP", "STDDEV_SAMP", "VAR_POP", "VAR_SAMP",
    "COLLECT",     "STDDEV",     "VARIANCE",   "ARRAY_AGG",   "SUM0",    "APPROX_COUNT_DISTINCT"};
const std::set<std::string, std::less<>> kGroupWindowFunctions = {
    "TUMBLE",         "HOP",       "CUMULATE", "SESSION",       "TUMBLE_START", "TUMBLE_END",
    "TUMBLE_ROWTIME", "HOP_START", "HOP_END",  "SESSION_START", "SESSION_END",  "HOP_ROWTIME",
    "SESSION_ROWTIME"};

}  // namespace

std::string generated_column_name(size_t index) { return fmt::format("EXPR${}", index); }

bool is_aggregate_function(std::string_view upper_name) { return kAggregates.contains(upper_name); }

bool contains_aggregate(const ast::Expr& e) {
  if (e.kind == ast::ExprKind::kCall && kAggregates.contains(e.op)) return true;
  for (const auto& a : e.args) {
    if (contains_aggregate(*a)) return true;
  }
  return false;
}

std::string canonical_text(const BoundExpr& e) {
  auto copy = e.clone();
  std::vector<BoundExpr*> stack{copy.get()};
  while (!stack.empty()) {
    BoundExpr* x = stack.back();
    stack.pop_back();
    if (x->kind == BoundExprKind::kColumnRef) x->column_name.clear();
    for (auto& a : x->args) stack.push_back(a.get());
  }
  return copy->to_string() + ":" + e.type.without_time_attribute().to_string();
}

arrow::Status Binder::error(const SourcePos& pos, std::string_view message) const {
  return sql_error(sql_, pos, message);
}

arrow::Result<BoundExprPtr> Binder::coerce_at(BoundExprPtr e, const SqlType& target,
                                              const SourcePos& pos) {
  auto r = coerce(std::move(e), target);
  if (!r.ok()) return error(pos, r.status().message());
  return r;
}

arrow::Status Binder::expect_boolean(const BoundExpr& e, const SourcePos& pos,
                                     std::string_view what) {
  if (e.type.id == TypeId::kBoolean || e.type.id == TypeId::kNull) return arrow::Status::OK();
  return error(pos, fmt::format("{} must be a BOOLEAN condition, but its type is {}", what,
                                e.type.to_string()));
}

arrow::Result<BoundExprPtr> Binder::bind_expr(const ast::Expr& e, const Scope& scope) {
  using ast::ExprKind;
  switch (e.kind) {
    case ExprKind::kIdentifier:
      return bind_column(e, scope);
    case ExprKind::kStar:
      return error(e.pos, "'*' is only allowed in a SELECT list or COUNT(*)");
    case ExprKind::kLiteral:
      return bind_literal(e);
    case ExprKind::kInterval:
      return bind_interval(e);
    case ExprKind::kUnary: {
      ARROW_ASSIGN_OR_RAISE(auto arg, bind_expr(*e.args[0], scope));
      if (e.op == "NOT") {
        ARROW_RETURN_NOT_OK(expect_boolean(*arg, e.args[0]->pos, "the operand of NOT"));
        ARROW_ASSIGN_OR_RAISE(arg, coerce_at(std::move(arg), SqlType::boolean(), e.pos));
        const bool nullable = arg->type.nullable;
        std::vector<BoundExprPtr> args;
        args.push_back(std::move(arg));
        return BoundExpr::call("NOT", SqlType::boolean(nullable), std::move(args));
      }
      if (!arg->type.is_numeric() && !arg->type.is_interval()) {
        return error(e.pos, fmt::format("cannot negate a value of type {}", arg->type.to_string()));
      }
      SqlType t = arg->type.without_time_attribute();
      std::vector<BoundExprPtr> args;
      args.push_back(std::move(arg));
      return BoundExpr::call("NEGATE", t, std::move(args));
    }
    case ExprKind::kBinary:
      return bind_binary(e, scope);
    case ExprKind::kCall:
      return bind_call(e, scope);
    case ExprKind::kCast: {
      ARROW_ASSIGN_OR_RAISE(auto arg, bind_expr(*e.args[0], scope));
      const SqlType& to = e.cast_type;
      if (!can_explicitly_cast(arg->type, to)) {
        return error(e.pos, fmt::format("cannot cast {} to {}", arg->type.to_string(),
                                        to.with_nullable(true).to_string()));
      }
      const bool nullable = arg->type.nullable || e.try_cast;
      SqlType target = to.with_nullable(nullable);
      if (arg->kind == BoundExprKind::kLiteral) {
        auto folded = coerce(arg->clone(), target);
        if (folded.ok() && (*folded)->kind == BoundExprKind::kLiteral) {
          (*folded)->type = target.with_nullable((*folded)->type.nullable);
          return std::move(*folded);
        }
        if (!folded.ok()) {
          if (e.try_cast) return BoundExpr::null_literal(target);
          return error(e.args[0]->pos, folded.status().message());
        }
      }
      return BoundExpr::cast(std::move(arg), target, e.try_cast);
    }
    case ExprKind::kCase:
      return bind_case(e, scope);
    case ExprKind::kInList: {
      std::vector<BoundExprPtr> args;
      for (const auto& a : e.args) {
        ARROW_ASSIGN_OR_RAISE(auto b, bind_expr(*a, scope));
        args.push_back(std::move(b));
      }
      SqlType common = args[0]->type;
      for (size_t i = 1; i < args.size(); ++i) {
        auto c = common_type(common, args[i]->type);
        if (!c && args[i]->kind == BoundExprKind::kLiteral && args[i]->type.is_string()) {
          c = common;  // a string literal converts to the value's type ('2020-01-01' etc.)
        }
        if (!c) {
          return error(e.args[i]->pos,
                       fmt::format("IN list item of type {} cannot be compared with {}",
                                   args[i]->type.to_string(), args[0]->type.to_string()));
        }
        common = *c;
      }
      for (size_t i = 0; i < args.size(); ++i) {
        ARROW_ASSIGN_OR_RAISE(args[i], coerce_at(std::move(args[i]), common, e.args[i]->pos));
      }
      auto out = std::make_unique<BoundExpr>();
      out->kind = BoundExprKind::kInList;
      out->negated = e.negated;
      out->type = SqlType::boolean(any_nullable(args));
      out->args = std::move(args);
      return out;
    }
    case ExprKind::kBetween: {
      ARROW_ASSIGN_OR_RAISE(auto x, bind_expr(*e.args[0], scope));
      ARROW_ASSIGN_OR_RAISE(auto lo, bind_expr(*e.args[1], scope));
      ARROW_ASSIGN_OR_RAISE(auto hi, bind_expr(*e.args[2], scope));
      auto x2 = x->clone();
      ARROW_ASSIGN_OR_RAISE(
          auto a, make_comparison(e.negated ? "<" : ">=", std::move(x), std::move(lo), e.pos));
      ARROW_ASSIGN_OR_RAISE(
          auto b, make_comparison(e.negated ? ">" : "<=", std::move(x2), std::move(hi), e.pos));
      const bool nullable = a->type.nullable || b->type.nullable;
      std::vector<BoundExprPtr> args;
      args.push_back(std::move(a));
      args.push_back(std::move(b));
      return BoundExpr::call(e.negated ? "OR" : "AND", SqlType::boolean(nullable), std::move(args));
    }
    case ExprKind::kLike: {
      std::vector<BoundExprPtr> args;
      for (size_t i = 0; i < e.args.size(); ++i) {
        ARROW_ASSIGN_OR_RAISE(auto b, bind_expr(*e.args[i], scope));
        if (!b->type.is_string() && b->type.id != TypeId::kNull) {
          return error(e.args[i]->pos, fmt::format("LIKE needs string operands, but this one is {}",
                                                   b->type.to_string()));
        }
        ARROW_ASSIGN_OR_RAISE(b, coerce_at(std::move(b), SqlType::string(), e.args[i]->pos));
        args.push_back(std::move(b));
      }
      if (args.size() > 2) {
        const auto& esc = *args[2];
        if (esc.kind != BoundExprKind::kLiteral || !esc.literal->is_valid ||
            utf8_length(static_cast<const arrow::StringScalar&>(*esc.literal).ToString()) != 1) {
          return error(e.args[2]->pos, "the ESCAPE clause needs a one-character string literal");
        }
      }
      auto out = std::make_unique<BoundExpr>();
      out->kind = BoundExprKind::kLike;
      out->negated = e.negated;
      out->type = SqlType::boolean(any_nullable(args));
      out->args = std::move(args);
      return out;
    }
    case ExprKind::kIs: {
      ARROW_ASSIGN_OR_RAISE(auto arg, bind_expr(*e.args[0], scope));
      if (e.op == "NULL") {
        auto out = std::make_unique<BoundExpr>();
        out->kind = BoundExprKind::kIsNull;
        out->negated = e.negated;
        out->type = SqlType::boolean(false);
        out->args.push_back(std::move(arg));
        return out;
      }
      ARROW_RETURN_NOT_OK(expect_boolean(*arg, e.args[0]->pos, fmt::format("IS {}", e.op)));
      ARROW_ASSIGN_OR_RAISE(arg, coerce_at(std::move(arg), SqlType::boolean(), e.pos));
      std::vector<BoundExprPtr> args;
      args.push_back(std::move(arg));
      return BoundExpr::call(fmt::format("IS {}{}", e.negated ? "NOT " : "", e.op),
                             SqlType::boolean(false), std::move(args));
    }
    case ExprKind::kSubquery:
      return error(e.pos, "scalar subqueries are not supported yet");
    case ExprKind::kTableArg:
    case ExprKind::kDescriptor:
      return error(e.pos, fmt::format("{} is only allowed as an argument of a window table "
                                      "function (TUMBLE, HOP, CUMULATE, SESSION)",
                                      e.kind == ExprKind::kTableArg ? "TABLE" : "DESCRIPTOR"));
  }
  return error(e.pos, "unsupported expression");
}

arrow::Result<BoundExprPtr> Binder::bind_column(const ast::Expr& e, const Scope& scope) {
  if (e.names.size() > 2) {
    return error(e.pos, fmt::format("column reference '{}' has too many parts (use column or "
                                    "table.column)",
                                    ast::join_name(e.names)));
  }
  const std::string& name = e.names.back();
  const std::string* qualifier = e.names.size() == 2 ? &e.names[0] : nullptr;
  int found = -1;
  for (size_t i = 0; i < scope.columns.size(); ++i) {
    const auto& c = scope.columns[i];
    if (c.name != name || (qualifier && c.qualifier != *qualifier)) continue;
    if (found >= 0) {
      return error(e.pos, fmt::format("column '{}' is ambiguous; qualify it with its table", name));
    }
    found = static_cast<int>(i);
  }
  if (found >= 0) {
    const auto& c = scope.columns[found];
    return BoundExpr::column(found, c.name, c.type);
  }
  if (qualifier) {
    const bool known = std::any_of(scope.columns.begin(), scope.columns.end(),
                                   [&](const auto& c) { return c.qualifier == *qualifier; });
    if (!known) return error(e.pos, fmt::format("table '{}' not found", *qualifier));
  }
  // Flink names are case-sensitive; point at a near miss.
  for (const auto& c : scope.columns) {
    if (lower(c.name) == lower(name)) {
      return error(e.pos, fmt::format("column '{}' not found; did you mean '{}'? (names are "
                                      "case-sensitive)",
                                      ast::join_name(e.names), c.name));
    }
  }
  if (scope.columns.empty()) {
    return error(e.pos, fmt::format("column '{}' not found: there is no FROM clause",
                                    ast::join_name(e.names)));
  }
  return error(e.pos, fmt::format("column '{}' not found in any table", ast::join_name(e.names)));
}

arrow::Result<BoundExprPtr> Binder::bind_literal(const ast::Expr& e) {
  using ast::LiteralKind;
  switch (e.literal_kind) {
    case LiteralKind::kNull:
      return BoundExpr::null_literal(SqlType::null_type());
    case LiteralKind::kBoolean:
      return BoundExpr::make_literal(std::make_shared<arrow::BooleanScalar>(e.bool_value),
                                     SqlType::boolean(false));
    case LiteralKind::kInteger: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(e.text.data(), e.text.data() + e.text.size(), v);
      if (ec == std::errc() && p == e.text.data() + e.text.size()) {
        if (v >= INT32_MIN && v <= INT32_MAX) {
          return BoundExpr::make_literal(
              std::make_shared<arrow::Int32Scalar>(static_cast<int32_t>(v)),
              SqlType::integer(false));
        }
        return BoundExpr::make_literal(std::make_shared<arrow::Int64Scalar>(v),
                                       SqlType::bigint(false));
      }
      [[fallthrough]];  // too big for BIGINT: a DECIMAL(p, 0), as Calcite does
    }
    case LiteralKind::kDecimal: {
      arrow::Decimal128 d;
      int32_t precision = 0, scale = 0;
      if (!arrow::Decimal128::FromString(e.text, &d, &precision, &scale).ok() ||
          precision > SqlType::kMaxDecimalPrecision) {
        return error(e.pos, fmt::format("numeric literal '{}' is out of range", e.text));
      }
      precision = std::max(precision, scale);
      const SqlType t = SqlType::decimal(std::max(precision, 1), scale, false);
      return BoundExpr::make_literal(std::make_shared<arrow::Decimal128Scalar>(d, t.to_arrow()), t);
    }
    case LiteralKind::kDouble: {
      char* end = nullptr;
      const double v = std::strtod(e.text.c_str(), &end);
      if (!std::isfinite(v)) {
        return error(e.pos, fmt::format("numeric literal '{}' is out of range", e.text));
      }
      return BoundExpr::make_literal(std::make_shared<arrow::DoubleScalar>(v),
                                     SqlType::double_type(false));
    }
    case LiteralKind::kString:
      return BoundExpr::make_literal(std::make_shared<arrow::StringScalar>(e.text),
                                     SqlType::char_type(utf8_length(e.text), false));
    case LiteralKind::kDate: {
      auto days = parse_date(e.text);
      if (!days)
        return error(e.pos, fmt::format("invalid DATE literal '{}' (expected "
                                        "'yyyy-MM-dd')",
                                        e.text));
      return BoundExpr::make_literal(std::make_shared<arrow::Date32Scalar>(*days),
                                     SqlType::date(false));
    }
    case LiteralKind::kTime: {
      int32_t precision = 0;
      auto micros = parse_time(e.text, &precision);
      if (!micros)
        return error(e.pos, fmt::format("invalid TIME literal '{}' (expected "
                                        "'HH:mm:ss[.SSS]')",
                                        e.text));
      const SqlType t = SqlType::time(std::min(precision, 9), false);
      return BoundExpr::make_literal(std::make_shared<arrow::Time64Scalar>(*micros, t.to_arrow()),
                                     t);
    }
    case LiteralKind::kTimestamp: {
      auto micros = parse_timestamp(e.text);
      if (!micros.ok() || e.text.size() < 19) {
        return error(e.pos, fmt::format("invalid TIMESTAMP literal '{}' (expected 'yyyy-MM-dd "
                                        "HH:mm:ss[.SSS]')",
                                        e.text));
      }
      const auto dot = e.text.find('.');
      const int32_t precision =
          dot == std::string::npos ? 0 : std::min<int32_t>(9, e.text.size() - dot - 1);
      const SqlType t = SqlType::timestamp(precision, false);
      return BoundExpr::make_literal(
          std::make_shared<arrow::TimestampScalar>(*micros, t.to_arrow()), t);
    }
  }
  return error(e.pos, "unsupported literal");
}

arrow::Result<BoundExprPtr> Binder::bind_interval(const ast::Expr& e) {
  std::string text = e.text;
  // trim spaces
  while (!text.empty() && text.front() == ' ') text.erase(text.begin());
  while (!text.empty() && text.back() == ' ') text.pop_back();
  bool negative = false;
  while (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    if (text[0] == '-') negative = !negative;
    text.erase(text.begin());
  }
  const TimeUnit start = e.interval_unit;
  const TimeUnit end = e.interval_end_unit.value_or(start);
  auto bad = [&]() {
    return error(
        e.pos, fmt::format("invalid interval literal '{}' for {}{}", e.text, time_unit_name(start),
                           e.interval_end_unit ? fmt::format(" TO {}", time_unit_name(end))
                                               : std::string()));
  };
  // Split into numeric fields on ' ', ':' and '-'.
  std::vector<std::string> fields;
  std::string cur;
  for (char c : text) {
    if (c == ' ' || c == ':' || c == '-') {
      if (cur.empty()) return bad();
      fields.push_back(cur);
      cur.clear();
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      cur += c;
    } else {
      return bad();
    }
  }
  if (cur.empty()) return bad();
  fields.push_back(cur);

  const bool year_month =
      start == TimeUnit::kYear || start == TimeUnit::kMonth || start == TimeUnit::kQuarter;
  if (year_month) {
    int64_t months = 0;
    if (start == TimeUnit::kYear && end == TimeUnit::kMonth) {
      if (fields.size() != 2) return bad();
      auto y = whole_number(fields[0]), m = whole_number(fields[1]);
      if (!y || !m) return bad();
      months = *y * 12 + *m;
    } else if (start == end && fields.size() == 1) {
      auto v = whole_number(fields[0]);
      if (!v) return bad();
      const int64_t n = *v;
      months = start == TimeUnit::kYear ? n * 12 : start == TimeUnit::kQuarter ? n * 3 : n;
    } else {
      return bad();
    }
    if (negative) months = -months;
    if (months < INT32_MIN || months > INT32_MAX) return bad();
    return BoundExpr::make_literal(
        std::make_shared<arrow::MonthIntervalScalar>(static_cast<int32_t>(months)),
        SqlType::interval_year_month(false));
  }
  auto unit_micros = [](TimeUnit u) -> int64_t {
    switch (u) {
      case TimeUnit::kWeek:
        return 7 * kMicrosPerDay;
      case TimeUnit::kDay:
        return kMicrosPerDay;
      case TimeUnit::kHour:
        return 3600 * kMicrosPerSecond;
      case TimeUnit::kMinute:
        return 60 * kMicrosPerSecond;
      case TimeUnit::kSecond:
        return kMicrosPerSecond;
      case TimeUnit::kMillisecond:
        return 1000;
      case TimeUnit::kMicrosecond:
        return 1;
      default:
        return 0;
    }
  };
  static const TimeUnit kOrder[] = {TimeUnit::kDay, TimeUnit::kHour, TimeUnit::kMinute,
                                    TimeUnit::kSecond};
  std::vector<TimeUnit> units;
  if (start == end) {
    if (unit_micros(start) == 0) return bad();
    units.push_back(start);
  } else {
    bool in = false;
    for (TimeUnit u : kOrder) {
      if (u == start) in = true;
      if (in) units.push_back(u);
      if (u == end) break;
    }
    if (!in || units.back() != end) {
      return error(e.pos, fmt::format("invalid interval qualifier {} TO {}", time_unit_name(start),
                                      time_unit_name(end)));
    }
  }
  if (fields.size() != units.size()) return bad();
  long double total = 0;
  for (size_t i = 0; i < units.size(); ++i) {
    const bool last = i + 1 == units.size();
    if (!last && fields[i].find('.') != std::string::npos) return bad();
    auto v = decimal_number(fields[i]);
    if (!v) return bad();
    total += *v * unit_micros(units[i]);
  }
  if (total > 9.2e18L) return bad();
  int64_t micros = std::llround(total);
  if (negative) micros = -micros;
  return BoundExpr::make_literal(
      std::make_shared<arrow::DurationScalar>(micros, arrow::TimeUnit::MICRO),
      SqlType::interval_day_time(false));
}

arrow::Result<BoundExprPtr> Binder::make_comparison(const std::string& op, BoundExprPtr l,
                                                    BoundExprPtr r, const SourcePos& pos) {
  std::optional<SqlType> common = common_type(l->type, r->type);
  // A string literal compared with a datetime/numeric/boolean converts to that type, as
  // Calcite's coercion does for literals ('2020-01-01 00:00:00' < ts).
  if (!common && r->kind == BoundExprKind::kLiteral && r->type.is_string()) {
    common = l->type.without_time_attribute().with_nullable(true);
  } else if (!common && l->kind == BoundExprKind::kLiteral && l->type.is_string()) {
    common = r->type.without_time_attribute().with_nullable(true);
  }
  if (!common || (common->id == TypeId::kNull)) {
    if (common && common->id == TypeId::kNull) {
      common = SqlType::boolean();  // NULL = NULL: typed as BOOLEAN, evaluates to NULL
    } else {
      return error(pos, fmt::format("cannot compare {} with {} using '{}' (add a CAST)",
                                    l->type.to_string(), r->type.to_string(), op));
    }
  }
  ARROW_ASSIGN_OR_RAISE(l, coerce_at(std::move(l), *common, pos));
  ARROW_ASSIGN_OR_RAISE(r, coerce_at(std::move(r), *common, pos));
  const bool nullable = l->type.nullable || r->type.nullable;
  std::vector<BoundExprPtr> args;
  args.push_back(std::move(l));
  args.push_back(std::move(r));
  return BoundExpr::call(op, SqlType::boolean(nullable), std::move(args));
}

arrow::Result<BoundExprPtr> Binder::make_arithmetic(const std::string& op, BoundExprPtr l,
                                                    BoundExprPtr r, const SourcePos& pos) {
  const bool nullable = l->type.nullable || r->type.nullable;
  const std::string fn = op == "%" ? "MOD" : op;
  auto finish = [&](SqlType result) {
    std::vector<BoundExprPtr> args;
    args.push_back(std::move(l));
    args.push_back(std::move(r));
    return BoundExpr::call(fn, result.with_nullable(nullable).without_time_attribute(),
                           std::move(args));
  };
  // NULL literals take the other side's type.
  if (l->type.id == TypeId::kNull && r->type.id != TypeId::kNull) {
    ARROW_ASSIGN_OR_RAISE(l, coerce_at(std::move(l), r->type, pos));
  } else if (r->type.id == TypeId::kNull && l->type.id != TypeId::kNull) {
    ARROW_ASSIGN_OR_RAISE(r, coerce_at(std::move(r), l->type, pos));
  }
  const SqlType a = l->type, b = r->type;
  if (a.is_numeric() && b.is_numeric()) {
    const SqlType common = common_numeric_type(a, b);
    SqlType result = common;
    if (common.id == TypeId::kDecimal) {
      const SqlType da = decimal_of_integer(a), db = decimal_of_integer(b);
      const int32_t p1 = da.precision, s1 = da.scale, p2 = db.precision, s2 = db.scale;
      if (op == "+" || op == "-") {
        const int32_t s = std::max(s1, s2);
        result = adjust_decimal(std::max(p1 - s1, p2 - s2) + s + 1, s, nullable);
      } else if (op == "*") {
        result = adjust_decimal(p1 + p2, s1 + s2, nullable);
      } else if (op == "/") {
        const int32_t s = std::max(6, s1 + p2 + 1);
        result = adjust_decimal(p1 - s1 + s2 + s, s, nullable);
      } else {  // MOD
        const int32_t s = std::max(s1, s2);
        result = adjust_decimal(std::min(p1 - s1, p2 - s2) + s, s, nullable);
      }
      // Decimal kernels accept differing precisions; only integers are brought to DECIMAL.
      if (!a.is_numeric() || a.is_integer()) {
        ARROW_ASSIGN_OR_RAISE(l, coerce_at(std::move(l), da, pos));
      }
      if (b.is_integer()) {
        ARROW_ASSIGN_OR_RAISE(r, coerce_at(std::move(r), db, pos));
      }
      return finish(result);
    }
    ARROW_ASSIGN_OR_RAISE(l, coerce_at(std::move(l), common, pos));
    ARROW_ASSIGN_OR_RAISE(r, coerce_at(std::move(r), common, pos));
    return finish(result);
  }
  if (op == "+" || op == "-") {
    if (a.is_datetime() && b.is_interval()) {
      if (a.id == TypeId::kTime && b.id == TypeId::kIntervalYearMonth) {
        return error(pos, "cannot add a YEAR/MONTH interval to a TIME");
      }
      return finish(a);
    }
    if (op == "+" && a.is_interval() && b.is_datetime()) {
      std::swap(l, r);  // canonical order: datetime first
      return finish(b);
    }
    if (a.is_interval() && a.id == b.id) return finish(a);
  }
  if ((op == "*" || op == "/") && a.is_interval() && b.is_numeric()) {
    ARROW_ASSIGN_OR_RAISE(r, coerce_at(std::move(r), SqlType::double_type(b.nullable), pos));
    return finish(a);
  }
  if (op == "*" && a.is_numeric() && b.is_interval()) {
    std::swap(l, r);
    ARROW_ASSIGN_OR_RAISE(r, coerce_at(std::move(r), SqlType::double_type(a.nullable), pos));
    return finish(b);
  }
  return error(pos,
               fmt::format("cannot apply '{}' to {} and {}", op, a.to_string(), b.to_string()));
}

arrow::Result<BoundExprPtr> Binder::bind_binary(const ast::Expr& e, const Scope& scope) {
  ARROW_ASSIGN_OR_RAISE(auto l, bind_expr(*e.args[0], scope));
  ARROW_ASSIGN_OR_RAISE(auto r, bind_expr(*e.args[1], scope));
  const std::string& op = e.op;
  if (op == "AND" || op == "OR") {
    ARROW_RETURN_NOT_OK(expect_boolean(*l, e.args[0]->pos, fmt::format("the operand of {}", op)));
    ARROW_RETURN_NOT_OK(expect_boolean(*r, e.args[1]->pos, fmt::format("the operand of {}", op)));
    ARROW_ASSIGN_OR_RAISE(l, coerce_at(std::move(l), SqlType::boolean(), e.pos));
    ARROW_ASSIGN_OR_RAISE(r, coerce_at(std::move(r), SqlType::boolean(), e.pos));
    const bool nullable = l->type.nullable || r->type.nullable;
    std::vector<BoundExprPtr> args;
    args.push_back(std::move(l));
    args.push_back(std::move(r));
    return BoundExpr::call(op, SqlType::boolean(nullable), std::move(args));
  }
  if (op == "=" || op == "<>" || op == "<" || op == "<=" || op == ">" || op == ">=") {
    return make_comparison(op, std::move(l), std::move(r), e.pos);
  }
  if (op == "||") {
    for (const auto* side : {&l, &r}) {
      if (!(*side)->type.is_string() && (*side)->type.id != TypeId::kNull) {
        return error(e.pos, fmt::format("'||' concatenates strings, but got {} (add a CAST)",
                                        (*side)->type.to_string()));
      }
    }
    const bool nullable = l->type.nullable || r->type.nullable;
    ARROW_ASSIGN_OR_RAISE(l, coerce_at(std::move(l), SqlType::string(), e.pos));
    ARROW_ASSIGN_OR_RAISE(r, coerce_at(std::move(r), SqlType::string(), e.pos));
    std::vector<BoundExprPtr> args;
    args.push_back(std::move(l));
    args.push_back(std::move(r));
    return BoundExpr::call("||", SqlType::string(nullable), std::move(args));
  }
  return make_arithmetic(op, std::move(l), std::move(r), e.pos);
}

arrow::Result<BoundExprPtr> Binder::bind_case(const ast::Expr& e, const Scope& scope) {
  size_t i = 0;
  BoundExprPtr operand;
  if (e.has_operand) {
    ARROW_ASSIGN_OR_RAISE(operand, bind_expr(*e.args[i++], scope));
  }
  const size_t pairs_end = e.has_else ? e.args.size() - 1 : e.args.size();
  std::vector<BoundExprPtr> conds, results;
  std::vector<SourcePos> result_pos;
  for (; i + 1 < pairs_end + 1 && i < pairs_end; i += 2) {
    ARROW_ASSIGN_OR_RAISE(auto when, bind_expr(*e.args[i], scope));
    if (operand) {
      ARROW_ASSIGN_OR_RAISE(
          when, make_comparison("=", operand->clone(), std::move(when), e.args[i]->pos));
    } else {
      ARROW_RETURN_NOT_OK(expect_boolean(*when, e.args[i]->pos, "a WHEN clause"));
      ARROW_ASSIGN_OR_RAISE(when, coerce_at(std::move(when), SqlType::boolean(), e.pos));
    }
    conds.push_back(std::move(when));
    ARROW_ASSIGN_OR_RAISE(auto then, bind_expr(*e.args[i + 1], scope));
    results.push_back(std::move(then));
    result_pos.push_back(e.args[i + 1]->pos);
  }
  if (e.has_else) {
    ARROW_ASSIGN_OR_RAISE(auto other, bind_expr(*e.args.back(), scope));
    results.push_back(std::move(other));
    result_pos.push_back(e.args.back()->pos);
  }
  SqlType common = SqlType::null_type();
  for (size_t k = 0; k < results.size(); ++k) {
    auto c = common_type(common, results[k]->type);
    if (!c) {
      return error(result_pos[k], fmt::format("CASE branches have incompatible types {} and {}",
                                              common.to_string(), results[k]->type.to_string()));
    }
    common = *c;
  }
  if (common.id == TypeId::kNull) {
    return error(e.pos, "CASE needs at least one branch that is not NULL");
  }
  if (!e.has_else) common.nullable = true;
  bool nullable = !e.has_else;
  for (const auto& r : results) nullable = nullable || r->type.nullable;
  common.nullable = nullable;
  auto out = std::make_unique<BoundExpr>();
  out->kind = BoundExprKind::kCase;
  out->type = common;
  for (size_t k = 0; k < conds.size(); ++k) {
    out->args.push_back(std::move(conds[k]));
    ARROW_ASSIGN_OR_RAISE(auto r, coerce_at(std::move(results[k]), common, result_pos[k]));
    out->args.push_back(std::move(r));
  }
  if (e.has_else) {
    ARROW_ASSIGN_OR_RAISE(auto r, coerce_at(std::move(results.back()), common, result_pos.back()));
    out->args.push_back(std::move(r));
  } else {
    out->args.push_back(BoundExpr::null_literal(common));
  }
  return out;
}

arrow::Result<BoundExprPtr> Binder::bind_call(const ast::Expr& e, const Scope& scope) {
  std::string name = e.op;
  if (kAggregates.contains(name)) {
    if (aggregate_context_) return bind_aggregate_call(e);
    return error(e.pos, fmt::format("aggregate function {} is not allowed here (only in the "
                                    "SELECT list and HAVING)",
                                    name));
  }
  if (e.over || name == "ROW_NUMBER") {
    return error(e.pos, fmt::format("{}() OVER (...) is supported as a select-list item of its "
                                    "own (ROW_NUMBER, RANK, DENSE_RANK): SELECT *, RANK() OVER "
                                    "(PARTITION BY k ORDER BY x DESC) AS r FROM t",
                                    name));
  }
  if (kGroupWindowFunctions.contains(name)) {
    // TUMBLE_START(ts, INTERVAL ...) and friends name a column of the legacy group window.
    const AggregateContext* ctx = aggregate_context_;
    const size_t underscore = name.find('_');
    if (ctx && ctx->legacy_window_column >= 0 && underscore != std::string::npos) {
      const std::string family = name.substr(0, underscore);
      const std::string part = name.substr(underscore + 1);
      std::string args;
      for (const auto& a : e.args) args += a->to_string() + ",";
      if (family != ctx->legacy_window_function || args != ctx->legacy_window_args) {
        return error(e.pos, fmt::format("{} must name the window of the GROUP BY clause: {}(...) "
                                        "with the same arguments",
                                        name, ctx->legacy_window_function));
      }
      const int offset = part == "START" ? 0 : part == "END" ? 1 : 2;
      const Scope::Column& c = scope.columns.at(size_t(ctx->legacy_window_column + offset));
      return BoundExpr::column(ctx->legacy_window_column + offset, c.name, c.type);
    }
    if (name == "TUMBLE" || name == "HOP" || name == "SESSION" || name == "CUMULATE") {
      return error(e.pos, fmt::format("{}(...) as a group window belongs in GROUP BY (legacy "
                                      "syntax) or in FROM TABLE({}(TABLE t, DESCRIPTOR(ts), ...))",
                                      name, name));
    }
    return error(e.pos, fmt::format("{} is only valid with a GROUP BY {}(...) group window", name,
                                    name.substr(0, name.find('_'))));
  }
  if (e.distinct || e.star_arg) {
    return error(e.pos, fmt::format("{}({}) is only valid for aggregate functions", name,
                                    e.star_arg ? "*" : "DISTINCT ..."));
  }
  std::vector<BoundExprPtr> args;
  for (const auto& a : e.args) {
    ARROW_ASSIGN_OR_RAISE(auto b, bind_expr(*a, scope));
    args.push_back(std::move(b));
  }
  auto pos_of = [&](size_t i) { return i < e.args.size() ? e.args[i]->pos : e.pos; };
  auto signature_error = [&](std::string_view forms) {
    return error(e.pos, fmt::format("cannot apply {} to ({}); supported form(s): {}", name,
                                    type_list(args), forms));
  };
  auto arity = [&](size_t lo, size_t hi, std::string_view forms) -> arrow::Status {
    if (args.size() < lo || args.size() > hi) return signature_error(forms);
    return arrow::Status::OK();
  };
  auto is_string = [&](size_t i) {
    return args[i]->type.is_string() || args[i]->type.id == TypeId::kNull;
  };
  auto is_integer = [&](size_t i) {
    return args[i]->type.is_integer() || args[i]->type.id == TypeId::kNull;
  };
  auto is_numeric = [&](size_t i) {
    return args[i]->type.is_numeric() || args[i]->type.id == TypeId::kNull;
  };
  auto to = [&](size_t i, const SqlType& t) -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(args[i], coerce_at(std::move(args[i]), t.with_nullable(true), pos_of(i)));
    return arrow::Status::OK();
  };
  auto result = [&](SqlType t) {
    auto call = BoundExpr::call(name, t, std::move(args));
    call->time_unit = e.time_unit;
    return call;
  };
  const bool nullable = any_nullable(args);

  // ---- string functions
  if (name == "UPPER" || name == "LOWER") {
    ARROW_RETURN_NOT_OK(arity(1, 1, fmt::format("{}(STRING)", name)));
    if (!is_string(0)) return signature_error(fmt::format("{}(STRING)", name));
    SqlType t = args[0]->type.id == TypeId::kNull ? SqlType::string() : args[0]->type;
    return result(t.without_time_attribute());
  }
  if (name == "TRIM" || name == "LTRIM" || name == "RTRIM" || name == "BTRIM") {
    if (name == "TRIM" && e.trim_mode == "LEADING") name = "LTRIM";
    if (name == "TRIM" && e.trim_mode == "TRAILING") name = "RTRIM";
    if (name == "BTRIM") name = "TRIM";
    ARROW_RETURN_NOT_OK(arity(1, 2, "TRIM([BOTH|LEADING|TRAILING] [chars] FROM STRING)"));
    for (size_t i = 0; i < args.size(); ++i) {
      if (!is_string(i))
        return signature_error("TRIM([BOTH|LEADING|TRAILING] [chars] FROM STRING)");
      ARROW_RETURN_NOT_OK(to(i, SqlType::string()));
    }
    return result(SqlType::string(nullable));
  }
  if (name == "SUBSTRING" || name == "SUBSTR") {
    name = "SUBSTRING";
    ARROW_RETURN_NOT_OK(arity(2, 3, "SUBSTRING(STRING, INT[, INT]), SUBSTRING(s FROM i [FOR n])"));
    if (!is_string(0) || !is_integer(1) || (args.size() == 3 && !is_integer(2))) {
      return signature_error("SUBSTRING(STRING, INT[, INT])");
    }
    ARROW_RETURN_NOT_OK(to(0, SqlType::string()));
    for (size_t i = 1; i < args.size(); ++i) ARROW_RETURN_NOT_OK(to(i, SqlType::integer()));
    return result(SqlType::string(nullable));
  }
  if (name == "CONCAT") {
    if (args.empty()) return signature_error("CONCAT(STRING, ...)");
    for (size_t i = 0; i < args.size(); ++i) {
      if (!is_string(i)) return signature_error("CONCAT(STRING, ...) (CAST other types first)");
      ARROW_RETURN_NOT_OK(to(i, SqlType::string()));
    }
    return result(SqlType::string(nullable));
  }
  if (name == "CONCAT_WS") {
    if (args.size() < 2) return signature_error("CONCAT_WS(STRING separator, STRING, ...)");
    for (size_t i = 0; i < args.size(); ++i) {
      if (!is_string(i)) return signature_error("CONCAT_WS(STRING separator, STRING, ...)");
      ARROW_RETURN_NOT_OK(to(i, SqlType::string()));
    }
    // NULL arguments are skipped; only a NULL separator gives NULL (Flink).
    return result(SqlType::string(args[0]->type.nullable));
  }
  if (name == "CHAR_LENGTH" || name == "CHARACTER_LENGTH") {
    name = "CHAR_LENGTH";
    ARROW_RETURN_NOT_OK(arity(1, 1, "CHAR_LENGTH(STRING)"));
    if (!is_string(0)) return signature_error("CHAR_LENGTH(STRING)");
    ARROW_RETURN_NOT_OK(to(0, SqlType::string()));
    return result(SqlType::integer(nullable));
  }
  if (name == "REPLACE") {
    ARROW_RETURN_NOT_OK(arity(3, 3, "REPLACE(STRING, STRING search, STRING replacement)"));
    for (size_t i = 0; i < 3; ++i) {
      if (!is_string(i)) return signature_error("REPLACE(STRING, STRING, STRING)");
      ARROW_RETURN_NOT_OK(to(i, SqlType::string()));
    }
    return result(SqlType::string(nullable));
  }
  if (name == "REGEXP_EXTRACT") {
    ARROW_RETURN_NOT_OK(arity(2, 3, "REGEXP_EXTRACT(STRING, STRING regex[, INT group])"));
    if (!is_string(0) || !is_string(1) || (args.size() == 3 && !is_integer(2))) {
      return signature_error("REGEXP_EXTRACT(STRING, STRING regex[, INT group])");
    }
    ARROW_RETURN_NOT_OK(to(0, SqlType::string()));
    ARROW_RETURN_NOT_OK(to(1, SqlType::string()));
    if (args.size() == 3) ARROW_RETURN_NOT_OK(to(2, SqlType::integer()));
    return result(SqlType::string(true));  // NULL when the regex does not match
  }
  if (name == "SPLIT_INDEX") {
    ARROW_RETURN_NOT_OK(arity(3, 3, "SPLIT_INDEX(STRING, STRING delimiter, INT index)"));
    if (!is_string(0) || !is_string(1) || !is_integer(2)) {
      return signature_error("SPLIT_INDEX(STRING, STRING delimiter, INT index)");
    }
    ARROW_RETURN_NOT_OK(to(0, SqlType::string()));
    ARROW_RETURN_NOT_OK(to(1, SqlType::string()));
    ARROW_RETURN_NOT_OK(to(2, SqlType::integer()));
    return result(SqlType::string(true));  // NULL when the index is out of range
  }
  // ---- conditional
  if (name == "COALESCE" || name == "IFNULL") {
    name = "COALESCE";
    if (args.empty() || (e.op == "IFNULL" && args.size() != 2)) {
      return signature_error("COALESCE(x, y, ...), IFNULL(x, y)");
    }
    SqlType common = SqlType::null_type();
    for (size_t i = 0; i < args.size(); ++i) {
      auto c = common_type(common, args[i]->type);
      if (!c) return signature_error("COALESCE(x, y, ...) with arguments of one type family");
      common = *c;
    }
    if (common.id == TypeId::kNull) return error(e.pos, "COALESCE needs a non-NULL argument");
    bool all_nullable = true;
    for (const auto& a : args) all_nullable = all_nullable && a->type.nullable;
    for (size_t i = 0; i < args.size(); ++i) ARROW_RETURN_NOT_OK(to(i, common));
    return result(common.with_nullable(all_nullable));
  }
  if (name == "NULLIF") {
    ARROW_RETURN_NOT_OK(arity(2, 2, "NULLIF(x, y)"));
    auto c = common_type(args[0]->type, args[1]->type);
    if (!c) return signature_error("NULLIF(x, y) with comparable arguments");
    const SqlType t = args[0]->type.without_time_attribute().with_nullable(true);
    ARROW_RETURN_NOT_OK(to(0, *c));
    ARROW_RETURN_NOT_OK(to(1, *c));
    return result(c->with_nullable(true).id == t.id ? c->with_nullable(true) : t);
  }
  if (name == "IF") {
    ARROW_RETURN_NOT_OK(arity(3, 3, "IF(BOOLEAN, x, y)"));
    ARROW_RETURN_NOT_OK(expect_boolean(*args[0], pos_of(0), "IF's condition"));
    auto c = common_type(args[1]->type, args[2]->type);
    if (!c || c->id == TypeId::kNull) return signature_error("IF(BOOLEAN, x, y), x and y alike");
    auto out = std::make_unique<BoundExpr>();
    out->kind = BoundExprKind::kCase;
    out->type = c->with_nullable(args[1]->type.nullable || args[2]->type.nullable);
    ARROW_ASSIGN_OR_RAISE(auto cond, coerce_at(std::move(args[0]), SqlType::boolean(), pos_of(0)));
    out->args.push_back(std::move(cond));
    for (size_t i = 1; i < 3; ++i) {
      ARROW_ASSIGN_OR_RAISE(auto v, coerce_at(std::move(args[i]), out->type, pos_of(i)));
      out->args.push_back(std::move(v));
    }
    return out;
  }
  if (name == "IS DISTINCT FROM" || name == "IS NOT DISTINCT FROM") {
    // Rewritten to NULL-safe equality from primitives every evaluator has:
    // CASE WHEN a IS NULL THEN b IS NULL WHEN b IS NULL THEN FALSE ELSE a = b END
    auto is_null = [](BoundExprPtr x) {
      auto n = std::make_unique<BoundExpr>();
      n->kind = BoundExprKind::kIsNull;
      n->type = SqlType::boolean(false);
      n->args.push_back(std::move(x));
      return n;
    };
    BoundExprPtr a = std::move(args[0]), b = std::move(args[1]);
    auto a_null = is_null(a->clone());
    auto b_null = is_null(b->clone());
    auto b_null2 = is_null(b->clone());
    ARROW_ASSIGN_OR_RAISE(auto eq, make_comparison("=", std::move(a), std::move(b), e.pos));
    auto out = std::make_unique<BoundExpr>();
    out->kind = BoundExprKind::kCase;
    out->type = SqlType::boolean(false);
    out->args.push_back(std::move(a_null));
    out->args.push_back(std::move(b_null));
    out->args.push_back(std::move(b_null2));
    out->args.push_back(BoundExpr::make_literal(std::make_shared<arrow::BooleanScalar>(false),
                                                SqlType::boolean(false)));
    out->args.push_back(std::move(eq));
    if (name == "IS NOT DISTINCT FROM") return out;
    std::vector<BoundExprPtr> not_args;
    not_args.push_back(std::move(out));
    return BoundExpr::call("NOT", SqlType::boolean(false), std::move(not_args));
  }
  // ---- time functions
  if (name == "CURRENT_TIMESTAMP" || name == "NOW" || name == "CURRENT_ROW_TIMESTAMP") {
    ARROW_RETURN_NOT_OK(arity(0, 0, fmt::format("{}", name)));
    return result(SqlType::timestamp_ltz(3, false));
  }
  if (name == "LOCALTIMESTAMP") {
    ARROW_RETURN_NOT_OK(arity(0, 0, "LOCALTIMESTAMP"));
    return result(SqlType::timestamp(3, false));
  }
  if (name == "CURRENT_DATE") {
    ARROW_RETURN_NOT_OK(arity(0, 0, "CURRENT_DATE"));
    return result(SqlType::date(false));
  }
  if (name == "PROCTIME") {
    ARROW_RETURN_NOT_OK(arity(0, 0, "PROCTIME()"));
    SqlType t = SqlType::timestamp_ltz(3, false);
    t.time_attribute = TimeAttribute::kProctime;
    return result(t);
  }
  if (name == "CURRENT_WATERMARK") {
    // Flink: the input's current watermark as the rowtime's type, NULL before the first one.
    ARROW_RETURN_NOT_OK(arity(1, 1, "CURRENT_WATERMARK(rowtime)"));
    if (args[0]->kind != BoundExprKind::kColumnRef ||
        args[0]->type.time_attribute != TimeAttribute::kRowtime) {
      return error(pos_of(0), fmt::format("CURRENT_WATERMARK needs a rowtime attribute (the "
                                          "column of a WATERMARK FOR clause), got {} of type {}",
                                          args[0]->to_string(), args[0]->type.to_string()));
    }
    SqlType t = args[0]->type.without_time_attribute().with_nullable(true);
    t.precision = 3;
    return result(t);
  }
  if (name == "DATE_FORMAT") {
    ARROW_RETURN_NOT_OK(arity(2, 2, "DATE_FORMAT(TIMESTAMP|STRING, STRING format)"));
    if (!(args[0]->type.is_timestamp() || args[0]->type.id == TypeId::kDate || is_string(0)) ||
        !is_string(1)) {
      return signature_error("DATE_FORMAT(TIMESTAMP|STRING, STRING format)");
    }
    if (args[0]->type.is_string()) ARROW_RETURN_NOT_OK(to(0, SqlType::string()));
    if (args[0]->type.id == TypeId::kDate) ARROW_RETURN_NOT_OK(to(0, SqlType::timestamp(0)));
    ARROW_RETURN_NOT_OK(to(1, SqlType::string()));
    return result(SqlType::string(nullable));
  }
  if (name == "EXTRACT") {
    if (args.size() != 1 || !(args[0]->type.is_datetime() || args[0]->type.is_interval())) {
      return signature_error("EXTRACT(unit FROM DATE|TIME|TIMESTAMP|INTERVAL)");
    }
    return result(SqlType::bigint(nullable));
  }
  if (name == "TO_TIMESTAMP") {
    ARROW_RETURN_NOT_OK(arity(1, 2, "TO_TIMESTAMP(STRING[, STRING format])"));
    for (size_t i = 0; i < args.size(); ++i) {
      if (!is_string(i)) return signature_error("TO_TIMESTAMP(STRING[, STRING format])");
      ARROW_RETURN_NOT_OK(to(i, SqlType::string()));
    }
    return result(SqlType::timestamp(3, true));  // NULL when the text does not parse
  }
  if (name == "TIMESTAMPADD") {
    if (args.size() != 2 || !is_integer(0) || !args[1]->type.is_datetime()) {
      return signature_error("TIMESTAMPADD(unit, INT, DATE|TIMESTAMP)");
    }
    ARROW_RETURN_NOT_OK(to(0, SqlType::integer()));
    return result(args[1]->type.without_time_attribute().with_nullable(nullable));
  }
  if (name == "TIMESTAMPDIFF") {
    if (args.size() != 2 || !args[0]->type.is_datetime() || !args[1]->type.is_datetime()) {
      return signature_error("TIMESTAMPDIFF(unit, TIMESTAMP, TIMESTAMP)");
    }
    auto c = common_type(args[0]->type, args[1]->type);
    if (!c) return signature_error("TIMESTAMPDIFF(unit, TIMESTAMP, TIMESTAMP)");
    ARROW_RETURN_NOT_OK(to(0, *c));
    ARROW_RETURN_NOT_OK(to(1, *c));
    return result(SqlType::integer(nullable));
  }
  // ---- math
  if ((name == "FLOOR" || name == "CEIL" || name == "CEILING") && e.time_unit) {
    name = name == "FLOOR" ? "FLOOR" : "CEIL";
    if (args.size() != 1 || !(args[0]->type.is_timestamp() || args[0]->type.id == TypeId::kDate)) {
      return signature_error(fmt::format("{}(TIMESTAMP|DATE TO unit)", name));
    }
    return result(args[0]->type.without_time_attribute());
  }
  if (name == "FLOOR" || name == "CEIL" || name == "CEILING") {
    name = name == "FLOOR" ? "FLOOR" : "CEIL";
    ARROW_RETURN_NOT_OK(arity(1, 1, fmt::format("{}(NUMERIC), {}(TIMESTAMP TO unit)", name, name)));
    if (!is_numeric(0)) return signature_error(fmt::format("{}(NUMERIC)", name));
    SqlType t = args[0]->type.without_time_attribute();
    if (t.id == TypeId::kDecimal) {
      t = SqlType::decimal(std::min(SqlType::kMaxDecimalPrecision, t.precision - t.scale + 1), 0,
                           t.nullable);
    }
    return result(t);
  }
  if (name == "ABS") {
    ARROW_RETURN_NOT_OK(arity(1, 1, "ABS(NUMERIC)"));
    if (!is_numeric(0) && !args[0]->type.is_interval()) return signature_error("ABS(NUMERIC)");
    return result(args[0]->type.without_time_attribute());
  }
  if (name == "ROUND") {
    ARROW_RETURN_NOT_OK(arity(1, 2, fmt::format("{}(NUMERIC[, INT])", name)));
    if (!is_numeric(0) || (args.size() == 2 && !is_integer(1))) {
      return signature_error(fmt::format("{}(NUMERIC[, INT])", name));
    }
    SqlType t = args[0]->type.without_time_attribute();
    if (args.size() == 2) ARROW_RETURN_NOT_OK(to(1, SqlType::integer()));
    if (t.id == TypeId::kDecimal) {
      int32_t digits = 0;
      if (args.size() == 2) {
        if (args[1]->kind != BoundExprKind::kLiteral || !args[1]->literal->is_valid) {
          return error(pos_of(1),
                       fmt::format("{} of a DECIMAL needs a constant number of digits", name));
        }
        digits = static_cast<const arrow::Int32Scalar&>(*args[1]->literal).value;
      }
      const int32_t scale = std::clamp(digits, 0, t.scale);
      t = SqlType::decimal(
          std::min(SqlType::kMaxDecimalPrecision, t.precision - t.scale + scale + 1), scale,
          nullable);
    }
    return result(t.with_nullable(nullable));
  }
  if (name == "POWER" || name == "POW") {
    name = "POWER";
    ARROW_RETURN_NOT_OK(arity(2, 2, "POWER(NUMERIC, NUMERIC)"));
    if (!is_numeric(0) || !is_numeric(1)) return signature_error("POWER(NUMERIC, NUMERIC)");
    ARROW_RETURN_NOT_OK(to(0, SqlType::double_type()));
    ARROW_RETURN_NOT_OK(to(1, SqlType::double_type()));
    return result(SqlType::double_type(nullable));
  }
  if (name == "SQRT" || name == "LN" || name == "LOG10" || name == "EXP") {
    ARROW_RETURN_NOT_OK(arity(1, 1, fmt::format("{}(NUMERIC)", name)));
    if (!is_numeric(0)) return signature_error(fmt::format("{}(NUMERIC)", name));
    ARROW_RETURN_NOT_OK(to(0, SqlType::double_type()));
    return result(SqlType::double_type(nullable));
  }
  if (name == "MOD") {
    ARROW_RETURN_NOT_OK(arity(2, 2, "MOD(NUMERIC, NUMERIC)"));
    if (!is_numeric(0) || !is_numeric(1)) return signature_error("MOD(INT, INT)");
    return make_arithmetic("%", std::move(args[0]), std::move(args[1]), e.pos);
  }
  if (name == "UNIX_TIMESTAMP" || name == "FROM_UNIXTIME" || name == "RAND" || name == "TO_DATE" ||
      name == "INITCAP" || name == "REGEXP" || name == "TRUNCATE") {
    return error(e.pos, fmt::format("function {} is not supported yet", name));
  }
  return error(e.pos, fmt::format("unknown function '{}'", name));
}

}  // namespace roadpulse::sql
