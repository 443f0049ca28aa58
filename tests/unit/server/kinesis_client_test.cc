// KinesisClient against a real in-process server (HttpServer + KinesisService + LogStore): batches
// are split at 500 records, throttled records are retried until acknowledged, and nothing is
// stored twice. Also the server's HTTP limits and its graceful stop.

#include "server/kinesis_client.h"

#include <filesystem>
#include <thread>

#include <arrow/testing/gtest_util.h>
#include <curl/curl.h>
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/http_server.h"
#include "server/kinesis_http.h"
#include "server/kinesis_service.h"

namespace roadpulse::server {
namespace {

class ServerFixture : public ::testing::Test {
 protected:
  void start(KinesisOptions options) {
    dir_ = std::filesystem::temp_directory_path() /
           ("rp-client-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    log::LogOptions log_options;
    log_options.data_dir = dir_.string();
    log_options.durability = log::Durability::kNone;
    ASSERT_OK_AND_ASSIGN(store_, log::LogStore::open(log_options));
    service_ = std::make_unique<KinesisService>(store_.get(), std::string(32, 'k'), options);
    handler_ = std::make_unique<KinesisHttpHandler>(service_.get(), SigV4Verifier({}));
    HttpServerOptions http;
    http.listen = "127.0.0.1:0";
    http.io_threads = 1;
    http.worker_threads = 2;
    http.max_body_bytes = 8 << 20;
    ASSERT_OK_AND_ASSIGN(http_, HttpServer::make(http, [this](HttpRequest& r) {
                           if (auto resp = handler_->handle(r)) return std::move(*resp);
                           return HttpResponse{404, "text/plain", {}, "not found\n"};
                         }));
    thread_ = std::thread([this] { http_->run(); });
    endpoint_ = "http://127.0.0.1:" + std::to_string(http_->port());
  }

  void TearDown() override {
    if (http_) {
      http_->stop();
      thread_.join();
    }
    http_.reset();
    handler_.reset();
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<log::LogStore> store_;
  std::unique_ptr<KinesisService> service_;
  std::unique_ptr<KinesisHttpHandler> handler_;
  std::unique_ptr<HttpServer> http_;
  std::thread thread_;
  std::string endpoint_;
};

TEST_F(ServerFixture, ThrottledRecordsAreRetriedUntilAllAreStoredOnceInOrder) {
  KinesisOptions options;
  options.shard_records_per_second = 400;  // 1200 records take ~3 s of refills
  start(options);
  KinesisClientOptions client_options;
  client_options.endpoint = endpoint_;
  client_options.initial_backoff_ms = 20;
  client_options.max_backoff_ms = 200;
  client_options.max_attempts = 100;
  ASSERT_OK_AND_ASSIGN(auto client, KinesisClient::make(client_options));
  ASSERT_OK(client->create_stream("s", 1));
  ASSERT_OK_AND_ASSIGN(bool exists, client->stream_exists("s"));
  EXPECT_TRUE(exists);
  ASSERT_OK_AND_ASSIGN(bool missing, client->stream_exists("other"));
  EXPECT_FALSE(missing);

  std::vector<ClientRecord> records;
  for (int i = 0; i < 1200; ++i) records.push_back({"k", "record-" + std::to_string(i)});
  ASSERT_OK(client->put_records("s", records));
  EXPECT_EQ(client->stats().records, 1200);
  EXPECT_GE(client->stats().requests, 3);         // 500 + 500 + 200, plus retries
  EXPECT_GT(client->stats().retried_records, 0);  // the limit did bite

  ASSERT_OK_AND_ASSIGN(auto read,
                       store_->read("s", log::ShardId{0}, log::SequenceNumber{0}, 5000, 1 << 30));
  ASSERT_EQ(read.records.size(), 1200u);
  for (int i = 0; i < 1200; ++i) EXPECT_EQ(read.records[i].data, "record-" + std::to_string(i));
}

TEST_F(ServerFixture, NonRetryableErrorsSurfaceWithTheirType) {
  start(KinesisOptions{});
  KinesisClientOptions client_options;
  client_options.endpoint = endpoint_;
  ASSERT_OK_AND_ASSIGN(auto client, KinesisClient::make(client_options));
  std::vector<ClientRecord> one{{"k", "x"}};
  auto st = client->put_records("missing", one);
  ASSERT_FALSE(st.ok());
  ASSERT_NE(api_error_detail(st), nullptr);
  EXPECT_EQ(api_error_detail(st)->type(), "ResourceNotFoundException");
}

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

TEST_F(ServerFixture, OversizedBodiesGet413AndHealthzAnswers) {
  start(KinesisOptions{});
  CURL* curl = curl_easy_init();
  std::string big(9 << 20, 'x');
  curl_slist* headers = curl_slist_append(nullptr, "X-Amz-Target: Kinesis_20131202.PutRecords");
  headers = curl_slist_append(headers, "Content-Type: application/x-amz-json-1.1");
  const std::string url = endpoint_ + "/";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, big.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(big.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  ASSERT_EQ(curl_easy_perform(curl), CURLE_OK);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  EXPECT_EQ(status, 413);
  curl_slist_free_all(headers);

  curl_easy_reset(curl);
  const std::string health = endpoint_ + "/healthz";
  curl_easy_setopt(curl, CURLOPT_URL, health.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  ASSERT_EQ(curl_easy_perform(curl), CURLE_OK);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  EXPECT_EQ(status, 200);
  curl_easy_cleanup(curl);
}

TEST(ListenAddress, Parses) {
  ASSERT_OK_AND_ASSIGN(auto a, parse_listen_address("127.0.0.1:8080"));
  EXPECT_EQ(a.first, "127.0.0.1");
  EXPECT_EQ(a.second, 8080);
  ASSERT_OK_AND_ASSIGN(auto b, parse_listen_address("[::1]:0"));
  EXPECT_EQ(b.first, "::1");
  EXPECT_FALSE(parse_listen_address("localhost").ok());
  EXPECT_FALSE(parse_listen_address("127.0.0.1:99999").ok());
}

}  // namespace
}  // namespace roadpulse::server
