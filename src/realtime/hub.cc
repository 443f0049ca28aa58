#include "realtime/hub.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <unistd.h>

namespace roadpulse::realtime {

namespace {
const auto kStart = std::chrono::steady_clock::now();

int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}
}  // namespace

std::shared_ptr<Hub> Hub::for_data_dir(const std::string& data_dir) {
  static std::mutex mutex;
  static auto* hubs = new std::map<std::string, std::shared_ptr<Hub>>();  // lives until exit
  std::error_code ec;
  std::string key = std::filesystem::weakly_canonical(data_dir, ec).string();
  if (ec || key.empty()) key = data_dir;
  std::lock_guard lock(mutex);
  auto& hub = (*hubs)[key];
  if (!hub) hub = std::make_shared<Hub>(data_dir);
  return hub;
}

arrow::Result<MetricStore*> Hub::metrics(const MetricStoreOptions* options) {
  std::lock_guard lock(mutex_);
  if (!metrics_) {
    MetricStoreOptions opts = options ? *options : MetricStoreOptions{};
    opts.snapshot_dir = data_dir_ + "/realtime";
    ARROW_ASSIGN_OR_RAISE(metrics_, MetricStore::open(opts));
    metrics_->set_add_listener([this](const std::string& name, const std::vector<Sample>& samples) {
      fan_out(name, samples);
    });
  }
  return metrics_.get();
}

arrow::Status Hub::snapshot_metrics() {
  std::lock_guard lock(mutex_);
  if (!metrics_) return arrow::Status::OK();
  return metrics_->snapshot();
}

arrow::Result<AlertOutbox*> Hub::acquire_alerts(std::shared_ptr<log::LogStore> log,
                                                const std::string& config_path) {
  std::lock_guard lock(mutex_);
  const std::string path = config_path.empty() ? data_dir_ + "/alerts.toml" : config_path;
  if (outbox_) {
    if (path != outbox_config_) {
      return arrow::Status::Invalid("alerts: this process already routes with ", outbox_config_,
                                    "; a second config (", path, ") is not supported");
    }
    ++outbox_users_;
    return outbox_.get();
  }
  if (config_path.empty() && !std::filesystem::exists(path)) {
    return arrow::Status::Invalid(
        "alerts: no routing config: set 'alert.config' = '<file.toml>' or create ", path,
        " ([[channels]] and [[routes]], see docs/realtime.md)");
  }
  ARROW_ASSIGN_OR_RAISE(auto config, AlertConfig::load(path));
  ARROW_ASSIGN_OR_RAISE(outbox_, AlertOutbox::open(std::move(log), std::move(config)));
  ARROW_RETURN_NOT_OK(outbox_->start());
  outbox_config_ = path;
  outbox_users_ = 1;
  return outbox_.get();
}

void Hub::release_alerts() {
  std::unique_ptr<AlertOutbox> closing;
  {
    std::lock_guard lock(mutex_);
    if (--outbox_users_ > 0) return;
    closing = std::move(outbox_);
  }
  closing.reset();  // joins the dispatchers outside the lock
}

AlertOutbox* Hub::alerts_if_open() {
  std::lock_guard lock(mutex_);
  return outbox_.get();
}

arrow::Result<int64_t> Hub::subscribe_samples(SampleListener listener) {
  ARROW_RETURN_NOT_OK(metrics().status());
  std::lock_guard lock(listeners_mutex_);
  const int64_t id = next_listener_++;
  listeners_[id] = std::make_shared<const SampleListener>(std::move(listener));
  return id;
}

void Hub::unsubscribe_samples(int64_t id) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.erase(id);
}

void Hub::fan_out(const std::string& name, const std::vector<Sample>& samples) {
  std::vector<std::shared_ptr<const SampleListener>> listeners;
  {
    std::lock_guard lock(listeners_mutex_);
    if (listeners_.empty()) return;
    for (const auto& [id, l] : listeners_) listeners.push_back(l);
  }
  for (const auto& l : listeners) (*l)(name, samples);
}

std::string Hub::prometheus() {
  std::string out;
  std::lock_guard lock(mutex_);
  if (metrics_) metrics_->append_prometheus(out);
  out += fmt::format(
      "# HELP roadpulse_process_uptime_seconds Seconds since the process started.\n"
      "# TYPE roadpulse_process_uptime_seconds gauge\n"
      "roadpulse_process_uptime_seconds {:.3f}\n"
      "# HELP roadpulse_process_resident_memory_bytes Resident set size.\n"
      "# TYPE roadpulse_process_resident_memory_bytes gauge\n"
      "roadpulse_process_resident_memory_bytes {}\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - kStart).count(),
      resident_bytes());
  if (metrics_) {
    out += fmt::format(
        "# HELP roadpulse_realtime_memory_bytes Bytes held by metric series.\n"
        "# TYPE roadpulse_realtime_memory_bytes gauge\n"
        "roadpulse_realtime_memory_bytes {}\n",
        metrics_->memory_bytes());
  }
  if (outbox_) {
    const OutboxCounters c = outbox_->counters();
    out += fmt::format(
        "# HELP roadpulse_alerts_outbox_depth Alert deliveries not yet done or dead-lettered.\n"
        "# TYPE roadpulse_alerts_outbox_depth gauge\n"
        "roadpulse_alerts_outbox_depth {}\n"
        "# HELP roadpulse_alerts_enqueued_total Alerts appended to the outbox.\n"
        "# TYPE roadpulse_alerts_enqueued_total counter\n"
        "roadpulse_alerts_enqueued_total {}\n"
        "# HELP roadpulse_alerts_duplicates_total Alerts dropped as duplicates of a dedup key.\n"
        "# TYPE roadpulse_alerts_duplicates_total counter\n"
        "roadpulse_alerts_duplicates_total {}\n"
        "# HELP roadpulse_alerts_delivered_total Alert deliveries a channel accepted.\n"
        "# TYPE roadpulse_alerts_delivered_total counter\n"
        "roadpulse_alerts_delivered_total {}\n"
        "# HELP roadpulse_alerts_failed_attempts_total Delivery attempts that failed.\n"
        "# TYPE roadpulse_alerts_failed_attempts_total counter\n"
        "roadpulse_alerts_failed_attempts_total {}\n"
        "# HELP roadpulse_alerts_dead_lettered_total Deliveries given up after max attempts.\n"
        "# TYPE roadpulse_alerts_dead_lettered_total counter\n"
        "roadpulse_alerts_dead_lettered_total {}\n",
        c.pending, c.enqueued, c.duplicates, c.delivered, c.failed_attempts, c.dead_lettered);
  }
  return out;
}

}  // namespace roadpulse::realtime
