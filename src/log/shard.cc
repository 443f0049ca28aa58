#include "log/shard.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <random>

#include "log/crc32c.h"

namespace roadpulse::log {
namespace {

constexpr int64_t kAllocateChunk = 16LL << 20;
// Reads of at least this much of a segment map it instead of copying it out (read_views).
constexpr int64_t kMinMappedBytes = 256 << 10;
constexpr std::string_view kCheckpointName = "checkpoint";

std::string segment_name(uint64_t base, std::string_view ext) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64 "%.*s", base, static_cast<int>(ext.size()),
                ext.data());
  return buf;
}

bool parse_segment_name(std::string_view name, std::string_view ext, uint64_t* base) {
  if (name.size() != 20 + ext.size() || !name.ends_with(ext)) return false;
  uint64_t v = 0;
  for (char c : name.substr(0, 20)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *base = v;
  return true;
}

uint32_t random_epoch() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  uint32_t e = 0;
  while (e == 0) e = rng();
  return e;
}

}  // namespace

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Shard::Shard(FileSystem* fs, std::string dir, ShardId id, const ShardOptions& options)
    : fs_(fs), dir_(std::move(dir)), id_(id), options_(options) {}

Shard::~Shard() { (void)close(); }

arrow::Result<std::unique_ptr<Shard>> Shard::open(FileSystem* fs, std::string dir, ShardId id,
                                                  uint64_t starting_sequence,
                                                  const ShardOptions& options) {
  std::unique_ptr<Shard> shard(new Shard(fs, std::move(dir), id, options));
  ARROW_RETURN_NOT_OK(shard->recover(starting_sequence));
  return shard;
}

// ---------------------------------------------------------------------------------------------
// Recovery

arrow::Status Shard::recover(uint64_t starting_sequence) {
  ARROW_RETURN_NOT_OK(fs_->create_dir(dir_));
  ARROW_ASSIGN_OR_RAISE(auto names, fs_->list_dir(dir_));
  std::vector<uint64_t> bases;
  for (const auto& name : names) {
    uint64_t base = 0;
    if (name.ends_with(".tmp")) {
      ARROW_RETURN_NOT_OK(fs_->remove(join_path(dir_, name)));
    } else if (parse_segment_name(name, ".log", &base)) {
      bases.push_back(base);
    }
  }
  std::sort(bases.begin(), bases.end());

  int64_t checkpoint_offset = 0;
  uint64_t checkpoint_base = 0;
  auto checkpoint = fs_->read_file(join_path(dir_, kCheckpointName));
  if (checkpoint.ok() && checkpoint->size() == 20 &&
      unmask_crc(get_u32(checkpoint->data() + 16)) == crc32c_extend(0, checkpoint->data(), 16)) {
    checkpoint_base = get_u64(checkpoint->data());
    checkpoint_offset = static_cast<int64_t>(get_u64(checkpoint->data() + 8));
    checkpoint_ = {checkpoint_base, checkpoint_offset};
  }

  for (size_t i = 0; i < bases.size(); ++i) {
    auto segment = std::make_shared<Segment>();
    segment->path = join_path(dir_, segment_name(bases[i], ".log"));
    segment->base_sequence = bases[i];
    segment->end_sequence = bases[i];
    ARROW_ASSIGN_OR_RAISE(auto file, fs_->open(segment->path, false));
    segment->file = std::move(file);
    const bool last = i + 1 == bases.size();
    if (!segments_.empty() && segments_.back()->end_sequence != bases[i]) {
      return arrow::Status::IOError(
          "shard ", dir_, ": segment ", segment->path, " starts at sequence ", bases[i],
          " but the previous one ends at ", segments_.back()->end_sequence,
          "; records are missing, refusing to open");
    }
    if (last) {
      ARROW_RETURN_NOT_OK(
          recover_active(*segment, checkpoint_base == bases[i] ? checkpoint_offset : 0));
    } else {
      ARROW_RETURN_NOT_OK(recover_sealed(*segment));
    }
    segments_.push_back(std::move(segment));
  }
  if (segments_.empty()) {
    ARROW_ASSIGN_OR_RAISE(auto segment, create_segment(starting_sequence));
    segments_.push_back(std::move(segment));
  }
  const Segment& active = *segments_.back();
  next_sequence_ = written_sequence_ = durable_sequence_ = active.end_sequence;
  synced_offset_ = active.end;
  for (const auto& s : segments_) last_ts_ = std::max(last_ts_, s->max_ts);
  return arrow::Status::OK();
}

