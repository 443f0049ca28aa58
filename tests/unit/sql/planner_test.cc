// Planning end to end (parse -> bind -> optimize): projection and filter pushdown, the scan's
// contract with exec, EXPLAIN output, and the seed job.
#include <fstream>
#include <sstream>

#include <arrow/scalar.h>
#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/session.h"

namespace roadpulse::sql {
namespace {

using ::testing::HasSubstr;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> names(const Schema& s) {
  std::vector<std::string> out;
  for (const auto& f : s.fields) out.push_back(f.name);
  return out;
}

class PlannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(session_
                  .execute_script(R"(
      CREATE TABLE src (
        id VARCHAR(50), sev BIGINT, city STRING, county STRING, state STRING, lat VARCHAR(50),
        ts TIMESTAMP(3),
        lat_d AS CAST(lat AS DOUBLE),
        WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
      ) WITH ('connector' = 'stream', 'stream' = 'raw', 'format' = 'json');
      CREATE TABLE out1 (id VARCHAR(50), sev BIGINT, city STRING)
        WITH ('connector' = 'print');
      CREATE TABLE out2 (state STRING, n INT, ts TIMESTAMP(3)) WITH ('connector' = 'blackhole');
    )")
                  .status());
  }

  std::unique_ptr<StatementSetPlan> plan_insert(std::string_view sql) {
    auto r = session_.execute(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return nullptr;
    EXPECT_EQ(r->kind, StatementKind::kInsert);
    return std::move(r->plan);
  }
  std::unique_ptr<LogicalNode> plan_query(std::string_view sql) {
    auto r = session_.execute(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return nullptr;
    EXPECT_EQ(r->kind, StatementKind::kQuery);
    return std::move(r->query);
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

TEST_F(PlannerTest, FilterAndProjectionPushIntoScan) {
  auto plan = plan_insert("INSERT INTO out1 SELECT id, sev, city FROM src WHERE sev > 3");
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->sinks.size(), 1u);
  const LogicalNode& sink = *plan->sinks[0];
  EXPECT_EQ(sink.kind, LogicalNodeKind::kSink);
  EXPECT_EQ(sink.table->name, "out1");
  // The projection only drops the rowtime, which the scan keeps for the watermark.
  const LogicalNode& project = *sink.inputs[0];
  ASSERT_EQ(project.kind, LogicalNodeKind::kProject);
  EXPECT_EQ(project.exprs.size(), 3u);
  const LogicalNode& scan = *project.inputs[0];
  ASSERT_EQ(scan.kind, LogicalNodeKind::kTableScan);
  // Reads id, sev, city and the rowtime ts (the watermark needs it), nothing else.
  EXPECT_EQ(names(scan.read_schema()), (std::vector<std::string>{"id", "sev", "city", "ts"}));
  EXPECT_EQ(scan.read_columns, (std::vector<int>{0, 1, 2, 6}));
  EXPECT_EQ(names(scan.schema), (std::vector<std::string>{"id", "sev", "city", "ts"}));
  ASSERT_TRUE(scan.watermark);
  EXPECT_EQ(scan.watermark->rowtime_index, 3);
  EXPECT_EQ(scan.watermark->fixed_delay_micros, 5000000);
  EXPECT_EQ(scan.rowtime_index, 3);
  ASSERT_TRUE(scan.pushed_filter);
  EXPECT_EQ(scan.pushed_filter->to_string(), "(sev > 3)");
  EXPECT_EQ(scan.pushed_filter->args[0]->column_index, 1);
}

TEST_F(PlannerTest, SinkGetsAProjectionWhenColumnsDoNotLineUp) {
  auto plan = plan_insert("INSERT INTO out1 SELECT id, sev, UPPER(city) FROM src WHERE sev > 3");
  ASSERT_TRUE(plan);
  const LogicalNode& project = *plan->sinks[0]->inputs[0];
  ASSERT_EQ(project.kind, LogicalNodeKind::kProject);
  EXPECT_EQ(project.exprs[2]->to_string(), "UPPER(city)");
  EXPECT_EQ(project.inputs[0]->kind, LogicalNodeKind::kTableScan);
}

TEST_F(PlannerTest, ComputedColumnsAreEvaluatedInTheScan) {
  auto q = plan_query("SELECT id, lat_d FROM src WHERE lat_d > 30.5");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->kind, LogicalNodeKind::kProject);
  EXPECT_EQ(names(q->schema), (std::vector<std::string>{"id", "lat_d"}));
  const LogicalNode& scan = *q->inputs[0];
  ASSERT_EQ(scan.kind, LogicalNodeKind::kTableScan);
  EXPECT_EQ(names(scan.read_schema()), (std::vector<std::string>{"id", "lat", "ts"}));
  EXPECT_EQ(names(scan.schema), (std::vector<std::string>{"id", "ts", "lat_d"}));
  EXPECT_EQ(scan.projected_columns, (std::vector<int>{0, 6, 7}));
  // lat_d is computed from the read row's second column (lat).
  EXPECT_EQ(scan.outputs[2]->to_string(), "CAST(lat AS DOUBLE)");
  EXPECT_EQ(scan.outputs[2]->args[0]->column_index, 1);
  EXPECT_EQ(scan.pushed_filter->to_string(), "(lat_d > 30.5)");
  EXPECT_EQ(scan.pushed_filter->args[0]->column_index, 2);
  EXPECT_EQ(q->exprs[1]->column_index, 2);
}

TEST_F(PlannerTest, QueryRootKeepsItsColumnOrder) {
  auto q = plan_query("SELECT city, id FROM src");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->kind, LogicalNodeKind::kProject);
  EXPECT_EQ(names(q->schema), (std::vector<std::string>{"city", "id"}));
  EXPECT_EQ(names(q->inputs[0]->schema), (std::vector<std::string>{"id", "city", "ts"}));
  EXPECT_FALSE(q->inputs[0]->pushed_filter);
}

TEST_F(PlannerTest, FiltersMoveThroughSubqueriesAndMerge) {
  auto q = plan_query(
      "SELECT c FROM (SELECT UPPER(city) AS c, sev + 1 AS s2 FROM src WHERE state = 'CA') x "
      "WHERE s2 > 4");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->kind, LogicalNodeKind::kProject);
  const LogicalNode& scan = *q->inputs[0];
  ASSERT_EQ(scan.kind, LogicalNodeKind::kTableScan);
  EXPECT_EQ(scan.pushed_filter->to_string(), "((state = 'CA') AND ((sev + 1) > 4))");
  EXPECT_EQ(names(scan.read_schema()), (std::vector<std::string>{"sev", "city", "state", "ts"}));
  EXPECT_EQ(q->exprs.size(), 1u);
  EXPECT_EQ(q->exprs[0]->to_string(), "UPPER(city)");
}

