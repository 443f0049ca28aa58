// `kafka`: tables on Apache Kafka topics with Flink's Kafka SQL connector options, and the Kafka
// streams backend of `stream`/`kinesis` tables (session `streams.backend` = 'kafka').
//
// Source: assigns every partition of the topic(s) (no group rebalancing), starting where
// 'scan.startup.mode' says, and emits one batch per partition (SourceChunk::split = the
// partition's index) so watermarks can be tracked per partition. 'scan.bounded.mode' =
// 'latest-offset' or 'timestamp' ends the read at the offsets resolved when the job starts.
// Records the format cannot decode go to the dead-letter topic `<topic>.dlq` with the reason (as
// the stream connector does), unless the format ignores parse errors. With 'properties.group.id'
// the read offsets are committed to the group when a checkpoint completes (the group's offsets
// are what 'scan.startup.mode' = 'group-offsets' starts from).
// Sink: encodes rows with the format and produces them with an optional key ('key.fields' in
// 'key.format' raw or json); 'sink.partitioner' picks the partition; 'sink.delivery-guarantee'
// says what a checkpoint or the end of the job guarantees: none (nothing is awaited until close),
// at-least-once (prepare_commit waits for every record's acknowledgement) or exactly-once (one
// Kafka transaction per checkpoint, committed in commit(); read_committed consumers see nothing
// of an aborted or unfinished one).

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <regex>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/json_text.h"
#include "connect/connectors.h"
#include "connect/kafka_client.h"
#include "exec/checkpoint_store.h"

namespace roadpulse::connect {

namespace {

constexpr int kReadRecords = 4096;
constexpr int kTransactionTimeoutMs = 60000;
constexpr int kFlushTimeoutMs = 60000;

enum class StartupMode { kEarliest, kLatest, kGroupOffsets, kTimestamp, kSpecificOffsets };
enum class BoundedMode { kUnbounded, kLatest, kTimestamp };
enum class Partitioner { kDefault, kFixed, kRoundRobin, kHashKey };
enum class Guarantee { kNone, kAtLeastOnce, kExactlyOnce };
enum class KeyMode { kNone, kRaw, kJson, kStreamKey };

struct KafkaSourceOptions {
  std::string connector;  // "kafka", or "stream"/"kinesis" on the Kafka streams backend
  std::vector<std::string> topics;
  std::string topic_pattern;
  kafka::Properties properties;
  std::string where = "properties.";  // how properties are named in error messages
  StartupMode startup = StartupMode::kGroupOffsets;
  int64_t startup_timestamp_ms = 0;
  std::map<int, int64_t> specific_offsets;
  BoundedMode bounded = BoundedMode::kUnbounded;
  int64_t bounded_timestamp_ms = 0;
  bool create_if_missing = false;
  int create_partitions = 1;
  /// 'scan.partition-assignment' = 'group': the consumer group divides the partitions among the
  /// jobs subscribed with the same 'properties.group.id' (workers sharing a stream).
  bool group_assignment = false;
  /// `roadpulse run --worker --group NAME` (session key 'worker.group'): the source joins the
  /// consumer group `<NAME>.<job>.<table>`, so the same job in every worker of NAME shares the
  /// partitions while different jobs (or tables) of one worker each read all of theirs.
  std::string worker_group;
  std::string table;
  /// Session key 'worker.partition' (a keyed stage of a job shared by workers, one job per
  /// partition): read only this partition, positions from the job's checkpoints; -1: all.
  int only_partition = -1;
  /// The job's checkpoint interval (session 'execution.checkpointing.interval'; 0: none). With
  /// group assignment and checkpoints, a revoked partition is handed back only once a
  /// checkpoint covering everything read from it has completed (its offsets committed).
  int64_t checkpoint_interval_ms = 0;
};

std::string session_value(const std::map<std::string, std::string>& session, const char* key) {
  auto it = session.find(key);
  return it == session.end() ? std::string() : it->second;
}

int64_t checkpoint_interval_ms(const std::map<std::string, std::string>& session) {
  const std::string text = session_value(session, "execution.checkpointing.interval");
  if (text.empty()) return 0;
  auto ms = exec::parse_checkpoint_duration_ms("execution.checkpointing.interval", text);
  return ms.ok() ? *ms : 0;
}

// Worker mode for an unbounded source whose table does not choose its assignment itself.
void apply_worker_mode(KafkaSourceOptions& o, const std::map<std::string, std::string>& session,
                       const std::string& table) {
  if (const std::string only = session_value(session, kWorkerPartitionKey); !only.empty()) {
    o.only_partition = std::atoi(only.c_str());
    return;
  }
  const std::string group = session_value(session, kWorkerGroupKey);
  if (group.empty() || o.bounded != BoundedMode::kUnbounded) return;
  o.group_assignment = true;
  o.worker_group = group;
  o.table = table;
}

struct KafkaSinkOptions {
  std::string connector;
  std::string topic;
  kafka::Properties properties;
  std::string where = "properties.";
  Partitioner partitioner = Partitioner::kDefault;
  Guarantee guarantee = Guarantee::kAtLeastOnce;
  std::string transactional_id_prefix;
  // A stream table's exactly-once sink without 'sink.transactional-id-prefix': the prefix is
  // derived in open() from the job's name and the topic, plus `-<worker id>` under run --worker;
  // a job without 'pipeline.name' (it cannot resume) gets a unique one, not fencing a namesake.
  bool derive_transactional_id = false;
  bool resumable = true;
  std::string worker_id;
  KeyMode key_mode = KeyMode::kNone;
  std::vector<int> key_columns;
  std::string key_delimiter = "|";
  std::unique_ptr<RecordEncoder> key_encoder;  // key.format = json
  bool create_if_missing = false;
  int create_partitions = 1;
  // `upsert-kafka`: takes a changelog; +I/+U rows are written as the key's latest value, -D as
  // a tombstone (the key with a null value), -U rows are skipped (the next +U replaces them).
  bool upsert = false;
};

// A topic that must exist (or is created when allowed); returns its partition count.
arrow::Result<int> ensure_topic(kafka::Admin& admin, const std::string& topic, bool create,
                                int partitions, const std::string& connector) {
  ARROW_ASSIGN_OR_RAISE(auto count, admin.partition_count(topic));
  if (count) return *count;
  if (!create) {
    return arrow::Status::Invalid(
        connector == "kafka" ? "Kafka topic '" : "stream '", topic,
        "' does not exist on the Kafka cluster; create it with `roadpulse stream create --kafka "
        "BOOTSTRAP ",
        topic, " --shards N`");
  }
  ARROW_RETURN_NOT_OK(admin.create_topic(topic, partitions));
  spdlog::info("created Kafka topic {} with {} partition(s)", topic, partitions);
  return partitions;
}

// ---------------------------------------------------------------------------------------------
// Source

// A source position from a checkpoint: "topic<TAB>partition<TAB>offset" lines.
arrow::Result<std::map<std::pair<std::string, int>, int64_t>> parse_position(
    const std::string& text) {
  std::map<std::pair<std::string, int>, int64_t> out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    const size_t a = line.find('\t');
    const size_t b = a == std::string::npos ? a : line.find('\t', a + 1);
    if (b == std::string::npos) {
      return arrow::Status::Invalid("kafka source position: bad line '", line, "'");
    }
    try {
      out[{line.substr(0, a), std::stoi(line.substr(a + 1, b - a - 1))}] =
          std::stoll(line.substr(b + 1));
    } catch (const std::exception&) {
      return arrow::Status::Invalid("kafka source position: bad line '", line, "'");
    }
  }
  return out;
}

class KafkaSource;

// Exactly-once across workers: the group-assigned sources of a job whose exactly-once sink
// commits their offsets inside its transactions (rd_kafka_send_offsets_to_transaction), so the
// records a transaction wrote and the input offsets after them become visible together, and a
// worker taking a partition over starts exactly after the last committed transaction. Sinks
// open before sources (Job::run), so a sink announces itself first and the sources of the same
// job then leave committing to it. Keyed by job name.
class TransactionalOffsets {
 public:
  static TransactionalOffsets& instance() {
    static TransactionalOffsets registry;
    return registry;
  }
  void add_sink(const std::string& job, const void* sink) {
    std::lock_guard lock(mutex_);
    auto& e = jobs_[job];
    if (e.sink == nullptr) e.sink = sink;
  }
  void remove_sink(const std::string& job, const void* sink) {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(job);
    if (it != jobs_.end() && it->second.sink == sink) it->second.sink = nullptr;
    prune(it);
  }
  /// Whether an exactly-once sink of `job` commits the offsets; registers the source.
  bool add_source(const std::string& job, KafkaSource* source) {
    std::lock_guard lock(mutex_);
    auto& e = jobs_[job];
    e.sources.insert(source);
    return e.sink != nullptr;
  }
  void remove_source(const std::string& job, KafkaSource* source) {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(job);
    if (it != jobs_.end()) it->second.sources.erase(source);
    prune(it);
  }
  /// The sources whose offsets `sink` carries (empty unless it is the job's first such sink).
  std::vector<KafkaSource*> sources_for(const std::string& job, const void* sink) {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(job);
    if (it == jobs_.end() || it->second.sink != sink) return {};
    return {it->second.sources.begin(), it->second.sources.end()};
  }

