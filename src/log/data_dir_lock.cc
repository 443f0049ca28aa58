#include "log/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace roadpulse::log {
namespace {

std::string own_command() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
  for (char& c : cmd) {
    if (c == '\0' || c == '\n') c = ' ';
  }
  if (cmd.size() > 200) cmd = cmd.substr(0, 200) + "...";
  return cmd.empty() ? "unknown" : cmd;
}

}  // namespace

arrow::Result<std::unique_ptr<DataDirLock>> DataDirLock::acquire(const std::string& data_dir) {
  const std::string path = data_dir + "/LOCK";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return arrow::Status::IOError("cannot open lock file ", path, ": ", std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[512] = {};
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return arrow::Status::IOError("cannot lock ", path, ": ", std::strerror(err));
    }
    std::string holder(buf, n > 0 ? static_cast<size_t>(n) : 0);
    while (!holder.empty() && holder.back() == '\n') holder.pop_back();
    std::string pid = holder.substr(0, holder.find(' '));
    std::string command =
        holder.find(' ') == std::string::npos ? "" : holder.substr(holder.find(' ') + 1);
    if (pid.empty()) pid = "?";
    return arrow::Status::IOError("data dir ", data_dir, " is in use by pid ", pid, " (",
                                  command.empty() ? "unknown command" : command,
                                  "); talk to that server with --server URL instead");
  }
  const std::string content = std::to_string(::getpid()) + " " + own_command() + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, content.data(), content.size(), 0) < 0) {
    const int err = errno;
    ::close(fd);
    return arrow::Status::IOError("cannot write lock file ", path, ": ", std::strerror(err));
  }
  return std::unique_ptr<DataDirLock>(new DataDirLock(fd));
}

DataDirLock::~DataDirLock() { ::close(fd_); }

}  // namespace roadpulse::log
