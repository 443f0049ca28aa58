// roadpulse sql: runs Flink SQL with the embedded engine (exec + connectors) on a data directory.
// A script (-f) or statements (-e) run in order: DDL goes into the session catalog, SET into the
// session configuration, INSERT INTO / EXECUTE STATEMENT SET run as jobs (bounded jobs to
// completion, unbounded ones until Ctrl-C or --duration), SELECT results print as a table.
// Without -f/-e it is an interactive shell when stdin is a terminal, else it reads a script from
// stdin.

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include <arrow/builder.h>
#include <fmt/format.h>

#include "cli/command.h"
#include "cli/sql_remote.h"
#include "connect/registry.h"
#include "exec/aggregate_operators.h"
#include "exec/display.h"
#include "exec/job.h"
#include "server/sql_gateway.h"
#include "sql/session.h"

namespace roadpulse::cli {
namespace {

std::atomic<bool> g_interrupted{false};
void on_signal(int) { g_interrupted.store(true); }

struct SqlArgs {
  std::string file;
  std::vector<std::string> statements;
  std::string data_dir = "./roadpulse-data";
  std::vector<std::string> defines;
  double duration_s = 0;
  bool explain = false;
  bool from_scratch = false;  // named jobs ignore their checkpoints (docs/checkpoints.md)
  std::string durability = "fsync";
  std::string format = "table";
  std::string server;  // a running server's URL: statements go to its SQL gateway
  std::string session = "default";
};

class Runner {
 public:
  explicit Runner(const SqlArgs& args) : args_(args) {
    connect::ConnectOptions options;
    options.data_dir = args.data_dir;
    if (args.durability == "interval") options.log.durability = log::Durability::kInterval;
    if (args.durability == "none") options.log.durability = log::Durability::kNone;
    context_ = std::make_shared<connect::ConnectContext>(options);
    registry_ = std::make_unique<connect::ConnectorRegistry>(context_);
  }

  arrow::Status define(const std::string& kv) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return arrow::Status::Invalid("-D expects KEY=VALUE, got '", kv, "'");
    }
    session_.set_config(kv.substr(0, eq), kv.substr(eq + 1));
    return arrow::Status::OK();
  }

  arrow::Status run_script(const std::string& script) {
    ARROW_ASSIGN_OR_RAISE(auto results, session_.execute_script(script));
    for (auto& result : results) ARROW_RETURN_NOT_OK(handle(result));
    return arrow::Status::OK();
  }

  arrow::Status run_statement(const std::string& statement) {
    ARROW_ASSIGN_OR_RAISE(auto result, session_.execute(statement));
    return handle(result);
  }

  int exit_code() const { return interrupted_ ? kExitInterrupted : 0; }

 private:
  arrow::Status handle(sql::StatementResult& result) {
    switch (result.kind) {
      case sql::StatementKind::kInsert:
        return run_insert(result);
      case sql::StatementKind::kQuery:
        return run_query(result);
      default:
        if (!result.column_names.empty()) print_strings(result);
        if (!result.message.empty()) std::cerr << result.message << "\n";
        return arrow::Status::OK();
    }
  }

  static void print_strings(const sql::StatementResult& result) {
    arrow::FieldVector fields;
    std::vector<arrow::StringBuilder> builders(result.column_names.size());
    for (const auto& name : result.column_names)
      fields.push_back(arrow::field(name, arrow::utf8()));
    for (const auto& row : result.rows) {
      for (size_t c = 0; c < builders.size(); ++c) {
        (void)builders[c].Append(c < row.size() ? row[c] : "");
      }
    }
    std::vector<std::shared_ptr<arrow::Array>> arrays;
    for (auto& b : builders) arrays.push_back(b.Finish().ValueOrDie());
    auto schema = arrow::schema(fields);
    auto batch = arrow::RecordBatch::Make(schema, int64_t(result.rows.size()), arrays);
    std::cout << exec::format_table(schema, {batch});
  }