 private:
  struct Entry {
    const void* sink = nullptr;
    std::set<KafkaSource*> sources;
  };
  void prune(std::map<std::string, Entry>::iterator it) {
    if (it != jobs_.end() && it->second.sink == nullptr && it->second.sources.empty()) {
      jobs_.erase(it);
    }
  }
  std::mutex mutex_;
  std::map<std::string, Entry> jobs_;
};

class KafkaSource final : public exec::Source {
 public:
  KafkaSource(KafkaSourceOptions options, std::unique_ptr<RecordDecoder> decoder)
      : options_(std::move(options)), decoder_(std::move(decoder)) {}

  ~KafkaSource() override { (void)close(); }

  std::string name() const override {
    return options_.connector + ":" +
           (options_.topic_pattern.empty() ? fmt::format("{}", fmt::join(options_.topics, ";"))
                                           : options_.topic_pattern);
  }
  bool bounded() const override { return options_.bounded != BoundedMode::kUnbounded; }

  arrow::Status open(const exec::OperatorContext& context) override {
    // Resuming from a checkpoint: its positions win over 'scan.startup.mode'.
    std::map<std::pair<std::string, int>, int64_t> restored;
    if (context.restored_state) {
      ARROW_ASSIGN_OR_RAISE(restored, parse_position(context.restored_state->ToString()));
    }
    kafka::Properties props = options_.properties;
    props["enable.auto.commit"] = "false";
    props["enable.auto.offset.store"] = "false";
    props["enable.partition.eof"] = "true";
    if (!props.count("client.id")) props["client.id"] = "roadpulse-" + name();
    if (!options_.worker_group.empty()) {
      props["group.id"] =
          fmt::format("{}.{}.{}", options_.worker_group, context.job_name, options_.table);
      // A partition the group never committed starts where 'scan.startup.mode' (or the stream
      // table's 'scan.stream.initpos') says: start_offsets() resolves it before assignment.
    }
    group_ = props.count("group.id") > 0;
    // librdkafka's consumer needs a group even for manual assignment; offsets are committed to
    // it only when the table names one.
    if (!group_) props["group.id"] = "roadpulse-" + name();
    ARROW_ASSIGN_OR_RAISE(rd_kafka_conf_t * conf, kafka::make_conf(props, options_.where));
    if (options_.group_assignment) {
      rd_kafka_conf_set_opaque(conf, this);
      rd_kafka_conf_set_rebalance_cb(conf, &KafkaSource::on_rebalance);
      // The group's committed offsets are the positions here: a checkpoint's may be stale once
      // another worker has read the partition.
      restored.clear();
    }
    ARROW_ASSIGN_OR_RAISE(consumer_, kafka::make_handle(RD_KAFKA_CONSUMER, conf));
    kafka::Admin admin(consumer_.get());
    if (options_.group_assignment) {
      job_ = context.job_name;
      registered_ = true;
      offsets_in_transaction_ = TransactionalOffsets::instance().add_source(job_, this);
    }

    std::vector<std::string> topics = options_.topics;
    if (!options_.topic_pattern.empty()) {
      std::regex pattern;
      try {
        pattern = std::regex(options_.topic_pattern);
      } catch (const std::regex_error& e) {
        return arrow::Status::Invalid("option 'topic-pattern': not a regular expression: ",
                                      e.what());
      }
      ARROW_ASSIGN_OR_RAISE(auto all, admin.list_topics());
      for (const auto& t : all) {
        if (std::regex_match(t, pattern)) topics.push_back(t);
      }
      if (topics.empty()) {
        return arrow::Status::Invalid("option 'topic-pattern': no Kafka topic matches '",
                                      options_.topic_pattern, "'");
      }
    }

    kafka::TopicPartitionList assignment(rd_kafka_topic_partition_list_new(16));
    for (const auto& topic : topics) {
      ARROW_ASSIGN_OR_RAISE(int partitions,
                            ensure_topic(admin, topic, options_.create_if_missing,
                                         options_.create_partitions, options_.connector));
      ARROW_ASSIGN_OR_RAISE(auto starts, start_offsets(admin, topic, partitions));
      std::vector<int64_t> ends(size_t(partitions), INT64_MAX);
      if (options_.bounded == BoundedMode::kLatest) {
        for (int p = 0; p < partitions; ++p) {
          ARROW_ASSIGN_OR_RAISE(auto w, admin.watermarks(topic, p));
          ends[size_t(p)] = w.high;
        }
      } else if (options_.bounded == BoundedMode::kTimestamp) {
        ARROW_ASSIGN_OR_RAISE(
            ends, admin.offsets_for_time(topic, partitions, options_.bounded_timestamp_ms));
      }
      auto& index = index_[topic];
      for (int p = 0; p < partitions; ++p) {
        Partition part;
        part.topic = topic;
        part.partition = p;
        part.next = starts[size_t(p)];
        if (auto r = restored.find({topic, p}); r != restored.end()) part.next = r->second;
        part.returned = part.next;
        part.end = ends[size_t(p)];
        part.split = int(parts_.size());
        // A bounded read of an empty range is done before it starts.
        part.finished = bounded() && part.next >= 0 && part.next >= part.end;
        index.push_back(part.split);
        if (!part.finished && (options_.only_partition < 0 || p == options_.only_partition)) {
          rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), p)->offset = part.next;
        }
        parts_.push_back(std::move(part));
      }
    }
    queue_.reset(rd_kafka_queue_get_consumer(consumer_.get()));
    batch_.assign(kReadRecords, nullptr);
    if (options_.group_assignment) {
      kafka::TopicPartitionList subscription(rd_kafka_topic_partition_list_new(int(topics.size())));
      for (const auto& topic : topics) {
        rd_kafka_topic_partition_list_add(subscription.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
      }
      const auto err = rd_kafka_subscribe(consumer_.get(), subscription.get());
      if (err) return kafka::error_status(err, "subscribing " + name() + " to its group");
      return arrow::Status::OK();
    }
    for (auto& p : parts_) {
      p.assigned = options_.only_partition < 0 || p.partition == options_.only_partition;
    }
    if (options_.only_partition >= 0 && assignment->cnt == 0) {
      return arrow::Status::Invalid(name(), ": no partition ", options_.only_partition);
    }
    const auto err = rd_kafka_assign(consumer_.get(), assignment.get());
    if (err) return kafka::error_status(err, "assigning the partitions of " + name());
    publish_positions();
    return arrow::Status::OK();
  }

  arrow::Result<exec::SourceChunk> next(int64_t timeout_ms) override {
    exec::SourceChunk chunk;
    if (revoking_ && std::chrono::steady_clock::now() > revoke_deadline_) {
      spdlog::warn(
          "{}: no checkpoint completed within {} ms of the group's revocation: handing "
          "the partitions back without committing what was read since the last one",
          name(), revoke_wait_ms(options_.checkpoint_interval_ms));
      ARROW_RETURN_NOT_OK(finish_revoke());
    }
    if (ready_.empty()) ARROW_RETURN_NOT_OK(poll(timeout_ms));
    if (!ready_.empty()) {
      chunk = std::move(ready_.front());
      ready_.pop_front();
      Partition& p = parts_[size_t(chunk.split)];
      p.returned = ready_ends_.front();
      ready_ends_.pop_front();
      publish_positions();
      return chunk;
    }
    publish_positions();  // a rebalance may have moved partitions
    if (bounded() && all_finished()) chunk.end_of_input = true;
    return chunk;
  }

