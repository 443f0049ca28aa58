#include "server/kinesis_http.h"

#include <atomic>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/time.h"
#include "server/api_error.h"

namespace roadpulse::server {

namespace {

constexpr std::string_view kJsonType = "application/x-amz-json-1.1";
constexpr std::string_view kCborType = "application/x-amz-cbor-1.1";

std::string request_id() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t boot = static_cast<uint64_t>(now_micros());
  const uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", static_cast<uint32_t>(boot >> 16),
                     static_cast<uint16_t>(boot), 0x4000 | static_cast<uint16_t>(n >> 48 & 0x0fff),
                     0x8000 | static_cast<uint16_t>(n >> 32 & 0x3fff), n & 0xffffffffffffULL);
}

std::optional<WireFormat> format_of(std::string_view content_type) {
  const std::string_view base = content_type.substr(0, content_type.find(';'));
  if (base == kCborType) return WireFormat::kCbor;
  if (base == kJsonType || base == "application/x-amz-json-1.0" || base == "application/json" ||
      base.empty()) {
    return WireFormat::kJson;
  }
  return std::nullopt;
}

}  // namespace

HttpResponse kinesis_error_response(const arrow::Status& status, WireFormat format) {
  const ApiErrorDetail* detail = api_error_detail(status);
  HttpResponse response;
  response.status = detail ? detail->http_status() : 500;
  const std::string type = detail ? detail->type() : "InternalFailure";
  Document body = Document::map();
  body.set("__type", Document::string(type));
  body.set("message", Document::string(detail ? status.message()
                                              : "Internal service failure: " + status.message()));
  response.content_type = std::string(format == WireFormat::kCbor ? kCborType : kJsonType);
  response.body = encode(format, body);
  response.headers.emplace_back("x-amzn-ErrorType", type + ":");
  response.headers.emplace_back("x-amzn-RequestId", request_id());
  return response;
}

std::optional<HttpResponse> KinesisHttpHandler::handle(HttpRequest& request) {
  const std::string_view target = request.header("X-Amz-Target");
  if (request.method == "GET" && request.path() == "/healthz") {
    return HttpResponse{200, "text/plain; charset=utf-8", {}, "ok\n"};
  }
  if (target.empty() && !(request.method == "POST" && request.path() == "/")) {
    return std::nullopt;
  }
  const auto format = format_of(request.header("Content-Type"));
  const WireFormat reply_format = format.value_or(WireFormat::kJson);
  auto fail = [&](const arrow::Status& status) {
    return kinesis_error_response(status, reply_format);
  };
  if (request.method != "POST") {
    return fail(
        api_error("UnknownOperationException", "Kinesis operations are POST requests to /", 404));
  }
  if (!format) {
    return fail(
        api_error("SerializationException",
                  fmt::format("unsupported Content-Type '{}': use {} or {}",
                              request.header("Content-Type").substr(0, 100), kJsonType, kCborType),
                  415));
  }
  if (target.substr(0, kKinesisTargetPrefix.size()) != kKinesisTargetPrefix) {
    return fail(api_error("UnknownOperationException",
                          target.empty()
                              ? "missing X-Amz-Target header"
                              : fmt::format("unknown X-Amz-Target '{}'", target.substr(0, 100))));
  }
  const std::string_view operation = target.substr(kKinesisTargetPrefix.size());
  if (!KinesisService::is_operation(operation)) {
    return fail(api_error("UnknownOperationException",
                          fmt::format("Operation '{}' is not supported", operation.substr(0, 64))));
  }
  if (verifier_.enabled()) {
    SigningRequest signing{request.method, request.target, request.headers, request.body};
    auto verified = verifier_.verify(signing, now_micros() / 1000);
    if (!verified.ok()) return fail(verified.status());
  }
  const int64_t started_us = now_micros();
  auto decoded = decode(*format, request.body.empty() && *format == WireFormat::kJson
                                     ? std::string_view("{}")
                                     : std::string_view(request.body));
  if (!decoded.ok()) {
    return fail(api_error("SerializationException", decoded.status().message()));
  }
  const int64_t decoded_us = now_micros();
  auto result = service_->call(operation, *decoded);
  const int64_t called_us = now_micros();
  if (!result.ok()) {
    if (!api_error_detail(result.status())) {
      spdlog::error("kinesis: {} failed: {}", operation, result.status().ToString());
    }
    return fail(result.status());
  }
  HttpResponse response;
  response.content_type = std::string(*format == WireFormat::kCbor ? kCborType : kJsonType);
  response.body = encode(*format, *result);
  response.headers.emplace_back("x-amzn-RequestId", request_id());
  if (spdlog::should_log(spdlog::level::trace)) {
    spdlog::trace("kinesis: {} {} bytes: decode {} us, call {} us, encode {} us", operation,
                  request.body.size(), decoded_us - started_us, called_us - decoded_us,
                  now_micros() - called_us);
  }
  return response;
}

}  // namespace roadpulse::server
