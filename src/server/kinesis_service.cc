#include "server/kinesis_service.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/time.h"
#include "server/api_error.h"
#include "server/kinesis_requests.h"

namespace roadpulse::server {

namespace {

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

arrow::Result<log::ShardId> parse_shard_id(std::string_view text, std::string_view stream,
                                           std::string_view account) {
  auto id = log::ShardId::parse(text);
  if (!id.ok()) {
    return api_error("ResourceNotFoundException",
                     fmt::format("Shard {} in stream {} under account {} does not exist", text,
                                 stream, account));
  }
  return *id;
}

const log::ShardDescription* find_shard(const log::StreamDescription& desc, log::ShardId id) {
  for (const auto& s : desc.shards) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

Document stream_mode() {
  Document mode = Document::map();
  mode.set("StreamMode", Document::string("PROVISIONED"));
  return mode;
}

Document enhanced_monitoring() {
  Document list = Document::array();
  Document entry = Document::map();
  entry.set("ShardLevelMetrics", Document::array());
  list.push(std::move(entry));
  return list;
}

Document hash_range(const log::ShardDescription& s) {
  Document range = Document::map();
  range.set("StartingHashKey", Document::string(hash_key_to_string(s.starting_hash_key)));
  range.set("EndingHashKey", Document::string(hash_key_to_string(s.ending_hash_key)));
  return range;
}

// Opaque pagination tokens: base64 of "kind|a|b".
std::string make_token(std::string_view kind, std::string_view a, std::string_view b) {
  return base64_encode(fmt::format("{}|{}|{}", kind, a, b));
}

arrow::Result<std::pair<std::string, std::string>> read_token(std::string_view token,
                                                              std::string_view kind) {
  auto raw = base64_decode(token);
  if (raw.ok()) {
    const std::string& s = *raw;
    const size_t a = s.find('|');
    const size_t b = a == std::string::npos ? a : s.find('|', a + 1);
    if (b != std::string::npos && std::string_view(s).substr(0, a) == kind) {
      return std::make_pair(s.substr(a + 1, b - a - 1), s.substr(b + 1));
    }
  }
  return api_error("InvalidArgumentException", "Invalid NextToken.");
}

}  // namespace

KinesisService::KinesisService(log::LogStore* store, std::string iterator_key,
                               KinesisOptions options)
    : store_(store), iterators_(std::move(iterator_key)), options_(std::move(options)) {}

KinesisService::~KinesisService() = default;

int64_t KinesisService::now_ms() const { return now_micros() / 1000 + options_.clock_offset_ms; }

bool KinesisService::is_operation(std::string_view op) {
  static constexpr std::string_view kOps[] = {
      "CreateStream",          "DeleteStream", "ListStreams",     "DescribeStream",
      "DescribeStreamSummary", "ListShards",   "PutRecord",       "PutRecords",
      "GetShardIterator",      "GetRecords",   "UpdateShardCount"};
  return std::find(std::begin(kOps), std::end(kOps), op) != std::end(kOps);
}

arrow::Result<Document> KinesisService::call(std::string_view op, const Document& request) {
  if (op == "PutRecords") return put_records(request);
  if (op == "GetRecords") return get_records(request);
  if (op == "PutRecord") return put_record(request);
  if (op == "GetShardIterator") return get_shard_iterator(request);
  if (op == "ListShards") return list_shards(request);
  if (op == "DescribeStream") return describe_stream(request);
  if (op == "DescribeStreamSummary") return describe_stream_summary(request);
  if (op == "ListStreams") return list_streams(request);
  if (op == "CreateStream") return create_stream(request);
  if (op == "DeleteStream") return delete_stream(request);
  if (op == "UpdateShardCount") return update_shard_count(request);
  return api_error("UnknownOperationException",
                   fmt::format("Operation '{}' is not supported by roadpulse", op.substr(0, 64)));
}

std::string KinesisService::arn(std::string_view stream) const {
  return fmt::format("arn:aws:kinesis:{}:{}:stream/{}", options_.region, options_.account_id,
                     stream);
}

arrow::Status KinesisService::map_log_error(const arrow::Status& status,
                                            std::string_view stream) const {
  if (status.ok() || api_error_detail(status)) return status;
  const std::string& m = status.message();
  if (status.IsKeyError() || contains(m, "not found") || contains(m, "does not exist") ||
      contains(m, "no such stream") || contains(m, "No such stream")) {
    return api_error(
        "ResourceNotFoundException",
        fmt::format("Stream {} under account {} not found.", stream, options_.account_id));
  }
  if (contains(m, "already exists")) {
    return api_error(
        "ResourceInUseException",
        fmt::format("Stream {} under account {} already exists.", stream, options_.account_id));
  }
  if (status.IsInvalid() || status.IsIndexError()) {
    return api_error("InvalidArgumentException", m);
  }
  return status;  // I/O and everything unexpected: InternalFailure
}

arrow::Result<log::StreamDescription> KinesisService::describe(std::string_view stream) {
  auto desc = store_->describe_stream(stream);
  if (!desc.ok()) return map_log_error(desc.status(), stream);
  return std::move(*desc);
}

arrow::Result<int64_t> KinesisService::created_ms(std::string_view stream) {
  {
    std::shared_lock lock(created_mutex_);
    if (auto it = created_.find(stream); it != created_.end()) return it->second;
  }
  ARROW_ASSIGN_OR_RAISE(auto desc, describe(stream));
  std::unique_lock lock(created_mutex_);
  created_[std::string(stream)] = desc.created_ms;
  return desc.created_ms;
}

void KinesisService::forget(std::string_view stream) {
  std::unique_lock lock(created_mutex_);
  if (auto it = created_.find(stream); it != created_.end()) created_.erase(it);
}

Document KinesisService::shard_document(const log::ShardDescription& s, int64_t created) const {
  Document shard = Document::map();
  shard.set("ShardId", Document::string(s.id.to_string()));
  if (s.parent) shard.set("ParentShardId", Document::string(s.parent->to_string()));
  if (s.adjacent_parent) {
    shard.set("AdjacentParentShardId", Document::string(s.adjacent_parent->to_string()));
  }
  shard.set("HashKeyRange", hash_range(s));
  Document range = Document::map();
  range.set(
      "StartingSequenceNumber",
      Document::string(format_sequence_number({created, s.id.value, s.starting_sequence.value})));
  if (s.ending_sequence) {
    range.set(
        "EndingSequenceNumber",
        Document::string(format_sequence_number({created, s.id.value, s.ending_sequence->value})));
  }
  shard.set("SequenceNumberRange", std::move(range));
  return shard;
}

arrow::Result<Document> KinesisService::create_stream(const Document& request) {
  ARROW_ASSIGN_OR_RAISE(auto req, parse_create_stream(request));
  if (req.shard_count > options_.max_shards_per_stream) {
    return api_error("LimitExceededException",
                     fmt::format("This request would exceed the shard limit for the account {} "
                                 "(at most {} shards per stream).",
                                 options_.account_id, options_.max_shards_per_stream));
  }
  forget(req.stream);
  ARROW_RETURN_NOT_OK(
      map_log_error(store_->create_stream(req.stream, req.shard_count), req.stream));
  return Document::map();
}

arrow::Result<Document> KinesisService::delete_stream(const Document& request) {
  ARROW_ASSIGN_OR_RAISE(auto req, parse_delete_stream(request));
  forget(req.stream);
  ARROW_RETURN_NOT_OK(map_log_error(store_->delete_stream(req.stream), req.stream));
  forget(req.stream);
  return Document::map();
}

arrow::Result<Document> KinesisService::list_streams(const Document& request) {
  ARROW_ASSIGN_OR_RAISE(auto req, parse_list_streams(request));
  auto names_result = store_->list_streams();
  if (!names_result.ok()) return map_log_error(names_result.status(), "");
  std::vector<std::string> names = std::move(*names_result);
  std::sort(names.begin(), names.end());
  std::string after;
  if (req.next_token) {
    ARROW_ASSIGN_OR_RAISE(auto token, read_token(*req.next_token, "streams"));
    after = token.first;
  } else if (req.exclusive_start) {
    after = *req.exclusive_start;
  }
  Document out = Document::map();
  Document list = Document::array();
  Document summaries = Document::array();
  int count = 0;
  bool more = false;
  std::string last;
  for (const auto& name : names) {
    if (!after.empty() && name <= after) continue;
    if (count == req.limit) {
      more = true;
      break;
    }
    auto desc = store_->describe_stream(name);
    if (!desc.ok()) continue;  // deleted meanwhile
    list.push(Document::string(name));
    Document summary = Document::map();
    summary.set("StreamName", Document::string(name));
    summary.set("StreamARN", Document::string(arn(name)));
    summary.set("StreamStatus", Document::string("ACTIVE"));
    summary.set("StreamModeDetails", stream_mode());
    summary.set("StreamCreationTimestamp", Document::time_ms(desc->created_ms));
    summaries.push(std::move(summary));
    last = name;
    ++count;
  }
  out.set("StreamNames", std::move(list));
  out.set("HasMoreStreams", Document::boolean(more));
  if (more) out.set("NextToken", Document::string(make_token("streams", last, "")));
  out.set("StreamSummaries", std::move(summaries));
  return out;
}

arrow::Result<Document> KinesisService::describe_stream(const Document& request) {
  ARROW_ASSIGN_OR_RAISE(auto req, parse_describe_stream(request));
  ARROW_ASSIGN_OR_RAISE(auto desc, describe(req.stream));
  std::optional<log::ShardId> after;
  if (req.exclusive_start_shard_id) {
    auto id = log::ShardId::parse(*req.exclusive_start_shard_id);
    if (id.ok()) after = *id;
  }
  Document shards = Document::array();
  int count = 0;
  bool more = false;
  for (const auto& s : desc.shards) {
    if (after && s.id <= *after) continue;
    if (count == req.limit) {
      more = true;
      break;
    }
    shards.push(shard_document(s, desc.created_ms));
    ++count;
  }
  Document d = Document::map();
  d.set("StreamName", Document::string(desc.name));
  d.set("StreamARN", Document::string(arn(desc.name)));
  d.set("StreamStatus", Document::string("ACTIVE"));
  d.set("StreamModeDetails", stream_mode());
  d.set("Shards", std::move(shards));
  d.set("HasMoreShards", Document::boolean(more));
  d.set("RetentionPeriodHours", Document::integer(desc.retention_ms / 3600000));
  d.set("StreamCreationTimestamp", Document::time_ms(desc.created_ms));
  d.set("EnhancedMonitoring", enhanced_monitoring());
  d.set("EncryptionType", Document::string("NONE"));
  Document out = Document::map();
  out.set("StreamDescription", std::move(d));
  return out;
}

arrow::Result<Document> KinesisService::describe_stream_summary(const Document& request) {
  ARROW_ASSIGN_OR_RAISE(auto req, parse_describe_stream_summary(request));
  ARROW_ASSIGN_OR_RAISE(auto desc, describe(req.stream));
  Document d = Document::map();
  d.set("StreamName", Document::string(desc.name));
  d.set("StreamARN", Document::string(arn(desc.name)));
  d.set("StreamStatus", Document::string("ACTIVE"));
  d.set("StreamModeDetails", stream_mode());
  d.set("RetentionPeriodHours", Document::integer(desc.retention_ms / 3600000));
  d.set("StreamCreationTimestamp", Document::time_ms(desc.created_ms));
  d.set("EnhancedMonitoring", enhanced_monitoring());
  d.set("EncryptionType", Document::string("NONE"));
  d.set("OpenShardCount", Document::integer(desc.open_shard_count()));
  d.set("ConsumerCount", Document::integer(0));
  Document out = Document::map();
  out.set("StreamDescriptionSummary", std::move(d));
  return out;
}

arrow::Result<Document> KinesisService::list_shards(const Document& request) {
  ARROW_ASSIGN_OR_RAISE(auto req, parse_list_shards(request));
  std::string stream;
  std::optional<log::ShardId> after;
  if (req.next_token) {
    ARROW_ASSIGN_OR_RAISE(auto token, read_token(*req.next_token, "shards"));
    stream = token.first;
    auto id = log::ShardId::parse(token.second);
    if (!id.ok()) return api_error("InvalidArgumentException", "Invalid NextToken.");
    after = *id;
  } else {
    stream = *req.stream;
    if (req.exclusive_start_shard_id) {
      auto id = log::ShardId::parse(*req.exclusive_start_shard_id);
      if (id.ok()) after = *id;
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto desc, describe(stream));
  std::optional<log::ShardId> filter_after;
  if (req.filter_type == "AFTER_SHARD_ID" && req.filter_shard_id) {
    auto id = log::ShardId::parse(*req.filter_shard_id);
    if (id.ok()) filter_after = *id;
  }
  Document shards = Document::array();
  int count = 0;
  bool more = false;
  std::string last;
  for (const auto& s : desc.shards) {
    if (after && s.id <= *after) continue;
    if (filter_after && s.id <= *filter_after) continue;
    if (req.filter_type == "AT_LATEST" && s.ending_sequence) continue;
    if (count == req.max_results) {
      more = true;
      break;
    }
    shards.push(shard_document(s, desc.created_ms));
    last = s.id.to_string();
    ++count;
  }
  Document out = Document::map();
  out.set("Shards", std::move(shards));
  if (more) out.set("NextToken", Document::string(make_token("shards", stream, last)));
  return out;
}

bool KinesisService::admit(std::string_view stream, int32_t shard, int64_t records, int64_t bytes) {
  const int64_t now = now_micros();
  const std::string key = fmt::format("{}/{}", stream, shard);
  std::lock_guard lock(buckets_mutex_);
  auto [it, inserted] = buckets_.try_emplace(key);
  Bucket& b = it->second;
  const double rec_cap = static_cast<double>(options_.shard_records_per_second);
  const double byte_cap = static_cast<double>(options_.shard_bytes_per_second);
  if (inserted) {
    b.records = rec_cap;
    b.bytes = byte_cap;
  } else {
    const double elapsed = static_cast<double>(now - b.refilled_us) / 1e6;
    b.records = std::min(rec_cap, b.records + elapsed * rec_cap);
    b.bytes = std::min(byte_cap, b.bytes + elapsed * byte_cap);
  }
  b.refilled_us = now;
  const bool rec_ok = rec_cap <= 0 || b.records >= static_cast<double>(records);
  const bool byte_ok = byte_cap <= 0 || b.bytes >= static_cast<double>(bytes);
  if (!rec_ok || !byte_ok) return false;
  b.records -= static_cast<double>(records);
  b.bytes -= static_cast<double>(bytes);
  return true;
}

arrow::Result<Document> KinesisService::put_record(const Document& request) {
  ARROW_ASSIGN_OR_RAISE(auto req, parse_put_record(request));
  ARROW_ASSIGN_OR_RAISE(const int64_t created, created_ms(req.stream));
  if (limits_enabled()) {
    ARROW_ASSIGN_OR_RAISE(auto desc, describe(req.stream));
    const log::HashKey h = req.record.explicit_hash_key
                               ? *req.record.explicit_hash_key
                               : log::hash_key_of(req.record.partition_key);
    for (const auto& s : desc.shards) {
      if (s.ending_sequence || h < s.starting_hash_key || h > s.ending_hash_key) continue;
      if (!admit(req.stream, s.id.value, 1,
                 static_cast<int64_t>(req.record.data.size() + req.record.partition_key.size()))) {
        return api_error("ProvisionedThroughputExceededException",
                         fmt::format("Rate exceeded for shard {} in stream {} under account {}.",
                                     s.id.to_string(), req.stream, options_.account_id));
      }
      break;
    }
  }
  log::AppendRecord record{req.record.partition_key, req.record.data, req.record.explicit_hash_key};
  auto appended = store_->append(req.stream, std::span<const log::AppendRecord>(&record, 1));
  if (!appended.ok()) return map_log_error(appended.status(), req.stream);
  if (appended->size() != 1) return arrow::Status::UnknownError("append returned no result");
  const auto& r = (*appended)[0];
  Document out = Document::map();
  out.set("ShardId", Document::string(r.shard.to_string()));
  out.set("SequenceNumber",
          Document::string(format_sequence_number({created, r.shard.value, r.sequence.value})));
  out.set("EncryptionType", Document::string("NONE"));
  return out;
}

arrow::Result<Document> KinesisService::put_records(const Document& request) {
  ARROW_ASSIGN_OR_RAISE(auto req, parse_put_records(request));
  ARROW_ASSIGN_OR_RAISE(const int64_t created, created_ms(req.stream));
  const size_t n = req.records.size();
  // Which records go to the log; the others failed admission (throughput limits).
  std::vector<bool> accepted(n, true);
  std::vector<std::string> failed_shard(n);
  if (limits_enabled()) {
    ARROW_ASSIGN_OR_RAISE(auto desc, describe(req.stream));
    std::vector<int32_t> throttled;
    for (size_t i = 0; i < n; ++i) {
      const auto& rec = req.records[i];
      const log::HashKey h =
          rec.explicit_hash_key ? *rec.explicit_hash_key : log::hash_key_of(rec.partition_key);
      for (const auto& s : desc.shards) {
        if (s.ending_sequence || h < s.starting_hash_key || h > s.ending_hash_key) continue;
        // Once a shard refuses a record, it refuses the rest of this request too, so what it
        // accepts is a prefix and a client that resends the failures keeps per-shard order.
        if (std::find(throttled.begin(), throttled.end(), s.id.value) != throttled.end() ||
            !admit(req.stream, s.id.value, 1,
                   static_cast<int64_t>(rec.data.size() + rec.partition_key.size()))) {
          accepted[i] = false;
          failed_shard[i] = s.id.to_string();
          throttled.push_back(s.id.value);
        }
        break;
      }
    }
  }
  std::vector<log::AppendRecord> batch;
  batch.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (!accepted[i]) continue;
    const auto& rec = req.records[i];
    batch.push_back({rec.partition_key, rec.data, rec.explicit_hash_key});
  }
  std::vector<log::AppendResult> results;
  if (!batch.empty()) {
    auto appended = store_->append(req.stream, batch);
    if (!appended.ok()) return map_log_error(appended.status(), req.stream);
    results = std::move(*appended);
    if (results.size() != batch.size()) {
      return arrow::Status::UnknownError("append returned ", results.size(), " results for ",
                                         batch.size(), " records");
    }
  }
  Document out = Document::map();
  Document list = Document::array();
  int failed = 0;
  size_t next = 0;
  for (size_t i = 0; i < n; ++i) {
    Document entry = Document::map();
    if (accepted[i]) {
      const auto& r = results[next++];
      entry.set(
          "SequenceNumber",
          Document::string(format_sequence_number({created, r.shard.value, r.sequence.value})));
      entry.set("ShardId", Document::string(r.shard.to_string()));
    } else {
      ++failed;
      entry.set("ErrorCode", Document::string("ProvisionedThroughputExceededException"));
      entry.set("ErrorMessage",
                Document::string(fmt::format("Rate exceeded for shard {} in stream {} under "
                                             "account {}.",
                                             failed_shard[i], req.stream, options_.account_id)));
    }
    list.push(std::move(entry));
  }
  out.set("FailedRecordCount", Document::integer(failed));
  out.set("Records", std::move(list));
  out.set("EncryptionType", Document::string("NONE"));
  return out;
}

arrow::Result<Document> KinesisService::get_shard_iterator(const Document& request) {
  ARROW_ASSIGN_OR_RAISE(auto req, parse_get_shard_iterator(request));
  ARROW_ASSIGN_OR_RAISE(auto desc, describe(req.stream));
  ARROW_ASSIGN_OR_RAISE(auto shard, parse_shard_id(req.shard_id, req.stream, options_.account_id));
  if (!find_shard(desc, shard)) {
    return api_error("ResourceNotFoundException",
                     fmt::format("Shard {} in stream {} under account {} does not exist",
                                 req.shard_id, req.stream, options_.account_id));
  }
  log::StartPosition position;
  if (req.type == "TRIM_HORIZON") {
    position.kind = log::StartKind::kTrimHorizon;
  } else if (req.type == "LATEST") {
    position.kind = log::StartKind::kLatest;
  } else if (req.type == "AT_TIMESTAMP") {
    position.kind = log::StartKind::kAtTimestamp;
    position.timestamp_ms = *req.timestamp_ms;
  } else {
    auto parts = parse_sequence_number(*req.starting_sequence_number);
    if (!parts.ok() || parts->shard != shard.value || parts->stream_created_ms != desc.created_ms) {
      return api_error("InvalidArgumentException",
                       fmt::format("StartingSequenceNumber {} used in GetShardIterator on shard {} "
                                   "in stream {} under account {} is invalid.",
                                   req.starting_sequence_number->substr(0, 128), req.shard_id,
                                   req.stream, options_.account_id));
    }
    position.kind = req.type == "AT_SEQUENCE_NUMBER" ? log::StartKind::kAtSequence
                                                     : log::StartKind::kAfterSequence;
    position.sequence = log::SequenceNumber{parts->offset};
  }
  auto resolved = store_->resolve(req.stream, shard, position);
  if (!resolved.ok()) return map_log_error(resolved.status(), req.stream);
  IteratorState state;
  state.issued_ms = now_ms();
  state.stream = req.stream;
  state.stream_created_ms = desc.created_ms;
  state.shard = shard.value;
  state.position = resolved->value;
  Document out = Document::map();
  out.set("ShardIterator", Document::string(iterators_.encode(state)));
  return out;
}

arrow::Result<Document> KinesisService::get_records(const Document& request) {
  ARROW_ASSIGN_OR_RAISE(auto req, parse_get_records(request));
  const int64_t now = now_ms();
  ARROW_ASSIGN_OR_RAISE(auto state, iterators_.decode(req.shard_iterator, now));
  ARROW_ASSIGN_OR_RAISE(const int64_t created, created_ms(state.stream));
  if (created != state.stream_created_ms) {
    return api_error("ResourceNotFoundException",
                     fmt::format("Stream {} under account {} not found (the iterator belongs to a "
                                 "deleted stream of that name).",
                                 state.stream, options_.account_id));
  }
  const log::ShardId shard{state.shard};
  auto read = store_->read(state.stream, shard, log::SequenceNumber{state.position}, req.limit,
                           kMaxGetRecordsBytes);
  if (!read.ok()) return map_log_error(read.status(), state.stream);
  Document out = Document::map();
  Document records = Document::array();
  for (auto& r : read->records) {
    Document rec = Document::map();
    rec.set("SequenceNumber",
            Document::string(format_sequence_number({created, r.shard.value, r.sequence.value})));
    rec.set("ApproximateArrivalTimestamp", Document::time_ms(r.arrival_ms));
    rec.set("Data", Document::bytes(std::move(r.data)));
    rec.set("PartitionKey", Document::string(std::move(r.partition_key)));
    records.push(std::move(rec));
  }
  out.set("Records", std::move(records));
  if (!read->end_of_closed_shard) {
    IteratorState next = state;
    next.issued_ms = now;
    next.position = read->next.value;
    out.set("NextShardIterator", Document::string(iterators_.encode(next)));
  }
  out.set("MillisBehindLatest", Document::integer(read->millis_behind_latest));
  if (read->end_of_closed_shard) {
    // A closed shard read to its end names its children, so consumers can move on.
    ARROW_ASSIGN_OR_RAISE(auto desc, describe(state.stream));
    Document children = Document::array();
    for (const auto& s : desc.shards) {
      if (s.parent != shard && s.adjacent_parent != shard) continue;
      Document child = Document::map();
      child.set("ShardId", Document::string(s.id.to_string()));
      Document parents = Document::array();
      if (s.parent) parents.push(Document::string(s.parent->to_string()));
      if (s.adjacent_parent) parents.push(Document::string(s.adjacent_parent->to_string()));
      child.set("ParentShards", std::move(parents));
      child.set("HashKeyRange", hash_range(s));
      children.push(std::move(child));
    }
    out.set("ChildShards", std::move(children));
  }
  return out;
}

arrow::Result<Document> KinesisService::update_shard_count(const Document& request) {
  ARROW_ASSIGN_OR_RAISE(auto req, parse_update_shard_count(request));
  ARROW_ASSIGN_OR_RAISE(auto desc, describe(req.stream));
  const int current = desc.open_shard_count();
  auto refuse = [&](std::string_view why) {
    return api_error("InvalidArgumentException",
                     fmt::format("UpdateShardCount failed for stream {} under account {}: {}",
                                 req.stream, options_.account_id, why));
  };
  if (req.target_shard_count == current) {
    return refuse(fmt::format("the stream already has {} open shards", current));
  }
  if (req.target_shard_count > 2 * current) {
    return refuse(
        fmt::format("cannot scale up over double the current open shard count ({})", current));
  }
  if (2 * req.target_shard_count < current) {
    return refuse(
        fmt::format("cannot scale down below half the current open shard count ({})", current));
  }
  if (req.target_shard_count > options_.max_shards_per_stream) {
    return api_error("LimitExceededException",
                     fmt::format("at most {} shards per stream", options_.max_shards_per_stream));
  }
  ARROW_RETURN_NOT_OK(
      map_log_error(store_->update_shard_count(req.stream, req.target_shard_count), req.stream));
  Document out = Document::map();
  out.set("StreamName", Document::string(req.stream));
  out.set("CurrentShardCount", Document::integer(current));
  out.set("TargetShardCount", Document::integer(req.target_shard_count));
  out.set("StreamARN", Document::string(arn(req.stream)));
  return out;
}

}  // namespace roadpulse::server
