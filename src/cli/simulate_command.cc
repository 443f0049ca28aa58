// roadpulse simulate: CSV rows -> JSON events -> a target (stdout, a file, a stream, Kinesis).

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <simdjson.h>

#include "cli/command.h"
#include "cli/event_sink.h"
#include "cli/simulate.h"
#include "common/time.h"
#include "record/csv_reader.h"
#include "record/json_event.h"
#include "record/schema.h"

namespace roadpulse::cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// JSON string of arbitrary bytes for the dead-letter file: invalid UTF-8 sequences become
// U+FFFD there (only there: the row is rejected, not repaired).
void append_lossy_json_string(std::string_view text, std::string& out) {
  if (record::append_json_string(text, out)) return;
  std::string cleaned;
  cleaned.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t len = c < 0x80         ? 1
                       : (c >> 5) == 6  ? 2
                       : (c >> 4) == 14 ? 3
                       : (c >> 3) == 30 ? 4
                                        : 0;
    if (len > 0 && i + len <= text.size() && simdjson::validate_utf8(text.data() + i, len)) {
      cleaned.append(text.substr(i, len));
      i += len;
    } else {
      cleaned += "\xEF\xBF\xBD";
      i += 1;
    }
  }
  record::append_json_string(cleaned, out);
}

// Bad rows, one JSON object per line. The file is created (truncated) at the first bad row, so a
// clean run leaves no file behind.
class DeadLetterFile {
 public:
  DeadLetterFile(std::string path, std::string source)
      : path_(std::move(path)), source_(std::move(source)) {}
  ~DeadLetterFile() {
    if (file_ != nullptr) std::fclose(file_);
  }

  arrow::Status add(int64_t line, std::string_view reason, std::string_view raw) {
    if (file_ == nullptr) {
      file_ = std::fopen(path_.c_str(), "w");
      if (file_ == nullptr) {
        return arrow::Status::IOError("cannot create dead-letter file '", path_,
                                      "': ", std::strerror(errno));
      }
    }
    line_buffer_.clear();
    line_buffer_ += fmt::format("{{\"line\":{},\"reason\":", line);
    append_lossy_json_string(reason, line_buffer_);
    line_buffer_ += ",\"row\":";
    append_lossy_json_string(raw, line_buffer_);
    line_buffer_ += ",\"source\":";
    append_lossy_json_string(source_, line_buffer_);
    line_buffer_ += "}\n";
    if (std::fwrite(line_buffer_.data(), 1, line_buffer_.size(), file_) != line_buffer_.size()) {
      return arrow::Status::IOError("writing dead-letter file '", path_,
                                    "': ", std::strerror(errno));
    }
    ++count_;
    return arrow::Status::OK();
  }

  arrow::Status close() {
    if (file_ == nullptr) return arrow::Status::OK();
    const bool ok = std::fflush(file_) == 0 && ::fdatasync(fileno(file_)) == 0;
    const int err = errno;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!ok || !closed) {
      return arrow::Status::IOError("writing dead-letter file '", path_, "': ", std::strerror(err));
    }
    return arrow::Status::OK();
  }

  int64_t count() const { return count_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string source_;
  std::FILE* file_ = nullptr;
  std::string line_buffer_;
  int64_t count_ = 0;
};

std::string human_rate(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.2f}M", per_second / 1e6);
  if (per_second >= 1e3) return fmt::format("{:.1f}k", per_second / 1e3);
  return fmt::format("{:.1f}", per_second);
}