bool Shard::load_index(Segment& segment) {
  auto data = fs_->read_file(segment.path.substr(0, segment.path.size() - 4) + ".idx");
  if (!data.ok() || data->size() < 40) return false;
  const char* p = data->data();
  if (get_u32(p) != kIndexMagic) return false;
  if (unmask_crc(get_u32(p + 4)) != crc32c_extend(0, p + 8, data->size() - 8)) return false;
  const uint32_t count = get_u32(p + 8);
  if (data->size() != 40 + static_cast<size_t>(count) * 24 || count == 0) return false;
  auto size = segment.file->size();
  const int64_t end = static_cast<int64_t>(get_u64(p + 16));
  if (!size.ok() || *size != end) return false;
  segment.end = end;
  segment.end_sequence = get_u64(p + 24);
  segment.max_ts = static_cast<int64_t>(get_u64(p + 32));
  segment.index.clear();
  for (uint32_t i = 0; i < count; ++i) {
    const char* e = p + 40 + i * 24;
    segment.index.push_back(
        {get_u64(e), static_cast<int64_t>(get_u64(e + 8)), static_cast<int64_t>(get_u64(e + 16))});
  }
  segment.first_ts = segment.index.front().timestamp_ms;
  return segment.index.front().base_sequence == segment.base_sequence;
}

arrow::Status Shard::write_index(const Segment& segment) {
  if (segment.index.empty()) return arrow::Status::OK();
  std::string out(40, '\0');
  char* p = out.data();
  put_u32(p, kIndexMagic);
  put_u32(p + 8, static_cast<uint32_t>(segment.index.size()));
  put_u64(p + 16, static_cast<uint64_t>(segment.end));
  put_u64(p + 24, segment.end_sequence);
  put_u64(p + 32, static_cast<uint64_t>(segment.max_ts));
  for (const auto& e : segment.index) {
    char entry[24];
    put_u64(entry, e.base_sequence);
    put_u64(entry + 8, static_cast<uint64_t>(e.offset));
    put_u64(entry + 16, static_cast<uint64_t>(e.timestamp_ms));
    out.append(entry, 24);
  }
  put_u32(out.data() + 4, mask_crc(crc32c_extend(0, out.data() + 8, out.size() - 8)));
  // The index is a cache: a torn or missing one is rebuilt by scanning, so no rename dance.
  const std::string path = segment.path.substr(0, segment.path.size() - 4) + ".idx";
  ARROW_ASSIGN_OR_RAISE(auto file, fs_->open(path, true));
  ARROW_RETURN_NOT_OK(file->truncate(0));
  ARROW_RETURN_NOT_OK(file->write_at(0, out));
  return file->sync();
}

namespace {

struct ScanResult {
  int64_t bad_offset = -1;  // -1: clean end
  std::string why;
};

// Reads the batch at `offset` and checks everything but the sequence; kOk fills header.
HeaderCheck check_batch(File& file, int64_t offset, int64_t file_size, uint32_t epoch,
                        BatchHeader* header, std::string* why) {
  char buf[kBatchHeaderSize];
  if (offset + kBatchHeaderSize > file_size) {
    *why = "batch header runs past the end of the file";
    return HeaderCheck::kBad;
  }
  auto n = file.read_at(offset, kBatchHeaderSize, buf);
  if (!n.ok() || *n != kBatchHeaderSize) {
    *why = "short read";
    return HeaderCheck::kBad;
  }
  const HeaderCheck check = decode_batch_header(std::string_view(buf, kBatchHeaderSize), header);
  if (check == HeaderCheck::kZero) return check;
  if (check == HeaderCheck::kBad) {
    *why = "bad batch header (magic or header checksum)";
    return check;
  }
  if (header->epoch != epoch) {
    *why = "batch belongs to another segment (epoch mismatch)";
    return HeaderCheck::kBad;
  }
  if (offset + header->total_size() > file_size) {
    *why = "batch runs past the end of the file";
    return HeaderCheck::kBad;
  }
  std::string payload(header->payload_length, '\0');
  n = file.read_at(offset + kBatchHeaderSize, header->payload_length, payload.data());
  if (!n.ok() || *n != header->payload_length ||
      unmask_crc(header->payload_crc) != crc32c(payload)) {
    *why = "batch payload checksum mismatch";
    return HeaderCheck::kBad;
  }
  return HeaderCheck::kOk;
}

// Walks batches from the segment header on, filling the index. Stops at the end of data or at
// the first invalid batch.
arrow::Result<ScanResult> scan_segment(File& file, Segment& segment, int64_t file_size) {
  ScanResult result;
  int64_t offset = kSegmentHeaderSize;
  int64_t last_indexed = -kIndexIntervalBytes;
  segment.index.clear();
  segment.end_sequence = segment.base_sequence;
  while (offset < file_size) {
    BatchHeader header;
    std::string why;
    const HeaderCheck check = check_batch(file, offset, file_size, segment.epoch, &header, &why);
    if (check == HeaderCheck::kZero) break;
    if (check == HeaderCheck::kOk && header.base_sequence != segment.end_sequence) {
      why = "sequence " + std::to_string(header.base_sequence) + " where " +
            std::to_string(segment.end_sequence) + " was expected";
      result.bad_offset = offset;
      result.why = why;
      break;
    }
    if (check != HeaderCheck::kOk) {
      result.bad_offset = offset;
      result.why = why;
      break;
    }
    if (offset - last_indexed >= kIndexIntervalBytes) {
      segment.index.push_back({header.base_sequence, offset, header.first_timestamp_ms});
      last_indexed = offset;
    }
    if (segment.first_ts == 0) segment.first_ts = header.first_timestamp_ms;
    segment.max_ts = std::max(segment.max_ts, header.max_timestamp_ms);
    segment.end_sequence = header.end_sequence();
    offset += header.total_size();
  }
  segment.end = std::min(offset, file_size);
  return result;
}

}  // namespace

