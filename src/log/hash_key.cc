// Partition key -> hash key -> shard, as Kinesis does it, and the text forms of ids and keys.

// The one-shot MD5() is several times cheaper than an EVP digest for 1-40 byte keys, and we hash
// every appended record. It is deprecated in OpenSSL 3 only in favour of EVP.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>

#include <charconv>
#include <cstdio>

#include "log/log.h"

namespace roadpulse::log {

HashKey hash_key_of(std::string_view partition_key) {
  unsigned char digest[MD5_DIGEST_LENGTH];
  MD5(reinterpret_cast<const unsigned char*>(partition_key.data()), partition_key.size(), digest);
  HashKey key = 0;
  for (int i = 0; i < 16; ++i) key = (key << 8) | digest[i];  // big-endian, as Kinesis
  return key;
}

std::string format_hash_key(HashKey key) {
  if (key == 0) return "0";
  char buf[40];
  int n = 0;
  while (key > 0) {
    buf[n++] = static_cast<char>('0' + static_cast<int>(key % 10));
    key /= 10;
  }
  return std::string(std::make_reverse_iterator(buf + n), std::make_reverse_iterator(buf));
}

arrow::Result<HashKey> parse_hash_key(std::string_view text) {
  if (text.empty() || text.size() > 39) {
    return arrow::Status::Invalid("hash key '", text, "' is not a decimal in [0, 2^128)");
  }
  HashKey key = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return arrow::Status::Invalid("hash key '", text, "' is not a decimal in [0, 2^128)");
    }
    const HashKey next = key * 10 + static_cast<HashKey>(c - '0');
    if (next / 10 != key) {
      return arrow::Status::Invalid("hash key '", text, "' is not a decimal in [0, 2^128)");
    }
    key = next;
  }
  return key;
}

HashRange uniform_hash_range(int index, int count) {
  const HashKey max = ~HashKey{0};
  // floor(2^128 / count) without 2^128 itself: (2^128-1)/count, plus one when count divides 2^128.
  HashKey step = max / static_cast<HashKey>(count);
  if (max % static_cast<HashKey>(count) == static_cast<HashKey>(count - 1)) step += 1;
  HashRange range;
  range.start = step * static_cast<HashKey>(index);
  range.end = index == count - 1 ? max : step * static_cast<HashKey>(index + 1) - 1;
  return range;
}

std::string ShardId::to_string() const {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "shardId-%012d", value);
  return buf;
}

arrow::Result<ShardId> ShardId::parse(std::string_view text) {
  std::string_view digits = text;
  if (digits.starts_with("shardId-")) digits.remove_prefix(8);
  int32_t value = -1;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || value < 0) {
    return arrow::Status::Invalid("'", text,
                                  "' is not a shard id (expected shardId-000000000001 or 1)");
  }
  return ShardId{value};
}

}  // namespace roadpulse::log
