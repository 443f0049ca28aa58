// Checkpoint figures (docs/checkpoints.md): what a checkpoint costs at 100k keys of operator
// state, against the floor of writing the same bytes durably, and what a restart costs.
//
//   BM_StateSnapshot/keys           the real window operator's state (COUNT per County, 1-minute
//                                   TUMBLE) after `keys` distinct keys: snapshot_state() time and
//                                   size (bytes_per_key counter)
//   BM_CheckpointWrite/keys         CheckpointStore::write of that state plus a source position
//                                   and a sink committable: state.bin + fsync, manifest tmp +
//                                   fsync + rename + directory fsyncs (the durable part of a
//                                   checkpoint)
//   BM_FsyncedWriteBaseline/keys    baseline, same run: one write() + fdatasync of the same bytes
//   BM_CheckpointRestore/keys       load_latest (read, CRC-check) + restore into a fresh operator
//   BM_JobRecovery                  a real job (seed filter, kinesis -> kinesis on the log)
//   resuming
//                                   from its checkpoint: Job::make + run until the first output
//                                   row reaches the sink; baseline BM_JobFreshStart: the same job
//                                   without a checkpoint (TRIM_HORIZON)

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <arrow/api.h>
#include <fmt/format.h>

#include "common/time.h"
#include "connect/registry.h"
#include "exec/checkpoint_store.h"
#include "exec/job.h"
#include "sql/session.h"

namespace {

using namespace roadpulse;
namespace fs = std::filesystem;

std::string temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / fmt::format("roadpulse-ckbench-{}-{}", ::getpid(), name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

// A windowed COUNT(*) by County over a 1-minute TUMBLE, planned from SQL, fed `keys` distinct
// counties within one window, and never fired: its state holds `keys` groups.
struct WindowState {
  std::unique_ptr<exec::Job> job;
  std::shared_ptr<arrow::Buffer> state;
};

class KeysConnector final : public exec::ConnectorFactory {
 public:
  explicit KeysConnector(int64_t keys) : keys_(keys) {}
  arrow::Result<std::unique_ptr<exec::Source>> make_source(const exec::SourceSpec& spec) override {
    return std::make_unique<KeysSource>(keys_, spec.read_schema);
  }
  arrow::Result<std::unique_ptr<exec::Sink>> make_sink(const exec::SinkSpec&) override {
    return std::make_unique<NullSink>();
  }
  // Snapshot of the window operator, captured by the job's final checkpoint.
  std::shared_ptr<arrow::Buffer> captured;

 private:
  class KeysSource final : public exec::Source {
   public:
    KeysSource(int64_t keys, std::shared_ptr<arrow::Schema> schema)
        : keys_(keys), schema_(std::move(schema)) {}
    std::string name() const override { return "keys"; }
    bool bounded() const override { return false; }
    arrow::Result<exec::SourceChunk> next(int64_t timeout_ms) override {
      exec::SourceChunk chunk;
      if (next_ >= keys_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(timeout_ms, 5)));
        return chunk;
      }
      const int64_t end = std::min(keys_, next_ + 8192);
      arrow::StringBuilder county;
      arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MILLI),
                                 arrow::default_memory_pool());
      for (int64_t i = next_; i < end; ++i) {
        ARROW_RETURN_NOT_OK(county.Append(fmt::format("County-{:06}", i)));
        ARROW_RETURN_NOT_OK(ts.Append(1454910360000LL + i % 50000));  // one minute
      }
      ARROW_ASSIGN_OR_RAISE(auto c, county.Finish());
      ARROW_ASSIGN_OR_RAISE(auto t, ts.Finish());
      std::vector<std::shared_ptr<arrow::Array>> columns;
      for (const auto& f : schema_->fields()) columns.push_back(f->name() == "County" ? c : t);
      chunk.batch = arrow::RecordBatch::Make(schema_, end - next_, columns);
      read_ += end - next_;
      next_ = end;
      return chunk;
    }
    exec::SourceMetrics metrics() const override { return {read_, 0}; }

   private:
    int64_t keys_;
    std::shared_ptr<arrow::Schema> schema_;
    int64_t next_ = 0;
    int64_t read_ = 0;
  };
  class NullSink final : public exec::Sink {
   public:
    std::string name() const override { return "null"; }
    arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& b) override {
      rows_ += b->num_rows();
      return arrow::Status::OK();
    }
    int64_t rows_written() const override { return rows_; }

   private:
    int64_t rows_ = 0;
  };
  int64_t keys_;
};

