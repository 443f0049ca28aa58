#pragma once
// `roadpulse sql --server URL`: statements go to a running server's SQL gateway (POST /api/sql)
// instead of an embedded engine; INSERT jobs keep running there, query rows come back.

#include <string>

#include <arrow/status.h>

namespace roadpulse::cli {

/// Sends `script` (with `session` as the gateway session) and prints the results: tables in
/// `format` (table, tsv, csv, json) on stdout, messages on stderr.
arrow::Status run_remote_sql(const std::string& server, const std::string& script,
                             const std::string& session, const std::string& format);

/// Prints result rows given as the gateway's JSON ("columns" and "rows" arrays) in `format`.
arrow::Status print_result_json(const std::string& columns_json, const std::string& rows_json,
                                const std::string& format);

}  // namespace roadpulse::cli
