// Crash recovery: torn tails at many offsets, bit flips below the durable position, simulated
// power loss under concurrent load, and I/O errors on sync and write.

#include <atomic>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "log/fault_injection_file_system.h"
#include "log/format.h"
#include "log_test_util.h"

namespace roadpulse::log {
namespace {

using testing::read_all;
using testing::RecordBatch;
using testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string segment_path(const TempDir& dir) {
  return dir.path() + "/streams/s/shard-000000000000/00000000000000000000.log";
}

// Offsets where each batch ends, walking the headers of a segment image.
std::vector<int64_t> batch_ends(const std::string& image) {
  std::vector<int64_t> ends;
  int64_t offset = kSegmentHeaderSize;
  while (offset + kBatchHeaderSize <= static_cast<int64_t>(image.size())) {
    BatchHeader header;
    if (decode_batch_header(std::string_view(image).substr(offset, kBatchHeaderSize), &header) !=
        HeaderCheck::kOk) {
      break;
    }
    offset += header.total_size();
    ends.push_back(offset);
  }
  return ends;
}

LogOptions base_options(const TempDir& dir) {
  LogOptions options;
  options.data_dir = dir.path();
  options.retention_thread = false;
  return options;
}

std::vector<std::string> datas(const std::vector<StoredRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.data);
  return out;
}

TEST(RecoveryTest, TornTailAtManyOffsetsKeepsEveryAcknowledgedRecord) {
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
  LogOptions options = base_options(dir);
  options.file_system = fs;
  std::vector<std::string> acked, unsynced;
  {  // Phase 1: acknowledged (fdatasync) records, then a clean close.
    ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
    ASSERT_OK(store->create_stream("s", 1));
    for (int i = 0; i < 12; ++i) {
      RecordBatch batch;
      for (int j = 0; j < 3; ++j) batch.add("k", "acked-" + std::to_string(i * 3 + j));
      ASSERT_OK(store->append("s", batch.view()).status());
      for (auto& d : batch.data) acked.push_back(d);
    }
  }
  {  // Phase 2: written, never synced; the "OS" happens to flush all of it before the crash.
    options.durability = Durability::kNone;
    ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
    for (int i = 0; i < 12; ++i) {
      RecordBatch batch;
      batch.add("k", "unsynced-" + std::to_string(i) + std::string(i * 7, 'u'));
      ASSERT_OK(store->append("s", batch.view()).status());
      unsynced.push_back(batch.data[0]);
    }
    ASSERT_OK(fs->crash(CrashMode::kKeepUnsynced));
  }
  fs->revive();
  const std::vector<int64_t> ends = batch_ends(slurp(segment_path(dir)));
  ASSERT_EQ(ends.size(), 24u);
  // Keep a little of the preallocated zero tail; the rest only slows the test down.
  const std::string image = slurp(segment_path(dir)).substr(0, ends.back() + 4096);
  const std::string checkpoint_path = dir.path() + "/streams/s/shard-000000000000/checkpoint";
  const std::string checkpoint = slurp(checkpoint_path);  // from the clean close of phase 1
  const int64_t durable_end = ends[11];
  const int64_t data_end = ends.back();

  LogOptions plain = base_options(dir);
  int checked = 0;
  // Every batch boundary and its neighbours, and every 11th byte in between.
  std::set<int64_t> offsets;
  for (int64_t k = durable_end; k <= data_end; k += 11) offsets.insert(k);
  for (int i = 11; i < 24; ++i) {
    for (int64_t d : {-1, 0, 1}) offsets.insert(std::clamp(ends[i] + d, durable_end, data_end));
  }
  for (const int64_t k : offsets) {
    for (int mode = 0; mode < 2; ++mode) {
      std::string damaged = image;
      if (mode == 0) {
        std::fill(damaged.begin() + k, damaged.end(), '\0');  // torn: nothing after k
      } else if (k < data_end) {
        damaged[k] = static_cast<char>(damaged[k] ^ 0x5a);  // garbage at k
      } else {
        continue;
      }
      spit(segment_path(dir), damaged);
      spit(checkpoint_path, checkpoint);
      std::vector<std::string> first_pass;
      const int passes = k % 3 == 0 ? 2 : 1;  // recovering twice gives the same state
      for (int pass = 0; pass < passes; ++pass) {
        auto store = LogStore::open(plain);
        ASSERT_TRUE(store.ok()) << "offset " << k << " mode " << mode << ": "
                                << store.status().ToString();
        const auto got = datas(read_all(**store, "s", ShardId{0}));
        ASSERT_GE(got.size(), acked.size()) << "offset " << k;
        for (size_t i = 0; i < got.size(); ++i) {
          const std::string& want = i < acked.size() ? acked[i] : unsynced.at(i - acked.size());
          ASSERT_EQ(got[i], want) << "offset " << k << " record " << i;
        }
        // The surviving unsynced batches are exactly those wholly before the damage.
        size_t whole = 0;
        while (whole < 12 && ends[12 + whole] <= k) ++whole;
        EXPECT_EQ(got.size(), acked.size() + whole) << "offset " << k << " mode " << mode;
        if (pass == 0)
          first_pass = got;
        else
          EXPECT_EQ(got, first_pass);
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 150);
  // And the log keeps working after a torn-tail recovery.
  spit(checkpoint_path, checkpoint);
  spit(segment_path(dir),
       image.substr(0, durable_end + 10) + std::string(image.size() - durable_end - 10, '\0'));
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(plain));
  RecordBatch batch;
  batch.add("k", "after");
  ASSERT_OK_AND_ASSIGN(auto results, store->append("s", batch.view()));
  EXPECT_EQ(results[0].sequence.value, acked.size());
  EXPECT_EQ(read_all(*store, "s", ShardId{0}).back().data, "after");
}

TEST(RecoveryTest, DamageBelowTheDurablePositionRefusesToOpen) {
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
  LogOptions options = base_options(dir);
  options.file_system = fs;
  {
    ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
    ASSERT_OK(store->create_stream("s", 1));
    for (int i = 0; i < 30; ++i) {
      RecordBatch batch;
      batch.add("k", "record-" + std::to_string(i));
      ASSERT_OK(store->append("s", batch.view()).status());
    }
    // Power loss: no clean-shutdown checkpoint; later batches still say what was durable.
    ASSERT_OK(fs->crash(CrashMode::kDropUnsynced));
  }
  fs->revive();
  const std::string image = slurp(segment_path(dir));
  const auto ends = batch_ends(image);
  ASSERT_EQ(ends.size(), 30u);
  for (int victim : {0, 5, 17, 27}) {
    for (int64_t offset : {ends[victim] - 1, ends[victim] + 3, ends[victim] + 20}) {
      std::string damaged = image;
      damaged[offset] = static_cast<char>(damaged[offset] ^ 0x01);  // one bit
      spit(segment_path(dir), damaged);
      auto store = LogStore::open(base_options(dir));
      ASSERT_FALSE(store.ok()) << "flip at " << offset << " was silently accepted";
      EXPECT_TRUE(store.status().IsIOError());
      EXPECT_NE(store.status().message().find("refusing to open"), std::string::npos)
          << store.status().message();
      EXPECT_NE(store.status().message().find("below its durable position"), std::string::npos);
    }
  }
  // Undamaged, it opens and holds everything.
  spit(segment_path(dir), image);
  {
    ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(base_options(dir)));
    EXPECT_EQ(read_all(*store, "s", ShardId{0}).size(), 30u);
  }
  // After a clean close even the last batch is known durable.
  const std::string clean = slurp(segment_path(dir));
  const auto clean_ends = batch_ends(clean);
  std::string damaged = clean;
  damaged[clean_ends.back() - 2] ^= 0x10;
  spit(segment_path(dir), damaged);
  EXPECT_FALSE(LogStore::open(base_options(dir)).ok());
}

TEST(RecoveryTest, PowerLossUnderConcurrentLoadLosesNothingAcknowledged) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    TempDir dir;
    auto fs = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
    LogOptions options = base_options(dir);
    options.file_system = fs;
    options.segment_bytes = 8 << 10;  // crash points also fall inside segment rolls
    std::mutex mu;
    std::map<std::pair<int32_t, uint64_t>, std::string> acked;
    {
      ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
      ASSERT_OK(store->create_stream("s", 2));
      std::atomic<bool> stop{false};
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; !stop; ++i) {
            RecordBatch batch;
            const int n = 1 + i % 3;
            for (int j = 0; j < n; ++j) {
              batch.add("k" + std::to_string(t * 7 + j),
                        std::to_string(seed) + "/" + std::to_string(t) + "/" + std::to_string(i) +
                            "/" + std::to_string(j));
            }
            auto results = store->append("s", batch.view());
            if (!results.ok()) return;
            std::lock_guard lock(mu);
            for (size_t j = 0; j < results->size(); ++j) {
              acked[{(*results)[j].shard.value, (*results)[j].sequence.value}] = batch.data[j];
            }
          }
        });
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + 7 * seed));
      ASSERT_OK(fs->crash(CrashMode::kTearUnsynced, seed));
      stop = true;
      for (auto& t : threads) t.join();
    }
    fs->revive();
    ASSERT_FALSE(acked.empty());
    std::vector<std::vector<std::string>> first;
    for (int pass = 0; pass < 2; ++pass) {
      auto store = LogStore::open(options);
      ASSERT_TRUE(store.ok()) << "seed " << seed << ": " << store.status().ToString();
      std::vector<std::vector<std::string>> state;
      for (int s = 0; s < 2; ++s) {
        const auto records = read_all(**store, "s", ShardId{s});
        for (size_t i = 0; i < records.size(); ++i) {
          ASSERT_EQ(records[i].sequence.value, i) << "dense sequence numbers";
          auto it = acked.find({s, i});
          if (it != acked.end()) {
            EXPECT_EQ(records[i].data, it->second);
          }
        }
        for (const auto& [key, data] : acked) {
          if (key.first == s) {
            ASSERT_LT(key.second, records.size())
                << "seed " << seed << ": acknowledged record " << s << "/" << key.second << " lost";
          }
        }
        state.push_back(datas(records));
      }
      if (pass == 0)
        first = state;
      else
        EXPECT_EQ(state, first) << "second recovery differs";
    }
  }
}

