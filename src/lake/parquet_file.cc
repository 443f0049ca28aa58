// Parquet files through Arrow C++: the writer (zstd, dictionaries, statistics, bounded row
// groups, fsync on close) and a projecting reader that fills partition columns from directories.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <arrow/array.h>
#include <arrow/compute/api.h>
#include <arrow/io/file.h>
#include <arrow/scalar.h>
#include <arrow/util/compression.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/schema.h>
#include <parquet/arrow/writer.h>
#include <parquet/file_reader.h>
#include <parquet/properties.h>

#include "lake/lake.h"

namespace roadpulse::lake {

namespace fs = std::filesystem;

namespace {

arrow::Result<arrow::Compression::type> compression_of(const std::string& name) {
  if (name == "zstd") return arrow::Compression::ZSTD;
  if (name == "snappy") return arrow::Compression::SNAPPY;
  if (name == "lz4") return arrow::Compression::LZ4;
  if (name == "gzip") return arrow::Compression::GZIP;
  if (name == "uncompressed" || name == "none") return arrow::Compression::UNCOMPRESSED;
  return arrow::Status::Invalid("unknown parquet compression '", name,
                                "' (zstd, snappy, lz4, gzip, uncompressed)");
}

arrow::Status fsync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return arrow::Status::IOError("cannot open '", path, "': ", strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return arrow::Status::IOError("fsync of '", path, "' failed: ", strerror(err));
  return arrow::Status::OK();
}

int64_t batch_bytes(const arrow::RecordBatch& batch) {
  int64_t total = 0;
  for (const auto& column : batch.columns()) {
    for (const auto& buffer : column->data()->buffers) {
      if (buffer) total += buffer->size();
    }
  }
  return total;
}

}  // namespace

struct ParquetFileWriter::Impl {
  std::string path;
  // Counts this file's allocations (declared first: outlives the writer that allocates).
  std::unique_ptr<arrow::ProxyMemoryPool> pool;
  std::shared_ptr<arrow::io::FileOutputStream> out;
  std::unique_ptr<parquet::arrow::FileWriter> writer;
  int64_t row_group_rows = 0;
  int64_t rows_in_group = 0;
  int64_t raw_in_group = 0;  // uncompressed bytes buffered in the open row group
  int64_t raw_flushed = 0;   // uncompressed bytes of closed row groups
  bool closed = false;
};

ParquetFileWriter::ParquetFileWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ParquetFileWriter::~ParquetFileWriter() {
  if (impl_ && !impl_->closed && impl_->out) (void)impl_->out->Close();
}

arrow::Result<std::unique_ptr<ParquetFileWriter>> ParquetFileWriter::open(
    const std::string& path, std::shared_ptr<arrow::Schema> schema,
    const ParquetWriteOptions& options, arrow::MemoryPool* pool) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->pool = std::make_unique<arrow::ProxyMemoryPool>(pool ? pool : arrow::default_memory_pool());
  impl->row_group_rows = std::max<int64_t>(1, options.row_group_rows);
  ARROW_ASSIGN_OR_RAISE(auto codec, compression_of(options.compression));
  parquet::WriterProperties::Builder builder;
  builder.memory_pool(impl->pool.get())
      ->compression(codec)
      ->max_row_group_length(impl->row_group_rows)
      ->data_page_version(parquet::ParquetDataPageVersion::V1)
      ->version(parquet::ParquetVersion::PARQUET_2_6);
  if (codec == arrow::Compression::ZSTD) builder.compression_level(options.compression_level);
  if (options.dictionary) {
    builder.enable_dictionary();
  } else {
    builder.disable_dictionary();
  }
  if (options.statistics) {
    builder.enable_statistics();
  } else {
    builder.disable_statistics();
  }
  // Microsecond timestamps as TIMESTAMP(MICROS), which DuckDB, Spark and Athena read natively.
  auto arrow_props = parquet::ArrowWriterProperties::Builder().store_schema()->build();
  auto out_result = arrow::io::FileOutputStream::Open(path);
  if (!out_result.ok()) {
    return arrow::Status::IOError("cannot create parquet file '", path,
                                  "': ", out_result.status().message());
  }
  impl->out = *out_result;
  auto writer = parquet::arrow::FileWriter::Open(*schema, impl->pool.get(), impl->out,
                                                 builder.build(), arrow_props);
  if (!writer.ok()) {
    return arrow::Status::Invalid("cannot write parquet file '", path,
                                  "': ", writer.status().message());
  }
  impl->writer = std::move(*writer);
  return std::unique_ptr<ParquetFileWriter>(new ParquetFileWriter(std::move(impl)));
}

