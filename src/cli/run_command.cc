// `roadpulse run`: the whole system on one machine — the server (Kinesis API, SQL gateway,
// real-time APIs, /metrics, health), the pipeline's jobs (the default pipeline, or --pipeline)
// with their checkpoints, until SIGINT/SIGTERM. `roadpulse config print` shows the config it
// would use.

#include <cstdio>
#include <iostream>

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "cli/command.h"
#include "cli/pipeline.h"
#include "common/logging.h"

namespace roadpulse::cli {

namespace {

struct RunArgs {
  std::string config_path;
  std::string pipeline;
  std::string data_dir;
  std::string listen;
  std::string name;
  bool check = false;
  bool worker = false;
  std::string group;
  std::string worker_id;
  std::string shared_checkpoints;
};

// The worker's id: --worker-id, else `<hostname>-<port>` (stable across restarts of the same
// worker, distinct for workers on one machine, which listen on different ports).
std::string default_worker_id(const RunConfig& config) {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "worker");
  std::string port = config.server.listen;
  if (auto colon = port.rfind(':'); colon != std::string::npos) port = port.substr(colon + 1);
  return std::string(host) + "-" + port;
}

// roadpulse.toml (or the defaults), then the command line on top.
arrow::Result<RunConfig> effective_config(const RunArgs& args) {
  RunConfig config;
  if (!args.config_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(config, RunConfig::load(args.config_path));
  }
  if (!args.data_dir.empty()) config.data_dir = args.data_dir;
  if (!args.listen.empty()) config.server.listen = args.listen;
  if (!args.pipeline.empty()) config.pipeline.file = args.pipeline;
  if (!args.name.empty()) config.pipeline.name = args.name;
  return config;
}

void add_config_options(CLI::App* cmd, RunArgs* args) {
  cmd->add_option("--config,-c", args->config_path, "roadpulse.toml (default: built-in defaults)");
  cmd->add_option("--data-dir", args->data_dir, "Data directory (overrides data_dir)");
  cmd->add_option("--pipeline,-p", args->pipeline,
                  "Pipeline SQL file (default: the built-in sql/pipeline.sql)");
  cmd->add_option("--listen", args->listen, "HOST:PORT to serve on (overrides server.listen)");
  cmd->add_option("--name", args->name, "Pipeline name: checkpoints resume by it");
}

void setup_run(CLI::App& root) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = root.add_subcommand(
      "run", "Run the whole pipeline: server, streams, SQL jobs, lake, metrics, alerts");
  add_config_options(cmd, args.get());
  cmd->add_flag("--check", args->check, "Validate the config and the pipeline, then exit");
  cmd->add_flag("--worker", args->worker,
                "Be one of several workers sharing the pipeline's jobs over Kafka (needs "
                "[streams] backend = \"kafka\" and --group)");
  cmd->add_option("--group", args->group,
                  "With --worker: the workers' group; every worker of a group runs the same "
                  "pipeline and Kafka's consumer groups divide the partitions among them");
  cmd->add_option("--worker-id", args->worker_id,
                  "With --worker: this worker's id (default <hostname>-<port>); names its "
                  "checkpoints and Kafka transactional ids, keep it across restarts");
  cmd->add_option("--shared-checkpoints", args->shared_checkpoints,
                  "With --worker: a directory all workers share (NFS, ...) for the state of "
                  "windows repartitioned across workers");
  cmd->footer(
      "Starts the Kinesis-compatible API, the SQL gateway, the real-time APIs and /metrics on one\n"
      "port, creates the streams the pipeline declares (4 shards by default) and runs its jobs.\n"
      "A restart with the same data dir and pipeline name resumes from the last checkpoint.\n"
      "SIGINT/SIGTERM stop gracefully (final checkpoint).\n\n"
      "Examples:\n"
      "  roadpulse run\n"
      "  roadpulse run --config roadpulse.toml --data-dir /var/lib/roadpulse\n"
      "  roadpulse run --pipeline my_pipeline.sql --check\n"
      "  roadpulse run --worker --group roads -c kafka.toml --data-dir /var/lib/rp-1 \\\n"
      "    --listen 0.0.0.0:8081     # one of several workers (docs/kafka.md)\n"
      "Then send events, e.g. roadpulse simulate --input accidents.csv \\\n"
      "  --to kinesis://127.0.0.1:8080/us-accidents-data-stream-1");
  cmd->callback([args] {
    run_command([&]() -> arrow::Status {
      ARROW_ASSIGN_OR_RAISE(auto config, effective_config(*args));
      WorkerOptions worker;
      if (args->worker != !args->group.empty()) {
        return arrow::Status::Invalid("--worker and --group NAME go together");
      }
      if (!args->worker_id.empty() && !args->worker) {
        return arrow::Status::Invalid("--worker-id needs --worker");
      }
      if (args->worker) {
        worker.group = args->group;
        worker.id = args->worker_id.empty() ? default_worker_id(config) : args->worker_id;
        worker.shared_checkpoints = args->shared_checkpoints;
      }
      if (args->check) {
        ARROW_RETURN_NOT_OK(Pipeline::check(config));
        std::cout << "ok: config and pipeline are valid ("
                  << (config.pipeline.file.empty() ? "default pipeline" : config.pipeline.file)
                  << ")\n";
        return arrow::Status::OK();
      }
      if (config.logging.format != "text" || config.logging.level != "info") {
        init_logging(config.logging.format == "json" ? LogFormat::kJson : LogFormat::kText,
                     config.logging.level);
      }
      ARROW_ASSIGN_OR_RAISE(auto pipeline, Pipeline::start(config, worker));
      std::cout << "roadpulse running: " << pipeline->url() << " (data dir " << config.data_dir
                << ", pipeline " << config.pipeline.name
                << (worker.group.empty() ? std::string()
                                         : ", worker " + worker.id + " of group " + worker.group)
                << ")" << std::endl;
      pipeline->run_until_signal();
      const auto stats = pipeline->stats();
      spdlog::info("run: stopped ({} raw events, {} processed, {} dead letters)", stats.raw_records,
                   stats.processed_records, stats.dead_letters);
      if (auto failure = pipeline->app().jobs().first_failure()) {
        return arrow::Status::Invalid("a pipeline job failed: ", *failure);
      }
      return arrow::Status::OK();
    });
  });
}

void setup_config(CLI::App& root) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = root.add_subcommand("config", "Show roadpulse.toml settings");
  cmd->require_subcommand(1);
  CLI::App* print = cmd->add_subcommand(
      "print", "Print the effective config (defaults, the file, then command-line overrides)");
  add_config_options(print, args.get());
  print->footer(
      "Examples:\n"
      "  roadpulse config print                 # every key with its default\n"
      "  roadpulse config print -c roadpulse.toml");
  print->callback([args] {
    run_command([&]() -> arrow::Status {
      ARROW_ASSIGN_OR_RAISE(auto config, effective_config(*args));
      std::cout << config.to_toml();
      return arrow::Status::OK();
    });
  });
}

const RegisterCommand kRegisterRun(5, &setup_run);
const RegisterCommand kRegisterConfig(90, &setup_config);

}  // namespace

}  // namespace roadpulse::cli
