// The checkpoint protocol: the store's crash states (no manifest, torn manifest, corrupt state,
// pruning) and jobs that checkpoint, stop, crash between manifest and commit, and resume with
// exactly-once results, over a source and a two-phase-commit sink defined here whose "disk"
// outlives the Job objects.

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <arrow/api.h>
#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "exec/checkpoint_coordinator.h"
#include "exec/checkpoint_store.h"
#include "exec/job.h"
#include "sql/session.h"

namespace roadpulse::exec {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("roadpulse-checkpoint-test-" + std::to_string(::getpid()) +
                                         "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

CheckpointManifest manifest(int64_t id, std::vector<std::pair<std::string, std::string>> parts) {
  CheckpointManifest m;
  m.id = id;
  m.pipeline = "p";
  m.created_micros = 1000 + id;
  m.job_fingerprint = "sources: t sinks: u";
  for (auto& [key, data] : parts)
    m.parts.push_back({key, "owner " + key, arrow::Buffer::FromString(data)});
  return m;
}

TEST(CheckpointStoreTest, RoundTripAndCrashStates) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, CheckpointStore::open(dir.str()));
  ASSERT_OK_AND_ASSIGN(auto none, store->load_latest());
  EXPECT_FALSE(none.has_value());

  ASSERT_OK(store->write(manifest(1, {{"source/0", "pos-1"}, {"sink/0", ""}})).status());
  ASSERT_OK(
      store->write(manifest(2, {{"source/0", "pos-2"}, {"operator/0.0.1", "state 2"}})).status());
  ASSERT_OK(store->mark_committed(2));
  // Checkpoint 3 crashed after its state but before its manifest; 4 left only a .tmp manifest.
  fs::create_directories(dir.str() + "/chk-3");
  std::ofstream(dir.str() + "/chk-3/state.bin") << "partial";
  fs::create_directories(dir.str() + "/chk-4");
  std::ofstream(dir.str() + "/chk-4/_manifest.tmp") << "roadpulse-checkpoint 1\n";

  ASSERT_OK_AND_ASSIGN(auto latest, store->load_latest());
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, 2);
  EXPECT_TRUE(latest->committed);
  EXPECT_EQ(latest->pipeline, "p");
  ASSERT_NE(latest->find("operator/0.0.1"), nullptr);
  EXPECT_EQ(latest->find("operator/0.0.1")->data->ToString(), "state 2");
  EXPECT_EQ(latest->find("operator/0.0.1")->owner, "owner operator/0.0.1");
  EXPECT_EQ(latest->find("source/0")->data->ToString(), "pos-2");
  EXPECT_FALSE(fs::exists(dir.str() + "/chk-3"));  // incomplete attempts are removed
  EXPECT_FALSE(fs::exists(dir.str() + "/chk-4"));

  // A manifest without its `end` line is not trusted: the previous checkpoint is used.
  ASSERT_OK(store->write(manifest(5, {{"source/0", "pos-5"}})).status());
  {
    std::ifstream in(dir.str() + "/chk-5/_manifest");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    text.resize(text.find("end\n"));
    std::ofstream(dir.str() + "/chk-5/_manifest", std::ios::trunc) << text;
  }
  ASSERT_OK_AND_ASSIGN(latest, store->load_latest());
  EXPECT_EQ(latest->id, 2);

  // A complete manifest over corrupt state is an error naming the checkpoint, not a fallback.
  ASSERT_OK(store->write(manifest(6, {{"source/0", "pos-6"}})).status());
  {
    std::fstream f(dir.str() + "/chk-6/state.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.put('X');
  }
  auto corrupt = store->load_latest();
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.status().message().find("CRC"), std::string::npos);
  EXPECT_NE(corrupt.status().message().find("chk-6"), std::string::npos);
  fs::remove_all(dir.str() + "/chk-6");

  ASSERT_OK(store->write(manifest(7, {{"source/0", "pos-7"}})).status());
  ASSERT_OK(store->write(manifest(8, {{"source/0", "pos-8"}})).status());
  ASSERT_OK(store->prune(2));
  std::set<std::string> left;
  for (const auto& e : fs::directory_iterator(dir.str())) left.insert(e.path().filename());
  EXPECT_EQ(left, (std::set<std::string>{"chk-7", "chk-8"}));
  ASSERT_OK_AND_ASSIGN(int64_t max_id, store->max_id());
  EXPECT_EQ(max_id, 8);
}

