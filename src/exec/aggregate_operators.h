#pragma once
// The stateful aggregation operators (EXEC_DESIGN.md section 3):
//  - WindowAggregateOperator: TUMBLE, HOP and CUMULATE windows by slices. Rows are added to the
//    partial state of their slice (a GroupTable); when the watermark passes a window's end the
//    window's slices are merged, finalized and emitted once (insert-only), and slices no later
//    window needs are freed.
//  - SessionWindowOperator: SESSION windows per partition key; rows wait in a buffer until their
//    session closes (last row + gap <= watermark), then are aggregated and emitted once.
//  - GroupAggregateOperator: GROUP BY without a window. On a bounded input it emits the final
//    result once at end of input (insert-only); on an unbounded one it emits a changelog: per
//    batch, every group it changed as -U (old row) and +U (new row), or +I for a new group.
// Rows whose windows already fired are late: dropped and counted (OperatorMetrics::late_records).
// Every operator snapshots its state to bytes (Arrow IPC of the partial state) and restores it
// in open().

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "exec/aggregate_state.h"
#include "exec/operator.h"
#include "sql/logical_plan.h"

namespace roadpulse::exec {

/// Name of the int8 column an updating result carries as its last column: Flink's RowKind
/// byte values (0 +I insert, 1 -U update-before, 2 +U update-after, 3 -D delete).
inline constexpr const char* kRowKindColumn = "_rowkind";
enum class RowKind : int8_t { kInsert = 0, kUpdateBefore = 1, kUpdateAfter = 2, kDelete = 3 };
/// "+I", "-U", "+U", "-D".
const char* row_kind_text(int8_t kind);
/// True when the batch's last column is the row kind.
bool has_row_kind(const arrow::RecordBatch& batch);

class WindowAggregateOperator final : public Operator {
 public:
  /// `node`: a kWindowAggregate with a TUMBLE, HOP or CUMULATE window.
  static arrow::Result<std::unique_ptr<WindowAggregateOperator>> make(const sql::LogicalNode& node);
  std::string name() const override { return name_; }
  arrow::Status open(const OperatorContext& context) override;
  arrow::Status process_batch(int input, std::shared_ptr<arrow::RecordBatch> batch,
                              Collector& out) override;
  arrow::Status on_watermark(Watermark watermark, Collector& out) override;
  /// Processing-time windows fire here, when the wall clock passes their end.
  arrow::Status on_tick(int64_t now_micros, Collector& out) override;
  arrow::Status close(bool end_of_data, Collector& out) override;
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t checkpoint_id) override;
  OperatorMetrics metrics() const override;

  /// Open slices (for tests and state-size figures).
  size_t open_slices() const { return slices_.size(); }

 private:
  WindowAggregateOperator() = default;
  // Fires every window ending at or before `time` + 1 (time = a watermark or the clock - 1).
  arrow::Status advance(int64_t time, Collector& out);
  int64_t slice_end(int64_t t) const;
  int64_t last_window_end(int64_t slice_end) const;
  void add_pending_ends(int64_t slice_end);
  arrow::Status add_rows(int64_t slice_end, const arrow::RecordBatch& rows);
  arrow::Status fire(int64_t window_end, Collector& out);
  arrow::Status emit(int64_t start, int64_t end, GroupTable& table, Collector& out);

  std::string name_;
  sql::WindowSpec window_;
  int64_t slice_micros_ = 0;
  std::vector<int> keys_;
  std::vector<std::shared_ptr<arrow::DataType>> key_types_;
  std::vector<AggregateSpec> specs_;
  std::shared_ptr<arrow::Schema> output_schema_;
  std::map<int64_t, std::unique_ptr<GroupTable>> slices_;  // by slice end
  std::set<int64_t> pending_ends_;                         // windows not fired yet
  bool proctime_ = false;  // on PROCTIME(): watermark_ follows the wall clock (on_tick)
  int64_t watermark_ = Watermark::kMin;
  std::atomic<int64_t> late_{0};
  LateRowOutput* late_output_ = nullptr;  // the job's late-row side output, if any
};

