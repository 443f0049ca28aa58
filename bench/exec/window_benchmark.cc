// Windowed COUNT(*) by (County, 1-minute TUMBLE) over 1 M events, the figure, with
// baselines over the same keys in the same run (single thread; items_per_second = events/s per
// core):
//   BM_HashCountBaseline     std::unordered_map<string_view, int64> counting the County column:
//                            the bare hash count, no windows, no Arrow output
//   BM_GroupByCount          our unwindowed GROUP BY County (bounded: final result at the end)
//   BM_TumbleCountByCounty   the window operator: slices, watermark after every 4096-row batch,
//                            each minute emitted and freed when the watermark passes it
//   BM_StateBytesPer100kKeys snapshot size of one open window holding 100k keys (counter
//                            bytes_per_key; also the snapshot time)
// Events: 3,000 counties (skewed: a few counties get most events), ~1 ms apart (17 minutes in
// all), arriving up to 2 s out of order; the watermark delay is 5 s.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <unordered_map>

#include <arrow/api.h>

#include "exec/aggregate_operators.h"
#include "sql/session.h"

namespace {

using namespace roadpulse;

constexpr int64_t kEvents = 1000000;
constexpr int64_t kBatch = 4096;
constexpr int64_t kBase = 1699999980LL * 1000000;  // a whole minute

class Discard final : public exec::Collector {
 public:
  arrow::Status emit(std::shared_ptr<arrow::RecordBatch> batch) override {
    rows += batch->num_rows();
    return arrow::Status::OK();
  }
  arrow::Status emit_watermark(exec::Watermark) override { return arrow::Status::OK(); }
  int64_t rows = 0;
};

struct Data {
  std::shared_ptr<arrow::Schema> schema;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  std::vector<int64_t> max_time;  // per batch
};

sql::Session& session() {
  static sql::Session* s = [] {
    auto* s = new sql::Session();
    auto st = s->execute(
        "CREATE TABLE acc (County STRING, Start_Time TIMESTAMP(3), "
        "WATERMARK FOR Start_Time AS Start_Time - INTERVAL '5' SECOND) "
        "WITH ('connector' = 'datagen')");
    if (!st.ok()) std::abort();
    return s;
  }();
  return *s;
}

const sql::LogicalNode* find(const sql::LogicalNode& n, sql::LogicalNodeKind kind) {
  if (n.kind == kind) return &n;
  for (const auto& i : n.inputs) {
    if (auto* f = find(*i, kind)) return f;
  }
  return nullptr;
}

const sql::LogicalNode& plan(const std::string& select, sql::LogicalNodeKind kind) {
  static std::vector<std::unique_ptr<sql::LogicalNode>> keep;
  auto r = session().execute(select);
  if (!r.ok()) std::abort();
  keep.push_back(std::move(r->query));
  const auto* node = keep.back() ? find(*keep.back(), kind) : nullptr;
  if (!node) {
    std::fprintf(stderr, "no %s node in the plan of %s\n", sql::logical_node_kind_name(kind),
                 select.c_str());
    std::abort();
  }
  return *node;
}

const sql::LogicalNode& tumble_node() {
  static const auto& n = plan(
      "SELECT County, window_start, window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE acc, "
      "DESCRIPTOR(Start_Time), INTERVAL '1' MINUTE)) GROUP BY County, window_start, window_end",
      sql::LogicalNodeKind::kWindowAggregate);
  return n;
}

const sql::LogicalNode& group_node() {
  static const auto& n =
      plan("SELECT County, COUNT(*) FROM acc GROUP BY County", sql::LogicalNodeKind::kAggregate);
  return n;
}

// Batches in the window operator's input row (County, Start_Time).
const Data& data() {
  static Data d = [] {
    Data d;
    d.schema = tumble_node().inputs[0]->schema.to_arrow();
    std::mt19937_64 rng(7);
    std::vector<std::string> counties;
    for (int i = 0; i < 3000; ++i) counties.push_back("County-" + std::to_string(i));
    int64_t t = kBase;
    for (int64_t start = 0; start < kEvents; start += kBatch) {
      arrow::StringBuilder names;
      arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO),
                                    arrow::default_memory_pool());
      int64_t max_time = INT64_MIN;
      for (int64_t i = start; i < std::min(kEvents, start + kBatch); ++i) {
        t += 1000;
        // Skewed: the square of a uniform draw favors low county numbers.
        const double u = double(rng() % 1000000) / 1e6;
        (void)names.Append(counties[size_t(u * u * 3000)]);
        const int64_t jitter = int64_t(rng() % 2000) * 1000;  // up to 2 s early
        (void)times.Append(t - jitter);
        max_time = std::max(max_time, t - jitter);
      }
      std::vector<std::shared_ptr<arrow::Array>> cols(2);
      cols[0] = names.Finish().ValueOrDie();
      cols[1] = times.Finish().ValueOrDie();
      // Column order of the operator's input.
      std::vector<std::shared_ptr<arrow::Array>> ordered;
      for (const auto& f : d.schema->fields())
        ordered.push_back(cols[f->name() == "County" ? 0 : 1]);
      const int64_t rows = ordered[0]->length();
      d.batches.push_back(arrow::RecordBatch::Make(d.schema, rows, std::move(ordered)));
      d.max_time.push_back(max_time);
    }
    return d;
  }();
  return d;
}

