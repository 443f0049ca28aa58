#pragma once
// The mapping operators fused into pipeline chains: the scan's projection/watermark/filter, a
// filter, a projection, and the sink writer at the end of a chain.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "exec/connector.h"
#include "exec/expression.h"
#include "exec/operator.h"
#include "exec/watermark.h"
#include "sql/logical_plan.h"

namespace roadpulse::exec {

/// Turns a shared source's batch into one scan's output row: picks this scan's read columns out
/// of the shared read row, evaluates the outputs (computed columns), advances the watermark from
/// the rowtime expression (before filtering, as Flink assigns watermarks in the source), and
/// applies the pushed filter.
class ScanOperator final : public Operator {
 public:
  /// `positions[i]`: where scan read column i sits in the shared source batch.
  /// `idle_timeout_micros` > 0: a split silent that long stops holding the watermark back.
  static arrow::Result<std::unique_ptr<ScanOperator>> make(const sql::LogicalNode& scan,
                                                           std::vector<int> positions,
                                                           int64_t idle_timeout_micros = 0);
  std::string name() const override { return name_; }
  arrow::Status open(const OperatorContext& context) override;
  /// A batch of one source split (SourceChunk::split; -1 = the source does not tell).
  arrow::Status process_split(int split, std::shared_ptr<arrow::RecordBatch> batch, Collector& out);
  arrow::Status process_batch(int input, std::shared_ptr<arrow::RecordBatch> batch,
                              Collector& out) override {
    return process_split(-1, std::move(batch), out);
  }
  arrow::Status on_tick(int64_t now_micros, Collector& out) override;
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t checkpoint_id) override;
  arrow::Status close(bool end_of_data, Collector& out) override;

 private:
  ScanOperator() = default;
  std::string name_;
  std::vector<int> positions_;
  std::shared_ptr<arrow::Schema> read_schema_;
  std::shared_ptr<arrow::Schema> output_schema_;
  std::vector<std::unique_ptr<CompiledExpr>> outputs_;
  std::vector<int> passthrough_;  // per output: read column index when a plain column ref, else -1
  std::unique_ptr<CompiledExpr> watermark_;
  std::unique_ptr<CompiledExpr> filter_;
  WatermarkValve valve_;
  EvalContext eval_;  // CURRENT_WATERMARK: the valve's output before the batch at hand
};

class FilterOperator final : public Operator {
 public:
  static arrow::Result<std::unique_ptr<FilterOperator>> make(const sql::BoundExpr& predicate);
  std::string name() const override { return name_; }
  arrow::Status process_batch(int input, std::shared_ptr<arrow::RecordBatch> batch,
                              Collector& out) override;
  arrow::Status on_watermark(Watermark watermark, Collector& out) override;

 private:
  std::string name_;
  EvalContext eval_;  // declared before the expressions that point at it
  std::unique_ptr<CompiledExpr> predicate_;
};

class ProjectOperator final : public Operator {
 public:
  static arrow::Result<std::unique_ptr<ProjectOperator>> make(
      const std::vector<std::unique_ptr<sql::BoundExpr>>& exprs, const sql::Schema& schema);
  std::string name() const override { return name_; }
  arrow::Status process_batch(int input, std::shared_ptr<arrow::RecordBatch> batch,
                              Collector& out) override;
  arrow::Status on_watermark(Watermark watermark, Collector& out) override;

 private:
  std::string name_;
  EvalContext eval_;
  std::shared_ptr<arrow::Schema> schema_;
  std::vector<std::unique_ptr<CompiledExpr>> exprs_;
  std::vector<int> passthrough_;
};

/// A sink shared by the chains that feed it; writes are serialized and counted.
class SharedSink {
 public:
  SharedSink(std::unique_ptr<Sink> sink, std::shared_ptr<arrow::Schema> schema, std::string table,
             std::string connector)
      : sink_(std::move(sink)),
        schema_(std::move(schema)),
        table_(std::move(table)),
        connector_(std::move(connector)) {}
  arrow::Status open(const OperatorContext& context);
  /// A batch of the sink's row; a trailing `_rowkind` column makes it changelog rows.
  arrow::Status write(std::shared_ptr<arrow::RecordBatch> batch);
  arrow::Status close(bool end_of_data);
  /// Checkpoint steps, serialized with writes: prepare_commit + snapshot_state, then commit.
  arrow::Result<std::shared_ptr<arrow::Buffer>> prepare_checkpoint(int64_t checkpoint_id);
  arrow::Status commit_checkpoint(int64_t checkpoint_id);
  Sink& sink() { return *sink_; }
  const std::string& table() const { return table_; }
  const std::string& connector() const { return connector_; }
  int64_t rows_written() const;

 private:
  mutable std::mutex mutex_;
  std::unique_ptr<Sink> sink_;
  std::shared_ptr<arrow::Schema> schema_;
  std::string table_;
  std::string connector_;
  bool opened_ = false;
  bool closed_ = false;
};

/// The end of a chain: hands batches to a SharedSink (renaming columns to the table's names).
class SinkOperator final : public Operator {
 public:
  explicit SinkOperator(std::shared_ptr<SharedSink> sink) : sink_(std::move(sink)) {}
  std::string name() const override { return "Sink(" + sink_->table() + ")"; }
  arrow::Status process_batch(int input, std::shared_ptr<arrow::RecordBatch> batch,
                              Collector& out) override;
  arrow::Status on_watermark(Watermark watermark, Collector& out) override {
    return arrow::Status::OK();
  }

 private:
  std::shared_ptr<SharedSink> sink_;
};

}  // namespace roadpulse::exec