  exec::JobOptions job_options(const std::string& name) {
    exec::JobOptions options;
    options.name = name;
    options.config = session_.config();
    options.cancel = &g_interrupted;
    // Checkpoints of a named job (SET 'pipeline.name') live here unless 'state.checkpoints.dir'
    // says otherwise; the job resumes from them (docs/checkpoints.md).
    options.checkpoint_root = args_.data_dir + "/checkpoints";
    options.from_scratch = args_.from_scratch;
    return options;
  }

  std::optional<int64_t> duration_ms() const {
    if (args_.duration_s <= 0) return std::nullopt;
    return int64_t(args_.duration_s * 1000);
  }

  arrow::Status run_insert(sql::StatementResult& result) {
    std::string name = fmt::format("insert-{}", ++jobs_);
    const auto& config = session_.config();
    if (auto it = config.find(exec::kPipelineNameKey); it != config.end()) name = it->second;
    ARROW_ASSIGN_OR_RAISE(auto job, exec::Job::make(*result.plan, *registry_, job_options(name)));
    if (args_.explain) std::cerr << sql::explain_plan(*result.plan) << "\n" << job->describe();
    const bool bounded = job->bounded();
    std::cerr << fmt::format("[INFO] Submitting {} job {} (line {}){}\n",
                             bounded ? "bounded" : "unbounded", name, result.line,
                             bounded         ? ""
                             : duration_ms() ? fmt::format(": running for {} s", args_.duration_s)
                                             : std::string(": running until Ctrl-C"));
    auto st = job->run(duration_ms());
    const auto summary = job->summary();
    if (st.ok() && summary.checkpoints.restored_finished) {
      // The job had finished before (its final checkpoint is durable): nothing was run.
      std::cerr << fmt::format(
          "[INFO] job {} already finished at checkpoint {}; {}\n"
          "       (to run it again: roadpulse sql --from-scratch, or another 'pipeline.name')\n",
          name, summary.checkpoints.restored_id,
          summary.checkpoints.restored_commit_replayed ? "re-committed"
                                                       : "its commit was confirmed, nothing to do");
      return st;
    }
    print_summary(name, summary);
    print_checkpoints(summary.checkpoints, args_.from_scratch);
    if (g_interrupted.load()) interrupted_ = true;
    return st;
  }