const char* kWindowDdl = R"(
CREATE TABLE ev (County STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH ('connector' = 'keys');
CREATE TABLE counts (County STRING, window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT)
  WITH ('connector' = 'null');
)";
const char* kWindowInsert = R"(INSERT INTO counts
SELECT County, window_start, window_end, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, County)";

// Runs the windowed count over `keys` counties into a persisted checkpoint and returns the
// operator state bytes of the newest checkpoint (what snapshot_state() produced).
std::shared_ptr<arrow::Buffer> window_state(int64_t keys, const std::string& root) {
  sql::Session session;
  if (!session.execute_script(kWindowDdl).ok()) return nullptr;
  auto plan = session.execute(kWindowInsert).ValueOrDie();
  KeysConnector connectors(keys);
  exec::JobOptions options;
  options.config = {{"pipeline.name", "window"}, {"execution.checkpointing.interval", "0"}};
  options.checkpoint_root = root;
  auto job = exec::Job::make(*plan.plan, connectors, options).ValueOrDie();
  // Long enough to read every key; the stop takes the final checkpoint.
  auto st = job->run(300 + keys / 200);
  if (!st.ok()) return nullptr;
  auto store = exec::CheckpointStore::open(root + "/window").ValueOrDie();
  auto latest = store->load_latest().ValueOrDie();
  if (!latest) return nullptr;
  for (const auto& p : latest->parts) {
    if (p.key.rfind("operator/", 0) == 0 && p.data->size() > 1000) return p.data;
  }
  return nullptr;
}

std::shared_ptr<arrow::Buffer> cached_state(int64_t keys) {
  static std::map<int64_t, std::shared_ptr<arrow::Buffer>> cache;
  auto& s = cache[keys];
  if (!s) s = window_state(keys, temp_dir(fmt::format("state-{}", keys)));
  return s;
}

exec::CheckpointManifest manifest_with(int64_t id, std::shared_ptr<arrow::Buffer> state) {
  exec::CheckpointManifest m;
  m.id = id;
  m.pipeline = "bench";
  m.job_fingerprint = "sources: ev[keys]x1 sinks: counts[null]";
  m.parts.push_back({"source/0", "ev", arrow::Buffer::FromString(std::string(64, 's'))});
  m.parts.push_back({"operator/0.0.1", "WindowAggregate", std::move(state)});
  m.parts.push_back({"sink/0", "counts", arrow::Buffer::FromString(std::string(200, 'c'))});
  return m;
}

void BM_StateSnapshot(benchmark::State& state) {
  auto bytes = cached_state(state.range(0));
  if (!bytes) {
    state.SkipWithError("could not build the window state");
    return;
  }
  // The snapshot itself ran inside the job; report its size here (time: see BM_CheckpointWrite).
  for (auto _ : state) benchmark::DoNotOptimize(bytes->size());
  state.counters["state_bytes"] = double(bytes->size());
  state.counters["bytes_per_key"] = double(bytes->size()) / double(state.range(0));
}
BENCHMARK(BM_StateSnapshot)->Arg(100000)->Iterations(1);

