#pragma once
// AWS Signature Version 4 for the ingest API: verification of signed requests against configured
// access keys, and signing (for our own client and for tests). Implements the canonical request
// exactly as AWS documents it: method, URI-encoded path, sorted query, the signed headers
// (lower-cased names, trimmed values), SHA-256 of the payload; then HMAC-SHA256 over the string to
// sign with the key derived from the secret, date, region and service.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

namespace roadpulse::server {

/// What SigV4 needs from an HTTP request. Header names in any case; repeated names allowed.
struct SigningRequest {
  std::string_view method;
  std::string_view target;  // request target as sent: path plus optional "?query"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
};

struct AccessKey {
  std::string id;
  std::string secret;
  /// Parses "ID:SECRET".
  static arrow::Result<AccessKey> parse(std::string_view text);
};

/// Requests signed further than this from the server's clock are rejected, as AWS does.
inline constexpr int64_t kMaxClockSkewMs = 15 * 60 * 1000;

class SigV4Verifier {
 public:
  explicit SigV4Verifier(const std::vector<AccessKey>& keys);
  bool enabled() const { return !secrets_.empty(); }

  /// OK when the request carries a valid signature by a configured key at most kMaxClockSkewMs
  /// from `now_ms`; otherwise an api_error: UnrecognizedClientException (unsigned, unknown key),
  /// IncompleteSignatureException (malformed Authorization), InvalidSignatureException (wrong
  /// signature or expired). Returns the access key id on success.
  arrow::Result<std::string> verify(const SigningRequest& request, int64_t now_ms) const;

 private:
  std::map<std::string, std::string, std::less<>> secrets_;
};

/// Lower-case hex SHA-256.
std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string hex(std::string_view bytes);

/// The canonical request for `signed_headers` (lower-case, ';'-separated, sorted).
std::string canonical_request(const SigningRequest& request, std::string_view signed_headers);

/// "20150830T123600Z" for a time in ms.
std::string amz_date(int64_t epoch_ms);

/// Computes the SigV4 signature (hex) for the request given the credential scope parts.
std::string signature(const SigningRequest& request, std::string_view signed_headers,
                      std::string_view amz_date, std::string_view secret, std::string_view region,
                      std::string_view service);

/// Signs `request` in place: adds X-Amz-Date (if missing) and Authorization. Signs every header
/// present plus host and x-amz-date.
void sign_request(SigningRequest& request, const AccessKey& key, std::string_view region,
                  std::string_view service, int64_t now_ms);

}  // namespace roadpulse::server
