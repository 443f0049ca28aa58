#include "cli/worker_stages.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connect/connectors.h"

namespace roadpulse::cli {

namespace {

constexpr int kStopWaitMs = 120000;
constexpr int kRestartCheckMs = 2000;  // how often failed partition jobs are looked for

std::string topic_safe(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '-';
  }
  return out;
}

std::string quoted(const std::string& name) {
  std::string out = "`";
  for (char c : name) {
    out += c;
    if (c == '`') out += '`';
  }
  return out + "`";
}

std::string sql_string(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// A column type as DDL spells it (time attributes come from the WATERMARK clause instead).
std::string ddl_type(const sql::SqlType& type) {
  std::string text = type.to_string();
  for (const char* marker : {" *ROWTIME*", " *PROCTIME*"}) {
    if (auto at = text.find(marker); at != std::string::npos) text.erase(at, strlen(marker));
  }
  return text;
}

bool is_keyed(const sql::LogicalNode& node) {
  return node.kind == sql::LogicalNodeKind::kWindowAggregate ||
         node.kind == sql::LogicalNodeKind::kAggregate ||
         node.kind == sql::LogicalNodeKind::kDeduplicate;
}

const char* keyed_kind(const sql::LogicalNode& node) {
  switch (node.kind) {
    case sql::LogicalNodeKind::kWindowAggregate:
      return "window";
    case sql::LogicalNodeKind::kAggregate:
      return "group";
    default:
      return "dedup";
  }
}

const char* keyed_what(const sql::LogicalNode& node) {
  switch (node.kind) {
    case sql::LogicalNodeKind::kWindowAggregate:
      return "window aggregation";
    case sql::LogicalNodeKind::kAggregate:
      return "GROUP BY aggregation";
    default:
      return "deduplication";
  }
}

// The keyed operators on the single-input path below `root` (a sink), lowest first.
std::vector<sql::LogicalNode*> keyed_path(sql::LogicalNode* root) {
  std::vector<sql::LogicalNode*> out;
  sql::LogicalNode* node = root->inputs.size() == 1 ? root->inputs[0].get() : nullptr;
  while (node) {
    if (is_keyed(*node)) out.push_back(node);
    if (node->inputs.size() != 1) break;
    node = node->inputs[0].get();
  }
  std::reverse(out.begin(), out.end());
  return out;
}

const sql::LogicalNode* single_scan(const sql::LogicalNode* node) {
  while (node && node->kind != sql::LogicalNodeKind::kTableScan) {
    if (node->inputs.size() != 1) return nullptr;
    node = node->inputs[0].get();
  }
  return node;
}

// The Kafka topic a scan reads, or empty when it is not one Kafka topic.
std::string scan_topic(const sql::CatalogTable& table) {
  const auto connector = table.option("connector");
  if (!connector) return {};
  if (*connector == "stream" || *connector == "kinesis") return table.option("stream").value_or("");
  if (*connector == "kafka") {
    const std::string topic = table.option("topic").value_or("");
    return topic.find(';') == std::string::npos ? topic : std::string();
  }
  return {};
}

}  // namespace

namespace {

// Splits the plan held by `slot` (a sink tree) at `keyed`, a keyed operator on its single-input
// path whose input comes from one Kafka topic: the operator's input now goes to a repartition
// table keyed by the operator's key (left in `slot`: the upstream stage), and the returned
// stage holds the sink tree from `keyed` up, reading that table. nullopt (with a warning): the
// operator cannot be split and stays where it is.
arrow::Result<std::optional<KeyedStage>> split_at(sql::Session& session,
                                                  std::unique_ptr<sql::LogicalNode>& slot,
                                                  sql::LogicalNode* keyed, const std::string& name,
                                                  const std::string& table, const std::string& job,
                                                  const connect::kafka::Properties& kafka,
                                                  std::unique_ptr<connect::kafka::Admin>& admin) {
  if (keyed->inputs.size() != 1) return std::nullopt;
  const sql::LogicalNode& input = *keyed->inputs[0];
  const sql::LogicalNode* scan = single_scan(&input);
  const std::string what = fmt::format("job {}: {} into {}", job, keyed_what(*keyed),
                                       slot->table ? slot->table->name : std::string("?"));
  const std::string topic = scan && scan->table ? scan_topic(*scan->table) : std::string();
  // Windows and deduplication run on event time: the repartitioned rows get the same watermark
  // delay (recomputed per repartition partition). An unwindowed GROUP BY needs none.
  const bool event_time = keyed->kind != sql::LogicalNodeKind::kAggregate;
  const bool fixed_watermark =
      scan && input.rowtime_index && scan->watermark && scan->watermark->fixed_delay_micros;
  if (topic.empty() || (event_time && !fixed_watermark)) {
    spdlog::warn(
        "{}: not repartitioned (its input is not one Kafka topic{}): each worker keeps the state "
        "of only its own partitions",
        what, event_time ? " with a 'ts - INTERVAL' watermark" : "");
    return std::nullopt;
  }
  for (const sql::LogicalNode* n = &input; n;
       n = n->inputs.empty() ? nullptr : n->inputs[0].get()) {
    if (n->kind == sql::LogicalNodeKind::kAggregate) {
      spdlog::warn(
          "{}: not repartitioned (its input is an updating GROUP BY result, which a repartition "
          "topic cannot carry): each worker keeps the state of only its own partitions",
          what);
      return std::nullopt;
    }
  }
  std::string keys;
  for (int k : keyed->group_keys) {
    keys += (keys.empty() ? "" : ";") + input.schema.fields[size_t(k)].name;
  }
  if (keys.empty()) {
    spdlog::warn("{}: no key to repartition by: not repartitioned", what);
    return std::nullopt;
  }
  if (!admin) {
    ARROW_ASSIGN_OR_RAISE(admin, connect::kafka::Admin::make(kafka, "streams.kafka."));
  }
  ARROW_ASSIGN_OR_RAISE(auto input_partitions, admin->partition_count(topic));
  if (!input_partitions) {
    return arrow::Status::Invalid(what, ": input topic '", topic, "' does not exist");
  }
  KeyedStage stage;
  stage.name = name;
  stage.topic = topic_safe(stage.name) + "-repartition";
  stage.partitions = *input_partitions;
  ARROW_ASSIGN_OR_RAISE(auto existing, admin->partition_count(stage.topic));
  if (!existing) {
    ARROW_RETURN_NOT_OK(admin->create_topic(stage.topic, stage.partitions));
    ARROW_RETURN_NOT_OK(admin->wait_for_topic(stage.topic, stage.partitions, 30000));
    spdlog::info("run: created repartition topic {} ({} partitions)", stage.topic,
                 stage.partitions);
  } else if (*existing != stage.partitions) {
    return arrow::Status::Invalid(what, ": repartition topic '", stage.topic, "' has ", *existing,
                                  " partitions but the input '", topic, "' has ", stage.partitions,
                                  "; delete the repartition topic (and the shared "
                                  "checkpoints of its jobs) to start over");
  }

  // The repartition table: the keyed operator's input row, keyed by its key.
  std::string ddl = "CREATE TABLE " + quoted(table) + " (";
  for (size_t c = 0; c < input.schema.fields.size(); ++c) {
    ddl += (c ? ", " : "") + quoted(input.schema.fields[c].name) + " " +
           ddl_type(input.schema.fields[c].type);
  }
  if (fixed_watermark) {
    const int64_t delay = *scan->watermark->fixed_delay_micros;
    const std::string rowtime = quoted(input.schema.fields[size_t(*input.rowtime_index)].name);
    ddl += ", WATERMARK FOR " + rowtime + " AS " + rowtime +
           (delay % 1000000 == 0 ? fmt::format(" - INTERVAL '{}' SECOND", delay / 1000000)
                                 : fmt::format(" - INTERVAL '{}' MILLISECOND", delay / 1000));
  }
  ddl += ") WITH ('connector' = 'kafka', 'topic' = " + sql_string(stage.topic) +
         ", 'format' = 'json', 'key.fields' = " + sql_string(keys) +
         ", 'sink.partitioner' = 'hash-key', 'sink.delivery-guarantee' = 'exactly-once', "
         "'sink.transactional-id-prefix' = " +
         sql_string(stage.topic) + ", 'scan.startup.mode' = 'earliest-offset'";
  for (const auto& [key, value] : kafka) {
    ddl += ", " + sql_string("properties." + key) + " = " + sql_string(value);
  }
  ddl += ")";
  auto created = session.execute(ddl);
  if (!created.ok()) return created.status().WithMessage(what, ": ", created.status().message());
  auto read = session.execute("SELECT * FROM " + quoted(table));
  if (!read.ok()) return read.status().WithMessage(what, ": ", read.status().message());
  std::unique_ptr<sql::LogicalNode> scan_b = std::move(read->query);
  if (!scan_b || scan_b->schema.fields.size() != input.schema.fields.size()) {
    return arrow::Status::Invalid(what, ": the repartition table does not match its input");
  }
  auto catalog_table = session.catalog().table(table);

  // Upstream: the operator's input into the repartition table.
  auto sink = std::make_unique<sql::LogicalNode>();
  sink->kind = sql::LogicalNodeKind::kSink;
  sink->table = catalog_table;
  sink->schema = catalog_table->physical_schema();
  sink->inputs.push_back(std::move(keyed->inputs[0]));
  // Downstream: the operator and what is above it, over the repartition table.
  keyed->inputs[0] = std::move(scan_b);
  stage.sql = fmt::format("-- {} of {}, repartitioned by {} through {}\n{}", what, job, keys,
                          stage.topic, sql::explain_plan(*slot));
  stage.plan = std::make_unique<sql::StatementSetPlan>();
  stage.plan->sinks.push_back(std::move(slot));
  slot = std::move(sink);
  spdlog::info("{}: repartitioned by {} through {} ({} partitions)", what, keys, stage.topic,
               stage.partitions);
  return stage;
}

}  // namespace

arrow::Result<std::vector<KeyedStage>> split_keyed_stages(sql::Session& session,
                                                          sql::StatementSetPlan& plan,
                                                          const std::string& job,
                                                          const connect::kafka::Properties& kafka) {
  std::vector<KeyedStage> stages;
  std::unique_ptr<connect::kafka::Admin> admin;
  for (size_t i = 0; i < plan.sinks.size(); ++i) {
    // Every keyed operator of the sink tree, lowest first, gets a stage of its own: the stage
    // below it ends in its repartition topic. An operator over the previous stage's repartition
    // topic keyed the same way needs no topic of its own, but one keyed differently does.
    std::unique_ptr<sql::LogicalNode>* slot = &plan.sinks[i];
    std::string name;
    std::vector<int> last_keys;
    const sql::LogicalNode* last = nullptr;
    for (int level = 0;; ++level) {
      std::vector<sql::LogicalNode*> path = keyed_path(slot->get());
      // Skip what this stage already holds: the operator it was split at.
      auto it = path.begin();
      if (last) {
        while (it != path.end() && *it != last) ++it;
        if (it != path.end()) ++it;
      }
      if (it == path.end()) break;
      sql::LogicalNode* keyed = *it;
      if (last && last->kind != sql::LogicalNodeKind::kAggregate) {
        // The same key (by name) as the stage's own: its rows are already on the right worker.
        std::vector<std::string> a, b;
        for (int k : last_keys) a.push_back(last->inputs[0]->schema.fields[size_t(k)].name);
        for (int k : keyed->group_keys) {
          b.push_back(keyed->inputs[0]->schema.fields[size_t(k)].name);
        }
        if (a == b) {
          last = keyed;
          last_keys = keyed->group_keys;
          continue;
        }
      }
      name = level == 0 ? fmt::format("{}-{}{}", job, keyed_kind(*keyed), i)
                        : fmt::format("{}-{}", name, keyed_kind(*keyed));
      // One session holds the repartition tables of every job of the pipeline.
      const std::string table = "__repartition_" + name;
      last_keys = keyed->group_keys;
      ARROW_ASSIGN_OR_RAISE(auto stage,
                            split_at(session, *slot, keyed, name, table, job, kafka, admin));
      if (!stage) break;
      last = keyed;
      stages.push_back(std::move(*stage));
      slot = &stages.back().plan->sinks[0];
    }
  }
  return stages;
}

// ---------------------------------------------------------------------------------------------

arrow::Result<std::unique_ptr<KeyedStageRunner>> KeyedStageRunner::start(
    KeyedStage stage, std::string worker_group, std::map<std::string, std::string> config,
    connect::kafka::Properties kafka, server::JobManager* jobs) {
  auto runner = std::unique_ptr<KeyedStageRunner>(new KeyedStageRunner());
  runner->stage_ = std::move(stage);
  runner->config_ = std::move(config);
  runner->jobs_ = jobs;
  kafka["group.id"] = worker_group + "." + runner->stage_.name;
  kafka["enable.auto.commit"] = "false";
  // Cooperative: when a worker dies the others only gain partitions; their running jobs stay.
  kafka["partition.assignment.strategy"] = "cooperative-sticky";
  if (!kafka.count("client.id")) kafka["client.id"] = "roadpulse-" + runner->stage_.name;
  ARROW_ASSIGN_OR_RAISE(rd_kafka_conf_t * conf,
                        connect::kafka::make_conf(kafka, "streams.kafka.properties."));
  rd_kafka_conf_set_opaque(conf, runner.get());
  rd_kafka_conf_set_rebalance_cb(conf, &KeyedStageRunner::on_rebalance);
  ARROW_ASSIGN_OR_RAISE(runner->consumer_, connect::kafka::make_handle(RD_KAFKA_CONSUMER, conf));
  connect::kafka::TopicPartitionList subscription(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(subscription.get(), runner->stage_.topic.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(runner->consumer_.get(), subscription.get())) {
    return connect::kafka::error_status(err, "subscribing to " + runner->stage_.topic);
  }
  runner->thread_ = std::thread([r = runner.get()] { r->loop(); });
  return runner;
}

KeyedStageRunner::~KeyedStageRunner() { stop(); }

void KeyedStageRunner::loop() {
  // Polling serves the group's callbacks; the partitions are paused, so no record arrives.
  auto next_check = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 200)) {
      rd_kafka_message_destroy(m);
    }
    if (std::chrono::steady_clock::now() >= next_check) {
      restart_failed();
      next_check = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRestartCheckMs);
    }
  }
}

