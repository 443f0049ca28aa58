#include "record/value.h"

#include <charconv>
#include <cmath>

#include <arrow/status.h>

namespace roadpulse::record {

bool parse_bool(std::string_view text, bool* out) {
  if (text == "True" || text == "true" || text == "TRUE") {
    *out = true;
    return true;
  }
  if (text == "False" || text == "false" || text == "FALSE") {
    *out = false;
    return true;
  }
  return false;
}

bool is_json_number(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  auto digit = [&](size_t k) { return k < n && s[k] >= '0' && s[k] <= '9'; };
  if (i < n && s[i] == '-') ++i;
  if (!digit(i)) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == n;
}

bool parse_finite_double(std::string_view s, double* out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  // from_chars rejects "inf"/"nan" only with chars_format::fixed; check explicitly instead.
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool parse_int64(std::string_view s, int64_t* out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  *out = v;
  return true;
}

arrow::Result<Value> parse_value(FieldType type, std::string_view text) {
  if (text.empty()) return Value{};
  switch (type) {
    case FieldType::kString:
      return Value{std::string(text)};
    case FieldType::kInt: {
      int64_t v = 0;
      if (!parse_int64(text, &v)) {
        return arrow::Status::Invalid("expected an integer, found '", text, "'");
      }
      return Value{v};
    }
    case FieldType::kDouble: {
      double v = 0;
      if (!parse_finite_double(text, &v)) {
        return arrow::Status::Invalid("expected a number, found '", text, "'");
      }
      return Value{Number{v, std::string(text)}};
    }
    case FieldType::kBool: {
      bool v = false;
      if (!parse_bool(text, &v)) {
        return arrow::Status::Invalid("expected True or False, found '", text, "'");
      }
      return Value{v};
    }
    case FieldType::kTimestamp: {
      auto ts = parse_timestamp(text);
      if (!ts.ok()) {
        return arrow::Status::Invalid("expected a timestamp (YYYY-MM-DD hh:mm:ss[.f]), found '",
                                      text, "'");
      }
      return Value{Timestamp{*ts}};
    }
  }
  return arrow::Status::Invalid("unknown field type");
}

arrow::Result<Row> parse_row(const Schema& schema, std::span<const std::string_view> fields) {
  if (fields.size() != schema.size()) {
    return arrow::Status::Invalid("expected ", schema.size(), " fields, found ", fields.size());
  }
  Row row;
  row.reserve(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    auto value = parse_value(schema.column(i).type, fields[i]);
    if (!value.ok()) {
      return arrow::Status::Invalid("field ", i + 1, " '", schema.column(i).name,
                                    "': ", value.status().message());
    }
    row.push_back(std::move(value).ValueUnsafe());
  }
  return row;
}

std::string value_to_string(const Value& value) {
  struct Visitor {
    std::string operator()(std::monostate) const { return "null"; }
    std::string operator()(const std::string& s) const { return "\"" + s + "\""; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(const Number& n) const { return n.text; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(const Timestamp& t) const { return format_iso8601(t.micros); }
  };
  return std::visit(Visitor{}, value);
}

}  // namespace roadpulse::record
