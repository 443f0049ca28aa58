// Streamed responses (Server-Sent Events) of HttpServer over a real socket: headers and chunks
// arrive as the producer writes them, the producer learns when the client leaves, and stop()
// ends an open stream (the client sees a complete chunked body) instead of hanging shutdown.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "server/http_server.h"

namespace roadpulse::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class StreamServer : public ::testing::Test {
 protected:
  void start(HttpServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    options.io_threads = 1;
    options.worker_threads = 2;
    ASSERT_OK_AND_ASSIGN(http_, HttpServer::make(options, [this](HttpRequest& r) {
                           if (r.path() != "/stream")
                             return HttpResponse{200, "text/plain", {}, "plain\n"};
                           HttpResponse response;
                           response.content_type = "text/event-stream";
                           response.headers = {{"Cache-Control", "no-cache"}};
                           response.stream = [this](std::shared_ptr<BodyWriter> w) {
                             std::lock_guard lock(mutex_);
                             writer_ = std::move(w);
                           };
                           return response;
                         }));
    thread_ = std::thread([this] { http_->run(); });
  }
  void TearDown() override {
    if (http_) http_->stop();
    if (thread_.joinable()) thread_.join();
  }

  std::shared_ptr<BodyWriter> wait_writer() {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(mutex_);
        if (writer_) return writer_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return nullptr;
  }

  // Reads from the socket until `needle` is in what was read (or EOF / 5 s).
  static std::string read_until(tcp::socket& s, std::string& got, std::string_view needle) {
    s.non_blocking(false);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    char buf[4096];
    while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      boost::system::error_code ec;
      const size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) break;
      got.append(buf, n);
    }
    return got;
  }

  tcp::socket connect_and_request(asio::io_context& io) {
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), http_->port()));
    const std::string req = "GET /stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
    asio::write(s, asio::buffer(req));
    return s;
  }

  std::unique_ptr<HttpServer> http_;
  std::thread thread_;
  std::mutex mutex_;
  std::shared_ptr<BodyWriter> writer_;
};

TEST_F(StreamServer, ChunksArriveAsWrittenAndCloseEndsTheBody) {
  start();
  asio::io_context io;
  auto s = connect_and_request(io);
  auto w = wait_writer();
  ASSERT_NE(w, nullptr);
  std::string got;
  read_until(s, got, "\r\n\r\n");
  EXPECT_NE(got.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(got.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_NE(got.find("Cache-Control: no-cache\r\n"), std::string::npos);

  ASSERT_TRUE(w->write("data: one\n\n"));
  read_until(s, got, "data: one\n\n");
  EXPECT_NE(got.find("b\r\ndata: one\n\n\r\n"), std::string::npos) << got;
  EXPECT_TRUE(w->write(""));  // empty writes are no-ops, not the end of the body
  ASSERT_TRUE(w->write("data: two\n\n"));
  w->close();
  EXPECT_TRUE(w->closed());
  EXPECT_FALSE(w->write("late"));
  read_until(s, got, "0\r\n\r\n");
  EXPECT_NE(got.find("data: two\n\n\r\n0\r\n\r\n"), std::string::npos) << got;
  EXPECT_EQ(got.find("late"), std::string::npos);
}

TEST_F(StreamServer, ProducerLearnsTheClientLeft) {
  start();
  asio::io_context io;
  {
    auto s = connect_and_request(io);
    ASSERT_NE(wait_writer(), nullptr);
    std::string got;
    read_until(s, got, "\r\n\r\n");
  }  // the client closes its socket
  auto w = wait_writer();
  bool closed = false;
  for (int i = 0; i < 400 && !closed; ++i) {
    closed = !w->write("data: x\n\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(closed);
  EXPECT_TRUE(w->closed());
}

TEST_F(StreamServer, StopEndsOpenStreamsAndReturns) {
  start();
  asio::io_context io;
  auto s = connect_and_request(io);
  auto w = wait_writer();
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->write("data: before\n\n"));
  std::string got;
  read_until(s, got, "data: before");
  const auto started = std::chrono::steady_clock::now();
  http_->stop();
  thread_.join();
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, std::chrono::seconds(3));  // not the 10 s shutdown grace
  read_until(s, got, "0\r\n\r\n");
  EXPECT_NE(got.find("0\r\n\r\n"), std::string::npos) << got;
  EXPECT_TRUE(w->closed());
  EXPECT_FALSE(w->write("after"));
}

TEST_F(StreamServer, SlowClientIsCutAtTheBufferLimit) {
  HttpServerOptions options;
  options.max_stream_buffer_bytes = 64 << 10;
  start(options);
  asio::io_context io;
  auto s = connect_and_request(io);  // never reads
  auto w = wait_writer();
  ASSERT_NE(w, nullptr);
  const std::string chunk(16 << 10, 'x');
  bool refused = false;
  // The kernel's socket buffers take a few MB first; then the server's queue fills up.
  for (int i = 0; i < 4000 && !refused; ++i) refused = !w->write(chunk);
  EXPECT_TRUE(refused);
}

TEST_F(StreamServer, PlainResponsesAreUnchanged) {
  start();
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), http_->port()));
  asio::write(s, asio::buffer(std::string("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::string got;
  read_until(s, got, "plain\n");
  EXPECT_NE(got.find("Content-Length: 6\r\n"), std::string::npos) << got;
}

}  // namespace
}  // namespace roadpulse::server
