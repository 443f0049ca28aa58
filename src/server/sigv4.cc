#include "server/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>

#include <fmt/format.h>

#include "server/api_error.h"

namespace roadpulse::server {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and collapses runs of spaces, as the canonical header value requires.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// RFC 3986 encoding of everything but unreserved characters (and '/' when keep_slash).
std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    const std::string_view part = query.substr(pos, amp - pos);
    if (!part.empty()) {
      const size_t eq = part.find('=');
      const std::string_view k = part.substr(0, eq);
      const std::string_view v = eq == std::string_view::npos ? "" : part.substr(eq + 1);
      params.emplace_back(uri_encode(percent_decode(k, true), false),
                          uri_encode(percent_decode(v, true), false));
    }
    pos = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += k;
    out.push_back('=');
    out += v;
  }
  return out;
}

std::string header_value(const SigningRequest& request, std::string_view lower_name) {
  std::string value;
  bool found = false;
  for (const auto& [name, v] : request.headers) {
    if (lower(name) != lower_name) continue;
    if (found) value.push_back(',');
    value += canonical_value(v);
    found = true;
  }
  return value;
}

bool has_header(const SigningRequest& request, std::string_view lower_name) {
  for (const auto& [name, v] : request.headers) {
    if (lower(name) == lower_name) return true;
  }
  return false;
}