TEST(CheckpointStoreTest, NamesWithSpacesAndDurations) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, CheckpointStore::open(dir.str()));
  auto m = manifest(1, {{"sink/0", "x"}});
  m.pipeline = "my job %1\nnext";
  m.parts[0].owner = "Filter(a = 'b c')";
  ASSERT_OK(store->write(m).status());
  ASSERT_OK_AND_ASSIGN(auto latest, store->load_latest());
  EXPECT_EQ(latest->pipeline, "my job %1\nnext");
  EXPECT_EQ(latest->parts[0].owner, "Filter(a = 'b c')");

  EXPECT_EQ(*parse_checkpoint_duration_ms("k", "10 s"), 10000);
  EXPECT_EQ(*parse_checkpoint_duration_ms("k", "200ms"), 200);
  EXPECT_EQ(*parse_checkpoint_duration_ms("k", "1 min"), 60000);
  EXPECT_EQ(*parse_checkpoint_duration_ms("k", "0"), 0);
  auto bad = parse_checkpoint_duration_ms("execution.checkpointing.interval", "fast");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("execution.checkpointing.interval"), std::string::npos);
  EXPECT_FALSE(parse_checkpoint_duration_ms("k", "5 weeks").ok());

  ASSERT_OK_AND_ASSIGN(auto config, checkpoint_config({{"pipeline.name", "a"}}, "/root"));
  EXPECT_EQ(config.dir, "/root/a");
  EXPECT_EQ(config.interval_ms, 10000);
  ASSERT_OK_AND_ASSIGN(config, checkpoint_config({}, "/root"));
  EXPECT_EQ(config.dir, "");  // unnamed jobs are not persisted
  EXPECT_FALSE(checkpoint_config({{"pipeline.name", "../x"}}, "/root").ok());
  EXPECT_FALSE(checkpoint_config({{"state.checkpoints.num-retained", "0"}}, "/root").ok());
}

// ---------------------------------------------------------------------------------------------
// Jobs over a counting source and a staged sink whose "disk" survives the Job objects.

struct Disk {
  std::mutex mutex;
  int64_t produced_limit = 1 << 30;  // the source ends (bounded) or idles here
  bool bounded = false;
  std::map<int64_t, std::vector<int64_t>> staged;  // by checkpoint id
  std::vector<int64_t> open_rows;                  // written, not prepared
  std::vector<int64_t> visible;                    // committed
  std::set<int64_t> committed_ids;
  int64_t fail_commit_of = -1;  // commit() of this checkpoint fails ("crash" before commit)
  int64_t restored_id = 0;
  bool restored_confirmed = false;
  std::string restored_position;
  int64_t replayed_commits = 0;
  std::atomic<int> source_nice{-100};  // the niceness of the thread reading the source
};

class CountingSource final : public Source {
 public:
  CountingSource(Disk* disk, std::shared_ptr<arrow::Schema> schema)
      : disk_(disk), schema_(std::move(schema)) {}
  std::string name() const override { return "counting"; }
  bool bounded() const override { return disk_->bounded; }
  arrow::Status open(const OperatorContext& context) override {
    if (context.restored_state) {
      disk_->restored_position = context.restored_state->ToString();
      next_ = std::stoll(disk_->restored_position);
    }
    return arrow::Status::OK();
  }
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_position(int64_t) override {
    return arrow::Buffer::FromString(std::to_string(next_));
  }
  arrow::Result<SourceChunk> next(int64_t timeout_ms) override {
    SourceChunk chunk;
    disk_->source_nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
    if (next_ >= disk_->produced_limit) {
      if (disk_->bounded) {
        chunk.end_of_input = true;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(timeout_ms, 5)));
      }
      return chunk;
    }
    arrow::Int64Builder b;
    const int64_t end = std::min(next_ + 7, disk_->produced_limit);
    for (int64_t i = next_; i < end; ++i) ARROW_RETURN_NOT_OK(b.Append(i));
    ARROW_ASSIGN_OR_RAISE(auto array, b.Finish());
    chunk.batch = arrow::RecordBatch::Make(schema_, end - next_, {array});
    read_ += end - next_;
    next_ = end;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    return chunk;
  }
  SourceMetrics metrics() const override { return {read_, 0}; }

 private:
  Disk* disk_;
  std::shared_ptr<arrow::Schema> schema_;
  int64_t next_ = 0;
  int64_t read_ = 0;
};

