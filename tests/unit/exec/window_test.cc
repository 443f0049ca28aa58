// Event time and window aggregation: the watermark valve (per-split minimum, idle splits), the
// window operators planned from real SQL (TUMBLE, HOP, CUMULATE, SESSION, unwindowed GROUP BY)
// against a sort-then-aggregate reference computed here, under random out-of-order arrival within
// the watermark bound; late rows; state snapshot -> restore round trips.

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <arrow/api.h>
#include <arrow/testing/gtest_util.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/time.h"
#include "exec/aggregate_operators.h"
#include "exec/operators.h"
#include "exec/watermark.h"
#include "sql/session.h"

namespace roadpulse::exec {
namespace {

constexpr int64_t kSec = 1000000;
constexpr int64_t kBase = 1699999980LL * kSec;  // 2023-11-14T22:13:00, a whole minute

// Collects what an operator emits.
class Sink final : public Collector {
 public:
  arrow::Status emit(std::shared_ptr<arrow::RecordBatch> batch) override {
    batches.push_back(std::move(batch));
    return arrow::Status::OK();
  }
  arrow::Status emit_watermark(Watermark w) override {
    watermarks.push_back(w.micros);
    return arrow::Status::OK();
  }
  // Every row as "v1|v2|...", with the row kind first for changelogs.
  std::vector<std::string> rows() const {
    std::vector<std::string> out;
    for (const auto& b : batches) {
      for (int64_t r = 0; r < b->num_rows(); ++r) {
        std::string line;
        for (int c = 0; c < b->num_columns(); ++c) {
          if (c) line += "|";
          auto s = b->column(c)->GetScalar(r).ValueOrDie();
          if (b->column(c)->type_id() == arrow::Type::TIMESTAMP) {
            line += std::to_string((static_cast<const arrow::TimestampScalar&>(*s).value - kBase) /
                                   kSec);
          } else {
            line += s->ToString();
          }
        }
        out.push_back(line);
      }
    }
    return out;
  }
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  std::vector<int64_t> watermarks;
};

struct Event {
  std::string key;
  int32_t value;
  int64_t time;  // micros
};

const sql::LogicalNode* find_node(const sql::LogicalNode& n, sql::LogicalNodeKind kind) {
  if (n.kind == kind) return &n;
  for (const auto& i : n.inputs) {
    if (auto* f = find_node(*i, kind)) return f;
  }
  return nullptr;
}

// A batch of `events` in the row type `schema` (fields named k, v, ts; others null).
std::shared_ptr<arrow::RecordBatch> make_batch(const std::shared_ptr<arrow::Schema>& schema,
                                               const std::vector<Event>& events) {
  std::vector<std::shared_ptr<arrow::Array>> columns;
  for (const auto& f : schema->fields()) {
    std::unique_ptr<arrow::ArrayBuilder> b = arrow::MakeBuilder(f->type()).ValueOrDie();
    for (const auto& e : events) {
      if (f->name() == "k") {
        ARROW_EXPECT_OK(static_cast<arrow::StringBuilder&>(*b).Append(e.key));
      } else if (f->name() == "v") {
        ARROW_EXPECT_OK(static_cast<arrow::Int32Builder&>(*b).Append(e.value));
      } else if (f->name() == "ts") {
        ARROW_EXPECT_OK(static_cast<arrow::TimestampBuilder&>(*b).Append(e.time));
      } else {
        ARROW_EXPECT_OK(b->AppendNull());
      }
    }
    columns.push_back(b->Finish().ValueOrDie());
  }
  return arrow::RecordBatch::Make(schema, int64_t(events.size()), columns);
}

class WindowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(session_
                  .execute(R"(CREATE TABLE s (k STRING, v INT, ts TIMESTAMP(3),
                    WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'memory'))")
                  .status());
  }

  // The aggregate node of a SELECT (the plan is kept alive by the test).
  const sql::LogicalNode& aggregate_of(const std::string& select) {
    auto result = session_.execute(select);
    EXPECT_OK(result.status());
    plans_.push_back(std::move(result->query));
    const auto* node = find_node(*plans_.back(), sql::LogicalNodeKind::kWindowAggregate);
    if (!node) node = find_node(*plans_.back(), sql::LogicalNodeKind::kAggregate);
    EXPECT_NE(node, nullptr) << select;
    return *node;
  }

  static arrow::Result<std::unique_ptr<Operator>> make_op(const sql::LogicalNode& node,
                                                          bool final_only = false) {
    if (node.kind == sql::LogicalNodeKind::kAggregate) {
      ARROW_ASSIGN_OR_RAISE(auto op, GroupAggregateOperator::make(node, final_only));
      return std::unique_ptr<Operator>(std::move(op));
    }
    if (node.window->kind == sql::WindowKind::kSession) {
      ARROW_ASSIGN_OR_RAISE(auto op, SessionWindowOperator::make(node));
      return std::unique_ptr<Operator>(std::move(op));
    }
    ARROW_ASSIGN_OR_RAISE(auto op, WindowAggregateOperator::make(node));
    return std::unique_ptr<Operator>(std::move(op));
  }

  sql::Session session_;
  std::vector<std::unique_ptr<sql::LogicalNode>> plans_;
};

