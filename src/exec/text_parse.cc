#include "exec/text_parse.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include <arrow/type.h>

#include "common/time.h"

namespace roadpulse::exec {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

std::string_view java_trim(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && static_cast<unsigned char>(text[begin]) <= ' ') ++begin;
  while (end > begin && static_cast<unsigned char>(text[end - 1]) <= ' ') --end;
  return text.substr(begin, end - begin);
}

bool parse_int64_text(std::string_view text, int64_t* out) {
  text = java_trim(text);
  if (text.empty()) return false;
  size_t pos = 0;
  bool negative = false;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    pos = 1;
  }
  if (pos == text.size()) return false;
  // Accumulate negatively so INT64_MIN parses.
  int64_t value = 0;
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (c < '0' || c > '9') return false;
    const int digit = c - '0';
    if (value < (std::numeric_limits<int64_t>::min() + digit) / 10) return false;
    value = value * 10 - digit;
  }
  if (!negative) {
    if (value == std::numeric_limits<int64_t>::min()) return false;
    value = -value;
  }
  *out = value;
  return true;
}

bool parse_double_text(std::string_view text, double* out) {
  text = java_trim(text);
  if (text.empty()) return false;
  bool negative = false;
  std::string_view body = text;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (body == "Infinity") {
    *out = negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
    return true;
  }
  if (!body.empty() &&
      (body.back() == 'd' || body.back() == 'D' || body.back() == 'f' || body.back() == 'F')) {
    body.remove_suffix(1);
  }
  if (body.empty() || !(std::isdigit(static_cast<unsigned char>(body[0])) || body[0] == '.')) {
    return false;
  }
  double value = 0;
  const auto [ptr, ec] =
      std::from_chars(body.data(), body.data() + body.size(), value, std::chars_format::general);
  if (ec != std::errc() || ptr != body.data() + body.size()) return false;
  *out = negative ? -value : value;
  return true;
}

bool parse_flink_bool(std::string_view text) { return iequals(java_trim(text), "true"); }

bool parse_sql_bool(std::string_view text, bool* out) {
  text = java_trim(text);
  for (std::string_view t : {"true", "t", "yes", "y", "1"}) {
    if (iequals(text, t)) {
      *out = true;
      return true;
    }
  }
  for (std::string_view f : {"false", "f", "no", "n", "0"}) {
    if (iequals(text, f)) {
      *out = false;
      return true;
    }
  }
  return false;
}

bool parse_date_text(std::string_view text, int32_t* days) {
  text = java_trim(text);
  if (text.size() != 10) return false;
  auto micros = parse_timestamp(text);
  if (!micros.ok()) return false;
  *days = static_cast<int32_t>(floor_div(*micros, 86400LL * 1000000));
  return true;
}

bool parse_timestamp_text(std::string_view text, arrow::TimeUnit::type unit, int64_t* out) {
  text = java_trim(text);
  if (text.size() < 10) return false;
  auto micros = parse_timestamp(text);
  if (!micros.ok()) return false;
  *out = from_micros(*micros, unit);
  return true;
}

int64_t to_micros(int64_t value, arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      return value * 1000000;
    case arrow::TimeUnit::MILLI:
      return value * 1000;
    case arrow::TimeUnit::MICRO:
      return value;
    case arrow::TimeUnit::NANO:
      return floor_div(value, 1000);
  }
  return value;
}

int64_t from_micros(int64_t micros, arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      return floor_div(micros, 1000000);
    case arrow::TimeUnit::MILLI:
      return floor_div(micros, 1000);
    case arrow::TimeUnit::MICRO:
      return micros;
    case arrow::TimeUnit::NANO:
      return micros * 1000;
  }
  return micros;
}

}  // namespace roadpulse::exec
