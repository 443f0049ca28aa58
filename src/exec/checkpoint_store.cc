#include "exec/checkpoint_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <arrow/memory_pool.h>
#include <arrow/util/crc32.h>
#include <fmt/format.h>

namespace roadpulse::exec {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHeader = "roadpulse-checkpoint 1";
constexpr std::string_view kPrefix = "chk-";
constexpr int64_t kPartAlignment = 64;

arrow::Status errno_status(const std::string& what, const std::string& path) {
  return arrow::Status::IOError(what, " '", path, "': ", std::strerror(errno));
}

arrow::Status fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return errno_status("cannot open", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return errno_status("cannot fsync", path);
  return arrow::Status::OK();
}

arrow::Status write_synced(const std::string& path, const std::vector<std::string_view>& pieces) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("cannot create", path);
  for (std::string_view piece : pieces) {
    while (!piece.empty()) {
      const ssize_t n = ::write(fd, piece.data(), piece.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        auto st = errno_status("cannot write", path);
        ::close(fd);
        return st;
      }
      piece.remove_prefix(size_t(n));
    }
  }
  if (::fdatasync(fd) != 0) {
    auto st = errno_status("cannot fsync", path);
    ::close(fd);
    return st;
  }
  if (::close(fd) != 0) return errno_status("cannot close", path);
  return arrow::Status::OK();
}

arrow::Result<std::string> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return arrow::Status::IOError("cannot open '", path, "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return arrow::Status::IOError("error reading '", path, "'");
  return buffer.str();
}

// Names may hold anything; the manifest is one record per line, fields separated by spaces.
std::string escape(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c <= ' ' || c == '%' || c >= 0x7f) {
      out += fmt::format("%{:02X}", c);
    } else {
      out.push_back(char(c));
    }
  }
  return out.empty() ? "%" : out;  // a lone '%' stands for the empty string
}

std::string unescape(std::string_view text) {
  if (text == "%") return "";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out.push_back(char(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string field; in >> field;) out.push_back(std::move(field));
  return out;
}

bool parse_int(const std::string& text, int64_t* out) {
  if (text.empty()) return false;
  size_t used = 0;
  try {
    *out = std::stoll(text, &used);
  } catch (...) {
    return false;
  }
  return used == text.size();
}

struct ParsedPart {
  std::string key;
  std::string owner;
  int64_t offset = 0;
  int64_t length = 0;
  uint32_t crc = 0;
};

// Returns nullopt for a manifest that is not complete (no `end` line): a torn write cannot
// happen with rename, but a hand-edited or foreign file must not be trusted.
arrow::Result<std::optional<std::pair<CheckpointManifest, std::vector<ParsedPart>>>> parse_manifest(
    const std::string& text, const std::string& path) {
  CheckpointManifest m;
  std::vector<ParsedPart> parts;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  bool ended = false;
  auto bad = [&](const std::string& why) {
    return arrow::Status::Invalid("checkpoint manifest '", path, "' line ", line_no, ": ", why);
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1) {
      if (line != kHeader) return bad("not a roadpulse checkpoint manifest");
      continue;
    }
    auto f = split_fields(line);
    if (f.empty()) continue;
    if (f[0] == "end") {
      ended = true;
      break;
    }
    if (f.size() < 2) return bad("'" + f[0] + "' without a value");
    if (f[0] == "pipeline") {
      m.pipeline = unescape(f[1]);
    } else if (f[0] == "job") {
      m.job_fingerprint = unescape(f[1]);
    } else if (f[0] == "id" || f[0] == "created-micros" || f[0] == "bytes" || f[0] == "finished") {
      int64_t v = 0;
      if (!parse_int(f[1], &v)) return bad("'" + f[0] + "' is not a number");
      if (f[0] == "id") m.id = v;
      if (f[0] == "created-micros") m.created_micros = v;
      if (f[0] == "bytes") m.bytes = v;
      if (f[0] == "finished") m.finished = v != 0;
    } else if (f[0] == "part") {
      if (f.size() != 6) return bad("a part needs key, owner, offset, length and crc");
      ParsedPart p;
      p.key = unescape(f[1]);
      p.owner = unescape(f[2]);
      int64_t crc = 0;
      if (!parse_int(f[3], &p.offset) || !parse_int(f[4], &p.length) || !parse_int(f[5], &crc) ||
          p.offset < 0 || p.length < 0 || crc < 0 || crc > 0xffffffffLL) {
        return bad("bad part offset, length or crc");
      }
      p.crc = uint32_t(crc);
      parts.push_back(std::move(p));
    } else {
      return bad("unknown field '" + f[0] + "'");
    }
  }
  if (!ended) return std::nullopt;
  return std::make_optional(std::make_pair(std::move(m), std::move(parts)));
}

}  // namespace