arrow::Status Shard::recover_sealed(Segment& segment) {
  std::string header_bytes(kSegmentHeaderSize, '\0');
  ARROW_ASSIGN_OR_RAISE(int64_t n,
                        segment.file->read_at(0, kSegmentHeaderSize, header_bytes.data()));
  header_bytes.resize(static_cast<size_t>(n));
  auto header = decode_segment_header(header_bytes);
  if (!header.ok() || header->base_sequence != segment.base_sequence) {
    return arrow::Status::IOError("shard ", dir_, ": sealed segment ", segment.path,
                                  " has a damaged header; refusing to open");
  }
  segment.epoch = header->epoch;
  segment.created_ms = header->created_ms;
  segment.sealed = true;
  if (load_index(segment)) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(int64_t size, segment.file->size());
  segment.first_ts = segment.max_ts = 0;
  ARROW_ASSIGN_OR_RAISE(ScanResult scan, scan_segment(*segment.file, segment, size));
  // A sealed segment was fully synced and cut to its end before the next one was created, so
  // any damage in it is damage to acknowledged records.
  if (scan.bad_offset >= 0 || segment.end != size) {
    return arrow::Status::IOError(
        "shard ", dir_, ": sealed segment ", segment.path, " is corrupt at offset ",
        scan.bad_offset >= 0 ? scan.bad_offset : segment.end, " (",
        scan.bad_offset >= 0 ? scan.why : "unexpected zeros", "); refusing to open");
  }
  return write_index(segment);
}

