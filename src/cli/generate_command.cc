// roadpulse generate: synthetic accident rows in the Kaggle "US Accidents" CSV format.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/command.h"
#include "cli/simulate.h"
#include "common/time.h"
#include "record/generator.h"

namespace roadpulse::cli {

namespace {

arrow::Status write_all(int fd, const std::string& data, const std::string& name) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return arrow::Status::IOError("writing ", name, ": ", std::strerror(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return arrow::Status::OK();
}

}  // namespace

arrow::Status generate_csv(const record::GeneratorOptions& options, const std::string& path) {
  ARROW_ASSIGN_OR_RAISE(auto generator, record::Generator::make(options));
  const bool to_stdout = path.empty() || path == "-";
  const std::string name = to_stdout ? "stdout" : path;
  const int fd = to_stdout ? STDOUT_FILENO
                           : ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return arrow::Status::IOError("cannot create '", path, "': ", std::strerror(errno));
  std::string buffer = generator->header();
  arrow::Status status;
  while (status.ok() && generator->next_row(buffer)) {
    if (buffer.size() >= (1u << 20)) {
      status = write_all(fd, buffer, name);
      buffer.clear();
    }
  }
  if (status.ok()) status = write_all(fd, buffer, name);
  if (!to_stdout) {
    if (status.ok() && ::fdatasync(fd) != 0) {
      status = arrow::Status::IOError("syncing ", name, ": ", std::strerror(errno));
    }
    if (::close(fd) != 0 && status.ok()) {
      status = arrow::Status::IOError("closing ", name, ": ", std::strerror(errno));
    }
  }
  return status;
}

namespace {

void setup_generate(CLI::App& root) {
  auto* cmd = root.add_subcommand(
      "generate", "Write synthetic accident rows as CSV in the Kaggle \"US Accidents\" format");
  struct Args {
    int64_t rows = 1000;
    uint64_t seed = 42;
    std::string format = "march23";
    std::string start;
    std::string output = "-";
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--rows,-n", args->rows, "Number of rows")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", args->seed, "Random seed: the same seed gives the same rows")
      ->capture_default_str();
  cmd->add_option("--format", args->format,
                  "dec21 (47 columns, CRLF) or march23 (46 columns: Source, no Number/Side)")
      ->capture_default_str()
      ->check(CLI::IsMember({"dec21", "march23"}, CLI::ignore_case));
  cmd->add_option("--start", args->start,
                  "First day of Start_Time, YYYY-MM-DD (default 2016-02-08 for dec21, "
                  "2022-01-01 for march23)");
  cmd->add_option("--output,-o", args->output, "Output file ('-': stdout)")->capture_default_str();
  cmd->footer(
      "Rows follow the real data: severity shares, states as reported, cities by population with\n"
      "real coordinates, rush hours, weekly and seasonal rhythm, weather by season and region.\n\n"
      "Examples:\n"
      "  roadpulse generate --rows 1000 -o accidents.csv\n"
      "  roadpulse generate --rows 100000 --seed 7 --format dec21 --start 2021-06-01 -o dec21.csv\n"
      "  roadpulse generate --rows 10 | roadpulse simulate --input - --to -");
  cmd->callback([args] {
    run_command([&]() -> arrow::Status {
      record::GeneratorOptions options;
      options.rows = args->rows;
      options.seed = args->seed;
      ARROW_ASSIGN_OR_RAISE(options.format, record::parse_format_name(args->format));
      if (!args->start.empty()) {
        auto start = parse_timestamp(args->start);
        if (!start.ok()) return arrow::Status::Invalid("--start: ", start.status().message());
        options.start = *start;
      }
      return generate_csv(options, args->output);
    });
  });
}

const RegisterCommand kRegister(10, setup_generate);

}  // namespace

}  // namespace roadpulse::cli
