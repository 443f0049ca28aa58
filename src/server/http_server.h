#pragma once
// A small HTTP/1.1 server on Boost.Beast/Asio: many keep-alive connections served by a fixed
// pool of I/O threads (no thread per connection), with request handlers run on a separate fixed
// worker pool so a handler that waits (a durable log append) never stalls other connections'
// I/O. Limits: header and body sizes (413/431 beyond), a read timeout per request (also the
// keep-alive idle timeout), a cap on open connections. stop() (or SIGINT/SIGTERM in
// run_until_signal) stops accepting, closes idle connections, lets in-flight requests finish
// and answers them, then returns.
//
// Streamed responses (Server-Sent Events): a handler may set HttpResponse::stream instead of a
// body. The server then sends the headers with chunked transfer encoding and hands the producer a
// BodyWriter; the producer writes whenever it has data (from any thread) and the connection stays
// open until the producer closes it, the client goes away, or stop() ends every open stream.
// HTTP/1.1 only: an HTTP/2 request for a stream gets 505.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

namespace roadpulse::server {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query as sent
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // peer address

  /// First header named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
  std::string_view path() const;
};

/// The producer's end of a streamed response body. Thread-safe; cheap to call often.
class BodyWriter {
 public:
  virtual ~BodyWriter() = default;
  /// Queues bytes for the client. Returns false once the stream is closed (client gone, server
  /// stopping, or more than HttpServerOptions::max_stream_buffer_bytes queued for a slow client):
  /// the producer should then drop the writer.
  virtual bool write(std::string_view data) = 0;
  /// Ends the body (after what is queued) and closes the connection. Idempotent.
  virtual void close() = 0;
  virtual bool closed() const = 0;
};

/// Called once, on an I/O thread, when the response headers are queued; must not block.
using StreamStarter = std::function<void(std::shared_ptr<BodyWriter> writer)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Set for a streamed body (`body` is then ignored); see the top of this file.
  StreamStarter stream = nullptr;
};

using HttpHandler = std::function<HttpResponse(HttpRequest& request)>;

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
  int io_threads = 0;                     // 0: one per core
  int worker_threads = 0;                 // 0: 4 per core, at least 8
  size_t max_header_bytes = 16 << 10;
  size_t max_body_bytes = 12 << 20;  // a 5 MiB PutRecords is ~7 MiB of base64 JSON
  int64_t read_timeout_ms = 60'000;
  int64_t write_timeout_ms = 60'000;
  int64_t shutdown_grace_ms = 10'000;
  int max_connections = 4096;
  size_t max_stream_buffer_bytes = 4 << 20;  // per streamed response; beyond: the client is cut
};

class HttpServer {
 public:
  /// Binds and listens (fails with the address in the message when it cannot).
  static arrow::Result<std::unique_ptr<HttpServer>> make(const HttpServerOptions& options,
                                                         HttpHandler handler);
  ~HttpServer();

  /// The bound port (useful with port 0).
  uint16_t port() const;
  std::string address() const;

  /// Serves until stop() is called; returns after a graceful drain.
  void run();
  /// Like run(), and also stops on SIGINT or SIGTERM.
  void run_until_signal();
  /// Thread-safe; may be called from a handler or a signal watcher.
  void stop();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Splits "HOST:PORT" ("[::1]:8080" for IPv6).
arrow::Result<std::pair<std::string, uint16_t>> parse_listen_address(std::string_view text);

}  // namespace roadpulse::server
