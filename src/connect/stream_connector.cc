// `stream` and `kinesis`: tables on roadpulse streams of the embedded log.
//
// Source: reads every shard of the stream from 'scan.stream.initpos' (TRIM_HORIZON, LATEST — the
// Kinesis connector's default — or AT_TIMESTAMP with 'scan.stream.initpos-timestamp'), decodes the
// records with the table's format and sends undecodable ones to the dead-letter stream
// `<stream>.dlq` (unless the format ignores parse errors). Unbounded, unless the roadpulse option
// 'scan.stream.endpos' = 'LATEST' bounds it to what the stream held when the job started.
// Sink: encodes rows with the format and appends them (acknowledged durably by the log) with the
// partition key = the PARTITIONED BY columns' values joined by '|' (Flink's Kinesis partitioner),
// or round-robin keys when the table has no partition keys.
// `kinesis` requires the stream to exist (as AWS does); `stream` creates a missing stream with
// 'stream.shards' shards (default 1). 'stream.create-if-missing' overrides either default.
// With the session option 'streams.backend' = 'kafka', both read and write the Kafka topic of the
// stream's name instead (kafka_connector.cc): shards are partitions, sequence numbers offsets.

#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <arrow/array.h>
#include <arrow/scalar.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/json_text.h"
#include "common/time.h"
#include "connect/connectors.h"
#include "exec/text_parse.h"

namespace roadpulse::connect {

namespace {

constexpr int kReadRecords = 4096;
constexpr int64_t kReadBytes = 8LL << 20;
constexpr size_t kAppendChunk = 500;

struct StreamTableOptions {
  std::string stream;
  bool create_if_missing = false;
  int shards = 1;
};

// Flink's Kinesis consumer settings that pace the reads ('flink.shard.getrecords.maxrecordcount',
// '...intervalmillis'): honoured so a job can be throttled as on Flink; unset, reads go full speed.
struct ReadPacing {
  int max_records = kReadRecords;
  int64_t interval_ms = 0;
};

arrow::Result<ReadPacing> read_pacing(OptionReader& reader) {
  ReadPacing p;
  ARROW_ASSIGN_OR_RAISE(int64_t count,
                        reader.get_int("flink.shard.getrecords.maxrecordcount", kReadRecords));
  if (count < 1 || count > 10'000) {
    return arrow::Status::Invalid(
        "option 'flink.shard.getrecords.maxrecordcount' must be in [1, 10000], got ", count);
  }
  p.max_records = int(std::min<int64_t>(count, kReadRecords));
  ARROW_ASSIGN_OR_RAISE(p.interval_ms, reader.get_int("flink.shard.getrecords.intervalmillis", 0));
  if (p.interval_ms < 0) {
    return arrow::Status::Invalid("option 'flink.shard.getrecords.intervalmillis' must be >= 0");
  }
  return p;
}

arrow::Result<StreamTableOptions> stream_options(OptionReader& reader, bool kinesis) {
  StreamTableOptions o;
  ARROW_ASSIGN_OR_RAISE(o.stream, reader.require("stream"));
  ARROW_ASSIGN_OR_RAISE(o.create_if_missing, reader.get_bool("stream.create-if-missing", !kinesis));
  ARROW_ASSIGN_OR_RAISE(int64_t shards, reader.get_int("stream.shards", 1));
  if (shards < 1) return arrow::Status::Invalid("option 'stream.shards' must be >= 1");
  o.shards = int(shards);
  if (kinesis) {
    // AWS settings mean nothing to the embedded log; accepted so Flink DDL runs unchanged.
    reader.allow_prefix("aws.");
    reader.allow_prefix("flink.");
    reader.allow_prefix("scan.shard.");
  }
  return o;
}

arrow::Status ensure_stream(log::LogStore& log, const StreamTableOptions& o) {
  auto described = log.describe_stream(o.stream);
  if (described.ok()) return arrow::Status::OK();
  if (!o.create_if_missing) {
    return arrow::Status::Invalid("stream '", o.stream,
                                  "' does not exist; create it with `roadpulse stream create ",
                                  o.stream, "` (", described.status().message(), ")");
  }
  auto st = log.create_stream(o.stream, o.shards);
  if (!st.ok() && !log.describe_stream(o.stream).ok()) return st;
  spdlog::info("created stream {} with {} shard(s)", o.stream, o.shards);
  return arrow::Status::OK();
}

class StreamSource final : public exec::Source {
 public:
  StreamSource(std::string connector, StreamTableOptions table, log::StartPosition start,
               bool bounded, ReadPacing pacing, std::unique_ptr<RecordDecoder> decoder,
               std::shared_ptr<log::LogStore> log)
      : connector_(std::move(connector)),
        table_(std::move(table)),
        start_(start),
        bounded_(bounded),
        pacing_(pacing),
        decoder_(std::move(decoder)),
        log_(std::move(log)) {}

