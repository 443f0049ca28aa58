// RawArchive: the read -> buffer -> flush loop and its crash-safe commit (see archive.h).

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <arrow/buffer.h>
#include <arrow/io/memory.h>
#include <arrow/json/api.h>
#include <arrow/table.h>
#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "archive/archive.h"
#include "common/json_text.h"

namespace roadpulse::archive {
namespace fs = std::filesystem;

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr const char* kIntentDir = "_archive";
constexpr const char* kIntentFile = "pending.json";
constexpr const char* kErrorsDir = "_errors";

// One file of a flush: where it is staged and where it goes.
struct PlannedFile {
  std::string staging;    // relative to the archive root
  std::string final;      // relative to the archive root
  std::string partition;  // dt=.../hour=...
  int64_t rows = 0;
  int64_t bytes = 0;  // compressed size
  bool errors = false;
};

struct Intent {
  std::vector<PlannedFile> files;
  std::map<int32_t, uint64_t> positions;  // shard -> next sequence after the flush
};

std::string intent_json(const Intent& intent) {
  std::string out = "{\"files\": [";
  for (size_t i = 0; i < intent.files.size(); ++i) {
    const auto& f = intent.files[i];
    if (i) out += ", ";
    out += "{\"staging\": ";
    append_json_string(f.staging, out);
    out += ", \"final\": ";
    append_json_string(f.final, out);
    out += ", \"partition\": ";
    append_json_string(f.partition, out);
    out += fmt::format(", \"rows\": {}, \"bytes\": {}, \"errors\": {}}}", f.rows, f.bytes,
                       f.errors ? "true" : "false");
  }
  out += "], \"positions\": [";
  bool first = true;
  for (const auto& [shard, next] : intent.positions) {
    out += fmt::format("{}{{\"shard\": {}, \"next\": {}}}", first ? "" : ", ", shard, next);
    first = false;
  }
  return out + "]}\n";
}

arrow::Result<Intent> parse_intent(const std::string& text, const std::string& path) {
  auto fail = [&](const char* what) {
    return arrow::Status::IOError("archive intent '", path, "' is damaged (", what,
                                  "); it was written atomically, so this is not a crash "
                                  "leftover: inspect it by hand");
  };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc)) return fail("not JSON");
  Intent intent;
  simdjson::dom::array files, positions;
  if (doc["files"].get(files) || doc["positions"].get(positions)) return fail("fields missing");
  for (auto f : files) {
    PlannedFile p;
    std::string_view staging, final_name, partition;
    int64_t rows = 0, bytes = 0;
    bool errors = false;
    if (f["staging"].get(staging) || f["final"].get(final_name) || f["partition"].get(partition) ||
        f["rows"].get(rows) || f["bytes"].get(bytes) || f["errors"].get(errors)) {
      return fail("file entry incomplete");
    }
    p.staging = std::string(staging);
    p.final = std::string(final_name);
    p.partition = std::string(partition);
    p.rows = rows;
    p.bytes = bytes;
    p.errors = errors;
    intent.files.push_back(std::move(p));
  }
  for (auto p : positions) {
    int64_t shard = 0;
    uint64_t next = 0;
    if (p["shard"].get(shard) || p["next"].get(next)) return fail("position incomplete");
    intent.positions[int32_t(shard)] = next;
  }
  return intent;
}

// Writes `data` to `path` and fsyncs it.
arrow::Status write_synced(const std::string& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return arrow::Status::IOError("cannot create '", path, "': ", strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return arrow::Status::IOError("cannot write '", path, "': ", strerror(err));
    }
    done += size_t(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return arrow::Status::IOError("fsync of '", path, "' failed: ", strerror(err));
  }
  if (::close(fd) != 0) {
    return arrow::Status::IOError("closing '", path, "' failed: ", strerror(errno));
  }
  return arrow::Status::OK();
}

