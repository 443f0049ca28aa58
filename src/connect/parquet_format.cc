// 'format' = 'parquet' for the filesystem connector: a source over lake::ParquetTableReader and a
// two-phase-commit sink over lake::TableWriter.
//
// Sink options (Flink's where they exist):
//   sink.rolling-policy.file-size            roll a file past this size (default 128MB)
//   sink.rolling-policy.rollover-interval    roll a file open this long (default: never)
//   sink.buffer-memory                       bound on the memory of the open files together
//                                            (default 256mb; 0: none): past it the largest
//                                            write out row groups or roll, until under half
//   sink.partition-commit.policy.kind        'success-file', 'metastore' or both, comma
//                                            separated (default: 'metastore' when 'path' is
//                                            inside <data-dir>/lake, else none)
//   parquet.compression                      zstd (default), snappy, lz4, gzip, uncompressed
//   parquet.compression-level                zstd level (default 1)
//   parquet.row-group-rows                   rows per row group (default 131072)
//   lake.table                               catalog name (default: `<zone>.<table>` when
//                                            'path' is <data-dir>/lake/<zone>/<table>, else the
//                                            SQL table's name)

#include <filesystem>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connect/connectors.h"
#include "connect/parquet_format.h"
#include "lake/lake.h"

namespace roadpulse::connect {

namespace fs = std::filesystem;

namespace {

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  auto p = fs::weakly_canonical(fs::absolute(path), ec);
  std::string s = (ec ? fs::absolute(path).lexically_normal() : p).string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

class ParquetSource final : public exec::Source {
 public:
  ParquetSource(std::string root, std::shared_ptr<arrow::Schema> schema, int64_t batch_rows)
      : root_(std::move(root)), schema_(std::move(schema)), batch_rows_(batch_rows) {}

  std::string name() const override { return "filesystem:" + root_; }
  bool bounded() const override { return true; }

  arrow::Status open(const exec::OperatorContext&) override {
    ARROW_ASSIGN_OR_RAISE(auto files, lake::list_data_files(root_, ".parquet"));
    ARROW_ASSIGN_OR_RAISE(
        reader_, lake::ParquetTableReader::open(root_, std::move(files), schema_, batch_rows_));
    return arrow::Status::OK();
  }

  arrow::Result<exec::SourceChunk> next(int64_t) override {
    exec::SourceChunk chunk;
    ARROW_ASSIGN_OR_RAISE(chunk.batch, reader_->next());
    if (!chunk.batch) {
      chunk.end_of_input = true;
    } else {
      read_ += chunk.batch->num_rows();
    }
    return chunk;
  }

  exec::SourceMetrics metrics() const override { return {read_, 0}; }

 private:
  std::string root_;
  std::shared_ptr<arrow::Schema> schema_;
  int64_t batch_rows_;
  std::unique_ptr<lake::ParquetTableReader> reader_;
  int64_t read_ = 0;
};

class ParquetSink final : public exec::Sink {
 public:
  ParquetSink(lake::TableWriterOptions options, std::unique_ptr<lake::Catalog> catalog)
      : options_(std::move(options)), catalog_(std::move(catalog)) {
    options_.catalog = catalog_.get();
  }

  std::string name() const override { return "filesystem:" + options_.location; }

  arrow::Status open(const exec::OperatorContext& context) override {
    std::random_device rd;
    std::mt19937_64 gen(rd());
    // Unique per run and subtask, so appends from later jobs never collide with these names.
    options_.job_id = fmt::format("{:012x}-{}", gen() & 0xffffffffffffULL, context.subtask);
    if (context.restored_state && !context.restored_commit_confirmed) {
      // Resuming from a checkpoint whose commit may not have happened: finish it (idempotent).
      ARROW_ASSIGN_OR_RAISE(auto committables,
                            lake::parse_committables(context.restored_state->ToString()));
      ARROW_RETURN_NOT_OK(lake::TableWriter::commit_files(options_, committables));
      if (!committables.empty()) {
        spdlog::info("filesystem sink {}: committed {} file(s) of checkpoint {} on restore",
                     options_.location, committables.size(), context.restored_checkpoint_id);
      }
    }
    // Every other staging file belongs to a checkpoint that never completed (or a writer that
    // crashed without checkpoints): its rows are replayed from the sources, so remove it. One
    // writing job per table location, as with Flink's FileSink.
    ARROW_ASSIGN_OR_RAISE(int removed, lake::clean_staging_files(options_.location));
    if (removed > 0) {
      spdlog::info("filesystem sink {}: removed {} leftover staging file(s)", options_.location,
                   removed);
    }
    ARROW_ASSIGN_OR_RAISE(writer_, lake::TableWriter::make(options_));
    return arrow::Status::OK();
  }

  arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    return writer_->write(batch);
  }

  arrow::Status prepare_commit(int64_t checkpoint_id) override {
    return writer_->prepare_commit(checkpoint_id).status();
  }

  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_state(int64_t) override {
    checkpointed_ = true;
    // Every prepared file not committed yet (a checkpoint whose commit failed stays owed).
    return arrow::Buffer::FromString(lake::serialize_committables(writer_->pending_committables()));
  }

  arrow::Status commit(int64_t checkpoint_id) override {
    last_committed_ = std::max(last_committed_, checkpoint_id);
    return writer_->commit(checkpoint_id);
  }

  arrow::Status close(bool end_of_data) override {
    if (!writer_) return arrow::Status::OK();
    // Files a checkpoint may own stay for the next start to commit or clean.
    if (!end_of_data) return writer_->abort(/*keep_prepared=*/checkpointed_);
    // A bounded job's final checkpoint: everything written becomes visible now.
    const int64_t final_checkpoint = last_committed_ + 1;
    ARROW_RETURN_NOT_OK(writer_->prepare_commit(final_checkpoint).status());
    return writer_->commit(final_checkpoint);
  }

