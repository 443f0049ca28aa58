#pragma once
// The simulator shared by `roadpulse simulate` and `roadpulse demo`: reads CSV rows (a file,
// stdin or the generator), turns each into a JSON event and delivers the events in batches to an
// EventSink, paced by event time (--speedup), capped by a rate (--rate) or as fast as possible.
// Malformed rows go to a dead-letter file (one JSON object per row: line, reason, row) and the
// run continues.

#include <atomic>
#include <cstdint>
#include <string>

#include <arrow/result.h>

#include "cli/event_sink.h"
#include "record/generator.h"

namespace roadpulse::cli {

struct SimulateOptions {
  std::string input;  // CSV path, "-" for stdin; empty: generate `generate.rows` rows
  record::GeneratorOptions generate;
  double rate = 0;     // events per second cap; 0: none
  double speedup = 0;  // replay Start_Time gaps divided by this; 0: no event-time pacing
  std::string partition_key = "Severity";
  std::string dead_letter = "./roadpulse-dlq.jsonl";
  size_t batch_size = 500;  // events per sink write (Kinesis PutRecords takes at most 500)
  bool progress = false;    // draw a progress bar on stderr
  int max_warnings = 10;    // bad rows echoed to stderr before only counting them
  const std::atomic<bool>* interrupted = nullptr;  // set by a signal handler: stop early
};

struct SimulateSummary {
  int64_t rows = 0;          // data rows read (header excluded)
  int64_t events = 0;        // events delivered
  int64_t dead_letters = 0;  // rows written to the dead-letter file
  int64_t event_bytes = 0;   // JSON bytes delivered
  double seconds = 0;
  bool interrupted = false;
  std::string dead_letter_path;  // set when dead_letters > 0
};

arrow::Result<SimulateSummary> run_simulation(const SimulateOptions& options, EventSink& sink);

/// Writes the header and `options.rows` generated rows as CSV to `path` ("-": stdout).
arrow::Status generate_csv(const record::GeneratorOptions& options, const std::string& path);

/// "7931 rows -> 7931 events to file:x.jsonl, 0 dead letters, 0.05 s (158.6k events/s)".
std::string format_summary(const SimulateSummary& summary, const std::string& target);

}  // namespace roadpulse::cli
