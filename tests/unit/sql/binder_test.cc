#include "sql/binder.h"

#include <arrow/scalar.h>
#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sql/parser.h"
#include "sql/session.h"

namespace roadpulse::sql {
namespace {

using ::testing::HasSubstr;

class BinderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(session_
                  .execute(R"(CREATE TABLE t (
        i INT, b BIGINT NOT NULL, ti TINYINT, d DECIMAL(10, 2), f FLOAT, dbl DOUBLE,
        s VARCHAR(20), c CHAR(3), flag BOOLEAN,
        ts TIMESTAMP(3), ltz TIMESTAMP_LTZ(3), dt DATE, tm TIME)
      WITH ('connector' = 'datagen'))")
                  .status());
    auto table = session_.catalog().table("t");
    for (const auto& c : table->columns) scope_.columns.push_back({"t", c.name, c.type});
  }

  arrow::Result<BoundExprPtr> bind(std::string_view sql) {
    ARROW_ASSIGN_OR_RAISE(auto ast, parse_expression(sql));
    Binder binder(session_.catalog(), sql);
    return binder.bind_expr(*ast, scope_);
  }
  std::string type_of(std::string_view sql) {
    auto r = bind(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    return r.ok() ? (*r)->type.to_string() : "";
  }
  std::string text_of(std::string_view sql) {
    auto r = bind(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    return r.ok() ? (*r)->to_string() : "";
  }
  std::string error_of(std::string_view sql) {
    auto r = bind(sql);
    EXPECT_FALSE(r.ok()) << sql << " bound to " << (r.ok() ? (*r)->to_string() : "");
    return r.ok() ? "" : r.status().message();
  }

  Session session_;
  Scope scope_;
};

TEST_F(BinderTest, LiteralTypes) {
  EXPECT_EQ(type_of("1"), "INT NOT NULL");
  EXPECT_EQ(type_of("3000000000"), "BIGINT NOT NULL");
  EXPECT_EQ(type_of("1.50"), "DECIMAL(3, 2) NOT NULL");
  EXPECT_EQ(type_of("1e2"), "DOUBLE NOT NULL");
  EXPECT_EQ(type_of("'abc'"), "CHAR(3) NOT NULL");
  EXPECT_EQ(type_of("TRUE"), "BOOLEAN NOT NULL");
  EXPECT_EQ(type_of("DATE '2020-02-29'"), "DATE NOT NULL");
  EXPECT_EQ(type_of("TIME '12:30:00'"), "TIME(0) NOT NULL");
  EXPECT_EQ(type_of("TIMESTAMP '2020-01-01 10:00:00.123'"), "TIMESTAMP(3) NOT NULL");
  EXPECT_EQ(type_of("INTERVAL '5' SECOND"), "INTERVAL DAY TO SECOND NOT NULL");
  EXPECT_EQ(type_of("INTERVAL '1-6' YEAR TO MONTH"), "INTERVAL YEAR TO MONTH NOT NULL");
}

TEST_F(BinderTest, IntervalValues) {
  ASSERT_OK_AND_ASSIGN(auto a, bind("INTERVAL '1 02:03:04.5' DAY TO SECOND"));
  EXPECT_EQ(static_cast<const arrow::DurationScalar&>(*a->literal).value,
            ((86400LL + 2 * 3600 + 3 * 60 + 4) * 1000000) + 500000);
  ASSERT_OK_AND_ASSIGN(auto b, bind("INTERVAL '-5' MINUTE"));
  EXPECT_EQ(static_cast<const arrow::DurationScalar&>(*b->literal).value, -300LL * 1000000);
  ASSERT_OK_AND_ASSIGN(auto c, bind("INTERVAL '1-6' YEAR TO MONTH"));
  EXPECT_EQ(static_cast<const arrow::MonthIntervalScalar&>(*c->literal).value, 18);
  EXPECT_THAT(error_of("INTERVAL '1:2' DAY"), HasSubstr("invalid interval literal '1:2' for DAY"));
  for (const char* bad :
       {"INTERVAL '.' SECOND", "INTERVAL '1.2.3' SECOND", "INTERVAL '99999999999999999999' YEAR",
        "INTERVAL '1.5' MONTH", "INTERVAL '9999999999999999999999' SECOND", "INTERVAL '' DAY",
        "INTERVAL '1 2' HOUR TO DAY"}) {
    EXPECT_THAT(error_of(bad), HasSubstr("interval")) << bad;
  }
}

TEST_F(BinderTest, ImplicitCastsInComparisons) {
  // INT literal against BIGINT column: the literal is converted, no runtime cast.
  ASSERT_OK_AND_ASSIGN(auto e, bind("b > 3"));
  EXPECT_EQ(e->type.to_string(), "BOOLEAN NOT NULL");
  EXPECT_EQ(e->args[1]->kind, BoundExprKind::kLiteral);
  EXPECT_EQ(e->args[1]->type.to_string(), "BIGINT NOT NULL");
  // INT column against BIGINT column: the narrower side is CAST.
  EXPECT_EQ(text_of("i = b"), "(CAST(i AS BIGINT) = b)");
  EXPECT_EQ(type_of("i = b"), "BOOLEAN");
  // Decimal vs double: DOUBLE.
  EXPECT_EQ(text_of("d < dbl"), "(CAST(d AS DOUBLE) < dbl)");
  // A string literal compared with a timestamp is parsed as one.
  ASSERT_OK_AND_ASSIGN(auto ts, bind("ts >= '2020-01-01 00:00:00'"));
  EXPECT_EQ(ts->args[1]->kind, BoundExprKind::kLiteral);
  EXPECT_TRUE(ts->args[1]->type.is_timestamp());
  EXPECT_THAT(error_of("ts >= '2020-13-45'"), HasSubstr("is not a valid TIMESTAMP"));
  // CHAR vs VARCHAR compare as strings, no cast.
  EXPECT_EQ(text_of("s = c"), "(s = c)");
  EXPECT_THAT(error_of("s > 5"), HasSubstr("line 1:3: cannot compare VARCHAR(20) with INT NOT NULL "
                                           "using '>' (add a CAST)"));
}

TEST_F(BinderTest, ArithmeticResultTypes) {
  EXPECT_EQ(type_of("i + 1"), "INT");
  EXPECT_EQ(type_of("i + b"), "BIGINT");
  EXPECT_EQ(type_of("ti * ti"), "TINYINT");
  EXPECT_EQ(type_of("i / 2"), "INT");
  EXPECT_EQ(type_of("d + d"), "DECIMAL(11, 2)");
  EXPECT_EQ(type_of("d * d"), "DECIMAL(20, 4)");
  EXPECT_EQ(type_of("d / d"), "DECIMAL(23, 13)");
  EXPECT_EQ(type_of("d + 1"), "DECIMAL(13, 2)");
  EXPECT_EQ(type_of("f + 1"), "FLOAT");
  EXPECT_EQ(type_of("dbl * i"), "DOUBLE");
  EXPECT_EQ(type_of("i % 3"), "INT");
  EXPECT_EQ(text_of("i % 3"), "MOD(i, 3)");
  EXPECT_EQ(type_of("-b"), "BIGINT NOT NULL");
  EXPECT_EQ(type_of("ts - INTERVAL '5' SECOND"), "TIMESTAMP(3)");
  EXPECT_EQ(type_of("INTERVAL '1' DAY + dt"), "DATE");
  EXPECT_EQ(type_of("s || c"), "STRING");
  EXPECT_THAT(error_of("s + 1"), HasSubstr("cannot apply '+' to VARCHAR(20) and INT NOT NULL"));
  EXPECT_THAT(error_of("i || s"), HasSubstr("'||' concatenates strings"));
}

TEST_F(BinderTest, LogicalAndPredicates) {
  EXPECT_EQ(type_of("flag AND i > 1"), "BOOLEAN");
  EXPECT_EQ(type_of("s IS NULL"), "BOOLEAN NOT NULL");
  EXPECT_EQ(type_of("flag IS NOT TRUE"), "BOOLEAN NOT NULL");
  EXPECT_EQ(text_of("i BETWEEN 1 AND 10"), "((i >= 1) AND (i <= 10))");
  EXPECT_EQ(text_of("i NOT BETWEEN 1 AND 10"), "((i < 1) OR (i > 10))");
  EXPECT_EQ(text_of("b IN (1, 2)"), "(b IN (1, 2))");
  ASSERT_OK_AND_ASSIGN(auto in, bind("b IN (1, 2)"));
  EXPECT_EQ(in->args[1]->type.id, TypeId::kBigInt);
  EXPECT_EQ(text_of("s NOT LIKE 'a%'"), "(s NOT LIKE 'a%')");
  EXPECT_THAT(error_of("i AND flag"), HasSubstr("the operand of AND must be a BOOLEAN condition, "
                                                "but its type is INT"));
  EXPECT_THAT(error_of("i LIKE 'x'"), HasSubstr("LIKE needs string operands"));
  EXPECT_THAT(error_of("s LIKE 'x' ESCAPE 'ab'"), HasSubstr("one-character string literal"));
}

TEST_F(BinderTest, CaseCastCoalesceNullif) {
  EXPECT_EQ(type_of("CASE WHEN i > 1 THEN 1 ELSE b END"), "BIGINT NOT NULL");
  EXPECT_EQ(type_of("CASE WHEN i > 1 THEN i ELSE b END"), "BIGINT");
  EXPECT_EQ(type_of("CASE WHEN i > 1 THEN 'a' END"), "CHAR(1)");
  EXPECT_EQ(text_of("CASE i WHEN 1 THEN 'a' ELSE 'b' END"),
            "CASE WHEN (i = 1) THEN 'a' ELSE 'b' END");
  EXPECT_EQ(text_of("CASE WHEN flag THEN 1 END"), "CASE WHEN flag THEN 1 ELSE NULL END");
  EXPECT_EQ(type_of("CAST(s AS BIGINT)"), "BIGINT");
  EXPECT_EQ(type_of("TRY_CAST(b AS INT)"), "INT");
  EXPECT_EQ(type_of("CAST(b AS INT)"), "INT NOT NULL");
  // Literal casts fold at bind time.
  ASSERT_OK_AND_ASSIGN(auto folded, bind("CAST('2021-03-04 05:06:07' AS TIMESTAMP(3))"));
  EXPECT_EQ(folded->kind, BoundExprKind::kLiteral);
  EXPECT_EQ(folded->type.to_string(), "TIMESTAMP(3) NOT NULL");
  ASSERT_OK_AND_ASSIGN(auto bad_try, bind("TRY_CAST('nope' AS TIMESTAMP)"));
  EXPECT_EQ(bad_try->kind, BoundExprKind::kLiteral);
  EXPECT_FALSE(bad_try->literal->is_valid);
  EXPECT_THAT(error_of("CAST(ts AS BOOLEAN)"), HasSubstr("cannot cast TIMESTAMP(3) to BOOLEAN"));
  EXPECT_EQ(type_of("COALESCE(i, 0)"), "INT NOT NULL");
  EXPECT_EQ(type_of("COALESCE(b, 0)"), "BIGINT NOT NULL");
  EXPECT_EQ(type_of("COALESCE(i, b)"), "BIGINT NOT NULL");  // b is never NULL
  EXPECT_EQ(type_of("COALESCE(i, ti)"), "INT");
  EXPECT_EQ(type_of("NULLIF(s, 'x')"), "VARCHAR(20)");
  EXPECT_EQ(type_of("IF(flag, 1, 2)"), "INT NOT NULL");
  EXPECT_EQ(text_of("i IS NOT DISTINCT FROM b"),
            "CASE WHEN (i IS NULL) THEN (b IS NULL) WHEN (b IS NULL) THEN false ELSE (CAST(i AS "
            "BIGINT) = b) END");
  EXPECT_EQ(type_of("s IS DISTINCT FROM 'x'"), "BOOLEAN NOT NULL");
}

TEST_F(BinderTest, StringFunctions) {
  EXPECT_EQ(type_of("UPPER(s)"), "VARCHAR(20)");
  EXPECT_EQ(type_of("LOWER(c)"), "CHAR(3)");
  EXPECT_EQ(text_of("TRIM(s)"), "TRIM(s)");
  EXPECT_EQ(text_of("TRIM(TRAILING 'x' FROM s)"), "RTRIM(s, 'x')");
  EXPECT_EQ(type_of("SUBSTRING(s, 1, 2)"), "STRING");
  EXPECT_EQ(type_of("SUBSTRING(s FROM 2)"), "STRING");
  EXPECT_EQ(type_of("CONCAT(s, c, 'x')"), "STRING");
  EXPECT_EQ(type_of("CONCAT_WS('-', s, c)"), "STRING NOT NULL");
  EXPECT_EQ(type_of("CHAR_LENGTH(s)"), "INT");
  EXPECT_EQ(type_of("REPLACE(s, 'a', 'b')"), "STRING");
  EXPECT_EQ(type_of("REGEXP_EXTRACT(s, '(\\d+)', 1)"), "STRING");
  EXPECT_EQ(type_of("SPLIT_INDEX(s, ',', 0)"), "STRING");
  EXPECT_THAT(error_of("UPPER(i)"), HasSubstr("cannot apply UPPER to (INT); supported form(s): "
                                              "UPPER(STRING)"));
  EXPECT_THAT(error_of("CONCAT(s, i)"), HasSubstr("cannot apply CONCAT"));
  EXPECT_THAT(error_of("SPLIT_INDEX(s, ',')"), HasSubstr("cannot apply SPLIT_INDEX"));
}

TEST_F(BinderTest, TimeFunctions) {
  EXPECT_EQ(type_of("DATE_FORMAT(ts, 'yyyy-MM-dd')"), "STRING");
  EXPECT_EQ(type_of("EXTRACT(HOUR FROM ts)"), "BIGINT");
  ASSERT_OK_AND_ASSIGN(auto ex, bind("EXTRACT(DOW FROM dt)"));
  EXPECT_EQ(ex->time_unit, TimeUnit::kDayOfWeek);
  EXPECT_EQ(type_of("TO_TIMESTAMP(s)"), "TIMESTAMP(3)");
  EXPECT_EQ(type_of("TO_TIMESTAMP(s, 'yyyy/MM/dd HH:mm')"), "TIMESTAMP(3)");
  EXPECT_EQ(type_of("CURRENT_TIMESTAMP"), "TIMESTAMP_LTZ(3) NOT NULL");
  EXPECT_EQ(type_of("LOCALTIMESTAMP"), "TIMESTAMP(3) NOT NULL");
  EXPECT_EQ(type_of("TIMESTAMPADD(HOUR, 2, ts)"), "TIMESTAMP(3)");
  EXPECT_EQ(type_of("TIMESTAMPDIFF(MINUTE, ts, ts)"), "INT");
  ASSERT_OK_AND_ASSIGN(auto fl, bind("FLOOR(ts TO HOUR)"));
  EXPECT_EQ(fl->function, "FLOOR");
  EXPECT_EQ(fl->time_unit, TimeUnit::kHour);
  EXPECT_EQ(fl->type.to_string(), "TIMESTAMP(3)");
  EXPECT_THAT(error_of("EXTRACT(DAY FROM s)"), HasSubstr("cannot apply EXTRACT"));
  EXPECT_THAT(error_of("TIMESTAMPADD(DAY, s, ts)"), HasSubstr("cannot apply TIMESTAMPADD"));
}

TEST_F(BinderTest, MathFunctions) {
  EXPECT_EQ(type_of("ABS(i)"), "INT");
  EXPECT_EQ(type_of("ROUND(dbl)"), "DOUBLE");
  EXPECT_EQ(type_of("ROUND(d, 1)"), "DECIMAL(10, 1)");
  EXPECT_EQ(type_of("FLOOR(d)"), "DECIMAL(9, 0)");
  EXPECT_EQ(type_of("CEIL(dbl)"), "DOUBLE");
  EXPECT_EQ(type_of("POWER(i, 2)"), "DOUBLE");
  EXPECT_EQ(type_of("MOD(b, 7)"), "BIGINT NOT NULL");
  EXPECT_THAT(error_of("ABS(s)"), HasSubstr("cannot apply ABS"));
  EXPECT_THAT(error_of("NO_SUCH_FN(i)"), HasSubstr("unknown function 'NO_SUCH_FN'"));
  EXPECT_THAT(error_of("TO_DATE(s)"), HasSubstr("function TO_DATE is not supported yet"));
  EXPECT_THAT(error_of("COUNT(i)"), HasSubstr("aggregate function COUNT is not allowed here"));
}

TEST_F(BinderTest, NamesAreCaseSensitiveWithHints) {
  EXPECT_EQ(type_of("t.i"), "INT");
  EXPECT_THAT(error_of("I + 1"), HasSubstr("line 1:1: column 'I' not found; did you mean 'i'?"));
  EXPECT_THAT(error_of("nope"), HasSubstr("column 'nope' not found in any table"));
  EXPECT_THAT(error_of("x.i"), HasSubstr("table 'x' not found"));
}

TEST_F(BinderTest, ErrorsPointAtTheOperand) {
  const std::string msg = error_of("i > 1 AND\n  UPPER(b) = 'X'");
  EXPECT_THAT(msg, HasSubstr("line 2:3: cannot apply UPPER to (BIGINT)"));
  EXPECT_THAT(msg, HasSubstr("\n    UPPER(b) = 'X'\n    ^"));
}

}  // namespace
}  // namespace roadpulse::sql
