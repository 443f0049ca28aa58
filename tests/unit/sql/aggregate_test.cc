// GROUP BY, aggregates, HAVING and window TVFs: plan shape, types, pushdown and errors.
#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/session.h"

namespace roadpulse::sql {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> names(const Schema& s) {
  std::vector<std::string> out;
  for (const auto& f : s.fields) out.push_back(f.name);
  return out;
}

class AggregateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(session_
                  .execute(R"(CREATE TABLE acc (
        id STRING, sev BIGINT, state STRING, county STRING, city STRING, dist DOUBLE,
        amount DECIMAL(10, 2), n INT, ts TIMESTAMP(3), plain_ts TIMESTAMP(3),
        WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'datagen'))")
                  .status());
  }
  std::unique_ptr<LogicalNode> plan(std::string_view sql) {
    auto r = session_.execute(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r->query) : nullptr;
  }
  std::string explain(std::string_view sql) {
    auto r = session_.execute(std::string("EXPLAIN ") + std::string(sql));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->message : "";
  }
  std::string plan_error(std::string_view sql) {
    auto r = session_.execute(sql);
    EXPECT_FALSE(r.ok()) << sql;
    return r.ok() ? "" : r.status().message();
  }
  Session session_;
};

TEST_F(AggregateTest, TumbleCountByCounty) {
  const char* sql =
      "SELECT county, window_start, window_end, COUNT(*) AS n, MAX(sev) AS worst "
      "FROM TABLE(TUMBLE(TABLE acc, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) "
      "WHERE sev >= 2 GROUP BY window_start, window_end, county";
  auto q = plan(sql);
  ASSERT_TRUE(q);
  ASSERT_EQ(q->kind, LogicalNodeKind::kProject);
  EXPECT_EQ(names(q->schema),
            (std::vector<std::string>{"county", "window_start", "window_end", "n", "worst"}));
  EXPECT_EQ(q->schema[3].type.to_string(), "BIGINT NOT NULL");
  EXPECT_EQ(q->schema[4].type.to_string(), "BIGINT");
  const LogicalNode& agg = *q->inputs[0];
  ASSERT_EQ(agg.kind, LogicalNodeKind::kWindowAggregate);
  ASSERT_TRUE(agg.window);
  EXPECT_EQ(agg.window->kind, WindowKind::kTumble);
  EXPECT_EQ(agg.window->size_micros, 60'000'000);
  EXPECT_EQ(names(agg.schema), (std::vector<std::string>{"county", "window_start", "window_end",
                                                         "window_time", "$agg0", "$agg1"}));
  EXPECT_EQ(agg.rowtime_index, 3);
  EXPECT_EQ(agg.schema[3].type.to_string(), "TIMESTAMP(3) NOT NULL *ROWTIME*");
  ASSERT_EQ(agg.aggregates.size(), 2u);
  EXPECT_EQ(agg.aggregates[0].function, "COUNT");
  EXPECT_TRUE(agg.aggregates[0].args.empty());
  // The scan reads sev, county and ts only; WHERE went into it.
  const LogicalNode& scan = *agg.inputs[0];
  ASSERT_EQ(scan.kind, LogicalNodeKind::kTableScan);
  EXPECT_EQ(names(scan.read_schema()), (std::vector<std::string>{"sev", "county", "ts"}));
  EXPECT_EQ(scan.pushed_filter->to_string(), "(sev >= 2)");
  EXPECT_EQ(names(scan.schema)[agg.group_keys[0]], "county");
  EXPECT_EQ(agg.window->time_column, 2);
  EXPECT_EQ(agg.aggregates[1].args, std::vector<int>{0});
  EXPECT_EQ(explain(sql),
            "== Optimized Logical Plan ==\n"
            "Project(select=[county, window_start, window_end, $agg0 AS n, $agg1 AS worst])\n"
            "+- WindowAggregate(window=[TUMBLE(time_col=[ts], size=[1 min])], groupBy=[county], "
            "select=[county, window_start, window_end, window_time, COUNT(*) AS $agg0, MAX(sev) "
            "AS $agg1])\n"
            "   +- TableScan(table=[acc], read=[sev, county, ts], watermark=[ts, (ts - INTERVAL "
            "'5' SECOND)], filter=[(sev >= 2)])\n");
}

