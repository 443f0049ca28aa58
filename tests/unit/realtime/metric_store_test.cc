// The metric store: resolution and downsampling, snapshots, the cardinality guard, queries and
// the Prometheus exposition.

#include "realtime/metric_store.h"

#include <filesystem>
#include <fstream>

#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace roadpulse::realtime {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::unique_ptr<MetricStore> open_store(MetricStoreOptions options = {}) {
  auto store = MetricStore::open(std::move(options));
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return std::move(*store);
}

Sample sample(int64_t t, std::string severity, std::string state, double v = 1) {
  return Sample{t, {std::move(severity), std::move(state)}, v};
}

MetricQuery all(int64_t from, int64_t to, int64_t step) {
  MetricQuery q;
  q.name = "accidents";
  q.from_s = from;
  q.to_s = to;
  q.step_s = step;
  return q;
}

TEST(MetricStoreTest, SumsPerSecondAndQueriesBySteps) {
  auto store = open_store();
  ASSERT_OK(store->declare("accidents", {"Severity", "State"}));
  ASSERT_OK(store->add("accidents", {sample(1000, "4", "CA"), sample(1000, "4", "CA"),
                                     sample(1001, "2", "OH"), sample(1005, "4", "CA", 3)}));
  ASSERT_OK_AND_ASSIGN(auto r, store->query(all(1000, 1010, 1)));
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.series[0].points,
            (std::vector<std::pair<int64_t, double>>{{1000, 2}, {1001, 1}, {1005, 3}}));
  EXPECT_EQ(r.series[0].total, 6);
  ASSERT_OK_AND_ASSIGN(r, store->query(all(1000, 1010, 5)));
  EXPECT_EQ(r.series[0].points, (std::vector<std::pair<int64_t, double>>{{1000, 3}, {1005, 3}}));
  // The range is half-open.
  ASSERT_OK_AND_ASSIGN(r, store->query(all(1001, 1005, 1)));
  EXPECT_EQ(r.series[0].total, 1);
}

TEST(MetricStoreTest, ExportedMetricRestoresInPlaceOfLaterSamples) {
  // A checkpoint keeps one metric's series; restoring them drops what was added after (the
  // replay adds it again), and leaves other metrics alone.
  auto store = open_store();
  ASSERT_OK(store->declare("accidents", {"Severity", "State"}));
  ASSERT_OK(store->declare("other", {"Severity", "State"}));
  ASSERT_OK(store->add("accidents", {sample(1000, "4", "CA"), sample(1001, "2", "OH")}));
  const std::string checkpoint = store->export_metric("accidents");
  ASSERT_OK(store->add("accidents", {sample(1002, "4", "CA"), sample(1003, "3", "TX")}));
  ASSERT_OK(store->add("other", {sample(1002, "1", "WA")}));
  ASSERT_OK(store->import_metric(checkpoint, "checkpoint 7"));
  ASSERT_OK_AND_ASSIGN(auto r, store->query(all(0, 5000, 1)));
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.series[0].total, 2);
  MetricQuery other = all(0, 5000, 1);
  other.name = "other";
  ASSERT_OK_AND_ASSIGN(r, store->query(other));
  EXPECT_EQ(r.series[0].total, 1);
  std::string corrupt = checkpoint;
  corrupt[corrupt.size() / 2] ^= 0x5a;
  EXPECT_THAT(store->import_metric(corrupt, "checkpoint 8").message(), HasSubstr("checksum"));
}

TEST(MetricStoreTest, OutOfOrderSamplesLandInTheirSecond) {
  auto store = open_store();
  ASSERT_OK(store->declare("accidents", {"Severity", "State"}));
  ASSERT_OK(store->add("accidents", {sample(1010, "4", "CA"), sample(1002, "4", "CA"),
                                     sample(1006, "4", "CA"), sample(1002, "4", "CA")}));
  ASSERT_OK_AND_ASSIGN(auto r, store->query(all(1000, 1020, 1)));
  EXPECT_EQ(r.series[0].points,
            (std::vector<std::pair<int64_t, double>>{{1002, 2}, {1006, 1}, {1010, 1}}));
}