  // The high watermark librdkafka cached from its last fetch response (no request), minus the
  // offset after everything next() returned, for the partitions this job reads. Kafka keeps no
  // append time per offset that could be read this cheaply, so milliseconds stay unknown.
  std::vector<exec::SplitLag> lag() const override {
    std::lock_guard lock(lag_mutex_);
    std::vector<exec::SplitLag> out;
    // Published only once consumer_ is set, and closed before it is reset.
    if (lag_closed_ || lag_points_.empty()) return out;
    for (const auto& p : lag_points_) {
      if (!p.assigned || p.returned < 0) continue;
      int64_t low = 0, high = 0;
      if (rd_kafka_get_watermark_offsets(consumer_.get(), p.topic.c_str(), p.partition, &low,
                                         &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
          high < 0) {
        continue;  // nothing fetched from this partition yet
      }
      const int64_t end = std::min(high, p.end);
      out.push_back(
          {fmt::format("{}/{}", p.topic, p.partition), std::max<int64_t>(0, end - p.returned), -1});
    }
    return out;
  }

  /// The position after everything next() returned: "topic<TAB>partition<TAB>offset" lines.
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_position(int64_t checkpoint_id) override {
    std::string text;
    std::vector<int64_t> offsets;
    for (const auto& p : parts_) {
      text += fmt::format("{}\t{}\t{}\n", p.topic, p.partition, p.returned);
      offsets.push_back(p.returned);
    }
    snapshots_[checkpoint_id] = std::move(offsets);
    // The first checkpoint cut after a revocation holds every offset read from the revoked
    // partitions: once it completes, they can be handed back.
    if (revoking_ && revoke_checkpoint_ == 0) revoke_checkpoint_ = checkpoint_id;
    return arrow::Buffer::FromString(std::move(text));
  }

  // Commits the checkpoint's positions (or, without one, everything returned) to the group.
  arrow::Status notify_checkpoint_complete(int64_t checkpoint_id) override {
    ARROW_RETURN_NOT_OK(commit_checkpoint(checkpoint_id));
    if (revoking_ && revoke_checkpoint_ > 0 && checkpoint_id >= revoke_checkpoint_) {
      return finish_revoke();
    }
    return arrow::Status::OK();
  }

  arrow::Status commit_checkpoint(int64_t checkpoint_id) {
    std::vector<int64_t> offsets;
    if (auto it = snapshots_.find(checkpoint_id); it != snapshots_.end()) {
      offsets = it->second;
    } else {
      for (const auto& p : parts_) offsets.push_back(p.returned);
    }
    snapshots_.erase(snapshots_.begin(), snapshots_.upper_bound(checkpoint_id));
    if (offsets_in_transaction_) {
      // The sink's transaction committed them (transaction_offsets()).
      for (size_t i = 0; i < parts_.size(); ++i) {
        if (parts_[i].assigned && offsets[i] >= 0) parts_[i].committed = offsets[i];
      }
      return arrow::Status::OK();
    }
    if (!group_ || !consumer_) return arrow::Status::OK();
    kafka::TopicPartitionList list(rd_kafka_topic_partition_list_new(int(parts_.size())));
    for (size_t i = 0; i < parts_.size(); ++i) {
      // Never a partition the group has given to another worker: it commits its own offsets.
      if (offsets[i] >= 0 && offsets[i] != parts_[i].committed && parts_[i].assigned) {
        rd_kafka_topic_partition_list_add(list.get(), parts_[i].topic.c_str(), parts_[i].partition)
            ->offset = offsets[i];
      }
    }
    if (list->cnt == 0) return arrow::Status::OK();
    const auto err = rd_kafka_commit(consumer_.get(), list.get(), 0);
    if (err) {
      return kafka::error_status(
          err, fmt::format("{}: committing offsets of checkpoint {}", name(), checkpoint_id));
    }
    for (size_t i = 0; i < parts_.size(); ++i) parts_[i].committed = offsets[i];
    return arrow::Status::OK();
  }

  /// For an exactly-once sink of the same job: the offsets of checkpoint `checkpoint_id` (taken
  /// by snapshot_position() in the same cut) of the partitions this worker holds, and the group
  /// metadata that fences a zombie. Called while the source's thread is paused.
  arrow::Status send_offsets(rd_kafka_t* producer, int64_t checkpoint_id) {
    if (!consumer_) return arrow::Status::OK();
    auto it = snapshots_.find(checkpoint_id);
    if (it == snapshots_.end()) return arrow::Status::OK();
    kafka::TopicPartitionList list(rd_kafka_topic_partition_list_new(int(parts_.size())));
    for (size_t i = 0; i < parts_.size(); ++i) {
      if (parts_[i].assigned && it->second[i] >= 0 && it->second[i] != parts_[i].committed) {
        rd_kafka_topic_partition_list_add(list.get(), parts_[i].topic.c_str(), parts_[i].partition)
            ->offset = it->second[i];
      }
    }
    if (list->cnt == 0) return arrow::Status::OK();
    rd_kafka_consumer_group_metadata_t* metadata =
        rd_kafka_consumer_group_metadata(consumer_.get());
    rd_kafka_error_t* error =
        rd_kafka_send_offsets_to_transaction(producer, list.get(), metadata, kFlushTimeoutMs);
    rd_kafka_consumer_group_metadata_destroy(metadata);
    if (error) {
      const std::string message = rd_kafka_error_string(error);
      rd_kafka_error_destroy(error);
      return arrow::Status::IOError(name(), ": sending the offsets of checkpoint ", checkpoint_id,
                                    " to the sink's transaction: ", message);
    }
    return arrow::Status::OK();
  }

  arrow::Status close() override {
    if (registered_) {
      TransactionalOffsets::instance().remove_source(job_, this);
      registered_ = false;
    }
    {
      std::lock_guard lock(lag_mutex_);
      lag_closed_ = true;
    }
    ready_.clear();
    ready_ends_.clear();
    queue_.reset();
    closing_ = true;
    if (consumer_) {
      if (revoking_) (void)finish_revoke();
      rd_kafka_consumer_close(consumer_.get());
      consumer_.reset();
    }
    if (dlq_) {
      rd_kafka_flush(dlq_.get(), kFlushTimeoutMs);
      dlq_.reset();
    }
    return arrow::Status::OK();
  }

  exec::SourceMetrics metrics() const override { return {read_, rejected_}; }

 private:
  struct Partition {
    std::string topic;
    int partition = 0;
    int64_t next = 0;         // next offset to poll
    int64_t returned = 0;     // next offset after everything next() returned (checkpoints)
    int64_t end = INT64_MAX;  // bounded reads stop here
    int64_t committed = -1;
    int split = 0;
    bool finished = false;
    bool assigned = false;  // this job reads it now (always, unless the group assigns)
    bool held = false;      // it was ours until the last revoke (offsets in transactions)
    bool revoking = false;  // revoked by the group, handed back after the next checkpoint
    std::vector<kafka::Message> pending;
  };

  arrow::Result<std::vector<int64_t>> start_offsets(kafka::Admin& admin, const std::string& topic,
                                                    int partitions) {
    std::vector<int64_t> out(size_t(partitions), RD_KAFKA_OFFSET_STORED);
    switch (options_.startup) {
      case StartupMode::kEarliest:
      case StartupMode::kLatest:
        for (int p = 0; p < partitions; ++p) {
          ARROW_ASSIGN_OR_RAISE(auto w, admin.watermarks(topic, p));
          out[size_t(p)] = options_.startup == StartupMode::kEarliest ? w.low : w.high;
        }
        return out;
      case StartupMode::kTimestamp:
        return admin.offsets_for_time(topic, partitions, options_.startup_timestamp_ms);
      case StartupMode::kSpecificOffsets:
        for (const auto& [p, offset] : options_.specific_offsets) {
          if (p >= partitions) {
            return arrow::Status::Invalid("option 'scan.startup.specific-offsets': topic '", topic,
                                          "' has no partition ", p);
          }
          out[size_t(p)] = offset;
        }
        [[fallthrough]];  // partitions not listed start from the group's offsets
      case StartupMode::kGroupOffsets:
        if (group_) {
          kafka::TopicPartitionList list(rd_kafka_topic_partition_list_new(partitions));
          for (int p = 0; p < partitions; ++p) {
            rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
          }
          const auto err =
              rd_kafka_committed(consumer_.get(), list.get(), kafka::kRequestTimeoutMs);
          if (err) return kafka::error_status(err, "reading the group's offsets of " + topic);
          for (int i = 0; i < list->cnt; ++i) {
            const auto& e = list->elems[i];
            if (out[size_t(e.partition)] == RD_KAFKA_OFFSET_STORED && e.offset >= 0) {
              out[size_t(e.partition)] = e.offset;
            }
          }
        }
        // No committed offset: 'auto.offset.reset' (librdkafka's default: latest), resolved here
        // so every position is an offset a checkpoint can record.
        for (int p = 0; p < partitions; ++p) {
          if (out[size_t(p)] != RD_KAFKA_OFFSET_STORED) continue;
          const std::string reset = options_.properties.count("auto.offset.reset")
                                        ? options_.properties.at("auto.offset.reset")
                                        : "latest";
          if (reset == "error") {
            return arrow::Status::Invalid("topic '", topic, "' partition ", p,
                                          " has no committed offset for group '",
                                          options_.properties.at("group.id"),
                                          "' and 'properties.auto.offset.reset' is 'error'");
          }
          ARROW_ASSIGN_OR_RAISE(auto w, admin.watermarks(topic, p));
          out[size_t(p)] =
              (reset == "earliest" || reset == "smallest" || reset == "beginning") ? w.low : w.high;
        }
        return out;
    }
    return out;
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<KafkaSource*>(opaque);
    auto st = self->rebalance(err, partitions);
    if (!st.ok() && self->rebalance_status_.ok()) self->rebalance_status_ = st;
  }

  // The group moved partitions: start newly assigned ones at the group's committed offsets (the
  // last worker's checkpointed position); commit what this job read of revoked ones and forget
  // what it had polled of them but not handed on.
  arrow::Status rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list) {
    std::vector<std::string> names;
    for (int i = 0; i < list->cnt; ++i) {
      names.push_back(fmt::format("{}[{}]", list->elems[i].topic, list->elems[i].partition));
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      // read_committed: offsets a transaction still holds are not stable; a dead worker's open
      // transaction is aborted by the broker after its transaction.timeout.ms.
      auto cerr = rd_kafka_committed(consumer_.get(), list, kafka::kRequestTimeoutMs);
      for (int attempt = 0; cerr == RD_KAFKA_RESP_ERR__TIMED_OUT && attempt < 8; ++attempt) {
        spdlog::info("{}: waiting for the group's stable offsets", name());
        cerr = rd_kafka_committed(consumer_.get(), list, kafka::kRequestTimeoutMs);
      }
      for (int i = 0; i < list->cnt; ++i) {
        auto& e = list->elems[i];
        auto it = index_.find(e.topic);
        if (it == index_.end() || size_t(e.partition) >= it->second.size()) continue;
        Partition& p = parts_[size_t(it->second[size_t(e.partition)])];
        const bool ours = offsets_in_transaction_ && p.held && !cerr &&
                          (e.offset == p.committed || (e.offset < 0 && p.committed < 0));
        if (ours) {
          // Back to us with nobody's commit in between: what we read since our last commit is
          // in our open transaction, so we go on after it (re-reading would write it twice).
          p.next = p.returned;
        } else if (!cerr && e.offset >= 0) {
          p.next = e.offset;
        }
        p.held = false;
        p.returned = p.next;
        if (!ours) p.committed = cerr ? -1 : e.offset;
        p.assigned = true;
        e.offset = p.next;
      }
      spdlog::info("{}: the group assigned {}", name(), fmt::join(names, ", "));
      const auto aerr = rd_kafka_assign(consumer_.get(), list);
      if (aerr) return kafka::error_status(aerr, name() + ": taking the assigned partitions");
      return cerr ? kafka::error_status(cerr, name() + ": reading the group's offsets")
                  : arrow::Status::OK();
    }
    // Revoked (or lost). With checkpoints the partitions are handed back only once a
    // checkpoint taken after this point has completed: its transaction (or offset commit)
    // covers everything read from them, so the next owner starts exactly after it and nothing
    // is written twice. Until then they are paused; the group waits (its rebalance timeout is
    // max.poll.interval.ms) and this thread keeps polling.
    const bool lost =
        err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(consumer_.get());
    std::set<int> revoked;
    for (int i = 0; i < list->cnt; ++i) {
      const auto& e = list->elems[i];
      auto it = index_.find(e.topic);
      if (it == index_.end() || size_t(e.partition) >= it->second.size()) continue;
      Partition& p = parts_[size_t(it->second[size_t(e.partition)])];
      p.pending.clear();
      p.next = p.returned;
      p.revoking = true;
      revoked.insert(p.split);
    }
    for (size_t i = 0; i < ready_.size();) {
      if (revoked.count(ready_[i].split)) {
        ready_.erase(ready_.begin() + long(i));
        ready_ends_.erase(ready_ends_.begin() + long(i));
      } else {
        ++i;
      }
    }
    revoke_list_.reset(rd_kafka_topic_partition_list_copy(list));
    revoke_lost_ = lost;
    revoking_ = true;
    revoke_checkpoint_ = 0;
    if (!lost && !closing_ && options_.checkpoint_interval_ms > 0) {
      rd_kafka_pause_partitions(consumer_.get(), list);
      revoke_deadline_ = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(revoke_wait_ms(options_.checkpoint_interval_ms));
      spdlog::info("{}: the group revoked {}: handing them back after the next checkpoint", name(),
                   fmt::join(names, ", "));
      return arrow::Status::OK();
    }
    spdlog::info("{}: the group revoked {}", name(), fmt::join(names, ", "));
    return finish_revoke();
  }

