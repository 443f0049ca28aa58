#include "log/fault_injection_file_system.h"

#include <random>

namespace roadpulse::log {
namespace {

class FaultFile final : public File {
 public:
  FaultFile(FaultInjectionFileSystem* fs, std::unique_ptr<File> base)
      : fs_(fs), base_(std::move(base)) {}
  const std::string& path() const override { return base_->path(); }

  arrow::Status write_at(int64_t offset, std::string_view data) override {
    ARROW_RETURN_NOT_OK(fs_->before_write(path(), *base_, offset, data.size()));
    return base_->write_at(offset, data);
  }
  arrow::Result<int64_t> read_at(int64_t offset, int64_t size, char* out) override {
    ARROW_RETURN_NOT_OK(fs_->check_alive());
    return base_->read_at(offset, size, out);
  }
  arrow::Status sync() override {
    ARROW_RETURN_NOT_OK(fs_->on_sync(path()));
    return base_->sync();
  }
  arrow::Status allocate(int64_t size) override {
    ARROW_RETURN_NOT_OK(fs_->check_alive());
    return base_->allocate(size);
  }
  arrow::Status truncate(int64_t size) override {
    ARROW_RETURN_NOT_OK(fs_->check_alive());
    return base_->truncate(size);
  }
  arrow::Result<int64_t> size() override {
    ARROW_RETURN_NOT_OK(fs_->check_alive());
    return base_->size();
  }

