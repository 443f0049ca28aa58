#pragma once
// On-disk format of the log (internal). All integers little-endian.
//
// Data directory
//   <data-dir>/LOCK                                  flock'ed by the owning process; "pid command"
//   <data-dir>/streams/<stream>/stream.meta          topology, written atomically (tmp+rename)
//   <data-dir>/streams/<stream>/shard-<12 digits>/<base sequence, 20 digits>.log   segments
//   <data-dir>/streams/<stream>/shard-<12 digits>/<base sequence, 20 digits>.idx   sealed index
//   <data-dir>/streams/<stream>/shard-<12 digits>/checkpoint   durable position at clean close
//   <data-dir>/positions/<consumer, escaped>.pos     consumer positions, written atomically
//
// Segment file (<base>.log): a 64-byte segment header, then batches back to back, then zeros
// (the file is preallocated in chunks; a zero magic marks the end of data).
//
//   +--------+--------+---------+-------+---------------+-----------+----------+---------+
//   | magic  | hdrcrc | version | pad   | segment epoch | base seq  | created  | reserved|
//   | u32    | u32    | u16     | u16   | u32           | u64       | i64 ms   | 28 B    |
//   +--------+--------+---------+-------+---------------+-----------+----------+---------+
//   magic = "RPLS"; hdrcrc = masked CRC-32C of bytes [8, 64). The epoch is random per file and
//   repeated in every batch, so bytes left from another file can never pass as a batch.
//
// Batch: a 64-byte header, then `payload_length` bytes of (possibly compressed) payload.
//
//   off  size  field
//     0     4  magic "RPLB"
//     4     4  header crc: masked CRC-32C of bytes [8, 64) -- verified before trusting lengths
//     8     2  version (1)
//    10     2  flags: bits 0-1 compression (0 none, 1 zstd, 2 lz4)
//    12     4  payload_length (stored bytes after the header)
//    16     4  segment epoch
//    20     4  record_count (>= 1)
//    24     8  base_sequence: the first record's sequence number; records are dense from there
//    32     8  first_timestamp_ms (arrival)
//    40     8  max_timestamp_ms
//    48     8  durable_upto: file offset known to be synced when this batch was written
//    56     4  payload crc: masked CRC-32C of the stored payload
//    60     4  raw_length: payload length after decompression
//
//   Payload (after decompression), per record:
//     varint timestamp delta (ms after first_timestamp_ms) | varint key length | key bytes |
//     varint data length | data bytes
//
// Index file (<base>.idx), written when a segment is sealed; rebuilt by scanning when missing
// or when its CRC fails:
//   magic "RPLI" u32 | crc u32 (masked, over everything after it) | entry count u32 | pad u32 |
//   data end u64 | entries: { base_sequence u64, file offset u64, max_timestamp_ms i64 }
//   One entry per >= 4 KiB of segment (always the first batch): sparse, like Kafka's .index.
//
// Recovery (Shard::recover): sealed segments are trusted when their index checks out; the last
// (active) segment is scanned batch by batch checking magic, both CRCs, epoch and dense
// sequence numbers. At the first bad batch at offset P, W = max(checkpoint, durable_upto of
// any valid batch found later in the file). P < W means acknowledged data is damaged: the
// shard refuses to open. Otherwise the tail is torn: it is cut at P and zeroed.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <arrow/result.h>

#include "log/log.h"

namespace roadpulse::log {

inline constexpr uint32_t kSegmentMagic = 0x534c5052;  // "RPLS"
inline constexpr uint32_t kBatchMagic = 0x424c5052;    // "RPLB"
inline constexpr uint32_t kIndexMagic = 0x494c5052;    // "RPLI"
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr int64_t kSegmentHeaderSize = 64;
inline constexpr int64_t kBatchHeaderSize = 64;
inline constexpr int64_t kIndexIntervalBytes = 4096;
inline constexpr int64_t kMaxBatchPayload = 64LL << 20;  // sanity bound on a length field

struct SegmentHeader {
  uint32_t epoch = 0;
  uint64_t base_sequence = 0;
  int64_t created_ms = 0;
};

struct BatchHeader {
  uint16_t flags = 0;
  uint32_t payload_length = 0;
  uint32_t epoch = 0;
  uint32_t record_count = 0;
  uint64_t base_sequence = 0;
  int64_t first_timestamp_ms = 0;
  int64_t max_timestamp_ms = 0;
  uint64_t durable_upto = 0;
  uint32_t payload_crc = 0;
  uint32_t raw_length = 0;

  Compression compression() const { return static_cast<Compression>(flags & 3); }
  uint64_t end_sequence() const { return base_sequence + record_count; }
  int64_t total_size() const { return kBatchHeaderSize + payload_length; }
};

std::string encode_segment_header(const SegmentHeader& header);
/// Invalid when the magic or CRC does not match.
arrow::Result<SegmentHeader> decode_segment_header(std::string_view bytes);

/// Why a header failed to decode: the end of data (all-zero magic) or damage.
enum class HeaderCheck { kOk, kZero, kBad };
HeaderCheck decode_batch_header(std::string_view bytes, BatchHeader* out);

/// Appends one record to an uncompressed payload.
void append_record(std::string& payload, int64_t ts_delta, std::string_view key,
                   std::string_view data);

/// Builds the stored batch (header + payload) from an uncompressed payload; fills the header's
/// lengths, flags and CRCs.
arrow::Result<std::string> encode_batch(BatchHeader header, std::string_view raw_payload,
                                        Compression compression);
/// Same, for a buffer whose first kBatchHeaderSize bytes are reserved for the header and the
/// rest is the uncompressed payload: uncompressed batches are finished in place, no copy.
arrow::Result<std::string> encode_batch_in_place(BatchHeader header, std::string buffer,
                                                 Compression compression);

/// Checks the payload CRC, decompresses, and decodes the records (shard id left to the caller).
arrow::Status decode_batch_records(const BatchHeader& header, std::string_view stored_payload,
                                   std::vector<StoredRecord>* out);
/// Same, as views: into `stored_payload` for an uncompressed batch, else into `*decompressed`
/// (allocated here).
arrow::Status decode_batch_views(const BatchHeader& header, std::string_view stored_payload,
                                 std::shared_ptr<arrow::Buffer>* decompressed,
                                 std::vector<RecordView>* out);

inline void put_u16(char* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void put_u32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void put_u64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint16_t get_u16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t get_u32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t get_u64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace roadpulse::log