// Feeds batches as a scan does: rows, then the watermark max(time) - 5 s.
arrow::Status feed(Operator& op, const std::shared_ptr<arrow::Schema>& schema,
                   const std::vector<std::vector<Event>>& batches, size_t from, size_t to,
                   int64_t& max_time, Collector& out) {
  for (size_t i = from; i < to; ++i) {
    ARROW_RETURN_NOT_OK(op.process_batch(0, make_batch(schema, batches[i]), out));
    for (const auto& e : batches[i]) max_time = std::max(max_time, e.time);
    ARROW_RETURN_NOT_OK(op.on_watermark(Watermark{max_time - 5 * kSec, false}, out));
  }
  return arrow::Status::OK();
}

// Reference: every (window, key) aggregate computed from the events sorted by time.
struct Agg {
  int64_t count = 0, sum = 0, min = INT64_MAX, max = INT64_MIN;
  std::set<int32_t> distinct;
  void add(const Event& e) {
    ++count;
    sum += e.value;
    min = std::min<int64_t>(min, e.value);
    max = std::max<int64_t>(max, e.value);
    distinct.insert(e.value);
  }
};

std::vector<std::string> reference(sql::WindowKind kind, std::vector<Event> events) {
  std::sort(events.begin(), events.end(),
            [](const Event& a, const Event& b) { return a.time < b.time; });
  std::map<std::tuple<std::string, int64_t, int64_t>, Agg> windows;
  const int64_t minute = 60 * kSec, slide = 20 * kSec, gap = 30 * kSec;
  auto floor_to = [](int64_t t, int64_t size) { return t - ((t % size) + size) % size; };
  if (kind == sql::WindowKind::kSession) {
    std::map<std::string, std::vector<Event>> by_key;
    for (const auto& e : events) by_key[e.key].push_back(e);
    for (auto& [key, list] : by_key) {
      size_t i = 0;
      while (i < list.size()) {
        size_t j = i;
        int64_t end = list[i].time + gap;
        while (j + 1 < list.size() && list[j + 1].time <= end) {
          ++j;
          end = std::max(end, list[j].time + gap);
        }
        Agg& a = windows[{key, list[i].time, end}];
        for (size_t x = i; x <= j; ++x) a.add(list[x]);
        i = j + 1;
      }
    }
  } else {
    for (const auto& e : events) {
      if (kind == sql::WindowKind::kTumble) {
        const int64_t ws = floor_to(e.time, minute);
        windows[{e.key, ws, ws + minute}].add(e);
      } else if (kind == sql::WindowKind::kHop) {
        for (int64_t ws = floor_to(e.time, slide) - minute + slide; ws <= e.time; ws += slide) {
          windows[{e.key, ws, ws + minute}].add(e);
        }
      } else {  // CUMULATE step 20 s, max 1 min
        const int64_t ws = floor_to(e.time, minute);
        for (int64_t we = floor_to(e.time, slide) + slide; we <= ws + minute; we += slide) {
          windows[{e.key, ws, we}].add(e);
        }
      }
    }
  }
  std::vector<std::string> out;
  for (const auto& [w, a] : windows) {
    // window_time = window_end - 1 ms, shown in whole seconds: window_end - 1.
    out.push_back(fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}", std::get<0>(w),
                              (std::get<1>(w) - kBase) / kSec, (std::get<2>(w) - kBase) / kSec,
                              (std::get<2>(w) - 1000 - kBase) / kSec, a.count, a.sum, a.min, a.max,
                              a.distinct.size()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string window_sql(sql::WindowKind kind) {
  const char* tvf = "";
  switch (kind) {
    case sql::WindowKind::kTumble:
      tvf = "TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE)";
      break;
    case sql::WindowKind::kHop:
      tvf = "HOP(TABLE s, DESCRIPTOR(ts), INTERVAL '20' SECOND, INTERVAL '1' MINUTE)";
      break;
    case sql::WindowKind::kCumulate:
      tvf = "CUMULATE(TABLE s, DESCRIPTOR(ts), INTERVAL '20' SECOND, INTERVAL '1' MINUTE)";
      break;
    case sql::WindowKind::kSession:
      tvf = "SESSION(TABLE s PARTITION BY k, DESCRIPTOR(ts), INTERVAL '30' SECOND)";
      break;
  }
  return fmt::format(
      "SELECT k, window_start, window_end, COUNT(*), SUM(v), MIN(v), MAX(v), "
      "COUNT(DISTINCT v) FROM TABLE({}) GROUP BY k, window_start, window_end",
      tvf);
}

// Events in time order with random gaps, on a few keys.
std::vector<Event> random_events(std::mt19937_64& rng, int n) {
  std::vector<Event> events;
  int64_t t = kBase + 3 * kSec;
  for (int i = 0; i < n; ++i) {
    t += int64_t(rng() % 4000) * 1000;    // 0..4 s apart, ms precision
    if (rng() % 50 == 0) t += 45 * kSec;  // now and then a pause that closes sessions
    events.push_back({std::string(1, char('a' + rng() % 4)), int32_t(rng() % 100), t});
  }
  return events;
}

// Arrival order: each event delayed by up to the watermark delay (5 s), then cut into batches.
std::vector<std::vector<Event>> disorder(std::mt19937_64& rng, std::vector<Event> events) {
  std::vector<std::pair<int64_t, Event>> arrival;
  for (auto& e : events) arrival.push_back({e.time + int64_t(rng() % 5000) * 1000, e});
  std::stable_sort(arrival.begin(), arrival.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::vector<Event>> batches;
  size_t i = 0;
  while (i < arrival.size()) {
    const size_t n = 1 + rng() % 40;
    std::vector<Event> b;
    for (; i < arrival.size() && b.size() < n; ++i) b.push_back(arrival[i].second);
    batches.push_back(std::move(b));
  }
  return batches;
}

TEST(WatermarkValveTest, MinimumOverActiveSplitsIdleSplitsLeftOutNeverBackwards) {
  WatermarkValve valve(1000);
  EXPECT_EQ(valve.on_split(0, 100, 0)->micros, 100);
  EXPECT_FALSE(valve.on_split(1, 50, 0).has_value());  // below the output: not yet aligned
  EXPECT_EQ(valve.current(), 100);
  EXPECT_FALSE(valve.on_split(1, 150, 10).has_value());  // split 0 (100) holds the minimum
  EXPECT_EQ(valve.on_split(0, 200, 20)->micros, 150);
  // Split 1 goes quiet: after the timeout it no longer holds split 0 back.
  EXPECT_FALSE(valve.on_tick(500).has_value());
  EXPECT_EQ(valve.on_split(0, 300, 900)->micros, 150);  // split 1 still active at 900
  auto idle = valve.on_tick(1200);
  ASSERT_TRUE(idle.has_value());
  EXPECT_EQ(idle->micros, 300);
  // Split 1 returns behind the output: left out until it caught up, so it neither holds
  // split 0 back nor moves the output backwards.
  EXPECT_FALSE(valve.on_split(1, 160, 1300).has_value());
  EXPECT_EQ(valve.current(), 300);
  EXPECT_EQ(valve.on_split(0, 400, 1310)->micros, 400);
  EXPECT_FALSE(valve.on_split(1, 350, 1320).has_value());  // still behind 400
  EXPECT_FALSE(valve.on_split(1, 450, 1330).has_value());  // caught up: min(400, 450)
  EXPECT_EQ(valve.on_split(0, 500, 1340)->micros, 450);    // now split 1 holds the minimum
  // Round trip through the checkpoint bytes.
  WatermarkValve restored(1000);
  ASSERT_OK(restored.restore(valve.serialize()));
  EXPECT_EQ(restored.current(), 450);
  EXPECT_FALSE(restored.on_split(1, 440, 0).has_value());
  EXPECT_FALSE(restored.restore("xx").ok());
}

TEST(WatermarkValveTest, AllIdleReleasesTheMaximum) {
  WatermarkValve valve(100);
  valve.on_split(0, 10, 0);
  valve.on_split(1, 40, 0);
  EXPECT_EQ(valve.current(), 10);
  auto w = valve.on_tick(1000);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->micros, 40);
  EXPECT_TRUE(w->idle);
}

TEST(WatermarkValveTest, DurationsParse) {
  EXPECT_EQ(parse_duration_micros("10 s", "x").ValueOrDie(), 10 * kSec);
  EXPECT_EQ(parse_duration_micros("500ms", "x").ValueOrDie(), 500000);
  EXPECT_EQ(parse_duration_micros("1 min", "x").ValueOrDie(), 60 * kSec);
  EXPECT_EQ(parse_duration_micros("250", "x").ValueOrDie(), 250000);
  auto bad = parse_duration_micros("ten s", "scan.watermark.idle-timeout");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("scan.watermark.idle-timeout"), std::string::npos);
  EXPECT_FALSE(parse_duration_micros("5 fortnights", "x").ok());
}

TEST_F(WindowTest, ScanWatermarkPerSplitAndIdleTimeout) {
  auto result = session_.execute("SELECT k, ts FROM s");
  ASSERT_OK(result.status());
  const auto* scan = find_node(*result->query, sql::LogicalNodeKind::kTableScan);
  ASSERT_NE(scan, nullptr);
  std::vector<int> positions;
  for (size_t i = 0; i < scan->read_columns.size(); ++i) positions.push_back(int(i));
  ASSERT_OK_AND_ASSIGN(auto op, ScanOperator::make(*scan, positions, 2 * kSec));
  const auto schema = scan->read_schema().to_arrow();
  Sink out;
  ASSERT_OK(op->process_split(0, make_batch(schema, {{"a", 1, kBase + 60 * kSec}}), out));
  ASSERT_OK(op->process_split(1, make_batch(schema, {{"b", 1, kBase + 10 * kSec}}), out));
  ASSERT_OK(op->process_split(0, make_batch(schema, {{"a", 1, kBase + 90 * kSec}}), out));
  // Shard 1 holds the watermark at 10 s - 5 s; shard 0 went first, so 55 s was emitted before
  // shard 1 appeared and stays (the output never goes backwards).
  ASSERT_EQ(out.watermarks.size(), 1u);
  EXPECT_EQ(out.watermarks.back(), kBase + 55 * kSec);
  ASSERT_OK(op->process_split(1, make_batch(schema, {{"b", 1, kBase + 70 * kSec}}), out));
  EXPECT_EQ(out.watermarks.back(), kBase + 65 * kSec);
  // Shard 1 goes quiet: after the idle timeout shard 0 alone moves the watermark.
  ASSERT_OK(op->process_split(0, make_batch(schema, {{"a", 1, kBase + 120 * kSec}}), out));
  EXPECT_EQ(out.watermarks.back(), kBase + 65 * kSec);
  ASSERT_OK(op->on_tick(now_micros() + 3 * kSec, out));
  EXPECT_EQ(out.watermarks.back(), kBase + 115 * kSec);
  EXPECT_EQ(out.rows().size(), 5u);
}

class WindowPropertyTest : public WindowTest,
                           public ::testing::WithParamInterface<sql::WindowKind> {};

TEST_P(WindowPropertyTest, OutOfOrderWithinTheBoundEqualsSortThenAggregate) {
  const auto& node = aggregate_of(window_sql(GetParam()));
  const auto schema = node.inputs[0]->schema.to_arrow();
  for (uint64_t seed : {1, 2, 3, 4, 5, 6}) {
    std::mt19937_64 rng(seed);
    auto events = random_events(rng, 600);
    auto batches = disorder(rng, events);
    ASSERT_OK_AND_ASSIGN(auto op, make_op(node));
    ASSERT_OK(op->open({}));
    Sink out;
    int64_t max_time = INT64_MIN;
    ASSERT_OK(feed(*op, schema, batches, 0, batches.size(), max_time, out));
    ASSERT_OK(op->on_watermark(Watermark{Watermark::kMax, false}, out));
    auto got = out.rows();
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, reference(GetParam(), events)) << "seed " << seed;
    EXPECT_EQ(op->metrics().late_records, 0) << "seed " << seed;
  }
}