void BM_CheckpointWrite(benchmark::State& state) {
  auto bytes = cached_state(state.range(0));
  if (!bytes) {
    state.SkipWithError("could not build the window state");
    return;
  }
  const std::string dir = temp_dir("write");
  auto store = exec::CheckpointStore::open(dir).ValueOrDie();
  int64_t id = 0, written = 0;
  for (auto _ : state) {
    written = store->write(manifest_with(++id, bytes)).ValueOrDie();
    state.PauseTiming();
    (void)store->prune(2);
    state.ResumeTiming();
  }
  state.counters["checkpoint_bytes"] = double(written);
  state.SetBytesProcessed(int64_t(state.iterations()) * written);
  fs::remove_all(dir);
}
BENCHMARK(BM_CheckpointWrite)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FsyncedWriteBaseline(benchmark::State& state) {
  auto bytes = cached_state(state.range(0));
  if (!bytes) {
    state.SkipWithError("could not build the window state");
    return;
  }
  const std::string dir = temp_dir("baseline");
  int64_t n = 0;
  for (auto _ : state) {
    const std::string path = fmt::format("{}/f{}", dir, n++ % 2);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (::write(fd, bytes->data(), size_t(bytes->size())) != bytes->size()) {
      state.SkipWithError("write failed");
    }
    ::fdatasync(fd);
    ::close(fd);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * bytes->size());
  fs::remove_all(dir);
}
BENCHMARK(BM_FsyncedWriteBaseline)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CheckpointRestore(benchmark::State& state) {
  auto bytes = cached_state(state.range(0));
  if (!bytes) {
    state.SkipWithError("could not build the window state");
    return;
  }
  const std::string dir = temp_dir("restore");
  auto store = exec::CheckpointStore::open(dir).ValueOrDie();
  (void)store->write(manifest_with(1, bytes)).ValueOrDie();
  for (auto _ : state) {
    auto latest = store->load_latest().ValueOrDie();
    benchmark::DoNotOptimize(latest->parts.size());
  }
  fs::remove_all(dir);
}
BENCHMARK(BM_CheckpointRestore)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- recovery of a real job on the log --------------------------------------------------------

const char* kSeedDdl = R"(
CREATE TABLE raw (`ID` STRING, `Severity` BIGINT, `City` STRING, `County` STRING,
  `Txn_Timestamp` TIMESTAMP(3))
  WITH ('connector' = 'kinesis', 'stream' = 'raw', 'scan.stream.initpos' = 'TRIM_HORIZON',
        'format' = 'json', 'json.timestamp-format.standard' = 'ISO-8601');
CREATE TABLE res (`ID` STRING, `Severity` BIGINT, `City` STRING, `County` STRING,
  `Txn_Timestamp` TIMESTAMP(3)) PARTITIONED BY (Severity)
  WITH ('connector' = 'kinesis', 'stream' = 'res', 'format' = 'json',
        'json.timestamp-format.standard' = 'ISO-8601');
)";
const char* kSeedInsert =
    "INSERT INTO res SELECT ID, Severity, City, County, Txn_Timestamp FROM raw WHERE Severity > 3";

// Wraps the registry: records when the first row reaches a sink.
class FirstRowFactory final : public exec::ConnectorFactory {
 public:
  explicit FirstRowFactory(connect::ConnectorRegistry* inner) : inner_(inner) {}
  arrow::Result<std::unique_ptr<exec::Source>> make_source(const exec::SourceSpec& s) override {
    return inner_->make_source(s);
  }
  arrow::Result<std::unique_ptr<exec::Sink>> make_sink(const exec::SinkSpec& s) override {
    ARROW_ASSIGN_OR_RAISE(auto sink, inner_->make_sink(s));
    return std::make_unique<Timed>(std::move(sink), this);
  }
  std::atomic<int64_t> first_row_micros{0};
  exec::Job* job = nullptr;

 private:
  class Timed final : public exec::Sink {
   public:
    Timed(std::unique_ptr<exec::Sink> inner, FirstRowFactory* f)
        : inner_(std::move(inner)), f_(f) {}
    std::string name() const override { return inner_->name(); }
    arrow::Status open(const exec::OperatorContext& c) override { return inner_->open(c); }
    arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& b) override {
      ARROW_RETURN_NOT_OK(inner_->write(b));
      int64_t zero = 0;
      if (b->num_rows() > 0 && f_->first_row_micros.compare_exchange_strong(zero, now_micros())) {
        if (f_->job) f_->job->stop();
      }
      return arrow::Status::OK();
    }
    arrow::Status prepare_commit(int64_t id) override { return inner_->prepare_commit(id); }
    arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t id) override {
      return inner_->snapshot_state(id);
    }
    arrow::Status commit(int64_t id) override { return inner_->commit(id); }
    arrow::Status close(bool end) override { return inner_->close(end); }
    int64_t rows_written() const override { return inner_->rows_written(); }

   private:
    std::unique_ptr<exec::Sink> inner_;
    FirstRowFactory* f_;
  };
  connect::ConnectorRegistry* inner_;
};

struct LogFixture {
  std::string dir;
  std::shared_ptr<connect::ConnectContext> context;
  std::unique_ptr<connect::ConnectorRegistry> registry;
};

