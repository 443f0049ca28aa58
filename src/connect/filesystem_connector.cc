// `filesystem`: a bounded source over a file or a directory tree of json/csv files, and a sink
// writing rolling files (Flink's FileSystem connector, row formats).
//
// Source: 'path' is a file or a directory (read recursively, files in name order, skipping names
// starting with '.' or '_' as Flink does). Partition directories `key=value` fill the table's
// PARTITIONED BY columns. An undecodable record fails the job naming the file and line, unless
// the format's ignore-parse-errors option is set. csv: the roadpulse option
// 'csv.ignore-first-line' skips each file's header. Checkpoints record the next record to read
// (file name + record index), so a resumed job continues there: exactly once.
// Sink: 'path' is a directory; rows go to `part-<job uuid>-<n>.<format>` files, written under a
// hidden in-progress name (rolling at 'sink.rolling-policy.file-size' and at every checkpoint)
// and renamed into place when their checkpoint completes (or the job ends), so readers never see
// a partial file and a restart from a checkpoint neither loses nor repeats rows
// (docs/checkpoints.md). PARTITIONED BY columns become `key=value` directories and are not
// repeated inside the files, as in Flink.
// Decoding: the source thread frames a file's records a batch at a time and decodes them on
// 'source.decode-threads' threads (table option or session key; default: the machine's cores),
// a few batches ahead, handing batches on in file order so positions, row order and errors are
// the one-thread path's ('source.decode-threads' = '1': framing and decoding on the source
// thread, no pool).

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/compute/api.h>
#include <arrow/scalar.h>
#include <arrow/util/future.h>
#include <arrow/util/thread_pool.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connect/connectors.h"
#include "connect/parquet_format.h"
#include "lake/lake.h"

namespace roadpulse::connect {

namespace fs = std::filesystem;
using exec::JsonSplit;

namespace {

arrow::Result<std::vector<fs::path>> list_files(const fs::path& root) {
  std::error_code ec;
  if (!fs::exists(root, ec)) {
    return arrow::Status::IOError("path '", root.string(), "' does not exist");
  }
  std::vector<fs::path> files;
  if (fs::is_regular_file(root, ec)) {
    files.push_back(root);
    return files;
  }
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return arrow::Status::IOError("listing '", root.string(), "': ", ec.message());
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || name[0] == '_') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// A file's bytes, mapped read-only: records are views into the page cache, so reading a file
// costs neither a copy nor fresh anonymous pages (reading whole files into strings made page
// faults a fifth of the JSON source's time). Files mmap refuses are read into memory instead.
class FileBytes {
 public:
  FileBytes() = default;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes() { release(); }

  arrow::Status open(const fs::path& path) {
    release();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return arrow::Status::IOError("cannot open '", path.string(), "'");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return arrow::Status::IOError("cannot stat '", path.string(), "'");
    }
    const auto size = size_t(st.st_size);
    if (size > 0) {
      void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (map != MAP_FAILED) {
        ::madvise(map, size, MADV_SEQUENTIAL);
        map_ = map;
        map_size_ = size;
        bytes_ = std::string_view(static_cast<const char*>(map), size);
        ::close(fd);
        return arrow::Status::OK();
      }
    }
    ::close(fd);
    std::ifstream in(path, std::ios::binary);
    if (!in) return arrow::Status::IOError("cannot open '", path.string(), "'");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) return arrow::Status::IOError("error reading '", path.string(), "'");
    copy_ = buffer.str();
    bytes_ = copy_;
    return arrow::Status::OK();
  }

  std::string_view bytes() const { return bytes_; }

  // Drops the mapping's pages before `offset` (read already) from the process, so the resident
  // set stays a window of the file; the page cache keeps them.
  void release_before(size_t offset) {
    if (map_ == nullptr) return;
    static const size_t page = size_t(::sysconf(_SC_PAGESIZE));
    const size_t end = std::min(offset, map_size_) / page * page;
    if (end < released_ + kReleaseBytes) return;
    ::madvise(static_cast<char*>(map_) + released_, end - released_, MADV_DONTNEED);
    released_ = end;
  }