arrow::Result<std::string> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return arrow::Status::IOError("cannot open '", path, "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Creates `dir` (under `root`) and fsyncs every directory it created and its parent, so the
// new entries survive a crash together with the files renamed into them.
arrow::Status make_dirs_durable(const fs::path& root, const fs::path& dir) {
  std::vector<fs::path> created;
  for (fs::path p = dir; p != root && !p.empty() && !fs::exists(p); p = p.parent_path()) {
    created.push_back(p);
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return arrow::Status::IOError("cannot create '", dir.string(), "': ", ec.message());
  for (const auto& p : created) {
    ARROW_RETURN_NOT_OK(lake::fsync_directory(p.parent_path().string()));
  }
  return arrow::Status::OK();
}

// Staging files of crashed flushes (not named by an intent): `.part-*.inprogress` anywhere
// under the root, _errors/ included, _archive/ excluded.
arrow::Result<int> remove_staging(const std::string& root) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return arrow::Status::IOError("listing '", root, "': ", ec.message());
    const std::string name = it->path().filename().string();
    if (it->is_directory() && name == kIntentDir) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && name.starts_with(".part-") && name.ends_with(".inprogress")) {
      stale.push_back(it->path());
    }
  }
  for (const auto& p : stale) {
    fs::remove(p, ec);
    if (ec) return arrow::Status::IOError("cannot remove '", p.string(), "': ", ec.message());
  }
  return int(stale.size());
}

// The record schema Arrow's JSON reader infers from sample lines, restricted to the types the
// catalog stores (nested objects, lists and all-null fields are left out).
arrow::FieldVector infer_fields(std::string_view sample) {
  // Up to ~1 MiB of whole lines is plenty to see every field of accident records.
  size_t cut = std::min<size_t>(sample.size(), 1 << 20);
  if (cut < sample.size()) {
    const size_t nl = sample.rfind('\n', cut);
    cut = nl == std::string_view::npos ? sample.size() : nl + 1;
  }
  auto buffer = std::make_shared<arrow::Buffer>(reinterpret_cast<const uint8_t*>(sample.data()),
                                                int64_t(cut));
  auto input = std::make_shared<arrow::io::BufferReader>(buffer);
  auto reader = arrow::json::TableReader::Make(arrow::default_memory_pool(), input,
                                               arrow::json::ReadOptions::Defaults(),
                                               arrow::json::ParseOptions::Defaults());
  arrow::FieldVector fields;
  if (cut == 0 || !reader.ok()) return fields;
  auto table = (*reader)->Read();
  if (!table.ok()) {
    spdlog::warn("archive: cannot infer a schema for the catalog: {}", table.status().message());
    return fields;
  }
  for (const auto& f : (*table)->schema()->fields()) {
    if (f->type()->id() == arrow::Type::NA) continue;
    if (!lake::type_from_name(lake::type_name(*f->type())).ok()) continue;
    fields.push_back(f);
  }
  return fields;
}

}  // namespace

RawArchive::RawArchive(ArchiveOptions options, log::LogStore* log)
    : options_(std::move(options)),
      log_(log),
      root_(fs::absolute(fs::path(options_.lake_dir) / "raw" / options_.stream)
                .lexically_normal()
                .string()) {}

RawArchive::~RawArchive() {
  if (thread_.joinable()) {
    auto st = stop();
    if (!st.ok()) spdlog::error("archive '{}': {}", options_.stream, st.ToString());
  }
}

arrow::Result<std::unique_ptr<RawArchive>> RawArchive::make(ArchiveOptions options,
                                                            log::LogStore* log) {
  if (options.stream.empty()) return arrow::Status::Invalid("archive: no stream given");
  if (options.lake_dir.empty()) return arrow::Status::Invalid("archive: no lake directory");
  if (options.buffer_bytes < 1) {
    return arrow::Status::Invalid("archive: buffer size must be positive, got ",
                                  options.buffer_bytes);
  }
  if (options.buffer_interval_ms < 0) {
    return arrow::Status::Invalid("archive: buffer interval must not be negative");
  }
  if (options.compression_level < 1 || options.compression_level > 19) {
    return arrow::Status::Invalid("archive: zstd level ", options.compression_level,
                                  " is out of range [1, 19]");
  }
  auto described = log->describe_stream(options.stream);
  if (!described.ok()) {
    return described.status().WithMessage("archive: stream '", options.stream,
                                          "': ", described.status().message());
  }
  std::unique_ptr<RawArchive> archive(new RawArchive(std::move(options), log));
  ARROW_RETURN_NOT_OK(archive->recover());
  return archive;
}