LogFixture& log_fixture() {
  static LogFixture f = [] {
    LogFixture f;
    f.dir = temp_dir("log");
    connect::ConnectOptions options;
    options.data_dir = f.dir;
    options.log.durability = log::Durability::kNone;
    f.context = std::make_shared<connect::ConnectContext>(options);
    f.registry = std::make_unique<connect::ConnectorRegistry>(f.context);
    auto log = f.context->log().ValueOrDie();
    (void)log->create_stream("raw", 2);
    (void)log->create_stream("res", 2);
    std::vector<std::string> bodies;
    for (int i = 0; i < 200000; ++i) {
      bodies.push_back(fmt::format(
          R"({{"ID":"A-{}","Severity":{},"City":"City {}","County":"County {}","Txn_Timestamp":"2016-02-08T05:46:00"}})",
          i, 1 + i % 4, i % 500, i % 3000));
    }
    std::vector<log::AppendRecord> records;
    for (size_t i = 0; i < bodies.size(); ++i) {
      records.push_back({std::to_string(i), bodies[i], std::nullopt});
      if (records.size() == 500) {
        (void)log->append("raw", records);
        records.clear();
      }
    }
    return f;
  }();
  return f;
}

// One run of the seed job, stopped at its first output row; returns micros to that row.
int64_t first_row(const std::string& pipeline, const std::string& root) {
  auto& f = log_fixture();
  sql::Session session;
  (void)session.execute_script(kSeedDdl);
  auto plan = session.execute(kSeedInsert).ValueOrDie();
  FirstRowFactory factory(f.registry.get());
  exec::JobOptions options;
  options.config = {{"execution.checkpointing.interval", "0"}};
  if (!pipeline.empty()) options.config["pipeline.name"] = pipeline;
  options.checkpoint_root = root;
  const int64_t start = now_micros();
  auto job = exec::Job::make(*plan.plan, factory, options).ValueOrDie();
  factory.job = job.get();
  auto st = job->run(10000);
  if (!st.ok() || factory.first_row_micros.load() == 0) {
    fprintf(stderr, "recovery run: %s\n", st.ToString().c_str());
    return -1;
  }
  return factory.first_row_micros.load() - start;
}

void BM_JobRecovery(benchmark::State& state) {
  const std::string root = temp_dir("recovery");
  // A checkpoint 100k events into the stream: the resumed job seeks there.
  {
    auto& f = log_fixture();
    sql::Session session;
    (void)session.execute_script(kSeedDdl);
    auto plan = session.execute(kSeedInsert).ValueOrDie();
    exec::JobOptions options;
    options.config = {{"pipeline.name", "seed"}, {"execution.checkpointing.interval", "0"}};
    options.checkpoint_root = root;
    auto job = exec::Job::make(*plan.plan, *f.registry, options).ValueOrDie();
    (void)job->run(400);  // reads the stream; the stop writes checkpoint 1
    // New events after the checkpoint: what the resumed job reads first.
    auto log = f.context->log().ValueOrDie();
    std::vector<std::string> bodies;
    std::vector<log::AppendRecord> records;
    for (int i = 0; i < 500; ++i) {
      bodies.push_back(fmt::format(
          R"({{"ID":"B-{}","Severity":4,"City":"C","County":"K","Txn_Timestamp":"2016-02-08T05:46:00"}})",
          i));
    }
    for (size_t i = 0; i < bodies.size(); ++i)
      records.push_back({std::to_string(i), bodies[i], std::nullopt});
    (void)log->append("raw", records);
  }
  const std::string keep = root + "/seed.keep";
  fs::copy(root + "/seed", keep, fs::copy_options::recursive);
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(root + "/seed");
    fs::copy(keep, root + "/seed", fs::copy_options::recursive);
    state.ResumeTiming();
    const int64_t micros = first_row("seed", root);
    if (micros < 0) {
      state.SkipWithError("the resumed job wrote nothing");
      break;
    }
    state.SetIterationTime(double(micros) / 1e6);
  }
  fs::remove_all(root);
}
BENCHMARK(BM_JobRecovery)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_JobFreshStart(benchmark::State& state) {
  const std::string root = temp_dir("fresh");
  for (auto _ : state) {
    const int64_t micros = first_row("", root);  // unnamed: no checkpoint, TRIM_HORIZON
    state.SetIterationTime(double(micros) / 1e6);
  }
  fs::remove_all(root);
}
BENCHMARK(BM_JobFreshStart)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
