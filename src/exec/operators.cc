#include "exec/operators.h"

#include <algorithm>

#include <arrow/array.h>
#include <arrow/compute/api.h>
#include <arrow/scalar.h>
#include <fmt/format.h>

#include "common/time.h"
#include "exec/aggregate_operators.h"

namespace roadpulse::exec {

namespace {

std::string join_exprs(const std::vector<std::unique_ptr<sql::BoundExpr>>& exprs) {
  std::string out;
  for (size_t i = 0; i < exprs.size(); ++i) {
    if (i) out += ", ";
    out += exprs[i]->to_string();
  }
  return out;
}

int passthrough_of(const sql::BoundExpr& e) {
  return e.kind == sql::BoundExprKind::kColumnRef ? e.column_index : -1;
}

// Evaluates `exprs` into a batch of `schema`; plain column references reuse the input array.
arrow::Result<std::shared_ptr<arrow::RecordBatch>> project(
    const arrow::RecordBatch& batch, const std::shared_ptr<arrow::Schema>& schema,
    const std::vector<std::unique_ptr<CompiledExpr>>& exprs, const std::vector<int>& passthrough) {
  std::vector<std::shared_ptr<arrow::Array>> columns;
  columns.reserve(exprs.size());
  for (size_t i = 0; i < exprs.size(); ++i) {
    const int p = passthrough[i];
    if (p >= 0 && p < batch.num_columns() &&
        batch.column(p)->type()->Equals(*schema->field(int(i))->type())) {
      columns.push_back(batch.column(p));
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(auto array, exprs[i]->evaluate_array(batch));
    columns.push_back(std::move(array));
  }
  return arrow::RecordBatch::Make(schema, batch.num_rows(), std::move(columns));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

arrow::Result<std::unique_ptr<ScanOperator>> ScanOperator::make(const sql::LogicalNode& scan,
                                                                std::vector<int> positions,
                                                                int64_t idle_timeout_micros) {
  std::unique_ptr<ScanOperator> op(new ScanOperator());
  op->valve_ = WatermarkValve(idle_timeout_micros);
  op->positions_ = std::move(positions);
  op->read_schema_ = scan.read_schema().to_arrow();
  op->output_schema_ = scan.schema.to_arrow();
  if (int(scan.outputs.size()) != op->output_schema_->num_fields()) {
    return arrow::Status::Invalid("scan of ", scan.table->name, ": ", scan.outputs.size(),
                                  " outputs for ", op->output_schema_->num_fields(), " columns");
  }
  for (const auto& e : scan.outputs) {
    ARROW_ASSIGN_OR_RAISE(auto compiled, CompiledExpr::compile(*e, &op->eval_));
    op->outputs_.push_back(std::move(compiled));
    op->passthrough_.push_back(passthrough_of(*e));
  }
  if (scan.watermark && scan.watermark->expr) {
    ARROW_ASSIGN_OR_RAISE(op->watermark_, CompiledExpr::compile(*scan.watermark->expr));
  }
  std::string filter;
  if (scan.pushed_filter) {
    ARROW_ASSIGN_OR_RAISE(op->filter_, CompiledExpr::compile(*scan.pushed_filter, &op->eval_));
    filter = ", filter=[" + scan.pushed_filter->to_string() + "]";
  }
  op->name_ = fmt::format("Scan(table=[{}], fields=[{}]{})", scan.table->name,
                          fmt::join(op->output_schema_->field_names(), ", "), filter);
  return op;
}

arrow::Status ScanOperator::open(const OperatorContext& context) {
  if (context.restored_state && watermark_) {
    ARROW_RETURN_NOT_OK(valve_.restore(
        std::string_view(reinterpret_cast<const char*>(context.restored_state->data()),
                         size_t(context.restored_state->size()))));
  }
  return arrow::Status::OK();
}

arrow::Status ScanOperator::process_split(int split, std::shared_ptr<arrow::RecordBatch> batch,
                                          Collector& out) {
  eval_.watermark = valve_.current();
  std::vector<std::shared_ptr<arrow::Array>> read_columns;
  read_columns.reserve(positions_.size());
  for (int p : positions_) read_columns.push_back(batch->column(p));
  auto read = arrow::RecordBatch::Make(read_schema_, batch->num_rows(), std::move(read_columns));
  ARROW_ASSIGN_OR_RAISE(auto output, project(*read, output_schema_, outputs_, passthrough_));
  // The watermark candidate comes from every row, before the filter (Flink assigns watermarks in
  // the source), but is emitted after the rows: rows of this batch are not late to themselves.
  int64_t candidate = Watermark::kMin;
  if (watermark_ && output->num_rows() > 0) {
    ARROW_ASSIGN_OR_RAISE(auto wm, watermark_->evaluate_array(*output));
    ARROW_ASSIGN_OR_RAISE(auto max, arrow::compute::MinMax(wm));
    const auto& pair = static_cast<const arrow::StructScalar&>(*max.scalar());
    const auto& hi = static_cast<const arrow::TimestampScalar&>(*pair.value[1]);
    if (hi.is_valid) candidate = hi.value;
  }
  if (filter_) {
    ARROW_ASSIGN_OR_RAISE(output, filter_batch(output, *filter_));
  }
  if (output->num_rows() > 0) ARROW_RETURN_NOT_OK(out.emit(std::move(output)));
  if (watermark_) {
    if (auto advanced = valve_.on_split(split, candidate, now_micros())) {
      ARROW_RETURN_NOT_OK(out.emit_watermark(*advanced));
    }
  }
  return arrow::Status::OK();
}

arrow::Status ScanOperator::on_tick(int64_t now, Collector& out) {
  if (!watermark_) return arrow::Status::OK();
  if (auto advanced = valve_.on_tick(now)) return out.emit_watermark(*advanced);
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::Buffer>> ScanOperator::snapshot_state(int64_t) {
  if (!watermark_) return std::shared_ptr<arrow::Buffer>();
  return arrow::Buffer::FromString(valve_.serialize());
}

arrow::Status ScanOperator::close(bool end_of_data, Collector& out) {
  // End of input: every window may fire.
  if (end_of_data && watermark_) return out.emit_watermark(Watermark{Watermark::kMax, false});
  return arrow::Status::OK();
}

// ---------------------------------------------------------------------------------------------

arrow::Result<std::unique_ptr<FilterOperator>> FilterOperator::make(
    const sql::BoundExpr& predicate) {
  auto op = std::make_unique<FilterOperator>();
  ARROW_ASSIGN_OR_RAISE(op->predicate_, CompiledExpr::compile(predicate, &op->eval_));
  op->name_ = "Filter(" + predicate.to_string() + ")";
  return op;
}

arrow::Status FilterOperator::process_batch(int, std::shared_ptr<arrow::RecordBatch> batch,
                                            Collector& out) {
  ARROW_ASSIGN_OR_RAISE(auto filtered, filter_batch(batch, *predicate_));
  if (filtered->num_rows() == 0) return arrow::Status::OK();
  return out.emit(std::move(filtered));
}

arrow::Status FilterOperator::on_watermark(Watermark watermark, Collector& out) {
  eval_.watermark = std::max(eval_.watermark, watermark.micros);
  return out.emit_watermark(watermark);
}

// ---------------------------------------------------------------------------------------------

arrow::Result<std::unique_ptr<ProjectOperator>> ProjectOperator::make(
    const std::vector<std::unique_ptr<sql::BoundExpr>>& exprs, const sql::Schema& schema) {
  auto op = std::make_unique<ProjectOperator>();
  op->schema_ = schema.to_arrow();
  if (int(exprs.size()) != op->schema_->num_fields()) {
    return arrow::Status::Invalid("projection has ", exprs.size(), " expressions for ",
                                  op->schema_->num_fields(), " columns");
  }
  for (const auto& e : exprs) {
    ARROW_ASSIGN_OR_RAISE(auto compiled, CompiledExpr::compile(*e, &op->eval_));
    op->exprs_.push_back(std::move(compiled));
    op->passthrough_.push_back(passthrough_of(*e));
  }
  op->name_ = "Project(" + join_exprs(exprs) + ")";
  return op;
}

arrow::Status ProjectOperator::process_batch(int, std::shared_ptr<arrow::RecordBatch> batch,
                                             Collector& out) {
  ARROW_ASSIGN_OR_RAISE(auto projected, project(*batch, schema_, exprs_, passthrough_));
  if (has_row_kind(*batch)) {
    // An updating input keeps its row kind through the projection.
    const int last = batch->num_columns() - 1;
    ARROW_ASSIGN_OR_RAISE(
        projected, projected->AddColumn(projected->num_columns(), batch->schema()->field(last),
                                        batch->column(last)));
  }
  return out.emit(std::move(projected));
}

arrow::Status ProjectOperator::on_watermark(Watermark watermark, Collector& out) {
  eval_.watermark = std::max(eval_.watermark, watermark.micros);
  return out.emit_watermark(watermark);
}

// ---------------------------------------------------------------------------------------------

arrow::Status SharedSink::open(const OperatorContext& context) {
  std::lock_guard lock(mutex_);
  if (opened_) return arrow::Status::OK();
  opened_ = true;
  return sink_->open(context);
}

arrow::Status SharedSink::write(std::shared_ptr<arrow::RecordBatch> batch) {
  std::vector<int8_t> kinds;
  if (has_row_kind(*batch)) {
    // An updating result: the row kind travels as the last column; the sink gets it apart.
    const auto& k = static_cast<const arrow::Int8Array&>(*batch->column(batch->num_columns() - 1));
    kinds.assign(k.raw_values(), k.raw_values() + k.length());
    ARROW_ASSIGN_OR_RAISE(batch, batch->RemoveColumn(batch->num_columns() - 1));
  }
  if (batch->num_columns() != schema_->num_fields()) {
    return arrow::Status::Invalid("sink ", table_, " expects ", schema_->num_fields(),
                                  " columns, got ", batch->num_columns());
  }
  std::vector<std::shared_ptr<arrow::Array>> columns = batch->columns();
  for (int i = 0; i < batch->num_columns(); ++i) {
    if (!columns[size_t(i)]->type()->Equals(*schema_->field(i)->type())) {
      ARROW_ASSIGN_OR_RAISE(
          auto cast,
          arrow::compute::Cast(arrow::Datum(columns[size_t(i)]),
                               arrow::compute::CastOptions::Unsafe(schema_->field(i)->type())));
      columns[size_t(i)] = cast.make_array();
    }
  }
  auto renamed = arrow::RecordBatch::Make(schema_, batch->num_rows(), std::move(columns));
  std::lock_guard lock(mutex_);
  if (closed_) return arrow::Status::Invalid("sink ", table_, " written after close");
  if (!kinds.empty()) return sink_->write_changelog(renamed, kinds);
  return sink_->write(renamed);
}

arrow::Status SharedSink::close(bool end_of_data) {
  std::lock_guard lock(mutex_);
  if (closed_ || !opened_) return arrow::Status::OK();
  closed_ = true;
  return sink_->close(end_of_data);
}

arrow::Result<std::shared_ptr<arrow::Buffer>> SharedSink::prepare_checkpoint(
    int64_t checkpoint_id) {
  std::lock_guard lock(mutex_);
  if (closed_) return arrow::Status::Invalid("sink ", table_, " checkpointed after close");
  ARROW_RETURN_NOT_OK(sink_->prepare_commit(checkpoint_id));
  return sink_->snapshot_state(checkpoint_id);
}

arrow::Status SharedSink::commit_checkpoint(int64_t checkpoint_id) {
  std::lock_guard lock(mutex_);
  if (closed_) return arrow::Status::Invalid("sink ", table_, " committed after close");
  return sink_->commit(checkpoint_id);
}

int64_t SharedSink::rows_written() const {
  std::lock_guard lock(mutex_);
  return sink_->rows_written();
}

arrow::Status SinkOperator::process_batch(int, std::shared_ptr<arrow::RecordBatch> batch,
                                          Collector&) {
  return sink_->write(batch);
}

}  // namespace roadpulse::exec