  std::string name() const override { return connector_ + ":" + table_.stream; }
  bool bounded() const override { return bounded_; }

  arrow::Status open(const exec::OperatorContext& context) override {
    ARROW_RETURN_NOT_OK(ensure_stream(*log_, table_));
    ARROW_ASSIGN_OR_RAISE(auto description, log_->describe_stream(table_.stream));
    std::map<int32_t, Shard> restored;
    if (context.restored_state) {
      ARROW_ASSIGN_OR_RAISE(restored, parse_positions(context.restored_state->ToString()));
    }
    for (const auto& shard : description.shards) {
      Shard s;
      s.id = shard.id;
      s.end = shard.ending_sequence ? *shard.ending_sequence : shard.next_sequence;
      if (auto it = restored.find(shard.id.value); it != restored.end()) {
        // Resume right after what the checkpoint covers. A bounded read ends at the stream's
        // end as of this start, like a fresh one.
        s.next = it->second.next;
      } else if (context.restored_state) {
        // A shard born after the checkpoint (resharding): none of it was read yet.
        ARROW_ASSIGN_OR_RAISE(s.next, log_->resolve(table_.stream, shard.id, log::StartPosition{}));
      } else {
        ARROW_ASSIGN_OR_RAISE(s.next, log_->resolve(table_.stream, shard.id, start_));
      }
      shards_.push_back(s);
    }
    if (shards_.empty())
      return arrow::Status::Invalid("stream '", table_.stream, "' has no shards");
    std::lock_guard lock(lag_mutex_);
    for (const auto& s : shards_) lag_points_.push_back({s.id, s.next, s.end, -1});
    return arrow::Status::OK();
  }

  // The tip is the shard's visible end (an in-memory read of the log); milliseconds are the
  // last read's MillisBehindLatest, as Kinesis reports them.
  std::vector<exec::SplitLag> lag() const override {
    std::vector<LagPoint> points;
    {
      std::lock_guard lock(lag_mutex_);
      points = lag_points_;
    }
    std::vector<exec::SplitLag> out;
    for (const auto& p : points) {
      auto tip = log_->resolve(table_.stream, p.id, log::StartPosition{log::StartKind::kLatest});
      if (!tip.ok()) continue;  // the stream was deleted under the job
      uint64_t end = tip->value;
      if (bounded_) end = std::min(end, p.end.value);
      exec::SplitLag lag{p.id.to_string(), end > p.next.value ? int64_t(end - p.next.value) : 0};
      lag.millis = lag.records == 0 ? 0 : p.behind_ms;
      out.push_back(std::move(lag));
    }
    return out;
  }

  // Per shard: the next sequence number to read, where a bounded read ends, finished.
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_position(int64_t) override {
    std::string out = "stream-positions 1\n";
    for (const auto& s : shards_) {
      out +=
          fmt::format("{} {} {} {}\n", s.id.value, s.next.value, s.end.value, s.finished ? 1 : 0);
    }
    return arrow::Buffer::FromString(std::move(out));
  }

