// `roadpulse archive`: the raw archive on its own (the Firehose role) — every shard of a stream
// from durable consumer positions into <data-dir>/lake/raw/<stream>/dt=.../hour=.../ as
// zstd JSON lines, until SIGINT/SIGTERM, or with --once what is there now and exit. With
// --kafka the stream is a Kafka topic (server::make_kafka_stream_store).

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "archive/archive.h"
#include "cli/command.h"
#include "common/units.h"
#include "log/log.h"
#include "server/kinesis_kafka_store.h"

namespace roadpulse::cli {
namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

struct ArchiveArgs {
  std::string stream;
  std::string data_dir = "./roadpulse-data";
  std::string buffer_size = "5MiB";
  std::string buffer_interval = "300s";
  std::string consumer = "roadpulse-archive";
  int compression_level = 1;
  bool once = false;
  std::string kafka;                          // bootstrap servers: the stream is a Kafka topic
  std::vector<std::string> kafka_properties;  // KEY=VALUE librdkafka properties
};

// The stream's store: the data dir's embedded log, or the Kafka cluster of --kafka (then the
// consumer positions are files under <data-dir>/kafka-positions).
arrow::Result<std::unique_ptr<log::LogStore>> open_store(const ArchiveArgs& args) {
  if (args.kafka.empty()) {
    if (!args.kafka_properties.empty()) {
      return arrow::Status::Invalid("--kafka-property needs --kafka BOOTSTRAP");
    }
    log::LogOptions log_options;
    log_options.data_dir = args.data_dir;
    log_options.retention_thread = false;  // retention is the owning server's job, not ours
    return log::LogStore::open(log_options);
  }
  server::KafkaStoreOptions options;
  options.properties["bootstrap.servers"] = args.kafka;
  for (const auto& kv : args.kafka_properties) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return arrow::Status::Invalid("--kafka-property expects KEY=VALUE, got '", kv, "'");
    }
    options.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  options.positions_dir = args.data_dir + "/kafka-positions";
  options.where = "--kafka-property ";
  return server::make_kafka_stream_store(std::move(options));
}

void print_summary(const archive::ArchiveStats& s, double seconds) {
  std::cout << fmt::format(
                   "archived {} records ({:.1f} MB -> {:.1f} MB zstd) in {} files over {} "
                   "flushes; {} to _errors/; {} multi-line records made one line; {:.2f} s",
                   s.records, double(s.bytes) / 1e6, double(s.bytes_written) / 1e6, s.files,
                   s.flushes, s.error_records, s.normalized_records, seconds)
            << std::endl;
  if (s.expired_records > 0) {
    std::cout << fmt::format("warning: {} records had expired (retention) before archiving",
                             s.expired_records)
              << std::endl;
  }
}

arrow::Status run(const ArchiveArgs& args) {
  archive::ArchiveOptions options;
  options.stream = args.stream;
  options.lake_dir = args.data_dir + "/lake";
  options.consumer = args.consumer;
  options.compression_level = args.compression_level;
  auto size = parse_memory_size(args.buffer_size);
  if (!size.ok()) return arrow::Status::Invalid("--buffer-size: ", size.status().message());
  auto interval = parse_duration_ms(args.buffer_interval);
  if (!interval.ok()) {
    return arrow::Status::Invalid("--buffer-interval: ", interval.status().message());
  }
  options.buffer_bytes = *size;
  options.buffer_interval_ms = *interval;

  ARROW_ASSIGN_OR_RAISE(auto store, open_store(args));
  ARROW_ASSIGN_OR_RAISE(auto archive, archive::RawArchive::make(options, store.get()));
  const auto started = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  if (args.once) {
    ARROW_RETURN_NOT_OK(archive->run_once());
    print_summary(archive->stats(), seconds());
    return arrow::Status::OK();
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  ARROW_RETURN_NOT_OK(archive->start());
  std::cout << fmt::format("archiving {} to {}/raw/{} (buffer {} bytes / {} ms); Ctrl-C stops",
                           args.stream, options.lake_dir, args.stream, options.buffer_bytes,
                           options.buffer_interval_ms)
            << std::endl;
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ARROW_RETURN_NOT_OK(archive->stop());
  print_summary(archive->stats(), seconds());
  return arrow::Status::OK();
}

void setup(CLI::App& root) {
  auto args = std::make_shared<ArchiveArgs>();
  CLI::App* cmd = root.add_subcommand(
      "archive", "Archive a raw stream into the lake's raw zone (zstd JSON lines, exactly once)");
  cmd->add_option("--stream", args->stream, "Stream to archive")->required();
  cmd->add_option("--data-dir", args->data_dir, "Data directory (log and lake)")
      ->capture_default_str();
  cmd->add_option("--buffer-size", args->buffer_size,
                  "Flush once this much is buffered (Firehose's default 5MiB)")
      ->capture_default_str();
  cmd->add_option("--buffer-interval", args->buffer_interval,
                  "... or once the oldest buffered record is this old (Firehose's default 300s)")
      ->capture_default_str();
  cmd->add_option("--consumer", args->consumer, "Name of the durable consumer positions")
      ->capture_default_str();
  cmd->add_option("--compression-level", args->compression_level, "zstd level (1-19)")
      ->check(CLI::Range(1, 19))
      ->capture_default_str();
  cmd->add_flag("--once", args->once, "Archive what the stream holds now, then exit");
  cmd->add_option("--kafka", args->kafka,
                  "The stream is the topic of that name on this Kafka cluster (bootstrap "
                  "servers); positions are kept in <data-dir>/kafka-positions");
  cmd->add_option("--kafka-property", args->kafka_properties,
                  "KEY=VALUE librdkafka property for --kafka (SASL, TLS, ...; repeatable)");
  cmd->footer(
      "Examples:\n"
      "  roadpulse archive --stream us-accidents-data-stream-1 --once\n"
      "  roadpulse archive --stream us-accidents-data-stream-1 --buffer-size 1MiB "
      "--buffer-interval 60s\n"
      "  roadpulse archive --stream us-accidents-data-stream-1 --kafka localhost:9092\n"
      "Files: <data-dir>/lake/raw/<stream>/dt=YYYY-MM-DD/hour=HH/part-<shard>-<seq>.jsonl.zst\n"
      "(arrival time, UTC); records that are not JSON objects go to _errors/ with the reason.\n"
      "The catalog lists the archive as raw.<stream>. A kill -9 at any moment loses and\n"
      "duplicates nothing: the next start finishes or discards the interrupted flush.");
  cmd->callback([args] { run_command([&] { return run(*args); }); });
}

const RegisterCommand kRegister(62, &setup);

}  // namespace
}  // namespace roadpulse::cli
