// roadpulse stream: create, list, describe, delete, reshard and tail streams of the embedded log.
//
// Every subcommand talks to a StreamBackend (stream_backend.h): the embedded LogStore on
// --data-dir (which takes the data dir's lock, so it fails with exit code 3 while a server owns
// the dir), or with `--server URL` a running `roadpulse serve` over its Kinesis HTTP API
// (stream_http_backend.cc), or with `--kafka BOOTSTRAP` the topics of a Kafka cluster
// (stream_kafka_backend.cc).

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <span>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/stream_backend.h"
#include "common/json_text.h"
#include "common/time.h"
#include "log/log.h"

namespace roadpulse::cli {
namespace {

class EmbeddedBackend final : public StreamBackend {
 public:
  explicit EmbeddedBackend(std::unique_ptr<log::LogStore> store) : store_(std::move(store)) {}
  arrow::Status create(const std::string& name, int shards) override {
    return store_->create_stream(name, shards);
  }
  arrow::Status remove(const std::string& name) override { return store_->delete_stream(name); }
  arrow::Status reshard(const std::string& name, int shards) override {
    return store_->update_shard_count(name, shards);
  }
  arrow::Result<std::vector<std::string>> list() override { return store_->list_streams(); }
  arrow::Result<log::StreamDescription> describe(const std::string& name) override {
    return store_->describe_stream(name);
  }
  arrow::Result<log::SequenceNumber> resolve(const std::string& name, log::ShardId shard,
                                             const log::StartPosition& from) override {
    return store_->resolve(name, shard, from);
  }
  arrow::Result<log::ReadResult> read(const std::string& name, log::ShardId shard,
                                      log::SequenceNumber from, int max_records) override {
    return store_->read(name, shard, from, max_records, 4 << 20);
  }
  void wait(const std::string& name, log::ShardId shard, log::SequenceNumber from,
            int64_t timeout_ms) override {
    (void)store_->wait_for_data(name, shard, from, timeout_ms);
  }
  arrow::Result<std::vector<log::AppendResult>> put(
      const std::string& name, std::span<const log::AppendRecord> records) override {
    return store_->append(name, records);
  }

 private:
  std::unique_ptr<log::LogStore> store_;
};

struct CommonArgs {
  std::string data_dir = "./roadpulse-data";
  std::string server;  // when set, the data dir is ignored
  std::string kafka;   // Kafka bootstrap servers; when set, the data dir is ignored
  std::vector<std::string> kafka_properties;
};

arrow::Result<std::unique_ptr<StreamBackend>> open_backend(const CommonArgs& args) {
  if (!args.server.empty()) return make_http_backend(args.server);
  if (!args.kafka.empty()) return make_kafka_backend(args.kafka, args.kafka_properties);
  log::LogOptions options;
  options.data_dir = args.data_dir;
  options.retention_thread = false;  // a short-lived command must not delete anything
  ARROW_ASSIGN_OR_RAISE(auto store, log::LogStore::open(options));
  return std::make_unique<EmbeddedBackend>(std::move(store));
}

void add_common(CLI::App* cmd, CommonArgs& args) {
  cmd->add_option("--data-dir", args.data_dir, "Data directory holding the streams")
      ->capture_default_str();
  cmd->add_option("--server", args.server,
                  "Use the Kinesis API of a running `roadpulse serve` at this URL (e.g. "
                  "http://127.0.0.1:8080) instead of opening --data-dir");
  auto* kafka = cmd->add_option("--kafka", args.kafka,
                                "Use the topics of the Kafka cluster at these bootstrap servers "
                                "(host:port[,host:port]) instead of opening --data-dir");
  cmd->add_option("--kafka-property", args.kafka_properties,
                  "Extra librdkafka setting KEY=VALUE for --kafka (security.protocol, sasl.*, "
                  "ssl.*); repeatable")
      ->needs(kafka);
}

// ---------------------------------------------------------------------------------------------
// Output helpers

std::string human_bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += len;
  }
  return true;
}

std::string base64(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string iso_ms(int64_t ms) { return format_iso8601_millis(ms * 1000) + "Z"; }

// `data`: the record's bytes on one line, its own backslashes and line breaks escaped.
void format_data_line(const log::StoredRecord& r, std::string& out) {
  for (const char c : r.data) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else
      out.push_back(c);
  }
  out.push_back('\n');
}

