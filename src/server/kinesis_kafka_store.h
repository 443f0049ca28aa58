#pragma once
// roadpulse::server — Kafka as the stream store behind the Kinesis API and the raw archive.
//
// The stream-store interface is log::LogStore (src/log/log.h): create/delete/list/describe
// streams, append with partition key or explicit hash key, resolve a start position (TRIM_HORIZON,
// LATEST, AT/AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP), read from a position, wait for data, durable
// consumer positions. The embedded log is one implementation; make_kafka_stream_store() returns
// the other, on a Kafka cluster:
//   - a stream is the topic of its name (created and deleted through the Admin API), its shards
//     are the topic's partitions (shardId-00000000000N = partition N), sequence numbers are
//     offsets; hash-key ranges are Kinesis' uniform split, and a record goes to the partition
//     whose range holds its explicit hash key or the MD5 of its partition key, the embedded
//     log's routing, so a key lands on the same shard index on both backends;
//   - appends are acknowledged once Kafka has them with acks=all on an idempotent producer
//     (no duplicates from the client's internal retries), concurrent appends share batches;
//   - AT_TIMESTAMP uses offsetsForTimes on the record timestamps (CreateTime, set at append);
//   - consumer positions (the raw archive's) are files under `positions_dir`, written
//     atomically and fsynced, so the archive's exactly-once protocol is the same on both
//     backends; the directory is locked by the process using it.
// What Kinesis has and Kafka does not: shards never close (UpdateShardCount, split and merge
// fail with Invalid naming why: Kafka can only add partitions, which re-routes keys); the stream
// creation time is unknown to Kafka, so it is reported as 0 and sequence numbers do not tell
// incarnations of a same-named topic apart; bytes and records-per-minute are not reported.
//
// Thread-safe: appends from many threads share one producer; reads use a small pool of consumer
// handles, each assigned to one partition and kept at its position, so a reader that continues
// where it stopped reads from the handle's prefetched queue.

#include <memory>
#include <string>

#include <arrow/result.h>

#include "connect/kafka_client.h"
#include "log/log.h"

namespace roadpulse::server {

struct KafkaStoreOptions {
  /// librdkafka properties: bootstrap.servers, security.protocol, sasl.*, ssl.* ...
  connect::kafka::Properties properties;
  /// Where durable consumer positions live (e.g. <data-dir>/kafka-positions); locked.
  std::string positions_dir;
  /// Prefix of error messages naming a property ("streams.kafka.", "--kafka-property ").
  std::string where = "streams.kafka.";
  /// A read whose start is below the high watermark waits at most this long for the fetch.
  int64_t read_wait_ms = 2000;
  /// How long a topic's partition count is trusted before asking the cluster again.
  int64_t metadata_ttl_ms = 2000;
};

/// Connects (producer + admin), takes the positions directory's lock and returns the store.
arrow::Result<std::unique_ptr<log::LogStore>> make_kafka_stream_store(KafkaStoreOptions options);

}  // namespace roadpulse::server