std::string human_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 360000) return "--:--";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}

  // fraction < 0: unknown total.
  void update(int64_t events, int64_t dead, double fraction, double elapsed, bool force = false) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double rate = elapsed > 0 ? static_cast<double>(events) / elapsed : 0;
    std::string line = "\r";
    if (fraction >= 0) {
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(std::min(1.0, fraction) * kWidth);
      line += fmt::format("{:3.0f}% [{}{}] ", std::min(1.0, fraction) * 100,
                          std::string(filled, '#'), std::string(kWidth - filled, ' '));
    }
    line += fmt::format("{} events  {} ev/s", events, human_rate(rate));
    if (fraction > 0) {
      line += "  ETA " + human_duration(elapsed * (1 - fraction) / fraction);
    }
    if (dead > 0) line += fmt::format("  {} dead letters", dead);
    line += "\x1b[K";
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    drawn_ = true;
  }

  void finish() {
    if (enabled_ && drawn_) {
      std::fputs("\r\x1b[K", stderr);
      std::fflush(stderr);
    }
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point last_{};
};

// The batch being built: events' bytes in one buffer, views made when it is sent.
class EventBatch {
 public:
  void add_key(std::string_view key) {
    key_starts_.push_back(keys_.size());
    keys_ += key;
  }
  std::string& data() { return data_; }
  void end_event() { data_ends_.push_back(data_.size()); }
  size_t size() const { return data_ends_.size(); }
  size_t bytes() const { return data_.size(); }

  arrow::Status send(EventSink& sink) {
    if (data_ends_.empty()) return arrow::Status::OK();
    events_.clear();
    size_t data_start = 0;
    for (size_t i = 0; i < data_ends_.size(); ++i) {
      const size_t key_end = i + 1 < key_starts_.size() ? key_starts_[i + 1] : keys_.size();
      events_.push_back({std::string_view(keys_).substr(key_starts_[i], key_end - key_starts_[i]),
                         std::string_view(data_).substr(data_start, data_ends_[i] - data_start)});
      data_start = data_ends_[i];
    }
    ARROW_RETURN_NOT_OK(sink.write(events_));
    data_.clear();
    keys_.clear();
    data_ends_.clear();
    key_starts_.clear();
    return arrow::Status::OK();
  }

 private:
  std::string data_;
  std::string keys_;
  std::vector<size_t> data_ends_;
  std::vector<size_t> key_starts_;
  std::vector<Event> events_;
};

}  // namespace

std::string format_summary(const SimulateSummary& s, const std::string& target) {
  std::string out = fmt::format("{} rows -> {} events to {}, {} dead letters", s.rows, s.events,
                                target, s.dead_letters);
  if (s.dead_letters > 0) out += " (in " + s.dead_letter_path + ")";
  const double rate = s.seconds > 0 ? static_cast<double>(s.events) / s.seconds : 0;
  out += fmt::format(", {:.2f} s ({} events/s, {:.1f} MB)", s.seconds, human_rate(rate),
                     static_cast<double>(s.event_bytes) / 1e6);
  if (s.interrupted) out += ", interrupted";
  return out;
}

