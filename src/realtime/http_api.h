#pragma once
// The real-time layer's HTTP routes, independent of the server's types so src/server (or the
// CLI composing it) only forwards method and target:
//
//   GET /api/metrics/query?name=&from=&to=&step=&where=&group_by=&top=   JSON series
//   GET /api/metrics                                                     JSON list of metrics
//   GET /metrics                                                         Prometheus exposition
//   GET /api/alerts?since=                                               JSON alerts + delivery
//
// from/to/since take epoch seconds (since: epoch milliseconds) or ISO-8601 timestamps.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <arrow/result.h>

#include "log/log.h"
#include "realtime/hub.h"

namespace roadpulse::realtime {

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class HttpRoutes {
 public:
  /// Opens the hub's metric store (loading its snapshot) and, when `log` is given and
  /// <data-dir>/alerts.toml exists, the alert outbox with its dispatchers. `log` must outlive
  /// the routes.
  static arrow::Result<std::unique_ptr<HttpRoutes>> make(const std::string& data_dir,
                                                         log::LogStore* log);
  ~HttpRoutes();

  /// A reply for the routes above, nullopt for any other path.
  std::optional<HttpReply> handle(std::string_view method, std::string_view target);

 private:
  explicit HttpRoutes(std::shared_ptr<Hub> hub) : hub_(std::move(hub)) {}
  std::shared_ptr<Hub> hub_;
  bool alerts_acquired_ = false;
};

/// Decodes %XX and '+' in a query component.
std::string url_decode(std::string_view text);

}  // namespace roadpulse::realtime
