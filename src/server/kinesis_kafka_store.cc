#include "server/kinesis_kafka_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace roadpulse::server {
namespace {

namespace kafka = connect::kafka;
namespace fs = std::filesystem;

// Readers kept idle per partition (several consumers of one partition at different positions,
// e.g. the archive and a GetRecords client, each keep their prefetch).
constexpr size_t kIdleReadersPerPartition = 3;
// An idle reader not taken for this long is closed (its handle holds threads and a connection).
constexpr int64_t kReaderIdleMs = 60'000;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A file-name-safe form of a consumer or stream name (topic names are already safe).
std::string file_name_of(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out.push_back(char(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  if (out.empty() || out == "." || out == "..") out = "%" + out;
  return out;
}

std::string name_of_file(std::string_view file) {
  std::string out;
  for (size_t i = 0; i < file.size(); ++i) {
    if (file[i] != '%') {
      out.push_back(file[i]);
    } else if (i + 2 < file.size() && std::isxdigit(static_cast<unsigned char>(file[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(file[i + 2]))) {
      out.push_back(char(std::stoi(std::string(file.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    }
  }
  return out;
}

arrow::Status fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return arrow::Status::IOError("cannot open '", path, "': ", std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return arrow::Status::IOError("fsync '", path, "': ", std::strerror(err));
  return arrow::Status::OK();
}

// One consumer handle assigned to one partition, positioned at `next`.
struct Reader {
  kafka::Handle consumer;
  std::string topic;
  int partition = -1;
  int64_t next = -1;     // the offset the handle delivers next (-1: unassigned)
  kafka::Message ahead;  // a message taken from the queue but not returned yet
  int64_t idle_since_ms = 0;
};

// One append call waiting for its delivery reports.
struct PendingAppend {
  struct Slot {
    PendingAppend* call;
    size_t index;
  };
  std::mutex mu;
  std::condition_variable cv;
  size_t remaining = 0;
  std::vector<log::AppendResult> results;
  std::vector<Slot> slots;
  std::string error;
};

class KafkaStreamStore final : public log::LogStore {
 public:
  explicit KafkaStreamStore(KafkaStoreOptions options) : options_(std::move(options)) {}

  ~KafkaStreamStore() override {
    if (producer_) rd_kafka_flush(producer_.get(), 10000);
    stopping_ = true;
    if (poller_.joinable()) poller_.join();
    {
      std::lock_guard lock(pool_mu_);
      idle_.clear();
    }
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  arrow::Status open() {
    std::error_code ec;
    fs::create_directories(options_.positions_dir, ec);
    if (ec) {
      return arrow::Status::IOError("cannot create '", options_.positions_dir, "': ", ec.message());
    }
    const std::string lock_path = options_.positions_dir + "/LOCK";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) {
      return arrow::Status::IOError("cannot open '", lock_path, "': ", std::strerror(errno));
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      return arrow::Status::IOError("the Kafka consumer positions in '", options_.positions_dir,
                                    "' are in use by another roadpulse process (a server or an "
                                    "archive on the same data dir)");
    }
    kafka::Properties props = options_.properties;
    // Durable ack: every in-sync replica has the record; idempotence keeps the producer's own
    // retries from duplicating or reordering records.
    if (!props.count("enable.idempotence")) props["enable.idempotence"] = "true";
    if (!props.count("acks")) props["acks"] = "all";
    if (!props.count("linger.ms")) props["linger.ms"] = "2";
    if (!props.count("message.timeout.ms")) props["message.timeout.ms"] = "30000";
    // A record for a topic deleted meanwhile must fail, not create the topic again.
    if (!props.count("allow.auto.create.topics")) props["allow.auto.create.topics"] = "false";
    ARROW_ASSIGN_OR_RAISE(rd_kafka_conf_t * conf, kafka::make_conf(props, options_.where));
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaStreamStore::on_delivery);
    ARROW_ASSIGN_OR_RAISE(producer_, kafka::make_handle(RD_KAFKA_PRODUCER, conf));
    admin_ = std::make_unique<kafka::Admin>(producer_.get());
    // Fails early, naming the cluster, when it cannot be reached.
    ARROW_RETURN_NOT_OK(admin_->list_topics().status());
    poller_ = std::thread([this] {
      while (!stopping_.load()) rd_kafka_poll(producer_.get(), 50);
    });
    return arrow::Status::OK();
  }

  // --- streams ------------------------------------------------------------------------------

  arrow::Status create_stream(std::string_view name, int shard_count) override {
    const std::string topic(name);
    if (shard_count < 1) return arrow::Status::Invalid("a stream needs at least one shard");
    ARROW_ASSIGN_OR_RAISE(auto existing, admin_->partition_count(topic));
    if (existing) return arrow::Status::Invalid("stream ", topic, " already exists");
    ARROW_RETURN_NOT_OK(admin_->create_topic(topic, shard_count));
    forget(topic);
    return arrow::Status::OK();
  }

  arrow::Status delete_stream(std::string_view name) override {
    const std::string topic(name);
    ARROW_RETURN_NOT_OK(partitions(topic, /*fresh=*/true).status());
    forget(topic);
    ARROW_RETURN_NOT_OK(admin_->delete_topic(topic));
    forget(topic);
    std::lock_guard lock(pool_mu_);
    std::erase_if(idle_, [&](const auto& entry) { return entry.first.first == topic; });
    return arrow::Status::OK();
  }

  arrow::Result<std::vector<std::string>> list_streams() override { return admin_->list_topics(); }

  arrow::Result<log::StreamDescription> describe_stream(std::string_view name) override {
    const std::string topic(name);
    ARROW_ASSIGN_OR_RAISE(int n, partitions(topic, /*fresh=*/true));
    log::StreamDescription d;
    d.name = topic;
    d.created_ms = 0;  // Kafka keeps no creation time (see the header)
    ARROW_ASSIGN_OR_RAISE(auto retention, retention_ms(topic));
    d.retention_ms = retention;
    std::vector<int> all(size_t(n), 0);
    for (int p = 0; p < n; ++p) all[size_t(p)] = p;
    ARROW_ASSIGN_OR_RAISE(auto marks, watermarks(topic, all));
    for (int p = 0; p < n; ++p) {
      d.shards.push_back(kafka::partition_as_shard(p, n, marks[size_t(p)]));
    }
    return d;
  }

  arrow::Status update_shard_count(std::string_view name, int target) override {
    return arrow::Status::Invalid(
        "stream ", name,
        " lives on Kafka, where shards are a topic's partitions: they cannot be "
        "split, merged or closed, and adding partitions would re-route existing partition keys "
        "(asked for ",
        target, " shards); create a new stream with the shard count you need");
  }

  // --- appends ------------------------------------------------------------------------------

  arrow::Result<std::vector<log::AppendResult>> append(
      std::string_view stream, std::span<const log::AppendRecord> records) override {
    const std::string topic(stream);
    ARROW_ASSIGN_OR_RAISE(int n, partitions(topic, /*fresh=*/false));
    PendingAppend call;
    call.results.resize(records.size());
    call.slots.resize(records.size());
    call.remaining = records.size();
    arrow::Status failed;
    size_t produced = 0;
    for (size_t i = 0; i < records.size(); ++i) {
      const auto& r = records[i];
      const int partition = r.explicit_hash_key ? hash_key_partition(*r.explicit_hash_key, n)
                                                : kafka::hash_key_partition(r.partition_key, n);
      call.slots[i] = {&call, i};
      while (true) {
        const auto err = rd_kafka_producev(
            producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(const_cast<char*>(r.partition_key.data()), r.partition_key.size()),
            RD_KAFKA_V_VALUE(const_cast<char*>(r.data.data()), r.data.size()),
            RD_KAFKA_V_OPAQUE(&call.slots[i]), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        if (err) failed = kafka::error_status(err, "appending to stream " + topic);
        break;
      }
      if (!failed.ok()) break;
      ++produced;
    }
    // Wait for every record handed to the producer: their reports point into `call`.
    std::unique_lock lock(call.mu);
    call.remaining -= records.size() - produced;
    call.cv.wait(lock, [&] { return call.remaining == 0; });
    ARROW_RETURN_NOT_OK(failed);
    if (!call.error.empty()) {
      forget(topic);  // a deleted or shrunk topic: look again next time
      return arrow::Status::IOError("appending to stream ", topic,
                                    " on Kafka failed: ", call.error);
    }
    return std::move(call.results);
  }

  // --- reads --------------------------------------------------------------------------------

  arrow::Result<log::SequenceNumber> resolve(std::string_view stream, log::ShardId shard,
                                             const log::StartPosition& position) override {
    const std::string topic(stream);
    ARROW_RETURN_NOT_OK(check_shard(topic, shard));
    ARROW_ASSIGN_OR_RAISE(auto w, watermarks(topic, shard.value));
    switch (position.kind) {
      case log::StartKind::kTrimHorizon:
        return log::SequenceNumber{uint64_t(w.low)};
      case log::StartKind::kLatest:
        return log::SequenceNumber{uint64_t(w.high)};
      case log::StartKind::kAtSequence:
      case log::StartKind::kAfterSequence: {
        const uint64_t seq =
            position.sequence.value + (position.kind == log::StartKind::kAfterSequence ? 1 : 0);
        if (seq > uint64_t(w.high)) {
          return arrow::Status::Invalid("sequence number ", position.sequence.value,
                                        " is beyond the end of shard ", shard.to_string(),
                                        " (next is ", w.high, ")");
        }
        return log::SequenceNumber{std::max(seq, uint64_t(w.low))};
      }
      case log::StartKind::kAtTimestamp: {
        ARROW_ASSIGN_OR_RAISE(auto offset,
                              offset_for_time(topic, shard.value, position.timestamp_ms));
        return log::SequenceNumber{uint64_t(offset)};
      }
    }
    return arrow::Status::Invalid("unknown start position");
  }

  arrow::Result<log::ReadResult> read(std::string_view stream, log::ShardId shard,
                                      log::SequenceNumber from, int max_records,
                                      int64_t max_bytes) override {
    const std::string topic(stream);
    ARROW_RETURN_NOT_OK(check_shard(topic, shard));
    ARROW_ASSIGN_OR_RAISE(auto w, watermarks(topic, shard.value));
    if (int64_t(from.value) > w.high) {
      return arrow::Status::Invalid("sequence number ", from.value, " is beyond the end of shard ",
                                    shard.to_string(), " (next is ", w.high, ")");
    }
    const int64_t start = std::max(int64_t(from.value), w.low);
    log::ReadResult result;
    result.next = log::SequenceNumber{uint64_t(start)};
    if (start >= w.high || max_records <= 0) return result;
    ARROW_ASSIGN_OR_RAISE(auto reader, take_reader(topic, shard.value, start));
    const int64_t deadline = steady_ms() + options_.read_wait_ms;
    int64_t bytes = 0;
    int64_t last_arrival = 0;
    arrow::Status status;
    while (int(result.records.size()) < max_records) {
      kafka::Message m = std::move(reader->ahead);
      if (!m) {
        const int64_t left = deadline - steady_ms();
        if (left <= 0) break;
        m.reset(rd_kafka_consumer_poll(reader->consumer.get(), int(std::min<int64_t>(left, 100))));
        if (!m) continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // read_committed: the end (the last stable offset) can lie past the last record handed
        // out, behind transaction markers and aborted records; continue from there.
        if (m->partition == shard.value && m->offset > int64_t(result.next.value)) {
          result.next = log::SequenceNumber{uint64_t(m->offset)};
        }
        break;
      }
      if (m->err) {
        status = arrow::Status::IOError("reading stream ", topic, " ", shard.to_string(),
                                        " on Kafka: ", rd_kafka_message_errstr(m.get()));
        reader->next = -1;  // reposition on next use
        break;
      }
      if (m->partition != shard.value || m->offset < int64_t(result.next.value)) continue;
      const int64_t size = int64_t(m->len) + int64_t(m->key_len);
      if (!result.records.empty() && bytes + size > max_bytes) {
        reader->ahead = std::move(m);  // the next read starts with it
        break;
      }
      log::StoredRecord r;
      r.shard = shard;
      r.sequence = log::SequenceNumber{uint64_t(m->offset)};
      r.arrival_ms = rd_kafka_message_timestamp(m.get(), nullptr);
      if (m->key) r.partition_key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.data.assign(static_cast<const char*>(m->payload), m->len);
      last_arrival = r.arrival_ms;
      bytes += size;
      result.records.push_back(std::move(r));
      result.next = log::SequenceNumber{uint64_t(m->offset + 1)};
      if (m->offset + 1 >= w.high) break;  // what the watermark promised: do not wait for more
    }
    if (reader->next >= 0) reader->next = int64_t(result.next.value);
    give_back(std::move(reader));
    ARROW_RETURN_NOT_OK(status);
    if (int64_t(result.next.value) < w.high) {
      // Records are known to follow (the fetch did not bring them in time): say so, at least
      // 1 ms, so a consumer that stops at "no records and 0 behind" asks again.
      result.millis_behind_latest =
          std::max<int64_t>(1, last_arrival > 0 ? wall_ms() - last_arrival : 1);
    }
    return result;
  }

  arrow::Status wait_for_data(std::string_view stream, log::ShardId shard, log::SequenceNumber from,
                              int64_t timeout_ms) override {
    const std::string topic(stream);
    ARROW_RETURN_NOT_OK(check_shard(topic, shard));
    ARROW_ASSIGN_OR_RAISE(auto w, watermarks(topic, shard.value));
    if (w.high > int64_t(from.value)) return arrow::Status::OK();
    // Long-poll on a reader at `from`: the message that wakes us is kept for the next read.
    ARROW_ASSIGN_OR_RAISE(auto reader, take_reader(topic, shard.value, int64_t(from.value)));
    const int64_t deadline = steady_ms() + timeout_ms;
    while (!reader->ahead) {
      const int64_t left = deadline - steady_ms();
      if (left <= 0) break;
      kafka::Message m(
          rd_kafka_consumer_poll(reader->consumer.get(), int(std::min<int64_t>(left, 100))));
      if (!m || m->err || m->partition != shard.value || m->offset < int64_t(from.value)) continue;
      reader->ahead = std::move(m);
    }
    give_back(std::move(reader));
    return arrow::Status::OK();
  }

  arrow::Status wait_for_any(
      std::string_view stream,
      std::span<const std::pair<log::ShardId, log::SequenceNumber>> positions,
      int64_t timeout_ms) override {
    const std::string topic(stream);
    const int64_t deadline = steady_ms() + timeout_ms;
    std::vector<int> partitions;
    for (const auto& [shard, next] : positions) {
      ARROW_RETURN_NOT_OK(check_shard(topic, shard));
      partitions.push_back(shard.value);
    }
    if (partitions.empty()) return arrow::Status::OK();
    while (true) {
      ARROW_ASSIGN_OR_RAISE(auto marks, list_offsets(topic, partitions, -1));
      for (size_t i = 0; i < partitions.size(); ++i) {
        if (marks[i] > int64_t(positions[i].second.value)) return arrow::Status::OK();
      }
      const int64_t left = deadline - steady_ms();
      if (left <= 0) return arrow::Status::OK();
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(left, 50)));
    }
  }

  // --- consumer positions -------------------------------------------------------------------

  arrow::Status commit_position(std::string_view consumer, std::string_view stream,
                                log::ShardId shard, log::SequenceNumber next) override {
    std::lock_guard lock(positions_mu_);
    ARROW_ASSIGN_OR_RAISE(auto* positions, load_positions(consumer, stream));
    (*positions)[shard.value] = next.value;
    std::string text;
    for (const auto& [s, n] : *positions) text += fmt::format("{} {}\n", s, n);
    const std::string dir = options_.positions_dir + "/" + file_name_of(consumer);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return arrow::Status::IOError("cannot create '", dir, "': ", ec.message());
    const std::string path = dir + "/" + file_name_of(stream);
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << text;
      out.flush();
      if (!out) return arrow::Status::IOError("cannot write '", tmp, "'");
    }
    ARROW_RETURN_NOT_OK(fsync_path(tmp, false));
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      return arrow::Status::IOError("cannot rename '", tmp, "': ", std::strerror(errno));
    }
    return fsync_path(dir, true);
  }

  arrow::Result<std::optional<log::SequenceNumber>> load_position(std::string_view consumer,
                                                                  std::string_view stream,
                                                                  log::ShardId shard) override {
    std::lock_guard lock(positions_mu_);
    ARROW_ASSIGN_OR_RAISE(auto* positions, load_positions(consumer, stream));
    auto it = positions->find(shard.value);
    if (it == positions->end()) return std::nullopt;
    return log::SequenceNumber{it->second};
  }

  arrow::Result<std::vector<std::string>> list_consumers() override {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(options_.positions_dir, ec)) {
      if (entry.is_directory()) out.push_back(name_of_file(entry.path().filename().string()));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  arrow::Status enforce_retention() override { return arrow::Status::OK(); }  // the broker's job

  arrow::Status flush() override {
    const auto err = rd_kafka_flush(producer_.get(), 30000);
    if (err) return kafka::error_status(err, "flushing the Kafka producer");
    return arrow::Status::OK();
  }

 private:
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    auto* slot = static_cast<PendingAppend::Slot*>(m->_private);
    if (!slot) return;
    PendingAppend* call = slot->call;
    std::lock_guard lock(call->mu);
    if (m->err) {
      if (call->error.empty()) call->error = rd_kafka_err2str(m->err);
    } else {
      call->results[slot->index] = {log::ShardId{m->partition},
                                    log::SequenceNumber{uint64_t(m->offset)}};
    }
    if (--call->remaining == 0) call->cv.notify_all();
  }

  // ListOffsets with a timeout (kafka::Admin::list_offsets): rd_kafka_query_watermark_offsets
  // blocks forever once the partition leader's broker is down (librdkafka < 2.3).
  arrow::Result<std::vector<int64_t>> list_offsets(const std::string& topic,
                                                   const std::vector<int>& partitions,
                                                   int64_t timestamp) {
    return admin_->list_offsets(topic, partitions, timestamp);
  }

  // Low watermark and end; the end is the last stable offset (reads are read_committed).
  arrow::Result<std::vector<kafka::PartitionWatermarks>> watermarks(
      const std::string& topic, const std::vector<int>& partitions) {
    return admin_->watermarks(topic, partitions);
  }

  arrow::Result<kafka::PartitionWatermarks> watermarks(const std::string& topic, int partition) {
    return admin_->watermarks(topic, partition);
  }

  // The first offset of `partition` whose timestamp is >= `timestamp_ms`, else its end.
  arrow::Result<int64_t> offset_for_time(const std::string& topic, int partition,
                                         int64_t timestamp_ms) {
    ARROW_ASSIGN_OR_RAISE(auto at,
                          list_offsets(topic, {partition}, std::max<int64_t>(0, timestamp_ms)));
    if (at[0] >= 0) return at[0];
    ARROW_ASSIGN_OR_RAISE(auto w, watermarks(topic, partition));
    return w.high;
  }

  static int hash_key_partition(log::HashKey key, int n) {
    for (int p = 0; p < n; ++p) {
      if (log::uniform_hash_range(p, n).contains(key)) return p;
    }
    return n - 1;
  }

  // The topic's partition count; NotFound-style Invalid when it does not exist. `fresh` asks the
  // cluster; otherwise a count younger than metadata_ttl_ms is used.
  arrow::Result<int> partitions(const std::string& topic, bool fresh) {
    const int64_t now = steady_ms();
    if (!fresh) {
      std::lock_guard lock(meta_mu_);
      auto it = partition_counts_.find(topic);
      if (it != partition_counts_.end() && now - it->second.second < options_.metadata_ttl_ms) {
        return it->second.first;
      }
    }
    ARROW_ASSIGN_OR_RAISE(auto n, admin_->partition_count(topic));
    if (!n) {
      forget(topic);
      return arrow::Status::KeyError("stream ", topic, " does not exist on Kafka");
    }
    std::lock_guard lock(meta_mu_);
    partition_counts_[topic] = {*n, now};
    return *n;
  }

  void forget(const std::string& topic) {
    std::lock_guard lock(meta_mu_);
    partition_counts_.erase(topic);
    retention_.erase(topic);
  }

  arrow::Status check_shard(const std::string& topic, log::ShardId shard) {
    ARROW_ASSIGN_OR_RAISE(int n, partitions(topic, false));
    if (shard.value < 0 || shard.value >= n) {
      return arrow::Status::KeyError("shard ", shard.to_string(), " of stream ", topic,
                                     " does not exist (", n, " partitions on Kafka)");
    }
    return arrow::Status::OK();
  }

  arrow::Result<int64_t> retention_ms(const std::string& topic) {
    {
      std::lock_guard lock(meta_mu_);
      if (auto it = retention_.find(topic); it != retention_.end()) return it->second;
    }
    ARROW_ASSIGN_OR_RAISE(auto value, admin_->topic_config(topic, "retention.ms"));
    const int64_t ms = value ? std::atoll(value->c_str()) : 0;
    std::lock_guard lock(meta_mu_);
    retention_[topic] = ms;
    return ms;
  }

  // A reader of (topic, partition) positioned at `offset`: an idle one already there if any
  // (its prefetched queue continues), else an idle one moved there, else a new one.
  arrow::Result<std::unique_ptr<Reader>> take_reader(const std::string& topic, int partition,
                                                     int64_t offset) {
    std::unique_ptr<Reader> reader;
    {
      std::lock_guard lock(pool_mu_);
      auto range = idle_.equal_range({topic, partition});
      auto pick = range.first;
      for (auto it = range.first; it != range.second; ++it) {
        if (it->second->next == offset) {
          pick = it;
          break;
        }
      }
      if (pick != range.second) {
        reader = std::move(pick->second);
        idle_.erase(pick);
      }
    }
    if (!reader) {
      reader = std::make_unique<Reader>();
      kafka::Properties props = options_.properties;
      if (!props.count("group.id")) props["group.id"] = "roadpulse-kinesis-reader";
      props["enable.auto.commit"] = "false";
      props["enable.auto.offset.store"] = "false";
      props["enable.partition.eof"] = "true";
      // Only committed records (of exactly-once sinks' transactions); also librdkafka's default,
      // and what the producer handle's ListOffsets answers with the last stable offset for.
      if (!props.count("isolation.level")) props["isolation.level"] = "read_committed";
      // A position that retention removed meanwhile continues at the oldest record.
      props["auto.offset.reset"] = "earliest";
      if (!props.count("fetch.wait.max.ms")) props["fetch.wait.max.ms"] = "100";
      ARROW_ASSIGN_OR_RAISE(rd_kafka_conf_t * conf, kafka::make_conf(props, options_.where));
      ARROW_ASSIGN_OR_RAISE(reader->consumer, kafka::make_handle(RD_KAFKA_CONSUMER, conf));
      reader->topic = topic;
      reader->partition = partition;
    }
    if (reader->next != offset) {
      kafka::TopicPartitionList list(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = offset;
      const auto err = rd_kafka_assign(reader->consumer.get(), list.get());
      if (err) return kafka::error_status(err, "assigning partition of stream " + topic);
      reader->ahead.reset();
      reader->next = offset;
    }
    return reader;
  }

  void give_back(std::unique_ptr<Reader> reader) {
    if (reader->next < 0) return;  // in an unknown state: drop it
    const int64_t now = steady_ms();
    reader->idle_since_ms = now;
    std::vector<std::unique_ptr<Reader>> expired;  // closed after the lock is released
    std::lock_guard lock(pool_mu_);
    for (auto it = idle_.begin(); it != idle_.end();) {
      if (now - it->second->idle_since_ms > kReaderIdleMs) {
        expired.push_back(std::move(it->second));
        it = idle_.erase(it);
      } else {
        ++it;
      }
    }
    const auto key = std::make_pair(reader->topic, reader->partition);
    if (idle_.count(key) >= kIdleReadersPerPartition) return;
    idle_.emplace(key, std::move(reader));
  }

  // The positions file of (consumer, stream), cached. Caller holds positions_mu_.
  arrow::Result<std::map<int32_t, uint64_t>*> load_positions(std::string_view consumer,
                                                             std::string_view stream) {
    const std::string key = std::string(consumer) + '\0' + std::string(stream);
    auto it = positions_.find(key);
    if (it != positions_.end()) return &it->second;
    std::map<int32_t, uint64_t> loaded;
    const std::string path =
        options_.positions_dir + "/" + file_name_of(consumer) + "/" + file_name_of(stream);
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::string line;
      int line_no = 0;
      while (std::getline(in, line)) {
        ++line_no;
        if (line.empty()) continue;
        std::istringstream fields(line);
        int32_t shard = -1;
        uint64_t next = 0;
        if (!(fields >> shard >> next) || shard < 0) {
          return arrow::Status::IOError("consumer positions '", path, "' line ", line_no,
                                        ": expected '<shard> <next offset>', got '", line, "'");
        }
        loaded[shard] = next;
      }
    }
    return &positions_.emplace(key, std::move(loaded)).first->second;
  }

  KafkaStoreOptions options_;
  kafka::Handle producer_;
  std::unique_ptr<kafka::Admin> admin_;
  std::thread poller_;
  std::atomic<bool> stopping_{false};
  int lock_fd_ = -1;

  std::mutex meta_mu_;
  std::map<std::string, std::pair<int, int64_t>> partition_counts_;  // count, fetched (steady ms)
  std::map<std::string, int64_t> retention_;

  std::mutex pool_mu_;
  std::multimap<std::pair<std::string, int>, std::unique_ptr<Reader>> idle_;

  std::mutex positions_mu_;
  std::map<std::string, std::map<int32_t, uint64_t>> positions_;
};

}  // namespace

arrow::Result<std::unique_ptr<log::LogStore>> make_kafka_stream_store(KafkaStoreOptions options) {
  if (options.properties.find("bootstrap.servers") == options.properties.end() ||
      options.properties.at("bootstrap.servers").empty()) {
    return arrow::Status::Invalid(options.where,
                                  "bootstrap.servers is required for streams on "
                                  "Kafka");
  }
  if (options.positions_dir.empty()) {
    return arrow::Status::Invalid("the Kafka stream store needs a directory for positions");
  }
  auto store = std::make_unique<KafkaStreamStore>(std::move(options));
  ARROW_RETURN_NOT_OK(store->open());
  return std::unique_ptr<log::LogStore>(std::move(store));
}

}  // namespace roadpulse::server
