#include "common/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/units.h"

namespace roadpulse {

namespace {

// Reads one TOML table, remembering which keys were consumed so the rest can be reported.
class TableReader {
 public:
  TableReader(const toml::table* table, std::string path, const std::string& source)
      : table_(table), path_(std::move(path)), source_(source) {}

  arrow::Status string(const char* key, std::string* out) {
    const toml::node* node = take(key);
    if (!node) return arrow::Status::OK();
    if (auto v = node->value<std::string>()) {
      *out = *v;
      return arrow::Status::OK();
    }
    return wrong_type(key, "a string");
  }

  arrow::Status integer(const char* key, int64_t* out) {
    const toml::node* node = take(key);
    if (!node) return arrow::Status::OK();
    if (auto v = node->value<int64_t>()) {
      *out = *v;
      return arrow::Status::OK();
    }
    return wrong_type(key, "an integer");
  }

  arrow::Status integer(const char* key, int* out) {
    int64_t v = *out;
    ARROW_RETURN_NOT_OK(integer(key, &v));
    *out = int(v);
    return arrow::Status::OK();
  }

  arrow::Status boolean(const char* key, bool* out) {
    const toml::node* node = take(key);
    if (!node) return arrow::Status::OK();
    if (auto v = node->value<bool>()) {
      *out = *v;
      return arrow::Status::OK();
    }
    return wrong_type(key, "true or false");
  }

  // "10s", "5min" or an integer number of milliseconds.
  arrow::Status duration(const char* key, int64_t* out_ms) {
    const toml::node* node = take(key);
    if (!node) return arrow::Status::OK();
    if (auto v = node->value<int64_t>()) {
      *out_ms = *v;
      return arrow::Status::OK();
    }
    if (auto v = node->value<std::string>()) {
      auto parsed = parse_duration_ms(*v);
      if (!parsed.ok()) return error(key, parsed.status().message());
      *out_ms = *parsed;
      return arrow::Status::OK();
    }
    return wrong_type(key, "a duration such as \"10s\"");
  }

  // "5MiB", "64KB" or an integer number of bytes.
  arrow::Status size(const char* key, int64_t* out_bytes) {
    const toml::node* node = take(key);
    if (!node) return arrow::Status::OK();
    if (auto v = node->value<int64_t>()) {
      *out_bytes = *v;
      return arrow::Status::OK();
    }
    if (auto v = node->value<std::string>()) {
      auto parsed = parse_memory_size(*v);
      if (!parsed.ok()) return error(key, parsed.status().message());
      *out_bytes = *parsed;
      return arrow::Status::OK();
    }
    return wrong_type(key, "a size such as \"5MiB\"");
  }

  arrow::Status string_list(const char* key, std::vector<std::string>* out) {
    const toml::node* node = take(key);
    if (!node) return arrow::Status::OK();
    const toml::array* array = node->as_array();
    if (!array) return wrong_type(key, "an array of strings");
    out->clear();
    for (const auto& item : *array) {
      auto v = item.value<std::string>();
      if (!v) return wrong_type(key, "an array of strings");
      out->push_back(*v);
    }
    return arrow::Status::OK();
  }

  // A table of scalar values, each turned into its text ("10s", "true", "4").
  arrow::Status string_map(const char* key, std::map<std::string, std::string>* out) {
    const toml::node* node = take(key);
    if (!node) return arrow::Status::OK();
    const toml::table* table = node->as_table();
    if (!table) return wrong_type(key, "a table of key = value");
    for (const auto& [k, v] : *table) {
      if (auto s = v.value<std::string>()) {
        (*out)[std::string(k.str())] = *s;
      } else if (auto i = v.value<int64_t>()) {
        (*out)[std::string(k.str())] = std::to_string(*i);
      } else if (auto b = v.value<bool>()) {
        (*out)[std::string(k.str())] = *b ? "true" : "false";
      } else if (auto d = v.value<double>()) {
        (*out)[std::string(k.str())] = fmt::format("{}", *d);
      } else {
        return error(std::string(key) + "." + std::string(k.str()),
                     "expected a string, number or boolean");
      }
    }
    return arrow::Status::OK();
  }