const CheckpointPart* CheckpointManifest::find(const std::string& key) const {
  for (const auto& p : parts) {
    if (p.key == key) return &p;
  }
  return nullptr;
}

arrow::Result<std::unique_ptr<CheckpointStore>> CheckpointStore::open(std::string dir) {
  if (dir.empty()) return arrow::Status::Invalid("checkpoint directory is empty");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return arrow::Status::IOError("cannot create checkpoint directory '", dir, "': ", ec.message());
  }
  return std::unique_ptr<CheckpointStore>(new CheckpointStore(std::move(dir)));
}

std::string CheckpointStore::path_of(int64_t id) const {
  return fmt::format("{}/{}{}", dir_, kPrefix, id);
}

arrow::Result<std::vector<int64_t>> CheckpointStore::ids() const {
  std::vector<int64_t> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir_, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    int64_t id = 0;
    if (parse_int(name.substr(kPrefix.size()), &id) && id > 0) out.push_back(id);
  }
  if (ec) return arrow::Status::IOError("cannot list '", dir_, "': ", ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

arrow::Result<int64_t> CheckpointStore::max_id() const {
  ARROW_ASSIGN_OR_RAISE(auto all, ids());
  return all.empty() ? 0 : all.back();
}

std::string CheckpointStore::manifest_text(
    const CheckpointManifest& m, const std::vector<std::pair<int64_t, uint32_t>>& layout) {
  std::string out(kHeader);
  out += "\n";
  out += fmt::format("pipeline {}\nid {}\ncreated-micros {}\nfinished {}\njob {}\nbytes {}\n",
                     escape(m.pipeline), m.id, m.created_micros, m.finished ? 1 : 0,
                     escape(m.job_fingerprint), m.bytes);
  for (size_t i = 0; i < m.parts.size(); ++i) {
    const auto& p = m.parts[i];
    out += fmt::format("part {} {} {} {} {}\n", escape(p.key), escape(p.owner), layout[i].first,
                       p.data ? p.data->size() : 0, layout[i].second);
  }
  out += "end\n";
  return out;
}

arrow::Result<int64_t> CheckpointStore::write(const CheckpointManifest& manifest) {
  const std::string dir = path_of(manifest.id);
  std::error_code ec;
  fs::remove_all(dir, ec);  // a leftover of an attempt with this id that never completed
  fs::create_directories(dir, ec);
  if (ec) return arrow::Status::IOError("cannot create '", dir, "': ", ec.message());
  std::vector<std::string_view> pieces;
  std::vector<std::pair<int64_t, uint32_t>> layout;
  int64_t offset = 0;
  static const std::string kPadding(kPartAlignment, '\0');
  for (const auto& p : manifest.parts) {
    // Parts start 64-byte aligned: operators hand their bytes to Arrow's IPC reader zero-copy,
    // and Arrow kernels (the hash grouper) misbehave on misaligned buffers.
    if (const int64_t pad = (kPartAlignment - offset % kPartAlignment) % kPartAlignment; pad) {
      pieces.push_back(std::string_view(kPadding.data(), size_t(pad)));
      offset += pad;
    }
    std::string_view bytes =
        p.data ? std::string_view(p.data->data_as<char>(), p.data->size()) : std::string_view();
    layout.emplace_back(offset, arrow::internal::crc32(0, bytes.data(), bytes.size()));
    pieces.push_back(bytes);
    offset += int64_t(bytes.size());
  }
  ARROW_RETURN_NOT_OK(write_synced(dir + "/state.bin", pieces));
  CheckpointManifest m = manifest;
  m.bytes = offset;
  const std::string text = manifest_text(m, layout);
  ARROW_RETURN_NOT_OK(write_synced(dir + "/_manifest.tmp", {text}));
  if (::rename((dir + "/_manifest.tmp").c_str(), (dir + "/_manifest").c_str()) != 0) {
    return errno_status("cannot rename manifest into", dir + "/_manifest");
  }
  ARROW_RETURN_NOT_OK(fsync_path(dir, true));
  ARROW_RETURN_NOT_OK(fsync_path(dir_, true));
  return offset + int64_t(text.size());
}

arrow::Status CheckpointStore::mark_committed(int64_t id) {
  const std::string dir = path_of(id);
  ARROW_RETURN_NOT_OK(write_synced(dir + "/_committed", {}));
  return fsync_path(dir, true);
}

arrow::Result<std::optional<CheckpointManifest>> CheckpointStore::load_latest() {
  ARROW_ASSIGN_OR_RAISE(auto all, ids());
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const std::string dir = path_of(*it);
    const std::string manifest_path = dir + "/_manifest";
    std::error_code ec;
    if (!fs::exists(manifest_path, ec)) {
      // Crashed before the manifest landed: the checkpoint never completed.
      fs::remove_all(dir, ec);
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(auto text, read_all(manifest_path));
    ARROW_ASSIGN_OR_RAISE(auto parsed, parse_manifest(text, manifest_path));
    if (!parsed) {
      fs::remove_all(dir, ec);
      continue;
    }
    auto& [m, parts] = *parsed;
    if (m.id != *it) {
      return arrow::Status::Invalid("checkpoint manifest '", manifest_path, "' says id ", m.id);
    }
    const std::string state_path = dir + "/state.bin";
    ARROW_ASSIGN_OR_RAISE(auto state, read_all(state_path));
    if (int64_t(state.size()) != m.bytes) {
      return arrow::Status::IOError("checkpoint state '", state_path, "' has ", state.size(),
                                    " bytes, its manifest says ", m.bytes);
    }
    // An Arrow allocation is 64-byte aligned, so aligned parts stay aligned in memory.
    ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> whole,
                          arrow::AllocateBuffer(int64_t(state.size())));
    if (!state.empty()) std::memcpy(whole->mutable_data(), state.data(), state.size());
    for (const auto& p : parts) {
      if (p.offset + p.length > m.bytes) {
        return arrow::Status::IOError("checkpoint part '", p.key, "' lies outside '", state_path,
                                      "'");
      }
      auto slice = arrow::SliceBuffer(whole, p.offset, p.length);
      if (arrow::internal::crc32(0, slice->data(), size_t(slice->size())) != p.crc) {
        return arrow::Status::IOError("checkpoint part '", p.key, "' in '", state_path,
                                      "' fails its CRC-32: the checkpoint is corrupt (delete '",
                                      dir, "' to fall back to the previous one)");
      }
      m.parts.push_back({p.key, p.owner, std::move(slice)});
    }
    m.committed = fs::exists(dir + "/_committed", ec);
    return std::make_optional(std::move(m));
  }
  return std::nullopt;
}

