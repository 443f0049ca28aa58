// The seed job's work per event (JSON in, filter Severity > 3, 5-field JSON out), measured on real
// accident rows (Dec21 sample, typed JSON like `roadpulse simulate` emits, ~1.25 KB per event),
// single thread unless said, each next to its baseline in the same run:
//   BM_MemcpyRecords           baseline: copying each record's bytes once (the floor of any pass)
//   BM_SimdjsonExtract5Fields  baseline: simdjson on-demand pulling the 5 fields out of each record
//   BM_SeedDecode              our decoder alone (records -> 5-column Arrow batches of 4096)
//   BM_FilterProject           Severity > 3 + the 5-column projection on decoded 48-column batches
//   BM_SeedOperators           decoder + filter + JSON encoder, 4096-event batches
//   BM_SeedJobOnLog            the whole job: `roadpulse sql`'s engine reading a pre-filled log
//                              stream of 1 M events (4 shards) and appending the results to another
//                              (durability none); events per CPU-second of the process
// items_per_second is events/s per core. The JSON decode share of the job is BM_SeedDecode's time
// over BM_SeedOperators'. Data: $ROADPULSE_SHARED_DIR (else ../shared next to the checkout).

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <simdjson.h>

#include "common/time.h"
#include "connect/registry.h"
#include "exec/expression.h"
#include "exec/job.h"
#include "exec/json_format.h"
#include "sql/session.h"

namespace {

using namespace roadpulse;

const char* kSeedDdl = R"(
CREATE TABLE us_accidents_stream (
  `ID` VARCHAR(50), `Severity` BIGINT, `Start_Time` TIMESTAMP(3), `End_Time` TIMESTAMP(3),
  `Start_Lat` VARCHAR(50), `Start_Lng` VARCHAR(50), `End_Lat` VARCHAR(50), `End_Lng` VARCHAR(50),
  `Distance(mi)` VARCHAR(50), `Description` VARCHAR(500), `Number` VARCHAR(50),
  `Street` VARCHAR(50), `Side` VARCHAR(50), `City` VARCHAR(50), `County` VARCHAR(50),
  `State` VARCHAR(50), `Zipcode` VARCHAR(50), `Country` VARCHAR(50), `Timezone` VARCHAR(50),
  `Airport_Code` VARCHAR(50), `Weather_Timestamp` TIMESTAMP(3), `Temperature(F)` VARCHAR(50),
  `Wind_Chill(F)` VARCHAR(50), `Humidity(%)` VARCHAR(50), `Pressure(in)` VARCHAR(50),
  `Visibility(mi)` VARCHAR(50), `Wind_Direction` STRING, `Wind_Speed(mph)` VARCHAR(50),
  `Precipitation(in)` VARCHAR(50), `Weather_Condition` VARCHAR(50), `Amenity` VARCHAR(50),
  `Bump` BOOLEAN, `Crossing` BOOLEAN, `Give_Way` BOOLEAN, `Junction` BOOLEAN, `No_Exit` BOOLEAN,
  `Railway` BOOLEAN, `Roundabout` BOOLEAN, `Station` BOOLEAN, `Stop` BOOLEAN,
  `Traffic_Calming` BOOLEAN, `Traffic_Signal` BOOLEAN, `Turning_Loop` BOOLEAN,
  `Sunrise_Sunset` VARCHAR(50), `Civil_Twilight` VARCHAR(50), `Nautical_Twilight` VARCHAR(50),
  `Astronomical_Twilight` VARCHAR(50), `Txn_Timestamp` TIMESTAMP(3),
  WATERMARK FOR Txn_Timestamp AS Txn_Timestamp - INTERVAL '5' SECOND
) PARTITIONED BY (Severity) WITH ('connector' = 'kinesis', 'stream' = 'raw',
  'aws.region' = 'us-east-1', 'scan.stream.initpos' = 'TRIM_HORIZON',
  'scan.stream.endpos' = 'LATEST', 'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601');
CREATE TABLE us_accidents_stream_1_results (
  `ID` VARCHAR(50), `Severity` BIGINT, `City` VARCHAR(50), `County` VARCHAR(50),
  `Txn_Timestamp` TIMESTAMP(3)
) PARTITIONED BY (Severity) WITH ('connector' = 'kinesis', 'stream' = 'results',
  'aws.region' = 'us-east-1', 'format' = 'json', 'json.timestamp-format.standard' = 'ISO-8601');
)";

