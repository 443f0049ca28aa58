// LakeQueryEngine: catalog tables into a SQL session, predicates out of the plan, a pruning
// Parquet source, limits (see query.h).

#include <chrono>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <arrow/builder.h>
#include <arrow/util/byte_size.h>
#include <fmt/format.h>
#include <parquet/arrow/schema.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <spdlog/spdlog.h>

#include "common/json_text.h"
#include "connect/registry.h"
#include "exec/display.h"
#include "exec/job.h"
#include "lake/lake.h"
#include "lake/pruning.h"
#include "query/pruned_sources.h"
#include "query/query.h"
#include "sql/logical_plan.h"
#include "sql/session.h"

namespace roadpulse::query {

namespace fs = std::filesystem;

namespace {

std::string quote_sql_string(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'";
    out.push_back(c);
  }
  return out + "'";
}

arrow::Result<std::string> table_ddl(const lake::TableEntry& table, const std::string& name) {
  std::string columns;
  for (const auto& f : table.schema->fields()) {
    auto type = sql::sql_type_from_arrow(*f->type(), f->nullable());
    if (!type.ok()) {
      return arrow::Status::NotImplemented("lake table '", table.name, "' column '", f->name(),
                                           "': ", type.status().message());
    }
    if (!columns.empty()) columns += ", ";
    columns += fmt::format("`{}` {}", f->name(), type->to_string());
  }
  std::string partitioned;
  if (!table.partition_keys.empty()) {
    std::vector<std::string> keys;
    for (const auto& k : table.partition_keys) keys.push_back("`" + k + "`");
    partitioned = fmt::format(" PARTITIONED BY ({})", fmt::join(keys, ", "));
  }
  std::string options =
      fmt::format("'connector' = 'filesystem', 'path' = {}, 'format' = {}",
                  quote_sql_string(table.location), quote_sql_string(table.format));
  if (table.format == "csv") options += ", 'csv.ignore-first-line' = 'true'";
  return fmt::format("CREATE TABLE `{}` ({}){} WITH ({})", name, columns, partitioned, options);
}

// --- predicates out of the plan -------------------------------------------------------------

std::shared_ptr<arrow::Scalar> constant_of(const sql::BoundExpr& e) {
  if (e.kind == sql::BoundExprKind::kLiteral) return e.literal;
  // CAST(literal AS type): the binder's coercion of a literal to the column's type.
  if (e.kind == sql::BoundExprKind::kCast && !e.try_cast && e.args.size() == 1 &&
      e.args[0]->kind == sql::BoundExprKind::kLiteral && e.args[0]->literal) {
    auto cast = e.args[0]->literal->CastTo(e.type.to_arrow());
    if (cast.ok()) return *cast;
  }
  return nullptr;
}

void split_conjuncts(const sql::BoundExpr& e, std::vector<const sql::BoundExpr*>& out) {
  if (e.kind == sql::BoundExprKind::kCall && e.function == "AND") {
    for (const auto& a : e.args) split_conjuncts(*a, out);
  } else {
    out.push_back(&e);
  }
}

// `column_name(i)`: the table column of output column i (empty when it is not one).
template <typename ColumnName>
void extract_predicates(const sql::BoundExpr& filter, const ColumnName& column_name,
                        lake::Predicates& out) {
  using Op = lake::ColumnPredicate::Op;
  std::vector<const sql::BoundExpr*> conjuncts;
  split_conjuncts(filter, conjuncts);
  for (const auto* c : conjuncts) {
    lake::ColumnPredicate p;
    auto column_of = [&](const sql::BoundExpr& e) -> std::string {
      return e.kind == sql::BoundExprKind::kColumnRef ? column_name(e.column_index) : "";
    };
    if (c->kind == sql::BoundExprKind::kCall && c->args.size() == 2) {
      static const std::map<std::string, std::pair<Op, Op>> kOps = {{"=", {Op::kEq, Op::kEq}},
                                                                    {"<", {Op::kLt, Op::kGt}},
                                                                    {"<=", {Op::kLe, Op::kGe}},
                                                                    {">", {Op::kGt, Op::kLt}},
                                                                    {">=", {Op::kGe, Op::kLe}}};
      auto op = kOps.find(c->function);
      if (op == kOps.end()) continue;
      std::string column = column_of(*c->args[0]);
      auto value = constant_of(*c->args[1]);
      p.op = op->second.first;
      if (column.empty() || !value) {  // literal op column
        column = column_of(*c->args[1]);
        value = constant_of(*c->args[0]);
        p.op = op->second.second;
      }
      if (column.empty() || !value) continue;
      p.column = column;
      p.values = {value};
    } else if (c->kind == sql::BoundExprKind::kInList && !c->negated && c->args.size() > 1) {
      p.column = column_of(*c->args[0]);
      p.op = Op::kIn;
      for (size_t i = 1; i < c->args.size() && !p.column.empty(); ++i) {
        auto value = constant_of(*c->args[i]);
        if (!value) p.column.clear();
        p.values.push_back(value);
      }
      if (p.column.empty()) continue;
    } else if (c->kind == sql::BoundExprKind::kIsNull && c->args.size() == 1) {
      p.column = column_of(*c->args[0]);
      if (p.column.empty()) continue;
      p.op = c->negated ? Op::kIsNotNull : Op::kIsNull;
    } else {
      continue;
    }
    out.push_back(std::move(p));
  }
}

struct ScanFilters {
  int scans = 0;
  lake::Predicates predicates;
};

void collect_scans(const sql::LogicalNode& node,
                   std::map<const sql::CatalogTable*, ScanFilters>& out) {
  auto scan_column = [](const sql::LogicalNode& scan) {
    return [&scan](int i) -> std::string {
      if (i < 0 || size_t(i) >= scan.projected_columns.size()) return "";
      const int k = scan.projected_columns[size_t(i)];
      if (k < 0 || size_t(k) >= scan.table->columns.size()) return "";
      const auto& column = scan.table->columns[size_t(k)];
      return column.is_physical() ? column.name : "";
    };
  };
  if (node.kind == sql::LogicalNodeKind::kTableScan && node.table) {
    auto& entry = out[node.table.get()];
    entry.scans += 1;
    if (node.pushed_filter)
      extract_predicates(*node.pushed_filter, scan_column(node), entry.predicates);
  }
  // A Filter right above a scan is over the scan's output row too.
  if (node.kind == sql::LogicalNodeKind::kFilter && node.predicate && node.inputs.size() == 1 &&
      node.inputs[0]->kind == sql::LogicalNodeKind::kTableScan && node.inputs[0]->table) {
    extract_predicates(*node.predicate, scan_column(*node.inputs[0]),
                       out[node.inputs[0]->table.get()].predicates);
  }
  for (const auto& input : node.inputs) collect_scans(*input, out);
}

struct LakeScan {
  lake::TableEntry table;
  lake::Predicates predicates;
  std::shared_ptr<ScanPruning> stats;
};

// Fails a query past its time limit at the next batch. exec's own duration check runs every
// 100 ms; this one is as fine as a batch, so a short limit holds for short queries too.
class DeadlineSource final : public exec::Source {
 public:
  DeadlineSource(std::unique_ptr<exec::Source> inner,
                 std::chrono::steady_clock::time_point deadline, int64_t timeout_ms)
      : inner_(std::move(inner)), deadline_(deadline), timeout_ms_(timeout_ms) {}
  std::string name() const override { return inner_->name(); }
  bool bounded() const override { return inner_->bounded(); }
  arrow::Status open(const exec::OperatorContext& c) override { return inner_->open(c); }
  arrow::Result<exec::SourceChunk> next(int64_t timeout_ms) override {
    ARROW_ASSIGN_OR_RAISE(auto chunk, inner_->next(timeout_ms));
    if (!chunk.end_of_input && std::chrono::steady_clock::now() > deadline_) {
      return arrow::Status::Cancelled("query stopped after its time limit of ", timeout_ms_, " ms");
    }
    return chunk;
  }
  arrow::Status close() override { return inner_->close(); }
  exec::SourceMetrics metrics() const override { return inner_->metrics(); }

