// LogStore: streams of shards in one data directory (see log.h for the contract, format.h for
// the bytes, shard.h for the append path).

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "log/crc32c.h"
#include "log/data_dir_lock.h"
#include "log/file_system.h"
#include "log/shard.h"
#include "log/stream_meta.h"

namespace roadpulse::log {
namespace {

constexpr int kMaxShards = 10000;
constexpr size_t kMaxPartitionKey = 256;
constexpr size_t kMaxRecordData = 1 << 20;

std::string shard_dir_name(ShardId id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "shard-%012d", id.value);
  return buf;
}

// Consumer names become file names: keep [A-Za-z0-9_.-], escape the rest as %XX.
std::string escape_name(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '_' || c == '-' || (c == '.' && !out.empty())) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string unescape_name(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '%' && i + 2 < name.size() + 0 && i + 2 <= name.size() - 1) {
      out.push_back(static_cast<char>(std::stoi(std::string(name.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(name[i]);
    }
  }
  return out;
}

struct Stream {
  std::shared_mutex mu;  // shared: appends/reads; exclusive: reshard, delete
  std::string dir;
  StreamMeta meta;
  std::map<int32_t, std::shared_ptr<Shard>> shards;
  std::shared_ptr<DataSignal> signal = std::make_shared<DataSignal>();  // shared by its shards
  std::vector<std::pair<HashRange, Shard*>> open_shards;                // sorted by range start
  bool deleted = false;

  void index_open_shards() {
    open_shards.clear();
    for (const auto& s : meta.shards) {
      if (!s.ending_sequence) open_shards.emplace_back(s.range, shards.at(s.id.value).get());
    }
    std::sort(open_shards.begin(), open_shards.end(),
              [](const auto& a, const auto& b) { return a.first.start < b.first.start; });
  }
  Shard* route(HashKey key) const {
    auto it = std::partition_point(open_shards.begin(), open_shards.end(),
                                   [&](const auto& e) { return e.first.start <= key; });
    if (it == open_shards.begin()) return nullptr;
    --it;
    return it->first.contains(key) ? it->second : nullptr;
  }
};

using PositionKey = std::pair<std::string, int32_t>;  // (stream, shard)

// Owns records read as copies, for the views of LogStore::read_views' default.
class StoredRecordsBuffer final : public arrow::Buffer {
 public:
  explicit StoredRecordsBuffer(std::vector<StoredRecord> records)
      : arrow::Buffer(nullptr, 0), records_(std::move(records)) {}
  const std::vector<StoredRecord>& records() const { return records_; }

 private:
  std::vector<StoredRecord> records_;
};

class LogStoreImpl final : public LogStore {
 public:
  explicit LogStoreImpl(const LogOptions& options)
      : options_(options),
        fs_(options.file_system ? options.file_system : posix_file_system()),
        streams_dir_(join_path(options.data_dir, "streams")),
        positions_dir_(join_path(options.data_dir, "positions")) {
    shard_options_.durability = options.durability;
    shard_options_.compression = options.compression;
    shard_options_.segment_bytes = options.segment_bytes;
    shard_options_.segment_ms = options.segment_ms;
    shard_options_.max_batch_bytes = options.max_batch_bytes;
  }

  ~LogStoreImpl() override {
    {
      std::lock_guard lock(background_mu_);
      stopping_ = true;
    }
    background_cv_.notify_all();
    if (background_.joinable()) background_.join();
    std::lock_guard lock(mu_);
    for (auto& [name, stream] : streams_) {
      std::unique_lock stream_lock(stream->mu);
      for (auto& [id, shard] : stream->shards) {
        const auto status = shard->close();
        if (!status.ok()) spdlog::warn("closing {}: {}", name, status.message());
      }
    }
  }

  arrow::Status init() {
    ARROW_RETURN_NOT_OK(fs_->create_dir(options_.data_dir));
    ARROW_ASSIGN_OR_RAISE(lock_, DataDirLock::acquire(options_.data_dir));
    ARROW_RETURN_NOT_OK(fs_->create_dir(streams_dir_));
    ARROW_RETURN_NOT_OK(fs_->create_dir(positions_dir_));
    ARROW_ASSIGN_OR_RAISE(auto names, fs_->list_dir(streams_dir_));
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      const std::string dir = join_path(streams_dir_, name);
      if (name.starts_with(".")) {  // an interrupted delete or create
        ARROW_RETURN_NOT_OK(fs_->remove_all(dir));
        continue;
      }
      const std::string meta_path = join_path(dir, "stream.meta");
      ARROW_ASSIGN_OR_RAISE(bool has_meta, fs_->exists(meta_path));
      if (!has_meta) {
        ARROW_RETURN_NOT_OK(fs_->remove_all(dir));  // created but never committed
        continue;
      }
      ARROW_ASSIGN_OR_RAISE(std::string text, fs_->read_file(meta_path));
      ARROW_ASSIGN_OR_RAISE(StreamMeta meta, parse_stream_meta(text, meta_path));
      auto stream = std::make_shared<Stream>();
      stream->dir = dir;
      stream->meta = std::move(meta);
      ARROW_RETURN_NOT_OK(open_shards(*stream));
      streams_[stream->meta.name] = std::move(stream);
    }
    ARROW_RETURN_NOT_OK(load_positions());
    const bool interval = options_.durability == Durability::kInterval;
    if (interval || options_.retention_thread) {
      background_ = std::thread([this] { background_loop(); });
    }
    return arrow::Status::OK();
  }

  arrow::Status create_stream(std::string_view name, int shard_count) override {
    ARROW_RETURN_NOT_OK(validate_stream_name(name));
    if (shard_count < 1 || shard_count > kMaxShards) {
      return arrow::Status::Invalid("shard count ", shard_count, " for stream '", name,
                                    "' is out of range [1, ", kMaxShards, "]");
    }
    std::lock_guard lock(mu_);
    if (streams_.count(std::string(name))) {
      return arrow::Status::AlreadyExists("stream '", name, "' already exists");
    }
    auto stream = std::make_shared<Stream>();
    stream->dir = join_path(streams_dir_, name);
    stream->meta.name = std::string(name);
    stream->meta.created_ms = now_ms();
    stream->meta.retention_ms = options_.retention_ms;
    stream->meta.next_shard_id = shard_count;
    for (int i = 0; i < shard_count; ++i) {
      stream->meta.shards.push_back(
          {ShardId{i}, uniform_hash_range(i, shard_count), 0, {}, {}, {}});
    }
    // Shards first, then the meta file: a stream exists once its meta is durable.
    ARROW_RETURN_NOT_OK(fs_->create_dir(stream->dir));
    ARROW_RETURN_NOT_OK(fs_->sync_dir(streams_dir_));
    ARROW_RETURN_NOT_OK(open_shards(*stream));
    ARROW_RETURN_NOT_OK(fs_->write_file_atomic(join_path(stream->dir, "stream.meta"),
                                               serialize_stream_meta(stream->meta)));
    streams_[std::string(name)] = std::move(stream);
    return arrow::Status::OK();
  }

  arrow::Status delete_stream(std::string_view name) override {
    std::shared_ptr<Stream> stream;
    {
      std::lock_guard lock(mu_);
      auto it = streams_.find(std::string(name));
      if (it == streams_.end()) return not_found(name);
      stream = it->second;
      streams_.erase(it);
    }
    std::unique_lock stream_lock(stream->mu);
    stream->deleted = true;
    for (auto& [id, shard] : stream->shards) (void)shard->close();
    stream->open_shards.clear();
    const std::string doomed =
        join_path(streams_dir_, ".deleting-" + std::string(name) + "-" + std::to_string(now_ms()));
    ARROW_RETURN_NOT_OK(fs_->rename(stream->dir, doomed));
    ARROW_RETURN_NOT_OK(fs_->sync_dir(streams_dir_));
    ARROW_RETURN_NOT_OK(fs_->remove_all(doomed));
    // Positions of a deleted stream are meaningless for a future stream of the same name.
    std::lock_guard positions_lock(positions_mu_);
    for (auto& [consumer, map] : positions_) {
      bool changed = false;
      for (auto it = map.begin(); it != map.end();) {
        if (it->first.first == name) {
          it = map.erase(it);
          changed = true;
        } else {
          ++it;
        }
      }
      if (changed) ARROW_RETURN_NOT_OK(write_positions(consumer));
    }
    return arrow::Status::OK();
  }

  arrow::Result<std::vector<std::string>> list_streams() override {
    std::lock_guard lock(mu_);
    std::vector<std::string> names;
    for (const auto& [name, stream] : streams_) names.push_back(name);
    return names;
  }

  arrow::Result<StreamDescription> describe_stream(std::string_view name) override {
    ARROW_ASSIGN_OR_RAISE(auto stream, find(name));
    std::shared_lock lock(stream->mu);
    StreamDescription out;
    out.name = stream->meta.name;
    out.created_ms = stream->meta.created_ms;
    out.retention_ms = stream->meta.retention_ms;
    const int64_t minute_ago = now_ms() - 60'000;
    for (const auto& s : stream->meta.shards) {
      Shard& shard = *stream->shards.at(s.id.value);
      const ShardStats stats = shard.stats();
      ShardDescription d;
      d.id = s.id;
      d.parent = s.parent;
      d.adjacent_parent = s.adjacent_parent;
      d.starting_hash_key = s.range.start;
      d.ending_hash_key = s.range.end;
      d.starting_sequence = SequenceNumber{s.starting_sequence};
      if (s.ending_sequence) d.ending_sequence = SequenceNumber{*s.ending_sequence};
      d.next_sequence = SequenceNumber{stats.next_sequence};
      d.bytes = stats.bytes;
      d.records = static_cast<int64_t>(stats.next_sequence - stats.first_sequence);
      d.last_arrival_ms = stats.last_arrival_ms;
      ARROW_ASSIGN_OR_RAISE(d.records_last_minute, shard.records_since(minute_ago));
      out.shards.push_back(d);
    }
    return out;
  }

  arrow::Status update_shard_count(std::string_view name, int target) override {
    ARROW_ASSIGN_OR_RAISE(auto stream, find(name));
    std::unique_lock lock(stream->mu);
    if (stream->deleted) return not_found(name);
    const int current = static_cast<int>(stream->open_shards.size());
    if (target < 1 || target > kMaxShards || target * 2 < current || target > current * 2) {
      return arrow::Status::Invalid("UpdateShardCount for '", name, "' from ", current, " to ",
                                    target,
                                    " shards: the target must be between half and double the "
                                    "current count (and within [1, ",
                                    kMaxShards, "])");
    }
    if (target == current) return arrow::Status::OK();
    StreamMeta meta = stream->meta;
    std::vector<ShardMeta*> parents;
    for (auto& s : meta.shards) {
      if (!s.ending_sequence) parents.push_back(&s);
    }
    std::sort(parents.begin(), parents.end(),
              [](auto* a, auto* b) { return a->range.start < b->range.start; });
    // Close every open shard: flushes in-flight appends and fixes each ending sequence.
    for (ShardMeta* p : parents) {
      ARROW_ASSIGN_OR_RAISE(uint64_t ending, stream->shards.at(p->id.value)->close_for_appends());
      p->ending_sequence = ending;
    }
    std::vector<ShardMeta> children;
    for (int i = 0; i < target; ++i) {
      ShardMeta child;
      child.id = ShardId{meta.next_shard_id++};
      child.range = uniform_hash_range(i, target);
      // Parent: the closed shard holding the child's first hash key; adjacent parent: the next
      // one it overlaps (a merge). Its numbers start above every overlapping parent's.
      for (ShardMeta* p : parents) {
        const bool overlaps =
            p->range.start <= child.range.end && child.range.start <= p->range.end;
        if (!overlaps) continue;
        if (!child.parent) {
          child.parent = p->id;
        } else if (!child.adjacent_parent) {
          child.adjacent_parent = p->id;
        }
        child.starting_sequence = std::max(child.starting_sequence, *p->ending_sequence + 1);
      }
      children.push_back(child);
    }
    for (const auto& c : children) meta.shards.push_back(c);
    // Children's directories before the meta that names them.
    for (const auto& c : children) {
      ARROW_ASSIGN_OR_RAISE(
          auto shard, Shard::open(fs_.get(), join_path(stream->dir, shard_dir_name(c.id)), c.id,
                                  c.starting_sequence, options_for(*stream)));
      stream->shards[c.id.value] = std::move(shard);
    }
    ARROW_RETURN_NOT_OK(fs_->sync_dir(stream->dir));
    ARROW_RETURN_NOT_OK(
        fs_->write_file_atomic(join_path(stream->dir, "stream.meta"), serialize_stream_meta(meta)));
    stream->meta = std::move(meta);
    stream->index_open_shards();
    return arrow::Status::OK();
  }

  arrow::Result<std::vector<AppendResult>> append(std::string_view name,
                                                  std::span<const AppendRecord> records) override {
    ARROW_ASSIGN_OR_RAISE(auto stream, find(name));
    std::shared_lock lock(stream->mu);
    if (stream->deleted) return not_found(name);
    std::vector<AppendResult> results(records.size());
    // Few shards per call in practice: a small vector beats a map.
    std::vector<std::pair<Shard*, std::unique_ptr<AppendRequest>>> requests;
    std::vector<std::pair<size_t, size_t>> slot(records.size());  // (request, index in it)
    for (size_t i = 0; i < records.size(); ++i) {
      const AppendRecord& r = records[i];
      if (r.partition_key.empty() || r.partition_key.size() > kMaxPartitionKey) {
        return arrow::Status::Invalid("record ", i, ": partition key must be 1-", kMaxPartitionKey,
                                      " bytes, got ", r.partition_key.size());
      }
      if (r.data.size() > kMaxRecordData) {
        return arrow::Status::Invalid("record ", i, ": data is ", r.data.size(),
                                      " bytes, over the 1 MiB limit");
      }
      const HashKey key = r.explicit_hash_key ? *r.explicit_hash_key : hash_key_of(r.partition_key);
      Shard* shard = stream->route(key);
      if (shard == nullptr) {
        return arrow::Status::UnknownError("stream '", name, "' has no open shard for hash key ",
                                           format_hash_key(key));
      }
      size_t k = 0;
      while (k < requests.size() && requests[k].first != shard) ++k;
      if (k == requests.size()) requests.emplace_back(shard, std::make_unique<AppendRequest>());
      AppendRequest& request = *requests[k].second;
      slot[i] = {k, request.records.size()};
      request.records.push_back(&r);
      request.bytes += static_cast<int64_t>(r.partition_key.size() + r.data.size() + 8);
    }
    for (auto& [shard, request] : requests) shard->enqueue(request.get());
    arrow::Status status;
    for (auto& [shard, request] : requests) {
      const arrow::Status st = shard->wait(request.get());
      if (status.ok() && !st.ok()) status = st;
    }
    ARROW_RETURN_NOT_OK(status);
    for (size_t i = 0; i < records.size(); ++i) {
      const auto& [shard, request] = requests[slot[i].first];
      results[i] = {shard->id(), SequenceNumber{request->first_sequence + slot[i].second}};
    }
    return results;
  }

  arrow::Result<SequenceNumber> resolve(std::string_view name, ShardId id,
                                        const StartPosition& position) override {
    ARROW_ASSIGN_OR_RAISE(auto shard, find_shard(name, id));
    ARROW_ASSIGN_OR_RAISE(uint64_t seq, shard->resolve(position));
    return SequenceNumber{seq};
  }

  arrow::Result<ReadResult> read(std::string_view name, ShardId id, SequenceNumber from,
                                 int max_records, int64_t max_bytes) override {
    ARROW_ASSIGN_OR_RAISE(auto shard, find_shard(name, id));
    return shard->read(from.value, std::max(max_records, 1), max_bytes);
  }

  arrow::Result<ReadViewsResult> read_views(std::string_view name, ShardId id, SequenceNumber from,
                                            int max_records, int64_t max_bytes) override {
    ARROW_ASSIGN_OR_RAISE(auto shard, find_shard(name, id));
    return shard->read_views(from.value, std::max(max_records, 1), max_bytes);
  }

  arrow::Status wait_for_data(std::string_view name, ShardId id, SequenceNumber from,
                              int64_t timeout_ms) override {
    ARROW_ASSIGN_OR_RAISE(auto shard, find_shard(name, id));
    shard->wait_for_data(from.value, timeout_ms);
    return arrow::Status::OK();
  }

  arrow::Status wait_for_any(std::string_view name,
                             std::span<const std::pair<ShardId, SequenceNumber>> positions,
                             int64_t timeout_ms) override {
    ARROW_ASSIGN_OR_RAISE(auto stream, find(name));
    std::vector<std::pair<std::shared_ptr<Shard>, uint64_t>> shards;
    {
      std::shared_lock lock(stream->mu);
      if (stream->deleted) return not_found(name);
      for (const auto& [id, from] : positions) {
        auto it = stream->shards.find(id.value);
        if (it == stream->shards.end()) {
          return arrow::Status::KeyError("stream '", name, "' has no shard ", id.to_string());
        }
        shards.emplace_back(it->second, from.value);
      }
    }
    // The version is read before the shards are checked, so a record that becomes visible after
    // a check bumps it and ends the wait: no lost wake-up.
    DataSignal& signal = *stream->signal;
    uint64_t version;
    {
      std::lock_guard lock(signal.mu);
      version = signal.version;
    }
    for (const auto& [shard, from] : shards) {
      if (shard->has_data(from)) return arrow::Status::OK();
    }
    std::unique_lock lock(signal.mu);
    signal.cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                       [&] { return signal.version != version; });
    return arrow::Status::OK();
  }

  arrow::Status commit_position(std::string_view consumer, std::string_view stream, ShardId shard,
                                SequenceNumber next) override {
    if (consumer.empty() || consumer.size() > 200) {
      return arrow::Status::Invalid("consumer name must be 1-200 bytes");
    }
    ARROW_RETURN_NOT_OK(find_shard(stream, shard).status());
    std::lock_guard lock(positions_mu_);
    auto& map = positions_[std::string(consumer)];
    map[{std::string(stream), shard.value}] = next.value;
    return write_positions(std::string(consumer));
  }

  arrow::Result<std::optional<SequenceNumber>> load_position(std::string_view consumer,
                                                             std::string_view stream,
                                                             ShardId shard) override {
    std::lock_guard lock(positions_mu_);
    auto it = positions_.find(std::string(consumer));
    if (it == positions_.end()) return std::nullopt;
    auto pos = it->second.find({std::string(stream), shard.value});
    if (pos == it->second.end()) return std::nullopt;
    return SequenceNumber{pos->second};
  }

  arrow::Result<std::vector<std::string>> list_consumers() override {
    std::lock_guard lock(positions_mu_);
    std::vector<std::string> out;
    for (const auto& [name, map] : positions_) out.push_back(name);
    return out;
  }

  arrow::Status enforce_retention() override {
    for (const auto& stream : snapshot()) {
      std::shared_lock lock(stream->mu);
      if (stream->deleted) continue;
      const int64_t min_ts = now_ms() - stream->meta.retention_ms;
      for (auto& [id, shard] : stream->shards) {
        ARROW_RETURN_NOT_OK(shard->enforce_retention(min_ts, options_.retention_bytes));
      }
    }
    return arrow::Status::OK();
  }

  arrow::Status flush() override {
    for (const auto& stream : snapshot()) {
      std::shared_lock lock(stream->mu);
      for (auto& [id, shard] : stream->shards) ARROW_RETURN_NOT_OK(shard->sync());
    }
    return arrow::Status::OK();
  }

 private:
  static arrow::Status not_found(std::string_view name) {
    return arrow::Status::KeyError("stream '", name, "' not found");
  }

  arrow::Result<std::shared_ptr<Stream>> find(std::string_view name) {
    std::lock_guard lock(mu_);
    auto it = streams_.find(std::string(name));
    if (it == streams_.end()) return not_found(name);
    return it->second;
  }

  ShardOptions options_for(const Stream& stream) const {
    ShardOptions o = shard_options_;
    o.signal = stream.signal;
    return o;
  }

  arrow::Result<std::shared_ptr<Shard>> find_shard(std::string_view name, ShardId id) {
    ARROW_ASSIGN_OR_RAISE(auto stream, find(name));
    std::shared_lock lock(stream->mu);
    auto it = stream->shards.find(id.value);
    if (stream->deleted) return not_found(name);
    if (it == stream->shards.end()) {
      return arrow::Status::KeyError("stream '", name, "' has no shard ", id.to_string());
    }
    return it->second;
  }

  std::vector<std::shared_ptr<Stream>> snapshot() {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Stream>> out;
    for (const auto& [name, stream] : streams_) out.push_back(stream);
    return out;
  }

  arrow::Status open_shards(Stream& stream) {
    for (const auto& s : stream.meta.shards) {
      ARROW_ASSIGN_OR_RAISE(
          auto shard, Shard::open(fs_.get(), join_path(stream.dir, shard_dir_name(s.id)), s.id,
                                  s.starting_sequence, options_for(stream)));
      if (s.ending_sequence) shard->mark_closed(*s.ending_sequence);
      stream.shards[s.id.value] = std::move(shard);
    }
    stream.index_open_shards();
    return arrow::Status::OK();
  }

  // positions_mu_ held.
  arrow::Status write_positions(const std::string& consumer) {
    std::string text = "roadpulse-positions 1\nconsumer " + escape_name(consumer) + "\n";
    for (const auto& [key, seq] : positions_[consumer]) {
      text += "position " + key.first + " " + std::to_string(key.second) + " " +
              std::to_string(seq) + "\n";
    }
    char crc[32];
    std::snprintf(crc, sizeof(crc), "crc %08x\n", crc32c(text));
    text += crc;
    return fs_->write_file_atomic(join_path(positions_dir_, escape_name(consumer) + ".pos"), text);
  }

  arrow::Status load_positions() {
    ARROW_ASSIGN_OR_RAISE(auto names, fs_->list_dir(positions_dir_));
    for (const auto& file : names) {
      const std::string path = join_path(positions_dir_, file);
      if (file.ends_with(".tmp")) {
        ARROW_RETURN_NOT_OK(fs_->remove(path));
        continue;
      }
      if (!file.ends_with(".pos")) continue;
      ARROW_ASSIGN_OR_RAISE(std::string text, fs_->read_file(path));
      const size_t crc_at = text.rfind("crc ");
      if (crc_at == std::string::npos || std::strtoul(text.c_str() + crc_at + 4, nullptr, 16) !=
                                             crc32c(std::string_view(text).substr(0, crc_at))) {
        return arrow::Status::IOError(path, ": checksum missing or wrong; the file is damaged");
      }
      const std::string consumer = unescape_name(file.substr(0, file.size() - 4));
      auto& map = positions_[consumer];
      size_t start = 0;
      int line_no = 0;
      while (start < crc_at) {
        const size_t nl = text.find('\n', start);
        const std::string line = text.substr(start, nl - start);
        start = nl + 1;
        ++line_no;
        if (!line.starts_with("position ")) continue;
        char stream[256];
        int shard = 0;
        unsigned long long seq = 0;
        if (std::sscanf(line.c_str(), "position %255s %d %llu", stream, &shard, &seq) != 3) {
          return arrow::Status::IOError(path, ":", line_no, ": malformed line '", line, "'");
        }
        map[{stream, shard}] = seq;
      }
    }
    return arrow::Status::OK();
  }

  void background_loop() {
    const int64_t tick = options_.durability == Durability::kInterval
                             ? std::max<int64_t>(options_.sync_interval_ms, 1)
                             : 60'000;
    int64_t last_retention = now_ms();
    std::unique_lock lock(background_mu_);
    while (!stopping_) {
      background_cv_.wait_for(lock, std::chrono::milliseconds(tick));
      if (stopping_) break;
      lock.unlock();
      if (options_.durability == Durability::kInterval) {
        const auto status = flush();
        if (!status.ok()) spdlog::error("log: interval sync failed: {}", status.message());
      }
      if (options_.retention_thread && now_ms() - last_retention >= 60'000) {
        last_retention = now_ms();
        const auto status = enforce_retention();
        if (!status.ok()) spdlog::error("log: retention failed: {}", status.message());
      }
      lock.lock();
    }
  }

  const LogOptions options_;
  const std::shared_ptr<FileSystem> fs_;
  const std::string streams_dir_;
  const std::string positions_dir_;
  ShardOptions shard_options_;
  std::unique_ptr<DataDirLock> lock_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Stream>> streams_;

  std::mutex positions_mu_;
  std::map<std::string, std::map<PositionKey, uint64_t>> positions_;

  std::mutex background_mu_;
  std::condition_variable background_cv_;
  bool stopping_ = false;
  std::thread background_;
};

}  // namespace

arrow::Result<std::unique_ptr<LogStore>> LogStore::open(const LogOptions& options) {
  auto store = std::make_unique<LogStoreImpl>(options);
  ARROW_RETURN_NOT_OK(store->init());
  return store;
}

arrow::Result<ReadViewsResult> LogStore::read_views(std::string_view stream, ShardId shard,
                                                    SequenceNumber from, int max_records,
                                                    int64_t max_bytes) {
  ARROW_ASSIGN_OR_RAISE(auto read, this->read(stream, shard, from, max_records, max_bytes));
  ReadViewsResult out;
  out.shard = shard;
  out.next = read.next;
  out.end_of_closed_shard = read.end_of_closed_shard;
  out.millis_behind_latest = read.millis_behind_latest;
  auto owner = std::make_shared<StoredRecordsBuffer>(std::move(read.records));
  for (const auto& r : owner->records()) {
    out.records.push_back({r.sequence, r.arrival_ms, r.partition_key, r.data});
  }
  out.buffers.push_back(std::move(owner));
  return out;
}

}  // namespace roadpulse::log
