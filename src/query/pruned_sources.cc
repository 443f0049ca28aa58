// The pruning base source, file selection by partition, and the Parquet lake source (see
// pruned_sources.h); the raw archive's source is in raw_json_source.cc.

#include <filesystem>
#include <set>

#include "query/pruned_sources.h"

namespace roadpulse::query {

namespace fs = std::filesystem;

arrow::Result<std::vector<std::string>> select_files(const lake::TableEntry& table,
                                                     const lake::Predicates& predicates,
                                                     const std::string& extension,
                                                     ScanPruning& stats) {
  ARROW_ASSIGN_OR_RAISE(auto files, lake::list_data_files(table.location, extension));
  std::set<std::string> partitions, kept_partitions;
  std::vector<std::string> kept;
  std::error_code ec;
  for (auto& file : files) {
    const auto rel = fs::relative(fs::path(file).parent_path(), table.location, ec).string();
    const std::string dir = ec || rel == "." ? "" : rel;
    partitions.insert(dir);
    if (lake::partition_may_match(lake::parse_partition_path(dir), *table.schema, predicates)) {
      kept_partitions.insert(dir);
      kept.push_back(std::move(file));
    }
  }
  stats.partitions = int64_t(partitions.size());
  stats.partitions_kept = int64_t(kept_partitions.size());
  stats.files = int64_t(files.size());
  stats.files_kept = int64_t(kept.size());
  return kept;
}

PrunedLakeSource::PrunedLakeSource(lake::TableEntry table, lake::Predicates predicates,
                                   std::shared_ptr<arrow::Schema> read_schema, int64_t batch_rows,
                                   std::shared_ptr<ScanPruning> stats)
    : table_(std::move(table)),
      predicates_(std::move(predicates)),
      read_schema_(std::move(read_schema)),
      batch_rows_(batch_rows),
      stats_(std::move(stats)) {}

arrow::Result<exec::SourceChunk> PrunedLakeSource::next(int64_t) {
  exec::SourceChunk chunk;
  ARROW_ASSIGN_OR_RAISE(chunk.batch, next_batch());
  if (!chunk.batch) {
    chunk.end_of_input = true;
  } else {
    read_ += chunk.batch->num_rows();
  }
  return chunk;
}

namespace {

class LakeParquetSource final : public PrunedLakeSource {
 public:
  using PrunedLakeSource::PrunedLakeSource;

  arrow::Status open(const exec::OperatorContext&) override {
    ARROW_ASSIGN_OR_RAISE(auto kept, select_files(table_, predicates_, ".parquet", *stats_));
    lake::RowGroupSelector selector = [stats = stats_, predicates = predicates_](
                                          const std::string&, const parquet::FileMetaData& metadata,
                                          const arrow::Schema& schema) {
      auto groups = lake::row_groups_may_match(metadata, schema, predicates);
      stats->row_groups += lake::row_group_count(metadata);
      stats->row_groups_kept += int64_t(groups.size());
      return groups;
    };
    ARROW_ASSIGN_OR_RAISE(
        reader_, lake::ParquetTableReader::open(table_.location, std::move(kept), read_schema_,
                                                batch_rows_, selector));
    return arrow::Status::OK();
  }

 private:
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> next_batch() override {
    return reader_->next();
  }

  std::unique_ptr<lake::ParquetTableReader> reader_;
};

}  // namespace

std::unique_ptr<exec::Source> make_lake_parquet_source(lake::TableEntry table,
                                                       lake::Predicates predicates,
                                                       std::shared_ptr<arrow::Schema> read_schema,
                                                       std::shared_ptr<ScanPruning> stats,
                                                       int64_t batch_rows) {
  return std::make_unique<LakeParquetSource>(std::move(table), std::move(predicates),
                                             std::move(read_schema), batch_rows, std::move(stats));
}

}  // namespace roadpulse::query
