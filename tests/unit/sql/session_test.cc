// Session: DDL applied to the catalog, SET/RESET, SHOW, DESCRIBE, views, statement sets, and
// script-level error positions.
#include "sql/session.h"

#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace roadpulse::sql {
namespace {

using ::testing::HasSubstr;

constexpr const char* kDdl = R"(
CREATE TABLE src (
  id STRING NOT NULL,
  sev BIGINT,
  city STRING,
  ts TIMESTAMP(3),
  sev_label AS CASE WHEN sev >= 4 THEN 'severe' ELSE 'minor' END,
  PRIMARY KEY (id) NOT ENFORCED,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) PARTITIONED BY (sev) WITH ('connector' = 'datagen', 'rows-per-second' = '10');
CREATE TABLE dst (id STRING, label STRING) WITH ('connector' = 'print');
)";

std::string script_error(Session& s, std::string_view sql) {
  auto r = s.execute_script(sql);
  EXPECT_FALSE(r.ok()) << sql;
  return r.ok() ? "" : r.status().message();
}

// Flink's CREATE TABLE t WITH (...) LIKE src: src's columns, computed columns, watermark, keys and
// partitioning; src's options with ours replacing the same keys (INCLUDING ALL OVERWRITING
// OPTIONS).
TEST(SessionTest, CreateTableLikeCopiesTheSchemaAndOverwritesOptions) {
  Session s;
  ASSERT_OK(s.execute_script(kDdl).status());
  ASSERT_OK(s.execute("CREATE TABLE src_fast WITH ('rows-per-second' = '99', 'fields.id.length' "
                      "= '4') LIKE src")
                .status());
  auto src = s.catalog().table("src");
  auto copy = s.catalog().table("src_fast");
  ASSERT_TRUE(copy);
  ASSERT_EQ(copy->columns.size(), src->columns.size());
  for (size_t i = 0; i < src->columns.size(); ++i) {
    EXPECT_EQ(copy->columns[i].name, src->columns[i].name);
    EXPECT_EQ(copy->columns[i].type.to_string(), src->columns[i].type.to_string());
    EXPECT_EQ(copy->columns[i].computed_sql, src->columns[i].computed_sql);
    EXPECT_EQ(copy->columns[i].is_physical(), src->columns[i].is_physical());
  }
  ASSERT_TRUE(copy->watermark);
  EXPECT_EQ(copy->watermark->rowtime_column, "ts");
  EXPECT_EQ(copy->watermark->fixed_delay_micros, 1'000'000);
  EXPECT_EQ(copy->primary_key, std::vector<std::string>{"id"});
  EXPECT_EQ(copy->partition_keys, std::vector<std::string>{"sev"});
  EXPECT_EQ(copy->option("connector"), "datagen");
  EXPECT_EQ(copy->option("rows-per-second"), "99");
  EXPECT_EQ(copy->option("fields.id.length"), "4");
  EXPECT_EQ(src->option("rows-per-second"), "10");  // the source is untouched
  // The copy plans like the original: its computed column and watermark work.
  ASSERT_OK(s.execute("EXPLAIN SELECT id, sev_label FROM src_fast WHERE ts > TIMESTAMP "
                      "'2016-01-01 00:00:00'")
                .status());

  EXPECT_THAT(script_error(s, "CREATE TABLE x LIKE nope"),
              HasSubstr("table 'nope' of the LIKE clause not found"));
  EXPECT_THAT(script_error(s, "CREATE TABLE x LIKE src (EXCLUDING OPTIONS)"),
              HasSubstr("LIKE options are not supported yet"));
  EXPECT_THAT(script_error(s, "CREATE TABLE x (a INT) WITH ('connector' = 'print') LIKE src"),
              HasSubstr("LIKE after a column list is not supported yet"));
}

