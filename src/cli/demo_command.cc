// roadpulse demo: generate a data set and replay it into a JSON-lines file, then summarise.
// (It grows into the whole pipeline as the other layers land.)

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/event_sink.h"
#include "cli/simulate.h"

namespace roadpulse::cli {

namespace {

void setup_demo(CLI::App& root) {
  auto* cmd = root.add_subcommand(
      "demo", "Generate accident data and replay it as events into a file, with a summary");
  struct Args {
    int64_t rows = 100000;
    uint64_t seed = 42;
    std::string dir = "./roadpulse-demo";
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--rows,-n", args->rows, "Rows to generate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->seed, "Generator seed")->capture_default_str();
  cmd->add_option("--dir", args->dir, "Where the CSV, the events and dead letters go")
      ->capture_default_str();
  cmd->footer(
      "Writes <dir>/accidents.csv (generated, March23 layout), <dir>/events.jsonl (one JSON\n"
      "event per row) and, if any row were malformed, <dir>/dead-letters.jsonl.\n\n"
      "Examples:\n"
      "  roadpulse demo\n"
      "  roadpulse demo --rows 1000000 --dir /tmp/rp-demo");
  cmd->callback([args] {
    run_command([&]() -> arrow::Status {
      namespace fs = std::filesystem;
      std::error_code ec;
      fs::create_directories(args->dir, ec);
      if (ec) {
        return arrow::Status::IOError("cannot create '", args->dir, "': ", ec.message());
      }
      const std::string csv = (fs::path(args->dir) / "accidents.csv").string();
      const std::string events = (fs::path(args->dir) / "events.jsonl").string();
      const std::string dead = (fs::path(args->dir) / "dead-letters.jsonl").string();
      fs::remove(dead, ec);  // a stale file from an earlier run would mislead

      record::GeneratorOptions generate;
      generate.rows = args->rows;
      generate.seed = args->seed;
      const auto t0 = std::chrono::steady_clock::now();
      ARROW_RETURN_NOT_OK(generate_csv(generate, csv));
      const double gen_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const auto csv_bytes = fs::file_size(csv, ec);
      std::printf("demo: generated %lld rows (%.1f MB) in %.2f s -> %s\n",
                  static_cast<long long>(args->rows), static_cast<double>(csv_bytes) / 1e6,
                  gen_seconds, csv.c_str());

      SimulateOptions options;
      options.input = csv;
      options.dead_letter = dead;
      options.progress = ::isatty(STDERR_FILENO);
      const std::string target = "file:" + events;
      ARROW_ASSIGN_OR_RAISE(auto sink, open_event_sink(target));
      ARROW_ASSIGN_OR_RAISE(const SimulateSummary summary, run_simulation(options, *sink));
      std::printf("demo: simulated %s\n", format_summary(summary, target).c_str());
      if (summary.events + summary.dead_letters != summary.rows) {
        return arrow::Status::Invalid("demo: ", summary.rows, " rows read but ", summary.events,
                                      " events and ", summary.dead_letters, " dead letters");
      }
      return arrow::Status::OK();
    });
  });
}

const RegisterCommand kRegister(90, setup_demo);

}  // namespace

}  // namespace roadpulse::cli
