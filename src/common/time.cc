#include "common/time.h"

#include <chrono>

#include <arrow/status.h>

namespace roadpulse {

EpochMicros now_micros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// Howard Hinnant's civil-date algorithms (public domain): exact for the proleptic Gregorian
// calendar, no locale or tz database involved.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

CivilDate civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp + (mp < 10 ? 3 : -9);
  return {y + (m <= 2), static_cast<int>(m), static_cast<int>(d)};
}

namespace {

void put2(std::string& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

void append_date_time(EpochMicros t, std::string& out, int64_t* micros_out) {
  int64_t secs = t / 1000000;
  int64_t micros = t % 1000000;
  if (micros < 0) {
    micros += 1000000;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    days -= 1;
  }
  const CivilDate c = civil_from_days(days);
  const auto year = static_cast<unsigned>(c.y);
  put2(out, year / 100);
  put2(out, year % 100);
  out.push_back('-');
  put2(out, c.m);
  out.push_back('-');
  put2(out, c.d);
  out.push_back('T');
  put2(out, static_cast<unsigned>(sod / 3600));
  out.push_back(':');
  put2(out, static_cast<unsigned>(sod / 60 % 60));
  out.push_back(':');
  put2(out, static_cast<unsigned>(sod % 60));
  *micros_out = micros;
}

bool read_digits(std::string_view s, size_t pos, size_t n, int64_t* out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

void append_iso8601(EpochMicros t, std::string& out) {
  int64_t micros = 0;
  append_date_time(t, out, &micros);
  if (micros == 0) return;
  out.push_back('.');
  int64_t div = 100000;
  int64_t rest = micros;
  while (rest != 0) {
    out.push_back(static_cast<char>('0' + rest / div));
    rest %= div;
    div /= 10;
  }
}

std::string format_iso8601(EpochMicros t) {
  std::string out;
  out.reserve(26);
  append_iso8601(t, out);
  return out;
}

std::string format_iso8601_millis(EpochMicros t) {
  std::string out;
  out.reserve(23);
  int64_t micros = 0;
  append_date_time(t, out, &micros);
  const auto millis = static_cast<unsigned>(micros / 1000);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + millis / 100));
  put2(out, millis % 100);
  return out;
}

arrow::Result<EpochMicros> parse_timestamp(std::string_view s) {
  auto invalid = [&]() {
    return arrow::Status::Invalid("not a timestamp (expected YYYY-MM-DD hh:mm:ss[.fff]): '", s,
                                  "'");
  };
  int64_t y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
  if (!read_digits(s, 0, 4, &y) || s.size() < 10 || s[4] != '-' || !read_digits(s, 5, 2, &mo) ||
      s[7] != '-' || !read_digits(s, 8, 2, &d)) {
    return invalid();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return invalid();
  size_t pos = 10;
  if (pos < s.size()) {
    if (s[pos] != ' ' && s[pos] != 'T') return invalid();
    if (!read_digits(s, pos + 1, 2, &h) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !read_digits(s, pos + 4, 2, &mi)) {
      return invalid();
    }
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!read_digits(s, pos + 1, 2, &sec)) return invalid();
      pos += 3;
    }
    if (h > 23 || mi > 59 || sec > 60) return invalid();
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      int digits = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (digits < 6) frac = frac * 10 + (s[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0 || digits > 9) return invalid();
      for (int i = digits; i < 6; ++i) frac *= 10;
    }
  }
  int64_t offset_secs = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z' && pos + 1 == s.size()) {
      ++pos;
    } else if ((s[pos] == '+' || s[pos] == '-') && pos + 6 == s.size() && s[pos + 3] == ':') {
      int64_t oh, om;
      if (!read_digits(s, pos + 1, 2, &oh) || !read_digits(s, pos + 4, 2, &om)) return invalid();
      offset_secs = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
      pos = s.size();
    } else {
      return invalid();
    }
  }
  const int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  if (civil_from_days(days).d != d) return invalid();  // e.g. February 30th
  const int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_secs;
  return secs * 1000000 + frac;
}

}  // namespace roadpulse