  arrow::Result<exec::SourceChunk> next(int64_t timeout_ms) override {
    exec::SourceChunk chunk;
    const size_t n = shards_.size();
    int64_t paced_wait_ms = -1;  // shards skipped for 'flink.shard.getrecords.intervalmillis'
    for (size_t attempt = 0; attempt < n; ++attempt) {
      Shard& s = shards_[(cursor_ + attempt) % n];
      if (s.finished) continue;
      if (pacing_.interval_ms > 0) {
        const int64_t wait = s.last_read_ms + pacing_.interval_ms - now_micros() / 1000;
        if (wait > 0) {
          paced_wait_ms = paced_wait_ms < 0 ? wait : std::min(paced_wait_ms, wait);
          continue;
        }
        s.last_read_ms = now_micros() / 1000;
      }
      int max_records = pacing_.max_records;
      if (bounded_) {
        if (s.next >= s.end) {
          s.finished = true;
          continue;
        }
        max_records = int(std::min<uint64_t>(max_records, s.end.value - s.next.value));
      }
      ARROW_ASSIGN_OR_RAISE(auto read,
                            log_->read_views(table_.stream, s.id, s.next, max_records, kReadBytes));
      if (read.records.empty()) {
        if (read.end_of_closed_shard) s.finished = true;
        continue;
      }
      s.next = read.next;
      publish_position((cursor_ + attempt) % n, read.millis_behind_latest);
      cursor_ = (cursor_ + attempt + 1) % n;
      ARROW_ASSIGN_OR_RAISE(chunk.batch, decode(read));
      chunk.split = int((cursor_ + n - 1) % n);  // one batch = one shard: per-shard watermarks
      return chunk;
    }
    bool all_finished = true;
    for (const auto& s : shards_) all_finished &= s.finished;
    if (all_finished && (bounded_ || !shards_.empty())) {
      // A bounded read is done; an unbounded one ends only when every shard closed for good.
      if (bounded_) {
        chunk.end_of_input = true;
        return chunk;
      }
    }
    if (paced_wait_ms >= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(paced_wait_ms, timeout_ms)));
      return chunk;
    }
    // Nothing now: wait until any unfinished shard gets data (bounded by the timeout). One wait
    // for all of them: waiting on one shard at a time delayed records on the others by up to
    // timeout / shards (25 ms per hop with 4 shards).
    waiting_.clear();
    for (const auto& s : shards_) {
      if (!s.finished) waiting_.emplace_back(s.id, s.next);
    }
    if (!waiting_.empty()) {
      ARROW_RETURN_NOT_OK(log_->wait_for_any(table_.stream, waiting_, timeout_ms));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(timeout_ms, 50)));
    }
    return chunk;
  }

  exec::SourceMetrics metrics() const override { return {read_, rejected_}; }

 private:
  struct Shard {
    log::ShardId id;
    log::SequenceNumber next;
    log::SequenceNumber end;  // bounded reads stop here
    bool finished = false;
    int64_t last_read_ms = 0;  // for ReadPacing::interval_ms
  };

  // What lag() needs of a shard, copied under lag_mutex_ after every read (once per batch).
  struct LagPoint {
    log::ShardId id;
    log::SequenceNumber next;
    log::SequenceNumber end;
    int64_t behind_ms = -1;  // the last read's MillisBehindLatest; -1 before the first read
  };

  void publish_position(size_t shard, int64_t behind_ms) {
    std::lock_guard lock(lag_mutex_);
    if (shard >= lag_points_.size()) return;
    lag_points_[shard].next = shards_[shard].next;
    lag_points_[shard].behind_ms = behind_ms;
  }

  arrow::Result<std::map<int32_t, Shard>> parse_positions(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    if (!std::getline(in, line) || line != "stream-positions 1") {
      return arrow::Status::Invalid(name(), ": checkpoint holds no stream positions");
    }
    std::map<int32_t, Shard> out;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      std::istringstream fields(line);
      Shard s;
      int finished = 0;
      if (!(fields >> s.id.value >> s.next.value >> s.end.value >> finished)) {
        return arrow::Status::Invalid(name(), ": malformed checkpoint position '", line, "'");
      }
      s.finished = finished != 0;
      out[s.id.value] = s;
    }
    return out;
  }

  // The records are views into the log's mapped segments: the decoder copies what it keeps.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> decode(const log::ReadViewsResult& read) {
    const auto& records = read.records;
    views_.clear();
    for (const auto& r : records) views_.push_back(r.data);
    ARROW_ASSIGN_OR_RAISE(auto decoded, decoder_->decode(views_));
    read_ += decoded.batch->num_rows();
    rejected_ += int64_t(records.size()) - decoded.batch->num_rows();
    if (!decoded.errors.empty()) ARROW_RETURN_NOT_OK(dead_letter(read, decoded.errors));
    return decoded.batch;
  }

  // Bad records go to `<stream>.dlq` with the reason, so the job keeps running and nothing is lost.
  arrow::Status dead_letter(const log::ReadViewsResult& read,
                            const std::vector<exec::RecordError>& errors) {
    const auto& records = read.records;
    const std::string dlq = log::dead_letter_stream_name(table_.stream);
    if (!dlq_ready_) {
      if (!log_->describe_stream(dlq).ok()) {
        auto st = log_->create_stream(dlq, 1);
        if (!st.ok() && !log_->describe_stream(dlq).ok()) return st;
      }
      dlq_ready_ = true;
    }
    std::vector<std::string> bodies;
    std::vector<log::AppendRecord> appends;
    bodies.reserve(errors.size());
    for (const auto& e : errors) {
      const auto& r = records[size_t(e.index)];
      std::string body = R"({"stream":)";
      append_json_string(table_.stream, body);
      body += fmt::format(R"(,"shard":"{}","sequence":"{}","partition_key":)",
                          read.shard.to_string(), r.sequence.value);
      append_json_string(r.partition_key, body);
      body += R"(,"reason":)";
      append_json_string(e.reason, body);
      body += R"(,"data":)";
      append_json_string(r.data, body);
      body += '}';
      bodies.push_back(std::move(body));
      if (warned_ < 5) {
        spdlog::warn("{}: record {} of {} rejected ({}) -> {}", name(), r.sequence.value,
                     read.shard.to_string(), e.reason, dlq);
        ++warned_;
      }
    }
    for (size_t i = 0; i < bodies.size(); ++i) {
      appends.push_back({records[size_t(errors[i].index)].partition_key, bodies[i], std::nullopt});
    }
    return log_->append(dlq, appends).status();
  }

  std::vector<std::pair<log::ShardId, log::SequenceNumber>> waiting_;
  std::string connector_;
  StreamTableOptions table_;
  log::StartPosition start_;
  bool bounded_;
  ReadPacing pacing_;
  std::unique_ptr<RecordDecoder> decoder_;
  std::shared_ptr<log::LogStore> log_;
  std::vector<Shard> shards_;
  size_t cursor_ = 0;
  mutable std::mutex lag_mutex_;
  std::vector<LagPoint> lag_points_;
  std::vector<std::string_view> views_;
  int64_t read_ = 0;
  int64_t rejected_ = 0;
  bool dlq_ready_ = false;
  int warned_ = 0;
};

