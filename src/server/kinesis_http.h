#pragma once
// The Kinesis API on HTTP: `POST /` with `X-Amz-Target: Kinesis_20131202.<Operation>` and a body
// in application/x-amz-json-1.1 or application/x-amz-cbor-1.1; the answer uses the request's
// encoding. Errors are HTTP 400 (500 for internal failures) with {"__type", "message"} and the
// x-amzn-ErrorType header, as the AWS SDKs parse them. When access keys are configured, every
// request must carry a valid SigV4 signature. Also answers `GET /healthz`.

#include <memory>
#include <optional>

#include "server/http_server.h"
#include "server/kinesis_service.h"
#include "server/sigv4.h"

namespace roadpulse::server {

inline constexpr std::string_view kKinesisTargetPrefix = "Kinesis_20131202.";

class KinesisHttpHandler {
 public:
  /// `service` must outlive the handler.
  KinesisHttpHandler(KinesisService* service, SigV4Verifier verifier)
      : service_(service), verifier_(std::move(verifier)) {}

  /// The response to a Kinesis request; nullopt when the request is not one (another route may
  /// take it).
  std::optional<HttpResponse> handle(HttpRequest& request);

 private:
  KinesisService* service_;
  SigV4Verifier verifier_;
};

/// The error response for `status` in `format` (exposed for tests).
HttpResponse kinesis_error_response(const arrow::Status& status, WireFormat format);

}  // namespace roadpulse::server
