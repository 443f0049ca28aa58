// `roadpulse serve`: owns a data directory and serves the Kinesis-compatible API (JSON 1.1 and
// CBOR) over the embedded log, until SIGINT/SIGTERM.

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "cli/command.h"
#include "log/log.h"
#include "realtime/http_api.h"
#include "server/http_server.h"
#include "server/kinesis_http.h"
#include "server/kinesis_service.h"
#include "server/sigv4.h"

namespace roadpulse::cli {

namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./roadpulse-data";
  std::vector<std::string> access_keys;
  std::string durability = "fsync";
  int64_t shard_records_per_second = 0;
  int64_t shard_bytes_per_second = 0;
  int io_threads = 0;
  int worker_threads = 0;
  int max_shards = 1024;
};

bool is_loopback(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "::1" || host == "localhost";
}

arrow::Status serve(const ServeOptions& opts) {
  std::vector<server::AccessKey> keys;
  std::vector<std::string> key_texts = opts.access_keys;
  if (const char* env = std::getenv("ROADPULSE_ACCESS_KEYS"); env && *env) {
    std::string all(env);
    for (size_t pos = 0; pos <= all.size();) {
      size_t comma = all.find(',', pos);
      if (comma == std::string::npos) comma = all.size();
      if (comma > pos) key_texts.push_back(all.substr(pos, comma - pos));
      pos = comma + 1;
    }
  }
  for (const auto& text : key_texts) {
    ARROW_ASSIGN_OR_RAISE(auto key, server::AccessKey::parse(text));
    keys.push_back(std::move(key));
  }
  ARROW_ASSIGN_OR_RAISE(auto host_port, server::parse_listen_address(opts.listen));
  if (!is_loopback(host_port.first) && keys.empty()) {
    spdlog::warn(
        "serve: listening on {} beyond loopback without --access-key: anyone who can "
        "reach it can read and write every stream",
        opts.listen);
  }

  log::LogOptions log_options;
  log_options.data_dir = opts.data_dir;
  if (opts.durability == "fsync") {
    log_options.durability = log::Durability::kFsync;
  } else if (opts.durability == "interval") {
    log_options.durability = log::Durability::kInterval;
  } else {
    log_options.durability = log::Durability::kNone;
  }
  ARROW_ASSIGN_OR_RAISE(auto store, log::LogStore::open(log_options));
  ARROW_ASSIGN_OR_RAISE(auto iterator_key, server::IteratorCodec::load_or_create_key(
                                               opts.data_dir + "/server/iterator.key"));
  server::KinesisOptions kinesis_options;
  kinesis_options.shard_records_per_second = opts.shard_records_per_second;
  kinesis_options.shard_bytes_per_second = opts.shard_bytes_per_second;
  kinesis_options.max_shards_per_stream = opts.max_shards;
  if (const char* offset = std::getenv("ROADPULSE_TEST_CLOCK_OFFSET_MS"); offset && *offset) {
    kinesis_options.clock_offset_ms = std::strtoll(offset, nullptr, 10);
    spdlog::warn("serve: clock shifted by {} ms for iterator expiry (test hook)",
                 kinesis_options.clock_offset_ms);
  }
  server::KinesisService service(store.get(), std::move(iterator_key), kinesis_options);
  server::KinesisHttpHandler kinesis(&service, server::SigV4Verifier(keys));

  // Real-time routes (/metrics, /api/metrics/query, /api/alerts): src/realtime/http_api.h.
  ARROW_ASSIGN_OR_RAISE(auto realtime_routes,
                        realtime::HttpRoutes::make(opts.data_dir, store.get()));

  server::HttpServerOptions http_options;
  http_options.listen = opts.listen;
  http_options.io_threads = opts.io_threads;
  http_options.worker_threads = opts.worker_threads;
  ARROW_ASSIGN_OR_RAISE(
      auto http, server::HttpServer::make(http_options, [&](server::HttpRequest& request) {
        if (auto reply = realtime_routes->handle(request.method, request.target)) {
          return server::HttpResponse{
              reply->status, reply->content_type, {}, std::move(reply->body)};
        }
        if (auto response = kinesis.handle(request)) return std::move(*response);
        return server::HttpResponse{404, "text/plain; charset=utf-8", {}, "not found\n"};
      }));
  spdlog::info("serve: Kinesis API on http://{} (data dir {}, durability {}, {})", http->address(),
               opts.data_dir, opts.durability,
               keys.empty() ? "no access keys: signatures not checked"
                            : std::to_string(keys.size()) + " access key(s): SigV4 required");
  // A line on stdout that scripts can wait for.
  std::cout << "listening on http://" << http->address() << std::endl;
  http->run_until_signal();
  spdlog::info("serve: stopped; closing the log");
  return arrow::Status::OK();
}

void setup(CLI::App& root) {
  auto opts = std::make_shared<ServeOptions>();
  CLI::App* cmd = root.add_subcommand(
      "serve", "Serve the Kinesis-compatible API (JSON 1.1 and CBOR) over the embedded log");
  cmd->add_option("--listen", opts->listen, "HOST:PORT to listen on (loopback by default)")
      ->capture_default_str();
  cmd->add_option("--data-dir", opts->data_dir, "Data directory this server owns")
      ->capture_default_str();
  cmd->add_option("--access-key", opts->access_keys,
                  "ID:SECRET accepted for SigV4-signed requests (repeatable; also "
                  "ROADPULSE_ACCESS_KEYS=ID:SECRET,...). With any key set, unsigned or wrongly "
                  "signed requests are refused.");
  cmd->add_option("--durability", opts->durability,
                  "When appends are acknowledged: fsync (after fdatasync, default), interval, none")
      ->check(CLI::IsMember({"fsync", "interval", "none"}))
      ->capture_default_str();
  cmd->add_option("--shard-limit-records", opts->shard_records_per_second,
                  "Per-shard write limit in records/s (Kinesis: 1000); 0 = unlimited")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--shard-limit-bytes", opts->shard_bytes_per_second,
                  "Per-shard write limit in bytes/s (Kinesis: 1048576); 0 = unlimited")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--io-threads", opts->io_threads, "HTTP I/O threads (0: one per core)");
  cmd->add_option("--workers", opts->worker_threads, "Request worker threads (0: automatic)");
  cmd->add_option("--max-shards", opts->max_shards, "Most shards a stream may have")
      ->capture_default_str();
  cmd->footer(
      "Examples:\n"
      "  roadpulse serve --data-dir ./data\n"
      "  roadpulse serve --listen 127.0.0.1:4567 --access-key AKIDEXAMPLE:secret\n"
      "  aws --endpoint-url http://127.0.0.1:8080 kinesis create-stream \\\n"
      "      --stream-name us-accidents-data-stream-1 --shard-count 4\n"
      "Stops gracefully on SIGINT/SIGTERM (in-flight requests are answered first).");
  cmd->callback([opts] { run_command([&] { return serve(*opts); }); });
}

const RegisterCommand kRegister(40, &setup);

}  // namespace

}  // namespace roadpulse::cli