arrow::Result<SimulateSummary> run_simulation(const SimulateOptions& options, EventSink& sink) {
  std::unique_ptr<record::ByteSource> source;
  std::string source_name;
  int64_t total_rows = -1;
  if (!options.input.empty()) {
    ARROW_ASSIGN_OR_RAISE(source, record::open_file_source(options.input));
    source_name = options.input == "-" ? "<stdin>" : options.input;
  } else {
    ARROW_ASSIGN_OR_RAISE(auto generator, record::Generator::make(options.generate));
    source = record::make_generator_source(std::move(generator));
    source_name =
        fmt::format("generated(rows={},seed={})", options.generate.rows, options.generate.seed);
    total_rows = options.generate.rows;
  }
  ARROW_ASSIGN_OR_RAISE(auto reader, record::CsvReader::make(std::move(source)));

  ARROW_ASSIGN_OR_RAISE(const record::CsvRecord* header, reader->next());
  if (header == nullptr) {
    return arrow::Status::Invalid(source_name, ": empty input (no CSV header line)");
  }
  if (!header->error.empty()) {
    return arrow::Status::Invalid(source_name, ": line ", header->line, ": ", header->error);
  }
  auto schema_result = record::Schema::from_header(header->fields);
  if (!schema_result.ok()) {
    return arrow::Status::Invalid(source_name, ": ", schema_result.status().message());
  }
  const record::JsonEventEncoder encoder(std::move(schema_result).ValueUnsafe());
  const record::Schema& schema = encoder.schema();
  const int key_index = schema.index_of(options.partition_key);
  if (key_index < 0) {
    return arrow::Status::Invalid(source_name, ": partition key column '", options.partition_key,
                                  "' is not in the CSV header");
  }
  const int time_index = schema.index_of("Start_Time");
  if (options.speedup > 0 && time_index < 0) {
    return arrow::Status::Invalid(source_name,
                                  ": --speedup replays by Start_Time, which the header lacks");
  }

  DeadLetterFile dead_letters(options.dead_letter, source_name);
  ProgressBar progress(options.progress);
  EventBatch batch;
  SimulateSummary summary;
  int warnings = 0;
  const auto start = Clock::now();

  auto reject = [&](int64_t line, std::string_view reason, std::string_view raw) {
    if (warnings < options.max_warnings) {
      progress.finish();
      std::fprintf(stderr, "warning: %s line %lld: %.*s\n", source_name.c_str(),
                   static_cast<long long>(line), static_cast<int>(reason.size()), reason.data());
      if (++warnings == options.max_warnings) {
        std::fprintf(stderr, "warning: further bad rows go to %s only\n",
                     options.dead_letter.c_str());
      }
    }
    return dead_letters.add(line, reason, raw);
  };
  auto report_progress = [&](bool force) {
    double fraction = -1;
    if (total_rows > 0) {
      fraction = static_cast<double>(summary.rows) / static_cast<double>(total_rows);
    } else if (reader->size_hint() > 0) {
      fraction =
          static_cast<double>(reader->bytes_consumed()) / static_cast<double>(reader->size_hint());
    }
    progress.update(summary.events, dead_letters.count(), fraction, seconds_since(start), force);
  };
  size_t pending_events = 0;
  auto flush = [&]() -> arrow::Status {
    const size_t n = batch.size();
    const size_t bytes = batch.bytes();
    ARROW_RETURN_NOT_OK(batch.send(sink));
    summary.events += static_cast<int64_t>(n);
    summary.event_bytes += static_cast<int64_t>(bytes);
    pending_events = 0;
    report_progress(false);
    return arrow::Status::OK();
  };

  // Pacing: an event is due at max(rate schedule, event-time schedule); before waiting, what is
  // already encoded is delivered so every event leaves on time.
  bool have_t0 = false;
  EpochMicros t0 = 0;
  int64_t txn_ms = -1;
  std::string txn;
  while (true) {
    if (options.interrupted != nullptr && options.interrupted->load()) {
      summary.interrupted = true;
      break;
    }
    ARROW_ASSIGN_OR_RAISE(const record::CsvRecord* rec, reader->next());
    if (rec == nullptr) break;
    ++summary.rows;
    if (!rec->error.empty()) {
      ARROW_RETURN_NOT_OK(reject(rec->line, rec->error, rec->raw));
      continue;
    }
    if (rec->fields.size() != schema.size()) {
      ARROW_RETURN_NOT_OK(reject(
          rec->line, fmt::format("expected {} fields, found {}", schema.size(), rec->fields.size()),
          rec->raw));
      continue;
    }
    const std::string_view key = rec->fields[key_index];
    if (key.empty()) {
      ARROW_RETURN_NOT_OK(reject(
          rec->line, fmt::format("partition key column '{}' is empty", options.partition_key),
          rec->raw));
      continue;
    }

    double due = 0;  // seconds after start
    if (options.rate > 0) {
      due =
          static_cast<double>(summary.events + static_cast<int64_t>(pending_events)) / options.rate;
    }
    if (options.speedup > 0) {
      if (auto t = parse_timestamp(rec->fields[time_index]); t.ok()) {
        if (!have_t0) {
          have_t0 = true;
          t0 = *t;
        }
        due = std::max(due, static_cast<double>(*t - t0) / 1e6 / options.speedup);
      }
    }
    if (due > 0) {
      double wait = due - seconds_since(start);
      if (wait > 0.0005) {
        ARROW_RETURN_NOT_OK(flush());
        while ((wait = due - seconds_since(start)) > 0) {
          if (options.interrupted != nullptr && options.interrupted->load()) break;
          std::this_thread::sleep_for(std::chrono::duration<double>(std::min(wait, 0.1)));
          report_progress(false);
        }
        if (options.interrupted != nullptr && options.interrupted->load()) {
          summary.interrupted = true;
          --summary.rows;  // read but neither delivered nor rejected
          break;
        }
      }
    }

    const EpochMicros now = now_micros();
    if (now / 1000 != txn_ms) {  // Txn_Timestamp has millisecond precision: format once per ms
      txn_ms = now / 1000;
      txn = format_iso8601_millis(now);
    }
    const arrow::Status encoded = encoder.append(rec->fields, txn, batch.data());
    if (!encoded.ok()) {
      ARROW_RETURN_NOT_OK(reject(rec->line, encoded.message(), rec->raw));
      continue;
    }
    batch.end_event();
    batch.add_key(key);
    ++pending_events;
    if (batch.size() >= options.batch_size || batch.bytes() >= (4u << 20)) {
      ARROW_RETURN_NOT_OK(flush());
    }
  }
  ARROW_RETURN_NOT_OK(flush());
  ARROW_RETURN_NOT_OK(sink.close());
  ARROW_RETURN_NOT_OK(dead_letters.close());
  report_progress(true);
  progress.finish();
  summary.seconds = seconds_since(start);
  summary.dead_letters = dead_letters.count();
  if (summary.dead_letters > 0) summary.dead_letter_path = dead_letters.path();
  return summary;
}