const char* kSeedInsert = R"(INSERT INTO us_accidents_stream_1_results
SELECT ID, Severity, City, County, Txn_Timestamp FROM us_accidents_stream WHERE Severity > 3)";

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// Typed JSON events made from the real Dec21 rows (the shape `roadpulse simulate` sends),
// repeated with fresh IDs up to `count`.
const std::vector<std::string>& events(size_t count = 100000) {
  static std::vector<std::string> out;
  if (!out.empty()) return out;
  // ROADPULSE_SHARED_DIR (as the tests read it) or ../shared next to the checkout.
  const char* shared = std::getenv("ROADPULSE_SHARED_DIR");
  const std::string dir =
      shared != nullptr ? std::string(shared) : std::string(ROADPULSE_SOURCE_DIR) + "/../shared";
  std::ifstream in(dir + "/data/us_accidents_dec21_head.csv");
  if (!in) {
    std::fprintf(stderr,
                 "cannot open %s/data/us_accidents_dec21_head.csv (set ROADPULSE_SHARED_DIR)\n",
                 dir.c_str());
    std::exit(2);
  }
  std::string line;
  std::getline(in, line);
  auto split = [](const std::string& l) {
    std::vector<std::string> f;
    std::stringstream ss(l);
    std::string x;
    while (std::getline(ss, x, ',')) f.push_back(x);
    if (!l.empty() && l.back() == ',') f.emplace_back();
    return f;
  };
  auto strip = [](std::string s) {
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return s;
  };
  const auto header = split(strip(line));
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line)) rows.push_back(split(strip(line)));
  const std::string txn = "\"" + format_iso8601(now_micros()) + "\"";
  for (size_t i = 0; out.size() < count; ++i) {
    const auto& row = rows[i % rows.size()];
    std::string e = "{";
    for (size_t c = 0; c < header.size() && c < row.size(); ++c) {
      if (c) e += ",";
      e += json_string(header[c]) + ":";
      const std::string& v = row[c];
      if (header[c] == "ID") {
        e += json_string("B-" + std::to_string(i));
      } else if (v.empty()) {
        e += "null";
      } else if (header[c] == "Severity") {
        e += v;
      } else if (v == "True" || v == "False") {
        e += v == "True" ? "true" : "false";
      } else if (header[c].find("Time") != std::string::npos) {
        std::string t = v;
        t[10] = 'T';
        e += json_string(t);
      } else {
        e += json_string(v);
      }
    }
    e += ",\"Txn_Timestamp\":" + txn + "}";
    out.push_back(std::move(e));
  }
  return out;
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

int64_t total_bytes(const std::vector<std::string>& ev) {
  int64_t n = 0;
  for (const auto& e : ev) n += int64_t(e.size());
  return n;
}

void BM_SimdjsonExtract5Fields(benchmark::State& state) {
  const auto& ev = events();
  simdjson::ondemand::parser parser;
  std::string buffer;
  int64_t severe = 0;
  for (auto _ : state) {
    for (const auto& e : ev) {
      buffer.assign(e);
      buffer.resize(e.size() + simdjson::SIMDJSON_PADDING);
      auto doc = parser.iterate(buffer.data(), e.size(), buffer.size());
      std::string_view id, city, county, txn;
      int64_t sev = 0;
      for (auto field : doc.get_object()) {
        std::string_view key = field.unescaped_key().value();
        if (key == "ID") {
          id = field.value().get_string().value();
        } else if (key == "Severity") {
          sev = field.value().get_int64().value();
        } else if (key == "City") {
          city = field.value().get_string().value();
        } else if (key == "County") {
          county = field.value().get_string().value();
        } else if (key == "Txn_Timestamp") {
          txn = field.value().get_string().value();
        }
      }
      severe += sev > 3;
      benchmark::DoNotOptimize(id.data());
      benchmark::DoNotOptimize(txn.data());
    }
  }
  state.counters["severe"] = double(severe) / double(state.iterations());
  state.SetItemsProcessed(state.iterations() * int64_t(ev.size()));
  state.SetBytesProcessed(state.iterations() * total_bytes(ev));
}
BENCHMARK(BM_SimdjsonExtract5Fields)->Unit(benchmark::kMillisecond);

