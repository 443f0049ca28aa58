#pragma once
// roadpulse::log — the embedded durable log, the raw layer's single source of truth.
//
// A LogStore owns a data directory (<data-dir>/streams/...). It holds named streams; a stream has
// shards, each an append-only sequence of records with dense, monotonic per-shard sequence numbers.
// Appends are acknowledged only after the configured durability. Partition keys map to shards by
// MD5 over the 128-bit hash-key space, exactly as Kinesis does. This header is the module's public
// contract; everything else in src/log is internal.
//
// Concurrency: every method is thread-safe. Appends from many threads to one shard are group
// committed. Readers never block appenders.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/buffer.h>
#include <arrow/result.h>
#include <arrow/status.h>

namespace roadpulse::log {

class FileSystem;  // file_system.h: the I/O interface (tests inject faults through it)

/// Position of a record within its shard. Strong type so a shard index is never passed as one.
struct SequenceNumber {
  uint64_t value = 0;
  friend auto operator<=>(const SequenceNumber&, const SequenceNumber&) = default;
};

/// A shard's index within its stream; printed as "shardId-000000000003".
struct ShardId {
  int32_t value = 0;
  friend auto operator<=>(const ShardId&, const ShardId&) = default;
  std::string to_string() const;
  static arrow::Result<ShardId> parse(std::string_view text);
};

/// 128-bit hash key, as Kinesis: MD5 of the partition key read as a big-endian integer.
using HashKey = unsigned __int128;
HashKey hash_key_of(std::string_view partition_key);
/// Decimal text of a hash key (Kinesis' StartingHashKey / ExplicitHashKey form).
std::string format_hash_key(HashKey key);
/// Parses a decimal hash key in [0, 2^128); Invalid naming the text otherwise.
arrow::Result<HashKey> parse_hash_key(std::string_view text);

/// Inclusive hash-key range of a shard.
struct HashRange {
  HashKey start = 0;
  HashKey end = 0;
  bool contains(HashKey key) const { return key >= start && key <= end; }
};
/// Kinesis' even split: step = floor(2^128 / count); shard i covers [i*step, (i+1)*step - 1],
/// the last one ends at 2^128 - 1.
HashRange uniform_hash_range(int index, int count);

enum class Durability {
  kFsync,     // fdatasync per commit group before acknowledging (default)
  kInterval,  // acknowledge after write; fdatasync every `sync_interval_ms`
  kNone,      // acknowledge after write; the OS decides
};

enum class Compression { kNone, kZstd, kLz4 };

struct LogOptions {
  std::string data_dir = "./roadpulse-data";
  Durability durability = Durability::kFsync;
  int64_t sync_interval_ms = 1000;
  Compression compression = Compression::kNone;
  int64_t segment_bytes = 256LL << 20;
  int64_t retention_ms = 24LL * 3600 * 1000;  // 24 h, like Kinesis
  int64_t retention_bytes = -1;               // per shard; -1 = unlimited
  int64_t segment_ms = 3600LL * 1000;   // roll the active segment after this age, so age-based
                                        // retention can remove data from quiet shards
  int64_t max_batch_bytes = 1LL << 20;  // group-commit cap: records per batch up to ~1 MiB
  bool retention_thread = true;         // run enforce_retention() every minute in the background
  /// I/O layer; null means the real disk. Shared because tests keep a handle to inject faults.
  std::shared_ptr<FileSystem> file_system;
};

/// One record to append.
struct AppendRecord {
  std::string_view partition_key;
  std::string_view data;
  std::optional<HashKey> explicit_hash_key;
};

struct AppendResult {
  ShardId shard;
  SequenceNumber sequence;
};

/// One record read back.
struct StoredRecord {
  ShardId shard;
  SequenceNumber sequence;
  int64_t arrival_ms = 0;  // approximate arrival timestamp, ms since epoch
  std::string partition_key;
  std::string data;
};

/// A record read back without a copy (LogStore::read_views): views into the result's buffers.
struct RecordView {
  SequenceNumber sequence;
  int64_t arrival_ms = 0;
  std::string_view partition_key;
  std::string_view data;
};

struct ShardDescription {
  ShardId id;
  std::optional<ShardId> parent;
  std::optional<ShardId> adjacent_parent;
  HashKey starting_hash_key = 0;
  HashKey ending_hash_key = 0;
  SequenceNumber starting_sequence;
  std::optional<SequenceNumber> ending_sequence;  // set once the shard is closed
  SequenceNumber next_sequence;                   // what the next append gets (if open)
  int64_t bytes = 0;
  int64_t records_last_minute = 0;  // for skew reporting (`stream describe`)
  int64_t records = 0;              // records retained (next_sequence - first retained)
  int64_t last_arrival_ms = 0;      // arrival time of the newest record, 0 when empty
};

/// A stream's figures summed over its shards (status pages, /metrics, the dashboard).
struct StreamTotals {
  int64_t records = 0;              // retained
  int64_t bytes = 0;                // retained
  int64_t records_last_minute = 0;  // appended in the last minute
  int64_t last_arrival_ms = 0;      // newest record's arrival, 0 when empty
  uint64_t appended = 0;            // ever appended (next sequence - first sequence)
};

struct StreamDescription {
  std::string name;
  int64_t created_ms = 0;
  int64_t retention_ms = 0;
  std::vector<ShardDescription> shards;  // open and closed shards, by id
  int open_shard_count() const;
  StreamTotals totals() const;
};

/// The dead-letter stream of `stream` (`<stream>.dlq`), where undecodable records go.
std::string dead_letter_stream_name(std::string_view stream);
bool is_dead_letter_stream(std::string_view name);

enum class StartKind { kTrimHorizon, kLatest, kAtSequence, kAfterSequence, kAtTimestamp };

struct StartPosition {
  StartKind kind = StartKind::kTrimHorizon;
  SequenceNumber sequence{};  // for kAtSequence / kAfterSequence
  int64_t timestamp_ms = 0;   // for kAtTimestamp
};

struct ReadResult {
  std::vector<StoredRecord> records;
  SequenceNumber next;               // where the next read continues
  bool end_of_closed_shard = false;  // the shard is closed and `next` is past its last record
  int64_t millis_behind_latest = 0;
};

/// read_views(): the records as views into `buffers` (mapped segment bytes or decompressed
/// payloads), valid while the result (or a copy of its buffer pointers) lives.
struct ReadViewsResult {
  ShardId shard;
  std::vector<RecordView> records;
  std::vector<std::shared_ptr<arrow::Buffer>> buffers;
  SequenceNumber next;               // where the next read continues
  bool end_of_closed_shard = false;  // the shard is closed and `next` is past its last record
  int64_t millis_behind_latest = 0;
};

class LogStore {
 public:
  /// Opens (creating if needed) the data directory, takes its lock file, and recovers every
  /// shard (truncating torn tails). Fails with IOError "... is in use by pid N ..." when another
  /// process holds the lock.
  static arrow::Result<std::unique_ptr<LogStore>> open(const LogOptions& options);
  virtual ~LogStore() = default;

