// Reading a pre-filled stream back (1.2 KB records, 4 shards, 256k records ~ 300 MB, 8 MiB
// reads as the stream source makes them), each next to its baseline in the same run:
//   BM_MemcpyStream  baseline: copying the same bytes once (the floor of any copying read)
//   BM_ReadCopy      LogStore::read: pread of each batch + one std::string per record
//   BM_ReadViews     LogStore::read_views: views into the mapped segments, no copy
// items_per_second is records/s on one core; bytes_per_second the record bytes.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "log/log.h"

namespace {

using namespace roadpulse;

constexpr int kShards = 4;
constexpr int kRecords = 256 * 1024;
constexpr int kRecordBytes = 1200;
constexpr int64_t kReadBytes = 8LL << 20;

struct Filled {
  std::filesystem::path dir;
  std::unique_ptr<log::LogStore> log;
  std::vector<log::ShardId> shards;
};

Filled& filled() {
  static Filled* f = [] {
    auto* out = new Filled;
    out->dir = std::filesystem::temp_directory_path() /
               ("rp-bench-log-read-" + std::to_string(::getpid()));
    std::filesystem::remove_all(out->dir);
    log::LogOptions options;
    options.data_dir = out->dir.string();
    options.durability = log::Durability::kNone;
    options.retention_thread = false;
    out->log = log::LogStore::open(options).ValueOrDie();
    (void)out->log->create_stream("s", kShards);
    std::string body(kRecordBytes, 'x');
    std::vector<std::string> keys(500);
    std::vector<log::AppendRecord> batch;
    for (int i = 0; i < kRecords; i += 500) {
      batch.clear();
      for (int j = 0; j < 500 && i + j < kRecords; ++j) {
        keys[j] = std::to_string(i + j);
        batch.push_back({keys[j], body, std::nullopt});
      }
      (void)out->log->append("s", batch);
    }
    for (const auto& shard : out->log->describe_stream("s").ValueOrDie().shards) {
      out->shards.push_back(shard.id);
    }
    return out;
  }();
  return *f;
}

template <typename ReadFn>
void read_all(benchmark::State& state, ReadFn read) {
  auto& f = filled();
  int64_t records = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    for (const auto& shard : f.shards) {
      log::SequenceNumber from = f.log->resolve("s", shard, log::StartPosition{}).ValueOrDie();
      for (;;) {
        int64_t n = 0;
        if (!read(*f.log, shard, &from, &n, &bytes)) break;
        records += n;
      }
    }
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
}

void BM_ReadCopy(benchmark::State& state) {
  read_all(state, [](log::LogStore& log, log::ShardId shard, log::SequenceNumber* from, int64_t* n,
                     int64_t* bytes) {
    auto read = log.read("s", shard, *from, 100000, kReadBytes).ValueOrDie();
    if (read.records.empty()) return false;
    for (const auto& r : read.records) *bytes += int64_t(r.data.size());
    benchmark::DoNotOptimize(read.records.back().data.data());
    *n = int64_t(read.records.size());
    *from = read.next;
    return true;
  });
}
BENCHMARK(BM_ReadCopy)->Unit(benchmark::kMillisecond);

void BM_ReadViews(benchmark::State& state) {
  read_all(state, [](log::LogStore& log, log::ShardId shard, log::SequenceNumber* from, int64_t* n,
                     int64_t* bytes) {
    auto read = log.read_views("s", shard, *from, 100000, kReadBytes).ValueOrDie();
    if (read.records.empty()) return false;
    // Touch every record once, as a decoder would (a view costs nothing until read).
    uint64_t sum = 0;
    for (const auto& r : read.records) {
      *bytes += int64_t(r.data.size());
      for (size_t i = 0; i < r.data.size(); i += 64) sum += uint8_t(r.data[i]);
    }
    benchmark::DoNotOptimize(sum);
    *n = int64_t(read.records.size());
    *from = read.next;
    return true;
  });
}
BENCHMARK(BM_ReadViews)->Unit(benchmark::kMillisecond);

void BM_MemcpyStream(benchmark::State& state) {
  // From a 256 MiB buffer (out of the caches, as the page cache is) into a reused 1.2 MB one.
  constexpr size_t kChunk = size_t(kRecordBytes) * 1000;
  const std::string source(256u << 20, 'x');
  std::string target(kChunk, '\0');
  int64_t records = 0;
  size_t at = 0;
  for (auto _ : state) {
    for (int i = 0; i < kRecords; i += 1000) {
      if (at + kChunk > source.size()) at = 0;
      std::memcpy(target.data(), source.data() + at, kChunk);
      benchmark::DoNotOptimize(target.data());
      at += kChunk;
      records += 1000;
    }
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(records * kRecordBytes);
}
BENCHMARK(BM_MemcpyStream)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
