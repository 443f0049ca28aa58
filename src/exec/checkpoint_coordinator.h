#pragma once
// The job side of checkpoints (EXEC_DESIGN.md sections 4-5, docs/checkpoints.md): the session
// keys that configure them, the statistics a running job reports, and the coordinator that
// numbers checkpoints, persists them through a CheckpointStore, finds the one to resume from
// and prunes old ones. The consistent cut itself (pausing every source thread at a batch
// boundary) is done by the Job, which owns the threads; see job.cc.
//
// Session keys (SET or -D):
//   execution.checkpointing.interval   time between checkpoints (default 10 s; 0 = only the
//                                      final checkpoint at a graceful stop / end of input)
//   pipeline.name                      the job's name; checkpoints are persisted and resumed
//                                      only for a named job
//   state.checkpoints.dir              root directory (default <data-dir>/checkpoints)
//   state.checkpoints.num-retained     complete checkpoints kept (default 2)
//   debug.kill-at                      fault injection: the process kills itself with SIGKILL
//                                      at a named point of the final checkpoint (see
//                                      kKillAtKey; docs/checkpoints.md "Testing crashes")

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "exec/checkpoint_store.h"

namespace roadpulse::exec {

inline constexpr const char* kCheckpointIntervalKey = "execution.checkpointing.interval";
inline constexpr const char* kPipelineNameKey = "pipeline.name";
inline constexpr const char* kCheckpointDirKey = "state.checkpoints.dir";
inline constexpr const char* kCheckpointRetainedKey = "state.checkpoints.num-retained";
inline constexpr const char* kKillAtKey = "debug.kill-at";
inline constexpr int64_t kDefaultCheckpointIntervalMs = 10000;

/// Where `debug.kill-at` makes the process die by SIGKILL, as a `kill -9` landing exactly there
/// would: after a bounded job's final checkpoint is durable and before any sink commits it
/// (`final-checkpoint-durable`), or after the sinks committed it and before its `_committed`
/// marker is written (`final-checkpoint-committed`). For crash tests and for users checking
/// their own sinks; never set in production.
enum class KillAt { kNever, kFinalCheckpointDurable, kFinalCheckpointCommitted };

struct CheckpointConfig {
  int64_t interval_ms = kDefaultCheckpointIntervalMs;  // 0: no periodic checkpoints
  /// `<root>/<pipeline.name>`; empty when the job has no name or no root: checkpoints still
  /// drive sink commits but are not written, and a restart starts over.
  std::string dir;
  std::string pipeline;
  int retained = 2;
  KillAt kill_at = KillAt::kNever;
};

/// Reads the keys above from a job's session configuration. `default_root` is where the caller
/// keeps state (the CLI passes <data-dir>/checkpoints).
arrow::Result<CheckpointConfig> checkpoint_config(const std::map<std::string, std::string>& config,
                                                  const std::string& default_root);

/// What `roadpulse run` shows in /metrics and JobSummary carries.
struct CheckpointStats {
  bool enabled = false;
  bool persisted = false;                 // written to disk (the job has a pipeline.name)
  std::string dir;                        // where
  int64_t completed = 0;                  // checkpoints completed by this run
  int64_t last_id = 0;                    // newest completed checkpoint id
  int64_t last_completed_micros = 0;      // wall clock when it completed (0: none yet)
  int64_t last_duration_micros = 0;       // trigger -> committed
  int64_t last_alignment_micros = 0;      // trigger -> every source paused
  int64_t last_bytes = 0;                 // state.bin + manifest
  int64_t restored_id = 0;                // the checkpoint this run resumed from (0: fresh start)
  bool restored_commit_replayed = false;  // its commit was not confirmed and was replayed
  /// The checkpoint restored was a bounded job's final one: the job had already finished, so
  /// this run only completed that checkpoint's commit and read nothing (JobOptions::from_scratch
  /// runs it again instead).
  bool restored_finished = false;
};

class CheckpointCoordinator {
 public:
  static arrow::Result<std::unique_ptr<CheckpointCoordinator>> make(CheckpointConfig config);
  const CheckpointConfig& config() const { return config_; }
  bool persisted() const { return store_ != nullptr; }

  /// The checkpoint to resume from: the newest complete one, checked against the job's
  /// fingerprint (a different job under the same name is an error saying how to start over).
  arrow::Result<std::optional<CheckpointManifest>> restore(const std::string& fingerprint);

  /// Id for the next checkpoint.
  int64_t next_id() { return ++last_id_; }

  /// Makes checkpoint `manifest` durable (a no-op when not persisted); returns bytes written.
  arrow::Result<int64_t> persist(const CheckpointManifest& manifest);
  /// After the sinks committed: the committed marker, pruning, statistics.
  arrow::Status committed(int64_t id, int64_t triggered_micros, int64_t aligned_micros,
                          int64_t bytes);

  CheckpointStats stats() const { return stats_; }
  void set_restored(int64_t id, bool replayed, bool finished = false) {
    stats_.restored_id = id;
    stats_.restored_commit_replayed = replayed;
    stats_.restored_finished = finished;
  }
  /// The sinks completed the commit of restored checkpoint `id` (it was not confirmed): writes
  /// its `_committed` marker. Not counted as a checkpoint of this run.
  arrow::Status confirm_restored(int64_t id);
  /// `debug.kill-at`: dies by SIGKILL if `point` is the configured one (after flushing a line
  /// on stderr saying so).
  void maybe_kill(KillAt point, int64_t id) const;

 private:
  explicit CheckpointCoordinator(CheckpointConfig config) : config_(std::move(config)) {}
  CheckpointConfig config_;
  std::unique_ptr<CheckpointStore> store_;
  int64_t last_id_ = 0;
  CheckpointStats stats_;
};

}  // namespace roadpulse::exec
