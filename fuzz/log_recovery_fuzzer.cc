// Shard recovery on arbitrary bytes. Whatever the active segment holds, opening must either
// refuse with an error or recover a shard whose records are dense from its base, readable, and
// identical when recovered a second time. Never crash, hang or read out of bounds.
//
// Input: byte 0 picks the shape, byte 1 a checkpoint offset hint, the rest is material.
//   0: a valid segment header followed by the raw material
//   1: the raw material as the whole file
//   2: valid batches built from the material, then damaged at offsets the material picks

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "log/crc32c.h"
#include "log/file_system.h"
#include "log/format.h"
#include "log/shard.h"

namespace {

using namespace roadpulse::log;

const std::string& scratch() {
  // tmpfs when available: fsync is free there, so the fuzzer runs fast.
  static const std::string dir = [] {
    const std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    return base + "/rp-log-fuzz-" + std::to_string(::getpid());
  }();
  return dir;
}

void write_file(const std::string& path, const std::string& data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  std::fwrite(data.data(), 1, data.size(), f);
  std::fclose(f);
}

std::string build_segment(uint8_t shape, std::string_view material) {
  constexpr uint32_t kEpoch = 0x5eed5eed;
  std::string file = encode_segment_header(SegmentHeader{kEpoch, 0, 1});
  if (shape == 0) return file + std::string(material);
  if (shape == 1) return std::string(material);
  // Shape 2: records from the material, a few per batch, then damage.
  uint64_t seq = 0;
  int64_t durable = kSegmentHeaderSize;
  size_t at = 0;
  while (at + 2 <= material.size() && file.size() < (1 << 16)) {
    const size_t len = static_cast<uint8_t>(material[at]) % 64;
    const int count = 1 + static_cast<uint8_t>(material[at + 1]) % 4;
    at += 2;
    std::string raw;
    for (int i = 0; i < count; ++i) {
      const std::string_view data = material.substr(std::min(at, material.size()), len);
      append_record(raw, i, "k", data);
      at += data.size();
    }
    BatchHeader header;
    header.epoch = kEpoch;
    header.record_count = static_cast<uint32_t>(count);
    header.base_sequence = seq;
    header.first_timestamp_ms = header.max_timestamp_ms = 1000 + static_cast<int64_t>(seq);
    header.durable_upto = static_cast<uint64_t>(durable);
    auto batch = encode_batch(header, raw, static_cast<Compression>(seq % 3));
    if (!batch.ok()) std::abort();
    file += *batch;
    seq += static_cast<uint64_t>(count);
    if (len % 3 == 0) durable = static_cast<int64_t>(file.size());
  }
  // Damage: the remaining material is (offset, xor) pairs.
  for (; at + 3 <= material.size(); at += 3) {
    const size_t off =
        (static_cast<uint8_t>(material[at]) << 8 | static_cast<uint8_t>(material[at + 1])) %
        file.size();
    file[off] = static_cast<char>(file[off] ^ material[at + 2]);
  }
  return file;
}

uint64_t recover_and_check(const std::string& dir) {
  ShardOptions options;
  options.segment_bytes = 1 << 20;
  auto shard = Shard::open(posix_file_system().get(), dir, ShardId{0}, 0, options);
  if (!shard.ok()) return ~uint64_t{0};  // refusing is a fine answer
  uint64_t next = 0;
  while (true) {
    auto result = (*shard)->read(next, 1000, 1 << 20);
    if (!result.ok()) std::abort();  // recovered data must be readable
    for (const auto& r : result->records) {
      if (r.sequence.value != next) std::abort();  // dense from the base
      ++next;
    }
    if (result->records.empty()) break;
  }
  if ((*shard)->stats().next_sequence != next) std::abort();
  return next;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t shape = data[0] % 3;
  const std::string_view material(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::string dir = scratch() + "/shard";
  std::filesystem::remove_all(scratch());
  std::filesystem::create_directories(dir);
  write_file(dir + "/00000000000000000000.log", build_segment(shape, material));
  if (data[1] & 1) {  // a clean-shutdown checkpoint claiming some durable offset
    std::string checkpoint(20, '\0');
    put_u64(checkpoint.data(), 0);
    put_u64(checkpoint.data() + 8, static_cast<uint64_t>(data[1]) * 64);
    put_u32(checkpoint.data() + 16, mask_crc(crc32c_extend(0, checkpoint.data(), 16)));
    write_file(dir + "/checkpoint", checkpoint);
  }
  const uint64_t first = recover_and_check(dir);
  const uint64_t second = recover_and_check(dir);
  if (first != ~uint64_t{0} && first != second) std::abort();  // recovery is idempotent
  std::filesystem::remove_all(scratch());
  return 0;
}
