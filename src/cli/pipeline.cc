#include "cli/pipeline.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/worker_stages.h"
#include "common/json_text.h"
#include "connect/connectors.h"
#include "connect/kafka_client.h"
#include "exec/job.h"
#include "realtime/alerts.h"
#include "sql/session.h"

namespace roadpulse::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kNoChannelsConfig =
    "# Written by roadpulse run: no alert channels are configured, so alerts are recorded\n"
    "# (GET /api/alerts, the dashboard) but sent nowhere. Configure channels and routes under\n"
    "# [alerts] in roadpulse.toml (docs/configuration.md) or in this file's format\n"
    "# (docs/realtime.md).\n";

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

arrow::Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return arrow::Status::IOError("cannot read pipeline '", path, "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string absolute_dir(const std::string& dir) {
  std::error_code ec;
  auto abs = fs::absolute(dir, ec);
  return ec ? dir : abs.lexically_normal().string();
}

// SET keys every job of the pipeline (and of the SQL gateway) gets from roadpulse.toml.
std::map<std::string, std::string> base_config(const RunConfig& config) {
  std::map<std::string, std::string> out;
  out["pipeline.name"] = config.pipeline.name;
  out["execution.checkpointing.interval"] =
      fmt::format("{} ms", config.pipeline.checkpoint_interval_ms);
  out["state.checkpoints.dir"] = absolute_dir(config.data_dir) + "/checkpoints";
  if (config.streams.backend == "kafka") {
    out["streams.backend"] = "kafka";
    out["streams.kafka.bootstrap.servers"] = config.streams.bootstrap_servers;
    out["streams.sink.delivery-guarantee"] = config.streams.sink_delivery_guarantee;
    for (const auto& [k, v] : config.streams.kafka_properties) {
      out["streams.kafka." + k] = v;  // librdkafka properties, passed through
    }
  }
  for (const auto& [k, v] : config.pipeline.set) out[k] = v;
  return out;
}

// The routing config alerts use: [alerts] of roadpulse.toml when given; else an existing
// <data-dir>/alerts.toml; else one with no channels. Returned as file text (empty: keep).
arrow::Result<std::string> alert_routing_text(const RunConfig& config) {
  if (!config.alerts.inline_toml.empty()) return config.alerts.inline_toml;
  if (!config.alerts.config.empty()) {
    std::ifstream in(config.alerts.config, std::ios::binary);
    if (!in) {
      return arrow::Status::IOError("alerts.config: cannot read '", config.alerts.config, "'");
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }
  return std::string();
}

arrow::Status ensure_kafka_topic(const std::map<std::string, std::string>& session,
                                 const std::string& topic, int partitions) {
  ARROW_ASSIGN_OR_RAISE(auto props, connect::kafka_streams_backend(session));
  if (!props) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto admin, connect::kafka::Admin::make(*props, "streams.kafka."));
  ARROW_ASSIGN_OR_RAISE(auto existing, admin->partition_count(topic));
  if (existing) return arrow::Status::OK();
  ARROW_RETURN_NOT_OK(admin->create_topic(topic, partitions));
  // A new topic's partitions answer offset requests only once their leaders have loaded them
  // ("Not leader for partition" until then); the jobs' sources ask right away.
  for (int p = 0; p < partitions; ++p) {
    for (int attempt = 0;; ++attempt) {
      auto watermarks = admin->watermarks(topic, p);
      if (watermarks.ok()) break;
      if (attempt == 150) return watermarks.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  spdlog::info("run: created Kafka topic {} ({} partitions)", topic, partitions);
  return arrow::Status::OK();
}

bool is_stream_table(const sql::CatalogTable& table) {
  auto it = table.options.find("connector");
  return it != table.options.end() && (it->second == "kinesis" || it->second == "stream");
}

struct PlannedPipeline {
  std::unique_ptr<sql::Session> session;
  std::vector<sql::StatementResult> inserts;
  std::string seed_sql;  // the DDL and SETs, for gateway sessions
};

arrow::Result<PlannedPipeline> plan_pipeline(const RunConfig& config) {
  ARROW_ASSIGN_OR_RAISE(const std::string text, pipeline_sql(config));
  PlannedPipeline planned;
  planned.session = std::make_unique<sql::Session>();
  for (const auto& [k, v] : base_config(config)) planned.session->set_config(k, v);
  auto results = planned.session->execute_script(text);
  if (!results.ok()) {
    const std::string where =
        config.pipeline.file.empty() ? std::string("the default pipeline") : config.pipeline.file;
    return results.status().WithMessage(where, ": ", results.status().message());
  }
  for (auto& result : *results) {
    switch (result.kind) {
      case sql::StatementKind::kInsert:
        planned.inserts.push_back(std::move(result));
        break;
      case sql::StatementKind::kCreateTable:
      case sql::StatementKind::kCreateView:
      case sql::StatementKind::kDropTable:
      case sql::StatementKind::kDropView:
      case sql::StatementKind::kSet:
      case sql::StatementKind::kReset:
        planned.seed_sql += result.sql + ";\n";
        break;
      case sql::StatementKind::kQuery:
        return arrow::Status::Invalid(
            "line ", result.line,
            ": a pipeline runs INSERT INTO statements; a SELECT has nowhere to send its rows "
            "(run it with roadpulse sql --server or the dashboard's console)");
      default:
        break;  // SHOW / DESCRIBE / EXPLAIN: harmless, ignored
    }
  }
  if (planned.inserts.empty()) {
    return arrow::Status::Invalid("the pipeline has no INSERT INTO statement: nothing to run");
  }
  return planned;
}

}  // namespace

arrow::Result<std::string> substitute_variables(
    std::string_view text, const std::vector<std::pair<std::string, std::string>>& variables) {
  std::string out;
  out.reserve(text.size());
  int line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') ++line;
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      const size_t end = text.find('}', i + 2);
      if (end == std::string_view::npos) {
        return arrow::Status::Invalid("line ", line, ": '${' without a closing '}'");
      }
      const std::string_view name = text.substr(i + 2, end - i - 2);
      bool found = false;
      for (const auto& [k, v] : variables) {
        if (k == name) {
          out += v;
          found = true;
          break;
        }
      }
      if (!found) {
        std::string known;
        for (const auto& [k, v] : variables) known += (known.empty() ? "" : ", ") + k;
        return arrow::Status::Invalid("line ", line, ": unknown variable '${", name,
                                      "}' (known: ", known, ")");
      }
      i = end;
      continue;
    }
    out.push_back(text[i]);
  }
  return out;
}

