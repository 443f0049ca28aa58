// KinesisService on a real LogStore in a temporary directory: the operations as clients chain
// them, the errors they get, and the documents both wire encodings carry.

#include "server/kinesis_service.h"

#include <filesystem>

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/kinesis_http.h"

namespace roadpulse::server {
namespace {

std::string error_type(const arrow::Status& st) {
  const auto* d = api_error_detail(st);
  return d ? d->type() : "(none)";
}

class KinesisServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rp-kinesis-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    log::LogOptions options;
    options.data_dir = dir_.string();
    options.durability = log::Durability::kNone;
    ASSERT_OK_AND_ASSIGN(store_, log::LogStore::open(options));
    service_ =
        std::make_unique<KinesisService>(store_.get(), std::string(32, 'k'), KinesisOptions{});
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  arrow::Result<Document> call(const char* op,
                               std::initializer_list<std::pair<const char*, Document>> members) {
    Document req = Document::map();
    for (const auto& [k, v] : members) req.set(k, v);
    return service_->call(op, req);
  }

  std::filesystem::path dir_;
  std::unique_ptr<log::LogStore> store_;
  std::unique_ptr<KinesisService> service_;
};

TEST_F(KinesisServiceTest, PutThenReadEveryShardBackInOrder) {
  ASSERT_OK(call("CreateStream",
                 {{"StreamName", Document::string("s")}, {"ShardCount", Document::integer(3)}})
                .status());
  EXPECT_EQ(error_type(call("CreateStream", {{"StreamName", Document::string("s")},
                                             {"ShardCount", Document::integer(3)}})
                           .status()),
            "ResourceInUseException");
  Document records = Document::array();
  for (int i = 0; i < 50; ++i) {
    Document r = Document::map();
    r.set("Data", Document::bytes("event-" + std::to_string(i)));
    r.set("PartitionKey", Document::string(std::to_string(i % 4)));
    records.push(std::move(r));
  }
  ASSERT_OK_AND_ASSIGN(
      auto put, call("PutRecords", {{"StreamName", Document::string("s")}, {"Records", records}}));
  EXPECT_EQ(put.find("FailedRecordCount")->as_int(), 0);
  ASSERT_EQ(put.find("Records")->items().size(), 50u);

  ASSERT_OK_AND_ASSIGN(auto shards, call("ListShards", {{"StreamName", Document::string("s")}}));
  ASSERT_EQ(shards.find("Shards")->items().size(), 3u);
  std::map<std::string, std::vector<std::string>> by_key;
  for (const auto& shard : shards.find("Shards")->items()) {
    ASSERT_OK_AND_ASSIGN(auto it, call("GetShardIterator",
                                       {{"StreamName", Document::string("s")},
                                        {"ShardId", *shard.find("ShardId")},
                                        {"ShardIteratorType", Document::string("TRIM_HORIZON")}}));
    ASSERT_OK_AND_ASSIGN(auto got, call("GetRecords", {{"ShardIterator", *it.find("ShardIterator")},
                                                       {"Limit", Document::integer(1000)}}));
    ASSERT_NE(got.find("NextShardIterator"), nullptr);  // open shard: never null
    EXPECT_EQ(got.find("MillisBehindLatest")->as_int(), 0);
    std::string last_seq;
    for (const auto& r : got.find("Records")->items()) {
      const std::string& seq = r.find("SequenceNumber")->as_string();
      EXPECT_LT(last_seq, seq);  // same length: text order is numeric order
      last_seq = seq;
      by_key[r.find("PartitionKey")->as_string()].push_back(r.find("Data")->as_string());
    }
  }
  for (int k = 0; k < 4; ++k) {
    std::vector<std::string> want;
    for (int i = k; i < 50; i += 4) want.push_back("event-" + std::to_string(i));
    EXPECT_EQ(by_key[std::to_string(k)], want) << "partition key " << k;
  }
}

TEST_F(KinesisServiceTest, ErrorsCarryKinesisTypes) {
  EXPECT_EQ(error_type(call("DescribeStream", {{"StreamName", Document::string("nope")}}).status()),
            "ResourceNotFoundException");
  EXPECT_EQ(error_type(call("PutRecord", {{"StreamName", Document::string("nope")},
                                          {"Data", Document::bytes("x")},
                                          {"PartitionKey", Document::string("k")}})
                           .status()),
            "ResourceNotFoundException");
  ASSERT_OK(call("CreateStream",
                 {{"StreamName", Document::string("s")}, {"ShardCount", Document::integer(1)}})
                .status());
  EXPECT_EQ(
      error_type(call("GetShardIterator", {{"StreamName", Document::string("s")},
                                           {"ShardId", Document::string("shardId-000000000009")},
                                           {"ShardIteratorType", Document::string("LATEST")}})
                     .status()),
      "ResourceNotFoundException");
  EXPECT_EQ(error_type(call("GetRecords", {{"ShardIterator", Document::string("AAAA")}}).status()),
            "InvalidArgumentException");
  EXPECT_EQ(error_type(call("Frobnicate", {}).status()), "UnknownOperationException");
}

TEST_F(KinesisServiceTest, ThroughputLimitFailsOnlyTheRecordsOverIt) {
  KinesisOptions limited;
  limited.shard_records_per_second = 10;
  service_ = std::make_unique<KinesisService>(store_.get(), std::string(32, 'k'), limited);
  ASSERT_OK(call("CreateStream",
                 {{"StreamName", Document::string("s")}, {"ShardCount", Document::integer(1)}})
                .status());
  Document records = Document::array();
  for (int i = 0; i < 15; ++i) {
    Document r = Document::map();
    r.set("Data", Document::bytes("x"));
    r.set("PartitionKey", Document::string("k"));
    records.push(std::move(r));
  }
  ASSERT_OK_AND_ASSIGN(
      auto put, call("PutRecords", {{"StreamName", Document::string("s")}, {"Records", records}}));
  EXPECT_EQ(put.find("FailedRecordCount")->as_int(), 5);
  const auto& items = put.find("Records")->items();
  EXPECT_NE(items[9].find("SequenceNumber"), nullptr);
  EXPECT_EQ(items[10].find("ErrorCode")->as_string(), "ProvisionedThroughputExceededException");
}

TEST_F(KinesisServiceTest, ClosedParentEndsWithNullIteratorAndChildShards) {
  ASSERT_OK(call("CreateStream",
                 {{"StreamName", Document::string("s")}, {"ShardCount", Document::integer(1)}})
                .status());
  ASSERT_OK(call("PutRecord", {{"StreamName", Document::string("s")},
                               {"Data", Document::bytes("before")},
                               {"PartitionKey", Document::string("k")}})
                .status());
  ASSERT_OK(call("UpdateShardCount", {{"StreamName", Document::string("s")},
                                      {"TargetShardCount", Document::integer(2)},
                                      {"ScalingType", Document::string("UNIFORM_SCALING")}})
                .status());
  ASSERT_OK_AND_ASSIGN(
      auto it, call("GetShardIterator", {{"StreamName", Document::string("s")},
                                         {"ShardId", Document::string("shardId-000000000000")},
                                         {"ShardIteratorType", Document::string("TRIM_HORIZON")}}));
  Document iterator = *it.find("ShardIterator");
  std::vector<std::string> seen;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(auto got, call("GetRecords", {{"ShardIterator", iterator}}));
    for (const auto& r : got.find("Records")->items()) seen.push_back(r.find("Data")->as_string());
    const Document* next = got.find("NextShardIterator");
    if (!next) {
      ASSERT_NE(got.find("ChildShards"), nullptr);
      EXPECT_EQ(got.find("ChildShards")->items().size(), 2u);
      break;
    }
    iterator = *next;
  }
  EXPECT_EQ(seen, std::vector<std::string>{"before"});
}

TEST_F(KinesisServiceTest, HttpLayerAnswersInTheRequestEncoding) {
  KinesisHttpHandler handler(service_.get(), SigV4Verifier({}));
  HttpRequest req;
  req.method = "POST";
  req.target = "/";
  req.headers = {{"Content-Type", "application/x-amz-json-1.1"},
                 {"X-Amz-Target", "Kinesis_20131202.DescribeStream"}};
  req.body = R"({"StreamName":"missing"})";
  auto resp = handler.handle(req);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 400);
  EXPECT_NE(resp->body.find(R"("__type":"ResourceNotFoundException")"), std::string::npos);

  req.headers[0].second = "application/x-amz-cbor-1.1";
  Document body = Document::map();
  body.set("StreamName", Document::string("missing"));
  req.body = encode_cbor(body);
  resp = handler.handle(req);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->content_type, "application/x-amz-cbor-1.1");
  ASSERT_OK_AND_ASSIGN(auto err, decode_cbor(resp->body));
  EXPECT_EQ(err.find("__type")->as_string(), "ResourceNotFoundException");

  HttpRequest health;
  health.method = "GET";
  health.target = "/healthz";
  resp = handler.handle(health);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200);
}

}  // namespace
}  // namespace roadpulse::server