void format_jsonl(const log::StoredRecord& r, std::string& out) {
  out += "{\"shard_id\":\"" + r.shard.to_string() + "\",\"sequence_number\":\"" +
         std::to_string(r.sequence.value) + "\",\"partition_key\":";
  append_json_string(valid_utf8(r.partition_key) ? r.partition_key : base64(r.partition_key), out);
  out += ",\"arrival_time\":\"" + iso_ms(r.arrival_ms) + "\"";
  if (valid_utf8(r.data)) {
    out += ",\"data\":";
    append_json_string(r.data, out);
  } else {
    out += ",\"data_base64\":\"" + base64(r.data) + "\"";
  }
  out += "}\n";
}

arrow::Result<log::StartPosition> parse_from(const std::string& text) {
  log::StartPosition p;
  if (text == "trim_horizon" || text == "TRIM_HORIZON") {
    p.kind = log::StartKind::kTrimHorizon;
  } else if (text == "latest" || text == "LATEST") {
    p.kind = log::StartKind::kLatest;
  } else if (text.starts_with("seq:")) {
    p.kind = log::StartKind::kAtSequence;
    const std::string digits = text.substr(4);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
        digits.size() > 19) {
      return arrow::Status::Invalid("--from ", text, ": expected seq:<decimal sequence number>");
    }
    p.sequence = log::SequenceNumber{std::stoull(digits)};
  } else if (text.starts_with("ts:")) {
    p.kind = log::StartKind::kAtTimestamp;
    auto micros = parse_timestamp(text.substr(3));
    if (!micros.ok())
      return arrow::Status::Invalid("--from ", text, ": ", micros.status().message());
    p.timestamp_ms = *micros / 1000;
  } else {
    return arrow::Status::Invalid("--from '", text,
                                  "': expected trim_horizon, latest, seq:N or ts:ISO-8601");
  }
  return p;
}

// The value of top-level field `field` in a one-line JSON object, as text (strings unquoted,
// common escapes decoded; numbers and literals verbatim). Enough to pick a partition key.
std::optional<std::string> json_field(std::string_view line, std::string_view field) {
  const std::string needle = "\"" + std::string(field) + "\"";
  size_t at = 0;
  while ((at = line.find(needle, at)) != std::string_view::npos) {
    size_t p = at + needle.size();
    while (p < line.size() && (line[p] == ' ' || line[p] == '\t')) ++p;
    if (p >= line.size() || line[p] != ':') {
      at = p;
      continue;
    }
    ++p;
    while (p < line.size() && (line[p] == ' ' || line[p] == '\t')) ++p;
    if (p < line.size() && line[p] == '"') {
      std::string value;
      for (++p; p < line.size() && line[p] != '"'; ++p) {
        if (line[p] == '\\' && p + 1 < line.size()) {
          ++p;
          value.push_back(line[p] == 'n' ? '\n' : line[p] == 't' ? '\t' : line[p]);
        } else {
          value.push_back(line[p]);
        }
      }
      return value;
    }
    size_t end = p;
    while (end < line.size() && line[end] != ',' && line[end] != '}' && line[end] != ' ') ++end;
    if (end > p) return std::string(line.substr(p, end - p));
    return std::nullopt;
  }
  return std::nullopt;
}

struct PutArgs {
  std::string name;
  std::string input = "-";
  std::string partition_key;
  std::string key_field;
};