arrow::Status RawArchive::recover() {
  std::error_code ec;
  fs::create_directories(fs::path(root_) / kIntentDir, ec);
  if (ec) return arrow::Status::IOError("cannot create '", root_, "': ", ec.message());
  if (options_.register_table) {
    ARROW_ASSIGN_OR_RAISE(catalog_, lake::Catalog::open(options_.lake_dir + "/_catalog"));
    ARROW_ASSIGN_OR_RAISE(auto existing, catalog_->find(archive_table_name(options_.stream)));
    if (existing) table_ = std::move(*existing);
  }
  // Roll a flush that crashed after its intent forward: its files are complete.
  const std::string intent_path = root_ + "/" + kIntentDir + "/" + kIntentFile;
  if (fs::exists(intent_path)) {
    ARROW_ASSIGN_OR_RAISE(auto text, read_whole(intent_path));
    ARROW_ASSIGN_OR_RAISE(auto intent, parse_intent(text, intent_path));
    std::vector<lake::CommittedFile> published;
    std::string sample;
    std::set<std::string> dirs;
    for (const auto& f : intent.files) {
      const std::string staging = root_ + "/" + f.staging;
      const std::string final_path = root_ + "/" + f.final;
      if (!fs::exists(final_path)) {
        if (!fs::exists(staging)) {
          return arrow::Status::IOError("archive intent '", intent_path, "' names '", f.final,
                                        "' but neither it nor its staging file exists");
        }
        if (::rename(staging.c_str(), final_path.c_str()) != 0) {
          return arrow::Status::IOError("cannot rename '", staging, "': ", strerror(errno));
        }
      }
      dirs.insert(fs::path(final_path).parent_path().string());
      if (!f.errors) {
        published.push_back(
            {f.partition, {fs::path(f.final).filename().string(), f.rows, f.bytes}});
        if (sample.empty() && !table_ && catalog_) {
          ARROW_ASSIGN_OR_RAISE(auto compressed, read_whole(final_path));
          ARROW_ASSIGN_OR_RAISE(sample, zstd_decompress(compressed));
        }
      }
    }
    for (const auto& d : dirs) ARROW_RETURN_NOT_OK(lake::fsync_directory(d));
    ARROW_RETURN_NOT_OK(publish(published, sample));
    for (const auto& [shard, next] : intent.positions) {
      ARROW_RETURN_NOT_OK(log_->commit_position(options_.consumer, options_.stream,
                                                log::ShardId{shard}, log::SequenceNumber{next}));
    }
    fs::remove(intent_path, ec);
    if (ec) return arrow::Status::IOError("cannot remove '", intent_path, "': ", ec.message());
    ARROW_RETURN_NOT_OK(lake::fsync_directory(root_ + "/" + kIntentDir));
    spdlog::info("archive '{}': rolled forward an interrupted flush ({} files)", options_.stream,
                 intent.files.size());
  }
  ARROW_ASSIGN_OR_RAISE(int removed, remove_staging(root_));
  if (removed > 0) {
    spdlog::info("archive '{}': removed {} staging files of an interrupted flush", options_.stream,
                 removed);
  }
  return refresh_shards();
}

arrow::Status RawArchive::refresh_shards() {
  ARROW_ASSIGN_OR_RAISE(auto description, log_->describe_stream(options_.stream));
  for (const auto& shard : description.shards) {
    const int32_t id = shard.id.value;
    if (next_.count(id)) continue;
    ARROW_ASSIGN_OR_RAISE(auto position,
                          log_->load_position(options_.consumer, options_.stream, shard.id));
    if (position) {
      next_[id] = position->value;
      committed_[id] = position->value;
    } else {
      ARROW_ASSIGN_OR_RAISE(auto first, log_->resolve(options_.stream, shard.id, {}));
      next_[id] = first.value;
    }
    finished_[id] = false;
  }
  last_refresh_ms_ = wall_ms();
  return arrow::Status::OK();
}

