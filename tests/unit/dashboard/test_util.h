#pragma once
// Shared by the dashboard tests: a scratch data dir with an open log, and a BodyWriter that
// records what a Server-Sent Events client would receive.

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "log/log.h"
#include "server/http_server.h"

namespace roadpulse::dashboard::testing {

class DataDir {
 public:
  DataDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "rp-dash-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
    log::LogOptions options;
    options.data_dir = path_;
    options.durability = log::Durability::kNone;
    options.retention_thread = false;
    log_ = log::LogStore::open(options).ValueOrDie();
  }
  ~DataDir() {
    log_.reset();
    std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }
  log::LogStore* log() { return log_.get(); }
  std::shared_ptr<log::LogStore> shared_log() {
    return std::shared_ptr<log::LogStore>(log_.get(), [](log::LogStore*) {});
  }
  void append(const std::string& stream, const std::string& key, const std::string& data) {
    log::AppendRecord r{key, data, std::nullopt};
    ASSERT_OK(log_->append(stream, std::span<const log::AppendRecord>(&r, 1)).status());
  }

 private:
  std::string path_;
  std::unique_ptr<log::LogStore> log_;
};

class RecordingWriter : public server::BodyWriter {
 public:
  bool write(std::string_view data) override {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    text_ += data;
    return true;
  }
  void close() override {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  bool closed() const override {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  std::string text() const {
    std::lock_guard lock(mutex_);
    return text_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    text_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::string text_;
  bool closed_ = false;
};

}  // namespace roadpulse::dashboard::testing
