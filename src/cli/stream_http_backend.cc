// The StreamBackend behind `roadpulse stream ... --server URL`: the Kinesis JSON 1.1 API of a
// running `roadpulse serve`, so the stream commands work while that server holds the data dir.
//
// Kinesis sequence numbers embed the stream creation time and shard index around the per-shard
// offset (see server/kinesis_ids.h); this backend converts between them and the offsets the
// stream commands use. Reading goes through shard iterators, which are opaque: the backend keeps
// the NextShardIterator of each shard's last GetRecords and reuses it when the next read starts
// where the last one ended.

#include <algorithm>
#include <chrono>
#include <climits>
#include <map>
#include <thread>
#include <utility>

#include "cli/stream_backend.h"
#include "server/document.h"
#include "server/kinesis_client.h"
#include "server/kinesis_ids.h"

namespace roadpulse::cli {
namespace {

using server::Document;

std::string string_field(const Document& doc, std::string_view key) {
  const Document* f = doc.find(key);
  return f != nullptr && f->kind() == Document::Kind::kString ? f->as_string() : std::string();
}

// A timestamp as JSON 1.1 returns it (epoch seconds, possibly fractional), in ms.
int64_t time_field_ms(const Document& doc, std::string_view key) {
  const Document* f = doc.find(key);
  if (f == nullptr) return 0;
  switch (f->kind()) {
    case Document::Kind::kTime:
      return f->as_time_ms();
    case Document::Kind::kInt:
      return f->as_int() * 1000;
    case Document::Kind::kDouble:
      return static_cast<int64_t>(f->as_double() * 1000 + 0.5);
    default:
      return 0;
  }
}

arrow::Result<uint64_t> offset_of(std::string_view sequence_number) {
  ARROW_ASSIGN_OR_RAISE(auto parts, server::parse_sequence_number(sequence_number));
  return parts.offset;
}

class HttpBackend final : public StreamBackend {
 public:
  explicit HttpBackend(std::unique_ptr<server::KinesisClient> client)
      : client_(std::move(client)) {}

  arrow::Status create(const std::string& name, int shards) override {
    Document req = Document::map();
    req.set("StreamName", Document::string(name));
    req.set("ShardCount", Document::integer(shards));
    return client_->call("CreateStream", req).status();
  }

  arrow::Status remove(const std::string& name) override {
    Document req = Document::map();
    req.set("StreamName", Document::string(name));
    return client_->call("DeleteStream", req).status();
  }

  arrow::Status reshard(const std::string& name, int shards) override {
    Document req = Document::map();
    req.set("StreamName", Document::string(name));
    req.set("TargetShardCount", Document::integer(shards));
    req.set("ScalingType", Document::string("UNIFORM_SCALING"));
    return client_->call("UpdateShardCount", req).status();
  }

  arrow::Result<std::vector<std::string>> list() override {
    std::vector<std::string> names;
    while (true) {
      Document req = Document::map();
      if (!names.empty()) req.set("ExclusiveStartStreamName", Document::string(names.back()));
      ARROW_ASSIGN_OR_RAISE(auto resp, client_->call("ListStreams", req));
      const Document* list = resp.find("StreamNames");
      size_t added = 0;
      if (list != nullptr) {
        for (const auto& n : list->items()) {
          names.push_back(n.as_string());
          ++added;
        }
      }
      const Document* more = resp.find("HasMoreStreams");
      if (added == 0 || more == nullptr || !more->as_bool()) break;
    }
    return names;
  }

  // DescribeStream has no byte, record or rate counts, nor an open shard's next sequence
  // number: those fields stay 0.
  arrow::Result<log::StreamDescription> describe(const std::string& name) override {
    log::StreamDescription d;
    d.name = name;
    std::string after;
    while (true) {
      Document req = Document::map();
      req.set("StreamName", Document::string(name));
      if (!after.empty()) req.set("ExclusiveStartShardId", Document::string(after));
      ARROW_ASSIGN_OR_RAISE(auto resp, client_->call("DescribeStream", req));
      const Document* desc = resp.find("StreamDescription");
      if (desc == nullptr) return arrow::Status::IOError("DescribeStream: no StreamDescription");
      d.created_ms = time_field_ms(*desc, "StreamCreationTimestamp");
      if (const Document* hours = desc->find("RetentionPeriodHours")) {
        d.retention_ms = hours->as_int() * 3600000;
      }
      const Document* shards = desc->find("Shards");
      size_t added = 0;
      if (shards != nullptr) {
        for (const auto& s : shards->items()) {
          log::ShardDescription shard;
          ARROW_ASSIGN_OR_RAISE(shard.id, log::ShardId::parse(string_field(s, "ShardId")));
          if (auto p = string_field(s, "ParentShardId"); !p.empty()) {
            ARROW_ASSIGN_OR_RAISE(shard.parent, log::ShardId::parse(p));
          }
          if (auto p = string_field(s, "AdjacentParentShardId"); !p.empty()) {
            ARROW_ASSIGN_OR_RAISE(shard.adjacent_parent, log::ShardId::parse(p));
          }
          if (const Document* range = s.find("HashKeyRange")) {
            ARROW_ASSIGN_OR_RAISE(shard.starting_hash_key,
                                  log::parse_hash_key(string_field(*range, "StartingHashKey")));
            ARROW_ASSIGN_OR_RAISE(shard.ending_hash_key,
                                  log::parse_hash_key(string_field(*range, "EndingHashKey")));
          }
          if (const Document* range = s.find("SequenceNumberRange")) {
            ARROW_ASSIGN_OR_RAISE(auto parts, server::parse_sequence_number(
                                                  string_field(*range, "StartingSequenceNumber")));
            shard.starting_sequence = log::SequenceNumber{parts.offset};
            // The sequence numbers embed the exact creation ms (the timestamp is rounded).
            created_[name] = parts.stream_created_ms;
            if (auto end = string_field(*range, "EndingSequenceNumber"); !end.empty()) {
              ARROW_ASSIGN_OR_RAISE(auto offset, offset_of(end));
              shard.ending_sequence = log::SequenceNumber{offset};
            }
          }
          after = shard.id.to_string();
          d.shards.push_back(std::move(shard));
          ++added;
        }
      }
      const Document* more = desc->find("HasMoreShards");
      if (added == 0 || more == nullptr || !more->as_bool()) break;
    }
    return d;
  }

