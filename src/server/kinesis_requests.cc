#include "server/kinesis_requests.h"

#include <algorithm>

#include <fmt/format.h>

#include "server/api_error.h"

namespace roadpulse::server {

namespace {

std::string preview(std::string_view s) {
  return s.size() > 64 ? std::string(s.substr(0, 64)) + "..." : std::string(s);
}

arrow::Status validation(std::string_view value, std::string_view member,
                         std::string_view constraint) {
  return api_error("ValidationException",
                   fmt::format("1 validation error detected: Value {} at '{}' failed to satisfy "
                               "constraint: {}",
                               value, member, constraint));
}

arrow::Status serialization(std::string_view key, const char* want, const Document& got) {
  return api_error("SerializationException", fmt::format("member '{}' must be a {}, got a {}", key,
                                                         want, Document::kind_name(got.kind())));
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// Reads members of a request map; `member` names are the lowerCamel names AWS uses in messages.
class Reader {
 public:
  static arrow::Result<Reader> of(const Document& doc) {
    if (doc.kind() != Document::Kind::kMap) {
      return api_error("SerializationException", "the request body must be a JSON/CBOR object");
    }
    return Reader(doc);
  }

  arrow::Result<std::optional<std::string>> string(std::string_view key) const {
    const Document* v = doc_.find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->kind() != Document::Kind::kString) return serialization(key, "string", *v);
    return v->as_string();
  }

  arrow::Result<std::string> required_string(std::string_view key, std::string_view member) const {
    ARROW_ASSIGN_OR_RAISE(auto v, string(key));
    if (!v) return validation("null", member, "Member must not be null");
    return std::move(*v);
  }

  arrow::Result<std::optional<int64_t>> integer(std::string_view key) const {
    const Document* v = doc_.find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->kind() == Document::Kind::kInt) return v->as_int();
    if (v->kind() == Document::Kind::kDouble &&
        v->as_double() == static_cast<double>(static_cast<int64_t>(v->as_double())) &&
        v->as_double() >= -9.2e18 && v->as_double() <= 9.2e18) {
      return static_cast<int64_t>(v->as_double());
    }
    return serialization(key, "integer", *v);
  }

  arrow::Result<std::optional<int64_t>> bounded(std::string_view key, std::string_view member,
                                                int64_t lo, int64_t hi) const {
    ARROW_ASSIGN_OR_RAISE(auto v, integer(key));
    if (!v) return v;
    if (*v < lo) {
      return validation(std::to_string(*v), member,
                        fmt::format("Member must have value greater than or equal to {}", lo));
    }
    if (*v > hi) {
      return validation(std::to_string(*v), member,
                        fmt::format("Member must have value less than or equal to {}", hi));
    }
    return v;
  }

  /// A blob: base64 text in JSON, a byte string in CBOR.
  arrow::Result<std::optional<std::string>> blob(std::string_view key) const {
    const Document* v = doc_.find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->kind() == Document::Kind::kBytes) return v->as_string();
    if (v->kind() == Document::Kind::kString) {
      auto decoded = base64_decode(v->as_string());
      if (!decoded.ok()) {
        return api_error(
            "SerializationException",
            fmt::format("member '{}' is not valid base64: {}", key, decoded.status().message()));
      }
      return std::move(*decoded);
    }
    return serialization(key, "blob", *v);
  }

  /// A timestamp: epoch seconds (number) in JSON, tag 1 (or a number of seconds) in CBOR.
  arrow::Result<std::optional<int64_t>> time_ms(std::string_view key) const {
    const Document* v = doc_.find(key);
    if (!v || v->is_null()) return std::nullopt;
    switch (v->kind()) {
      case Document::Kind::kTime:
        return v->as_time_ms();
      case Document::Kind::kInt:
        if (v->as_int() > 9'000'000'000'000LL || v->as_int() < -9'000'000'000'000LL) break;
        return v->as_int() * 1000;
      case Document::Kind::kDouble:
        if (!(v->as_double() > -9e12 && v->as_double() < 9e12)) break;
        return static_cast<int64_t>(v->as_double() * 1000.0);
      default:
        break;
    }
    return serialization(key, "timestamp", *v);
  }

