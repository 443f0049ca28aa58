#include "exec/expression.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/time.h"

namespace roadpulse::exec {
namespace {

using sql::BoundExpr;
using sql::BoundExprKind;
using sql::SqlType;

std::shared_ptr<arrow::Array> json_array(const std::shared_ptr<arrow::DataType>& type,
                                         const std::string& json) {
  return arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
}

// Columns: 0 s STRING, 1 n BIGINT, 2 t TIMESTAMP(6), 3 b BOOLEAN, 4 d DOUBLE
std::shared_ptr<arrow::RecordBatch> batch() {
  const int64_t t0 = parse_timestamp("2016-02-08T05:46:07.123456").ValueOrDie();
  return arrow::RecordBatch::Make(
      arrow::schema({arrow::field("s", arrow::utf8()), arrow::field("n", arrow::int64()),
                     arrow::field("t", arrow::timestamp(arrow::TimeUnit::MICRO)),
                     arrow::field("b", arrow::boolean()), arrow::field("d", arrow::float64())}),
      3,
      {json_array(arrow::utf8(), R"(["a,b,c", null, " 12 "])"),
       json_array(arrow::int64(), "[7, -7, null]"),
       json_array(arrow::timestamp(arrow::TimeUnit::MICRO),
                  "[" + std::to_string(t0) + ", null, 0]"),
       json_array(arrow::boolean(), "[true, null, false]"),
       json_array(arrow::float64(), "[2.5, -2.5, null]")});
}

sql::BoundExprPtr col(int i) {
  static const SqlType kTypes[] = {SqlType::string(), SqlType::bigint(), SqlType::timestamp(6),
                                   SqlType::boolean(), SqlType::double_type()};
  static const char* kNames[] = {"s", "n", "t", "b", "d"};
  return BoundExpr::column(i, kNames[i], kTypes[i]);
}

sql::BoundExprPtr lit_string(const std::string& v) {
  return BoundExpr::make_literal(std::make_shared<arrow::StringScalar>(v), SqlType::string());
}
sql::BoundExprPtr lit_int(int64_t v) {
  return BoundExpr::make_literal(std::make_shared<arrow::Int64Scalar>(v), SqlType::bigint());
}
sql::BoundExprPtr lit_int32(int32_t v) {
  return BoundExpr::make_literal(std::make_shared<arrow::Int32Scalar>(v), SqlType::integer());
}

template <typename... Args>
sql::BoundExprPtr call(const std::string& f, SqlType type, Args... args) {
  std::vector<sql::BoundExprPtr> v;
  (v.push_back(std::move(args)), ...);
  return BoundExpr::call(f, type, std::move(v));
}

std::string eval(const BoundExpr& e) {
  auto compiled = CompiledExpr::compile(e);
  EXPECT_OK(compiled.status());
  auto array = (*compiled)->evaluate_array(*batch());
  EXPECT_OK(array.status());
  return (*array)->ToString();
}

std::string expect(const std::shared_ptr<arrow::DataType>& type, const std::string& json) {
  return json_array(type, json)->ToString();
}

TEST(Expression, ComparisonAndKleeneLogic) {
  EXPECT_EQ(eval(*call(">", SqlType::boolean(), col(1), lit_int(0))),
            expect(arrow::boolean(), "[true, false, null]"));
  // NULL AND FALSE = FALSE; NULL OR TRUE = TRUE.
  EXPECT_EQ(eval(*call("AND", SqlType::boolean(), col(3),
                       call("=", SqlType::boolean(), col(1), lit_int(-7)))),
            expect(arrow::boolean(), "[false, null, false]"));
  EXPECT_EQ(eval(*call("IS NOT TRUE", SqlType::boolean(), col(3))),
            expect(arrow::boolean(), "[false, true, true]"));
}

TEST(Expression, SplitIndexIsFlinks) {
  EXPECT_EQ(eval(*call("SPLIT_INDEX", SqlType::string(), col(0), lit_string(","), lit_int32(1))),
            expect(arrow::utf8(), R"(["b", null, null])"));
  EXPECT_EQ(eval(*call("SPLIT_INDEX", SqlType::string(), col(0), lit_string(","), lit_int32(3))),
            expect(arrow::utf8(), R"([null, null, null])"));
}

TEST(Expression, DateFormatWithJavaPatterns) {
  EXPECT_EQ(eval(*call("DATE_FORMAT", SqlType::string(), col(2),
                       lit_string("yyyy-MM-dd'T'HH:mm:ss.SSS EEE"))),
            expect(arrow::utf8(),
                   R"(["2016-02-08T05:46:07.123 Mon", null, "1970-01-01T00:00:00.000 Thu"])"));
  auto bad = call("DATE_FORMAT", SqlType::string(), col(2), lit_string("yyyy-MM-dd J"));
  EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("unsupported letter 'J'"),
                                  CompiledExpr::compile(*bad));
}

TEST(Expression, CastsFollowFlink) {
  // String -> BIGINT trims; failure is an error naming the value, TRY_CAST gives NULL.
  auto cast = BoundExpr::cast(col(0), SqlType::bigint());
  ASSERT_OK_AND_ASSIGN(auto compiled, CompiledExpr::compile(*cast));
  EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("cannot cast 'a,b,c' to BIGINT"),
                                  compiled->evaluate(*batch()));
  EXPECT_EQ(eval(*BoundExpr::cast(col(0), SqlType::bigint(), /*try_cast=*/true)),
            expect(arrow::int64(), "[null, null, 12]"));
  // BOOLEAN -> STRING is upper case; DOUBLE -> STRING is Java's.
  EXPECT_EQ(eval(*BoundExpr::cast(col(3), SqlType::string())),
            expect(arrow::utf8(), R"(["TRUE", null, "FALSE"])"));
  EXPECT_EQ(eval(*BoundExpr::cast(col(4), SqlType::string())),
            expect(arrow::utf8(), R"(["2.5", "-2.5", null])"));
  // TIMESTAMP(3) -> STRING prints exactly 3 fractional digits.
  EXPECT_EQ(
      eval(*BoundExpr::cast(BoundExpr::cast(col(2), SqlType::timestamp(3)), SqlType::string())),
      expect(arrow::utf8(), R"(["2016-02-08 05:46:07.123", null, "1970-01-01 00:00:00.000"])"));
}

