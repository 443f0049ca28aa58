#pragma once
// CRC-32C (Castagnoli), the checksum of every log batch, index and metadata file. Uses the SSE4.2
// crc32 instruction when the CPU has it and a slicing table otherwise; both give the same values.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace roadpulse::log {

/// Extends `crc` (0 to start) over `size` bytes.
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size);
inline uint32_t crc32c(std::string_view data) { return crc32c_extend(0, data.data(), data.size()); }

/// Masked CRC (as RocksDB/LevelDB): storing the CRC of data that itself contains CRCs weakens
/// them, so stored values are rotated and offset.
inline uint32_t mask_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t unmask_crc(uint32_t masked) {
  const uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace roadpulse::log
