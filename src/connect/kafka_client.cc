#include "connect/kafka_client.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "log/log.h"

namespace roadpulse::connect::kafka {

namespace {

struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
using Metadata = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

// Runs one admin request: `start` issues it on `queue`; returns its result event.
template <typename Start>
arrow::Result<std::unique_ptr<rd_kafka_event_t, EventDeleter>> admin_call(rd_kafka_t* rk,
                                                                          rd_kafka_admin_op_t op,
                                                                          std::string_view what,
                                                                          Start start) {
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk));
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, op);
  char errstr[256];
  rd_kafka_AdminOptions_set_request_timeout(options, kRequestTimeoutMs, errstr, sizeof(errstr));
  rd_kafka_AdminOptions_set_operation_timeout(options, kRequestTimeoutMs, errstr, sizeof(errstr));
  start(options, queue.get());
  rd_kafka_AdminOptions_destroy(options);
  std::unique_ptr<rd_kafka_event_t, EventDeleter> event(
      rd_kafka_queue_poll(queue.get(), kRequestTimeoutMs + 5000));
  if (!event) return arrow::Status::IOError(what, ": no answer from the Kafka cluster");
  if (rd_kafka_event_error(event.get())) {
    return arrow::Status::IOError(what, ": ", rd_kafka_event_error_string(event.get()));
  }
  return event;
}

arrow::Status topic_results(const rd_kafka_topic_result_t* const* results, size_t n,
                            std::string_view what, rd_kafka_resp_err_t tolerated) {
  for (size_t i = 0; i < n; ++i) {
    const auto err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == tolerated) continue;
    const char* msg = rd_kafka_topic_result_error_string(results[i]);
    return arrow::Status::IOError(what, " '", rd_kafka_topic_result_name(results[i]),
                                  "': ", msg ? msg : rd_kafka_err2str(err));
  }
  return arrow::Status::OK();
}

}  // namespace

void HandleDeleter::operator()(rd_kafka_t* rk) const {
  if (rk) rd_kafka_destroy(rk);
}

arrow::Status error_status(rd_kafka_resp_err_t err, std::string_view context) {
  return arrow::Status::IOError(context, ": ", rd_kafka_err2str(err));
}

arrow::Result<rd_kafka_conf_t*> make_conf(const Properties& properties, std::string_view where) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return arrow::Status::Invalid("Kafka client property '", where, key, "': ", errstr);
    }
  }
  return conf;
}

arrow::Result<Handle> make_handle(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return arrow::Status::Invalid("cannot create a Kafka ",
                                  type == RD_KAFKA_PRODUCER ? "producer" : "consumer", ": ",
                                  errstr);
  }
  return Handle(rk);
}

log::ShardDescription partition_as_shard(int partition, int partitions,
                                         const PartitionWatermarks& marks) {
  log::ShardDescription s;
  s.id = log::ShardId{partition};
  const auto range = log::uniform_hash_range(partition, partitions);
  s.starting_hash_key = range.start;
  s.ending_hash_key = range.end;
  s.starting_sequence = log::SequenceNumber{uint64_t(marks.low)};
  s.next_sequence = log::SequenceNumber{uint64_t(marks.high)};
  s.records = marks.high - marks.low;
  return s;
}

int hash_key_partition(std::string_view partition_key, int partitions) {
  if (partitions <= 1) return 0;
  const log::HashKey key = log::hash_key_of(partition_key);
  const log::HashRange first = log::uniform_hash_range(0, partitions);
  const log::HashKey step = first.end + 1;
  int p = int(std::min<log::HashKey>(key / step, log::HashKey(partitions - 1)));
  // The last range absorbs the remainder of 2^128 / partitions.
  while (p > 0 && !log::uniform_hash_range(p, partitions).contains(key)) --p;
  return p;
}

arrow::Result<std::unique_ptr<Admin>> Admin::make(const Properties& properties,
                                                  std::string_view where) {
  ARROW_ASSIGN_OR_RAISE(rd_kafka_conf_t * conf, make_conf(properties, where));
  ARROW_ASSIGN_OR_RAISE(auto handle, make_handle(RD_KAFKA_PRODUCER, conf));
  return std::unique_ptr<Admin>(new Admin(std::move(handle)));
}

arrow::Result<std::optional<int>> Admin::partition_count(const std::string& topic) {
  // Metadata for all topics: asking for one topic by name would auto-create it on brokers with
  // auto.create.topics.enable.
  const rd_kafka_metadata_t* raw = nullptr;
  const auto err = rd_kafka_metadata(rk_, 1, nullptr, &raw, kRequestTimeoutMs);
  if (err) return error_status(err, "reading the Kafka cluster's metadata");
  Metadata metadata(raw);
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const auto& t = metadata->topics[i];
    if (topic != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return std::nullopt;
    if (t.err) return error_status(t.err, "metadata of topic '" + topic + "'");
    return t.partition_cnt;
  }
  return std::nullopt;
}

