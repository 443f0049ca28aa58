#include "exec/join_operators.h"

#include <algorithm>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/compute/api.h>
#include <arrow/compute/exec.h>
#include <fmt/format.h>

#include "exec/aggregate_operators.h"

namespace roadpulse::exec {

namespace {

// Rows handed to the Grouper per call.
constexpr int64_t kGroupChunk = 1 << 15;
// Rows per batch a Rank emits.
constexpr int64_t kEmitRows = 1 << 16;

arrow::compute::ExecBatch key_batch(const arrow::RecordBatch& batch, const std::vector<int>& keys) {
  std::vector<arrow::Datum> values;
  for (int k : keys) values.emplace_back(batch.column(k));
  return arrow::compute::ExecBatch(std::move(values), batch.num_rows());
}

// Group ids of `keys` in `batch` (consumed into `grouper`), as one vector.
arrow::Result<std::vector<uint32_t>> consume_ids(arrow::compute::Grouper& grouper,
                                                 const arrow::RecordBatch& batch,
                                                 const std::vector<int>& keys) {
  auto exec = key_batch(batch, keys);
  arrow::compute::ExecSpan span(exec);
  std::vector<uint32_t> ids(size_t(batch.num_rows()));
  for (int64_t off = 0; off < batch.num_rows(); off += kGroupChunk) {
    const int64_t len = std::min(kGroupChunk, batch.num_rows() - off);
    ARROW_ASSIGN_OR_RAISE(auto d, grouper.Consume(span, off, len));
    auto arr = std::static_pointer_cast<arrow::UInt32Array>(d.make_array());
    std::copy(arr->raw_values(), arr->raw_values() + len, ids.begin() + off);
  }
  return ids;
}

// True for rows where none of `keys` is NULL (NULL keys never match in a join).
std::vector<bool> non_null_keys(const arrow::RecordBatch& batch, const std::vector<int>& keys) {
  std::vector<bool> ok(size_t(batch.num_rows()), true);
  for (int k : keys) {
    const auto& a = *batch.column(k);
    if (a.null_count() == 0) continue;
    for (int64_t i = 0; i < a.length(); ++i) {
      if (a.IsNull(i)) ok[size_t(i)] = false;
    }
  }
  return ok;
}

std::string key_names(const sql::LogicalNode& node) {
  std::vector<std::string> keys;
  const auto& l = node.inputs[0]->schema;
  const auto& r = node.inputs[1]->schema;
  for (size_t i = 0; i < node.left_keys.size(); ++i) {
    keys.push_back(fmt::format("{} = {}", l[node.left_keys[i]].name, r[node.right_keys[i]].name));
  }
  return fmt::format("{}", fmt::join(keys, " AND "));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// HashJoinOperator

arrow::Result<std::unique_ptr<HashJoinOperator>> HashJoinOperator::make(
    const sql::LogicalNode& node, BuildSide build) {
  if (node.kind != sql::LogicalNodeKind::kJoin || node.inputs.size() != 2 ||
      node.left_keys.empty() || node.left_keys.size() != node.right_keys.size()) {
    return arrow::Status::Invalid("HashJoinOperator needs a Join node with keys");
  }
  if (node.join_type != "INNER" && node.join_type != "LEFT") {
    return arrow::Status::NotImplemented(node.join_type, " JOIN is not supported yet");
  }
  ARROW_RETURN_NOT_OK(ensure_compute_kernels());
  std::unique_ptr<HashJoinOperator> op(new HashJoinOperator());
  op->left_join_ = node.join_type == "LEFT";
  op->left_keys_ = node.left_keys;
  op->right_keys_ = node.right_keys;
  op->schema_ = node.schema.to_arrow();
  op->right_schema_ = node.inputs[1]->schema.to_arrow();
  const auto left_schema = node.inputs[0]->schema.to_arrow();
  if (left_schema->num_fields() + op->right_schema_->num_fields() != op->schema_->num_fields()) {
    return arrow::Status::Invalid("join output has ", op->schema_->num_fields(),
                                  " columns for inputs of ", left_schema->num_fields(), " and ",
                                  op->right_schema_->num_fields());
  }
  for (size_t i = 0; i < op->left_keys_.size(); ++i) {
    const auto& lt = left_schema->field(op->left_keys_[i])->type();
    const auto& rt = op->right_schema_->field(op->right_keys_[i])->type();
    if (!lt->Equals(*rt)) {
      return arrow::Status::Invalid("join key ", i + 1, " compares ", lt->ToString(), " with ",
                                    rt->ToString());
    }
  }
  if (node.predicate) {
    ARROW_ASSIGN_OR_RAISE(op->residual_, CompiledExpr::compile(*node.predicate));
  }
  op->build_side_ = std::move(build);
  op->name_ = fmt::format("HashJoin(joinType=[{}], where=[{}]{}, build=[right])", node.join_type,
                          key_names(node),
                          node.predicate ? ", residual=[" + node.predicate->to_string() + "]" : "");
  return op;
}

arrow::Status HashJoinOperator::open(const OperatorContext&) {
  if (build_) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto rows, build_side_());
  return build_table(std::move(rows));
}

arrow::Status HashJoinOperator::build_table(std::shared_ptr<arrow::RecordBatch> rows) {
  if (rows->num_columns() != right_schema_->num_fields()) {
    return arrow::Status::Invalid(name_, ": the build side has ", rows->num_columns(),
                                  " columns, expected ", right_schema_->num_fields());
  }
  build_ = arrow::RecordBatch::Make(right_schema_, rows->num_rows(), rows->columns());
  std::vector<arrow::TypeHolder> types;
  for (int k : right_keys_) types.emplace_back(right_schema_->field(k)->type());
  ARROW_ASSIGN_OR_RAISE(grouper_, arrow::compute::Grouper::Make(types));
  ARROW_ASSIGN_OR_RAISE(auto ids, consume_ids(*grouper_, *build_, right_keys_));
  const auto valid = non_null_keys(*build_, right_keys_);
  // Counting sort of the build rows by key id: a CSR index from id to rows.
  offsets_.assign(size_t(grouper_->num_groups()) + 1, 0);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (valid[i]) ++offsets_[ids[i] + 1];
  }
  for (size_t g = 1; g < offsets_.size(); ++g) offsets_[g] += offsets_[g - 1];
  rows_.assign(size_t(offsets_.back()), 0);
  std::vector<int64_t> next(offsets_.begin(), offsets_.end() - 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (valid[i]) rows_[size_t(next[ids[i]]++)] = int64_t(i);
  }
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> HashJoinOperator::gather(
    const arrow::RecordBatch& probe, const std::shared_ptr<arrow::Array>& probe_rows,
    const std::shared_ptr<arrow::Array>& build_rows) const {
  std::vector<std::shared_ptr<arrow::Array>> columns;
  for (const auto& c : probe.columns()) {
    ARROW_ASSIGN_OR_RAISE(auto d, arrow::compute::Take(c, probe_rows));
    columns.push_back(d.make_array());
  }
  for (const auto& c : build_->columns()) {
    ARROW_ASSIGN_OR_RAISE(auto d, arrow::compute::Take(c, build_rows));
    columns.push_back(d.make_array());
  }
  return arrow::RecordBatch::Make(schema_, probe_rows->length(), std::move(columns));
}

arrow::Status HashJoinOperator::process_batch(int, std::shared_ptr<arrow::RecordBatch> batch,
                                              Collector& out) {
  if (has_row_kind(*batch)) {
    return arrow::Status::NotImplemented(name_, ": joining an updating result is not supported");
  }
  if (!grouper_) return arrow::Status::Invalid(name_, ": probed before its build side was read");
  auto exec = key_batch(*batch, left_keys_);
  ARROW_ASSIGN_OR_RAISE(auto looked, grouper_->Lookup(arrow::compute::ExecSpan(exec)));
  auto ids = std::static_pointer_cast<arrow::UInt32Array>(looked.make_array());
  const auto valid = non_null_keys(*batch, left_keys_);

  // Matching (probe row, build row) pairs; with no residual condition a LEFT join's unmatched
  // probe rows get their NULL row right away.
  arrow::Int64Builder probe_rows, build_rows;
  std::vector<int64_t> unmatched;
  const int64_t n = batch->num_rows();
  ARROW_RETURN_NOT_OK(probe_rows.Reserve(n));
  ARROW_RETURN_NOT_OK(build_rows.Reserve(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t begin = 0, end = 0;
    if (valid[size_t(i)] && ids->IsValid(i)) {
      const uint32_t g = ids->Value(i);
      begin = offsets_[g];
      end = offsets_[g + 1];
    }
    if (begin == end) {
      if (left_join_) unmatched.push_back(i);
      continue;
    }
    for (int64_t r = begin; r < end; ++r) {
      ARROW_RETURN_NOT_OK(probe_rows.Append(i));
      ARROW_RETURN_NOT_OK(build_rows.Append(rows_[size_t(r)]));
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto probe_idx, probe_rows.Finish());
  ARROW_ASSIGN_OR_RAISE(auto build_idx, build_rows.Finish());
  if (probe_idx->length() > 0) {
    ARROW_ASSIGN_OR_RAISE(auto joined, gather(*batch, probe_idx, build_idx));
    if (residual_) {
      ARROW_ASSIGN_OR_RAISE(auto mask, residual_->evaluate_array(*joined));
      const auto& bools = static_cast<const arrow::BooleanArray&>(*mask);
      if (left_join_) {
        // A probe row whose every pair failed the condition gets its NULL row.
        std::vector<bool> matched(size_t(n), false);
        const auto* p = std::static_pointer_cast<arrow::Int64Array>(probe_idx)->raw_values();
        for (int64_t k = 0; k < joined->num_rows(); ++k) {
          if (bools.IsValid(k) && bools.Value(k)) matched[size_t(p[k])] = true;
        }
        for (int64_t k = 0; k < joined->num_rows(); ++k) {
          if (!matched[size_t(p[k])]) {
            unmatched.push_back(p[k]);
            matched[size_t(p[k])] = true;  // once
          }
        }
      }
      ARROW_ASSIGN_OR_RAISE(auto kept, arrow::compute::Filter(joined, mask));
      joined = kept.record_batch();
    }
    if (joined->num_rows() > 0) ARROW_RETURN_NOT_OK(out.emit(std::move(joined)));
  }
  if (!unmatched.empty()) {
    std::sort(unmatched.begin(), unmatched.end());
    arrow::Int64Builder p;
    ARROW_RETURN_NOT_OK(p.AppendValues(unmatched));
    ARROW_ASSIGN_OR_RAISE(auto pi, p.Finish());
    ARROW_ASSIGN_OR_RAISE(auto nulls, arrow::MakeArrayOfNull(arrow::int64(), pi->length()));
    ARROW_ASSIGN_OR_RAISE(auto extended, gather(*batch, pi, nulls));
    ARROW_RETURN_NOT_OK(out.emit(std::move(extended)));
  }
  return arrow::Status::OK();
}

// ---------------------------------------------------------------------------------------------
// RankOperator

arrow::Result<std::unique_ptr<RankOperator>> RankOperator::make(const sql::LogicalNode& node) {
  if (node.kind != sql::LogicalNodeKind::kRank || node.inputs.size() != 1 ||
      node.rank_functions.empty()) {
    return arrow::Status::Invalid("RankOperator needs a Rank node");
  }
  ARROW_RETURN_NOT_OK(ensure_compute_kernels());
  std::unique_ptr<RankOperator> op(new RankOperator());
  op->input_schema_ = node.inputs[0]->schema.to_arrow();
  op->schema_ = node.schema.to_arrow();
  op->partition_ = node.group_keys;
  op->order_ = node.sort_keys;
  op->functions_ = node.rank_functions;
  if (op->schema_->num_fields() !=
      op->input_schema_->num_fields() + static_cast<int>(op->functions_.size())) {
    return arrow::Status::Invalid("Rank node: output columns do not match its input");
  }
  for (const auto& f : op->functions_) {
    if (f != "ROW_NUMBER" && f != "RANK" && f != "DENSE_RANK") {
      return arrow::Status::NotImplemented("window function ", f, " is not supported yet");
    }
  }
  std::vector<std::string> parts, order, fns;
  for (int k : op->partition_) parts.push_back(op->input_schema_->field(k)->name());
  for (const auto& k : op->order_) {
    order.push_back(op->input_schema_->field(k.column)->name() + (k.descending ? " DESC" : ""));
  }
  for (const auto& f : op->functions_) fns.push_back(f + "()");
  op->name_ = fmt::format("Rank({} OVER (PARTITION BY {} ORDER BY {}))", fmt::join(fns, ", "),
                          fmt::join(parts, ", "), fmt::join(order, ", "));
  return op;
}

arrow::Status RankOperator::process_batch(int, std::shared_ptr<arrow::RecordBatch> batch,
                                          Collector&) {
  if (has_row_kind(*batch)) {
    return arrow::Status::NotImplemented(name_, ": ranking an updating result is not supported");
  }
  rows_.push_back(arrow::RecordBatch::Make(input_schema_, batch->num_rows(), batch->columns()));
  return arrow::Status::OK();
}

arrow::Status RankOperator::close(bool end_of_data, Collector& out) {
  if (!end_of_data || rows_.empty()) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto all,
                        arrow::ConcatenateRecordBatches(rows_, arrow::default_memory_pool()));
  rows_.clear();
  const int64_t n = all->num_rows();
  if (n == 0) return arrow::Status::OK();
  // Partitions are numbered by Arrow's hash table first (equal keys, equal ids; NULLs are one
  // partition), so the sort compares one uint32 instead of the partition's strings. Then sort
  // by (partition id, the OVER's ORDER BY; Flink: ASC puts NULLs first, DESC last).
  const size_t rows = static_cast<size_t>(n);
  std::vector<uint32_t> part(rows, 0);
  std::vector<arrow::compute::SortKey> keys;
  std::shared_ptr<arrow::RecordBatch> keyed = all;
  if (!partition_.empty()) {
    std::vector<arrow::TypeHolder> types;
    for (int k : partition_) types.emplace_back(input_schema_->field(k)->type());
    ARROW_ASSIGN_OR_RAISE(auto grouper, arrow::compute::Grouper::Make(types));
    ARROW_ASSIGN_OR_RAISE(part, consume_ids(*grouper, *all, partition_));
    arrow::UInt32Builder ids;
    ARROW_RETURN_NOT_OK(ids.AppendValues(part));
    ARROW_ASSIGN_OR_RAISE(auto id_array, ids.Finish());
    ARROW_ASSIGN_OR_RAISE(
        keyed,
        all->AddColumn(all->num_columns(), arrow::field("$partition", arrow::uint32()), id_array));
    keys.emplace_back(arrow::FieldRef(all->num_columns()));
  }
  for (const auto& k : order_) {
    keys.emplace_back(
        arrow::FieldRef(k.column),
        k.descending ? arrow::compute::SortOrder::Descending : arrow::compute::SortOrder::Ascending,
        k.descending ? arrow::compute::NullPlacement::AtEnd
                     : arrow::compute::NullPlacement::AtStart);
  }
  if (!keys.empty()) {
    ARROW_ASSIGN_OR_RAISE(
        auto indices,
        arrow::compute::SortIndices(arrow::Datum(keyed), arrow::compute::SortOptions(keys)));
    ARROW_ASSIGN_OR_RAISE(auto taken,
                          arrow::compute::Take(arrow::Datum(all), arrow::Datum(indices)));
    all = taken.record_batch();
    const auto* idx = std::static_pointer_cast<arrow::UInt64Array>(indices)->raw_values();
    std::vector<uint32_t> sorted(rows);
    for (size_t i = 0; i < rows; ++i) sorted[i] = part[idx[i]];
    part = std::move(sorted);
  }
  // Peers (ties of the ORDER BY within a partition): each row against the one before it, by
  // Arrow's `equal` per order column (two NULLs are peers).
  std::vector<bool> peer(rows, false);
  if (!order_.empty() && n > 1) {
    std::fill(peer.begin() + 1, peer.end(), true);
    for (const auto& k : order_) {
      auto col = all->column(k.column);
      auto cur = col->Slice(1), prev = col->Slice(0, n - 1);
      ARROW_ASSIGN_OR_RAISE(auto eq, arrow::compute::CallFunction("equal", {cur, prev}));
      auto same = std::static_pointer_cast<arrow::BooleanArray>(eq.make_array());
      for (int64_t i = 0; i + 1 < n; ++i) {
        const bool equal = same->IsValid(i) ? same->Value(i) : cur->IsNull(i) && prev->IsNull(i);
        if (!equal) peer[size_t(i + 1)] = false;
      }
    }
  }
  std::vector<int64_t> row_number(rows), rank(rows), dense(rows);
  for (size_t u = 0; u < rows; ++u) {
    if (u == 0 || part[u] != part[u - 1]) {
      row_number[u] = rank[u] = dense[u] = 1;
    } else {
      row_number[u] = row_number[u - 1] + 1;
      rank[u] = peer[u] ? rank[u - 1] : row_number[u];
      dense[u] = peer[u] ? dense[u - 1] : dense[u - 1] + 1;
    }
  }
  std::vector<std::shared_ptr<arrow::Array>> columns = all->columns();
  for (const auto& f : functions_) {
    const auto& v = f == "ROW_NUMBER" ? row_number : f == "RANK" ? rank : dense;
    arrow::Int64Builder b;
    ARROW_RETURN_NOT_OK(b.AppendValues(v));
    ARROW_ASSIGN_OR_RAISE(auto a, b.Finish());
    columns.push_back(std::move(a));
  }
  auto ranked = arrow::RecordBatch::Make(schema_, n, std::move(columns));
  for (int64_t off = 0; off < n; off += kEmitRows) {
    ARROW_RETURN_NOT_OK(out.emit(ranked->Slice(off, std::min(kEmitRows, n - off))));
  }
  return arrow::Status::OK();
}

}  // namespace roadpulse::exec