  virtual arrow::Status create_stream(std::string_view name, int shard_count) = 0;
  virtual arrow::Status delete_stream(std::string_view name) = 0;
  virtual arrow::Result<std::vector<std::string>> list_streams() = 0;
  virtual arrow::Result<StreamDescription> describe_stream(std::string_view name) = 0;
  /// Uniform scaling: open shards close, children covering the same hash range open.
  virtual arrow::Status update_shard_count(std::string_view name, int target_shard_count) = 0;

  /// Appends records (routed by hash key to the open shard covering it) and returns once they are
  /// durable per LogOptions::durability. Results are in input order. All-or-nothing per call.
  virtual arrow::Result<std::vector<AppendResult>> append(
      std::string_view stream, std::span<const AppendRecord> records) = 0;

  /// Resolves a start position to the first sequence number to read in a shard.
  virtual arrow::Result<SequenceNumber> resolve(std::string_view stream, ShardId shard,
                                                const StartPosition& position) = 0;
  /// Reads up to `max_records` / about `max_bytes` from `from` on.
  virtual arrow::Result<ReadResult> read(std::string_view stream, ShardId shard,
                                         SequenceNumber from, int max_records,
                                         int64_t max_bytes) = 0;
  /// read() without copying the records: the embedded log gives views into its segment files'
  /// mapped bytes. The default (other stores) reads copies and gives views into them.
  virtual arrow::Result<ReadViewsResult> read_views(std::string_view stream, ShardId shard,
                                                    SequenceNumber from, int max_records,
                                                    int64_t max_bytes);
  /// Blocks until the shard has records at or after `from`, or `timeout_ms` passes.
  virtual arrow::Status wait_for_data(std::string_view stream, ShardId shard, SequenceNumber from,
                                      int64_t timeout_ms) = 0;
  /// Blocks until any of `positions` (shard, next sequence to read) has a visible record, one of
  /// those shards closes, or the timeout: a reader of several shards waits once for all of them
  /// instead of one shard at a time (which delays data arriving on the others).
  virtual arrow::Status wait_for_any(std::string_view stream,
                                     std::span<const std::pair<ShardId, SequenceNumber>> positions,
                                     int64_t timeout_ms) = 0;

  /// Durable named consumer positions: the next sequence number `consumer` will read per shard.
  virtual arrow::Status commit_position(std::string_view consumer, std::string_view stream,
                                        ShardId shard, SequenceNumber next) = 0;
  virtual arrow::Result<std::optional<SequenceNumber>> load_position(std::string_view consumer,
                                                                     std::string_view stream,
                                                                     ShardId shard) = 0;

  /// Deletes whole segments older than retention or beyond the size cap. Called periodically.
  virtual arrow::Status enforce_retention() = 0;

  /// Consumers known to have positions (for `roadpulse stream describe` and the archive).
  virtual arrow::Result<std::vector<std::string>> list_consumers() = 0;
  /// Syncs everything written so far (useful with Durability::kInterval / kNone).
  virtual arrow::Status flush() = 0;
};

}  // namespace roadpulse::log
