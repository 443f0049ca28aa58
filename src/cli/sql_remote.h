#pragma once
// `roadpulse sql --server URL`: statements go to a running server's SQL gateway (POST /api/sql)
// instead of an embedded engine; INSERT jobs keep running there, query rows come back.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

namespace roadpulse::cli {

/// Sends `script` (with `session` as the gateway session) and prints the results: tables in
/// `format` (table, tsv, csv, json) on stdout, messages on stderr. A SELECT over a stream comes
/// back streamed (NDJSON) and prints as it arrives (StreamingResultPrinter) until the server ends
/// it or Ctrl-C; returns true when Ctrl-C stopped it.
arrow::Result<bool> run_remote_sql(const std::string& server, const std::string& script,
                                   const std::string& session, const std::string& format);

/// Rows of an unbounded query as they arrive, shown as Flink's SQL client shows them; the same
/// for a local query (`roadpulse sql`) and one streamed from a server (`--server`). In a terminal
/// (`refresh`): a table of the current result redrawn in place at most 10 times a second, with
/// changelog rows applied (+I/+U add a row, -U/-D take the matching one out). Otherwise one line
/// per row as it comes, "+I[1, Berlin]".
class StreamingResultPrinter {
 public:
  StreamingResultPrinter(std::vector<std::string> columns, bool refresh);
  /// `op` is "+I", "-U", "+U" or "-D"; `values` are display texts ("null" for NULL).
  void add(std::string_view op, std::vector<std::string> values);
  /// Redraws the table if rows changed (now when `force`, else if the last draw is 100 ms old).
  void flush(bool force);
  int64_t changes() const { return changes_; }

 private:
  std::vector<std::string> columns_;
  bool refresh_;
  std::vector<std::vector<std::string>> rows_;  // the current result (refresh mode)
  int64_t changes_ = 0;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point drawn_{};
};

/// Prints result rows given as the gateway's JSON ("columns" and "rows" arrays) in `format`.
arrow::Status print_result_json(const std::string& columns_json, const std::string& rows_json,
                                const std::string& format);

}  // namespace roadpulse::cli
