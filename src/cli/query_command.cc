// roadpulse query: batch SQL over the lake (the Athena role). Every table of the lake catalog
// (<data-dir>/lake/_catalog) becomes a bounded filesystem table of the SQL session, under its
// name without the zone (`curated.us_accidents` is `us_accidents`; the full name works quoted:
// `curated.us_accidents`); the query runs on the streaming engine (exec) as a bounded job.
// What the engine does not plan (ORDER BY, LIMIT, joins, ...) fails with the engine's error.

#include <iostream>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "cli/command.h"
#include "connect/registry.h"
#include "exec/display.h"
#include "exec/job.h"
#include "lake/lake.h"
#include "sql/session.h"

namespace roadpulse::cli {
namespace {

struct QueryArgs {
  std::string sql;
  std::string format = "table";
  std::string data_dir = "./roadpulse-data";
  bool explain = false;
};

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

bool json_number(const arrow::DataType& type) {
  return arrow::is_integer(type.id()) || arrow::is_floating(type.id()) ||
         arrow::is_decimal(type.id()) || type.id() == arrow::Type::BOOL;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out.push_back(c);
  }
  return out + "\"";
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(char(c));
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out.push_back(char(c));
    }
  }
  return out + "\"";
}

void print_results(const QueryArgs& args, const std::shared_ptr<arrow::Schema>& schema,
                   const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches) {
  if (args.format == "table") {
    std::cout << exec::format_table(schema, batches);
    return;
  }
  std::string out;
  if (args.format == "csv") {
    for (int c = 0; c < schema->num_fields(); ++c) {
      out += (c ? "," : "") + csv_field(schema->field(c)->name());
    }
    out += "\n";
  }
  for (const auto& batch : batches) {
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      if (args.format == "json") out += "{";
      for (int c = 0; c < batch->num_columns(); ++c) {
        const auto& array = *batch->column(c);
        if (args.format == "csv") {
          if (c) out += ",";
          if (array.IsValid(r)) out += csv_field(exec::display_value(array, r));
        } else {
          if (c) out += ", ";
          out += json_string(schema->field(c)->name()) + ": ";
          if (array.IsNull(r)) {
            out += "null";
          } else if (json_number(*array.type())) {
            std::string v = exec::display_value(array, r);
            // JSON has no NaN/Infinity literals.
            out += (v == "NaN" || v == "Infinity" || v == "-Infinity") ? json_string(v) : v;
          } else {
            out += json_string(exec::display_value(array, r));
          }
        }
      }
      out += args.format == "json" ? "}\n" : "\n";
    }
  }
  std::cout << out;
}

arrow::Status run(const QueryArgs& args) {
  sql::Session session;
  ARROW_ASSIGN_OR_RAISE(auto catalog, lake::Catalog::open(args.data_dir + "/lake/_catalog"));
  ARROW_ASSIGN_OR_RAISE(auto names, catalog->table_names());
  std::set<std::string> registered;
  for (const auto& name : names) {
    ARROW_ASSIGN_OR_RAISE(auto table, catalog->get(name));
    const size_t dot = name.rfind('.');
    std::vector<std::string> aliases = {name};
    if (dot != std::string::npos) aliases.push_back(name.substr(dot + 1));
    for (const auto& alias : aliases) {
      if (!registered.insert(alias).second) continue;  // first zone wins a bare name
      ARROW_ASSIGN_OR_RAISE(auto ddl, table_ddl(table, alias));
      auto st = session.execute(ddl).status();
      if (!st.ok()) return st.WithMessage("registering lake table '", name, "': ", st.message());
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto result, session.execute(args.sql));
  if (result.kind != sql::StatementKind::kQuery) {
    return arrow::Status::Invalid(
        "roadpulse query runs SELECT statements only (use roadpulse "
        "sql for DDL and INSERT)");
  }
  connect::ConnectOptions options;
  options.data_dir = args.data_dir;
  auto registry = std::make_unique<connect::ConnectorRegistry>(
      std::make_shared<connect::ConnectContext>(options));
  std::mutex mutex;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  auto schema = result.query->schema.to_arrow();
  exec::JobOptions job_options;
  job_options.name = "query";
  ARROW_ASSIGN_OR_RAISE(
      auto job, exec::Job::make_query(*result.query, *registry, job_options,
                                      [&](const std::shared_ptr<arrow::RecordBatch>& batch) {
                                        std::lock_guard lock(mutex);
                                        batches.push_back(batch);
                                        return arrow::Status::OK();
                                      }));
  if (args.explain) std::cerr << sql::explain_plan(*result.query) << "\n" << job->describe();
  if (!job->bounded()) {
    return arrow::Status::Invalid(
        "roadpulse query runs bounded queries only; this one reads an "
        "unbounded source");
  }
  ARROW_RETURN_NOT_OK(job->run());
  print_results(args, schema, batches);
  return arrow::Status::OK();
}

void setup(CLI::App& root) {
  auto args = std::make_shared<QueryArgs>();
  CLI::App* cmd = root.add_subcommand("query", "Batch SQL over the lake's catalog tables");
  cmd->add_option("sql", args->sql, "A SELECT statement")->required();
  cmd->add_option("--format", args->format, "table (default), csv (with header) or json (lines)")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  cmd->add_option("--data-dir", args->data_dir, "Data directory (catalog in <dir>/lake/_catalog)")
      ->capture_default_str();
  cmd->add_flag("--explain", args->explain, "Print the plan and operator chains to stderr");
  cmd->footer(
      "Examples:\n"
      "  roadpulse query \"SELECT ID, City, Severity FROM us_accidents WHERE Severity >= 4\"\n"
      "  roadpulse query --format csv \"SELECT ID, UPPER(City) AS city FROM us_accidents "
      "WHERE State = 'CA'\"\n"
      "  roadpulse query --format json \"SELECT * FROM \\`curated.us_accidents\\` WHERE "
      "event_date = DATE '2016-02-08'\"\n"
      "Tables are the lake catalog's (roadpulse lake tables), by full name quoted with\n"
      "backticks or by the name after the zone. Queries run on the streaming engine as bounded\n"
      "jobs. GROUP BY, ORDER BY, LIMIT and joins are not supported yet: such queries fail\n"
      "with the engine's error rather than a wrong answer.");
  cmd->callback([args] { run_command([&] { return run(*args); }); });
}

const RegisterCommand kRegister(61, &setup);

}  // namespace
}  // namespace roadpulse::cli
