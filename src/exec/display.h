#pragma once
// How values and result tables look to people: Flink's rendering (RowData.toString for the print
// connector, the SQL client's "tableau" result mode for the shell).

#include <memory>
#include <string>
#include <vector>

#include <arrow/array.h>
#include <arrow/record_batch.h>

namespace roadpulse::exec {

/// One value as Flink prints it: strings raw, doubles as Java does ("3.0", "1.0E7"),
/// TIMESTAMP as LocalDateTime ("2016-02-08T05:46"), booleans "true"/"false", NULL as "null"
/// (or `null_text`).
std::string display_value(const arrow::Array& array, int64_t row,
                          const std::string& null_text = "null");

/// A boxed table with a header, right-aligned numbers and "N rows in set" (or "Empty set").
std::string format_table(const std::shared_ptr<arrow::Schema>& schema,
                         const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches);

}  // namespace roadpulse::exec
