// Batch query over a lake table through LakeQueryEngine (catalog -> session -> plan -> pruning
// source -> exec): 30 daily partitions x 20k rows (600k rows, 16Ki-row groups, time-ordered).
// Baseline in the same run: the same filter with nothing to prune (full scan); then a
// partition predicate (1/30 of the directories) and a time range (row-group statistics).
// Counters: table rows per second (600k / time), rows returned.

#include <filesystem>
#include <random>

#include <arrow/builder.h>
#include <benchmark/benchmark.h>

#include "lake/lake.h"
#include "query/query.h"

namespace fs = std::filesystem;
using namespace roadpulse;

namespace {

constexpr int kDays = 30;
constexpr int kRowsPerDay = 20'000;
constexpr int64_t kDay = 86'400'000'000LL;
constexpr int64_t kStart = 1454889600000000LL;  // 2016-02-08T00:00:00Z

std::string day_name(int d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "2016-02-%02d", 8 + d);  // 08..37 is fine for a partition name
  return buf;
}

struct Lake {
  fs::path dir;
  std::unique_ptr<query::LakeQueryEngine> engine;
  Lake() {
    dir = fs::temp_directory_path() / ("query_bench_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    const std::string location = (dir / "lake" / "curated" / "acc").string();
    auto schema = arrow::schema({arrow::field("id", arrow::int64()),
                                 arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                                 arrow::field("severity", arrow::int64()),
                                 arrow::field("state", arrow::utf8()),
                                 arrow::field("event_date", arrow::utf8())});
    auto catalog = lake::Catalog::open((dir / "lake" / "_catalog").string()).ValueOrDie();
    lake::TableWriterOptions options;
    options.location = location;
    options.schema = schema;
    options.partition_keys = {"event_date"};
    options.job_id = "bench";
    options.parquet.row_group_rows = 16 * 1024;
    options.catalog = catalog.get();
    options.table.name = "curated.acc";
    options.table.location = location;
    options.table.schema = schema;
    options.table.partition_keys = {"event_date"};
    auto writer = lake::TableWriter::make(options).ValueOrDie();
    std::mt19937_64 rng(7);
    static const char* kStates[] = {"CA", "TX", "FL", "OH", "NY", "PA"};
    int64_t id = 0;
    for (int d = 0; d < kDays; ++d) {
      arrow::Int64Builder ids, sev;
      arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                                 arrow::default_memory_pool());
      arrow::StringBuilder state, date;
      for (int i = 0; i < kRowsPerDay; ++i, ++id) {
        (void)ids.Append(id);
        (void)ts.Append(kStart + d * kDay + int64_t(i) * (kDay / kRowsPerDay));
        (void)sev.Append(1 + int64_t(rng() % 4));
        (void)state.Append(kStates[rng() % 6]);
        (void)date.Append(day_name(d));
      }
      auto batch = arrow::RecordBatch::Make(
          schema, kRowsPerDay,
          {ids.Finish().ValueOrDie(), ts.Finish().ValueOrDie(), sev.Finish().ValueOrDie(),
           state.Finish().ValueOrDie(), date.Finish().ValueOrDie()});
      (void)writer->write(batch);
    }
    (void)writer->prepare_commit(1);
    if (!writer->commit(1).ok()) std::abort();
    engine = query::LakeQueryEngine::make(dir.string()).ValueOrDie();
  }
  ~Lake() { fs::remove_all(dir); }
};

Lake& lake() {
  static Lake l;
  return l;
}

void run_query(benchmark::State& state, const char* sql) {
  Lake& l = lake();
  query::QueryLimits limits;
  limits.max_rows = 1LL << 40;
  limits.max_result_bytes = 1LL << 40;
  int64_t rows = 0;
  std::string pruning;
  for (auto _ : state) {
    auto out = l.engine->run(sql, limits);
    if (!out.ok()) {
      state.SkipWithError(out.status().ToString().c_str());
      return;
    }
    rows = out->rows;
    if (!out->pruning.empty()) pruning = out->pruning[0].to_string();
  }
  state.counters["table_rows/s"] = benchmark::Counter(
      double(kDays) * kRowsPerDay, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["rows_returned"] = double(rows);
  state.SetLabel(pruning);
}

void BM_FullScanBaseline(benchmark::State& state) {
  run_query(state, "SELECT id, state FROM acc WHERE severity = 4");
}
BENCHMARK(BM_FullScanBaseline)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PartitionPruned(benchmark::State& state) {
  run_query(state, "SELECT id, state FROM acc WHERE severity = 4 AND event_date = '2016-02-20'");
}
BENCHMARK(BM_PartitionPruned)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RowGroupPruned(benchmark::State& state) {
  run_query(state,
            "SELECT id, state FROM acc WHERE severity = 4 AND ts >= TIMESTAMP '2016-02-20 "
            "00:00:00' AND ts < TIMESTAMP '2016-02-20 06:00:00'");
}
BENCHMARK(BM_RowGroupPruned)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
