#pragma once
// Event-time progress of a source with several partitions (EXEC_DESIGN.md section 2): each split
// (shard, file, Kafka partition) has its own watermark, max(event time seen) - delay, and the
// valve combines them into the source's watermark, Flink's StatusWatermarkValve:
//  - a split's watermark only moves forward;
//  - the output is the minimum over active splits that have caught up with the last output;
//  - a split that delivered nothing for `idle_timeout` turns idle and is left out, so one quiet
//    shard does not hold every window open; when all are idle the output is their maximum;
//  - an idle split that delivers again rejoins once its watermark reaches the last output, so
//    the output never goes backwards.
// Splits are known from their first batch: a partition that never delivered holds nothing back.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <arrow/buffer.h>
#include <arrow/result.h>

#include "exec/operator.h"

namespace roadpulse::exec {

class WatermarkValve {
 public:
  /// `idle_timeout_micros` <= 0 disables idleness (a quiet split holds the watermark back).
  explicit WatermarkValve(int64_t idle_timeout_micros = 0)
      : idle_timeout_micros_(idle_timeout_micros) {}

  /// Split `split` delivered rows at processing time `now_micros`; `watermark` is its new
  /// candidate (Watermark::kMin when the rows had no event time). Returns the combined
  /// watermark when it advanced.
  std::optional<Watermark> on_split(int split, int64_t watermark, int64_t now_micros);
  /// Processing-time tick: marks splits idle after the timeout. Returns the combined watermark
  /// when it advanced (or turned idle).
  std::optional<Watermark> on_tick(int64_t now_micros);

  /// The last combined watermark emitted (Watermark::kMin before any).
  int64_t current() const { return output_; }
  int active_splits() const;

  /// Per-split watermarks and the output, for checkpoints; restore() takes what this returned.
  std::string serialize() const;
  arrow::Status restore(std::string_view bytes);

 private:
  struct Split {
    int64_t watermark = Watermark::kMin;
    int64_t last_active = 0;
    bool idle = false;
    bool aligned = true;  // takes part in the minimum
  };
  std::optional<Watermark> recompute();

  int64_t idle_timeout_micros_;
  std::map<int, Split> splits_;
  int64_t output_ = Watermark::kMin;
  bool output_idle_ = false;
};

/// Parses a duration option value ("10 s", "500 ms", "1 min", "2 h", "1000" = ms) into
/// microseconds; `what` names the option in the error.
arrow::Result<int64_t> parse_duration_micros(std::string_view text, std::string_view what);

}  // namespace roadpulse::exec
