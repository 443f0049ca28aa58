#pragma once
// roadpulse::archive — the raw archive (the Firehose-to-S3 role): reads every shard of a raw
// stream from durable consumer positions and writes the records, one JSON object per line,
// zstd-compressed, to `<lake>/raw/<stream>/dt=YYYY-MM-DD/hour=HH/part-<shard>-<seq>.jsonl.zst`,
// partitioned by the hour the records arrived in the log (UTC), as Firehose partitions by
// arrival time. Records are buffered until a size or an age hint is reached (Firehose's
// defaults: 5 MiB, 300 s), then flushed.
//
// Exactly-once across kill -9: a flush writes every file under a hidden staging name and
// fsyncs it, then writes an intent (`_archive/pending.json`: staging -> final names, the
// per-shard positions after the flush) atomically, renames the files into place, adds them to
// the catalog and only then commits the consumer positions and deletes the intent. On open, a
// leftover intent is rolled forward (its files are complete: they were fsynced before it was
// written), so a crash anywhere leaves each record in exactly one file. Files are named by
// their first record's (shard, sequence), so even a rewrite lands on the same name.
//
// Records must be JSON objects; records that are not (or are empty) go to
// `<lake>/raw/<stream>/_errors/dt=.../hour=.../` as JSON lines carrying the reason, the
// position and the record's bytes in base64 (Firehose's error-output form). A record whose
// bytes contain line breaks (multi-line JSON, as the reference simulator sends) has each CR
// and LF replaced by a space: JSON allows them only between tokens, so the value is unchanged,
// the length is unchanged, and every record stays one line. All other bytes are kept exactly.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "lake/lake.h"
#include "log/log.h"

namespace roadpulse::archive {

struct ArchiveOptions {
  std::string stream;
  std::string lake_dir;  // usually <data-dir>/lake; the archive goes to <lake_dir>/raw/<stream>
  std::string consumer = "roadpulse-archive";  // name of the durable consumer positions
  int64_t buffer_bytes = 5LL << 20;            // flush once this many record bytes are buffered
  int64_t buffer_interval_ms = 300'000;        // ... or the oldest buffered record is this old
  int compression_level = 1;  // zstd level: 1 keeps ~95% of level 3's ratio at half the CPU
  int read_records = 10'000;  // records per log read
  /// Register `raw.<stream>` (format json) in <lake_dir>/_catalog and add each file to it.
  bool register_table = true;
};

struct ArchiveStats {
  int64_t records = 0;             // records written to data files
  int64_t bytes = 0;               // their bytes (uncompressed, without newlines)
  int64_t bytes_written = 0;       // compressed bytes of the files written
  int64_t files = 0;               // data and error files written
  int64_t error_records = 0;       // records written under _errors/
  int64_t normalized_records = 0;  // multi-line records whose line breaks became spaces
  int64_t expired_records = 0;     // records retention removed before they were archived
  int64_t flushes = 0;
  int64_t last_flush_ms = 0;  // wall clock of the last flush, 0 before the first
  int64_t buffered_records = 0;
};

/// A record the archive cannot write as a JSON line: the reason, else nullopt.
std::optional<std::string> check_record(std::string_view data);
/// `dt=YYYY-MM-DD/hour=HH` of an arrival time (ms since the epoch, UTC).
std::string hour_partition(int64_t arrival_ms);
/// `part-<shardId>-<20-digit sequence>.jsonl.zst`: named by the file's first record.
std::string data_file_name(log::ShardId shard, log::SequenceNumber first);
/// The catalog name of a stream's archive: `raw.<stream>`.
std::string archive_table_name(const std::string& stream);
/// The JSON line written under _errors/ for a rejected record (no trailing newline).
std::string error_line(const log::StoredRecord& record, const std::string& reason);

/// The stats as Prometheus exposition lines (HELP/TYPE included), labelled stream="<stream>":
/// roadpulse_archive_records_total, _bytes_total, _written_bytes_total, _files_total,
/// _error_records_total, _expired_records_total, _buffered_records, _last_flush_timestamp_seconds.
std::string prometheus_text(const std::string& stream, const ArchiveStats& stats);

/// zstd-compresses `data` as one frame (content size recorded) at `level`.
arrow::Result<std::string> zstd_compress(std::string_view data, int level);
/// Decompresses every frame of `data` (tests and readers).
arrow::Result<std::string> zstd_decompress(std::string_view data);

/// Archives one stream. Use either run_once() or start()/stop(), not both at once.
/// Thread-safety: stats() from any thread; the other methods from one controlling thread.
class RawArchive {
 public:
  /// Opens the archive of `options.stream` (which must exist in `log`), rolls a leftover flush
  /// intent forward, removes stale staging files and registers the catalog table. `log` must
  /// outlive the archive.
  static arrow::Result<std::unique_ptr<RawArchive>> make(ArchiveOptions options,
                                                         log::LogStore* log);
  ~RawArchive();  // stop()s when running

  /// Archives everything in the stream now (up to each shard's end as of the call) and flushes.
  arrow::Status run_once();
  /// Archives in a background thread until stop(): reads, buffers, flushes on the hints.
  arrow::Status start();
  /// Stops the background thread, flushes what is buffered and returns the error that stopped
  /// the thread: a failed flush (nothing after it is committed). Errors reading the stream (a
  /// Kafka broker restarting) commit nothing and are retried with backoff (500 ms to 30 s).
  arrow::Status stop();
  ArchiveStats stats() const;
  const ArchiveOptions& options() const { return options_; }

 private:
  RawArchive(ArchiveOptions options, log::LogStore* log);
  arrow::Status recover();
  /// The catalog prototype; infers the record schema from `sample` (JSON lines) when the
  /// table is not registered yet.
  arrow::Result<lake::TableEntry> table_prototype(std::string_view sample);
  arrow::Status publish(const std::vector<lake::CommittedFile>& files, std::string_view sample);
  /// Reads one batch from each shard with data; returns records read. `limits`: stop each shard
  /// there (run_once), or none.
  arrow::Result<int64_t> poll(const std::map<int32_t, uint64_t>* limits);
  arrow::Status refresh_shards();
  arrow::Status flush();
  void run_loop();

  const ArchiveOptions options_;
  log::LogStore* const log_;
  const std::string root_;  // <lake>/raw/<stream>

  // Owned by the controlling/background thread.
  std::map<int32_t, uint64_t> next_;       // shard -> next sequence to read
  std::map<int32_t, bool> finished_;       // closed shard read to its end
  std::map<int32_t, uint64_t> committed_;  // shard -> committed position
  std::vector<log::StoredRecord> buffer_;
  int64_t buffer_bytes_ = 0;
  int64_t buffer_started_ms_ = 0;
  int64_t last_refresh_ms_ = 0;
  uint64_t rotate_ = 0;                     // first shard of the next poll
  std::unique_ptr<lake::Catalog> catalog_;  // null unless register_table
  std::optional<lake::TableEntry> table_;   // the catalog entry's prototype, once known

  mutable std::mutex stats_mu_;
  ArchiveStats stats_;

  std::thread thread_;
  std::atomic<bool> stopping_{false};
  arrow::Status thread_status_;
};

}  // namespace roadpulse::archive
