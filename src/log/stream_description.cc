#include "log/log.h"

#include <algorithm>

namespace roadpulse::log {

int StreamDescription::open_shard_count() const {
  int n = 0;
  for (const auto& shard : shards) n += shard.ending_sequence ? 0 : 1;
  return n;
}

StreamTotals StreamDescription::totals() const {
  StreamTotals t;
  for (const auto& s : shards) {
    t.records += s.records;
    t.bytes += s.bytes;
    t.records_last_minute += s.records_last_minute;
    t.last_arrival_ms = std::max(t.last_arrival_ms, s.last_arrival_ms);
    t.appended += s.next_sequence.value - s.starting_sequence.value;
  }
  return t;
}

std::string dead_letter_stream_name(std::string_view stream) {
  return std::string(stream) + ".dlq";
}

bool is_dead_letter_stream(std::string_view name) {
  return name.size() > 4 && name.ends_with(".dlq");
}

}  // namespace roadpulse::log