  static int64_t revoke_wait_ms(int64_t interval_ms) {
    return std::max<int64_t>(30000, 3 * interval_ms);
  }

  // Hands the revoked partitions back to the group: commits what was read of them when no
  // exactly-once sink did (without checkpoints, or a revocation that could not wait) and the
  // assignment was not lost, then unassigns.
  arrow::Status finish_revoke() {
    if (!revoking_) return arrow::Status::OK();
    revoking_ = false;
    rd_kafka_topic_partition_list_t* list = revoke_list_.get();
    kafka::TopicPartitionList commit(rd_kafka_topic_partition_list_new(list->cnt));
    for (int i = 0; i < list->cnt; ++i) {
      const auto& e = list->elems[i];
      auto it = index_.find(e.topic);
      if (it == index_.end() || size_t(e.partition) >= it->second.size()) continue;
      Partition& p = parts_[size_t(it->second[size_t(e.partition)])];
      if (p.assigned && p.returned >= 0 && p.returned != p.committed && !offsets_in_transaction_) {
        rd_kafka_topic_partition_list_add(commit.get(), p.topic.c_str(), p.partition)->offset =
            p.returned;
      }
      p.held = p.assigned;
      p.assigned = false;
      p.revoking = false;
      p.pending.clear();
      p.next = p.returned;
    }
    arrow::Status st;
    // Lost partitions (this member was thrown out of the group) may already be someone else's.
    if (commit->cnt > 0 && !revoke_lost_ && !rd_kafka_assignment_lost(consumer_.get())) {
      const auto cerr = rd_kafka_commit(consumer_.get(), commit.get(), 0);
      if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        st = kafka::error_status(cerr, name() + ": committing revoked partitions");
      }
    }
    rd_kafka_resume_partitions(consumer_.get(), list);
    rd_kafka_assign(consumer_.get(), nullptr);
    revoke_list_.reset();
    return st;
  }

  // Copies what lag() reads of each partition (it runs on other threads).
  void publish_positions() {
    std::lock_guard lock(lag_mutex_);
    lag_points_.resize(parts_.size());
    for (size_t i = 0; i < parts_.size(); ++i) {
      const Partition& p = parts_[i];
      if (lag_points_[i].topic.empty()) {
        lag_points_[i].topic = p.topic;
        lag_points_[i].partition = p.partition;
        lag_points_[i].end = p.end;
      }
      lag_points_[i].returned = p.returned;
      lag_points_[i].assigned = p.assigned;
    }
  }

  bool all_finished() const {
    for (const auto& p : parts_) {
      if (!p.finished) return false;
    }
    return true;
  }

  Partition* find(const rd_kafka_message_t* m) {
    if (m->rkt != last_rkt_) {
      auto it = index_.find(rd_kafka_topic_name(m->rkt));
      if (it == index_.end()) return nullptr;
      last_rkt_ = m->rkt;
      last_index_ = &it->second;
    }
    if (m->partition < 0 || size_t(m->partition) >= last_index_->size()) return nullptr;
    return &parts_[size_t((*last_index_)[size_t(m->partition)])];
  }

  void finish(Partition& p) {
    if (p.finished) return;
    p.finished = true;
    kafka::TopicPartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition);
    rd_kafka_pause_partitions(consumer_.get(), list.get());
  }

  // Takes one message; returns whether it became a pending record.
  arrow::Result<bool> take(rd_kafka_message_t* raw) {
    kafka::Message m(raw);
    Partition* p = find(raw);
    if (raw->err) {
      if (raw->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (p && bounded() && raw->offset >= p->end) finish(*p);
        return false;
      }
      const std::string message = rd_kafka_message_errstr(raw);
      rd_kafka_resp_err_t fatal = RD_KAFKA_RESP_ERR_NO_ERROR;
      char errstr[256];
      if (raw->err == RD_KAFKA_RESP_ERR__FATAL) {
        fatal = rd_kafka_fatal_error(consumer_.get(), errstr, sizeof(errstr));
      }
      if (fatal || raw->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
          raw->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
          raw->err == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
        return arrow::Status::IOError(name(), ": ", message);
      }
      if (warned_++ < 5) spdlog::warn("{}: {} (retrying)", name(), message);
      return false;
    }
    if (p == nullptr || p->finished || !p->assigned || p->revoking) return false;
    if (raw->offset >= p->end) {  // past the bound (e.g. after a transaction marker)
      finish(*p);
      return false;
    }
    p->next = raw->offset + 1;
    p->pending.push_back(std::move(m));
    if (bounded() && p->next >= p->end) finish(*p);
    return true;
  }

  arrow::Status poll(int64_t timeout_ms) {
    ARROW_RETURN_NOT_OK(rebalance_status_);
    // Group assignment: rd_kafka_consumer_poll() is what serves the rebalance callback.
    ssize_t n = 0;
    if (options_.group_assignment) {
      while (size_t(n) < batch_.size()) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(
            consumer_.get(), n == 0 ? int(std::max<int64_t>(timeout_ms, 0)) : 0);
        if (m == nullptr) break;
        batch_[size_t(n++)] = m;
      }
    } else {
      // Whatever is queued, in one call; when nothing is, wait for the first message.
      n = rd_kafka_consume_batch_queue(queue_.get(), 0, batch_.data(), batch_.size());
    }
    if (n <= 0 && !options_.group_assignment) {
      rd_kafka_message_t* first =
          rd_kafka_consumer_poll(consumer_.get(), int(std::max<int64_t>(timeout_ms, 0)));
      if (first == nullptr) return arrow::Status::OK();
      batch_[0] = first;
      n = 1 + std::max<ssize_t>(0, rd_kafka_consume_batch_queue(queue_.get(), 0, batch_.data() + 1,
                                                                batch_.size() - 1));
    }
    arrow::Status st;
    for (ssize_t i = 0; i < n; ++i) {
      if (!st.ok()) {
        rd_kafka_message_destroy(batch_[size_t(i)]);
        continue;
      }
      auto taken = take(batch_[size_t(i)]);
      if (!taken.ok()) st = taken.status();
    }
    ARROW_RETURN_NOT_OK(st);
    for (auto& p : parts_) {
      if (p.pending.empty()) continue;
      exec::SourceChunk chunk;
      ARROW_ASSIGN_OR_RAISE(chunk.batch, decode(p));
      chunk.split = p.split;
      p.pending.clear();
      ready_.push_back(std::move(chunk));
      ready_ends_.push_back(p.next);
    }
    return arrow::Status::OK();
  }

  arrow::Result<std::shared_ptr<arrow::RecordBatch>> decode(Partition& p) {
    views_.clear();
    for (const auto& m : p.pending) {
      views_.emplace_back(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
    }
    ARROW_ASSIGN_OR_RAISE(auto decoded, decoder_->decode(views_));
    read_ += decoded.batch->num_rows();
    rejected_ += int64_t(p.pending.size()) - decoded.batch->num_rows();
    if (!decoded.errors.empty()) ARROW_RETURN_NOT_OK(dead_letter(p, decoded.errors));
    return decoded.batch;
  }

  // Bad records go to `<topic>.dlq` with the reason, so the job keeps running and nothing is lost.
  arrow::Status dead_letter(const Partition& p, const std::vector<exec::RecordError>& errors) {
    const std::string dlq = p.topic + ".dlq";
    if (!dlq_) {
      kafka::Properties props = options_.properties;
      for (const char* consumer_only :
           {"group.id", "auto.offset.reset", "isolation.level", "enable.auto.commit"}) {
        props.erase(consumer_only);
      }
      ARROW_ASSIGN_OR_RAISE(rd_kafka_conf_t * conf, kafka::make_conf(props, options_.where));
      ARROW_ASSIGN_OR_RAISE(dlq_, kafka::make_handle(RD_KAFKA_PRODUCER, conf));
    }
    if (!dlq_topics_.count(dlq)) {
      kafka::Admin admin(dlq_.get());
      ARROW_RETURN_NOT_OK(ensure_topic(admin, dlq, true, 1, options_.connector).status());
      dlq_topics_.insert(dlq);
    }
    std::string body;
    for (const auto& e : errors) {
      const auto& m = p.pending[size_t(e.index)];
      const std::string_view key(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
      const std::string_view data(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
      body = R"({"topic":)";
      append_json_string(p.topic, body);
      body += fmt::format(R"(,"partition":{},"offset":{},"key":)", p.partition, m->offset);
      append_json_string(key, body);
      body += R"(,"reason":)";
      append_json_string(e.reason, body);
      body += R"(,"data":)";
      append_json_string(data, body);
      body += '}';
      if (warned_ < 5) {
        spdlog::warn("{}: record {} of partition {} rejected ({}) -> {}", name(), m->offset,
                     p.partition, e.reason, dlq);
        ++warned_;
      }
      while (true) {
        const auto err = rd_kafka_producev(
            dlq_.get(), RD_KAFKA_V_TOPIC(dlq.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
            RD_KAFKA_V_VALUE(body.data(), body.size()), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          rd_kafka_poll(dlq_.get(), 50);
          continue;
        }
        if (err) return kafka::error_status(err, "producing to the dead-letter topic " + dlq);
        break;
      }
    }
    rd_kafka_poll(dlq_.get(), 0);
    return arrow::Status::OK();
  }

  KafkaSourceOptions options_;
  std::unique_ptr<RecordDecoder> decoder_;
  kafka::Handle consumer_;
  kafka::Queue queue_;  // the consumer's queue, for batch reads
  std::vector<rd_kafka_message_t*> batch_;
  kafka::Handle dlq_;
  std::set<std::string> dlq_topics_;
  bool group_ = false;
  std::vector<Partition> parts_;
  std::unordered_map<std::string, std::vector<int>> index_;  // topic -> partition -> parts_ index
  const rd_kafka_topic_t* last_rkt_ = nullptr;
  const std::vector<int>* last_index_ = nullptr;
  std::deque<exec::SourceChunk> ready_;
  std::deque<int64_t> ready_ends_;
  arrow::Status rebalance_status_;  // per ready chunk: its partition's next offset after it
  std::map<int64_t, std::vector<int64_t>> snapshots_;  // checkpoint -> returned offset per part
  struct LagPoint {
    std::string topic;
    int partition = 0;
    int64_t returned = -1;
    int64_t end = INT64_MAX;
    bool assigned = false;
  };
  mutable std::mutex lag_mutex_;
  std::vector<LagPoint> lag_points_;
  bool lag_closed_ = false;
  std::vector<std::string_view> views_;
  int64_t read_ = 0;
  int64_t rejected_ = 0;
  int warned_ = 0;
  std::string job_;
  bool registered_ = false;
  bool offsets_in_transaction_ = false;  // an exactly-once sink of the job commits the offsets
  // A revocation waiting for its checkpoint (source thread only).
  bool revoking_ = false;
  bool revoke_lost_ = false;
  bool closing_ = false;
  int64_t revoke_checkpoint_ = 0;  // the first checkpoint cut after it; 0: none yet
  std::chrono::steady_clock::time_point revoke_deadline_;
  kafka::TopicPartitionList revoke_list_;
};

// ---------------------------------------------------------------------------------------------
// Sink

class KafkaSink final : public exec::Sink {
 public:
  KafkaSink(KafkaSinkOptions options, std::unique_ptr<RecordEncoder> encoder)
      : options_(std::move(options)), encoder_(std::move(encoder)) {}

  ~KafkaSink() override {
    if (!producers_.empty()) (void)close(false);
  }

  std::string name() const override { return options_.connector + ":" + options_.topic; }

  arrow::Status open(const exec::OperatorContext& context) override {
    subtask_ = context.subtask;
    props_ = options_.properties;
    if (options_.guarantee == Guarantee::kExactlyOnce && options_.derive_transactional_id &&
        options_.transactional_id_prefix.empty()) {
      std::string prefix = fmt::format("roadpulse-{}-{}", context.job_name, options_.topic);
      if (!options_.worker_id.empty()) prefix += "-" + options_.worker_id;
      if (!options_.resumable) {
        prefix += fmt::format("-{}-{}", ::getpid(),
                              std::chrono::steady_clock::now().time_since_epoch().count());
      }
      options_.transactional_id_prefix = std::move(prefix);
    }
    if (!props_.count("client.id")) props_["client.id"] = "roadpulse-" + name();
    // Java's default partitioner (murmur2 of the key), so keys land where Java producers put them.
    if (options_.partitioner == Partitioner::kDefault && !props_.count("partitioner")) {
      props_["partitioner"] = "murmur2_random";
    }
    if (options_.guarantee != Guarantee::kNone && !props_.count("enable.idempotence")) {
      props_["enable.idempotence"] = "true";
    }
    if (options_.guarantee == Guarantee::kExactlyOnce && !props_.count("transaction.timeout.ms")) {
      props_["transaction.timeout.ms"] = std::to_string(kTransactionTimeoutMs);
    }
    if (!props_.count("linger.ms")) props_["linger.ms"] = "5";
    ARROW_RETURN_NOT_OK(add_producer());

    kafka::Admin admin(producers_[0].handle.get());
    const bool needs_count = options_.partitioner != Partitioner::kDefault;
    ARROW_ASSIGN_OR_RAISE(auto count, admin.partition_count(options_.topic));
    if (count) {
      partitions_ = *count;
    } else if (needs_count || options_.create_if_missing) {
      ARROW_ASSIGN_OR_RAISE(partitions_,
                            ensure_topic(admin, options_.topic, options_.create_if_missing,
                                         options_.create_partitions, options_.connector));
    }
    fixed_partition_ = partitions_ > 0 ? context.subtask % partitions_ : 0;
    topic_checked_ = true;
    producers_[0].topic =
        rd_kafka_topic_new(producers_[0].handle.get(), options_.topic.c_str(), nullptr);

    if (options_.guarantee == Guarantee::kExactlyOnce && context.restored_checkpoint_id > 0 &&
        !context.restored_commit_confirmed) {
      // librdkafka cannot resume another producer's transaction: initializing the producers
      // below aborts the one prepared for that checkpoint if its commit never happened.
      spdlog::warn(
          "{}: resuming from checkpoint {} whose commit was not confirmed; its Kafka transaction "
          "is aborted if it was still open (those records are lost for read_committed readers)",
          name(), context.restored_checkpoint_id);
    }
    if (options_.guarantee == Guarantee::kExactlyOnce) {
      // Two transactional producers: while checkpoint N's transaction waits for its commit, the
      // records after the barrier go into the other one. Initializing both fences a previous run's
      // producers and aborts the transactions they left open.
      ARROW_RETURN_NOT_OK(add_producer());
      ARROW_RETURN_NOT_OK(begin(current_));
      job_ = context.job_name;
      TransactionalOffsets::instance().add_sink(job_, this);
      registered_ = true;
    }
    return arrow::Status::OK();
  }

  arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    return produce_rows(batch, nullptr);
  }

  bool accepts_changelog() const override { return options_.upsert; }

  arrow::Status write_changelog(const std::shared_ptr<arrow::RecordBatch>& batch,
                                const std::vector<int8_t>& kinds) override {
    if (!options_.upsert) return exec::Sink::write_changelog(batch, kinds);
    return produce_rows(batch, &kinds);
  }

  arrow::Status produce_rows(const std::shared_ptr<arrow::RecordBatch>& batch,
                             const std::vector<int8_t>* kinds) {
    ARROW_RETURN_NOT_OK(delivery_status());
    Producer& producer = producers_[current_];
    const int64_t rows = batch->num_rows();
    std::shared_ptr<arrow::RecordBatch> key_batch;
    if (options_.key_mode == KeyMode::kJson) {
      ARROW_ASSIGN_OR_RAISE(key_batch, batch->SelectColumns(options_.key_columns));
    }
    int64_t produced = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const int8_t kind = kinds ? (*kinds)[size_t(r)] : 0;
      if (kind == 1) continue;  // -U: the +U that follows replaces the key's value
      const bool tombstone = kind == 3;
      value_.clear();
      if (!tombstone) encoder_->encode_row(*batch, r, &value_);
      key_.clear();
      switch (options_.key_mode) {
        case KeyMode::kNone:
          break;
        case KeyMode::kRaw:
        case KeyMode::kStreamKey:
          stream_partition_key(*batch, r, options_.key_columns, options_.key_delimiter,
                               &round_robin_, &key_);
          break;
        case KeyMode::kJson:
          options_.key_encoder->encode_row(*key_batch, r, &key_);
          break;
      }
      int32_t partition = RD_KAFKA_PARTITION_UA;
      switch (options_.partitioner) {
        case Partitioner::kDefault:
          break;
        case Partitioner::kFixed:
          partition = fixed_partition_;
          break;
        case Partitioner::kRoundRobin:
          partition = int32_t(next_partition_++ % uint64_t(partitions_));
          break;
        case Partitioner::kHashKey:
          partition = kafka::hash_key_partition(key_, partitions_);
          break;
      }
      const bool keyed = options_.key_mode != KeyMode::kNone;
      while (rd_kafka_produce(producer.topic, partition, RD_KAFKA_MSG_F_COPY,
                              tombstone ? nullptr : value_.data(), tombstone ? 0 : value_.size(),
                              keyed ? key_.data() : nullptr, keyed ? key_.size() : 0,
                              nullptr) != 0) {
        const auto err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          return kafka::error_status(err, "producing to Kafka topic '" + options_.topic + "'");
        }
        rd_kafka_poll(producer.handle.get(), 10);  // wait for deliveries to make room
        ARROW_RETURN_NOT_OK(delivery_status());
      }
      ++produced;
    }
    rd_kafka_poll(producer.handle.get(), 0);
    written_ += produced;
    return delivery_status();
  }

  arrow::Status prepare_commit(int64_t checkpoint_id) override {
    if (options_.guarantee == Guarantee::kNone) return arrow::Status::OK();
    ARROW_RETURN_NOT_OK(flush(producers_[current_]));
    if (options_.guarantee != Guarantee::kExactlyOnce) return arrow::Status::OK();
    // Group-assigned sources of this job: their offsets of this checkpoint commit with it.
    for (KafkaSource* source : TransactionalOffsets::instance().sources_for(job_, this)) {
      ARROW_RETURN_NOT_OK(source->send_offsets(producers_[current_].handle.get(), checkpoint_id));
    }
    // The transaction now holds exactly the records before the barrier: park it until commit()
    // and write what follows into another producer's transaction.
    pending_.emplace_back(checkpoint_id, current_);
    size_t next = producers_.size();
    for (size_t i = 0; i < producers_.size(); ++i) {
      if (i != current_ && !producers_[i].in_transaction) next = i;
    }
    if (next == producers_.size()) ARROW_RETURN_NOT_OK(add_producer());
    current_ = next;
    return begin(current_);
  }

  arrow::Status commit(int64_t checkpoint_id) override {
    if (options_.guarantee != Guarantee::kExactlyOnce) return arrow::Status::OK();
    while (!pending_.empty() && pending_.front().first <= checkpoint_id) {
      const auto [id, index] = pending_.front();
      pending_.pop_front();
      ARROW_RETURN_NOT_OK(check(
          index, rd_kafka_commit_transaction(producers_[index].handle.get(), kTransactionTimeoutMs),
          "committing the transaction of checkpoint " + std::to_string(id)));
      producers_[index].in_transaction = false;
    }
    return arrow::Status::OK();
  }

  arrow::Status close(bool end_of_data) override {
    if (registered_) {
      TransactionalOffsets::instance().remove_sink(job_, this);
      registered_ = false;
    }
    if (producers_.empty()) return arrow::Status::OK();
    arrow::Status st;
    if (options_.guarantee == Guarantee::kExactlyOnce) {
      // A graceful end commits what is open (prepared ones first, in order); otherwise abort.
      std::vector<size_t> order;
      for (const auto& [id, index] : pending_) order.push_back(index);
      order.push_back(current_);
      pending_.clear();
      for (size_t index : order) {
        Producer& p = producers_[index];
        if (!p.in_transaction) continue;
        if (end_of_data && st.ok()) {
          st = delivery_status();
          if (st.ok()) {
            st = check(index, rd_kafka_commit_transaction(p.handle.get(), kTransactionTimeoutMs),
                       "committing the final transaction");
          }
        }
        if (p.in_transaction) {
          (void)check(index, rd_kafka_abort_transaction(p.handle.get(), kTransactionTimeoutMs),
                      "aborting the open transaction");
        }
        p.in_transaction = false;
      }
    } else {
      st = flush(producers_[current_]);
    }
    for (auto& p : producers_) {
      if (p.topic) rd_kafka_topic_destroy(p.topic);
      p.topic = nullptr;
    }
    producers_.clear();
    return st;
  }

  int64_t rows_written() const override { return written_; }

 private:
  struct Producer {
    kafka::Handle handle;
    rd_kafka_topic_t* topic = nullptr;
    bool in_transaction = false;
  };

  arrow::Status add_producer() {
    kafka::Properties props = props_;
    if (options_.guarantee == Guarantee::kExactlyOnce) {
      // <prefix>-<subtask>-<n>: stable across restarts, so a new run fences the old producers.
      props["transactional.id"] =
          fmt::format("{}-{}-{}", options_.transactional_id_prefix, subtask_, producers_.size());
    }
    ARROW_ASSIGN_OR_RAISE(rd_kafka_conf_t * conf, kafka::make_conf(props, options_.where));
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaSink::on_delivery);
    Producer p;
    ARROW_ASSIGN_OR_RAISE(p.handle, kafka::make_handle(RD_KAFKA_PRODUCER, conf));
    // A topic handle asks the broker for the topic's metadata, which auto-creates a missing
    // topic with the broker's defaults: only once ensure_topic() has run.
    if (topic_checked_)
      p.topic = rd_kafka_topic_new(p.handle.get(), options_.topic.c_str(), nullptr);
    producers_.push_back(std::move(p));
    if (options_.guarantee == Guarantee::kExactlyOnce) {
      const size_t index = producers_.size() - 1;
      ARROW_RETURN_NOT_OK(check(
          index, rd_kafka_init_transactions(producers_[index].handle.get(), kTransactionTimeoutMs),
          "initializing transactions"));
    }
    return arrow::Status::OK();
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    auto* self = static_cast<KafkaSink*>(opaque);
    std::lock_guard lock(self->mutex_);
    if (self->delivery_error_.empty()) self->delivery_error_ = rd_kafka_err2str(m->err);
  }

  arrow::Status delivery_status() {
    std::lock_guard lock(mutex_);
    if (delivery_error_.empty()) return arrow::Status::OK();
    return arrow::Status::IOError("delivering to Kafka topic '", options_.topic,
                                  "' failed: ", delivery_error_);
  }

  arrow::Status flush(Producer& p) {
    const auto err = rd_kafka_flush(p.handle.get(), kFlushTimeoutMs);
    if (err) {
      return kafka::error_status(err, "waiting for Kafka to acknowledge " +
                                          std::to_string(rd_kafka_outq_len(p.handle.get())) +
                                          " record(s) of topic '" + options_.topic + "'");
    }
    return delivery_status();
  }

  arrow::Status begin(size_t index) {
    ARROW_RETURN_NOT_OK(check(index, rd_kafka_begin_transaction(producers_[index].handle.get()),
                              "beginning a transaction"));
    producers_[index].in_transaction = true;
    return arrow::Status::OK();
  }

  // Turns a transactional API error into a Status; aborts the transaction when Kafka requires it.
  arrow::Status check(size_t index, rd_kafka_error_t* error, const std::string& what) {
    if (error == nullptr) return arrow::Status::OK();
    std::string message = rd_kafka_error_string(error);
    const bool abort = rd_kafka_error_txn_requires_abort(error);
    rd_kafka_error_destroy(error);
    Producer& p = producers_[index];
    if (abort && p.in_transaction) {
      if (auto* e = rd_kafka_abort_transaction(p.handle.get(), kTransactionTimeoutMs)) {
        rd_kafka_error_destroy(e);
      }
      p.in_transaction = false;
      message += " (transaction aborted)";
    }
    return arrow::Status::IOError(name(), ": ", what, ": ", message);
  }

  KafkaSinkOptions options_;
  std::unique_ptr<RecordEncoder> encoder_;
  kafka::Properties props_;
  int subtask_ = 0;
  std::vector<Producer> producers_;
  size_t current_ = 0;
  std::deque<std::pair<int64_t, size_t>> pending_;  // (checkpoint, producer) awaiting commit()
  bool topic_checked_ = false;
  int partitions_ = 0;
  int32_t fixed_partition_ = 0;
  uint64_t next_partition_ = 0;
  uint64_t round_robin_ = 0;
  std::string value_;
  std::string key_;
  std::mutex mutex_;
  std::string delivery_error_;
  int64_t written_ = 0;
  std::string job_;
  bool registered_ = false;  // in TransactionalOffsets
};

