#include "cli/http_client.h"

#include <cstdlib>

#include <curl/curl.h>

namespace roadpulse::cli {

namespace {
size_t append_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}
struct StreamState {
  CURL* curl = nullptr;
  const BodyChunk* on_data = nullptr;
  const std::atomic<bool>* interrupt = nullptr;
  bool stopped = false;
};

size_t stream_body(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<StreamState*>(user);
  long status = 0;
  char* type = nullptr;
  curl_easy_getinfo(state->curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(state->curl, CURLINFO_CONTENT_TYPE, &type);
  if (!(*state->on_data)(status, type ? type : "", std::string_view(data, size * count))) {
    state->stopped = true;
    return 0;  // aborts the transfer
  }
  return size * count;
}

int stream_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* state = static_cast<StreamState*>(user);
  if (state->interrupt && state->interrupt->load()) {
    state->stopped = true;
    return 1;
  }
  return 0;
}

// Headers every call sends; the caller frees the list.
struct curl_slist* request_headers(std::string_view content_type, std::string& type_header,
                                   std::string& auth_header) {
  struct curl_slist* headers = nullptr;
  type_header = "Content-Type: " + std::string(content_type);
  headers = curl_slist_append(headers, type_header.c_str());
  if (const char* key = std::getenv("ROADPULSE_ACCESS_KEY"); key && *key) {
    auth_header = std::string("Authorization: Bearer ") + key;
    headers = curl_slist_append(headers, auth_header.c_str());
  }
  return headers;
}

}  // namespace

arrow::Result<long> http_stream(std::string_view method, const std::string& url,
                                std::string_view body, std::string_view content_type,
                                const BodyChunk& on_data, const std::atomic<bool>* interrupt) {
  CURL* curl = curl_easy_init();
  if (!curl) return arrow::Status::IOError("libcurl could not start");
  const std::string method_text(method);
  const std::string body_text(body);
  std::string type_header, auth_header;
  struct curl_slist* headers = request_headers(content_type, type_header, auth_header);
  StreamState state{curl, &on_data, interrupt};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body_text.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, long(body_text.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, stream_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, stream_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &state);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK && !state.stopped) {
    return arrow::Status::IOError("cannot reach ", url, ": ", curl_easy_strerror(code),
                                  " (is `roadpulse serve` or `roadpulse run` running there?)");
  }
  return status;
}

arrow::Result<HttpReply> http_call(std::string_view method, const std::string& url,
                                   std::string_view body, std::string_view content_type,
                                   long timeout_ms) {
  CURL* curl = curl_easy_init();
  if (!curl) return arrow::Status::IOError("libcurl could not start");
  HttpReply reply;
  const std::string method_text(method);
  const std::string body_text(body);
  // A server with access keys wants one for SQL and job control (docs/configuration.md).
  std::string type_header, auth_header;
  struct curl_slist* headers = request_headers(content_type, type_header, auth_header);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body_text.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, long(body_text.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  const CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK) {
    return arrow::Status::IOError("cannot reach ", url, ": ", curl_easy_strerror(code),
                                  " (is `roadpulse serve` or `roadpulse run` running there?)");
  }
  return reply;
}

std::string normalize_server_url(std::string url) {
  if (url.find("://") == std::string::npos) url = "http://" + url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace roadpulse::cli
