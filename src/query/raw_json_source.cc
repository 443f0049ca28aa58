// The raw archive (`raw.<stream>`: zstd JSON lines under dt=/hour=) as a bounded source of the
// lake query engine: partition-pruned files, decompressed, parsed with Arrow's JSON reader
// into the columns the query reads.

#include <deque>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <arrow/array/util.h>
#include <arrow/buffer.h>
#include <arrow/compute/api.h>
#include <arrow/io/memory.h>
#include <arrow/json/api.h>
#include <arrow/table.h>

#include "archive/archive.h"
#include "query/pruned_sources.h"

namespace roadpulse::query {

namespace fs = std::filesystem;

namespace {

class RawJsonSource final : public PrunedLakeSource {
 public:
  using PrunedLakeSource::PrunedLakeSource;

  arrow::Status open(const exec::OperatorContext&) override {
    ARROW_ASSIGN_OR_RAISE(files_, select_files(table_, predicates_, ".jsonl.zst", *stats_));
    // Fields read from the records: the read schema minus partition keys.
    arrow::FieldVector fields;
    for (const auto& f : read_schema_->fields()) {
      if (std::find(table_.partition_keys.begin(), table_.partition_keys.end(), f->name()) ==
          table_.partition_keys.end()) {
        fields.push_back(f);
      }
    }
    record_schema_ = arrow::schema(fields);
    return arrow::Status::OK();
  }

 private:
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> next_batch() override {
    while (pending_.empty()) {
      if (next_file_ >= files_.size()) return nullptr;
      ARROW_RETURN_NOT_OK(load(files_[next_file_++]));
    }
    auto batch = std::move(pending_.front());
    pending_.pop_front();
    return batch;
  }

  arrow::Status load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return arrow::Status::IOError("cannot open '", path, "'");
    std::stringstream s;
    s << in.rdbuf();
    auto text = archive::zstd_decompress(s.str());
    if (!text.ok()) return text.status().WithMessage("'", path, "': ", text.status().message());
    const std::string& lines = *text;
    int64_t rows = 0;
    std::shared_ptr<arrow::Table> table;
    if (record_schema_->num_fields() == 0) {
      for (char c : lines) rows += c == '\n';
    } else {
      auto buffer = arrow::Buffer::FromString(std::move(*text));
      auto read_options = arrow::json::ReadOptions::Defaults();
      read_options.use_threads = false;
      read_options.block_size = int32_t(std::min<size_t>(buffer->size() + 1, 1 << 30));
      auto parse_options = arrow::json::ParseOptions::Defaults();
      parse_options.explicit_schema = record_schema_;
      parse_options.unexpected_field_behavior = arrow::json::UnexpectedFieldBehavior::Ignore;
      auto reader = arrow::json::TableReader::Make(
          arrow::default_memory_pool(), std::make_shared<arrow::io::BufferReader>(buffer),
          read_options, parse_options);
      if (!reader.ok()) {
        return arrow::Status::Invalid("'", path, "': ", reader.status().message());
      }
      auto read = (*reader)->Read();
      if (!read.ok()) return arrow::Status::Invalid("'", path, "': ", read.status().message());
      ARROW_ASSIGN_OR_RAISE(table, (*read)->CombineChunks());
      rows = table->num_rows();
    }
    std::error_code ec;
    const auto rel = fs::relative(fs::path(path).parent_path(), table_.location, ec).string();
    const auto partitions = lake::parse_partition_path(ec ? "" : rel);
    std::vector<std::shared_ptr<arrow::Array>> columns;
    for (const auto& field : read_schema_->fields()) {
      std::shared_ptr<arrow::Array> column;
      for (const auto& [k, v] : partitions) {
        if (k != field->name()) continue;
        std::shared_ptr<arrow::Scalar> value = arrow::MakeNullScalar(field->type());
        if (v != lake::kDefaultPartition) {
          auto cast = arrow::StringScalar(v).CastTo(field->type());
          if (!cast.ok()) {
            return arrow::Status::Invalid("partition directory '", k, "=", v, "' of '", path,
                                          "' is not a ", field->type()->ToString());
          }
          value = *cast;
        }
        ARROW_ASSIGN_OR_RAISE(column, arrow::MakeArrayFromScalar(*value, rows));
      }
      if (!column) {
        auto chunked = table ? table->GetColumnByName(field->name()) : nullptr;
        if (!chunked) {
          ARROW_ASSIGN_OR_RAISE(column, arrow::MakeArrayOfNull(field->type(), rows));
        } else {
          column = chunked->chunk(0);
          if (!column->type()->Equals(*field->type())) {
            ARROW_ASSIGN_OR_RAISE(auto cast, arrow::compute::Cast(*column, field->type()));
            column = std::move(cast);
          }
        }
      }
      columns.push_back(std::move(column));
    }
    auto batch = arrow::RecordBatch::Make(read_schema_, rows, std::move(columns));
    for (int64_t off = 0; off < rows; off += batch_rows_) {
      pending_.push_back(batch->Slice(off, std::min(batch_rows_, rows - off)));
    }
    return arrow::Status::OK();
  }

  std::shared_ptr<arrow::Schema> record_schema_;
  std::vector<std::string> files_;
  size_t next_file_ = 0;
  std::deque<std::shared_ptr<arrow::RecordBatch>> pending_;
};

}  // namespace

std::unique_ptr<exec::Source> make_raw_json_source(lake::TableEntry table,
                                                   lake::Predicates predicates,
                                                   std::shared_ptr<arrow::Schema> read_schema,
                                                   std::shared_ptr<ScanPruning> stats,
                                                   int64_t batch_rows) {
  return std::make_unique<RawJsonSource>(std::move(table), std::move(predicates),
                                         std::move(read_schema), batch_rows, std::move(stats));
}

}  // namespace roadpulse::query
