#pragma once
// roadpulse::dashboard — the live web dashboard served by `roadpulse serve` (and `run`): the
// embedded web bundle at `/`, the Server-Sent Events feed and the small JSON APIs the page
// needs beyond the real-time layer's (src/realtime/http_api.h):
//
//   GET /, /index.html, /app.js, /app.css      the page (ETag, gzip when accepted)
//   GET /api/stream?topics=metrics,accidents,alerts   text/event-stream (see event_feed.h)
//   GET /api/streams                           streams: shards, records, ingest rate, dead letters
//   GET /api/events/recent?limit=&state=       newest raw accident records (for the map)
//
// One entry point for the composing command: make() then handle() every request; a reply of
// nullopt means "not mine".

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <arrow/result.h>

#include "dashboard/event_feed.h"
#include "log/log.h"
#include "realtime/hub.h"
#include "server/http_server.h"

namespace roadpulse::dashboard {

struct DashboardOptions {
  EventFeedOptions feed;  // feed.accidents_stream is also what /api/events/recent reads
};

class HttpRoutes {
 public:
  /// Starts the event feed over the data dir's real-time hub and `log` (may be null: no
  /// stream panels). `log` must outlive the routes.
  static arrow::Result<std::unique_ptr<HttpRoutes>> make(const std::string& data_dir,
                                                         log::LogStore* log,
                                                         DashboardOptions options = {});
  ~HttpRoutes();

  /// A response for the routes above, nullopt for any other path.
  std::optional<server::HttpResponse> handle(const server::HttpRequest& request);

  EventFeed& feed() { return *feed_; }

 private:
  HttpRoutes(log::LogStore* log, DashboardOptions options, std::unique_ptr<EventFeed> feed);
  server::HttpResponse asset(const server::HttpRequest& request, std::string_view path);
  arrow::Result<std::string> streams_json();
  arrow::Result<std::string> recent_json(const std::map<std::string, std::string>& params);

  log::LogStore* log_;
  DashboardOptions options_;
  std::unique_ptr<EventFeed> feed_;
  // Previous /api/streams sample per stream (records appended, ms) for the ingest rate.
  std::mutex rate_mutex_;
  std::map<std::string, std::pair<uint64_t, int64_t>> last_counts_;
};

}  // namespace roadpulse::dashboard
