#pragma once
// SQL types of the Flink dialect and their Arrow mapping. A SqlType carries what the binder
// needs (precision, length, scale, nullability); to_arrow() gives the physical type exec and the
// connectors use. The mapping is fixed and documented in docs/sql.md:
//
//   BOOLEAN -> bool            TINYINT -> int8        SMALLINT -> int16     INT -> int32
//   BIGINT -> int64            FLOAT -> float32       DOUBLE -> float64
//   DECIMAL(p,s) -> decimal128(p,s)                   CHAR(n)/VARCHAR(n)/STRING -> utf8
//   DATE -> date32             TIME(p) -> time64[us]  (microseconds, like every roadpulse time)
//   TIMESTAMP(p) -> timestamp[us] (no zone)           TIMESTAMP_LTZ(p) -> timestamp[us, UTC]
//   INTERVAL DAY TO SECOND -> duration[us]            INTERVAL YEAR TO MONTH -> month_interval
//   NULL (the type of a bare NULL literal) -> null
//
// Lengths and precisions are kept as metadata (shown by DESCRIBE, checked by CAST rules) but
// values are not truncated, as Flink does not truncate on read either. Precisions above 6 for
// TIME/TIMESTAMP are accepted and stored as microseconds.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>
#include <arrow/type_fwd.h>

namespace roadpulse::sql {

enum class TypeId : uint8_t {
  kNull,  // the type of an untyped NULL literal; never a column type
  kBoolean,
  kTinyInt,
  kSmallInt,
  kInt,
  kBigInt,
  kFloat,
  kDouble,
  kDecimal,
  kChar,
  kVarChar,
  kDate,
  kTime,
  kTimestamp,
  kTimestampLtz,
  kIntervalDayTime,    // INTERVAL DAY/HOUR/MINUTE/SECOND ...: microseconds
  kIntervalYearMonth,  // INTERVAL YEAR/MONTH ...: months
};

/// Marks a TIMESTAMP/TIMESTAMP_LTZ as a time attribute, as Flink does (shown as *ROWTIME* or
/// *PROCTIME* by DESCRIBE). Only the column named in a table's WATERMARK FOR clause is kRowtime.
enum class TimeAttribute : uint8_t { kNone, kRowtime, kProctime };

struct SqlType {
  static constexpr int32_t kMaxVarCharLength = 2147483647;  // VARCHAR(max) == STRING
  static constexpr int32_t kMaxDecimalPrecision = 38;

  TypeId id = TypeId::kNull;
  bool nullable = true;
  /// CHAR/VARCHAR: length in characters. DECIMAL: precision. TIME/TIMESTAMP/TIMESTAMP_LTZ:
  /// fractional-second precision (0..9). Unused (0) otherwise.
  int32_t precision = 0;
  /// DECIMAL only.
  int32_t scale = 0;
  TimeAttribute time_attribute = TimeAttribute::kNone;

  // Factories; `nullable` defaults to true as in SQL.
  static SqlType null_type() { return SqlType{}; }
  static SqlType boolean(bool nullable = true) { return make(TypeId::kBoolean, nullable); }
  static SqlType tinyint(bool nullable = true) { return make(TypeId::kTinyInt, nullable); }
  static SqlType smallint(bool nullable = true) { return make(TypeId::kSmallInt, nullable); }
  static SqlType integer(bool nullable = true) { return make(TypeId::kInt, nullable); }
  static SqlType bigint(bool nullable = true) { return make(TypeId::kBigInt, nullable); }
  static SqlType float_type(bool nullable = true) { return make(TypeId::kFloat, nullable); }
  static SqlType double_type(bool nullable = true) { return make(TypeId::kDouble, nullable); }
  static SqlType decimal(int32_t precision, int32_t scale, bool nullable = true) {
    return make(TypeId::kDecimal, nullable, precision, scale);
  }
  static SqlType char_type(int32_t length, bool nullable = true) {
    return make(TypeId::kChar, nullable, length);
  }
  static SqlType varchar(int32_t length, bool nullable = true) {
    return make(TypeId::kVarChar, nullable, length);
  }
  static SqlType string(bool nullable = true) { return varchar(kMaxVarCharLength, nullable); }
  static SqlType date(bool nullable = true) { return make(TypeId::kDate, nullable); }
  static SqlType time(int32_t precision = 0, bool nullable = true) {
    return make(TypeId::kTime, nullable, precision);
  }
  static SqlType timestamp(int32_t precision = 6, bool nullable = true) {
    return make(TypeId::kTimestamp, nullable, precision);
  }
  static SqlType timestamp_ltz(int32_t precision = 6, bool nullable = true) {
    return make(TypeId::kTimestampLtz, nullable, precision);
  }
  static SqlType interval_day_time(bool nullable = true) {
    return make(TypeId::kIntervalDayTime, nullable);
  }
  static SqlType interval_year_month(bool nullable = true) {
    return make(TypeId::kIntervalYearMonth, nullable);
  }