 private:
  void release() {
    if (map_ != nullptr) ::munmap(map_, map_size_);
    map_ = nullptr;
    map_size_ = 0;
    released_ = 0;
    copy_.clear();
    bytes_ = {};
  }

  static constexpr size_t kReleaseBytes = 64 << 20;

  void* map_ = nullptr;
  size_t map_size_ = 0;
  size_t released_ = 0;
  std::string copy_;
  std::string_view bytes_;
};

// key=value segments of a path relative to the table root.
std::map<std::string, std::string> partition_values(const fs::path& root, const fs::path& file) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  const fs::path rel = fs::relative(file.parent_path(), root, ec);
  if (ec) return out;
  for (const auto& part : rel) {
    const std::string s = part.string();
    const size_t eq = s.find('=');
    if (eq != std::string::npos && eq > 0) out[s.substr(0, eq)] = s.substr(eq + 1);
  }
  return out;
}

// Batches framed ahead of the one handed on, at most: bounds the memory of the decode pool.
constexpr int kMaxBatchesInFlight = 3;

// 'source.decode-threads' (table option, else session key, else the machine's cores).
arrow::Result<int> decode_threads(OptionReader& reader,
                                  const std::map<std::string, std::string>& session) {
  static constexpr const char* kKey = "source.decode-threads";
  std::optional<std::string> text = reader.get(kKey);
  std::string where = "filesystem option";
  if (!text) {
    auto it = session.find(kKey);
    if (it != session.end()) {
      text = it->second;
      where = "session key";
    }
  }
  if (!text) {
    // The cores this process may run on (a container's cpuset, taskset), not the host's.
    cpu_set_t set;
    CPU_ZERO(&set);
    int cores = ::sched_getaffinity(0, sizeof(set), &set) == 0
                    ? CPU_COUNT(&set)
                    : int(std::thread::hardware_concurrency());
    return std::clamp(cores, 1, 8);
  }
  int threads = 0;
  const auto parsed = std::from_chars(text->data(), text->data() + text->size(), threads);
  if (parsed.ec != std::errc() || parsed.ptr != text->data() + text->size() || threads < 1 ||
      threads > 64) {
    return arrow::Status::Invalid(where, " '", kKey, "' must be an integer from 1 to 64, got '",
                                  *text, "'");
  }
  return threads;
}

class FileSource final : public exec::Source {
 public:
  FileSource(fs::path root, std::string format, bool skip_header,
             std::vector<std::unique_ptr<RecordDecoder>> decoders,
             std::shared_ptr<arrow::internal::ThreadPool> pool, exec::SourceSpec spec,
             std::vector<int> partition_columns, int64_t batch_rows)
      : root_(std::move(root)),
        format_(std::move(format)),
        skip_header_(skip_header),
        decoders_(std::move(decoders)),
        pool_(std::move(pool)),
        spec_(std::move(spec)),
        partition_columns_(std::move(partition_columns)),
        batch_rows_(batch_rows) {
    for (size_t i = 0; i < decoders_.size(); ++i) free_decoders_.push_back(i);
  }

  // Decode tasks read the mapped file and the framed views: they finish before either goes.
  ~FileSource() override { drain(); }

  std::string name() const override { return "filesystem:" + root_.string(); }
  bool bounded() const override { return true; }

  arrow::Status open(const exec::OperatorContext& context) override {
    ARROW_ASSIGN_OR_RAISE(files_, list_files(root_));
    if (context.restored_state) ARROW_RETURN_NOT_OK(restore(context.restored_state->ToString()));
    return arrow::Status::OK();
  }

  // The next record to hand on (batches decoded ahead do not count): the file (relative to
  // 'path', files being read in name order) and the record's index in it. Text, one field a
  // line: magic + version, index, record, file.
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_position(int64_t) override {
    size_t file = file_;
    size_t record = 0;
    if (loaded_ && !file_finished()) {
      file = file_ - 1;  // the loaded file is not finished
      record = record_;
    } else if (skip_until_) {
      record = *skip_until_;  // restored, not loaded yet
    }
    std::string relative;
    if (file < files_.size()) relative = files_[file].lexically_relative(root_).generic_string();
    return arrow::Buffer::FromString(
        fmt::format("{} 1\n{}\n{}\n{}\n", kPositionMagic, file, record, relative));
  }

