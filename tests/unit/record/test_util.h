#pragma once
// Helpers shared by the record tests: reading whole inputs through CsvReader.

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <arrow/testing/gtest_util.h>

#include "record/csv_reader.h"

namespace roadpulse::record::testing {

struct OwnedRecord {
  std::vector<std::string> fields;
  int64_t line = 0;
  std::string raw;
  std::string error;
  bool operator==(const OwnedRecord&) const = default;
};

inline arrow::Result<std::vector<OwnedRecord>> read_all(std::unique_ptr<ByteSource> source,
                                                        size_t chunk_size = 1 << 20) {
  CsvReaderOptions options;
  options.chunk_size = chunk_size;
  ARROW_ASSIGN_OR_RAISE(auto reader, CsvReader::make(std::move(source), options));
  std::vector<OwnedRecord> out;
  while (true) {
    ARROW_ASSIGN_OR_RAISE(const CsvRecord* rec, reader->next());
    if (rec == nullptr) break;
    OwnedRecord owned;
    for (auto f : rec->fields) owned.fields.emplace_back(f);
    owned.line = rec->line;
    owned.raw = std::string(rec->raw);
    owned.error = rec->error;
    out.push_back(std::move(owned));
  }
  return out;
}

inline arrow::Result<std::vector<OwnedRecord>> read_text(std::string text,
                                                         size_t chunk_size = 1 << 20) {
  return read_all(make_buffer_source(std::move(text)), chunk_size);
}

inline std::string shared_data(const std::string& name) {
  return std::string(ROADPULSE_SHARED_DIR) + "/data/" + name;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace roadpulse::record::testing
