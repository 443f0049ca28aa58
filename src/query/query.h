#pragma once
// roadpulse::query — batch SQL over the lake (the Athena role), shared by `roadpulse query` and
// `POST /api/query`. Every table of the lake catalog (<data-dir>/lake/_catalog) is registered
// in a fresh SQL session under its full name (`curated.us_accidents`, quoted with backticks)
// and under the name after the zone (`us_accidents`); the query runs on the streaming engine
// (exec) as a bounded job. Scans of Parquet lake tables go through a pruning source: the
// query's conjunctive single-column predicates (pushed into the scan by the optimizer) skip
// partition directories whose `k=v` values cannot match and row groups whose statistics
// cannot match. Results are capped (rows, bytes) and the job has a time limit.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include "lake/lake.h"
#include "server/http_server.h"
#include "sql/types.h"

namespace roadpulse::sql {
class Session;
}

namespace roadpulse::query {

struct QueryLimits {
  int64_t max_rows = 10'000;              // rows returned; beyond: truncated
  int64_t max_result_bytes = 64LL << 20;  // result batches held in memory; beyond: truncated
  int64_t timeout_ms = 30'000;  // the job is stopped and the query fails after this (0: never)
};

struct ScanPruning {
  std::string table;                    // catalog name
  std::vector<std::string> predicates;  // what pruning used, e.g. `event_date = '2016-02-08'`
  int64_t partitions = 0, partitions_kept = 0;
  int64_t files = 0, files_kept = 0;
  int64_t row_groups = 0, row_groups_kept = 0;
  std::string to_string() const;
};

struct QueryOutput {
  sql::Schema schema;  // result columns: names and SQL types
  std::shared_ptr<arrow::Schema> arrow_schema;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  int64_t rows = 0;
  bool truncated = false;  // the row or byte cap cut the result
  int64_t elapsed_ms = 0;
  std::string plan;                  // EXPLAIN text: logical plan and operator chains
  std::vector<ScanPruning> pruning;  // one per Parquet lake scan
};

/// The 1-based line and column a SQL error message names ("line 3:15: ..."), if any.
std::optional<std::pair<int, int>> sql_error_position(const arrow::Status& status);

class LakeQueryEngine {
 public:
  /// The lake of `data_dir` (catalog in <data_dir>/lake/_catalog).
  static arrow::Result<std::unique_ptr<LakeQueryEngine>> make(std::string data_dir);
  ~LakeQueryEngine();

  /// Runs one SELECT, or EXPLAIN [PLAN FOR] SELECT (one STRING column `plan`: the logical
  /// plan, then what pruning skips, from directory names and Parquet footers). Invalid (with
  /// "line L:C") for SQL errors and other statements; Cancelled when the time limit stops it.
  arrow::Result<QueryOutput> run(std::string_view sql, const QueryLimits& limits);

 private:
  arrow::Result<QueryOutput> explain(sql::Session& session, std::string_view sql,
                                     const std::string& plan,
                                     const std::map<std::string, lake::TableEntry>& by_alias);
  explicit LakeQueryEngine(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  std::string data_dir_;
};

/// Result rendering shared by the CLI and the HTTP API.
std::string format_csv(const QueryOutput& output);         // header + rows, RFC 4180 quoting
std::string format_json_lines(const QueryOutput& output);  // one JSON object per row

struct QueryRoutesOptions {
  QueryLimits limits;  // per request; "limit" in the body can only lower max_rows
  int64_t max_body_bytes = 1 << 20;
  int max_concurrent = 4;  // more at once are answered 429
};

/// POST /api/query: {"sql": "...", "limit": N} ->
///   200 {"columns": [{"name", "type"}], "rows": [[...]], "truncated": bool, "elapsed_ms": N,
///        "pruning": [...]}
///   or text/csv (header + rows) when the request's Accept asks for text/csv;
///   400 {"error", "line", "column"} for SQL errors and bad requests; 408 when the time limit
///   stops the query; 429 when too many queries run; 500 for I/O errors.
/// Read-only: only SELECT statements run; the session sees the lake catalog's tables only.
class QueryRoutes {
 public:
  static arrow::Result<std::unique_ptr<QueryRoutes>> make(std::string data_dir,
                                                          QueryRoutesOptions options = {});
  /// A response for /api/query, nullopt for any other path.
  std::optional<server::HttpResponse> handle(server::HttpRequest& request);

 private:
  QueryRoutes(std::unique_ptr<LakeQueryEngine> engine, QueryRoutesOptions options)
      : engine_(std::move(engine)), options_(options) {}
  std::unique_ptr<LakeQueryEngine> engine_;
  QueryRoutesOptions options_;
  std::mutex mutex_;
  int running_ = 0;
};

}  // namespace roadpulse::query