TEST_F(AggregateTest, HopAndCumulateAndSession) {
  auto hop = plan(
      "SELECT county, window_end, COUNT(*) FROM TABLE(HOP(TABLE acc, DESCRIPTOR(ts), "
      "INTERVAL '1' MINUTE, INTERVAL '10' MINUTE)) GROUP BY county, window_start, window_end "
      "HAVING COUNT(*) >= 3");
  ASSERT_TRUE(hop);
  const LogicalNode& having = *hop->inputs[0];
  ASSERT_EQ(having.kind, LogicalNodeKind::kFilter);
  EXPECT_EQ(having.predicate->to_string(), "($agg0 >= 3)");
  const LogicalNode& agg = *having.inputs[0];
  EXPECT_EQ(agg.window->kind, WindowKind::kHop);
  EXPECT_EQ(agg.window->slide_micros, 60'000'000);
  EXPECT_EQ(agg.window->size_micros, 600'000'000);
  // COUNT(*) in SELECT and HAVING is one aggregate.
  EXPECT_EQ(agg.aggregates.size(), 1u);

  auto cum = plan(
      "SELECT window_start, SUM(amount) FROM TABLE(CUMULATE(TABLE acc, DESCRIPTOR(ts), "
      "INTERVAL '1' HOUR, INTERVAL '1' DAY)) GROUP BY window_start, window_end");
  ASSERT_TRUE(cum);
  EXPECT_EQ(cum->schema[1].type.to_string(), "DECIMAL(38, 2)");
  EXPECT_EQ(cum->inputs[0]->window->kind, WindowKind::kCumulate);

  auto ses = plan(
      "SELECT state, window_start, COUNT(*) FROM TABLE(SESSION(TABLE acc PARTITION BY state, "
      "DESCRIPTOR(ts), INTERVAL '5' MINUTE)) GROUP BY state, window_start, window_end");
  ASSERT_TRUE(ses);
  const LogicalNode& sagg = *ses->inputs[0];
  EXPECT_EQ(sagg.window->kind, WindowKind::kSession);
  EXPECT_EQ(sagg.window->size_micros, 300'000'000);
  ASSERT_EQ(sagg.window->partition_keys.size(), 1u);
  EXPECT_EQ(sagg.inputs[0]->schema[sagg.window->partition_keys[0]].name, "state");
}

TEST_F(AggregateTest, UnwindowedGroupByWithExpressions) {
  auto q = plan(
      "SELECT UPPER(state) AS st, COUNT(DISTINCT city), AVG(dist), AVG(n), SUM(n), "
      "MIN(ts) FROM acc GROUP BY UPPER(state)");
  ASSERT_TRUE(q);
  const LogicalNode& agg = *q->inputs[0];
  ASSERT_EQ(agg.kind, LogicalNodeKind::kAggregate);
  EXPECT_FALSE(agg.window);
  EXPECT_EQ(q->schema.to_string(),
            "(`st` STRING, `EXPR$1` BIGINT NOT NULL, `EXPR$2` DOUBLE, `EXPR$3` INT, `EXPR$4` INT, "
            "`EXPR$5` TIMESTAMP(3))");
  EXPECT_TRUE(agg.aggregates[0].distinct);
  // UPPER(state) is computed by a Project below the aggregate.
  const LogicalNode& below = *agg.inputs[0];
  ASSERT_EQ(below.kind, LogicalNodeKind::kProject);
  EXPECT_EQ(below.exprs[agg.group_keys[0]]->to_string(), "UPPER(state)");
  // Grouping by the same expression again is the same key.
  ASSERT_TRUE(plan("SELECT state, COUNT(*) FROM acc GROUP BY state, state"));
}

TEST_F(AggregateTest, GlobalAggregateWithoutGroupBy) {
  auto q = plan("SELECT COUNT(*) + 1, SUM(amount) FROM acc WHERE state = 'CA'");
  ASSERT_TRUE(q);
  const LogicalNode& agg = *q->inputs[0];
  ASSERT_EQ(agg.kind, LogicalNodeKind::kAggregate);
  EXPECT_TRUE(agg.group_keys.empty());
  EXPECT_EQ(q->exprs[0]->to_string(), "($agg0 + 1)");
  EXPECT_EQ(agg.inputs[0]->pushed_filter->to_string(), "(state = 'CA')");
}

TEST_F(AggregateTest, InsertAWindowedCountIntoASink) {
  ASSERT_OK(session_
                .execute("CREATE TABLE per_min (county STRING, ws TIMESTAMP(3), n BIGINT) "
                         "WITH ('connector' = 'print')")
                .status());
  auto r = session_.execute(
      "INSERT INTO per_min SELECT county, window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE acc, "
      "DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, county");
  ASSERT_OK(r.status());
  const LogicalNode& sink = *r->plan->sinks[0];
  EXPECT_EQ(sink.inputs[0]->kind, LogicalNodeKind::kProject);
  EXPECT_EQ(sink.inputs[0]->inputs[0]->kind, LogicalNodeKind::kWindowAggregate);
}