arrow::Result<int64_t> RawArchive::poll(const std::map<int32_t, uint64_t>* limits) {
  int64_t total = 0;
  // Start at a different shard each time, so a busy shard cannot starve the others when the
  // buffer fills up before every shard was read.
  std::vector<int32_t> order;
  for (const auto& [id, next] : next_) order.push_back(id);
  if (order.empty()) return 0;
  std::rotate(order.begin(), order.begin() + int64_t(rotate_++ % order.size()), order.end());
  for (const int32_t id : order) {
    uint64_t& next = next_[id];
    if (finished_[id]) continue;
    if (buffer_bytes_ >= options_.buffer_bytes) break;
    uint64_t limit = UINT64_MAX;
    if (limits) {
      auto it = limits->find(id);
      limit = it == limits->end() ? next : it->second;
      if (next >= limit) continue;
    }
    const int max_records = int(std::min<uint64_t>(uint64_t(options_.read_records), limit - next));
    ARROW_ASSIGN_OR_RAISE(auto result,
                          log_->read(options_.stream, log::ShardId{id}, log::SequenceNumber{next},
                                     max_records, options_.buffer_bytes - buffer_bytes_));
    const uint64_t first =
        result.records.empty() ? result.next.value : result.records.front().sequence.value;
    if (first > next) {
      const int64_t lost = int64_t(first - next);
      spdlog::warn("archive '{}': {} records of {} expired (retention) before they were archived",
                   options_.stream, lost, log::ShardId{id}.to_string());
      std::lock_guard lock(stats_mu_);
      stats_.expired_records += lost;
    }
    if (!result.records.empty() && buffer_.empty()) buffer_started_ms_ = wall_ms();
    for (auto& record : result.records) {
      buffer_bytes_ += int64_t(record.data.size()) + 1;
      buffer_.push_back(std::move(record));
    }
    total += int64_t(result.records.size());
    next = std::max(next, result.next.value);
    if (result.end_of_closed_shard) finished_[id] = true;
  }
  std::lock_guard lock(stats_mu_);
  stats_.buffered_records = int64_t(buffer_.size());
  return total;
}

arrow::Result<lake::TableEntry> RawArchive::table_prototype(std::string_view sample) {
  if (table_) return *table_;
  lake::TableEntry table;
  table.name = archive_table_name(options_.stream);
  table.location = root_;
  table.format = "json";
  arrow::FieldVector fields = infer_fields(sample);
  std::erase_if(fields, [](const auto& f) { return f->name() == "dt" || f->name() == "hour"; });
  fields.push_back(arrow::field("dt", arrow::utf8()));
  fields.push_back(arrow::field("hour", arrow::int64()));
  table.schema = arrow::schema(std::move(fields));
  table.partition_keys = {"dt", "hour"};
  return table;
}

arrow::Status RawArchive::publish(const std::vector<lake::CommittedFile>& files,
                                  std::string_view sample) {
  if (!catalog_) return arrow::Status::OK();
  if (!table_) {
    ARROW_ASSIGN_OR_RAISE(auto prototype, table_prototype(sample));
    ARROW_ASSIGN_OR_RAISE(auto existing, catalog_->find(prototype.name));
    if (!existing) ARROW_RETURN_NOT_OK(catalog_->put(prototype));
    table_ = existing ? std::move(*existing) : std::move(prototype);
  }
  // Registered before any record was seen (only dt, hour): learn the record fields now.
  if (table_->schema->num_fields() <= 2 && !sample.empty()) {
    arrow::FieldVector fields = infer_fields(sample);
    if (!fields.empty()) {
      std::erase_if(fields, [](const auto& f) { return f->name() == "dt" || f->name() == "hour"; });
      for (const auto& f : table_->schema->fields()) fields.push_back(f);
      ARROW_ASSIGN_OR_RAISE(auto current, catalog_->get(table_->name));
      current.schema = arrow::schema(fields);
      ARROW_RETURN_NOT_OK(catalog_->put(current));
      table_->schema = current.schema;
    }
  }
  if (files.empty()) return arrow::Status::OK();
  return catalog_->add_files(*table_, files);
}

