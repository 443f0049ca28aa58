#pragma once
// Time helpers shared by every module: wall-clock reads and ISO-8601 text for timestamps.
// Timestamps are int64 microseconds since the Unix epoch (UTC), the unit Arrow's
// timestamp[us] uses, so they move into record batches without conversion.

#include <cstdint>
#include <string>
#include <string_view>

#include <arrow/result.h>

namespace roadpulse {

using EpochMicros = int64_t;

/// Current wall-clock time.
EpochMicros now_micros();

/// "2016-02-08T05:46:00.123" (UTC, no zone suffix): the form Flink's ISO-8601 JSON format reads.
std::string format_iso8601_millis(EpochMicros t);
/// "2016-02-08T05:46:00" when whole seconds, else with the fractional digits needed (up to 6).
std::string format_iso8601(EpochMicros t);
/// Appends format_iso8601(t) to out without allocating a temporary.
void append_iso8601(EpochMicros t, std::string& out);

/// Parses "YYYY-MM-DD[ T]hh:mm:ss[.f{1,9}][Z|±hh:mm]" and "YYYY-MM-DD". Fractions beyond
/// microseconds are truncated. Returns Invalid naming the text when it is not such a timestamp.
arrow::Result<EpochMicros> parse_timestamp(std::string_view text);

/// Days since 1970-01-01 for a civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

/// A proleptic Gregorian date: month 1..12, day 1..31.
struct CivilDate {
  int64_t y;
  int m, d;
};
/// The civil date of a day number (days since 1970-01-01); inverse of days_from_civil.
CivilDate civil_from_days(int64_t days);

}  // namespace roadpulse