class StreamSink final : public exec::Sink {
 public:
  StreamSink(std::string connector, StreamTableOptions table, std::vector<int> key_columns,
             std::string key_delimiter, std::unique_ptr<RecordEncoder> encoder,
             std::shared_ptr<log::LogStore> log)
      : connector_(std::move(connector)),
        table_(std::move(table)),
        key_columns_(std::move(key_columns)),
        key_delimiter_(std::move(key_delimiter)),
        encoder_(std::move(encoder)),
        log_(std::move(log)) {}

  std::string name() const override { return connector_ + ":" + table_.stream; }

  arrow::Status open(const exec::OperatorContext& context) override {
    ARROW_RETURN_NOT_OK(ensure_stream(*log_, table_));
    if (context.restored_state) {
      ARROW_RETURN_NOT_OK(load_written_after(context.restored_state->ToString()));
      if (unmatched_ > 0) {
        spdlog::info(
            "{}: {} record(s) were appended after checkpoint {}; the replay skips them instead of "
            "writing them again",
            name(), unmatched_, context.restored_checkpoint_id);
      }
    }
    return arrow::Status::OK();
  }

  // Records are appended at once (the alerting path reads this stream with low latency), so
  // there is nothing to prepare or commit: the checkpoint keeps each shard's end instead, and a
  // restore deduplicates the replay against what was appended after it (see open()).
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t) override {
    ARROW_ASSIGN_OR_RAISE(auto description, log_->describe_stream(table_.stream));
    std::string out = "stream-ends 1\n";
    for (const auto& shard : description.shards) {
      const auto end = shard.ending_sequence ? *shard.ending_sequence : shard.next_sequence;
      out += fmt::format("{} {}\n", shard.id.value, end.value);
    }
    return arrow::Buffer::FromString(std::move(out));
  }

  arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    const int64_t rows = batch->num_rows();
    for (int64_t start = 0; start < rows; start += int64_t(kAppendChunk)) {
      const int64_t end = std::min<int64_t>(rows, start + int64_t(kAppendChunk));
      bodies_.assign(size_t(end - start), std::string());
      keys_.assign(size_t(end - start), std::string());
      appends_.clear();
      for (int64_t r = start; r < end; ++r) {
        encoder_->encode_row(*batch, r, &bodies_[size_t(r - start)]);
        partition_key(*batch, r, &keys_[size_t(r - start)]);
      }
      for (size_t i = 0; i < bodies_.size(); ++i) {
        if (unmatched_ > 0 && already_written(bodies_[i])) continue;
        appends_.push_back({keys_[i], bodies_[i], std::nullopt});
      }
      if (appends_.empty()) {
        written_ += end - start;
        continue;
      }
      auto st = log_->append(table_.stream, appends_).status();
      if (!st.ok())
        return st.WithMessage("appending to stream '", table_.stream, "': ", st.message());
      written_ += end - start;
    }
    return arrow::Status::OK();
  }

  int64_t rows_written() const override { return written_; }

 private:
  // Exactly-once on restore. The checkpoint holds each shard's end as of the barrier; whatever
  // sits beyond it was appended by this sink between that checkpoint and the crash, from input
  // the job now reads again. Those records (by content: the replay re-creates them byte for
  // byte, though perhaps in another interleaving of the input shards) are kept as a multiset of
  // 128-bit hashes; each output the replay produces that matches one is dropped instead of
  // appended, until every one is matched.
  using RecordHash = std::pair<uint64_t, uint64_t>;
  struct RecordHashHasher {
    size_t operator()(const RecordHash& h) const { return size_t(h.first ^ (h.second << 1)); }
  };

  static RecordHash hash_record(std::string_view data) {
    uint64_t fnv = 1469598103934665603ULL;
    for (unsigned char c : data) fnv = (fnv ^ c) * 1099511628211ULL;
    return {std::hash<std::string_view>{}(data), fnv};
  }

  bool already_written(std::string_view data) {
    auto it = written_after_.find(hash_record(data));
    if (it == written_after_.end()) return false;
    if (--it->second == 0) written_after_.erase(it);
    if (--unmatched_ == 0) {
      spdlog::info("{}: the replay caught up with what was written before the restart", name());
      written_after_ = {};
    }
    return true;
  }

  arrow::Status load_written_after(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    if (!std::getline(in, line) || line != "stream-ends 1") {
      return arrow::Status::Invalid(name(), ": checkpoint holds no stream positions");
    }
    std::map<int32_t, uint64_t> ends;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      std::istringstream fields(line);
      int32_t shard = 0;
      uint64_t end = 0;
      if (!(fields >> shard >> end)) {
        return arrow::Status::Invalid(name(), ": malformed checkpoint position '", line, "'");
      }
      ends[shard] = end;
    }
    ARROW_ASSIGN_OR_RAISE(auto description, log_->describe_stream(table_.stream));
    for (const auto& shard : description.shards) {
      const auto stop = shard.ending_sequence ? *shard.ending_sequence : shard.next_sequence;
      log::SequenceNumber from = shard.starting_sequence;
      if (auto it = ends.find(shard.id.value); it != ends.end()) from.value = it->second;
      while (from < stop) {
        ARROW_ASSIGN_OR_RAISE(
            auto read, log_->read_views(table_.stream, shard.id, from, kReadRecords, kReadBytes));
        if (read.records.empty()) break;
        for (const auto& r : read.records) {
          if (r.sequence >= stop) break;
          ++written_after_[hash_record(r.data)];
          ++unmatched_;
        }
        from = read.next;
      }
    }
    return arrow::Status::OK();
  }

  void partition_key(const arrow::RecordBatch& batch, int64_t row, std::string* out) {
    stream_partition_key(batch, row, key_columns_, key_delimiter_, &round_robin_, out);
  }

  std::string connector_;
  StreamTableOptions table_;
  std::vector<int> key_columns_;
  std::string key_delimiter_;
  std::unique_ptr<RecordEncoder> encoder_;
  std::shared_ptr<log::LogStore> log_;
  std::vector<std::string> bodies_;
  std::vector<std::string> keys_;
  std::vector<log::AppendRecord> appends_;
  int64_t written_ = 0;
  uint64_t round_robin_ = 0;
  std::unordered_map<RecordHash, int64_t, RecordHashHasher> written_after_;
  int64_t unmatched_ = 0;  // records in written_after_
};

