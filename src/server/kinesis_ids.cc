#include "server/kinesis_ids.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "server/api_error.h"
#include "server/document.h"
#include "server/sigv4.h"

namespace roadpulse::server {

namespace {

constexpr uint8_t kIteratorVersion = 1;
constexpr size_t kMacBytes = 16;
constexpr size_t kSequenceDigits = 46;

void put_u64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xFF));
}
uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

arrow::Status invalid_iterator() {
  return api_error("InvalidArgumentException",
                   "Invalid ShardIterator: it was not issued by this server, or it was altered.");
}

}  // namespace

std::string format_sequence_number(const SequenceParts& parts) {
  return fmt::format("49{:014}{:010}{:020}", parts.stream_created_ms, parts.shard, parts.offset);
}

arrow::Result<SequenceParts> parse_sequence_number(std::string_view text) {
  if (text.size() != kSequenceDigits || text.substr(0, 2) != "49") {
    return arrow::Status::Invalid("'", text.substr(0, 64),
                                  "' is not a sequence number of this server");
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return arrow::Status::Invalid("sequence number '", text.substr(0, 64), "' has a non-digit");
    }
  }
  auto num = [&](size_t at, size_t len) {
    uint64_t v = 0;
    for (size_t i = at; i < at + len; ++i) v = v * 10 + static_cast<uint64_t>(text[i] - '0');
    return v;
  };
  SequenceParts parts;
  parts.stream_created_ms = static_cast<int64_t>(num(2, 14));
  const uint64_t shard = num(16, 10);
  if (shard > 0x7FFFFFFF) return arrow::Status::Invalid("sequence number shard out of range");
  parts.shard = static_cast<int32_t>(shard);
  const std::string_view offset = text.substr(26);
  // 20 digits can exceed 2^64-1: compare as text first.
  if (offset > "18446744073709551615") {
    return arrow::Status::Invalid("sequence number offset out of range");
  }
  parts.offset = num(26, 20);
  return parts;
}

arrow::Result<std::string> IteratorCodec::load_or_create_key(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return arrow::Status::IOError("cannot create directory for ", path, ": ", ec.message());
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (key.size() >= 16) return key;
      return arrow::Status::IOError("iterator key file ", path, " holds ", key.size(),
                                    " bytes; expected 32 (delete it to make a new one)");
    }
  }
  std::string key(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return arrow::Status::IOError("RAND_bytes failed to make the iterator key");
  }
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return arrow::Status::IOError("cannot create ", tmp, ": ", std::strerror(errno));
  const bool ok =
      ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return arrow::Status::IOError("cannot write iterator key ", path, ": ", std::strerror(errno));
  }
  return key;
}

std::string IteratorCodec::encode(const IteratorState& state) const {
  std::string raw;
  raw.reserve(40 + state.stream.size() + kMacBytes);
  raw.push_back(static_cast<char>(kIteratorVersion));
  put_u64(raw, static_cast<uint64_t>(state.issued_ms));
  put_u64(raw, static_cast<uint64_t>(state.stream_created_ms));
  put_u64(raw, static_cast<uint64_t>(static_cast<uint32_t>(state.shard)));
  put_u64(raw, state.position);
  raw.append(state.stream);
  raw.append(hmac_sha256(key_, raw).substr(0, kMacBytes));
  return base64_encode(raw);
}

arrow::Result<IteratorState> IteratorCodec::decode(std::string_view token, int64_t now_ms) const {
  constexpr size_t kFixed = 1 + 8 * 4;
  auto raw_result = base64_decode(token);
  if (!raw_result.ok()) return invalid_iterator();
  const std::string& raw = *raw_result;
  if (raw.size() < kFixed + 1 + kMacBytes || raw[0] != static_cast<char>(kIteratorVersion)) {
    return invalid_iterator();
  }
  const std::string_view body(raw.data(), raw.size() - kMacBytes);
  const std::string mac = hmac_sha256(key_, body);
  if (CRYPTO_memcmp(mac.data(), raw.data() + body.size(), kMacBytes) != 0) {
    return invalid_iterator();
  }
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  IteratorState state;
  state.issued_ms = static_cast<int64_t>(get_u64(p + 1));
  state.stream_created_ms = static_cast<int64_t>(get_u64(p + 9));
  state.shard = static_cast<int32_t>(get_u64(p + 17));
  state.position = get_u64(p + 25);
  state.stream.assign(body.substr(kFixed));
  if (now_ms - state.issued_ms > kIteratorLifetimeMs) {
    return api_error("ExpiredIteratorException",
                     fmt::format("Iterator expired. The iterator was created at time {} while "
                                 "right now it is {} which is further in the future than the "
                                 "tolerated delay of {} milliseconds.",
                                 state.issued_ms, now_ms, kIteratorLifetimeMs));
  }
  return state;
}

}  // namespace roadpulse::server