TEST_F(PlannerTest, UnionAllPushesFiltersIntoEachInput) {
  auto q = plan_query(
      "SELECT * FROM (SELECT id, sev FROM src UNION ALL SELECT id, CAST(1 AS BIGINT) FROM src) u "
      "WHERE sev > 2");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->kind, LogicalNodeKind::kUnion);
  ASSERT_EQ(q->inputs[0]->kind, LogicalNodeKind::kProject);
  EXPECT_EQ(q->inputs[0]->inputs[0]->pushed_filter->to_string(), "(sev > 2)");
  ASSERT_EQ(q->inputs[1]->kind, LogicalNodeKind::kProject);
  EXPECT_EQ(q->inputs[1]->inputs[0]->pushed_filter->to_string(), "(1 > 2)");
}

TEST_F(PlannerTest, InsertCastsAndColumnLists) {
  // INT literal into BIGINT, a VARCHAR(50) into STRING: implicit casts, as Flink allows.
  auto plan = plan_insert("INSERT INTO out2 (state, ts) SELECT state, ts FROM src");
  ASSERT_TRUE(plan);
  const LogicalNode& project = *plan->sinks[0]->inputs[0];
  ASSERT_EQ(project.kind, LogicalNodeKind::kProject);
  EXPECT_EQ(project.exprs[1]->to_string(), "NULL");
  EXPECT_EQ(project.exprs[1]->type.id, TypeId::kInt);
  EXPECT_THAT(plan_error("INSERT INTO out2 SELECT city, sev, ts FROM src"),
              HasSubstr("column 2 of the query ('sev', BIGINT) cannot be written to column 'n' "
                        "INT of table 'out2'; add a CAST"));
  EXPECT_THAT(plan_error("INSERT INTO out1 SELECT id, sev FROM src"),
              HasSubstr("the query returns 2 columns but table 'out1' has 3 physical columns (id, "
                        "sev, city)"));
  EXPECT_THAT(plan_error("INSERT INTO nowhere SELECT 1"), HasSubstr("table 'nowhere' not found"));
}

