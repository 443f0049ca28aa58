#pragma once
// Operators of bounded (batch) queries that need a whole input before they can answer:
//
// - HashJoinOperator: INNER / LEFT equi-join. The right input (the build side, e.g. a small
//   dimension table) is run to its end as a nested bounded job when the operator opens; its rows
//   are numbered by key in Arrow's hash table (arrow::compute::Grouper, a SwissTable). The left
//   input then streams through the operator batch by batch (the probe side): Grouper::Lookup finds
//   each row's key, the matching build rows are gathered with Take, and the rest of the ON
//   condition filters the pairs. Output order follows the probe rows.
// - RankOperator: ROW_NUMBER / RANK / DENSE_RANK OVER (PARTITION BY ... ORDER BY ...): keeps the
//   input, sorts it by partition and order keys when it ends and appends the numbers.
//
// Why not Acero's HashJoinNode (libarrow_acero ships in the pyarrow wheel): it is a node of an
// Acero ExecPlan with its own scheduler and threads, while our chains are synchronous push
// operators; bridging would take a plan per query with async sources and sinks and give
// nondeterministic output order. The Grouper is the same hash table without the plan machinery.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <arrow/compute/row/grouper.h>

#include "exec/expression.h"
#include "exec/operator.h"
#include "sql/logical_plan.h"

namespace roadpulse::exec {

/// Runs the build side to its end and returns its rows (one batch of the right input's row).
using BuildSide = std::function<arrow::Result<std::shared_ptr<arrow::RecordBatch>>()>;

class HashJoinOperator final : public Operator {
 public:
  static arrow::Result<std::unique_ptr<HashJoinOperator>> make(const sql::LogicalNode& join,
                                                               BuildSide build);
  std::string name() const override { return name_; }
  /// Runs the build side and builds the hash table.
  arrow::Status open(const OperatorContext& context) override;
  arrow::Status process_batch(int input, std::shared_ptr<arrow::RecordBatch> batch,
                              Collector& out) override;
  int64_t build_rows() const { return build_ ? build_->num_rows() : 0; }

 private:
  HashJoinOperator() = default;
  arrow::Status build_table(std::shared_ptr<arrow::RecordBatch> rows);
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> gather(
      const arrow::RecordBatch& probe, const std::shared_ptr<arrow::Array>& probe_rows,
      const std::shared_ptr<arrow::Array>& build_rows) const;

  std::string name_;
  bool left_join_ = false;
  std::vector<int> left_keys_, right_keys_;
  std::shared_ptr<arrow::Schema> schema_, right_schema_;
  std::unique_ptr<CompiledExpr> residual_;
  BuildSide build_side_;
  std::shared_ptr<arrow::RecordBatch> build_;
  std::unique_ptr<arrow::compute::Grouper> grouper_;
  // Build rows by key id: rows of id g are rows_[offsets_[g] .. offsets_[g + 1]).
  std::vector<int64_t> offsets_;
  std::vector<int64_t> rows_;
};

class RankOperator final : public Operator {
 public:
  static arrow::Result<std::unique_ptr<RankOperator>> make(const sql::LogicalNode& node);
  std::string name() const override { return name_; }
  arrow::Status process_batch(int input, std::shared_ptr<arrow::RecordBatch> batch,
                              Collector& out) override;
  arrow::Status close(bool end_of_data, Collector& out) override;

 private:
  RankOperator() = default;
  std::string name_;
  std::shared_ptr<arrow::Schema> input_schema_, schema_;
  std::vector<int> partition_;
  std::vector<sql::LogicalNode::SortKey> order_;
  std::vector<std::string> functions_;
  std::vector<std::shared_ptr<arrow::RecordBatch>> rows_;
};

}  // namespace roadpulse::exec
