#pragma once
// Typed values of one accident row, and the rules that read a field's text as its column's type.
// The same rules serve the CSV -> JSON encoder (which validates without allocating) and the
// JSON decoder, so a value accepted on one side is accepted on the other. Numbers keep the text
// they were written with: "-77.49952900000002" stays exactly that, nothing is re-rounded.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <arrow/result.h>

#include "common/time.h"
#include "record/schema.h"

namespace roadpulse::record {

struct Timestamp {
  EpochMicros micros = 0;
  bool operator==(const Timestamp& other) const = default;
};

/// A double with the text it was read from. Equal when the values are equal.
struct Number {
  double value = 0;
  std::string text;
  bool operator==(const Number& other) const { return value == other.value; }
};

/// null (monostate), string, int, double, bool or timestamp.
using Value = std::variant<std::monostate, std::string, int64_t, Number, bool, Timestamp>;
/// One value per schema column, in schema order.
using Row = std::vector<Value>;

/// Reads `text` as `type`. The empty text is null for every type. Fails with a message naming the
/// expected type and quoting the text.
arrow::Result<Value> parse_value(FieldType type, std::string_view text);

/// Reads CSV field texts as the schema's columns. Fails naming the column on a count mismatch
/// or a value that is not of its column's type.
arrow::Result<Row> parse_row(const Schema& schema, std::span<const std::string_view> fields);

/// "True"/"False" as in the CSV files (also "true"/"false", "TRUE"/"FALSE"); false if not a bool.
bool parse_bool(std::string_view text, bool* out);
/// True when `text` is a number in JSON's grammar (so it can be copied into JSON as is).
bool is_json_number(std::string_view text);
/// A finite double from `text` (JSON grammar or what strtod reads, e.g. ".5", "+1"), or false.
bool parse_finite_double(std::string_view text, double* out);
/// An int64 from the whole of `text`, or false.
bool parse_int64(std::string_view text, int64_t* out);

/// The value as text for messages and tests: null, "a string", 3, 39.86, true, 2016-02-08T05:46:00.
std::string value_to_string(const Value& value);

}  // namespace roadpulse::record