TEST_P(WindowPropertyTest, SnapshotMidStreamRestoreAndContinueGivesTheSameResult) {
  const auto& node = aggregate_of(window_sql(GetParam()));
  const auto schema = node.inputs[0]->schema.to_arrow();
  std::mt19937_64 rng(42);
  auto events = random_events(rng, 400);
  auto batches = disorder(rng, events);
  // Uninterrupted.
  ASSERT_OK_AND_ASSIGN(auto whole, make_op(node));
  Sink expected;
  int64_t max_time = INT64_MIN;
  ASSERT_OK(feed(*whole, schema, batches, 0, batches.size(), max_time, expected));
  ASSERT_OK(whole->on_watermark(Watermark{Watermark::kMax, false}, expected));
  // Interrupted at several points: snapshot, restore into a fresh operator, continue.
  for (size_t cut : {size_t(1), batches.size() / 3, batches.size() / 2, batches.size() - 1}) {
    ASSERT_OK_AND_ASSIGN(auto first, make_op(node));
    Sink out;
    int64_t t = INT64_MIN;
    ASSERT_OK(feed(*first, schema, batches, 0, cut, t, out));
    ASSERT_OK_AND_ASSIGN(auto state, first->snapshot_state(7));
    ASSERT_NE(state, nullptr);
    ASSERT_OK_AND_ASSIGN(auto second, make_op(node));
    OperatorContext context;
    context.restored_state = state;
    ASSERT_OK(second->open(context));
    ASSERT_OK(feed(*second, schema, batches, cut, batches.size(), t, out));
    ASSERT_OK(second->on_watermark(Watermark{Watermark::kMax, false}, out));
    auto got = out.rows();
    auto want = expected.rows();
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << "cut at batch " << cut;
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, WindowPropertyTest,
                         ::testing::Values(sql::WindowKind::kTumble, sql::WindowKind::kHop,
                                           sql::WindowKind::kCumulate, sql::WindowKind::kSession),
                         [](const auto& info) {
                           return std::string(sql::window_kind_name(info.param));
                         });

TEST_F(WindowTest, LateRowsAreDroppedAndCounted) {
  const auto& node = aggregate_of(window_sql(sql::WindowKind::kTumble));
  const auto schema = node.inputs[0]->schema.to_arrow();
  ASSERT_OK_AND_ASSIGN(auto op, make_op(node));
  Sink out;
  ASSERT_OK(op->process_batch(0, make_batch(schema, {{"a", 1, kBase + 10 * kSec}}), out));
  ASSERT_OK(op->on_watermark(Watermark{kBase + 61 * kSec, false}, out));  // [0, 60) fires
  EXPECT_EQ(out.rows(), std::vector<std::string>{"a|0|60|59|1|1|1|1|1"});
  // 30 s belongs to the fired window: late. 65 s is on time.
  ASSERT_OK(op->process_batch(
      0, make_batch(schema, {{"a", 2, kBase + 30 * kSec}, {"a", 3, kBase + 65 * kSec}}), out));
  EXPECT_EQ(op->metrics().late_records, 1);
  ASSERT_OK(op->on_watermark(Watermark{Watermark::kMax, false}, out));
  EXPECT_EQ(out.rows().back(), "a|60|120|119|1|3|3|3|1");
  // Window state is freed once emitted.
  EXPECT_EQ(static_cast<WindowAggregateOperator&>(*op).open_slices(), 0u);
}

TEST_F(WindowTest, HopSlicesAreFreedWhenNoLaterWindowNeedsThem) {
  const auto& node = aggregate_of(window_sql(sql::WindowKind::kHop));
  const auto schema = node.inputs[0]->schema.to_arrow();
  ASSERT_OK_AND_ASSIGN(auto op, make_op(node));
  auto& hop = static_cast<WindowAggregateOperator&>(*op);
  Sink out;
  ASSERT_OK(op->process_batch(0, make_batch(schema, {{"a", 1, kBase + 10 * kSec}}), out));
  EXPECT_EQ(hop.open_slices(), 1u);
  ASSERT_OK(op->on_watermark(Watermark{kBase + 40 * kSec, false}, out));  // windows to 40 s
  EXPECT_EQ(out.rows().size(), 2u);
  EXPECT_EQ(hop.open_slices(), 1u);  // the window ending at 60 s still needs it
  ASSERT_OK(op->on_watermark(Watermark{kBase + 60 * kSec, false}, out));
  EXPECT_EQ(out.rows().size(), 3u);
  EXPECT_EQ(hop.open_slices(), 0u);
}

TEST_F(WindowTest, UnwindowedGroupByEmitsAChangelogOrTheFinalResult) {
  const auto& node = aggregate_of("SELECT k, COUNT(*), SUM(v) FROM s GROUP BY k");
  const auto schema = node.inputs[0]->schema.to_arrow();
  ASSERT_OK_AND_ASSIGN(auto op, make_op(node));
  Sink out;
  ASSERT_OK(op->process_batch(0, make_batch(schema, {{"a", 1, kBase}, {"b", 2, kBase}}), out));
  ASSERT_OK(op->process_batch(0, make_batch(schema, {{"a", 5, kBase}, {"a", 1, kBase}}), out));
  EXPECT_EQ(out.rows(), (std::vector<std::string>{"a|1|1|0", "b|1|2|0", "a|1|1|1", "a|3|7|2"}));
  // Snapshot, restore, continue.
  ASSERT_OK_AND_ASSIGN(auto state, op->snapshot_state(1));
  ASSERT_OK_AND_ASSIGN(auto restored, make_op(node));
  OperatorContext context;
  context.restored_state = state;
  ASSERT_OK(restored->open(context));
  Sink more;
  ASSERT_OK(restored->process_batch(0, make_batch(schema, {{"b", 4, kBase}}), more));
  EXPECT_EQ(more.rows(), (std::vector<std::string>{"b|1|2|1", "b|2|6|2"}));

  // Bounded input: one final row per key at the end, insert-only.
  ASSERT_OK_AND_ASSIGN(auto batch_op, make_op(node, true));
  Sink final_rows;
  ASSERT_OK(batch_op->process_batch(0, make_batch(schema, {{"a", 1, kBase}, {"b", 2, kBase}}),
                                    final_rows));
  ASSERT_OK(batch_op->process_batch(0, make_batch(schema, {{"a", 5, kBase}}), final_rows));
  EXPECT_TRUE(final_rows.rows().empty());
  ASSERT_OK(batch_op->close(true, final_rows));
  EXPECT_EQ(final_rows.rows(), (std::vector<std::string>{"a|2|6", "b|1|2"}));
}

TEST_F(WindowTest, DeduplicateKeepsTheFirstRowPerKeyByEventTime) {
  auto result = session_.execute(
      "SELECT k, v, ts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS rn "
      "FROM s) WHERE rn = 1");
  ASSERT_OK(result.status());
  const auto* node = find_node(*result->query, sql::LogicalNodeKind::kDeduplicate);
  ASSERT_NE(node, nullptr);
  const auto schema = node->inputs[0]->schema.to_arrow();
  for (uint64_t seed : {11, 12, 13}) {
    std::mt19937_64 rng(seed);
    auto events = random_events(rng, 500);
    auto batches = disorder(rng, events);
    // Reference: per key the earliest event (ties: the first in time order).
    std::map<std::string, Event> first;
    for (const auto& e : events) {
      auto it = first.find(e.key);
      if (it == first.end() || e.time < it->second.time) first[e.key] = e;
    }
    std::vector<std::string> want;
    for (const auto& [k, e] : first) want.push_back(fmt::format("{}|{}", k, e.value));
    // Uninterrupted, and snapshot + restore in the middle.
    for (size_t cut : {batches.size(), batches.size() / 2, size_t(1)}) {
      ASSERT_OK_AND_ASSIGN(auto op, DeduplicateOperator::make(*node));
      Sink out;
      int64_t t = INT64_MIN;
      ASSERT_OK(feed(*op, schema, batches, 0, cut, t, out));
      ASSERT_OK_AND_ASSIGN(auto state, op->snapshot_state(1));
      ASSERT_OK_AND_ASSIGN(auto next, DeduplicateOperator::make(*node));
      OperatorContext context;
      context.restored_state = state;
      ASSERT_OK(next->open(context));
      ASSERT_OK(feed(*next, schema, batches, cut, batches.size(), t, out));
      ASSERT_OK(next->on_watermark(Watermark{Watermark::kMax, false}, out));
      std::vector<std::string> got;
      for (const auto& b : out.batches) {
        const int k = b->schema()->GetFieldIndex("k"), v = b->schema()->GetFieldIndex("v");
        for (int64_t r = 0; r < b->num_rows(); ++r) {
          got.push_back(
              fmt::format("{}|{}", static_cast<const arrow::StringArray&>(*b->column(k)).GetView(r),
                          static_cast<const arrow::Int32Array&>(*b->column(v)).Value(r)));
        }
      }
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, want) << "seed " << seed << " cut " << cut;
      EXPECT_EQ(next->metrics().late_records, 0);
    }
  }
}

