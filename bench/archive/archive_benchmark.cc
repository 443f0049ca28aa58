// Raw archive throughput: 50k generated accident events (March23, ~1.1 KB JSON each) in a
// 4-shard log, archived by RawArchive::run_once (read all shards, check each record is a JSON
// object, group by arrival hour, zstd, stage + fsync + intent + rename + catalog + positions)
// with Firehose's 5 MiB buffer hint. Baselines in the same run, on the same bytes: reading the
// stream alone (LogStore::read over every shard) and zstd alone (5 MiB chunks, same level).
// Counters: records/s and bytes/s of record data (uncompressed).

#include <zstd.h>

#include <atomic>
#include <filesystem>

#include <benchmark/benchmark.h>

#include "archive/archive.h"
#include "common/time.h"
#include "log/log.h"
#include "record/csv_reader.h"
#include "record/generator.h"
#include "record/json_event.h"

namespace fs = std::filesystem;
using namespace roadpulse;

namespace {

constexpr int kRecords = 50'000;
constexpr int kShards = 4;
constexpr const char* kStream = "raw";

struct Fixture {
  fs::path dir;
  std::unique_ptr<log::LogStore> log;
  std::vector<std::string> records;
  int64_t bytes = 0;

  Fixture() {
    dir = fs::temp_directory_path() / ("archive_bench_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    record::GeneratorOptions g;
    g.rows = kRecords;
    auto reader = record::CsvReader::make(
                      record::make_generator_source(record::Generator::make(g).ValueOrDie()))
                      .ValueOrDie();
    const record::CsvRecord* header = reader->next().ValueOrDie();
    record::JsonEventEncoder encoder(record::Schema::from_header(header->fields).ValueOrDie());
    const std::string txn = format_iso8601_millis(now_micros());
    while (const record::CsvRecord* row = reader->next().ValueOrDie()) {
      std::string out;
      if (!encoder.append(row->fields, txn, out).ok()) continue;
      bytes += int64_t(out.size());
      records.push_back(std::move(out));
    }
    log::LogOptions options;
    options.data_dir = (dir / "data").string();
    options.durability = log::Durability::kNone;
    options.retention_thread = false;
    log = log::LogStore::open(options).ValueOrDie();
    (void)log->create_stream(kStream, kShards);
    std::vector<std::string> keys;
    for (size_t i = 0; i < records.size(); ++i) keys.push_back(std::to_string(i));
    for (size_t start = 0; start < records.size(); start += 500) {
      std::vector<log::AppendRecord> batch;
      for (size_t i = start; i < std::min(records.size(), start + 500); ++i) {
        batch.push_back({keys[i], records[i], {}});
      }
      (void)log->append(kStream, batch).ValueOrDie();
    }
    (void)log->flush();
  }
  ~Fixture() {
    log.reset();
    fs::remove_all(dir);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void set_counters(benchmark::State& state, int64_t records, int64_t bytes) {
  state.counters["records/s"] =
      benchmark::Counter(double(records), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] =
      benchmark::Counter(double(bytes), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ArchiveRunOnce(benchmark::State& state) {
  Fixture& f = fixture();
  static std::atomic<int> run{0};
  archive::ArchiveStats last;
  for (auto _ : state) {
    const int n = run++;
    archive::ArchiveOptions options;
    options.stream = kStream;
    options.lake_dir = (f.dir / ("lake" + std::to_string(n))).string();
    options.consumer = "bench-" + std::to_string(n);  // from the start every time
    options.compression_level = int(state.range(0));
    auto a = archive::RawArchive::make(options, f.log.get()).ValueOrDie();
    if (!a->run_once().ok()) state.SkipWithError("run_once failed");
    last = a->stats();
    state.PauseTiming();
    fs::remove_all(options.lake_dir);
    state.ResumeTiming();
  }
  if (last.records != kRecords) state.SkipWithError("not every record was archived");
  state.counters["ratio"] = double(last.bytes) / double(std::max<int64_t>(1, last.bytes_written));
  state.counters["files"] = double(last.files);
  set_counters(state, kRecords, f.bytes);
}
BENCHMARK(BM_ArchiveRunOnce)->Arg(1)->Arg(3)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BaselineReadStream(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    int64_t n = 0;
    for (int s = 0; s < kShards; ++s) {
      uint64_t next = 0;
      while (true) {
        auto r = f.log->read(kStream, log::ShardId{s}, log::SequenceNumber{next}, 10'000, 5 << 20)
                     .ValueOrDie();
        if (r.records.empty()) break;
        n += int64_t(r.records.size());
        next = r.next.value;
        benchmark::DoNotOptimize(r.records.data());
      }
    }
    if (n != kRecords) state.SkipWithError("short read");
  }
  set_counters(state, kRecords, f.bytes);
}
BENCHMARK(BM_BaselineReadStream)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BaselineZstd(benchmark::State& state) {
  Fixture& f = fixture();
  std::vector<std::string> chunks(1);
  for (const auto& r : f.records) {
    if (chunks.back().size() >= (5u << 20)) chunks.emplace_back();
    chunks.back() += r;
    chunks.back() += '\n';
  }
  for (auto _ : state) {
    for (const auto& c : chunks) {
      auto z = archive::zstd_compress(c, int(state.range(0))).ValueOrDie();
      benchmark::DoNotOptimize(z.data());
    }
  }
  set_counters(state, kRecords, f.bytes);
}
BENCHMARK(BM_BaselineZstd)->Arg(1)->Arg(3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
