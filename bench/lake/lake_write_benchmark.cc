// Lake write throughput: real Dec21 accident rows (47 columns, tiled to 64k rows) written as
// Parquet through our layer (TableWriter: staging, partitioning by State, rolling, commit)
// against Arrow's own parquet::arrow::WriteTable of the same batches in the same run (zstd and
// uncompressed). Counters: rows/s (per core: one thread), bytes on disk, and the size of the same
// rows as JSON events (every field a string, as the reference simulator sends them) and as CSV.

#include <filesystem>
#include <fstream>
#include <sstream>

#include <arrow/csv/api.h>
#include <arrow/io/file.h>
#include <arrow/table.h>
#include <benchmark/benchmark.h>
#include <parquet/arrow/writer.h>

#include "lake/lake.h"

namespace fs = std::filesystem;
using roadpulse::lake::TableWriter;
using roadpulse::lake::TableWriterOptions;

namespace {

constexpr int kCopies = 140;  // 474 rows x 140 = 66,360 rows

const std::string kCsv = std::string(ROADPULSE_SHARED_DIR) + "/data/us_accidents_dec21_head.csv";

struct Data {
  std::shared_ptr<arrow::Table> table;  // the tiled rows, one chunk per 4096-row batch
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  int64_t csv_bytes = 0;
  int64_t json_bytes = 0;
};

const Data& data() {
  static const Data d = [] {
    Data out;
    auto input = arrow::io::ReadableFile::Open(kCsv).ValueOrDie();
    auto reader = arrow::csv::TableReader::Make(
                      arrow::io::default_io_context(), input, arrow::csv::ReadOptions::Defaults(),
                      arrow::csv::ParseOptions::Defaults(), arrow::csv::ConvertOptions::Defaults())
                      .ValueOrDie();
    auto one = reader->Read().ValueOrDie();
    std::vector<std::shared_ptr<arrow::Table>> copies(kCopies, one);
    auto tiled = arrow::ConcatenateTables(copies).ValueOrDie()->CombineChunks().ValueOrDie();
    arrow::TableBatchReader batches(*tiled);
    batches.set_chunksize(4096);
    std::shared_ptr<arrow::RecordBatch> b;
    while (batches.ReadNext(&b).ok() && b) out.batches.push_back(b);
    out.table = arrow::Table::FromRecordBatches(out.batches).ValueOrDie();
    // Raw sizes: the CSV lines, and the same rows as JSON objects of strings.
    std::ifstream in(kCsv, std::ios::binary);
    std::string header_line, line;
    std::getline(in, header_line);
    if (!header_line.empty() && header_line.back() == '\r') header_line.pop_back();
    std::vector<std::string> header;
    std::stringstream hs(header_line);
    for (std::string h; std::getline(hs, h, ',');) header.push_back(h);
    int64_t csv = 0, json = 0;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      csv += int64_t(line.size()) + 1;
      std::stringstream ls(line);
      size_t i = 0;
      int64_t obj = 2;  // {}
      for (std::string v; std::getline(ls, v, ','); ++i) {
        obj += int64_t(header[i % header.size()].size() + v.size()) + 6;  // "k": "v",
      }
      json += obj + 1;
    }
    out.csv_bytes = csv * kCopies;
    out.json_bytes = json * kCopies;
    return out;
  }();
  return d;
}

int64_t dir_bytes(const fs::path& dir) {
  int64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += int64_t(e.file_size());
  }
  return total;
}

void report(benchmark::State& state, const Data& d, int64_t bytes) {
  const int64_t rows = d.table->num_rows();
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["rows_per_s"] =
      benchmark::Counter(double(rows * state.iterations()), benchmark::Counter::kIsRate);
  state.counters["parquet_bytes"] = double(bytes);
  state.counters["json_bytes"] = double(d.json_bytes);
  state.counters["json_over_parquet"] = double(d.json_bytes) / double(bytes);
  state.counters["csv_over_parquet"] = double(d.csv_bytes) / double(bytes);
}

void BM_TableWriter(benchmark::State& state, bool partitioned, int64_t buffer_memory) {
  const Data& d = data();
  const fs::path dir = fs::temp_directory_path() / "roadpulse_lake_bench";
  int64_t bytes = 0;
  int64_t checkpoint = 0;
  double peak = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(dir);
    state.ResumeTiming();
    TableWriterOptions options;
    options.location = dir.string();
    options.schema = d.table->schema();
    if (partitioned) options.partition_keys = {"State"};
    options.job_id = "bench";
    options.buffer_memory = buffer_memory;
    auto writer = TableWriter::make(options).ValueOrDie();
    for (const auto& b : d.batches) {
      if (!writer->write(b).ok()) state.SkipWithError("write failed");
    }
    ++checkpoint;
    if (!writer->prepare_commit(checkpoint).ok() || !writer->commit(checkpoint).ok()) {
      state.SkipWithError("commit failed");
    }
    state.PauseTiming();
    bytes = dir_bytes(dir);
    peak = double(writer->memory_stats().peak_buffered_bytes);
    state.ResumeTiming();
  }
  report(state, d, bytes);
  state.counters["peak_buffered_MB"] = peak / (1 << 20);
  fs::remove_all(dir);
}

void BM_ArrowWriteTable(benchmark::State& state, arrow::Compression::type codec) {
  const Data& d = data();
  const std::string path = (fs::temp_directory_path() / "roadpulse_lake_bench.parquet").string();
  int64_t bytes = 0;
  for (auto _ : state) {
    parquet::WriterProperties::Builder props;
    props.compression(codec)->max_row_group_length(128 * 1024)->enable_dictionary();
    if (codec == arrow::Compression::ZSTD) props.compression_level(1);
    auto out = arrow::io::FileOutputStream::Open(path).ValueOrDie();
    auto st = parquet::arrow::WriteTable(*d.table, arrow::default_memory_pool(), out, 128 * 1024,
                                         props.build());
    if (!st.ok() || !out->Close().ok()) state.SkipWithError("write failed");
    state.PauseTiming();
    bytes = int64_t(fs::file_size(path));
    state.ResumeTiming();
  }
  report(state, d, bytes);
  fs::remove(path);
}

}  // namespace

BENCHMARK_CAPTURE(BM_TableWriter, lake_partitioned_by_state_zstd, true, 256LL << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// The memory bound at work: no bound (baseline) and a budget below what the writers would hold.
BENCHMARK_CAPTURE(BM_TableWriter, lake_partitioned_by_state_unbounded, true, 0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_TableWriter, lake_partitioned_by_state_budget_16mb, true, 16LL << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_TableWriter, lake_unpartitioned_zstd, false, 256LL << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_ArrowWriteTable, arrow_baseline_zstd, arrow::Compression::ZSTD)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_ArrowWriteTable, arrow_baseline_uncompressed, arrow::Compression::UNCOMPRESSED)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