TEST_F(WindowTest, DeduplicateDropsRowsBehindTheWatermark) {
  auto result = session_.execute(
      "SELECT k, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS rn FROM s) "
      "WHERE rn = 1");
  ASSERT_OK(result.status());
  const auto* node = find_node(*result->query, sql::LogicalNodeKind::kDeduplicate);
  const auto schema = node->inputs[0]->schema.to_arrow();
  ASSERT_OK_AND_ASSIGN(auto op, DeduplicateOperator::make(*node));
  Sink out;
  ASSERT_OK(op->process_batch(0, make_batch(schema, {{"a", 1, kBase + 30 * kSec}}), out));
  ASSERT_OK(op->on_watermark(Watermark{kBase + 40 * kSec, false}, out));
  EXPECT_EQ(out.batches.size(), 1u);
  // An earlier row of a key already emitted changes nothing; a new key behind the watermark is
  // late.
  ASSERT_OK(op->process_batch(
      0, make_batch(schema, {{"a", 2, kBase + 10 * kSec}, {"b", 3, kBase + 20 * kSec}}), out));
  EXPECT_EQ(op->metrics().late_records, 1);
  ASSERT_OK(op->on_watermark(Watermark{Watermark::kMax, false}, out));
  EXPECT_EQ(out.batches.size(), 1u);
}