TEST_F(PlannerTest, ExplainPrintsTheTree) {
  EXPECT_EQ(explain("INSERT INTO out1 SELECT id, sev, UPPER(city) FROM src WHERE sev > 3"),
            "== Optimized Logical Plan ==\n"
            "Sink(table=[out1], fields=[id, sev, city])\n"
            "+- Project(select=[id, sev, UPPER(city) AS EXPR$2])\n"
            "   +- TableScan(table=[src], read=[id, sev, city, ts], watermark=[ts, (ts - "
            "INTERVAL '5' SECOND)], filter=[(sev > 3)])\n");
  EXPECT_EQ(explain("SELECT id FROM src UNION ALL SELECT city FROM src"),
            "== Optimized Logical Plan ==\n"
            "Union(all=[true], fields=[id])\n"
            ":- Project(select=[id])\n"
            ":  +- TableScan(table=[src], read=[id, ts], watermark=[ts, (ts - INTERVAL '5' "
            "SECOND)])\n"
            "+- Project(select=[city])\n"
            "   +- TableScan(table=[src], read=[city, ts], watermark=[ts, (ts - INTERVAL '5' "
            "SECOND)])\n");
}

TEST_F(PlannerTest, UnsupportedFeaturesSaySoWithPosition) {
  EXPECT_THAT(plan_error("SELECT * FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' "
                         "MINUTE))"),
              HasSubstr("line 1:15: a window table-valued function must be aggregated with GROUP "
                        "BY window_start, window_end"));
  EXPECT_THAT(plan_error("SELECT * FROM (SELECT * FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
                         "INTERVAL '1' MINUTE))) x"),
              HasSubstr("line 1:30: a window table-valued function must be aggregated"));
  EXPECT_THAT(plan_error("SELECT * FROM src a FULL JOIN src b ON a.id = b.id"),
              HasSubstr("FULL JOIN is not supported yet"));
  EXPECT_THAT(plan_error("SELECT * FROM src a JOIN src b ON a.sev > b.sev"),
              HasSubstr("a JOIN needs at least one equality"));
  EXPECT_THAT(plan_error("SELECT id FROM src ORDER BY UPPER(id)"),
              HasSubstr("ORDER BY takes columns of the select list"));
  EXPECT_THAT(plan_error("SELECT id FROM src ORDER BY 2"),
              HasSubstr("ORDER BY position 2 is not in the select list"));
  EXPECT_THAT(plan_error("SELECT DISTINCT id FROM src GROUP BY id"),
              HasSubstr("SELECT DISTINCT with GROUP BY is not supported yet"));
}

TEST(SeedJobTest, PlansUnchanged) {
  Session session;
  const std::string sql = read_file(ROADPULSE_SOURCE_DIR "/sql/seed_job.sql");
  ASSERT_OK_AND_ASSIGN(auto results, session.execute_script(sql));
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[1].kind, StatementKind::kCreateTable);
  auto src = session.catalog().table("us_accidents_stream");
  ASSERT_TRUE(src);
  EXPECT_EQ(src->columns.size(), 48u);
  EXPECT_EQ(src->option("connector"), "kinesis");
  EXPECT_EQ(src->option("stream"), "us-accidents-data-stream-1");
  EXPECT_EQ(src->columns[47].type.to_string(), "TIMESTAMP(3) *ROWTIME*");
  EXPECT_EQ(src->watermark->fixed_delay_micros, 5000000);
  EXPECT_EQ(src->partition_keys, std::vector<std::string>{"Severity"});

  const StatementResult& insert = results[4];
  ASSERT_EQ(insert.kind, StatementKind::kInsert);
  ASSERT_EQ(insert.plan->sinks.size(), 1u);
  const LogicalNode& sink = *insert.plan->sinks[0];
  EXPECT_EQ(sink.table->option("stream"), "us-accidents-data-stream-2");
  EXPECT_EQ(names(sink.schema),
            (std::vector<std::string>{"ID", "Severity", "City", "County", "Txn_Timestamp"}));
  const LogicalNode& scan = *sink.inputs[0];
  ASSERT_EQ(scan.kind, LogicalNodeKind::kTableScan);
  EXPECT_EQ(names(scan.read_schema()),
            (std::vector<std::string>{"ID", "Severity", "City", "County", "Txn_Timestamp"}));
  EXPECT_EQ(scan.read_columns, (std::vector<int>{0, 1, 13, 14, 47}));
  EXPECT_EQ(scan.pushed_filter->to_string(), "(Severity > 3)");
  EXPECT_EQ(scan.pushed_filter->args[1]->type.to_string(), "BIGINT NOT NULL");
  // The scan's output row matches the sink's physical row type exactly (Arrow types).
  EXPECT_TRUE(scan.schema.to_arrow()->Equals(*sink.schema.to_arrow()));
  EXPECT_EQ(explain_plan(*insert.plan),
            "Sink(table=[us_accidents_stream_1_results], fields=[ID, Severity, City, County, "
            "Txn_Timestamp])\n"
            "+- TableScan(table=[us_accidents_stream], read=[ID, Severity, City, County, "
            "Txn_Timestamp], watermark=[Txn_Timestamp, (Txn_Timestamp - INTERVAL '5' SECOND)], "
            "filter=[(Severity > 3)])\n");
}

