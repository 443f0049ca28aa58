// TableWriter: partitioned, rolling Parquet files with the two-phase commit of EXEC_DESIGN.md §5.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/compute/api.h>
#include <fmt/format.h>

#include "lake/lake.h"

namespace roadpulse::lake {

namespace fs = std::filesystem;

namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct TableWriter::Impl {
  TableWriterOptions options;
  std::vector<int> partition_columns;  // indices into options.schema
  std::vector<int> data_columns;
  std::shared_ptr<arrow::Schema> data_schema;
  // Every open file allocates through this pool (declared before `open`: outlives the files),
  // so its count is the memory the writer holds, checked against options.buffer_memory.
  arrow::ProxyMemoryPool pool{arrow::default_memory_pool()};
  int64_t row_groups_flushed = 0;
  int64_t files_rolled = 0;

  struct OpenFile {
    std::unique_ptr<ParquetFileWriter> writer;
    std::string staging;
    std::string final_path;
    std::string partition;
    int64_t opened_ms = 0;
  };
  std::map<std::string, OpenFile> open;                  // by partition path
  std::vector<Committable> rolled;                       // closed since the last prepare_commit
  std::map<int64_t, std::vector<Committable>> prepared;  // by checkpoint, not yet committed
  int64_t checkpoint = 1;  // the checkpoint files opened now will belong to
  int64_t counter = 0;

  arrow::Status start(const std::string& partition, OpenFile& file) {
    const fs::path dir =
        partition.empty() ? fs::path(options.location) : fs::path(options.location) / partition;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return arrow::Status::IOError("cannot create '", dir.string(), "': ", ec.message());
    const std::string name =
        fmt::format("part-{}-{}-{}.parquet", options.job_id, checkpoint, counter++);
    file.final_path = (dir / name).string();
    file.staging = (dir / ("." + name + ".inprogress")).string();
    file.partition = partition;
    file.opened_ms = steady_ms();
    ARROW_ASSIGN_OR_RAISE(
        file.writer, ParquetFileWriter::open(file.staging, data_schema, options.parquet, &pool));
    return arrow::Status::OK();
  }

  static arrow::Result<Committable> close_file(OpenFile& file) {
    Committable c;
    c.rows = file.writer->rows();
    ARROW_ASSIGN_OR_RAISE(c.bytes, file.writer->close());
    file.writer.reset();
    c.staging_path = file.staging;
    c.final_path = file.final_path;
    c.partition = file.partition;
    return c;
  }

  arrow::Status finish(OpenFile& file) {
    ARROW_ASSIGN_OR_RAISE(auto c, close_file(file));
    rolled.push_back(std::move(c));
    return arrow::Status::OK();
  }

  arrow::Status finish_all() {
    std::vector<std::string> partitions;
    for (const auto& [partition, _] : open) partitions.push_back(partition);
    return finish_files(partitions);
  }

  // Closes the open files of `partitions` and forgets them. Each close writes its footer and
  // fsyncs: one partition after the other, a checkpoint of a table spanning hundreds of dates
  // waited for hundreds of fsyncs in a row (3/4 of the default pipeline's time). Up to
  // kCloseThreads close at once, so the disk sees the fsyncs together. Every file is closed even
  // when one fails; the first error counts.
  arrow::Status finish_files(const std::vector<std::string>& partitions) {
    static constexpr size_t kCloseThreads = 8;
    std::vector<OpenFile*> files;
    for (const auto& partition : partitions) files.push_back(&open.at(partition));
    std::vector<arrow::Result<Committable>> closed(files.size(),
                                                   arrow::Status::UnknownError("not closed"));
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < files.size();) closed[i] = close_file(*files[i]);
    };
    std::vector<std::thread> helpers;
    for (size_t t = 1; t < std::min(files.size(), kCloseThreads); ++t) helpers.emplace_back(work);
    work();
    for (auto& t : helpers) t.join();
    arrow::Status status;
    for (size_t i = 0; i < files.size(); ++i) {
      if (closed[i].ok()) {
        rolled.push_back(std::move(*closed[i]));
        continue;
      }
      if (status.ok()) status = closed[i].status();
      std::error_code ec;
      fs::remove(files[i]->staging, ec);  // half-written: its rows are replayed
    }
    for (const auto& partition : partitions) open.erase(partition);
    return status;
  }

  // The memory bound: past options.buffer_memory, the open files holding the most memory write
  // their buffered row group out (it stays in the in-progress file, invisible until the
  // checkpoint commits it) or, holding fewer than min_flush_rows rows, are rolled (closed and
  // committed with the checkpoint like any rolled file), biggest first, until under half the
  // budget. Rolling rather than flushing small buffers keeps row groups of at least
  // min_flush_rows rows; with thousands of small partitions it makes more, smaller files
  // (what a checkpoint makes of them anyway), and each roll frees the file's fixed overhead
  // (~50 column writers) that a flush would keep.
  arrow::Status enforce_memory_bound() {
    const int64_t budget = options.buffer_memory;
    if (budget <= 0 || pool.bytes_allocated() <= budget) return arrow::Status::OK();
    std::vector<std::pair<int64_t, std::string>> by_size;
    for (const auto& [partition, file] : open) {
      by_size.emplace_back(file.writer->buffered_bytes(), partition);
    }
    std::sort(by_size.begin(), by_size.end(), std::greater<>());
    const int64_t target = budget / 2;
    int64_t expected = pool.bytes_allocated();
    std::vector<std::string> to_roll;
    for (const auto& [bytes, partition] : by_size) {
      if (expected <= target) break;
      OpenFile& file = open.at(partition);
      if (file.writer->buffered_rows() >= options.min_flush_rows) {
        const int64_t before = file.writer->buffered_bytes();
        ARROW_RETURN_NOT_OK(file.writer->flush_row_group());
        expected -= before - file.writer->buffered_bytes();
        ++row_groups_flushed;
      } else {
        to_roll.push_back(partition);
        expected -= bytes;
      }
    }
    files_rolled += int64_t(to_roll.size());
    return finish_files(to_roll);
  }

  arrow::Status write_group(const std::string& partition, const arrow::RecordBatch& data) {
    OpenFile& file = open[partition];
    if (!file.writer) ARROW_RETURN_NOT_OK(start(partition, file));
    ARROW_RETURN_NOT_OK(file.writer->write(data));
    const bool too_big = file.writer->estimated_size() >= options.roll_bytes;
    const bool too_old = options.rollover_interval_ms > 0 &&
                         steady_ms() - file.opened_ms >= options.rollover_interval_ms;
    if (too_big || too_old) {
      ARROW_RETURN_NOT_OK(finish(file));
      open.erase(partition);
    }
    return enforce_memory_bound();
  }
};