TEST(Expression, ModAndRoundingAreJavas) {
  EXPECT_EQ(eval(*call("MOD", SqlType::bigint(), col(1), lit_int(3))),
            expect(arrow::int64(), "[1, -1, null]"));
  EXPECT_EQ(eval(*call("ROUND", SqlType::double_type(), col(4))),
            expect(arrow::float64(), "[3, -3, null]"));  // HALF_UP, away from zero
}

TEST(Expression, ExtractAndTimestampArithmetic) {
  auto e = BoundExpr::call("EXTRACT", SqlType::bigint(), {});
  e->args.push_back(col(2));
  e->time_unit = sql::TimeUnit::kDayOfWeek;
  EXPECT_EQ(eval(*e), expect(arrow::int64(), "[2, null, 5]"));  // Monday = 2, Thursday = 5
  auto add = BoundExpr::call("TIMESTAMPADD", SqlType::timestamp(6), {});
  add->args.push_back(lit_int32(1));
  add->args.push_back(col(2));
  add->time_unit = sql::TimeUnit::kMonth;
  ASSERT_OK_AND_ASSIGN(auto compiled, CompiledExpr::compile(*add));
  ASSERT_OK_AND_ASSIGN(auto array, compiled->evaluate_array(*batch()));
  auto ts = std::static_pointer_cast<arrow::TimestampArray>(array);
  EXPECT_EQ(format_iso8601(ts->Value(0)), "2016-03-08T05:46:07.123456");
  EXPECT_EQ(format_iso8601(ts->Value(2)), "1970-02-01T00:00:00");
}

