#include "sql/parser.h"

#include <fstream>
#include <sstream>

#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace roadpulse::sql {
namespace {

using ::testing::HasSubstr;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ast::StatementPtr parse_ok(std::string_view sql) {
  auto r = parse_statement(sql);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(*r) : nullptr;
}

std::string parse_error(std::string_view sql) {
  auto r = parse_statement(sql);
  EXPECT_FALSE(r.ok()) << "parsed: " << sql;
  return r.ok() ? std::string() : r.status().message();
}

TEST(ParserTest, SeedJobVerbatim) {
  const std::string sql = read_file(ROADPULSE_SOURCE_DIR "/sql/seed_job.sql");
  ASSERT_FALSE(sql.empty());
  // The repo copy is the reference's job unchanged.
  EXPECT_EQ(sql, read_file(ROADPULSE_SHARED_DIR "/seed/seed_job.sql"));
  ASSERT_OK_AND_ASSIGN(auto stmts, parse_script(sql));
  ASSERT_EQ(stmts.size(), 5u);
  EXPECT_EQ(stmts[0]->kind, ast::StatementKind::kDropTable);
  EXPECT_TRUE(stmts[0]->if_exists);
  const auto& src = *stmts[1];
  EXPECT_EQ(src.kind, ast::StatementKind::kCreateTable);
  EXPECT_EQ(ast::join_name(src.name), "us_accidents_stream");
  ASSERT_EQ(src.columns.size(), 48u);
  EXPECT_EQ(src.columns[8].name, "Distance(mi)");
  EXPECT_EQ(src.columns[1].type, SqlType::bigint());
  EXPECT_EQ(src.columns[2].type, SqlType::timestamp(3));
  EXPECT_EQ(src.columns[9].type, SqlType::varchar(500));
  EXPECT_EQ(src.columns[26].type, SqlType::string());
  EXPECT_EQ(src.columns[31].type, SqlType::boolean());
  EXPECT_EQ(src.watermark_column, "Txn_Timestamp");
  EXPECT_EQ(src.watermark_sql, "Txn_Timestamp - INTERVAL '5' SECOND");
  EXPECT_EQ(src.partition_keys, std::vector<std::string>{"Severity"});
  ASSERT_EQ(src.options.size(), 6u);
  EXPECT_EQ(src.options[0], std::make_pair(std::string("connector"), std::string("kinesis")));
  EXPECT_EQ(src.options[5].first, "json.timestamp-format.standard");
  EXPECT_EQ(stmts[3]->columns.size(), 5u);
  const auto& ins = *stmts[4];
  EXPECT_EQ(ins.kind, ast::StatementKind::kInsert);
  EXPECT_EQ(ast::join_name(ins.name), "us_accidents_stream_1_results");
  ASSERT_TRUE(ins.query->select);
  EXPECT_EQ(ins.query->select->items.size(), 5u);
  EXPECT_EQ(ins.query->select->where->to_string(), "Severity > 3");
}

TEST(ParserTest, CreateTableWithComputedColumnsKeysAndComments) {
  auto s = parse_ok(R"(CREATE TEMPORARY TABLE IF NOT EXISTS db.t (
      id BIGINT NOT NULL,
      name VARCHAR COMMENT 'the name',
      price DECIMAL(10, 2),
      ts TIMESTAMP(3),
      ltz TIMESTAMP_LTZ(3),
      ltz2 TIMESTAMP(3) WITH LOCAL TIME ZONE,
      d DATE, tm TIME, c CHAR(2), f FLOAT, dbl DOUBLE, ti TINYINT, si SMALLINT, i INTEGER,
      total AS price * 2,
      pt AS PROCTIME(),
      PRIMARY KEY (id) NOT ENFORCED,
      WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE
    ) COMMENT 'a table' PARTITIONED BY (d) WITH ('connector' = 'datagen'))");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->if_not_exists);
  EXPECT_TRUE(s->temporary);
  EXPECT_EQ(ast::join_name(s->name), "db.t");
  ASSERT_EQ(s->columns.size(), 16u);
  EXPECT_EQ(s->columns[0].type, SqlType::bigint(false));
  EXPECT_EQ(s->columns[1].type, SqlType::string());  // VARCHAR alone is STRING in Flink
  EXPECT_EQ(s->columns[1].comment, "the name");
  EXPECT_EQ(s->columns[2].type, SqlType::decimal(10, 2));
  EXPECT_EQ(s->columns[4].type, SqlType::timestamp_ltz(3));
  EXPECT_EQ(s->columns[5].type, SqlType::timestamp_ltz(3));
  EXPECT_EQ(s->columns[7].type, SqlType::time(0));
  EXPECT_EQ(s->columns[8].type, SqlType::char_type(2));
  EXPECT_EQ(s->columns[14].computed_sql, "price * 2");
  EXPECT_EQ(s->columns[15].computed->to_string(), "PROCTIME()");
  EXPECT_EQ(s->primary_key, std::vector<std::string>{"id"});
  EXPECT_EQ(s->comment, "a table");
  EXPECT_EQ(s->partition_keys, std::vector<std::string>{"d"});
  EXPECT_EQ(s->watermark_sql, "ts - INTERVAL '1' MINUTE");
}

