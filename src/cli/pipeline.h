#pragma once
// A pipeline as `roadpulse run` and `roadpulse demo` run it: roadpulse.toml + a SQL file (or the
// built-in default, sql/pipeline.sql) started on a ServerApp. Shared by both commands.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>

#include "archive/archive.h"
#include "cli/server_app.h"
#include "common/config.h"

namespace roadpulse::cli {

/// sql/pipeline.sql as built into the binary.
std::string_view default_pipeline_sql();

/// Replaces `${name}` with its value; an unknown name is an error naming it and the line.
arrow::Result<std::string> substitute_variables(
    std::string_view text, const std::vector<std::pair<std::string, std::string>>& variables);

struct PipelineStats {
  int64_t raw_records = 0;        // records in the raw stream
  int64_t processed_records = 0;  // records in the processed stream
  int64_t dead_letters = 0;       // records in every *.dlq stream
  int64_t jobs_running = 0;
  int64_t jobs_failed = 0;
  bool archive_on = false;        // the raw archive runs beside the jobs
  archive::ArchiveStats archive;  // zero when the archive is off
};

/// `roadpulse run --worker --group NAME`: this process is one of several workers sharing the
/// pipeline's jobs over Kafka (docs/kafka.md, deploy/kafka/README.md).
struct WorkerOptions {
  std::string group;  // empty: not a worker
  std::string id;     // unique per worker; names its checkpoints and transactional ids
  /// A checkpoint directory every worker of the group shares (a shared filesystem): the state
  /// of repartitioned windows, per repartition partition. Required by such jobs.
  std::string shared_checkpoints;
};

class KeyedStageRunner;

class Pipeline {
 public:
  /// Validates config + SQL (parse, bind, plan) without touching the data directory.
  static arrow::Status check(const RunConfig& config);
  /// Opens the data directory, starts the server and the pipeline's jobs.
  static arrow::Result<std::unique_ptr<Pipeline>> start(const RunConfig& config,
                                                        const WorkerOptions& worker = {});
  ~Pipeline();

  ServerApp& app() { return *app_; }
  std::string url() const;
  PipelineStats stats();
  /// GET /api/pipeline's JSON: jobs, streams (where the Kinesis API serves them: on Kafka the
  /// topics of the pipeline's stream tables and their dead letters), archive.
  std::string status_json();
  /// Serves until SIGINT/SIGTERM or stop(); then stops the jobs (final checkpoint).
  void run_until_signal();
  void stop();

 private:
  Pipeline() = default;
  /// A stream of the pipeline's tables, or the dead-letter stream of one.
  bool own_stream(const std::string& name) const;
  RunConfig config_;
  WorkerOptions worker_;
  std::unique_ptr<ServerApp> app_;
  std::vector<std::string> job_ids_;
  std::vector<std::unique_ptr<KeyedStageRunner>> stage_runners_;  // worker mode
  std::unique_ptr<archive::RawArchive> archive_;  // the raw stream's archive, when enabled
  std::vector<std::string> streams_;              // the streams the pipeline's tables read or write
  int64_t started_ms_ = 0;
  bool stopped_ = false;
};

/// The effective pipeline SQL for `config`: its file or the default, variables substituted.
arrow::Result<std::string> pipeline_sql(const RunConfig& config);

}  // namespace roadpulse::cli
