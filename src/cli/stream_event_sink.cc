// Event sink "stream:NAME[?data-dir=DIR&shards=N]": appends events straight to a stream of the
// embedded log (LogStore::append), no server involved. A batch counts as delivered once the log
// acknowledges it (durable: group commit + fdatasync). The data dir is the option, else
// $ROADPULSE_DATA_DIR, else ./roadpulse-data; while `roadpulse serve` holds it, use
// kinesis://HOST:PORT/NAME instead. A missing stream is created with N shards (default 4).

#include <cstdlib>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "cli/event_sink.h"
#include "log/log.h"

namespace roadpulse::cli {

namespace {

class StreamEventSink final : public EventSink {
 public:
  StreamEventSink(std::string target, std::string stream, std::unique_ptr<log::LogStore> store)
      : target_(std::move(target)), stream_(std::move(stream)), store_(std::move(store)) {}

  arrow::Status write(std::span<const Event> batch) override {
    records_.clear();
    records_.reserve(batch.size());
    for (const Event& e : batch) records_.push_back({e.partition_key, e.data, std::nullopt});
    auto appended = store_->append(stream_, records_);
    if (!appended.ok()) {
      return appended.status().WithMessage("appending to ", target_, ": ",
                                           appended.status().message());
    }
    return arrow::Status::OK();
  }

  arrow::Status close() override {
    store_.reset();  // releases the data dir lock
    return arrow::Status::OK();
  }

  std::string describe() const override { return target_; }

 private:
  std::string target_;
  std::string stream_;
  std::unique_ptr<log::LogStore> store_;
  std::vector<log::AppendRecord> records_;
};

arrow::Result<std::unique_ptr<EventSink>> open_stream_sink(std::string_view target) {
  std::string_view rest = target.substr(target.find(':') + 1);
  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.empty()) {
    return arrow::Status::Invalid("target '", target, "' must be stream:NAME[?data-dir=DIR]");
  }
  std::string data_dir = "./roadpulse-data";
  if (const char* env = std::getenv("ROADPULSE_DATA_DIR"); env && *env) data_dir = env;
  int shards = 4;
  while (!query.empty()) {
    size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.substr(0, 9) == "data-dir=") {
      data_dir = std::string(param.substr(9));
    } else if (param.substr(0, 7) == "shards=") {
      shards = std::atoi(std::string(param.substr(7)).c_str());
      if (shards < 1) return arrow::Status::Invalid("target '", target, "': shards must be >= 1");
    } else {
      return arrow::Status::Invalid("target '", target, "': unknown option '", param,
                                    "' (data-dir=DIR, shards=N)");
    }
  }
  log::LogOptions options;
  options.data_dir = data_dir;
  auto store = log::LogStore::open(options);
  if (!store.ok()) {
    const auto& st = store.status();
    if (st.message().find("is in use by") != std::string::npos) {
      return st.WithMessage(st.message(),
                            " — a server owns it: deliver with --to kinesis://HOST:PORT/", rest,
                            " instead");
    }
    return st;
  }
  const std::string stream(rest);
  auto desc = (*store)->describe_stream(stream);
  if (!desc.ok()) {
    if (!desc.status().IsKeyError()) return desc.status();
    ARROW_RETURN_NOT_OK((*store)->create_stream(stream, shards));
    spdlog::info("stream sink: created stream {} with {} shards in {}", stream, shards, data_dir);
  }
  return std::make_unique<StreamEventSink>(std::string(target), stream, std::move(*store));
}

const RegisterEventSink kStreamSink("stream", &open_stream_sink);

}  // namespace

}  // namespace roadpulse::cli
