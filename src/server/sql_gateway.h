#pragma once
// The SQL gateway (Flink's SQL Gateway role): statements sent over HTTP run in a session on the
// server's engine, next to the pipeline. DDL and SET change the session; INSERT INTO / EXECUTE
// STATEMENT SET become jobs of the JobManager (they keep running after the request); SELECT runs
// to the end on bounded inputs and returns the rows; a SELECT over a stream streams its rows back
// (chunked NDJSON) as a job of the JobManager until the client leaves, a limit or timeout, or a
// cancel.
//
//   POST   /api/sql            body: SQL text, or JSON {"sql": "...", "session": "...",
//                              "max_rows": N, "limit": N, "timeout_ms": N, "stream": bool}
//   GET    /api/jobs           every job with state, counts, rate, error
//   GET    /api/jobs/<id>      one job (id or name)
//   POST   /api/jobs/<id>/cancel,  DELETE /api/jobs/<id>   stop a job (sinks commit)
//
// Sessions are named (default "default"); each new one starts with the seed statements (the
// pipeline's DDL), so the pipeline's tables can be queried by name.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "exec/connector.h"
#include "server/http_server.h"
#include "server/job_manager.h"
#include "sql/session.h"

namespace roadpulse::server {

struct SqlGatewayOptions {
  /// Statements every new session runs first (CREATE TABLE / SET of the pipeline).
  std::string seed_sql;
  /// Session configuration every job gets (checkpoint dir, streams backend, ...).
  std::map<std::string, std::string> base_config;
  int64_t default_max_rows = 1000;
  int64_t max_rows_limit = 100'000;
  /// How long a SELECT over a stream collects rows before it answers, with "stream": false.
  int64_t default_stream_timeout_ms = 5'000;
};

class SqlGateway {
 public:
  SqlGateway(JobManager* jobs, exec::ConnectorFactory* factory, SqlGatewayOptions options)
      : jobs_(jobs), factory_(factory), options_(std::move(options)) {}

  /// A response for the routes above, nullopt for any other path.
  std::optional<HttpResponse> handle(HttpRequest& request);

  /// The JSON document of a job (shared with /api/pipeline).
  static std::string job_json(const JobInfo& job);

 private:
  struct SessionEntry {
    std::mutex mutex;  // one request at a time per session
    std::unique_ptr<sql::Session> session;
    int jobs = 0;
  };
  struct StreamedQuery;
  arrow::Result<SessionEntry*> session(const std::string& name);
  HttpResponse execute(HttpRequest& request);
  HttpResponse stream_query(std::vector<std::string> results, std::shared_ptr<StreamedQuery> rows,
                            std::string header, std::string name, std::string sql_text,
                            std::optional<int64_t> timeout_ms);

  JobManager* jobs_;
  exec::ConnectorFactory* factory_;
  SqlGatewayOptions options_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<SessionEntry>> sessions_;
};

/// Result rows as JSON values: numbers and booleans as JSON, timestamps and dates as ISO-8601
/// text (Flink's rendering), NULL as null.
std::string result_rows_json(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
                             int64_t max_rows);
/// Result columns as [{"name": ..., "type": ...}].
std::string result_columns_json(const sql::Schema& schema);

}  // namespace roadpulse::server