// ---------------------------------------------------------------------------------------------
// Options

arrow::Result<int64_t> parse_millis_option(OptionReader& reader, const std::string& key) {
  auto value = reader.get(key);
  if (!value) return arrow::Status::Invalid("option '", key, "' is required by this mode");
  ARROW_ASSIGN_OR_RAISE(int64_t v, reader.get_int(key, 0));
  if (v < 0) return arrow::Status::Invalid("option '", key, "' must be >= 0, got ", v);
  return v;
}

// 'partition:0,offset:42;partition:1,offset:300' (Flink's form).
arrow::Result<std::map<int, int64_t>> parse_specific_offsets(const std::string& text) {
  std::map<int, int64_t> out;
  std::vector<std::string> entries;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(';', start), text.size());
    if (end > start) entries.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  const std::regex entry(R"(\s*partition\s*:\s*(\d+)\s*,\s*offset\s*:\s*(\d+)\s*)");
  for (const auto& e : entries) {
    std::smatch m;
    if (!std::regex_match(e, m, entry)) {
      return arrow::Status::Invalid(
          "option 'scan.startup.specific-offsets': expected 'partition:N,offset:M' entries "
          "separated by ';', got '",
          e, "'");
    }
    out[std::stoi(m[1])] = std::stoll(m[2]);
  }
  if (out.empty()) {
    return arrow::Status::Invalid("option 'scan.startup.specific-offsets' lists no partition");
  }
  return out;
}