arrow::Result<std::string> pipeline_sql(const RunConfig& config) {
  std::string text;
  if (config.pipeline.file.empty()) {
    text = std::string(default_pipeline_sql());
  } else {
    ARROW_ASSIGN_OR_RAISE(text, read_file(config.pipeline.file));
  }
  return substitute_variables(
      text, {{"data_dir", absolute_dir(config.data_dir)}, {"pipeline_name", config.pipeline.name}});
}

arrow::Status Pipeline::check(const RunConfig& config) {
  ARROW_ASSIGN_OR_RAISE(auto planned, plan_pipeline(config));
  ARROW_ASSIGN_OR_RAISE(const std::string routing, alert_routing_text(config));
  if (!routing.empty()) {
    ARROW_RETURN_NOT_OK(realtime::AlertConfig::parse(routing, "[alerts]").status());
  }
  return arrow::Status::OK();
}

namespace {

arrow::Status check_worker(const RunConfig& config, const WorkerOptions& worker) {
  if (worker.group.empty()) return arrow::Status::OK();
  if (config.streams.backend != "kafka") {
    return arrow::Status::Invalid(
        "--worker shares the pipeline's streams through Kafka consumer groups: set [streams] "
        "backend = \"kafka\" and [streams.kafka] bootstrap_servers in roadpulse.toml");
  }
  if (worker.id.empty()) return arrow::Status::Invalid("--worker needs a worker id");
  for (char c : worker.id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return arrow::Status::Invalid("--worker-id '", worker.id,
                                    "': use letters, digits, '-', '_' and '.' only");
    }
  }
  return arrow::Status::OK();
}

// Whether a plan holds state keyed by something (aggregations, windows, deduplication): in a
// worker each key's state only sees the rows of the partitions the group gave this worker.
bool has_keyed_state(const sql::LogicalNode& node) {
  switch (node.kind) {
    case sql::LogicalNodeKind::kAggregate:
    case sql::LogicalNodeKind::kWindowAggregate:
    case sql::LogicalNodeKind::kDeduplicate:
      return true;
    default:
      break;
  }
  for (const auto& input : node.inputs) {
    if (has_keyed_state(*input)) return true;
  }
  return false;
}

}  // namespace