  /// A sub-table as a reader (absent: a reader over nothing).
  arrow::Result<TableReader> table(const char* key) {
    const toml::node* node = take(key);
    if (node && !node->is_table()) return wrong_type(key, "a table");
    return TableReader(node ? node->as_table() : nullptr, qualified(key), source_);
  }

  /// The raw node, consumed (for sections handed on as a whole).
  const toml::node* raw(const char* key) { return take(key); }

  arrow::Status finish() const {
    if (!table_) return arrow::Status::OK();
    for (const auto& [k, v] : *table_) {
      if (!used_.count(std::string(k.str()))) {
        return arrow::Status::Invalid(source_, ": unknown key '", qualified(k.str()),
                                      "' (see docs/configuration.md for every key)");
      }
    }
    return arrow::Status::OK();
  }

 private:
  const toml::node* take(std::string_view key) {
    used_.insert(std::string(key));
    return table_ ? table_->get(key) : nullptr;
  }
  std::string qualified(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  arrow::Status error(const std::string& key, std::string_view what) const {
    return arrow::Status::Invalid(source_, ": '", qualified(key), "': ", what);
  }
  arrow::Status wrong_type(const std::string& key, std::string_view expected) const {
    return error(key, fmt::format("expected {}", expected));
  }

  const toml::table* table_;
  std::string path_;
  const std::string& source_;
  std::set<std::string> used_;
};

arrow::Status check_one_of(const std::string& source, const std::string& key,
                           const std::string& value, std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return arrow::Status::OK();
    list += list.empty() ? a : std::string(", ") + a;
  }
  return arrow::Status::Invalid(source, ": '", key, "' is '", value, "'; expected one of ", list);
}

std::string quoted(std::string_view text) {
  std::ostringstream out;
  out << toml::value<std::string>(std::string(text));
  return out.str();
}

std::string duration_text(int64_t ms) {
  if (ms % 86'400'000 == 0 && ms) return fmt::format("\"{}d\"", ms / 86'400'000);
  if (ms % 3'600'000 == 0 && ms) return fmt::format("\"{}h\"", ms / 3'600'000);
  if (ms % 60'000 == 0 && ms) return fmt::format("\"{}min\"", ms / 60'000);
  if (ms % 1000 == 0 && ms) return fmt::format("\"{}s\"", ms / 1000);
  return fmt::format("\"{}ms\"", ms);
}

std::string size_text(int64_t bytes) {
  if (bytes > 0 && bytes % (1LL << 30) == 0) return fmt::format("\"{}GiB\"", bytes >> 30);
  if (bytes > 0 && bytes % (1LL << 20) == 0) return fmt::format("\"{}MiB\"", bytes >> 20);
  if (bytes > 0 && bytes % (1LL << 10) == 0) return fmt::format("\"{}KiB\"", bytes >> 10);
  return std::to_string(bytes);
}

std::string map_text(const std::map<std::string, std::string>& map) {
  std::string out;
  for (const auto& [k, v] : map) out += fmt::format("{} = {}\n", quoted(k), quoted(v));
  return out;
}

}  // namespace

arrow::Result<RunConfig> RunConfig::parse(std::string_view toml_text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return arrow::Status::Invalid(source, ":", e.source().begin.line, ":", e.source().begin.column,
                                  ": ", e.description());
  }
  RunConfig config;
  TableReader top(&root, "", source);
  ARROW_RETURN_NOT_OK(top.string("data_dir", &config.data_dir));

  ARROW_ASSIGN_OR_RAISE(auto server, top.table("server"));
  ARROW_RETURN_NOT_OK(server.string("listen", &config.server.listen));
  ARROW_RETURN_NOT_OK(server.string_list("access_keys", &config.server.access_keys));
  ARROW_RETURN_NOT_OK(server.integer("io_threads", &config.server.io_threads));
  ARROW_RETURN_NOT_OK(server.integer("workers", &config.server.workers));
  ARROW_RETURN_NOT_OK(server.finish());

