#include "cli/sql_remote.h"

#include <iostream>

#include <arrow/builder.h>
#include <fmt/format.h>

#include "cli/http_client.h"
#include "common/json_text.h"
#include "exec/display.h"
#include "server/document.h"

namespace roadpulse::cli {

namespace {

using server::Document;

// A JSON value as the result table shows it.
std::string cell_text(const Document& value) {
  switch (value.kind()) {
    case Document::Kind::kString:
      return value.as_string();
    case Document::Kind::kInt:
      return std::to_string(value.as_int());
    case Document::Kind::kDouble: {
      // Keep "3.0" a decimal, as the engine rendered it, not "3".
      const double v = value.as_double();
      if (v == double(int64_t(v)) && v < 1e15 && v > -1e15) return fmt::format("{:.1f}", v);
      return fmt::format("{}", v);
    }
    case Document::Kind::kBool:
      return value.as_bool() ? "true" : "false";
    default:
      return "";
  }
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void print_rows(const Document& columns, const Document& rows, const std::string& format) {
  std::vector<std::string> names;
  for (const auto& c : columns.items()) {
    const Document* name = c.find("name");
    names.push_back(name ? name->as_string() : "?");
  }
  if (format == "json") {
    for (const auto& row : rows.items()) {
      std::string line = "{";
      for (size_t c = 0; c < names.size() && c < row.items().size(); ++c) {
        if (c) line += ",";
        append_json_string(names[c], line);
        line += ":" + server::encode_json(row.items()[c]);
      }
      std::cout << line << "}\n";
    }
    return;
  }
  if (format == "tsv" || format == "csv") {
    const bool csv = format == "csv";
    if (csv) {
      for (size_t c = 0; c < names.size(); ++c) std::cout << (c ? "," : "") << csv_field(names[c]);
      std::cout << "\n";
    }
    for (const auto& row : rows.items()) {
      std::string line;
      for (size_t c = 0; c < row.items().size(); ++c) {
        const Document& v = row.items()[c];
        if (c) line += csv ? "," : "\t";
        const std::string text = v.is_null() ? (csv ? "" : "NULL") : cell_text(v);
        line += csv ? csv_field(text) : text;
      }
      std::cout << line << "\n";
    }
    return;
  }
  arrow::FieldVector fields;
  std::vector<arrow::StringBuilder> builders(names.size());
  for (const auto& name : names) fields.push_back(arrow::field(name, arrow::utf8()));
  for (const auto& row : rows.items()) {
    for (size_t c = 0; c < builders.size(); ++c) {
      if (c >= row.items().size() || row.items()[c].is_null()) {
        (void)builders[c].AppendNull();
      } else {
        (void)builders[c].Append(cell_text(row.items()[c]));
      }
    }
  }
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  for (auto& b : builders) arrays.push_back(b.Finish().ValueOrDie());
  auto schema = arrow::schema(fields);
  std::cout << exec::format_table(
      schema, {arrow::RecordBatch::Make(schema, int64_t(rows.items().size()), arrays)});
}

}  // namespace

arrow::Status print_result_json(const std::string& columns_json, const std::string& rows_json,
                                const std::string& format) {
  ARROW_ASSIGN_OR_RAISE(auto columns, server::decode_json(columns_json));
  ARROW_ASSIGN_OR_RAISE(auto rows, server::decode_json(rows_json));
  print_rows(columns, rows, format);
  return arrow::Status::OK();
}

arrow::Status run_remote_sql(const std::string& server, const std::string& script,
                             const std::string& session, const std::string& format) {
  const std::string base = normalize_server_url(server);
  std::string request = "{\"sql\":";
  append_json_string(script, request);
  request += ",\"session\":";
  append_json_string(session, request);
  request += "}";
  ARROW_ASSIGN_OR_RAISE(auto reply, http_call("POST", base + "/api/sql", request));
  auto doc = server::decode_json(reply.body);
  if (!doc.ok()) {
    return arrow::Status::IOError(base, "/api/sql answered ", reply.status,
                                  " with no JSON: ", reply.body.substr(0, 200));
  }
  if (const Document* error = doc->find("error")) {
    return arrow::Status::Invalid(error->as_string());
  }
  const Document* results = doc->find("results");
  if (!results) return arrow::Status::IOError(base, "/api/sql: no results in the answer");
  for (const auto& result : results->items()) {
    const Document* columns = result.find("columns");
    const Document* rows = result.find("rows");
    if (columns && rows) print_rows(*columns, *rows, format);
    if (const Document* t = result.find("truncated"); t && t->as_bool()) {
      std::cerr << "[INFO] Result truncated (max_rows).\n";
    }
    if (const Document* job = result.find("job_id")) {
      std::cerr << fmt::format("[INFO] Submitted job {} to {} (roadpulse jobs list --server {}).\n",
                               job->as_string(), base, base);
    } else if (const Document* message = result.find("message");
               message && !message->as_string().empty()) {
      std::cerr << message->as_string() << "\n";
    }
  }
  return arrow::Status::OK();
}

}  // namespace roadpulse::cli
