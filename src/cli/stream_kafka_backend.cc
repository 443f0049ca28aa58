// `roadpulse stream ... --kafka BOOTSTRAP`: the stream subcommands on Kafka topics. A stream is
// the topic of the same name, its shards are the topic's partitions (shardId-00000000000N is
// partition N), sequence numbers are offsets, and `put` routes a record to the partition whose
// uniform hash-key range holds the MD5 of its partition key, as the embedded log routes it to the
// shard of the same index; the partition key becomes the message key.

#include <chrono>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "cli/stream_backend.h"
#include "connect/kafka_client.h"

namespace roadpulse::cli {
namespace {

namespace kafka = connect::kafka;

constexpr int kReadTimeoutMs = 3000;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class KafkaBackend final : public StreamBackend {
 public:
  explicit KafkaBackend(kafka::Properties properties) : properties_(std::move(properties)) {}

  arrow::Status open() {
    ARROW_ASSIGN_OR_RAISE(rd_kafka_conf_t * conf,
                          kafka::make_conf(properties_, "--kafka-property "));
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaBackend::on_delivery);
    ARROW_ASSIGN_OR_RAISE(producer_, kafka::make_handle(RD_KAFKA_PRODUCER, conf));
    admin_ = std::make_unique<kafka::Admin>(producer_.get());
    return arrow::Status::OK();
  }

  arrow::Status create(const std::string& name, int shards) override {
    ARROW_ASSIGN_OR_RAISE(auto existing, admin_->partition_count(name));
    if (existing) return arrow::Status::Invalid("stream '", name, "' already exists on Kafka");
    return admin_->create_topic(name, shards);
  }

  arrow::Status remove(const std::string& name) override {
    ARROW_RETURN_NOT_OK(partitions(name).status());
    return admin_->delete_topic(name);
  }

  arrow::Status reshard(const std::string& name, int shards) override {
    ARROW_ASSIGN_OR_RAISE(int current, partitions(name));
    if (shards <= current) {
      return arrow::Status::Invalid("stream '", name, "' has ", current,
                                    " partitions on Kafka, which can only add partitions (asked "
                                    "for ",
                                    shards, ")");
    }
    return admin_->create_partitions(name, shards);
  }

  arrow::Result<std::vector<std::string>> list() override { return admin_->list_topics(); }

  arrow::Result<log::StreamDescription> describe(const std::string& name) override {
    ARROW_ASSIGN_OR_RAISE(int n, partitions(name));
    log::StreamDescription d;
    d.name = name;
    ARROW_ASSIGN_OR_RAISE(auto retention, admin_->topic_config(name, "retention.ms"));
    if (retention) d.retention_ms = std::atoll(retention->c_str());
    ARROW_ASSIGN_OR_RAISE(auto minute_ago, admin_->offsets_for_time(name, n, now_ms() - 60000));
    std::vector<int> all(size_t(n), 0);
    for (int p = 0; p < n; ++p) all[size_t(p)] = p;
    ARROW_ASSIGN_OR_RAISE(auto marks, admin_->watermarks(name, all));
    for (int p = 0; p < n; ++p) {
      const auto& w = marks[size_t(p)];
      auto s = kafka::partition_as_shard(p, n, w);
      s.records_last_minute = w.high - std::max(minute_ago[size_t(p)], w.low);
      d.shards.push_back(s);
    }
    return d;
  }

  arrow::Result<log::SequenceNumber> resolve(const std::string& name, log::ShardId shard,
                                             const log::StartPosition& from) override {
    ARROW_ASSIGN_OR_RAISE(int n, partitions(name));
    if (shard.value >= n) {
      return arrow::Status::Invalid("stream '", name, "' has no ", shard.to_string(), " (", n,
                                    " partitions on Kafka)");
    }
    ARROW_ASSIGN_OR_RAISE(auto w, admin_->watermarks(name, shard.value));
    switch (from.kind) {
      case log::StartKind::kTrimHorizon:
        return log::SequenceNumber{uint64_t(w.low)};
      case log::StartKind::kLatest:
        return log::SequenceNumber{uint64_t(w.high)};
      case log::StartKind::kAtSequence:
        return from.sequence;
      case log::StartKind::kAfterSequence:
        return log::SequenceNumber{from.sequence.value + 1};
      case log::StartKind::kAtTimestamp: {
        ARROW_ASSIGN_OR_RAISE(auto offsets, admin_->offsets_for_time(name, n, from.timestamp_ms));
        return log::SequenceNumber{uint64_t(offsets[size_t(shard.value)])};
      }
    }
    return arrow::Status::Invalid("unknown start position");
  }

