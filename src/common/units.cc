#include "common/units.h"

#include <cctype>
#include <string>

namespace roadpulse {

namespace {

// Lower-cases and drops spaces; splits into the leading integer and the unit after it.
bool split_quantity(std::string_view text, int64_t* number, std::string* unit) {
  std::string t;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) t.push_back(char(std::tolower(c)));
  }
  size_t digits = 0;
  while (digits < t.size() && std::isdigit(static_cast<unsigned char>(t[digits]))) ++digits;
  if (digits == 0 || digits > 18) return false;
  *number = std::stoll(t.substr(0, digits));
  *unit = t.substr(digits);
  return true;
}

}  // namespace

arrow::Result<int64_t> parse_memory_size(std::string_view text) {
  int64_t n = 0;
  std::string unit;
  if (split_quantity(text, &n, &unit)) {
    if (unit.empty() || unit == "b" || unit == "bytes") return n;
    if (unit == "k" || unit == "kb" || unit == "kib") return n << 10;
    if (unit == "m" || unit == "mb" || unit == "mib") return n << 20;
    if (unit == "g" || unit == "gb" || unit == "gib") return n << 30;
  }
  return arrow::Status::Invalid("not a memory size: '", text, "' (examples: 4096, 64KB, 5MiB)");
}

arrow::Result<int64_t> parse_duration_ms(std::string_view text) {
  int64_t n = 0;
  std::string unit;
  if (split_quantity(text, &n, &unit)) {
    if (unit.empty() || unit == "ms" || unit == "milli" || unit == "millis") return n;
    if (unit == "s" || unit == "sec" || unit == "second" || unit == "seconds") return n * 1000;
    if (unit == "min" || unit == "m" || unit == "minute" || unit == "minutes") return n * 60000;
    if (unit == "h" || unit == "hour" || unit == "hours") return n * 3600000;
    if (unit == "d" || unit == "day" || unit == "days") return n * 86400000;
  }
  return arrow::Status::Invalid("not a duration: '", text, "' (examples: 500ms, 10s, 5min, 2h)");
}

}  // namespace roadpulse