// A partition's job that failed (a broker error, a full disk) restarts from its last
// checkpoint, as the next owner would: the partition is still this worker's, so nobody else
// will run it.
void KeyedStageRunner::restart_failed() {
  // Thrown out of the group (a missed session timeout): another worker may run these
  // partitions now; the lost-partitions callback will stop ours.
  if (rd_kafka_assignment_lost(consumer_.get())) return;
  for (int partition : owned_) {
    auto it = running_.find(partition);
    if (it != running_.end()) {
      auto info = jobs_->get(it->second);
      if (!info || info->state != server::JobState::kFailed) continue;
      spdlog::error(
          "{}: job {} of partition {} failed ({}); restarting it from its last checkpoint",
          stage_.name, it->second, partition, info->error);
      running_.erase(it);
    }
    if (auto st = start_partition(partition); !st.ok()) {
      spdlog::error("{}: starting the job of partition {}: {}", stage_.name, partition,
                    st.message());
    }
  }
}

void KeyedStageRunner::stop() {
  if (!consumer_) return;
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  // Leaving the group revokes our partitions through the callback (stopping their jobs).
  rd_kafka_consumer_close(consumer_.get());
  owned_.clear();
  while (!running_.empty()) stop_partition(running_.begin()->first);
  consumer_.reset();
}