TEST(SessionTest, CreateDescribeShowDrop) {
  Session s;
  ASSERT_OK(s.execute_script(kDdl).status());
  ASSERT_OK_AND_ASSIGN(auto show, s.execute("SHOW TABLES"));
  EXPECT_EQ(show.rows, (std::vector<std::vector<std::string>>{{"dst"}, {"src"}}));
  ASSERT_OK_AND_ASSIGN(auto desc, s.execute("DESCRIBE src"));
  EXPECT_EQ(desc.column_names,
            (std::vector<std::string>{"name", "type", "null", "key", "extras", "watermark"}));
  ASSERT_EQ(desc.rows.size(), 5u);
  EXPECT_EQ(desc.rows[0], (std::vector<std::string>{"id", "STRING", "FALSE", "PRI(id)", "", ""}));
  EXPECT_EQ(desc.rows[3], (std::vector<std::string>{"ts", "TIMESTAMP(3) *ROWTIME*", "TRUE", "", "",
                                                    "ts - INTERVAL '1' SECOND"}));
  EXPECT_EQ(desc.rows[4][1], "CHAR(6)");
  EXPECT_EQ(desc.rows[4][2], "FALSE");
  EXPECT_EQ(desc.rows[4][4], "AS CASE WHEN sev >= 4 THEN 'severe' ELSE 'minor' END");
  auto table = s.catalog().table("default_catalog.default_database.src");
  ASSERT_TRUE(table);
  EXPECT_EQ(table->option("rows-per-second"), "10");
  EXPECT_EQ(table->physical_schema().size(), 4u);

  EXPECT_THAT(script_error(s, "SELECT 1;\nCREATE TABLE src (a INT)"),
              HasSubstr("line 2:1: table or view 'src' already exists"));
  ASSERT_OK(s.execute("CREATE TABLE IF NOT EXISTS src (a INT)").status());
  EXPECT_EQ(s.catalog().table("src")->columns.size(), 5u);
  ASSERT_OK(s.execute("DROP TABLE src").status());
  EXPECT_FALSE(s.catalog().table("src"));
  EXPECT_THAT(script_error(s, "DROP TABLE src"), HasSubstr("line 1:1: table 'src' does not exist"));
  ASSERT_OK(s.execute("DROP TABLE IF EXISTS src").status());
  EXPECT_THAT(script_error(s, "DESCRIBE nope"), HasSubstr("table or view 'nope' not found"));
}

TEST(SessionTest, DdlErrors) {
  Session s;
  EXPECT_THAT(script_error(s, "CREATE TABLE t (a INT, a STRING)"),
              HasSubstr("line 1:24: duplicate column 'a'"));
  EXPECT_THAT(script_error(s, "CREATE TABLE t (a INT, WATERMARK FOR b AS b)"),
              HasSubstr("rowtime column 'b' of the WATERMARK not found"));
  EXPECT_THAT(script_error(s, "CREATE TABLE t (a INT, WATERMARK FOR a AS a)"),
              HasSubstr("rowtime column 'a' must be TIMESTAMP(p) or TIMESTAMP_LTZ(p)"));
  EXPECT_THAT(script_error(s, "CREATE TABLE t (a TIMESTAMP(6), WATERMARK FOR a AS a)"),
              HasSubstr("with p from 0 to 3"));
  EXPECT_THAT(script_error(s, "CREATE TABLE t (a TIMESTAMP(3), WATERMARK FOR a AS 5)"),
              HasSubstr("the watermark expression must return TIMESTAMP(3)"));
  EXPECT_THAT(script_error(s, "CREATE TABLE t (a INT, b AS a + 1, c AS b * 2)"),
              HasSubstr("computed column 'c' cannot refer to computed column 'b'"));
  EXPECT_THAT(script_error(s, "CREATE TABLE t (a INT, PRIMARY KEY (x) NOT ENFORCED)"),
              HasSubstr("primary key column 'x' not found"));
  EXPECT_THAT(script_error(s, "CREATE TABLE t (a INT) PARTITIONED BY (x)"),
              HasSubstr("partition column 'x' not found"));
  EXPECT_TRUE(s.catalog().table_names().empty());
}

