// Event-time features beyond the windows themselves: CURRENT_WATERMARK(ts) in a job, the
// late-row side stream (`table.exec.late-records.stream`), processing-time windows on a
// controlled clock. Jobs are planned from real SQL over an in-memory connector defined here.

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/time.h"
#include "exec/aggregate_operators.h"
#include "exec/job.h"
#include "memory_tables.h"
#include "sql/session.h"

namespace roadpulse::exec {
namespace {

constexpr int64_t kSec = 1000000;

using test_support::MemoryTables;

// One batch of (k, v, ts) rows; ts in seconds after 2024-01-01T00:00:00, -1 for NULL.
std::shared_ptr<arrow::RecordBatch> rows(const std::string& json) {
  auto type = arrow::struct_({arrow::field("k", arrow::utf8()), arrow::field("v", arrow::int32()),
                              arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO))});
  auto array = arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
  return arrow::RecordBatch::FromStructArray(array).ValueOrDie();
}

constexpr int64_t kBase = 1704067200LL * kSec;  // 2024-01-01T00:00:00
std::string at(int seconds) { return std::to_string(kBase + seconds * kSec); }

// Every value of every row as text, rows in order.
std::vector<std::string> texts(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    for (int64_t r = 0; r < b->num_rows(); ++r) {
      std::string line;
      for (int c = 0; c < b->num_columns(); ++c) {
        if (c) line += "|";
        auto s = b->column(c)->GetScalar(r).ValueOrDie();
        line += s->is_valid ? s->ToString() : "NULL";
      }
      out.push_back(line);
    }
  }
  return out;
}

class EventTimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Watermark = max(ts) - 5 s after each batch: none, then 00:00:35, then 00:01:05.
    auto& t = tables_.table("events");
    t.batches.push_back(rows("[{\"k\": \"a\", \"v\": 1, \"ts\": " + at(10) +
                             "}, {\"k\": \"b\", \"v\": 2, \"ts\": " + at(40) + "}]"));
    t.batches.push_back(rows("[{\"k\": \"a\", \"v\": 3, \"ts\": " + at(70) + "}]"));
    t.batches.push_back(rows("[{\"k\": \"a\", \"v\": 4, \"ts\": " + at(50) +
                             "}, {\"k\": \"b\", \"v\": 5, \"ts\": null}, {\"k\": \"b\", \"v\": "
                             "6, \"ts\": " +
                             at(150) + "}]"));
    ASSERT_OK(session_
                  .execute_script(R"(
      CREATE TABLE s (k STRING, v INT, ts TIMESTAMP(3),
                      WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
        WITH ('connector' = 'memory', 'table' = 'events');
      CREATE TABLE out_table (k STRING, n BIGINT, total INT)
        WITH ('connector' = 'memory', 'table' = 'out');
      CREATE TABLE p (k STRING, v INT, pt AS PROCTIME())
        WITH ('connector' = 'memory', 'table' = 'events');)")
                  .status());
  }

  std::vector<std::string> query(const std::string& select, JobOptions options = {}) {
    auto result = session_.execute(select);
    EXPECT_OK(result.status());
    std::vector<std::shared_ptr<arrow::RecordBatch>> got;
    auto job = Job::make_query(*result->query, tables_, std::move(options),
                               [&](const std::shared_ptr<arrow::RecordBatch>& b) {
                                 got.push_back(b);
                                 return arrow::Status::OK();
                               });
    EXPECT_OK(job.status());
    if (!job.ok()) return {};
    EXPECT_OK((*job)->run());
    return texts(got);
  }

  sql::Session session_;
  MemoryTables tables_;
};

TEST_F(EventTimeTest, CurrentWatermarkIsTheWatermarkBeforeEachBatch) {
  EXPECT_THAT(query("SELECT v, CURRENT_WATERMARK(ts) FROM s"),
              ::testing::ElementsAre("1|NULL", "2|NULL", "3|2024-01-01 00:00:35.000000",
                                     "4|2024-01-01 00:01:05.000000", "5|2024-01-01 00:01:05.000000",
                                     "6|2024-01-01 00:01:05.000000"));
  // Flink's late-row filter: 50 s arrives behind the watermark 65 s; NULL ts compares to NULL.
  EXPECT_THAT(query("SELECT v FROM s WHERE CURRENT_WATERMARK(ts) IS NULL OR ts > "
                    "CURRENT_WATERMARK(ts)"),
              ::testing::ElementsAre("1", "2", "3", "6"));
}