void BM_MemcpyRecords(benchmark::State& state) {
  const auto& ev = events();
  std::string buffer(4096, '\0');
  for (auto _ : state) {
    for (const auto& e : ev) {
      if (buffer.size() < e.size()) buffer.resize(e.size());
      std::memcpy(buffer.data(), e.data(), e.size());
      benchmark::ClobberMemory();
    }
  }
  state.SetItemsProcessed(state.iterations() * int64_t(ev.size()));
  state.SetBytesProcessed(state.iterations() * total_bytes(ev));
}
BENCHMARK(BM_MemcpyRecords)->Unit(benchmark::kMillisecond);

// The seed table's schema and the indices of the 5 columns the job reads.
struct SeedTable {
  std::shared_ptr<arrow::Schema> full;
  std::vector<int> projection;
};

arrow::Result<SeedTable> seed_table() {
  sql::Session session;
  ARROW_RETURN_NOT_OK(session.execute_script(kSeedDdl).status());
  auto table = session.catalog().table("us_accidents_stream");
  SeedTable out;
  out.full = table->physical_schema().to_arrow();
  for (const char* name : {"ID", "Severity", "City", "County", "Txn_Timestamp"}) {
    out.projection.push_back(out.full->GetFieldIndex(name));
  }
  return out;
}

// Severity > 3 on a batch whose column `severity` is the BIGINT Severity.
std::unique_ptr<exec::CompiledExpr> severity_filter(int severity) {
  auto predicate = sql::BoundExpr::call(">", sql::SqlType::boolean(), {});
  predicate->args.push_back(sql::BoundExpr::column(severity, "Severity", sql::SqlType::bigint()));
  predicate->args.push_back(sql::BoundExpr::make_literal(std::make_shared<arrow::Int64Scalar>(3),
                                                         sql::SqlType::bigint()));
  return exec::CompiledExpr::compile(*predicate).ValueOrDie();
}

constexpr size_t kBatch = 4096;

void BM_SeedDecode(benchmark::State& state) {
  const auto& ev = events();
  auto table = seed_table().ValueOrDie();
  auto decoder = exec::JsonDecoder::make(table.full, table.projection, {}).ValueOrDie();
  std::vector<std::string_view> views(ev.begin(), ev.end());
  int64_t rows = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < views.size(); i += kBatch) {
      const size_t n = std::min(kBatch, views.size() - i);
      auto decoded = decoder->decode(std::span(views.data() + i, n)).ValueOrDie();
      rows += decoded.batch->num_rows();
    }
  }
  if (rows != state.iterations() * int64_t(ev.size())) state.SkipWithError("rows lost");
  state.SetItemsProcessed(state.iterations() * int64_t(ev.size()));
  state.SetBytesProcessed(state.iterations() * total_bytes(ev));
}
BENCHMARK(BM_SeedDecode)->Unit(benchmark::kMillisecond);