TEST_F(WindowTest, StateWithThousandsOfKeysRestoresEveryGroup) {
  // Arrow's Grouper numbers a large batch of new keys in an order of its own: the restore must
  // map each partial row to the id it gets, not assume row order (a crash-test regression).
  const auto& node = aggregate_of("SELECT k, COUNT(*), SUM(v), MAX(v) FROM s GROUP BY k");
  const auto schema = node.inputs[0]->schema.to_arrow();
  std::mt19937_64 rng(99);
  std::vector<std::vector<Event>> batches(8);
  for (auto& b : batches) {
    for (int i = 0; i < 2500; ++i) {
      b.push_back({fmt::format("County {}", rng() % 3000), int32_t(rng() % 1000), kBase});
    }
  }
  auto run = [&](size_t cut, std::vector<std::string>& rows) -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto first, make_op(node, true));
    Sink out;
    int64_t t = INT64_MIN;
    ARROW_RETURN_NOT_OK(feed(*first, schema, batches, 0, cut, t, out));
    ARROW_ASSIGN_OR_RAISE(auto state, first->snapshot_state(1));
    ARROW_ASSIGN_OR_RAISE(auto second, make_op(node, true));
    OperatorContext context;
    context.restored_state = state;
    ARROW_RETURN_NOT_OK(second->open(context));
    ARROW_RETURN_NOT_OK(feed(*second, schema, batches, cut, batches.size(), t, out));
    ARROW_RETURN_NOT_OK(second->close(true, out));
    rows = out.rows();
    std::sort(rows.begin(), rows.end());
    return arrow::Status::OK();
  };
  std::vector<std::string> whole, restored;
  ASSERT_OK(run(batches.size(), whole));
  EXPECT_GT(whole.size(), 2900u);
  for (size_t cut : {size_t(1), size_t(5)}) {
    ASSERT_OK(run(cut, restored));
    EXPECT_EQ(restored, whole) << "cut " << cut;
  }
}

}  // namespace
}  // namespace roadpulse::exec