  arrow::Result<exec::SourceChunk> next(int64_t) override {
    exec::SourceChunk chunk;
    while (file_finished()) {
      if (file_ >= files_.size()) {
        chunk.end_of_input = true;
        return chunk;
      }
      ARROW_RETURN_NOT_OK(load(files_[file_++]));
      if (skip_until_) {
        ARROW_RETURN_NOT_OK(skip_records(*skip_until_));
        skip_until_.reset();
      }
    }
    ARROW_RETURN_NOT_OK(fill());
    std::unique_ptr<Batch> batch = std::move(inflight_.front());
    inflight_.pop_front();
    arrow::Result<exec::DecodedBatch> result = batch->decoded.result();
    free_decoders_.push_back(batch->decoder);
    ARROW_ASSIGN_OR_RAISE(auto decoded, std::move(result));
    if (batch->fast &&
        (!decoded.errors.empty() || decoded.batch->num_rows() < int64_t(batch->records.size()))) {
      // A line that only looked like one object: frame this batch exactly and decode again, so
      // the records and errors are the byte-by-byte splitter's.
      const JsonSplit fast_split = batch->split;
      ARROW_RETURN_NOT_OK(frame_exact(batch.get()));
      if (batch->split.consumed != fast_split.consumed || batch->split.line != fast_split.line) {
        // The batches framed after it start elsewhere now.
        drain();
        cursor_offset_ = batch->offset + batch->split.consumed;
        cursor_line_ = batch->split.line;
        cursor_record_ = record_ + batch->records.size();
      }
      ARROW_ASSIGN_OR_RAISE(decoded, decoders_[batch->decoder]->decode(batch->records));
    }
    if (!decoded.errors.empty()) {
      const auto& e = decoded.errors.front();
      return arrow::Status::Invalid("file '", current_.string(), "' line ",
                                    batch->lines[size_t(e.index)], ": ", e.reason,
                                    " (set the format's ignore-parse-errors option to skip)");
    }
    rejected_ += int64_t(batch->records.size()) - decoded.batch->num_rows();
    record_ += batch->records.size();
    if (json_) {
      offset_ = batch->offset + batch->split.consumed;
      bytes_.release_before(offset_);
    }
    // The next batches decode while this one goes through the job.
    if (pool_) ARROW_RETURN_NOT_OK(fill());
    ARROW_ASSIGN_OR_RAISE(chunk.batch, fill_partitions(decoded.batch));
    read_ += chunk.batch->num_rows();
    return chunk;
  }

  exec::SourceMetrics metrics() const override { return {read_, rejected_}; }

 private:
  static constexpr const char* kPositionMagic = "filesystem-position";

  // Records of the loaded file framed for one decode, and where they end.
  struct Batch {
    std::vector<std::string_view> records;
    std::vector<int64_t> lines;  // each record's first line
    bool fast = false;           // framed by the NDJSON fast path
    size_t offset = 0;           // json: the batch's first byte and line
    int64_t line = 1;
    JsonSplit split;  // json: bytes consumed from `offset`, line after them
    size_t decoder = 0;
    arrow::Future<exec::DecodedBatch> decoded;
  };

  arrow::Status restore(const std::string& position) {
    std::istringstream in(position);
    std::string magic, version, index_text, record_text, relative;
    std::getline(in, magic);
    std::getline(in, index_text);
    std::getline(in, record_text);
    std::getline(in, relative);
    size_t record = 0;
    const auto parsed =
        std::from_chars(record_text.data(), record_text.data() + record_text.size(), record);
    if (magic != std::string(kPositionMagic) + " 1" || index_text.empty() ||
        parsed.ec != std::errc() || parsed.ptr != record_text.data() + record_text.size()) {
      return arrow::Status::Invalid(name(), ": malformed checkpoint position");
    }
    if (relative.empty()) {  // every file was read
      file_ = files_.size();
      return arrow::Status::OK();
    }
    // Found by name, so files added or removed before it do not shift the position.
    for (size_t i = 0; i < files_.size(); ++i) {
      if (files_[i].lexically_relative(root_).generic_string() == relative) {
        file_ = i;
        if (record > 0) skip_until_ = record;
        return arrow::Status::OK();
      }
    }
    return arrow::Status::Invalid(
        name(), ": the checkpoint's position is in file '", relative,
        "', which is no longer there; delete the pipeline's checkpoints to read from the start");
  }