 private:
  std::unique_ptr<exec::Source> inner_;
  std::chrono::steady_clock::time_point deadline_;
  int64_t timeout_ms_;
};

// Parquet lake tables and raw archives through the pruning sources; everything else through
// the connectors; every source under the query's time limit.
class LakeScanFactory final : public exec::ConnectorFactory {
 public:
  LakeScanFactory(exec::ConnectorFactory* fallback,
                  std::map<const sql::CatalogTable*, LakeScan> scans, int64_t timeout_ms)
      : fallback_(fallback),
        scans_(std::move(scans)),
        timeout_ms_(timeout_ms),
        deadline_(std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms)) {}

  arrow::Result<std::unique_ptr<exec::Source>> make_source(const exec::SourceSpec& spec) override {
    std::unique_ptr<exec::Source> source;
    auto it = scans_.find(spec.table.get());
    if (it == scans_.end()) {
      ARROW_ASSIGN_OR_RAISE(source, fallback_->make_source(spec));
    } else if (it->second.table.format == "json") {
      source = make_raw_json_source(it->second.table, it->second.predicates, spec.read_schema,
                                    it->second.stats);
    } else {
      source = make_lake_parquet_source(it->second.table, it->second.predicates, spec.read_schema,
                                        it->second.stats);
    }
    if (timeout_ms_ <= 0) return source;
    return std::make_unique<DeadlineSource>(std::move(source), deadline_, timeout_ms_);
  }
  arrow::Result<std::unique_ptr<exec::Sink>> make_sink(const exec::SinkSpec& spec) override {
    return arrow::Status::Invalid("batch queries write nothing");
  }