arrow::Status Shard::recover_active(Segment& segment, int64_t checkpoint) {
  ARROW_ASSIGN_OR_RAISE(int64_t size, segment.file->size());
  std::string header_bytes(kSegmentHeaderSize, '\0');
  ARROW_ASSIGN_OR_RAISE(int64_t n,
                        segment.file->read_at(0, kSegmentHeaderSize, header_bytes.data()));
  header_bytes.resize(static_cast<size_t>(n));
  auto header = decode_segment_header(header_bytes);
  if (!header.ok() || header->base_sequence != segment.base_sequence) {
    // A crash while creating the segment: nothing was acknowledged in it unless data follows.
    std::string probe(static_cast<size_t>(std::min<int64_t>(size, 1 << 20)), '\0');
    ARROW_ASSIGN_OR_RAISE(int64_t got, segment.file->read_at(0, probe.size(), probe.data()));
    probe.resize(static_cast<size_t>(got));
    const bool has_data = probe.size() > static_cast<size_t>(kSegmentHeaderSize) &&
                          probe.find_first_not_of('\0', kSegmentHeaderSize) != std::string::npos;
    if (has_data || checkpoint > kSegmentHeaderSize) {
      return arrow::Status::IOError("shard ", dir_, ": segment ", segment.path,
                                    " has a damaged header but holds data; refusing to open");
    }
    segment.file.reset();
    ARROW_RETURN_NOT_OK(fs_->remove(segment.path));
    ARROW_ASSIGN_OR_RAISE(auto fresh, create_segment(segment.base_sequence));
    segment = std::move(*fresh);
    return arrow::Status::OK();
  }
  segment.epoch = header->epoch;
  segment.created_ms = header->created_ms;
  segment.first_ts = segment.max_ts = 0;
  ARROW_ASSIGN_OR_RAISE(ScanResult scan, scan_segment(*segment.file, segment, size));
  segment.allocated = size;
  if (scan.bad_offset < 0) return arrow::Status::OK();

  // Is the damage below what was acknowledged? Look for later valid batches of this segment:
  // each records how far the file was durable when it was written.
  const int64_t bad = scan.bad_offset;
  int64_t durable = checkpoint;
  constexpr int64_t kWindow = 1 << 20;
  std::string window;
  for (int64_t start = bad + 1; start < size; start += kWindow) {
    const int64_t len = std::min<int64_t>(kWindow + 3, size - start);
    window.resize(static_cast<size_t>(len));
    ARROW_ASSIGN_OR_RAISE(int64_t got, segment.file->read_at(start, len, window.data()));
    window.resize(static_cast<size_t>(got));
    const char magic[4] = {'R', 'P', 'L', 'B'};
    for (size_t at = window.find(std::string_view(magic, 4)); at != std::string::npos;
         at = window.find(std::string_view(magic, 4), at + 1)) {
      if (at >= static_cast<size_t>(kWindow)) break;
      BatchHeader later;
      std::string why;
      if (check_batch(*segment.file, start + static_cast<int64_t>(at), size, segment.epoch, &later,
                      &why) == HeaderCheck::kOk) {
        durable = std::max(durable, static_cast<int64_t>(later.durable_upto));
      }
    }
  }
  if (bad < durable) {
    return arrow::Status::IOError(
        "shard ", dir_, ": segment ", segment.path, " is corrupt at offset ", bad, " (", scan.why,
        "), below its durable position ", durable,
        "; acknowledged records would be lost, refusing to open. Move the shard directory "
        "aside or restore it to recover the rest.");
  }
  // Torn tail: cut it and zero what follows, so the next scan ends at the same place.
  ARROW_RETURN_NOT_OK(segment.file->truncate(bad));
  ARROW_RETURN_NOT_OK(segment.file->allocate(size));
  ARROW_RETURN_NOT_OK(segment.file->sync());
  segment.end = bad;
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<Segment>> Shard::create_segment(uint64_t base_sequence) {
  auto segment = std::make_shared<Segment>();
  segment->path = join_path(dir_, segment_name(base_sequence, ".log"));
  segment->base_sequence = base_sequence;
  segment->end_sequence = base_sequence;
  segment->epoch = random_epoch();
  segment->created_ms = now_ms();
  ARROW_ASSIGN_OR_RAISE(auto file, fs_->open(segment->path, true));
  segment->file = std::move(file);
  ARROW_RETURN_NOT_OK(segment->file->truncate(0));
  SegmentHeader header{segment->epoch, base_sequence, segment->created_ms};
  ARROW_RETURN_NOT_OK(segment->file->write_at(0, encode_segment_header(header)));
  segment->allocated = std::min(options_.segment_bytes, kAllocateChunk);
  segment->allocated = std::max<int64_t>(segment->allocated, kSegmentHeaderSize);
  ARROW_RETURN_NOT_OK(segment->file->allocate(segment->allocated));
  ARROW_RETURN_NOT_OK(segment->file->sync());
  ARROW_RETURN_NOT_OK(fs_->sync_dir(dir_));
  return segment;
}

// ---------------------------------------------------------------------------------------------
// Append path

void Shard::enqueue(AppendRequest* request) {
  std::lock_guard lock(mu_);
  pending_.push_back(request);
}

arrow::Status Shard::wait(AppendRequest* request) {
  std::unique_lock lock(mu_);
  while (!request->done) {
    if (!failed_.ok() || closed_ || shut_down_) {
      // Nothing more will be written: fail whatever is still queued.
      const arrow::Status status =
          !failed_.ok() ? failed_
                        : arrow::Status::Invalid("shard ", id_.to_string(),
                                                 " is closed (resharded); append to its children");
      for (auto* r : pending_) {
        r->status = status;
        r->done = true;
        r->cv.notify_one();
      }
      pending_.clear();
      if (request->done) break;
    }
    if (!writing_ && !pending_.empty()) {
      run_writer(lock);
      continue;
    }
    if (options_.durability == Durability::kFsync && !syncing_ && !rolling_ &&
        written_sequence_ > durable_sequence_) {
      run_syncer(lock);
      continue;
    }
    request->waiting = true;
    request->cv.wait(lock);
    request->waiting = false;
  }
  return request->status;
}

void Shard::wake_for_roles() {
  auto first_waiting = [](const std::deque<AppendRequest*>& queue) {
    for (AppendRequest* r : queue) {
      if (r->waiting) return r;
    }
    return static_cast<AppendRequest*>(nullptr);
  };
  if (!writing_ && !pending_.empty()) {
    if (AppendRequest* r = first_waiting(pending_)) r->cv.notify_one();
  }
  if (options_.durability == Durability::kFsync && !syncing_ && !rolling_ &&
      written_sequence_ > durable_sequence_) {
    AppendRequest* r = first_waiting(inflight_);
    if (r == nullptr) r = first_waiting(pending_);
    if (r != nullptr) r->cv.notify_one();
  }
  cv_.notify_all();
}

void Shard::fail(const arrow::Status& status) {
  if (failed_.ok()) {
    failed_ =
        arrow::Status::IOError("shard ", id_.to_string(), " (", dir_,
                               ") stopped accepting appends after an I/O error: ", status.message(),
                               "; reopen the log to recover");
  }
  for (auto* r : inflight_) {
    r->status = failed_;
    r->done = true;
    r->cv.notify_one();
  }
  inflight_.clear();
  for (auto* r : pending_) {
    r->status = failed_;
    r->done = true;
    r->cv.notify_one();
  }
  pending_.clear();
  cv_.notify_all();
  notify_readers();
}

uint64_t Shard::visible_sequence() const {
  return options_.durability == Durability::kFsync ? durable_sequence_ : written_sequence_;
}

void Shard::complete_durable() {
  while (!inflight_.empty()) {
    AppendRequest* r = inflight_.front();
    if (r->first_sequence + r->records.size() > durable_sequence_) break;
    r->done = true;
    r->cv.notify_one();
    inflight_.pop_front();
  }
}

void Shard::run_writer(std::unique_lock<std::mutex>& lock) {
  writing_ = true;
  std::vector<AppendRequest*> group;
  int64_t bytes = 0;
  uint32_t count = 0;
  while (!pending_.empty() &&
         (group.empty() || bytes + pending_.front()->bytes <= options_.max_batch_bytes)) {
    AppendRequest* r = pending_.front();
    pending_.pop_front();
    r->first_sequence = next_sequence_;
    next_sequence_ += r->records.size();
    bytes += r->bytes;
    count += static_cast<uint32_t>(r->records.size());
    group.push_back(r);
  }
  const uint64_t base = group.front()->first_sequence;
  const int64_t ts = last_ts_ = std::max(last_ts_, now_ms());
  Segment* active = segments_.back().get();
  const bool full = active->end > kSegmentHeaderSize &&
                    (active->end + kBatchHeaderSize + bytes > options_.segment_bytes ||
                     (active->first_ts > 0 && ts - active->created_ms >= options_.segment_ms));
  lock.unlock();

  std::string raw(kBatchHeaderSize, '\0');  // header space: uncompressed batches need no copy
  raw.reserve(static_cast<size_t>(kBatchHeaderSize + bytes));
  for (auto* r : group) {
    for (const auto* record : r->records)
      append_record(raw, 0, record->partition_key, record->data);
  }
  arrow::Status status = full ? roll() : arrow::Status::OK();

  lock.lock();
  active = segments_.back().get();
  const int64_t offset = active->end;
  BatchHeader header;
  header.epoch = active->epoch;
  header.record_count = count;
  header.base_sequence = base;
  header.first_timestamp_ms = ts;
  header.max_timestamp_ms = ts;
  header.durable_upto = static_cast<uint64_t>(synced_offset_);
  std::shared_ptr<File> file = segments_.back()->file;
  const int64_t allocated = active->allocated;
  lock.unlock();

  std::string batch;
  if (status.ok()) {
    auto encoded = encode_batch_in_place(header, std::move(raw), options_.compression);
    status = encoded.status();
    if (status.ok()) batch = std::move(*encoded);
  }
  int64_t new_allocated = allocated;
  if (status.ok() && offset + static_cast<int64_t>(batch.size()) > allocated) {
    new_allocated = std::max(offset + static_cast<int64_t>(batch.size()),
                             std::min(allocated + kAllocateChunk, options_.segment_bytes));
    status = file->allocate(new_allocated);
  }
  if (status.ok()) status = file->write_at(offset, batch);

  lock.lock();
  writing_ = false;
  if (!status.ok()) {
    for (auto* r : group) inflight_.push_back(r);
    fail(status);
    return;
  }
  active = segments_.back().get();
  active->allocated = new_allocated;
  if (active->index.empty() || offset - active->index.back().offset >= kIndexIntervalBytes) {
    active->index.push_back({base, offset, ts});
  }
  if (active->first_ts == 0) active->first_ts = ts;
  active->max_ts = std::max(active->max_ts, ts);
  active->end = offset + static_cast<int64_t>(batch.size());
  active->end_sequence = base + count;
  written_sequence_ = base + count;
  if (options_.durability == Durability::kFsync) {
    for (auto* r : group) inflight_.push_back(r);
  } else {
    for (auto* r : group) {
      r->done = true;
      r->cv.notify_one();
    }
    notify_readers();
  }
  wake_for_roles();
}

void Shard::run_syncer(std::unique_lock<std::mutex>& lock) {
  syncing_ = true;
  const uint64_t target_sequence = written_sequence_;
  const int64_t target_offset = segments_.back()->end;
  std::shared_ptr<File> file = segments_.back()->file;
  lock.unlock();
  const arrow::Status status = file->sync();
  lock.lock();
  syncing_ = false;
  if (!status.ok()) {
    fail(status);
    return;
  }
  if (target_sequence > durable_sequence_) {
    durable_sequence_ = target_sequence;
    synced_offset_ = target_offset;
    complete_durable();
    notify_readers();
  }
  wake_for_roles();
}

arrow::Status Shard::roll() {
  // Writer role held: no batch can be written meanwhile. Wait out an in-flight sync so the
  // old segment's durable position is settled.
  std::shared_ptr<Segment> old;
  {
    std::unique_lock lock(mu_);
    rolling_ = true;
    cv_.wait(lock, [&] { return !syncing_; });
    old = segments_.back();
  }
  auto finish = [&](arrow::Status status) {
    std::lock_guard lock(mu_);
    rolling_ = false;
    wake_for_roles();
    return status;
  };
  int64_t end;
  uint64_t end_sequence;
  {
    std::lock_guard lock(mu_);
    end = old->end;
    end_sequence = old->end_sequence;
  }
  // Seal: data synced, size cut to the data, index written, before the next segment exists.
  arrow::Status status = old->file->sync();
  if (status.ok()) status = old->file->truncate(end);
  if (status.ok()) status = old->file->sync();
  if (!status.ok()) return finish(status);
  {
    std::lock_guard lock(mu_);
    durable_sequence_ = std::max(durable_sequence_, end_sequence);
    old->sealed = true;
    old->allocated = end;
    complete_durable();
    notify_readers();
  }
  status = write_index(*old);
  if (!status.ok()) return finish(status);
  auto fresh = create_segment(end_sequence);
  if (!fresh.ok()) return finish(fresh.status());
  {
    std::lock_guard lock(mu_);
    segments_.push_back(std::move(*fresh));
    synced_offset_ = kSegmentHeaderSize;
  }
  return finish(arrow::Status::OK());
}

arrow::Status Shard::sync() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !syncing_ && !rolling_; });
  if (!failed_.ok()) return failed_;
  if (written_sequence_ == durable_sequence_) return arrow::Status::OK();
  run_syncer(lock);
  return failed_;
}