TEST(MetricStoreTest, WhereGroupByAndTopN) {
  auto store = open_store();
  ASSERT_OK(store->declare("accidents", {"Severity", "State"}));
  std::vector<Sample> samples;
  for (int i = 0; i < 5; ++i) samples.push_back(sample(100, "4", "CA"));
  for (int i = 0; i < 3; ++i) samples.push_back(sample(100, "3", "TX"));
  for (int i = 0; i < 2; ++i) samples.push_back(sample(101, "4", "OH"));
  samples.push_back(sample(102, "4", "NY"));
  ASSERT_OK(store->add("accidents", samples));

  auto q = all(100, 110, 10);
  q.group_by = {"State"};
  q.top = 2;
  ASSERT_OK_AND_ASSIGN(auto r, store->query(q));
  ASSERT_EQ(r.series.size(), 3u);
  EXPECT_EQ(r.series[0].labels.at("State"), "CA");
  EXPECT_EQ(r.series[0].total, 5);
  EXPECT_EQ(r.series[1].labels.at("State"), "TX");
  EXPECT_EQ(r.series[2].labels.at("State"), "other");
  EXPECT_EQ(r.series[2].total, 3);

  ASSERT_OK_AND_ASSIGN(q.where, parse_where("Severity=4,State=OH|NY"));
  q.top = 0;
  ASSERT_OK_AND_ASSIGN(r, store->query(q));
  ASSERT_EQ(r.series.size(), 2u);
  EXPECT_EQ(r.series[0].labels.at("State"), "OH");
  EXPECT_EQ(r.series[1].labels.at("State"), "NY");

  q.where = {{"County", {"x"}}};
  EXPECT_THAT(store->query(q).status().message(), HasSubstr("no dimension 'County'"));
  q.name = "nope";
  EXPECT_TRUE(store->query(q).status().IsKeyError());
  EXPECT_FALSE(parse_where("State").ok());
}

TEST(MetricStoreTest, DownsamplesToMinutesAndExpiresBeyondTheCoarseSpan) {
  MetricStoreOptions options;
  options.fine_span_s = 600;     // 10 min of seconds
  options.coarse_span_s = 3600;  // 1 h of minutes
  auto store = open_store(options);
  ASSERT_OK(store->declare("accidents", {"Severity", "State"}));
  // One sample every 7 seconds over 2 hours (event time).
  const int64_t start = 1'700'000'000 - 1'700'000'000 % 60;
  int64_t total = 0;
  for (int64_t t = start; t < start + 7200; t += 7) {
    ASSERT_OK(store->add("accidents", {sample(t, "4", "CA")}));
    ++total;
  }
  const int64_t newest = start + 7200 - 1 - (7200 - 1) % 7;
  // The last 10 minutes keep 1-second points.
  ASSERT_OK_AND_ASSIGN(auto r, store->query(all(newest - 300, newest + 1, 1)));
  EXPECT_EQ(r.step_s, 1);
  for (const auto& [t, v] : r.series[0].points) EXPECT_EQ((t - start) % 7, 0) << t;
  // Older data is per minute: the step is rounded up to whole minutes.
  ASSERT_OK_AND_ASSIGN(r, store->query(all(newest - 3000, newest - 1200, 1)));
  EXPECT_EQ(r.step_s, 60);
  for (const auto& [t, v] : r.series[0].points) EXPECT_GE(v, 8);  // 60/7 samples a minute
  // Beyond the coarse span nothing is kept, but the all-time counter still counts everything.
  ASSERT_OK_AND_ASSIGN(r, store->query(all(start, newest - 3700, 60)));
  EXPECT_TRUE(r.series.empty());
  std::string prom;
  store->append_prometheus(prom);
  EXPECT_THAT(prom, HasSubstr("roadpulse_accidents_total{severity=\"4\",state=\"CA\"} " +
                              std::to_string(total) + "\n"));
  // Nothing counted twice across the boundary: the retained points sum to the samples in range.
  ASSERT_OK_AND_ASSIGN(r, store->query(all(newest - 3000, newest + 1, 60)));
  // The range starts inside a minute bucket: that whole minute is included.
  const int64_t first_minute = (newest - 3000) - (newest - 3000) % 60;
  int64_t expected = 0;
  for (int64_t t = start; t <= newest; t += 7) expected += t >= first_minute;
  double sum = 0;
  for (const auto& [t, v] : r.series[0].points) sum += v;
  EXPECT_EQ(sum, expected);
}

