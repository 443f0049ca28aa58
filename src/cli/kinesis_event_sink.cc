// Event sink "kinesis://HOST:PORT/NAME[?shards=N&concurrency=N]": delivers events with PutRecords
// to a Kinesis-compatible endpoint (roadpulse serve, kinesalite, ...) over HTTP. A batch counts as
// delivered once every record in it is acknowledged (server::KinesisClient retries throttled and
// failed records). A missing stream is created with N shards (default 4). Requests are SigV4
// signed when AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set (region: AWS_REGION or
// us-east-1).
//
// concurrency=1 (the default): one request at a time, write() returns once its batch is
// acknowledged, records of one partition key are stored in the order they were written.
// concurrency=N > 1: N connections, up to N PutRecords requests in flight, so a durable server
// (group commit + fdatasync before the answer) acknowledges several requests per disk sync
// instead of one; write() returns once its batch is handed to a free connection and close()
// waits for all and reports the first failure. Order within a key is then not guaranteed across
// requests, as with any concurrent Kinesis producer (KPL included).

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "cli/event_sink.h"
#include "server/kinesis_client.h"

namespace roadpulse::cli {

namespace {

class KinesisEventSink final : public EventSink {
 public:
  KinesisEventSink(std::string target, std::string stream,
                   std::vector<std::unique_ptr<server::KinesisClient>> clients)
      : target_(std::move(target)), stream_(std::move(stream)), clients_(std::move(clients)) {
    if (clients_.size() > 1) {
      for (size_t i = 0; i < clients_.size(); ++i) {
        workers_.emplace_back([this, i] { work(*clients_[i]); });
      }
    }
  }

  ~KinesisEventSink() override { stop_workers(); }

  arrow::Status write(std::span<const Event> batch) override {
    std::vector<server::ClientRecord> records(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      records[i].partition_key.assign(batch[i].partition_key);
      records[i].data.assign(batch[i].data);
    }
    if (workers_.empty()) return deliver(*clients_[0], records);
    std::unique_lock lock(mu_);
    // Bounded: at most one waiting batch per connection besides those in flight.
    space_.wait(lock, [&] { return !error_.ok() || queue_.size() < workers_.size(); });
    if (!error_.ok()) return error_;
    queue_.push_back(std::move(records));
    ready_.notify_one();
    return arrow::Status::OK();
  }

  arrow::Status close() override {
    stop_workers();
    server::PutStats total;
    for (const auto& client : clients_) {
      total.records += client->stats().records;
      total.requests += client->stats().requests;
      total.retried_records += client->stats().retried_records;
    }
    spdlog::debug("kinesis sink {}: {} records in {} requests on {} connection(s), {} retried",
                  target_, total.records, total.requests, clients_.size(), total.retried_records);
    std::lock_guard lock(mu_);
    return error_;
  }

  std::string describe() const override { return target_; }

 private:
  arrow::Status deliver(server::KinesisClient& client,
                        const std::vector<server::ClientRecord>& records) {
    auto status = client.put_records(stream_, records);
    if (!status.ok()) return status.WithMessage("delivering to ", target_, ": ", status.message());
    return arrow::Status::OK();
  }

  void work(server::KinesisClient& client) {
    std::unique_lock lock(mu_);
    while (true) {
      ready_.wait(lock, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;  // closing and drained
      auto records = std::move(queue_.front());
      queue_.pop_front();
      space_.notify_one();
      if (!error_.ok()) continue;  // after a failure nothing more is sent
      lock.unlock();
      auto status = deliver(client, records);
      lock.lock();
      if (!status.ok() && error_.ok()) {
        error_ = status;
        space_.notify_all();
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    ready_.notify_all();
    for (auto& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
  }

  std::string target_;
  std::string stream_;
  std::vector<std::unique_ptr<server::KinesisClient>> clients_;  // one per connection
  std::vector<std::thread> workers_;                             // empty: concurrency 1
  std::mutex mu_;
  std::condition_variable ready_;  // a batch is queued, or closing
  std::condition_variable space_;  // the queue has room, or a delivery failed
  std::deque<std::vector<server::ClientRecord>> queue_;
  bool closing_ = false;
  arrow::Status error_;  // the first failed delivery
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
  int concurrency = 1;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view option = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = option.find('=');
    const std::string_view name = option.substr(0, eq);
    const std::string value(eq == std::string_view::npos ? "" : option.substr(eq + 1));
    char* end = nullptr;
    const long number = std::strtol(value.c_str(), &end, 10);
    const bool numeric = !value.empty() && end != nullptr && *end == '\0';
    if (name == "shards") {
      if (!numeric || number < 1) {
        return arrow::Status::Invalid("target '", target, "': shards must be >= 1");
      }
      shards = int(number);
    } else if (name == "concurrency") {
      if (!numeric || number < 1 || number > 64) {
        return arrow::Status::Invalid("target '", target,
                                      "': concurrency must be between 1 and 64");
      }
      concurrency = int(number);
    } else {
      return arrow::Status::Invalid("target '", target, "': unknown option '", name,
                                    "' (options: ?shards=N&concurrency=N)");
    }
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
  std::vector<std::unique_ptr<server::KinesisClient>> clients;
  clients.push_back(std::move(client));
  while (int(clients.size()) < concurrency) {
    ARROW_ASSIGN_OR_RAISE(auto more, server::KinesisClient::make(options));
    clients.push_back(std::move(more));
  }
  return std::make_unique<KinesisEventSink>(std::string(target), stream, std::move(clients));
}

const RegisterEventSink kKinesisSink("kinesis", &open_kinesis_sink);

}  // namespace

}  // namespace roadpulse::cli