arrow::Result<log::StartPosition> start_position(OptionReader& reader) {
  log::StartPosition start;
  const std::string initpos = reader.get_or("scan.stream.initpos", "LATEST");
  if (initpos == "TRIM_HORIZON") {
    start.kind = log::StartKind::kTrimHorizon;
  } else if (initpos == "LATEST") {
    start.kind = log::StartKind::kLatest;
  } else if (initpos == "AT_TIMESTAMP") {
    start.kind = log::StartKind::kAtTimestamp;
    ARROW_ASSIGN_OR_RAISE(std::string ts, reader.require("scan.stream.initpos-timestamp"));
    const std::string format = reader.get_or("scan.stream.initpos-timestamp-format", "");
    double seconds = 0;
    if (exec::parse_double_text(ts, &seconds)) {
      start.timestamp_ms = int64_t(std::llround(seconds * 1000));
    } else {
      int64_t micros = 0;
      if (!exec::parse_timestamp_text(ts, arrow::TimeUnit::MICRO, &micros)) {
        return arrow::Status::Invalid(
            "option 'scan.stream.initpos-timestamp' must be epoch seconds or an ISO-8601 "
            "timestamp, got '",
            ts, "'");
      }
      start.timestamp_ms = micros / 1000;
    }
  } else {
    return arrow::Status::Invalid(
        "option 'scan.stream.initpos' must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, got '", initpos,
        "'");
  }
  return start;
}

