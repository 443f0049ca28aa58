// The stream-store contract the Kinesis API and the raw archive rely on (log::LogStore), run on
// every implementation: the embedded log always; Kafka (server::make_kafka_stream_store) when
// ROADPULSE_TEST_KAFKA_BOOTSTRAP names a broker (tests/e2e/test_kinesis_kafka.py runs this
// binary against the real broker it starts).

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "log/log.h"
#include "server/kinesis_kafka_store.h"

namespace roadpulse::server {
namespace {

using Clock = std::chrono::steady_clock;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class StreamStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "kafka") {
      const char* bootstrap = std::getenv("ROADPULSE_TEST_KAFKA_BOOTSTRAP");
      if (!bootstrap || !*bootstrap) {
        GTEST_SKIP() << "ROADPULSE_TEST_KAFKA_BOOTSTRAP is not set (the e2e suite sets it)";
      }
      bootstrap_ = bootstrap;
    }
    std::random_device rd;
    suffix_ = std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000);
    dir_ = std::filesystem::temp_directory_path() / ("rp-stream-store-" + suffix_);
    std::filesystem::remove_all(dir_);
    ASSERT_OK(open());
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  arrow::Status open() {
    store_.reset();
    if (GetParam() == "kafka") {
      KafkaStoreOptions options;
      options.properties["bootstrap.servers"] = bootstrap_;
      options.positions_dir = (dir_ / "positions").string();
      ARROW_ASSIGN_OR_RAISE(store_, make_kafka_stream_store(std::move(options)));
    } else {
      log::LogOptions options;
      options.data_dir = dir_.string();
      options.durability = log::Durability::kNone;
      options.retention_thread = false;
      ARROW_ASSIGN_OR_RAISE(store_, log::LogStore::open(options));
    }
    return arrow::Status::OK();
  }

  // A stream name no other test (or earlier run on the same broker) uses.
  std::string stream(const std::string& base) { return base + "-" + suffix_; }

  // A read from `from` that returns records: on Kafka a read may come back empty while the
  // fetch is under way (a loaded machine), so it is retried for up to 30 s.
  arrow::Result<log::ReadResult> read_some(const std::string& name, int shard,
                                           log::SequenceNumber from, int max_records,
                                           int64_t max_bytes) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (true) {
      ARROW_ASSIGN_OR_RAISE(auto read,
                            store_->read(name, log::ShardId{shard}, from, max_records, max_bytes));
      if (!read.records.empty() || Clock::now() > deadline) return read;
      EXPECT_GT(read.millis_behind_latest, 0) << "an empty read before the end says it is behind";
    }
  }

  // Every record of `shard` from its trim horizon on, read `page` records at a time.
  std::vector<log::StoredRecord> read_all(const std::string& name, int shard, int page) {
    std::vector<log::StoredRecord> out;
    auto first = store_->resolve(name, log::ShardId{shard}, {});
    EXPECT_OK(first.status());
    auto end = store_->resolve(name, log::ShardId{shard}, {log::StartKind::kLatest, {}, 0});
    EXPECT_OK(end.status());
    log::SequenceNumber next = *first;
    while (next < *end) {
      auto read = read_some(name, shard, next, page, 1 << 20);
      EXPECT_OK(read.status());
      if (!read.ok() || read->records.empty()) break;
      EXPECT_LE(int(read->records.size()), page);
      for (auto& r : read->records) out.push_back(std::move(r));
      next = read->next;
    }
    return out;
  }

  std::string bootstrap_;
  std::string suffix_;
  std::filesystem::path dir_;
  std::unique_ptr<log::LogStore> store_;
};

TEST_P(StreamStoreTest, CreateListDescribeDelete) {
  const std::string name = stream("lifecycle");
  ASSERT_OK(store_->create_stream(name, 4));
  auto again = store_->create_stream(name, 4);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.message().find("already exists"), std::string::npos) << again.ToString();
  ASSERT_OK_AND_ASSIGN(auto names, store_->list_streams());
  EXPECT_NE(std::find(names.begin(), names.end(), name), names.end());
  ASSERT_OK_AND_ASSIGN(auto desc, store_->describe_stream(name));
  EXPECT_EQ(desc.name, name);
  EXPECT_EQ(desc.open_shard_count(), 4);
  ASSERT_EQ(desc.shards.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const auto range = log::uniform_hash_range(i, 4);
    EXPECT_EQ(desc.shards[size_t(i)].id.value, i);
    EXPECT_TRUE(desc.shards[size_t(i)].starting_hash_key == range.start);
    EXPECT_TRUE(desc.shards[size_t(i)].ending_hash_key == range.end);
    EXPECT_FALSE(desc.shards[size_t(i)].ending_sequence.has_value());
  }
  ASSERT_OK(store_->delete_stream(name));
  auto gone = store_->describe_stream(name);
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.status().IsKeyError() ||
              gone.status().message().find("not") != std::string::npos)
      << gone.status().ToString();
  EXPECT_FALSE(store_->append(name, std::vector<log::AppendRecord>{{"k", "v", {}}}).ok());
}

