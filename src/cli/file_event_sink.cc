// Event sinks for "-" (stdout) and "file:PATH": JSON lines, one event per line. A batch counts as
// delivered once write(2) has taken all of its bytes; a file is fdatasync'ed on close, so a run
// that ends with exit 0 has its events on disk. Partition keys are not written (files are not
// partitioned).

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "cli/event_sink.h"

namespace roadpulse::cli {

namespace {

class FdEventSink final : public EventSink {
 public:
  FdEventSink(int fd, bool owned, std::string target, std::string path)
      : fd_(fd), owned_(owned), target_(std::move(target)), path_(std::move(path)) {}
  ~FdEventSink() override {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }

  arrow::Status write(std::span<const Event> batch) override {
    buffer_.clear();
    for (const Event& event : batch) {
      buffer_.append(event.data);
      buffer_.push_back('\n');
    }
    const char* p = buffer_.data();
    size_t left = buffer_.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return arrow::Status::IOError("writing events to ", path_, ": ", std::strerror(errno));
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    return arrow::Status::OK();
  }

  arrow::Status close() override {
    if (!owned_ || fd_ < 0) return arrow::Status::OK();
    const int fd = fd_;
    fd_ = -1;
    if (::fdatasync(fd) != 0) {
      const int err = errno;
      ::close(fd);
      return arrow::Status::IOError("syncing ", path_, ": ", std::strerror(err));
    }
    if (::close(fd) != 0) {
      return arrow::Status::IOError("closing ", path_, ": ", std::strerror(errno));
    }
    return arrow::Status::OK();
  }

  std::string describe() const override { return target_; }

 private:
  int fd_;
  bool owned_;
  std::string target_;
  std::string path_;
  std::string buffer_;
};

arrow::Result<std::unique_ptr<EventSink>> open_stdout_sink(std::string_view target) {
  return std::make_unique<FdEventSink>(STDOUT_FILENO, false, std::string(target), "stdout");
}

arrow::Result<std::unique_ptr<EventSink>> open_file_sink(std::string_view target) {
  std::string path(target.substr(target.find(':') + 1));
  if (path.starts_with("//")) path.erase(0, 2);  // also accept file://PATH
  if (path.empty()) return arrow::Status::Invalid("target '", target, "': missing file path");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return arrow::Status::IOError("cannot create '", path, "': ", std::strerror(errno));
  }
  return std::make_unique<FdEventSink>(fd, true, std::string(target), path);
}

const RegisterEventSink kStdoutSink("-", &open_stdout_sink);
const RegisterEventSink kFileSink("file", &open_file_sink);

}  // namespace

}  // namespace roadpulse::cli
