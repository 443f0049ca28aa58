// `metrics`: each row is a sample of a metric in the real-time store (src/realtime): a time
// ('metric.time-column', default: processing time), dimension values ('metric.dimensions',
// default: every other column) and a value ('metric.value-column', default: 1 per row, so the
// metric counts rows). Samples are summed per second and series; the store is snapshotted to
// <data-dir>/realtime/ at every checkpoint and when the job ends. An updating result (GROUP BY
// without a window) is taken too: retracted rows subtract their value, so a series' total follows
// each group's latest value. Delivery is at-least-once: a
// job restarted from a checkpoint re-adds the rows it replays.

#include <chrono>

#include <arrow/array.h>
#include <arrow/type.h>
#include <arrow/util/decimal.h>
#include <fmt/format.h>

#include "common/time.h"
#include "connect/connectors.h"
#include "exec/display.h"
#include "realtime/hub.h"

namespace roadpulse::connect {

namespace {

std::vector<std::string> split_columns(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string name = text.substr(pos, comma - pos);
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (!name.empty()) out.push_back(name);
    pos = comma + 1;
  }
  return out;
}

// A cell as dimension text: strings as they are, other types as Flink prints them, null "".
void cell_text(const arrow::Array& array, int64_t row, std::string& out) {
  if (array.IsNull(row)) {
    out.clear();
    return;
  }
  switch (array.type_id()) {
    case arrow::Type::STRING: {
      auto v = static_cast<const arrow::StringArray&>(array).GetView(row);
      out.assign(v.data(), v.size());
      return;
    }
    case arrow::Type::LARGE_STRING: {
      auto v = static_cast<const arrow::LargeStringArray&>(array).GetView(row);
      out.assign(v.data(), v.size());
      return;
    }
    case arrow::Type::INT32:
      out = std::to_string(static_cast<const arrow::Int32Array&>(array).Value(row));
      return;
    case arrow::Type::INT64:
      out = std::to_string(static_cast<const arrow::Int64Array&>(array).Value(row));
      return;
    default:
      out = exec::display_value(array, row, "");
  }
}

arrow::Result<double> cell_number(const arrow::Array& array, int64_t row,
                                  const std::string& column) {
  switch (array.type_id()) {
    case arrow::Type::INT8:
      return static_cast<const arrow::Int8Array&>(array).Value(row);
    case arrow::Type::INT16:
      return static_cast<const arrow::Int16Array&>(array).Value(row);
    case arrow::Type::INT32:
      return static_cast<const arrow::Int32Array&>(array).Value(row);
    case arrow::Type::INT64:
      return static_cast<double>(static_cast<const arrow::Int64Array&>(array).Value(row));
    case arrow::Type::FLOAT:
      return static_cast<const arrow::FloatArray&>(array).Value(row);
    case arrow::Type::DOUBLE:
      return static_cast<const arrow::DoubleArray&>(array).Value(row);
    case arrow::Type::DECIMAL128: {
      const auto& dec = static_cast<const arrow::Decimal128Array&>(array);
      const auto& type = static_cast<const arrow::Decimal128Type&>(*array.type());
      return arrow::Decimal128(dec.GetValue(row)).ToDouble(type.scale());
    }
    default:
      return arrow::Status::Invalid("metrics sink: value column '", column,
                                    "' must be numeric, it is ", array.type()->ToString());
  }
}

int64_t processing_time_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

arrow::Result<int64_t> cell_time_s(const arrow::Array& array, int64_t row,
                                   const std::string& column) {
  switch (array.type_id()) {
    case arrow::Type::TIMESTAMP: {
      const auto& type = static_cast<const arrow::TimestampType&>(*array.type());
      int64_t v = static_cast<const arrow::TimestampArray&>(array).Value(row);
      int64_t per_second = 1;
      switch (type.unit()) {
        case arrow::TimeUnit::SECOND:
          per_second = 1;
          break;
        case arrow::TimeUnit::MILLI:
          per_second = 1000;
          break;
        case arrow::TimeUnit::MICRO:
          per_second = 1'000'000;
          break;
        case arrow::TimeUnit::NANO:
          per_second = 1'000'000'000;
          break;
      }
      return v / per_second - ((v % per_second) < 0 ? 1 : 0);
    }
    case arrow::Type::INT64: {
      // Epoch seconds, or milliseconds when the value is too large to be seconds.
      const int64_t v = static_cast<const arrow::Int64Array&>(array).Value(row);
      return v > 100'000'000'000LL ? v / 1000 : v;
    }
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING: {
      std::string text;
      cell_text(array, row, text);
      auto t = parse_timestamp(text);
      if (!t.ok()) {
        return arrow::Status::Invalid("metrics sink: time column '", column, "': '", text,
                                      "' is not a timestamp");
      }
      return *t / 1'000'000 - ((*t % 1'000'000) < 0 ? 1 : 0);
    }
    default:
      return arrow::Status::Invalid("metrics sink: time column '", column,
                                    "' must be a TIMESTAMP, BIGINT or STRING, it is ",
                                    array.type()->ToString());
  }
}

class MetricsSink final : public exec::Sink {
 public:
  MetricsSink(std::shared_ptr<realtime::Hub> hub, realtime::MetricStore* store, std::string metric,
              int time_column, int value_column, std::vector<int> dimension_columns,
              std::vector<std::string> column_names)
      : hub_(std::move(hub)),
        store_(store),
        metric_(std::move(metric)),
        time_column_(time_column),
        value_column_(value_column),
        dimension_columns_(std::move(dimension_columns)),
        column_names_(std::move(column_names)) {}