  arrow::Status run_query(sql::StatementResult& result) {
    const std::string name = fmt::format("query-{}", ++jobs_);
    std::mutex mutex;
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
    auto schema = result.query->schema.to_arrow();
    bool streaming = false;
    std::unique_ptr<StreamingResultPrinter> printer;
    auto on_rows = [&](const std::shared_ptr<arrow::RecordBatch>& batch) -> arrow::Status {
      std::lock_guard lock(mutex);
      if (streaming) {
        // Unbounded query: rows show as they arrive (the same display as `--server`).
        const bool changelog = exec::has_row_kind(*batch);
        const int columns = batch->num_columns() - (changelog ? 1 : 0);
        const auto* kinds = changelog
                                ? static_cast<const arrow::Int8Array*>(batch->column(columns).get())
                                : nullptr;
        for (int64_t r = 0; r < batch->num_rows(); ++r) {
          std::vector<std::string> values;
          values.reserve(size_t(columns));
          for (int c = 0; c < columns; ++c) {
            values.push_back(exec::display_value(*batch->column(c), r));
          }
          printer->add(kinds ? exec::row_kind_text(kinds->Value(r)) : "+I", std::move(values));
        }
        printer->flush(false);
      } else {
        batches.push_back(batch);
      }
      return arrow::Status::OK();
    };
    ARROW_ASSIGN_OR_RAISE(
        auto job, exec::Job::make_query(*result.query, *registry_, job_options(name), on_rows));
    if (args_.explain) std::cerr << sql::explain_plan(*result.query) << "\n" << job->describe();
    streaming = !job->bounded();
    if (streaming) {
      std::vector<std::string> names;
      for (const auto& column : result.query->schema.fields) names.push_back(column.name);
      printer = std::make_unique<StreamingResultPrinter>(
          std::move(names), args_.format == "table" && isatty(STDOUT_FILENO));
      std::cerr << "[INFO] Unbounded query: rows print as they arrive; Ctrl-C stops it.\n";
    }
    auto st = job->run(duration_ms());
    if (printer) printer->flush(true);
    // A changelog (an updating result in streaming mode) shows its row kind as a first column,
    // `op`, as Flink's SQL client does.
    for (auto& batch : batches) {
      if (!exec::has_row_kind(*batch)) continue;
      const int last = batch->num_columns() - 1;
      const auto& kinds = static_cast<const arrow::Int8Array&>(*batch->column(last));
      arrow::StringBuilder ops;
      for (int64_t r = 0; r < kinds.length(); ++r) {
        ARROW_RETURN_NOT_OK(ops.Append(exec::row_kind_text(kinds.Value(r))));
      }
      ARROW_ASSIGN_OR_RAISE(auto op_array, ops.Finish());
      ARROW_ASSIGN_OR_RAISE(batch, batch->RemoveColumn(last));
      ARROW_ASSIGN_OR_RAISE(batch,
                            batch->AddColumn(0, arrow::field("op", arrow::utf8()), op_array));
      schema = batch->schema();
    }
    if (!streaming && args_.format == "tsv") {
      // Machine-readable: one line per row, tab-separated, NULL for nulls, no header, values
      // rendered as Flink does (the sqllogictest runner compares these).
      for (const auto& batch : batches) {
        for (int64_t r = 0; r < batch->num_rows(); ++r) {
          std::string line;
          for (int c = 0; c < batch->num_columns(); ++c) {
            if (c) line += "\t";
            line += exec::display_value(*batch->column(c), r, "NULL");
          }
          std::cout << line << "\n";
        }
      }
    } else if (!streaming && args_.format != "table") {
      // Machine-readable formats print the same way as results from a server.
      ARROW_RETURN_NOT_OK(print_result_json(server::result_columns_json(result.query->schema),
                                            server::result_rows_json(batches, INT64_MAX),
                                            args_.format));
    } else if (!streaming) {
      std::cout << exec::format_table(schema, batches);
    }
    if (g_interrupted.load()) interrupted_ = true;
    return st;
  }

  static void print_summary(const std::string& name, const exec::JobSummary& summary) {
    std::string text = fmt::format("[INFO] Job {} {} after {:.3f} s\n", name,
                                   summary.cancelled ? "stopped" : "finished",
                                   double(summary.elapsed_micros) / 1e6);
    for (const auto& s : summary.sources) {
      text +=
          fmt::format("  read    {:>10} rows from {} ({})", s.records_read, s.table, s.connector);
      if (s.records_rejected) text += fmt::format(", {} rejected", s.records_rejected);
      text += "\n";
    }
    for (const auto& s : summary.sinks) {
      text +=
          fmt::format("  wrote   {:>10} rows to   {} ({})\n", s.rows_written, s.table, s.connector);
    }
    if (summary.late_records) {
      text +=
          fmt::format("  dropped {:>10} late rows (behind the watermark)\n", summary.late_records);
    }
    std::cerr << text;
  }

  static void print_checkpoints(const exec::CheckpointStats& c, bool from_scratch) {
    if (!c.enabled) return;
    std::string text;
    if (c.restored_id > 0) {
      text += fmt::format(
          "  {} checkpoint {}{}\n", from_scratch ? "started from scratch after" : "resumed from",
          c.restored_id, c.restored_commit_replayed ? " (its commit replayed)" : "");
    }
    if (c.completed > 0) {
      text +=
          fmt::format("  checkpoints {:>6} completed, last {} ({} bytes, {:.1f} ms){}\n",
                      c.completed, c.last_id, c.last_bytes, double(c.last_duration_micros) / 1e3,
                      c.persisted ? fmt::format(" in {}", c.dir)
                                  : std::string(" (not persisted: no pipeline.name)"));
    }
    std::cerr << text;
  }

