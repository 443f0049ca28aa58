// Lake layout: partition paths, listing data files, staging cleanup, durable atomic writes and
// the catalog's type names.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "lake/lake.h"

namespace roadpulse::lake {

namespace fs = std::filesystem;

namespace {

bool needs_escape(unsigned char c) {
  return c < 0x20 || c == 0x7f || c == '/' || c == '=' || c == '%' || c == '"' || c == '#' ||
         c == '\\' || c == ':' || c == '*' || c == '?' || c == '[' || c == ']' || c == '^';
}

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (needs_escape(c)) {
      out += fmt::format("%{:02X}", c);
    } else {
      out.push_back(char(c));
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string unescape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(char(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

std::string partition_path(const PartitionValues& values) {
  std::string out;
  for (const auto& [key, value] : values) {
    if (!out.empty()) out += '/';
    out += escape(key);
    out += '=';
    out += value.empty() ? std::string(kDefaultPartition) : escape(value);
  }
  return out;
}

PartitionValues parse_partition_path(const std::string& relative_dir) {
  PartitionValues out;
  for (const auto& part : fs::path(relative_dir)) {
    const std::string s = part.string();
    const size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    out.emplace_back(unescape(s.substr(0, eq)), unescape(s.substr(eq + 1)));
  }
  return out;
}

arrow::Result<std::vector<std::string>> list_data_files(const std::string& root,
                                                        const std::string& extension) {
  std::error_code ec;
  if (!fs::exists(root, ec)) {
    return arrow::Status::IOError("lake path '", root, "' does not exist");
  }
  std::vector<std::string> files;
  if (fs::is_regular_file(root, ec)) {
    files.push_back(root);
    return files;
  }
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return arrow::Status::IOError("listing '", root, "': ", ec.message());
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || name[0] == '_') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    if (!extension.empty() && !name.ends_with(extension)) continue;
    files.push_back(it->path().string());
  }
  if (ec) return arrow::Status::IOError("listing '", root, "': ", ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

arrow::Result<int> clean_staging_files(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return 0;
  std::vector<fs::path> stale;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return arrow::Status::IOError("listing '", root, "': ", ec.message());
    const std::string name = it->path().filename().string();
    if (it->is_directory() && name.starts_with("_")) {
      it.disable_recursion_pending();  // _catalog and friends hold no data files
      continue;
    }
    if (it->is_regular_file() && name.starts_with(".part-") && name.ends_with(".inprogress")) {
      stale.push_back(it->path());
    }
  }
  for (const auto& path : stale) {
    fs::remove(path, ec);
    if (ec) {
      return arrow::Status::IOError("cannot remove staging file '", path.string(),
                                    "': ", ec.message());
    }
  }
  return int(stale.size());
}

arrow::Status fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return arrow::Status::IOError("cannot open directory '", dir, "': ", strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return arrow::Status::IOError("fsync of '", dir, "' failed: ", strerror(err));
  return arrow::Status::OK();
}

arrow::Status write_file_atomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return arrow::Status::IOError("cannot create '", tmp, "': ", strerror(errno));
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return arrow::Status::IOError("cannot write '", tmp, "': ", strerror(err));
    }
    done += size_t(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return arrow::Status::IOError("fsync of '", tmp, "' failed: ", strerror(err));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return arrow::Status::IOError("cannot rename '", tmp, "' to '", path, "': ", strerror(errno));
  }
  return fsync_directory(fs::path(path).parent_path().string());
}

std::string type_name(const arrow::DataType& type) { return type.ToString(); }

arrow::Result<std::shared_ptr<arrow::DataType>> type_from_name(const std::string& name) {
  static const std::map<std::string, std::shared_ptr<arrow::DataType>> kSimple = {
      {"bool", arrow::boolean()},
      {"int8", arrow::int8()},
      {"int16", arrow::int16()},
      {"int32", arrow::int32()},
      {"int64", arrow::int64()},
      {"uint8", arrow::uint8()},
      {"uint16", arrow::uint16()},
      {"uint32", arrow::uint32()},
      {"uint64", arrow::uint64()},
      {"float", arrow::float32()},
      {"double", arrow::float64()},
      {"string", arrow::utf8()},
      {"large_string", arrow::large_utf8()},
      {"binary", arrow::binary()},
      {"date32[day]", arrow::date32()},
      {"null", arrow::null()}};
  if (auto it = kSimple.find(name); it != kSimple.end()) return it->second;
  // timestamp[us] or timestamp[us, tz=UTC]
  if (name.starts_with("timestamp[") && name.ends_with("]")) {
    std::string inner = name.substr(10, name.size() - 11);
    std::string tz;
    if (const size_t comma = inner.find(", tz="); comma != std::string::npos) {
      tz = inner.substr(comma + 5);
      inner = inner.substr(0, comma);
    }
    arrow::TimeUnit::type unit;
    if (inner == "s") {
      unit = arrow::TimeUnit::SECOND;
    } else if (inner == "ms") {
      unit = arrow::TimeUnit::MILLI;
    } else if (inner == "us") {
      unit = arrow::TimeUnit::MICRO;
    } else if (inner == "ns") {
      unit = arrow::TimeUnit::NANO;
    } else {
      return arrow::Status::Invalid("unknown timestamp unit in type '", name, "'");
    }
    return arrow::timestamp(unit, tz);
  }
  return arrow::Status::NotImplemented("lake catalog: unsupported column type '", name, "'");
}

}  // namespace roadpulse::lake