arrow::Result<std::unique_ptr<Pipeline>> Pipeline::start(const RunConfig& config,
                                                         const WorkerOptions& worker) {
  ARROW_RETURN_NOT_OK(check_worker(config, worker));
  auto pipeline = std::unique_ptr<Pipeline>(new Pipeline());
  pipeline->config_ = config;
  pipeline->worker_ = worker;
  pipeline->started_ms_ = wall_ms();
  ARROW_ASSIGN_OR_RAISE(auto planned, plan_pipeline(config));

  // Alert routing lives at <data-dir>/alerts.toml, where the alerts sink and the server's
  // outbox look for it.
  std::error_code ec;
  fs::create_directories(config.data_dir, ec);
  if (ec) return arrow::Status::IOError("cannot create '", config.data_dir, "': ", ec.message());
  ARROW_ASSIGN_OR_RAISE(const std::string routing, alert_routing_text(config));
  const std::string routing_path = config.data_dir + "/alerts.toml";
  if (!routing.empty()) {
    ARROW_RETURN_NOT_OK(realtime::AlertConfig::parse(routing, "[alerts]").status());
    std::ofstream(routing_path, std::ios::binary | std::ios::trunc) << routing;
  } else if (!fs::exists(routing_path)) {
    std::ofstream(routing_path, std::ios::binary) << kNoChannelsConfig;
  }

  ServerAppOptions options;
  options.data_dir = config.data_dir;
  options.listen = config.server.listen;
  options.access_keys = config.server.access_keys;
  options.io_threads = config.server.io_threads;
  options.worker_threads = config.server.workers;
  options.log.durability = config.log.durability == "fsync"      ? log::Durability::kFsync
                           : config.log.durability == "interval" ? log::Durability::kInterval
                                                                 : log::Durability::kNone;
  options.log.retention_ms = config.log.retention_ms;
  options.log.retention_bytes = config.log.retention_bytes;
  if (config.streams.backend == "kafka") {
    // The Kinesis API (and the raw archive) on the same topics as the pipeline's stream tables.
    ARROW_ASSIGN_OR_RAISE(auto kafka, connect::kafka_streams_backend(base_config(config)));
    if (kafka) options.kafka_streams = std::move(*kafka);
  }
  options.gateway.seed_sql = planned.seed_sql;
  options.gateway.base_config = base_config(config);
  // Gateway jobs are not the pipeline: they must not share its name (and its checkpoints).
  options.gateway.base_config.erase("pipeline.name");
  ARROW_ASSIGN_OR_RAISE(pipeline->app_, ServerApp::open(std::move(options)));
  ServerApp& app = *pipeline->app_;

  // Streams the pipeline reads or writes exist before its jobs start (on Kafka: topics with
  // that many partitions; `kinesis` tables require their stream to exist, as on AWS).
  auto log = app.log();
  const bool embedded_streams = config.streams.backend == "embedded";
  ARROW_ASSIGN_OR_RAISE(auto existing, log->list_streams());
  for (const auto& name : planned.session->catalog().table_names()) {
    auto table = planned.session->catalog().table(name);
    if (!table || !is_stream_table(*table)) continue;
    auto stream = table->options.find("stream");
    if (stream == table->options.end()) continue;
    pipeline->streams_.push_back(stream->second);
    if (!embedded_streams) {
      ARROW_RETURN_NOT_OK(
          ensure_kafka_topic(planned.session->config(), stream->second, config.log.default_shards));
      continue;
    }
    if (std::find(existing.begin(), existing.end(), stream->second) != existing.end()) continue;
    ARROW_RETURN_NOT_OK(log->create_stream(stream->second, config.log.default_shards));
    existing.push_back(stream->second);
    spdlog::info("run: created stream {} ({} shards)", stream->second, config.log.default_shards);
  }

  int n = 0;
  for (auto& insert : planned.inserts) {
    exec::JobOptions job_options;
    // The SET values in force at this statement (a SET applies to the statements after it):
    // the default pipeline's lake job runs with 'pipeline.priority' = 'low'.
    job_options.config = insert.config;
    job_options.name = planned.inserts.size() == 1
                           ? config.pipeline.name
                           : fmt::format("{}-{}", config.pipeline.name, ++n);
    // Checkpoints are kept per pipeline.name: each job of a pipeline of several INSERTs needs
    // its own (two jobs in one directory would prune each other's checkpoints).
    if (planned.inserts.size() > 1 && !config.pipeline.name.empty()) {
      job_options.config["pipeline.name"] = job_options.name;
    }
    std::vector<KeyedStage> stages;
    if (!worker.group.empty()) {
      job_options.config[connect::kWorkerGroupKey] = worker.group;
      job_options.config[connect::kWorkerIdKey] = worker.id;
      // Each worker keeps its own checkpoints (its sinks' commits, its operators' state).
      job_options.config["state.checkpoints.dir"] =
          absolute_dir(config.data_dir) + "/checkpoints/worker-" + worker.id;
      ARROW_ASSIGN_OR_RAISE(auto kafka, connect::kafka_streams_backend(job_options.config));
      ARROW_ASSIGN_OR_RAISE(
          stages, split_keyed_stages(*planned.session, *insert.plan, job_options.name, *kafka));
      if (!stages.empty() && worker.shared_checkpoints.empty()) {
        return arrow::Status::Invalid(
            "job ", job_options.name,
            " has a keyed operator (window, GROUP BY or deduplication) repartitioned across "
            "workers: its state lives in a checkpoint directory all workers share; give it with "
            "--shared-checkpoints DIR");
      }
      // What could not be repartitioned (split_keyed_stages warned why) keeps per-worker state.
      bool keyed = false;
      for (const auto& root : insert.plan->sinks) keyed |= has_keyed_state(*root);
      if (keyed) {
        spdlog::warn(
            "run: job {} aggregates or deduplicates where it is not repartitioned: each worker "
            "sees only the partitions the group gives it, so a key spread over several "
            "partitions is aggregated separately by each worker (docs/kafka.md, 'Keyed state "
            "across workers')",
            job_options.name);
      }
    }
    ARROW_ASSIGN_OR_RAISE(auto id,
                          app.jobs().submit(std::move(insert.plan), job_options, insert.sql));
    pipeline->job_ids_.push_back(id);
    for (auto& stage : stages) {
      auto stage_config = job_options.config;
      stage_config["state.checkpoints.dir"] = absolute_dir(worker.shared_checkpoints);
      ARROW_ASSIGN_OR_RAISE(auto kafka, connect::kafka_streams_backend(stage_config));
      ARROW_ASSIGN_OR_RAISE(auto runner,
                            KeyedStageRunner::start(std::move(stage), worker.group,
                                                    std::move(stage_config), *kafka, &app.jobs()));
      pipeline->stage_runners_.push_back(std::move(runner));
    }
  }

  // The raw archive (the delivery-stream role) runs beside the jobs, reading the raw stream
  // through the Kinesis API's store: the embedded log, or Kafka (positions in the data dir).
  if (config.archive.enabled && !worker.group.empty()) {
    // Workers divide the raw stream's partitions among them; the archive reads all of them,
    // so each worker would archive everything. One process archives: `roadpulse archive`.
    spdlog::info(
        "run --worker: the raw archive is left to one `roadpulse archive --stream {} --kafka ...` "
        "process (every worker would archive the whole stream)",
        config.archive.stream);
  } else if (config.archive.enabled) {
    if (!embedded_streams) {
      ARROW_RETURN_NOT_OK(ensure_kafka_topic(planned.session->config(), config.archive.stream,
                                             config.log.default_shards));
    } else if (std::find(existing.begin(), existing.end(), config.archive.stream) ==
               existing.end()) {
      ARROW_RETURN_NOT_OK(log->create_stream(config.archive.stream, config.log.default_shards));
    }
    archive::ArchiveOptions archive_options;
    archive_options.stream = config.archive.stream;
    archive_options.lake_dir = config.data_dir + "/lake";
    archive_options.buffer_bytes = config.archive.buffer_bytes;
    archive_options.buffer_interval_ms = config.archive.buffer_interval_ms;
    ARROW_ASSIGN_OR_RAISE(pipeline->archive_,
                          archive::RawArchive::make(archive_options, app.streams().get()));
    // Like the lake job, the archive may lag behind the raw stream for a while and alerts may
    // not: its thread (started from a low-priority one) runs at low CPU priority too.
    if (config.archive.priority == "low") {
      ARROW_RETURN_NOT_OK(
          exec::run_at_low_priority("raw archive", [&] { return pipeline->archive_->start(); }));
    } else {
      ARROW_RETURN_NOT_OK(pipeline->archive_->start());
    }
    archive::RawArchive* raw_archive = pipeline->archive_.get();
    app.add_metrics([raw_archive] {
      return archive::prometheus_text(raw_archive->options().stream, raw_archive->stats());
    });
  }

  Pipeline* self = pipeline.get();
  app.set_readiness([self]() -> std::optional<std::string> {
    for (const auto& id : self->job_ids_) {
      auto job = self->app_->jobs().get(id);
      if (!job) return id + " is missing";
      if (job->state != server::JobState::kRunning) {
        return fmt::format("job {} is {}{}", id, server::job_state_name(job->state),
                           job->error.empty() ? "" : ": " + job->error);
      }
    }
    return std::nullopt;
  });
  app.add_route([self](server::HttpRequest& request) -> std::optional<server::HttpResponse> {
    if (request.path() != "/api/pipeline") return std::nullopt;
    return server::HttpResponse{200, "application/json", {}, self->status_json()};
  });
  ARROW_RETURN_NOT_OK(app.start());
  return pipeline;
}