TEST(SessionTest, RowtimeFromComputedColumn) {
  Session s;
  ASSERT_OK(s.execute("CREATE TABLE t (txt STRING, ts AS TO_TIMESTAMP(txt), "
                      "WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) WITH ('connector' = 'x')")
                .status());
  ASSERT_OK_AND_ASSIGN(auto r, s.execute("SELECT txt FROM t"));
  ASSERT_EQ(r.query->kind, LogicalNodeKind::kProject);
  const LogicalNode& scan = *r.query->inputs[0];
  EXPECT_EQ(scan.read_columns, (std::vector<int>{0}));
  ASSERT_EQ(scan.outputs.size(), 2u);
  EXPECT_EQ(scan.outputs[1]->to_string(), "TO_TIMESTAMP(txt)");
  EXPECT_EQ(scan.watermark->rowtime_index, 1);
  EXPECT_EQ(scan.watermark->fixed_delay_micros, 2000000);
}

TEST(SessionTest, SetAndReset) {
  Session s;
  ASSERT_OK(s.execute_script("SET 'execution.checkpointing.interval' = '10s';\n"
                             "SET 'table.local-time-zone' = 'UTC';")
                .status());
  EXPECT_EQ(s.config().at("execution.checkpointing.interval"), "10s");
  ASSERT_OK_AND_ASSIGN(auto all, s.execute("SET"));
  EXPECT_EQ(all.rows.size(), 2u);
  ASSERT_OK(s.execute("RESET 'table.local-time-zone'").status());
  EXPECT_EQ(s.config().size(), 1u);
  ASSERT_OK(s.execute("RESET").status());
  EXPECT_TRUE(s.config().empty());
}

TEST(SessionTest, ViewsExpandAtUse) {
  Session s;
  ASSERT_OK(s.execute_script(kDdl).status());
  ASSERT_OK(s.execute("CREATE TEMPORARY VIEW severe (vid, vcity) AS "
                      "SELECT id, city FROM src WHERE sev >= 4")
                .status());
  ASSERT_OK_AND_ASSIGN(auto desc, s.execute("DESCRIBE severe"));
  EXPECT_EQ(desc.rows[0][0], "vid");
  ASSERT_OK_AND_ASSIGN(auto show, s.execute("SHOW VIEWS"));
  EXPECT_EQ(show.rows, (std::vector<std::vector<std::string>>{{"severe"}}));
  ASSERT_OK_AND_ASSIGN(auto r, s.execute("INSERT INTO dst SELECT vid, vcity FROM severe"));
  const LogicalNode& scan = *r.plan->sinks[0]->inputs[0]->inputs[0];
  ASSERT_EQ(scan.kind, LogicalNodeKind::kTableScan);
  EXPECT_EQ(scan.pushed_filter->to_string(), "(sev >= 4)");
  EXPECT_THAT(script_error(s, "INSERT INTO severe SELECT 'a', 'b'"),
              HasSubstr("cannot INSERT INTO view 'severe'"));
  // A view whose table went away reports it at the use site.
  ASSERT_OK(s.execute("DROP TABLE src").status());
  EXPECT_THAT(script_error(s, "SELECT * FROM severe"),
              HasSubstr("line 1:15: view 'severe' is no longer valid: line 1:22: table 'src' not "
                        "found\n  SELECT * FROM severe\n                ^"));
  ASSERT_OK(s.execute("DROP VIEW severe").status());
  EXPECT_TRUE(s.catalog().view_names().empty());
}

