#include "dashboard/http_routes.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include <fmt/format.h>

#include "common/json_text.h"
#include "dashboard/assets.h"
#include "realtime/http_api.h"

namespace roadpulse::dashboard {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::map<std::string, std::string> parse_query(std::string_view target) {
  std::map<std::string, std::string> out;
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    out[realtime::url_decode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : realtime::url_decode(pair.substr(eq + 1));
  }
  return out;
}

server::HttpResponse json_response(int status, std::string body) {
  return server::HttpResponse{
      status, "application/json", {{"Cache-Control", "no-store"}}, std::move(body), {}};
}

server::HttpResponse error_response(const arrow::Status& st) {
  std::string body = "{\"error\":";
  append_json_string(st.message(), body);
  body += "}";
  return json_response(st.IsInvalid() ? 400 : 500, std::move(body));
}

// The alert outbox's dead letters count with the streams' dead letters on the dashboard.
bool is_dead_letter_stream(std::string_view name) {
  return name == "__alerts_dead_letter" || log::is_dead_letter_stream(name);
}

// Does the comma-separated header accept `coding` (and not with q=0)?
bool accepts(std::string_view header, std::string_view coding) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view item = header.substr(pos, comma - pos);
    pos = comma + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    const size_t semi = item.find(';');
    std::string_view name = item.substr(0, semi);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name != coding) continue;
    if (semi != std::string_view::npos) {
      const std::string_view params = item.substr(semi + 1);
      const size_t q = params.find("q=");
      if (q != std::string_view::npos && params.substr(q + 2).starts_with("0") &&
          !params.substr(q + 2).starts_with("0.")) {
        return false;
      }
    }
    return true;
  }
  return false;
}

}  // namespace

HttpRoutes::HttpRoutes(log::LogStore* log, DashboardOptions options,
                       std::unique_ptr<EventFeed> feed)
    : log_(log), options_(std::move(options)), feed_(std::move(feed)) {}

HttpRoutes::~HttpRoutes() = default;

arrow::Result<std::unique_ptr<HttpRoutes>> HttpRoutes::make(const std::string& data_dir,
                                                            log::LogStore* log,
                                                            DashboardOptions options) {
  ARROW_ASSIGN_OR_RAISE(auto feed,
                        EventFeed::make(realtime::Hub::for_data_dir(data_dir), log, options.feed));
  return std::unique_ptr<HttpRoutes>(new HttpRoutes(log, std::move(options), std::move(feed)));
}

std::optional<server::HttpResponse> HttpRoutes::handle(const server::HttpRequest& request) {
  const std::string_view path = request.path();
  const bool api = path == "/api/stream" || path == "/api/streams" || path == "/api/events/recent";
  const bool page = path == "/" || (!api && find_asset(path) != nullptr);
  if (!api && !page) return std::nullopt;
  const bool read = request.method == "GET" || request.method == "HEAD";
  if (page && !read) return std::nullopt;  // POST / is the Kinesis API's
  if (!read) {
    return server::HttpResponse{405,
                                "application/json",
                                {{"Allow", "GET, HEAD"}},
                                "{\"error\":\"only GET is supported here\"}",
                                {}};
  }
  if (page) return asset(request, path == "/" ? "/index.html" : path);
  const auto params = parse_query(request.target);
  if (path == "/api/stream") {
    auto topics = parse_topics(params.count("topics") ? params.at("topics") : "");
    if (!topics.ok()) return error_response(topics.status());
    // EventSource resends the last id it saw as a header; ?last_event_id= serves other clients.
    std::string last_text(request.header("Last-Event-ID"));
    if (last_text.empty() && params.count("last_event_id")) last_text = params.at("last_event_id");
    std::optional<uint64_t> last;
    if (!last_text.empty()) {
      uint64_t v = 0;
      const auto [p, ec] =
          std::from_chars(last_text.data(), last_text.data() + last_text.size(), v);
      if (ec != std::errc() || p != last_text.data() + last_text.size()) {
        return error_response(
            arrow::Status::Invalid("Last-Event-ID must be an integer, got '", last_text, "'"));
      }
      last = v;
    }
    server::HttpResponse response;
    response.content_type = "text/event-stream";
    response.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
    response.stream = [feed = feed_.get(), mask = *topics,
                       last](std::shared_ptr<server::BodyWriter> writer) {
      feed->add_client(std::move(writer), mask, last);
    };
    return response;
  }
  auto body = path == "/api/streams" ? streams_json() : recent_json(params);
  if (!body.ok()) return error_response(body.status());
  return json_response(200, std::move(*body));
}

server::HttpResponse HttpRoutes::asset(const server::HttpRequest& request, std::string_view path) {
  const EmbeddedAsset* a = find_asset(path);
  if (!a) return server::HttpResponse{404, "text/plain; charset=utf-8", {}, "not found\n", {}};
  server::HttpResponse response;
  response.content_type = std::string(a->content_type);
  // Revalidate every time (cheap: 304 on a matching ETag) so a new binary's page is never stale.
  response.headers = {{"ETag", std::string(a->etag)},
                      {"Cache-Control", "no-cache"},
                      {"Vary", "Accept-Encoding"},
                      {"X-Content-Type-Options", "nosniff"}};
  if (request.header("If-None-Match") == a->etag) {
    response.status = 304;
    return response;
  }
  if (!a->gzip.empty() && accepts(request.header("Accept-Encoding"), "gzip")) {
    response.headers.emplace_back("Content-Encoding", "gzip");
    response.body = std::string(a->gzip);
  } else {
    response.body = std::string(a->body);
  }
  if (request.method == "HEAD") response.body.clear();
  return response;
}

