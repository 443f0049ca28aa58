#include "exec/checkpoint_coordinator.h"

#include <algorithm>
#include <csignal>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "common/time.h"

namespace roadpulse::exec {

namespace {

bool safe_name(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || c == '\0' || c == '\\') return false;
  }
  return true;
}

}  // namespace

arrow::Result<CheckpointConfig> checkpoint_config(const std::map<std::string, std::string>& config,
                                                  const std::string& default_root) {
  CheckpointConfig out;
  if (auto it = config.find(kCheckpointIntervalKey); it != config.end()) {
    ARROW_ASSIGN_OR_RAISE(out.interval_ms,
                          parse_checkpoint_duration_ms(kCheckpointIntervalKey, it->second));
  }
  if (auto it = config.find(kCheckpointRetainedKey); it != config.end()) {
    try {
      size_t used = 0;
      out.retained = std::stoi(it->second, &used);
      if (used != it->second.size() || out.retained < 1) throw std::invalid_argument("");
    } catch (...) {
      return arrow::Status::Invalid("'", kCheckpointRetainedKey,
                                    "' must be a positive integer, got '", it->second, "'");
    }
  }
  std::string root = default_root;
  if (auto it = config.find(kCheckpointDirKey); it != config.end()) root = it->second;
  if (root.rfind("file://", 0) == 0) root = root.substr(7);  // Flink writes file:///path
  if (auto it = config.find(kPipelineNameKey); it != config.end()) {
    out.pipeline = it->second;
    if (!safe_name(out.pipeline)) {
      return arrow::Status::Invalid("'", kPipelineNameKey, "' = '", out.pipeline,
                                    "' cannot name a checkpoint directory (no '/', not empty)");
    }
    if (!root.empty()) out.dir = root + "/" + out.pipeline;
  }
  if (auto it = config.find(kKillAtKey); it != config.end()) {
    if (it->second == "final-checkpoint-durable") {
      out.kill_at = KillAt::kFinalCheckpointDurable;
    } else if (it->second == "final-checkpoint-committed") {
      out.kill_at = KillAt::kFinalCheckpointCommitted;
    } else if (!it->second.empty() && it->second != "never") {
      return arrow::Status::Invalid("'", kKillAtKey, "' = '", it->second,
                                    "': expected final-checkpoint-durable, "
                                    "final-checkpoint-committed or never");
    }
  }
  return out;
}

arrow::Result<std::unique_ptr<CheckpointCoordinator>> CheckpointCoordinator::make(
    CheckpointConfig config) {
  std::unique_ptr<CheckpointCoordinator> c(new CheckpointCoordinator(std::move(config)));
  c->stats_.enabled = true;
  if (!c->config_.dir.empty()) {
    ARROW_ASSIGN_OR_RAISE(c->store_, CheckpointStore::open(c->config_.dir));
    ARROW_ASSIGN_OR_RAISE(c->last_id_, c->store_->max_id());
    c->stats_.persisted = true;
    c->stats_.dir = c->config_.dir;
  }
  return c;
}

arrow::Result<std::optional<CheckpointManifest>> CheckpointCoordinator::restore(
    const std::string& fingerprint) {
  if (!store_) return std::nullopt;
  ARROW_ASSIGN_OR_RAISE(auto latest, store_->load_latest());
  if (!latest) return std::nullopt;
  if (latest->job_fingerprint != fingerprint) {
    return arrow::Status::Invalid(
        "checkpoint ", latest->id, " of pipeline '", config_.pipeline,
        "' was taken by a different job (", latest->job_fingerprint, "; this job: ", fingerprint,
        "). Give this job another 'pipeline.name', or delete '", config_.dir, "' to start over");
  }
  // Ids stay monotonic even when a newer attempt never completed.
  ARROW_ASSIGN_OR_RAISE(int64_t max_id, store_->max_id());
  last_id_ = std::max({last_id_, max_id, latest->id});
  return latest;
}

arrow::Result<int64_t> CheckpointCoordinator::persist(const CheckpointManifest& manifest) {
  if (!store_) return 0;
  return store_->write(manifest);
}

arrow::Status CheckpointCoordinator::committed(int64_t id, int64_t triggered_micros,
                                               int64_t aligned_micros, int64_t bytes) {
  if (store_) {
    ARROW_RETURN_NOT_OK(store_->mark_committed(id));
    ARROW_RETURN_NOT_OK(store_->prune(config_.retained));
  }
  const int64_t now = now_micros();
  ++stats_.completed;
  stats_.last_id = id;
  stats_.last_completed_micros = now;
  stats_.last_duration_micros = now - triggered_micros;
  stats_.last_alignment_micros = aligned_micros - triggered_micros;
  stats_.last_bytes = bytes;
  return arrow::Status::OK();
}

arrow::Status CheckpointCoordinator::confirm_restored(int64_t id) {
  if (store_) ARROW_RETURN_NOT_OK(store_->mark_committed(id));
  return arrow::Status::OK();
}

void CheckpointCoordinator::maybe_kill(KillAt point, int64_t id) const {
  if (point == KillAt::kNever || point != config_.kill_at) return;
  const char* where = point == KillAt::kFinalCheckpointDurable ? "final-checkpoint-durable"
                                                               : "final-checkpoint-committed";
  std::fprintf(stderr, "[WARN] %s = %s: killing the process (SIGKILL) at checkpoint %lld\n",
               kKillAtKey, where, static_cast<long long>(id));
  std::fflush(stderr);
  std::raise(SIGKILL);
}

}  // namespace roadpulse::exec