TEST(SessionTest, StatementSetPlansEveryInsert) {
  Session s;
  ASSERT_OK(s.execute_script(kDdl).status());
  ASSERT_OK_AND_ASSIGN(auto results, s.execute_script(R"(
    EXECUTE STATEMENT SET BEGIN
      INSERT INTO dst SELECT id, sev_label FROM src;
      INSERT INTO dst SELECT id, city FROM src WHERE city LIKE 'San%';
    END;)"));
  ASSERT_EQ(results.size(), 1u);
  ASSERT_EQ(results[0].kind, StatementKind::kInsert);
  ASSERT_EQ(results[0].plan->sinks.size(), 2u);
  const LogicalNode& first = *results[0].plan->sinks[0]->inputs[0];
  ASSERT_EQ(first.kind, LogicalNodeKind::kProject);
  const LogicalNode& scan1 = *first.inputs[0];
  EXPECT_EQ(scan1.read_columns, (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(results[0].plan->sinks[1]->inputs[0]->inputs[0]->pushed_filter->to_string(),
            "(city LIKE 'San%')");
  EXPECT_EQ(results[0].line, 2);
}

TEST(SessionTest, InsertsCarryTheSettingsInForceWhenTheyRan) {
  // A SET applies to the statements after it: two jobs of one script can differ.
  Session s;
  ASSERT_OK(s.execute_script(kDdl).status());
  ASSERT_OK_AND_ASSIGN(auto results, s.execute_script(R"(
    SET 'pipeline.name' = 'p';
    INSERT INTO dst SELECT id, city FROM src;
    SET 'pipeline.priority' = 'low';
    INSERT INTO dst SELECT id, city FROM src;
    RESET 'pipeline.priority';)"));
  ASSERT_EQ(results.size(), 5u);
  using Config = std::map<std::string, std::string>;
  EXPECT_EQ(results[1].config, (Config{{"pipeline.name", "p"}}));
  EXPECT_EQ(results[3].config, (Config{{"pipeline.name", "p"}, {"pipeline.priority", "low"}}));
  EXPECT_EQ(s.config(), (Config{{"pipeline.name", "p"}}));
  ASSERT_OK_AND_ASSIGN(auto one, s.execute("INSERT INTO dst SELECT id, city FROM src"));
  EXPECT_EQ(one.config, (Config{{"pipeline.name", "p"}}));
}

TEST(SessionTest, ValuesAndSelectWithoutFrom) {
  Session s;
  ASSERT_OK_AND_ASSIGN(auto r, s.execute("SELECT 1 AS one, 'x' || 'y', CAST(NULL AS INT)"));
  ASSERT_EQ(r.query->kind, LogicalNodeKind::kValues);
  EXPECT_EQ(r.query->schema.to_string(),
            "(`one` INT NOT NULL, `EXPR$1` STRING NOT NULL, `EXPR$2` INT)");
  ASSERT_OK_AND_ASSIGN(auto v, s.execute("VALUES (1, 'a'), (2000000000000, NULL)"));
  EXPECT_EQ(v.query->schema.to_string(), "(`EXPR$0` BIGINT NOT NULL, `EXPR$1` CHAR(1))");
  EXPECT_EQ(v.query->rows.size(), 2u);
}

TEST(SessionTest, BindErrorsCarryScriptPositions) {
  Session s;
  const std::string msg =
      script_error(s, std::string(kDdl) + "INSERT INTO dst\nSELECT id, Citty FROM src;");
  EXPECT_THAT(msg, HasSubstr("line 13:12: column 'Citty' not found in any table"));
  EXPECT_THAT(msg, HasSubstr("\n  SELECT id, Citty FROM src;\n             ^"));
  // Nothing after a syntax error runs, even statements before it.
  Session fresh;
  EXPECT_THAT(script_error(fresh, "CREATE TABLE a (x INT);\nCREATE TABLE b (x INT"),
              HasSubstr("line 2:22: expected ')'"));
  EXPECT_FALSE(fresh.catalog().table("a"));
}

}  // namespace
}  // namespace roadpulse::sql