 private:
  FaultInjectionFileSystem* fs_;
  std::unique_ptr<File> base_;
};

}  // namespace

FaultInjectionFileSystem::FaultInjectionFileSystem(std::shared_ptr<FileSystem> base)
    : base_(std::move(base)) {}

arrow::Status FaultInjectionFileSystem::check_alive() const {
  std::lock_guard lock(mu_);
  if (crashed_) return arrow::Status::IOError("simulated crash: file system is down");
  return arrow::Status::OK();
}

arrow::Status FaultInjectionFileSystem::before_write(const std::string& path, File& base,
                                                     int64_t offset, int64_t length) {
  std::lock_guard lock(mu_);
  if (crashed_) return arrow::Status::IOError("simulated crash: file system is down");
  if (failing_writes_) return arrow::Status::IOError("write ", path, ": No space left on device");
  PendingWrite write{offset, std::string(static_cast<size_t>(length), '\0'), length};
  ARROW_ASSIGN_OR_RAISE(int64_t n, base.read_at(offset, length, write.old_bytes.data()));
  write.old_bytes.resize(static_cast<size_t>(n));
  pending_[path].push_back(std::move(write));
  return arrow::Status::OK();
}

arrow::Status FaultInjectionFileSystem::on_sync(const std::string& path) {
  std::lock_guard lock(mu_);
  if (crashed_) return arrow::Status::IOError("simulated crash: file system is down");
  ++syncs_;
  if (failing_syncs_ > 0) {
    --failing_syncs_;
    // As Linux after a failed writeback: the dirty data is gone and the error is reported once.
    return arrow::Status::IOError("fdatasync ", path, ": Input/output error");
  }
  pending_.erase(path);
  return arrow::Status::OK();
}

arrow::Result<std::unique_ptr<File>> FaultInjectionFileSystem::open(const std::string& path,
                                                                    bool create) {
  ARROW_RETURN_NOT_OK(check_alive());
  ARROW_ASSIGN_OR_RAISE(bool existed, base_->exists(path));
  ARROW_ASSIGN_OR_RAISE(auto file, base_->open(path, create));
  if (!existed) {
    std::lock_guard lock(mu_);
    unsynced_entries_.insert(path);
  }
  return std::make_unique<FaultFile>(this, std::move(file));
}

arrow::Status FaultInjectionFileSystem::rename(const std::string& from, const std::string& to) {
  ARROW_RETURN_NOT_OK(check_alive());
  ARROW_RETURN_NOT_OK(base_->rename(from, to));
  std::lock_guard lock(mu_);
  auto it = pending_.find(from);
  if (it != pending_.end()) {
    pending_[to] = std::move(it->second);
    pending_.erase(it);
  }
  if (unsynced_entries_.erase(from) > 0) unsynced_entries_.insert(to);
  return arrow::Status::OK();
}

arrow::Status FaultInjectionFileSystem::remove(const std::string& path) {
  ARROW_RETURN_NOT_OK(check_alive());
  std::lock_guard lock(mu_);
  pending_.erase(path);
  unsynced_entries_.erase(path);
  return base_->remove(path);
}

arrow::Status FaultInjectionFileSystem::remove_all(const std::string& path) {
  ARROW_RETURN_NOT_OK(check_alive());
  std::lock_guard lock(mu_);
  const std::string prefix = path + "/";
  std::erase_if(pending_, [&](const auto& e) { return e.first.starts_with(prefix); });
  std::erase_if(unsynced_entries_, [&](const auto& p) { return p.starts_with(prefix); });
  return base_->remove_all(path);
}

arrow::Status FaultInjectionFileSystem::create_dir(const std::string& path) {
  ARROW_RETURN_NOT_OK(check_alive());
  return base_->create_dir(path);
}

arrow::Status FaultInjectionFileSystem::sync_dir(const std::string& path) {
  {
    std::lock_guard lock(mu_);
    if (crashed_) return arrow::Status::IOError("simulated crash: file system is down");
    ++syncs_;
    if (failing_syncs_ > 0) {
      --failing_syncs_;
      return arrow::Status::IOError("fsync directory ", path, ": Input/output error");
    }
    const std::string prefix = path.ends_with('/') ? path : path + "/";
    std::erase_if(unsynced_entries_, [&](const std::string& p) {
      return p.starts_with(prefix) && p.find('/', prefix.size()) == std::string::npos;
    });
  }
  return base_->sync_dir(path);
}

arrow::Result<std::vector<std::string>> FaultInjectionFileSystem::list_dir(
    const std::string& path) {
  ARROW_RETURN_NOT_OK(check_alive());
  return base_->list_dir(path);
}

arrow::Result<bool> FaultInjectionFileSystem::exists(const std::string& path) {
  ARROW_RETURN_NOT_OK(check_alive());
  return base_->exists(path);
}

arrow::Status FaultInjectionFileSystem::crash(CrashMode mode, uint64_t seed) {
  std::lock_guard lock(mu_);
  std::mt19937_64 rng(seed);
  for (auto& [path, writes] : pending_) {
    if (mode == CrashMode::kKeepUnsynced || unsynced_entries_.count(path)) continue;
    ARROW_ASSIGN_OR_RAISE(auto file, base_->open(path, false));
    // Undo newest first so overlapping writes restore the oldest content.
    for (auto it = writes.rbegin(); it != writes.rend(); ++it) {
      int64_t keep = 0;
      if (mode == CrashMode::kTearUnsynced) {
        switch (rng() % 3) {
          case 0:
            keep = it->length;
            break;
          case 1:
            keep = 0;
            break;
          default:
            keep = static_cast<int64_t>(rng() % static_cast<uint64_t>(it->length + 1));
        }
      }
      if (keep >= it->length) continue;
      std::string restore =
          it->old_bytes.substr(std::min<size_t>(it->old_bytes.size(), static_cast<size_t>(keep)));
      // Bytes past the old end of file come back as zeros (the file keeps its new size).
      restore.resize(static_cast<size_t>(it->length - keep), '\0');
      ARROW_RETURN_NOT_OK(file->write_at(it->offset + keep, restore));
    }
    ARROW_RETURN_NOT_OK(file->sync());
  }
  if (mode != CrashMode::kKeepUnsynced) {
    for (const auto& path : unsynced_entries_) ARROW_RETURN_NOT_OK(base_->remove(path));
  }
  pending_.clear();
  unsynced_entries_.clear();
  crashed_ = true;
  return arrow::Status::OK();
}

void FaultInjectionFileSystem::revive() {
  std::lock_guard lock(mu_);
  crashed_ = false;
}

void FaultInjectionFileSystem::fail_syncs(int count) {
  std::lock_guard lock(mu_);
  failing_syncs_ = count;
}

void FaultInjectionFileSystem::fail_writes(bool fail) {
  std::lock_guard lock(mu_);
  failing_writes_ = fail;
}

int64_t FaultInjectionFileSystem::sync_count() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

}  // namespace roadpulse::log
