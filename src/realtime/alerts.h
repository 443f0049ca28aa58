#pragma once
// Alerts: routing from the TOML config ([[channels]], [[routes]]), channels (webhook with a
// JSON or Slack-compatible body, Prometheus Alertmanager v2, email over SMTP) and the durable
// outbox that delivers them at least once.
//
// The outbox is a stream of the embedded log (`__alerts_outbox`, one shard): an alert is
// appended (durable) before enqueue() returns, so an acknowledged alert survives a crash. Each
// channel has a consumer position on that stream (`alerts.<channel>`), committed (by a
// committer thread, every 200 ms) after the alert is delivered or dead-lettered; a dispatcher
// thread per channel delivers in order with retries (exponential backoff with full jitter), a
// per-channel rate limit, and after `max_attempts` moves the alert to the `__alerts_dead_letter`
// stream. Dedup: an alert whose (rule, dedup key) is already in the outbox is not enqueued again.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "log/log.h"

namespace roadpulse::realtime {

struct Alert {
  std::string id;  // assigned by the outbox: "<created ms>-<outbox sequence>"
  std::string rule;
  std::string dedup_key;
  std::string severity;
  std::string title;
  std::string body;
  std::vector<std::pair<std::string, std::string>> attributes;  // the row's columns, in order
  int64_t created_ms = 0;
  std::vector<std::string> channels;  // routed channels (set by the outbox)

  /// Attribute by name (case-insensitive); "rule" and "severity" fall back to the alert's own.
  std::optional<std::string> attribute(std::string_view name) const;
};

struct ChannelConfig {
  std::string name;
  std::string type;  // webhook | alertmanager | email
  std::string url;   // http(s)://... ; email: smtp://host:port or smtps://host:port
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload = "json";  // webhook: json | slack
  double rate_per_second = 0;    // 0: unlimited
  int max_attempts = 10;
  int64_t backoff_initial_ms = 200;
  int64_t backoff_max_ms = 30'000;
  int64_t timeout_ms = 5'000;

  // email only
  std::string from;             // "alerts@example.org" or "Roadpulse <alerts@example.org>"
  std::vector<std::string> to;  // recipients, bare addresses
  std::string username;
  std::string password;  // from `password` or the environment variable `password_env`; never logged
  std::string tls;       // none | starttls (required) | implicit (smtps://)
  std::string ca_file;   // PEM bundle to verify the server with instead of the system's
};

struct MatchTerm {
  std::string attribute;
  std::vector<std::string> any_of;  // equality / any-of (numbers compare numerically)
  std::optional<double> gte, gt, lte, lt;
  bool matches(const Alert& alert) const;
};

struct RouteConfig {
  std::vector<std::string> channels;
  std::vector<MatchTerm> match;  // all must hold; empty: every alert
  bool is_default = false;       // only alerts no other route matched
};

struct AlertConfig {
  std::vector<ChannelConfig> channels;
  std::vector<RouteConfig> routes;

  /// Parses the TOML text; errors name `source` and the offending table/key.
  static arrow::Result<AlertConfig> parse(std::string_view toml_text, const std::string& source);
  static arrow::Result<AlertConfig> load(const std::string& path);
  /// Channel names (deduplicated, in config order) the alert is routed to.
  std::vector<std::string> route(const Alert& alert) const;
};

/// Hands one alert to a channel. Implementations must be safe to call from the channel's thread.
class Channel {
 public:
  virtual ~Channel() = default;
  /// OK when the receiver accepted the alert (2xx); an error describing why not otherwise.
  virtual arrow::Status deliver(const Alert& alert) = 0;
};

/// The webhook / alertmanager / email channel over libcurl.
arrow::Result<std::unique_ptr<Channel>> make_channel(const ChannelConfig& config);
/// The email channel (SMTP over libcurl): one message per alert to every `to` address.
arrow::Result<std::unique_ptr<Channel>> make_email_channel(const ChannelConfig& config);

/// Channel bodies (exposed for tests).
std::string webhook_json_body(const Alert& alert);
std::string slack_body(const Alert& alert);
std::string alertmanager_body(const Alert& alert);
/// The RFC 5322 message the email channel sends (CRLF lines, quoted-printable UTF-8 body). Its
/// Message-ID is derived from the alert id (a hash of rule and dedup key), so a resend of the
/// same alert carries the same Message-ID.
std::string email_message(const ChannelConfig& config, const Alert& alert);
/// The address part of "Name <addr>" or a bare address.
std::string email_address(std::string_view mailbox);

enum class DeliveryState { kPending, kDelivered, kDeadLetter };
const char* delivery_state_name(DeliveryState state);

struct ChannelDelivery {
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;
  std::string last_error;
  int64_t delivered_ms = 0;
};

struct AlertStatus {
  Alert alert;
  std::map<std::string, ChannelDelivery> deliveries;  // per routed channel
};

struct OutboxOptions {
  std::string stream = "__alerts_outbox";
  std::string dead_letter_stream = "__alerts_dead_letter";
  size_t status_capacity = 100'000;  // alerts whose status is kept in memory for list()
};

struct OutboxCounters {
  int64_t enqueued = 0;
  int64_t duplicates = 0;
  int64_t delivered = 0;
  int64_t failed_attempts = 0;
  int64_t dead_lettered = 0;
  int64_t pending = 0;  // alert-channel pairs not yet delivered or dead-lettered
};

class AlertOutbox {
 public:
  using ChannelFactory =
      std::function<arrow::Result<std::unique_ptr<Channel>>(const ChannelConfig&)>;

