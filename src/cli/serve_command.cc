// `roadpulse serve`: owns a data directory and serves the Kinesis-compatible API (JSON 1.1 and
// CBOR) over the embedded log (or a Kafka cluster's topics with --kafka), the real-time APIs and
// the SQL gateway (jobs submitted with `roadpulse sql --server`), until SIGINT/SIGTERM. `roadpulse
// run` is the same plus a pipeline.

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "cli/command.h"
#include "cli/server_app.h"

namespace roadpulse::cli {

namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./roadpulse-data";
  std::vector<std::string> access_keys;
  std::string durability = "fsync";
  int64_t shard_records_per_second = 0;
  int64_t shard_bytes_per_second = 0;
  int io_threads = 0;
  int worker_threads = 0;
  int max_shards = 1024;
  std::string kafka;                          // bootstrap servers: streams on Kafka
  std::vector<std::string> kafka_properties;  // KEY=VALUE librdkafka properties
};

arrow::Status serve(const ServeOptions& opts) {
  ServerAppOptions app_options;
  app_options.data_dir = opts.data_dir;
  app_options.listen = opts.listen;
  app_options.access_keys = opts.access_keys;
  if (opts.durability == "fsync") {
    app_options.log.durability = log::Durability::kFsync;
  } else if (opts.durability == "interval") {
    app_options.log.durability = log::Durability::kInterval;
  } else {
    app_options.log.durability = log::Durability::kNone;
  }
  app_options.shard_records_per_second = opts.shard_records_per_second;
  app_options.shard_bytes_per_second = opts.shard_bytes_per_second;
  app_options.max_shards = opts.max_shards;
  app_options.io_threads = opts.io_threads;
  app_options.worker_threads = opts.worker_threads;
  if (!opts.kafka.empty()) {
    app_options.kafka_streams["bootstrap.servers"] = opts.kafka;
    for (const auto& kv : opts.kafka_properties) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        return arrow::Status::Invalid("--kafka-property expects KEY=VALUE, got '", kv, "'");
      }
      app_options.kafka_streams[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    // SQL submitted to this server reads and writes the same topics.
    app_options.gateway.base_config["streams.backend"] = "kafka";
    for (const auto& [k, v] : app_options.kafka_streams) {
      app_options.gateway.base_config["streams.kafka." + k] = v;
    }
  } else if (!opts.kafka_properties.empty()) {
    return arrow::Status::Invalid("--kafka-property needs --kafka BOOTSTRAP");
  }
  ARROW_ASSIGN_OR_RAISE(auto app, ServerApp::open(std::move(app_options)));
  ARROW_RETURN_NOT_OK(app->start());
  spdlog::info("serve: Kinesis API ({}), SQL gateway and real-time APIs (durability {})",
               opts.kafka.empty() ? "embedded log" : "Kafka " + opts.kafka, opts.durability);
  // A line on stdout that scripts can wait for.
  std::cout << "listening on http://" << app->address() << std::endl;
  spdlog::info("serve: dashboard on http://{}/", app->address());
  app->run_until_signal();
  spdlog::info("serve: stopping jobs and closing the log");
  return arrow::Status::OK();
}

void setup(CLI::App& root) {
  auto opts = std::make_shared<ServeOptions>();
  CLI::App* cmd = root.add_subcommand(
      "serve", "Serve the Kinesis-compatible API (JSON 1.1 and CBOR) over the embedded log");
  cmd->add_option("--listen", opts->listen, "HOST:PORT to listen on (loopback by default)")
      ->capture_default_str();
  cmd->add_option("--data-dir", opts->data_dir, "Data directory this server owns")
      ->capture_default_str();
  cmd->add_option("--access-key", opts->access_keys,
                  "ID:SECRET accepted for SigV4-signed requests (repeatable; also "
                  "ROADPULSE_ACCESS_KEYS=ID:SECRET,...). With any key set, unsigned or wrongly "
                  "signed requests are refused.");
  cmd->add_option("--durability", opts->durability,
                  "When appends are acknowledged: fsync (after fdatasync, default), interval, none")
      ->check(CLI::IsMember({"fsync", "interval", "none"}))
      ->capture_default_str();
  cmd->add_option("--shard-limit-records", opts->shard_records_per_second,
                  "Per-shard write limit in records/s (Kinesis: 1000); 0 = unlimited")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--shard-limit-bytes", opts->shard_bytes_per_second,
                  "Per-shard write limit in bytes/s (Kinesis: 1048576); 0 = unlimited")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--io-threads", opts->io_threads, "HTTP I/O threads (0: one per core)");
  cmd->add_option("--workers", opts->worker_threads, "Request worker threads (0: automatic)");
  cmd->add_option("--max-shards", opts->max_shards, "Most shards a stream may have")
      ->capture_default_str();
  cmd->add_option("--kafka", opts->kafka,
                  "Serve streams from this Kafka cluster (bootstrap servers): streams are "
                  "topics, shards partitions, sequence numbers offsets (docs/kafka.md)");
  cmd->add_option("--kafka-property", opts->kafka_properties,
                  "KEY=VALUE librdkafka property for --kafka (SASL, TLS, ...; repeatable)");
  cmd->footer(
      "Examples:\n"
      "  roadpulse serve --data-dir ./data\n"
      "  roadpulse serve --listen 127.0.0.1:4567 --access-key AKIDEXAMPLE:secret\n"
      "  roadpulse serve --kafka broker1:9092 --kafka-property security.protocol=SASL_SSL\n"
      "  aws --endpoint-url http://127.0.0.1:8080 kinesis create-stream \\\n"
      "      --stream-name us-accidents-data-stream-1 --shard-count 4\n"
      "Stops gracefully on SIGINT/SIGTERM (in-flight requests are answered first).");
  cmd->callback([opts] { run_command([&] { return serve(*opts); }); });
}

const RegisterCommand kRegister(40, &setup);

}  // namespace

}  // namespace roadpulse::cli
