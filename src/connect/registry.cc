#include "connect/registry.h"

#include "common/units.h"

#include <cctype>

#include <fmt/format.h>

#include "common/units.h"
#include "connect/connectors.h"

namespace roadpulse::connect {

ConnectContext::ConnectContext(ConnectOptions options) : options_(std::move(options)) {
  options_.log.data_dir = options_.data_dir;
}

ConnectContext::ConnectContext(ConnectOptions options, std::shared_ptr<log::LogStore> log)
    : options_(std::move(options)), log_(std::move(log)) {
  options_.log.data_dir = options_.data_dir;
}

arrow::Result<std::shared_ptr<log::LogStore>> ConnectContext::log() {
  std::lock_guard lock(mutex_);
  if (!log_) {
    ARROW_ASSIGN_OR_RAISE(auto store, log::LogStore::open(options_.log));
    log_ = std::shared_ptr<log::LogStore>(std::move(store));
  }
  return log_;
}

ConnectorRegistry::ConnectorRegistry(std::shared_ptr<ConnectContext> context)
    : context_(std::move(context)) {
  add(stream_connector());
  add(kinesis_connector());
  add(filesystem_connector());
  add(datagen_connector());
  add(print_connector());
  add(blackhole_connector());
  add(metrics_connector());
  add(alerts_connector());
  add(kafka_connector());
  add(upsert_kafka_connector());
}

void ConnectorRegistry::add(ConnectorEntry entry) {
  std::string name = entry.name;
  entries_[name] = std::move(entry);
}

std::vector<std::string> ConnectorRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : entries_) out.push_back(name);
  return out;
}

arrow::Result<const ConnectorEntry*> ConnectorRegistry::find(
    const exec::TableOptions& options) const {
  auto it = options.find("connector");
  if (it == options.end()) {
    return arrow::Status::Invalid("table has no 'connector' option (known connectors: ",
                                  fmt::format("{}", fmt::join(names(), ", ")), ")");
  }
  auto entry = entries_.find(it->second);
  if (entry == entries_.end()) {
    return arrow::Status::Invalid("unknown connector '", it->second, "' (known connectors: ",
                                  fmt::format("{}", fmt::join(names(), ", ")), ")");
  }
  return &entry->second;
}

arrow::Result<std::unique_ptr<exec::Source>> ConnectorRegistry::make_source(
    const exec::SourceSpec& spec) {
  ARROW_ASSIGN_OR_RAISE(const ConnectorEntry* entry, find(spec.options));
  if (!entry->make_source) {
    return arrow::Status::Invalid("connector '", entry->name, "' can only be written, not read");
  }
  return entry->make_source(spec, *context_);
}

arrow::Result<std::unique_ptr<exec::Sink>> ConnectorRegistry::make_sink(
    const exec::SinkSpec& spec) {
  ARROW_ASSIGN_OR_RAISE(const ConnectorEntry* entry, find(spec.options));
  if (!entry->make_sink) {
    return arrow::Status::Invalid("connector '", entry->name, "' can only be read, not written");
  }
  return entry->make_sink(spec, *context_);
}

// ---------------------------------------------------------------------------------------------
// OptionReader

std::optional<std::string> OptionReader::get(const std::string& key) {
  used_.insert(key);
  auto it = options_.find(key);
  if (it == options_.end()) return std::nullopt;
  return it->second;
}

arrow::Result<std::string> OptionReader::require(const std::string& key) {
  auto value = get(key);
  if (!value) {
    return arrow::Status::Invalid("connector '", connector_, "' requires the option '", key, "'");
  }
  return *value;
}

std::string OptionReader::get_or(const std::string& key, std::string fallback) {
  auto value = get(key);
  return value ? *value : std::move(fallback);
}

arrow::Result<int64_t> OptionReader::get_int(const std::string& key, int64_t fallback) {
  auto value = get(key);
  if (!value) return fallback;
  try {
    size_t used = 0;
    const int64_t v = std::stoll(*value, &used);
    if (used == value->size()) return v;
  } catch (const std::exception&) {
  }
  return arrow::Status::Invalid("option '", key, "' must be an integer, got '", *value, "'");
}

arrow::Result<bool> OptionReader::get_bool(const std::string& key, bool fallback) {
  auto value = get(key);
  if (!value) return fallback;
  std::string v = *value;
  for (auto& c : v) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (v == "true") return true;
  if (v == "false") return false;
  return arrow::Status::Invalid("option '", key, "' must be 'true' or 'false', got '", *value, "'");
}

arrow::Status OptionReader::check_unknown() const {
  std::vector<std::string> unknown;
  for (const auto& [key, _] : options_) {
    if (used_.count(key)) continue;
    bool prefixed = false;
    for (const auto& p : prefixes_) prefixed |= key.rfind(p, 0) == 0;
    if (!prefixed) unknown.push_back(key);
  }
  if (unknown.empty()) return arrow::Status::OK();
  return arrow::Status::Invalid("unsupported options for connector '", connector_,
                                "': ", fmt::format("{}", fmt::join(unknown, ", ")));
}

arrow::Result<int64_t> parse_memory_size(std::string_view text) {
  return roadpulse::parse_memory_size(text);
}

arrow::Result<int64_t> parse_duration_ms(std::string_view text) {
  return roadpulse::parse_duration_ms(text);
}

}  // namespace roadpulse::connect
