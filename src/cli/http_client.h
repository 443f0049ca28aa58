#pragma once
// A blocking HTTP call on libcurl for the commands that talk to a running server
// (`roadpulse sql --server`, `roadpulse jobs`).

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

/// "http://host:port" without a trailing slash; adds http:// when missing.
std::string normalize_server_url(std::string url);

}  // namespace roadpulse::cli