  ARROW_ASSIGN_OR_RAISE(auto log, top.table("log"));
  ARROW_RETURN_NOT_OK(log.string("durability", &config.log.durability));
  ARROW_RETURN_NOT_OK(
      check_one_of(source, "log.durability", config.log.durability, {"fsync", "interval", "none"}));
  ARROW_RETURN_NOT_OK(log.integer("default_shards", &config.log.default_shards));
  if (config.log.default_shards < 1) {
    return arrow::Status::Invalid(source, ": 'log.default_shards' must be at least 1");
  }
  ARROW_RETURN_NOT_OK(log.duration("retention", &config.log.retention_ms));
  ARROW_RETURN_NOT_OK(log.size("retention_bytes", &config.log.retention_bytes));
  ARROW_RETURN_NOT_OK(log.finish());

  ARROW_ASSIGN_OR_RAISE(auto pipeline, top.table("pipeline"));
  ARROW_RETURN_NOT_OK(pipeline.string("file", &config.pipeline.file));
  ARROW_RETURN_NOT_OK(pipeline.string("name", &config.pipeline.name));
  ARROW_RETURN_NOT_OK(
      pipeline.duration("checkpoint_interval", &config.pipeline.checkpoint_interval_ms));
  if (config.pipeline.checkpoint_interval_ms <= 0) {
    return arrow::Status::Invalid(source, ": 'pipeline.checkpoint_interval' must be positive");
  }
  ARROW_RETURN_NOT_OK(pipeline.string_map("set", &config.pipeline.set));
  ARROW_RETURN_NOT_OK(pipeline.finish());

  ARROW_ASSIGN_OR_RAISE(auto archive, top.table("archive"));
  ARROW_RETURN_NOT_OK(archive.boolean("enabled", &config.archive.enabled));
  ARROW_RETURN_NOT_OK(archive.string("stream", &config.archive.stream));
  ARROW_RETURN_NOT_OK(archive.size("buffer_size", &config.archive.buffer_bytes));
  ARROW_RETURN_NOT_OK(archive.duration("buffer_interval", &config.archive.buffer_interval_ms));
  ARROW_RETURN_NOT_OK(archive.string("priority", &config.archive.priority));
  ARROW_RETURN_NOT_OK(
      check_one_of(source, "archive.priority", config.archive.priority, {"low", "normal"}));
  ARROW_RETURN_NOT_OK(archive.finish());

  ARROW_ASSIGN_OR_RAISE(auto alerts, top.table("alerts"));
  ARROW_RETURN_NOT_OK(alerts.string("config", &config.alerts.config));
  // Channels and routes are the routing file's own format (docs/realtime.md), checked by the
  // real-time layer's parser; here they are only carried over as text.
  toml::table routing;
  for (const char* key : {"channels", "routes"}) {
    if (const toml::node* node = alerts.raw(key)) routing.insert(key, *node);
  }
  if (!routing.empty()) {
    if (!config.alerts.config.empty()) {
      return arrow::Status::Invalid(
          source,
          ": give either 'alerts.config' (a file) or [[alerts.channels]]/[[alerts.routes]]"
          ", not both");
    }
    std::ostringstream out;
    out << routing;
    config.alerts.inline_toml = out.str();
  }
  ARROW_RETURN_NOT_OK(alerts.finish());

  ARROW_ASSIGN_OR_RAISE(auto streams, top.table("streams"));
  ARROW_RETURN_NOT_OK(streams.string("backend", &config.streams.backend));
  ARROW_RETURN_NOT_OK(
      check_one_of(source, "streams.backend", config.streams.backend, {"embedded", "kafka"}));
  ARROW_RETURN_NOT_OK(
      streams.string("sink_delivery_guarantee", &config.streams.sink_delivery_guarantee));
  ARROW_RETURN_NOT_OK(check_one_of(source, "streams.sink_delivery_guarantee",
                                   config.streams.sink_delivery_guarantee,
                                   {"at-least-once", "exactly-once"}));
  ARROW_ASSIGN_OR_RAISE(auto kafka, streams.table("kafka"));
  ARROW_RETURN_NOT_OK(kafka.string("bootstrap_servers", &config.streams.bootstrap_servers));
  ARROW_RETURN_NOT_OK(kafka.string_map("properties", &config.streams.kafka_properties));
  ARROW_RETURN_NOT_OK(kafka.finish());
  ARROW_RETURN_NOT_OK(streams.finish());
  if (config.streams.backend == "kafka" && config.streams.bootstrap_servers.empty()) {
    return arrow::Status::Invalid(
        source, ": streams.backend is \"kafka\" but 'streams.kafka.bootstrap_servers' is empty");
  }

