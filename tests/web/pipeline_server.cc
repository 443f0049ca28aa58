// The browser tests' server: what `roadpulse serve` composes (Kinesis API, real-time routes,
// dashboard) plus SQL jobs running in the same process, so events put through the Kinesis API
// flow through the jobs' `metrics` and `alerts` sinks into the dashboard's live feed. This is the
// one-process shape `roadpulse run` ships; the test moves to it once it exists.
//
//   web_pipeline_server --data-dir DIR --listen 127.0.0.1:0 --sql job.sql
// prints "listening on http://HOST:PORT" once serving; stops on SIGINT/SIGTERM.

#include <atomic>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "connect/registry.h"
#include "dashboard/http_routes.h"
#include "exec/job.h"
#include "log/log.h"
#include "realtime/http_api.h"
#include "server/http_server.h"
#include "server/kinesis_http.h"
#include "server/kinesis_service.h"
#include "server/sigv4.h"
#include "sql/session.h"

using namespace roadpulse;

namespace {

arrow::Status serve(const std::string& data_dir, const std::string& listen,
                    const std::string& sql_file) {
  log::LogOptions log_options;
  log_options.data_dir = data_dir;
  log_options.durability = log::Durability::kNone;
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<log::LogStore> store, log::LogStore::open(log_options));
  ARROW_ASSIGN_OR_RAISE(
      auto key, server::IteratorCodec::load_or_create_key(data_dir + "/server/iterator.key"));
  server::KinesisService service(store.get(), std::move(key), server::KinesisOptions{});
  server::KinesisHttpHandler kinesis(&service, server::SigV4Verifier({}));
  ARROW_ASSIGN_OR_RAISE(auto realtime_routes, realtime::HttpRoutes::make(data_dir, store.get()));
  ARROW_ASSIGN_OR_RAISE(auto dashboard_routes, dashboard::HttpRoutes::make(data_dir, store.get()));

  // The jobs: every INSERT of the script runs on its own thread until shutdown.
  std::ifstream in(sql_file);
  if (!in) return arrow::Status::IOError("cannot read ", sql_file);
  std::stringstream script;
  script << in.rdbuf();
  connect::ConnectOptions connect_options;
  connect_options.data_dir = data_dir;
  auto context = std::make_shared<connect::ConnectContext>(connect_options, store);
  connect::ConnectorRegistry registry(context);
  sql::Session session;
  ARROW_ASSIGN_OR_RAISE(auto results, session.execute_script(script.str()));
  std::atomic<bool> cancel{false};
  std::vector<std::unique_ptr<exec::Job>> jobs;
  for (auto& r : results) {
    if (r.kind != sql::StatementKind::kInsert) continue;
    exec::JobOptions options;
    options.name = "web-test-" + std::to_string(jobs.size() + 1);
    options.config = session.config();
    options.cancel = &cancel;
    ARROW_ASSIGN_OR_RAISE(auto job, exec::Job::make(*r.plan, registry, options));
    jobs.push_back(std::move(job));
  }
  std::vector<std::thread> threads;
  for (auto& job : jobs) {
    threads.emplace_back([j = job.get()] {
      auto st = j->run();
      if (!st.ok()) spdlog::error("web test job failed: {}", st.ToString());
    });
  }

  server::HttpServerOptions http_options;
  http_options.listen = listen;
  ARROW_ASSIGN_OR_RAISE(
      auto http, server::HttpServer::make(http_options, [&](server::HttpRequest& request) {
        if (auto response = dashboard_routes->handle(request)) return std::move(*response);
        if (auto reply = realtime_routes->handle(request.method, request.target)) {
          return server::HttpResponse{reply->status, reply->content_type, {}, reply->body};
        }
        if (auto response = kinesis.handle(request)) return std::move(*response);
        return server::HttpResponse{404, "text/plain; charset=utf-8", {}, "not found\n"};
      }));
  std::cout << "listening on http://" << http->address() << std::endl;
  http->run_until_signal();
  cancel = true;
  for (auto& t : threads) t.join();
  return arrow::Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("roadpulse dashboard test server (serve + in-process SQL jobs)");
  std::string data_dir, listen = "127.0.0.1:0", sql_file;
  app.add_option("--data-dir", data_dir)->required();
  app.add_option("--listen", listen);
  app.add_option("--sql", sql_file)->required();
  CLI11_PARSE(app, argc, argv);
  auto st = serve(data_dir, listen, sql_file);
  if (!st.ok()) {
    std::cerr << "web_pipeline_server: " << st.ToString() << std::endl;
    return 1;
  }
  return 0;
}
