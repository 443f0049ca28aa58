// POST /api/query (see query.h).

#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/json_text.h"
#include "query/query.h"
#include "server/document.h"
#include "server/sql_gateway.h"

namespace roadpulse::query {

namespace {

server::HttpResponse json_response(int status, std::string body) {
  return server::HttpResponse{status, "application/json", {}, std::move(body)};
}

server::HttpResponse error_response(int status, const std::string& message,
                                    std::optional<std::pair<int, int>> position = std::nullopt) {
  std::string body = "{\"error\": ";
  append_json_string(message, body);
  if (position) {
    body += ", \"line\": " + std::to_string(position->first) +
            ", \"column\": " + std::to_string(position->second);
  }
  return json_response(status, body + "}");
}

bool wants_csv(const server::HttpRequest& request) {
  return request.header("accept").find("text/csv") != std::string_view::npos;
}

}  // namespace

arrow::Result<std::unique_ptr<QueryRoutes>> QueryRoutes::make(std::string data_dir,
                                                              QueryRoutesOptions options) {
  ARROW_ASSIGN_OR_RAISE(auto engine, LakeQueryEngine::make(std::move(data_dir)));
  return std::unique_ptr<QueryRoutes>(new QueryRoutes(std::move(engine), options));
}

std::optional<server::HttpResponse> QueryRoutes::handle(server::HttpRequest& request) {
  if (request.path() != "/api/query") return std::nullopt;
  if (request.method != "POST") {
    auto response = error_response(405, "use POST /api/query with {\"sql\": \"SELECT ...\"}");
    response.headers.emplace_back("Allow", "POST");
    return response;
  }
  if (int64_t(request.body.size()) > options_.max_body_bytes) {
    return error_response(
        413, "request body over " + std::to_string(options_.max_body_bytes) + " bytes");
  }
  auto doc = server::decode_json(request.body);
  if (!doc.ok()) return error_response(400, "request body: " + doc.status().message());
  const server::Document* sql = doc->find("sql");
  if (!sql || sql->kind() != server::Document::Kind::kString) {
    return error_response(400, "request body needs a string member \"sql\"");
  }
  QueryLimits limits = options_.limits;
  if (const server::Document* limit = doc->find("limit")) {
    if (limit->kind() != server::Document::Kind::kInt || limit->as_int() < 0) {
      return error_response(400, "\"limit\" must be a non-negative integer");
    }
    limits.max_rows = std::min(limits.max_rows, limit->as_int());
  }
  {
    std::lock_guard lock(mutex_);
    if (running_ >= options_.max_concurrent) {
      return error_response(429, "too many queries running (limit " +
                                     std::to_string(options_.max_concurrent) + "); retry later");
    }
    ++running_;
  }
  auto output = engine_->run(sql->as_string(), limits);
  {
    std::lock_guard lock(mutex_);
    --running_;
  }
  if (!output.ok()) {
    const arrow::Status& st = output.status();
    if (st.IsCancelled()) return error_response(408, st.message());
    if (st.IsIOError() || st.IsUnknownError() || st.IsOutOfMemory()) {
      spdlog::error("POST /api/query: {}", st.ToString());
      return error_response(500, st.message());
    }
    // Parse, bind and planning errors: the client's SQL.
    return error_response(400, st.message(), sql_error_position(st));
  }
  if (wants_csv(request)) {
    server::HttpResponse response{200, "text/csv; charset=utf-8", {}, format_csv(*output)};
    response.headers.emplace_back("X-Roadpulse-Truncated", output->truncated ? "true" : "false");
    return response;
  }
  std::string body = "{\"columns\": " + server::result_columns_json(output->schema) +
                     ", \"rows\": " + server::result_rows_json(output->batches, output->rows) +
                     ", \"truncated\": " + (output->truncated ? "true" : "false") +
                     ", \"elapsed_ms\": " + std::to_string(output->elapsed_ms) + ", \"pruning\": [";
  for (size_t i = 0; i < output->pruning.size(); ++i) {
    const auto& p = output->pruning[i];
    if (i) body += ", ";
    body += "{\"table\": ";
    append_json_string(p.table, body);
    body += ", \"predicates\": [";
    for (size_t k = 0; k < p.predicates.size(); ++k) {
      if (k) body += ", ";
      append_json_string(p.predicates[k], body);
    }
    body += "], \"partitions\": " + std::to_string(p.partitions) +
            ", \"partitions_read\": " + std::to_string(p.partitions_kept) +
            ", \"files\": " + std::to_string(p.files) +
            ", \"files_read\": " + std::to_string(p.files_kept) +
            ", \"row_groups\": " + std::to_string(p.row_groups) +
            ", \"row_groups_read\": " + std::to_string(p.row_groups_kept) + "}";
  }
  return json_response(200, body + "]}");
}

}  // namespace roadpulse::query