ConnectorEntry make_entry(const std::string& name, bool kinesis) {
  ConnectorEntry entry;
  entry.name = name;
  entry.make_source = [name, kinesis](
                          const exec::SourceSpec& spec,
                          ConnectContext& context) -> arrow::Result<std::unique_ptr<exec::Source>> {
    OptionReader reader(name, spec.options);
    ARROW_ASSIGN_OR_RAISE(auto table, stream_options(reader, kinesis));
    ARROW_ASSIGN_OR_RAISE(auto start, start_position(reader));
    ReadPacing pacing;
    if (kinesis) {
      ARROW_ASSIGN_OR_RAISE(pacing, read_pacing(reader));
    }
    const std::string endpos = reader.get_or("scan.stream.endpos", "NONE");
    if (endpos != "NONE" && endpos != "LATEST") {
      return arrow::Status::Invalid("option 'scan.stream.endpos' must be NONE or LATEST, got '",
                                    endpos, "'");
    }
    reader.get("sink.partitioner-field-delimiter");
    reader.get("sink.fail-on-error");
    reader.allow_prefix("sink.");
    ARROW_ASSIGN_OR_RAISE(auto decoder, make_decoder(reader, spec));
    ARROW_RETURN_NOT_OK(reader.check_unknown());
    ARROW_ASSIGN_OR_RAISE(auto kafka_backend, kafka_streams_backend(spec.session));
    if (kafka_backend) {
      return make_kafka_stream_source(
          name,
          {table.stream, table.create_if_missing, table.shards, spec.table->name, spec.session},
          start, endpos == "LATEST", std::move(decoder), std::move(*kafka_backend));
    }
    ARROW_ASSIGN_OR_RAISE(auto log, context.log());
    return std::make_unique<StreamSource>(name, std::move(table), start, endpos == "LATEST", pacing,
                                          std::move(decoder), std::move(log));
  };
  entry.make_sink = [name, kinesis](
                        const exec::SinkSpec& spec,
                        ConnectContext& context) -> arrow::Result<std::unique_ptr<exec::Sink>> {
    OptionReader reader(name, spec.options);
    ARROW_ASSIGN_OR_RAISE(auto table, stream_options(reader, kinesis));
    const std::string delimiter = reader.get_or("sink.partitioner-field-delimiter", "|");
    // At-least-once or exactly-once (Kafka transactions) on the Kafka backend; the table option
    // wins over the session's default. The embedded log's sink is exactly-once on restore anyway.
    KafkaStreamDelivery delivery;
    if (auto it = spec.session.find(kStreamsSinkGuaranteeKey); it != spec.session.end()) {
      delivery.guarantee = it->second;
    }
    const bool own_guarantee = spec.options.count("sink.delivery-guarantee") > 0;
    delivery.guarantee = reader.get_or("sink.delivery-guarantee", delivery.guarantee);
    if (delivery.guarantee != "at-least-once" && delivery.guarantee != "exactly-once") {
      return arrow::Status::Invalid(
          own_guarantee ? std::string("option 'sink.delivery-guarantee'")
                        : "session option '" + std::string(kStreamsSinkGuaranteeKey) + "'",
          " must be at-least-once or exactly-once, got '", delivery.guarantee, "'");
    }
    delivery.transactional_id_prefix = reader.get_or("sink.transactional-id-prefix", "");
    reader.allow_prefix("sink.");
    reader.allow_prefix("scan.");
    ARROW_ASSIGN_OR_RAISE(auto encoder, make_encoder(reader, spec.schema));
    ARROW_RETURN_NOT_OK(reader.check_unknown());
    std::vector<int> key_columns;
    for (const auto& key : spec.table->partition_keys) {
      const int index = spec.schema->GetFieldIndex(key);
      if (index < 0) {
        return arrow::Status::Invalid("PARTITIONED BY column '", key, "' is not a column of ",
                                      spec.table->name);
      }
      key_columns.push_back(index);
    }
    ARROW_ASSIGN_OR_RAISE(auto kafka_backend, kafka_streams_backend(spec.session));
    if (kafka_backend) {
      return make_kafka_stream_sink(
          name,
          {table.stream, table.create_if_missing, table.shards, spec.table->name, spec.session},
          std::move(key_columns), delimiter, std::move(encoder), std::move(*kafka_backend),
          std::move(delivery));
    }
    ARROW_ASSIGN_OR_RAISE(auto log, context.log());
    return std::make_unique<StreamSink>(name, std::move(table), std::move(key_columns), delimiter,
                                        std::move(encoder), std::move(log));
  };
  return entry;
}

}  // namespace

