#pragma once
// Text -> value conversions with Flink's rules, shared by the JSON and CSV formats and by CAST.
// Each returns false when the text is not a value of the type; callers name the field.

#include <cstdint>
#include <string>
#include <string_view>

#include <arrow/type_fwd.h>

namespace roadpulse::exec {

/// Java's String.trim(): drops leading and trailing chars <= ' '.
std::string_view java_trim(std::string_view text);

/// Long.parseLong(text.trim()): optional sign, decimal digits, no overflow.
bool parse_int64_text(std::string_view text, int64_t* out);
/// Double.parseDouble(text.trim()): decimal or exponent form, NaN, [+-]Infinity, trailing d/f.
bool parse_double_text(std::string_view text, double* out);
/// Boolean.parseBoolean(text.trim()): "true" in any case is true, everything else false
/// (Flink's JSON format reads "False", "no" and "" as false).
bool parse_flink_bool(std::string_view text);
/// SQL CAST(string AS BOOLEAN): true/t/yes/y/1 and false/f/no/n/0, any case; else false.
bool parse_sql_bool(std::string_view text, bool* out);
/// "YYYY-MM-DD" -> days since epoch.
bool parse_date_text(std::string_view text, int32_t* days);
/// "YYYY-MM-DD[T ]hh:mm[:ss[.fffffffff]]" (ISO-8601 or SQL form; a trailing Z or offset is
/// accepted and applied) -> a value in `unit` since the epoch.
bool parse_timestamp_text(std::string_view text, arrow::TimeUnit::type unit, int64_t* out);

/// Converts an epoch value in `unit` to microseconds and back (truncating toward -inf).
int64_t to_micros(int64_t value, arrow::TimeUnit::type unit);
int64_t from_micros(int64_t micros, arrow::TimeUnit::type unit);

/// Java's Double.toString / Float.toString: "3.0", "0.001", "1.0E7", "NaN", "-Infinity".
std::string java_double_string(double v, bool is_float = false);
/// Java's LocalDateTime.toString() of epoch microseconds: "2016-02-08T05:46",
/// "2016-02-08T05:46:07", "2016-02-08T05:46:07.120" (how Flink prints TIMESTAMP values).
std::string java_local_date_time(int64_t micros);

}  // namespace roadpulse::exec