// ---------------------------------------------------------------------------------------------
// Reading

arrow::Result<uint64_t> Shard::resolve(const StartPosition& position) {
  std::unique_lock lock(mu_);
  const uint64_t first = segments_.front()->base_sequence;
  const uint64_t visible = visible_sequence();
  switch (position.kind) {
    case StartKind::kTrimHorizon:
      return first;
    case StartKind::kLatest:
      return visible;
    case StartKind::kAtSequence:
    case StartKind::kAfterSequence: {
      const uint64_t seq = position.sequence.value + (position.kind == StartKind::kAfterSequence);
      if (seq > next_sequence_ ||
          (seq == next_sequence_ && closed_ && position.kind == StartKind::kAtSequence)) {
        return arrow::Status::Invalid("sequence number ", position.sequence.value,
                                      " is beyond the end of shard ", id_.to_string(), " (next is ",
                                      next_sequence_, ")");
      }
      return std::max(seq, first);
    }
    case StartKind::kAtTimestamp: {
      // Arrival timestamps never decrease within a shard, so binary searches work.
      const int64_t ts = position.timestamp_ms;
      auto seg_it = std::partition_point(segments_.begin(), segments_.end(), [&](const auto& s) {
        return s->max_ts != 0 && s->max_ts < ts;
      });
      if (seg_it == segments_.end() || (*seg_it)->index.empty()) return visible;
      std::shared_ptr<Segment> segment = *seg_it;
      auto entry = std::partition_point(segment->index.begin(), segment->index.end(),
                                        [&](const IndexEntry& e) { return e.timestamp_ms < ts; });
      if (entry != segment->index.begin()) --entry;
      const int64_t offset = entry->offset;
      uint64_t seq = entry->base_sequence;
      const uint64_t limit = std::min(visible, segment->end_sequence);
      lock.unlock();
      int64_t at = offset;
      while (seq < limit) {
        char buf[kBatchHeaderSize];
        ARROW_ASSIGN_OR_RAISE(int64_t n, segment->file->read_at(at, kBatchHeaderSize, buf));
        BatchHeader header;
        if (n != kBatchHeaderSize || decode_batch_header(std::string_view(buf, kBatchHeaderSize),
                                                         &header) != HeaderCheck::kOk) {
          return arrow::Status::IOError("segment ", segment->path, " is corrupt at offset ", at);
        }
        if (header.max_timestamp_ms >= ts) {
          std::string payload(header.payload_length, '\0');
          ARROW_RETURN_NOT_OK(
              segment->file->read_at(at + kBatchHeaderSize, header.payload_length, payload.data()));
          std::vector<StoredRecord> records;
          ARROW_RETURN_NOT_OK(decode_batch_records(header, payload, &records));
          for (const auto& r : records) {
            if (r.arrival_ms >= ts) return r.sequence.value;
          }
        }
        seq = header.end_sequence();
        at += header.total_size();
      }
      return seq;
    }
  }
  return arrow::Status::Invalid("unknown start position");
}

