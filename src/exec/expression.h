#pragma once
// Evaluation of the SQL front end's bound expressions over Arrow record batches.
//
// An expression is compiled once per operator (unknown functions and unsupported casts fail at
// plan time, naming the function) and evaluated per batch. Where Arrow has a kernel with the same
// semantics it is used (comparisons, and_kleene/or_kleene, is_null, utf8_upper, arithmetic,
// coalesce, if_else, temporal extraction); where Flink's semantics differ or Arrow has no kernel we
// run our own row loops (CAST from strings, LIKE, SPLIT_INDEX, DATE_FORMAT with Java patterns,
// SUBSTRING, REGEXP_EXTRACT, TIMESTAMPADD/DIFF, ...). Flink wins where the two disagree.

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include <arrow/datum.h>
#include <arrow/record_batch.h>
#include <arrow/result.h>

#include "sql/bound_expression.h"

namespace roadpulse::exec {

/// What an expression may read from the operator evaluating it, besides the batch. The operator
/// owns it, keeps it up to date and outlives the expressions compiled against it.
struct EvalContext {
  /// The operator's current input watermark in epoch micros (CURRENT_WATERMARK);
  /// std::numeric_limits<int64_t>::min() before the first one.
  int64_t watermark = std::numeric_limits<int64_t>::min();
};

class CompiledExpr {
 public:
  /// Checks every node is supported and prepares constant arguments (regexes, LIKE patterns).
  /// `context` (may be null: CURRENT_WATERMARK is then NULL) is read at every evaluation.
  static arrow::Result<std::unique_ptr<CompiledExpr>> compile(const sql::BoundExpr& expr,
                                                              const EvalContext* context = nullptr);
  virtual ~CompiledExpr() = default;

  /// The result type (expr.type.to_arrow()).
  virtual const std::shared_ptr<arrow::DataType>& type() const = 0;
  /// Evaluates over `batch`; the result is an array of batch.num_rows() or a scalar.
  virtual arrow::Result<arrow::Datum> evaluate(const arrow::RecordBatch& batch) const = 0;
  /// Evaluates and always returns an array of batch.num_rows() of type().
  arrow::Result<std::shared_ptr<arrow::Array>> evaluate_array(
      const arrow::RecordBatch& batch) const;
};

/// Registers Arrow's compute kernels (once per process; Arrow >= 21 needs this before any
/// compute call). compile() calls it; other code using arrow::compute directly should too.
arrow::Status ensure_compute_kernels();

/// Evaluates a constant expression (no column references) to a scalar.
arrow::Result<std::shared_ptr<arrow::Scalar>> evaluate_constant(const sql::BoundExpr& expr);

/// Keeps the rows where `predicate` is TRUE (FALSE and NULL drop the row).
arrow::Result<std::shared_ptr<arrow::RecordBatch>> filter_batch(
    const std::shared_ptr<arrow::RecordBatch>& batch, const CompiledExpr& predicate);

}  // namespace roadpulse::exec
