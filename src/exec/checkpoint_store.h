#pragma once
// Durable checkpoints of one pipeline (EXEC_DESIGN.md section 4): where a job's checkpoints live
// on disk, how one is written so that a crash at any moment leaves either the previous complete
// checkpoint or the new one, and how the newest complete one is found again.
//
// Layout under `<state.checkpoints.dir>/<pipeline.name>/`:
//
//   chk-<id>/state.bin    every part (source positions, operator states, sink committables)
//                         concatenated; written and fsynced first
//   chk-<id>/_manifest    text: parts with offset, length and CRC-32; written to `_manifest.tmp`,
//                         fsynced, renamed, directory fsynced. Its presence (ending in the `end`
//                         line) is what makes the checkpoint complete.
//   chk-<id>/_committed   empty marker written after the sinks committed the checkpoint
//
// A directory without a valid manifest is a checkpoint that never completed: ignored and removed.
// Not thread-safe; the job's coordinator is its only user.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <arrow/buffer.h>
#include <arrow/result.h>
#include <arrow/status.h>

namespace roadpulse::exec {

/// One piece of a checkpoint, named by what it belongs to: `source/<group>`,
/// `operator/<group>.<chain>.<op>`, `sink/<index>`.
struct CheckpointPart {
  std::string key;
  std::string owner;  // table or operator name, checked on restore
  std::shared_ptr<arrow::Buffer> data;
};

struct CheckpointManifest {
  int64_t id = 0;
  std::string pipeline;
  int64_t created_micros = 0;  // wall clock when the checkpoint was triggered
  /// A bounded job's last checkpoint after every source ended: nothing is left to resume.
  bool finished = false;
  /// The job's shape (sources, chains, sinks) when the checkpoint was taken.
  std::string job_fingerprint;
  bool committed = false;  // the `_committed` marker exists
  int64_t bytes = 0;       // size of state.bin
  std::vector<CheckpointPart> parts;

  const CheckpointPart* find(const std::string& key) const;
};

class CheckpointStore {
 public:
  /// The checkpoints of one pipeline in `dir` (created when missing).
  static arrow::Result<std::unique_ptr<CheckpointStore>> open(std::string dir);
  const std::string& dir() const { return dir_; }

  /// The newest complete checkpoint with its parts loaded (CRC-checked), or nullopt. Directories
  /// of checkpoints that never completed are removed. A manifest that is complete but whose
  /// state does not match its checksums is an error naming the file (never silently skipped).
  arrow::Result<std::optional<CheckpointManifest>> load_latest();
  /// The highest checkpoint id present (complete or not), 0 when none.
  arrow::Result<int64_t> max_id() const;

  /// Writes checkpoint `manifest.id` durably; returns the bytes written. After this returns OK
  /// the checkpoint is complete.
  arrow::Result<int64_t> write(const CheckpointManifest& manifest);
  /// Records that the sinks committed checkpoint `id`.
  arrow::Status mark_committed(int64_t id);
  /// Deletes every checkpoint older than the newest `keep` complete ones.
  arrow::Status prune(int keep);
  /// Deletes every checkpoint of the pipeline (a fresh start).
  arrow::Status remove_all();

  /// The manifest's text form (exposed for tests).
  static std::string manifest_text(const CheckpointManifest& manifest,
                                   const std::vector<std::pair<int64_t, uint32_t>>& layout);

 private:
  explicit CheckpointStore(std::string dir) : dir_(std::move(dir)) {}
  std::string path_of(int64_t id) const;
  arrow::Result<std::vector<int64_t>> ids() const;
  std::string dir_;
};

/// Parses "10 s", "200ms", "1 min", "2h", "1000" (milliseconds) as Flink's duration options do.
arrow::Result<int64_t> parse_checkpoint_duration_ms(const std::string& key,
                                                    const std::string& text);

}  // namespace roadpulse::exec
