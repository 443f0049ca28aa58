#pragma once
// A thin layer over librdkafka's C API for the kafka connector, the Kafka streams backend of
// `kinesis`/`stream` tables and `roadpulse stream --kafka`: RAII handles, configuration from a
// property map (errors name the property), the admin calls roadpulse needs (topics, partitions,
// watermarks, offsets for a time) and the Kinesis hash-key partitioner, so a partition key lands
// on the same partition index as on the embedded log's shard of the same index.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>
#include <librdkafka/rdkafka.h>

#include "log/log.h"

namespace roadpulse::connect::kafka {

/// librdkafka properties ("bootstrap.servers", "security.protocol", "sasl.*", ...).
using Properties = std::map<std::string, std::string>;

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
using Queue = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;

struct TopicPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using TopicPartitionList =
    std::unique_ptr<rd_kafka_topic_partition_list_t, TopicPartitionListDeleter>;

/// Timeout of metadata and admin requests.
constexpr int kRequestTimeoutMs = 15000;

/// An error status for `err` with `context` ("producing to topic 't'").
arrow::Status error_status(rd_kafka_resp_err_t err, std::string_view context);

/// A configuration with every property set; fails naming the property librdkafka rejected.
/// `where` prefixes the property name in messages (e.g. "properties." for table options).
arrow::Result<rd_kafka_conf_t*> make_conf(const Properties& properties, std::string_view where);

/// A producer or consumer handle. Takes ownership of `conf` (also on failure).
arrow::Result<Handle> make_handle(rd_kafka_type_t type, rd_kafka_conf_t* conf);

/// Partition of a topic with `partitions` partitions for a Kinesis partition key: the MD5 hash
/// key's position among `partitions` uniform hash ranges (the embedded log's shard index).
int hash_key_partition(std::string_view partition_key, int partitions);

struct PartitionWatermarks {
  int64_t low = 0;  // first retained offset
  // The end: the next offset to be written, or for a handle with isolation.level =
  // read_committed (librdkafka's default) the last stable offset (the first offset of a
  // transaction still open), the end a read_committed consumer reaches.
  int64_t high = 0;
};

/// Partition `partition` of a topic with `partitions` partitions as a Kinesis shard: the hash
/// range the embedded log gives that shard index, offsets as sequence numbers.
log::ShardDescription partition_as_shard(int partition, int partitions,
                                         const PartitionWatermarks& marks);

/// ListOffsets "timestamps" of list_offsets().
constexpr int64_t kOffsetEarliest = -2;
constexpr int64_t kOffsetLatest = -1;

/// Topic administration and metadata over one handle (a producer, which needs no group).
class Admin {
 public:
  static arrow::Result<std::unique_ptr<Admin>> make(const Properties& properties,
                                                    std::string_view where);
  /// Uses an existing handle (not owned).
  explicit Admin(rd_kafka_t* rk) : rk_(rk) {}

  rd_kafka_t* handle() const { return rk_; }
  /// Number of partitions, or nullopt when the topic does not exist.
  arrow::Result<std::optional<int>> partition_count(const std::string& topic);
  /// Every topic, internal ones (starting with "__") left out, sorted.
  arrow::Result<std::vector<std::string>> list_topics();
  arrow::Status create_topic(const std::string& topic, int partitions,
                             const Properties& topic_config = {});
  arrow::Status delete_topic(const std::string& topic);
  /// Grows the topic to `partitions` partitions (Kafka cannot shrink a topic).
  arrow::Status create_partitions(const std::string& topic, int partitions);
  /// First and end offsets of a partition. Through ListOffsets with a timeout (never
  /// rd_kafka_query_watermark_offsets, which blocks forever once the partition leader's broker
  /// is down in librdkafka < 2.3); fails with a timeout error naming the topic instead.
  arrow::Result<PartitionWatermarks> watermarks(const std::string& topic, int partition);
  /// The same for several partitions of a topic in one request per broker.
  arrow::Result<std::vector<PartitionWatermarks>> watermarks(const std::string& topic,
                                                             const std::vector<int>& partitions);
  /// ListOffsets for `partitions` of `topic` at `timestamp`: kOffsetEarliest, kOffsetLatest, or
  /// a time in ms (the first offset whose timestamp is >= it; -1 for a partition without one).
  /// Errors a partition shows while its leader moves or loads are retried; gives up with a
  /// timeout error after `timeout_ms` (the broker is down or unreachable).
  arrow::Result<std::vector<int64_t>> list_offsets(const std::string& topic,
                                                   const std::vector<int>& partitions,
                                                   int64_t timestamp,
                                                   int timeout_ms = kRequestTimeoutMs);
  /// For each partition, the first offset whose timestamp is >= `timestamp_ms`, or the high
  /// watermark when there is none.
  arrow::Result<std::vector<int64_t>> offsets_for_time(const std::string& topic, int partitions,
                                                       int64_t timestamp_ms);
  /// A topic configuration value (e.g. "retention.ms"); nullopt when the broker does not say.
  arrow::Result<std::optional<std::string>> topic_config(const std::string& topic,
                                                         const std::string& key);
  /// Waits until the topic's metadata shows `partitions` partitions with leaders (after create).
  arrow::Status wait_for_topic(const std::string& topic, int partitions, int timeout_ms);

 private:
  Admin(Handle owned) : owned_(std::move(owned)), rk_(owned_.get()) {}
  Handle owned_;
  rd_kafka_t* rk_;
};

/// Properties for a table's `properties.*` options (the prefix removed).
Properties properties_with_prefix(const std::map<std::string, std::string>& options,
                                  std::string_view prefix);

}  // namespace roadpulse::connect::kafka
