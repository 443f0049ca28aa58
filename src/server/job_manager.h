#pragma once
// The jobs a server process runs, like a small Flink cluster's dispatcher: the pipeline's jobs
// (submitted by `roadpulse run`) and those users submit through the SQL gateway. Each job runs on
// its own thread until it ends, fails or is cancelled; finished jobs stay listed with their final
// summary and error so `roadpulse jobs list` and the dashboard can say what happened.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "exec/job.h"
#include "sql/logical_plan.h"

namespace roadpulse::server {

enum class JobState { kRunning, kFinished, kCancelled, kFailed };
const char* job_state_name(JobState state);

struct JobInfo {
  std::string id;    // "job-3"
  std::string name;  // pipeline.name or the gateway's name for it
  std::string sql;   // the statement(s) it runs
  JobState state = JobState::kRunning;
  int64_t started_ms = 0;
  int64_t ended_ms = 0;  // 0 while running
  std::string error;
  exec::JobSummary summary;
  exec::CheckpointStats checkpoints;
  /// Rows read per second over the last few seconds (0 when idle or finished).
  double records_per_second = 0;
  /// Backlog per source with a tip (exec::Job::lag()), polled while the job runs; empty once it
  /// ended or when no source is a stream.
  std::vector<exec::SourceLag> lag;
};

/// Called on a query job's thread once it ended: its error (OK when it finished or was stopped),
/// whether it was cancelled (`jobs cancel`, server stop) and its final summary.
using QueryEnded = std::function<void(const arrow::Status& status, bool cancel_requested,
                                      const exec::JobSummary& summary)>;

class JobManager {
 public:
  explicit JobManager(exec::ConnectorFactory* factory) : factory_(factory) {}
  ~JobManager();
  JobManager(const JobManager&) = delete;

  /// Plans the job now (planning errors come back here) and starts it on its own thread.
  arrow::Result<std::string> submit(std::unique_ptr<sql::StatementSetPlan> plan,
                                    exec::JobOptions options, std::string sql_text);
  /// A SELECT planned by the caller (exec::Job::make_query, rows going where the caller said),
  /// run like the other jobs: listed, cancellable, stopped with the server. It stops by itself
  /// after `max_duration_ms`, and as soon as `abandoned` (polled a few times a second, e.g. "the
  /// client of the streamed answer went away") returns true. Does not block.
  arrow::Result<std::string> submit_query(std::unique_ptr<sql::LogicalNode> query,
                                          std::unique_ptr<exec::Job> job, std::string name,
                                          std::string sql_text,
                                          std::optional<int64_t> max_duration_ms,
                                          std::function<bool()> abandoned, QueryEnded on_end);
  std::vector<JobInfo> list();
  std::optional<JobInfo> get(const std::string& id);
  /// Asks a running job to stop (its sinks commit what they wrote); KeyError for an unknown id.
  arrow::Status cancel(const std::string& id);
  /// Stops every running job and waits for them (graceful: final checkpoint, sinks closed).
  void stop_all();
  /// Blocks until every job has ended or `timeout_ms` passed; true when none is running.
  bool wait_all(int64_t timeout_ms);
  /// The first failed job's error, if any (for /readyz and `roadpulse run`'s exit status).
  std::optional<std::string> first_failure();

 private:
  struct Entry;
  JobInfo info(Entry& entry);
  void start(const std::shared_ptr<Entry>& entry, std::optional<int64_t> max_duration_ms);
  void watch_abandoned();

  exec::ConnectorFactory* factory_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Entry>> entries_;
  int next_id_ = 1;
  // One thread for every query with an `abandoned` check, started with the first.
  std::thread watcher_;
  std::condition_variable watcher_wake_;
  bool stopping_ = false;  // guarded by mutex_
};

}  // namespace roadpulse::server
