#pragma once
// Helpers shared by the log tests: scratch directories and record builders.

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "log/log.h"

namespace roadpulse::log::testing {

class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "rp-log-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Owns the bytes AppendRecord views point at.
struct RecordBatch {
  std::vector<std::string> keys;
  std::vector<std::string> data;
  std::vector<AppendRecord> records;

  void add(std::string key, std::string value) {
    keys.push_back(std::move(key));
    data.push_back(std::move(value));
  }
  std::span<const AppendRecord> view() {
    records.clear();
    for (size_t i = 0; i < keys.size(); ++i) records.push_back({keys[i], data[i], std::nullopt});
    return records;
  }
};

/// Reads a whole shard from `from` to its visible end.
inline std::vector<StoredRecord> read_all(LogStore& store, std::string_view stream, ShardId shard,
                                          SequenceNumber from = {}) {
  std::vector<StoredRecord> out;
  while (true) {
    auto result = store.read(stream, shard, from, 1000, 1 << 20);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    if (!result.ok() || result->records.empty()) break;
    for (auto& r : result->records) out.push_back(std::move(r));
    from = result->next;
  }
  return out;
}

}  // namespace roadpulse::log::testing