// Flink's 'value.format' / 'value.json.*' spelled as 'format' / 'json.*' for the shared formats.
exec::TableOptions value_format_options(const exec::TableOptions& options) {
  exec::TableOptions out = options;
  auto vf = options.find("value.format");
  if (vf == options.end()) return out;
  out["format"] = vf->second;
  out.erase("value.format");
  const std::string prefix = "value." + vf->second + ".";
  for (const auto& [key, value] : options) {
    if (key.rfind(prefix, 0) == 0) {
      out[vf->second + "." + key.substr(prefix.size())] = value;
      out.erase(key);
    }
  }
  return out;
}

void read_common(OptionReader& reader) {
  reader.allow_prefix("properties.");
  reader.get("sink.parallelism");
  reader.get("scan.parallelism");
}

arrow::Result<KafkaSourceOptions> kafka_source_options(OptionReader& reader) {
  KafkaSourceOptions o;
  o.connector = "kafka";
  auto topic = reader.get("topic");
  auto pattern = reader.get("topic-pattern");
  if (topic && pattern) {
    return arrow::Status::Invalid("options 'topic' and 'topic-pattern' cannot both be set");
  }
  if (!topic && !pattern) {
    return arrow::Status::Invalid(
        "connector 'kafka' requires the option 'topic' (or "
        "'topic-pattern' for a source)");
  }
  if (topic) {
    size_t start = 0;
    while (start <= topic->size()) {  // Flink: several topics separated by ';'
      const size_t end = std::min(topic->find(';', start), topic->size());
      if (end > start) o.topics.push_back(topic->substr(start, end - start));
      start = end + 1;
    }
    if (o.topics.empty()) return arrow::Status::Invalid("option 'topic' is empty");
  } else {
    o.topic_pattern = *pattern;
  }
  o.properties = kafka::properties_with_prefix(reader.all(), "properties.");
  if (!o.properties.count("bootstrap.servers")) {
    return arrow::Status::Invalid(
        "connector 'kafka' requires the option 'properties.bootstrap.servers'");
  }
  const std::string mode = reader.get_or("scan.startup.mode", "group-offsets");
  if (mode == "earliest-offset") {
    o.startup = StartupMode::kEarliest;
  } else if (mode == "latest-offset") {
    o.startup = StartupMode::kLatest;
  } else if (mode == "group-offsets") {
    o.startup = StartupMode::kGroupOffsets;
  } else if (mode == "timestamp") {
    o.startup = StartupMode::kTimestamp;
    ARROW_ASSIGN_OR_RAISE(o.startup_timestamp_ms,
                          parse_millis_option(reader, "scan.startup.timestamp-millis"));
  } else if (mode == "specific-offsets") {
    o.startup = StartupMode::kSpecificOffsets;
    ARROW_ASSIGN_OR_RAISE(auto text, reader.require("scan.startup.specific-offsets"));
    ARROW_ASSIGN_OR_RAISE(o.specific_offsets, parse_specific_offsets(text));
  } else {
    return arrow::Status::Invalid(
        "option 'scan.startup.mode' must be earliest-offset, latest-offset, group-offsets, "
        "timestamp or specific-offsets, got '",
        mode, "'");
  }
  if (o.startup == StartupMode::kGroupOffsets && !o.properties.count("group.id") &&
      reader.get("scan.startup.mode")) {
    return arrow::Status::Invalid(
        "option 'scan.startup.mode' = 'group-offsets' needs 'properties.group.id'");
  }
  const std::string bounded = reader.get_or("scan.bounded.mode", "unbounded");
  if (bounded == "unbounded") {
    o.bounded = BoundedMode::kUnbounded;
  } else if (bounded == "latest-offset") {
    o.bounded = BoundedMode::kLatest;
  } else if (bounded == "timestamp") {
    o.bounded = BoundedMode::kTimestamp;
    ARROW_ASSIGN_OR_RAISE(o.bounded_timestamp_ms,
                          parse_millis_option(reader, "scan.bounded.timestamp-millis"));
  } else {
    return arrow::Status::Invalid(
        "option 'scan.bounded.mode' must be unbounded, latest-offset or timestamp, got '", bounded,
        "'");
  }
  reader.get("scan.topic-partition-discovery.interval");
  const std::string assignment = reader.get_or("scan.partition-assignment", "all");
  if (assignment == "group") {
    o.group_assignment = true;
    if (!o.properties.count("group.id")) {
      return arrow::Status::Invalid(
          "option 'scan.partition-assignment' = 'group' needs 'properties.group.id'");
    }
    if (o.bounded != BoundedMode::kUnbounded) {
      return arrow::Status::Invalid(
          "option 'scan.partition-assignment' = 'group' needs an unbounded scan "
          "('scan.bounded.mode' = 'unbounded')");
    }
  } else if (assignment != "all") {
    return arrow::Status::Invalid("option 'scan.partition-assignment' must be all or group, got '",
                                  assignment, "'");
  }
  return o;
}