  const SqlArgs& args_;
  sql::Session session_;
  std::shared_ptr<connect::ConnectContext> context_;
  std::unique_ptr<connect::ConnectorRegistry> registry_;
  int jobs_ = 0;
  bool interrupted_ = false;
};

arrow::Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return arrow::Status::IOError("cannot open '", path, "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// True when `text` holds a complete statement: a ';' outside quotes and comments.
bool statement_complete(const std::string& text) {
  bool in_single = false, in_back = false, in_double = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_single && !in_back && !in_double && c == '-' && i + 1 < text.size() &&
        text[i + 1] == '-') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (c == '\'' && !in_back && !in_double) in_single = !in_single;
    if (c == '`' && !in_single && !in_double) in_back = !in_back;
    if (c == '"' && !in_single && !in_back) in_double = !in_double;
    if (c == ';' && !in_single && !in_back && !in_double) return true;
  }
  return false;
}

arrow::Status shell(Runner& runner) {
  std::cout << "roadpulse SQL shell. Statements end with ';'. Type 'QUIT;' or Ctrl-D to leave.\n";
  std::string buffer;
  std::string line;
  while (true) {
    std::cout << (buffer.empty() ? "Flink SQL> " : "> ") << std::flush;
    if (!std::getline(std::cin, line)) break;
    buffer += line + "\n";
    if (!statement_complete(buffer)) continue;
    std::string statement = buffer;
    buffer.clear();
    std::string trimmed;
    for (char c : statement) {
      if (!std::isspace(static_cast<unsigned char>(c)) && c != ';')
        trimmed.push_back(char(std::toupper(c)));
    }
    if (trimmed == "QUIT" || trimmed == "EXIT") break;
    g_interrupted = false;
    auto st = runner.run_statement(statement);
    if (!st.ok()) std::cout << "[ERROR] " << st.message() << "\n";
  }
  std::cout << "\n";
  return arrow::Status::OK();
}

// --server: the same inputs (-f, -e, stdin, -D as SET statements) sent to the SQL gateway.
// Returns true when Ctrl-C stopped a streamed query.
arrow::Result<bool> run_remote(const SqlArgs& args) {
  std::string script;
  for (const auto& d : args.defines) {
    const size_t eq = d.find('=');
    if (eq == std::string::npos || eq == 0) {
      return arrow::Status::Invalid("-D expects KEY=VALUE, got '", d, "'");
    }
    script += fmt::format("SET '{}' = '{}';\n", d.substr(0, eq), d.substr(eq + 1));
  }
  if (!args.file.empty()) {
    ARROW_ASSIGN_OR_RAISE(auto text, read_text(args.file));
    script += text;
  } else if (!args.statements.empty()) {
    for (const auto& s : args.statements) script += s + ";\n";
  } else {
    std::ostringstream buffer;
    buffer << std::cin.rdbuf();
    script += buffer.str();
  }
  const std::string format =
      args.format == "table" && !isatty(STDOUT_FILENO) ? "table" : args.format;
  return run_remote_sql(args.server, script, args.session, format);
}

