// The metrics sink's throughput (rows/s through the `metrics` connector: Arrow batch -> samples
// -> store) against a baseline in the same run (the least work that counts rows per series: one
// hash-map increment per row on the joined dimension text), and the store's memory per 10k series.
//
//   build/<dir>/bench/realtime_benchmark --benchmark_counters_tabular=true

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>

#include <arrow/api.h>
#include <benchmark/benchmark.h>

#include "connect/registry.h"
#include "log/log.h"
#include "realtime/alerts.h"
#include "realtime/metric_store.h"

namespace roadpulse {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kRows = 8192;

// Rows shaped like the default pipeline's metric: Severity, State, County, City, Start_Time
// (seconds advance every 64 rows); `series` distinct dimension combinations.
std::shared_ptr<arrow::RecordBatch> make_batch(int series, int64_t first_second) {
  arrow::Int32Builder severity;
  arrow::StringBuilder state, county, city;
  arrow::TimestampBuilder time(arrow::timestamp(arrow::TimeUnit::MILLI),
                               arrow::default_memory_pool());
  std::mt19937 rng(7);
  for (int64_t r = 0; r < kRows; ++r) {
    const int s = static_cast<int>(rng() % series);
    (void)severity.Append(1 + s % 4);
    (void)state.Append("S" + std::to_string(s % 49));
    (void)county.Append("County " + std::to_string(s % 997));
    (void)city.Append("City " + std::to_string(s));
    (void)time.Append((first_second + r / 64) * 1000);
  }
  auto schema =
      arrow::schema({arrow::field("Severity", arrow::int32()), arrow::field("State", arrow::utf8()),
                     arrow::field("County", arrow::utf8()), arrow::field("City", arrow::utf8()),
                     arrow::field("Start_Time", arrow::timestamp(arrow::TimeUnit::MILLI))});
  std::vector<std::shared_ptr<arrow::Array>> columns(5);
  (void)severity.Finish(&columns[0]);
  (void)state.Finish(&columns[1]);
  (void)county.Finish(&columns[2]);
  (void)city.Finish(&columns[3]);
  (void)time.Finish(&columns[4]);
  return arrow::RecordBatch::Make(schema, kRows, columns);
}

void BM_MetricsSink(benchmark::State& state) {
  const int series = static_cast<int>(state.range(0));
  const fs::path dir = fs::temp_directory_path() /
                       ("rp-bench-rt-" + std::to_string(::getpid()) + "-" + std::to_string(series));
  connect::ConnectOptions options;
  options.data_dir = dir.string();
  auto context = std::make_shared<connect::ConnectContext>(options);
  connect::ConnectorRegistry registry(context);
  auto batch = make_batch(series, 1'600'000'000);
  exec::SinkSpec spec;
  spec.schema = batch->schema();
  spec.options = {{"connector", "metrics"},
                  {"metric.name", "bench" + std::to_string(series)},
                  {"metric.time-column", "Start_Time"},
                  {"metric.dimensions", "Severity,State,County,City"},
                  {"metric.max-series", "1000000"}};
  auto sink = registry.make_sink(spec).ValueOrDie();
  for (auto _ : state) {
    auto st = sink->write(batch);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  fs::remove_all(dir);
}
BENCHMARK(BM_MetricsSink)->Arg(100)->Arg(10000)->Unit(benchmark::kMicrosecond);

// Baseline: the same rows counted in a hash map keyed by the joined dimension text.
void BM_BaselineHashCount(benchmark::State& state) {
  const int series = static_cast<int>(state.range(0));
  auto batch = make_batch(series, 1'600'000'000);
  const auto& severity = static_cast<const arrow::Int32Array&>(*batch->column(0));
  const auto& st = static_cast<const arrow::StringArray&>(*batch->column(1));
  const auto& county = static_cast<const arrow::StringArray&>(*batch->column(2));
  const auto& city = static_cast<const arrow::StringArray&>(*batch->column(3));
  std::unordered_map<std::string, double> counts;
  std::string key;
  for (auto _ : state) {
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      key = std::to_string(severity.Value(r));
      key += '\x1f';
      key += st.GetView(r);
      key += '\x1f';
      key += county.GetView(r);
      key += '\x1f';
      key += city.GetView(r);
      counts[key] += 1;
    }
    benchmark::DoNotOptimize(counts.size());
  }
  state.SetItemsProcessed(state.iterations() * kRows);
}
BENCHMARK(BM_BaselineHashCount)->Arg(100)->Arg(10000)->Unit(benchmark::kMicrosecond);

// Memory per 10k series, each holding `points` 1-second points.
void BM_MemoryPer10kSeries(benchmark::State& state) {
  const int64_t points = state.range(0);
  int64_t bytes = 0;
  for (auto _ : state) {
    auto store = realtime::MetricStore::open({}).ValueOrDie();
    (void)store->declare("accidents", {"Severity", "State", "County", "City"});
    std::vector<realtime::Sample> samples;
    for (int64_t p = 0; p < points; ++p) {
      samples.clear();
      for (int s = 0; s < 10000; ++s) {
        samples.push_back({1'600'000'000 + p,
                           {std::to_string(1 + s % 4), "S" + std::to_string(s % 49),
                            "County " + std::to_string(s % 997), "Some City " + std::to_string(s)},
                           1});
      }
      (void)store->add("accidents", samples);
    }
    bytes = store->memory_bytes();
  }
  state.counters["bytes_per_10k_series"] = static_cast<double>(bytes);
  state.counters["bytes_per_series"] = static_cast<double>(bytes) / 10000;
}
BENCHMARK(BM_MemoryPer10kSeries)->Arg(1)->Arg(60)->Iterations(1)->Unit(benchmark::kMillisecond);

// Alert enqueued (durable append to the outbox, fsync) -> handed to the channel: p50/p99, one
// alert per millisecond, in-process channel (no HTTP), no background load.
class TimingChannel final : public realtime::Channel {
 public:
  arrow::Status deliver(const realtime::Alert& alert) override {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    latencies_us.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(now - sent.at(alert.dedup_key))
            .count());
    return arrow::Status::OK();
  }
  std::mutex mutex;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> sent;
  std::vector<int64_t> latencies_us;
};

void BM_AlertEnqueueToChannel(benchmark::State& state) {
  const fs::path dir =
      fs::temp_directory_path() / ("rp-bench-alerts-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  log::LogOptions log_options;
  log_options.data_dir = dir.string();
  log_options.retention_thread = false;
  std::shared_ptr<log::LogStore> log(log::LogStore::open(log_options).ValueOrDie());
  auto config = realtime::AlertConfig::parse(
                    "[[channels]]\nname = \"ops\"\nurl = \"http://127.0.0.1:1/\"\n"
                    "[[routes]]\nchannels = [\"ops\"]\n",
                    "bench")
                    .ValueOrDie();
  TimingChannel* channel = nullptr;
  auto outbox = realtime::AlertOutbox::open(log, config, {}, [&](const realtime::ChannelConfig&) {
                  auto c = std::make_unique<TimingChannel>();
                  channel = c.get();
                  return arrow::Result<std::unique_ptr<realtime::Channel>>(std::move(c));
                }).ValueOrDie();
  (void)outbox->start();
  int64_t n = 0;
  for (auto _ : state) {
    realtime::Alert alert;
    alert.rule = "bench";
    alert.dedup_key = std::to_string(n++);
    {
      std::lock_guard lock(channel->mutex);
      channel->sent[alert.dedup_key] = std::chrono::steady_clock::now();
    }
    (void)outbox->enqueue(std::move(alert));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  outbox->wait_idle(10'000);
  auto lat = channel->latencies_us;
  std::sort(lat.begin(), lat.end());
  if (!lat.empty()) {
    state.counters["p50_us"] = static_cast<double>(lat[lat.size() / 2]);
    state.counters["p99_us"] = static_cast<double>(lat[lat.size() * 99 / 100]);
  }
  outbox.reset();
  log.reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_AlertEnqueueToChannel)->Iterations(2000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace roadpulse

BENCHMARK_MAIN();