arrow::Status ParquetFileWriter::write(const arrow::RecordBatch& batch) {
  if (batch.num_rows() == 0) return arrow::Status::OK();
  // Row groups are cut here (not by the writer's max length, which would split a batch's
  // buffered group unevenly): a new buffered group starts every row_group_rows rows.
  int64_t offset = 0;
  while (offset < batch.num_rows()) {
    if (impl_->rows_in_group >= impl_->row_group_rows) {
      ARROW_RETURN_NOT_OK(impl_->writer->NewBufferedRowGroup());
      impl_->raw_flushed += impl_->raw_in_group;
      impl_->raw_in_group = 0;
      impl_->rows_in_group = 0;
    }
    const int64_t n =
        std::min(batch.num_rows() - offset, impl_->row_group_rows - impl_->rows_in_group);
    auto slice = (offset == 0 && n == batch.num_rows()) ? nullptr : batch.Slice(offset, n);
    const arrow::RecordBatch& part = slice ? *slice : batch;
    auto st = impl_->writer->WriteRecordBatch(part);
    if (!st.ok()) {
      return arrow::Status::IOError("writing parquet file '", impl_->path, "': ", st.message());
    }
    // Sliced buffers report their parents' sizes; scale by the slice's share of rows.
    impl_->raw_in_group += batch_bytes(batch) * n / batch.num_rows();
    impl_->rows_in_group += n;
    offset += n;
  }
  rows_ += batch.num_rows();
  return arrow::Status::OK();
}

int64_t ParquetFileWriter::buffered_bytes() const { return impl_->pool->bytes_allocated(); }

int64_t ParquetFileWriter::buffered_rows() const { return impl_->rows_in_group; }

arrow::Status ParquetFileWriter::flush_row_group() {
  if (impl_->closed) return arrow::Status::Invalid("parquet file '", impl_->path, "' is closed");
  if (impl_->rows_in_group == 0) return arrow::Status::OK();
  // Closes the buffered group (its pages go to the file) and opens an empty one.
  auto st = impl_->writer->NewBufferedRowGroup();
  if (!st.ok()) {
    return arrow::Status::IOError("writing parquet file '", impl_->path, "': ", st.message());
  }
  impl_->raw_flushed += impl_->raw_in_group;
  impl_->raw_in_group = 0;
  impl_->rows_in_group = 0;
  return arrow::Status::OK();
}

int64_t ParquetFileWriter::estimated_size() const {
  const int64_t written = impl_->out->Tell().ValueOr(0);
  // Compression ratio of what is on disk so far; before the first row group, assume 4:1.
  const double ratio =
      impl_->raw_flushed > 0 && written > 0 ? double(written) / double(impl_->raw_flushed) : 0.25;
  return written + int64_t(double(impl_->raw_in_group) * ratio);
}

arrow::Result<int64_t> ParquetFileWriter::close() {
  if (impl_->closed) return arrow::Status::Invalid("parquet file '", impl_->path, "' is closed");
  impl_->closed = true;
  auto st = impl_->writer->Close();
  if (st.ok()) st = impl_->out->Close();
  if (!st.ok()) {
    return arrow::Status::IOError("closing parquet file '", impl_->path, "': ", st.message());
  }
  ARROW_RETURN_NOT_OK(fsync_file(impl_->path));
  std::error_code ec;
  const auto size = fs::file_size(impl_->path, ec);
  if (ec) return arrow::Status::IOError("cannot stat '", impl_->path, "': ", ec.message());
  return int64_t(size);
}

