#include "exec/text_parse.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
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

// Java's Double.toString / Float.toString rendering.
std::string java_double_string(double v, bool is_float) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[40];
  auto [ptr, ec] = is_float
                       ? std::to_chars(buf, buf + sizeof(buf), static_cast<float>(v),
                                       std::chars_format::scientific)
                       : std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, ptr);
  // sci: [-]d[.ddd]e[+-]xx
  const size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  const int exponent = std::stoi(sci.substr(e + 1));
  bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  std::string out = negative ? "-" : "";
  const double a = std::fabs(v);
  if (a >= 1e-3 && a < 1e7) {
    if (exponent >= 0) {
      std::string int_part = digits.substr(0, std::min<size_t>(digits.size(), exponent + 1));
      while (int_part.size() < size_t(exponent + 1)) int_part.push_back('0');
      std::string frac = digits.size() > size_t(exponent + 1) ? digits.substr(exponent + 1) : "0";
      out += int_part + "." + frac;
    } else {
      out += "0." + std::string(size_t(-exponent - 1), '0') + digits;
    }
  } else {
    out += digits.substr(0, 1) + "." + (digits.size() > 1 ? digits.substr(1) : "0") + "E" +
           std::to_string(exponent);
  }
  return out;
}

std::string java_local_date_time(int64_t micros) {
  // LocalDateTime.toString(): seconds only when non-zero, fraction in groups of 3 digits.
  const int64_t secs = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  const int64_t frac = micros - secs * 1000000;
  std::string out = format_iso8601(secs * 1000000);  // "YYYY-MM-DDThh:mm:ss"
  if (frac == 0 && out.compare(out.size() - 2, 2, "00") == 0) {
    out.resize(out.size() - 3);
    return out;
  }
  if (frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "%06lld", static_cast<long long>(frac));
    std::string f(buf);
    if (frac % 1000 == 0) f.resize(3);
    out += "." + f;
  }
  return out;
}

}  // namespace roadpulse::exec
