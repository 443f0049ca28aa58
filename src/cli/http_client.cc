#include "cli/http_client.h"

#include <cstdlib>

#include <curl/curl.h>

namespace roadpulse::cli {

namespace {
size_t append_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}
}  // namespace

arrow::Result<HttpReply> http_call(std::string_view method, const std::string& url,
                                   std::string_view body, std::string_view content_type,
                                   long timeout_ms) {
  CURL* curl = curl_easy_init();
  if (!curl) return arrow::Status::IOError("libcurl could not start");
  HttpReply reply;
  const std::string method_text(method);
  const std::string body_text(body);
  struct curl_slist* headers = nullptr;
  const std::string type_header = "Content-Type: " + std::string(content_type);
  headers = curl_slist_append(headers, type_header.c_str());
  // A server with access keys wants one for SQL and job control (docs/configuration.md).
  std::string auth_header;
  if (const char* key = std::getenv("ROADPULSE_ACCESS_KEY"); key && *key) {
    auth_header = std::string("Authorization: Bearer ") + key;
    headers = curl_slist_append(headers, auth_header.c_str());
  }
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
