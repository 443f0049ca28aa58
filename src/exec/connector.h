#pragma once
// The interfaces exec runs and src/connect implements: a Source produces record batches of a
// table's read row, a Sink consumes batches of a table's physical row, and a ConnectorFactory
// makes them from catalog tables (by their 'connector' option). exec knows nothing of streams,
// files or alerts: those live behind these interfaces.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <arrow/buffer.h>
#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/status.h>

#include "exec/operator.h"
#include "sql/catalog.h"

namespace roadpulse::exec {

/// Options of a table as a job sees them: the WITH clause, with session overrides applied.
using TableOptions = std::map<std::string, std::string>;

struct SourceSpec {
  std::shared_ptr<const sql::CatalogTable> table;
  /// Physical columns to produce (indices into table->columns), in this order.
  std::vector<int> read_columns;
  /// The batches' schema: the read columns' names and Arrow types.
  std::shared_ptr<arrow::Schema> read_schema;
  TableOptions options;
  /// The job's session configuration (SET), for session-wide connector settings such as
  /// 'streams.backend'.
  std::map<std::string, std::string> session;
};

struct SinkSpec {
  std::shared_ptr<const sql::CatalogTable> table;
  /// The batches' schema: the table's physical columns.
  std::shared_ptr<arrow::Schema> schema;
  TableOptions options;
  /// The job's session configuration (SET), as in SourceSpec.
  std::map<std::string, std::string> session;
  bool overwrite = false;
};

struct SourceChunk {
  std::shared_ptr<arrow::RecordBatch> batch;  // null when nothing arrived within the timeout
  bool end_of_input = false;                  // a bounded source is done
  /// The source partition (shard, file, Kafka partition) every row of `batch` came from, for
  /// per-partition watermarks; -1 when the source does not tell (one partition).
  int split = -1;
};

/// How far one source partition (shard, Kafka partition) is behind its tip: the records appended
/// after the job's position, and (when the log keeps append times) how much older the job's
/// position is than the newest record — Kinesis' MillisBehindLatest.
struct SplitLag {
  std::string split;  // "shardId-000000000001", "topic/3"
  int64_t records = 0;
  int64_t millis = -1;  // -1: the source cannot tell
};

struct SourceMetrics {
  int64_t records_read = 0;      // records that became rows
  int64_t records_rejected = 0;  // undecodable records (sent to the dead-letter stream or dropped)
};

class Source {
 public:
  virtual ~Source() = default;
  virtual std::string name() const = 0;
  /// True when the source ends by itself (files, datagen with number-of-rows).
  virtual bool bounded() const = 0;
  virtual arrow::Status open(const OperatorContext& context) { return arrow::Status::OK(); }
  /// The next batch, waiting at most `timeout_ms` for data. Never called again after a chunk
  /// with end_of_input.
  virtual arrow::Result<SourceChunk> next(int64_t timeout_ms) = 0;
  /// Where the source stands after everything next() returned so far, stored in checkpoint
  /// `checkpoint_id`. On resume open() receives it in OperatorContext::restored_state and must
  /// continue right after it. Null: the source cannot resume and starts over as configured
  /// (at-least-once for that source; docs/checkpoints.md).
  virtual arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_position(int64_t checkpoint_id) {
    return std::shared_ptr<arrow::Buffer>();
  }
  /// A checkpoint covering everything returned so far is durable: commit read positions.
  virtual arrow::Status notify_checkpoint_complete(int64_t checkpoint_id) {
    return arrow::Status::OK();
  }
  virtual arrow::Status close() { return arrow::Status::OK(); }
  virtual SourceMetrics metrics() const = 0;
  /// Per-split backlog, for `roadpulse jobs` and /metrics. Called from other threads while the
  /// job runs (also before open() and after close()), so it must be thread-safe and cheap:
  /// in-memory metadata only, no I/O. Empty: the source has no tip (files, datagen) or is not
  /// open.
  virtual std::vector<SplitLag> lag() const { return {}; }
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::string name() const = 0;
  virtual arrow::Status open(const OperatorContext& context) { return arrow::Status::OK(); }
  virtual arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch) = 0;
  /// True when the sink takes an updating result (Flink's changelog: insert, update-before,
  /// update-after, delete rows); an append-only sink gets a planning error instead.
  virtual bool accepts_changelog() const { return false; }
  /// Rows of an updating result: `kinds[i]` is row i's RowKind byte (0 +I, 1 -U, 2 +U, 3 -D).
  virtual arrow::Status write_changelog(const std::shared_ptr<arrow::RecordBatch>& batch,
                                        const std::vector<int8_t>& kinds) {
    return arrow::Status::NotImplemented(name(), " is append-only");
  }
  /// Make everything written so far ready to commit (close in-progress files, flush buffers).
  /// Called at every checkpoint while no writer runs (exec/checkpoint_*, EXEC_DESIGN.md §5).
  virtual arrow::Status prepare_commit(int64_t checkpoint_id) { return arrow::Status::OK(); }
  /// After prepare_commit(): what commit() of this checkpoint needs (staged file names, stream
  /// positions), stored durably in the checkpoint. On resume open() receives it in
  /// OperatorContext::restored_state (with restored_checkpoint_id) and must (re)commit it
  /// idempotently — the crash may have come before or after the commit — and discard or
  /// deduplicate whatever was written after it. Null: nothing to keep.
  virtual arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t checkpoint_id) {
    return std::shared_ptr<arrow::Buffer>();
  }
  /// The checkpoint is durable: make what was prepared for it (and earlier) visible.
  virtual arrow::Status commit(int64_t checkpoint_id) { return arrow::Status::OK(); }
  /// `end_of_data`: the job finished normally (commit everything) rather than being cancelled.
  virtual arrow::Status close(bool end_of_data) { return arrow::Status::OK(); }
  virtual int64_t rows_written() const = 0;
};

class ConnectorFactory {
 public:
  virtual ~ConnectorFactory() = default;
  virtual arrow::Result<std::unique_ptr<Source>> make_source(const SourceSpec& spec) = 0;
  virtual arrow::Result<std::unique_ptr<Sink>> make_sink(const SinkSpec& spec) = 0;
};

}  // namespace roadpulse::exec
