#pragma once
// Typed Kinesis requests, parsed and validated from a decoded Document. Constraint violations
// become the errors AWS returns for them: ValidationException ("1 validation error detected:
// Value ... at 'streamName' failed to satisfy constraint: ..."), SerializationException for a
// member of the wrong type, InvalidArgumentException for semantically wrong combinations.
// Parsing touches no state, so it is what the request fuzzer drives.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <arrow/result.h>

#include "server/document.h"

namespace roadpulse::server {

inline constexpr int64_t kMaxRecordBytes = 1 << 20;  // Data of one record
inline constexpr int kMaxPartitionKeyChars = 256;
inline constexpr int kMaxPutRecordsRecords = 500;
inline constexpr int64_t kMaxPutRecordsBytes = 5LL << 20;  // Data + partition keys
inline constexpr int kMaxGetRecordsLimit = 10000;
inline constexpr int64_t kMaxGetRecordsBytes = 10LL << 20;

using HashKey128 = unsigned __int128;

struct CreateStreamRequest {
  std::string stream;
  int shard_count = 0;
};
struct DeleteStreamRequest {
  std::string stream;
};
struct ListStreamsRequest {
  int limit = 100;
  std::optional<std::string> exclusive_start;
  std::optional<std::string> next_token;
};
struct DescribeStreamRequest {
  std::string stream;
  int limit = 100;
  std::optional<std::string> exclusive_start_shard_id;
};
struct DescribeStreamSummaryRequest {
  std::string stream;
};
struct ListShardsRequest {
  std::optional<std::string> stream;
  std::optional<std::string> next_token;
  std::optional<std::string> exclusive_start_shard_id;
  int max_results = 1000;
  std::optional<std::string> filter_type;      // AT_LATEST, AFTER_SHARD_ID, ...
  std::optional<std::string> filter_shard_id;  // for AFTER_SHARD_ID
};
struct PutRecordEntry {
  std::string data;
  std::string partition_key;
  std::optional<HashKey128> explicit_hash_key;
};
struct PutRecordRequest {
  std::string stream;
  PutRecordEntry record;
};
struct PutRecordsRequest {
  std::string stream;
  std::vector<PutRecordEntry> records;
};
struct GetShardIteratorRequest {
  std::string stream;
  std::string shard_id;
  std::string
      type;  // AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP
  std::optional<std::string> starting_sequence_number;
  std::optional<int64_t> timestamp_ms;
};
struct GetRecordsRequest {
  std::string shard_iterator;
  int limit = kMaxGetRecordsLimit;
};
struct UpdateShardCountRequest {
  std::string stream;
  int target_shard_count = 0;
};

arrow::Result<CreateStreamRequest> parse_create_stream(const Document& doc);
arrow::Result<DeleteStreamRequest> parse_delete_stream(const Document& doc);
arrow::Result<ListStreamsRequest> parse_list_streams(const Document& doc);
arrow::Result<DescribeStreamRequest> parse_describe_stream(const Document& doc);
arrow::Result<DescribeStreamSummaryRequest> parse_describe_stream_summary(const Document& doc);
arrow::Result<ListShardsRequest> parse_list_shards(const Document& doc);
arrow::Result<PutRecordRequest> parse_put_record(const Document& doc);
arrow::Result<PutRecordsRequest> parse_put_records(const Document& doc);
arrow::Result<GetShardIteratorRequest> parse_get_shard_iterator(const Document& doc);
arrow::Result<GetRecordsRequest> parse_get_records(const Document& doc);
arrow::Result<UpdateShardCountRequest> parse_update_shard_count(const Document& doc);

/// Decimal text of a 128-bit hash key, and back (Invalid beyond 2^128-1 or on non-digits).
std::string hash_key_to_string(HashKey128 key);
arrow::Result<HashKey128> parse_hash_key(std::string_view text);

/// The stream name of a "arn:aws:kinesis:REGION:ACCOUNT:stream/NAME" ARN.
arrow::Result<std::string> stream_name_from_arn(std::string_view arn);

}  // namespace roadpulse::server
