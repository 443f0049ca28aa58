#pragma once
// The process's real-time state for one data directory: the metric store (loaded from and
// snapshotted to <data-dir>/realtime/) and the alert outbox with its dispatchers. Sinks of every
// job and the HTTP routes share it, so a query sees what a running job wrote.

#include <memory>
#include <mutex>
#include <string>

#include <arrow/result.h>

#include "log/log.h"
#include "realtime/alerts.h"
#include "realtime/metric_store.h"

namespace roadpulse::realtime {

class Hub {
 public:
  /// The hub for `data_dir` (one per directory per process).
  static std::shared_ptr<Hub> for_data_dir(const std::string& data_dir);

  const std::string& data_dir() const { return data_dir_; }
  /// The metric store, opened (with its snapshot) on first use. `options` apply only then.
  arrow::Result<MetricStore*> metrics(const MetricStoreOptions* options = nullptr);
  /// Snapshots the metric store if it is open.
  arrow::Status snapshot_metrics();

  /// The alert outbox with dispatchers running, opened on first use with the config at
  /// `config_path` ("" = <data-dir>/alerts.toml). Every acquire() needs a release().
  arrow::Result<AlertOutbox*> acquire_alerts(std::shared_ptr<log::LogStore> log,
                                             const std::string& config_path);
  /// Stops and closes the outbox when the last user releases it.
  void release_alerts();
  /// The open outbox or null.
  AlertOutbox* alerts_if_open();

  /// Prometheus exposition: the metrics and the real-time layer's own health.
  std::string prometheus();

  explicit Hub(std::string data_dir) : data_dir_(std::move(data_dir)) {}

 private:
  std::string data_dir_;
  std::mutex mutex_;
  std::unique_ptr<MetricStore> metrics_;
  std::unique_ptr<AlertOutbox> outbox_;
  std::string outbox_config_;
  int outbox_users_ = 0;
};

}  // namespace roadpulse::realtime
