#pragma once
// roadpulse::connect — where exec's Source/Sink interfaces meet storage. The registry picks a
// connector by a table's 'connector' option and builds its source or sink:
//
//   stream      a roadpulse stream of the embedded log ('stream' = NAME)
//   kinesis     the same, with Flink's Kinesis connector options ('stream' names the stream)
//   filesystem  files or directories of json / csv records (bounded source, rolling-file sink)
//   datagen     generated rows (Flink's datagen options)
//   print       rows printed to stdout (or stderr) as Flink's print connector does
//   blackhole   swallows rows
//   kafka       Apache Kafka topics with Flink's Kafka connector options (librdkafka)
//   upsert-kafka  an updating result as each PRIMARY KEY's latest row in a Kafka topic (sink)
//
// The registry owns the process's LogStore for the data directory, opened on first use (so a
// job without stream tables never takes the data dir's lock).

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <arrow/result.h>

#include "exec/connector.h"
#include "log/log.h"

namespace roadpulse::connect {

struct ConnectOptions {
  /// The data directory (streams under <data-dir>/streams, lake under <data-dir>/lake).
  std::string data_dir = "./roadpulse-data";
  log::LogOptions log;  // log.data_dir is overridden by data_dir
  /// Where print sinks write (stdout by default; tests redirect).
  std::FILE* print_out = stdout;
  std::FILE* print_err = stderr;
};

/// Shared state connectors need: the options and the log, opened lazily.
class ConnectContext {
 public:
  explicit ConnectContext(ConnectOptions options);
  /// Uses an already open log (the server, or tests) instead of opening one.
  ConnectContext(ConnectOptions options, std::shared_ptr<log::LogStore> log);
  const ConnectOptions& options() const { return options_; }
  arrow::Result<std::shared_ptr<log::LogStore>> log();

 private:
  ConnectOptions options_;
  std::mutex mutex_;
  std::shared_ptr<log::LogStore> log_;
};

using SourceMaker = std::function<arrow::Result<std::unique_ptr<exec::Source>>(
    const exec::SourceSpec&, ConnectContext&)>;
using SinkMaker = std::function<arrow::Result<std::unique_ptr<exec::Sink>>(const exec::SinkSpec&,
                                                                           ConnectContext&)>;

struct ConnectorEntry {
  std::string name;
  SourceMaker make_source;  // null when the connector cannot be read
  SinkMaker make_sink;      // null when it cannot be written
};

class ConnectorRegistry final : public exec::ConnectorFactory {
 public:
  /// A registry with every built-in connector.
  explicit ConnectorRegistry(std::shared_ptr<ConnectContext> context);

  void add(ConnectorEntry entry);
  std::vector<std::string> names() const;
  ConnectContext& context() { return *context_; }

  arrow::Result<std::unique_ptr<exec::Source>> make_source(const exec::SourceSpec& spec) override;
  arrow::Result<std::unique_ptr<exec::Sink>> make_sink(const exec::SinkSpec& spec) override;

 private:
  arrow::Result<const ConnectorEntry*> find(const exec::TableOptions& options) const;
  std::shared_ptr<ConnectContext> context_;
  std::map<std::string, ConnectorEntry> entries_;
};

}  // namespace roadpulse::connect