arrow::Result<ReadResult> Shard::read(uint64_t from, int max_records, int64_t max_bytes) {
  ARROW_ASSIGN_OR_RAISE(auto views, read_views(from, max_records, max_bytes));
  ReadResult result;
  result.records.reserve(views.records.size());
  for (const auto& v : views.records) {
    StoredRecord record;
    record.shard = id_;
    record.sequence = v.sequence;
    record.arrival_ms = v.arrival_ms;
    record.partition_key.assign(v.partition_key);
    record.data.assign(v.data);
    result.records.push_back(std::move(record));
  }
  result.next = views.next;
  result.end_of_closed_shard = views.end_of_closed_shard;
  result.millis_behind_latest = views.millis_behind_latest;
  return result;
}

arrow::Result<ReadViewsResult> Shard::read_views(uint64_t from, int max_records,
                                                 int64_t max_bytes) {
  std::unique_lock lock(mu_);
  if (from > next_sequence_) {
    return arrow::Status::Invalid("sequence number ", from, " is beyond the end of shard ",
                                  id_.to_string(), " (next is ", next_sequence_, ")");
  }
  from = std::max(from, segments_.front()->base_sequence);
  const uint64_t visible = visible_sequence();
  const int64_t last_ts = last_ts_;
  const bool closed = closed_;
  auto seg_it = std::partition_point(segments_.begin(), segments_.end(),
                                     [&](const auto& s) { return s->base_sequence <= from; });
  if (seg_it != segments_.begin()) --seg_it;
  std::vector<std::shared_ptr<Segment>> segments(seg_it, segments_.end());
  // Per segment: where its visible batches end (the active segment grows past this meanwhile;
  // sealed ones are cut to it), so mappings never reach past the data.
  std::vector<uint64_t> segment_ends;
  std::vector<int64_t> segment_bytes;
  for (const auto& s : segments) {
    segment_ends.push_back(s->end_sequence);
    segment_bytes.push_back(s->end);
  }
  const Segment& first = *segments.front();
  auto entry = std::partition_point(first.index.begin(), first.index.end(),
                                    [&](const IndexEntry& e) { return e.base_sequence <= from; });
  int64_t offset = kSegmentHeaderSize;
  uint64_t seq = first.base_sequence;
  if (entry != first.index.begin()) {
    --entry;
    offset = entry->offset;
    seq = entry->base_sequence;
  }
  lock.unlock();

  ReadViewsResult result;
  result.shard = id_;
  int64_t bytes = 0;
  size_t s = 0;
  // The segment's bytes from the first batch read on: mapped (no copy), or read with pread
  // when the file system cannot map (the fault-injection one of the tests).
  std::shared_ptr<arrow::Buffer> window;
  int64_t window_offset = 0;  // file offset of window->data()
  std::vector<RecordView> records;
  while (seq < visible && static_cast<int>(result.records.size()) < max_records &&
         (bytes < max_bytes || result.records.empty())) {
    if (seq >= segment_ends[s] && s + 1 < segments.size()) {
      ++s;
      offset = kSegmentHeaderSize;
      window.reset();
      continue;
    }
    const Segment& segment = *segments[s];
    auto corrupt = [&] {
      return arrow::Status::IOError("shard ", id_.to_string(), ": segment ", segment.path,
                                    " is corrupt at offset ", offset, " (sequence ", seq, ")");
    };
    // Every batch below `visible` lies before the segment's end taken above: one mapping of
    // [offset, end) serves the rest of this read in the segment. Small reads at the tail copy
    // instead (a mapping costs two system calls and a TLB flush).
    if (window == nullptr && segment_bytes[s] - offset >= kMinMappedBytes) {
      auto mapped = segment.file->map(offset, segment_bytes[s] - offset);
      if (mapped.ok()) {
        window = std::move(*mapped);
        window_offset = offset;
      } else if (!mapped.status().IsNotImplemented()) {
        return mapped.status();
      }
    }
    BatchHeader header;
    std::string_view header_bytes;
    char buf[kBatchHeaderSize];
    if (window != nullptr && offset + kBatchHeaderSize <= window_offset + window->size()) {
      header_bytes =
          std::string_view(reinterpret_cast<const char*>(window->data()) + (offset - window_offset),
                           kBatchHeaderSize);
    } else {
      ARROW_ASSIGN_OR_RAISE(int64_t n, segment.file->read_at(offset, kBatchHeaderSize, buf));
      if (n != kBatchHeaderSize) return corrupt();
      header_bytes = std::string_view(buf, kBatchHeaderSize);
    }
    if (decode_batch_header(header_bytes, &header) != HeaderCheck::kOk ||
        header.epoch != segment.epoch || header.base_sequence != seq) {
      return corrupt();
    }
    if (header.end_sequence() > from) {
      std::string_view payload;
      std::shared_ptr<arrow::Buffer> holder;
      if (window != nullptr && offset + header.total_size() <= window_offset + window->size()) {
        payload = std::string_view(reinterpret_cast<const char*>(window->data()) +
                                       (offset - window_offset) + kBatchHeaderSize,
                                   header.payload_length);
        holder = window;
      } else {
        ARROW_ASSIGN_OR_RAISE(auto copy, arrow::AllocateBuffer(header.payload_length));
        ARROW_ASSIGN_OR_RAISE(
            int64_t n, segment.file->read_at(offset + kBatchHeaderSize, header.payload_length,
                                             reinterpret_cast<char*>(copy->mutable_data())));
        payload = std::string_view(reinterpret_cast<const char*>(copy->data()), size_t(n));
        holder = std::move(copy);
      }
      records.clear();
      std::shared_ptr<arrow::Buffer> decompressed;
      auto st = decode_batch_views(header, payload, &decompressed, &records);
      if (!st.ok()) {
        return arrow::Status::IOError("shard ", id_.to_string(), ": segment ", segment.path,
                                      " offset ", offset, ": ", st.message());
      }
      const size_t before = result.records.size();
      for (const auto& r : records) {
        if (r.sequence.value < from) continue;
        if (static_cast<int>(result.records.size()) >= max_records ||
            (bytes >= max_bytes && !result.records.empty())) {
          break;
        }
        bytes += static_cast<int64_t>(r.data.size() + r.partition_key.size());
        result.records.push_back(r);
      }
      if (result.records.size() > before) {
        auto& owner = decompressed != nullptr ? decompressed : holder;
        if (result.buffers.empty() || result.buffers.back() != owner) {
          result.buffers.push_back(std::move(owner));
        }
      }
    }
    seq = header.end_sequence();
    offset += header.total_size();
  }
  result.next =
      SequenceNumber{result.records.empty() ? from : result.records.back().sequence.value + 1};
  result.end_of_closed_shard = closed && result.next.value >= visible;
  if (!result.records.empty() && result.next.value < visible) {
    result.millis_behind_latest = std::max<int64_t>(0, last_ts - result.records.back().arrival_ms);
  }
  return result;
}