arrow::Result<std::vector<std::string>> Admin::list_topics() {
  const rd_kafka_metadata_t* raw = nullptr;
  const auto err = rd_kafka_metadata(rk_, 1, nullptr, &raw, kRequestTimeoutMs);
  if (err) return error_status(err, "listing Kafka topics");
  Metadata metadata(raw);
  std::vector<std::string> out;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    std::string name = metadata->topics[i].topic;
    if (name.rfind("__", 0) != 0) out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

arrow::Status Admin::create_topic(const std::string& topic, int partitions,
                                  const Properties& topic_config) {
  char errstr[256];
  // Replication factor -1: the broker's default.replication.factor.
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, errstr, sizeof(errstr));
  if (nt == nullptr) return arrow::Status::Invalid("topic '", topic, "': ", errstr);
  for (const auto& [k, v] : topic_config) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  auto event = admin_call(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS, "creating topic",
                          [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                            rd_kafka_CreateTopics(rk_, &nt, 1, o, q);
                          });
  rd_kafka_NewTopic_destroy(nt);
  ARROW_RETURN_NOT_OK(event.status());
  size_t n = 0;
  const auto* results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event->get()), &n);
  ARROW_RETURN_NOT_OK(
      topic_results(results, n, "creating topic", RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS));
  return wait_for_topic(topic, partitions, kRequestTimeoutMs);
}

arrow::Status Admin::delete_topic(const std::string& topic) {
  rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(topic.c_str());
  auto event = admin_call(rk_, RD_KAFKA_ADMIN_OP_DELETETOPICS, "deleting topic",
                          [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                            rd_kafka_DeleteTopics(rk_, &dt, 1, o, q);
                          });
  rd_kafka_DeleteTopic_destroy(dt);
  ARROW_RETURN_NOT_OK(event.status());
  size_t n = 0;
  const auto* results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event->get()), &n);
  return topic_results(results, n, "deleting topic", RD_KAFKA_RESP_ERR_NO_ERROR);
}

arrow::Status Admin::create_partitions(const std::string& topic, int partitions) {
  char errstr[256];
  rd_kafka_NewPartitions_t* np =
      rd_kafka_NewPartitions_new(topic.c_str(), size_t(partitions), errstr, sizeof(errstr));
  if (np == nullptr) return arrow::Status::Invalid("topic '", topic, "': ", errstr);
  auto event = admin_call(rk_, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, "adding partitions to topic",
                          [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                            rd_kafka_CreatePartitions(rk_, &np, 1, o, q);
                          });
  rd_kafka_NewPartitions_destroy(np);
  ARROW_RETURN_NOT_OK(event.status());
  size_t n = 0;
  const auto* results = rd_kafka_CreatePartitions_result_topics(
      rd_kafka_event_CreatePartitions_result(event->get()), &n);
  ARROW_RETURN_NOT_OK(
      topic_results(results, n, "adding partitions to topic", RD_KAFKA_RESP_ERR_NO_ERROR));
  return wait_for_topic(topic, partitions, kRequestTimeoutMs);
}

