#include "common/time.h"

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

namespace roadpulse {
namespace {

TEST(TimeTest, ParsesEveryFormOfTheRealData) {
  ASSERT_OK_AND_ASSIGN(auto plain, parse_timestamp("2016-02-08 05:46:00"));
  EXPECT_EQ(plain, 1454910360LL * 1000000);
  ASSERT_OK_AND_ASSIGN(auto nanos, parse_timestamp("2016-02-08 05:46:00.000000000"));
  EXPECT_EQ(nanos, plain);
  ASSERT_OK_AND_ASSIGN(auto micros, parse_timestamp("2016-02-08 05:46:00.250000"));
  EXPECT_EQ(micros, plain + 250000);
  ASSERT_OK_AND_ASSIGN(auto iso, parse_timestamp("2016-02-08T05:46:00"));
  EXPECT_EQ(iso, plain);
  ASSERT_OK_AND_ASSIGN(auto zoned, parse_timestamp("2016-02-08T06:46:00+01:00"));
  EXPECT_EQ(zoned, plain);
  ASSERT_OK_AND_ASSIGN(auto date, parse_timestamp("2016-02-08"));
  EXPECT_EQ(date, 1454889600LL * 1000000);
}

TEST(TimeTest, RejectsWhatIsNotATimestamp) {
  EXPECT_FALSE(parse_timestamp("").ok());
  EXPECT_FALSE(parse_timestamp("05:46:00").ok());
  EXPECT_FALSE(parse_timestamp("2016-02-30 00:00:00").ok());
  EXPECT_FALSE(parse_timestamp("2016-13-01").ok());
  EXPECT_FALSE(parse_timestamp("2016-02-08 25:00:00").ok());
  EXPECT_FALSE(parse_timestamp("2016-02-08 05:46:00.").ok());
  EXPECT_FALSE(parse_timestamp("2016-02-08 05:46:00 junk").ok());
}

TEST(TimeTest, FormatsIso8601) {
  const EpochMicros t = 1454910360LL * 1000000;
  EXPECT_EQ(format_iso8601(t), "2016-02-08T05:46:00");
  EXPECT_EQ(format_iso8601(t + 120000), "2016-02-08T05:46:00.12");
  EXPECT_EQ(format_iso8601_millis(t + 7000), "2016-02-08T05:46:00.007");
  EXPECT_EQ(format_iso8601(-1000000), "1969-12-31T23:59:59");
}

TEST(TimeTest, RoundTripsOverAWideRange) {
  for (EpochMicros t = -86400LL * 1000000 * 365; t < 86400LL * 1000000 * 365 * 60;
       t += 7777777777LL) {
    ASSERT_OK_AND_ASSIGN(auto back, parse_timestamp(format_iso8601(t)));
    ASSERT_EQ(back, t);
  }
}

}  // namespace
}  // namespace roadpulse