arrow::Status put(StreamBackend& backend, const PutArgs& args) {
  ARROW_RETURN_NOT_OK(backend.describe(args.name).status());  // fail early on a missing stream
  FILE* in = args.input == "-" ? stdin : std::fopen(args.input.c_str(), "rb");
  if (in == nullptr) return arrow::Status::IOError("cannot open ", args.input);
  std::unique_ptr<FILE, int (*)(FILE*)> closer(in == stdin ? nullptr : in, &std::fclose);
  std::vector<std::string> lines, keys;
  int64_t line_no = 0, total = 0;
  auto flush = [&]() -> arrow::Status {
    std::vector<log::AppendRecord> records;
    for (size_t i = 0; i < lines.size(); ++i) records.push_back({keys[i], lines[i], std::nullopt});
    if (!records.empty()) ARROW_RETURN_NOT_OK(backend.put(args.name, records).status());
    total += static_cast<int64_t>(records.size());
    lines.clear();
    keys.clear();
    return arrow::Status::OK();
  };
  char* buf = nullptr;
  size_t cap = 0;
  ssize_t n;
  arrow::Status status;
  while (status.ok() && (n = ::getline(&buf, &cap, in)) >= 0) {
    ++line_no;
    std::string line(buf, static_cast<size_t>(n));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    std::string key = args.partition_key;
    if (!args.key_field.empty()) {
      auto value = json_field(line, args.key_field);
      if (!value || value->empty()) {
        status = arrow::Status::Invalid(args.input, ":", line_no, ": no field '", args.key_field,
                                        "' to use as the partition key");
        break;
      }
      key = *value;
    } else if (key.empty()) {
      key = std::to_string(line_no);  // spreads evenly
    }
    lines.push_back(std::move(line));
    keys.push_back(std::move(key));
    if (lines.size() >= 500) status = flush();
  }
  std::free(buf);
  ARROW_RETURN_NOT_OK(status);
  ARROW_RETURN_NOT_OK(flush());
  std::cerr << "put " << total << " records into " << args.name << "\n";
  return arrow::Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Subcommands

arrow::Status describe(StreamBackend& backend, const std::string& name, const std::string& format) {
  ARROW_ASSIGN_OR_RAISE(auto d, backend.describe(name));
  int64_t total_records = 0, total_minute = 0, total_bytes = 0;
  for (const auto& s : d.shards) {
    total_records += s.records;
    total_minute += s.records_last_minute;
    total_bytes += s.bytes;
  }
  auto share = [](int64_t part, int64_t whole) {
    return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  };
  std::string out;
  if (format == "json") {
    out += "{\"name\":";
    append_json_string(d.name, out);
    out += fmt::format(",\"created\":\"{}\",\"retention_ms\":{},\"open_shards\":{},\"shards\":[",
                       iso_ms(d.created_ms), d.retention_ms, d.open_shard_count());
    for (size_t i = 0; i < d.shards.size(); ++i) {
      const auto& s = d.shards[i];
      out += fmt::format(
          "{}{{\"shard_id\":\"{}\",\"state\":\"{}\",\"parent\":{},\"adjacent_parent\":{},"
          "\"starting_hash_key\":\"{}\",\"ending_hash_key\":\"{}\",\"starting_sequence\":\"{}\","
          "\"ending_sequence\":{},\"next_sequence\":\"{}\",\"records\":{},\"bytes\":{},"
          "\"records_last_minute\":{},\"share_percent\":{:.2f}}}",
          i ? "," : "", s.id.to_string(), s.ending_sequence ? "closed" : "open",
          s.parent ? "\"" + s.parent->to_string() + "\"" : "null",
          s.adjacent_parent ? "\"" + s.adjacent_parent->to_string() + "\"" : "null",
          log::format_hash_key(s.starting_hash_key), log::format_hash_key(s.ending_hash_key),
          s.starting_sequence.value,
          s.ending_sequence ? "\"" + std::to_string(s.ending_sequence->value) + "\"" : "null",
          s.next_sequence.value, s.records, s.bytes, s.records_last_minute,
          share(s.records, total_records));
    }
    out += "]}\n";
    std::cout << out;
    return arrow::Status::OK();
  }
  out += fmt::format("stream      {}\ncreated     {}\nretention   {} h\nopen shards {} of {}\n",
                     d.name, iso_ms(d.created_ms), d.retention_ms / 3600000.0, d.open_shard_count(),
                     d.shards.size());
  out += fmt::format("records     {} ({}), {} in the last minute\n\n", total_records,
                     human_bytes(total_bytes), total_minute);
  out += fmt::format("{:<21} {:<6} {:<21} {:>39} {:>39} {:>21} {:>10} {:>10} {:>9} {:>7}\n",
                     "SHARD", "STATE", "PARENTS", "STARTING HASH KEY", "ENDING HASH KEY",
                     "SEQUENCES", "RECORDS", "BYTES", "REC/S 1m", "SHARE");
  for (const auto& s : d.shards) {
    std::string parents = s.parent ? s.parent->to_string() : "-";
    if (s.adjacent_parent) parents += "+" + std::to_string(s.adjacent_parent->value);
    const std::string seqs =
        fmt::format("{}..{}", s.starting_sequence.value,
                    s.ending_sequence ? s.ending_sequence->value : s.next_sequence.value);
    out +=
        fmt::format("{:<21} {:<6} {:<21} {:>39} {:>39} {:>21} {:>10} {:>10} {:>9.1f} {:>6.1f}%\n",
                    s.id.to_string(), s.ending_sequence ? "closed" : "open", parents,
                    log::format_hash_key(s.starting_hash_key),
                    log::format_hash_key(s.ending_hash_key), seqs, s.records, human_bytes(s.bytes),
                    s.records_last_minute / 60.0, share(s.records, total_records));
  }
  // Skew: a partition key with few distinct values (e.g. Severity "1".."4") leaves shards idle.
  const int open = d.open_shard_count();
  if (open > 1 && total_records >= 100) {
    for (const auto& s : d.shards) {
      if (s.ending_sequence) continue;
      const double pct = share(s.records, total_records);
      if (pct > 2 * 100.0 / open) {
        out += fmt::format(
            "\nwarning: {} holds {:.1f}% of the records (an even share is {:.1f}%). The partition\n"
            "key has too few distinct values to spread; key by a high-cardinality field such as\n"
            "ID or County (Severity \"1\"..\"4\" lands on 2 of 4 shards).\n",
            s.id.to_string(), pct, 100.0 / open);
        break;
      }
    }
  }
  std::cout << out;
  return arrow::Status::OK();
}

struct TailArgs {
  std::string name;
  std::string from = "trim_horizon";
  bool follow = false;
  int64_t limit = -1;
  std::string shard;
  std::string format = "data";
};

arrow::Status tail(StreamBackend& backend, const TailArgs& args) {
  ARROW_ASSIGN_OR_RAISE(log::StartPosition from, parse_from(args.from));
  ARROW_ASSIGN_OR_RAISE(auto description, backend.describe(args.name));
  std::vector<log::ShardId> shards;
  if (!args.shard.empty()) {
    ARROW_ASSIGN_OR_RAISE(auto id, log::ShardId::parse(args.shard));
    shards.push_back(id);
  } else {
    for (const auto& s : description.shards) shards.push_back(s.id);  // parents before children
  }
  std::map<int32_t, log::SequenceNumber> next;
  for (const auto& id : shards) {
    ARROW_ASSIGN_OR_RAISE(next[id.value], backend.resolve(args.name, id, from));
  }
  int64_t printed = 0;
  std::string out;
  auto done = [&] { return args.limit >= 0 && printed >= args.limit; };
  while (!done()) {
    bool any = false;
    for (const auto& id : shards) {
      while (!done()) {
        const int want = static_cast<int>(
            std::min<int64_t>(1000, args.limit >= 0 ? args.limit - printed : 1000));
        ARROW_ASSIGN_OR_RAISE(auto result, backend.read(args.name, id, next[id.value], want));
        out.clear();
        for (const auto& r : result.records) {
          if (args.format == "jsonl")
            format_jsonl(r, out);
          else
            format_data_line(r, out);
        }
        std::fwrite(out.data(), 1, out.size(), stdout);
        printed += static_cast<int64_t>(result.records.size());
        next[id.value] = result.next;
        if (result.records.empty()) break;
        any = true;
      }
    }
    std::fflush(stdout);
    if (!args.follow) break;
    if (!any) backend.wait(args.name, shards.front(), next[shards.front().value], 200);
  }
  return arrow::Status::OK();
}

void setup_stream(CLI::App& root) {
  auto* stream = root.add_subcommand("stream", "Create, inspect and read streams of the log");
  stream->require_subcommand(1);
  stream->footer(
      "Examples:\n"
      "  roadpulse stream create us-accidents-data-stream-1 --shards 4\n"
      "  roadpulse stream list\n"
      "  roadpulse stream describe us-accidents-data-stream-1\n"
      "  roadpulse stream tail us-accidents-data-stream-1 --from latest --follow\n"
      "  roadpulse stream delete us-accidents-data-stream-1");

  {
    auto* cmd = stream->add_subcommand("create", "Create a stream with N shards");
    auto args = std::make_shared<std::pair<CommonArgs, std::pair<std::string, int>>>();
    args->second.second = 1;
    cmd->add_option("name", args->second.first, "Stream name")->required();
    cmd->add_option("--shards", args->second.second, "Number of shards (1-10000)")
        ->capture_default_str()
        ->check(CLI::Range(1, 10000));
    add_common(cmd, args->first);
    cmd->footer(
        "Partition keys map to shards by MD5 over the 128-bit hash-key space, as Kinesis does.\n"
        "Key by a field with many values (ID, County) to spread records evenly.\n\n"
        "Examples:\n"
        "  roadpulse stream create us-accidents-data-stream-1 --shards 4\n"
        "  roadpulse stream create test --shards 1 --data-dir /tmp/rp");
    cmd->callback([args] {
      run_command([&]() -> arrow::Status {
        ARROW_ASSIGN_OR_RAISE(auto backend, open_backend(args->first));
        ARROW_RETURN_NOT_OK(backend->create(args->second.first, args->second.second));
        std::cout << "created stream " << args->second.first << " with " << args->second.second
                  << (args->second.second == 1 ? " shard\n" : " shards\n");
        return arrow::Status::OK();
      });
    });
  }
  {
    auto* cmd = stream->add_subcommand("list", "List streams");
    auto args = std::make_shared<CommonArgs>();
    add_common(cmd, *args);
    cmd->footer("Examples:\n  roadpulse stream list\n  roadpulse stream list --data-dir /tmp/rp");
    cmd->callback([args] {
      run_command([&]() -> arrow::Status {
        ARROW_ASSIGN_OR_RAISE(auto backend, open_backend(*args));
        ARROW_ASSIGN_OR_RAISE(auto names, backend->list());
        for (const auto& n : names) std::cout << n << "\n";
        return arrow::Status::OK();
      });
    });
  }
  {
    auto* cmd = stream->add_subcommand(
        "describe", "Shards, hash ranges, sequence ranges, bytes, records and per-shard share");
    auto args = std::make_shared<std::pair<CommonArgs, std::pair<std::string, std::string>>>();
    args->second.second = "table";
    cmd->add_option("name", args->second.first, "Stream name")->required();
    cmd->add_option("--format", args->second.second, "table or json")
        ->capture_default_str()
        ->check(CLI::IsMember({"table", "json"}));
    add_common(cmd, args->first);
    cmd->footer(
        "SHARE is each shard's part of the retained records and REC/S 1m its rate over the last\n"
        "minute: a shard far above an even share means the partition key spreads badly.\n\n"
        "Examples:\n"
        "  roadpulse stream describe us-accidents-data-stream-1\n"
        "  roadpulse stream describe us-accidents-data-stream-1 --format json");
    cmd->callback([args] {
      run_command([&]() -> arrow::Status {
        ARROW_ASSIGN_OR_RAISE(auto backend, open_backend(args->first));
        return describe(*backend, args->second.first, args->second.second);
      });
    });
  }
  {
    auto* cmd = stream->add_subcommand("delete", "Delete a stream and all its records");
    auto args = std::make_shared<std::pair<CommonArgs, std::string>>();
    cmd->add_option("name", args->second, "Stream name")->required();
    add_common(cmd, args->first);
    cmd->footer("Examples:\n  roadpulse stream delete us-accidents-data-stream-1");
    cmd->callback([args] {
      run_command([&]() -> arrow::Status {
        ARROW_ASSIGN_OR_RAISE(auto backend, open_backend(args->first));
        ARROW_RETURN_NOT_OK(backend->remove(args->second));
        std::cout << "deleted stream " << args->second << "\n";
        return arrow::Status::OK();
      });
    });
  }
  {
    auto* cmd = stream->add_subcommand(
        "reshard", "Change the open shard count (uniform scaling, like UpdateShardCount)");
    auto args = std::make_shared<std::pair<CommonArgs, std::pair<std::string, int>>>();
    cmd->add_option("name", args->second.first, "Stream name")->required();
    cmd->add_option("--shards", args->second.second, "Target open shard count (0.5x-2x)")
        ->required();
    add_common(cmd, args->first);
    cmd->footer(
        "Open shards close with an ending sequence number; children cover the same hash ranges\n"
        "and number their records above their parents'. Read parents to the end first.\n\n"
        "Examples:\n  roadpulse stream reshard us-accidents-data-stream-1 --shards 8");
    cmd->callback([args] {
      run_command([&]() -> arrow::Status {
        ARROW_ASSIGN_OR_RAISE(auto backend, open_backend(args->first));
        ARROW_RETURN_NOT_OK(backend->reshard(args->second.first, args->second.second));
        std::cout << "stream " << args->second.first << " now has " << args->second.second
                  << " open shards\n";
        return arrow::Status::OK();
      });
    });
  }
  {
    auto* cmd = stream->add_subcommand("put", "Append lines of a file or stdin as records");
    auto args = std::make_shared<std::pair<CommonArgs, PutArgs>>();
    PutArgs& p = args->second;
    cmd->add_option("name", p.name, "Stream name")->required();
    cmd->add_option("--input,-i", p.input, "File to read, one record per line ('-': stdin)")
        ->capture_default_str();
    auto* key = cmd->add_option("--partition-key", p.partition_key,
                                "Same partition key for every record (default: the line number)");
    cmd->add_option("--key-field", p.key_field,
                    "Partition key from this top-level field of each JSON line")
        ->excludes(key);
    add_common(cmd, args->first);
    cmd->footer(
        "Records are acknowledged durably (fdatasync) in groups of up to 500 lines.\n\n"
        "Examples:\n"
        "  roadpulse simulate --input accidents.csv --max --to - | \\\n"
        "      roadpulse stream put us-accidents-data-stream-1 --key-field ID\n"
        "  printf 'a\\nb\\n' | roadpulse stream put test --partition-key k");
    cmd->callback([args] {
      run_command([&]() -> arrow::Status {
        ARROW_ASSIGN_OR_RAISE(auto backend, open_backend(args->first));
        return put(*backend, args->second);
      });
    });
  }
  {
    auto* cmd = stream->add_subcommand("tail", "Print records of a stream");
    auto args = std::make_shared<std::pair<CommonArgs, TailArgs>>();
    TailArgs& t = args->second;
    cmd->add_option("name", t.name, "Stream name")->required();
    cmd->add_option("--from", t.from, "trim_horizon, latest, seq:N or ts:ISO-8601")
        ->capture_default_str();
    cmd->add_flag("--follow,-f", t.follow,
                  "Keep waiting for new records (until interrupted). Opening the data dir here "
                  "locks out other writers, so this is mostly useful against a server");
    cmd->add_option("--limit,-n", t.limit, "Stop after N records")->check(CLI::NonNegativeNumber);
    cmd->add_option("--shard", t.shard, "Only this shard (shardId-000000000001 or 1)");
    cmd->add_option("--format", t.format,
                    "data (each record's bytes on one line, \\n and \\\\ escaped) or jsonl "
                    "(shard_id, sequence_number, partition_key, arrival_time, data)")
        ->capture_default_str()
        ->check(CLI::IsMember({"data", "jsonl"}));
    add_common(cmd, args->first);
    cmd->footer(
        "Shards are read in id order, so closed parents come before their children.\n\n"
        "Examples:\n"
        "  roadpulse stream tail us-accidents-data-stream-1 --limit 10\n"
        "  roadpulse stream tail us-accidents-data-stream-1 --shard 3 --from seq:1000 --format "
        "jsonl\n"
        "  roadpulse stream tail us-accidents-data-stream-1 --from ts:2026-11-27T10:00:00Z\n"
        "  roadpulse stream tail us-accidents-data-stream-1 --from latest --follow");
    cmd->callback([args] {
      run_command([&]() -> arrow::Status {
        ARROW_ASSIGN_OR_RAISE(auto backend, open_backend(args->first));
        return tail(*backend, args->second);
      });
    });
  }
}

const RegisterCommand kRegister(30, setup_stream);

}  // namespace
}  // namespace roadpulse::cli