  arrow::Result<log::ReadResult> read(const std::string& name, log::ShardId shard,
                                      log::SequenceNumber from, int max_records) override {
    log::ReadResult result;
    result.next = from;
    ARROW_ASSIGN_OR_RAISE(auto w, admin_->watermarks(name, shard.value));
    if (int64_t(from.value) >= w.high) return result;
    ARROW_RETURN_NOT_OK(assign(name, shard.value, int64_t(from.value)));
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadTimeoutMs);
    while (int(result.records.size()) < max_records &&
           std::chrono::steady_clock::now() < deadline) {
      kafka::Message m(rd_kafka_consumer_poll(consumer_.get(), 100));
      if (!m) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // read_committed: transaction markers and aborted records may lie before the end.
        if (m->offset > int64_t(result.next.value)) {
          result.next = log::SequenceNumber{uint64_t(m->offset)};
        }
        break;
      }
      if (m->err) {
        return arrow::Status::IOError("reading ", name, " partition ", shard.value, ": ",
                                      rd_kafka_message_errstr(m.get()));
      }
      log::StoredRecord r;
      r.shard = shard;
      r.sequence = log::SequenceNumber{uint64_t(m->offset)};
      r.arrival_ms = rd_kafka_message_timestamp(m.get(), nullptr);
      if (m->key) r.partition_key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.data.assign(static_cast<const char*>(m->payload), m->len);
      result.records.push_back(std::move(r));
      result.next = log::SequenceNumber{uint64_t(m->offset + 1)};
      if (m->offset + 1 >= w.high) break;
    }
    assigned_next_ = int64_t(result.next.value);
    result.millis_behind_latest = 0;
    return result;
  }

  void wait(const std::string&, log::ShardId, log::SequenceNumber, int64_t timeout_ms) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(timeout_ms, 200)));
  }

  arrow::Result<std::vector<log::AppendResult>> put(
      const std::string& name, std::span<const log::AppendRecord> records) override {
    ARROW_ASSIGN_OR_RAISE(int n, partitions(name));
    results_.assign(records.size(), log::AppendResult{});
    error_.clear();
    for (size_t i = 0; i < records.size(); ++i) {
      const auto& r = records[i];
      int partition = 0;
      if (r.explicit_hash_key) {
        for (int p = 0; p < n; ++p) {
          if (log::uniform_hash_range(p, n).contains(*r.explicit_hash_key)) partition = p;
        }
      } else {
        partition = kafka::hash_key_partition(r.partition_key, n);
      }
      while (true) {
        const auto err = rd_kafka_producev(
            producer_.get(), RD_KAFKA_V_TOPIC(name.c_str()), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(const_cast<char*>(r.partition_key.data()), r.partition_key.size()),
            RD_KAFKA_V_VALUE(const_cast<char*>(r.data.data()), r.data.size()),
            RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(i)), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          rd_kafka_poll(producer_.get(), 10);
          continue;
        }
        if (err) return kafka::error_status(err, "producing to stream '" + name + "'");
        break;
      }
    }
    const auto err = rd_kafka_flush(producer_.get(), 60000);
    if (err) return kafka::error_status(err, "waiting for Kafka to acknowledge '" + name + "'");
    if (!error_.empty()) {
      return arrow::Status::IOError("producing to stream '", name, "' failed: ", error_);
    }
    return results_;
  }

 private:
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaBackend*>(opaque);
    if (m->err) {
      if (self->error_.empty()) self->error_ = rd_kafka_err2str(m->err);
      return;
    }
    const auto i = reinterpret_cast<size_t>(m->_private);
    if (i < self->results_.size()) {
      self->results_[i] = {log::ShardId{m->partition}, log::SequenceNumber{uint64_t(m->offset)}};
    }
  }

  arrow::Result<int> partitions(const std::string& name) {
    ARROW_ASSIGN_OR_RAISE(auto n, admin_->partition_count(name));
    if (!n) return arrow::Status::Invalid("stream '", name, "' does not exist on Kafka");
    return *n;
  }

  // Points the consumer at (topic, partition, offset) unless it is already reading there.
  arrow::Status assign(const std::string& topic, int partition, int64_t offset) {
    if (!consumer_) {
      kafka::Properties props = properties_;
      if (!props.count("group.id")) props["group.id"] = "roadpulse-stream-cli";
      props["enable.auto.commit"] = "false";
      props["enable.partition.eof"] = "true";
      ARROW_ASSIGN_OR_RAISE(rd_kafka_conf_t * conf, kafka::make_conf(props, "--kafka-property "));
      ARROW_ASSIGN_OR_RAISE(consumer_, kafka::make_handle(RD_KAFKA_CONSUMER, conf));
    }
    if (topic == assigned_topic_ && partition == assigned_partition_ && offset == assigned_next_) {
      return arrow::Status::OK();
    }
    kafka::TopicPartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = offset;
    const auto err = rd_kafka_assign(consumer_.get(), list.get());
    if (err) return kafka::error_status(err, "assigning " + topic);
    assigned_topic_ = topic;
    assigned_partition_ = partition;
    assigned_next_ = offset;
    return arrow::Status::OK();
  }

  kafka::Properties properties_;
  kafka::Handle producer_;
  std::unique_ptr<kafka::Admin> admin_;
  kafka::Handle consumer_;
  std::string assigned_topic_;
  int assigned_partition_ = -1;
  int64_t assigned_next_ = -1;
  std::vector<log::AppendResult> results_;
  std::string error_;
};

}  // namespace

arrow::Result<std::unique_ptr<StreamBackend>> make_kafka_backend(
    const std::string& bootstrap, const std::vector<std::string>& properties) {
  kafka::Properties props;
  props["bootstrap.servers"] = bootstrap;
  for (const auto& kv : properties) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return arrow::Status::Invalid("--kafka-property expects KEY=VALUE, got '", kv, "'");
    }
    props[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto backend = std::make_unique<KafkaBackend>(std::move(props));
  ARROW_RETURN_NOT_OK(backend->open());
  return backend;
}

}  // namespace roadpulse::cli
