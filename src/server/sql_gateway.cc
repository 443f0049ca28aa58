#include "server/sql_gateway.h"

#include <atomic>
#include <chrono>
#include <mutex>

#include <arrow/array.h>
#include <arrow/type_traits.h>
#include <fmt/format.h>

#include "common/json_text.h"
#include "exec/aggregate_operators.h"
#include "exec/display.h"
#include "server/document.h"

namespace roadpulse::server {

namespace {

const char* statement_kind_name(sql::StatementKind kind) {
  switch (kind) {
    case sql::StatementKind::kCreateTable:
      return "CREATE_TABLE";
    case sql::StatementKind::kDropTable:
      return "DROP_TABLE";
    case sql::StatementKind::kCreateView:
      return "CREATE_VIEW";
    case sql::StatementKind::kDropView:
      return "DROP_VIEW";
    case sql::StatementKind::kSet:
      return "SET";
    case sql::StatementKind::kReset:
      return "RESET";
    case sql::StatementKind::kShowTables:
      return "SHOW_TABLES";
    case sql::StatementKind::kShowViews:
      return "SHOW_VIEWS";
    case sql::StatementKind::kDescribe:
      return "DESCRIBE";
    case sql::StatementKind::kExplain:
      return "EXPLAIN";
    case sql::StatementKind::kInsert:
      return "INSERT";
    case sql::StatementKind::kQuery:
      return "SELECT";
  }
  return "?";
}

HttpResponse json_response(int status, std::string body) {
  return HttpResponse{status, "application/json", {}, std::move(body)};
}

HttpResponse error_response(int status, std::string_view message) {
  std::string body = "{\"error\":";
  append_json_string(message, body);
  body += "}";
  return json_response(status, std::move(body));
}

bool is_number_type(const arrow::DataType& type) {
  return arrow::is_integer(type.id()) || arrow::is_floating(type.id()) ||
         type.id() == arrow::Type::DECIMAL128;
}

std::string strings_table_json(const sql::StatementResult& result) {
  std::string out = "\"columns\":[";
  for (size_t c = 0; c < result.column_names.size(); ++c) {
    if (c) out += ",";
    out += "{\"name\":";
    append_json_string(result.column_names[c], out);
    out += ",\"type\":\"STRING\"}";
  }
  out += "],\"rows\":[";
  for (size_t r = 0; r < result.rows.size(); ++r) {
    out += r ? ",[" : "[";
    for (size_t c = 0; c < result.rows[r].size(); ++c) {
      if (c) out += ",";
      append_json_string(result.rows[r][c], out);
    }
    out += "]";
  }
  return out + "]";
}

// `"lag_records":N,"lag_ms":N,"lag":[per source, per split]`; null totals while nothing is known
// (the job ended, or no source has a tip). Milliseconds are null where the source cannot tell.
std::string lag_json(const std::vector<exec::SourceLag>& lag) {
  auto ms = [](int64_t v) { return v < 0 ? std::string("null") : std::to_string(v); };
  int64_t records = 0, millis = -1;
  for (const auto& s : lag) {
    records += s.records();
    millis = std::max(millis, s.millis());
  }
  std::string out = lag.empty()
                        ? std::string(",\"lag_records\":null,\"lag_ms\":null")
                        : fmt::format(",\"lag_records\":{},\"lag_ms\":{}", records, ms(millis));
  out += ",\"lag\":[";
  for (size_t i = 0; i < lag.size(); ++i) {
    const auto& s = lag[i];
    out += i ? ",{\"table\":" : "{\"table\":";
    append_json_string(s.table, out);
    out += ",\"connector\":";
    append_json_string(s.connector, out);
    out += fmt::format(",\"records\":{},\"millis\":{},\"splits\":[", s.records(), ms(s.millis()));
    for (size_t k = 0; k < s.splits.size(); ++k) {
      out += k ? ",{\"split\":" : "{\"split\":";
      append_json_string(s.splits[k].split, out);
      out += fmt::format(",\"records\":{},\"millis\":{}}}", s.splits[k].records,
                         ms(s.splits[k].millis));
    }
    out += "]}";
  }
  return out + "]";
}

}  // namespace

std::string result_columns_json(const sql::Schema& schema) {
  std::string out = "[";
  for (size_t c = 0; c < schema.size(); ++c) {
    if (c) out += ",";
    out += "{\"name\":";
    append_json_string(schema[c].name, out);
    out += ",\"type\":";
    append_json_string(schema[c].type.to_string(), out);
    out += "}";
  }
  return out + "]";
}

namespace {

void append_row_json(const arrow::RecordBatch& batch, int64_t row, int columns, std::string& out) {
  out += "[";
  for (int c = 0; c < columns; ++c) {
    if (c) out += ",";
    const arrow::Array& column = *batch.column(c);
    if (column.IsNull(row)) {
      out += "null";
    } else if (column.type_id() == arrow::Type::BOOL || is_number_type(*column.type())) {
      std::string text = exec::display_value(column, row);
      // Java renders infinities and NaN as words, which are not JSON numbers.
      if (text == "NaN" || text == "Infinity" || text == "-Infinity") {
        append_json_string(text, out);
      } else {
        out += text;
      }
    } else {
      append_json_string(exec::display_value(column, row), out);
    }
  }
  out += "]";
}

}  // namespace

std::string result_rows_json(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
                             int64_t max_rows) {
  std::string out = "[";
  int64_t written = 0;
  for (const auto& batch : batches) {
    for (int64_t r = 0; r < batch->num_rows() && written < max_rows; ++r, ++written) {
      if (written) out += ",";
      append_row_json(*batch, r, batch->num_columns(), out);
    }
  }
  return out + "]";
}

// A SELECT over a stream whose rows go to the client as NDJSON lines while it runs
// (docs/api.md#streamed-select). Shared by the job's row callback, its end callback and the
// HTTP stream starter; `mutex` orders the header line before the first row.
struct SqlGateway::StreamedQuery {
  std::mutex mutex;
  std::shared_ptr<BodyWriter> writer;
  exec::Job* job = nullptr;
  int64_t limit = INT64_MAX;
  int64_t rows = 0;
  bool limit_reached = false;
  bool client_gone = false;
  std::atomic<bool> gone{false};  // for the job manager's abandoned() poll
  // Handed to the job manager when the stream starts.
  std::unique_ptr<sql::LogicalNode> query;
  std::unique_ptr<exec::Job> owned_job;
  bool streaming = false;  // set before the job runs
  // Not streamed (bounded, or "stream": false): rows collected for the JSON answer.
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  int64_t collect_limit = 0;
  int64_t collected = 0;
  bool truncated = false;