TEST(RecoveryTest, SyncErrorFailsPendingAndLaterAppendsUntilReopen) {
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
  LogOptions options = base_options(dir);
  options.file_system = fs;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
  ASSERT_OK(store->create_stream("s", 1));
  RecordBatch ok_batch;
  ok_batch.add("k", "before");
  ASSERT_OK(store->append("s", ok_batch.view()).status());

  fs->fail_syncs(1);
  RecordBatch doomed;
  doomed.add("k", "during");
  auto failed = store->append("s", doomed.view());
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("Input/output error"), std::string::npos);
  // Never retry the sync and acknowledge: the shard stays failed even though syncs work again.
  auto later = store->append("s", ok_batch.view());
  ASSERT_FALSE(later.ok());
  EXPECT_NE(later.status().message().find("reopen"), std::string::npos);
  // A reader still sees only what was acknowledged.
  EXPECT_EQ(datas(read_all(*store, "s", ShardId{0})), std::vector<std::string>{"before"});

  // Power loss now: the page cache content of the failed write is gone.
  ASSERT_OK(fs->crash(CrashMode::kDropUnsynced));
  store.reset();
  fs->revive();
  ASSERT_OK_AND_ASSIGN(store, LogStore::open(options));
  EXPECT_EQ(datas(read_all(*store, "s", ShardId{0})), std::vector<std::string>{"before"});
  ASSERT_OK(store->append("s", ok_batch.view()).status());
}

TEST(RecoveryTest, WriteErrorAcknowledgesNothing) {
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
  LogOptions options = base_options(dir);
  options.file_system = fs;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
  ASSERT_OK(store->create_stream("s", 1));
  fs->fail_writes(true);
  RecordBatch batch;
  batch.add("k", "x");
  auto result = store->append("s", batch.view());
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("No space left"), std::string::npos);
  fs->fail_writes(false);
  EXPECT_FALSE(store->append("s", batch.view()).ok());
  store.reset();
  ASSERT_OK_AND_ASSIGN(store, LogStore::open(options));
  EXPECT_TRUE(read_all(*store, "s", ShardId{0}).empty());
  ASSERT_OK(store->append("s", batch.view()).status());
}

}  // namespace
}  // namespace roadpulse::log