  // Called with nothing in flight (a file is handed on whole before the next is mapped).
  arrow::Status load(const fs::path& file) {
    loaded_ = true;
    current_ = file;
    ARROW_RETURN_NOT_OK(bytes_.open(file));
    records_.clear();
    lines_.clear();
    record_ = 0;
    offset_ = 0;
    json_ = format_ == "json";
    partitions_ = partition_values(root_, file);
    cursor_record_ = 0;
    cursor_offset_ = 0;
    cursor_line_ = 1;
    if (json_) {
      // JSON is framed a batch at a time as it is decoded (the batch's bytes are still in the
      // cache when the decoder reads them); skipping whitespace first tells an empty file.
      JsonSplit split;
      std::vector<std::string_view> none;
      std::vector<int64_t> no_lines;
      if (!exec::split_json_lines(bytes_.bytes(), 1, 0, &none, &no_lines, &split)) split = {};
      offset_ = cursor_offset_ = split.consumed;
      cursor_line_ = split.line;
      if (skip_header_) ARROW_RETURN_NOT_OK(skip_records(1));
      return arrow::Status::OK();
    }
    auto st = split_records(format_, bytes_.bytes(), &records_, &lines_);
    if (!st.ok()) return arrow::Status::Invalid("file '", file.string(), "': ", st.message());
    if (skip_header_ && !records_.empty()) record_ = cursor_record_ = 1;
    return arrow::Status::OK();
  }

  // Every record of the loaded file was handed on.
  bool file_finished() const {
    if (!loaded_) return true;
    return json_ ? offset_ >= bytes_.bytes().size() : record_ >= records_.size();
  }

  // Every record of the loaded file was framed.
  bool cursor_at_end() const {
    return json_ ? cursor_offset_ >= bytes_.bytes().size() : cursor_record_ >= records_.size();
  }

  // Frames batches from the cursor and starts decoding them, up to one per decoder.
  arrow::Status fill() {
    while (!free_decoders_.empty() && !cursor_at_end()) {
      auto batch = std::make_unique<Batch>();
      ARROW_RETURN_NOT_OK(frame(size_t(batch_rows_), batch.get()));
      batch->decoder = free_decoders_.front();
      free_decoders_.pop_front();
      advance_cursor(*batch);
      RecordDecoder* decoder = decoders_[batch->decoder].get();
      const Batch* framed = batch.get();
      if (pool_) {
        ARROW_ASSIGN_OR_RAISE(batch->decoded, pool_->Submit([decoder, framed] {
          return decoder->decode(framed->records);
        }));
      } else {
        batch->decoded =
            arrow::Future<exec::DecodedBatch>::MakeFinished(decoder->decode(batch->records));
      }
      inflight_.push_back(std::move(batch));
    }
    return arrow::Status::OK();
  }

  // Waits for the batches in flight and drops them.
  void drain() {
    for (auto& batch : inflight_) {
      batch->decoded.Wait();
      free_decoders_.push_back(batch->decoder);
    }
    inflight_.clear();
  }

  // Frames the next records at the cursor (at most `max`) into `batch`.
  arrow::Status frame(size_t max, Batch* batch) {
    batch->offset = cursor_offset_;
    batch->line = cursor_line_;
    if (!json_) {
      const size_t end = std::min(records_.size(), cursor_record_ + max);
      batch->records.assign(records_.begin() + ptrdiff_t(cursor_record_),
                            records_.begin() + ptrdiff_t(end));
      batch->lines.assign(lines_.begin() + ptrdiff_t(cursor_record_),
                          lines_.begin() + ptrdiff_t(end));
      return arrow::Status::OK();
    }
    if (exec::split_json_lines(bytes_.bytes().substr(cursor_offset_), cursor_line_, max,
                               &batch->records, &batch->lines, &batch->split)) {
      batch->fast = true;
      return arrow::Status::OK();
    }
    return frame_exact(batch);
  }