TEST(ParserTest, InlinePrimaryKeyAndConstraint) {
  auto a = parse_ok("CREATE TABLE t (id INT PRIMARY KEY NOT ENFORCED, v STRING)");
  EXPECT_EQ(a->primary_key, std::vector<std::string>{"id"});
  auto b = parse_ok(
      "CREATE TABLE t (id INT, v STRING, CONSTRAINT pk PRIMARY KEY (id, v) NOT "
      "ENFORCED) WITH ()");
  EXPECT_EQ(b->primary_key, (std::vector<std::string>{"id", "v"}));
  EXPECT_THAT(parse_error("CREATE TABLE t (id INT PRIMARY KEY)"),
              HasSubstr("expected 'NOT ENFORCED' but found ')'"));
}

TEST(ParserTest, DropAndViews) {
  auto d = parse_ok("DROP TABLE t");
  EXPECT_EQ(d->kind, ast::StatementKind::kDropTable);
  EXPECT_FALSE(d->if_exists);
  auto v =
      parse_ok("CREATE TEMPORARY VIEW IF NOT EXISTS v (a, b) AS SELECT x, y FROM t WHERE x > 1");
  EXPECT_EQ(v->kind, ast::StatementKind::kCreateView);
  EXPECT_TRUE(v->temporary);
  EXPECT_EQ(v->column_aliases, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(v->query_sql, "SELECT x, y FROM t WHERE x > 1");
  auto dv = parse_ok("DROP TEMPORARY VIEW IF EXISTS v;");
  EXPECT_EQ(dv->kind, ast::StatementKind::kDropView);
  EXPECT_TRUE(dv->if_exists);
}

TEST(ParserTest, InsertForms) {
  auto a = parse_ok("INSERT INTO t (a, b) SELECT 1, 'x'");
  EXPECT_EQ(a->insert_columns, (std::vector<std::string>{"a", "b"}));
  auto b = parse_ok("INSERT OVERWRITE t SELECT * FROM s");
  EXPECT_TRUE(b->overwrite);
  auto c = parse_ok("INSERT INTO t VALUES (1, 'a'), (2, 'b')");
  EXPECT_EQ(c->query->values.size(), 2u);
}

TEST(ParserTest, StatementSets) {
  auto s = parse_ok(R"(EXECUTE STATEMENT SET
    BEGIN
      INSERT INTO a SELECT * FROM src;
      INSERT INTO b SELECT x FROM src WHERE x > 1;
    END;)");
  ASSERT_EQ(s->kind, ast::StatementKind::kStatementSet);
  ASSERT_EQ(s->statements.size(), 2u);
  EXPECT_EQ(ast::join_name(s->statements[1]->name), "b");
  // The legacy SQL client form folds into one statement set.
  ASSERT_OK_AND_ASSIGN(auto script, parse_script("BEGIN STATEMENT SET;\n"
                                                 "INSERT INTO a SELECT * FROM src;\n"
                                                 "INSERT INTO b SELECT * FROM src;\n"
                                                 "END;\nSHOW TABLES;"));
  ASSERT_EQ(script.size(), 2u);
  EXPECT_EQ(script[0]->kind, ast::StatementKind::kStatementSet);
  EXPECT_EQ(script[0]->statements.size(), 2u);
  EXPECT_EQ(script[1]->kind, ast::StatementKind::kShowTables);
  EXPECT_THAT(parse_error("EXECUTE STATEMENT SET BEGIN SELECT 1; END"),
              HasSubstr("expected INSERT or END"));
}

TEST(ParserTest, SetResetShowDescribeExplain) {
  auto set = parse_ok("SET 'execution.runtime-mode' = 'streaming'");
  EXPECT_EQ(set->key, "execution.runtime-mode");
  EXPECT_EQ(set->value, "streaming");
  EXPECT_EQ(parse_ok("SET")->key, "");
  EXPECT_EQ(parse_ok("RESET 'a.b'")->key, "a.b");
  EXPECT_EQ(parse_ok("SHOW TABLES")->kind, ast::StatementKind::kShowTables);
  EXPECT_EQ(parse_ok("show views")->kind, ast::StatementKind::kShowViews);
  auto desc = parse_ok("DESC default_catalog.default_database.t");
  EXPECT_EQ(desc->kind, ast::StatementKind::kDescribe);
  EXPECT_EQ(desc->name.size(), 3u);
  EXPECT_EQ(parse_ok("DESCRIBE t")->kind, ast::StatementKind::kDescribe);
  auto ex = parse_ok("EXPLAIN PLAN FOR SELECT * FROM t");
  ASSERT_EQ(ex->kind, ast::StatementKind::kExplain);
  EXPECT_EQ(ex->statements[0]->kind, ast::StatementKind::kQuery);
  auto ex2 = parse_ok("EXPLAIN INSERT INTO a SELECT * FROM t");
  EXPECT_EQ(ex2->statements[0]->kind, ast::StatementKind::kInsert);
  auto ex3 = parse_ok("EXPLAIN STATEMENT SET BEGIN INSERT INTO a SELECT * FROM t; END");
  EXPECT_EQ(ex3->statements[0]->kind, ast::StatementKind::kStatementSet);
}

std::string expr_text(std::string_view sql) {
  auto r = parse_expression(sql);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? (*r)->to_string() : "";
}

TEST(ParserTest, ExpressionPrecedence) {
  auto e = parse_expression("a + b * c > 3 AND NOT d OR e");
  ASSERT_OK(e.status());
  const auto& root = **e;
  EXPECT_EQ(root.op, "OR");
  EXPECT_EQ(root.args[0]->op, "AND");
  EXPECT_EQ(root.args[0]->args[0]->op, ">");
  EXPECT_EQ(root.args[0]->args[0]->args[0]->op, "+");
  EXPECT_EQ(root.args[0]->args[0]->args[0]->args[1]->op, "*");
  EXPECT_EQ(root.args[0]->args[1]->op, "NOT");
}

TEST(ParserTest, PredicatesAndSpecialForms) {
  EXPECT_EQ(expr_text("a NOT LIKE 'x%' ESCAPE '!'"), "a NOT LIKE 'x%' ESCAPE '!'");
  EXPECT_EQ(expr_text("a NOT IN (1, 2, 3)"), "a NOT IN (1, 2, 3)");
  EXPECT_EQ(expr_text("a BETWEEN 1 AND 2"), "a BETWEEN 1 AND 2");
  EXPECT_EQ(expr_text("a IS NOT NULL"), "a IS NOT NULL");
  EXPECT_EQ(expr_text("a IS TRUE"), "a IS TRUE");
  EXPECT_EQ(expr_text("a <> b AND a != b"), "a <> b AND a <> b");
  EXPECT_EQ(expr_text("CASE WHEN a > 1 THEN 'x' ELSE 'y' END"),
            "CASE WHEN a > 1 THEN 'x' ELSE 'y' END");
  EXPECT_EQ(expr_text("CASE a WHEN 1 THEN 'x' END"), "CASE a WHEN 1 THEN 'x' END");
  EXPECT_EQ(expr_text("TRY_CAST(a AS DECIMAL(5, 2))"), "TRY_CAST(a AS DECIMAL(5, 2))");
  EXPECT_EQ(expr_text("CAST(a AS VARCHAR(10) NOT NULL)"), "CAST(a AS VARCHAR(10) NOT NULL)");
  EXPECT_EQ(expr_text("EXTRACT(HOUR FROM ts)"), "EXTRACT(HOUR FROM ts)");
  EXPECT_EQ(expr_text("FLOOR(ts TO MINUTE)"), "FLOOR(ts TO MINUTE)");
  EXPECT_EQ(expr_text("TIMESTAMPADD(DAY, 1, ts)"), "TIMESTAMPADD(DAY, 1, ts)");
  EXPECT_EQ(expr_text("TIMESTAMPDIFF(SECOND, a, b)"), "TIMESTAMPDIFF(SECOND, a, b)");
  EXPECT_EQ(expr_text("SUBSTRING(s FROM 2 FOR 3)"), "SUBSTRING(s, 2, 3)");
  EXPECT_EQ(expr_text("TRIM(LEADING 'x' FROM s)"), "TRIM(s, 'x')");
  EXPECT_EQ(expr_text("CURRENT_TIMESTAMP"), "CURRENT_TIMESTAMP");
  EXPECT_EQ(expr_text("INTERVAL '1 02:03' DAY TO MINUTE"), "INTERVAL '1 02:03' DAY TO MINUTE");
  EXPECT_EQ(expr_text("-5"), "-5");
  EXPECT_EQ(expr_text("DATE '2020-01-01'"), "DATE '2020-01-01'");
  EXPECT_EQ(expr_text("TIMESTAMP '2020-01-01 00:00:00'"), "TIMESTAMP '2020-01-01 00:00:00'");
  EXPECT_EQ(expr_text("t.`Distance(mi)`"), "t.Distance(mi)");
  EXPECT_EQ(expr_text("COUNT(*)"), "COUNT(*)");
  EXPECT_EQ(expr_text("COUNT(DISTINCT a)"), "COUNT(DISTINCT a)");
}

TEST(ParserTest, SelectClausesGroupByAndWindowTvf) {
  auto s = parse_ok(R"(SELECT window_start, window_end, County, COUNT(*) AS n
      FROM TABLE(TUMBLE(TABLE accidents, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) w
      WHERE Severity >= 3
      GROUP BY window_start, window_end, County
      HAVING COUNT(*) > 2)");
  ASSERT_TRUE(s);
  const auto& sel = *s->query->select;
  EXPECT_EQ(sel.items.size(), 4u);
  EXPECT_EQ(sel.items[3].alias, "n");
  ASSERT_EQ(sel.from->kind, ast::TableRefKind::kFunction);
  EXPECT_EQ(sel.from->alias, "w");
  EXPECT_EQ(sel.from->function->op, "TUMBLE");
  EXPECT_EQ(sel.from->function->to_string(),
            "TUMBLE(TABLE accidents, DESCRIPTOR(ts), INTERVAL '1' MINUTE)");
  EXPECT_EQ(sel.group_by.size(), 3u);
  ASSERT_TRUE(sel.having);
  for (const char* f : {"HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '10' MINUTE)",
                        "CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '1' HOUR)",
                        "SESSION(TABLE t PARTITION BY k, DESCRIPTOR(ts), INTERVAL '5' MINUTE)"}) {
    auto r = parse_statement(std::string("SELECT * FROM TABLE(") + f + ")");
    EXPECT_TRUE(r.ok()) << f << ": " << r.status().ToString();
  }
}

TEST(ParserTest, SubqueriesAliasesUnion) {
  auto s = parse_ok("SELECT x.a AS b, c d FROM (SELECT a, c FROM t) AS x UNION ALL SELECT 1, 2");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->query->set_op, "UNION ALL");
  const auto& left = *s->query->left->select;
  EXPECT_EQ(left.items[0].alias, "b");
  EXPECT_EQ(left.items[1].alias, "d");
  EXPECT_EQ(left.from->kind, ast::TableRefKind::kSubquery);
  EXPECT_EQ(left.from->alias, "x");
}

TEST(ParserTest, ReservedWordsNeedBackticks) {
  EXPECT_THAT(parse_error("SELECT from FROM t"),
              HasSubstr("expected an expression but found reserved word 'from'"));
  EXPECT_OK(parse_statement("SELECT `from` FROM t").status());
  EXPECT_THAT(parse_error("CREATE TABLE t (select INT)"), HasSubstr("quote it with backticks"));
}

TEST(ParserTest, ErrorsCarryLineColumnCaretAndExpectation) {
  const std::string msg = parse_error("SELECT a,\n  (b + 1\nFROM t");
  EXPECT_THAT(msg, HasSubstr("line 3:1: expected ')' but found 'FROM'"));
  EXPECT_THAT(msg, HasSubstr("\n  FROM t\n  ^"));
  EXPECT_THAT(parse_error("SELECT a FROM t WHERE"),
              HasSubstr("line 1:22: expected an expression but found end of input"));
  EXPECT_THAT(parse_error("CREATE TABLE t (a INT,)"),
              HasSubstr("line 1:23: expected a column name"));
  EXPECT_THAT(parse_error("CREATE TABLE t (a FOO)"),
              HasSubstr("line 1:19: unknown data type 'FOO'"));
  EXPECT_THAT(parse_error("CREATE TABLE t (a DECIMAL(40, 2))"),
              HasSubstr("DECIMAL precision must be between 1 and 38, got 40"));
  EXPECT_THAT(parse_error("CREATE TABLE t (a INT) WITH ('k' = 'v', 'k' = 'w')"),
              HasSubstr("duplicate option 'k'"));
  EXPECT_THAT(parse_error("SELEC 1"), HasSubstr("line 1:1: expected a statement"));
  EXPECT_THAT(parse_error("SELECT 1 2"), HasSubstr("expected end of input but found '2'"));
  EXPECT_THAT(parse_error("SELECT CAST(a AS) FROM t"),
              HasSubstr("expected a data type but found ')'"));
  EXPECT_THAT(parse_error("SELECT INTERVAL '5' FORTNIGHT"), HasSubstr("expected a time unit"));
}

TEST(ParserTest, ScriptSeparatorsAndComments) {
  ASSERT_OK_AND_ASSIGN(auto stmts,
                       parse_script("-- header\n;;SHOW TABLES;\n/* x */ SET 'a' = 'b'"));
  ASSERT_EQ(stmts.size(), 2u);
  EXPECT_EQ(stmts[1]->pos.line, 3);
  auto r = parse_script("SHOW TABLES SHOW TABLES");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("expected ';' or end of input but found 'SHOW'"));
}

TEST(ParserTest, DeepNestingIsAnErrorNotACrash) {
  std::string sql = "SELECT " + std::string(5000, '(') + "1" + std::string(5000, ')');
  EXPECT_THAT(parse_error(sql), HasSubstr("nested too deeply"));
  std::string neg = "SELECT ";
  for (int i = 0; i < 5000; ++i) neg += "- ";
  neg += "1";
  EXPECT_THAT(parse_error(neg), HasSubstr("nested too deeply"));
  std::string nots = "SELECT ";
  for (int i = 0; i < 5000; ++i) nots += "NOT ";
  EXPECT_THAT(parse_error(nots + "TRUE"), HasSubstr("nested too deeply"));
}

}  // namespace
}  // namespace roadpulse::sql