  ARROW_ASSIGN_OR_RAISE(auto logging, top.table("logging"));
  ARROW_RETURN_NOT_OK(logging.string("level", &config.logging.level));
  ARROW_RETURN_NOT_OK(check_one_of(source, "logging.level", config.logging.level,
                                   {"trace", "debug", "info", "warn", "error", "off"}));
  ARROW_RETURN_NOT_OK(logging.string("format", &config.logging.format));
  ARROW_RETURN_NOT_OK(
      check_one_of(source, "logging.format", config.logging.format, {"text", "json"}));
  ARROW_RETURN_NOT_OK(logging.finish());

  ARROW_RETURN_NOT_OK(top.finish());
  return config;
}

arrow::Result<RunConfig> RunConfig::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return arrow::Status::IOError("cannot read config '", path,
                                  "': no such file (roadpulse config print shows the defaults)");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse(buffer.str(), path);
}

std::string RunConfig::to_toml() const {
  std::string out;
  out += fmt::format("data_dir = {}\n\n", quoted(data_dir));
  out += "[server]\n";
  out += fmt::format("listen = {}\n", quoted(server.listen));
  std::string keys;
  for (const auto& k : server.access_keys) keys += (keys.empty() ? "" : ", ") + quoted(k);
  out += fmt::format("access_keys = [{}]\n", keys);
  out += fmt::format("io_threads = {}\nworkers = {}\n\n", server.io_threads, server.workers);
  out += "[log]\n";
  out +=
      fmt::format("durability = {}\ndefault_shards = {}\nretention = {}\nretention_bytes = {}\n\n",
                  quoted(log.durability), log.default_shards, duration_text(log.retention_ms),
                  log.retention_bytes < 0 ? std::string("-1") : size_text(log.retention_bytes));
  out += "[pipeline]\n";
  out += fmt::format("file = {}\nname = {}\ncheckpoint_interval = {}\n", quoted(pipeline.file),
                     quoted(pipeline.name), duration_text(pipeline.checkpoint_interval_ms));
  out += "[pipeline.set]\n" + map_text(pipeline.set) + "\n";
  out += "[archive]\n";
  out += fmt::format(
      "enabled = {}\nstream = {}\nbuffer_size = {}\nbuffer_interval = {}\npriority = {}\n\n",
      archive.enabled ? "true" : "false", quoted(archive.stream), size_text(archive.buffer_bytes),
      duration_text(archive.buffer_interval_ms), quoted(archive.priority));
  out += "[alerts]\n";
  out += fmt::format("config = {}\n", quoted(alerts.config));
  if (!alerts.inline_toml.empty()) {
    // Re-nest the routing tables under [alerts].
    auto routing = toml::parse(alerts.inline_toml);
    toml::table wrapper;
    wrapper.insert("alerts", std::move(routing));
    std::ostringstream nested;
    nested << wrapper;
    std::string text = nested.str();
    // toml++ prints the parent [alerts] header again only when it has plain keys; keep ours.
    out += text.rfind("[alerts]\n", 0) == 0 ? text.substr(9) : text;
    out += "\n";
  }
  out += "\n[streams]\n";
  out += fmt::format("backend = {}\n", quoted(streams.backend));
  out += fmt::format("sink_delivery_guarantee = {}\n\n", quoted(streams.sink_delivery_guarantee));
  out += "[streams.kafka]\n";
  out += fmt::format("bootstrap_servers = {}\n", quoted(streams.bootstrap_servers));
  out += "[streams.kafka.properties]\n" + map_text(streams.kafka_properties) + "\n";
  out += "[logging]\n";
  out += fmt::format("level = {}\nformat = {}\n", quoted(logging.level), quoted(logging.format));
  return out;
}

}  // namespace roadpulse