TEST_F(EventTimeTest, CurrentWatermarkNeedsARowtimeAttribute) {
  auto r = session_.execute("SELECT CURRENT_WATERMARK(v) FROM s");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("needs a rowtime attribute"));
  r = session_.execute("SELECT CURRENT_WATERMARK(pt) FROM p");
  ASSERT_FALSE(r.ok());
}

TEST_F(EventTimeTest, LateRowsGoToTheSideStreamWithReasonAndWatermark) {
  JobOptions options;
  options.name = "per-key";
  options.config["table.exec.late-records.stream"] = "true";
  auto result = session_.execute(
      "INSERT INTO out_table SELECT k, COUNT(*), SUM(v) FROM TABLE(TUMBLE(TABLE s, "
      "DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY k, window_start, window_end");
  ASSERT_OK(result.status());
  ASSERT_OK_AND_ASSIGN(auto job, Job::make(*result->plan, tables_, options));
  ASSERT_OK(job->run());
  // The windows exclude the late rows: [0, 60) a:1 b:2, [60, 120) a:3, [120, 180) b:6.
  EXPECT_THAT(texts(tables_.table("out").batches),
              ::testing::UnorderedElementsAre("a|1|1", "b|1|2", "a|1|3", "b|1|6"));
  const auto summary = job->summary();
  EXPECT_EQ(summary.late_records, 2);
  auto& late = tables_.table("per-key.late");
  EXPECT_EQ(late.sink_options.at("connector"), "stream");
  EXPECT_EQ(late.sink_options.at("format"), "raw");
  const auto records = texts(late.batches);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_THAT(records[0], ::testing::HasSubstr(R"("job":"per-key","operator":"WindowAggregate()"));
  EXPECT_THAT(records[0],
              ::testing::EndsWith(R"("reason":"null-rowtime","watermark":"2024-01-01T00:01:05",)"
                                  R"("row":{"k":"b","v":5,"ts":null}})"));
  EXPECT_THAT(records[1], ::testing::EndsWith(R"("reason":"behind-watermark","watermark":)"
                                              R"("2024-01-01T00:01:05","row":{"k":"a","v":4,)"
                                              R"("ts":"2024-01-01T00:00:50"}})"));
  // The side stream is one of the job's sinks (it takes part in checkpoints).
  ASSERT_EQ(summary.sinks.size(), 2u);
  EXPECT_EQ(summary.sinks[1].table, "per-key.late");
  EXPECT_EQ(summary.sinks[1].rows_written, 2);

  // A name instead of 'true'; 'false' turns it off.
  options.config["table.exec.late-records.stream"] = "late-rows";
  ASSERT_OK_AND_ASSIGN(job, Job::make(*result->plan, tables_, options));
  ASSERT_OK(job->run());
  EXPECT_EQ(texts(tables_.table("late-rows").batches).size(), 2u);
  options.config["table.exec.late-records.stream"] = "false";
  ASSERT_OK_AND_ASSIGN(job, Job::make(*result->plan, tables_, options));
  ASSERT_OK(job->run());
  EXPECT_EQ(job->summary().sinks.size(), 1u);
  EXPECT_EQ(job->summary().late_records, 2);
}

// Processing-time TUMBLE driven by on_tick's clock: windows fire when the clock passes their
// end, without input and whatever the event-time watermark says.
TEST_F(EventTimeTest, ProcessingTimeWindowsFireOnTheClock) {
  auto result = session_.execute(
      "SELECT k, window_start, window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE p, DESCRIPTOR(pt), "
      "INTERVAL '1' SECOND)) GROUP BY k, window_start, window_end");
  ASSERT_OK(result.status());
  const sql::LogicalNode* node = result->query.get();
  while (node->kind != sql::LogicalNodeKind::kWindowAggregate) node = node->inputs.at(0).get();
  ASSERT_TRUE(node->window->proctime);
  ASSERT_OK_AND_ASSIGN(auto op, WindowAggregateOperator::make(*node));
  const auto schema = node->inputs[0]->schema.to_arrow();
  const int pt = schema->GetFieldIndex("pt");
  ASSERT_GE(pt, 0);
  class Out final : public Collector {
   public:
    arrow::Status emit(std::shared_ptr<arrow::RecordBatch> b) override {
      batches.push_back(std::move(b));
      return arrow::Status::OK();
    }
    arrow::Status emit_watermark(Watermark) override { return arrow::Status::OK(); }
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  } out;
  // A batch of keys stamped with processing time `t` (as the scan's PROCTIME() does). Output
  // rows: k, window_start, window_end, window_time (a TIMESTAMP_LTZ, shown with Z), COUNT(*).
  auto batch = [&](std::vector<std::string> keys, int64_t t) {
    std::vector<std::shared_ptr<arrow::Array>> columns;
    for (const auto& f : schema->fields()) {
      auto b = arrow::MakeBuilder(f->type()).ValueOrDie();
      for (const auto& k : keys) {
        if (f->name() == "k") {
          ARROW_EXPECT_OK(static_cast<arrow::StringBuilder&>(*b).Append(k));
        } else if (f->name() == "pt") {
          ARROW_EXPECT_OK(static_cast<arrow::TimestampBuilder&>(*b).Append(t));
        } else {
          ARROW_EXPECT_OK(b->AppendNull());
        }
      }
      columns.push_back(b->Finish().ValueOrDie());
    }
    return arrow::RecordBatch::Make(schema, int64_t(keys.size()), columns);
  };
  ASSERT_OK(op->open(OperatorContext{}));
  const int64_t t0 = kBase;
  ASSERT_OK(op->process_batch(0, batch({"a", "b", "a"}, t0 + 100000), out));
  ASSERT_OK(op->on_tick(t0 + 900000, out));
  // An event-time watermark far ahead does not close processing-time windows.
  ASSERT_OK(op->on_watermark(Watermark{t0 + 3600 * kSec, false}, out));
  EXPECT_TRUE(out.batches.empty());
  ASSERT_OK(op->process_batch(0, batch({"a"}, t0 + 950000), out));
  ASSERT_OK(op->on_tick(t0 + kSec, out));  // the clock reaches the end of [t0, t0 + 1 s)
  EXPECT_THAT(
      texts(out.batches),
      ::testing::UnorderedElementsAre(
          "a|2024-01-01 00:00:00.000000|2024-01-01 00:00:01.000000|2024-01-01 00:00:00.999000Z|3",
          "b|2024-01-01 00:00:00.000000|2024-01-01 00:00:01.000000|2024-01-01 00:00:00.999000Z|1"));
  // No input for a while: nothing open, nothing emitted; then a row and the end of the input.
  ASSERT_OK(op->on_tick(t0 + 5 * kSec, out));
  EXPECT_EQ(texts(out.batches).size(), 2u);
  ASSERT_OK(op->process_batch(0, batch({"c"}, t0 + 5 * kSec + 10), out));
  ASSERT_OK(op->close(/*end_of_data=*/true, out));
  EXPECT_EQ(
      texts(out.batches).back(),
      "c|2024-01-01 00:00:05.000000|2024-01-01 00:00:06.000000|2024-01-01 00:00:05.999000Z|1");
  EXPECT_EQ(op->metrics().late_records, 0);
}

TEST_F(EventTimeTest, ProcessingTimeWindowsRunInAJob) {
  // The whole path: PROCTIME() in the scan, the window, end of input closes it.
  const auto got = query(
      "SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE p, DESCRIPTOR(pt), INTERVAL '1' HOUR)) "
      "GROUP BY k, window_start, window_end");
  int64_t total = 0;
  for (const auto& line : got) total += std::stoll(line.substr(line.find('|') + 1));
  EXPECT_EQ(total, 6);  // every row, in one or two hourly windows
  auto r = session_.execute(
      "SELECT k, COUNT(*) FROM TABLE(SESSION(TABLE p, DESCRIPTOR(pt), INTERVAL '1' SECOND)) "
      "GROUP BY k, window_start, window_end");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("processing time"));
  // The legacy syntax too.
  EXPECT_OK(
      session_.execute("SELECT k, COUNT(*) FROM p GROUP BY k, TUMBLE(pt, INTERVAL '1' MINUTE)")
          .status());
}

// A window over a UNION ALL of two sources, stopped mid-stream and resumed from its checkpoint:
// the shared tail's state (open windows holding rows of both inputs, the inputs' watermarks)
// crosses the restart, so every window is emitted once with every row of both inputs.
TEST_F(EventTimeTest, WindowOverAUnionResumesFromItsCheckpoint) {
  ASSERT_OK(session_
                .execute_script(R"(
      CREATE TABLE s2 (k STRING, v INT, ts TIMESTAMP(3),
                       WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
        WITH ('connector' = 'memory', 'table' = 'more');)")
                .status());
  auto& a = tables_.table("events");
  auto& b = tables_.table("more");
  a.batches.clear();
  a.unbounded = b.unbounded = true;
  // Run 1: a reaches 00:02:10 but b only 00:00:30, so only windows before b's watermark may fire.
  a.batches.push_back(rows("[{\"k\": \"a\", \"v\": 1, \"ts\": " + at(10) +
                           "}, {\"k\": \"a\", \"v\": 2, \"ts\": " + at(130) + "}]"));
  b.batches.push_back(rows("[{\"k\": \"b\", \"v\": 3, \"ts\": " + at(30) + "}]"));
  auto result = session_.execute(
      "INSERT INTO out_table SELECT k, COUNT(*), SUM(v) FROM TABLE(TUMBLE(TABLE u, "
      "DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, k");
  ASSERT_FALSE(result.ok());  // u does not exist yet
  ASSERT_OK(session_
                .execute("CREATE VIEW u AS SELECT k, v, ts FROM s UNION ALL SELECT k, v, ts "
                         "FROM s2")
                .status());
  result = session_.execute(
      "INSERT INTO out_table SELECT k, COUNT(*), SUM(v) FROM TABLE(TUMBLE(TABLE u, "
      "DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, k");
  ASSERT_OK(result.status());
  const std::string root =
      (std::filesystem::temp_directory_path() / ("ev5-union-" + std::to_string(now_micros())))
          .string();
  JobOptions options;
  options.name = "union";
  options.checkpoint_root = root;
  options.config = {{"pipeline.name", "union"}, {"execution.checkpointing.interval", "20 ms"}};
  {
    ASSERT_OK_AND_ASSIGN(auto job, Job::make(*result->plan, tables_, options));
    EXPECT_THAT(job->describe(), ::testing::HasSubstr("UnionAllInput(1)"));
    ASSERT_OK(job->run(300));  // stopped gracefully: a final checkpoint
    EXPECT_TRUE(job->summary().cancelled);
  }
  // b's watermark (25 s) holds back a's: no window [0, 60) yet, although a is at 02:05.
  EXPECT_TRUE(tables_.table("out").batches.empty());
  // Run 2: both inputs go on and end; a row of b at 00:00:50 is not late (b's watermark was 25 s).
  b.batches.push_back(rows("[{\"k\": \"a\", \"v\": 4, \"ts\": " + at(50) +
                           "}, {\"k\": \"b\", \"v\": 5, \"ts\": " + at(140) + "}]"));
  // a's new row is not behind a's own watermark (125 s): which input runs first must not matter.
  a.batches.push_back(rows("[{\"k\": \"a\", \"v\": 6, \"ts\": " + at(135) + "}]"));
  a.unbounded = b.unbounded = false;
  {
    ASSERT_OK_AND_ASSIGN(auto job, Job::make(*result->plan, tables_, options));
    ASSERT_OK(job->run(5000));
    EXPECT_EQ(job->checkpoint_stats().restored_id > 0, true);
    EXPECT_EQ(job->summary().late_records, 0);
  }
  EXPECT_THAT(texts(tables_.table("out").batches),
              ::testing::UnorderedElementsAre("a|2|5", "b|1|3", "a|2|8", "b|1|5"));
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace roadpulse::exec