TableWriter::TableWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TableWriter::~TableWriter() {
  // Dropped without commit or abort: leave no half-written staging files behind.
  if (impl_) (void)abort();
}

arrow::Result<std::unique_ptr<TableWriter>> TableWriter::make(TableWriterOptions options) {
  if (!options.schema) return arrow::Status::Invalid("lake table writer needs a schema");
  if (options.location.empty()) return arrow::Status::Invalid("lake table writer needs a path");
  if (options.job_id.empty()) return arrow::Status::Invalid("lake table writer needs a job id");
  if (options.roll_bytes <= 0) {
    return arrow::Status::Invalid("sink.rolling-policy.file-size must be positive");
  }
  if (options.buffer_memory < 0) {
    return arrow::Status::Invalid("sink.buffer-memory must not be negative (0: no bound)");
  }
  if (options.min_flush_rows <= 0) {
    return arrow::Status::Invalid("lake table writer: min_flush_rows must be positive");
  }
  auto impl = std::make_unique<Impl>();
  for (const auto& key : options.partition_keys) {
    const int i = options.schema->GetFieldIndex(key);
    if (i < 0) return arrow::Status::Invalid("PARTITIONED BY column '", key, "' is not a column");
    impl->partition_columns.push_back(i);
  }
  arrow::FieldVector fields;
  for (int i = 0; i < options.schema->num_fields(); ++i) {
    if (std::find(impl->partition_columns.begin(), impl->partition_columns.end(), i) ==
        impl->partition_columns.end()) {
      impl->data_columns.push_back(i);
      fields.push_back(options.schema->field(i));
    }
  }
  if (fields.empty()) {
    return arrow::Status::Invalid("every column of '", options.location,
                                  "' is a partition column: parquet files need at least one");
  }
  impl->data_schema = arrow::schema(std::move(fields));
  std::error_code ec;
  fs::create_directories(options.location, ec);
  if (ec) {
    return arrow::Status::IOError("cannot create '", options.location, "': ", ec.message());
  }
  impl->options = std::move(options);
  return std::unique_ptr<TableWriter>(new TableWriter(std::move(impl)));
}