class StagedSink final : public Sink {
 public:
  explicit StagedSink(Disk* disk) : disk_(disk) {}
  std::string name() const override { return "staged"; }
  arrow::Status open(const OperatorContext& context) override {
    std::lock_guard lock(disk_->mutex);
    disk_->restored_id = context.restored_checkpoint_id;
    disk_->restored_confirmed = context.restored_commit_confirmed;
    std::set<int64_t> owed;
    if (context.restored_state) {
      std::istringstream in(context.restored_state->ToString());
      for (int64_t id; in >> id;) owed.insert(id);
    }
    // Replay the commit of what the checkpoint owns, drop what no checkpoint owns.
    for (auto it = disk_->staged.begin(); it != disk_->staged.end();) {
      if (owed.count(it->first)) {
        if (!context.restored_commit_confirmed) {
          ++disk_->replayed_commits;
          commit_locked(it->first, it->second);
        }
        ++it;
      } else {
        it = disk_->staged.erase(it);
      }
    }
    disk_->open_rows.clear();
    return arrow::Status::OK();
  }
  arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    std::lock_guard lock(disk_->mutex);
    auto a = std::static_pointer_cast<arrow::Int64Array>(batch->column(0));
    for (int64_t i = 0; i < a->length(); ++i) disk_->open_rows.push_back(a->Value(i));
    rows_ += batch->num_rows();
    return arrow::Status::OK();
  }
  arrow::Status prepare_commit(int64_t id) override {
    std::lock_guard lock(disk_->mutex);
    auto& slot = disk_->staged[id];
    slot.insert(slot.end(), disk_->open_rows.begin(), disk_->open_rows.end());
    disk_->open_rows.clear();
    pending_.push_back(id);
    return arrow::Status::OK();
  }
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t) override {
    std::string out;
    for (int64_t id : pending_) out += std::to_string(id) + " ";
    return arrow::Buffer::FromString(out);
  }
  arrow::Status commit(int64_t id) override {
    std::lock_guard lock(disk_->mutex);
    if (id == disk_->fail_commit_of) return arrow::Status::IOError("injected crash before commit");
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (*it <= id) {
        commit_locked(*it, disk_->staged[*it]);
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    return arrow::Status::OK();
  }
  arrow::Status close(bool end_of_data) override {
    std::lock_guard lock(disk_->mutex);
    disk_->open_rows.clear();  // never committed without a checkpoint
    return arrow::Status::OK();
  }
  int64_t rows_written() const override { return rows_; }

 private:
  void commit_locked(int64_t id, const std::vector<int64_t>& rows) {
    if (!disk_->committed_ids.insert(id).second) return;  // idempotent
    disk_->visible.insert(disk_->visible.end(), rows.begin(), rows.end());
  }
  Disk* disk_;
  std::vector<int64_t> pending_;
  int64_t rows_ = 0;
};

class DiskConnectors final : public ConnectorFactory {
 public:
  explicit DiskConnectors(Disk* disk) : disk_(disk) {}
  arrow::Result<std::unique_ptr<Source>> make_source(const SourceSpec& spec) override {
    return std::make_unique<CountingSource>(disk_, spec.read_schema);
  }
  arrow::Result<std::unique_ptr<Sink>> make_sink(const SinkSpec&) override {
    return std::make_unique<StagedSink>(disk_);
  }

 private:
  Disk* disk_;
};

class CheckpointJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(session_
                  .execute_script(R"(
        CREATE TABLE src (n BIGINT) WITH ('connector' = 'counting');
        CREATE TABLE dst (n BIGINT) WITH ('connector' = 'staged');
      )")
                  .status());
  }

  arrow::Status run(std::map<std::string, std::string> config, int64_t duration_ms,
                    bool from_scratch = false) {
    auto result = session_.execute("INSERT INTO dst SELECT n FROM src WHERE n >= 0");
    ARROW_RETURN_NOT_OK(result.status());
    JobOptions options;
    options.name = "test";
    options.config = std::move(config);
    options.checkpoint_root = root_.str();
    options.from_scratch = from_scratch;
    DiskConnectors connectors(&disk_);
    ARROW_ASSIGN_OR_RAISE(auto job, Job::make(*result->plan, connectors, options));
    auto st = job->run(duration_ms);
    last_stats_ = job->checkpoint_stats();
    last_summary_ = job->summary();
    return st;
  }

  // Every row the source produced is visible exactly once.
  void expect_exactly_once(int64_t upto) {
    std::vector<int64_t> rows = disk_.visible;
    std::sort(rows.begin(), rows.end());
    ASSERT_EQ(int64_t(rows.size()), upto);
    for (int64_t i = 0; i < upto; ++i) ASSERT_EQ(rows[size_t(i)], i) << "row " << i;
  }

  std::map<std::string, std::string> named() {
    return {{"pipeline.name", "pipe"}, {"execution.checkpointing.interval", "20 ms"}};
  }

  TempDir root_;
  Disk disk_;
  sql::Session session_;
  CheckpointStats last_stats_;
  JobSummary last_summary_;
};