void KeyedStageRunner::on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KeyedStageRunner*>(opaque)->rebalance(err, partitions);
}

void KeyedStageRunner::rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list) {
  std::vector<int> partitions;
  for (int i = 0; i < list->cnt; ++i) partitions.push_back(list->elems[i].partition);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_assign(consumer_.get(), list)) {
      spdlog::error("{}: taking partitions: {}", stage_.name, rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
      return;
    }
    rd_kafka_pause_partitions(consumer_.get(), list);
    if (!partitions.empty()) {
      spdlog::info("{}: the group assigned partition(s) {} of {}", stage_.name,
                   fmt::join(partitions, ", "), stage_.topic);
    }
    for (int p : partitions) {
      owned_.insert(p);
      if (auto st = start_partition(p); !st.ok()) {
        spdlog::error("{}: starting the job of partition {}: {}", stage_.name, p, st.message());
      }
    }
    return;
  }
  // Revoked or lost: the jobs stop (final checkpoint) before the next owner may start them.
  if (!partitions.empty()) {
    spdlog::info("{}: the group revoked partition(s) {} of {}", stage_.name,
                 fmt::join(partitions, ", "), stage_.topic);
  }
  for (int p : partitions) {
    owned_.erase(p);
    stop_partition(p);
  }
  if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(consumer_.get(), list)) {
    spdlog::error("{}: handing partitions back: {}", stage_.name, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  }
}

