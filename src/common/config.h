#pragma once
// roadpulse.toml: the infrastructure side of a pipeline (where data lives, what the server
// listens on, durability, checkpoints, the raw archive, alert routing, where streams live). The
// SQL file says what is computed; this file says where and how. Every key has a default, so an
// empty file (or none) is a valid config; an unknown key is an error naming it, because a typo
// silently ignored is worse than a refusal. docs/configuration.md is the reference.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>

namespace roadpulse {

struct RunConfig {
  std::string data_dir = "./roadpulse-data";

  struct Server {
    std::string listen = "127.0.0.1:8080";
    std::vector<std::string> access_keys;  // "ID:SECRET"; any set means SigV4 is required
    int io_threads = 0;                    // 0: one per core
    int workers = 0;                       // 0: automatic
  } server;

  struct Log {
    std::string durability = "fsync";  // fsync | interval | none
    int default_shards = 4;            // shards of streams the pipeline creates
    int64_t retention_ms = 24LL * 3600 * 1000;
    int64_t retention_bytes = -1;  // per shard; -1 = unlimited
  } log;

  struct Pipeline {
    std::string file;  // "" = the built-in default pipeline (sql/pipeline.sql)
    std::string name = "roadpulse";
    int64_t checkpoint_interval_ms = 10'000;
    std::map<std::string, std::string> set;  // extra SET 'key' = 'value' before the pipeline
  } pipeline;

  struct Archive {
    bool enabled = true;
    std::string stream = "us-accidents-data-stream-1";
    int64_t buffer_bytes = 5LL << 20;  // Firehose's default buffering hints
    int64_t buffer_interval_ms = 300'000;
    // "low": the archive's thread runs at low CPU priority (nice 10), like the default
    // pipeline's lake job: it may lag under load, the real-time job may not. Or "normal".
    std::string priority = "low";
  } archive;

  struct Alerts {
    std::string
        config;  // path of a routing file; "" = inline tables below or <data-dir>/alerts.toml
    std::string inline_toml;  // [[alerts.channels]] / [[alerts.routes]] re-serialized as a file
  } alerts;

  struct Streams {
    std::string backend = "embedded";  // embedded | kafka
    // Default 'sink.delivery-guarantee' of kinesis/stream sinks on Kafka: at-least-once |
    // exactly-once (one Kafka transaction per checkpoint; docs/kafka.md).
    std::string sink_delivery_guarantee = "at-least-once";
    std::string bootstrap_servers;
    std::map<std::string, std::string> kafka_properties;  // passed to the Kafka client
  } streams;

  struct Logging {
    std::string level = "info";
    std::string format = "text";  // text | json
  } logging;

  /// Parses TOML text; errors name `source`, the key and what was expected.
  static arrow::Result<RunConfig> parse(std::string_view toml_text, const std::string& source);
  static arrow::Result<RunConfig> load(const std::string& path);
  /// The effective config as TOML (what `roadpulse config print` shows); parse(to_toml()) gives
  /// the same config back.
  std::string to_toml() const;
};

}  // namespace roadpulse
