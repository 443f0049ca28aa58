// Random operation sequences (append, read, reopen, power loss, reshard, retention, positions)
// checked against an in-memory model of the log, after Redpanda's opfuzz.

#include <map>
#include <random>

#include "log/fault_injection_file_system.h"
#include "log_test_util.h"

namespace roadpulse::log {
namespace {

using testing::read_all;
using testing::TempDir;

struct ModelShard {
  uint64_t trim = 0;  // first retained sequence number
  uint64_t next = 0;
  std::map<uint64_t, std::pair<std::string, std::string>> records;  // seq -> (key, data)
};

struct Model {
  std::map<int32_t, ModelShard> shards;
  std::map<std::tuple<std::string, int32_t>, uint64_t> positions;
};

class ModelTest : public ::testing::TestWithParam<uint64_t> {};

void check_shard(LogStore& store, int32_t id, const ModelShard& model, const std::string& where) {
  const auto records = read_all(store, "s", ShardId{id}, SequenceNumber{model.trim});
  ASSERT_EQ(records.size(), model.records.size()) << where << " shard " << id;
  auto it = model.records.begin();
  for (const auto& r : records) {
    ASSERT_EQ(r.sequence.value, it->first) << where;
    ASSERT_EQ(r.partition_key, it->second.first) << where;
    ASSERT_EQ(r.data, it->second.second) << where;
    ++it;
  }
}

TEST_P(ModelTest, RandomOperationsMatchTheModel) {
  const uint64_t seed = GetParam();
  std::mt19937_64 rng(seed);
  auto pick = [&](uint64_t n) { return rng() % n; };
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
  LogOptions options;
  options.data_dir = dir.path();
  options.retention_thread = false;
  options.file_system = fs;
  options.segment_bytes = 1024 + static_cast<int64_t>(pick(2048));
  options.retention_bytes = 6 << 10;
  options.compression = static_cast<Compression>(pick(3));
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
  ASSERT_OK(store->create_stream("s", 1 + static_cast<int>(pick(3))));
  Model model;
  auto sync_topology = [&] {
    ASSERT_OK_AND_ASSIGN(auto d, store->describe_stream("s"));
    for (const auto& s : d.shards) {
      auto& m = model.shards[s.id.value];
      if (m.records.empty() && m.next == 0) m.trim = m.next = s.starting_sequence.value;
    }
  };
  sync_topology();

  for (int op = 0; op < 200; ++op) {
    const std::string where = "seed " + std::to_string(seed) + " op " + std::to_string(op);
    const uint64_t kind = pick(100);
    if (kind < 45) {  // append
      testing::RecordBatch batch;
      const int n = 1 + static_cast<int>(pick(8));
      for (int i = 0; i < n; ++i) {
        std::string data(pick(300), '\0');
        for (auto& c : data) c = static_cast<char>(rng());  // incompressible, any byte
        batch.add("k" + std::to_string(pick(40)), data + std::to_string(op));
      }
      ASSERT_OK_AND_ASSIGN(auto results, store->append("s", batch.view()));
      for (size_t i = 0; i < results.size(); ++i) {
        auto& m = model.shards.at(results[i].shard.value);
        ASSERT_EQ(results[i].sequence.value, m.next) << where;
        m.records[m.next++] = {batch.keys[i], batch.data[i]};
      }
    } else if (kind < 65) {  // read from a random position
      auto it = model.shards.begin();
      std::advance(it, pick(model.shards.size()));
      const auto& [id, m] = *it;
      const uint64_t from = m.trim + pick(m.next - m.trim + 1);
      const int max = 1 + static_cast<int>(pick(20));
      ASSERT_OK_AND_ASSIGN(auto result,
                           store->read("s", ShardId{id}, SequenceNumber{from}, max, 1 << 20));
      auto expect = m.records.lower_bound(from);
      for (const auto& r : result.records) {
        ASSERT_NE(expect, m.records.end()) << where;
        ASSERT_EQ(r.sequence.value, expect->first) << where;
        ASSERT_EQ(r.data, expect->second.second) << where;
        ++expect;
      }
      EXPECT_EQ(result.records.size(),
                std::min<size_t>(max, std::distance(m.records.lower_bound(from), m.records.end())))
          << where;
    } else if (kind < 72) {  // clean reopen
      store.reset();
      ASSERT_OK_AND_ASSIGN(store, LogStore::open(options));
    } else if (kind < 80) {  // power loss: nothing acknowledged may go
      ASSERT_OK(fs->crash(pick(2) ? CrashMode::kDropUnsynced : CrashMode::kTearUnsynced, rng()));
      store.reset();
      fs->revive();
      ASSERT_OK_AND_ASSIGN(store, LogStore::open(options));
      for (const auto& [id, m] : model.shards) check_shard(*store, id, m, where + " after crash");
    } else if (kind < 85) {  // reshard
      ASSERT_OK_AND_ASSIGN(auto d, store->describe_stream("s"));
      const int open = d.open_shard_count();
      const int target =
          std::min(4, (open + 1) / 2 + static_cast<int>(pick(open * 2 - (open + 1) / 2 + 1)));
      ASSERT_OK(store->update_shard_count("s", std::max(target, 1)));
      sync_topology();
      ASSERT_OK_AND_ASSIGN(d, store->describe_stream("s"));
      for (const auto& s : d.shards) {
        if (s.ending_sequence) {
          EXPECT_EQ(s.ending_sequence->value, model.shards.at(s.id.value).next);
        }
      }
    } else if (kind < 92) {  // retention by size: whole segments from the front only
      ASSERT_OK(store->enforce_retention());
      for (auto& [id, m] : model.shards) {
        ASSERT_OK_AND_ASSIGN(auto trim,
                             store->resolve("s", ShardId{id}, {StartKind::kTrimHorizon}));
        ASSERT_GE(trim.value, m.trim) << where;
        ASSERT_LE(trim.value, m.next) << where;
        m.trim = trim.value;
        m.records.erase(m.records.begin(), m.records.lower_bound(trim.value));
      }
    } else {  // consumer positions
      auto it = model.shards.begin();
      std::advance(it, pick(model.shards.size()));
      const std::string consumer = "c" + std::to_string(pick(3));
      ASSERT_OK(store->commit_position(consumer, "s", ShardId{it->first},
                                       SequenceNumber{it->second.next}));
      model.positions[{consumer, it->first}] = it->second.next;
      for (const auto& [key, seq] : model.positions) {
        ASSERT_OK_AND_ASSIGN(
            auto got, store->load_position(std::get<0>(key), "s", ShardId{std::get<1>(key)}));
        ASSERT_TRUE(got.has_value()) << where;
        EXPECT_EQ(got->value, seq) << where;
      }
    }
  }
  for (const auto& [id, m] : model.shards) check_shard(*store, id, m, "final");
  // The run exercised what it claims to: data was trimmed and shards were split or merged.
  int trimmed_shards = 0;
  for (const auto& [id, m] : model.shards) {
    ASSERT_OK_AND_ASSIGN(auto d, store->describe_stream("s"));
    for (const auto& s : d.shards) {
      if (s.id.value == id && m.trim > s.starting_sequence.value) ++trimmed_shards;
    }
  }
  EXPECT_GT(trimmed_shards, 0);
  EXPECT_GT(model.shards.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto d, store->describe_stream("s"));
  for (const auto& s : d.shards) {
    const auto& m = model.shards.at(s.id.value);
    EXPECT_EQ(s.next_sequence.value, m.next);
    EXPECT_EQ(s.records, static_cast<int64_t>(m.records.size()));
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, ModelTest, ::testing::Values(1, 2, 3, 4));

}  // namespace
}  // namespace roadpulse::log
