#pragma once
// Keyed state shared by `roadpulse run --worker` processes (docs/kafka.md, "Keyed state across
// workers"). A windowed aggregation over a Kafka source is keyed by its GROUP BY columns, which
// are not how the input is partitioned, so in worker mode its job is split in two stages:
//
//   stage A (in every worker, sharing the input by consumer group): everything below the window
//     -> the internal topic `<job>-window<N>-repartition` (as many partitions as the input),
//     keyed by the group key and routed by its MD5 hash-key range, in Kafka transactions that
//     also commit the input offsets (exactly-once from input to repartition topic);
//   stage B (one job per repartition partition, each run by exactly one worker): the window and
//     what is above it, reading only that partition. A consumer group on the repartition topic
//     decides which worker runs which partition's job; each such job checkpoints its state,
//     source position and sink transactions under its own name in a checkpoint directory all
//     workers share (--shared-checkpoints), so the worker that takes a partition over (a worker
//     died, joined or left) resumes its job from the last checkpoint of the previous owner.

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

/// A window aggregation split off a pipeline job: stage B's plan and where it reads.
struct KeyedStage {
  std::string name;   // `<job>-window<N>`: stage B jobs are `<name>-p<partition>`
  std::string topic;  // the repartition topic
  int partitions = 0;
  std::unique_ptr<sql::StatementSetPlan> plan;  // stage B, cloned per partition
  std::string sql;                              // what `jobs list` shows
};

/// Splits every windowed INSERT of `plan` (run as job `job`) whose input comes from Kafka: the
/// window's input now goes to a repartition table (stage A, left in `plan`), and a KeyedStage is
/// returned per window. `session` gets the repartition tables; `kafka` are the streams backend's
/// client properties. Windows that cannot be split (an input that is not a single Kafka scan with
/// a `ts - INTERVAL` watermark) are left in place with a warning.
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
  void loop();

  KeyedStage stage_;
  std::map<std::string, std::string> config_;
  server::JobManager* jobs_ = nullptr;
  connect::kafka::Handle consumer_;
  std::map<int, std::string> running_;  // partition -> job id (the runner thread's only)
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace roadpulse::cli
