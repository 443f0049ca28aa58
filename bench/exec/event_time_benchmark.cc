// The event-time paths added for issue 5, each against its baseline in the same run (one core;
// items_per_second = events/s):
//   BM_WindowJob/inputs:1       a whole job: in-memory source -> scan (watermark) -> 1-minute
//                               TUMBLE COUNT by County -> counting sink, 1 M events
//   BM_WindowJob/inputs:2       the same events split over two sources under a UNION ALL: the
//                               window runs in the shared tail (mutex per batch, the minimum of
//                               two watermarks), two source threads
//   BM_LateRows/side_output:0   1 M rows behind the watermark through the window operator:
//                               dropped and counted (the default)
//   BM_LateRows/side_output:1   the same rows also encoded as JSON records for `<job>.late`
//                               (LateRecordStream into a counting sink)
//   BM_Filter/current_watermark:0  `Start_Time > TIMESTAMP '...'` on 1 M rows
//   BM_Filter/current_watermark:1  `Start_Time > CURRENT_WATERMARK(Start_Time)`
// Events: 3,000 skewed counties, ~1 ms apart, up to 2 s out of order (as window_benchmark).
// BM_WindowJob runs whole jobs with their threads: compare real time (CPU time is the main
// thread only).

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <random>

#include <arrow/api.h>

#include "exec/aggregate_operators.h"
#include "exec/job.h"
#include "exec/late_records.h"
#include "exec/operators.h"
#include "sql/session.h"

namespace {

using namespace roadpulse;

constexpr int64_t kEvents = 1000000;
constexpr int64_t kBatch = 4096;
constexpr int64_t kBase = 1699999980LL * 1000000;  // a whole minute

// Batches of (County STRING, Start_Time TIMESTAMP).
std::vector<std::shared_ptr<arrow::RecordBatch>> make_events() {
  auto schema =
      arrow::schema({arrow::field("County", arrow::utf8()),
                     arrow::field("Start_Time", arrow::timestamp(arrow::TimeUnit::MICRO))});
  std::vector<std::shared_ptr<arrow::RecordBatch>> out;
  std::mt19937_64 rng(7);
  std::vector<std::string> counties;
  for (int i = 0; i < 3000; ++i) counties.push_back("County-" + std::to_string(i));
  int64_t t = kBase;
  for (int64_t start = 0; start < kEvents; start += kBatch) {
    arrow::StringBuilder names;
    arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO),
                                  arrow::default_memory_pool());
    for (int64_t i = start; i < std::min(kEvents, start + kBatch); ++i) {
      t += 1000;
      const double u = double(rng() % 1000000) / 1e6;
      (void)names.Append(counties[size_t(u * u * 3000)]);
      (void)times.Append(t - int64_t(rng() % 2000) * 1000);
    }
    auto n = names.Finish().ValueOrDie();
    out.push_back(arrow::RecordBatch::Make(schema, n->length(), {n, times.Finish().ValueOrDie()}));
  }
  return out;
}

const std::vector<std::shared_ptr<arrow::RecordBatch>>& events() {
  static const auto e = make_events();
  return e;
}

// Sources replay events() (all of it, or every other batch for input `part` of `parts`);
// sinks count rows.
class Memory final : public exec::ConnectorFactory {
 public:
  std::atomic<int64_t> written{0};
  arrow::Result<std::unique_ptr<exec::Source>> make_source(const exec::SourceSpec& spec) override {
    const int part = std::stoi(spec.options.at("part"));
    const int parts = std::stoi(spec.options.at("parts"));
    return std::make_unique<Replay>(part, parts, spec.read_schema);
  }
  arrow::Result<std::unique_ptr<exec::Sink>> make_sink(const exec::SinkSpec&) override {
    return std::make_unique<Count>(&written);
  }

 private:
  class Replay final : public exec::Source {
   public:
    Replay(int part, int parts, std::shared_ptr<arrow::Schema> schema)
        : i_(size_t(part)), step_(size_t(parts)), schema_(std::move(schema)) {}
    std::string name() const override { return "replay"; }
    bool bounded() const override { return true; }
    arrow::Result<exec::SourceChunk> next(int64_t) override {
      exec::SourceChunk chunk;
      if (i_ >= events().size()) {
        chunk.end_of_input = true;
        return chunk;
      }
      const auto& b = events()[i_];
      i_ += step_;
      chunk.batch = arrow::RecordBatch::Make(schema_, b->num_rows(), b->columns());
      return chunk;
    }
    exec::SourceMetrics metrics() const override { return {}; }

   private:
    size_t i_, step_;
    std::shared_ptr<arrow::Schema> schema_;
  };
  class Count final : public exec::Sink {
   public:
    explicit Count(std::atomic<int64_t>* n) : n_(n) {}
    std::string name() const override { return "count"; }
    arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& b) override {
      *n_ += b->num_rows();
      rows_ += b->num_rows();
      return arrow::Status::OK();
    }
    int64_t rows_written() const override { return rows_; }

   private:
    std::atomic<int64_t>* n_;
    int64_t rows_ = 0;
  };
};

