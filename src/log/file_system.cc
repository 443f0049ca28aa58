#include "log/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace roadpulse::log {
namespace {

// A read-only mapping of part of a file; unmapped with the buffer.
class MappedBuffer final : public arrow::Buffer {
 public:
  MappedBuffer(void* base, size_t length, const uint8_t* data, int64_t size)
      : arrow::Buffer(data, size), base_(base), length_(length) {}
  ~MappedBuffer() override { ::munmap(base_, length_); }

 private:
  void* base_;
  size_t length_;
};

arrow::Status errno_status(std::string_view what, const std::string& path, int err) {
  return arrow::Status::IOError(what, " ", path, ": ", std::strerror(err));
}

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFile() override { ::close(fd_); }
  const std::string& path() const override { return path_; }

  arrow::Status write_at(int64_t offset, std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      const ssize_t n = ::pwrite(fd_, p, left, offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_status("write", path_, errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
      offset += n;
    }
    return arrow::Status::OK();
  }

  arrow::Result<int64_t> read_at(int64_t offset, int64_t size, char* out) override {
    int64_t done = 0;
    while (done < size) {
      const ssize_t n = ::pread(fd_, out + done, static_cast<size_t>(size - done), offset + done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_status("read", path_, errno);
      }
      if (n == 0) break;
      done += n;
    }
    return done;
  }

  arrow::Result<std::shared_ptr<arrow::Buffer>> map(int64_t offset, int64_t size) override {
    static const int64_t page = ::sysconf(_SC_PAGESIZE);
    const int64_t start = offset / page * page;
    const auto length = static_cast<size_t>(offset + size - start);
    if (size <= 0) return std::make_shared<arrow::Buffer>(nullptr, 0);
    void* base = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd_, start);
    if (base == MAP_FAILED) return errno_status("mmap", path_, errno);
    return std::make_shared<MappedBuffer>(
        base, length, static_cast<const uint8_t*>(base) + (offset - start), size);
  }

  arrow::Status sync() override {
    if (::fdatasync(fd_) != 0) return errno_status("fdatasync", path_, errno);
    return arrow::Status::OK();
  }

  arrow::Status allocate(int64_t size) override {
    const int rc = ::posix_fallocate(fd_, 0, size);
    if (rc == 0) return arrow::Status::OK();
    if (rc == EOPNOTSUPP || rc == EINVAL) {
      // Filesystems without fallocate: extending the size still keeps syncs data-only.
      ARROW_ASSIGN_OR_RAISE(int64_t current, this->size());
      if (current < size && ::ftruncate(fd_, size) != 0) {
        return errno_status("ftruncate", path_, errno);
      }
      return arrow::Status::OK();
    }
    return errno_status("fallocate", path_, rc);
  }

  arrow::Status truncate(int64_t size) override {
    if (::ftruncate(fd_, size) != 0) return errno_status("ftruncate", path_, errno);
    return arrow::Status::OK();
  }

  arrow::Result<int64_t> size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return errno_status("fstat", path_, errno);
    return static_cast<int64_t>(st.st_size);
  }

 private:
  std::string path_;
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  arrow::Result<std::unique_ptr<File>> open(const std::string& path, bool create) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fd < 0) {
      if (errno == ENOENT) return arrow::Status::IOError("open ", path, ": no such file");
      return errno_status("open", path, errno);
    }
    return std::make_unique<PosixFile>(path, fd);
  }

  arrow::Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return errno_status("rename", from, errno);
    return arrow::Status::OK();
  }

  arrow::Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_status("unlink", path, errno);
    return arrow::Status::OK();
  }

  arrow::Status remove_all(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return arrow::Status::IOError("remove ", path, ": ", ec.message());
    return arrow::Status::OK();
  }

  arrow::Status create_dir(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return arrow::Status::IOError("mkdir ", path, ": ", ec.message());
    return arrow::Status::OK();
  }

  arrow::Status sync_dir(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_status("open directory", path, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return errno_status("fsync directory", path, err);
    return arrow::Status::OK();
  }

  arrow::Result<std::vector<std::string>> list_dir(const std::string& path) override {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return errno_status("list directory", path, errno);
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(dir)) {
      const std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    ::closedir(dir);
    return names;
  }

  arrow::Result<bool> exists(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    return errno_status("stat", path, errno);
  }
};

}  // namespace

arrow::Result<std::string> FileSystem::read_file(const std::string& path) {
  ARROW_ASSIGN_OR_RAISE(bool present, exists(path));
  if (!present) return arrow::Status::KeyError("no such file: ", path);
  ARROW_ASSIGN_OR_RAISE(auto file, open(path, false));
  ARROW_ASSIGN_OR_RAISE(int64_t size, file->size());
  std::string data(static_cast<size_t>(size), '\0');
  ARROW_ASSIGN_OR_RAISE(int64_t n, file->read_at(0, size, data.data()));
  data.resize(static_cast<size_t>(n));
  return data;
}

arrow::Status FileSystem::write_file_atomic(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  {
    ARROW_ASSIGN_OR_RAISE(auto file, open(tmp, true));
    ARROW_RETURN_NOT_OK(file->truncate(0));
    ARROW_RETURN_NOT_OK(file->write_at(0, data));
    ARROW_RETURN_NOT_OK(file->sync());
  }
  ARROW_RETURN_NOT_OK(rename(tmp, path));
  return sync_dir(parent_path(path));
}

std::shared_ptr<FileSystem> posix_file_system() {
  static const auto fs = std::make_shared<PosixFileSystem>();
  return fs;
}

std::string join_path(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!out.empty() && out.back() != '/') out.push_back('/');
  out.append(b);
  return out;
}

std::string parent_path(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

}  // namespace roadpulse::log
