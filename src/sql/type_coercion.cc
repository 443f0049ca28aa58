#include "sql/type_coercion.h"

#include <algorithm>
#include <cmath>

#include <arrow/scalar.h>
#include <arrow/type.h>
#include <arrow/util/decimal.h>
#include <fmt/format.h>

#include "common/time.h"

namespace roadpulse::sql {

namespace {

int integer_rank(TypeId id) {
  switch (id) {
    case TypeId::kTinyInt:
      return 1;
    case TypeId::kSmallInt:
      return 2;
    case TypeId::kInt:
      return 3;
    case TypeId::kBigInt:
      return 4;
    default:
      return 0;
  }
}

}  // namespace

SqlType decimal_of_integer(const SqlType& t) {
  switch (t.id) {
    case TypeId::kTinyInt:
      return SqlType::decimal(3, 0, t.nullable);
    case TypeId::kSmallInt:
      return SqlType::decimal(5, 0, t.nullable);
    case TypeId::kInt:
      return SqlType::decimal(10, 0, t.nullable);
    case TypeId::kBigInt:
      return SqlType::decimal(19, 0, t.nullable);
    default:
      return t;
  }
}

SqlType adjust_decimal(int32_t precision, int32_t scale, bool nullable) {
  if (precision <= SqlType::kMaxDecimalPrecision) {
    return SqlType::decimal(std::max(precision, 1), scale, nullable);
  }
  const int32_t digits = precision - scale;
  const int32_t min_scale = std::min(scale, 6);
  scale = std::max(SqlType::kMaxDecimalPrecision - digits, min_scale);
  return SqlType::decimal(SqlType::kMaxDecimalPrecision, scale, nullable);
}

SqlType common_numeric_type(const SqlType& a, const SqlType& b) {
  const bool nullable = a.nullable || b.nullable;
  if (a.id == TypeId::kDouble || b.id == TypeId::kDouble) return SqlType::double_type(nullable);
  if (a.id == TypeId::kFloat || b.id == TypeId::kFloat) return SqlType::float_type(nullable);
  if (a.id == TypeId::kDecimal || b.id == TypeId::kDecimal) {
    const SqlType da = decimal_of_integer(a), db = decimal_of_integer(b);
    const int32_t scale = std::max(da.scale, db.scale);
    const int32_t digits = std::max(da.precision - da.scale, db.precision - db.scale);
    return adjust_decimal(digits + scale, scale, nullable);
  }
  SqlType out = integer_rank(a.id) >= integer_rank(b.id) ? a : b;
  return out.with_nullable(nullable).without_time_attribute();
}

std::optional<SqlType> common_type(const SqlType& a, const SqlType& b) {
  if (a.id == TypeId::kNull) return b.with_nullable(true).without_time_attribute();
  if (b.id == TypeId::kNull) return a.with_nullable(true).without_time_attribute();
  const bool nullable = a.nullable || b.nullable;
  if (a.is_numeric() && b.is_numeric()) return common_numeric_type(a, b);
  if (a.is_string() && b.is_string()) {
    if (a.id == TypeId::kChar && b.id == TypeId::kChar) {
      return SqlType::char_type(std::max(a.precision, b.precision), nullable);
    }
    return SqlType::varchar(std::max(a.precision, b.precision), nullable);
  }
  if (a.id == b.id && !a.is_numeric()) {
    SqlType out = a.without_time_attribute().with_nullable(nullable);
    out.precision = std::max(a.precision, b.precision);
    return out;
  }
  if (a.is_datetime() && b.is_datetime()) {
    if (a.id == TypeId::kTime || b.id == TypeId::kTime) return std::nullopt;
    // DATE < TIMESTAMP < TIMESTAMP_LTZ
    auto rank = [](TypeId id) {
      return id == TypeId::kDate ? 0 : id == TypeId::kTimestamp ? 1 : 2;
    };
    const SqlType& wider = rank(a.id) >= rank(b.id) ? a : b;
    SqlType out = wider.without_time_attribute().with_nullable(nullable);
    out.precision = std::max(
        {a.id == TypeId::kDate ? 0 : a.precision, b.id == TypeId::kDate ? 0 : b.precision});
    return out;
  }
  return std::nullopt;
}

bool can_implicitly_cast(const SqlType& from, const SqlType& to) {
  if (from.id == TypeId::kNull) return true;
  if (from.to_arrow()->Equals(*to.to_arrow())) return true;
  if (from.is_numeric() && to.is_numeric()) {
    if (from.is_integer() && to.is_integer()) return integer_rank(from.id) <= integer_rank(to.id);
    if (to.is_approximate()) return !(from.id == TypeId::kDouble && to.id == TypeId::kFloat);
    if (to.id == TypeId::kDecimal) {
      if (from.is_approximate()) return false;
      const SqlType f = decimal_of_integer(from);
      return f.precision - f.scale <= to.precision - to.scale && f.scale <= to.scale;
    }
    return false;
  }
  if (from.is_string() && to.is_string()) return true;
  if (from.is_timestamp() && to.is_timestamp()) return from.id == to.id;
  if (from.id == TypeId::kDate && to.is_timestamp()) return true;
  return false;
}

bool can_explicitly_cast(const SqlType& from, const SqlType& to) {
  if (from.id == TypeId::kNull || can_implicitly_cast(from, to)) return true;
  if (from.is_string() || to.is_string()) {
    // Everything has a text form and parses from one, except intervals.
    return !(from.is_interval() || to.is_interval());
  }
  if (from.is_numeric() && to.is_numeric()) return true;
  if (from.id == TypeId::kBoolean && to.is_numeric()) return true;
  if (from.is_numeric() && to.id == TypeId::kBoolean) return from.is_integer();
  if (from.is_datetime() && to.is_datetime()) {
    if (from.id == TypeId::kTime) return to.id == TypeId::kTime;
    if (to.id == TypeId::kTime) return from.is_timestamp();
    return true;
  }
  // Flink: numeric <-> TIMESTAMP_LTZ (epoch seconds) is allowed, TIMESTAMP is not.
  if (from.is_integer() && to.id == TypeId::kTimestampLtz) return true;
  if (from.id == TypeId::kTimestampLtz && to.is_integer()) return true;
  return false;
}

namespace {

std::optional<int64_t> integer_value(const arrow::Scalar& s) {
  switch (s.type->id()) {
    case arrow::Type::INT8:
      return static_cast<const arrow::Int8Scalar&>(s).value;
    case arrow::Type::INT16:
      return static_cast<const arrow::Int16Scalar&>(s).value;
    case arrow::Type::INT32:
      return static_cast<const arrow::Int32Scalar&>(s).value;
    case arrow::Type::INT64:
      return static_cast<const arrow::Int64Scalar&>(s).value;
    default:
      return std::nullopt;
  }
}

bool fits(int64_t v, TypeId id) {
  switch (id) {
    case TypeId::kTinyInt:
      return v >= INT8_MIN && v <= INT8_MAX;
    case TypeId::kSmallInt:
      return v >= INT16_MIN && v <= INT16_MAX;
    case TypeId::kInt:
      return v >= INT32_MIN && v <= INT32_MAX;
    default:
      return true;
  }
}

std::shared_ptr<arrow::Scalar> integer_scalar(int64_t v, TypeId id) {
  switch (id) {
    case TypeId::kTinyInt:
      return std::make_shared<arrow::Int8Scalar>(static_cast<int8_t>(v));
    case TypeId::kSmallInt:
      return std::make_shared<arrow::Int16Scalar>(static_cast<int16_t>(v));
    case TypeId::kInt:
      return std::make_shared<arrow::Int32Scalar>(static_cast<int32_t>(v));
    default:
      return std::make_shared<arrow::Int64Scalar>(v);
  }
}

// Converts a literal value; nullptr when this kind of conversion is left to a runtime cast.
arrow::Result<std::shared_ptr<arrow::Scalar>> convert_literal(const BoundExpr& e,
                                                              const SqlType& to) {
  const arrow::Scalar& s = *e.literal;
  const SqlType& from = e.type;
  const auto target = to.to_arrow();
  if (from.is_integer()) {
    const int64_t v = *integer_value(s);
    if (to.is_integer()) return fits(v, to.id) ? integer_scalar(v, to.id) : nullptr;
    if (to.id == TypeId::kDouble) return std::make_shared<arrow::DoubleScalar>(double(v));
    if (to.id == TypeId::kFloat) return std::make_shared<arrow::FloatScalar>(float(v));
    if (to.id == TypeId::kDecimal) {
      ARROW_ASSIGN_OR_RAISE(auto d, arrow::Decimal128(v).Rescale(0, to.scale));
      if (!d.FitsInPrecision(to.precision)) return nullptr;
      return std::make_shared<arrow::Decimal128Scalar>(d, target);
    }
  }
  if (from.id == TypeId::kDecimal) {
    const auto& d = static_cast<const arrow::Decimal128Scalar&>(s).value;
    if (to.id == TypeId::kDouble)
      return std::make_shared<arrow::DoubleScalar>(d.ToDouble(from.scale));
    if (to.id == TypeId::kFloat) return std::make_shared<arrow::FloatScalar>(d.ToFloat(from.scale));
    if (to.id == TypeId::kDecimal && to.scale >= from.scale) {
      ARROW_ASSIGN_OR_RAISE(auto r, d.Rescale(from.scale, to.scale));
      if (!r.FitsInPrecision(to.precision)) return nullptr;
      return std::make_shared<arrow::Decimal128Scalar>(r, target);
    }
  }
  if (from.id == TypeId::kFloat && to.id == TypeId::kDouble) {
    return std::make_shared<arrow::DoubleScalar>(static_cast<const arrow::FloatScalar&>(s).value);
  }
  if (from.is_string()) {
    const std::string text = static_cast<const arrow::StringScalar&>(s).ToString();
    if (to.is_string()) return std::make_shared<arrow::StringScalar>(text);
    if (to.is_timestamp() || to.id == TypeId::kDate) {
      auto parsed = parse_timestamp(text);
      if (!parsed.ok()) {
        return arrow::Status::Invalid("'", text, "' is not a valid ", to.to_string(),
                                      " literal (expected 'yyyy-MM-dd HH:mm:ss[.SSS]')");
      }
      if (to.id == TypeId::kDate) {
        const int64_t us = *parsed;
        const int64_t day = 86400LL * 1000000;
        return std::make_shared<arrow::Date32Scalar>(
            static_cast<int32_t>(us >= 0 ? us / day : -((-us + day - 1) / day)));
      }
      return std::make_shared<arrow::TimestampScalar>(*parsed, target);
    }
    if (to.id == TypeId::kBoolean) {
      std::string up;
      for (char c : text) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (up == "TRUE") return std::make_shared<arrow::BooleanScalar>(true);
      if (up == "FALSE") return std::make_shared<arrow::BooleanScalar>(false);
      return arrow::Status::Invalid("'", text, "' is not a valid BOOLEAN literal");
    }
  }
  if (from.id == TypeId::kDate && to.is_timestamp()) {
    const int64_t days = static_cast<const arrow::Date32Scalar&>(s).value;
    return std::make_shared<arrow::TimestampScalar>(days * 86400LL * 1000000, target);
  }
  if (from.is_timestamp() && to.is_timestamp()) {
    return std::make_shared<arrow::TimestampScalar>(
        static_cast<const arrow::TimestampScalar&>(s).value, target);
  }
  return nullptr;
}

}  // namespace

arrow::Result<BoundExprPtr> coerce(BoundExprPtr e, const SqlType& target) {
  if (e->type.to_arrow()->Equals(*target.to_arrow())) {
    // Same physical type: keep the expression; only widen the declared type where that is free
    // (e.g. VARCHAR(3) -> VARCHAR(50), TIMESTAMP(3) -> TIMESTAMP(6)).
    if (e->kind == BoundExprKind::kLiteral) {
      e->type = target.with_nullable(e->type.nullable);
    }
    return e;
  }
  if (e->kind == BoundExprKind::kLiteral) {
    if (!e->literal || !e->literal->is_valid) return BoundExpr::null_literal(target);
    ARROW_ASSIGN_OR_RAISE(auto converted, convert_literal(*e, target));
    if (converted)
      return BoundExpr::make_literal(std::move(converted), target.with_nullable(false));
  }
  const bool nullable = e->type.nullable;
  return BoundExpr::cast(std::move(e), target.without_time_attribute().with_nullable(nullable));
}

}  // namespace roadpulse::sql