  // Frames `batch` again from its first byte with the byte-by-byte splitter.
  arrow::Status frame_exact(Batch* batch) {
    batch->records.clear();
    batch->lines.clear();
    batch->fast = false;
    auto split = exec::split_json_objects(bytes_.bytes().substr(batch->offset), batch->line,
                                          size_t(batch_rows_), &batch->records, &batch->lines);
    if (!split.ok()) {
      return arrow::Status::Invalid("file '", current_.string(), "': ", split.status().message());
    }
    batch->split = *split;
    return arrow::Status::OK();
  }

  void advance_cursor(const Batch& batch) {
    cursor_record_ += batch.records.size();
    if (json_) {
      cursor_offset_ = batch.offset + batch.split.consumed;
      cursor_line_ = batch.split.line;
    }
  }

  // Skips `count` records of the just loaded file (a restored position) without decoding them.
  arrow::Status skip_records(size_t count) {
    while (cursor_record_ < count && !cursor_at_end()) {
      Batch batch;
      ARROW_RETURN_NOT_OK(frame(std::min<size_t>(count - cursor_record_, 1 << 16), &batch));
      advance_cursor(batch);
    }
    record_ = cursor_record_;
    offset_ = cursor_offset_;
    return arrow::Status::OK();
  }

  // Replaces PARTITIONED BY columns with the values of the file's key=value directories.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> fill_partitions(
      std::shared_ptr<arrow::RecordBatch> batch) {
    if (partition_columns_.empty() || partitions_.empty()) return batch;
    for (int c : partition_columns_) {
      const auto& field = batch->schema()->field(c);
      auto it = partitions_.find(field->name());
      if (it == partitions_.end()) continue;
      std::shared_ptr<arrow::Scalar> value;
      if (it->second == "__DEFAULT_PARTITION__" || it->second == "null") {
        value = arrow::MakeNullScalar(field->type());
      } else {
        auto cast = arrow::StringScalar(it->second).CastTo(field->type());
        if (!cast.ok()) {
          return arrow::Status::Invalid("partition directory '", field->name(), "=", it->second,
                                        "' in ", current_.string(), " is not a ",
                                        field->type()->ToString());
        }
        value = *cast;
      }
      ARROW_ASSIGN_OR_RAISE(auto array, arrow::MakeArrayFromScalar(*value, batch->num_rows()));
      ARROW_ASSIGN_OR_RAISE(batch, batch->SetColumn(c, field, array));
    }
    return batch;
  }

  fs::path root_;
  std::string format_;
  bool skip_header_;
  std::vector<std::unique_ptr<RecordDecoder>> decoders_;  // one per batch in flight
  std::deque<size_t> free_decoders_;
  std::shared_ptr<arrow::internal::ThreadPool> pool_;  // null: decode on the source thread
  exec::SourceSpec spec_;
  std::vector<int> partition_columns_;  // positions in the read schema
  int64_t batch_rows_;
  std::vector<fs::path> files_;
  size_t file_ = 0;
  fs::path current_;
  FileBytes bytes_;
  bool json_ = false;
  // csv/raw: every record of the loaded file, split when loaded.
  std::vector<std::string_view> records_;
  std::vector<int64_t> lines_;
  // Handed on: the loaded file's next record (index; json: byte offset).
  size_t record_ = 0;
  size_t offset_ = 0;
  // Framed: where the next batch starts (ahead of the above by the batches in flight).
  size_t cursor_record_ = 0;
  size_t cursor_offset_ = 0;
  int64_t cursor_line_ = 1;
  std::deque<std::unique_ptr<Batch>> inflight_;  // in file order
  bool loaded_ = false;
  std::optional<size_t> skip_until_;  // restored: records of the next file already read
  std::map<std::string, std::string> partitions_;
  int64_t read_ = 0;
  int64_t rejected_ = 0;
};

std::string random_id() {
  std::random_device rd;
  std::mt19937_64 gen(rd());
  return fmt::format("{:016x}", gen());
}