  // A shard iterator cannot be turned back into an offset, and the API does not say where an
  // open shard ends, so TRIM_HORIZON/LATEST/AT_TIMESTAMP cannot be resolved to an offset. Instead
  // resolve() takes the iterator and returns a handle (a value far above any real offset) that
  // read() recognises as "continue with the iterator kept for this shard".
  arrow::Result<log::SequenceNumber> resolve(const std::string& name, log::ShardId shard,
                                             const log::StartPosition& from) override {
    Document req = Document::map();
    req.set("StreamName", Document::string(name));
    req.set("ShardId", Document::string(shard.to_string()));
    switch (from.kind) {
      case log::StartKind::kTrimHorizon:
        req.set("ShardIteratorType", Document::string("TRIM_HORIZON"));
        break;
      case log::StartKind::kLatest:
        req.set("ShardIteratorType", Document::string("LATEST"));
        break;
      case log::StartKind::kAtTimestamp:
        req.set("ShardIteratorType", Document::string("AT_TIMESTAMP"));
        req.set("Timestamp", Document::time_ms(from.timestamp_ms));
        break;
      case log::StartKind::kAtSequence:
      case log::StartKind::kAfterSequence: {
        ARROW_ASSIGN_OR_RAISE(auto seq, sequence_number(name, shard, from.sequence));
        req.set("ShardIteratorType", Document::string(from.kind == log::StartKind::kAtSequence
                                                          ? "AT_SEQUENCE_NUMBER"
                                                          : "AFTER_SEQUENCE_NUMBER"));
        req.set("StartingSequenceNumber", Document::string(std::move(seq)));
        break;
      }
    }
    ARROW_ASSIGN_OR_RAISE(auto resp, client_->call("GetShardIterator", req));
    const log::SequenceNumber handle{next_handle_--};
    cursors_[{name, shard.value}] = Cursor{handle, string_field(resp, "ShardIterator")};
    return handle;
  }

  arrow::Result<log::ReadResult> read(const std::string& name, log::ShardId shard,
                                      log::SequenceNumber from, int max_records) override {
    const auto key = std::make_pair(name, shard.value);
    std::string iterator;
    if (auto it = cursors_.find(key); it != cursors_.end() && it->second.position == from) {
      if (it->second.iterator.empty()) {  // the shard is closed and was read to its end
        log::ReadResult done;
        done.next = from;
        done.end_of_closed_shard = true;
        return done;
      }
      iterator = it->second.iterator;
    } else if (from.value > kMaxOffset) {
      return arrow::Status::Invalid("no shard iterator for position ", from.value);
    } else {
      ARROW_ASSIGN_OR_RAISE(auto seq, sequence_number(name, shard, from));
      Document req = Document::map();
      req.set("StreamName", Document::string(name));
      req.set("ShardId", Document::string(shard.to_string()));
      req.set("ShardIteratorType", Document::string("AT_SEQUENCE_NUMBER"));
      req.set("StartingSequenceNumber", Document::string(std::move(seq)));
      ARROW_ASSIGN_OR_RAISE(auto resp, client_->call("GetShardIterator", req));
      iterator = string_field(resp, "ShardIterator");
    }
    Document req = Document::map();
    req.set("ShardIterator", Document::string(iterator));
    req.set("Limit", Document::integer(std::clamp(max_records, 1, 10000)));
    ARROW_ASSIGN_OR_RAISE(auto resp, client_->call("GetRecords", req));
    log::ReadResult result;
    result.next = from;
    if (const Document* records = resp.find("Records")) {
      for (const auto& r : records->items()) {
        log::StoredRecord rec;
        rec.shard = shard;
        ARROW_ASSIGN_OR_RAISE(auto offset, offset_of(string_field(r, "SequenceNumber")));
        rec.sequence = log::SequenceNumber{offset};
        rec.arrival_ms = time_field_ms(r, "ApproximateArrivalTimestamp");
        rec.partition_key = string_field(r, "PartitionKey");
        if (const Document* data = r.find("Data")) {
          if (data->kind() == Document::Kind::kBytes) {
            rec.data = data->as_string();
          } else {  // JSON 1.1 carries blobs as base64 text
            ARROW_ASSIGN_OR_RAISE(rec.data, server::base64_decode(data->as_string()));
          }
        }
        result.next = log::SequenceNumber{offset + 1};
        result.records.push_back(std::move(rec));
      }
    }
    if (const Document* behind = resp.find("MillisBehindLatest")) {
      result.millis_behind_latest = behind->as_int();
    }
    std::string next_iterator = string_field(resp, "NextShardIterator");
    result.end_of_closed_shard = next_iterator.empty();
    cursors_[key] = Cursor{result.next, std::move(next_iterator)};
    return result;
  }

