#include "cli/server_app.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "dashboard/http_routes.h"
#include "query/query.h"
#include "realtime/http_api.h"
#include "server/kinesis_http.h"
#include "server/kinesis_kafka_store.h"
#include "server/kinesis_service.h"
#include "server/sigv4.h"

namespace roadpulse::cli {

namespace {

bool is_loopback(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "::1" || host == "localhost";
}

std::vector<std::string> split_commas(const std::string& all) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos <= all.size();) {
    size_t comma = all.find(',', pos);
    if (comma == std::string::npos) comma = all.size();
    if (comma > pos) out.push_back(all.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

}  // namespace

// Prometheus text for one labelled sample.
void sample(std::string& out, const char* name, const std::string& labels, double value) {
  out += fmt::format("{}{{{}}} {}\n", name, labels, value);
}

std::string label(const char* key, const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return fmt::format("{}=\"{}\"", key, escaped);
}

struct ServerApp::Impl {
  ServerAppOptions options;
  std::shared_ptr<log::LogStore> log;
  std::shared_ptr<log::LogStore> streams;  // behind the Kinesis API: `log` or Kafka
  std::shared_ptr<connect::ConnectContext> connect_context;
  std::unique_ptr<connect::ConnectorRegistry> connectors;
  std::unique_ptr<server::JobManager> jobs;
  std::unique_ptr<server::SqlGateway> gateway;
  std::unique_ptr<server::KinesisService> kinesis;
  std::unique_ptr<server::KinesisHttpHandler> kinesis_http;
  std::unique_ptr<realtime::HttpRoutes> realtime_routes;
  // The dashboard (/, /api/stream, /api/streams, /api/events/recent); after `http` in
  // destruction order, before the log.
  std::unique_ptr<dashboard::HttpRoutes> dashboard_routes;
  std::unique_ptr<query::QueryRoutes> query_routes;  // POST /api/query: SQL over the lake
  std::vector<Route> routes;
  std::function<std::optional<std::string>()> readiness;
  std::vector<std::function<std::string()>> extra_metrics;
  std::unique_ptr<server::HttpServer> http;
  size_t key_count = 0;
  std::vector<std::string> bearer_tokens;  // "Bearer ID:SECRET" per access key

  // roadpulse's own health beside the real-time layer's: streams, dead letters, jobs.
  std::string health_metrics() {
    std::string out;
    out +=
        "# HELP roadpulse_stream_records Records retained in a stream.\n"
        "# TYPE roadpulse_stream_records gauge\n";
    std::string bytes =
        "# HELP roadpulse_stream_bytes Bytes retained in a stream.\n"
        "# TYPE roadpulse_stream_bytes gauge\n";
    std::string rate =
        "# HELP roadpulse_stream_ingest_records_per_second Appends over the last minute.\n"
        "# TYPE roadpulse_stream_ingest_records_per_second gauge\n";
    std::string dead =
        "# HELP roadpulse_dead_letter_records Records in a dead-letter stream (<stream>.dlq).\n"
        "# TYPE roadpulse_dead_letter_records gauge\n";
    if (auto streams = log->list_streams(); streams.ok()) {
      for (const auto& name : *streams) {
        auto d = log->describe_stream(name);
        if (!d.ok()) continue;
        const log::StreamTotals t = d->totals();
        const std::string l = label("stream", name);
        sample(out, "roadpulse_stream_records", l, double(t.records));
        sample(bytes, "roadpulse_stream_bytes", l, double(t.bytes));
        sample(rate, "roadpulse_stream_ingest_records_per_second", l,
               double(t.records_last_minute) / 60.0);
        if (log::is_dead_letter_stream(name)) {
          sample(dead, "roadpulse_dead_letter_records", l, double(t.records));
        }
      }
    }
    out += bytes + rate + dead;
    std::string up =
        "# HELP roadpulse_job_running 1 while the job runs, 0 once it ended or failed.\n"
        "# TYPE roadpulse_job_running gauge\n";
    std::string failed =
        "# HELP roadpulse_job_failed 1 when the job failed.\n# TYPE roadpulse_job_failed gauge\n";
    std::string in =
        "# HELP roadpulse_job_records_read_total Records a job's sources read.\n"
        "# TYPE roadpulse_job_records_read_total counter\n";
    std::string rejected =
        "# HELP roadpulse_job_records_rejected_total Undecodable records (dead-lettered).\n"
        "# TYPE roadpulse_job_records_rejected_total counter\n";
    std::string written =
        "# HELP roadpulse_job_rows_written_total Rows a job's sinks wrote.\n"
        "# TYPE roadpulse_job_rows_written_total counter\n";
    std::string checkpoints =
        "# HELP roadpulse_job_checkpoints_completed_total Checkpoints this run of a job "
        "completed.\n# TYPE roadpulse_job_checkpoints_completed_total counter\n";
    std::string checkpoint_age =
        "# HELP roadpulse_job_last_checkpoint_age_seconds Seconds since a job's last completed "
        "checkpoint (grows when checkpoints stall).\n"
        "# TYPE roadpulse_job_last_checkpoint_age_seconds gauge\n";
    std::string lag_records =
        "# HELP roadpulse_job_lag_records Records appended to a running job's source stream after "
        "its read position (per source, over every shard or partition).\n"
        "# TYPE roadpulse_job_lag_records gauge\n";
    std::string lag_ms =
        "# HELP roadpulse_job_lag_ms How much older a running job's read position is than the "
        "newest record of its source stream (the shard furthest behind; MillisBehindLatest).\n"
        "# TYPE roadpulse_job_lag_ms gauge\n";
    const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    for (const auto& job : jobs->list()) {
      const std::string l = label("job", job.id) + "," + label("name", job.name);
      sample(checkpoints, "roadpulse_job_checkpoints_completed_total", l,
             double(job.checkpoints.completed));
      if (job.checkpoints.last_completed_micros > 0 && job.state == server::JobState::kRunning) {
        sample(checkpoint_age, "roadpulse_job_last_checkpoint_age_seconds", l,
               double(now_us - job.checkpoints.last_completed_micros) / 1e6);
      }
      sample(up, "roadpulse_job_running", l, job.state == server::JobState::kRunning ? 1 : 0);
      sample(failed, "roadpulse_job_failed", l, job.state == server::JobState::kFailed ? 1 : 0);
      for (const auto& s : job.summary.sources) {
        const std::string sl = l + "," + label("table", s.table);
        sample(in, "roadpulse_job_records_read_total", sl, double(s.records_read));
        sample(rejected, "roadpulse_job_records_rejected_total", sl, double(s.records_rejected));
      }
      for (const auto& s : job.lag) {
        const std::string sl = l + "," + label("table", s.table);
        sample(lag_records, "roadpulse_job_lag_records", sl, double(s.records()));
        if (s.millis() >= 0) sample(lag_ms, "roadpulse_job_lag_ms", sl, double(s.millis()));
      }
      for (const auto& s : job.summary.sinks) {
        sample(written, "roadpulse_job_rows_written_total", l + "," + label("table", s.table),
               double(s.rows_written));
      }
    }
    out +=
        up + failed + in + rejected + written + checkpoints + checkpoint_age + lag_records + lag_ms;
    for (auto& render : extra_metrics) out += render();
    return out;
  }

  server::HttpResponse handle(server::HttpRequest& request) {
    if (request.method == "GET" && request.path() == "/readyz") {
      std::optional<std::string> reason = readiness ? readiness() : std::nullopt;
      if (reason) return {503, "text/plain; charset=utf-8", {}, "not ready: " + *reason + "\n"};
      return {200, "text/plain; charset=utf-8", {}, "ready\n"};
    }
    if (auto reply = realtime_routes->handle(request.method, request.target)) {
      if (request.path() == "/metrics" && reply->status == 200) reply->body += health_metrics();
      return server::HttpResponse{reply->status, reply->content_type, {}, std::move(reply->body)};
    }
    // With access keys, running SQL or cancelling jobs needs one (reads stay open, as the
    // dashboard needs them).
    if (!bearer_tokens.empty() && request.method != "GET" &&
        (request.path() == "/api/sql" || request.path() == "/api/query" ||
         request.path().rfind("/api/jobs", 0) == 0)) {
      const std::string_view auth = request.header("authorization");
      if (std::find(bearer_tokens.begin(), bearer_tokens.end(), auth) == bearer_tokens.end()) {
        return {401,
                "application/json",
                {{"WWW-Authenticate", "Bearer"}},
                "{\"error\":\"this server requires an access key: send 'Authorization: Bearer "
                "ID:SECRET' (roadpulse sql/jobs read ROADPULSE_ACCESS_KEY)\"}"};
      }
    }
    if (auto response = dashboard_routes->handle(request)) return std::move(*response);
    if (auto response = query_routes->handle(request)) return std::move(*response);
    if (auto response = gateway->handle(request)) return std::move(*response);
    for (auto& route : routes) {
      if (auto response = route(request)) return std::move(*response);
    }
    if (auto response = kinesis_http->handle(request)) return std::move(*response);
    return server::HttpResponse{404, "text/plain; charset=utf-8", {}, "not found\n"};
  }
};

ServerApp::ServerApp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ServerApp::~ServerApp() {
  // Jobs write to the log and the real-time hub: stop them before those close.
  if (impl_->jobs) impl_->jobs->stop_all();
}

arrow::Result<std::unique_ptr<ServerApp>> ServerApp::open(ServerAppOptions options) {
  auto impl = std::make_unique<Impl>();
  std::vector<server::AccessKey> keys;
  std::vector<std::string> key_texts = options.access_keys;
  if (const char* env = std::getenv("ROADPULSE_ACCESS_KEYS"); env && *env) {
    for (auto& k : split_commas(env)) key_texts.push_back(std::move(k));
  }
  for (const auto& text : key_texts) {
    ARROW_ASSIGN_OR_RAISE(auto key, server::AccessKey::parse(text));
    keys.push_back(std::move(key));
  }
  impl->key_count = keys.size();
  for (const auto& text : key_texts) impl->bearer_tokens.push_back("Bearer " + text);
  ARROW_ASSIGN_OR_RAISE(auto host_port, server::parse_listen_address(options.listen));
  if (!is_loopback(host_port.first) && keys.empty()) {
    spdlog::warn(
        "listening on {} beyond loopback without access keys: anyone who can reach it can read "
        "and write every stream and run SQL",
        options.listen);
  }

  options.log.data_dir = options.data_dir;
  ARROW_ASSIGN_OR_RAISE(auto store, log::LogStore::open(options.log));
  impl->log = std::shared_ptr<log::LogStore>(std::move(store));
  impl->streams = impl->log;
  if (!options.kafka_streams.empty()) {
    server::KafkaStoreOptions kafka_options;
    kafka_options.properties = options.kafka_streams;
    kafka_options.positions_dir = options.data_dir + "/kafka-positions";
    ARROW_ASSIGN_OR_RAISE(auto kafka_store,
                          server::make_kafka_stream_store(std::move(kafka_options)));
    impl->streams = std::shared_ptr<log::LogStore>(std::move(kafka_store));
    spdlog::info("Kinesis API on Kafka ({})", options.kafka_streams.at("bootstrap.servers"));
  }
  ARROW_ASSIGN_OR_RAISE(auto iterator_key, server::IteratorCodec::load_or_create_key(
                                               options.data_dir + "/server/iterator.key"));
  server::KinesisOptions kinesis_options;
  kinesis_options.shard_records_per_second = options.shard_records_per_second;
  kinesis_options.shard_bytes_per_second = options.shard_bytes_per_second;
  kinesis_options.max_shards_per_stream = options.max_shards;
  if (const char* offset = std::getenv("ROADPULSE_TEST_CLOCK_OFFSET_MS"); offset && *offset) {
    kinesis_options.clock_offset_ms = std::strtoll(offset, nullptr, 10);
    spdlog::warn("clock shifted by {} ms for iterator expiry (test hook)",
                 kinesis_options.clock_offset_ms);
  }
  impl->kinesis = std::make_unique<server::KinesisService>(
      impl->streams.get(), std::move(iterator_key), kinesis_options);
  impl->kinesis_http = std::make_unique<server::KinesisHttpHandler>(impl->kinesis.get(),
                                                                    server::SigV4Verifier(keys));
  ARROW_ASSIGN_OR_RAISE(impl->realtime_routes,
                        realtime::HttpRoutes::make(options.data_dir, impl->log.get()));
  ARROW_ASSIGN_OR_RAISE(impl->query_routes, query::QueryRoutes::make(options.data_dir));
  // The dashboard's stream panels and feed read where the Kinesis API serves (Kafka or the log).
  ARROW_ASSIGN_OR_RAISE(impl->dashboard_routes,
                        dashboard::HttpRoutes::make(options.data_dir, impl->streams.get()));

  connect::ConnectOptions connect_options;
  connect_options.data_dir = options.data_dir;
  connect_options.log = options.log;
  impl->connect_context = std::make_shared<connect::ConnectContext>(connect_options, impl->log);
  impl->connectors = std::make_unique<connect::ConnectorRegistry>(impl->connect_context);
  impl->jobs = std::make_unique<server::JobManager>(impl->connectors.get());
  impl->gateway = std::make_unique<server::SqlGateway>(impl->jobs.get(), impl->connectors.get(),
                                                       options.gateway);
  impl->options = std::move(options);
  return std::unique_ptr<ServerApp>(new ServerApp(std::move(impl)));
}

const ServerAppOptions& ServerApp::options() const { return impl_->options; }
std::shared_ptr<log::LogStore> ServerApp::log() { return impl_->log; }
std::shared_ptr<log::LogStore> ServerApp::streams() { return impl_->streams; }
connect::ConnectorRegistry& ServerApp::connectors() { return *impl_->connectors; }
server::JobManager& ServerApp::jobs() { return *impl_->jobs; }
server::SqlGateway& ServerApp::gateway() { return *impl_->gateway; }
void ServerApp::add_route(Route route) { impl_->routes.push_back(std::move(route)); }
void ServerApp::add_metrics(std::function<std::string()> render) {
  impl_->extra_metrics.push_back(std::move(render));
}
void ServerApp::set_readiness(std::function<std::optional<std::string>()> check) {
  impl_->readiness = std::move(check);
}

arrow::Status ServerApp::start() {
  server::HttpServerOptions http_options;
  http_options.listen = impl_->options.listen;
  http_options.io_threads = impl_->options.io_threads;
  http_options.worker_threads = impl_->options.worker_threads;
  Impl* impl = impl_.get();
  ARROW_ASSIGN_OR_RAISE(
      impl_->http, server::HttpServer::make(http_options, [impl](server::HttpRequest& request) {
        return impl->handle(request);
      }));
  spdlog::info(
      "serving on http://{} (data dir {}, {})", impl_->http->address(), impl_->options.data_dir,
      impl_->key_count == 0 ? std::string("no access keys: signatures not checked")
                            : std::to_string(impl_->key_count) + " access key(s): SigV4 required");
  return arrow::Status::OK();
}

std::string ServerApp::address() const { return impl_->http ? impl_->http->address() : ""; }
void ServerApp::run_until_signal() { impl_->http->run_until_signal(); }
void ServerApp::run() { impl_->http->run(); }
void ServerApp::stop() {
  if (impl_->http) impl_->http->stop();
}

}  // namespace roadpulse::cli
