#pragma once
// Keyed state shared by `roadpulse run --worker` processes (docs/kafka.md, "Keyed state across
// workers"). A keyed stateful operator over a Kafka source — a window aggregation, an unwindowed
// GROUP BY (changelog output) or a deduplication (ROW_NUMBER() ... = 1) — is keyed by columns
// that are usually not how the input is partitioned, so in worker mode its job is split:
//
//   stage A (in every worker, sharing the input by consumer group): everything below the
//     operator -> the internal topic `<job>-<kind><N>-repartition` (kind: window, group or
//     dedup; as many partitions as the input), keyed by the operator's key and routed by its MD5
//     hash-key range, in Kafka transactions that also commit the input offsets (exactly-once
//     from input to repartition topic);
//   stage B (one job per repartition partition, each run by exactly one worker): the operator and
//     what is above it, reading only that partition. A consumer group on the repartition topic
//     decides which worker runs which partition's job; each such job checkpoints its state,
//     source position and sink transactions under its own name in a checkpoint directory all
//     workers share (--shared-checkpoints), so the worker that takes a partition over (a worker
//     died, joined or left) resumes its job from the last checkpoint of the previous owner.
//
// A keyed operator above another one with a different key is split again: the lower stage's
// per-partition jobs write the next repartition topic (`<stage>-<kind>-repartition`).

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "connect/kafka_client.h"
#include "server/job_manager.h"
#include "sql/logical_plan.h"
#include "sql/session.h"

namespace roadpulse::cli {

/// A keyed operator split off a pipeline job: stage B's plan and where it reads.
struct KeyedStage {
  std::string name;   // `<job>-<kind><N>`: stage B jobs are `<name>-p<partition>`
  std::string topic;  // the repartition topic
  int partitions = 0;
  std::unique_ptr<sql::StatementSetPlan> plan;  // stage B, cloned per partition
  std::string sql;                              // what `jobs list` shows
};

/// Splits every INSERT of `plan` (run as job `job`) with a keyed operator (window, GROUP BY,
/// deduplication) whose input comes from Kafka: the operator's input now goes to a repartition
/// table (stage A, left in `plan`), and a KeyedStage is returned per split, upstream stages
/// first. `session` gets the repartition tables; `kafka` are the streams backend's client
/// properties. Operators that cannot be split (an input that is not a single Kafka scan; for
/// windows and deduplication, one without a `ts - INTERVAL` watermark; an updating input; no
/// key) are left in place with a warning.
arrow::Result<std::vector<KeyedStage>> split_keyed_stages(sql::Session& session,
                                                          sql::StatementSetPlan& plan,
                                                          const std::string& job,
                                                          const connect::kafka::Properties& kafka);

/// Runs the stage B jobs of one KeyedStage that the consumer group `<worker group>.<name>` gives
/// this worker, until stop().
class KeyedStageRunner {
 public:
  /// `config`: the session configuration of stage B jobs (the pipeline's, with the shared
  /// checkpoint directory); `kafka`: client properties.
  static arrow::Result<std::unique_ptr<KeyedStageRunner>> start(
      KeyedStage stage, std::string worker_group, std::map<std::string, std::string> config,
      connect::kafka::Properties kafka, server::JobManager* jobs);
  ~KeyedStageRunner();
  /// Stops this worker's stage B jobs (final checkpoints) and leaves the group.
  void stop();

 private:
  KeyedStageRunner() = default;
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  arrow::Status start_partition(int partition);
  void stop_partition(int partition);
  void restart_failed();
  void loop();

  KeyedStage stage_;
  std::map<std::string, std::string> config_;
  server::JobManager* jobs_ = nullptr;
  connect::kafka::Handle consumer_;
  std::set<int> owned_;                 // partitions the group gave us (the runner thread's)
  std::map<int, std::string> running_;  // partition -> job id (the runner thread's only)
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace roadpulse::cli
