#pragma once
// Exclusive ownership of a data directory: an flock on <data-dir>/LOCK holding "pid command".
// The kernel drops the lock when the process dies, so a crash never leaves a stale lock.

#include <memory>
#include <string>

#include <arrow/result.h>

namespace roadpulse::log {

class DataDirLock {
 public:
  /// IOError "data dir <path> is in use by pid N (<command>); talk to that server with
  /// --server URL instead" when another process (or another LogStore) holds it.
  static arrow::Result<std::unique_ptr<DataDirLock>> acquire(const std::string& data_dir);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace roadpulse::log