TEST_P(StreamStoreTest, AppendRoutesByHashKeyAndKeepsInputOrderPerShard) {
  const std::string name = stream("routing");
  ASSERT_OK(store_->create_stream(name, 4));
  std::vector<std::string> keys, data;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("key-" + std::to_string(i % 41));
    data.push_back(R"({"i":)" + std::to_string(i) + "}");
  }
  std::vector<log::AppendRecord> records;
  for (size_t i = 0; i < keys.size(); ++i) records.push_back({keys[i], data[i], {}});
  const log::HashKey explicit_key = log::uniform_hash_range(2, 4).start + 7;
  records.push_back({"whatever", "explicit", explicit_key});
  ASSERT_OK_AND_ASSIGN(auto results, store_->append(name, records));
  ASSERT_EQ(results.size(), records.size());
  std::map<int, std::vector<std::pair<uint64_t, size_t>>> per_shard;  // shard -> (seq, input)
  for (size_t i = 0; i < records.size(); ++i) {
    const log::HashKey h = records[i].explicit_hash_key
                               ? *records[i].explicit_hash_key
                               : log::hash_key_of(records[i].partition_key);
    int want = -1;
    for (int s = 0; s < 4; ++s) {
      if (log::uniform_hash_range(s, 4).contains(h)) want = s;
    }
    EXPECT_EQ(results[i].shard.value, want) << "record " << i;
    per_shard[results[i].shard.value].push_back({results[i].sequence.value, i});
  }
  EXPECT_EQ(results.back().shard.value, 2);
  // Read back: each shard holds its records in input order, at the sequence numbers returned.
  for (const auto& [shard, expected] : per_shard) {
    auto got = read_all(name, shard, 17);
    ASSERT_EQ(got.size(), expected.size()) << "shard " << shard;
    for (size_t j = 0; j < got.size(); ++j) {
      EXPECT_EQ(got[j].sequence.value, expected[j].first);
      EXPECT_EQ(got[j].data, records[expected[j].second].data);
      EXPECT_EQ(got[j].partition_key, records[expected[j].second].partition_key);
      EXPECT_GT(got[j].arrival_ms, 0);
      if (j > 0) EXPECT_GT(got[j].sequence, got[j - 1].sequence);
    }
  }
}

TEST_P(StreamStoreTest, ResolvesEveryStartPosition) {
  const std::string name = stream("positions");
  ASSERT_OK(store_->create_stream(name, 1));
  const int64_t before = wall_ms() - 1000;
  std::vector<log::AppendRecord> records;
  std::vector<std::string> data;
  for (int i = 0; i < 10; ++i) data.push_back("r" + std::to_string(i));
  for (const auto& d : data) records.push_back({"k", d, {}});
  ASSERT_OK_AND_ASSIGN(auto results, store_->append(name, records));
  const log::ShardId shard{0};
  ASSERT_OK_AND_ASSIGN(auto horizon, store_->resolve(name, shard, {}));
  EXPECT_EQ(horizon, results.front().sequence);
  ASSERT_OK_AND_ASSIGN(auto latest, store_->resolve(name, shard, {log::StartKind::kLatest, {}, 0}));
  EXPECT_GT(latest, results.back().sequence);
  const auto fourth = results[3].sequence;
  ASSERT_OK_AND_ASSIGN(auto at,
                       store_->resolve(name, shard, {log::StartKind::kAtSequence, fourth}));
  EXPECT_EQ(at, fourth);
  ASSERT_OK_AND_ASSIGN(auto after,
                       store_->resolve(name, shard, {log::StartKind::kAfterSequence, fourth}));
  EXPECT_EQ(after, results[4].sequence);
  ASSERT_OK_AND_ASSIGN(auto read, read_some(name, 0, after, 1, 1 << 20));
  ASSERT_EQ(read.records.size(), 1u);
  EXPECT_EQ(read.records[0].data, "r4");
  EXPECT_FALSE(store_
                   ->resolve(name, shard,
                             {log::StartKind::kAtSequence, log::SequenceNumber{latest.value + 5}})
                   .ok());
  ASSERT_OK_AND_ASSIGN(auto past,
                       store_->resolve(name, shard, {log::StartKind::kAtTimestamp, {}, before}));
  EXPECT_EQ(past, horizon);
  ASSERT_OK_AND_ASSIGN(
      auto future,
      store_->resolve(name, shard, {log::StartKind::kAtTimestamp, {}, wall_ms() + 3600000}));
  EXPECT_EQ(future, latest);
  ASSERT_OK_AND_ASSIGN(auto empty, store_->read(name, shard, latest, 100, 1 << 20));
  EXPECT_TRUE(empty.records.empty());
  EXPECT_EQ(empty.next, latest);
  EXPECT_FALSE(store_->read(name, log::ShardId{5}, log::SequenceNumber{0}, 1, 1 << 20).ok());
}