arrow::Status KeyedStageRunner::start_partition(int partition) {
  if (running_.count(partition)) return arrow::Status::OK();
  auto plan = std::make_unique<sql::StatementSetPlan>();
  for (const auto& sink : stage_.plan->sinks) plan->sinks.push_back(sink->clone());
  exec::JobOptions options;
  options.name = fmt::format("{}-p{}", stage_.name, partition);
  options.config = config_;
  options.config.erase(connect::kWorkerGroupKey);
  options.config[connect::kWorkerPartitionKey] = std::to_string(partition);
  // Transactional ids and checkpoints belong to the partition, not the worker: the next owner
  // fences the previous one's producers and resumes its checkpoints.
  options.config[connect::kWorkerIdKey] = fmt::format("p{}", partition);
  options.config["pipeline.name"] = options.name;
  ARROW_ASSIGN_OR_RAISE(auto id, jobs_->submit(std::move(plan), options, stage_.sql));
  running_[partition] = id;
  return arrow::Status::OK();
}

void KeyedStageRunner::stop_partition(int partition) {
  auto it = running_.find(partition);
  if (it == running_.end()) return;
  const std::string id = it->second;
  running_.erase(it);
  (void)jobs_->cancel(id);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStopWaitMs);
  while (std::chrono::steady_clock::now() < deadline) {
    auto info = jobs_->get(id);
    if (!info || info->state != server::JobState::kRunning) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  spdlog::error("{}: job {} of partition {} did not stop within {} s", stage_.name, id, partition,
                kStopWaitMs / 1000);
}

}  // namespace roadpulse::cli
