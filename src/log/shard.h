#pragma once
// One shard: a directory of segment files, its in-memory sparse index, the group-commit append
// path and the recovery scan (internal to src/log; see format.h for the bytes).
//
// Lifecycle: Shard::open() recovers (or creates) the directory; append()/read() run concurrently
// from any thread; close() syncs and writes the clean-shutdown checkpoint. After any write or
// sync error the shard is failed: pending and later appends get the error, nothing further is
// acknowledged, and only reopening (which recovers from what is on disk) clears it.
//
// Group commit (leader/follower, no dedicated threads): appenders queue requests; whichever
// caller finds no writer becomes the writer, takes up to max_batch_bytes of queued records,
// writes them as one batch and leaves; whichever finds no sync in flight syncs everything
// written so far and acknowledges every request it covers. Writing the next batch overlaps the
// previous batch's fdatasync.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "log/file_system.h"
#include "log/format.h"
#include "log/log.h"

namespace roadpulse::log {

/// Wakes readers waiting on any shard of a stream (LogStore::wait_for_any): every shard of the
/// stream bumps `version` when records become visible or the shard closes.
struct DataSignal {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t version = 0;
  void notify() {
    {
      std::lock_guard lock(mu);
      ++version;
    }
    cv.notify_all();
  }
};

struct ShardOptions {
  Durability durability = Durability::kFsync;
  Compression compression = Compression::kNone;
  int64_t segment_bytes = 256LL << 20;
  int64_t segment_ms = 3600LL * 1000;
  int64_t max_batch_bytes = 1LL << 20;
  std::shared_ptr<DataSignal> signal;  // the stream's; null: none
};

/// One append request to one shard; the caller owns it and waits on it.
struct AppendRequest {
  std::vector<const AppendRecord*> records;
  int64_t bytes = 0;
  uint64_t first_sequence = 0;  // assigned when written
  bool done = false;
  arrow::Status status;
  // Each waiter sleeps on its own condition variable, so a finished sync wakes exactly the
  // appenders it acknowledged (and one more to take a free role), not every appender.
  std::condition_variable cv;
  bool waiting = false;
};

struct IndexEntry {
  uint64_t base_sequence;
  int64_t offset;
  int64_t timestamp_ms;  // first record's arrival time in that batch
};

struct Segment {
  std::string path;
  uint64_t base_sequence = 0;
  uint32_t epoch = 0;
  std::shared_ptr<File> file;  // shared with readers that outlive a retention delete
  // Guarded by the shard's mutex:
  int64_t end = kSegmentHeaderSize;  // end of batch data
  uint64_t end_sequence = 0;
  int64_t first_ts = 0;  // 0 while empty
  int64_t max_ts = 0;
  int64_t allocated = 0;
  int64_t created_ms = 0;
  bool sealed = false;
  std::vector<IndexEntry> index;
};

struct ShardStats {
  uint64_t first_sequence = 0;  // trim horizon
  uint64_t next_sequence = 0;
  int64_t bytes = 0;
  int64_t last_arrival_ms = 0;
  int segments = 0;
};

class Shard {
 public:
  /// Opens or creates the shard directory. `starting_sequence` is used when it has no segments.
  static arrow::Result<std::unique_ptr<Shard>> open(FileSystem* fs, std::string dir, ShardId id,
                                                    uint64_t starting_sequence,
                                                    const ShardOptions& options);
  ~Shard();

  ShardId id() const { return id_; }

  /// Queues a request; then wait() drives it to completion (possibly leading the group).
  void enqueue(AppendRequest* request);
  arrow::Status wait(AppendRequest* request);

  /// Syncs everything written so far (interval durability, flush, close).
  arrow::Status sync();

  arrow::Result<uint64_t> resolve(const StartPosition& position);
  arrow::Result<ReadResult> read(uint64_t from, int max_records, int64_t max_bytes);
  /// read() as views into the segment files' mapped bytes (see LogStore::read_views).
  arrow::Result<ReadViewsResult> read_views(uint64_t from, int max_records, int64_t max_bytes);
  /// Blocks until a record at or after `from` is visible, the shard closes, or the timeout.
  void wait_for_data(uint64_t from, int64_t timeout_ms);
  /// True when wait_for_data(from, ...) would return at once.
  bool has_data(uint64_t from);

  /// Stops accepting appends (resharding). Returns the ending sequence: one past the last record.
  arrow::Result<uint64_t> close_for_appends();
  void mark_closed(uint64_t ending_sequence);  // on open, for shards the meta says are closed
  bool closed() const;

  ShardStats stats();
  /// Number of records that arrived at or after `since_ms`.
  arrow::Result<int64_t> records_since(int64_t since_ms);

  /// Deletes sealed segments whose newest record is older than `min_ts_ms` or while the shard
  /// holds more than `max_bytes` (-1: no cap). Never the active segment.
  arrow::Status enforce_retention(int64_t min_ts_ms, int64_t max_bytes);

  /// Syncs and records the clean-shutdown checkpoint. Safe to call twice.
  arrow::Status close();

 private:
  Shard(FileSystem* fs, std::string dir, ShardId id, const ShardOptions& options);
  arrow::Status recover(uint64_t starting_sequence);
  arrow::Status recover_sealed(Segment& segment);
  arrow::Status recover_active(Segment& segment, int64_t checkpoint);
  arrow::Result<std::shared_ptr<Segment>> create_segment(uint64_t base_sequence);
  arrow::Status write_index(const Segment& segment);
  bool load_index(Segment& segment);
  arrow::Status roll();  // writer only
  void run_writer(std::unique_lock<std::mutex>& lock);
  void run_syncer(std::unique_lock<std::mutex>& lock);
  void fail(const arrow::Status& status);  // mu_ held
  void wake_for_roles();                   // mu_ held: wake one waiter per free role
  void complete_durable();                 // mu_ held
  uint64_t visible_sequence() const;       // mu_ held
  void notify_readers();                   // mu_ held: data_cv_ and the stream's signal

  FileSystem* fs_;
  const std::string dir_;
  const ShardId id_;
  const ShardOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // sync(), roll() and close() waiting for roles to free
  std::condition_variable data_cv_;  // new visible records
  std::vector<std::shared_ptr<Segment>> segments_;
  std::deque<AppendRequest*> pending_;          // queued, not yet written
  std::deque<AppendRequest*> inflight_;         // written, waiting for the sync
  uint64_t next_sequence_ = 0;                  // assigned to the next record taken by the writer
  uint64_t written_sequence_ = 0;               // one past the last record written to the file
  uint64_t durable_sequence_ = 0;               // one past the last record known synced
  int64_t synced_offset_ = kSegmentHeaderSize;  // in the active segment
  int64_t last_ts_ = 0;
  bool writing_ = false;
  bool syncing_ = false;
  bool rolling_ = false;
  bool closed_ = false;     // no more appends (resharded)
  bool shut_down_ = false;  // close() ran
  arrow::Status failed_;
  std::pair<uint64_t, int64_t> checkpoint_{~uint64_t{0}, 0};  // as loaded: (segment, offset)
};

int64_t now_ms();

}  // namespace roadpulse::log
