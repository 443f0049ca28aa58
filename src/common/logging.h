#pragma once
// Process-wide logging setup: human-readable text on a terminal, JSON lines for machines.

#include <string_view>

namespace roadpulse {

enum class LogFormat { kText, kJson };

/// Configures spdlog's default logger to write to stderr. `level` is one of
/// trace, debug, info, warn, error, off.
void init_logging(LogFormat format, std::string_view level);

}  // namespace roadpulse
