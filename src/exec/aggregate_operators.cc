#include "exec/aggregate_operators.h"

#include <algorithm>
#include <atomic>

#include <arrow/array/concatenate.h>
#include <arrow/builder.h>
#include <arrow/compute/api.h>
#include <arrow/record_batch.h>
#include <fmt/format.h>

namespace roadpulse::exec {

namespace {

constexpr int64_t kStateVersion = 1;
constexpr int64_t kMilli = 1000;  // window_time = window_end - 1 ms (micros)

// The header every event-time operator's state starts with: format version, watermark, rows
// dropped as late.
void put_event_time_header(std::string& out, int64_t watermark, int64_t late) {
  put_i64(out, kStateVersion);
  put_i64(out, watermark);
  put_i64(out, late);
}

arrow::Status take_event_time_header(std::string_view& in, const std::string& name,
                                     int64_t* watermark, std::atomic<int64_t>* late) {
  ARROW_ASSIGN_OR_RAISE(auto version, take_i64(in));
  if (version != kStateVersion) {
    return arrow::Status::Invalid(name, ": state version ", version, " unknown");
  }
  ARROW_ASSIGN_OR_RAISE(*watermark, take_i64(in));
  ARROW_ASSIGN_OR_RAISE(auto dropped, take_i64(in));
  *late = dropped;
  return arrow::Status::OK();
}

// Hands the rows an operator dropped to the job's late-row side output (when it has one).
arrow::Status report_late(LateRowOutput* output, const std::string& name, int64_t watermark,
                          const arrow::RecordBatch& batch, const std::vector<int64_t>& no_time,
                          const std::vector<int64_t>& behind) {
  if (!output) return arrow::Status::OK();
  if (!no_time.empty()) {
    ARROW_RETURN_NOT_OK(output->late_rows(name, "null-rowtime", watermark, batch, no_time));
  }
  if (!behind.empty()) {
    ARROW_RETURN_NOT_OK(output->late_rows(name, "behind-watermark", watermark, batch, behind));
  }
  return arrow::Status::OK();
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string format_micros(int64_t us) {
  if (us % 3600000000LL == 0) return fmt::format("{} h", us / 3600000000LL);
  if (us % 60000000 == 0) return fmt::format("{} min", us / 60000000);
  if (us % 1000000 == 0) return fmt::format("{} s", us / 1000000);
  return fmt::format("{} ms", us / 1000);
}

struct Resolved {
  std::vector<std::shared_ptr<arrow::DataType>> key_types;
  std::vector<AggregateSpec> specs;
  std::shared_ptr<arrow::Schema> output_schema;
  std::string keys_text;
  std::string aggs_text;
};

arrow::Result<Resolved> resolve(const sql::LogicalNode& node) {
  if (node.inputs.size() != 1) {
    return arrow::Status::Invalid(sql::logical_node_kind_name(node.kind),
                                  " node without exactly one input");
  }
  Resolved r;
  const auto input = node.inputs[0]->schema.to_arrow();
  r.output_schema = node.schema.to_arrow();
  const int n_keys = int(node.group_keys.size());
  const int agg_base = n_keys + (node.window ? 3 : 0);
  if (r.output_schema->num_fields() != agg_base + int(node.aggregates.size())) {
    return arrow::Status::Invalid("aggregate node: ", r.output_schema->num_fields(),
                                  " output columns for ", n_keys, " keys and ",
                                  node.aggregates.size(), " aggregates");
  }
  std::vector<std::string> names;
  for (int k : node.group_keys) {
    if (k < 0 || k >= input->num_fields()) {
      return arrow::Status::Invalid("group key column ", k, " out of range");
    }
    r.key_types.push_back(input->field(k)->type());
    names.push_back(input->field(k)->name());
  }
  r.keys_text = fmt::format("{}", fmt::join(names, ", "));
  std::vector<std::shared_ptr<arrow::DataType>> result_types;
  for (size_t a = 0; a < node.aggregates.size(); ++a) {
    result_types.push_back(r.output_schema->field(agg_base + int(a))->type());
  }
  ARROW_ASSIGN_OR_RAISE(r.specs, make_aggregate_specs(node.aggregates, *input, result_types));
  names.clear();
  for (const auto& s : r.specs) names.push_back(s.label);
  r.aggs_text = fmt::format("{}", fmt::join(names, ", "));
  return r;
}

arrow::Result<std::shared_ptr<arrow::Array>> constant_timestamps(
    int64_t value, int64_t n, const std::shared_ptr<arrow::DataType>& type) {
  arrow::TimestampBuilder b(type, arrow::default_memory_pool());
  ARROW_RETURN_NOT_OK(b.Reserve(n));
  for (int64_t i = 0; i < n; ++i) b.UnsafeAppend(value);
  return b.Finish();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> take_rows(
    const std::shared_ptr<arrow::RecordBatch>& batch, const std::vector<int64_t>& rows) {
  arrow::Int64Builder b;
  ARROW_RETURN_NOT_OK(b.AppendValues(rows));
  ARROW_ASSIGN_OR_RAISE(auto indices, b.Finish());
  ARROW_ASSIGN_OR_RAISE(auto taken,
                        arrow::compute::Take(arrow::Datum(batch), arrow::Datum(indices)));
  return taken.record_batch();
}

const arrow::TimestampArray* time_array(const arrow::RecordBatch& batch, int column) {
  const auto& a = *batch.column(column);
  if (a.type_id() != arrow::Type::TIMESTAMP) return nullptr;
  return static_cast<const arrow::TimestampArray*>(&a);
}

std::string_view state_bytes(const std::shared_ptr<arrow::Buffer>& b) {
  return std::string_view(reinterpret_cast<const char*>(b->data()), size_t(b->size()));
}

}  // namespace

const char* row_kind_text(int8_t kind) {
  switch (kind) {
    case 0:
      return "+I";
    case 1:
      return "-U";
    case 2:
      return "+U";
    case 3:
      return "-D";
  }
  return "?";
}

bool has_row_kind(const arrow::RecordBatch& batch) {
  const int n = batch.num_columns();
  return n > 0 && batch.schema()->field(n - 1)->name() == kRowKindColumn &&
         batch.column(n - 1)->type_id() == arrow::Type::INT8;
}

// ---------------------------------------------------------------------------------------------
// WindowAggregateOperator

arrow::Result<std::unique_ptr<WindowAggregateOperator>> WindowAggregateOperator::make(
    const sql::LogicalNode& node) {
  if (node.kind != sql::LogicalNodeKind::kWindowAggregate || !node.window ||
      node.window->kind == sql::WindowKind::kSession) {
    return arrow::Status::Invalid("WindowAggregateOperator needs a TUMBLE, HOP or CUMULATE node");
  }
  std::unique_ptr<WindowAggregateOperator> op(new WindowAggregateOperator());
  ARROW_ASSIGN_OR_RAISE(auto r, resolve(node));
  op->window_ = *node.window;
  op->proctime_ = node.window->proctime;
  op->keys_ = node.group_keys;
  op->key_types_ = std::move(r.key_types);
  op->specs_ = std::move(r.specs);
  op->output_schema_ = std::move(r.output_schema);
  const auto& w = op->window_;
  if (w.size_micros <= 0) return arrow::Status::Invalid("window size must be positive");
  std::string shape;
  switch (w.kind) {
    case sql::WindowKind::kTumble:
      op->slice_micros_ = w.size_micros;
      shape = fmt::format("TUMBLE(size={})", format_micros(w.size_micros));
      break;
    case sql::WindowKind::kHop:
    case sql::WindowKind::kCumulate:
      if (w.slide_micros <= 0 || w.size_micros % w.slide_micros != 0) {
        return arrow::Status::Invalid(sql::window_kind_name(w.kind),
                                      " window size must be a multiple of the ",
                                      w.kind == sql::WindowKind::kHop ? "slide" : "step");
      }
      op->slice_micros_ = w.slide_micros;
      shape = fmt::format("{}({}={}, size={})", sql::window_kind_name(w.kind),
                          w.kind == sql::WindowKind::kHop ? "slide" : "step",
                          format_micros(w.slide_micros), format_micros(w.size_micros));
      break;
    case sql::WindowKind::kSession:
      break;
  }
  const auto input = node.inputs[0]->schema.to_arrow();
  if (w.time_column < 0 || w.time_column >= input->num_fields() ||
      input->field(w.time_column)->type()->id() != arrow::Type::TIMESTAMP) {
    return arrow::Status::Invalid("window time column ", w.time_column,
                                  " is not a timestamp column of the input");
  }
  op->name_ = fmt::format("WindowAggregate(window=[{} on {}], groupBy=[{}], select=[{}])", shape,
                          input->field(w.time_column)->name(), r.keys_text, r.aggs_text);
  return op;
}

int64_t WindowAggregateOperator::slice_end(int64_t t) const {
  const int64_t o = window_.offset_micros;
  return floor_div(t - o, slice_micros_) * slice_micros_ + o + slice_micros_;
}

int64_t WindowAggregateOperator::last_window_end(int64_t s) const {
  switch (window_.kind) {
    case sql::WindowKind::kHop:
      return s + window_.size_micros - window_.slide_micros;
    case sql::WindowKind::kCumulate: {
      const int64_t o = window_.offset_micros;
      const int64_t start = floor_div(s - 1 - o, window_.size_micros) * window_.size_micros + o;
      return start + window_.size_micros;
    }
    default:
      return s;
  }
}

void WindowAggregateOperator::add_pending_ends(int64_t s) {
  const int64_t last = last_window_end(s);
  for (int64_t e = s; e <= last; e += slice_micros_) {
    if (e - 1 > watermark_) pending_ends_.insert(e);
  }
}

arrow::Status WindowAggregateOperator::open(const OperatorContext& context) {
  late_output_ = context.late_output;
  if (!context.restored_state) return arrow::Status::OK();
  std::string_view in = state_bytes(context.restored_state);
  ARROW_RETURN_NOT_OK(take_event_time_header(in, name_, &watermark_, &late_));
  ARROW_ASSIGN_OR_RAISE(auto n, take_i64(in));
  slices_.clear();
  pending_ends_.clear();
  for (int64_t i = 0; i < n; ++i) {
    ARROW_ASSIGN_OR_RAISE(auto end, take_i64(in));
    ARROW_ASSIGN_OR_RAISE(auto bytes, take_bytes(in));
    ARROW_ASSIGN_OR_RAISE(auto partial, batch_from_ipc(bytes));
    ARROW_ASSIGN_OR_RAISE(auto table, GroupTable::from_partial(*partial, key_types_, &specs_));
    slices_[end] = std::move(table);
    add_pending_ends(end);
  }
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::Buffer>> WindowAggregateOperator::snapshot_state(int64_t) {
  std::string out;
  put_event_time_header(out, watermark_, late_.load());
  put_i64(out, int64_t(slices_.size()));
  for (auto& [end, table] : slices_) {
    put_i64(out, end);
    ARROW_ASSIGN_OR_RAISE(auto partial, table->to_partial());
    ARROW_ASSIGN_OR_RAISE(auto bytes, batch_to_ipc(*partial));
    put_bytes(out, bytes);
  }
  return arrow::Buffer::FromString(std::move(out));
}

OperatorMetrics WindowAggregateOperator::metrics() const {
  OperatorMetrics m;
  m.late_records = late_.load();
  return m;
}

arrow::Status WindowAggregateOperator::add_rows(int64_t s, const arrow::RecordBatch& rows) {
  auto it = slices_.find(s);
  if (it == slices_.end()) {
    ARROW_ASSIGN_OR_RAISE(auto table, GroupTable::make(key_types_, &specs_));
    it = slices_.emplace(s, std::move(table)).first;
    add_pending_ends(s);
  }
  return it->second->consume(rows, keys_);
}

arrow::Status WindowAggregateOperator::process_batch(int, std::shared_ptr<arrow::RecordBatch> batch,
                                                     Collector&) {
  const int64_t n = batch->num_rows();
  if (n == 0) return arrow::Status::OK();
  const auto* ts = time_array(*batch, window_.time_column);
  if (!ts) return arrow::Status::Invalid(name_, ": the time column is not a timestamp");
  const int64_t* t = ts->raw_values();
  // Fast path: every row in one slice and none late (the usual case for ordered input).
  const int64_t first_end = ts->IsValid(0) ? slice_end(t[0]) : 0;
  bool uniform = ts->null_count() == 0 && last_window_end(first_end) - 1 > watermark_;
  for (int64_t r = 1; uniform && r < n; ++r) {
    // Same slice iff t lies in [first_end - slice, first_end).
    uniform = t[r] < first_end && t[r] >= first_end - slice_micros_;
  }
  if (uniform) return add_rows(first_end, *batch);
  std::map<int64_t, std::vector<int64_t>> rows_by_slice;
  std::vector<int64_t> no_time, behind;
  for (int64_t r = 0; r < n; ++r) {
    if (ts->IsNull(r)) {
      no_time.push_back(r);  // no event time: no window
      continue;
    }
    const int64_t s = slice_end(t[r]);
    if (last_window_end(s) - 1 <= watermark_) {
      behind.push_back(r);
      continue;
    }
    rows_by_slice[s].push_back(r);
  }
  late_ += int64_t(no_time.size() + behind.size());
  ARROW_RETURN_NOT_OK(report_late(late_output_, name_, watermark_, *batch, no_time, behind));
  for (const auto& [s, rows] : rows_by_slice) {
    if (int64_t(rows.size()) == n) {
      ARROW_RETURN_NOT_OK(add_rows(s, *batch));
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(auto taken, take_rows(batch, rows));
    ARROW_RETURN_NOT_OK(add_rows(s, *taken));
  }
  return arrow::Status::OK();
}

arrow::Status WindowAggregateOperator::emit(int64_t start, int64_t end, GroupTable& table,
                                            Collector& out) {
  const int64_t n = table.num_groups();
  if (n == 0) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto columns, table.keys());
  const int base = int(columns.size());
  for (int i = 0; i < 3; ++i) {
    const int64_t v = i == 0 ? start : i == 1 ? end : end - kMilli;
    ARROW_ASSIGN_OR_RAISE(auto c,
                          constant_timestamps(v, n, output_schema_->field(base + i)->type()));
    columns.push_back(std::move(c));
  }
  ARROW_ASSIGN_OR_RAISE(auto aggs, table.finalize());
  for (auto& a : aggs) columns.push_back(std::move(a));
  return out.emit(arrow::RecordBatch::Make(output_schema_, n, std::move(columns)));
}

arrow::Status WindowAggregateOperator::fire(int64_t e, Collector& out) {
  const int64_t size = window_.size_micros;
  int64_t start = e - size;
  if (window_.kind == sql::WindowKind::kCumulate) {
    const int64_t o = window_.offset_micros;
    start = floor_div(e - 1 - o, size) * size + o;
  }
  if (window_.kind == sql::WindowKind::kTumble) {
    auto it = slices_.find(e);
    if (it != slices_.end()) {
      ARROW_RETURN_NOT_OK(emit(start, e, *it->second, out));
      slices_.erase(it);
    }
    return arrow::Status::OK();
  }
  // HOP / CUMULATE: merge the window's slices, those ending in (start, e].
  auto lo = slices_.upper_bound(start);
  auto hi = slices_.upper_bound(e);
  int count = 0;
  for (auto it = lo; it != hi; ++it) ++count;
  if (count == 1) {
    ARROW_RETURN_NOT_OK(emit(start, e, *lo->second, out));
  } else if (count > 1) {
    ARROW_ASSIGN_OR_RAISE(auto merged, GroupTable::make(key_types_, &specs_));
    for (auto it = lo; it != hi; ++it) ARROW_RETURN_NOT_OK(merged->merge(*it->second));
    ARROW_RETURN_NOT_OK(emit(start, e, *merged, out));
  }
  // Free slices no later window needs.
  for (auto it = slices_.begin(); it != slices_.end() && it->first <= e;) {
    if (last_window_end(it->first) <= e) {
      it = slices_.erase(it);
    } else {
      ++it;
    }
  }
  return arrow::Status::OK();
}

arrow::Status WindowAggregateOperator::advance(int64_t time, Collector& out) {
  watermark_ = time;
  while (!pending_ends_.empty() && *pending_ends_.begin() - 1 <= watermark_) {
    const int64_t e = *pending_ends_.begin();
    pending_ends_.erase(pending_ends_.begin());
    ARROW_RETURN_NOT_OK(fire(e, out));
  }
  return arrow::Status::OK();
}

arrow::Status WindowAggregateOperator::on_watermark(Watermark watermark, Collector& out) {
  // Processing-time windows ignore event time; the end of a bounded input closes them all.
  if (proctime_ && watermark.micros != Watermark::kMax) return out.emit_watermark(watermark);
  if (watermark.micros <= watermark_) return arrow::Status::OK();
  ARROW_RETURN_NOT_OK(advance(watermark.micros, out));
  return out.emit_watermark(watermark);
}

arrow::Status WindowAggregateOperator::on_tick(int64_t now, Collector& out) {
  // A window [start, end) on processing time fires once the clock reaches end, input or not.
  if (!proctime_ || now - 1 <= watermark_) return arrow::Status::OK();
  return advance(now - 1, out);
}

arrow::Status WindowAggregateOperator::close(bool end_of_data, Collector& out) {
  // A bounded input without a WATERMARK sends no final watermark: close processing-time
  // windows here, so every row is counted.
  if (end_of_data && proctime_ && watermark_ != Watermark::kMax) {
    return advance(Watermark::kMax, out);
  }
  return arrow::Status::OK();
}

// ---------------------------------------------------------------------------------------------
// SessionWindowOperator

arrow::Result<std::unique_ptr<SessionWindowOperator>> SessionWindowOperator::make(
    const sql::LogicalNode& node) {
  if (node.kind != sql::LogicalNodeKind::kWindowAggregate || !node.window ||
      node.window->kind != sql::WindowKind::kSession) {
    return arrow::Status::Invalid("SessionWindowOperator needs a SESSION node");
  }
  std::unique_ptr<SessionWindowOperator> op(new SessionWindowOperator());
  ARROW_ASSIGN_OR_RAISE(auto r, resolve(node));
  op->gap_ = node.window->size_micros;
  if (op->gap_ <= 0) return arrow::Status::Invalid("SESSION gap must be positive");
  op->time_column_ = node.window->time_column;
  op->partition_keys_ = node.window->partition_keys;
  op->keys_ = node.group_keys;
  op->input_schema_ = node.inputs[0]->schema.to_arrow();
  if (op->time_column_ < 0 || op->time_column_ >= op->input_schema_->num_fields() ||
      op->input_schema_->field(op->time_column_)->type()->id() != arrow::Type::TIMESTAMP) {
    return arrow::Status::Invalid("session time column is not a timestamp column");
  }
  // Sessions are aggregated with the session number as an extra leading key.
  op->key_types_.push_back(arrow::int64());
  for (auto& t : r.key_types) op->key_types_.push_back(t);
  op->specs_ = std::move(r.specs);
  op->output_schema_ = std::move(r.output_schema);
  std::vector<std::string> parts;
  for (int k : op->partition_keys_) parts.push_back(op->input_schema_->field(k)->name());
  op->name_ =
      fmt::format("WindowAggregate(window=[SESSION(gap={}) on {}{}], groupBy=[{}], select=[{}])",
                  format_micros(op->gap_), op->input_schema_->field(op->time_column_)->name(),
                  parts.empty() ? "" : fmt::format(" partition by {}", fmt::join(parts, ", ")),
                  r.keys_text, r.aggs_text);
  return op;
}

std::string SessionWindowOperator::partition_of(const arrow::RecordBatch& batch,
                                                int64_t row) const {
  std::string key;
  for (int k : partition_keys_) append_value_bytes(*batch.column(k), row, key);
  return key;
}

bool SessionWindowOperator::insert(const std::string& partition, int64_t t, bool check_late) {
  auto& list = sessions_[partition];
  int64_t start = t, end = t + gap_;
  // Sessions overlapping [t, t + gap) merge with it.
  auto first = std::lower_bound(list.begin(), list.end(), t,
                                [](const Session& s, int64_t v) { return s.end < v; });
  auto last = first;
  while (last != list.end() && last->start <= end) {
    start = std::min(start, last->start);
    end = std::max(end, last->end);
    ++last;
  }
  if (check_late && end - 1 <= watermark_) {
    if (list.empty()) sessions_.erase(partition);
    return false;
  }
  auto pos = list.erase(first, last);
  list.insert(pos, Session{start, end});
  return true;
}

arrow::Status SessionWindowOperator::add(const std::shared_ptr<arrow::RecordBatch>& rows,
                                         bool check_late) {
  const arrow::RecordBatch& batch = *rows;
  const auto* ts = time_array(batch, time_column_);
  if (!ts) return arrow::Status::Invalid(name_, ": the time column is not a timestamp");
  std::vector<int64_t> keep;
  keep.reserve(size_t(batch.num_rows()));
  std::vector<int64_t> no_time, behind;
  for (int64_t r = 0; r < batch.num_rows(); ++r) {
    if (ts->IsNull(r)) {
      no_time.push_back(r);
      continue;
    }
    if (!insert(partition_of(batch, r), ts->Value(r), check_late)) {
      behind.push_back(r);
      continue;
    }
    keep.push_back(r);
  }
  late_ += int64_t(no_time.size() + behind.size());
  if (check_late) {
    ARROW_RETURN_NOT_OK(report_late(late_output_, name_, watermark_, batch, no_time, behind));
  }
  if (keep.empty()) return arrow::Status::OK();
  if (int64_t(keep.size()) == batch.num_rows()) {
    buffer_.push_back(rows);
  } else {
    ARROW_ASSIGN_OR_RAISE(auto taken, take_rows(rows, keep));
    buffer_.push_back(std::move(taken));
  }
  return arrow::Status::OK();
}

arrow::Status SessionWindowOperator::process_batch(int, std::shared_ptr<arrow::RecordBatch> batch,
                                                   Collector&) {
  return add(batch, true);
}

arrow::Status SessionWindowOperator::on_watermark(Watermark watermark, Collector& out) {
  if (watermark.micros <= watermark_) return arrow::Status::OK();
  watermark_ = watermark.micros;
  // Closed sessions get numbers; their rows are aggregated with the number as a leading key.
  std::map<std::pair<std::string, int64_t>, int64_t> closed;  // (partition, start) -> number
  std::vector<Session> numbered;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto& list = it->second;
    size_t k = 0;
    for (; k < list.size() && list[k].end - 1 <= watermark_; ++k) {
      closed[{it->first, list[k].start}] = int64_t(numbered.size());
      numbered.push_back(list[k]);
    }
    (void)k;
    ++it;
  }
  if (!numbered.empty() && !buffer_.empty()) {
    ARROW_ASSIGN_OR_RAISE(auto all,
                          arrow::ConcatenateRecordBatches(buffer_, arrow::default_memory_pool()));
    const auto* ts = time_array(*all, time_column_);
    std::vector<int64_t> rows, numbers, rest;
    for (int64_t r = 0; r < all->num_rows(); ++r) {
      const std::string p = partition_of(*all, r);
      const auto& list = sessions_[p];
      const int64_t t = ts->Value(r);
      auto s = std::upper_bound(list.begin(), list.end(), t,
                                [](int64_t v, const Session& x) { return v < x.start; });
      bool found = false;
      if (s != list.begin()) {
        --s;
        auto c = closed.find({p, s->start});
        if (c != closed.end() && t < s->end) {
          rows.push_back(r);
          numbers.push_back(c->second);
          found = true;
        }
      }
      if (!found) rest.push_back(r);
    }
    buffer_.clear();
    if (!rest.empty()) {
      ARROW_ASSIGN_OR_RAISE(auto remaining, take_rows(all, rest));
      buffer_.push_back(std::move(remaining));
    }
    if (!rows.empty()) {
      ARROW_ASSIGN_OR_RAISE(auto taken, take_rows(all, rows));
      arrow::Int64Builder nb;
      ARROW_RETURN_NOT_OK(nb.AppendValues(numbers));
      ARROW_ASSIGN_OR_RAISE(auto number_array, nb.Finish());
      std::vector<std::shared_ptr<arrow::Array>> keys{number_array};
      for (int k : keys_) keys.push_back(taken->column(k));
      ARROW_ASSIGN_OR_RAISE(auto table, GroupTable::make(key_types_, &specs_));
      ARROW_ASSIGN_OR_RAISE(auto gids, table->assign(keys, taken->num_rows()));
      ARROW_RETURN_NOT_OK(table->update(*taken, *gids));
      ARROW_ASSIGN_OR_RAISE(auto group_keys, table->keys());
      const int64_t n = table->num_groups();
      const auto& session_of = static_cast<const arrow::Int64Array&>(*group_keys[0]);
      std::vector<std::shared_ptr<arrow::Array>> columns(group_keys.begin() + 1, group_keys.end());
      const int base = int(columns.size());
      for (int i = 0; i < 3; ++i) {
        arrow::TimestampBuilder b(output_schema_->field(base + i)->type(),
                                  arrow::default_memory_pool());
        for (int64_t g = 0; g < n; ++g) {
          const Session& s = numbered[size_t(session_of.Value(g))];
          ARROW_RETURN_NOT_OK(b.Append(i == 0 ? s.start : i == 1 ? s.end : s.end - kMilli));
        }
        ARROW_ASSIGN_OR_RAISE(auto c, b.Finish());
        columns.push_back(std::move(c));
      }
      ARROW_ASSIGN_OR_RAISE(auto aggs, table->finalize());
      for (auto& a : aggs) columns.push_back(std::move(a));
      ARROW_RETURN_NOT_OK(
          out.emit(arrow::RecordBatch::Make(output_schema_, n, std::move(columns))));
    }
  }
  // Forget closed sessions.
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto& list = it->second;
    list.erase(list.begin(), std::find_if(list.begin(), list.end(), [this](const Session& s) {
                 return s.end - 1 > watermark_;
               }));
    it = list.empty() ? sessions_.erase(it) : std::next(it);
  }
  return out.emit_watermark(watermark);
}

arrow::Status SessionWindowOperator::open(const OperatorContext& context) {
  late_output_ = context.late_output;
  if (!context.restored_state) return arrow::Status::OK();
  std::string_view in = state_bytes(context.restored_state);
  ARROW_RETURN_NOT_OK(take_event_time_header(in, name_, &watermark_, &late_));
  ARROW_ASSIGN_OR_RAISE(auto has_rows, take_i64(in));
  sessions_.clear();
  buffer_.clear();
  if (has_rows) {
    ARROW_ASSIGN_OR_RAISE(auto bytes, take_bytes(in));
    ARROW_ASSIGN_OR_RAISE(auto rows, batch_from_ipc(bytes));
    // The open sessions are exactly what the buffered rows span: rebuild them.
    ARROW_RETURN_NOT_OK(add(rows, false));
  }
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::Buffer>> SessionWindowOperator::snapshot_state(int64_t) {
  std::string out;
  put_event_time_header(out, watermark_, late_.load());
  put_i64(out, buffer_.empty() ? 0 : 1);
  if (!buffer_.empty()) {
    ARROW_ASSIGN_OR_RAISE(auto all,
                          arrow::ConcatenateRecordBatches(buffer_, arrow::default_memory_pool()));
    ARROW_ASSIGN_OR_RAISE(auto bytes, batch_to_ipc(*all));
    put_bytes(out, bytes);
  }
  return arrow::Buffer::FromString(std::move(out));
}

OperatorMetrics SessionWindowOperator::metrics() const {
  OperatorMetrics m;
  m.late_records = late_.load();
  return m;
}

// ---------------------------------------------------------------------------------------------
// GroupAggregateOperator

arrow::Result<std::unique_ptr<GroupAggregateOperator>> GroupAggregateOperator::make(
    const sql::LogicalNode& node, bool final_only) {
  if (node.kind != sql::LogicalNodeKind::kAggregate) {
    return arrow::Status::Invalid("GroupAggregateOperator needs an Aggregate node");
  }
  std::unique_ptr<GroupAggregateOperator> op(new GroupAggregateOperator());
  ARROW_ASSIGN_OR_RAISE(auto r, resolve(node));
  op->final_only_ = final_only;
  op->keys_ = node.group_keys;
  op->key_types_ = std::move(r.key_types);
  op->specs_ = std::move(r.specs);
  op->output_schema_ = std::move(r.output_schema);
  ARROW_ASSIGN_OR_RAISE(op->table_, GroupTable::make(op->key_types_, &op->specs_));
  op->name_ =
      fmt::format("{}(groupBy=[{}], select=[{}])", final_only ? "Aggregate" : "ChangelogAggregate",
                  r.keys_text, r.aggs_text);
  return op;
}

arrow::Status GroupAggregateOperator::open(const OperatorContext& context) {
  if (!context.restored_state) return arrow::Status::OK();
  std::string_view in = state_bytes(context.restored_state);
  ARROW_ASSIGN_OR_RAISE(auto version, take_i64(in));
  if (version != kStateVersion) {
    return arrow::Status::Invalid(name_, ": state version ", version, " unknown");
  }
  ARROW_ASSIGN_OR_RAISE(auto bytes, take_bytes(in));
  ARROW_ASSIGN_OR_RAISE(auto partial, batch_from_ipc(bytes));
  ARROW_ASSIGN_OR_RAISE(table_, GroupTable::from_partial(*partial, key_types_, &specs_));
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::Buffer>> GroupAggregateOperator::snapshot_state(int64_t) {
  std::string out;
  put_i64(out, kStateVersion);
  ARROW_ASSIGN_OR_RAISE(auto partial, table_->to_partial());
  ARROW_ASSIGN_OR_RAISE(auto bytes, batch_to_ipc(*partial));
  put_bytes(out, bytes);
  return arrow::Buffer::FromString(std::move(out));
}

arrow::Status GroupAggregateOperator::process_batch(int, std::shared_ptr<arrow::RecordBatch> batch,
                                                    Collector& out) {
  if (has_row_kind(*batch)) {
    return arrow::Status::NotImplemented(name_,
                                         ": an updating input (GROUP BY over the result "
                                         "of another unwindowed GROUP BY) is not "
                                         "supported yet");
  }
  if (final_only_) return table_->consume(*batch, keys_);
  const uint32_t before = table_->num_groups();
  std::vector<std::shared_ptr<arrow::Array>> key_arrays;
  for (int k : keys_) key_arrays.push_back(batch->column(k));
  ARROW_ASSIGN_OR_RAISE(auto gids, table_->assign(key_arrays, batch->num_rows()));
  // Groups this batch touches, in order of first appearance, and a row holding each one's key.
  std::vector<uint32_t> touched, existing;
  std::vector<int64_t> key_rows;
  std::vector<uint8_t> seen(table_->num_groups(), 0);
  for (int64_t r = 0; r < batch->num_rows(); ++r) {
    const uint32_t g = gids->Value(r);
    if (seen[g]) continue;
    seen[g] = 1;
    touched.push_back(g);
    key_rows.push_back(r);
    if (g < before) existing.push_back(g);
  }
  ARROW_ASSIGN_OR_RAISE(auto old_values, table_->finalize(&existing));
  ARROW_RETURN_NOT_OK(table_->update(*batch, *gids));
  ARROW_ASSIGN_OR_RAISE(auto new_values, table_->finalize(&touched));
  // Output rows: per touched group, -U old then +U new (or +I for a new group). Built as a take
  // over [old rows; new rows].
  std::vector<int64_t> take_keys, take_values;
  std::vector<int8_t> kinds;
  size_t e = 0;
  for (size_t i = 0; i < touched.size(); ++i) {
    const int64_t new_row = int64_t(existing.size() + i);
    if (touched[i] < before) {
      take_keys.push_back(key_rows[i]);
      take_values.push_back(int64_t(e++));
      kinds.push_back(int8_t(RowKind::kUpdateBefore));
      take_keys.push_back(key_rows[i]);
      take_values.push_back(new_row);
      kinds.push_back(int8_t(RowKind::kUpdateAfter));
    } else {
      take_keys.push_back(key_rows[i]);
      take_values.push_back(new_row);
      kinds.push_back(int8_t(RowKind::kInsert));
    }
  }
  std::vector<std::shared_ptr<arrow::Array>> columns;
  arrow::Int64Builder kb, vb;
  ARROW_RETURN_NOT_OK(kb.AppendValues(take_keys));
  ARROW_RETURN_NOT_OK(vb.AppendValues(take_values));
  ARROW_ASSIGN_OR_RAISE(auto key_index, kb.Finish());
  ARROW_ASSIGN_OR_RAISE(auto value_index, vb.Finish());
  for (int k : keys_) {
    ARROW_ASSIGN_OR_RAISE(auto c, arrow::compute::Take(batch->column(k), key_index));
    columns.push_back(c.make_array());
  }
  for (size_t a = 0; a < specs_.size(); ++a) {
    ARROW_ASSIGN_OR_RAISE(auto both, arrow::Concatenate({old_values[a], new_values[a]}));
    ARROW_ASSIGN_OR_RAISE(auto c, arrow::compute::Take(both, value_index));
    columns.push_back(c.make_array());
  }
  arrow::Int8Builder rk;
  ARROW_RETURN_NOT_OK(rk.AppendValues(kinds));
  ARROW_ASSIGN_OR_RAISE(auto kind_array, rk.Finish());
  columns.push_back(std::move(kind_array));
  auto schema = output_schema_->AddField(output_schema_->num_fields(),
                                         arrow::field(kRowKindColumn, arrow::int8(), false));
  ARROW_ASSIGN_OR_RAISE(auto with_kind, schema);
  return out.emit(arrow::RecordBatch::Make(with_kind, int64_t(kinds.size()), std::move(columns)));
}

arrow::Status GroupAggregateOperator::close(bool end_of_data, Collector& out) {
  if (!final_only_ || !end_of_data) return arrow::Status::OK();
  // A global aggregate (no keys) over no rows still has one row: COUNT(*) = 0.
  if (keys_.empty() && table_->num_groups() == 0) {
    ARROW_RETURN_NOT_OK(table_->assign({}, 0).status());
  }
  const int64_t n = table_->num_groups();
  if (n == 0) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto columns, table_->keys());
  ARROW_ASSIGN_OR_RAISE(auto aggs, table_->finalize());
  for (auto& a : aggs) columns.push_back(std::move(a));
  return out.emit(arrow::RecordBatch::Make(output_schema_, n, std::move(columns)));
}

// ---------------------------------------------------------------------------------------------
// DeduplicateOperator

arrow::Result<std::unique_ptr<DeduplicateOperator>> DeduplicateOperator::make(
    const sql::LogicalNode& node) {
  if (node.kind != sql::LogicalNodeKind::kDeduplicate || node.inputs.size() != 1) {
    return arrow::Status::Invalid("DeduplicateOperator needs a Deduplicate node");
  }
  std::unique_ptr<DeduplicateOperator> op(new DeduplicateOperator());
  op->schema_ = node.schema.to_arrow();
  op->keys_ = node.group_keys;
  op->time_column_ = node.order_column;
  if (op->time_column_ < 0 || op->time_column_ >= op->schema_->num_fields() ||
      op->schema_->field(op->time_column_)->type()->id() != arrow::Type::TIMESTAMP) {
    return arrow::Status::Invalid("deduplication order column is not a timestamp column");
  }
  std::vector<std::string> names;
  for (int k : op->keys_) names.push_back(op->schema_->field(k)->name());
  op->name_ = fmt::format("Deduplicate(keep=[FirstRow], key=[{}], order=[{}])",
                          fmt::join(names, ", "), op->schema_->field(op->time_column_)->name());
  return op;
}

arrow::Status DeduplicateOperator::add(const std::shared_ptr<arrow::RecordBatch>& batch,
                                       bool check_late) {
  const auto* ts = time_array(*batch, time_column_);
  if (!ts) return arrow::Status::Invalid(name_, ": the order column is not a timestamp");
  std::string key;
  std::vector<int64_t> no_time, behind;
  for (int64_t r = 0; r < batch->num_rows(); ++r) {
    if (ts->IsNull(r)) {
      no_time.push_back(r);
      continue;
    }
    key.clear();
    for (int k : keys_) append_value_bytes(*batch->column(k), r, key);
    if (emitted_.count(key)) continue;  // its first row is out already
    const int64_t t = ts->Value(r);
    if (check_late && t <= watermark_) {
      behind.push_back(r);
      continue;
    }
    auto it = pending_.find(key);
    if (it == pending_.end()) {
      pending_.emplace(key, Candidate{t, batch, r});
    } else if (t < it->second.time) {
      it->second = Candidate{t, batch, r};
    }
  }
  late_ += int64_t(no_time.size() + behind.size());
  if (check_late) {
    ARROW_RETURN_NOT_OK(report_late(late_output_, name_, watermark_, *batch, no_time, behind));
  }
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> DeduplicateOperator::gather(
    std::vector<Candidate> candidates) {
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.time < b.time; });
  // One batch holding every source batch once, then one take in time order.
  std::vector<std::shared_ptr<arrow::RecordBatch>> sources;
  std::unordered_map<const arrow::RecordBatch*, int64_t> offset;
  int64_t total = 0;
  for (const auto& c : candidates) {
    if (offset.emplace(c.batch.get(), total).second) {
      sources.push_back(c.batch);
      total += c.batch->num_rows();
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto all,
                        arrow::ConcatenateRecordBatches(sources, arrow::default_memory_pool()));
  std::vector<int64_t> rows;
  rows.reserve(candidates.size());
  for (const auto& c : candidates) rows.push_back(offset[c.batch.get()] + c.row);
  ARROW_ASSIGN_OR_RAISE(auto taken, take_rows(all, rows));
  return arrow::RecordBatch::Make(schema_, taken->num_rows(), taken->columns());
}

arrow::Status DeduplicateOperator::process_batch(int, std::shared_ptr<arrow::RecordBatch> batch,
                                                 Collector&) {
  return add(batch, true);
}

arrow::Status DeduplicateOperator::on_watermark(Watermark watermark, Collector& out) {
  if (watermark.micros <= watermark_) return arrow::Status::OK();
  watermark_ = watermark.micros;
  std::vector<Candidate> ready;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.time <= watermark_) {
      ready.push_back(std::move(it->second));
      emitted_.insert(it->first);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  if (!ready.empty()) {
    ARROW_ASSIGN_OR_RAISE(auto rows, gather(std::move(ready)));
    ARROW_RETURN_NOT_OK(out.emit(std::move(rows)));
  }
  return out.emit_watermark(watermark);
}

arrow::Result<std::shared_ptr<arrow::Buffer>> DeduplicateOperator::snapshot_state(int64_t) {
  std::string out;
  put_event_time_header(out, watermark_, late_.load());
  put_i64(out, int64_t(emitted_.size()));
  for (const auto& k : emitted_) put_bytes(out, k);
  put_i64(out, pending_.empty() ? 0 : 1);
  if (!pending_.empty()) {
    std::vector<Candidate> candidates;
    for (const auto& [k, c] : pending_) candidates.push_back(c);
    ARROW_ASSIGN_OR_RAISE(auto rows, gather(std::move(candidates)));
    ARROW_ASSIGN_OR_RAISE(auto bytes, batch_to_ipc(*rows));
    put_bytes(out, bytes);
  }
  return arrow::Buffer::FromString(std::move(out));
}

arrow::Status DeduplicateOperator::open(const OperatorContext& context) {
  late_output_ = context.late_output;
  if (!context.restored_state) return arrow::Status::OK();
  std::string_view in = state_bytes(context.restored_state);
  ARROW_RETURN_NOT_OK(take_event_time_header(in, name_, &watermark_, &late_));
  ARROW_ASSIGN_OR_RAISE(auto n, take_i64(in));
  emitted_.clear();
  pending_.clear();
  for (int64_t i = 0; i < n; ++i) {
    ARROW_ASSIGN_OR_RAISE(auto k, take_bytes(in));
    emitted_.insert(std::string(k));
  }
  ARROW_ASSIGN_OR_RAISE(auto has_pending, take_i64(in));
  if (has_pending) {
    ARROW_ASSIGN_OR_RAISE(auto bytes, take_bytes(in));
    ARROW_ASSIGN_OR_RAISE(auto rows, batch_from_ipc(bytes));
    ARROW_RETURN_NOT_OK(add(rows, false));
  }
  return arrow::Status::OK();
}

OperatorMetrics DeduplicateOperator::metrics() const {
  OperatorMetrics m;
  m.late_records = late_.load();
  return m;
}

// ---------------------------------------------------------------------------------------------
// SortOperator

arrow::Result<std::unique_ptr<SortOperator>> SortOperator::make(const sql::LogicalNode& node) {
  if (node.kind != sql::LogicalNodeKind::kSort || node.inputs.size() != 1) {
    return arrow::Status::Invalid("SortOperator needs a Sort node");
  }
  std::unique_ptr<SortOperator> op(new SortOperator());
  op->schema_ = node.schema.to_arrow();
  op->keys_ = node.sort_keys;
  op->limit_ = node.limit;
  op->offset_ = node.offset;
  std::vector<std::string> keys;
  for (const auto& k : op->keys_) {
    if (k.column < 0 || k.column >= op->schema_->num_fields()) {
      return arrow::Status::Invalid("sort column ", k.column, " out of range");
    }
    keys.push_back(op->schema_->field(k.column)->name() + (k.descending ? " DESC" : " ASC"));
  }
  op->name_ = fmt::format("Sort(orderBy=[{}]{}{})", fmt::join(keys, ", "),
                          op->offset_ > 0 ? fmt::format(", offset=[{}]", op->offset_) : "",
                          op->limit_ ? fmt::format(", limit=[{}]", *op->limit_) : "");
  return op;
}

arrow::Status SortOperator::process_batch(int, std::shared_ptr<arrow::RecordBatch> batch,
                                          Collector&) {
  if (has_row_kind(*batch)) {
    return arrow::Status::NotImplemented(name_, ": sorting an updating result is not supported");
  }
  // LIMIT without ORDER BY: the first rows are enough.
  if (keys_.empty() && limit_ && buffered_ >= *limit_ + offset_) return arrow::Status::OK();
  buffered_ += batch->num_rows();
  rows_.push_back(arrow::RecordBatch::Make(schema_, batch->num_rows(), batch->columns()));
  return arrow::Status::OK();
}

arrow::Status SortOperator::close(bool end_of_data, Collector& out) {
  if (!end_of_data || rows_.empty()) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto all,
                        arrow::ConcatenateRecordBatches(rows_, arrow::default_memory_pool()));
  rows_.clear();
  if (!keys_.empty()) {
    std::vector<arrow::compute::SortKey> keys;
    for (const auto& k : keys_) {
      keys.emplace_back(arrow::FieldRef(k.column),
                        k.descending ? arrow::compute::SortOrder::Descending
                                     : arrow::compute::SortOrder::Ascending,
                        k.descending ? arrow::compute::NullPlacement::AtEnd
                                     : arrow::compute::NullPlacement::AtStart);
    }
    ARROW_ASSIGN_OR_RAISE(auto indices, arrow::compute::SortIndices(
                                            arrow::Datum(all), arrow::compute::SortOptions(keys)));
    // OFFSET m then LIMIT n: rows m .. m+n-1 of the sorted input.
    const int64_t first = std::min(offset_, indices->length());
    indices = indices->Slice(
        first, limit_ ? std::min(*limit_, indices->length() - first) : indices->length() - first);
    ARROW_ASSIGN_OR_RAISE(auto taken,
                          arrow::compute::Take(arrow::Datum(all), arrow::Datum(indices)));
    all = taken.record_batch();
  } else {
    const int64_t first = std::min(offset_, all->num_rows());
    all = all->Slice(first,
                     limit_ ? std::min(*limit_, all->num_rows() - first) : all->num_rows() - first);
  }
  if (all->num_rows() == 0) return arrow::Status::OK();
  return out.emit(std::move(all));
}

}  // namespace roadpulse::exec