namespace {

arrow::Result<std::unique_ptr<parquet::arrow::FileReader>> open_reader(const std::string& path) {
  auto input = arrow::io::ReadableFile::Open(path);
  if (!input.ok()) {
    return arrow::Status::IOError("cannot open parquet file '", path,
                                  "': ", input.status().message());
  }
  auto reader = parquet::arrow::OpenFile(*input, arrow::default_memory_pool());
  if (!reader.ok()) {
    return arrow::Status::Invalid("'", path,
                                  "' is not a readable parquet file: ", reader.status().message());
  }
  return std::move(*reader);
}

}  // namespace

arrow::Result<std::shared_ptr<arrow::Schema>> read_parquet_schema(const std::string& path) {
  ARROW_ASSIGN_OR_RAISE(auto reader, open_reader(path));
  std::shared_ptr<arrow::Schema> schema;
  ARROW_RETURN_NOT_OK(reader->GetSchema(&schema));
  return schema;
}

arrow::Result<int64_t> read_parquet_row_count(const std::string& path) {
  ARROW_ASSIGN_OR_RAISE(auto reader, open_reader(path));
  return reader->parquet_reader()->metadata()->num_rows();
}

struct ParquetTableReader::Impl {
  std::string root;
  std::vector<std::string> files;
  std::shared_ptr<arrow::Schema> schema;
  int64_t batch_rows = 0;
  RowGroupSelector select_row_groups;
  size_t next_file = 0;
  std::string current;
  std::unique_ptr<parquet::arrow::FileReader> file;
  std::unique_ptr<arrow::RecordBatchReader> batches;
  // For each output column: 1 when read from the file, -1 for a constant (partition or missing).
  std::vector<int> source_index;
  std::vector<std::shared_ptr<arrow::Scalar>> constants;  // partition value or null, per column

  arrow::Status open_next() {
    current = files[next_file++];
    batches.reset();
    ARROW_ASSIGN_OR_RAISE(file, open_reader(current));
    file->set_batch_size(batch_rows);
    std::shared_ptr<arrow::Schema> file_schema;
    ARROW_RETURN_NOT_OK(file->GetSchema(&file_schema));
    std::error_code ec;
    const auto rel = fs::relative(fs::path(current).parent_path(), root, ec).string();
    const PartitionValues partitions = parse_partition_path(ec ? "" : rel);
    std::vector<int> leaf_columns;
    source_index.assign(schema->num_fields(), -1);
    constants.assign(schema->num_fields(), nullptr);
    const auto* manifest = &file->manifest();
    for (int i = 0; i < schema->num_fields(); ++i) {
      const auto& field = schema->field(i);
      const std::string* partition_value = nullptr;
      for (const auto& [k, v] : partitions) {
        if (k == field->name()) partition_value = &v;
      }
      if (partition_value) {
        if (*partition_value == kDefaultPartition || *partition_value == "__DEFAULT_PARTITION__") {
          constants[i] = arrow::MakeNullScalar(field->type());
        } else {
          auto cast = arrow::StringScalar(*partition_value).CastTo(field->type());
          if (!cast.ok()) {
            return arrow::Status::Invalid("partition directory '", field->name(), "=",
                                          *partition_value, "' of '", current, "' is not a ",
                                          field->type()->ToString());
          }
          constants[i] = *cast;
        }
        continue;
      }
      const int f = file_schema->GetFieldIndex(field->name());
      if (f < 0) {
        constants[i] = arrow::MakeNullScalar(field->type());
        continue;
      }
      const auto& schema_field = manifest->schema_fields[f];
      if (!schema_field.children.empty()) {
        return arrow::Status::NotImplemented("nested column '", field->name(), "' in '", current,
                                             "'");
      }
      source_index[i] = 1;  // read by name from the batches (their column order is the file's)
      leaf_columns.push_back(schema_field.column_index);
    }
    std::vector<int> row_groups(file->num_row_groups());
    for (int g = 0; g < int(row_groups.size()); ++g) row_groups[g] = g;
    const auto& metadata = *file->parquet_reader()->metadata();
    if (select_row_groups) row_groups = select_row_groups(current, metadata, *file_schema);
    if (leaf_columns.empty()) {
      // Only partition columns: the row count still matters (COUNT(*)), so read no column but
      // produce batches of the right lengths.
      batches.reset();
      pending_rows = 0;
      for (int g : row_groups) pending_rows += metadata.RowGroup(g)->num_rows();
      return arrow::Status::OK();
    }
    if (row_groups.empty()) {
      batches.reset();
      pending_rows = 0;
      return arrow::Status::OK();
    }
    auto reader = file->GetRecordBatchReader(row_groups, leaf_columns);
    if (!reader.ok()) {
      return arrow::Status::Invalid("reading '", current, "': ", reader.status().message());
    }
    batches = std::move(*reader);
    return arrow::Status::OK();
  }