  const Document* find(std::string_view key) const { return doc_.find(key); }

 private:
  explicit Reader(const Document& doc) : doc_(doc) {}
  const Document& doc_;
};

arrow::Status check_name(std::string_view value, std::string_view member) {
  if (value.empty()) {
    return validation("''", member, "Member must have length greater than or equal to 1");
  }
  if (value.size() > 128) {
    return validation("'" + preview(value) + "'", member,
                      "Member must have length less than or equal to 128");
  }
  for (char c : value) {
    if (!is_name_char(c)) {
      return validation("'" + preview(value) + "'", member,
                        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
    }
  }
  return arrow::Status::OK();
}

// StreamName, or the name inside StreamARN (newer SDKs may send either).
arrow::Result<std::optional<std::string>> optional_stream(const Reader& r) {
  ARROW_ASSIGN_OR_RAISE(auto name, r.string("StreamName"));
  ARROW_ASSIGN_OR_RAISE(auto arn, r.string("StreamARN"));
  if (!name && arn) {
    ARROW_ASSIGN_OR_RAISE(auto from_arn, stream_name_from_arn(*arn));
    name = std::move(from_arn);
  }
  if (name) ARROW_RETURN_NOT_OK(check_name(*name, "streamName"));
  return name;
}

arrow::Result<std::string> required_stream(const Reader& r) {
  ARROW_ASSIGN_OR_RAISE(auto name, optional_stream(r));
  if (!name) return validation("null", "streamName", "Member must not be null");
  return std::move(*name);
}

arrow::Result<PutRecordEntry> parse_entry(const Reader& r, const std::string& prefix) {
  PutRecordEntry entry;
  ARROW_ASSIGN_OR_RAISE(auto data, r.blob("Data"));
  if (!data) return validation("null", prefix + "data", "Member must not be null");
  if (static_cast<int64_t>(data->size()) > kMaxRecordBytes) {
    return validation(
        fmt::format("'java.nio.HeapByteBuffer[pos=0 lim={} cap={}]'", data->size(), data->size()),
        prefix + "data",
        fmt::format("Member must have length less than or equal to {}", kMaxRecordBytes));
  }
  entry.data = std::move(*data);
  ARROW_ASSIGN_OR_RAISE(entry.partition_key,
                        r.required_string("PartitionKey", prefix + "partitionKey"));
  const size_t chars = utf8_length(entry.partition_key);
  if (chars < 1) {
    return validation("''", prefix + "partitionKey",
                      "Member must have length greater than or equal to 1");
  }
  if (chars > static_cast<size_t>(kMaxPartitionKeyChars)) {
    return validation(
        "'" + preview(entry.partition_key) + "'", prefix + "partitionKey",
        fmt::format("Member must have length less than or equal to {}", kMaxPartitionKeyChars));
  }
  ARROW_ASSIGN_OR_RAISE(auto ehk, r.string("ExplicitHashKey"));
  if (ehk) {
    auto key = parse_hash_key(*ehk);
    if (!key.ok()) {
      return api_error("InvalidArgumentException",
                       fmt::format("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: "
                                   "[0, 2^128-1]. Specified value was {}",
                                   preview(*ehk)));
    }
    entry.explicit_hash_key = *key;
  }
  return entry;
}

}  // namespace

std::string hash_key_to_string(HashKey128 key) {
  if (key == 0) return "0";
  std::string out;
  while (key > 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(key % 10)));
    key /= 10;
  }
  return std::string(out.rbegin(), out.rend());
}

arrow::Result<HashKey128> parse_hash_key(std::string_view text) {
  if (text.empty() || text.size() > 39) return arrow::Status::Invalid("hash key out of range");
  if (text.size() > 1 && text[0] == '0')
    return arrow::Status::Invalid("hash key has a leading zero");
  HashKey128 v = 0;
  const HashKey128 max = ~HashKey128{0};
  for (char c : text) {
    if (c < '0' || c > '9') return arrow::Status::Invalid("hash key is not a decimal number");
    const auto d = static_cast<unsigned>(c - '0');
    if (v > (max - d) / 10) return arrow::Status::Invalid("hash key exceeds 2^128-1");
    v = v * 10 + d;
  }
  return v;
}

