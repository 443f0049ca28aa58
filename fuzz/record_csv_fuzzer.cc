// CSV reader + JSON encoder/decoder on arbitrary bytes. Beyond "no crash", it checks:
// - the records do not depend on how the input is chunked (64-byte vs 1 MiB reads);
// - a row the encoder accepts decodes back to the same typed values (CSV -> JSON -> Row).

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "record/csv_reader.h"
#include "record/json_event.h"
#include "record/value.h"

namespace {

using namespace roadpulse::record;

struct Owned {
  std::vector<std::string> fields;
  int64_t line;
  std::string raw, error;
  bool operator==(const Owned&) const = default;
};

std::vector<Owned> read_all(const std::string& text, size_t chunk) {
  CsvReaderOptions options;
  options.chunk_size = chunk;
  options.max_record_bytes = 1 << 20;
  std::vector<Owned> out;
  auto reader = CsvReader::make(make_buffer_source(text), options).ValueOrDie();
  while (true) {
    auto rec = reader->next();
    if (!rec.ok()) break;  // only the record-size limit can end a read early
    if (*rec == nullptr) break;
    Owned o{{}, (*rec)->line, std::string((*rec)->raw), (*rec)->error};
    for (auto f : (*rec)->fields) o.fields.emplace_back(f);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto big = read_all(text, 1 << 20);
  if (read_all(text, 64) != big) std::abort();
  if (big.empty() || !big[0].error.empty()) return 0;
  auto schema = Schema::from_header(big[0].fields);
  if (!schema.ok()) return 0;
  const JsonEventEncoder encoder(*schema);
  auto decoder = JsonEventDecoder::make(*schema).ValueOrDie();
  std::string json;
  for (size_t i = 1; i < big.size(); ++i) {
    if (!big[i].error.empty()) continue;
    const std::vector<std::string_view> fields(big[i].fields.begin(), big[i].fields.end());
    json.clear();
    if (!encoder.append(fields, "2026-01-01T00:00:00.000", json).ok()) continue;
    auto expected = parse_row(*schema, fields);
    auto decoded = decoder->decode(json);
    if (!expected.ok() || !decoded.ok() || decoded->row != *expected) std::abort();
  }
  return 0;
}
