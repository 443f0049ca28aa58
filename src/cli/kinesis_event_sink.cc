// Event sink "kinesis://HOST:PORT/NAME[?shards=N]": delivers events with PutRecords to a
// Kinesis-compatible endpoint (roadpulse serve, kinesalite, ...) over HTTP. A batch counts as
// delivered once every record in it is acknowledged (server::KinesisClient retries throttled and
// failed records). A missing stream is created with N shards (default 4). Requests are SigV4
// signed when AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set (region: AWS_REGION or
// us-east-1).

#include <cstdlib>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "cli/event_sink.h"
#include "server/kinesis_client.h"

namespace roadpulse::cli {

namespace {

class KinesisEventSink final : public EventSink {
 public:
  KinesisEventSink(std::string target, std::string stream,
                   std::unique_ptr<server::KinesisClient> client)
      : target_(std::move(target)), stream_(std::move(stream)), client_(std::move(client)) {}

  arrow::Status write(std::span<const Event> batch) override {
    records_.resize(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      records_[i].partition_key.assign(batch[i].partition_key);
      records_[i].data.assign(batch[i].data);
    }
    auto status = client_->put_records(stream_, records_);
    if (!status.ok()) return status.WithMessage("delivering to ", target_, ": ", status.message());
    return arrow::Status::OK();
  }

  arrow::Status close() override {
    const auto& stats = client_->stats();
    spdlog::debug("kinesis sink {}: {} records in {} requests, {} records retried", target_,
                  stats.records, stats.requests, stats.retried_records);
    return arrow::Status::OK();
  }

  std::string describe() const override { return target_; }

 private:
  std::string target_;
  std::string stream_;
  std::unique_ptr<server::KinesisClient> client_;
  std::vector<server::ClientRecord> records_;
};

arrow::Result<std::unique_ptr<EventSink>> open_kinesis_sink(std::string_view target) {
  constexpr std::string_view kPrefix = "kinesis://";
  if (target.substr(0, kPrefix.size()) != kPrefix) {
    return arrow::Status::Invalid("target '", target, "' must be kinesis://HOST:PORT/STREAM");
  }
  std::string_view rest = target.substr(kPrefix.size());
  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size()) {
    return arrow::Status::Invalid("target '", target,
                                  "' must be kinesis://HOST:PORT/STREAM (e.g. "
                                  "kinesis://127.0.0.1:8080/us-accidents-data-stream-1)");
  }
  const std::string host(rest.substr(0, slash));
  const std::string stream(rest.substr(slash + 1));
  int shards = 4;
  if (!query.empty()) {
    if (query.substr(0, 7) != "shards=") {
      return arrow::Status::Invalid("target '", target, "': the only option is ?shards=N");
    }
    shards = std::atoi(std::string(query.substr(7)).c_str());
    if (shards < 1) return arrow::Status::Invalid("target '", target, "': shards must be >= 1");
  }
  server::KinesisClientOptions options;
  options.endpoint = "http://" + host;
  const char* id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (id && *id && secret && *secret) options.access_key = server::AccessKey{id, secret};
  if (const char* region = std::getenv("AWS_REGION"); region && *region) options.region = region;
  ARROW_ASSIGN_OR_RAISE(auto client, server::KinesisClient::make(options));
  auto exists = client->stream_exists(stream);
  if (!exists.ok()) {
    return exists.status().WithMessage("cannot reach ", options.endpoint, " for ", target, ": ",
                                       exists.status().message(),
                                       " (is `roadpulse serve` running there?)");
  }
  if (!*exists) {
    ARROW_RETURN_NOT_OK(client->create_stream(stream, shards));
    spdlog::info("kinesis sink: created stream {} with {} shards at {}", stream, shards,
                 options.endpoint);
  }
  return std::make_unique<KinesisEventSink>(std::string(target), stream, std::move(client));
}

const RegisterEventSink kKinesisSink("kinesis", &open_kinesis_sink);

}  // namespace

}  // namespace roadpulse::cli
