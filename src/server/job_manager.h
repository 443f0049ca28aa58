#pragma once
// The jobs a server process runs, like a small Flink cluster's dispatcher: the pipeline's jobs
// (submitted by `roadpulse run`) and those users submit through the SQL gateway. Each job runs on
// its own thread until it ends, fails or is cancelled; finished jobs stay listed with their final
// summary and error so `roadpulse jobs list` and the dashboard can say what happened.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
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

class JobManager {
 public:
  explicit JobManager(exec::ConnectorFactory* factory) : factory_(factory) {}
  ~JobManager();
  JobManager(const JobManager&) = delete;

  /// Plans the job now (planning errors come back here) and starts it on its own thread.
  arrow::Result<std::string> submit(std::unique_ptr<sql::StatementSetPlan> plan,
                                    exec::JobOptions options, std::string sql_text);
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

  exec::ConnectorFactory* factory_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Entry>> entries_;
  int next_id_ = 1;
};

}  // namespace roadpulse::server