TEST_F(CheckpointJobTest, StopResumeAndFinish) {
  // Run 1: unbounded, stopped by its duration: periodic checkpoints plus the final one.
  ASSERT_OK(run(named(), 300));
  EXPECT_GE(last_stats_.completed, 3);
  EXPECT_TRUE(last_stats_.persisted);
  EXPECT_EQ(last_stats_.restored_id, 0);
  const int64_t after_first = int64_t(disk_.visible.size());
  ASSERT_GT(after_first, 0);
  expect_exactly_once(after_first);  // the final checkpoint committed everything read

  // Run 2 resumes where run 1 stopped; the source is bounded now and the job runs to its end.
  disk_.produced_limit = after_first + 500;
  disk_.bounded = true;
  ASSERT_OK(run(named(), 5000));
  EXPECT_EQ(last_stats_.restored_id, disk_.restored_id);
  EXPECT_GT(disk_.restored_id, 0);
  EXPECT_TRUE(disk_.restored_confirmed);
  EXPECT_EQ(disk_.restored_position, std::to_string(after_first));
  expect_exactly_once(after_first + 500);

  // Run 3: the last checkpoint was a finished one: the job does not run again.
  const int64_t finished_id = last_stats_.last_id;
  ASSERT_OK(run(named(), 5000));
  EXPECT_TRUE(last_stats_.restored_finished);
  EXPECT_EQ(last_stats_.restored_id, finished_id);
  EXPECT_FALSE(last_stats_.restored_commit_replayed);  // it was confirmed
  EXPECT_EQ(last_stats_.completed, 0);
  EXPECT_EQ(last_summary_.sources.at(0).records_read, 0);
  EXPECT_FALSE(last_summary_.cancelled);
  expect_exactly_once(after_first + 500);

  // Run 4, --from-scratch: the sources start over (a new batch run).
  disk_.visible.clear();
  disk_.committed_ids.clear();
  disk_.produced_limit = 40;
  ASSERT_OK(run(named(), 5000, /*from_scratch=*/true));
  EXPECT_FALSE(last_stats_.restored_finished);
  EXPECT_EQ(last_stats_.restored_id, finished_id);
  EXPECT_EQ(last_summary_.sources.at(0).records_read, 40);
  expect_exactly_once(40);
}

TEST_F(CheckpointJobTest, CrashAfterTheFinalCheckpointIsDurableRecommitsWithoutRerunning) {
  // Only the start checkpoint (1) and the final one (2): the final commit "crashes".
  auto config = named();
  config["execution.checkpointing.interval"] = "0";
  disk_.bounded = true;
  disk_.produced_limit = 3000;
  disk_.fail_commit_of = 2;
  auto st = run(config, 5000);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("injected crash"), std::string::npos) << st.ToString();
  ASSERT_TRUE(fs::exists(root_.str() + "/pipe/chk-2/_manifest"));
  EXPECT_FALSE(fs::exists(root_.str() + "/pipe/chk-2/_committed"));
  EXPECT_TRUE(disk_.visible.empty());

  // Restart: the job had finished; its final commit is replayed and nothing is read again.
  disk_.fail_commit_of = -1;
  ASSERT_OK(run(config, 5000));
  EXPECT_TRUE(last_stats_.restored_finished);
  EXPECT_TRUE(last_stats_.restored_commit_replayed);
  EXPECT_EQ(last_stats_.restored_id, 2);
  EXPECT_EQ(disk_.replayed_commits, 1);
  EXPECT_EQ(last_summary_.sources.at(0).records_read, 0);
  EXPECT_EQ(last_summary_.sinks.at(0).rows_written, 0);
  EXPECT_TRUE(fs::exists(root_.str() + "/pipe/chk-2/_committed"));
  EXPECT_FALSE(fs::exists(root_.str() + "/pipe/chk-3"));
  expect_exactly_once(3000);

  // Again: now confirmed, nothing to replay, still nothing read.
  ASSERT_OK(run(config, 5000));
  EXPECT_TRUE(last_stats_.restored_finished);
  EXPECT_FALSE(last_stats_.restored_commit_replayed);
  EXPECT_EQ(disk_.replayed_commits, 1);
  expect_exactly_once(3000);
}