class FileSink final : public exec::Sink {
 public:
  FileSink(fs::path root, std::string format, std::unique_ptr<RecordEncoder> encoder,
           std::shared_ptr<arrow::Schema> schema, std::vector<int> partition_columns,
           int64_t roll_bytes)
      : root_(std::move(root)),
        format_(std::move(format)),
        encoder_(std::move(encoder)),
        schema_(std::move(schema)),
        partition_columns_(std::move(partition_columns)),
        roll_bytes_(roll_bytes),
        id_(random_id()) {
    for (int i = 0; i < schema_->num_fields(); ++i) {
      if (std::find(partition_columns_.begin(), partition_columns_.end(), i) ==
          partition_columns_.end()) {
        data_columns_.push_back(i);
      }
    }
    arrow::FieldVector fields;
    for (int i : data_columns_) fields.push_back(schema_->field(i));
    data_schema_ = arrow::schema(std::move(fields));
  }

  std::string name() const override { return "filesystem:" + root_.string(); }

  arrow::Status open(const exec::OperatorContext& context) override {
    std::error_code ec;
    fs::create_directories(root_, ec);
    if (ec) return arrow::Status::IOError("cannot create '", root_.string(), "': ", ec.message());
    if (context.restored_state && !context.restored_commit_confirmed) {
      // Resuming from a checkpoint whose commit may not have happened: finish it (idempotent).
      ARROW_ASSIGN_OR_RAISE(auto committables,
                            lake::parse_committables(context.restored_state->ToString()));
      ARROW_RETURN_NOT_OK(
          lake::TableWriter::commit_files(lake::TableWriterOptions{}, committables));
    }
    // Other staging files belong to checkpoints that never completed: their rows are replayed.
    ARROW_ASSIGN_OR_RAISE(int removed, lake::clean_staging_files(root_.string()));
    if (removed > 0) {
      spdlog::info("filesystem sink {}: removed {} leftover staging file(s)", root_.string(),
                   removed);
    }
    return arrow::Status::OK();
  }

  arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    std::vector<std::shared_ptr<arrow::Array>> columns;
    for (int i : data_columns_) columns.push_back(batch->column(i));
    auto data = arrow::RecordBatch::Make(data_schema_, batch->num_rows(), std::move(columns));
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      std::string dir = partition_dir(*batch, r);
      Bucket& bucket = buckets_[dir];
      line_.clear();
      encoder_->encode_row(*data, r, &line_);
      line_.push_back('\n');
      if (!bucket.out.is_open()) ARROW_RETURN_NOT_OK(start_file(dir, bucket));
      bucket.out.write(line_.data(), std::streamsize(line_.size()));
      bucket.bytes += int64_t(line_.size());
      ++bucket.rows;
      ++written_;
      if (bucket.bytes >= roll_bytes_) ARROW_RETURN_NOT_OK(finish_file(bucket));
    }
    return arrow::Status::OK();
  }

  // Two-phase commit (EXEC_DESIGN.md §5): files closed since the last checkpoint (rolled or
  // open) become the checkpoint's committables; commit() renames them into place.
  arrow::Status prepare_commit(int64_t checkpoint_id) override {
    for (auto& [_, bucket] : buckets_) {
      if (bucket.out.is_open()) ARROW_RETURN_NOT_OK(finish_file(bucket));
    }
    for (auto& c : rolled_) c.checkpoint_id = checkpoint_id;
    auto& slot = prepared_[checkpoint_id];
    slot.insert(slot.end(), rolled_.begin(), rolled_.end());
    rolled_.clear();
    return arrow::Status::OK();
  }

  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t) override {
    checkpointed_ = true;
    std::vector<lake::Committable> pending;
    for (const auto& [_, list] : prepared_) pending.insert(pending.end(), list.begin(), list.end());
    return arrow::Buffer::FromString(lake::serialize_committables(pending));
  }

  arrow::Status commit(int64_t checkpoint_id) override {
    std::vector<lake::Committable> due;
    for (auto it = prepared_.begin(); it != prepared_.end() && it->first <= checkpoint_id;) {
      due.insert(due.end(), it->second.begin(), it->second.end());
      it = prepared_.erase(it);
    }
    last_committed_ = std::max(last_committed_, checkpoint_id);
    if (due.empty()) return arrow::Status::OK();
    return lake::TableWriter::commit_files(lake::TableWriterOptions{}, due);
  }

  arrow::Status close(bool end_of_data) override {
    if (!end_of_data) {
      // A failed job leaves nothing half-written behind; files a checkpoint may own stay for
      // the next start to commit or clean.
      std::error_code ec;
      for (auto& [_, bucket] : buckets_) {
        if (!bucket.out.is_open()) continue;
        bucket.out.close();
        fs::remove(bucket.staging, ec);
      }
      for (const auto& c : rolled_) fs::remove(c.staging_path, ec);
      if (!checkpointed_) {
        for (const auto& [_, list] : prepared_) {
          for (const auto& c : list) fs::remove(c.staging_path, ec);
        }
      }
      return arrow::Status::OK();
    }
    const int64_t final_checkpoint = last_committed_ + 1;
    ARROW_RETURN_NOT_OK(prepare_commit(final_checkpoint));
    return commit(final_checkpoint);
  }

  int64_t rows_written() const override { return written_; }

 private:
  struct Bucket {
    std::ofstream out;
    fs::path staging;
    fs::path final_path;
    std::string partition;
    int64_t bytes = 0;
    int64_t rows = 0;
  };

  std::string partition_dir(const arrow::RecordBatch& batch, int64_t row) {
    std::string dir;
    for (int c : partition_columns_) {
      const auto& array = *batch.column(c);
      std::string value = "__DEFAULT_PARTITION__";
      if (array.IsValid(row)) {
        if (array.type_id() == arrow::Type::STRING) {
          value = std::string(static_cast<const arrow::StringArray&>(array).GetView(row));
        } else {
          auto scalar = array.GetScalar(row);
          if (scalar.ok()) value = (*scalar)->ToString();
        }
      }
      if (!dir.empty()) dir += "/";
      dir += schema_->field(c)->name() + "=" + value;
    }
    return dir;
  }

  arrow::Status start_file(const std::string& dir, Bucket& bucket) {
    const fs::path directory = dir.empty() ? root_ : root_ / dir;
    std::error_code ec;
    fs::create_directories(directory, ec);
    if (ec)
      return arrow::Status::IOError("cannot create '", directory.string(), "': ", ec.message());
    const std::string file = fmt::format("part-{}-{}.{}", id_, counter_++, format_);
    bucket.final_path = directory / file;
    bucket.staging = directory / ("." + file + ".inprogress");
    bucket.out.open(bucket.staging, std::ios::binary | std::ios::trunc);
    if (!bucket.out) return arrow::Status::IOError("cannot write '", bucket.staging.string(), "'");
    bucket.partition = dir;
    bucket.bytes = 0;
    bucket.rows = 0;
    return arrow::Status::OK();
  }

  // Closes the bucket's file durably; it waits staged for its checkpoint's commit.
  arrow::Status finish_file(Bucket& bucket) {
    bucket.out.flush();
    const bool ok = bool(bucket.out);
    bucket.out.close();
    if (!ok) return arrow::Status::IOError("error writing '", bucket.staging.string(), "'");
    const int fd = ::open(bucket.staging.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      if (fd >= 0) ::close(fd);
      return arrow::Status::IOError("cannot fsync '", bucket.staging.string(), "'");
    }
    ::close(fd);
    lake::Committable c;
    c.staging_path = bucket.staging.string();
    c.final_path = bucket.final_path.string();
    c.partition = bucket.partition;
    c.rows = bucket.rows;
    c.bytes = bucket.bytes;
    rolled_.push_back(std::move(c));
    return arrow::Status::OK();
  }

  fs::path root_;
  std::string format_;
  std::unique_ptr<RecordEncoder> encoder_;
  std::shared_ptr<arrow::Schema> schema_;
  std::vector<int> partition_columns_;
  std::vector<int> data_columns_;
  std::shared_ptr<arrow::Schema> data_schema_;
  int64_t roll_bytes_;
  std::string id_;
  std::map<std::string, Bucket> buckets_;
  std::vector<lake::Committable> rolled_;                       // closed, not prepared yet
  std::map<int64_t, std::vector<lake::Committable>> prepared_;  // by checkpoint
  int64_t last_committed_ = 0;
  bool checkpointed_ = false;
  int counter_ = 0;
  int64_t written_ = 0;
  std::string line_;
};

}  // namespace

