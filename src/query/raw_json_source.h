#pragma once
// Internal to src/query: the raw archive's zstd JSON-lines files as a bounded exec source.

#include <memory>

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

/// Reads `table` (a raw archive: `dt=/hour=/*.jsonl.zst`): files of partitions the predicates
/// cannot rule out, decompressed and parsed into `read_schema` (JSON fields by name, partition
/// columns from the directories). Pruning counts go to `stats`.
std::unique_ptr<exec::Source> make_raw_json_source(lake::TableEntry table,
                                                   lake::Predicates predicates,
                                                   std::shared_ptr<arrow::Schema> read_schema,
                                                   std::shared_ptr<ScanPruning> stats);

}  // namespace roadpulse::query