arrow::Result<std::string> stream_name_from_arn(std::string_view arn) {
  const size_t slash = arn.find(":stream/");
  if (arn.substr(0, 16) != "arn:aws:kinesis:" || slash == std::string_view::npos) {
    return validation("'" + preview(arn) + "'", "streamARN",
                      "Member must satisfy regular expression pattern: "
                      "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+");
  }
  return std::string(arn.substr(slash + 8));
}

arrow::Result<CreateStreamRequest> parse_create_stream(const Document& doc) {
  ARROW_ASSIGN_OR_RAISE(auto r, Reader::of(doc));
  CreateStreamRequest req;
  ARROW_ASSIGN_OR_RAISE(req.stream, required_stream(r));
  ARROW_ASSIGN_OR_RAISE(auto count, r.bounded("ShardCount", "shardCount", 1, 100000));
  bool on_demand = false;
  if (const Document* mode = r.find("StreamModeDetails"); mode && !mode->is_null()) {
    ARROW_ASSIGN_OR_RAISE(auto mr, Reader::of(*mode));
    ARROW_ASSIGN_OR_RAISE(auto m, mr.required_string("StreamMode", "streamModeDetails.streamMode"));
    if (m != "PROVISIONED" && m != "ON_DEMAND") {
      return validation("'" + preview(m) + "'", "streamModeDetails.streamMode",
                        "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]");
    }
    on_demand = m == "ON_DEMAND";
  }
  if (!count) {
    // On-demand streams start with 4 shards, as Kinesis does.
    if (!on_demand) {
      return api_error("InvalidArgumentException",
                       "ShardCount is required for a stream in PROVISIONED mode");
    }
    count = 4;
  }
  req.shard_count = static_cast<int>(*count);
  return req;
}

arrow::Result<DeleteStreamRequest> parse_delete_stream(const Document& doc) {
  ARROW_ASSIGN_OR_RAISE(auto r, Reader::of(doc));
  DeleteStreamRequest req;
  ARROW_ASSIGN_OR_RAISE(req.stream, required_stream(r));
  return req;
}

arrow::Result<ListStreamsRequest> parse_list_streams(const Document& doc) {
  ARROW_ASSIGN_OR_RAISE(auto r, Reader::of(doc));
  ListStreamsRequest req;
  ARROW_ASSIGN_OR_RAISE(auto limit, r.bounded("Limit", "limit", 1, 10000));
  if (limit) req.limit = static_cast<int>(*limit);
  ARROW_ASSIGN_OR_RAISE(req.exclusive_start, r.string("ExclusiveStartStreamName"));
  if (req.exclusive_start)
    ARROW_RETURN_NOT_OK(check_name(*req.exclusive_start, "exclusiveStartStreamName"));
  ARROW_ASSIGN_OR_RAISE(req.next_token, r.string("NextToken"));
  return req;
}

arrow::Result<DescribeStreamRequest> parse_describe_stream(const Document& doc) {
  ARROW_ASSIGN_OR_RAISE(auto r, Reader::of(doc));
  DescribeStreamRequest req;
  ARROW_ASSIGN_OR_RAISE(req.stream, required_stream(r));
  ARROW_ASSIGN_OR_RAISE(auto limit, r.bounded("Limit", "limit", 1, 10000));
  if (limit) req.limit = static_cast<int>(*limit);
  ARROW_ASSIGN_OR_RAISE(req.exclusive_start_shard_id, r.string("ExclusiveStartShardId"));
  if (req.exclusive_start_shard_id) {
    ARROW_RETURN_NOT_OK(check_name(*req.exclusive_start_shard_id, "exclusiveStartShardId"));
  }
  return req;
}

arrow::Result<DescribeStreamSummaryRequest> parse_describe_stream_summary(const Document& doc) {
  ARROW_ASSIGN_OR_RAISE(auto r, Reader::of(doc));
  DescribeStreamSummaryRequest req;
  ARROW_ASSIGN_OR_RAISE(req.stream, required_stream(r));
  return req;
}