// Plain filter + projection on Arrow batches (all 48 columns decoded beforehand, outside the
// timing): what the operators cost once the data is columnar.
void BM_FilterProject(benchmark::State& state) {
  const auto& ev = events();
  auto table = seed_table().ValueOrDie();
  std::vector<int> all(size_t(table.full->num_fields()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = int(i);
  auto decoder = exec::JsonDecoder::make(table.full, all, {}).ValueOrDie();
  std::vector<std::string_view> views(ev.begin(), ev.end());
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  for (size_t i = 0; i < views.size(); i += kBatch) {
    const size_t n = std::min(kBatch, views.size() - i);
    batches.push_back(decoder->decode(std::span(views.data() + i, n)).ValueOrDie().batch);
  }
  auto filter = severity_filter(table.full->GetFieldIndex("Severity"));
  int64_t kept_rows = 0;
  for (auto _ : state) {
    for (const auto& batch : batches) {
      auto kept = exec::filter_batch(batch, *filter).ValueOrDie();
      auto projected = kept->SelectColumns(table.projection).ValueOrDie();
      kept_rows += projected->num_rows();
      benchmark::DoNotOptimize(projected.get());
    }
  }
  state.counters["severe"] = double(kept_rows) / double(state.iterations());
  state.SetItemsProcessed(state.iterations() * int64_t(ev.size()));
}
BENCHMARK(BM_FilterProject)->Unit(benchmark::kMillisecond);

void BM_SeedOperators(benchmark::State& state) {
  const auto& ev = events();
  auto table = seed_table().ValueOrDie();
  exec::JsonFormatOptions options;
  auto decoder = exec::JsonDecoder::make(table.full, table.projection, options).ValueOrDie();
  auto encoder = exec::JsonEncoder::make(decoder->output_schema(), options).ValueOrDie();
  auto filter = severity_filter(1);
  std::vector<std::string_view> views(ev.begin(), ev.end());
  std::string out;
  int64_t emitted = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < views.size(); i += kBatch) {
      const size_t n = std::min(kBatch, views.size() - i);
      auto decoded = decoder->decode(std::span(views.data() + i, n)).ValueOrDie();
      auto kept = exec::filter_batch(decoded.batch, *filter).ValueOrDie();
      for (int64_t r = 0; r < kept->num_rows(); ++r) {
        out.clear();
        encoder->encode_row(*kept, r, &out);
        benchmark::DoNotOptimize(out.data());
      }
      emitted += kept->num_rows();
    }
  }
  state.counters["severe"] = double(emitted) / double(state.iterations());
  state.SetItemsProcessed(state.iterations() * int64_t(ev.size()));
  state.SetBytesProcessed(state.iterations() * total_bytes(ev));
}
BENCHMARK(BM_SeedOperators)->Unit(benchmark::kMillisecond);

void BM_SeedJobOnLog(benchmark::State& state) {
  const auto& ev = events();
  const auto dir =
      std::filesystem::temp_directory_path() / ("rp-bench-exec-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  connect::ConnectOptions options;
  options.data_dir = dir.string();
  options.log.durability = log::Durability::kNone;
  auto context = std::make_shared<connect::ConnectContext>(options);
  auto registry = std::make_unique<connect::ConnectorRegistry>(context);
  auto log = context->log().ValueOrDie();
  (void)log->create_stream("raw", 4);
  (void)log->create_stream("results", 1);
  // 1 M events: the 100k records ten times over, each pass with its own IDs ("B<pass>-<n>").
  constexpr int kPasses = 10;
  const std::string prefix = "{\"ID\":\"B-";
  std::vector<std::string> bodies(500);
  std::vector<std::string> keys(500);
  std::vector<log::AppendRecord> records;
  for (int pass = 0; pass < kPasses; ++pass) {
    for (size_t i = 0; i < ev.size(); i += 500) {
      const size_t n = std::min<size_t>(500, ev.size() - i);
      records.clear();
      for (size_t j = 0; j < n; ++j) {
        const std::string& e = ev[i + j];
        bodies[j] = "{\"ID\":\"B" + std::to_string(pass) + "-" + e.substr(prefix.size());
        keys[j] = std::to_string((i + j) % 16);
        records.push_back({keys[j], bodies[j], std::nullopt});
      }
      (void)log->append("raw", records);
    }
  }
  const int64_t total_events = int64_t(ev.size()) * kPasses;
  sql::Session session;
  (void)session.execute_script(kSeedDdl);
  double cpu_seconds = 0;
  for (auto _ : state) {
    const double cpu_before = process_cpu_seconds();
    auto result = session.execute(kSeedInsert).ValueOrDie();
    auto job = exec::Job::make(*result.plan, *registry, {}).ValueOrDie();
    auto st = job->run();
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    cpu_seconds += process_cpu_seconds() - cpu_before;
    state.counters["severe"] = double(job->summary().sinks[0].rows_written);
  }
  // The job runs on its own thread: events per CPU-second of the whole process is the per-core
  // figure (wall time on a shared machine says more about the neighbours).
  state.counters["events_per_cpu_second"] =
      double(state.iterations()) * double(total_events) / cpu_seconds;
  state.SetItemsProcessed(state.iterations() * total_events);
  state.SetBytesProcessed(state.iterations() * total_bytes(ev) * kPasses);
  log.reset();
  registry.reset();
  context.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SeedJobOnLog)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
