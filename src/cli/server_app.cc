#include "cli/server_app.h"

#include <cstdlib>

#include <spdlog/spdlog.h>

#include "realtime/http_api.h"
#include "server/kinesis_http.h"
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

struct ServerApp::Impl {
  ServerAppOptions options;
  std::shared_ptr<log::LogStore> log;
  std::shared_ptr<connect::ConnectContext> connect_context;
  std::unique_ptr<connect::ConnectorRegistry> connectors;
  std::unique_ptr<server::JobManager> jobs;
  std::unique_ptr<server::SqlGateway> gateway;
  std::unique_ptr<server::KinesisService> kinesis;
  std::unique_ptr<server::KinesisHttpHandler> kinesis_http;
  std::unique_ptr<realtime::HttpRoutes> realtime_routes;
  std::vector<Route> routes;
  std::function<std::optional<std::string>()> readiness;
  std::unique_ptr<server::HttpServer> http;
  size_t key_count = 0;

  server::HttpResponse handle(server::HttpRequest& request) {
    if (request.method == "GET" && request.path() == "/readyz") {
      std::optional<std::string> reason = readiness ? readiness() : std::nullopt;
      if (reason) return {503, "text/plain; charset=utf-8", {}, "not ready: " + *reason + "\n"};
      return {200, "text/plain; charset=utf-8", {}, "ready\n"};
    }
    if (auto reply = realtime_routes->handle(request.method, request.target)) {
      return server::HttpResponse{reply->status, reply->content_type, {}, std::move(reply->body)};
    }
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
  impl->kinesis = std::make_unique<server::KinesisService>(impl->log.get(), std::move(iterator_key),
                                                           kinesis_options);
  impl->kinesis_http = std::make_unique<server::KinesisHttpHandler>(impl->kinesis.get(),
                                                                    server::SigV4Verifier(keys));
  ARROW_ASSIGN_OR_RAISE(impl->realtime_routes,
                        realtime::HttpRoutes::make(options.data_dir, impl->log.get()));

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
connect::ConnectorRegistry& ServerApp::connectors() { return *impl_->connectors; }
server::JobManager& ServerApp::jobs() { return *impl_->jobs; }
server::SqlGateway& ServerApp::gateway() { return *impl_->gateway; }
void ServerApp::add_route(Route route) { impl_->routes.push_back(std::move(route)); }
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
