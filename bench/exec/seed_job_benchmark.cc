// The seed job's work per event (JSON in, filter Severity > 3, 5-field JSON out), measured on real
// accident rows (Dec21 sample, typed JSON like `roadpulse simulate` emits, ~1.2 KB per event),
// single thread, with peers in the same run:
//   BM_SimdjsonExtract5Fields  baseline: simdjson on-demand pulling the 5 fields out of each record
//   BM_SeedOperators           our decoder (Arrow batch) + filter + JSON encoder, 4096-event
//   batches BM_SeedJobOnLog            the whole job: `roadpulse sql`'s engine reading a log stream
//   and
//                              appending the results to another (durability none, one core)
// items_per_second is events/s per core.

#include <benchmark/benchmark.h>
#include <sys/resource.h>

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
  std::ifstream in(std::string(ROADPULSE_SOURCE_DIR) +
                   "/../shared/data/us_accidents_dec21_head.csv");
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

void BM_SeedOperators(benchmark::State& state) {
  const auto& ev = events();
  sql::Session session;
  if (!session.execute_script(kSeedDdl).ok()) {
    state.SkipWithError("seed DDL failed");
    return;
  }
  auto table = session.catalog().table("us_accidents_stream");
  auto full = table->physical_schema().to_arrow();
  std::vector<int> projection;
  for (const char* name : {"ID", "Severity", "City", "County", "Txn_Timestamp"}) {
    projection.push_back(full->GetFieldIndex(name));
  }
  exec::JsonFormatOptions options;
  auto decoder = exec::JsonDecoder::make(full, projection, options).ValueOrDie();
  auto encoder = exec::JsonEncoder::make(decoder->output_schema(), options).ValueOrDie();
  auto predicate = sql::BoundExpr::call(">", sql::SqlType::boolean(), {});
  predicate->args.push_back(sql::BoundExpr::column(1, "Severity", sql::SqlType::bigint()));
  predicate->args.push_back(sql::BoundExpr::make_literal(std::make_shared<arrow::Int64Scalar>(3),
                                                         sql::SqlType::bigint()));
  auto filter = exec::CompiledExpr::compile(*predicate).ValueOrDie();
  std::vector<std::string_view> views(ev.begin(), ev.end());
  constexpr size_t kBatch = 4096;
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
  (void)log->create_stream("raw", 1);
  (void)log->create_stream("results", 1);
  std::vector<log::AppendRecord> records;
  for (const auto& e : ev) records.push_back({"k", e, std::nullopt});
  for (size_t i = 0; i < records.size(); i += 500) {
    const size_t n = std::min<size_t>(500, records.size() - i);
    (void)log->append("raw", std::span(records.data() + i, n));
  }
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
      double(state.iterations()) * double(ev.size()) / cpu_seconds;
  state.SetItemsProcessed(state.iterations() * int64_t(ev.size()));
  state.SetBytesProcessed(state.iterations() * total_bytes(ev));
  log.reset();
  registry.reset();
  context.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SeedJobOnLog)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
