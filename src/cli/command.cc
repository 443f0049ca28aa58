#include "cli/command.h"

#include <iostream>

namespace roadpulse::cli {

std::vector<CommandEntry>& registered_commands() {
  static std::vector<CommandEntry> commands;
  return commands;
}

void run_command(const std::function<arrow::Status()>& body) {
  const arrow::Status status = body();
  if (status.ok()) return;
  std::cerr << "error: " << status.message() << std::endl;
  // IOError "busy" is how library code says a data dir is held by another process.
  const bool busy =
      status.IsIOError() && status.message().find("is in use by") != std::string::npos;
  throw CLI::RuntimeError(busy ? kExitBusy : kExitFailure);
}

}  // namespace roadpulse::cli