  arrow::Status collect(const std::shared_ptr<arrow::RecordBatch>& batch) {
    std::lock_guard lock(mutex);
    if (collected >= collect_limit) {
      truncated = true;
      if (job) job->stop();
      return arrow::Status::OK();
    }
    batches.push_back(batch);
    collected += batch->num_rows();
    if (collected > collect_limit) truncated = true;
    if (collected >= collect_limit && job) job->stop();
    return arrow::Status::OK();
  }

  // Job thread: the rows as lines, one write per batch.
  arrow::Status write(const arrow::RecordBatch& batch) {
    std::lock_guard lock(mutex);
    if (limit_reached || client_gone || !writer) return arrow::Status::OK();
    const bool changelog = exec::has_row_kind(batch);
    const int columns = batch.num_columns() - (changelog ? 1 : 0);
    const auto* kinds =
        changelog ? static_cast<const arrow::Int8Array*>(batch.column(columns).get()) : nullptr;
    std::string out;
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      if (rows >= limit) {
        limit_reached = true;
        break;
      }
      out += R"({"type":"row","op":")";
      out += kinds ? exec::row_kind_text(kinds->Value(r)) : "+I";
      out += R"(","row":)";
      append_row_json(batch, r, columns, out);
      out += "}\n";
      ++rows;
    }
    if (rows >= limit) limit_reached = true;
    if (!out.empty() && !writer->write(out)) {
      client_gone = true;
      gone = true;
    }
    if ((limit_reached || client_gone) && job) job->stop();
    return arrow::Status::OK();
  }

  // Job thread, after the job ended: the closing line, then the end of the body.
  void finish(const arrow::Status& status, bool cancel_requested, const exec::JobSummary& summary) {
    std::lock_guard lock(mutex);
    if (!writer) return;
    const char* reason = !status.ok()        ? "failed"
                         : limit_reached     ? "limit"
                         : client_gone       ? "client_gone"
                         : cancel_requested  ? "cancelled"
                         : summary.cancelled ? "timeout"
                                             : "finished";
    std::string line =
        fmt::format(R"({{"type":"end","reason":"{}","rows":{},"error":)", reason, rows);
    if (status.ok()) {
      line += "null";
    } else {
      append_json_string(status.message(), line);
    }
    writer->write(line + "}\n");
    writer->close();
  }
};

