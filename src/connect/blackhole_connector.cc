// `blackhole`: swallows every row (benchmarks, and jobs run for their side effects).

#include "connect/connectors.h"

namespace roadpulse::connect {

namespace {

class BlackholeSink final : public exec::Sink {
 public:
  std::string name() const override { return "blackhole"; }
  arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    written_ += batch->num_rows();
    return arrow::Status::OK();
  }
  int64_t rows_written() const override { return written_; }

 private:
  int64_t written_ = 0;
};

}  // namespace

ConnectorEntry blackhole_connector() {
  ConnectorEntry entry;
  entry.name = "blackhole";
  entry.make_sink = [](const exec::SinkSpec& spec,
                       ConnectContext&) -> arrow::Result<std::unique_ptr<exec::Sink>> {
    OptionReader reader("blackhole", spec.options);
    reader.get("sink.parallelism");
    ARROW_RETURN_NOT_OK(reader.check_unknown());
    return std::make_unique<BlackholeSink>();
  };
  return entry;
}

}  // namespace roadpulse::connect