arrow::Result<std::string> HttpRoutes::streams_json() {
  std::string out = "{\"streams\":[";
  std::string dead = "],\"dead_letters\":[";
  if (log_) {
    ARROW_ASSIGN_OR_RAISE(auto names, log_->list_streams());
    std::sort(names.begin(), names.end());
    const int64_t now = now_ms();
    bool first = true, first_dead = true;
    std::lock_guard lock(rate_mutex_);
    for (const auto& name : names) {
      auto d = log_->describe_stream(name);
      if (!d.ok()) continue;  // deleted meanwhile
      const log::StreamTotals t = d->totals();
      const int64_t records = t.records, last_minute = t.records_last_minute;
      const uint64_t appended = t.appended;
      // Rate since the previous call when it is recent, else the last minute's average.
      double rate = static_cast<double>(last_minute) / 60.0;
      auto prev = last_counts_.find(name);
      if (prev != last_counts_.end() && now - prev->second.second >= 500 &&
          now - prev->second.second <= 60'000 && appended >= prev->second.first) {
        rate = static_cast<double>(appended - prev->second.first) * 1000.0 /
               static_cast<double>(now - prev->second.second);
      }
      if (prev == last_counts_.end() || now - prev->second.second >= 500) {
        last_counts_[name] = {appended, now};
      }
      const bool dlq = is_dead_letter_stream(name);
      if (!first) out += ',';
      first = false;
      out += "{\"name\":";
      append_json_string(name, out);
      out += fmt::format(
          ",\"shards\":{},\"records\":{},\"appended\":{},\"bytes\":{},\"records_per_second\":{:.3f}"
          ","
          "\"records_last_minute\":{},\"last_arrival_ms\":{},\"internal\":{},\"dead_letter\":{}}}",
          d->open_shard_count(), records, appended, t.bytes, rate, last_minute, t.last_arrival_ms,
          name.starts_with("__") ? "true" : "false", dlq ? "true" : "false");
      if (dlq) {
        if (!first_dead) dead += ',';
        first_dead = false;
        dead += "{\"stream\":";
        append_json_string(name, dead);
        dead += fmt::format(",\"records\":{}}}", records);
      }
    }
  }
  return out + dead + "]}";
}

arrow::Result<std::string> HttpRoutes::recent_json(
    const std::map<std::string, std::string>& params) {
  int64_t limit = 300;
  if (auto it = params.find("limit"); it != params.end()) {
    const auto& t = it->second;
    const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), limit);
    if (ec != std::errc() || p != t.data() + t.size() || limit < 1 || limit > 5000) {
      return arrow::Status::Invalid("parameter 'limit' must be an integer in 1..5000, got '", t,
                                    "'");
    }
  }
  const std::string state = params.count("state") ? params.at("state") : "";
  const std::string stream =
      params.count("stream") ? params.at("stream") : options_.feed.accidents_stream;
  std::vector<AccidentPoint> points;
  if (log_) {
    auto d = log_->describe_stream(stream);
    if (!d.ok()) {
      if (params.count("stream")) return d.status();
      return std::string("{\"events\":[]}");  // the default stream does not exist yet
    }
    // With a state filter, look further back so the map still gets points for that state.
    const uint64_t window = static_cast<uint64_t>(state.empty() ? limit : limit * 20);
    for (const auto& s : d->shards) {
      const uint64_t end = s.next_sequence.value;
      uint64_t from = end > window ? end - window : 0;
      from = std::max(from, s.starting_sequence.value);
      log::SequenceNumber at{from};
      while (at.value < end) {
        ARROW_ASSIGN_OR_RAISE(auto read, log_->read(stream, s.id, at, 1000, 8 << 20));
        if (read.records.empty()) {
          if (read.next.value > at.value) {
            at = read.next;
            continue;
          }
          break;
        }
        for (const auto& r : read.records) {
          auto p = parse_accident(r.data);
          if (!p.ok() || (!state.empty() && p->state != state)) continue;
          p->arrival_ms = r.arrival_ms;
          points.push_back(std::move(*p));
        }
        at = read.next;
      }
    }
  }
  std::stable_sort(points.begin(), points.end(),
                   [](const auto& a, const auto& b) { return a.arrival_ms > b.arrival_ms; });
  if (points.size() > static_cast<size_t>(limit)) points.resize(static_cast<size_t>(limit));
  std::string out = "{\"events\":[";
  for (size_t i = 0; i < points.size(); ++i) {
    if (i) out += ',';
    append_accident_json(points[i], out);
  }
  return out + "]}";
}

}  // namespace roadpulse::dashboard