  std::string name() const override { return "metrics(" + metric_ + ")"; }

  arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    return add(batch, nullptr);
  }
  // An updating result (unwindowed GROUP BY on a stream): a retraction (-U, -D) subtracts the
  // value its row had added, so a series' running total is the latest value of each group.
  bool accepts_changelog() const override { return true; }
  arrow::Status write_changelog(const std::shared_ptr<arrow::RecordBatch>& batch,
                                const std::vector<int8_t>& kinds) override {
    return add(batch, &kinds);
  }

  arrow::Status add(const std::shared_ptr<arrow::RecordBatch>& batch,
                    const std::vector<int8_t>* kinds) {
    const int64_t rows = batch->num_rows();
    samples_.resize(static_cast<size_t>(rows));
    const int64_t now_s = processing_time_s();
    size_t used = 0;
    for (int64_t r = 0; r < rows; ++r) {
      realtime::Sample& s = samples_[used];
      if (value_column_ >= 0) {
        const arrow::Array& values = *batch->column(value_column_);
        if (values.IsNull(r)) continue;  // no value, no sample
        ARROW_ASSIGN_OR_RAISE(s.value, cell_number(values, r, column_names_[value_column_]));
      } else {
        s.value = 1;
      }
      if (kinds && ((*kinds)[size_t(r)] == 1 || (*kinds)[size_t(r)] == 3)) s.value = -s.value;
      if (time_column_ >= 0 && !batch->column(time_column_)->IsNull(r)) {
        auto t = cell_time_s(*batch->column(time_column_), r, column_names_[time_column_]);
        if (!t.ok())
          return t.status().WithMessage(t.status().message(), " (row ", written_ + r + 1, ")");
        s.time_s = *t;
      } else {
        s.time_s = now_s;
      }
      s.dimensions.resize(dimension_columns_.size());
      for (size_t d = 0; d < dimension_columns_.size(); ++d) {
        cell_text(*batch->column(dimension_columns_[d]), r, s.dimensions[d]);
      }
      ++used;
    }
    samples_.resize(used);
    ARROW_RETURN_NOT_OK(store_->add(metric_, samples_));
    written_ += rows;
    return arrow::Status::OK();
  }

