#pragma once
// Where `roadpulse simulate` (and demo) deliver events. A target string names a sink by its
// scheme: "-" is stdout, "file:PATH" a JSON-lines file, and other files add theirs ("stream:NAME",
// "kinesis://HOST:PORT/NAME") by defining a factory in src/cli/<scheme>_event_sink.cc with a
// static RegisterEventSink; simulate itself never changes.
//
// Contract: write() receives a batch of (partition key, JSON bytes) in order and returns OK only
// once every event of the batch is delivered (as the target defines delivery: written to the
// pipe/file, acknowledged by the log or the server). On failure nothing is reported delivered
// for that batch; the caller stops. close() flushes and releases; it is called once.
// Exception: a kinesis:// sink with concurrency > 1 has several batches in flight; its write()
// returns once the batch is handed to a connection, and close() waits for every one and returns
// the first failure (a failed run then reports its error, not a delivered count).

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

namespace roadpulse::cli {

struct Event {
  std::string_view partition_key;
  std::string_view data;  // one JSON object, no trailing newline
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual arrow::Status write(std::span<const Event> batch) = 0;
  virtual arrow::Status close() = 0;
  /// The target as the user wrote it, for messages.
  virtual std::string describe() const = 0;
};

/// Builds a sink for `target` (the full text, e.g. "file:/tmp/x.jsonl").
using EventSinkFactory = arrow::Result<std::unique_ptr<EventSink>> (*)(std::string_view target);

/// Registers a factory for targets with this scheme ("file" matches "file:...", "kinesis"
/// matches "kinesis://..."; "-" matches exactly "-"). Use as a static object.
struct RegisterEventSink {
  RegisterEventSink(std::string_view scheme, EventSinkFactory factory);
};

/// The scheme of a target: "-" for "-", else the text before the first ':' ("" if none).
std::string_view target_scheme(std::string_view target);

/// Opens the sink registered for the target's scheme; fails listing the known schemes.
arrow::Result<std::unique_ptr<EventSink>> open_event_sink(std::string_view target);

/// Registered schemes, sorted (for --help and messages).
std::vector<std::string> registered_sink_schemes();

}  // namespace roadpulse::cli