void Shard::notify_readers() {
  data_cv_.notify_all();
  if (options_.signal) options_.signal->notify();
}

bool Shard::has_data(uint64_t from) {
  std::lock_guard lock(mu_);
  return visible_sequence() > from || closed_ || !failed_.ok() || shut_down_;
}

void Shard::wait_for_data(uint64_t from, int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  data_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return visible_sequence() > from || closed_ || !failed_.ok() || shut_down_;
  });
}

// ---------------------------------------------------------------------------------------------
// Lifecycle, stats, retention

arrow::Result<uint64_t> Shard::close_for_appends() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !writing_ && pending_.empty(); });
  lock.unlock();
  ARROW_RETURN_NOT_OK(sync());
  lock.lock();
  if (!failed_.ok()) return failed_;
  closed_ = true;
  notify_readers();
  cv_.notify_all();
  return next_sequence_;
}

void Shard::mark_closed(uint64_t ending_sequence) {
  std::lock_guard lock(mu_);
  closed_ = true;
}

bool Shard::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

ShardStats Shard::stats() {
  std::lock_guard lock(mu_);
  ShardStats stats;
  stats.first_sequence = segments_.front()->base_sequence;
  stats.next_sequence = visible_sequence();
  stats.last_arrival_ms = last_ts_;
  stats.segments = static_cast<int>(segments_.size());
  for (const auto& s : segments_) stats.bytes += s->end - kSegmentHeaderSize;
  return stats;
}