 private:
  exec::ConnectorFactory* fallback_;
  std::map<const sql::CatalogTable*, LakeScan> scans_;
  int64_t timeout_ms_;
  std::chrono::steady_clock::time_point deadline_;
};

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out.push_back(c);
  }
  return out + "\"";
}

bool json_number(const arrow::DataType& type) {
  return arrow::is_integer(type.id()) || arrow::is_floating(type.id()) ||
         arrow::is_decimal(type.id()) || type.id() == arrow::Type::BOOL;
}

// Every Parquet lake table and raw archive the query scans goes through a pruning source. A
// table scanned more than once (self-join, UNION) is read once by exec with the union of the
// scans' needs, so it is not pruned.
std::map<const sql::CatalogTable*, LakeScan> lake_scans(
    const sql::LogicalNode& query, const std::map<std::string, lake::TableEntry>& by_alias) {
  std::map<const sql::CatalogTable*, ScanFilters> filters;
  collect_scans(query, filters);
  std::map<const sql::CatalogTable*, LakeScan> scans;
  for (auto& [table, f] : filters) {
    auto it = by_alias.find(table->name);
    if (it == by_alias.end()) continue;
    // Raw archives (zstd JSON lines; the archive keeps `_archive/` in its root): the
    // filesystem connector cannot decompress them.
    const bool raw_archive =
        it->second.format == "json" && fs::is_directory(fs::path(it->second.location) / "_archive");
    if (it->second.format != "parquet" && !raw_archive) continue;
    if (f.scans > 1) f.predicates.clear();
    auto s = std::make_shared<ScanPruning>();
    s->table = it->second.name;
    for (const auto& p : f.predicates) s->predicates.push_back(p.to_string());
    scans.emplace(table, LakeScan{it->second, std::move(f.predicates), s});
  }
  return scans;
}

