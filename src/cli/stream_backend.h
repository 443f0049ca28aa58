#pragma once
// Where `roadpulse stream` subcommands find their streams: the embedded LogStore on a data dir
// (stream_command.cc), a running `roadpulse serve` over its Kinesis HTTP API
// (stream_http_backend.cc, selected with --server URL), or a Kafka cluster
// (stream_kafka_backend.cc, selected with --kafka BOOTSTRAP).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "log/log.h"

namespace roadpulse::cli {

/// What the stream subcommands need from wherever the streams live. Sequence numbers are
/// per-shard offsets (log::SequenceNumber), whichever backend is used.
class StreamBackend {
 public:
  virtual ~StreamBackend() = default;
  virtual arrow::Status create(const std::string& name, int shards) = 0;
  virtual arrow::Status remove(const std::string& name) = 0;
  virtual arrow::Status reshard(const std::string& name, int shards) = 0;
  virtual arrow::Result<std::vector<std::string>> list() = 0;
  virtual arrow::Result<log::StreamDescription> describe(const std::string& name) = 0;
  /// A position to pass to read(). Only meaningful to the same backend object.
  virtual arrow::Result<log::SequenceNumber> resolve(const std::string& name, log::ShardId shard,
                                                     const log::StartPosition& from) = 0;
  virtual arrow::Result<log::ReadResult> read(const std::string& name, log::ShardId shard,
                                              log::SequenceNumber from, int max_records) = 0;
  virtual void wait(const std::string& name, log::ShardId shard, log::SequenceNumber from,
                    int64_t timeout_ms) = 0;
  virtual arrow::Result<std::vector<log::AppendResult>> put(
      const std::string& name, std::span<const log::AppendRecord> records) = 0;
};

/// A backend speaking the Kinesis JSON 1.1 API of `roadpulse serve` at `url`
/// (e.g. http://127.0.0.1:8080).
arrow::Result<std::unique_ptr<StreamBackend>> make_http_backend(const std::string& url);

/// A backend on the Kafka cluster at `bootstrap` (host:port[,host:port...]): streams are topics,
/// shards partitions, sequence numbers offsets (stream_kafka_backend.cc). `properties` are extra
/// librdkafka settings as KEY=VALUE (security.protocol, sasl.*, ssl.*).
arrow::Result<std::unique_ptr<StreamBackend>> make_kafka_backend(
    const std::string& bootstrap, const std::vector<std::string>& properties);

}  // namespace roadpulse::cli