TEST_F(AggregateTest, Errors) {
  EXPECT_THAT(plan_error("SELECT state, city, COUNT(*) FROM acc GROUP BY state"),
              HasSubstr("line 1:15: column 'city' must be in GROUP BY or inside an aggregate "
                        "function"));
  EXPECT_THAT(plan_error("SELECT state FROM acc GROUP BY state HAVING city = 'x'"),
              HasSubstr("column 'city' must be in GROUP BY"));
  EXPECT_THAT(plan_error("SELECT SUM(COUNT(*)) FROM acc"),
              HasSubstr("line 1:12: aggregate function COUNT cannot be nested"));
  EXPECT_THAT(plan_error("SELECT SUM(state) FROM acc"),
              HasSubstr("SUM needs a numeric argument, but it is STRING"));
  EXPECT_THAT(plan_error("SELECT LISTAGG(state) FROM acc"),
              HasSubstr("aggregate function LISTAGG is not supported yet"));
  EXPECT_THAT(plan_error("SELECT * FROM acc GROUP BY state"),
              HasSubstr("SELECT * cannot be used with GROUP BY"));
  EXPECT_THAT(plan_error("SELECT state FROM acc WHERE COUNT(*) > 1 GROUP BY state"),
              HasSubstr("aggregate function COUNT is not allowed here"));
  EXPECT_THAT(plan_error("SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE acc, DESCRIPTOR(plain_ts), "
                         "INTERVAL '1' MINUTE)) GROUP BY window_start, window_end"),
              HasSubstr("DESCRIPTOR column 'plain_ts' must be a time attribute"));
  EXPECT_THAT(plan_error("SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE acc, DESCRIPTOR(ts), "
                         "INTERVAL '1' MINUTE)) GROUP BY window_start"),
              HasSubstr("must be aggregated with GROUP BY window_start, window_end"));
  EXPECT_THAT(plan_error("SELECT COUNT(*) FROM TABLE(HOP(TABLE acc, DESCRIPTOR(ts), INTERVAL '7' "
                         "MINUTE, INTERVAL '10' MINUTE)) GROUP BY window_start, window_end"),
              HasSubstr("HOP window size must be an integral multiple of the slide"));
  EXPECT_THAT(plan_error("SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE acc, DESCRIPTOR(ts))) "
                         "GROUP BY window_start, window_end"),
              HasSubstr("TUMBLE takes TUMBLE(TABLE t, DESCRIPTOR(rowtime), size [, offset])"));
  EXPECT_THAT(plan_error("SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE acc, DESCRIPTOR(ts), "
                         "INTERVAL '0' MINUTE)) GROUP BY window_start, window_end"),
              HasSubstr("TUMBLE intervals must be positive"));
  EXPECT_THAT(plan_error("SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE nope, DESCRIPTOR(ts), "
                         "INTERVAL '1' MINUTE)) GROUP BY window_start, window_end"),
              HasSubstr("table 'nope' not found"));
}

TEST_F(AggregateTest, LegacyGroupWindowSyntax) {
  auto q = plan(
      "SELECT county, TUMBLE_START(ts, INTERVAL '1' MINUTE) AS ws, "
      "TUMBLE_END(ts, INTERVAL '1' MINUTE) AS we, TUMBLE_ROWTIME(ts, INTERVAL '1' MINUTE) AS rt, "
      "COUNT(*) AS n FROM acc GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), county");
  ASSERT_TRUE(q);
  EXPECT_EQ(names(q->schema), (std::vector<std::string>{"county", "ws", "we", "rt", "n"}));
  EXPECT_EQ(q->schema[3].type.time_attribute, TimeAttribute::kRowtime);
  const LogicalNode& agg = *q->inputs[0];
  ASSERT_EQ(agg.kind, LogicalNodeKind::kWindowAggregate);
  EXPECT_EQ(agg.window->kind, WindowKind::kTumble);
  EXPECT_EQ(agg.window->size_micros, 60000000);
  EXPECT_EQ(agg.group_keys.size(), 1u);

  auto hop = plan(
      "SELECT HOP_END(ts, INTERVAL '1' MINUTE, INTERVAL '10' MINUTE), COUNT(*) FROM acc "
      "GROUP BY HOP(ts, INTERVAL '1' MINUTE, INTERVAL '10' MINUTE)");
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->inputs[0]->window->kind, WindowKind::kHop);
  EXPECT_EQ(hop->inputs[0]->window->slide_micros, 60000000);

  // Legacy sessions are per group key.
  auto session = plan(
      "SELECT state, SESSION_START(ts, INTERVAL '5' MINUTE), COUNT(*) FROM acc "
      "GROUP BY state, SESSION(ts, INTERVAL '5' MINUTE)");
  ASSERT_TRUE(session);
  EXPECT_EQ(session->inputs[0]->window->partition_keys, session->inputs[0]->group_keys);

  EXPECT_THAT(plan_error("SELECT TUMBLE_START(ts, INTERVAL '2' MINUTE) FROM acc "
                         "GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)"),
              HasSubstr("must name the window of the GROUP BY clause"));
  EXPECT_THAT(plan_error("SELECT COUNT(*) FROM acc GROUP BY TUMBLE(plain_ts, INTERVAL '1' MINUTE)"),
              HasSubstr("must be a time attribute"));
  EXPECT_THAT(plan_error("SELECT TUMBLE_END(ts, INTERVAL '1' MINUTE) FROM acc GROUP BY state"),
              HasSubstr("only valid with a GROUP BY TUMBLE(...) group window"));
  EXPECT_THAT(plan_error("SELECT COUNT(*) FROM acc GROUP BY HOP(ts, INTERVAL '7' MINUTE, "
                         "INTERVAL '10' MINUTE)"),
              HasSubstr("integral multiple of the slide"));
}

}  // namespace
}  // namespace roadpulse::sql