// What a scan would read, from the directory names and the Parquet footers only.
arrow::Status estimate_pruning(const LakeScan& scan) {
  const bool parquet = scan.table.format == "parquet";
  ARROW_ASSIGN_OR_RAISE(auto files, select_files(scan.table, scan.predicates,
                                                 parquet ? ".parquet" : ".jsonl.zst", *scan.stats));
  if (!parquet) return arrow::Status::OK();
  for (const auto& file : files) {
    std::shared_ptr<parquet::FileMetaData> metadata;
    try {
      metadata = parquet::ParquetFileReader::OpenFile(file)->metadata();
    } catch (const std::exception& e) {
      return arrow::Status::IOError("'", file, "' is not a readable parquet file: ", e.what());
    }
    std::shared_ptr<arrow::Schema> schema;
    ARROW_RETURN_NOT_OK(parquet::arrow::FromParquetSchema(metadata->schema(), &schema));
    scan.stats->row_groups += metadata->num_row_groups();
    scan.stats->row_groups_kept +=
        int64_t(lake::row_groups_may_match(*metadata, *schema, scan.predicates).size());
  }
  return arrow::Status::OK();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

arrow::Result<QueryOutput> LakeQueryEngine::explain(
    sql::Session& session, std::string_view sql_text, const std::string& plan,
    const std::map<std::string, lake::TableEntry>& by_alias) {
  std::vector<std::string> lines = split_lines(plan);
  // The session explains the logical plan; for a query, add what pruning will skip.
  static const std::regex kExplain(R"(^\s*EXPLAIN(\s+PLAN\s+FOR)?\s+)", std::regex::icase);
  const std::string text(sql_text);
  std::smatch m;
  if (std::regex_search(text, m, kExplain)) {
    auto inner = session.execute(m.suffix().str());
    if (inner.ok() && inner->kind == sql::StatementKind::kQuery && inner->query) {
      auto scans = lake_scans(*inner->query, by_alias);
      if (!scans.empty()) lines.push_back("== Pruning ==");
      for (const auto& [table, scan] : scans) {
        ARROW_RETURN_NOT_OK(estimate_pruning(scan));
        lines.push_back(scan.stats->to_string());
      }
    }
  }
  QueryOutput output;
  output.schema.fields.push_back({"plan", sql::SqlType::string(false)});
  output.arrow_schema = output.schema.to_arrow();
  arrow::StringBuilder builder;
  ARROW_RETURN_NOT_OK(builder.AppendValues(lines));
  ARROW_ASSIGN_OR_RAISE(auto array, builder.Finish());
  output.batches.push_back(arrow::RecordBatch::Make(output.arrow_schema, array->length(), {array}));
  output.rows = array->length();
  output.plan = plan;
  return output;
}

std::string ScanPruning::to_string() const {
  return fmt::format("{}: partitions {}/{}, files {}/{}, row groups {}/{}{}", table,
                     partitions_kept, partitions, files_kept, files, row_groups_kept, row_groups,
                     predicates.empty() ? std::string(" (no predicate to prune with)")
                                        : fmt::format(" by {}", fmt::join(predicates, " AND ")));
}

std::optional<std::pair<int, int>> sql_error_position(const arrow::Status& status) {
  static const std::regex kPosition(R"(line (\d+):(\d+))");
  std::smatch m;
  const std::string message = status.message();
  if (!std::regex_search(message, m, kPosition)) return std::nullopt;
  return std::make_pair(std::stoi(m[1].str()), std::stoi(m[2].str()));
}

LakeQueryEngine::~LakeQueryEngine() = default;

arrow::Result<std::unique_ptr<LakeQueryEngine>> LakeQueryEngine::make(std::string data_dir) {
  return std::unique_ptr<LakeQueryEngine>(new LakeQueryEngine(std::move(data_dir)));
}

arrow::Result<QueryOutput> LakeQueryEngine::run(std::string_view sql_text,
                                                const QueryLimits& limits) {
  const auto started = std::chrono::steady_clock::now();
  sql::Session session;
  ARROW_ASSIGN_OR_RAISE(auto catalog, lake::Catalog::open(data_dir_ + "/lake/_catalog"));
  ARROW_ASSIGN_OR_RAISE(auto names, catalog->table_names());
  std::map<std::string, lake::TableEntry> by_alias;
  for (const auto& name : names) {
    ARROW_ASSIGN_OR_RAISE(auto table, catalog->get(name));
    const size_t dot = name.rfind('.');
    std::vector<std::string> aliases = {name};
    if (dot != std::string::npos) aliases.push_back(name.substr(dot + 1));
    for (const auto& alias : aliases) {
      if (by_alias.count(alias)) continue;  // first zone wins a bare name
      auto ddl = table_ddl(table, alias);
      auto st = ddl.ok() ? session.execute(*ddl).status() : ddl.status();
      if (!st.ok()) {
        // One odd table must not make every query fail: it is just not queryable.
        spdlog::warn("query: lake table '{}' is not queryable: {}", name, st.message());
        break;
      }
      by_alias.emplace(alias, table);
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto result, session.execute(sql_text));
  if (result.kind == sql::StatementKind::kExplain) {
    return explain(session, sql_text, result.message, by_alias);
  }
  if (result.kind != sql::StatementKind::kQuery || !result.query) {
    return arrow::Status::Invalid(
        "only SELECT (and EXPLAIN) statements run here (DDL and INSERT belong to roadpulse sql "
        "or /api/sql)");
  }
  QueryOutput output;
  auto scans = lake_scans(*result.query, by_alias);
  std::vector<std::shared_ptr<ScanPruning>> stats;
  for (const auto& [table, scan] : scans) stats.push_back(scan.stats);

  connect::ConnectOptions connect_options;
  connect_options.data_dir = data_dir_;
  connect::ConnectorRegistry registry(std::make_shared<connect::ConnectContext>(connect_options));
  LakeScanFactory factory(&registry, std::move(scans), limits.timeout_ms);

  output.schema = result.query->schema;
  output.arrow_schema = result.query->schema.to_arrow();
  std::mutex mutex;
  int64_t bytes = 0;
  bool capped = false;
  exec::Job* job_ptr = nullptr;
  exec::JobOptions job_options;
  job_options.name = "query";
  ARROW_ASSIGN_OR_RAISE(
      auto job,
      exec::Job::make_query(*result.query, factory, job_options,
                            [&](const std::shared_ptr<arrow::RecordBatch>& batch) -> arrow::Status {
                              std::lock_guard lock(mutex);
                              if (capped || batch->num_rows() == 0) return arrow::Status::OK();
                              std::shared_ptr<arrow::RecordBatch> keep = batch;
                              const int64_t room = limits.max_rows - output.rows;
                              if (batch->num_rows() > room) {
                                keep = batch->Slice(0, room);
                                capped = true;
                              }
                              const int64_t size = arrow::util::TotalBufferSize(*keep);
                              if (bytes + size > limits.max_result_bytes) {
                                capped = true;
                                keep = nullptr;
                              }
                              if (keep && keep->num_rows() > 0) {
                                bytes += size;
                                output.rows += keep->num_rows();
                                output.batches.push_back(std::move(keep));
                              }
                              if (capped && job_ptr) job_ptr->stop();
                              return arrow::Status::OK();
                            }));
  job_ptr = job.get();
  output.plan = sql::explain_plan(*result.query) + "\n" + job->describe();
  if (!job->bounded()) {
    return arrow::Status::Invalid(
        "only bounded queries run here; this one reads an unbounded "
        "source");
  }
  auto status =
      job->run(limits.timeout_ms > 0 ? std::optional<int64_t>(limits.timeout_ms) : std::nullopt);
  if (status.IsCancelled() || (status.ok() && job->summary().cancelled && !capped)) {
    return arrow::Status::Cancelled("query stopped after its time limit of ", limits.timeout_ms,
                                    " ms");
  }
  ARROW_RETURN_NOT_OK(status);
  output.truncated = capped;
  for (const auto& s : stats) output.pruning.push_back(*s);
  output.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  return output;
}

std::string format_csv(const QueryOutput& output) {
  std::string out;
  const auto& schema = output.arrow_schema;
  for (int c = 0; c < schema->num_fields(); ++c) {
    out += (c ? "," : "") + csv_field(schema->field(c)->name());
  }
  out += "\n";
  for (const auto& batch : output.batches) {
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      for (int c = 0; c < batch->num_columns(); ++c) {
        if (c) out += ",";
        const auto& array = *batch->column(c);
        if (array.IsValid(r)) out += csv_field(exec::display_value(array, r));
      }
      out += "\n";
    }
  }
  return out;
}

std::string format_json_lines(const QueryOutput& output) {
  std::string out;
  const auto& schema = output.arrow_schema;
  for (const auto& batch : output.batches) {
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      out += "{";
      for (int c = 0; c < batch->num_columns(); ++c) {
        const auto& array = *batch->column(c);
        if (c) out += ", ";
        append_json_string(schema->field(c)->name(), out);
        out += ": ";
        if (array.IsNull(r)) {
          out += "null";
        } else if (json_number(*array.type())) {
          std::string v = exec::display_value(array, r);
          // JSON has no NaN/Infinity literals.
          if (v == "NaN" || v == "Infinity" || v == "-Infinity") {
            append_json_string(v, out);
          } else {
            out += v;
          }
        } else {
          append_json_string(exec::display_value(array, r), out);
        }
      }
      out += "}\n";
    }
  }
  return out;
}

}  // namespace roadpulse::query
