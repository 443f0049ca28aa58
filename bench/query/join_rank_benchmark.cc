// The batch operators of joins and rankings on Arrow batches (src/exec/join_operators.h), each
// against a baseline of the Arrow work it cannot avoid, measured in the same run:
//
// - HashJoinOperator probing 1M accident-like rows (4096-row batches, state code + 3 payload
//   columns) against a 52-row state dimension (INNER and LEFT) and against a 100k-row build side
//   (2 build rows per key). Baseline: Grouper::Lookup of the same keys plus one Take of the probe
//   batch — the hash lookups and gathering any join must do.
// - RankOperator (RANK() OVER (PARTITION BY state ORDER BY n DESC)) over 1M rows. Baseline:
//   SortIndices + Take of the same rows by the same keys (what SortOperator does for ORDER BY).
// - SUBSTRING(d, 1, 7) (the by-month query's key) through Arrow's utf8_slice_codeunits against
//   the row loop a non-constant start takes.
// Counters: probe/input rows per second.

#include <random>

#include <arrow/builder.h>
#include <arrow/compute/api.h>
#include <arrow/compute/row/grouper.h>
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "exec/expression.h"
#include "exec/join_operators.h"

using namespace roadpulse;

namespace {

constexpr int64_t kRows = 1 << 20;
constexpr int64_t kBatch = 4096;
constexpr int kStates = 52;

std::string state_code(int i) { return fmt::format("S{:02d}", i); }

struct Probe {
  std::shared_ptr<arrow::Schema> schema;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
};

// Accident-like rows: a skewed state code, an id, a severity and a distance.
const Probe& probe_rows() {
  static const Probe p = [] {
    Probe out;
    out.schema = arrow::schema(
        {arrow::field("state", arrow::utf8()), arrow::field("id", arrow::int64()),
         arrow::field("severity", arrow::int64()), arrow::field("distance", arrow::float64())});
    std::mt19937_64 rng(7);
    std::geometric_distribution<int> state(0.08);
    std::uniform_int_distribution<int> sev(1, 4);
    std::uniform_real_distribution<double> dist(0, 10);
    for (int64_t off = 0; off < kRows; off += kBatch) {
      arrow::StringBuilder s;
      arrow::Int64Builder id, sv;
      arrow::DoubleBuilder d;
      for (int64_t i = 0; i < kBatch; ++i) {
        (void)s.Append(state_code(std::min(state(rng), kStates + 3)));  // a few unknown codes
        (void)id.Append(off + i);
        (void)sv.Append(sev(rng));
        (void)d.Append(dist(rng));
      }
      out.batches.push_back(
          arrow::RecordBatch::Make(out.schema, kBatch,
                                   {s.Finish().ValueOrDie(), id.Finish().ValueOrDie(),
                                    sv.Finish().ValueOrDie(), d.Finish().ValueOrDie()}));
    }
    return out;
  }();
  return p;
}

// `copies` build rows per state code: (code, name, region).
std::shared_ptr<arrow::RecordBatch> build_rows(int codes, int copies) {
  arrow::StringBuilder c, n, r;
  for (int k = 0; k < copies; ++k) {
    for (int i = 0; i < codes; ++i) {
      (void)c.Append(state_code(i % kStates) + (i < kStates ? "" : fmt::format("-{}", i)));
      (void)n.Append(fmt::format("State {}", i));
      (void)r.Append(i % 4 == 0 ? "West" : "East");
    }
  }
  auto schema =
      arrow::schema({arrow::field("code", arrow::utf8()), arrow::field("name", arrow::utf8()),
                     arrow::field("region", arrow::utf8())});
  return arrow::RecordBatch::Make(
      schema, int64_t(codes) * copies,
      {c.Finish().ValueOrDie(), n.Finish().ValueOrDie(), r.Finish().ValueOrDie()});
}

sql::Schema sql_schema(const arrow::Schema& s, bool nullable = true) {
  sql::Schema out;
  for (const auto& f : s.fields()) {
    auto t = sql::sql_type_from_arrow(*f->type(), true).ValueOrDie();
    out.fields.push_back({f->name(), t.with_nullable(nullable)});
  }
  return out;
}

std::unique_ptr<sql::LogicalNode> join_node(const arrow::Schema& right, const std::string& type) {
  auto node = std::make_unique<sql::LogicalNode>();
  node->kind = sql::LogicalNodeKind::kJoin;
  node->join_type = type;
  node->left_keys = {0};
  node->right_keys = {0};
  auto l = std::make_unique<sql::LogicalNode>();
  l->schema = sql_schema(*probe_rows().schema);
  auto r = std::make_unique<sql::LogicalNode>();
  r->schema = sql_schema(right);
  node->schema = l->schema;
  for (const auto& f : r->schema.fields) node->schema.fields.push_back(f);
  node->inputs.push_back(std::move(l));
  node->inputs.push_back(std::move(r));
  return node;
}

class Count final : public exec::Collector {
 public:
  arrow::Status emit(std::shared_ptr<arrow::RecordBatch> b) override {
    rows += b->num_rows();
    return arrow::Status::OK();
  }
  arrow::Status emit_watermark(exec::Watermark) override { return arrow::Status::OK(); }
  int64_t rows = 0;
};

void run_join(benchmark::State& state, int codes, int copies, const std::string& type) {
  (void)exec::ensure_compute_kernels();
  auto build = build_rows(codes, copies);
  auto node = join_node(*build->schema(), type);
  int64_t out_rows = 0;
  for (auto _ : state) {
    auto op = exec::HashJoinOperator::make(*node, [build] { return build; }).ValueOrDie();
    if (!op->open({}).ok()) state.SkipWithError("open");
    Count out;
    for (const auto& b : probe_rows().batches) {
      if (!op->process_batch(0, b, out).ok()) state.SkipWithError("probe");
    }
    out_rows = out.rows;
  }
  state.counters["probe_rows/s"] =
      benchmark::Counter(double(kRows) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["out_rows"] = double(out_rows);
}

void BM_HashJoin_Dim52_Inner(benchmark::State& s) { run_join(s, kStates, 1, "INNER"); }
void BM_HashJoin_Dim52_Left(benchmark::State& s) { run_join(s, kStates, 1, "LEFT"); }
void BM_HashJoin_Build100k_Inner(benchmark::State& s) { run_join(s, 50'000, 2, "INNER"); }

// Baseline: the hash lookups of the probe keys and one gather of the probe batch.
void run_lookup_take(benchmark::State& state, int codes, int copies) {
  (void)exec::ensure_compute_kernels();
  auto build = build_rows(codes, copies);
  for (auto _ : state) {
    auto grouper = arrow::compute::Grouper::Make({arrow::utf8()}).ValueOrDie();
    arrow::compute::ExecBatch keys({arrow::Datum(build->column(0))}, build->num_rows());
    (void)grouper->Consume(arrow::compute::ExecSpan(keys)).ValueOrDie();
    for (const auto& b : probe_rows().batches) {
      arrow::compute::ExecBatch k({arrow::Datum(b->column(0))}, b->num_rows());
      auto ids = grouper->Lookup(arrow::compute::ExecSpan(k)).ValueOrDie();
      auto idx = arrow::compute::DropNull(ids).ValueOrDie();
      auto taken = arrow::compute::Take(arrow::Datum(b), idx).ValueOrDie();
      benchmark::DoNotOptimize(taken);
    }
  }
  state.counters["probe_rows/s"] =
      benchmark::Counter(double(kRows) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_Baseline_LookupTake_Dim52(benchmark::State& s) { run_lookup_take(s, kStates, 1); }
void BM_Baseline_LookupTake_Build100k(benchmark::State& s) { run_lookup_take(s, 50'000, 2); }

std::unique_ptr<sql::LogicalNode> rank_node() {
  auto node = std::make_unique<sql::LogicalNode>();
  node->kind = sql::LogicalNodeKind::kRank;
  auto in = std::make_unique<sql::LogicalNode>();
  in->schema = sql_schema(*probe_rows().schema);
  node->schema = in->schema;
  node->schema.fields.push_back({"r", sql::SqlType::bigint(false)});
  node->group_keys = {0};
  node->sort_keys = {{3, true}};
  node->rank_functions = {"RANK"};
  node->inputs.push_back(std::move(in));
  return node;
}

void BM_Rank_ByState_OrderDistance(benchmark::State& state) {
  auto node = rank_node();
  for (auto _ : state) {
    auto op = exec::RankOperator::make(*node).ValueOrDie();
    Count out;
    for (const auto& b : probe_rows().batches) (void)op->process_batch(0, b, out);
    if (!op->close(true, out).ok()) state.SkipWithError("close");
    benchmark::DoNotOptimize(out.rows);
  }
  state.counters["rows/s"] =
      benchmark::Counter(double(kRows) * state.iterations(), benchmark::Counter::kIsRate);
}

// Baseline: concatenate, sort by the same keys and take (ORDER BY state, distance DESC).
void BM_Baseline_SortTake(benchmark::State& state) {
  (void)exec::ensure_compute_kernels();
  for (auto _ : state) {
    auto all = arrow::ConcatenateRecordBatches(probe_rows().batches).ValueOrDie();
    arrow::compute::SortOptions opts(
        {arrow::compute::SortKey(arrow::FieldRef(0)),
         arrow::compute::SortKey(arrow::FieldRef(3), arrow::compute::SortOrder::Descending)});
    auto idx = arrow::compute::SortIndices(arrow::Datum(all), opts).ValueOrDie();
    auto taken = arrow::compute::Take(arrow::Datum(all), arrow::Datum(idx)).ValueOrDie();
    benchmark::DoNotOptimize(taken);
  }
  state.counters["rows/s"] =
      benchmark::Counter(double(kRows) * state.iterations(), benchmark::Counter::kIsRate);
}

// SUBSTRING(event_date, 1, 7) of the by-month query over 1M date strings: constant bounds take
// Arrow's utf8_slice_codeunits; the baseline in the same run is the row loop that a start read
// from a column takes (same values).
void run_substring(benchmark::State& state, bool constant) {
  arrow::StringBuilder dates;
  arrow::Int32Builder ones;
  for (int64_t i = 0; i < kBatch; ++i) {
    (void)dates.Append(fmt::format("2016-{:02d}-{:02d}", 1 + i % 12, 1 + i % 28));
    (void)ones.Append(1);
  }
  auto batch = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("d", arrow::utf8()), arrow::field("one", arrow::int32())}),
      kBatch, {dates.Finish().ValueOrDie(), ones.Finish().ValueOrDie()});
  std::vector<sql::BoundExprPtr> args;
  args.push_back(sql::BoundExpr::column(0, "d", sql::SqlType::string()));
  args.push_back(constant ? sql::BoundExpr::make_literal(std::make_shared<arrow::Int32Scalar>(1),
                                                         sql::SqlType::integer())
                          : sql::BoundExpr::column(1, "one", sql::SqlType::integer()));
  args.push_back(sql::BoundExpr::make_literal(std::make_shared<arrow::Int32Scalar>(7),
                                              sql::SqlType::integer()));
  auto e = sql::BoundExpr::call("SUBSTRING", sql::SqlType::string(), std::move(args));
  auto compiled = exec::CompiledExpr::compile(*e).ValueOrDie();
  for (auto _ : state) {
    for (int64_t off = 0; off < kRows; off += kBatch) {
      benchmark::DoNotOptimize(compiled->evaluate_array(*batch).ValueOrDie());
    }
  }
  state.counters["rows/s"] =
      benchmark::Counter(double(kRows) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_Substring_ConstantBounds(benchmark::State& s) { run_substring(s, true); }
void BM_Baseline_Substring_RowLoop(benchmark::State& s) { run_substring(s, false); }

}  // namespace

BENCHMARK(BM_Substring_ConstantBounds)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(BM_Baseline_Substring_RowLoop)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(BM_HashJoin_Dim52_Inner)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(BM_HashJoin_Dim52_Left)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(BM_Baseline_LookupTake_Dim52)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(BM_HashJoin_Build100k_Inner)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(BM_Baseline_LookupTake_Build100k)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(BM_Rank_ByState_OrderDistance)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(BM_Baseline_SortTake)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();

BENCHMARK_MAIN();