class SessionWindowOperator final : public Operator {
 public:
  static arrow::Result<std::unique_ptr<SessionWindowOperator>> make(const sql::LogicalNode& node);
  std::string name() const override { return name_; }
  arrow::Status open(const OperatorContext& context) override;
  arrow::Status process_batch(int input, std::shared_ptr<arrow::RecordBatch> batch,
                              Collector& out) override;
  arrow::Status on_watermark(Watermark watermark, Collector& out) override;
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t checkpoint_id) override;
  OperatorMetrics metrics() const override;

 private:
  struct Session {
    int64_t start;
    int64_t end;  // last row + gap
  };
  SessionWindowOperator() = default;
  std::string partition_of(const arrow::RecordBatch& batch, int64_t row) const;
  // Adds t to the partition's sessions unless the merged session already closed (late, when
  // `check_late`; a restore re-adds buffered rows in any order).
  bool insert(const std::string& partition, int64_t t, bool check_late);
  arrow::Status add(const std::shared_ptr<arrow::RecordBatch>& rows, bool check_late);

  std::string name_;
  int64_t gap_ = 0;
  int time_column_ = -1;
  std::vector<int> partition_keys_;
  std::vector<int> keys_;
  std::vector<std::shared_ptr<arrow::DataType>> key_types_;
  std::vector<AggregateSpec> specs_;
  std::shared_ptr<arrow::Schema> input_schema_;
  std::shared_ptr<arrow::Schema> output_schema_;
  std::unordered_map<std::string, std::vector<Session>> sessions_;  // sorted by start
  std::vector<std::shared_ptr<arrow::RecordBatch>> buffer_;         // rows of open sessions
  int64_t watermark_ = Watermark::kMin;
  std::atomic<int64_t> late_{0};
  LateRowOutput* late_output_ = nullptr;  // the job's late-row side output, if any
};

class GroupAggregateOperator final : public Operator {
 public:
  /// `node`: a kAggregate. `final_only`: the input is bounded, emit the result once at its end.
  static arrow::Result<std::unique_ptr<GroupAggregateOperator>> make(const sql::LogicalNode& node,
                                                                     bool final_only);
  std::string name() const override { return name_; }
  arrow::Status open(const OperatorContext& context) override;
  arrow::Status process_batch(int input, std::shared_ptr<arrow::RecordBatch> batch,
                              Collector& out) override;
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t checkpoint_id) override;
  arrow::Status close(bool end_of_data, Collector& out) override;
  bool updating() const { return !final_only_; }

 private:
  GroupAggregateOperator() = default;
  std::string name_;
  bool final_only_ = false;
  std::vector<int> keys_;
  std::vector<std::shared_ptr<arrow::DataType>> key_types_;
  std::vector<AggregateSpec> specs_;
  std::shared_ptr<arrow::Schema> output_schema_;  // without the row kind
  std::unique_ptr<GroupTable> table_;
};

/// Keep-first deduplication on event time (`ROW_NUMBER() OVER (PARTITION BY k ORDER BY rowtime)
/// = 1`): per key the row with the smallest event time is held until the watermark passes it,
/// then emitted once (insert-only, Flink's RowTimeDeduplicateKeepFirstRowFunction); later rows of
/// an emitted key are dropped, rows behind the watermark are late.
class DeduplicateOperator final : public Operator {
 public:
  static arrow::Result<std::unique_ptr<DeduplicateOperator>> make(const sql::LogicalNode& node);
  std::string name() const override { return name_; }
  arrow::Status open(const OperatorContext& context) override;
  arrow::Status process_batch(int input, std::shared_ptr<arrow::RecordBatch> batch,
                              Collector& out) override;
  arrow::Status on_watermark(Watermark watermark, Collector& out) override;
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t checkpoint_id) override;
  OperatorMetrics metrics() const override;

 private:
  struct Candidate {
    int64_t time;
    std::shared_ptr<arrow::RecordBatch> batch;
    int64_t row;
  };
  DeduplicateOperator() = default;
  arrow::Status add(const std::shared_ptr<arrow::RecordBatch>& batch, bool check_late);
  // The rows of `candidates` (sorted by time) as one batch.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> gather(std::vector<Candidate> candidates);

  std::string name_;
  std::vector<int> keys_;
  int time_column_ = -1;
  std::shared_ptr<arrow::Schema> schema_;
  std::unordered_map<std::string, Candidate> pending_;
  std::unordered_set<std::string> emitted_;
  int64_t watermark_ = Watermark::kMin;
  std::atomic<int64_t> late_{0};
  LateRowOutput* late_output_ = nullptr;  // the job's late-row side output, if any
};

/// ORDER BY [LIMIT] of a bounded input: keeps every row, sorts them at the end of the input
/// (Arrow's sort_indices + take; ASC puts NULLs first, DESC last, as Flink) and emits the first
/// `limit` rows.
class SortOperator final : public Operator {
 public:
  static arrow::Result<std::unique_ptr<SortOperator>> make(const sql::LogicalNode& node);
  std::string name() const override { return name_; }
  arrow::Status process_batch(int input, std::shared_ptr<arrow::RecordBatch> batch,
                              Collector& out) override;
  arrow::Status close(bool end_of_data, Collector& out) override;

 private:
  SortOperator() = default;
  std::string name_;
  std::shared_ptr<arrow::Schema> schema_;
  std::vector<sql::LogicalNode::SortKey> keys_;
  std::optional<int64_t> limit_;
  int64_t offset_ = 0;
  std::vector<std::shared_ptr<arrow::RecordBatch>> rows_;
  int64_t buffered_ = 0;
};

}  // namespace roadpulse::exec