  // Exactly-once across restarts: the checkpoint keeps this metric's series as of the barrier;
  // a job resuming from it puts them back in place of whatever was added after (the replay
  // adds those rows again).
  arrow::Status open(const exec::OperatorContext& context) override {
    if (!context.restored_state) return arrow::Status::OK();
    return store_->import_metric(context.restored_state->ToString(),
                                 "the checkpoint of metric '" + metric_ + "'");
  }
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t) override {
    return arrow::Buffer::FromString(store_->export_metric(metric_));
  }
  arrow::Status commit(int64_t) override { return hub_->snapshot_metrics(); }
  arrow::Status close(bool) override { return hub_->snapshot_metrics(); }
  int64_t rows_written() const override { return written_; }

 private:
  std::shared_ptr<realtime::Hub> hub_;
  realtime::MetricStore* store_;
  std::string metric_;
  int time_column_;
  int value_column_;
  std::vector<int> dimension_columns_;
  std::vector<std::string> column_names_;
  std::vector<realtime::Sample> samples_;  // reused between batches
  int64_t written_ = 0;
};

}  // namespace

ConnectorEntry metrics_connector() {
  ConnectorEntry entry;
  entry.name = "metrics";
  entry.make_sink = [](const exec::SinkSpec& spec,
                       ConnectContext& context) -> arrow::Result<std::unique_ptr<exec::Sink>> {
    OptionReader reader("metrics", spec.options);
    ARROW_ASSIGN_OR_RAISE(std::string metric, reader.require("metric.name"));
    const auto time_column = reader.get("metric.time-column");
    const auto value_column = reader.get("metric.value-column");
    const auto dimensions = reader.get("metric.dimensions");
    ARROW_ASSIGN_OR_RAISE(int64_t max_series, reader.get_int("metric.max-series", 10000));
    ARROW_ASSIGN_OR_RAISE(int64_t fine_ms,
                          parse_duration_ms(reader.get_or("metric.fine-retention", "6h")));
    ARROW_ASSIGN_OR_RAISE(int64_t coarse_ms,
                          parse_duration_ms(reader.get_or("metric.coarse-retention", "7d")));
    reader.get("sink.parallelism");
    ARROW_RETURN_NOT_OK(reader.check_unknown());

    const auto& schema = *spec.schema;
    std::vector<std::string> names;
    for (const auto& f : schema.fields()) names.push_back(f->name());
    auto find = [&](const std::string& option, const std::string& column) -> arrow::Result<int> {
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == column) return static_cast<int>(i);
      }
      return arrow::Status::Invalid("metrics sink: '", option, "' names column '", column,
                                    "', which the table does not have (columns: ",
                                    fmt::format("{}", fmt::join(names, ", ")), ")");
    };
    int time_index = -1, value_index = -1;
    if (time_column) {
      ARROW_ASSIGN_OR_RAISE(time_index, find("metric.time-column", *time_column));
    }
    if (value_column) {
      ARROW_ASSIGN_OR_RAISE(value_index, find("metric.value-column", *value_column));
    }
    std::vector<int> dimension_indices;
    std::vector<std::string> dimension_names;
    if (dimensions) {
      for (const auto& d : split_columns(*dimensions)) {
        ARROW_ASSIGN_OR_RAISE(int i, find("metric.dimensions", d));
        dimension_indices.push_back(i);
        dimension_names.push_back(d);
      }
    } else {
      for (size_t i = 0; i < names.size(); ++i) {
        if (static_cast<int>(i) == time_index || static_cast<int>(i) == value_index) continue;
        dimension_indices.push_back(static_cast<int>(i));
        dimension_names.push_back(names[i]);
      }
    }
    auto hub = realtime::Hub::for_data_dir(context.options().data_dir);
    realtime::MetricStoreOptions store_options;
    store_options.fine_span_s = fine_ms / 1000;
    store_options.coarse_span_s = coarse_ms / 1000;
    store_options.max_series_per_metric = max_series;
    ARROW_ASSIGN_OR_RAISE(realtime::MetricStore * store, hub->metrics(&store_options));
    ARROW_RETURN_NOT_OK(store->declare(metric, dimension_names));
    return std::make_unique<MetricsSink>(std::move(hub), store, std::move(metric), time_index,
                                         value_index, std::move(dimension_indices),
                                         std::move(names));
  };
  return entry;
}

}  // namespace roadpulse::connect
