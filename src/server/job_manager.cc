#include "server/job_manager.h"

#include <chrono>
#include <condition_variable>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/time.h"

namespace roadpulse::server {

const char* job_state_name(JobState state) {
  switch (state) {
    case JobState::kRunning:
      return "RUNNING";
    case JobState::kFinished:
      return "FINISHED";
    case JobState::kCancelled:
      return "CANCELED";  // Flink's spelling, which its tools and users grep for
    case JobState::kFailed:
      return "FAILED";
  }
  return "?";
}

namespace {
int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

struct JobManager::Entry {
  std::string id;
  std::string name;
  std::string sql;
  std::unique_ptr<sql::StatementSetPlan> plan;  // the job may refer to it while running
  std::unique_ptr<sql::LogicalNode> query;      // ... or to this, for a query
  std::unique_ptr<exec::Job> job;
  std::function<bool()> abandoned;  // queries: stop once it says so
  QueryEnded on_end;
  std::atomic<bool> cancel_requested{false};
  std::thread thread;
  std::atomic<bool> done{false};
  JobState state = JobState::kRunning;  // guarded by the manager's mutex once done
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
  std::string error;
  // Rate over a sliding sample, updated when listed.
  int64_t rate_at_ms = 0;
  int64_t rate_records = 0;
  double rate = 0;
};

JobManager::~JobManager() {
  stop_all();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  watcher_wake_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

arrow::Result<std::string> JobManager::submit(std::unique_ptr<sql::StatementSetPlan> plan,
                                              exec::JobOptions options, std::string sql_text) {
  auto entry = std::make_shared<Entry>();
  {
    std::lock_guard lock(mutex_);
    entry->id = "job-" + std::to_string(next_id_++);
  }
  entry->name = options.name;
  entry->sql = std::move(sql_text);
  entry->plan = std::move(plan);
  ARROW_ASSIGN_OR_RAISE(entry->job, exec::Job::make(*entry->plan, *factory_, std::move(options)));
  start(entry, std::nullopt);
  return entry->id;
}

arrow::Result<std::string> JobManager::submit_query(std::unique_ptr<sql::LogicalNode> query,
                                                    std::unique_ptr<exec::Job> job,
                                                    std::string name, std::string sql_text,
                                                    std::optional<int64_t> max_duration_ms,
                                                    std::function<bool()> abandoned,
                                                    QueryEnded on_end) {
  auto entry = std::make_shared<Entry>();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return arrow::Status::Cancelled("the server is stopping");
    entry->id = "job-" + std::to_string(next_id_++);
    if (abandoned && !watcher_.joinable()) watcher_ = std::thread([this] { watch_abandoned(); });
  }
  entry->name = std::move(name);
  entry->sql = std::move(sql_text);
  entry->query = std::move(query);
  entry->job = std::move(job);
  entry->abandoned = std::move(abandoned);
  entry->on_end = std::move(on_end);
  start(entry, max_duration_ms);
  return entry->id;
}

void JobManager::start(const std::shared_ptr<Entry>& entry,
                       std::optional<int64_t> max_duration_ms) {
  entry->started_ms = wall_ms();
  {
    std::lock_guard lock(mutex_);
    entries_.push_back(entry);
  }
  spdlog::debug("job {} ({}) started:\n{}", entry->id, entry->name, entry->job->describe());
  entry->thread = std::thread([this, entry, max_duration_ms] {
    auto st = entry->job->run(max_duration_ms);
    const auto summary = entry->job->summary();
    const bool cancelled = summary.cancelled;
    if (entry->on_end) entry->on_end(st, entry->cancel_requested.load(), summary);
    std::lock_guard lock(mutex_);
    entry->ended_ms = wall_ms();
    if (!st.ok()) {
      entry->state = JobState::kFailed;
      entry->error = st.message();
      spdlog::error("job {} ({}) failed: {}", entry->id, entry->name, st.message());
    } else {
      entry->state = cancelled ? JobState::kCancelled : JobState::kFinished;
      spdlog::info("job {} ({}) {}", entry->id, entry->name, job_state_name(entry->state));
    }
    entry->done = true;
  });
}

void JobManager::watch_abandoned() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    for (auto& e : entries_) {
      if (e->abandoned && !e->done.load() && e->abandoned()) e->job->stop();
    }
    watcher_wake_.wait_for(lock, std::chrono::milliseconds(200));
  }
}

JobInfo JobManager::info(Entry& entry) {
  JobInfo info;
  info.id = entry.id;
  info.name = entry.name;
  info.sql = entry.sql;
  info.state = entry.state;
  info.started_ms = entry.started_ms;
  info.ended_ms = entry.ended_ms;
  info.error = entry.error;
  info.summary = entry.job->summary();
  info.checkpoints = entry.job->checkpoint_stats();
  if (entry.state == JobState::kRunning) info.lag = entry.job->lag();
  int64_t read = 0;
  for (const auto& s : info.summary.sources) read += s.records_read;
  const int64_t now = wall_ms();
  if (entry.state != JobState::kRunning) {
    entry.rate = 0;
  } else if (entry.rate_at_ms == 0) {
    entry.rate_at_ms = now;
    entry.rate_records = read;
  } else if (now - entry.rate_at_ms >= 1000) {
    entry.rate = double(read - entry.rate_records) * 1000.0 / double(now - entry.rate_at_ms);
    entry.rate_at_ms = now;
    entry.rate_records = read;
  }
  info.records_per_second = entry.rate;
  return info;
}

std::vector<JobInfo> JobManager::list() {
  std::lock_guard lock(mutex_);
  std::vector<JobInfo> out;
  for (auto& e : entries_) out.push_back(info(*e));
  return out;
}

std::optional<JobInfo> JobManager::get(const std::string& id) {
  std::lock_guard lock(mutex_);
  for (auto& e : entries_) {
    if (e->id == id || e->name == id) return info(*e);
  }
  return std::nullopt;
}

arrow::Status JobManager::cancel(const std::string& id) {
  std::lock_guard lock(mutex_);
  for (auto& e : entries_) {
    if (e->id == id || e->name == id) {
      if (!e->done.load()) e->cancel_requested = true;
      e->job->stop();
      return arrow::Status::OK();
    }
  }
  return arrow::Status::KeyError("no job '", id, "' (roadpulse jobs list shows the jobs)");
}

void JobManager::stop_all() {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::lock_guard lock(mutex_);
    entries = entries_;
  }
  for (auto& e : entries) {
    if (!e->done.load()) e->cancel_requested = true;
    e->job->stop();
  }
  for (auto& e : entries) {
    if (e->thread.joinable()) e->thread.join();
  }
}

bool JobManager::wait_all(int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    bool running = false;
    {
      std::lock_guard lock(mutex_);
      for (auto& e : entries_) running |= !e->done.load();
    }
    if (!running) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::optional<std::string> JobManager::first_failure() {
  std::lock_guard lock(mutex_);
  for (auto& e : entries_) {
    if (e->state == JobState::kFailed) return e->id + " (" + e->name + "): " + e->error;
  }
  return std::nullopt;
}

}  // namespace roadpulse::server
