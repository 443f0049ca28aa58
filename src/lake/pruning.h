#pragma once
// Pruning for batch reads of lake tables: a query's conjunctive predicates on single columns
// (`col = v`, `col < v`, `col IN (...)`, `col IS NULL`, ...) decide, before anything is read,
// which Hive partition directories can hold matching rows (from the `k=v` values) and which
// Parquet row groups can (from their min/max/null-count statistics). Anything the predicates do
// not constrain, or that cannot be compared (a column without statistics, an unsupported type),
// is kept: pruning only ever skips data that certainly has no matching row.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <arrow/scalar.h>
#include <arrow/type.h>

#include "lake/lake.h"

namespace parquet {
class FileMetaData;
}

namespace roadpulse::lake {

struct ColumnPredicate {
  enum class Op { kEq, kLt, kLe, kGt, kGe, kIn, kIsNull, kIsNotNull };
  std::string column;
  Op op = Op::kEq;
  std::vector<std::shared_ptr<arrow::Scalar>> values;  // one, or the IN list; none for IS NULL

  /// `State = 'OH'`, `hour IN (1, 2)`, `x IS NULL`.
  std::string to_string() const;
};

/// A conjunction: a row matches when it satisfies every predicate.
using Predicates = std::vector<ColumnPredicate>;

/// False when a partition whose directory values are `values` certainly holds no matching row
/// (a predicate on a partition key fails for its value; `schema` gives the keys' types).
bool partition_may_match(const PartitionValues& values, const arrow::Schema& schema,
                         const Predicates& predicates);

/// The row groups of a Parquet file whose statistics do not rule out a match. `file_schema` is
/// the file's Arrow schema (names -> leaf columns and logical types).
std::vector<int> row_groups_may_match(const parquet::FileMetaData& metadata,
                                      const arrow::Schema& file_schema,
                                      const Predicates& predicates);

/// Row groups in a file's footer.
int64_t row_group_count(const parquet::FileMetaData& metadata);

}  // namespace roadpulse::lake
