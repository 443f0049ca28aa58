#pragma once
// The identifiers Kinesis clients hold on to: sequence numbers (decimal strings) and shard
// iterators (opaque, authenticated, expiring tokens).
//
// Sequence number: "49" + 14-digit stream creation ms + 10-digit shard index + 20-digit offset
// (46 digits). Numbers compare numerically like Kinesis's: monotonic within a shard, and a child
// shard's (higher index) exceed its parents'. The stream creation time makes a number from an
// earlier stream of the same name recognisable.
//
// Shard iterator: base64 of {version, issue ms, stream creation ms, shard, position, stream name}
// followed by a truncated HMAC-SHA256 under a server key, so a client can neither forge nor
// alter one; it expires kIteratorLifetimeMs after issue (ExpiredIteratorException).

#include <cstdint>
#include <string>
#include <string_view>

#include <arrow/result.h>

namespace roadpulse::server {

inline constexpr int64_t kIteratorLifetimeMs = 5 * 60 * 1000;

struct SequenceParts {
  int64_t stream_created_ms = 0;
  int32_t shard = 0;
  uint64_t offset = 0;
};

std::string format_sequence_number(const SequenceParts& parts);
/// Invalid when the text is not a sequence number this server issued.
arrow::Result<SequenceParts> parse_sequence_number(std::string_view text);

struct IteratorState {
  int64_t issued_ms = 0;
  std::string stream;
  int64_t stream_created_ms = 0;
  int32_t shard = 0;
  uint64_t position = 0;  // next offset to read
};

class IteratorCodec {
 public:
  /// `key`: secret bytes (at least 16) for the HMAC.
  explicit IteratorCodec(std::string key) : key_(std::move(key)) {}

  /// Reads the key from `path`, or creates it (32 random bytes, mode 0600) when missing, so
  /// iterators stay valid across a restart of the server.
  static arrow::Result<std::string> load_or_create_key(const std::string& path);

  std::string encode(const IteratorState& state) const;
  /// api_error InvalidArgumentException for anything not issued by this key, and
  /// ExpiredIteratorException when older than kIteratorLifetimeMs at `now_ms`.
  arrow::Result<IteratorState> decode(std::string_view token, int64_t now_ms) const;

 private:
  std::string key_;
};

}  // namespace roadpulse::server