  int64_t pending_rows = 0;  // rows to emit for a file read for partition columns only
};

ParquetTableReader::ParquetTableReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ParquetTableReader::~ParquetTableReader() = default;

arrow::Result<std::unique_ptr<ParquetTableReader>> ParquetTableReader::open(
    std::string root, std::vector<std::string> files, std::shared_ptr<arrow::Schema> schema,
    int64_t batch_rows, RowGroupSelector select_row_groups) {
  auto impl = std::make_unique<Impl>();
  impl->root = std::move(root);
  impl->files = std::move(files);
  impl->schema = std::move(schema);
  impl->batch_rows = std::max<int64_t>(1, batch_rows);
  impl->select_row_groups = std::move(select_row_groups);
  return std::unique_ptr<ParquetTableReader>(new ParquetTableReader(std::move(impl)));
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> ParquetTableReader::next() {
  Impl& s = *impl_;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> raw;
    int64_t rows = 0;
    if (s.batches) {
      auto st = s.batches->ReadNext(&raw);
      if (!st.ok()) return arrow::Status::IOError("reading '", s.current, "': ", st.message());
      if (raw) rows = raw->num_rows();
    } else if (s.pending_rows > 0) {
      rows = std::min(s.pending_rows, s.batch_rows);
      s.pending_rows -= rows;
    }
    if (rows == 0) {
      if (raw) continue;  // an empty batch
      if (s.next_file >= s.files.size()) return nullptr;
      ARROW_RETURN_NOT_OK(s.open_next());
      continue;
    }
    std::vector<std::shared_ptr<arrow::Array>> columns;
    columns.reserve(s.schema->num_fields());
    for (int i = 0; i < s.schema->num_fields(); ++i) {
      const auto& type = s.schema->field(i)->type();
      if (s.source_index[i] < 0) {
        ARROW_ASSIGN_OR_RAISE(auto array, arrow::MakeArrayFromScalar(*s.constants[i], rows));
        columns.push_back(std::move(array));
        continue;
      }
      auto array = raw->GetColumnByName(s.schema->field(i)->name());
      if (!array)
        return arrow::Status::Invalid("column '", s.schema->field(i)->name(), "' missing in '",
                                      s.current, "'");
      if (!array->type()->Equals(*type)) {
        auto cast = arrow::compute::Cast(*array, type);
        if (!cast.ok()) {
          return arrow::Status::Invalid("column '", s.schema->field(i)->name(), "' of '", s.current,
                                        "' is ", array->type()->ToString(), ", cannot read it as ",
                                        type->ToString(), ": ", cast.status().message());
        }
        array = *cast;
      }
      columns.push_back(std::move(array));
    }
    return arrow::RecordBatch::Make(s.schema, rows, std::move(columns));
  }
}

}  // namespace roadpulse::lake
