#pragma once
// Subcommand registry and the CLI's error model. A command file defines a setup function that
// adds its CLI11 subcommand, and registers it with a static RegisterCommand object. Library code
// returns arrow::Status; run_command() turns a failed Status into "error: ..." on stderr and a
// non-zero exit code.

#include <functional>
#include <string>
#include <vector>

#include <arrow/status.h>
#include <CLI/CLI.hpp>

namespace roadpulse::cli {

/// Exit codes: 0 ok, 1 runtime failure, 2 bad usage (CLI11's own), 3 resource busy (a data dir
/// held by another process), 130 interrupted.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBusy = 3;
inline constexpr int kExitInterrupted = 130;

using CommandSetup = void (*)(CLI::App& root);

struct CommandEntry {
  int order;  // position in --help
  CommandSetup setup;
};

std::vector<CommandEntry>& registered_commands();

struct RegisterCommand {
  RegisterCommand(int order, CommandSetup setup) {
    registered_commands().push_back({order, setup});
  }
};

/// Runs `body`; on failure prints the status message and throws CLI::RuntimeError with the
/// matching exit code (CLI11 then exits with it). Use inside a subcommand's callback.
void run_command(const std::function<arrow::Status()>& body);

}  // namespace roadpulse::cli
