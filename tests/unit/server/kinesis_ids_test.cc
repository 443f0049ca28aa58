#include "server/kinesis_ids.h"

#include <filesystem>

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/document.h"

namespace roadpulse::server {
namespace {

std::string error_type(const arrow::Status& st) {
  const auto* d = api_error_detail(st);
  return d ? d->type() : "(none)";
}

// Numeric comparison of decimal strings without leading zeros.
bool less_numeric(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

TEST(SequenceNumber, FormatsParsesAndOrdersLikeKinesis) {
  const SequenceParts p{1700000000123, 3, 42};
  const std::string s = format_sequence_number(p);
  EXPECT_EQ(s.size(), 46u);
  EXPECT_EQ(s.substr(0, 2), "49");
  ASSERT_OK_AND_ASSIGN(auto back, parse_sequence_number(s));
  EXPECT_EQ(back.stream_created_ms, p.stream_created_ms);
  EXPECT_EQ(back.shard, 3);
  EXPECT_EQ(back.offset, 42u);
  // Monotonic within a shard; a child shard (higher index) above its parent.
  EXPECT_TRUE(less_numeric(s, format_sequence_number({p.stream_created_ms, 3, 43})));
  EXPECT_TRUE(less_numeric(format_sequence_number({p.stream_created_ms, 3, UINT64_MAX}),
                           format_sequence_number({p.stream_created_ms, 4, 0})));
  EXPECT_FALSE(parse_sequence_number("123").ok());
  EXPECT_FALSE(parse_sequence_number(std::string(46, 'x')).ok());
  EXPECT_FALSE(parse_sequence_number("49" + std::string(44, '9')).ok());  // offset > 2^64-1
}

TEST(ShardIterator, RoundTripsAndRejectsForgeriesAndExpiry) {
  IteratorCodec codec(std::string(32, 'k'));
  const int64_t now = 1700000000000;
  IteratorState state{now, "us-accidents-data-stream-1", 1699999999000, 7, 12345};
  const std::string token = codec.encode(state);
  ASSERT_OK_AND_ASSIGN(auto back, codec.decode(token, now + 1000));
  EXPECT_EQ(back.stream, state.stream);
  EXPECT_EQ(back.stream_created_ms, state.stream_created_ms);
  EXPECT_EQ(back.shard, 7);
  EXPECT_EQ(back.position, 12345u);

  EXPECT_EQ(error_type(codec.decode(token, now + kIteratorLifetimeMs + 1).status()),
            "ExpiredIteratorException");
  EXPECT_EQ(error_type(codec.decode("garbage", now).status()), "InvalidArgumentException");
  EXPECT_EQ(error_type(codec.decode("", now).status()), "InvalidArgumentException");
  // Another server key, and a flipped bit in the position.
  EXPECT_EQ(error_type(IteratorCodec(std::string(32, 'x')).decode(token, now).status()),
            "InvalidArgumentException");
  ASSERT_OK_AND_ASSIGN(std::string raw, base64_decode(token));
  raw[30] ^= 1;
  EXPECT_EQ(error_type(codec.decode(base64_encode(raw), now).status()), "InvalidArgumentException");
}

TEST(ShardIterator, KeyFileIsCreatedOnceAndReused) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("rp-iter-key-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "server" / "iterator.key").string();
  ASSERT_OK_AND_ASSIGN(auto k1, IteratorCodec::load_or_create_key(path));
  ASSERT_OK_AND_ASSIGN(auto k2, IteratorCodec::load_or_create_key(path));
  EXPECT_EQ(k1.size(), 32u);
  EXPECT_EQ(k1, k2);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::group_read,
            std::filesystem::perms::none);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace roadpulse::server