arrow::Status RawArchive::flush() {
  if (buffer_.empty()) {
    // Positions can move without records (expired ranges): commit them too.
    for (const auto& [id, next] : next_) {
      if (committed_[id] != next) {
        ARROW_RETURN_NOT_OK(log_->commit_position(options_.consumer, options_.stream,
                                                  log::ShardId{id}, log::SequenceNumber{next}));
        committed_[id] = next;
      }
    }
    return arrow::Status::OK();
  }
  // Group by (errors?, hour); within a file records keep their read order (per shard, by
  // sequence). The file is named by its smallest (shard, sequence).
  struct Group {
    std::string text;
    int64_t rows = 0;
    int64_t raw_bytes = 0;
    std::pair<int32_t, uint64_t> first{INT32_MAX, UINT64_MAX};
  };
  std::map<std::pair<bool, std::string>, Group> groups;
  int64_t normalized = 0;
  for (const auto& record : buffer_) {
    const std::string partition = hour_partition(record.arrival_ms);
    auto reason = check_record(record.data);
    Group& g = groups[{reason.has_value(), partition}];
    if (g.text.empty()) g.text.reserve(size_t(buffer_bytes_) + 1024);  // usually one group
    g.first = std::min(g.first, {record.shard.value, record.sequence.value});
    ++g.rows;
    if (reason) {
      g.text += error_line(record, *reason);
    } else {
      const size_t at = g.text.size();
      g.text += record.data;
      // memchr first (vectorized): most records have no line break at all.
      const char* d = record.data.data();
      const size_t n = record.data.size();
      if (std::memchr(d, '\n', n) || std::memchr(d, '\r', n)) {
        for (size_t i = at; i < g.text.size(); ++i) {
          if (g.text[i] == '\n' || g.text[i] == '\r') g.text[i] = ' ';
        }
        ++normalized;
      }
      g.raw_bytes += int64_t(record.data.size());
    }
    g.text += '\n';
  }

  Intent intent;
  intent.positions = next_;
  std::set<std::string> dirs;
  std::string sample;
  int64_t records = 0, bytes = 0, error_records = 0, written = 0;
  for (auto& [key, g] : groups) {
    const auto& [errors, partition] = key;
    const std::string dir_rel = errors ? std::string(kErrorsDir) + "/" + partition : partition;
    ARROW_RETURN_NOT_OK(make_dirs_durable(root_, fs::path(root_) / dir_rel));
    const std::string name =
        data_file_name(log::ShardId{g.first.first}, log::SequenceNumber{g.first.second});
    PlannedFile f;
    f.staging = dir_rel + "/." + name + ".inprogress";
    f.final = dir_rel + "/" + name;
    f.partition = partition;
    f.rows = g.rows;
    f.errors = errors;
    ARROW_ASSIGN_OR_RAISE(auto compressed, zstd_compress(g.text, options_.compression_level));
    f.bytes = int64_t(compressed.size());
    ARROW_RETURN_NOT_OK(write_synced(root_ + "/" + f.staging, compressed));
    dirs.insert(root_ + "/" + dir_rel);
    written += f.bytes;
    if (errors) {
      error_records += g.rows;
    } else {
      records += g.rows;
      bytes += g.raw_bytes;
      if (sample.empty() && (!table_ || table_->schema->num_fields() <= 2)) {
        sample = std::move(g.text);
      }
    }
    intent.files.push_back(std::move(f));
  }
  // The commit point: from here on a restart rolls this flush forward.
  const std::string intent_path = root_ + "/" + kIntentDir + "/" + kIntentFile;
  ARROW_RETURN_NOT_OK(lake::write_file_atomically(intent_path, intent_json(intent)));
  std::vector<lake::CommittedFile> published;
  for (const auto& f : intent.files) {
    const std::string staging = root_ + "/" + f.staging;
    const std::string final_path = root_ + "/" + f.final;
    if (::rename(staging.c_str(), final_path.c_str()) != 0) {
      return arrow::Status::IOError("cannot rename '", staging, "' to '", final_path,
                                    "': ", strerror(errno));
    }
    if (!f.errors) {
      published.push_back({f.partition, {fs::path(f.final).filename().string(), f.rows, f.bytes}});
    }
  }
  for (const auto& d : dirs) ARROW_RETURN_NOT_OK(lake::fsync_directory(d));
  ARROW_RETURN_NOT_OK(publish(published, sample));
  for (const auto& [id, next] : intent.positions) {
    if (committed_[id] == next) continue;
    ARROW_RETURN_NOT_OK(log_->commit_position(options_.consumer, options_.stream, log::ShardId{id},
                                              log::SequenceNumber{next}));
    committed_[id] = next;
  }
  std::error_code ec;
  fs::remove(intent_path, ec);
  if (ec) return arrow::Status::IOError("cannot remove '", intent_path, "': ", ec.message());
  buffer_.clear();
  buffer_bytes_ = 0;
  std::lock_guard lock(stats_mu_);
  stats_.records += records;
  stats_.bytes += bytes;
  stats_.bytes_written += written;
  stats_.files += int64_t(intent.files.size());
  stats_.error_records += error_records;
  stats_.normalized_records += normalized;
  stats_.flushes += 1;
  stats_.last_flush_ms = wall_ms();
  stats_.buffered_records = 0;
  return arrow::Status::OK();
}

