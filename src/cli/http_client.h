#pragma once
// A blocking HTTP call on libcurl for the commands that talk to a running server
// (`roadpulse sql --server`, `roadpulse jobs`).

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

#include <arrow/result.h>

namespace roadpulse::cli {

struct HttpReply {
  long status = 0;
  std::string body;
};

/// `method` GET/POST/DELETE to `url`; fails (IOError naming the URL) only when no answer came.
arrow::Result<HttpReply> http_call(std::string_view method, const std::string& url,
                                   std::string_view body = {},
                                   std::string_view content_type = "application/json",
                                   long timeout_ms = 600'000);

/// Receives a response body as it arrives, with the response's status and Content-Type (known
/// before the first call). Returns false to stop reading.
using BodyChunk =
    std::function<bool(long status, std::string_view content_type, std::string_view data)>;

/// Like http_call, but hands the body over as it arrives (a streamed answer) and has no overall
/// timeout; stops when `on_data` returns false or `*interrupt` turns true (checked at least once a
/// second). Returns the status.
arrow::Result<long> http_stream(std::string_view method, const std::string& url,
                                std::string_view body, std::string_view content_type,
                                const BodyChunk& on_data,
                                const std::atomic<bool>* interrupt = nullptr);

/// "http://host:port" without a trailing slash; adds http:// when missing.
std::string normalize_server_url(std::string url);

}  // namespace roadpulse::cli