  SqlType with_nullable(bool n) const {
    SqlType t = *this;
    t.nullable = n;
    return t;
  }
  /// The same type without a time attribute (what an expression over a rowtime column yields).
  SqlType without_time_attribute() const {
    SqlType t = *this;
    t.time_attribute = TimeAttribute::kNone;
    return t;
  }

  bool is_integer() const {
    return id == TypeId::kTinyInt || id == TypeId::kSmallInt || id == TypeId::kInt ||
           id == TypeId::kBigInt;
  }
  bool is_approximate() const { return id == TypeId::kFloat || id == TypeId::kDouble; }
  bool is_numeric() const { return is_integer() || is_approximate() || id == TypeId::kDecimal; }
  bool is_string() const { return id == TypeId::kChar || id == TypeId::kVarChar; }
  bool is_timestamp() const { return id == TypeId::kTimestamp || id == TypeId::kTimestampLtz; }
  bool is_datetime() const { return is_timestamp() || id == TypeId::kDate || id == TypeId::kTime; }
  bool is_interval() const {
    return id == TypeId::kIntervalDayTime || id == TypeId::kIntervalYearMonth;
  }

  /// Flink's spelling: "VARCHAR(50) NOT NULL", "STRING", "TIMESTAMP(3) *ROWTIME*",
  /// "DECIMAL(10, 2)", "TIMESTAMP_LTZ(3)", "INTERVAL SECOND".
  std::string to_string() const;

  /// The Arrow type of values of this type (see the table at the top of this file).
  std::shared_ptr<arrow::DataType> to_arrow() const;

  /// Equality ignores nothing: id, nullability, precision, scale and time attribute.
  friend bool operator==(const SqlType&, const SqlType&) = default;
  /// Same logical type ignoring nullability and time attribute.
  bool same_kind_as(const SqlType& other) const {
    return id == other.id && precision == other.precision && scale == other.scale;
  }

 private:
  static SqlType make(TypeId id, bool nullable, int32_t precision = 0, int32_t scale = 0) {
    SqlType t;
    t.id = id;
    t.nullable = nullable;
    t.precision = precision;
    t.scale = scale;
    return t;
  }
};

/// The SQL type for an Arrow type (for schemas discovered from files, e.g. Parquet). utf8 and
/// large_utf8 map to STRING, timestamp with a zone to TIMESTAMP_LTZ, any timestamp unit to
/// precision 0/3/6/9 by unit. Unsupported Arrow types give NotImplemented naming the type.
arrow::Result<SqlType> sql_type_from_arrow(const arrow::DataType& type, bool nullable = true);

/// A named, typed column of a relation.
struct Field {
  std::string name;
  SqlType type;
  friend bool operator==(const Field&, const Field&) = default;
};

/// The row type of a relation (a table, a plan node's output). Names are case-sensitive as in
/// Flink; duplicates are allowed in query outputs (e.g. SELECT a, a) but not in tables.
struct Schema {
  std::vector<Field> fields;

  size_t size() const { return fields.size(); }
  const Field& operator[](size_t i) const { return fields[i]; }
  /// Index of the first field named exactly `name`, or -1.
  int find(std::string_view name) const;
  /// The Arrow schema: names, to_arrow() types and nullability.
  std::shared_ptr<arrow::Schema> to_arrow() const;
  /// "(`a` INT, `b` STRING NOT NULL)".
  std::string to_string() const;
  friend bool operator==(const Schema&, const Schema&) = default;
};

}  // namespace roadpulse::sql
