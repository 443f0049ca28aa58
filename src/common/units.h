#pragma once
// Human-written quantities in options and config files: durations ("10 s", "500ms", "2h") and
// memory sizes ("128MB", "5MiB"). One parser for the connectors' WITH options and roadpulse.toml.

#include <cstdint>
#include <string_view>

#include <arrow/result.h>

namespace roadpulse {

/// Parses sizes like "128MB", "1kb", "5 MiB", "4096" (bytes).
arrow::Result<int64_t> parse_memory_size(std::string_view text);
/// Parses durations like "10 s", "500ms", "1min", "2h", "7d", "1000" (ms).
arrow::Result<int64_t> parse_duration_ms(std::string_view text);

}  // namespace roadpulse
