#include "log/format.h"

#include <lz4.h>
#include <zstd.h>

#include "log/crc32c.h"

namespace roadpulse::log {
namespace {

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view& in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in.empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string encode_segment_header(const SegmentHeader& header) {
  std::string out(kSegmentHeaderSize, '\0');
  char* p = out.data();
  put_u32(p, kSegmentMagic);
  put_u16(p + 8, kFormatVersion);
  put_u32(p + 12, header.epoch);
  put_u64(p + 16, header.base_sequence);
  put_u64(p + 24, static_cast<uint64_t>(header.created_ms));
  put_u32(p + 4, mask_crc(crc32c_extend(0, p + 8, kSegmentHeaderSize - 8)));
  return out;
}

arrow::Result<SegmentHeader> decode_segment_header(std::string_view bytes) {
  if (static_cast<int64_t>(bytes.size()) < kSegmentHeaderSize) {
    return arrow::Status::Invalid("segment header truncated (", bytes.size(), " bytes)");
  }
  const char* p = bytes.data();
  if (get_u32(p) != kSegmentMagic) return arrow::Status::Invalid("bad segment magic");
  if (unmask_crc(get_u32(p + 4)) != crc32c_extend(0, p + 8, kSegmentHeaderSize - 8)) {
    return arrow::Status::Invalid("segment header checksum mismatch");
  }
  if (get_u16(p + 8) != kFormatVersion) {
    return arrow::Status::Invalid("unsupported segment version ", get_u16(p + 8));
  }
  SegmentHeader h;
  h.epoch = get_u32(p + 12);
  h.base_sequence = get_u64(p + 16);
  h.created_ms = static_cast<int64_t>(get_u64(p + 24));
  return h;
}

HeaderCheck decode_batch_header(std::string_view bytes, BatchHeader* out) {
  if (static_cast<int64_t>(bytes.size()) < kBatchHeaderSize) return HeaderCheck::kBad;
  const char* p = bytes.data();
  const uint32_t magic = get_u32(p);
  if (magic == 0) {
    // Zero magic is the preallocated end only if the whole header is zero.
    for (int64_t i = 0; i < kBatchHeaderSize; ++i) {
      if (p[i] != 0) return HeaderCheck::kBad;
    }
    return HeaderCheck::kZero;
  }
  if (magic != kBatchMagic) return HeaderCheck::kBad;
  if (unmask_crc(get_u32(p + 4)) != crc32c_extend(0, p + 8, kBatchHeaderSize - 8)) {
    return HeaderCheck::kBad;
  }
  if (get_u16(p + 8) != kFormatVersion) return HeaderCheck::kBad;
  BatchHeader& h = *out;
  h.flags = get_u16(p + 10);
  h.payload_length = get_u32(p + 12);
  h.epoch = get_u32(p + 16);
  h.record_count = get_u32(p + 20);
  h.base_sequence = get_u64(p + 24);
  h.first_timestamp_ms = static_cast<int64_t>(get_u64(p + 32));
  h.max_timestamp_ms = static_cast<int64_t>(get_u64(p + 40));
  h.durable_upto = get_u64(p + 48);
  h.payload_crc = get_u32(p + 56);
  h.raw_length = get_u32(p + 60);
  if (h.record_count == 0 || (h.flags & 3) == 3 || h.payload_length > kMaxBatchPayload ||
      h.raw_length > kMaxBatchPayload) {
    return HeaderCheck::kBad;
  }
  return HeaderCheck::kOk;
}

void append_record(std::string& payload, int64_t ts_delta, std::string_view key,
                   std::string_view data) {
  put_varint(payload, static_cast<uint64_t>(ts_delta));
  put_varint(payload, key.size());
  payload.append(key);
  put_varint(payload, data.size());
  payload.append(data);
}

namespace {
void finish_header(BatchHeader header, std::string& out, size_t raw_length,
                   Compression compression);
}  // namespace

arrow::Result<std::string> encode_batch_in_place(BatchHeader header, std::string buffer,
                                                 Compression compression) {
  if (compression != Compression::kNone) {
    return encode_batch(header, std::string_view(buffer).substr(kBatchHeaderSize), compression);
  }
  const size_t raw_length = buffer.size() - kBatchHeaderSize;
  finish_header(header, buffer, raw_length, compression);
  return buffer;
}

arrow::Result<std::string> encode_batch(BatchHeader header, std::string_view raw,
                                        Compression compression) {
  std::string out(kBatchHeaderSize, '\0');
  switch (compression) {
    case Compression::kNone:
      out.append(raw);
      break;
    case Compression::kZstd: {
      out.resize(kBatchHeaderSize + ZSTD_compressBound(raw.size()));
      const size_t n = ZSTD_compress(out.data() + kBatchHeaderSize, out.size() - kBatchHeaderSize,
                                     raw.data(), raw.size(), 1);
      if (ZSTD_isError(n)) return arrow::Status::IOError("zstd: ", ZSTD_getErrorName(n));
      out.resize(kBatchHeaderSize + n);
      break;
    }
    case Compression::kLz4: {
      out.resize(kBatchHeaderSize + LZ4_compressBound(static_cast<int>(raw.size())));
      const int n = LZ4_compress_default(raw.data(), out.data() + kBatchHeaderSize,
                                         static_cast<int>(raw.size()),
                                         static_cast<int>(out.size() - kBatchHeaderSize));
      if (n <= 0) return arrow::Status::IOError("lz4 compression failed");
      out.resize(kBatchHeaderSize + n);
      break;
    }
  }
  finish_header(header, out, raw.size(), compression);
  return out;
}

namespace {
void finish_header(BatchHeader header, std::string& out, size_t raw_length,
                   Compression compression) {
  header.flags = static_cast<uint16_t>((header.flags & ~3) | static_cast<uint16_t>(compression));
  header.payload_length = static_cast<uint32_t>(out.size() - kBatchHeaderSize);
  header.raw_length = static_cast<uint32_t>(raw_length);
  char* p = out.data();
  put_u32(p, kBatchMagic);
  put_u16(p + 8, kFormatVersion);
  put_u16(p + 10, header.flags);
  put_u32(p + 12, header.payload_length);
  put_u32(p + 16, header.epoch);
  put_u32(p + 20, header.record_count);
  put_u64(p + 24, header.base_sequence);
  put_u64(p + 32, static_cast<uint64_t>(header.first_timestamp_ms));
  put_u64(p + 40, static_cast<uint64_t>(header.max_timestamp_ms));
  put_u64(p + 48, header.durable_upto);
  put_u32(p + 56, mask_crc(crc32c_extend(0, p + kBatchHeaderSize, header.payload_length)));
  put_u32(p + 60, header.raw_length);
  put_u32(p + 4, mask_crc(crc32c_extend(0, p + 8, kBatchHeaderSize - 8)));
}
}  // namespace

arrow::Status decode_batch_views(const BatchHeader& header, std::string_view stored,
                                 std::shared_ptr<arrow::Buffer>* decompressed,
                                 std::vector<RecordView>* out) {
  if (stored.size() != header.payload_length) {
    return arrow::Status::IOError("batch at sequence ", header.base_sequence, " is truncated");
  }
  if (unmask_crc(header.payload_crc) != crc32c_extend(0, stored.data(), stored.size())) {
    return arrow::Status::IOError("batch at sequence ", header.base_sequence,
                                  " fails its payload checksum");
  }
  std::string_view raw = stored;
  if (header.compression() != Compression::kNone) {
    ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::ResizableBuffer> buffer,
                          arrow::AllocateResizableBuffer(header.raw_length));
    auto* dst = reinterpret_cast<char*>(buffer->mutable_data());
    bool ok;
    if (header.compression() == Compression::kZstd) {
      const size_t n = ZSTD_decompress(dst, header.raw_length, stored.data(), stored.size());
      ok = !ZSTD_isError(n) && n == header.raw_length;
    } else {
      const int n = LZ4_decompress_safe(stored.data(), dst, static_cast<int>(stored.size()),
                                        static_cast<int>(header.raw_length));
      ok = n >= 0 && static_cast<uint32_t>(n) == header.raw_length;
    }
    if (!ok) {
      return arrow::Status::IOError("batch at sequence ", header.base_sequence, ": ",
                                    header.compression() == Compression::kZstd ? "zstd" : "lz4",
                                    " payload does not decompress");
    }
    raw = std::string_view(dst, header.raw_length);
    *decompressed = std::move(buffer);
  } else if (header.raw_length != header.payload_length) {
    return arrow::Status::IOError("batch at sequence ", header.base_sequence,
                                  ": raw length mismatch");
  }
  for (uint32_t i = 0; i < header.record_count; ++i) {
    uint64_t delta = 0, key_len = 0, data_len = 0;
    RecordView record;
    if (!get_varint(raw, &delta) || !get_varint(raw, &key_len) || key_len > raw.size()) {
      return arrow::Status::IOError("batch at sequence ", header.base_sequence, ": record ", i,
                                    " is malformed");
    }
    record.partition_key = raw.substr(0, key_len);
    raw.remove_prefix(key_len);
    if (!get_varint(raw, &data_len) || data_len > raw.size()) {
      return arrow::Status::IOError("batch at sequence ", header.base_sequence, ": record ", i,
                                    " is malformed");
    }
    record.data = raw.substr(0, data_len);
    raw.remove_prefix(data_len);
    record.sequence = SequenceNumber{header.base_sequence + i};
    record.arrival_ms = header.first_timestamp_ms + static_cast<int64_t>(delta);
    out->push_back(record);
  }
  if (!raw.empty()) {
    return arrow::Status::IOError("batch at sequence ", header.base_sequence,
                                  ": trailing bytes after its records");
  }
  return arrow::Status::OK();
}

arrow::Status decode_batch_records(const BatchHeader& header, std::string_view stored,
                                   std::vector<StoredRecord>* out) {
  std::shared_ptr<arrow::Buffer> decompressed;
  std::vector<RecordView> views;
  ARROW_RETURN_NOT_OK(decode_batch_views(header, stored, &decompressed, &views));
  for (const auto& v : views) {
    StoredRecord record;
    record.sequence = v.sequence;
    record.arrival_ms = v.arrival_ms;
    record.partition_key.assign(v.partition_key);
    record.data.assign(v.data);
    out->push_back(std::move(record));
  }
  return arrow::Status::OK();
}

}  // namespace roadpulse::log
