// The dashboard's hot paths, each with its baseline in the same run:
//  - SinkAdd: what a `metrics` sink pays per batch of samples with the live feed subscribed and
//    no client (1), with one SSE client (2: the hub listener aggregates the batch), against the
//    store alone (0, no feed).
//  - FeedTick: one tick that turns a second's samples into an SSE frame and fans it out to N
//    clients, against one client (N = 1: the frame is built once either way): the cost of each
//    extra client.
// Samples look like the accidents metric: (Severity, State, County, City), 1 per event.

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dashboard/event_feed.h"
#include "realtime/hub.h"
#include "realtime/metric_store.h"

namespace {

using namespace roadpulse;

std::vector<realtime::Sample> make_samples(size_t n, int64_t second) {
  std::mt19937 rng(7);
  std::vector<realtime::Sample> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const int county = static_cast<int>(rng() % 600);
    out.push_back({second,
                   {std::to_string(1 + rng() % 4), "S" + std::to_string(county % 50),
                    "County " + std::to_string(county), "City " + std::to_string(county * 3)},
                   1});
  }
  return out;
}

std::string temp_dir() {
  std::string t = (std::filesystem::temp_directory_path() / "rp-dash-bench-XXXXXX").string();
  return ::mkdtemp(t.data());
}

class CountingWriter : public server::BodyWriter {
 public:
  bool write(std::string_view data) override {
    bytes_ += data.size();
    return true;
  }
  void close() override {}
  bool closed() const override { return false; }

 private:
  size_t bytes_ = 0;
};

// state.range(0): 0 = store alone, 1 = feed without clients, 2 = feed with a client.
void BM_SinkAdd(benchmark::State& state) {
  const std::string dir = temp_dir();
  auto hub = realtime::Hub::for_data_dir(dir);
  auto* store = hub->metrics().ValueOrDie();
  (void)store->declare("accidents", {"Severity", "State", "County", "City"});
  std::unique_ptr<dashboard::EventFeed> feed;
  if (state.range(0)) {
    dashboard::EventFeedOptions o;
    o.tick_ms = 1000;
    feed = dashboard::EventFeed::make(hub, nullptr, o).ValueOrDie();
    if (state.range(0) == 2) {
      feed->add_client(std::make_shared<CountingWriter>(), dashboard::kTopicAll, std::nullopt);
    }
  }
  const auto samples = make_samples(4096, 1'700'000'000);
  for (auto _ : state) {
    auto st = store->add("accidents", samples);
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(samples.size()));
  state.SetLabel(state.range(0) == 0   ? "store alone (baseline)"
                 : state.range(0) == 1 ? "live feed, no client"
                                       : "live feed, one client");
  feed.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SinkAdd)->Arg(0)->Arg(1)->Arg(2)->UseRealTime();

// state.range(0): clients; 2000 samples (one busy second) per tick.
void BM_FeedTick(benchmark::State& state) {
  const std::string dir = temp_dir();
  auto hub = realtime::Hub::for_data_dir(dir);
  auto* store = hub->metrics().ValueOrDie();
  (void)store->declare("accidents", {"Severity", "State", "County", "City"});
  dashboard::EventFeedOptions o;
  o.tick_ms = 3'600'000;  // ticks only when the benchmark calls tick()
  auto feed = dashboard::EventFeed::make(hub, nullptr, o).ValueOrDie();
  for (int i = 0; i < state.range(0); ++i) {
    feed->add_client(std::make_shared<CountingWriter>(), dashboard::kTopicAll, std::nullopt);
  }
  int64_t second = 1'700'000'000;
  for (auto _ : state) {
    state.PauseTiming();
    (void)store->add("accidents", make_samples(2000, ++second));
    state.ResumeTiming();
    feed->tick();
  }
  state.SetItemsProcessed(state.iterations() * 2000);
  state.counters["bytes_per_client_per_tick"] = benchmark::Counter(
      static_cast<double>(feed->stats().bytes_sent) /
      static_cast<double>(std::max<int64_t>(1, state.iterations() * state.range(0))));
  feed.reset();
  std::filesystem::remove_all(dir);
}
// Fixed iterations: the untimed sample generation costs more than the tick itself.
BENCHMARK(BM_FeedTick)->Arg(1)->Arg(10)->Arg(100)->Iterations(300)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
