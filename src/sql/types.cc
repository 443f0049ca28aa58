#include "sql/types.h"

#include <arrow/type.h>
#include <fmt/format.h>

namespace roadpulse::sql {

std::string SqlType::to_string() const {
  std::string s;
  switch (id) {
    case TypeId::kNull:
      return "NULL";
    case TypeId::kBoolean:
      s = "BOOLEAN";
      break;
    case TypeId::kTinyInt:
      s = "TINYINT";
      break;
    case TypeId::kSmallInt:
      s = "SMALLINT";
      break;
    case TypeId::kInt:
      s = "INT";
      break;
    case TypeId::kBigInt:
      s = "BIGINT";
      break;
    case TypeId::kFloat:
      s = "FLOAT";
      break;
    case TypeId::kDouble:
      s = "DOUBLE";
      break;
    case TypeId::kDecimal:
      s = fmt::format("DECIMAL({}, {})", precision, scale);
      break;
    case TypeId::kChar:
      s = fmt::format("CHAR({})", precision);
      break;
    case TypeId::kVarChar:
      s = precision == kMaxVarCharLength ? "STRING" : fmt::format("VARCHAR({})", precision);
      break;
    case TypeId::kDate:
      s = "DATE";
      break;
    case TypeId::kTime:
      s = fmt::format("TIME({})", precision);
      break;
    case TypeId::kTimestamp:
      s = fmt::format("TIMESTAMP({})", precision);
      break;
    case TypeId::kTimestampLtz:
      s = fmt::format("TIMESTAMP_LTZ({})", precision);
      break;
    case TypeId::kIntervalDayTime:
      s = "INTERVAL DAY TO SECOND";
      break;
    case TypeId::kIntervalYearMonth:
      s = "INTERVAL YEAR TO MONTH";
      break;
  }
  if (!nullable) s += " NOT NULL";
  if (time_attribute == TimeAttribute::kRowtime) s += " *ROWTIME*";
  if (time_attribute == TimeAttribute::kProctime) s += " *PROCTIME*";
  return s;
}

std::shared_ptr<arrow::DataType> SqlType::to_arrow() const {
  switch (id) {
    case TypeId::kNull:
      return arrow::null();
    case TypeId::kBoolean:
      return arrow::boolean();
    case TypeId::kTinyInt:
      return arrow::int8();
    case TypeId::kSmallInt:
      return arrow::int16();
    case TypeId::kInt:
      return arrow::int32();
    case TypeId::kBigInt:
      return arrow::int64();
    case TypeId::kFloat:
      return arrow::float32();
    case TypeId::kDouble:
      return arrow::float64();
    case TypeId::kDecimal:
      return arrow::decimal128(precision, scale);
    case TypeId::kChar:
    case TypeId::kVarChar:
      return arrow::utf8();
    case TypeId::kDate:
      return arrow::date32();
    case TypeId::kTime:
      return arrow::time64(arrow::TimeUnit::MICRO);
    case TypeId::kTimestamp:
      return arrow::timestamp(arrow::TimeUnit::MICRO);
    case TypeId::kTimestampLtz:
      return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
    case TypeId::kIntervalDayTime:
      return arrow::duration(arrow::TimeUnit::MICRO);
    case TypeId::kIntervalYearMonth:
      return arrow::month_interval();
  }
  return arrow::null();
}

namespace {

int32_t precision_of_unit(arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      return 0;
    case arrow::TimeUnit::MILLI:
      return 3;
    case arrow::TimeUnit::MICRO:
      return 6;
    case arrow::TimeUnit::NANO:
      return 9;
  }
  return 6;
}

}  // namespace

arrow::Result<SqlType> sql_type_from_arrow(const arrow::DataType& type, bool nullable) {
  switch (type.id()) {
    case arrow::Type::NA:
      return SqlType::null_type();
    case arrow::Type::BOOL:
      return SqlType::boolean(nullable);
    case arrow::Type::INT8:
      return SqlType::tinyint(nullable);
    case arrow::Type::INT16:
    case arrow::Type::UINT8:
      return SqlType::smallint(nullable);
    case arrow::Type::INT32:
    case arrow::Type::UINT16:
      return SqlType::integer(nullable);
    case arrow::Type::INT64:
    case arrow::Type::UINT32:
      return SqlType::bigint(nullable);
    case arrow::Type::HALF_FLOAT:
    case arrow::Type::FLOAT:
      return SqlType::float_type(nullable);
    case arrow::Type::DOUBLE:
      return SqlType::double_type(nullable);
    case arrow::Type::DECIMAL128: {
      const auto& d = static_cast<const arrow::Decimal128Type&>(type);
      return SqlType::decimal(d.precision(), d.scale(), nullable);
    }
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::STRING_VIEW:
      return SqlType::string(nullable);
    case arrow::Type::DATE32:
    case arrow::Type::DATE64:
      return SqlType::date(nullable);
    case arrow::Type::TIME32:
    case arrow::Type::TIME64:
      return SqlType::time(precision_of_unit(static_cast<const arrow::TimeType&>(type).unit()),
                           nullable);
    case arrow::Type::TIMESTAMP: {
      const auto& t = static_cast<const arrow::TimestampType&>(type);
      const int32_t p = precision_of_unit(t.unit());
      return t.timezone().empty() ? SqlType::timestamp(p, nullable)
                                  : SqlType::timestamp_ltz(p, nullable);
    }
    case arrow::Type::DURATION:
      return SqlType::interval_day_time(nullable);
    case arrow::Type::INTERVAL_MONTHS:
      return SqlType::interval_year_month(nullable);
    default:
      return arrow::Status::NotImplemented("no SQL type for Arrow type ", type.ToString());
  }
}

int Schema::find(std::string_view name) const {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::shared_ptr<arrow::Schema> Schema::to_arrow() const {
  arrow::FieldVector out;
  out.reserve(fields.size());
  for (const auto& f : fields)
    out.push_back(arrow::field(f.name, f.type.to_arrow(), f.type.nullable));
  return arrow::schema(std::move(out));
}

std::string Schema::to_string() const {
  std::string s = "(";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) s += ", ";
    s += fmt::format("`{}` {}", fields[i].name, fields[i].type.to_string());
  }
  s += ")";
  return s;
}

}  // namespace roadpulse::sql
