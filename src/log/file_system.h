#pragma once
// The log's only door to the disk. Every read, write, sync, rename and directory operation goes
// through FileSystem so tests can swap in FaultInjectionFileSystem (dropped unsynced data, torn
// writes, EIO on fdatasync) and check that nothing acknowledged is ever lost.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/buffer.h>
#include <arrow/result.h>
#include <arrow/status.h>

namespace roadpulse::log {

/// An open file with positional I/O. read_at/write_at are safe to call from several threads at
/// once (pread/pwrite); the log serialises writers itself.
class File {
 public:
  virtual ~File() = default;
  virtual const std::string& path() const = 0;
  virtual arrow::Status write_at(int64_t offset, std::string_view data) = 0;
  /// Reads up to `size` bytes; returns how many were read (short at end of file).
  virtual arrow::Result<int64_t> read_at(int64_t offset, int64_t size, char* out) = 0;
  /// fdatasync: data (and the size, if it changed) reach stable storage.
  virtual arrow::Status sync() = 0;
  /// Reserves space and sets the size to at least `size` (fallocate), so later syncs need not
  /// persist a size change.
  virtual arrow::Status allocate(int64_t size) = 0;
  virtual arrow::Status truncate(int64_t size) = 0;
  virtual arrow::Result<int64_t> size() = 0;
  /// The bytes [offset, offset + size) mapped read-only, without a copy: the buffer unmaps them
  /// when its last reference goes. The range must lie within the file, and nothing may shrink
  /// the file below what a live mapping is used for. NotImplemented: use read_at.
  virtual arrow::Result<std::shared_ptr<arrow::Buffer>> map(int64_t offset, int64_t size) {
    (void)offset;
    (void)size;
    return arrow::Status::NotImplemented("map");
  }
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  /// Opens for reading and writing; creates the file (empty) when `create` is true.
  virtual arrow::Result<std::unique_ptr<File>> open(const std::string& path, bool create) = 0;
  virtual arrow::Status rename(const std::string& from, const std::string& to) = 0;
  virtual arrow::Status remove(const std::string& path) = 0;
  virtual arrow::Status remove_all(const std::string& path) = 0;
  virtual arrow::Status create_dir(const std::string& path) = 0;  // with parents; ok if present
  /// fsync of a directory: makes created, renamed and removed entries durable.
  virtual arrow::Status sync_dir(const std::string& path) = 0;
  virtual arrow::Result<std::vector<std::string>> list_dir(const std::string& path) = 0;
  virtual arrow::Result<bool> exists(const std::string& path) = 0;

  /// Whole small file, for metadata. NotFound (status code) when missing.
  arrow::Result<std::string> read_file(const std::string& path);
  /// Writes `data` to path+".tmp", syncs it, renames it over `path` and syncs the directory:
  /// readers see the old or the new content, never a mix.
  arrow::Status write_file_atomic(const std::string& path, std::string_view data);
};

/// The real disk (POSIX calls).
std::shared_ptr<FileSystem> posix_file_system();

/// Joins two path parts with one '/'.
std::string join_path(std::string_view a, std::string_view b);
std::string parent_path(std::string_view path);

}  // namespace roadpulse::log