// Flink's Kinesis partitioner: the PARTITIONED BY values joined by the delimiter.
void stream_partition_key(const arrow::RecordBatch& batch, int64_t row,
                          const std::vector<int>& key_columns, const std::string& delimiter,
                          uint64_t* round_robin, std::string* out) {
  if (key_columns.empty()) {
    *out = std::to_string((*round_robin)++);
    return;
  }
  for (size_t k = 0; k < key_columns.size(); ++k) {
    if (k) out->append(delimiter);
    const auto& array = *batch.column(key_columns[k]);
    if (array.IsNull(row)) {
      out->append("null");
      continue;
    }
    if (array.type_id() == arrow::Type::STRING) {
      out->append(static_cast<const arrow::StringArray&>(array).GetView(row));
    } else if (array.type_id() == arrow::Type::INT64) {
      out->append(std::to_string(static_cast<const arrow::Int64Array&>(array).Value(row)));
    } else {
      auto scalar = array.GetScalar(row);
      out->append(scalar.ok() ? (*scalar)->ToString() : "null");
    }
  }
  if (out->empty()) out->assign("-");  // Kinesis rejects empty partition keys
}

ConnectorEntry stream_connector() { return make_entry("stream", false); }
ConnectorEntry kinesis_connector() { return make_entry("kinesis", true); }

}  // namespace roadpulse::connect