std::string SqlGateway::job_json(const JobInfo& job) {
  std::string out = "{\"id\":";
  append_json_string(job.id, out);
  out += ",\"name\":";
  append_json_string(job.name, out);
  out += fmt::format(",\"state\":\"{}\",\"started_ms\":{},\"ended_ms\":{}",
                     job_state_name(job.state), job.started_ms, job.ended_ms);
  int64_t in = 0, rejected = 0, out_rows = 0;
  out += ",\"sources\":[";
  for (size_t i = 0; i < job.summary.sources.size(); ++i) {
    const auto& s = job.summary.sources[i];
    in += s.records_read;
    rejected += s.records_rejected;
    out += i ? ",{\"table\":" : "{\"table\":";
    append_json_string(s.table, out);
    out += ",\"connector\":";
    append_json_string(s.connector, out);
    out += fmt::format(",\"records_read\":{},\"records_rejected\":{}}}", s.records_read,
                       s.records_rejected);
  }
  out += "],\"sinks\":[";
  for (size_t i = 0; i < job.summary.sinks.size(); ++i) {
    const auto& s = job.summary.sinks[i];
    out_rows += s.rows_written;
    out += i ? ",{\"table\":" : "{\"table\":";
    append_json_string(s.table, out);
    out += ",\"connector\":";
    append_json_string(s.connector, out);
    out += fmt::format(",\"rows_written\":{}}}", s.rows_written);
  }
  out += fmt::format("],\"records_in\":{},\"records_rejected\":{},\"records_out\":{}", in, rejected,
                     out_rows);
  out += fmt::format(",\"records_per_second\":{:.1f}", job.records_per_second);
  out += lag_json(job.lag);
  const auto& c = job.checkpoints;
  out += fmt::format(",\"checkpoints_completed\":{},\"last_checkpoint_id\":{}", c.completed,
                     c.last_id);
  if (c.last_completed_micros > 0) {
    const double age = double(std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count() -
                              c.last_completed_micros) /
                       1e6;
    out += fmt::format(
        ",\"last_checkpoint_age_seconds\":{:.3f},\"last_checkpoint_duration_ms\":{:.3f},"
        "\"last_checkpoint_bytes\":{}",
        std::max(0.0, age), double(c.last_duration_micros) / 1000.0, c.last_bytes);
  } else {
    out += ",\"last_checkpoint_age_seconds\":null";
  }
  out += fmt::format(",\"restored_from_checkpoint\":{},\"error\":", c.restored_id);
  if (job.error.empty()) {
    out += "null";
  } else {
    append_json_string(job.error, out);
  }
  out += ",\"sql\":";
  append_json_string(job.sql, out);
  return out + "}";
}

arrow::Result<SqlGateway::SessionEntry*> SqlGateway::session(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(name);
  if (it != sessions_.end()) return it->second.get();
  if (sessions_.size() >= 256) {
    return arrow::Status::CapacityError("too many SQL sessions (256); reuse one by name");
  }
  auto entry = std::make_unique<SessionEntry>();
  entry->session = std::make_unique<sql::Session>();
  if (!options_.seed_sql.empty()) {
    auto seeded = entry->session->execute_script(options_.seed_sql);
    if (!seeded.ok())
      return seeded.status().WithMessage("seeding the session: ", seeded.status().message());
  }
  auto* raw = entry.get();
  sessions_.emplace(name, std::move(entry));
  return raw;
}

std::optional<HttpResponse> SqlGateway::handle(HttpRequest& request) {
  const std::string_view path = request.path();
  if (path == "/api/sql") {
    if (request.method != "POST") return error_response(405, "POST a SQL script to /api/sql");
    return execute(request);
  }
  if (path == "/api/jobs" && request.method == "GET") {
    std::string body = "{\"jobs\":[";
    bool first = true;
    for (const auto& job : jobs_->list()) {
      if (!first) body += ",";
      first = false;
      body += job_json(job);
    }
    return json_response(200, body + "]}");
  }
  constexpr std::string_view kJobPrefix = "/api/jobs/";
  if (path.substr(0, kJobPrefix.size()) == kJobPrefix) {
    std::string id(path.substr(kJobPrefix.size()));
    bool cancel = request.method == "DELETE";
    if (id.size() > 7 && id.substr(id.size() - 7) == "/cancel") {
      if (request.method != "POST") return error_response(405, "POST to cancel a job");
      id.resize(id.size() - 7);
      cancel = true;
    }
    if (cancel) {
      auto st = jobs_->cancel(id);
      if (!st.ok()) return error_response(404, st.message());
      return json_response(202, "{\"cancelling\":true}");
    }
    if (request.method != "GET") return error_response(405, "GET, DELETE or POST .../cancel");
    auto job = jobs_->get(id);
    if (!job) return error_response(404, "no job '" + id + "'");
    return json_response(200, job_json(*job));
  }
  return std::nullopt;
}