TEST_P(StreamStoreTest, SmallByteLimitsLoseNothing) {
  const std::string name = stream("bytes");
  ASSERT_OK(store_->create_stream(name, 1));
  std::vector<std::string> data;
  for (int i = 0; i < 50; ++i) data.push_back(std::string(100 + i, char('a' + i % 26)));
  std::vector<log::AppendRecord> records;
  for (const auto& d : data) records.push_back({"k", d, {}});
  ASSERT_OK(store_->append(name, records).status());
  ASSERT_OK_AND_ASSIGN(auto next, store_->resolve(name, log::ShardId{0}, {}));
  std::vector<std::string> got;
  for (int guard = 0; guard < 200 && got.size() < data.size(); ++guard) {
    ASSERT_OK_AND_ASSIGN(auto read, read_some(name, 0, next, 1000, 350));
    ASSERT_FALSE(read.records.empty()) << "a read returns at least one record";
    int64_t bytes = 0;
    for (const auto& r : read.records) bytes += int64_t(r.data.size() + r.partition_key.size());
    if (read.records.size() > 1) {
      EXPECT_LE(bytes, 350 + int64_t(read.records.back().data.size()) + 1)
          << "a read stops about at max_bytes";
    }
    for (auto& r : read.records) got.push_back(std::move(r.data));
    next = read.next;
  }
  EXPECT_EQ(got, data);
}

TEST_P(StreamStoreTest, WaitersWakeWhenDataArrives) {
  const std::string name = stream("wait");
  ASSERT_OK(store_->create_stream(name, 2));
  ASSERT_OK_AND_ASSIGN(auto end0,
                       store_->resolve(name, log::ShardId{0}, {log::StartKind::kLatest}));
  ASSERT_OK_AND_ASSIGN(auto end1,
                       store_->resolve(name, log::ShardId{1}, {log::StartKind::kLatest}));
  // Nothing there: returns after the timeout, without error.
  ASSERT_OK(store_->wait_for_data(name, log::ShardId{0}, end0, 50));
  const log::HashKey in_shard1 = log::uniform_hash_range(1, 2).start + 1;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_OK(
        store_->append(name, std::vector<log::AppendRecord>{{"k", "late", in_shard1}}).status());
  });
  const auto started = Clock::now();
  const std::pair<log::ShardId, log::SequenceNumber> positions[] = {{log::ShardId{0}, end0},
                                                                    {log::ShardId{1}, end1}};
  ASSERT_OK(store_->wait_for_any(name, positions, 20000));
  const auto waited = Clock::now() - started;
  writer.join();
  EXPECT_LT(waited, std::chrono::seconds(15)) << "woken by the append, not the timeout";
  ASSERT_OK(store_->wait_for_data(name, log::ShardId{1}, end1, 20000));
  ASSERT_OK_AND_ASSIGN(auto read, read_some(name, 1, end1, 10, 1 << 20));
  ASSERT_EQ(read.records.size(), 1u);
  EXPECT_EQ(read.records[0].data, "late");
}

TEST_P(StreamStoreTest, ConsumerPositionsSurviveReopening) {
  const std::string name = stream("consumers");
  ASSERT_OK(store_->create_stream(name, 2));
  ASSERT_OK_AND_ASSIGN(auto none, store_->load_position("archive", name, log::ShardId{0}));
  EXPECT_FALSE(none.has_value());
  ASSERT_OK(store_->commit_position("archive", name, log::ShardId{0}, log::SequenceNumber{0}));
  ASSERT_OK(store_->commit_position("archive", name, log::ShardId{1}, log::SequenceNumber{0}));
  ASSERT_OK(store_->append(name, std::vector<log::AppendRecord>{{"a", "1", {}}, {"b", "2", {}}})
                .status());
  ASSERT_OK(store_->commit_position("archive", name, log::ShardId{0}, log::SequenceNumber{1}));
  ASSERT_OK(open());
  ASSERT_OK_AND_ASSIGN(auto p0, store_->load_position("archive", name, log::ShardId{0}));
  ASSERT_OK_AND_ASSIGN(auto p1, store_->load_position("archive", name, log::ShardId{1}));
  ASSERT_TRUE(p0.has_value() && p1.has_value());
  EXPECT_EQ(p0->value, 1u);
  EXPECT_EQ(p1->value, 0u);
  ASSERT_OK_AND_ASSIGN(auto other, store_->load_position("other", name, log::ShardId{0}));
  EXPECT_FALSE(other.has_value());
  ASSERT_OK_AND_ASSIGN(auto consumers, store_->list_consumers());
  EXPECT_NE(std::find(consumers.begin(), consumers.end(), "archive"), consumers.end());
  if (GetParam() == "kafka") ASSERT_OK(store_->delete_stream(name));
}

INSTANTIATE_TEST_SUITE_P(Stores, StreamStoreTest, ::testing::Values("embedded", "kafka"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace roadpulse::server
