// `roadpulse demo`: the whole system on a generated data set. It runs the default pipeline (as
// `roadpulse run` does) on a fresh data directory, replays generated accidents into the raw
// stream through the Kinesis API (as the reference's producer did), stands in for a department
// with a local webhook receiver so alerts are visibly delivered, and prints a summary at the end
// or on Ctrl-C.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/command.h"
#include "cli/event_sink.h"
#include "cli/pipeline.h"
#include "cli/simulate.h"
#include "lake/lake.h"
#include "realtime/hub.h"
#include "server/document.h"

namespace roadpulse::cli {

namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

struct DemoArgs {
  int64_t rows = 20000;
  double speedup = 0;
  double duration_s = 120;
  uint64_t seed = 42;
  std::string dir = "./roadpulse-demo";
  std::string listen = "127.0.0.1:8080";
  bool exit_when_done = false;
  std::string pipeline;  // "" = the default pipeline
};

// The department: accepts every alert POSTed to it and counts distinct ones.
class WebhookReceiver {
 public:
  arrow::Status start() {
    server::HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.io_threads = 1;
    options.worker_threads = 2;
    ARROW_ASSIGN_OR_RAISE(server_, server::HttpServer::make(options, [this](auto& request) {
                            if (request.method == "POST") {
                              std::string id;
                              if (auto doc = server::decode_json(request.body); doc.ok()) {
                                if (const auto* v = doc->find("id")) id = v->as_string();
                              }
                              std::lock_guard lock(mutex_);
                              ++posts_;
                              ids_.insert(id);
                            }
                            return server::HttpResponse{200, "application/json", {}, "{}"};
                          }));
    thread_ = std::thread([this] { server_->run(); });
    return arrow::Status::OK();
  }
  void stop() {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string url() const { return "http://" + server_->address() + "/department"; }
  int64_t distinct() {
    std::lock_guard lock(mutex_);
    return int64_t(ids_.size());
  }
  int64_t posts() {
    std::lock_guard lock(mutex_);
    return posts_;
  }

 private:
  std::unique_ptr<server::HttpServer> server_;
  std::thread thread_;
  std::mutex mutex_;
  std::set<std::string> ids_;
  int64_t posts_ = 0;
};

// The default pipeline's cluster rule counts Severity >= 3 accidents per county in 15-minute
// windows sliding by 5 minutes (HOP) of Txn_Timestamp, the time each event was sent. A demo of a
// couple of minutes closes none of those windows, so it would never show a cluster. The demo
// replays accidents thousands of times faster than they happen, so it runs the same pipeline
// with the window scaled down to the demo's pace: 30 seconds sliding by 10 (same threshold).
constexpr std::string_view kClusterWindow =
    "DESCRIPTOR(`Txn_Timestamp`), INTERVAL '5' MINUTE,\n                 INTERVAL '15' MINUTE)";
constexpr std::string_view kDemoClusterWindow =
    "DESCRIPTOR(`Txn_Timestamp`), INTERVAL '10' SECOND, INTERVAL '30' SECOND)";
constexpr std::string_view kClusterTitle = "within 15 minutes'";
constexpr std::string_view kDemoClusterTitle = "within 30 seconds (demo window)'";

arrow::Result<std::string> demo_pipeline_sql() {
  std::string text(default_pipeline_sql());
  for (const auto& [from, to] : {std::pair{kClusterWindow, kDemoClusterWindow},
                                 std::pair{kClusterTitle, kDemoClusterTitle}}) {
    const size_t at = text.find(from);
    if (at == std::string::npos || text.find(from, at + 1) != std::string::npos) {
      return arrow::Status::Invalid("demo: the default pipeline's cluster rule no longer reads \"",
                                    from, "\" once; update demo_command.cc to the new rule");
    }
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string routing_toml(const std::string& url) {
  return fmt::format(
      "[[channels]]\nname = \"department\"\ntype = \"webhook\"\nurl = \"{}\"\n\n"
      "[[routes]]\nchannels = [\"department\"]\n",
      url);
}

arrow::Status run_demo(const DemoArgs& args) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::error_code ec;
  fs::create_directories(args.dir, ec);
  if (ec) return arrow::Status::IOError("cannot create '", args.dir, "': ", ec.message());
  const std::string data_dir = (fs::path(args.dir) / "data").string();
  fs::remove_all(data_dir, ec);  // every demo starts from nothing
  if (ec) return arrow::Status::IOError("cannot clear '", data_dir, "': ", ec.message());

  WebhookReceiver receiver;
  ARROW_RETURN_NOT_OK(receiver.start());

  RunConfig config;
  config.data_dir = data_dir;
  config.server.listen = args.listen;
  config.pipeline.name = "demo";
  config.pipeline.file = args.pipeline;
  if (args.pipeline.empty()) {
    ARROW_ASSIGN_OR_RAISE(const std::string sql, demo_pipeline_sql());
    config.pipeline.file = (fs::path(args.dir) / "demo-pipeline.sql").string();
    std::ofstream out(config.pipeline.file, std::ios::binary | std::ios::trunc);
    out << sql;
    if (!out.flush()) {
      receiver.stop();
      return arrow::Status::IOError("cannot write '", config.pipeline.file, "'");
    }
  }
  config.pipeline.checkpoint_interval_ms = 5'000;
  config.archive.buffer_interval_ms = 5'000;
  config.alerts.inline_toml = routing_toml(receiver.url());
  auto started = Pipeline::start(config);
  if (!started.ok()) {
    receiver.stop();
    if (started.status().message().find("address") != std::string::npos) {
      return started.status().WithMessage(started.status().message(),
                                          " (is another roadpulse running? try --listen "
                                          "127.0.0.1:0 for any free port)");
    }
    return started.status();
  }
  auto pipeline = std::move(*started);
  std::thread server_thread([&] { pipeline->app().run(); });
  const std::string url = pipeline->url();
  std::cout << fmt::format("demo: dashboard and APIs on {}/  (metrics: {}/metrics)\n", url, url)
            << std::flush;

  const std::string csv = (fs::path(args.dir) / "accidents.csv").string();
  record::GeneratorOptions generate;
  generate.rows = args.rows;
  generate.seed = args.seed;
  ARROW_RETURN_NOT_OK(generate_csv(generate, csv));

  SimulateOptions simulate;
  simulate.input = csv;
  simulate.dead_letter = (fs::path(args.dir) / "simulate-dead-letters.jsonl").string();
  simulate.interrupted = &g_stop;
  simulate.progress = ::isatty(STDERR_FILENO) && !args.exit_when_done;
  if (args.speedup > 0) {
    simulate.speedup = args.speedup;
  } else if (args.exit_when_done) {
    simulate.rate = 0;  // scripts want the result, not the show: as fast as it goes
  } else {
    // Spread the replay over most of the run, so the dashboard moves the whole time.
    simulate.rate = double(args.rows) / std::max(1.0, args.duration_s * 0.8);
  }
  const std::string target = "kinesis://" + url.substr(7) + "/us-accidents-data-stream-1";
  std::cout << fmt::format("demo: replaying {} generated accidents into {} ({})\n", args.rows,
                           target,
                           args.speedup > 0    ? fmt::format("{}x event time", args.speedup)
                           : simulate.rate > 0 ? fmt::format("{:.0f} events/s", simulate.rate)
                                               : std::string("as fast as possible"))
            << std::flush;
  std::atomic<bool> simulation_done{false};
  arrow::Result<SimulateSummary> simulated = arrow::Status::UnknownError("not run");
  std::thread producer([&] {
    auto sink = open_event_sink(target);
    if (!sink.ok()) {
      simulated = sink.status();
    } else {
      simulated = run_simulation(simulate, **sink);
      (void)(*sink)->close();
    }
    simulation_done = true;
  });

  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  while (!g_stop.load() && elapsed() < args.duration_s) {
    if (args.exit_when_done && simulation_done.load()) {
      // Done when the pipeline has read everything the producer delivered.
      const auto stats = pipeline->stats();
      int64_t read = 0;
      for (const auto& job : pipeline->app().jobs().list()) {
        for (const auto& s : job.summary.sources) {
          if (s.table == "raw_accidents") read += s.records_read + s.records_rejected;
        }
      }
      // ... and the raw archive has taken it all (written, rejected or buffered for its flush).
      const auto& a = stats.archive;
      const int64_t archived = a.records + a.error_records + a.buffered_records + a.expired_records;
      if (read >= stats.raw_records && (!stats.archive_on || archived >= stats.raw_records)) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  g_stop = true;  // stops the producer if it is still replaying
  producer.join();

  // Alerts already fired get a moment to reach the department before the jobs stop.
  auto hub = realtime::Hub::for_data_dir(data_dir);
  if (auto* outbox = hub->alerts_if_open()) outbox->wait_idle(5'000);
  const auto stats = pipeline->stats();
  realtime::OutboxCounters alerts;
  std::map<std::string, int64_t> alerts_by_rule;
  if (auto* outbox = hub->alerts_if_open()) {
    alerts = outbox->counters();
    for (const auto& a : outbox->list(0)) ++alerts_by_rule[a.alert.rule];
  }
  pipeline->stop();
  server_thread.join();
  receiver.stop();

  int64_t lake_rows = 0, lake_files = 0;
  if (auto catalog = lake::Catalog::open(data_dir + "/lake/_catalog"); catalog.ok()) {
    if (auto table = (*catalog)->find("curated.us_accidents"); table.ok() && *table) {
      lake_rows = (*table)->rows();
      lake_files = int64_t((*table)->file_count());
    }
  }
  std::cout << "\ndemo summary\n";
  if (simulated.ok()) {
    std::cout << fmt::format("  replayed     {}\n", format_summary(*simulated, target));
  } else {
    std::cout << fmt::format("  replay failed: {}\n", simulated.status().message());
  }
  std::cout << fmt::format("  ingested     {} events in us-accidents-data-stream-1\n",
                           stats.raw_records);
  std::cout << fmt::format(
      "  processed    {} events with Severity > 3 in us-accidents-data-stream-2\n",
      stats.processed_records);
  std::cout << fmt::format("  dead-letter  {} records\n", stats.dead_letters);
  const auto final_stats = pipeline->stats();
  std::cout << fmt::format("  raw archive  {} records in {} zstd JSON-lines files ({} rejected)\n",
                           final_stats.archive.records, final_stats.archive.files,
                           final_stats.archive.error_records);
  std::cout << fmt::format("  lake         {} rows in {} Parquet files (curated.us_accidents)\n",
                           lake_rows, lake_files);
  std::cout << fmt::format("  alerts       {} fired, {} delivered to the department webhook\n",
                           alerts.enqueued, receiver.distinct());
  std::cout << fmt::format(
      "               {} severe_accident, {} accident_cluster{}\n",
      alerts_by_rule["severe_accident"], alerts_by_rule["accident_cluster"],
      args.pipeline.empty() ? " (30 s windows in the demo; the default pipeline: 15 min)" : "");
  int64_t checkpoints = 0;
  for (const auto& job : pipeline->app().jobs().list()) checkpoints += job.checkpoints.completed;
  std::cout << fmt::format("  checkpoints  {} completed\n", checkpoints);
  std::cout << fmt::format("  data         {}\n", data_dir) << std::flush;
  if (auto failure = pipeline->app().jobs().first_failure()) {
    return arrow::Status::Invalid("a pipeline job failed: ", *failure);
  }
  if (!simulated.ok()) return simulated.status();
  return arrow::Status::OK();
}

void setup_demo(CLI::App& root) {
  auto args = std::make_shared<DemoArgs>();
  auto* cmd = root.add_subcommand(
      "demo", "Run the whole pipeline on generated accidents, with a dashboard and a summary");
  cmd->add_option("--rows,-n", args->rows, "Accidents to generate and replay")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--speedup", args->speedup,
                  "Replay at event time divided by this (default: spread over the duration)");
  cmd->add_option("--duration", args->duration_s, "Seconds to run before the summary")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->seed, "Generator seed")->capture_default_str();
  cmd->add_option("--dir", args->dir, "Demo directory (its data/ is replaced each run)")
      ->capture_default_str();
  cmd->add_option("--listen", args->listen, "HOST:PORT of the dashboard and APIs")
      ->capture_default_str();
  cmd->add_option("--pipeline,-p", args->pipeline,
                  "Pipeline SQL to run instead of the default (it must read the raw stream)");
  cmd->add_flag("--exit-when-done", args->exit_when_done,
                "End as soon as every replayed event is processed (scripts, CI)");
  cmd->footer(
      "Runs `roadpulse run`'s default pipeline on <dir>/data, replays generated accidents into\n"
      "the raw stream through the Kinesis API and delivers alerts to a local webhook standing\n"
      "in for a department. Open the printed URL while it runs; Ctrl-C ends it early.\n"
      "The replay is thousands of times faster than real accidents happen, so the demo's\n"
      "cluster rule counts 30-second windows instead of the default pipeline's 15 minutes\n"
      "(the SQL it runs is <dir>/demo-pipeline.sql); --pipeline runs a file unchanged.\n\n"
      "Examples:\n"
      "  roadpulse demo\n"
      "  roadpulse demo --rows 100000 --duration 60\n"
      "  roadpulse demo --rows 5000 --exit-when-done --listen 127.0.0.1:0");
  cmd->callback([args] { run_command([&] { return run_demo(*args); }); });
}

const RegisterCommand kRegister(90, setup_demo);

}  // namespace

}  // namespace roadpulse::cli
