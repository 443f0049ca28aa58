#include "log/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace roadpulse::log {
namespace {

constexpr uint32_t kPolynomial = 0x82f63b78u;  // reflected Castagnoli

constexpr std::array<std::array<uint32_t, 256>, 8> make_tables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
  return t;
}
constexpr auto kTables = make_tables();

uint32_t extend_portable(uint32_t crc, const uint8_t* p, size_t n) {
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    v ^= crc;
    crc = kTables[7][v & 0xff] ^ kTables[6][(v >> 8) & 0xff] ^ kTables[5][(v >> 16) & 0xff] ^
          kTables[4][(v >> 24) & 0xff] ^ kTables[3][(v >> 32) & 0xff] ^
          kTables[2][(v >> 40) & 0xff] ^ kTables[1][(v >> 48) & 0xff] ^ kTables[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xff];
  return crc;
}

// GF(2) multiplication modulo the polynomial, bit-reflected (zlib's multmodp).
constexpr uint32_t multiply_mod_p(uint32_t a, uint32_t b) {
  uint32_t m = 1u << 31, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = (b & 1) ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return p;
}

// x^(8 * bytes) modulo the polynomial: multiplying a CRC register by it runs the register over
// `bytes` zero bytes (zlib's x2nmodp).
constexpr uint32_t shift_operator(size_t bytes) {
  uint32_t x2n[32] = {};
  x2n[0] = 1u << 30;  // x^1
  for (int k = 1; k < 32; ++k) x2n[k] = multiply_mod_p(x2n[k - 1], x2n[k - 1]);
  uint32_t p = 1u << 31;  // x^0
  size_t n = bytes;
  for (unsigned k = 3; n != 0; n >>= 1, ++k) {
    if (n & 1) p = multiply_mod_p(x2n[k & 31], p);
  }
  return p;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t extend_sse42_serial(uint32_t crc, const uint8_t* p,
                                                               size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

// The crc32 instruction has a latency of 3 cycles and a throughput of 1: three independent lanes
// over three thirds of a block keep it busy (3x one lane), and the lanes' registers are then
// combined by shifting the first two over the bytes that follow them (CRC is linear).
constexpr size_t kLaneBytes = 8192;
constexpr uint32_t kShiftLane = shift_operator(kLaneBytes);
constexpr uint32_t kShiftTwoLanes = shift_operator(2 * kLaneBytes);

__attribute__((target("sse4.2"))) uint32_t extend_sse42(uint32_t crc, const uint8_t* p, size_t n) {
  while (n >= 3 * kLaneBytes) {
    uint64_t a = crc, b = 0, c = 0;
    for (size_t i = 0; i < kLaneBytes; i += 8) {
      uint64_t va, vb, vc;
      std::memcpy(&va, p + i, 8);
      std::memcpy(&vb, p + kLaneBytes + i, 8);
      std::memcpy(&vc, p + 2 * kLaneBytes + i, 8);
      a = _mm_crc32_u64(a, va);
      b = _mm_crc32_u64(b, vb);
      c = _mm_crc32_u64(c, vc);
    }
    crc = multiply_mod_p(kShiftTwoLanes, uint32_t(a)) ^ multiply_mod_p(kShiftLane, uint32_t(b)) ^
          uint32_t(c);
    p += 3 * kLaneBytes;
    n -= 3 * kLaneBytes;
  }
  return extend_sse42_serial(crc, p, n);
}
const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
#if defined(__x86_64__)
  crc = kHaveSse42 ? extend_sse42(crc, p, size) : extend_portable(crc, p, size);
#else
  crc = extend_portable(crc, p, size);
#endif
  return ~crc;
}

}  // namespace roadpulse::log
