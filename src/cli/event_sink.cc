#include "cli/event_sink.h"

#include <algorithm>
#include <map>

namespace roadpulse::cli {

namespace {

std::map<std::string, EventSinkFactory, std::less<>>& sink_registry() {
  static std::map<std::string, EventSinkFactory, std::less<>> registry;
  return registry;
}

}  // namespace

RegisterEventSink::RegisterEventSink(std::string_view scheme, EventSinkFactory factory) {
  sink_registry().emplace(std::string(scheme), factory);
}

std::string_view target_scheme(std::string_view target) {
  if (target == "-") return "-";
  const size_t colon = target.find(':');
  return colon == std::string_view::npos ? std::string_view() : target.substr(0, colon);
}

std::vector<std::string> registered_sink_schemes() {
  std::vector<std::string> schemes;
  for (const auto& [scheme, factory] : sink_registry()) schemes.push_back(scheme);
  return schemes;
}

arrow::Result<std::unique_ptr<EventSink>> open_event_sink(std::string_view target) {
  const std::string_view scheme = target_scheme(target);
  const auto it = sink_registry().find(scheme);
  if (scheme.empty() || it == sink_registry().end()) {
    std::string known;
    for (const auto& s : registered_sink_schemes()) {
      if (!known.empty()) known += ", ";
      known += s == "-" ? "- (stdout)" : s + ":...";
    }
    return arrow::Status::Invalid("unknown target '", target, "': expected one of ", known);
  }
  return it->second(target);
}

}  // namespace roadpulse::cli