// Parses "20150830T123600Z" into epoch ms.
std::optional<int64_t> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  }
  auto num = [&](size_t at, size_t len) {
    int v = 0;
    for (size_t i = at; i < at + len; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

arrow::Status incomplete(std::string message) {
  return api_error("IncompleteSignatureException", std::move(message));
}

}  // namespace

arrow::Result<AccessKey> AccessKey::parse(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return arrow::Status::Invalid("access key '", text.substr(0, colon),
                                  "...' must be given as ID:SECRET");
  }
  return AccessKey{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hex(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string amz_date(int64_t epoch_ms) {
  const std::time_t t = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string canonical_request(const SigningRequest& request, std::string_view signed_headers) {
  std::string_view path = request.target;
  std::string_view query;
  if (const size_t q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  if (path.empty()) path = "/";
  std::string out;
  out += request.method;
  out += '\n';
  out += uri_encode(percent_decode(path, false), true);
  out += '\n';
  out += canonical_query(query);
  out += '\n';
  size_t pos = 0;
  while (pos < signed_headers.size()) {
    size_t semi = signed_headers.find(';', pos);
    if (semi == std::string_view::npos) semi = signed_headers.size();
    const std::string name(signed_headers.substr(pos, semi - pos));
    out += name;
    out += ':';
    out += header_value(request, name);
    out += '\n';
    pos = semi + 1;
  }
  out += '\n';
  out += signed_headers;
  out += '\n';
  out += sha256_hex(request.body);
  return out;
}

std::string signature(const SigningRequest& request, std::string_view signed_headers,
                      std::string_view date, std::string_view secret, std::string_view region,
                      std::string_view service) {
  const std::string_view day = date.substr(0, 8);
  const std::string scope = fmt::format("{}/{}/{}/aws4_request", day, region, service);
  const std::string string_to_sign =
      fmt::format("{}\n{}\n{}\n{}", kAlgorithm, date, scope,
                  sha256_hex(canonical_request(request, signed_headers)));
  std::string key = hmac_sha256("AWS4" + std::string(secret), day);
  key = hmac_sha256(key, region);
  key = hmac_sha256(key, service);
  key = hmac_sha256(key, "aws4_request");
  return hex(hmac_sha256(key, string_to_sign));
}

void sign_request(SigningRequest& request, const AccessKey& key, std::string_view region,
                  std::string_view service, int64_t now_ms) {
  if (!has_header(request, "x-amz-date"))
    request.headers.emplace_back("X-Amz-Date", amz_date(now_ms));
  const std::string date = header_value(request, "x-amz-date");
  std::vector<std::string> names;
  for (const auto& [name, value] : request.headers) {
    std::string l = lower(name);
    if (l == "authorization" || l == "user-agent" || l == "content-length") continue;
    if (std::find(names.begin(), names.end(), l) == names.end()) names.push_back(std::move(l));
  }
  std::sort(names.begin(), names.end());
  std::string signed_headers;
  for (const auto& n : names) {
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers += n;
  }
  const std::string sig = signature(request, signed_headers, date, key.secret, region, service);
  request.headers.emplace_back(
      "Authorization",
      fmt::format("{} Credential={}/{}/{}/{}/aws4_request, SignedHeaders={}, Signature={}",
                  kAlgorithm, key.id, date.substr(0, 8), region, service, signed_headers, sig));
}

SigV4Verifier::SigV4Verifier(const std::vector<AccessKey>& keys) {
  for (const auto& key : keys) secrets_[key.id] = key.secret;
}

arrow::Result<std::string> SigV4Verifier::verify(const SigningRequest& request,
                                                 int64_t now_ms) const {
  const std::string auth = header_value(request, "authorization");
  if (auth.empty()) {
    return api_error("UnrecognizedClientException",
                     "Missing Authentication Token: the request is not signed (SigV4 required)");
  }
  std::string_view rest = auth;
  if (rest.substr(0, kAlgorithm.size()) != kAlgorithm) {
    return incomplete("Authorization header must start with " + std::string(kAlgorithm));
  }
  rest.remove_prefix(kAlgorithm.size());
  std::string_view credential, signed_headers, sig;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    if (comma == std::string_view::npos) comma = rest.size();
    const std::string_view part = trim(rest.substr(0, comma));
    rest = comma < rest.size() ? rest.substr(comma + 1) : std::string_view();
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view k = part.substr(0, eq), v = part.substr(eq + 1);
    if (k == "Credential") credential = v;
    if (k == "SignedHeaders") signed_headers = v;
    if (k == "Signature") sig = v;
  }
  if (credential.empty() || signed_headers.empty() || sig.empty()) {
    return incomplete(
        "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters");
  }
  // Credential=AKID/20150830/us-east-1/kinesis/aws4_request
  std::vector<std::string_view> scope;
  for (size_t pos = 0;;) {
    const size_t slash = credential.find('/', pos);
    scope.push_back(credential.substr(
        pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  if (scope.size() != 5 || scope[4] != "aws4_request") {
    return incomplete("Credential must have the form ID/yyyyMMdd/region/service/aws4_request");
  }
  const auto secret = secrets_.find(scope[0]);
  if (secret == secrets_.end()) {
    return api_error("UnrecognizedClientException",
                     "The security token included in the request is invalid.");
  }
  std::string date = header_value(request, "x-amz-date");
  if (date.empty()) {
    return incomplete("the request must carry an X-Amz-Date header");
  }
  const auto signed_at = parse_amz_date(date);
  if (!signed_at) return incomplete("X-Amz-Date '" + date + "' is not yyyyMMddTHHmmssZ");
  if (date.substr(0, 8) != scope[1]) {
    return api_error("InvalidSignatureException",
                     "Credential should be scoped to a valid date: '" + date.substr(0, 8) + "'");
  }
  {
    bool has_host = false;
    for (size_t pos = 0; pos <= signed_headers.size();) {
      size_t semi = signed_headers.find(';', pos);
      if (semi == std::string_view::npos) semi = signed_headers.size();
      const std::string_view name = signed_headers.substr(pos, semi - pos);
      has_host = has_host || name == "host" || name == ":authority";
      pos = semi + 1;
    }
    if (!has_host) return incomplete("SignedHeaders must include host (or :authority)");
  }
  if (*signed_at < now_ms - kMaxClockSkewMs || *signed_at > now_ms + kMaxClockSkewMs) {
    return api_error("InvalidSignatureException",
                     fmt::format("Signature expired: {} is now earlier or later than {} "
                                 "(the allowed clock skew is 15 minutes)",
                                 date, amz_date(now_ms)));
  }
  const std::string expected =
      signature(request, signed_headers, date, secret->second, scope[2], scope[3]);
  if (expected.size() != sig.size() ||
      CRYPTO_memcmp(expected.data(), sig.data(), sig.size()) != 0) {
    return api_error("InvalidSignatureException",
                     "The request signature we calculated does not match the signature you "
                     "provided. Check your AWS Secret Access Key and signing method. Consult the "
                     "service documentation for details.");
  }
  return std::string(scope[0]);
}

}  // namespace roadpulse::server