void setup(CLI::App& root) {
  auto args = std::make_shared<SqlArgs>();
  CLI::App* cmd = root.add_subcommand(
      "sql", "Run Flink SQL: tables over streams, files and generators; INSERT jobs; queries");
  cmd->add_option("-f,--file", args->file, "SQL script to run");
  cmd->add_option("-e,--execute", args->statements, "Statement(s) to run (repeatable)");
  cmd->add_option("--data-dir", args->data_dir, "Data directory holding the streams")
      ->capture_default_str();
  cmd->add_option("-D,--define", args->defines,
                  "Session setting KEY=VALUE, as SET does (repeatable); "
                  "table-option.<table>.<key>=<value> overrides a table's WITH option");
  cmd->add_option("--duration", args->duration_s,
                  "Stop unbounded jobs after this many seconds (default: run until Ctrl-C)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--format", args->format,
                  "How query results print: table (default), tsv (no header, NULL for nulls), csv "
                  "(header) or json (one object per row)")
      ->check(CLI::IsMember({"table", "tsv", "csv", "json"}))
      ->capture_default_str();
  cmd->add_option("--server", args->server,
                  "Send the statements to a running roadpulse serve/run (its SQL gateway): "
                  "INSERT jobs run there, query rows come back");
  cmd->add_option("--session", args->session, "Gateway session name (with --server)")
      ->capture_default_str();
  cmd->add_flag("--explain", args->explain, "Print each job's plan and operator chains");
  cmd->add_flag("--from-scratch", args->from_scratch,
                "Run named jobs (SET 'pipeline.name') from the beginning instead of resuming from "
                "their checkpoints; a finished bounded job runs again only with this");
  cmd->add_option("--durability", args->durability,
                  "Stream appends acknowledged after: fsync (default), interval, none")
      ->check(CLI::IsMember({"fsync", "interval", "none"}))
      ->capture_default_str();
  cmd->footer(
      "Examples:\n"
      "  roadpulse sql -f sql/seed_job.sql --data-dir ./data\n"
      "  roadpulse sql -f sql/seed_job.sql --duration 60 \\\n"
      "      -D table-option.us_accidents_stream.scan.stream.initpos=TRIM_HORIZON\n"
      "  roadpulse sql -e \"CREATE TABLE g (id BIGINT) WITH ('connector'='datagen',\n"
      "      'fields.id.kind'='sequence','fields.id.start'='1','fields.id.end'='5')\" \\\n"
      "      -e \"SELECT id * 2 AS twice FROM g\"\n"
      "  roadpulse sql            # interactive shell\n"
      "  roadpulse sql --server http://127.0.0.1:8080 -e \"SELECT ...\"   # on a running server\n"
      "Bounded jobs (files, datagen with number-of-rows) run to completion and print rows read\n"
      "and written; jobs over streams run until Ctrl-C or --duration (exit code 130 on Ctrl-C).\n"
      "'scan.stream.endpos'='LATEST' makes a stream source stop at the stream's end.");
  cmd->callback([args] {
    int code = 0;
    run_command([&]() -> arrow::Status {
      if (!args->file.empty() && !args->statements.empty()) {
        return arrow::Status::Invalid("use either -f or -e, not both");
      }
      if (!args->server.empty()) {
        if (args->from_scratch) {
          return arrow::Status::Invalid(
              "--from-scratch applies to jobs run here, not with --server");
        }
        ARROW_ASSIGN_OR_RAISE(const bool interrupted, run_remote(*args));
        if (interrupted) code = kExitInterrupted;
        return arrow::Status::OK();
      }
      std::signal(SIGINT, on_signal);
      std::signal(SIGTERM, on_signal);
      Runner runner(*args);
      for (const auto& d : args->defines) ARROW_RETURN_NOT_OK(runner.define(d));
      if (!args->file.empty()) {
        ARROW_ASSIGN_OR_RAISE(auto script, read_text(args->file));
        auto st = runner.run_script(script);
        if (!st.ok()) return st.WithMessage(args->file, ": ", st.message());
      } else if (!args->statements.empty()) {
        for (const auto& s : args->statements) ARROW_RETURN_NOT_OK(runner.run_script(s));
      } else if (isatty(STDIN_FILENO)) {
        ARROW_RETURN_NOT_OK(shell(runner));
      } else {
        std::ostringstream buffer;
        buffer << std::cin.rdbuf();
        ARROW_RETURN_NOT_OK(runner.run_script(buffer.str()));
      }
      code = runner.exit_code();
      return arrow::Status::OK();
    });
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

const RegisterCommand kRegister(40, &setup);

}  // namespace
}  // namespace roadpulse::cli