  // No long poll in the Kinesis API: sleep and let the caller read again.
  void wait(const std::string&, log::ShardId, log::SequenceNumber, int64_t timeout_ms) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::max<int64_t>(0, timeout_ms)));
  }

  // One PutRecords call per batch (the stream commands send at most 500 records at a time).
  // A partial failure fails the command: the records before and after the failed one may have
  // been stored, and the error says how many were not.
  arrow::Result<std::vector<log::AppendResult>> put(
      const std::string& name, std::span<const log::AppendRecord> records) override {
    std::vector<log::AppendResult> results;
    for (size_t begin = 0; begin < records.size(); begin += 500) {
      const size_t end = std::min(records.size(), begin + 500);
      Document req = Document::map();
      req.set("StreamName", Document::string(name));
      Document list = Document::array();
      for (size_t i = begin; i < end; ++i) {
        Document rec = Document::map();
        rec.set("Data", Document::bytes(std::string(records[i].data)));
        rec.set("PartitionKey", Document::string(std::string(records[i].partition_key)));
        if (records[i].explicit_hash_key) {
          rec.set("ExplicitHashKey",
                  Document::string(log::format_hash_key(*records[i].explicit_hash_key)));
        }
        list.push(std::move(rec));
      }
      req.set("Records", std::move(list));
      ARROW_ASSIGN_OR_RAISE(auto resp, client_->call("PutRecords", req));
      const Document* failed = resp.find("FailedRecordCount");
      const Document* out = resp.find("Records");
      if (out == nullptr || out->items().size() != end - begin) {
        return arrow::Status::IOError("PutRecords: the response does not list every record");
      }
      if (failed != nullptr && failed->as_int() > 0) {
        for (const auto& r : out->items()) {
          if (auto code = string_field(r, "ErrorCode"); !code.empty()) {
            return arrow::Status::IOError("PutRecords: ", failed->as_int(), " of ", end - begin,
                                          " records failed (first: ", code, ": ",
                                          string_field(r, "ErrorMessage"), ")");
          }
        }
      }
      for (const auto& r : out->items()) {
        log::AppendResult a;
        ARROW_ASSIGN_OR_RAISE(a.shard, log::ShardId::parse(string_field(r, "ShardId")));
        ARROW_ASSIGN_OR_RAISE(auto offset, offset_of(string_field(r, "SequenceNumber")));
        a.sequence = log::SequenceNumber{offset};
        results.push_back(a);
      }
    }
    return results;
  }

 private:
  // Offsets stay far below this; resolve() hands out positions above it.
  static constexpr uint64_t kMaxOffset = uint64_t{1} << 62;

  struct Cursor {
    log::SequenceNumber position;
    std::string iterator;  // empty: a closed shard read to its end
  };

  // The Kinesis sequence number of `offset` in `shard` (needs the stream's creation time).
  arrow::Result<std::string> sequence_number(const std::string& name, log::ShardId shard,
                                             log::SequenceNumber offset) {
    if (!created_.contains(name)) ARROW_RETURN_NOT_OK(describe(name).status());
    return server::format_sequence_number({created_[name], shard.value, offset.value});
  }

  std::unique_ptr<server::KinesisClient> client_;
  std::map<std::string, int64_t> created_;
  std::map<std::pair<std::string, int32_t>, Cursor> cursors_;
  uint64_t next_handle_ = UINT64_MAX;
};

}  // namespace

arrow::Result<std::unique_ptr<StreamBackend>> make_http_backend(const std::string& url) {
  server::KinesisClientOptions options;
  options.endpoint = url;
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  ARROW_ASSIGN_OR_RAISE(auto client, server::KinesisClient::make(std::move(options)));
  return std::make_unique<HttpBackend>(std::move(client));
}

}  // namespace roadpulse::cli
