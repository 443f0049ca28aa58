#include "realtime/http_api.h"

#include <charconv>
#include <filesystem>
#include <map>

#include <spdlog/spdlog.h>

#include "common/time.h"

namespace roadpulse::realtime {

namespace {

std::map<std::string, std::string> parse_query(std::string_view target) {
  std::map<std::string, std::string> out;
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    out[url_decode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
  }
  return out;
}

arrow::Result<int64_t> parse_int(const std::string& key, const std::string& text) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) {
    return arrow::Status::Invalid("parameter '", key, "' must be an integer, got '", text, "'");
  }
  return v;
}

// Epoch seconds (or milliseconds when `millis`), or an ISO-8601 timestamp.
arrow::Result<int64_t> parse_time(const std::string& key, const std::string& text, bool millis) {
  if (!text.empty() && text.find_first_not_of("-0123456789") == std::string::npos) {
    return parse_int(key, text);
  }
  auto t = parse_timestamp(text);
  if (!t.ok()) {
    return arrow::Status::Invalid("parameter '", key, "' must be epoch ",
                                  millis ? "milliseconds" : "seconds",
                                  " or an ISO-8601 timestamp, got '", text, "'");
  }
  return millis ? *t / 1000 : *t / 1'000'000;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    if (comma > pos) out.push_back(text.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

HttpReply error_reply(const arrow::Status& st) {
  HttpReply reply;
  reply.status = st.IsKeyError() ? 404 : st.IsInvalid() ? 400 : 500;
  reply.body = "{\"error\":";
  append_json_string(st.message(), reply.body);
  reply.body += "}";
  return reply;
}

}  // namespace

std::string url_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, v, 16);
      if (ec == std::errc() && p == text.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
      } else {
        out += c;
      }
    } else {
      out += c;
    }
  }
  return out;
}

arrow::Result<std::unique_ptr<HttpRoutes>> HttpRoutes::make(const std::string& data_dir,
                                                            log::LogStore* log) {
  auto hub = Hub::for_data_dir(data_dir);
  ARROW_RETURN_NOT_OK(hub->metrics().status());
  std::unique_ptr<HttpRoutes> routes(new HttpRoutes(hub));
  if (log && std::filesystem::exists(data_dir + "/alerts.toml")) {
    // Non-owning: the caller keeps the log open for the routes' lifetime.
    std::shared_ptr<log::LogStore> shared(log, [](log::LogStore*) {});
    ARROW_RETURN_NOT_OK(hub->acquire_alerts(shared, "").status());
    routes->alerts_acquired_ = true;
    spdlog::info("realtime: delivering alerts routed by {}/alerts.toml", data_dir);
  }
  return routes;
}

HttpRoutes::~HttpRoutes() {
  if (alerts_acquired_) hub_->release_alerts();
  (void)hub_->snapshot_metrics();
}

std::optional<HttpReply> HttpRoutes::handle(std::string_view method, std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (path != "/metrics" && path != "/api/metrics" && path != "/api/metrics/query" &&
      path != "/api/alerts") {
    return std::nullopt;
  }
  if (method != "GET" && method != "HEAD") {
    HttpReply reply;
    reply.status = 405;
    reply.body = "{\"error\":\"only GET is supported here\"}";
    return reply;
  }
  auto params = parse_query(target);
  if (path == "/metrics") {
    HttpReply reply;
    reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
    reply.body = hub_->prometheus();
    return reply;
  }
  auto result = [&]() -> arrow::Result<HttpReply> {
    HttpReply reply;
    if (path == "/api/alerts") {
      int64_t since = 0;
      if (params.count("since")) {
        ARROW_ASSIGN_OR_RAISE(since, parse_time("since", params["since"], true));
      }
      AlertOutbox* outbox = hub_->alerts_if_open();
      reply.body = alert_status_json(outbox ? outbox->list(since) : std::vector<AlertStatus>{});
      return reply;
    }
    ARROW_ASSIGN_OR_RAISE(MetricStore * store, hub_->metrics());
    if (path == "/api/metrics") {
      reply.body = "{\"metrics\":[";
      bool first = true;
      for (const auto& m : store->metrics()) {
        if (!first) reply.body += ',';
        first = false;
        reply.body += "{\"name\":";
        append_json_string(m.name, reply.body);
        reply.body += ",\"dimensions\":[";
        for (size_t i = 0; i < m.dimensions.size(); ++i) {
          if (i) reply.body += ',';
          append_json_string(m.dimensions[i], reply.body);
        }
        reply.body += "],\"series\":" + std::to_string(m.series) +
                      ",\"overflow_samples\":" + std::to_string(m.overflow_samples) + "}";
      }
      reply.body += "]}";
      return reply;
    }
    MetricQuery q;
    if (!params.count("name") || params["name"].empty()) {
      return arrow::Status::Invalid("parameter 'name' is required");
    }
    q.name = params["name"];
    auto [lo, hi] = store->time_bounds();
    q.from_s = lo;
    q.to_s = hi + 1;
    if (params.count("from")) {
      ARROW_ASSIGN_OR_RAISE(q.from_s, parse_time("from", params["from"], false));
    }
    if (params.count("to")) {
      ARROW_ASSIGN_OR_RAISE(q.to_s, parse_time("to", params["to"], false));
    }
    if (params.count("step")) {
      ARROW_ASSIGN_OR_RAISE(q.step_s, parse_int("step", params["step"]));
    } else {
      q.step_s = std::max<int64_t>(1, (q.to_s - q.from_s + 999) / 1000);  // about 1000 buckets
    }
    if (params.count("where")) {
      ARROW_ASSIGN_OR_RAISE(q.where, parse_where(params["where"]));
    }
    if (params.count("group_by")) q.group_by = split_list(params["group_by"]);
    if (params.count("top")) {
      ARROW_ASSIGN_OR_RAISE(q.top, parse_int("top", params["top"]));
    }
    ARROW_ASSIGN_OR_RAISE(auto answer, store->query(q));
    reply.body = query_result_json(answer);
    return reply;
  }();
  if (!result.ok()) return error_reply(result.status());
  return std::move(*result);
}

}  // namespace roadpulse::realtime