namespace {

// Errors a partition shows while its leader is being elected or loaded (right after the topic
// was created, or during a broker restart), or while its broker cannot be reached: asked again
// until the deadline.
bool is_transient(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__IN_PROGRESS:
      return true;
    default:
      return false;
  }
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

arrow::Result<std::vector<int64_t>> Admin::list_offsets(const std::string& topic,
                                                        const std::vector<int>& partitions,
                                                        int64_t timestamp, int timeout_ms) {
  // rd_kafka_offsets_for_times keeps its timeout (rd_kafka_query_watermark_offsets does not once
  // the leader's broker is down, librdkafka < 2.3); -2 / -1 are ListOffsets' earliest / latest.
  const int64_t deadline = steady_ms() + timeout_ms;
  int64_t missing_since = -1;  // when the cluster's metadata first lacked the topic
  while (true) {
    const int64_t left = deadline - steady_ms();
    TopicPartitionList list(rd_kafka_topic_partition_list_new(int(partitions.size())));
    for (int p : partitions) {
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = timestamp;
    }
    auto err = rd_kafka_offsets_for_times(
        rk_, list.get(), int(std::clamp<int64_t>(left, 1, std::min(timeout_ms, 5000))));
    std::vector<int64_t> out(partitions.size(), -1);
    for (int i = 0; !err && i < list->cnt; ++i) {
      const auto& e = list->elems[i];
      if (e.err) {
        err = e.err;
        break;
      }
      if (timestamp < 0 && e.offset < 0) {
        err = RD_KAFKA_RESP_ERR__IN_PROGRESS;  // no answer for it yet
        break;
      }
      for (size_t j = 0; j < partitions.size(); ++j) {
        if (partitions[j] == e.partition) out[j] = e.offset;
      }
    }
    if (!err) return out;
    const std::string what =
        fmt::format("offsets of topic '{}' partition(s) {}", topic, fmt::join(partitions, ","));
    if (!is_transient(err)) return error_status(err, what);
    // "Unknown topic" is transient while a new topic's leaders are elected, but final once the
    // topic was deleted: a topic the metadata has lacked for a second does not exist.
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
      auto count = partition_count(topic);  // a failed metadata call decides nothing
      if (!count.ok() || *count) {
        missing_since = -1;
      } else if (missing_since < 0) {
        missing_since = steady_ms();
      } else if (steady_ms() - missing_since >= 1000) {
        return arrow::Status::KeyError("topic '", topic, "' does not exist on the Kafka cluster");
      }
    }
    if (steady_ms() >= deadline) {
      return arrow::Status::IOError(what, ": no answer from the Kafka cluster within ", timeout_ms,
                                    " ms (", rd_kafka_err2str(err),
                                    "; is the partition leader's broker down?)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

arrow::Result<std::vector<PartitionWatermarks>> Admin::watermarks(
    const std::string& topic, const std::vector<int>& partitions) {
  ARROW_ASSIGN_OR_RAISE(auto low, list_offsets(topic, partitions, kOffsetEarliest));
  ARROW_ASSIGN_OR_RAISE(auto high, list_offsets(topic, partitions, kOffsetLatest));
  std::vector<PartitionWatermarks> out(partitions.size());
  for (size_t i = 0; i < partitions.size(); ++i) out[i] = {low[i], std::max(low[i], high[i])};
  return out;
}

arrow::Result<PartitionWatermarks> Admin::watermarks(const std::string& topic, int partition) {
  ARROW_ASSIGN_OR_RAISE(auto w, watermarks(topic, std::vector<int>{partition}));
  return w[0];
}

arrow::Result<std::vector<int64_t>> Admin::offsets_for_time(const std::string& topic,
                                                            int partitions, int64_t timestamp_ms) {
  std::vector<int> all(size_t(partitions), 0);
  for (int p = 0; p < partitions; ++p) all[size_t(p)] = p;
  ARROW_ASSIGN_OR_RAISE(auto out, list_offsets(topic, all, std::max<int64_t>(0, timestamp_ms)));
  for (int p = 0; p < partitions; ++p) {
    if (out[size_t(p)] >= 0) continue;
    // No record at or after the time: the end of the partition.
    ARROW_ASSIGN_OR_RAISE(auto w, watermarks(topic, p));
    out[size_t(p)] = w.high;
  }
  return out;
}

arrow::Result<std::optional<std::string>> Admin::topic_config(const std::string& topic,
                                                              const std::string& key) {
  rd_kafka_ConfigResource_t* resource =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  auto event = admin_call(rk_, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, "describing topic",
                          [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                            rd_kafka_DescribeConfigs(rk_, &resource, 1, o, q);
                          });
  rd_kafka_ConfigResource_destroy(resource);
  ARROW_RETURN_NOT_OK(event.status());
  size_t n = 0;
  const auto* resources = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(event->get()), &n);
  for (size_t i = 0; i < n; ++i) {
    if (rd_kafka_ConfigResource_error(resources[i])) {
      return arrow::Status::IOError("describing topic '", topic,
                                    "': ", rd_kafka_ConfigResource_error_string(resources[i]));
    }
    size_t count = 0;
    const auto* entries = rd_kafka_ConfigResource_configs(resources[i], &count);
    for (size_t k = 0; k < count; ++k) {
      const char* value = rd_kafka_ConfigEntry_value(entries[k]);
      if (key == rd_kafka_ConfigEntry_name(entries[k]) && value) return std::string(value);
    }
  }
  return std::nullopt;
}

arrow::Status Admin::wait_for_topic(const std::string& topic, int partitions, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const rd_kafka_metadata_t* raw = nullptr;
    if (rd_kafka_metadata(rk_, 1, nullptr, &raw, kRequestTimeoutMs) == 0) {
      Metadata metadata(raw);
      for (int i = 0; i < metadata->topic_cnt; ++i) {
        const auto& t = metadata->topics[i];
        if (topic != t.topic || t.err || t.partition_cnt < partitions) continue;
        bool led = true;
        for (int p = 0; p < t.partition_cnt; ++p) led &= t.partitions[p].leader >= 0;
        if (led) return arrow::Status::OK();
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return arrow::Status::IOError("topic '", topic, "' has no leader for its ", partitions,
                                    " partition(s) after ", timeout_ms, " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Properties properties_with_prefix(const std::map<std::string, std::string>& options,
                                  std::string_view prefix) {
  Properties out;
  for (const auto& [key, value] : options) {
    if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0) {
      out[key.substr(prefix.size())] = value;
    }
  }
  return out;
}

}  // namespace roadpulse::connect::kafka