sql::Session& session() {
  static sql::Session* s = [] {
    auto* s = new sql::Session();
    auto st = s->execute_script(R"(
      CREATE TABLE a1 (County STRING, Start_Time TIMESTAMP(3),
        WATERMARK FOR Start_Time AS Start_Time - INTERVAL '5' SECOND)
        WITH ('connector' = 'memory', 'part' = '0', 'parts' = '1');
      CREATE TABLE h0 (County STRING, Start_Time TIMESTAMP(3),
        WATERMARK FOR Start_Time AS Start_Time - INTERVAL '5' SECOND)
        WITH ('connector' = 'memory', 'part' = '0', 'parts' = '2');
      CREATE TABLE h1 (County STRING, Start_Time TIMESTAMP(3),
        WATERMARK FOR Start_Time AS Start_Time - INTERVAL '5' SECOND)
        WITH ('connector' = 'memory', 'part' = '1', 'parts' = '2');
      CREATE VIEW both_halves AS SELECT * FROM h0 UNION ALL SELECT * FROM h1;
      CREATE TABLE counts (County STRING, window_end TIMESTAMP(3), n BIGINT)
        WITH ('connector' = 'memory');)");
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.status().ToString().c_str());
      std::abort();
    }
    return s;
  }();
  return *s;
}

std::unique_ptr<sql::LogicalNode> query_plan(const std::string& sql) {
  auto r = session().execute(sql);
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
    std::abort();
  }
  return std::move(r->query);
}

void BM_WindowJob(benchmark::State& state) {
  const bool two = state.range(0) == 2;
  auto r = session().execute(std::string("INSERT INTO counts SELECT County, window_end, COUNT(*) "
                                         "FROM TABLE(TUMBLE(TABLE ") +
                             (two ? "both_halves" : "a1") +
                             ", DESCRIPTOR(Start_Time), INTERVAL '1' MINUTE)) GROUP BY County, "
                             "window_start, window_end");
  if (!r.ok()) {
    state.SkipWithError(r.status().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    Memory memory;
    auto job = exec::Job::make(*r->plan, memory, exec::JobOptions{}).ValueOrDie();
    auto st = job->run();
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    benchmark::DoNotOptimize(memory.written.load());
  }
  state.SetItemsProcessed(state.iterations() * kEvents);
}
BENCHMARK(BM_WindowJob)
    ->ArgName("inputs")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

class Discard final : public exec::Collector {
 public:
  arrow::Status emit(std::shared_ptr<arrow::RecordBatch> b) override {
    rows += b->num_rows();
    return arrow::Status::OK();
  }
  arrow::Status emit_watermark(exec::Watermark) override { return arrow::Status::OK(); }
  int64_t rows = 0;
};

const sql::LogicalNode* find(const sql::LogicalNode& n, sql::LogicalNodeKind kind) {
  if (n.kind == kind) return &n;
  for (const auto& i : n.inputs) {
    if (auto* f = find(*i, kind)) return f;
  }
  return nullptr;
}

void BM_LateRows(benchmark::State& state) {
  static auto plan = query_plan(
      "SELECT County, window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE a1, DESCRIPTOR(Start_Time), "
      "INTERVAL '1' MINUTE)) GROUP BY County, window_start, window_end");
  const auto* node = find(*plan, sql::LogicalNodeKind::kWindowAggregate);
  const auto schema = node->inputs[0]->schema.to_arrow();
  Memory memory;
  std::unique_ptr<exec::LateRecordStream> late;
  if (state.range(0)) {
    late = exec::LateRecordStream::make("bench", "bench.late", memory, {}).ValueOrDie();
    (void)late->sink()->open(exec::OperatorContext{});
  }
  for (auto _ : state) {
    auto op = exec::WindowAggregateOperator::make(*node).ValueOrDie();
    exec::OperatorContext context;
    context.late_output = late.get();
    (void)op->open(context);
    Discard out;
    // Every window has fired: each row is late.
    (void)op->on_watermark(exec::Watermark{kBase + 3600LL * 1000000, false}, out);
    for (const auto& b : events()) {
      auto st =
          op->process_batch(0, arrow::RecordBatch::Make(schema, b->num_rows(), b->columns()), out);
      if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    }
    if (op->metrics().late_records != kEvents) state.SkipWithError("not every row was late");
  }
  state.counters["side_records"] = double(memory.written.load()) / double(state.iterations());
  state.SetItemsProcessed(state.iterations() * kEvents);
}
BENCHMARK(BM_LateRows)->ArgName("side_output")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_Filter(benchmark::State& state) {
  static auto by_constant =
      query_plan("SELECT County FROM a1 WHERE Start_Time > TIMESTAMP '2023-11-14 22:20:00'");
  static auto by_watermark =
      query_plan("SELECT County FROM a1 WHERE Start_Time > CURRENT_WATERMARK(Start_Time)");
  const auto& plan = state.range(0) ? by_watermark : by_constant;
  const sql::BoundExpr* predicate = nullptr;
  if (const auto* f = find(*plan, sql::LogicalNodeKind::kFilter)) {
    predicate = f->predicate.get();
  } else if (const auto* s = find(*plan, sql::LogicalNodeKind::kTableScan)) {
    predicate = s->pushed_filter.get();
  }
  if (!predicate) {
    state.SkipWithError("no predicate in the plan");
    return;
  }
  auto op = exec::FilterOperator::make(*predicate).ValueOrDie();
  Discard out;
  // The watermark 7 minutes in: about half the rows pass either filter.
  (void)op->on_watermark(exec::Watermark{kBase + 420LL * 1000000, false}, out);
  for (auto _ : state) {
    for (const auto& b : events()) {
      auto st = op->process_batch(0, b, out);
      if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    }
  }
  state.counters["kept"] = double(out.rows) / double(state.iterations());
  state.SetItemsProcessed(state.iterations() * kEvents);
}
BENCHMARK(BM_Filter)->ArgName("current_watermark")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
