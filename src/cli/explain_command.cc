// `roadpulse explain -f job.sql`: what the engine would run, without running it or touching any
// data — each INSERT's and SELECT's optimized logical plan, in Flink's EXPLAIN layout (pushed
// projections and filters, watermarks, window aggregates). `roadpulse sql --explain` also
// prints the operator chains when it runs the job.

#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "cli/command.h"
#include "sql/session.h"

namespace roadpulse::cli {

namespace {

struct ExplainArgs {
  std::string file;
  std::vector<std::string> statements;
  std::vector<std::string> defines;
};

arrow::Status explain(const ExplainArgs& args) {
  std::string script;
  if (!args.file.empty()) {
    std::ifstream in(args.file, std::ios::binary);
    if (!in) return arrow::Status::IOError("cannot read '", args.file, "'");
    std::stringstream buffer;
    buffer << in.rdbuf();
    script = buffer.str();
  } else {
    for (const auto& s : args.statements) script += s + ";\n";
  }
  if (script.empty()) return arrow::Status::Invalid("nothing to explain: give -f FILE or -e SQL");
  sql::Session session;
  for (const auto& d : args.defines) {
    const size_t eq = d.find('=');
    if (eq == std::string::npos || eq == 0) {
      return arrow::Status::Invalid("-D expects KEY=VALUE, got '", d, "'");
    }
    session.set_config(d.substr(0, eq), d.substr(eq + 1));
  }
  auto results = session.execute_script(script);
  if (!results.ok()) {
    return args.file.empty()
               ? results.status()
               : results.status().WithMessage(args.file, ": ", results.status().message());
  }
  int n = 0;
  for (auto& result : *results) {
    if (result.kind != sql::StatementKind::kInsert && result.kind != sql::StatementKind::kQuery) {
      continue;
    }
    std::cout << fmt::format("== statement {} (line {}) ==\n", ++n, result.line);
    std::cout << (result.plan ? sql::explain_plan(*result.plan) : sql::explain_plan(*result.query))
              << "\n";
  }
  if (n == 0) std::cout << "no INSERT or SELECT to explain\n";
  return arrow::Status::OK();
}

void setup(CLI::App& root) {
  auto args = std::make_shared<ExplainArgs>();
  CLI::App* cmd =
      root.add_subcommand("explain", "Show the plans and operator chains of a SQL file's jobs");
  cmd->add_option("-f,--file", args->file, "SQL script");
  cmd->add_option("-e,--execute", args->statements, "Statement(s) (repeatable)");
  cmd->add_option("-D,--define", args->defines, "Session setting KEY=VALUE (repeatable)");
  cmd->footer(
      "Examples:\n"
      "  roadpulse explain -f sql/seed_job.sql\n"
      "  roadpulse explain -f sql/pipeline.sql -D "
      "'table-option.raw_accidents.scan.stream.initpos=LATEST'");
  cmd->callback([args] { run_command([&] { return explain(*args); }); });
}

const RegisterCommand kRegister(42, &setup);

}  // namespace

}  // namespace roadpulse::cli