Pipeline::~Pipeline() { stop(); }

std::string Pipeline::url() const { return "http://" + app_->address(); }

bool Pipeline::own_stream(const std::string& name) const {
  std::string_view base = name;
  if (log::is_dead_letter_stream(name)) base.remove_suffix(std::string_view(".dlq").size());
  return std::find(streams_.begin(), streams_.end(), base) != streams_.end();
}

PipelineStats Pipeline::stats() {
  PipelineStats stats;
  // The raw and processed streams live where the Kinesis API serves them (on Kafka: topics of
  // a shared cluster, so only the pipeline's own are described).
  auto log = app_->streams();
  const bool on_kafka = log != app_->log();
  auto streams = log->list_streams();
  if (streams.ok()) {
    for (const auto& name : *streams) {
      if (on_kafka && !own_stream(name)) continue;
      auto d = log->describe_stream(name);
      if (!d.ok()) continue;
      const int64_t records = d->totals().records;
      if (name == "us-accidents-data-stream-1") stats.raw_records = records;
      if (name == "us-accidents-data-stream-2") stats.processed_records = records;
      if (log::is_dead_letter_stream(name)) stats.dead_letters += records;
    }
  }
  if (archive_) {
    stats.archive_on = true;
    stats.archive = archive_->stats();
  }
  for (const auto& id : job_ids_) {
    auto job = app_->jobs().get(id);
    if (!job) continue;
    if (job->state == server::JobState::kRunning) ++stats.jobs_running;
    if (job->state == server::JobState::kFailed) ++stats.jobs_failed;
  }
  return stats;
}

