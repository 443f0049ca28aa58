#include "server/http_server.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace roadpulse::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

std::string_view HttpRequest::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

arrow::Result<std::pair<std::string, uint16_t>> parse_listen_address(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return arrow::Status::Invalid("listen address '", text, "' must be [IPv6]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return arrow::Status::Invalid("listen address '", text, "' must be HOST:PORT");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535 || port.empty()) {
    return arrow::Status::Invalid("listen address '", text, "': port must be 0-65535");
  }
  if (host.empty()) host = "127.0.0.1";
  return std::make_pair(std::string(host == "localhost" ? "127.0.0.1" : host),
                        static_cast<uint16_t>(value));
}

class Session;

class HttpServer::Impl {
 public:
  Impl(const HttpServerOptions& options, HttpHandler handler)
      : options_(options),
        handler_(std::move(handler)),
        io_threads_(options.io_threads > 0
                        ? options.io_threads
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
        ioc_(io_threads_),
        workers_(options.worker_threads > 0
                     ? options.worker_threads
                     : static_cast<int>(std::max(8u, 4 * std::thread::hardware_concurrency()))),
        acceptor_(asio::make_strand(ioc_)),
        signals_(ioc_) {}

  arrow::Status listen() {
    ARROW_ASSIGN_OR_RAISE(auto hp, parse_listen_address(options_.listen));
    beast::error_code ec;
    const auto address = asio::ip::make_address(hp.first, ec);
    if (ec) return arrow::Status::Invalid("listen address '", options_.listen, "': ", ec.message());
    const tcp::endpoint endpoint(address, hp.second);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return arrow::Status::IOError("cannot listen on ", options_.listen, ": ", ec.message());
    return arrow::Status::OK();
  }

  void accept();
  void run(bool with_signals);
  void stop();
  void session_started(const std::shared_ptr<Session>& s);
  void session_ended(Session* s);

  const HttpServerOptions options_;
  HttpHandler handler_;
  const int io_threads_;
  asio::io_context ioc_;
  asio::thread_pool workers_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  std::atomic<bool> stopping_{false};
  std::mutex sessions_mutex_;
  std::set<Session*> sessions_;  // raw: removed in the session's destructor
  std::vector<std::weak_ptr<Session>> session_refs_;
  std::mutex watchdog_mutex_;
  std::condition_variable watchdog_cv_;
  bool drained_ = false;
  std::thread watchdog_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  static constexpr size_t kReadChunk = 256 << 10;

  Session(tcp::socket socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    stream_.socket().set_option(tcp::no_delay(true), ec);
    // Beast reads into the buffer's spare capacity: without a reserve it reads 512 bytes per
    // system call, which makes a 1 MB PutRecords body cost ~2000 reads.
    buffer_.reserve(kReadChunk);
  }
  ~Session() {
    if (h2_) nghttp2_session_del(h2_);
    server_->session_ended(this);
  }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->detect(); });
  }

  /// Closes the connection if it is waiting for a request, ends it if it streams a response
  /// (called at shutdown).
  void close_if_idle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->stream_state_) return self->end_stream();
      if (self->reading_ && (!self->h2_ || self->h2_in_flight_ == 0)) {
        beast::error_code ec;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        self->stream_.socket().close(ec);
      }
    });
  }

 private:
  // HTTP/1.1 or HTTP/2? An HTTP/2 client with prior knowledge (h2c, what the AWS JS SDK's
  // Kinesis client does on an http:// endpoint) opens with "PRI * HTTP/2.0".
  void detect() {
    if (buffer_.size() >= 4) {
      const auto* p = static_cast<const char*>(buffer_.data().data());
      if (std::string_view(p, 4) == "PRI ") return h2_start();
      return read();
    }
    stream_.expires_after(std::chrono::milliseconds(server_->options_.read_timeout_ms));
    reading_ = true;
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->reading_ = false;
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->detect();
                            });
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options_.max_header_bytes));
    parser_->body_limit(server_->options_.max_body_bytes);
    stream_.expires_after(std::chrono::milliseconds(server_->options_.read_timeout_ms));
    reading_ = true;
    if (server_->stopping_) return close();
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (ec == http::error::body_limit) {
      return reply_error(413, "request body exceeds the limit of " +
                                  std::to_string(server_->options_.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return reply_error(431, "request headers exceed the limit");
    }
    if (ec) return close();  // end of stream, timeout, reset, malformed HTTP
    auto request = parser_->release();
    keep_alive_ = request.keep_alive();
    auto req = std::make_shared<HttpRequest>();
    req->method = std::string(request.method_string());
    req->target = std::string(request.target());
    for (const auto& field : request) {
      req->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    req->body = std::move(request.body());
    req->remote = remote_;
    // Handlers may block (durable appends): run them on the worker pool.
    // The work guard keeps the I/O threads alive until the response is queued, also at shutdown.
    asio::post(server_->workers_, [self = shared_from_this(), req,
                                   work = asio::make_work_guard(server_->ioc_)] {
      HttpResponse response;
      try {
        response = self->server_->handler_(*req);
      } catch (const std::exception& e) {
        spdlog::error("http: handler failed on {} {}: {}", req->method, req->target, e.what());
        response = HttpResponse{500, "text/plain; charset=utf-8", {}, "internal error\n"};
      }
      auto shared = std::make_shared<HttpResponse>(std::move(response));
      asio::post(self->stream_.get_executor(), [self, shared] { self->write(std::move(*shared)); });
    });
  }

  void reply_error(int status, std::string message) {
    keep_alive_ = false;
    write(HttpResponse{status, "text/plain; charset=utf-8", {}, std::move(message) + "\n"});
  }

  void write(HttpResponse response) {
    if (response.stream) return start_stream(std::move(response));
    res_.emplace();
    res_->result(static_cast<unsigned>(response.status));
    res_->version(11);
    res_->set(http::field::server, "roadpulse");
    res_->set(http::field::content_type, response.content_type);
    for (auto& [k, v] : response.headers) res_->set(k, v);
    const bool keep = keep_alive_ && !server_->stopping_;
    res_->keep_alive(keep);
    res_->body() = std::move(response.body);
    res_->prepare_payload();
    stream_.expires_after(std::chrono::milliseconds(server_->options_.write_timeout_ms));
    http::async_write(stream_, *res_,
                      [self = shared_from_this(), keep](beast::error_code ec, size_t) {
                        self->res_.reset();
                        if (ec || !keep) return self->close();
                        self->read();
                      });
  }

  // ---- streamed responses (HTTP/1.1, chunked) ---------------------------------------------------
  struct StreamState {
    std::atomic<bool> closed{false};
    std::atomic<size_t> queued{0};
  };

  class Writer : public BodyWriter {
   public:
    Writer(std::weak_ptr<Session> session, std::shared_ptr<StreamState> state, size_t limit)
        : session_(std::move(session)), state_(std::move(state)), limit_(limit) {}
    bool write(std::string_view data) override {
      if (state_->closed) return false;
      auto session = session_.lock();
      if (!session) {
        state_->closed = true;
        return false;
      }
      if (data.empty()) return true;  // an empty chunk would end the body
      if (state_->queued.fetch_add(data.size()) + data.size() > limit_) {
        spdlog::warn("http: {} reads a streamed response too slowly; closing it", session->remote_);
        state_->closed = true;
        asio::post(session->stream_.get_executor(), [session] { session->end_stream(); });
        return false;
      }
      asio::post(session->stream_.get_executor(),
                 [session, chunk = std::string(data)] { session->stream_chunk(chunk); });
      return true;
    }
    void close() override {
      if (auto session = session_.lock()) {
        asio::post(session->stream_.get_executor(), [session] { session->end_stream(); });
      }
      state_->closed = true;
    }
    bool closed() const override { return state_->closed; }

   private:
    std::weak_ptr<Session> session_;
    std::shared_ptr<StreamState> state_;
    const size_t limit_;
  };

  void start_stream(HttpResponse response) {
    keep_alive_ = false;
    stream_state_ = std::make_shared<StreamState>();
    const auto status = static_cast<unsigned>(response.status);
    std::string head = fmt::format(
        "HTTP/1.1 {} {}\r\nServer: roadpulse\r\nContent-Type: {}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n",
        status, std::string(http::obsolete_reason(http::int_to_status(status))),
        response.content_type);
    for (const auto& [k, v] : response.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    stream_pending_ = std::move(head);
    stream_.expires_never();  // a stream is idle between events; heartbeats are the producer's
    stream_flush();
    stream_watch();
    auto writer = std::make_shared<Writer>(weak_from_this(), stream_state_,
                                           server_->options_.max_stream_buffer_bytes);
    try {
      response.stream(writer);
    } catch (const std::exception& e) {
      spdlog::error("http: stream producer failed to start: {}", e.what());
      end_stream();
    }
    if (server_->stopping_) end_stream();
  }

  // Reads while streaming only to notice the client going away.
  void stream_watch() {
    stream_.async_read_some(asio::buffer(watch_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) {
                                self->stream_state_->closed = true;
                                return self->close();
                              }
                              self->stream_watch();
                            });
  }

  void stream_chunk(const std::string& data) {
    if (stream_ending_ || closed_) {
      stream_state_->queued -= data.size();
      return;
    }
    stream_pending_ += fmt::format("{:x}\r\n", data.size());
    stream_pending_ += data;
    stream_pending_ += "\r\n";
    stream_chunk_bytes_ += data.size();
    stream_flush();
  }

  void end_stream() {
    if (!stream_state_ || stream_ending_) return;
    stream_ending_ = true;
    stream_state_->closed = true;
    if (!closed_) stream_pending_ += "0\r\n\r\n";
    stream_flush();
  }

  void stream_flush() {
    if (stream_writing_ || closed_) return;
    if (stream_pending_.empty()) {
      if (stream_ending_) close();
      return;
    }
    stream_writing_ = true;
    stream_inflight_.swap(stream_pending_);
    const size_t data_bytes = std::exchange(stream_chunk_bytes_, 0);
    asio::async_write(stream_, asio::buffer(stream_inflight_),
                      [self = shared_from_this(), data_bytes](beast::error_code ec, size_t) {
                        self->stream_writing_ = false;
                        self->stream_inflight_.clear();
                        self->stream_state_->queued -= data_bytes;
                        if (ec) {
                          self->stream_state_->closed = true;
                          return self->close();
                        }
                        self->stream_flush();
                      });
  }

  void close() {
    if (stream_state_) stream_state_->closed = true;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  // ---- HTTP/2 over cleartext (nghttp2) ----------------------------------------------------------
  struct H2Stream {
    std::string method, path, authority;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    size_t header_bytes = 0;
    bool too_big = false;
    std::string response_body;
    size_t sent = 0;
  };

  static Session& self_of(void* user_data) { return *static_cast<Session*>(user_data); }

  void h2_start() {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* frame, void* ud) -> int {
          if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
            self_of(ud).h2_streams_[frame->hd.stream_id] = H2Stream{};
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_header_callback(
        cb,
        [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
           const uint8_t* value, size_t valuelen, uint8_t, void* ud) -> int {
          auto& self = self_of(ud);
          auto it = self.h2_streams_.find(frame->hd.stream_id);
          if (it == self.h2_streams_.end()) return 0;
          it->second.header_bytes += namelen + valuelen + 32;
          if (it->second.header_bytes > self.server_->options_.max_header_bytes) {
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets this stream only
          }
          const std::string_view n(reinterpret_cast<const char*>(name), namelen);
          std::string v(reinterpret_cast<const char*>(value), valuelen);
          if (n == ":method") {
            it->second.method = std::move(v);
          } else if (n == ":path") {
            it->second.path = std::move(v);
          } else if (n == ":authority") {
            it->second.authority = std::move(v);
          } else if (!n.empty() && n[0] != ':') {
            it->second.headers.emplace_back(std::string(n), std::move(v));
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb,
        [](nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
           void* ud) -> int {
          auto& self = self_of(ud);
          auto it = self.h2_streams_.find(stream_id);
          if (it == self.h2_streams_.end()) return 0;
          if (it->second.body.size() + len > self.server_->options_.max_body_bytes) {
            it->second.too_big = true;
          } else {
            it->second.body.append(reinterpret_cast<const char*>(data), len);
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* frame, void* ud) -> int {
          if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
              (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            self_of(ud).h2_dispatch(frame->hd.stream_id);
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, int32_t stream_id, uint32_t, void* ud) -> int {
          self_of(ud).h2_streams_.erase(stream_id);
          return 0;
        });
    const int rv = nghttp2_session_server_new(&h2_, cb, this);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) return close();
    // Large windows: a PutRecords body is up to ~7 MB; the default 64 KiB would cost round trips.
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 128},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 8 << 20},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
         static_cast<uint32_t>(server_->options_.max_header_bytes)},
    };
    nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, settings, 3);
    nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0, 32 << 20);
    if (!h2_receive()) return close();
    h2_flush();
    h2_read();
  }

  // Feeds everything in buffer_ to nghttp2.
  bool h2_receive() {
    const auto data = buffer_.data();
    const ssize_t rv =
        nghttp2_session_mem_recv(h2_, static_cast<const uint8_t*>(data.data()), data.size());
    buffer_.consume(buffer_.size());
    if (rv < 0) {
      spdlog::debug("http2: {}: {}", remote_, nghttp2_strerror(static_cast<int>(rv)));
      return false;
    }
    return true;
  }

  void h2_read() {
    if (closed_) return;
    reading_ = true;
    stream_.expires_after(std::chrono::milliseconds(server_->options_.read_timeout_ms));
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->reading_ = false;
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              if (!self->h2_receive()) return self->close();
                              self->h2_flush();
                              self->h2_read();
                            });
  }

  void h2_flush() {
    if (h2_writing_ || closed_) return;
    for (;;) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(h2_, &data);
      if (n < 0) return close();
      if (n == 0) break;
      h2_out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
      if (h2_out_.size() >= kReadChunk) break;
    }
    if (h2_out_.empty()) {
      const bool done = !nghttp2_session_want_read(h2_) && !nghttp2_session_want_write(h2_);
      if (done || (server_->stopping_ && h2_in_flight_ == 0)) close();
      return;
    }
    h2_writing_ = true;
    asio::async_write(stream_, asio::buffer(h2_out_),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->h2_writing_ = false;
                        self->h2_out_.clear();
                        if (ec) return self->close();
                        self->h2_flush();
                      });
  }

  void h2_dispatch(int32_t stream_id) {
    auto it = h2_streams_.find(stream_id);
    if (it == h2_streams_.end()) return;
    H2Stream& s = it->second;
    if (s.too_big) {
      h2_respond(
          stream_id,
          HttpResponse{413, "text/plain; charset=utf-8", {}, "request body exceeds the limit\n"});
      return;
    }
    auto req = std::make_shared<HttpRequest>();
    req->method = std::move(s.method);
    req->target = std::move(s.path);
    // SigV4 signers name the authority ":authority" on HTTP/2 (AWS JS SDK) or "host": keep both.
    req->headers.emplace_back(":authority", s.authority);
    req->headers.emplace_back("host", std::move(s.authority));
    for (auto& h : s.headers) req->headers.push_back(std::move(h));
    req->body = std::move(s.body);
    req->remote = remote_;
    ++h2_in_flight_;
    asio::post(server_->workers_, [self = shared_from_this(), req, stream_id,
                                   work = asio::make_work_guard(server_->ioc_)] {
      auto response = std::make_shared<HttpResponse>(self->run_handler(*req));
      if (response->stream) {
        *response = HttpResponse{505,
                                 "text/plain; charset=utf-8",
                                 {},
                                 "streamed responses (Server-Sent Events) need HTTP/1.1\n"};
      }
      asio::post(self->stream_.get_executor(), [self, response, stream_id] {
        --self->h2_in_flight_;
        self->h2_respond(stream_id, std::move(*response));
        self->h2_flush();
      });
    });
  }

  void h2_respond(int32_t stream_id, HttpResponse response) {
    auto it = h2_streams_.find(stream_id);
    if (it == h2_streams_.end() || closed_) return;  // the client reset the stream meanwhile
    it->second.response_body = std::move(response.body);
    it->second.sent = 0;
    std::vector<std::pair<std::string, std::string>> fields;
    fields.emplace_back(":status", std::to_string(response.status));
    fields.emplace_back("server", "roadpulse");
    fields.emplace_back("content-type", response.content_type);
    fields.emplace_back("content-length", std::to_string(it->second.response_body.size()));
    for (auto& [k, v] : response.headers) {
      std::string name = k;
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      fields.emplace_back(std::move(name), std::move(v));
    }
    std::vector<nghttp2_nv> nv;
    for (auto& [k, v] : fields) {
      nv.push_back({reinterpret_cast<uint8_t*>(k.data()), reinterpret_cast<uint8_t*>(v.data()),
                    k.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    provider.read_callback = [](nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                                uint32_t* flags, nghttp2_data_source*, void* ud) -> ssize_t {
      auto& self = self_of(ud);
      auto found = self.h2_streams_.find(id);
      if (found == self.h2_streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      H2Stream& st = found->second;
      const size_t n = std::min(length, st.response_body.size() - st.sent);
      std::memcpy(buf, st.response_body.data() + st.sent, n);
      st.sent += n;
      if (st.sent == st.response_body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    nghttp2_submit_response(h2_, stream_id, nv.data(), nv.size(), &provider);
  }

  HttpResponse run_handler(HttpRequest& req) {
    try {
      return server_->handler_(req);
    } catch (const std::exception& e) {
      spdlog::error("http: handler failed on {} {}: {}", req.method, req.target, e.what());
      return HttpResponse{500, "text/plain; charset=utf-8", {}, "internal error\n"};
    }
  }

  nghttp2_session* h2_ = nullptr;
  std::map<int32_t, H2Stream> h2_streams_;
  std::string h2_out_;
  bool h2_writing_ = false;
  int h2_in_flight_ = 0;
  bool closed_ = false;

  beast::tcp_stream stream_;
  HttpServer::Impl* server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::string remote_;
  bool keep_alive_ = true;
  std::atomic<bool> reading_{false};

  std::shared_ptr<StreamState> stream_state_;  // set while streaming a response
  std::string stream_pending_, stream_inflight_;
  size_t stream_chunk_bytes_ = 0;  // payload bytes in stream_pending_
  bool stream_writing_ = false;
  bool stream_ending_ = false;
  std::array<char, 512> watch_buffer_{};
};

void HttpServer::Impl::session_started(const std::shared_ptr<Session>& s) {
  std::lock_guard lock(sessions_mutex_);
  sessions_.insert(s.get());
  session_refs_.push_back(s);
  // Compact dead references now and then.
  if (session_refs_.size() > 2 * sessions_.size() + 64) {
    std::erase_if(session_refs_, [](const auto& w) { return w.expired(); });
  }
}

void HttpServer::Impl::session_ended(Session* s) {
  std::lock_guard lock(sessions_mutex_);
  sessions_.erase(s);
}

void HttpServer::Impl::accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) return;
      spdlog::warn("http: accept failed: {}", ec.message());
    } else {
      size_t open;
      {
        std::lock_guard lock(sessions_mutex_);
        open = sessions_.size();
      }
      if (open >= static_cast<size_t>(options_.max_connections)) {
        beast::error_code ignored;
        socket.close(ignored);  // over the connection cap: refuse by closing
      } else {
        auto session = std::make_shared<Session>(std::move(socket), this);
        session_started(session);
        session->start();
      }
    }
    if (!stopping_) accept();
  });
}

