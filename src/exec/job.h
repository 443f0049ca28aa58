#pragma once
// roadpulse::exec — the execution engine. It turns the SQL front end's logical plans into running
// jobs: sources (from a ConnectorFactory) push arrow::RecordBatches through fused chains of
// operators (scan projection + watermark + pushed filter, filters, projections) into sinks.
//
// A Job runs one INSERT or an EXECUTE STATEMENT SET. Scans of the same table (same options) in
// one job share a single Source that reads the union of their columns, so a stream feeding
// several INSERTs is read once. Each shared source runs on its own thread; a sink fed by several
// sources (UNION ALL, or two INSERTs into one table) serializes their writes. A bounded job (every
// source finite) ends when all sources are done, after flushing and committing every sink; an
// unbounded one runs until stop(), its cancel flag or its duration.
//
// Table options can be overridden per job without editing the SQL, through the session
// configuration: `SET 'table-option.<table>.<key>' = '<value>'` (or `roadpulse sql -D ...`), e.g.
// `table-option.us_accidents_stream.scan.stream.initpos = TRIM_HORIZON`.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/status.h>

#include "exec/checkpoint_coordinator.h"
#include "exec/connector.h"
#include "sql/logical_plan.h"

namespace roadpulse::exec {

struct JobOptions {
  std::string name = "roadpulse-job";
  /// Session configuration (SET key = value); `table-option.*` keys override table options.
  std::map<std::string, std::string> config;
  /// Polled while running; the job stops (cancelled, sinks flushed) once it reads true.
  const std::atomic<bool>* cancel = nullptr;
  /// Rows per batch sources aim for.
  int64_t batch_rows = 4096;
  /// Where checkpoints live when `state.checkpoints.dir` is not set (the CLI passes
  /// <data-dir>/checkpoints); a job persists and resumes checkpoints under
  /// `<dir>/<pipeline.name>` only when `pipeline.name` is set (docs/checkpoints.md).
  std::string checkpoint_root;
  /// Run a named job from the beginning although it has checkpoints (`roadpulse sql
  /// --from-scratch`): sources and operators start fresh; the sinks still complete the newest
  /// checkpoint's commit first, so nothing it staged is lost. Without it a bounded job whose
  /// newest checkpoint is its final one does not run again (it only completes that commit).
  bool from_scratch = false;
};

struct JobSummary {
  struct SourceStats {
    std::string table;
    std::string connector;
    int64_t records_read = 0;
    int64_t records_rejected = 0;
  };
  struct SinkStats {
    std::string table;
    std::string connector;
    int64_t rows_written = 0;
  };
  std::vector<SourceStats> sources;
  std::vector<SinkStats> sinks;
  /// Rows dropped because every window they belong to had fired (behind the watermark).
  int64_t late_records = 0;
  bool cancelled = false;  // stopped before the sources ended
  int64_t elapsed_micros = 0;
  CheckpointStats checkpoints;
};

/// How far behind one source of a job is (Source::lag(), per split).
struct SourceLag {
  std::string table;
  std::string connector;
  std::vector<SplitLag> splits;
  /// Records behind, over every split.
  int64_t records() const;
  /// The most any split is behind in append time; -1 when no split can tell.
  int64_t millis() const;
};

/// Receives a query's result batches (SELECT in the shell). An updating result (unwindowed
/// GROUP BY on an unbounded input) carries a trailing int8 `_rowkind` column (has_row_kind()).
using RowCallback = std::function<arrow::Status(const std::shared_ptr<arrow::RecordBatch>&)>;

/// The options a job uses for `table`: its WITH clause with `table-option.<name>.*` overrides.
/// 'pipeline.priority': how the job's threads compete for CPU with the process's other threads.
/// `low` (nice 10 for every thread of the job: the coordinator, the source threads and what
/// they start; a CPU weight 1/9 of a normal thread's) lets a job that may lag (the default
/// pipeline's lake job) yield the CPU to one that must not (the real-time job behind alerts);
/// `normal` is the default. Not nice 19: its 1/68 weight can starve the job for minutes on a
/// busy machine (CI), and what the real-time job gains beyond 1/9 is small.
inline constexpr const char* kJobPriorityKey = "pipeline.priority";
inline constexpr int kLowPriorityNice = 10;
/// Runs `fn` on a thread of its own at nice kLowPriorityNice and waits for it. Niceness is per
/// thread on Linux and threads inherit their creator's, so every thread `fn` starts runs at low
/// priority too, while the caller's thread keeps its own (an unprivileged thread cannot raise its
/// priority back). `who` names the work in the warning logged if the priority cannot be lowered.
arrow::Status run_at_low_priority(const std::string& who, const std::function<arrow::Status()>& fn);
enum class JobPriority { kNormal, kLow };
arrow::Result<JobPriority> job_priority(const std::map<std::string, std::string>& config);

TableOptions effective_options(const sql::CatalogTable& table,
                               const std::map<std::string, std::string>& config);

class Job {
 public:
  /// Plans every sink of `plan`. Fails naming the node or function the engine cannot run.
  static arrow::Result<std::unique_ptr<Job>> make(const sql::StatementSetPlan& plan,
                                                  ConnectorFactory& factory, JobOptions options);
  /// A SELECT: result rows go to `on_rows` (called from job threads, serialized).
  static arrow::Result<std::unique_ptr<Job>> make_query(const sql::LogicalNode& query,
                                                        ConnectorFactory& factory,
                                                        JobOptions options, RowCallback on_rows);
  ~Job();

  /// True when every source is bounded.
  bool bounded() const;
  /// Runs until the sources end (bounded), stop() / the cancel flag, or `max_duration_ms`.
  /// Returns the first error of any operator; sinks are closed either way. With
  /// 'pipeline.priority' = 'low' the job runs on threads of its own at the lowest CPU priority.
  arrow::Status run(std::optional<int64_t> max_duration_ms = std::nullopt);
  /// Asks a running job to stop; thread-safe, idempotent.
  void stop();
  JobSummary summary() const;
  /// Backlog of each source that has a tip (streams, Kafka topics; not files or datagen).
  /// Thread-safe and cheap while the job runs (the job manager polls it for /api/jobs, /metrics).
  std::vector<SourceLag> lag() const;
  /// Checkpoint statistics; thread-safe while the job runs (for /metrics).
  CheckpointStats checkpoint_stats() const;
  /// One line per pipeline: source -> operators -> sink.
  std::string describe() const;

  struct Impl;

 private:
  explicit Job(std::unique_ptr<Impl> impl);
  arrow::Status run_here(std::optional<int64_t> max_duration_ms);
  std::unique_ptr<Impl> impl_;
};

}  // namespace roadpulse::exec