HttpResponse SqlGateway::execute(HttpRequest& request) {
  std::string script = request.body;
  std::string session_name = "default";
  int64_t max_rows = options_.default_max_rows;
  int64_t timeout_ms = options_.default_stream_timeout_ms;
  // A streamed SELECT runs until the client leaves unless the request sets a limit or timeout.
  bool stream = true;
  std::optional<int64_t> stream_limit;
  std::optional<int64_t> stream_timeout_ms;
  const bool json_body = request.header("content-type").find("json") != std::string_view::npos;
  if (json_body) {
    auto doc = decode_json(request.body);
    if (!doc.ok()) return error_response(400, "request body: " + doc.status().message());
    const Document* sql = doc->find("sql");
    if (!sql || sql->kind() != Document::Kind::kString) {
      return error_response(400, "request body needs a string member \"sql\"");
    }
    script = sql->as_string();
    if (const Document* s = doc->find("session"); s && s->kind() == Document::Kind::kString) {
      session_name = s->as_string();
    }
    if (const Document* m = doc->find("max_rows"); m && m->kind() == Document::Kind::kInt) {
      max_rows = std::clamp<int64_t>(m->as_int(), 0, options_.max_rows_limit);
      stream_limit = std::max<int64_t>(m->as_int(), 0);
    }
    if (const Document* m = doc->find("limit"); m && m->kind() == Document::Kind::kInt) {
      stream_limit = std::max<int64_t>(m->as_int(), 0);
    }
    if (const Document* t = doc->find("timeout_ms"); t && t->kind() == Document::Kind::kInt) {
      timeout_ms = std::clamp<int64_t>(t->as_int(), 0, 600'000);
      stream_timeout_ms = std::max<int64_t>(t->as_int(), 0);
    }
    if (const Document* b = doc->find("stream"); b && b->kind() == Document::Kind::kBool) {
      stream = b->as_bool();
    }
  }
  if (auto header = request.header("x-roadpulse-session"); !header.empty()) {
    session_name = std::string(header);
  }
  auto entry_or = session(session_name);
  if (!entry_or.ok()) return error_response(500, entry_or.status().message());
  SessionEntry& entry = **entry_or;
  std::lock_guard lock(entry.mutex);

  auto results = entry.session->execute_script(script);
  if (!results.ok()) return error_response(400, results.status().message());

  // Each statement's result object; the JSON answer lists them, a streamed one sends them first.
  std::vector<std::string> objects;
  for (size_t index = 0; index < results->size(); ++index) {
    auto& result = (*results)[index];
    const bool last = index + 1 == results->size();
    objects.emplace_back();
    std::string& body = objects.back();
    body +=
        fmt::format("{{\"line\":{},\"kind\":\"{}\"", result.line, statement_kind_name(result.kind));
    exec::JobOptions job_options;
    job_options.config = options_.base_config;
    for (const auto& [k, v] : entry.session->config()) job_options.config[k] = v;
    if (result.kind == sql::StatementKind::kInsert) {
      auto name_it = job_options.config.find("pipeline.name");
      job_options.name = name_it != job_options.config.end()
                             ? name_it->second
                             : fmt::format("{}-insert-{}", session_name, ++entry.jobs);
      auto id = jobs_->submit(std::move(result.plan), job_options, result.sql);
      if (!id.ok()) {
        // Statements before this one took effect; say which one failed.
        return error_response(400, fmt::format("line {}: {}", result.line, id.status().message()));
      }
      body += ",\"job_id\":";
      append_json_string(*id, body);
      body += ",\"message\":\"Job submitted.\"}";
      continue;
    }
    if (result.kind == sql::StatementKind::kQuery) {
      job_options.name = fmt::format("{}-query-{}", session_name, ++entry.jobs);
      // The rows go to `rows`: collected for a JSON answer, or streamed; decided once the
      // query is planned (bounded or not), before it runs.
      auto rows = std::make_shared<StreamedQuery>();
      rows->collect_limit = max_rows;
      auto on_rows = [rows](const std::shared_ptr<arrow::RecordBatch>& batch) {
        return rows->streaming ? rows->write(*batch) : rows->collect(batch);
      };
      auto job = exec::Job::make_query(*result.query, *factory_, job_options, on_rows);
      if (!job.ok()) {
        return error_response(400, fmt::format("line {}: {}", result.line, job.status().message()));
      }
      rows->job = job->get();
      const bool bounded = (*job)->bounded();
      if (!bounded && stream) {
        if (!last) {
          return error_response(
              400, fmt::format("line {}: a SELECT over a stream streams its rows until stopped, so "
                               "it must be the last statement of a request (send the rest in "
                               "another one, or set \"stream\": false)",
                               result.line));
        }
        rows->streaming = true;
        rows->limit = stream_limit.value_or(INT64_MAX);
        rows->query = std::move(result.query);
        rows->owned_job = std::move(*job);
        std::string header = fmt::format(R"({{"type":"header","session":)");
        append_json_string(session_name, header);
        header += fmt::format(R"(,"line":{},"kind":"SELECT","columns":{})", result.line,
                              result_columns_json(rows->query->schema));
        objects.pop_back();  // this SELECT's own object: the header line stands for it
        return stream_query(std::move(objects), std::move(rows), std::move(header),
                            job_options.name, result.sql, stream_timeout_ms);
      }
      auto st = (*job)->run(bounded ? std::nullopt : std::optional<int64_t>(timeout_ms));
      if (!st.ok()) {
        return error_response(400, fmt::format("line {}: {}", result.line, st.message()));
      }
      body += ",\"columns\":" + result_columns_json(result.query->schema);
      body += ",\"rows\":" + result_rows_json(rows->batches, max_rows);
      body += fmt::format(",\"truncated\":{},\"bounded\":{}}}", rows->truncated ? "true" : "false",
                          bounded ? "true" : "false");
      continue;
    }
    if (!result.column_names.empty()) body += "," + strings_table_json(result);
    body += ",\"message\":";
    append_json_string(result.message, body);
    body += "}";
  }
  std::string body = "{\"session\":";
  append_json_string(session_name, body);
  body += ",\"results\":[";
  for (size_t i = 0; i < objects.size(); ++i) {
    if (i) body += ",";
    body += objects[i];
  }
  return json_response(200, body + "]}");
}

// NDJSON: the earlier statements' results, then (once the client reads) the header with the job
// id, the rows as they come and a closing line. The job runs in the job manager, so it is listed
// and cancellable, and it stops when the client goes away.
HttpResponse SqlGateway::stream_query(std::vector<std::string> results,
                                      std::shared_ptr<StreamedQuery> rows, std::string header,
                                      std::string name, std::string sql_text,
                                      std::optional<int64_t> timeout_ms) {
  std::string prefix;
  for (const auto& r : results) prefix += R"({"type":"result",)" + r.substr(1) + "\n";
  HttpResponse response{200, "application/x-ndjson", {{"Cache-Control", "no-cache"}}, ""};
  response.stream = [jobs = jobs_, rows, prefix = std::move(prefix), header = std::move(header),
                     name = std::move(name), sql_text = std::move(sql_text),
                     timeout_ms](std::shared_ptr<BodyWriter> writer) {
    // Holding the mutex until the header is out keeps the first rows behind it.
    std::lock_guard lock(rows->mutex);
    rows->writer = writer;
    if (!prefix.empty()) writer->write(prefix);
    auto id = jobs->submit_query(
        std::move(rows->query), std::move(rows->owned_job), name, sql_text, timeout_ms,
        [rows] { return rows->gone.load() || rows->writer->closed(); },
        [rows](const arrow::Status& st, bool cancelled, const exec::JobSummary& summary) {
          rows->finish(st, cancelled, summary);
        });
    if (!id.ok()) {
      std::string line = R"({"type":"end","reason":"failed","rows":0,"error":)";
      append_json_string(id.status().message(), line);
      writer->write(line + "}\n");
      writer->close();
      return;
    }
    std::string line = header + R"(,"job_id":)";
    append_json_string(*id, line);
    writer->write(line + "}\n");
  };
  return response;
}

}  // namespace roadpulse::server