void HttpServer::Impl::stop() {
  if (stopping_.exchange(true)) return;
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
    signals_.cancel(ec);
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(sessions_mutex_);
      for (auto& w : session_refs_) {
        if (auto s = w.lock()) live.push_back(std::move(s));
      }
      session_refs_.clear();
    }
    for (auto& s : live) s->close_if_idle();
  });
  // Hard stop if in-flight requests do not drain in time.
  std::lock_guard lock(watchdog_mutex_);
  watchdog_ = std::thread([this] {
    std::unique_lock wait_lock(watchdog_mutex_);
    const bool drained_in_time =
        watchdog_cv_.wait_for(wait_lock, std::chrono::milliseconds(options_.shutdown_grace_ms),
                              [this] { return drained_; });
    if (!drained_in_time) {
      spdlog::warn("http: requests still in flight after {} ms; closing them",
                   options_.shutdown_grace_ms);
      ioc_.stop();
    }
  });
}

void HttpServer::Impl::run(bool with_signals) {
  if (with_signals) {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](beast::error_code ec, int signo) {
      if (ec) return;
      spdlog::info("http: signal {} received; shutting down", signo);
      stop();
    });
  }
  accept();
  std::vector<std::thread> threads;
  for (int i = 1; i < io_threads_; ++i) threads.emplace_back([this] { ioc_.run(); });
  ioc_.run();
  for (auto& t : threads) t.join();
  workers_.join();
  {
    std::lock_guard lock(watchdog_mutex_);
    drained_ = true;
  }
  watchdog_cv_.notify_all();
  std::thread watchdog;
  {
    std::lock_guard lock(watchdog_mutex_);
    watchdog = std::move(watchdog_);
  }
  if (watchdog.joinable()) watchdog.join();
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  if (impl_) {
    impl_->stopping_ = true;
    impl_->ioc_.stop();
    impl_->workers_.join();
    std::lock_guard lock(impl_->watchdog_mutex_);
    impl_->drained_ = true;
  }
  if (impl_) {
    impl_->watchdog_cv_.notify_all();
    if (impl_->watchdog_.joinable()) impl_->watchdog_.join();
  }
}

arrow::Result<std::unique_ptr<HttpServer>> HttpServer::make(const HttpServerOptions& options,
                                                            HttpHandler handler) {
  auto impl = std::make_unique<Impl>(options, std::move(handler));
  ARROW_RETURN_NOT_OK(impl->listen());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->acceptor_.local_endpoint().port(); }

std::string HttpServer::address() const {
  beast::error_code ec;
  const auto ep = impl_->acceptor_.local_endpoint(ec);
  if (ec) return impl_->options_.listen;
  const std::string host = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(ep.port());
}

void HttpServer::run() { impl_->run(false); }
void HttpServer::run_until_signal() { impl_->run(true); }
void HttpServer::stop() { impl_->stop(); }

}  // namespace roadpulse::server
