#include "log/stream_meta.h"

#include <charconv>
#include <cstdio>
#include <sstream>

#include "log/crc32c.h"

namespace roadpulse::log {
namespace {

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (j > i) words.push_back(line.substr(i, j - i));
    i = j;
  }
  return words;
}

template <typename T>
bool parse_int(std::string_view text, T* out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

arrow::Status validate_stream_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 128 && name.front() != '.';
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || c == '.');
  }
  if (!ok) {
    return arrow::Status::Invalid("invalid stream name '", name,
                                  "': use 1-128 characters from a-z A-Z 0-9 _ . - "
                                  "(not starting with '.')");
  }
  return arrow::Status::OK();
}

std::string serialize_stream_meta(const StreamMeta& meta) {
  std::ostringstream out;
  out << "roadpulse-stream 1\n"
      << "name " << meta.name << "\n"
      << "created_ms " << meta.created_ms << "\n"
      << "retention_ms " << meta.retention_ms << "\n"
      << "next_shard_id " << meta.next_shard_id << "\n";
  for (const auto& s : meta.shards) {
    out << "shard " << s.id.value << ' ' << format_hash_key(s.range.start) << ' '
        << format_hash_key(s.range.end) << ' ' << s.starting_sequence << ' '
        << (s.parent ? std::to_string(s.parent->value) : "-") << ' '
        << (s.adjacent_parent ? std::to_string(s.adjacent_parent->value) : "-") << ' '
        << (s.ending_sequence ? std::to_string(*s.ending_sequence) : "-") << "\n";
  }
  std::string text = out.str();
  char crc[32];
  std::snprintf(crc, sizeof(crc), "crc %08x\n", crc32c(text));
  return text + crc;
}

arrow::Result<StreamMeta> parse_stream_meta(std::string_view text, std::string_view source) {
  const size_t crc_at = text.rfind("crc ");
  uint32_t stored = 0;
  if (crc_at == std::string_view::npos ||
      std::from_chars(text.data() + crc_at + 4, text.data() + text.size(), stored, 16).ec !=
          std::errc() ||
      stored != crc32c(text.substr(0, crc_at))) {
    return arrow::Status::IOError(source, ": checksum missing or wrong; the file is damaged");
  }
  StreamMeta meta;
  std::string_view body = text.substr(0, crc_at);
  int line_no = 0;
  while (!body.empty()) {
    const size_t nl = body.find('\n');
    const std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
    ++line_no;
    const auto w = split_words(line);
    auto bad = [&] {
      return arrow::Status::IOError(source, ":", line_no, ": malformed line '", line, "'");
    };
    if (w.empty()) continue;
    if (w[0] == "roadpulse-stream") {
      if (w.size() != 2 || w[1] != "1") return bad();
    } else if (w[0] == "name" && w.size() == 2) {
      meta.name = std::string(w[1]);
    } else if (w[0] == "created_ms" && w.size() == 2) {
      if (!parse_int(w[1], &meta.created_ms)) return bad();
    } else if (w[0] == "retention_ms" && w.size() == 2) {
      if (!parse_int(w[1], &meta.retention_ms)) return bad();
    } else if (w[0] == "next_shard_id" && w.size() == 2) {
      if (!parse_int(w[1], &meta.next_shard_id)) return bad();
    } else if (w[0] == "shard" && w.size() == 8) {
      ShardMeta s;
      auto start = parse_hash_key(w[2]);
      auto end = parse_hash_key(w[3]);
      if (!parse_int(w[1], &s.id.value) || !start.ok() || !end.ok() ||
          !parse_int(w[4], &s.starting_sequence)) {
        return bad();
      }
      s.range = {*start, *end};
      int32_t id = 0;
      uint64_t seq = 0;
      if (w[5] != "-") {
        if (!parse_int(w[5], &id)) return bad();
        s.parent = ShardId{id};
      }
      if (w[6] != "-") {
        if (!parse_int(w[6], &id)) return bad();
        s.adjacent_parent = ShardId{id};
      }
      if (w[7] != "-") {
        if (!parse_int(w[7], &seq)) return bad();
        s.ending_sequence = seq;
      }
      meta.shards.push_back(s);
    } else {
      return bad();
    }
  }
  if (meta.name.empty() || meta.shards.empty()) {
    return arrow::Status::IOError(source, ": no stream name or no shards");
  }
  return meta;
}

}  // namespace roadpulse::log