std::string Pipeline::status_json() {
  std::string out = "{\"pipeline\":";
  append_json_string(config_.pipeline.name, out);
  out += fmt::format(",\"started_ms\":{},\"jobs\":[", started_ms_);
  bool first = true;
  for (const auto& job : app_->jobs().list()) {
    if (!first) out += ",";
    first = false;
    out += server::SqlGateway::job_json(job);
  }
  out += "],\"streams\":[";
  std::string dead = "[";
  // Where the Kinesis API serves the streams: on Kafka, topics of a shared cluster, so only the
  // pipeline's own (and their dead letters) are described.
  auto log = app_->streams();
  const bool on_kafka = log != app_->log();
  auto streams = log->list_streams();
  bool first_stream = true, first_dead = true;
  if (streams.ok()) {
    for (const auto& name : *streams) {
      if (on_kafka && !own_stream(name)) continue;
      auto d = log->describe_stream(name);
      if (!d.ok()) continue;
      const log::StreamTotals t = d->totals();
      const bool is_dlq = log::is_dead_letter_stream(name);
      std::string entry = "{\"name\":";
      append_json_string(name, entry);
      entry += fmt::format(
          ",\"shards\":{},\"records\":{},\"bytes\":{},\"records_per_second\":{:.2f},"
          "\"last_arrival_ms\":{}}}",
          d->open_shard_count(), t.records, t.bytes, double(t.records_last_minute) / 60.0,
          t.last_arrival_ms);
      if (is_dlq) {
        dead += (first_dead ? "" : ",") + entry;
        first_dead = false;
      } else if (name.rfind("__", 0) != 0) {  // internal streams (alert outbox) stay hidden
        out += (first_stream ? "" : ",") + entry;
        first_stream = false;
      }
    }
  }
  out += "],\"dead_letters\":" + dead + "]";
  if (archive_) {
    const auto a = archive_->stats();
    out += ",\"archive\":{\"stream\":";
    append_json_string(archive_->options().stream, out);
    out += fmt::format(
        ",\"records\":{},\"bytes\":{},\"files\":{},\"error_records\":{},"
        "\"buffered_records\":{},\"last_flush_ms\":{}}}",
        a.records, a.bytes, a.files, a.error_records, a.buffered_records, a.last_flush_ms);
  }
  return out + "}";
}

void Pipeline::run_until_signal() {
  app_->run_until_signal();
  stop();
}

void Pipeline::stop() {
  if (!app_ || stopped_) return;
  stopped_ = true;
  // Repartitioned windows first: their jobs stop and the group hands their partitions on.
  for (auto& runner : stage_runners_) runner->stop();
  app_->stop();
  app_->jobs().stop_all();
  if (archive_) {
    // Flushes what is buffered and commits its positions.
    if (auto st = archive_->stop(); !st.ok()) spdlog::error("run: raw archive: {}", st.message());
  }
}

}  // namespace roadpulse::cli
