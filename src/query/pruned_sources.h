#pragma once
// Internal to src/query: the bounded sources of lake tables that skip what the query's
// predicates rule out — Parquet tables (partitions and row groups) and raw archives
// (partitions) — over one base that owns the scan's table, predicates and pruning counts.

#include <memory>
#include <string>
#include <vector>

#include <arrow/type.h>

#include "exec/connector.h"
#include "lake/lake.h"
#include "lake/pruning.h"
#include "query/query.h"

namespace roadpulse::query {

/// The data files (by `extension`) under `table.location` in partitions `predicates` cannot
/// rule out; counts partitions and files, all and kept, into `stats`.
arrow::Result<std::vector<std::string>> select_files(const lake::TableEntry& table,
                                                     const lake::Predicates& predicates,
                                                     const std::string& extension,
                                                     ScanPruning& stats);

/// A lake table as a bounded source: subclasses open their kept files and hand out batches of
/// `read_schema`; the base counts rows and ends the input on the first null batch.
class PrunedLakeSource : public exec::Source {
 public:
  PrunedLakeSource(lake::TableEntry table, lake::Predicates predicates,
                   std::shared_ptr<arrow::Schema> read_schema, int64_t batch_rows,
                   std::shared_ptr<ScanPruning> stats);

  std::string name() const override { return "lake:" + table_.name; }
  bool bounded() const override { return true; }
  arrow::Result<exec::SourceChunk> next(int64_t timeout_ms) final;
  exec::SourceMetrics metrics() const override { return {read_, 0}; }

 protected:
  /// The next batch, or null at the end of the kept files.
  virtual arrow::Result<std::shared_ptr<arrow::RecordBatch>> next_batch() = 0;

  lake::TableEntry table_;
  lake::Predicates predicates_;
  std::shared_ptr<arrow::Schema> read_schema_;
  int64_t batch_rows_;
  std::shared_ptr<ScanPruning> stats_;

 private:
  int64_t read_ = 0;
};

/// Reads a Parquet lake table: files of partitions and row groups (by their statistics) the
/// predicates cannot rule out, in batches of `batch_rows`.
std::unique_ptr<exec::Source> make_lake_parquet_source(lake::TableEntry table,
                                                       lake::Predicates predicates,
                                                       std::shared_ptr<arrow::Schema> read_schema,
                                                       std::shared_ptr<ScanPruning> stats,
                                                       int64_t batch_rows = 64 * 1024);

/// Reads `table` (a raw archive: `dt=/hour=/*.jsonl.zst`): files of partitions the predicates
/// cannot rule out, decompressed and parsed into `read_schema` (JSON fields by name, partition
/// columns from the directories).
std::unique_ptr<exec::Source> make_raw_json_source(lake::TableEntry table,
                                                   lake::Predicates predicates,
                                                   std::shared_ptr<arrow::Schema> read_schema,
                                                   std::shared_ptr<ScanPruning> stats,
                                                   int64_t batch_rows = 64 * 1024);

}  // namespace roadpulse::query
