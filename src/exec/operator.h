#pragma once
// The operator interface of the execution engine (EXEC_DESIGN.md section 1).
//
// Operators push arrow::RecordBatch downstream through a Collector. Data and control travel in
// order on one channel: batches, watermarks, checkpoint barriers, end of data. Operators that only
// map batches (scan projection, filter, project, format encode/decode) are fused into one chain
// and called directly, without queues. Stateful operators (windows, later) use the snapshot hooks;
// their default implementations make a stateless operator correct with no code.

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <arrow/buffer.h>
#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/status.h>

namespace roadpulse::exec {

/// Event-time progress: no row with a smaller event time is expected any more. `idle` marks an
/// input that produces nothing for now and must not hold back the combined watermark.
struct Watermark {
  static constexpr int64_t kMax = std::numeric_limits<int64_t>::max();  // end of input
  static constexpr int64_t kMin = std::numeric_limits<int64_t>::min();  // nothing seen yet
  int64_t micros = kMin;
  bool idle = false;
};

/// Where an operator puts its output.
class Collector {
 public:
  virtual ~Collector() = default;
  virtual arrow::Status emit(std::shared_ptr<arrow::RecordBatch> batch) = 0;
  virtual arrow::Status emit_watermark(Watermark watermark) = 0;
};

/// The job's late-row side output (`table.exec.late-records.stream`, docs/sql.md): operators
/// that drop rows behind the watermark hand them here instead of only counting them.
class LateRowOutput {
 public:
  virtual ~LateRowOutput() = default;
  /// Rows `rows` of `batch` (the operator's input row) were dropped by `operator_name` for
  /// `reason` ("behind-watermark", "null-rowtime") while its watermark was `watermark`
  /// (Watermark::kMin: none yet). Called from the operator's thread.
  virtual arrow::Status late_rows(const std::string& operator_name, const char* reason,
                                  int64_t watermark, const arrow::RecordBatch& batch,
                                  const std::vector<int64_t>& rows) = 0;
};

/// What the runtime tells an operator about where it runs.
struct OperatorContext {
  std::string job_name;
  std::string operator_name;
  int subtask = 0;
  int parallelism = 1;
  /// The operator's state from the checkpoint the job resumes from (what its snapshot_state()
  /// returned then); null on a fresh start or for an operator that had no state.
  std::shared_ptr<arrow::Buffer> restored_state;
  /// The checkpoint the job resumes from (0 on a fresh start). Sources and sinks get their own
  /// part of it in restored_state too (docs/checkpoints.md).
  int64_t restored_checkpoint_id = 0;
  /// The sinks confirmed their commit of that checkpoint (its `_committed` marker exists); when
  /// false a sink must replay the commit.
  bool restored_commit_confirmed = false;
  /// Where late rows go besides the count; null when the job has no late-row side output.
  LateRowOutput* late_output = nullptr;
};

/// Counters an operator reports to the job summary (read while the job runs: keep them atomic).
struct OperatorMetrics {
  int64_t late_records = 0;  // rows dropped because every window they belong to had fired
};

class Operator {
 public:
  virtual ~Operator() = default;
  /// Human-readable name for logs and metrics ("Filter(Severity > 3)").
  virtual std::string name() const = 0;

  /// Called once before any batch. `context.restored_state` is null on a fresh start.
  virtual arrow::Status open(const OperatorContext& context) { return arrow::Status::OK(); }
  virtual arrow::Status process_batch(int input, std::shared_ptr<arrow::RecordBatch> batch,
                                      Collector& out) = 0;
  /// Stateless operators forward the watermark unchanged.
  virtual arrow::Status on_watermark(Watermark watermark, Collector& out) {
    return out.emit_watermark(watermark);
  }
  /// Processing-time tick (about every 200 ms while the job runs).
  virtual arrow::Status on_tick(int64_t now_micros, Collector& out) { return arrow::Status::OK(); }
  /// Checkpoint hooks: seal open state before the barrier moves on, snapshot, then learn that
  /// the checkpoint is durable (sinks commit here).
  virtual arrow::Status prepare_snapshot_pre_barrier(int64_t checkpoint_id, Collector& out) {
    return arrow::Status::OK();
  }
  /// The operator's state as of the barrier, after prepare_snapshot_pre_barrier: bytes the
  /// runtime stores in the checkpoint and hands back through OperatorContext::restored_state
  /// (Arrow IPC or a compact format of the operator's own). Null: no state.
  virtual arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t checkpoint_id) {
    return std::shared_ptr<arrow::Buffer>();
  }
  virtual arrow::Status notify_checkpoint_complete(int64_t checkpoint_id) {
    return arrow::Status::OK();
  }
  virtual OperatorMetrics metrics() const { return {}; }
  /// End of the operator's life. `end_of_data` is true when every input finished (a bounded job
  /// ending normally), false when the job is cancelled.
  virtual arrow::Status close(bool end_of_data, Collector& out) { return arrow::Status::OK(); }
};

}  // namespace roadpulse::exec