arrow::Result<ListShardsRequest> parse_list_shards(const Document& doc) {
  ARROW_ASSIGN_OR_RAISE(auto r, Reader::of(doc));
  ListShardsRequest req;
  ARROW_ASSIGN_OR_RAISE(req.stream, optional_stream(r));
  ARROW_ASSIGN_OR_RAISE(req.next_token, r.string("NextToken"));
  ARROW_ASSIGN_OR_RAISE(req.exclusive_start_shard_id, r.string("ExclusiveStartShardId"));
  ARROW_ASSIGN_OR_RAISE(auto max, r.bounded("MaxResults", "maxResults", 1, 10000));
  if (max) req.max_results = static_cast<int>(*max);
  if (req.next_token && (req.stream || req.exclusive_start_shard_id)) {
    return api_error("InvalidArgumentException",
                     "NextToken and StreamName/ExclusiveStartShardId cannot be provided together.");
  }
  if (!req.next_token && !req.stream) {
    return api_error("InvalidArgumentException",
                     "Either NextToken or StreamName should be provided.");
  }
  if (const Document* filter = r.find("ShardFilter"); filter && !filter->is_null()) {
    ARROW_ASSIGN_OR_RAISE(auto fr, Reader::of(*filter));
    ARROW_ASSIGN_OR_RAISE(auto type, fr.required_string("Type", "shardFilter.type"));
    static constexpr std::string_view kTypes[] = {"AFTER_SHARD_ID",    "AT_TRIM_HORIZON",
                                                  "FROM_TRIM_HORIZON", "AT_LATEST",
                                                  "AT_TIMESTAMP",      "FROM_TIMESTAMP"};
    if (std::find(std::begin(kTypes), std::end(kTypes), std::string_view(type)) ==
        std::end(kTypes)) {
      return validation("'" + preview(type) + "'", "shardFilter.type",
                        "Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, "
                        "FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]");
    }
    ARROW_ASSIGN_OR_RAISE(req.filter_shard_id, fr.string("ShardId"));
    if (type == "AFTER_SHARD_ID" && !req.filter_shard_id) {
      return api_error("InvalidArgumentException",
                       "ShardId must be specified for the AFTER_SHARD_ID ShardFilter type.");
    }
    req.filter_type = std::move(type);
  }
  return req;
}

arrow::Result<PutRecordRequest> parse_put_record(const Document& doc) {
  ARROW_ASSIGN_OR_RAISE(auto r, Reader::of(doc));
  PutRecordRequest req;
  ARROW_ASSIGN_OR_RAISE(req.stream, required_stream(r));
  ARROW_ASSIGN_OR_RAISE(req.record, parse_entry(r, ""));
  return req;
}

arrow::Result<PutRecordsRequest> parse_put_records(const Document& doc) {
  ARROW_ASSIGN_OR_RAISE(auto r, Reader::of(doc));
  PutRecordsRequest req;
  ARROW_ASSIGN_OR_RAISE(req.stream, required_stream(r));
  const Document* records = r.find("Records");
  if (!records || records->is_null())
    return validation("null", "records", "Member must not be null");
  if (records->kind() != Document::Kind::kArray) return serialization("Records", "list", *records);
  const auto& items = records->items();
  if (items.empty()) {
    return validation("[]", "records", "Member must have length greater than or equal to 1");
  }
  if (items.size() > static_cast<size_t>(kMaxPutRecordsRecords)) {
    return validation(
        fmt::format("'[...{} records]'", items.size()), "records",
        fmt::format("Member must have length less than or equal to {}", kMaxPutRecordsRecords));
  }
  req.records.reserve(items.size());
  int64_t total = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    ARROW_ASSIGN_OR_RAISE(auto er, Reader::of(items[i]));
    ARROW_ASSIGN_OR_RAISE(auto entry, parse_entry(er, fmt::format("records.{}.member.", i + 1)));
    total += static_cast<int64_t>(entry.data.size() + entry.partition_key.size());
    req.records.push_back(std::move(entry));
  }
  if (total > kMaxPutRecordsBytes) {
    return api_error("InvalidArgumentException",
                     fmt::format("Records size exceeds 5 MB limit: {} bytes of data and partition "
                                 "keys in {} records",
                                 total, items.size()));
  }
  return req;
}