arrow::Status TableWriter::write(const std::shared_ptr<arrow::RecordBatch>& batch) {
  Impl& s = *impl_;
  if (batch->num_rows() == 0) return arrow::Status::OK();
  std::vector<std::shared_ptr<arrow::Array>> data_arrays;
  for (int i : s.data_columns) data_arrays.push_back(batch->column(i));
  auto data = arrow::RecordBatch::Make(s.data_schema, batch->num_rows(), std::move(data_arrays));
  if (s.partition_columns.empty()) {
    ARROW_RETURN_NOT_OK(s.write_group("", *data));
    rows_written_ += batch->num_rows();
    return arrow::Status::OK();
  }
  // Partition values as strings, one cast per column rather than one scalar per row.
  std::vector<std::shared_ptr<arrow::StringArray>> keys;
  for (int c : s.partition_columns) {
    auto column = batch->column(c);
    if (column->type_id() == arrow::Type::DATE32 || column->type_id() == arrow::Type::STRING ||
        arrow::is_integer(column->type_id()) || column->type_id() == arrow::Type::BOOL ||
        column->type_id() == arrow::Type::TIMESTAMP || arrow::is_floating(column->type_id())) {
      ARROW_ASSIGN_OR_RAISE(auto cast, arrow::compute::Cast(*column, arrow::utf8()));
      keys.push_back(std::static_pointer_cast<arrow::StringArray>(cast));
    } else {
      return arrow::Status::NotImplemented("cannot partition by column '",
                                           batch->schema()->field(c)->name(), "' of type ",
                                           column->type()->ToString());
    }
  }
  std::unordered_map<std::string, std::vector<int64_t>> groups;
  std::vector<std::string> order;
  PartitionValues values(s.partition_columns.size());
  for (size_t k = 0; k < s.partition_columns.size(); ++k) {
    values[k].first = batch->schema()->field(s.partition_columns[k])->name();
  }
  std::string key;
  for (int64_t r = 0; r < batch->num_rows(); ++r) {
    key.clear();
    for (size_t k = 0; k < keys.size(); ++k) {
      key += keys[k]->IsValid(r) ? std::string_view(keys[k]->GetView(r)) : std::string_view();
      key.push_back('\0');
      key.push_back(keys[k]->IsValid(r) ? '1' : '0');
    }
    auto [it, inserted] = groups.try_emplace(key);
    if (inserted) order.push_back(key);
    it->second.push_back(r);
  }
  for (const auto& group_key : order) {
    const auto& rows = groups[group_key];
    // Partition path from the first row of the group.
    const int64_t first = rows.front();
    for (size_t k = 0; k < keys.size(); ++k) {
      values[k].second = keys[k]->IsValid(first) ? std::string(keys[k]->GetView(first))
                                                 : std::string(kDefaultPartition);
    }
    const std::string partition = partition_path(values);
    if (rows.size() == size_t(batch->num_rows())) {
      ARROW_RETURN_NOT_OK(s.write_group(partition, *data));
      continue;
    }
    arrow::Int64Builder indices;
    ARROW_RETURN_NOT_OK(indices.AppendValues(rows));
    ARROW_ASSIGN_OR_RAISE(auto index_array, indices.Finish());
    ARROW_ASSIGN_OR_RAISE(auto taken, arrow::compute::Take(data, index_array));
    ARROW_RETURN_NOT_OK(s.write_group(partition, *taken.record_batch()));
  }
  rows_written_ += batch->num_rows();
  return arrow::Status::OK();
}

arrow::Result<std::vector<Committable>> TableWriter::prepare_commit(int64_t checkpoint_id) {
  Impl& s = *impl_;
  ARROW_RETURN_NOT_OK(s.finish_all());
  std::vector<Committable> out = std::move(s.rolled);
  s.rolled.clear();
  for (auto& c : out) c.checkpoint_id = checkpoint_id;
  auto& slot = s.prepared[checkpoint_id];
  slot.insert(slot.end(), out.begin(), out.end());
  // Files opened from now on belong to the next checkpoint (their names say so).
  s.checkpoint = std::max(s.checkpoint, checkpoint_id + 1);
  return out;
}