arrow::Result<Guarantee> parse_guarantee(OptionReader& reader) {
  const std::string g = reader.get_or("sink.delivery-guarantee", "at-least-once");
  if (g == "none") return Guarantee::kNone;
  if (g == "at-least-once") return Guarantee::kAtLeastOnce;
  if (g == "exactly-once") return Guarantee::kExactlyOnce;
  return arrow::Status::Invalid(
      "option 'sink.delivery-guarantee' must be none, at-least-once or exactly-once, got '", g,
      "'");
}

// The sink of `kafka` and of `upsert-kafka` (`upsert`: keyed by the table's PRIMARY KEY, takes a
// changelog).
arrow::Result<std::unique_ptr<exec::Sink>> make_kafka_sink(const exec::SinkSpec& spec,
                                                           bool upsert) {
  const std::string connector = upsert ? "upsert-kafka" : "kafka";
  const exec::TableOptions options = value_format_options(spec.options);
  OptionReader reader(connector, options);
  read_common(reader);
  KafkaSinkOptions o;
  o.connector = connector;
  o.upsert = upsert;
  ARROW_ASSIGN_OR_RAISE(o.topic, reader.require("topic"));
  if (o.topic.find(';') != std::string::npos) {
    return arrow::Status::Invalid("option 'topic': a sink writes one topic, got '", o.topic, "'");
  }
  o.properties = kafka::properties_with_prefix(options, "properties.");
  if (!o.properties.count("bootstrap.servers")) {
    return arrow::Status::Invalid("connector '", connector,
                                  "' requires the option 'properties.bootstrap.servers'");
  }
  const std::string partitioner = reader.get_or("sink.partitioner", "default");
  if (partitioner == "default") {
    o.partitioner = Partitioner::kDefault;
  } else if (partitioner == "fixed") {
    o.partitioner = Partitioner::kFixed;
  } else if (partitioner == "round-robin") {
    o.partitioner = Partitioner::kRoundRobin;
  } else if (partitioner == "hash-key") {
    // roadpulse: the key fields' values joined by '|' as the key, routed to the partition whose
    // MD5 hash-key range holds it, as stream tables route (repartition topics of workers).
    o.partitioner = Partitioner::kHashKey;
  } else {
    return arrow::Status::Invalid(
        "option 'sink.partitioner' must be default, fixed, round-robin or hash-key, got '",
        partitioner, "'");
  }
  ARROW_ASSIGN_OR_RAISE(o.guarantee, parse_guarantee(reader));
  o.transactional_id_prefix = reader.get_or("sink.transactional-id-prefix", "");
  // Workers sharing a job each need their own transactional ids, or they would fence each other.
  if (const std::string worker = session_value(spec.session, kWorkerIdKey);
      !worker.empty() && !o.transactional_id_prefix.empty()) {
    o.transactional_id_prefix += "-" + worker;
  }
  if (o.guarantee == Guarantee::kExactlyOnce && o.transactional_id_prefix.empty()) {
    return arrow::Status::Invalid(
        "option 'sink.delivery-guarantee' = 'exactly-once' needs 'sink.transactional-id-prefix'");
  }
  // The key: 'key.fields' (';'-separated) in 'key.format' raw or json; for upsert-kafka the
  // PRIMARY KEY, in the 'key.format' Flink requires.
  std::optional<std::string> fields = reader.get("key.fields");
  if (upsert) {
    if (fields) {
      return arrow::Status::Invalid(
          "connector 'upsert-kafka' takes its key from the table's PRIMARY KEY, not "
          "'key.fields'");
    }
    if (spec.table->primary_key.empty()) {
      return arrow::Status::Invalid(
          "connector 'upsert-kafka' needs a PRIMARY KEY (...) NOT "
          "ENFORCED on table ",
          spec.table->name, ": its columns are the message key");
    }
    if (!reader.get("key.format")) {
      return arrow::Status::Invalid(
          "connector 'upsert-kafka' requires the option 'key.format' "
          "(raw or json)");
    }
    std::string joined;
    for (const auto& column : spec.table->primary_key)
      joined += (joined.empty() ? "" : ";") + column;
    fields = joined;
  }
  if (fields) {
    size_t start = 0;
    while (start <= fields->size()) {
      const size_t end = std::min(fields->find(';', start), fields->size());
      if (end > start) {
        const std::string field = fields->substr(start, end - start);
        const int index = spec.schema->GetFieldIndex(field);
        if (index < 0) {
          return arrow::Status::Invalid("option 'key.fields': '", field, "' is not a column of ",
                                        spec.table->name);
        }
        o.key_columns.push_back(index);
      }
      start = end + 1;
    }
    std::string key_format;
    if (o.partitioner == Partitioner::kHashKey && !reader.get("key.format")) {
      key_format = "partition-key";
    } else {
      ARROW_ASSIGN_OR_RAISE(key_format, reader.require("key.format"));
    }
    if (key_format == "partition-key") {
      o.key_mode = KeyMode::kStreamKey;
    } else if (key_format == "raw") {
      if (o.key_columns.size() != 1) {
        return arrow::Status::Invalid("option 'key.format' = 'raw' takes exactly one key field");
      }
      o.key_mode = KeyMode::kRaw;
    } else if (key_format == "json") {
      o.key_mode = KeyMode::kJson;
      exec::TableOptions key_options{{"connector", connector}, {"format", "json"}};
      for (const auto& [key, value] : options) {
        if (key.rfind("key.json.", 0) == 0) key_options[key.substr(4)] = value;
      }
      reader.allow_prefix("key.json.");
      OptionReader key_reader(connector, key_options);
      arrow::FieldVector key_fields;
      for (int c : o.key_columns) key_fields.push_back(spec.schema->field(c));
      ARROW_ASSIGN_OR_RAISE(o.key_encoder, make_encoder(key_reader, arrow::schema(key_fields)));
    } else {
      return arrow::Status::Invalid("option 'key.format' must be raw or json, got '", key_format,
                                    "'");
    }
  } else if (reader.get("key.format")) {
    return arrow::Status::Invalid("option 'key.format' needs 'key.fields'");
  } else if (o.partitioner == Partitioner::kHashKey) {
    return arrow::Status::Invalid("option 'sink.partitioner' = 'hash-key' needs 'key.fields'");
  }
  const std::string include = reader.get_or("value.fields-include", "ALL");
  if (include != "ALL") {
    return arrow::Status::NotImplemented("option 'value.fields-include' = '", include,
                                         "' (supported: ALL)");
  }
  reader.allow_prefix("scan.");
  reader.get("topic-pattern");
  ARROW_ASSIGN_OR_RAISE(auto encoder, make_encoder(reader, spec.schema));
  ARROW_RETURN_NOT_OK(reader.check_unknown());
  return std::make_unique<KafkaSink>(std::move(o), std::move(encoder));
}