arrow::Result<int64_t> Shard::records_since(int64_t since_ms) {
  ARROW_ASSIGN_OR_RAISE(uint64_t at, resolve(StartPosition{StartKind::kAtTimestamp, {}, since_ms}));
  std::lock_guard lock(mu_);
  const uint64_t visible = visible_sequence();
  return static_cast<int64_t>(visible > at ? visible - at : 0);
}

arrow::Status Shard::enforce_retention(int64_t min_ts_ms, int64_t max_bytes) {
  while (true) {
    std::shared_ptr<Segment> victim;
    {
      std::lock_guard lock(mu_);
      if (segments_.size() < 2) return arrow::Status::OK();
      int64_t total = 0;
      for (const auto& s : segments_) total += s->end;
      const auto& oldest = segments_.front();
      const bool expired = oldest->max_ts != 0 && oldest->max_ts < min_ts_ms;
      const bool too_big = max_bytes >= 0 && total > max_bytes;
      if (!oldest->sealed || (!expired && !too_big)) return arrow::Status::OK();
      victim = oldest;
      // Readers switch to the new trim horizon at once; open readers keep the file handle.
      segments_.erase(segments_.begin());
    }
    ARROW_RETURN_NOT_OK(fs_->remove(victim->path));
    ARROW_RETURN_NOT_OK(fs_->remove(victim->path.substr(0, victim->path.size() - 4) + ".idx"));
    ARROW_RETURN_NOT_OK(fs_->sync_dir(dir_));
  }
}

arrow::Status Shard::close() {
  std::unique_lock lock(mu_);
  if (shut_down_ || segments_.empty()) return arrow::Status::OK();  // closed, or never opened
  cv_.wait(lock, [&] { return !writing_ && !syncing_ && !rolling_ && pending_.empty(); });
  shut_down_ = true;
  cv_.notify_all();
  notify_readers();
  if (!failed_.ok()) return failed_;
  const std::shared_ptr<Segment> active = segments_.back();
  const int64_t end = active->end;
  lock.unlock();
  ARROW_RETURN_NOT_OK(active->file->sync());
  lock.lock();
  durable_sequence_ = written_sequence_;
  complete_durable();
  cv_.notify_all();
  lock.unlock();
  // Clean-shutdown checkpoint: lets recovery tell damage to the last batches from a torn tail.
  if (checkpoint_ == std::pair<uint64_t, int64_t>{active->base_sequence, end}) {
    return arrow::Status::OK();  // unchanged since open: spare the syncs
  }
  std::string checkpoint(20, '\0');
  put_u64(checkpoint.data(), active->base_sequence);
  put_u64(checkpoint.data() + 8, static_cast<uint64_t>(end));
  put_u32(checkpoint.data() + 16, mask_crc(crc32c_extend(0, checkpoint.data(), 16)));
  return fs_->write_file_atomic(join_path(dir_, kCheckpointName), checkpoint);
}

}  // namespace roadpulse::log