arrow::Status TableWriter::commit_files(const TableWriterOptions& options,
                                        const std::vector<Committable>& committables) {
  std::set<std::string> dirs;
  std::vector<CommittedFile> published;
  for (const auto& c : committables) {
    std::error_code ec;
    if (fs::exists(c.staging_path, ec)) {
      fs::rename(c.staging_path, c.final_path, ec);
      if (ec) {
        return arrow::Status::IOError("cannot commit '", c.final_path, "': ", ec.message());
      }
    } else {
      // Replayed commit: done already if the final file is there with the committed size.
      const auto size = fs::file_size(c.final_path, ec);
      if (ec || int64_t(size) != c.bytes) {
        return arrow::Status::IOError("cannot commit '", c.final_path,
                                      "': its staging file is gone and the final file ",
                                      ec ? "does not exist" : "has another size");
      }
    }
    dirs.insert(fs::path(c.final_path).parent_path().string());
    published.push_back(
        {c.partition, {fs::path(c.final_path).filename().string(), c.rows, c.bytes}});
  }
  for (const auto& dir : dirs) {
    ARROW_RETURN_NOT_OK(fsync_directory(dir));
    if (options.success_file) ARROW_RETURN_NOT_OK(write_file_atomically(dir + "/_SUCCESS", ""));
  }
  if (options.catalog && !published.empty()) {
    ARROW_RETURN_NOT_OK(options.catalog->add_files(options.table, published));
  }
  return arrow::Status::OK();
}

arrow::Status TableWriter::commit(int64_t checkpoint_id) {
  Impl& s = *impl_;
  std::vector<Committable> due;
  for (auto it = s.prepared.begin(); it != s.prepared.end() && it->first <= checkpoint_id;) {
    due.insert(due.end(), it->second.begin(), it->second.end());
    it = s.prepared.erase(it);
  }
  if (due.empty()) return arrow::Status::OK();
  return commit_files(s.options, due);
}

arrow::Status TableWriter::abort(bool keep_prepared) {
  Impl& s = *impl_;
  std::error_code ec;
  for (auto& [_, file] : s.open) {
    file.writer.reset();
    fs::remove(file.staging, ec);
  }
  s.open.clear();
  for (const auto& c : s.rolled) fs::remove(c.staging_path, ec);
  s.rolled.clear();
  if (!keep_prepared) {
    for (const auto& [_, list] : s.prepared) {
      for (const auto& c : list) fs::remove(c.staging_path, ec);
    }
  }
  s.prepared.clear();
  return arrow::Status::OK();
}

TableWriter::MemoryStats TableWriter::memory_stats() const {
  return {impl_->pool.bytes_allocated(), impl_->pool.max_memory(), impl_->row_groups_flushed,
          impl_->files_rolled};
}

std::vector<Committable> TableWriter::pending_committables() const {
  std::vector<Committable> out;
  for (const auto& [_, list] : impl_->prepared) out.insert(out.end(), list.begin(), list.end());
  return out;
}

namespace {

std::string escape_field(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c <= ' ' || c == '%' || c >= 0x7f) {
      out += fmt::format("%{:02X}", c);
    } else {
      out.push_back(char(c));
    }
  }
  return out.empty() ? "%" : out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

arrow::Result<std::string> unescape_field(std::string_view text) {
  if (text == "%") return std::string();
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return arrow::Status::Invalid("bad escape in committable field '", text, "'");
    }
    const int hi = hex_digit(text[i + 1]), lo = hex_digit(text[i + 2]);
    if (hi < 0 || lo < 0) return arrow::Status::Invalid("bad escape in '", text, "'");
    out.push_back(char(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace

std::string serialize_committables(const std::vector<Committable>& committables) {
  std::string out = "committables 1\n";
  for (const auto& c : committables) {
    out += fmt::format("{} {} {} {} {} {}\n", c.checkpoint_id, escape_field(c.staging_path),
                       escape_field(c.final_path), escape_field(c.partition), c.rows, c.bytes);
  }
  return out;
}

arrow::Result<std::vector<Committable>> parse_committables(const std::string& text) {
  std::vector<Committable> out;
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != "committables 1") {
    return arrow::Status::Invalid("not a list of lake committables");
  }
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    std::istringstream fields(line);
    Committable c;
    std::string staging, final_path, partition;
    if (!(fields >> c.checkpoint_id >> staging >> final_path >> partition >> c.rows >> c.bytes)) {
      return arrow::Status::Invalid("committable line ", line_no, " is malformed: '", line, "'");
    }
    ARROW_ASSIGN_OR_RAISE(c.staging_path, unescape_field(staging));
    ARROW_ASSIGN_OR_RAISE(c.final_path, unescape_field(final_path));
    ARROW_ASSIGN_OR_RAISE(c.partition, unescape_field(partition));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace roadpulse::lake
