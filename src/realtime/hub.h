#pragma once
// The process's real-time state for one data directory: the metric store (loaded from and
// snapshotted to <data-dir>/realtime/) and the alert outbox with its dispatchers. Sinks of every
// job and the HTTP routes share it, so a query sees what a running job wrote.

#include <map>
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

  /// Live feed of metric samples as sinks add them (the dashboard's Server-Sent Events): the
  /// listener runs on the sink's thread right after each add, so it must only hand the samples
  /// off. Opens the metric store if needed. Returns an id for unsubscribe_samples().
  using SampleListener = MetricStore::AddListener;
  arrow::Result<int64_t> subscribe_samples(SampleListener listener);
  void unsubscribe_samples(int64_t id);

  explicit Hub(std::string data_dir) : data_dir_(std::move(data_dir)) {}

 private:
  void fan_out(const std::string& name, const std::vector<Sample>& samples);

  std::string data_dir_;
  std::mutex listeners_mutex_;
  std::map<int64_t, std::shared_ptr<const SampleListener>> listeners_;
  int64_t next_listener_ = 1;
  std::mutex mutex_;
  std::unique_ptr<MetricStore> metrics_;
  std::unique_ptr<AlertOutbox> outbox_;
  std::string outbox_config_;
  int outbox_users_ = 0;
};

}  // namespace roadpulse::realtime
