#pragma once
// A FileSystem wrapper for crash and fault tests (after RocksDB's FaultInjectionTestFS). It
// remembers every write not yet covered by a sync, and on crash() reverts, keeps or tears those
// writes (and forgets files whose directory entry was never synced), as a power loss could. It
// can also fail writes or syncs with EIO. After crash() every call fails until revive(), so the
// store that was running can be destroyed without touching the "disk" again.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "log/file_system.h"

namespace roadpulse::log {

enum class CrashMode {
  kDropUnsynced,  // every unsynced write is lost
  kKeepUnsynced,  // every unsynced write survives (the OS flushed it in time)
  kTearUnsynced,  // each unsynced write is kept, lost, or kept as a prefix, at random
};

class FaultInjectionFileSystem final : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(std::shared_ptr<FileSystem> base);

  arrow::Result<std::unique_ptr<File>> open(const std::string& path, bool create) override;
  arrow::Status rename(const std::string& from, const std::string& to) override;
  arrow::Status remove(const std::string& path) override;
  arrow::Status remove_all(const std::string& path) override;
  arrow::Status create_dir(const std::string& path) override;
  arrow::Status sync_dir(const std::string& path) override;
  arrow::Result<std::vector<std::string>> list_dir(const std::string& path) override;
  arrow::Result<bool> exists(const std::string& path) override;

  /// Simulates power loss now, then fails every call until revive().
  arrow::Status crash(CrashMode mode, uint64_t seed = 1);
  void revive();
  /// The next `count` syncs (file or directory) fail with EIO; later ones succeed again.
  void fail_syncs(int count);
  /// Every write fails with ENOSPC while set.
  void fail_writes(bool fail);
  int64_t sync_count() const;

  // Used by the file wrapper.
  struct PendingWrite {
    int64_t offset;
    std::string old_bytes;  // content before the write (empty past the old end of file)
    int64_t length;
  };
  arrow::Status check_alive() const;
  arrow::Status before_write(const std::string& path, File& base, int64_t offset, int64_t length);
  arrow::Status on_sync(const std::string& path);

 private:
  std::shared_ptr<FileSystem> base_;
  mutable std::mutex mu_;
  bool crashed_ = false;
  int failing_syncs_ = 0;
  bool failing_writes_ = false;
  int64_t syncs_ = 0;
  std::map<std::string, std::vector<PendingWrite>> pending_;
  std::set<std::string> unsynced_entries_;  // created files whose directory is not synced yet
};

}  // namespace roadpulse::log