TEST_F(PlannerTest, JoinPushesOneSidedFiltersAndPrunesBothSides) {
  ASSERT_OK(session_
                .execute("CREATE TABLE dim (code STRING, name STRING, region STRING) WITH "
                         "('connector' = 'filesystem', 'path' = '/tmp/x', 'format' = 'csv')")
                .status());
  EXPECT_EQ(explain("SELECT a.id, d.name FROM src a JOIN dim d ON a.state = d.code "
                    "WHERE a.sev = 4 AND d.region = 'South' AND a.city <> d.name"),
            "== Optimized Logical Plan ==\n"
            "Project(select=[id, name])\n"
            "+- Filter(condition=[(city <> name)])\n"
            "   +- HashJoin(joinType=[INNER], where=[state = code], build=[right], "
            "select=[id, sev, city, state, ts, code, name, region])\n"
            "      :- TableScan(table=[src], read=[id, sev, city, state, ts], watermark=[ts, (ts "
            "- INTERVAL '5' SECOND)], filter=[(sev = 4)])\n"
            "      +- TableScan(table=[dim], read=[code, name, region], "
            "filter=[(region = 'South')])\n");
  // LEFT JOIN: a WHERE filter on the right side stays above the join (it sees the NULL rows);
  // an ON condition on the right side alone filters the build input; one on the left side alone
  // stays a residual condition of the join.
  EXPECT_EQ(explain("SELECT a.id FROM src a LEFT JOIN dim d ON a.state = d.code AND "
                    "d.region = 'South' AND a.sev > 2 WHERE d.name IS NULL"),
            "== Optimized Logical Plan ==\n"
            "Project(select=[id])\n"
            "+- Filter(condition=[(name IS NULL)])\n"
            "   +- HashJoin(joinType=[LEFT], where=[state = code], residual=[(sev > 2)], "
            "build=[right], select=[id, sev, state, ts, code, name, region])\n"
            "      :- TableScan(table=[src], read=[id, sev, state, ts], watermark=[ts, (ts - "
            "INTERVAL '5' SECOND)])\n"
            "      +- TableScan(table=[dim], read=[code, name, region], "
            "filter=[(region = 'South')])\n");
}

TEST_F(PlannerTest, RankKeepsWindowKeysAndTopNFilterStaysAbove) {
  EXPECT_EQ(explain("SELECT id, r FROM (SELECT id, RANK() OVER (PARTITION BY state ORDER BY sev "
                    "DESC) AS r FROM src) WHERE r <= 3"),
            "== Optimized Logical Plan ==\n"
            "Project(select=[id, r])\n"
            "+- Filter(condition=[(r <= 3)])\n"
            "   +- Rank(partitionBy=[state], orderBy=[sev DESC], select=[RANK() AS r])\n"
            "      +- TableScan(table=[src], read=[id, sev, state, ts], watermark=[ts, (ts - "
            "INTERVAL '5' SECOND)])\n");
  // The deduplication form (ROW_NUMBER by the rowtime, rn = 1) stays a Deduplicate.
  EXPECT_THAT(explain("SELECT id FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY ts) "
                      "AS rn FROM src) WHERE rn = 1"),
              HasSubstr("Deduplicate(keep=[FirstRow], key=[id], order=[ts])"));
  EXPECT_THAT(explain("SELECT id FROM src ORDER BY id LIMIT 5 OFFSET 10"),
              HasSubstr("Sort(orderBy=[id ASC], offset=[10], limit=[5])"));
  EXPECT_THAT(explain("SELECT id FROM src ORDER BY id OFFSET 10 ROWS FETCH FIRST 5 ROWS ONLY"),
              HasSubstr("Sort(orderBy=[id ASC], offset=[10], limit=[5])"));
}

}  // namespace
}  // namespace roadpulse::sql