TEST_F(CheckpointJobTest, LowPriorityJobsRunTheirThreadsAtNice10) {
  disk_.bounded = true;
  disk_.produced_limit = 50;
  const int caller = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
  ASSERT_OK(run({{"pipeline.priority", "normal"}}, 5000));
  EXPECT_EQ(disk_.source_nice.load(), caller);
  disk_.visible.clear();
  disk_.committed_ids.clear();
  ASSERT_OK(run({{"pipeline.priority", "LOW"}}, 5000));
  EXPECT_EQ(disk_.source_nice.load(), kLowPriorityNice);
  expect_exactly_once(50);
  // The caller's own thread keeps its priority (it could not get it back).
  EXPECT_EQ(::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid))), caller);
  auto st = run({{"pipeline.priority", "urgent"}}, 5000);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("'pipeline.priority' = 'urgent'"), std::string::npos)
      << st.ToString();
}

TEST_F(CheckpointJobTest, KillAtNamesItsChoices) {
  disk_.bounded = true;
  disk_.produced_limit = 10;
  auto config = named();
  config["debug.kill-at"] = "the-end";
  auto st = run(config, 5000);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("debug.kill-at"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("final-checkpoint-durable"), std::string::npos);
}

TEST_F(CheckpointJobTest, KillAtFinalCheckpointDurableKillsTheProcess) {
  disk_.bounded = true;
  disk_.produced_limit = 100;
  auto config = named();
  config["debug.kill-at"] = "final-checkpoint-durable";
  // A child process runs the job and must die by SIGKILL at its final checkpoint ("threadsafe":
  // the child starts afresh rather than forking a process that has threads).
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT((void)run(config, 5000), ::testing::KilledBySignal(SIGKILL),
              "final-checkpoint-durable");
}

TEST_F(CheckpointJobTest, CrashBetweenManifestAndCommitIsReplayed) {
  // The sink's commit of checkpoint 3 fails after its manifest is durable: the job dies there.
  disk_.fail_commit_of = 3;
  disk_.produced_limit = 4000;  // then idle: checkpoint 3 covers at most this much
  auto st = run(named(), 5000);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("injected crash"), std::string::npos);
  EXPECT_EQ(disk_.committed_ids.count(3), 0u);
  ASSERT_TRUE(fs::exists(root_.str() + "/pipe/chk-3/_manifest"));
  EXPECT_FALSE(fs::exists(root_.str() + "/pipe/chk-3/_committed"));

  // Restart: checkpoint 3 is the one to resume from; its commit is replayed before anything runs.
  disk_.fail_commit_of = -1;
  disk_.produced_limit = 8000;
  disk_.bounded = true;
  ASSERT_OK(run(named(), 5000));
  EXPECT_EQ(disk_.restored_id, 3);
  EXPECT_FALSE(disk_.restored_confirmed);
  EXPECT_EQ(disk_.replayed_commits, 1);
  EXPECT_TRUE(last_stats_.restored_commit_replayed);
  expect_exactly_once(8000);
}

TEST_F(CheckpointJobTest, UnnamedJobsAreNotPersisted) {
  disk_.produced_limit = 1000;
  disk_.bounded = true;
  ASSERT_OK(run({{"execution.checkpointing.interval", "10 ms"}}, 5000));
  EXPECT_TRUE(last_stats_.enabled);
  EXPECT_FALSE(last_stats_.persisted);
  EXPECT_GE(last_stats_.completed, 1);
  expect_exactly_once(1000);
  EXPECT_TRUE(fs::is_empty(root_.str()));
}

TEST_F(CheckpointJobTest, AnotherJobUnderTheSameNameIsRefused) {
  disk_.produced_limit = 100;
  ASSERT_OK(run(named(), 100));
  ASSERT_OK(session_.execute_script("CREATE TABLE dst2 (n BIGINT) WITH ('connector' = 'staged');")
                .status());
  auto result = session_.execute("INSERT INTO dst2 SELECT n FROM src");
  ASSERT_OK(result.status());
  JobOptions options;
  options.config = named();
  options.checkpoint_root = root_.str();
  DiskConnectors connectors(&disk_);
  ASSERT_OK_AND_ASSIGN(auto job, Job::make(*result->plan, connectors, options));
  auto st = job->run(100);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("different job"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("pipeline.name"), std::string::npos);
}

}  // namespace
}  // namespace roadpulse::exec
