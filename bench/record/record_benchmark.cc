// Record data path micro benchmarks. Each figure has a baseline in the same run so it reads as a
// ratio: CSV parsing against a plain memchr line split of the same bytes, CSV -> JSON against the
// parse alone, JSON decoding against simdjson on-demand extracting 6 fields of the same events.
// Input: the real March23 sample (7,931 rows) repeated 8 times in memory.

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "common/time.h"
#include "record/csv_reader.h"
#include "record/generator.h"
#include "record/json_event.h"

namespace roadpulse::record {
namespace {

const std::string& csv_input() {
  static const std::string text = [] {
    std::ifstream in(
        std::string(ROADPULSE_SOURCE_DIR) + "/../shared/data/us_accidents_march23_sample.csv",
        std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string file = ss.str();
    if (file.empty()) {
      std::fprintf(stderr, "shared data missing: us_accidents_march23_sample.csv\n");
      std::abort();
    }
    const std::string body = file.substr(file.find('\n') + 1);
    std::string all = file;
    for (int i = 1; i < 8; ++i) all += body;
    return all;
  }();
  return text;
}

const std::vector<std::string>& json_events() {
  static const std::vector<std::string> events = [] {
    std::vector<std::string> out;
    auto reader = CsvReader::make(make_buffer_source(csv_input())).ValueOrDie();
    const CsvRecord* header = reader->next().ValueOrDie();
    const JsonEventEncoder encoder(Schema::from_header(header->fields).ValueOrDie());
    while (const CsvRecord* rec = reader->next().ValueOrDie()) {
      std::string json;
      if (encoder.append(rec->fields, "2026-11-27T10:00:00.123", json).ok()) {
        out.push_back(std::move(json));
      }
    }
    return out;
  }();
  return events;
}

void BM_Baseline_MemchrLineSplit(benchmark::State& state) {
  const std::string& text = csv_input();
  int64_t lines = 0;
  for (auto _ : state) {
    const char* p = text.data();
    const char* end = p + text.size();
    int64_t n = 0;
    while (const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p))) {
      p = static_cast<const char*>(nl) + 1;
      ++n;
    }
    benchmark::DoNotOptimize(n);
    lines += n;
  }
  state.SetItemsProcessed(lines);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_Baseline_MemchrLineSplit)->Unit(benchmark::kMillisecond);

void BM_CsvParse(benchmark::State& state) {
  const std::string& text = csv_input();
  int64_t rows = 0;
  for (auto _ : state) {
    auto reader = CsvReader::make(make_buffer_source(text)).ValueOrDie();
    size_t fields = 0;
    while (const CsvRecord* rec = reader->next().ValueOrDie()) {
      fields += rec->fields.size();
      ++rows;
    }
    benchmark::DoNotOptimize(fields);
  }
  state.SetItemsProcessed(rows);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_CsvParse)->Unit(benchmark::kMillisecond);

// What simulate does per row: parse, type-check every field, write the JSON event.
void BM_CsvToJson(benchmark::State& state) {
  const std::string& text = csv_input();
  int64_t rows = 0;
  std::string out;
  for (auto _ : state) {
    auto reader = CsvReader::make(make_buffer_source(text)).ValueOrDie();
    const CsvRecord* header = reader->next().ValueOrDie();
    const JsonEventEncoder encoder(Schema::from_header(header->fields).ValueOrDie());
    const std::string txn = format_iso8601_millis(now_micros());
    while (const CsvRecord* rec = reader->next().ValueOrDie()) {
      out.clear();
      if (!encoder.append(rec->fields, txn, out).ok()) std::abort();
      benchmark::DoNotOptimize(out.data());
      ++rows;
    }
  }
  state.SetItemsProcessed(rows);
}
BENCHMARK(BM_CsvToJson)->Unit(benchmark::kMillisecond);

void BM_Baseline_SimdjsonOnDemand6Fields(benchmark::State& state) {
  const auto& events = json_events();
  std::vector<simdjson::padded_string> padded;
  for (const auto& e : events) padded.emplace_back(e);
  simdjson::ondemand::parser parser;
  int64_t n = 0;
  for (auto _ : state) {
    for (const auto& p : padded) {
      auto doc = parser.iterate(p);
      std::string_view id, city, county;
      int64_t severity = 0;
      double lat = 0, lng = 0;
      // Fields in document order, as a Flink-style projection reads them.
      if (doc["ID"].get(id) || doc["Severity"].get(severity) || doc["Start_Lat"].get(lat) ||
          doc["Start_Lng"].get(lng) || doc["City"].get(city) || doc["County"].get(county)) {
        std::abort();
      }
      benchmark::DoNotOptimize(severity);
      ++n;
    }
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(BM_Baseline_SimdjsonOnDemand6Fields)->Unit(benchmark::kMillisecond);

// Full decode: every field typed into a Row (strings copied), as the round trip needs.
void BM_JsonDecodeFullRow(benchmark::State& state) {
  const auto& events = json_events();
  auto decoder = JsonEventDecoder::make(Schema::march23()).ValueOrDie();
  int64_t n = 0;
  for (auto _ : state) {
    for (const auto& e : events) {
      auto event = decoder->decode(e);
      if (!event.ok()) std::abort();
      benchmark::DoNotOptimize(event->row.data());
      ++n;
    }
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(BM_JsonDecodeFullRow)->Unit(benchmark::kMillisecond);

void BM_Generate(benchmark::State& state) {
  int64_t rows = 0;
  std::string out;
  GeneratorOptions options;
  options.rows = 50000;
  for (auto _ : state) {
    auto generator = Generator::make(options).ValueOrDie();
    while (true) {
      out.clear();
      if (!generator->next_row(out)) break;
      benchmark::DoNotOptimize(out.data());
      ++rows;
    }
  }
  state.SetItemsProcessed(rows);
}
BENCHMARK(BM_Generate)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace roadpulse::record

BENCHMARK_MAIN();