  /// Opens (creating) the outbox streams and rebuilds dedup keys and delivery status from them.
  /// `channel_factory` defaults to make_channel.
  static arrow::Result<std::unique_ptr<AlertOutbox>> open(std::shared_ptr<log::LogStore> log,
                                                          AlertConfig config,
                                                          OutboxOptions options = {},
                                                          ChannelFactory channel_factory = {});
  ~AlertOutbox();

  /// Routes and durably appends the alert. Returns false (and appends nothing) when an alert
  /// with the same rule and dedup key is already in the outbox.
  arrow::Result<bool> enqueue(Alert alert);
  /// Routes and durably appends every alert not already in the outbox (nor earlier in `alerts`)
  /// with one log append: a sink's batch costs one durable write, not one per alert. Returns how
  /// many were appended.
  arrow::Result<int64_t> enqueue_batch(std::vector<Alert> alerts);

  /// Starts one dispatcher thread per configured channel (idempotent).
  arrow::Status start();
  /// Stops the dispatchers; undelivered alerts stay in the outbox for the next start.
  void stop();
  /// Waits until every routed alert is delivered or dead-lettered, at most `timeout_ms`.
  /// Returns false on timeout.
  bool wait_idle(int64_t timeout_ms);

  /// Alerts created at or after `since_ms`, oldest first, with their delivery status.
  std::vector<AlertStatus> list(int64_t since_ms) const;
  OutboxCounters counters() const;
  const AlertConfig& config() const { return config_; }

 private:
  AlertOutbox(std::shared_ptr<log::LogStore> log, AlertConfig config, OutboxOptions options,
              ChannelFactory factory);
  arrow::Status recover();
  void run_channel(const ChannelConfig& channel, Channel* sender);
  /// Commits the dispatchers' positions every kCommitIntervalMs and once more at stop(): a
  /// crash re-sends at most the alerts delivered in that interval (at-least-once).
  void run_committer();
  static constexpr int64_t kCommitIntervalMs = 200;
  void set_delivery(const std::string& id, const std::string& channel, DeliveryState state,
                    int attempts, const std::string& error);
  void record_status(const Alert& alert);

  std::shared_ptr<log::LogStore> log_;
  AlertConfig config_;
  OutboxOptions options_;
  ChannelFactory factory_;

  std::mutex enqueue_mutex_;  // one enqueuer at a time (dedup check + append), without mutex_
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::string> dedup_;  // rule + '\x1f' + dedup key
  std::deque<std::string> status_order_;
  std::unordered_map<std::string, AlertStatus> status_;
  OutboxCounters counters_;
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<Channel>> senders_;
  std::vector<std::thread> threads_;
  std::map<std::string, log::SequenceNumber> delivered_positions_;  // channel -> next to deliver
  bool committer_stopping_ = false;
  std::thread committer_;
};

/// Alert as the outbox stores it and /api/alerts lists it (JSON).
std::string alert_json(const Alert& alert);
arrow::Result<Alert> parse_alert_json(std::string_view json);
std::string alert_status_json(const std::vector<AlertStatus>& alerts);

}  // namespace roadpulse::realtime