int county_column() { return data().schema->GetFieldIndex("County"); }

void BM_HashCountBaseline(benchmark::State& state) {
  const auto& d = data();
  const int c = county_column();
  for (auto _ : state) {
    std::unordered_map<std::string_view, int64_t> counts;
    for (const auto& b : d.batches) {
      const auto& names = static_cast<const arrow::StringArray&>(*b->column(c));
      for (int64_t r = 0; r < names.length(); ++r) ++counts[names.GetView(r)];
    }
    benchmark::DoNotOptimize(counts.size());
  }
  state.SetItemsProcessed(state.iterations() * kEvents);
}
BENCHMARK(BM_HashCountBaseline)->Unit(benchmark::kMillisecond);

void BM_GroupByCount(benchmark::State& state) {
  const auto& d = data();
  for (auto _ : state) {
    auto op = exec::GroupAggregateOperator::make(group_node(), true).ValueOrDie();
    Discard out;
    for (const auto& b : d.batches) {
      if (!op->process_batch(0, b, out).ok()) std::abort();
    }
    if (!op->close(true, out).ok()) std::abort();
    benchmark::DoNotOptimize(out.rows);
  }
  state.SetItemsProcessed(state.iterations() * kEvents);
}
BENCHMARK(BM_GroupByCount)->Unit(benchmark::kMillisecond);

void BM_TumbleCountByCounty(benchmark::State& state) {
  const auto& d = data();
  int64_t rows = 0, late = 0;
  for (auto _ : state) {
    auto op = exec::WindowAggregateOperator::make(tumble_node()).ValueOrDie();
    Discard out;
    int64_t max_time = INT64_MIN;
    for (size_t i = 0; i < d.batches.size(); ++i) {
      if (!op->process_batch(0, d.batches[i], out).ok()) std::abort();
      max_time = std::max(max_time, d.max_time[i]);
      if (!op->on_watermark(exec::Watermark{max_time - 5000000, false}, out).ok()) std::abort();
    }
    if (!op->on_watermark(exec::Watermark{exec::Watermark::kMax, false}, out).ok()) std::abort();
    rows = out.rows;
    late = op->metrics().late_records;
  }
  state.SetItemsProcessed(state.iterations() * kEvents);
  state.counters["result_rows"] = double(rows);
  state.counters["late"] = double(late);
}
BENCHMARK(BM_TumbleCountByCounty)->Unit(benchmark::kMillisecond);

void BM_StateBytesPer100kKeys(benchmark::State& state) {
  const auto& node = tumble_node();
  const auto schema = node.inputs[0]->schema.to_arrow();
  constexpr int kKeys = 100000;
  arrow::StringBuilder names;
  arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO),
                                arrow::default_memory_pool());
  for (int i = 0; i < kKeys; ++i) {
    (void)names.Append("County-" + std::to_string(i));
    (void)times.Append(kBase + 1000);
  }
  std::vector<std::shared_ptr<arrow::Array>> cols{names.Finish().ValueOrDie(),
                                                  times.Finish().ValueOrDie()};
  std::vector<std::shared_ptr<arrow::Array>> ordered;
  for (const auto& f : schema->fields()) ordered.push_back(cols[f->name() == "County" ? 0 : 1]);
  auto batch = arrow::RecordBatch::Make(schema, kKeys, ordered);
  auto op = exec::WindowAggregateOperator::make(node).ValueOrDie();
  Discard out;
  if (!op->process_batch(0, batch, out).ok()) std::abort();
  int64_t bytes = 0;
  for (auto _ : state) {
    auto snapshot = op->snapshot_state(1).ValueOrDie();
    bytes = snapshot->size();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["snapshot_bytes"] = double(bytes);
  state.counters["bytes_per_key"] = double(bytes) / kKeys;
}
BENCHMARK(BM_StateBytesPer100kKeys)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
