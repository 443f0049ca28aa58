#include "server/kinesis_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/time.h"
#include "server/api_error.h"
#include "server/kinesis_requests.h"

namespace roadpulse::server {

namespace {

size_t collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

bool retryable(std::string_view type) {
  return type == "ProvisionedThroughputExceededException" || type == "LimitExceededException" ||
         type == "ThrottlingException" || type == "InternalFailure" ||
         type == "ServiceUnavailable" || type == "KMSThrottlingException";
}

std::string host_of(std::string_view endpoint) {
  std::string_view rest = endpoint;
  if (const size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);
  }
  return std::string(rest.substr(0, rest.find('/')));
}

}  // namespace

KinesisClient::KinesisClient(KinesisClientOptions options) : options_(std::move(options)) {}

KinesisClient::~KinesisClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

arrow::Result<std::unique_ptr<KinesisClient>> KinesisClient::make(KinesisClientOptions options) {
  static const CURLcode global = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global != CURLE_OK) return arrow::Status::IOError("curl_global_init failed");
  std::unique_ptr<KinesisClient> client(new KinesisClient(std::move(options)));
  client->curl_ = curl_easy_init();
  if (!client->curl_) return arrow::Status::IOError("curl_easy_init failed");
  return client;
}

arrow::Result<Document> KinesisClient::call(std::string_view operation, const Document& request) {
  CURL* curl = static_cast<CURL*>(curl_);
  const std::string body = encode_json(request);
  const std::string target = fmt::format("Kinesis_20131202.{}", operation);
  SigningRequest signing{"POST", "/", {}, body};
  signing.headers.emplace_back("Host", host_of(options_.endpoint));
  signing.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  signing.headers.emplace_back("X-Amz-Target", target);
  if (options_.access_key) {
    sign_request(signing, *options_.access_key, options_.region, "kinesis", now_micros() / 1000);
  }
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : signing.headers) {
    if (k == "Host") continue;  // curl sends the same Host itself
    headers = curl_slist_append(headers, fmt::format("{}: {}", k, v).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  std::string response;
  const std::string url = options_.endpoint + "/";
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    return arrow::Status::IOError("Kinesis ", operation, " to ", options_.endpoint,
                                  " failed: ", curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  auto doc = decode_json(response.empty() ? std::string_view("{}") : std::string_view(response));
  if (status == 200) {
    if (!doc.ok()) {
      return arrow::Status::IOError("Kinesis ", operation,
                                    ": unreadable response: ", doc.status().message());
    }
    return std::move(*doc);
  }
  std::string type = status >= 500 ? "InternalFailure" : "UnknownError";
  std::string message = response.substr(0, 300);
  if (doc.ok()) {
    if (const Document* t = doc->find("__type"); t && t->kind() == Document::Kind::kString) {
      type = t->as_string().substr(t->as_string().find('#') + 1);
    }
    for (const char* key : {"message", "Message"}) {
      if (const Document* m = doc->find(key); m && m->kind() == Document::Kind::kString) {
        message = m->as_string();
      }
    }
  }
  return api_error(
      type, fmt::format("Kinesis {} at {}: {}: {}", operation, options_.endpoint, type, message),
      static_cast<int>(status));
}

void KinesisClient::backoff(int attempt) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  const int64_t cap =
      std::min(options_.max_backoff_ms, options_.initial_backoff_ms << std::min(attempt, 20));
  // "Full jitter": spreads retries of many producers.
  std::uniform_int_distribution<int64_t> dist(cap / 2, std::max<int64_t>(cap, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(dist(rng)));
}

arrow::Status KinesisClient::put_batch(std::string_view stream,
                                       std::span<const ClientRecord> batch) {
  // Indices (into batch) of records not yet acknowledged, in order.
  std::vector<size_t> pending(batch.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  for (int attempt = 0;; ++attempt) {
    Document request = Document::map();
    request.set("StreamName", Document::string(std::string(stream)));
    Document records = Document::array();
    for (size_t i : pending) {
      Document r = Document::map();
      r.set("Data", Document::bytes(batch[i].data));
      r.set("PartitionKey", Document::string(batch[i].partition_key));
      records.push(std::move(r));
    }
    request.set("Records", std::move(records));
    ++stats_.requests;
    auto response = call("PutRecords", request);
    std::string last_error;
    if (response.ok()) {
      const Document* results = response->find("Records");
      if (!results || results->kind() != Document::Kind::kArray ||
          results->items().size() != pending.size()) {
        return arrow::Status::IOError("PutRecords to ", options_.endpoint,
                                      ": response does not list one result per record");
      }
      std::vector<size_t> failed;
      for (size_t k = 0; k < pending.size(); ++k) {
        const Document* code = results->items()[k].find("ErrorCode");
        if (code && !code->is_null()) {
          failed.push_back(pending[k]);
          last_error = code->kind() == Document::Kind::kString ? code->as_string() : "error";
        }
      }
      if (failed.empty()) return arrow::Status::OK();
      stats_.retried_records += static_cast<int64_t>(failed.size());
      pending = std::move(failed);
    } else {
      const ApiErrorDetail* detail = api_error_detail(response.status());
      const bool transient = !detail || retryable(detail->type()) || detail->http_status() >= 500;
      if (!transient) return response.status();
      last_error = response.status().message();
      stats_.retried_records += static_cast<int64_t>(pending.size());
    }
    if (attempt + 1 >= options_.max_attempts) {
      return arrow::Status::IOError("PutRecords to ", options_.endpoint, ": ", pending.size(),
                                    " records still unacknowledged after ", attempt + 1,
                                    " attempts; last error: ", last_error);
    }
    backoff(attempt);
  }
}

arrow::Status KinesisClient::put_records(std::string_view stream,
                                         std::span<const ClientRecord> records) {
  size_t begin = 0;
  while (begin < records.size()) {
    size_t end = begin;
    int64_t bytes = 0;
    while (end < records.size() && end - begin < static_cast<size_t>(kMaxPutRecordsRecords)) {
      const int64_t size =
          static_cast<int64_t>(records[end].data.size() + records[end].partition_key.size());
      if (end > begin && bytes + size > kMaxPutRecordsBytes) break;
      bytes += size;
      ++end;
    }
    ARROW_RETURN_NOT_OK(put_batch(stream, records.subspan(begin, end - begin)));
    stats_.records += static_cast<int64_t>(end - begin);
    begin = end;
  }
  return arrow::Status::OK();
}

arrow::Status KinesisClient::create_stream(std::string_view stream, int shard_count) {
  Document request = Document::map();
  request.set("StreamName", Document::string(std::string(stream)));
  request.set("ShardCount", Document::integer(shard_count));
  return call("CreateStream", request).status();
}

arrow::Result<bool> KinesisClient::stream_exists(std::string_view stream) {
  Document request = Document::map();
  request.set("StreamName", Document::string(std::string(stream)));
  auto result = call("DescribeStreamSummary", request);
  if (result.ok()) return true;
  const ApiErrorDetail* detail = api_error_detail(result.status());
  if (detail && detail->type() == "ResourceNotFoundException") return false;
  return result.status();
}

}  // namespace roadpulse::server
