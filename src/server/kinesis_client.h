#pragma once
// A small Kinesis client on libcurl (JSON 1.1), for producers that deliver to a Kinesis endpoint
// (roadpulse serve, or AWS itself). put_records() sends any number of records in PutRecords
// batches of at most 500 records / 5 MiB, in order, and returns once every record is
// acknowledged: throttled or failed requests are retried with exponential backoff and jitter,
// and after a partial failure only the failed records are sent again, so an acknowledged record
// is never sent twice. A request whose outcome is unknown (connection lost before the answer)
// is retried whole: that is the one case where a record can be stored twice, as with every
// Kinesis producer.
//
// Not thread-safe: one client per producing thread (it keeps one keep-alive connection).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <arrow/result.h>
#include <arrow/status.h>

#include "server/document.h"
#include "server/sigv4.h"

namespace roadpulse::server {

struct KinesisClientOptions {
  std::string endpoint = "http://127.0.0.1:8080";
  std::optional<AccessKey> access_key;  // signs requests (SigV4) when set
  std::string region = "us-east-1";
  int max_attempts = 12;  // per batch; throttling and transient errors
  int64_t initial_backoff_ms = 25;
  int64_t max_backoff_ms = 5'000;
  int64_t timeout_ms = 60'000;
};

struct ClientRecord {
  std::string partition_key;
  std::string data;
};

struct PutStats {
  int64_t records = 0;
  int64_t requests = 0;
  int64_t retried_records = 0;
};

class KinesisClient {
 public:
  static arrow::Result<std::unique_ptr<KinesisClient>> make(KinesisClientOptions options);
  ~KinesisClient();

  /// One API call. AWS errors come back as api_error statuses (see api_error.h) carrying the
  /// error type; transport failures as IOError.
  arrow::Result<Document> call(std::string_view operation, const Document& request);

  /// Delivers `records` to `stream` (see the header comment for the guarantees).
  arrow::Status put_records(std::string_view stream, std::span<const ClientRecord> records);

  arrow::Status create_stream(std::string_view stream, int shard_count);
  /// True when DescribeStreamSummary finds the stream.
  arrow::Result<bool> stream_exists(std::string_view stream);

  const PutStats& stats() const { return stats_; }

 private:
  explicit KinesisClient(KinesisClientOptions options);
  arrow::Status put_batch(std::string_view stream, std::span<const ClientRecord> batch);
  void backoff(int attempt);

  KinesisClientOptions options_;
  void* curl_ = nullptr;  // CURL*
  PutStats stats_;
};

}  // namespace roadpulse::server