arrow::Status CheckpointStore::prune(int keep) {
  ARROW_ASSIGN_OR_RAISE(auto all, ids());
  int complete = 0;
  std::error_code ec;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const std::string dir = path_of(*it);
    const bool is_complete = fs::exists(dir + "/_manifest", ec);
    if (is_complete && complete < keep) {
      ++complete;
      continue;
    }
    // Older than the kept ones, or an incomplete attempt below a complete checkpoint.
    if (complete > 0) fs::remove_all(dir, ec);
  }
  return arrow::Status::OK();
}

arrow::Status CheckpointStore::remove_all() {
  ARROW_ASSIGN_OR_RAISE(auto all, ids());
  std::error_code ec;
  for (int64_t id : all) {
    fs::remove_all(path_of(id), ec);
    if (ec) return arrow::Status::IOError("cannot delete '", path_of(id), "': ", ec.message());
  }
  return arrow::Status::OK();
}

arrow::Result<int64_t> parse_checkpoint_duration_ms(const std::string& key,
                                                    const std::string& text) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  size_t j = i;
  while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
  int64_t value = 0;
  if (j == i || !parse_int(text.substr(i, j - i), &value)) {
    return arrow::Status::Invalid(
        "'", key, "' must be a duration such as '10 s' or '200 ms', got '", text, "'");
  }
  std::string unit;
  for (size_t k = j; k < text.size(); ++k) {
    if (!std::isspace(static_cast<unsigned char>(text[k])))
      unit.push_back(char(std::tolower(static_cast<unsigned char>(text[k]))));
  }
  static const std::map<std::string, int64_t> kUnits = {{"", 1},
                                                        {"ms", 1},
                                                        {"milli", 1},
                                                        {"millis", 1},
                                                        {"millisecond", 1},
                                                        {"milliseconds", 1},
                                                        {"s", 1000},
                                                        {"sec", 1000},
                                                        {"secs", 1000},
                                                        {"second", 1000},
                                                        {"seconds", 1000},
                                                        {"min", 60000},
                                                        {"m", 60000},
                                                        {"mins", 60000},
                                                        {"minute", 60000},
                                                        {"minutes", 60000},
                                                        {"h", 3600000},
                                                        {"hour", 3600000},
                                                        {"hours", 3600000}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) {
    return arrow::Status::Invalid("'", key, "': unknown time unit '", unit, "' in '", text,
                                  "' (ms, s, min, h)");
  }
  return value * it->second;
}

}  // namespace roadpulse::exec
