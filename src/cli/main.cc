// roadpulse: one binary, subcommands registered by the *_command.cc files beside this one.

#include <algorithm>
#include <iostream>

#include "cli/command.h"
#include "common/logging.h"
#include "common/version.h"

int main(int argc, char** argv) {
  using namespace roadpulse;
  CLI::App app{
      "roadpulse: a real-time streaming pipeline for road-accident events.\n"
      "Raw layer (durable log + Kinesis API), analytical layer (Flink SQL -> Parquet lake),\n"
      "real-time layer (metrics, alerts, live dashboard) in one self-hosted binary.",
      "roadpulse"};
  app.set_version_flag("--version", std::string("roadpulse ") + kVersion);
  app.require_subcommand(1);
  std::string log_level = "info";
  std::string log_format = "text";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.add_option("--log-format", log_format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.footer(
      "Examples:\n"
      "  roadpulse generate --rows 1000 -o accidents.csv\n"
      "  roadpulse simulate --input accidents.csv --max --to -\n"
      "Run 'roadpulse <command> --help' for a command's options.");
  app.parse_complete_callback(
      [&] { init_logging(log_format == "json" ? LogFormat::kJson : LogFormat::kText, log_level); });

  auto& commands = cli::registered_commands();
  std::sort(commands.begin(), commands.end(),
            [](const auto& a, const auto& b) { return a.order < b.order; });
  for (const auto& command : commands) command.setup(app);

  CLI11_PARSE(app, argc, argv);
  return 0;
}