namespace {

std::atomic<bool> g_interrupted{false};

// First Ctrl-C: stop reading, deliver what is encoded, print the summary. A second one kills.
void on_signal(int sig) {
  g_interrupted.store(true);
  std::signal(sig, SIG_DFL);
}

void setup_simulate(CLI::App& root) {
  auto* cmd = root.add_subcommand(
      "simulate", "Replay accident CSV rows as JSON events into a target (stdout, file, stream)");
  struct Args {
    std::string input;
    int64_t rows = 0;
    uint64_t seed = 42;
    std::string format = "march23";
    std::string start;
    double rate = 0;
    double speedup = 0;
    bool max = false;
    std::string to;
    std::string partition_key = "Severity";
    std::string dead_letter = "./roadpulse-dlq.jsonl";
    size_t batch_size = 500;
    int concurrency = 1;
    bool no_progress = false;
  };
  auto args = std::make_shared<Args>();
  auto* input = cmd->add_option("--input,-i", args->input, "CSV file to replay ('-': stdin)");
  auto* rows =
      cmd->add_option("--rows,-n", args->rows, "Generate this many rows instead of --input")
          ->check(CLI::PositiveNumber);
  input->excludes(rows);
  cmd->add_option("--seed", args->seed, "Generator seed (with --rows)")->capture_default_str();
  cmd->add_option("--format", args->format, "Generated layout (with --rows): dec21 or march23")
      ->capture_default_str()
      ->check(CLI::IsMember({"dec21", "march23"}, CLI::ignore_case));
  cmd->add_option("--start", args->start, "First day of generated Start_Time, YYYY-MM-DD");
  auto* rate =
      cmd->add_option("--rate", args->rate, "Cap on events per second")->check(CLI::PositiveNumber);
  auto* speedup =
      cmd->add_option("--speedup", args->speedup,
                      "Replay by event time: Start_Time gaps divided by X (60 = 1 h in 1 min)")
          ->check(CLI::PositiveNumber);
  auto* max = cmd->add_flag("--max", args->max, "As fast as possible (the default)");
  max->excludes(rate)->excludes(speedup);
  cmd->add_option("--to,-t", args->to,
                  "Target: '-' (stdout, JSON lines), file:PATH, or a scheme another module adds "
                  "(stream:NAME, kinesis://HOST:PORT/NAME)")
      ->required();
  cmd->add_option("--partition-key", args->partition_key, "Column whose value keys each event")
      ->capture_default_str();
  cmd->add_option(
         "--dead-letter", args->dead_letter,
         "Where malformed rows go (JSON lines: line, reason, row); created at the first one")
      ->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "Events per delivery to the target")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--concurrency", args->concurrency,
                  "kinesis:// targets: PutRecords requests in flight, one connection each (> 1 "
                  "trades the order of a key's events for throughput)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_flag("--no-progress", args->no_progress, "No progress bar even on a terminal");
  cmd->footer(
      "Each CSV row becomes one JSON object (field names as in the header, ISO-8601 timestamps,\n"
      "numbers as written, plus Txn_Timestamp). Malformed rows are reported with their line\n"
      "number, written to the dead-letter file and skipped. The summary goes to stderr.\n\n"
      "Examples:\n"
      "  roadpulse simulate --input us_accidents.csv --max --to file:events.jsonl\n"
      "  roadpulse simulate --input us_accidents.csv --max --concurrency 4 --to "
      "kinesis://127.0.0.1:8080/us-accidents-data-stream-1\n"
      "  roadpulse simulate --rows 10000 --seed 7 --rate 200 --to -\n"
      "  roadpulse simulate --input us_accidents.csv --speedup 3600 --to "
      "stream:us-accidents-data-stream-1\n"
      "  roadpulse generate --rows 100 | roadpulse simulate --input - --to - | head -1");
  cmd->callback([args, input, rows] {
    run_command([&]() -> arrow::Status {
      if (input->count() == 0 && rows->count() == 0) {
        return arrow::Status::Invalid("simulate needs --input FILE or --rows N");
      }
      SimulateOptions options;
      options.input = args->input;
      options.generate.rows = args->rows;
      options.generate.seed = args->seed;
      ARROW_ASSIGN_OR_RAISE(options.generate.format, record::parse_format_name(args->format));
      if (!args->start.empty()) {
        auto start = parse_timestamp(args->start);
        if (!start.ok()) return arrow::Status::Invalid("--start: ", start.status().message());
        options.generate.start = *start;
      }
      options.rate = args->rate;
      options.speedup = args->speedup;
      options.partition_key = args->partition_key;
      options.dead_letter = args->dead_letter;
      options.batch_size = args->batch_size;
      options.progress = !args->no_progress && ::isatty(STDERR_FILENO);
      options.interrupted = &g_interrupted;
      std::string target = args->to;
      if (args->concurrency > 1) {
        if (target_scheme(target) != "kinesis") {
          return arrow::Status::Invalid("--concurrency applies to kinesis:// targets, not '",
                                        target, "'");
        }
        target += target.find('?') == std::string::npos ? '?' : '&';
        target += "concurrency=" + std::to_string(args->concurrency);
      }
      ARROW_ASSIGN_OR_RAISE(auto sink, open_event_sink(target));
      std::signal(SIGINT, on_signal);
      std::signal(SIGTERM, on_signal);
      ARROW_ASSIGN_OR_RAISE(const SimulateSummary summary, run_simulation(options, *sink));
      std::fprintf(stderr, "simulate: %s\n", format_summary(summary, args->to).c_str());
      if (summary.interrupted) throw CLI::RuntimeError(kExitInterrupted);
      return arrow::Status::OK();
    });
  });
}

const RegisterCommand kRegister(20, setup_simulate);

}  // namespace

}  // namespace roadpulse::cli