TEST(MetricStoreTest, CardinalityGuardFoldsNewSeriesIntoOverflow) {
  MetricStoreOptions options;
  options.max_series_per_metric = 3;
  auto store = open_store(options);
  ASSERT_OK(store->declare("accidents", {"Severity", "State"}));
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK(store->add("accidents", {sample(100, "4", "S" + std::to_string(i))}));
  }
  ASSERT_OK(store->add("accidents", {sample(100, "4", "S1")}));  // existing: kept
  auto info = store->metrics();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].series, 4);  // 3 + __overflow__
  EXPECT_EQ(info[0].overflow_samples, 7);
  EXPECT_EQ(info[0].total, 11);
  std::string prom;
  store->append_prometheus(prom);
  EXPECT_THAT(
      prom,
      HasSubstr("roadpulse_accidents_total{severity=\"__overflow__\",state=\"__overflow__\"} 7"));
  EXPECT_THAT(prom, HasSubstr("roadpulse_realtime_overflow_samples_total{metric=\"accidents\"} 7"));
}

TEST(MetricStoreTest, SnapshotRestoresHistoryAndRejectsDamage) {
  const fs::path dir = fs::temp_directory_path() / ("rp-rt-snap-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  MetricStoreOptions options;
  options.snapshot_dir = dir.string();
  {
    auto store = open_store(options);
    ASSERT_OK(store->declare("accidents", {"Severity", "State"}));
    ASSERT_OK(store->add("accidents", {sample(500, "4", "CA"), sample(501, "2", "O\"H\n", 2.5)}));
    ASSERT_OK(store->snapshot());
  }
  {
    auto store = open_store(options);
    ASSERT_OK_AND_ASSIGN(auto r, store->query(all(0, 1000, 1000)));
    EXPECT_EQ(r.series[0].total, 3.5);
    // Declaring again with the same dimensions is fine, different ones are not.
    ASSERT_OK(store->declare("accidents", {"Severity", "State"}));
    EXPECT_FALSE(store->declare("accidents", {"State"}).ok());
    std::string prom;
    store->append_prometheus(prom);
    EXPECT_THAT(prom, HasSubstr("state=\"O\\\"H\\n\"} 2.5"));
  }
  {
    std::fstream f(dir / "metrics.snapshot", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x7f');
  }
  auto damaged = MetricStore::open(options);
  ASSERT_FALSE(damaged.ok());
  EXPECT_THAT(damaged.status().message(), HasSubstr("checksum"));
  fs::remove_all(dir);
}

TEST(MetricStoreTest, ExpositionFormat) {
  auto store = open_store();
  ASSERT_OK(store->declare("accidents", {"Severity", "County"}));
  ASSERT_OK(store->add("accidents", {sample(1, "4", "Los Angeles")}));
  std::string prom;
  store->append_prometheus(prom);
  EXPECT_THAT(prom,
              HasSubstr("# TYPE roadpulse_accidents_total counter\n"
                        "roadpulse_accidents_total{severity=\"4\",county=\"Los Angeles\"} 1\n"));
  EXPECT_EQ(prometheus_name("Start-Time"), "start_time");
  EXPECT_EQ(prometheus_name("9x"), "_9x");
}

TEST(MetricStoreTest, QueryJson) {
  QueryResult r;
  r.name = "a";
  r.from_s = 1;
  r.to_s = 3;
  r.step_s = 1;
  r.series.push_back({{{"State", "CA"}}, {{1, 2}}, 2});
  EXPECT_EQ(
      query_result_json(r),
      R"({"name":"a","from":1,"to":3,"step":1,"series":[{"labels":{"State":"CA"},"total":2,"points":[[1,2]]}]})");
}

}  // namespace
}  // namespace roadpulse::realtime