TEST(Expression, LikeInAndCase) {
  auto like = BoundExpr::call("", SqlType::boolean(), {});
  like->kind = BoundExprKind::kLike;
  like->args.push_back(col(0));
  like->args.push_back(lit_string("a_b%"));
  EXPECT_EQ(eval(*like), expect(arrow::boolean(), "[true, null, false]"));

  auto in = BoundExpr::call("", SqlType::boolean(), {});
  in->kind = BoundExprKind::kInList;
  in->args.push_back(col(1));
  in->args.push_back(lit_int(7));
  in->args.push_back(lit_int(8));
  EXPECT_EQ(eval(*in), expect(arrow::boolean(), "[true, false, null]"));

  auto when = BoundExpr::call("", SqlType::string(), {});
  when->kind = BoundExprKind::kCase;
  when->args.push_back(call(">", SqlType::boolean(), col(1), lit_int(0)));
  when->args.push_back(lit_string("pos"));
  when->args.push_back(lit_string("other"));
  EXPECT_EQ(eval(*when), expect(arrow::utf8(), R"(["pos", "other", "other"])"));
}

TEST(Expression, UnknownFunctionFailsAtCompileTime) {
  auto e = call("FROBNICATE", SqlType::string(), col(0));
  EXPECT_RAISES_WITH_MESSAGE_THAT(NotImplemented, testing::HasSubstr("FROBNICATE"),
                                  CompiledExpr::compile(*e));
}

TEST(Expression, FilterBatchDropsFalseAndNull) {
  auto pred = call("<>", SqlType::boolean(), col(1), lit_int(-7));
  ASSERT_OK_AND_ASSIGN(auto compiled, CompiledExpr::compile(*pred));
  ASSERT_OK_AND_ASSIGN(auto out, filter_batch(batch(), *compiled));
  EXPECT_EQ(out->num_rows(), 1);
}

TEST(ExpressionTest, SubstringWithConstantBoundsMatchesTheRowLoop) {
  // Constant start >= 1 goes through Arrow's utf8_slice_codeunits; a column start through the
  // row loop; both count characters, not bytes.
  auto b = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("s", arrow::utf8()), arrow::field("n", arrow::int64())}), 4,
      {json_array(arrow::utf8(), R"(["2016-02-08", null, "h\u00e9llo", "ab"])"),
       json_array(arrow::int64(), "[1, 1, 2, 1]")});
  auto s = [] { return BoundExpr::column(0, "s", SqlType::string()); };
  auto n = [] { return BoundExpr::column(1, "n", SqlType::bigint()); };
  auto run = [&](sql::BoundExprPtr e) {
    auto c = CompiledExpr::compile(*e).ValueOrDie();
    return c->evaluate_array(*b).ValueOrDie();
  };
  auto fast = run(call("SUBSTRING", SqlType::string(), s(), lit_int32(2), lit_int32(3)));
  EXPECT_TRUE(json_array(arrow::utf8(), R"(["016", null, "\u00e9ll", "b"])")->Equals(*fast))
      << fast->ToString();
  auto loop = run(call("SUBSTRING", SqlType::string(), s(), n(), lit_int32(3)));
  EXPECT_TRUE(json_array(arrow::utf8(), R"(["201", null, "\u00e9ll", "ab"])")->Equals(*loop))
      << loop->ToString();
  auto to_end = run(call("SUBSTRING", SqlType::string(), s(), lit_int32(6)));
  EXPECT_TRUE(json_array(arrow::utf8(), R"(["02-08", null, "", ""])")->Equals(*to_end))
      << to_end->ToString();
  // Start 0 acts as 1 and a negative start counts from the end (Flink): the row loop.
  auto zero = run(call("SUBSTRING", SqlType::string(), s(), lit_int32(0), lit_int32(2)));
  EXPECT_TRUE(json_array(arrow::utf8(), R"(["20", null, "h\u00e9", "ab"])")->Equals(*zero))
      << zero->ToString();
  auto negative = run(call("SUBSTRING", SqlType::string(), s(), lit_int32(-2)));
  EXPECT_TRUE(json_array(arrow::utf8(), R"(["08", null, "lo", "ab"])")->Equals(*negative))
      << negative->ToString();
}

}  // namespace
}  // namespace roadpulse::exec
