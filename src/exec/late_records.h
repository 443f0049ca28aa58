#pragma once
// The late-row side output of a job (`SET 'table.exec.late-records.stream' = 'true'` or a stream
// name): rows an event-time operator drops because they are behind its watermark (or have no
// event time) are appended, one JSON object each, to the stream `<job>.late` (job = the job's
// name, `pipeline.name` when set) besides being counted. The record names the job, the operator,
// the reason and the operator's watermark at the time, and holds the row as the operator saw it:
//
//   {"job":"per-county","operator":"WindowAggregate(...)","reason":"behind-watermark",
//    "watermark":"2024-01-01T00:01:05","row":{"County":"Harris","ts":"2024-01-01T00:00:50"}}
//
// exec knows nothing of streams: the sink is made by the ConnectorFactory from a table with the
// `stream` connector and the `raw` format, so it is the same exactly-once stream sink as any
// INSERT's and takes part in the job's checkpoints.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "exec/connector.h"
#include "exec/json_format.h"
#include "exec/operator.h"
#include "exec/operators.h"

namespace roadpulse::exec {

inline constexpr std::string_view kLateRecordsStreamKey = "table.exec.late-records.stream";

/// The side stream `config` asks for: 'true' -> `<job>.late`, 'false' or unset -> none, any other
/// value names the stream.
std::optional<std::string> late_stream_name(const std::map<std::string, std::string>& config,
                                            const std::string& job);

class LateRecordStream final : public LateRowOutput {
 public:
  /// Makes the sink through `factory` ('connector' = 'stream', 'stream' = `stream`,
  /// 'format' = 'raw'); `session` is the job's SET configuration (e.g. 'streams.backend').
  static arrow::Result<std::unique_ptr<LateRecordStream>> make(
      std::string job, std::string stream, ConnectorFactory& factory,
      const std::map<std::string, std::string>& session);

  arrow::Status late_rows(const std::string& operator_name, const char* reason, int64_t watermark,
                          const arrow::RecordBatch& batch,
                          const std::vector<int64_t>& rows) override;

  /// The sink, for the job's open/checkpoint/close sequence.
  const std::shared_ptr<SharedSink>& sink() const { return sink_; }
  const std::string& stream() const { return stream_; }

 private:
  LateRecordStream() = default;
  std::string job_;
  std::string stream_;
  std::shared_ptr<arrow::Schema> schema_;  // one STRING column: the record
  std::shared_ptr<SharedSink> sink_;
  std::mutex mutex_;  // operators of several source threads may report
  std::map<std::string, std::unique_ptr<JsonEncoder>> encoders_;  // by operator name
};

}  // namespace roadpulse::exec
