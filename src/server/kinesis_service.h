#pragma once
// roadpulse::server — the Kinesis Data Streams API over a stream store (log::LogStore: the
// embedded log, or Kafka topics through kinesis_kafka_store.h).
//
// KinesisService runs the operations producers and consumers use (CreateStream, DeleteStream,
// ListStreams, DescribeStream, DescribeStreamSummary, ListShards, PutRecord, PutRecords,
// GetShardIterator, GetRecords, UpdateShardCount) on a log::LogStore, taking and returning
// encoding-neutral Documents (see document.h); KinesisHttpHandler (kinesis_http.h) puts it on the
// wire. Errors are api_error statuses carrying the AWS error type.
//
// Thread-safe: calls may run concurrently (the LogStore group-commits concurrent appends).

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include <arrow/result.h>

#include "log/log.h"
#include "server/document.h"
#include "server/kinesis_ids.h"

namespace roadpulse::server {

struct KinesisOptions {
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  int max_shards_per_stream = 1024;
  /// Optional per-shard write limits (Kinesis: 1000 records/s and 1 MiB/s); 0 = unlimited.
  /// Records over the limit fail with ProvisionedThroughputExceededException.
  int64_t shard_records_per_second = 0;
  int64_t shard_bytes_per_second = 0;
  /// Added to the wall clock for iterator issue/expiry (tests of expiry; `serve` reads
  /// ROADPULSE_TEST_CLOCK_OFFSET_MS).
  int64_t clock_offset_ms = 0;
};

class KinesisService {
 public:
  /// `store` must outlive the service. `iterator_key`: HMAC key for shard iterators.
  KinesisService(log::LogStore* store, std::string iterator_key, KinesisOptions options);
  ~KinesisService();

  /// Runs `operation` (the part after "Kinesis_20131202.") on a decoded request.
  /// UnknownOperationException for anything else.
  arrow::Result<Document> call(std::string_view operation, const Document& request);

  static bool is_operation(std::string_view operation);

 private:
  arrow::Result<Document> create_stream(const Document& request);
  arrow::Result<Document> delete_stream(const Document& request);
  arrow::Result<Document> list_streams(const Document& request);
  arrow::Result<Document> describe_stream(const Document& request);
  arrow::Result<Document> describe_stream_summary(const Document& request);
  arrow::Result<Document> list_shards(const Document& request);
  arrow::Result<Document> put_record(const Document& request);
  arrow::Result<Document> put_records(const Document& request);
  arrow::Result<Document> get_shard_iterator(const Document& request);
  arrow::Result<Document> get_records(const Document& request);
  arrow::Result<Document> update_shard_count(const Document& request);

  /// describe_stream with log errors mapped to Kinesis errors.
  arrow::Result<log::StreamDescription> describe(std::string_view stream);
  /// The stream's creation time (part of sequence numbers), cached.
  arrow::Result<int64_t> created_ms(std::string_view stream);
  void forget(std::string_view stream);
  arrow::Status map_log_error(const arrow::Status& status, std::string_view stream) const;
  std::string arn(std::string_view stream) const;
  Document shard_document(const log::ShardDescription& shard, int64_t created) const;
  /// Takes `records`/`bytes` from the shard's token bucket; false when over the limit.
  bool admit(std::string_view stream, int32_t shard, int64_t records, int64_t bytes);
  int64_t now_ms() const;
  bool limits_enabled() const {
    return options_.shard_records_per_second > 0 || options_.shard_bytes_per_second > 0;
  }

  log::LogStore* store_;
  IteratorCodec iterators_;
  KinesisOptions options_;

  std::shared_mutex created_mutex_;
  std::map<std::string, int64_t, std::less<>> created_;

  struct Bucket {
    double records = 0;
    double bytes = 0;
    int64_t refilled_us = 0;
  };
  std::mutex buckets_mutex_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

}  // namespace roadpulse::server