arrow::Status RawArchive::run_once() {
  if (thread_.joinable()) return arrow::Status::Invalid("archive: already running");
  ARROW_RETURN_NOT_OK(refresh_shards());
  // Each shard's end as of now: what arrives later is the next run's.
  ARROW_ASSIGN_OR_RAISE(auto description, log_->describe_stream(options_.stream));
  std::map<int32_t, uint64_t> limits;
  for (const auto& shard : description.shards) {
    limits[shard.id.value] =
        shard.ending_sequence ? shard.ending_sequence->value : shard.next_sequence.value;
  }
  while (true) {
    ARROW_ASSIGN_OR_RAISE(int64_t n, poll(&limits));
    if (buffer_bytes_ >= options_.buffer_bytes) ARROW_RETURN_NOT_OK(flush());
    if (n == 0) break;
  }
  ARROW_RETURN_NOT_OK(flush());
  // Register the table even when there was nothing to archive, so `lake tables` shows it.
  return publish({}, {});
}

void RawArchive::run_loop() {
  // Reads commit nothing, so a stream that cannot be read for a while (a Kafka broker
  // restarting, the network) is retried with backoff; a failed flush stops the archive.
  int read_failures = 0;
  auto read_failed = [&](const arrow::Status& st) {
    ++read_failures;
    const int64_t backoff = std::min<int64_t>(30'000, int64_t(250) << std::min(read_failures, 7));
    spdlog::warn("archive '{}': reading the stream failed ({}); retrying in {} ms", options_.stream,
                 st.ToString(), backoff);
    const int64_t until = wall_ms() + backoff;
    while (!stopping_.load() && wall_ms() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };
  auto step = [&]() -> arrow::Status {
    arrow::Status read_status;
    int64_t n = 0;
    if (wall_ms() - last_refresh_ms_ >= 1000) read_status = refresh_shards();
    if (read_status.ok()) {
      auto polled = poll(nullptr);
      if (polled.ok()) {
        n = *polled;
      } else {
        read_status = polled.status();
      }
    }
    const bool full = buffer_bytes_ >= options_.buffer_bytes;
    const bool old =
        !buffer_.empty() && wall_ms() - buffer_started_ms_ >= options_.buffer_interval_ms;
    if (full || old) ARROW_RETURN_NOT_OK(flush());
    if (!read_status.ok()) {
      read_failed(read_status);
      return arrow::Status::OK();
    }
    if (read_failures > 0) {
      spdlog::info("archive '{}': reading again", options_.stream);
      read_failures = 0;
    }
    if (n == 0) {
      int64_t wait = 100;
      if (!buffer_.empty()) {
        wait = std::clamp<int64_t>(buffer_started_ms_ + options_.buffer_interval_ms - wall_ms(), 1,
                                   100);
      }
      // Wait on the first unfinished shard; others are polled at least every 100 ms.
      for (const auto& [id, done] : finished_) {
        if (done) continue;
        auto waited = log_->wait_for_data(options_.stream, log::ShardId{id},
                                          log::SequenceNumber{next_[id]}, wait);
        if (!waited.ok()) read_failed(waited);
        return arrow::Status::OK();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }
    return arrow::Status::OK();
  };
  while (!stopping_.load()) {
    auto st = step();
    if (!st.ok()) {
      spdlog::error("archive '{}' stopped: {}", options_.stream, st.ToString());
      thread_status_ = st;
      return;
    }
  }
}

arrow::Status RawArchive::start() {
  if (thread_.joinable()) return arrow::Status::Invalid("archive: already running");
  ARROW_RETURN_NOT_OK(publish({}, {}));
  stopping_.store(false);
  thread_status_ = arrow::Status::OK();
  thread_ = std::thread([this] { run_loop(); });
  return arrow::Status::OK();
}

arrow::Status RawArchive::stop() {
  if (!thread_.joinable()) return arrow::Status::OK();
  stopping_.store(true);
  thread_.join();
  ARROW_RETURN_NOT_OK(thread_status_);
  return flush();
}

ArchiveStats RawArchive::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

}  // namespace roadpulse::archive
