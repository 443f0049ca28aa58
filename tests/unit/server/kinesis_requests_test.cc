#include "server/kinesis_requests.h"

#include <arrow/testing/gtest_util.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "server/api_error.h"

namespace roadpulse::server {
namespace {

std::string error_type(const arrow::Status& st) {
  const auto* d = api_error_detail(st);
  return d ? d->type() : "(none)";
}

Document record(std::string data, std::string key) {
  Document r = Document::map();
  r.set("Data", Document::string(base64_encode(data)));
  r.set("PartitionKey", Document::string(std::move(key)));
  return r;
}

Document put_records(int n, size_t data_bytes, std::string key = "3") {
  Document req = Document::map();
  req.set("StreamName", Document::string("s"));
  Document list = Document::array();
  for (int i = 0; i < n; ++i) list.push(record(std::string(data_bytes, 'x'), key));
  req.set("Records", std::move(list));
  return req;
}

TEST(Requests, PutRecordsLimits) {
  ASSERT_OK_AND_ASSIGN(auto ok, parse_put_records(put_records(500, 100)));
  EXPECT_EQ(ok.records.size(), 500u);
  EXPECT_EQ(ok.records[0].data, std::string(100, 'x'));

  auto too_many = parse_put_records(put_records(501, 1));
  EXPECT_EQ(error_type(too_many.status()), "ValidationException");
  EXPECT_NE(too_many.status().message().find("'records'"), std::string::npos);

  auto too_big = parse_put_records(put_records(1, kMaxRecordBytes + 1));
  EXPECT_EQ(error_type(too_big.status()), "ValidationException");
  EXPECT_NE(too_big.status().message().find("records.1.member.data"), std::string::npos);

  ASSERT_OK(parse_put_records(put_records(1, kMaxRecordBytes)).status());
  // 6 records of 1 MiB: each fits, the request does not.
  EXPECT_EQ(error_type(parse_put_records(put_records(6, kMaxRecordBytes)).status()),
            "InvalidArgumentException");
  EXPECT_EQ(error_type(parse_put_records(put_records(1, 1, std::string(257, 'k'))).status()),
            "ValidationException");
  ASSERT_OK(parse_put_records(put_records(1, 1, std::string(256, 'k'))).status());
  EXPECT_EQ(error_type(parse_put_records(put_records(0, 1)).status()), "ValidationException");
}

TEST(Requests, PutRecordValidatesNamesBase64AndHashKeys) {
  Document req = Document::map();
  req.set("StreamName", Document::string("bad name!"));
  req.set("Data", Document::string("aGk="));
  req.set("PartitionKey", Document::string("k"));
  EXPECT_EQ(error_type(parse_put_record(req).status()), "ValidationException");

  Document no_key = Document::map();
  no_key.set("StreamName", Document::string("s"));
  no_key.set("Data", Document::string("aGk="));
  auto st = parse_put_record(no_key);
  EXPECT_EQ(error_type(st.status()), "ValidationException");
  EXPECT_NE(st.status().message().find("partitionKey"), std::string::npos);

  Document bad64 = Document::map();
  bad64.set("StreamName", Document::string("s"));
  bad64.set("Data", Document::string("not base64!"));
  bad64.set("PartitionKey", Document::string("k"));
  EXPECT_EQ(error_type(parse_put_record(bad64).status()), "SerializationException");

  Document ehk = Document::map();
  ehk.set("StreamName", Document::string("s"));
  ehk.set("Data", Document::bytes("raw cbor bytes"));
  ehk.set("PartitionKey", Document::string("k"));
  ehk.set("ExplicitHashKey", Document::string("340282366920938463463374607431768211455"));
  ASSERT_OK_AND_ASSIGN(auto parsed, parse_put_record(ehk));
  EXPECT_EQ(parsed.record.data, "raw cbor bytes");
  EXPECT_EQ(*parsed.record.explicit_hash_key, ~HashKey128{0});
  ehk = Document::map();
  ehk.set("StreamName", Document::string("s"));
  ehk.set("Data", Document::bytes("x"));
  ehk.set("PartitionKey", Document::string("k"));
  ehk.set("ExplicitHashKey", Document::string("340282366920938463463374607431768211456"));
  EXPECT_EQ(error_type(parse_put_record(ehk).status()), "InvalidArgumentException");
}

TEST(Requests, HashKeyText) {
  EXPECT_EQ(hash_key_to_string(0), "0");
  EXPECT_EQ(hash_key_to_string(~HashKey128{0}), "340282366920938463463374607431768211455");
  ASSERT_OK_AND_ASSIGN(auto k, parse_hash_key("170141183460469231731687303715884105728"));
  EXPECT_EQ(k, HashKey128{1} << 127);
  EXPECT_FALSE(parse_hash_key("01").ok());
  EXPECT_FALSE(parse_hash_key("-1").ok());
}

TEST(Requests, GetShardIteratorCombinations) {
  auto make = [](const char* type, bool seq, bool ts) {
    Document d = Document::map();
    d.set("StreamName", Document::string("s"));
    d.set("ShardId", Document::string("shardId-000000000000"));
    d.set("ShardIteratorType", Document::string(type));
    if (seq) d.set("StartingSequenceNumber", Document::string("49"));
    if (ts) d.set("Timestamp", Document::real(1700000000.5));
    return d;
  };
  ASSERT_OK(parse_get_shard_iterator(make("TRIM_HORIZON", false, false)).status());
  EXPECT_EQ(error_type(parse_get_shard_iterator(make("AT_SEQUENCE_NUMBER", false, false)).status()),
            "InvalidArgumentException");
  EXPECT_EQ(error_type(parse_get_shard_iterator(make("LATEST", true, false)).status()),
            "InvalidArgumentException");
  EXPECT_EQ(error_type(parse_get_shard_iterator(make("SOMEWHERE", false, false)).status()),
            "ValidationException");
  ASSERT_OK_AND_ASSIGN(auto at, parse_get_shard_iterator(make("AT_TIMESTAMP", false, true)));
  EXPECT_EQ(*at.timestamp_ms, 1700000000500);
  Document cbor_time = make("AT_TIMESTAMP", false, false);
  cbor_time.set("Timestamp", Document::time_ms(1700000000123));
  ASSERT_OK_AND_ASSIGN(auto at2, parse_get_shard_iterator(cbor_time));
  EXPECT_EQ(*at2.timestamp_ms, 1700000000123);
}

TEST(Requests, TypeErrorsAreSerializationExceptions) {
  Document d = Document::map();
  d.set("StreamName", Document::integer(5));
  d.set("ShardCount", Document::integer(1));
  EXPECT_EQ(error_type(parse_create_stream(d).status()), "SerializationException");
  EXPECT_EQ(error_type(parse_create_stream(Document::array()).status()), "SerializationException");
  Document c = Document::map();
  c.set("StreamName", Document::string("s"));
  c.set("ShardCount", Document::integer(0));
  EXPECT_EQ(error_type(parse_create_stream(c).status()), "ValidationException");
}

}  // namespace
}  // namespace roadpulse::server
