// The archive's naming, record checks and zstd framing (see archive.h for the layout).

#include <zstd.h>

#include <cstdio>
#include <string>

#include <arrow/util/base64.h>
#include <fmt/format.h>
#include <simdjson.h>

#include "archive/archive.h"
#include "common/json_text.h"
#include "common/time.h"

namespace roadpulse::archive {

std::optional<std::string> check_record(std::string_view data) {
  if (data.empty()) return std::string("empty record");
  // One parser per thread: its buffers grow to the largest record and are reused.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (auto error = parser.parse(data.data(), data.size(), true).get(element)) {
    return fmt::format("not valid JSON: {}", simdjson::error_message(error));
  }
  if (!element.is_object()) return std::string("not a JSON object");
  return std::nullopt;
}

std::string hour_partition(int64_t arrival_ms) {
  int64_t days = arrival_ms / 86'400'000;
  int64_t ms_of_day = arrival_ms % 86'400'000;
  if (ms_of_day < 0) {  // before 1970: floor, not truncation
    ms_of_day += 86'400'000;
    --days;
  }
  const CivilDate date = civil_from_days(days);
  return fmt::format("dt={:04d}-{:02d}-{:02d}/hour={:02d}", date.y, date.m, date.d,
                     ms_of_day / 3'600'000);
}

std::string data_file_name(log::ShardId shard, log::SequenceNumber first) {
  return fmt::format("part-{}-{:020d}.jsonl.zst", shard.to_string(), first.value);
}

std::string archive_table_name(const std::string& stream) { return "raw." + stream; }

std::string error_line(const log::StoredRecord& record, const std::string& reason) {
  std::string out = "{\"reason\": ";
  append_json_string(reason, out);
  out += fmt::format(
      ", \"shard\": \"{}\", \"sequence\": \"{}\", \"arrivalTimestamp\": {}, \"partitionKey\": ",
      record.shard.to_string(), record.sequence.value, record.arrival_ms);
  append_json_string(record.partition_key, out);
  out += ", \"rawData\": \"";
  out += arrow::util::base64_encode(record.data);
  out += "\"}";
  return out;
}

std::string prometheus_text(const std::string& stream, const ArchiveStats& s) {
  std::string label = "{stream=";
  append_json_string(stream, label);  // Prometheus label values escape like JSON strings
  label += "}";
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, double value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{}{} {}\n", name, help, name, type, name, label,
                       value);
  };
  metric("roadpulse_archive_records_total", "counter", "Records written to the raw archive.",
         double(s.records));
  metric("roadpulse_archive_bytes_total", "counter", "Record bytes archived (uncompressed).",
         double(s.bytes));
  metric("roadpulse_archive_written_bytes_total", "counter",
         "Compressed bytes of the archive files written.", double(s.bytes_written));
  metric("roadpulse_archive_files_total", "counter", "Archive files written (data and errors).",
         double(s.files));
  metric("roadpulse_archive_error_records_total", "counter",
         "Records written under _errors/ (not JSON objects).", double(s.error_records));
  metric("roadpulse_archive_expired_records_total", "counter",
         "Records the log's retention removed before they were archived.",
         double(s.expired_records));
  metric("roadpulse_archive_buffered_records", "gauge", "Records read, not yet flushed.",
         double(s.buffered_records));
  metric("roadpulse_archive_last_flush_timestamp_seconds", "gauge",
         "Wall clock of the last flush (0 before the first).", double(s.last_flush_ms) / 1000.0);
  return out;
}

arrow::Result<std::string> zstd_compress(std::string_view data, int level) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) {
    return arrow::Status::IOError("zstd compression failed: ", ZSTD_getErrorName(n));
  }
  out.resize(n);
  return out;
}

arrow::Result<std::string> zstd_decompress(std::string_view data) {
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> stream(ZSTD_createDStream(),
                                                                  ZSTD_freeDStream);
  if (!stream) return arrow::Status::OutOfMemory("zstd: cannot create a decompression stream");
  std::string out;
  if (data.empty()) return out;
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  size_t last = 0;
  while (true) {
    ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
    last = ZSTD_decompressStream(stream.get(), &o, &in);
    if (ZSTD_isError(last)) {
      return arrow::Status::Invalid("zstd: corrupt data at byte ", in.pos, ": ",
                                    ZSTD_getErrorName(last));
    }
    out.append(chunk.data(), o.pos);
    // Done once the input is consumed and the decoder had room to spare (nothing held back).
    if (in.pos == in.size && o.pos < o.size) break;
  }
  if (last != 0) return arrow::Status::Invalid("zstd: truncated frame");
  return out;
}

}  // namespace roadpulse::archive