  int64_t rows_written() const override { return writer_ ? writer_->rows_written() : 0; }

 private:
  lake::TableWriterOptions options_;
  std::unique_ptr<lake::Catalog> catalog_;
  std::unique_ptr<lake::TableWriter> writer_;
  int64_t last_committed_ = 0;
  bool checkpointed_ = false;
};

}  // namespace

arrow::Result<std::unique_ptr<exec::Source>> make_parquet_source(const exec::SourceSpec& spec,
                                                                 ConnectContext&) {
  OptionReader reader("filesystem", spec.options);
  ARROW_ASSIGN_OR_RAISE(std::string path, reader.require("path"));
  reader.get("format");
  reader.allow_prefix("sink.");
  reader.allow_prefix("parquet.");
  reader.get("partition.default-name");
  reader.get("lake.table");
  ARROW_RETURN_NOT_OK(reader.check_unknown());
  return std::make_unique<ParquetSource>(path, spec.read_schema, 64 * 1024);
}

arrow::Result<std::unique_ptr<exec::Sink>> make_parquet_sink(const exec::SinkSpec& spec,
                                                             ConnectContext& context) {
  OptionReader reader("filesystem", spec.options);
  ARROW_ASSIGN_OR_RAISE(std::string path, reader.require("path"));
  reader.get("format");
  lake::TableWriterOptions options;
  options.location = absolute_path(path);
  options.schema = spec.schema;
  options.partition_keys = spec.table->partition_keys;
  if (auto size = reader.get("sink.rolling-policy.file-size")) {
    ARROW_ASSIGN_OR_RAISE(options.roll_bytes, parse_memory_size(*size));
  }
  if (auto size = reader.get("sink.buffer-memory")) {
    auto bytes = parse_memory_size(*size);
    if (!bytes.ok()) {
      return arrow::Status::Invalid("filesystem option 'sink.buffer-memory': ",
                                    bytes.status().message());
    }
    options.buffer_memory = *bytes;
  }
  if (auto interval = reader.get("sink.rolling-policy.rollover-interval")) {
    ARROW_ASSIGN_OR_RAISE(options.rollover_interval_ms, parse_duration_ms(*interval));
  }
  options.parquet.compression = reader.get_or("parquet.compression", "zstd");
  for (auto& c : options.parquet.compression) c = char(std::tolower(c));
  ARROW_ASSIGN_OR_RAISE(int64_t level, reader.get_int("parquet.compression-level", 1));
  options.parquet.compression_level = int(level);
  ARROW_ASSIGN_OR_RAISE(options.parquet.row_group_rows,
                        reader.get_int("parquet.row-group-rows", 128 * 1024));
  if (options.parquet.row_group_rows <= 0) {
    return arrow::Status::Invalid("filesystem option 'parquet.row-group-rows' must be positive");
  }
  reader.get("partition.default-name");
  reader.get("sink.partition-commit.trigger");
  reader.get("sink.partition-commit.delay");

  const std::string lake_root = absolute_path(context.options().data_dir + "/lake");
  const fs::path rel = fs::path(options.location).lexically_relative(lake_root);
  const bool in_lake = !rel.empty() && *rel.begin() != ".." && rel.string() != ".";
  std::string table_name = spec.table->name;
  if (in_lake && std::distance(rel.begin(), rel.end()) == 2) {
    table_name = (*rel.begin()).string() + "." + (*std::next(rel.begin())).string();
  }
  table_name = reader.get_or("lake.table", table_name);

  std::string kinds =
      reader.get_or("sink.partition-commit.policy.kind", in_lake ? "metastore" : "");
  bool metastore = false;
  std::stringstream list(kinds);
  for (std::string kind; std::getline(list, kind, ',');) {
    kind.erase(0, kind.find_first_not_of(" \t"));
    kind.erase(kind.find_last_not_of(" \t") + 1);
    if (kind == "success-file") {
      options.success_file = true;
    } else if (kind == "metastore") {
      metastore = true;
    } else if (!kind.empty()) {
      return arrow::Status::Invalid(
          "filesystem option 'sink.partition-commit.policy.kind': unknown policy '", kind,
          "' (success-file, metastore)");
    }
  }
  ARROW_RETURN_NOT_OK(reader.check_unknown());

  std::unique_ptr<lake::Catalog> catalog;
  if (metastore) {
    ARROW_ASSIGN_OR_RAISE(catalog, lake::Catalog::open(lake_root + "/_catalog"));
    options.table.name = table_name;
    options.table.location = options.location;
    options.table.format = "parquet";
    options.table.schema = spec.schema;
    options.table.partition_keys = spec.table->partition_keys;
    ARROW_ASSIGN_OR_RAISE(auto existing, catalog->find(table_name));
    if (existing && existing->location != options.location) {
      return arrow::Status::Invalid("lake table '", table_name, "' is registered at '",
                                    existing->location, "', not '", options.location,
                                    "' (set 'lake.table' to another name)");
    }
  }
  if (spec.overwrite) {
    // INSERT OVERWRITE: replace the table's committed files (and its catalog entry).
    std::error_code ec;
    if (fs::exists(options.location, ec)) {
      ARROW_ASSIGN_OR_RAISE(auto files, lake::list_data_files(options.location, ".parquet"));
      for (const auto& file : files) fs::remove(file, ec);
    }
    if (catalog && catalog->find(table_name).ValueOr(std::nullopt)) {
      ARROW_RETURN_NOT_OK(catalog->drop(table_name));
    }
  }
  return std::make_unique<ParquetSink>(std::move(options), std::move(catalog));
}

}  // namespace roadpulse::connect