ConnectorEntry filesystem_connector() {
  ConnectorEntry entry;
  entry.name = "filesystem";
  entry.make_source = [](const exec::SourceSpec& spec,
                         ConnectContext& context) -> arrow::Result<std::unique_ptr<exec::Source>> {
    OptionReader reader("filesystem", spec.options);
    ARROW_ASSIGN_OR_RAISE(std::string path, reader.require("path"));
    ARROW_ASSIGN_OR_RAISE(std::string format, reader.require("format"));
    if (format == "parquet") return make_parquet_source(spec, context);  // src/lake
    ARROW_ASSIGN_OR_RAISE(bool skip_header, reader.get_bool("csv.ignore-first-line", false));
    if (reader.get("source.monitor-interval")) {
      return arrow::Status::NotImplemented(
          "filesystem option 'source.monitor-interval' (continuous reading) is not supported yet");
    }
    reader.allow_prefix("sink.");
    reader.get("partition.default-name");
    ARROW_ASSIGN_OR_RAISE(int threads, decode_threads(reader, spec.session));
    ARROW_ASSIGN_OR_RAISE(auto decoder, make_decoder(reader, spec));
    ARROW_RETURN_NOT_OK(reader.check_unknown());
    // One decoder per batch in flight: a decoder's builders serve one batch at a time.
    std::vector<std::unique_ptr<RecordDecoder>> decoders;
    decoders.push_back(std::move(decoder));
    const int depth = threads > 1 ? std::min(threads + 1, kMaxBatchesInFlight) : 1;
    while (int(decoders.size()) < depth) {
      OptionReader again("filesystem", spec.options);
      ARROW_ASSIGN_OR_RAISE(auto more, make_decoder(again, spec));
      decoders.push_back(std::move(more));
    }
    std::shared_ptr<arrow::internal::ThreadPool> pool;
    if (threads > 1) {
      ARROW_ASSIGN_OR_RAISE(pool, arrow::internal::ThreadPool::Make(threads));
    }
    std::vector<int> partition_columns;
    for (const auto& key : spec.table->partition_keys) {
      const int i = spec.read_schema->GetFieldIndex(key);
      if (i >= 0) partition_columns.push_back(i);
    }
    return std::make_unique<FileSource>(path, format, skip_header, std::move(decoders),
                                        std::move(pool), spec, std::move(partition_columns), 4096);
  };
  entry.make_sink = [](const exec::SinkSpec& spec,
                       ConnectContext& context) -> arrow::Result<std::unique_ptr<exec::Sink>> {
    OptionReader reader("filesystem", spec.options);
    ARROW_ASSIGN_OR_RAISE(std::string path, reader.require("path"));
    ARROW_ASSIGN_OR_RAISE(std::string format, reader.require("format"));
    if (format == "parquet") return make_parquet_sink(spec, context);  // src/lake
    int64_t roll = 128LL << 20;
    if (auto size = reader.get("sink.rolling-policy.file-size")) {
      ARROW_ASSIGN_OR_RAISE(roll, parse_memory_size(*size));
    }
    reader.allow_prefix("sink.");
    reader.get("partition.default-name");
    std::vector<int> partition_columns;
    for (const auto& key : spec.table->partition_keys) {
      const int i = spec.schema->GetFieldIndex(key);
      if (i < 0) {
        return arrow::Status::Invalid("PARTITIONED BY column '", key, "' is not a column");
      }
      partition_columns.push_back(i);
    }
    arrow::FieldVector data_fields;
    for (int i = 0; i < spec.schema->num_fields(); ++i) {
      if (std::find(partition_columns.begin(), partition_columns.end(), i) ==
          partition_columns.end()) {
        data_fields.push_back(spec.schema->field(i));
      }
    }
    ARROW_ASSIGN_OR_RAISE(auto encoder, make_encoder(reader, arrow::schema(data_fields)));
    ARROW_RETURN_NOT_OK(reader.check_unknown());
    if (spec.overwrite) {
      std::error_code ec;
      for (auto& file : list_files(path).ValueOr({})) fs::remove(file, ec);
    }
    return std::make_unique<FileSink>(path, format, std::move(encoder), spec.schema,
                                      std::move(partition_columns), roll);
  };
  return entry;
}

}  // namespace roadpulse::connect
