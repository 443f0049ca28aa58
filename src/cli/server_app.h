#pragma once
// The server side of roadpulse as one object, shared by `roadpulse serve` and `roadpulse run`:
// the data directory's log, the Kinesis API, the real-time routes (/metrics, metrics and alerts
// APIs), the job manager with the SQL gateway, health checks, and any further routes a command
// mounts (the dashboard, the lake query API), all on one HTTP server.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <arrow/result.h>

#include "connect/kafka_client.h"
#include "connect/registry.h"
#include "log/log.h"
#include "server/http_server.h"
#include "server/job_manager.h"
#include "server/sql_gateway.h"

namespace roadpulse::cli {

struct ServerAppOptions {
  std::string data_dir = "./roadpulse-data";
  std::string listen = "127.0.0.1:8080";
  std::vector<std::string> access_keys;  // "ID:SECRET" (ROADPULSE_ACCESS_KEYS is added)
  log::LogOptions log;                   // data_dir is overridden
  int64_t shard_records_per_second = 0;
  int64_t shard_bytes_per_second = 0;
  int max_shards = 1024;
  int io_threads = 0;
  int worker_threads = 0;
  server::SqlGatewayOptions gateway;
  /// Streams on Kafka (`[streams] backend = "kafka"`, `serve --kafka`): librdkafka properties
  /// with bootstrap.servers. Empty: the Kinesis API serves the embedded log.
  connect::kafka::Properties kafka_streams;
};

/// A route: a response, or nullopt to let the next route try.
using Route = std::function<std::optional<server::HttpResponse>(server::HttpRequest&)>;

class ServerApp {
 public:
  /// Opens the data directory (takes its lock) and builds every service; binds nothing yet.
  static arrow::Result<std::unique_ptr<ServerApp>> open(ServerAppOptions options);
  ~ServerApp();

  const ServerAppOptions& options() const;
  /// The embedded log of the data directory (internal streams, embedded stream tables).
  std::shared_ptr<log::LogStore> log();
  /// The store behind the Kinesis API: the embedded log, or Kafka with options.kafka_streams.
  std::shared_ptr<log::LogStore> streams();
  connect::ConnectorRegistry& connectors();
  server::JobManager& jobs();
  server::SqlGateway& gateway();

  /// Routes tried, in the order added, before the Kinesis API.
  void add_route(Route route);
  /// More Prometheus text appended to GET /metrics (e.g. the raw archive's counters).
  void add_metrics(std::function<std::string()> render);
  /// /readyz answers 503 with the reason this returns (nullopt: ready).
  void set_readiness(std::function<std::optional<std::string>()> check);

  /// Binds the listen address.
  arrow::Status start();
  std::string address() const;
  /// Serves until stop() or SIGINT/SIGTERM.
  void run_until_signal();
  /// Serves until stop() (the caller handles signals).
  void run();
  void stop();

  struct Impl;

 private:
  explicit ServerApp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace roadpulse::cli
