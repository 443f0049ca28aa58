#include "exec/text_parse.h"

#include <cmath>
#include <limits>

#include <arrow/type.h>
#include <gtest/gtest.h>

namespace roadpulse::exec {
namespace {

TEST(TextParse, Int64LikeLongParseLong) {
  int64_t v = 0;
  EXPECT_TRUE(parse_int64_text(" 42 ", &v));
  EXPECT_EQ(v, 42);
  EXPECT_TRUE(parse_int64_text("-9223372036854775808", &v));
  EXPECT_EQ(v, std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(parse_int64_text("9223372036854775808", &v));
  EXPECT_FALSE(parse_int64_text("3.0", &v));
  EXPECT_FALSE(parse_int64_text("", &v));
  EXPECT_FALSE(parse_int64_text("-", &v));
  EXPECT_FALSE(parse_int64_text("1e3", &v));
}

TEST(TextParse, DoubleLikeDoubleParseDouble) {
  double d = 0;
  EXPECT_TRUE(parse_double_text("39.86", &d));
  EXPECT_DOUBLE_EQ(d, 39.86);
  EXPECT_TRUE(parse_double_text("-1e3", &d));
  EXPECT_DOUBLE_EQ(d, -1000);
  EXPECT_TRUE(parse_double_text("+.5f", &d));
  EXPECT_DOUBLE_EQ(d, 0.5);
  EXPECT_TRUE(parse_double_text("NaN", &d));
  EXPECT_TRUE(std::isnan(d));
  EXPECT_TRUE(parse_double_text("-Infinity", &d));
  EXPECT_TRUE(std::isinf(d) && d < 0);
  EXPECT_FALSE(parse_double_text("abc", &d));
  EXPECT_FALSE(parse_double_text("1.2.3", &d));
}

TEST(TextParse, Booleans) {
  EXPECT_TRUE(parse_flink_bool("True"));
  EXPECT_TRUE(parse_flink_bool(" TRUE "));
  EXPECT_FALSE(parse_flink_bool("False"));
  EXPECT_FALSE(parse_flink_bool("1"));
  bool b = false;
  EXPECT_TRUE(parse_sql_bool("Y", &b));
  EXPECT_TRUE(b);
  EXPECT_TRUE(parse_sql_bool("0", &b));
  EXPECT_FALSE(b);
  EXPECT_FALSE(parse_sql_bool("maybe", &b));
}

TEST(TextParse, Timestamps) {
  int64_t v = 0;
  ASSERT_TRUE(parse_timestamp_text("1970-01-01T00:00:01.5", arrow::TimeUnit::MILLI, &v));
  EXPECT_EQ(v, 1500);
  ASSERT_TRUE(parse_timestamp_text("1969-12-31 23:59:59.9995", arrow::TimeUnit::MILLI, &v));
  EXPECT_EQ(v, -1);  // floor, not toward zero
  ASSERT_TRUE(parse_timestamp_text("2016-02-08 05:46:35.000000000", arrow::TimeUnit::SECOND, &v));
  EXPECT_EQ(v, 1454910395);
  EXPECT_FALSE(parse_timestamp_text("2016-02-30 00:00:00", arrow::TimeUnit::MICRO, &v));
  EXPECT_FALSE(parse_timestamp_text("soon", arrow::TimeUnit::MICRO, &v));
  int32_t days = 0;
  ASSERT_TRUE(parse_date_text("1970-01-02", &days));
  EXPECT_EQ(days, 1);
  EXPECT_FALSE(parse_date_text("1970-01-02 00:00", &days));
}

}  // namespace
}  // namespace roadpulse::exec