ConnectorEntry make_kafka_entry() {
  ConnectorEntry entry;
  entry.name = "kafka";
  entry.make_source = [](const exec::SourceSpec& spec,
                         ConnectContext&) -> arrow::Result<std::unique_ptr<exec::Source>> {
    const exec::TableOptions options = value_format_options(spec.options);
    OptionReader reader("kafka", options);
    read_common(reader);
    ARROW_ASSIGN_OR_RAISE(auto o, kafka_source_options(reader));
    if (!options.count("scan.partition-assignment")) {
      apply_worker_mode(o, spec.session, spec.table->name);
    }
    o.checkpoint_interval_ms = checkpoint_interval_ms(spec.session);
    // Sink and key options may sit on a table that is also written.
    reader.allow_prefix("sink.");
    reader.allow_prefix("key.");
    reader.get("value.fields-include");
    ARROW_ASSIGN_OR_RAISE(auto decoder, make_decoder(reader, spec));
    ARROW_RETURN_NOT_OK(reader.check_unknown());
    return std::make_unique<KafkaSource>(std::move(o), std::move(decoder));
  };
  entry.make_sink = [](const exec::SinkSpec& spec,
                       ConnectContext&) -> arrow::Result<std::unique_ptr<exec::Sink>> {
    return make_kafka_sink(spec, /*upsert=*/false);
  };
  return entry;
}

}  // namespace

ConnectorEntry kafka_connector() { return make_kafka_entry(); }

// `upsert-kafka` (Flink's upsert Kafka connector), sink only: an updating result (GROUP BY
// without a window) kept as each key's latest row in a topic keyed by the PRIMARY KEY.
ConnectorEntry upsert_kafka_connector() {
  ConnectorEntry entry;
  entry.name = "upsert-kafka";
  entry.make_sink = [](const exec::SinkSpec& spec,
                       ConnectContext&) -> arrow::Result<std::unique_ptr<exec::Sink>> {
    return make_kafka_sink(spec, /*upsert=*/true);
  };
  return entry;
}

// ---------------------------------------------------------------------------------------------
// The Kafka streams backend of `stream` / `kinesis` tables

arrow::Result<std::optional<kafka::Properties>> kafka_streams_backend(
    const std::map<std::string, std::string>& session) {
  auto backend = session.find("streams.backend");
  if (backend == session.end() || backend->second == "embedded") return std::nullopt;
  if (backend->second != "kafka") {
    return arrow::Status::Invalid(
        "session option 'streams.backend' must be embedded or kafka, "
        "got '",
        backend->second, "'");
  }
  // Client properties: `streams.kafka.properties.<key>` (as the integrator maps roadpulse.toml's
  // [streams.kafka.properties]) or, shorter, `streams.kafka.<key>`.
  kafka::Properties props;
  for (auto& [key, value] : kafka::properties_with_prefix(session, "streams.kafka.")) {
    if (key.rfind("properties.", 0) != 0) props[key] = value;
  }
  for (auto& [key, value] : kafka::properties_with_prefix(session, "streams.kafka.properties.")) {
    props[key] = value;
  }
  if (!props.count("bootstrap.servers")) {
    return arrow::Status::Invalid(
        "session option 'streams.backend' = 'kafka' needs 'streams.kafka.bootstrap.servers'");
  }
  return props;
}

arrow::Result<std::unique_ptr<exec::Source>> make_kafka_stream_source(
    const std::string& connector, const KafkaStreamTable& table, const log::StartPosition& start,
    bool bounded, std::unique_ptr<RecordDecoder> decoder, kafka::Properties properties) {
  KafkaSourceOptions o;
  o.connector = connector;
  o.topics = {table.stream};
  o.properties = std::move(properties);
  o.where = "streams.kafka.";
  switch (start.kind) {
    case log::StartKind::kTrimHorizon:
      o.startup = StartupMode::kEarliest;
      break;
    case log::StartKind::kLatest:
      o.startup = StartupMode::kLatest;
      break;
    case log::StartKind::kAtTimestamp:
      o.startup = StartupMode::kTimestamp;
      o.startup_timestamp_ms = start.timestamp_ms;
      break;
    default:
      return arrow::Status::Invalid("start position not supported on the Kafka streams backend");
  }
  // Only what exactly-once sinks committed; bounded reads end at the last stable offset.
  if (!o.properties.count("isolation.level")) o.properties["isolation.level"] = "read_committed";
  o.bounded = bounded ? BoundedMode::kLatest : BoundedMode::kUnbounded;
  o.create_if_missing = table.create_if_missing;
  o.create_partitions = table.shards;
  apply_worker_mode(o, table.session, table.table);
  o.checkpoint_interval_ms = checkpoint_interval_ms(table.session);
  return std::make_unique<KafkaSource>(std::move(o), std::move(decoder));
}

arrow::Result<std::unique_ptr<exec::Sink>> make_kafka_stream_sink(
    const std::string& connector, const KafkaStreamTable& table, std::vector<int> key_columns,
    std::string key_delimiter, std::unique_ptr<RecordEncoder> encoder, kafka::Properties properties,
    KafkaStreamDelivery delivery) {
  KafkaSinkOptions o;
  o.connector = connector;
  o.topic = table.stream;
  o.properties = std::move(properties);
  o.where = "streams.kafka.";
  // Records are keyed and routed as on the embedded log: the Kinesis partition key as the
  // message key, the partition = the shard index its MD5 hash key falls in.
  o.partitioner = Partitioner::kHashKey;
  if (delivery.guarantee == "exactly-once") {
    // One transaction per checkpoint, as the kafka connector's exactly-once mode.
    o.guarantee = Guarantee::kExactlyOnce;
    o.transactional_id_prefix = delivery.transactional_id_prefix;
    o.derive_transactional_id = true;
    o.resumable = !session_value(table.session, "pipeline.name").empty();
    o.worker_id = session_value(table.session, kWorkerIdKey);
    if (!o.transactional_id_prefix.empty() && !o.worker_id.empty()) {
      o.transactional_id_prefix += "-" + o.worker_id;
    }
  } else if (delivery.guarantee == "at-least-once") {
    o.guarantee = Guarantee::kAtLeastOnce;
  } else {
    return arrow::Status::Invalid(
        "option 'sink.delivery-guarantee' must be at-least-once or exactly-once, got '",
        delivery.guarantee, "'");
  }
  o.key_mode = KeyMode::kStreamKey;
  o.key_columns = std::move(key_columns);
  o.key_delimiter = std::move(key_delimiter);
  o.create_if_missing = table.create_if_missing;
  o.create_partitions = table.shards;
  return std::make_unique<KafkaSink>(std::move(o), std::move(encoder));
}

}  // namespace roadpulse::connect
