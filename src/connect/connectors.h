#pragma once
// Internal to src/connect: the built-in connectors (one .cc file each) and the helpers they share
// (option validation, record formats). Not part of the module's public header.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include "connect/kafka_client.h"
#include "connect/registry.h"
#include "exec/json_format.h"

namespace roadpulse::connect {

ConnectorEntry stream_connector();
ConnectorEntry kinesis_connector();
ConnectorEntry filesystem_connector();
ConnectorEntry datagen_connector();
ConnectorEntry print_connector();
ConnectorEntry blackhole_connector();
ConnectorEntry metrics_connector();
ConnectorEntry alerts_connector();
ConnectorEntry kafka_connector();
ConnectorEntry upsert_kafka_connector();  // sink only (kafka_connector.cc)

/// Reads a table's options, remembering which keys a connector understands, so unknown keys are
/// reported as Flink does ("Unsupported options found for 'kinesis': ...").
class OptionReader {
 public:
  OptionReader(std::string connector, const exec::TableOptions& options)
      : connector_(std::move(connector)), options_(options) {}

  /// Keys under these prefixes are accepted without being read (e.g. "aws.", "json.").
  void allow_prefix(std::string prefix) { prefixes_.push_back(std::move(prefix)); }
  std::optional<std::string> get(const std::string& key);
  arrow::Result<std::string> require(const std::string& key);
  std::string get_or(const std::string& key, std::string fallback);
  arrow::Result<int64_t> get_int(const std::string& key, int64_t fallback);
  arrow::Result<bool> get_bool(const std::string& key, bool fallback);
  /// Fails naming every option no get()/require()/prefix accounted for.
  arrow::Status check_unknown() const;
  const exec::TableOptions& all() const { return options_; }

 private:
  std::string connector_;
  const exec::TableOptions& options_;
  std::set<std::string> used_{"connector"};
  std::vector<std::string> prefixes_;
};

/// Parses sizes like "128MB", "1kb", "4096".
arrow::Result<int64_t> parse_memory_size(std::string_view text);
/// Parses durations like "10 s", "500ms", "1min", "2h", "1000" (ms).
arrow::Result<int64_t> parse_duration_ms(std::string_view text);

/// A record format ('format' = json | csv) over a table's physical row.
class RecordDecoder {
 public:
  virtual ~RecordDecoder() = default;
  /// Decodes records into a batch of the spec's read schema; undecodable records are reported.
  virtual arrow::Result<exec::DecodedBatch> decode(std::span<const std::string_view> records) = 0;
  virtual bool ignore_parse_errors() const = 0;
};

class RecordEncoder {
 public:
  virtual ~RecordEncoder() = default;
  /// Appends row `row` of `batch` as one record (no trailing newline).
  virtual void encode_row(const arrow::RecordBatch& batch, int64_t row, std::string* out) = 0;
};

/// The format named by 'format' (json, csv, or raw: one STRING column). Marks the format's
/// options as known in `reader`.
arrow::Result<std::unique_ptr<RecordDecoder>> make_decoder(OptionReader& reader,
                                                           const exec::SourceSpec& spec);
arrow::Result<std::unique_ptr<RecordEncoder>> make_encoder(
    OptionReader& reader, const std::shared_ptr<arrow::Schema>& schema);

/// Splits a file's bytes into records for `format`: JSON objects (NDJSON or multi-line) or CSV
/// records (quoted fields may hold newlines). `lines` receives each record's first line.
arrow::Status split_records(std::string_view format, std::string_view buffer,
                            std::vector<std::string_view>* records, std::vector<int64_t>* lines);

/// The Kinesis partition key of `row` as the stream sink makes it: the `key_columns` values joined
/// by `delimiter`, or a round-robin counter (`*round_robin`) when there are no key columns.
void stream_partition_key(const arrow::RecordBatch& batch, int64_t row,
                          const std::vector<int>& key_columns, const std::string& delimiter,
                          uint64_t* round_robin, std::string* out);

// --- The Kafka streams backend of `stream` / `kinesis` tables (kafka_connector.cc) -----------

/// The librdkafka properties (`streams.kafka.properties.<key>` or `streams.kafka.<key>`, prefix
/// removed) when the session selects 'streams.backend' = 'kafka'; nullopt for the embedded log
/// ('embedded' or unset).
arrow::Result<std::optional<kafka::Properties>> kafka_streams_backend(
    const std::map<std::string, std::string>& session);

/// Session keys `roadpulse run --worker --group NAME` sets on the pipeline's jobs: unbounded
/// Kafka sources (kafka tables without 'scan.partition-assignment', stream tables on the Kafka
/// backend) join the consumer group `<worker.group>.<job>.<table>`; exactly-once kafka sinks
/// append `-<worker.id>` to their transactional-id prefix (docs/kafka.md).
inline constexpr const char* kWorkerGroupKey = "worker.group";
inline constexpr const char* kWorkerIdKey = "worker.id";
/// A job of one partition of a repartition topic (run --worker): its Kafka source reads only
/// that partition, resuming from the job's own checkpoints.
inline constexpr const char* kWorkerPartitionKey = "worker.partition";

/// A stream table as the Kafka backend sees it: the topic of the stream's name.
struct KafkaStreamTable {
  std::string stream;
  bool create_if_missing = false;
  int shards = 1;                              // partitions of a topic created here
  std::string table;                           // the catalog table, for the worker group's name
  std::map<std::string, std::string> session;  // the job's session (worker mode)
};

/// A stream sink's delivery options on Kafka: 'sink.delivery-guarantee' (at-least-once |
/// exactly-once) and 'sink.transactional-id-prefix' ("" = derived from the job and the stream).
struct KafkaStreamDelivery {
  std::string guarantee = "at-least-once";
  std::string transactional_id_prefix;
};

/// Session key holding the default 'sink.delivery-guarantee' of `kinesis`/`stream` sinks
/// (roadpulse.toml's [streams] sink_delivery_guarantee).
inline constexpr const char* kStreamsSinkGuaranteeKey = "streams.sink.delivery-guarantee";

arrow::Result<std::unique_ptr<exec::Source>> make_kafka_stream_source(
    const std::string& connector, const KafkaStreamTable& table, const log::StartPosition& start,
    bool bounded, std::unique_ptr<RecordDecoder> decoder, kafka::Properties properties);
arrow::Result<std::unique_ptr<exec::Sink>> make_kafka_stream_sink(
    const std::string& connector, const KafkaStreamTable& table, std::vector<int> key_columns,
    std::string key_delimiter, std::unique_ptr<RecordEncoder> encoder, kafka::Properties properties,
    KafkaStreamDelivery delivery = {});

}  // namespace roadpulse::connect