arrow::Result<GetShardIteratorRequest> parse_get_shard_iterator(const Document& doc) {
  ARROW_ASSIGN_OR_RAISE(auto r, Reader::of(doc));
  GetShardIteratorRequest req;
  ARROW_ASSIGN_OR_RAISE(req.stream, required_stream(r));
  ARROW_ASSIGN_OR_RAISE(req.shard_id, r.required_string("ShardId", "shardId"));
  ARROW_RETURN_NOT_OK(check_name(req.shard_id, "shardId"));
  ARROW_ASSIGN_OR_RAISE(req.type, r.required_string("ShardIteratorType", "shardIteratorType"));
  if (req.type != "AT_SEQUENCE_NUMBER" && req.type != "AFTER_SEQUENCE_NUMBER" &&
      req.type != "TRIM_HORIZON" && req.type != "LATEST" && req.type != "AT_TIMESTAMP") {
    return validation("'" + preview(req.type) + "'", "shardIteratorType",
                      "Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, "
                      "AT_TIMESTAMP, TRIM_HORIZON, AT_SEQUENCE_NUMBER]");
  }
  ARROW_ASSIGN_OR_RAISE(req.starting_sequence_number, r.string("StartingSequenceNumber"));
  ARROW_ASSIGN_OR_RAISE(req.timestamp_ms, r.time_ms("Timestamp"));
  const bool by_sequence = req.type == "AT_SEQUENCE_NUMBER" || req.type == "AFTER_SEQUENCE_NUMBER";
  if (by_sequence != req.starting_sequence_number.has_value()) {
    return api_error("InvalidArgumentException",
                     "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
                     "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
                     "StartingSequenceNumber or (3) AT_TIMESTAMP and Timestamp. Request specified "
                     "ShardIteratorType " +
                         req.type);
  }
  if ((req.type == "AT_TIMESTAMP") != req.timestamp_ms.has_value()) {
    return api_error("InvalidArgumentException",
                     "Timestamp must be given with, and only with, ShardIteratorType AT_TIMESTAMP");
  }
  return req;
}

arrow::Result<GetRecordsRequest> parse_get_records(const Document& doc) {
  ARROW_ASSIGN_OR_RAISE(auto r, Reader::of(doc));
  GetRecordsRequest req;
  ARROW_ASSIGN_OR_RAISE(req.shard_iterator, r.required_string("ShardIterator", "shardIterator"));
  if (req.shard_iterator.empty() || req.shard_iterator.size() > 512) {
    return validation("'" + preview(req.shard_iterator) + "'", "shardIterator",
                      "Member must have length between 1 and 512");
  }
  ARROW_ASSIGN_OR_RAISE(auto limit, r.bounded("Limit", "limit", 1, kMaxGetRecordsLimit));
  if (limit) req.limit = static_cast<int>(*limit);
  return req;
}

arrow::Result<UpdateShardCountRequest> parse_update_shard_count(const Document& doc) {
  ARROW_ASSIGN_OR_RAISE(auto r, Reader::of(doc));
  UpdateShardCountRequest req;
  ARROW_ASSIGN_OR_RAISE(req.stream, required_stream(r));
  ARROW_ASSIGN_OR_RAISE(auto target, r.bounded("TargetShardCount", "targetShardCount", 1, 100000));
  if (!target) return validation("null", "targetShardCount", "Member must not be null");
  req.target_shard_count = static_cast<int>(*target);
  ARROW_ASSIGN_OR_RAISE(auto scaling, r.required_string("ScalingType", "scalingType"));
  if (scaling != "UNIFORM_SCALING") {
    return validation("'" + preview(scaling) + "'", "scalingType",
                      "Member must satisfy enum value set: [UNIFORM_SCALING]");
  }
  return req;
}

}  // namespace roadpulse::server
