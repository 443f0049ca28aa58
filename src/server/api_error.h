#pragma once
// Kinesis API errors as arrow::Status values. The AWS error type ("ResourceNotFoundException")
// travels as a StatusDetail, so handlers propagate errors with ARROW_RETURN_NOT_OK and the HTTP
// layer turns them into a 400 response with {"__type": ..., "message": ...}. A Status without the
// detail is an internal failure (HTTP 500, InternalFailure).

#include <memory>
#include <string>
#include <string_view>

#include <arrow/status.h>

namespace roadpulse::server {

class ApiErrorDetail : public arrow::StatusDetail {
 public:
  ApiErrorDetail(std::string type, int http_status)
      : type_(std::move(type)), http_status_(http_status) {}
  const char* type_id() const override { return "roadpulse::server::ApiError"; }
  std::string ToString() const override { return type_; }
  const std::string& type() const { return type_; }
  int http_status() const { return http_status_; }

 private:
  std::string type_;
  int http_status_;
};

/// An error the client sees as `type` (e.g. "ResourceNotFoundException") with HTTP 400.
inline arrow::Status api_error(std::string type, std::string message, int http_status = 400) {
  return arrow::Status(arrow::StatusCode::Invalid, std::move(message),
                       std::make_shared<ApiErrorDetail>(std::move(type), http_status));
}

/// The ApiErrorDetail of `status`, or nullptr for an internal failure.
inline const ApiErrorDetail* api_error_detail(const arrow::Status& status) {
  const auto& detail = status.detail();
  if (!detail || std::string_view(detail->type_id()) != "roadpulse::server::ApiError") {
    return nullptr;
  }
  return static_cast<const ApiErrorDetail*>(detail.get());
}

}  // namespace roadpulse::server
