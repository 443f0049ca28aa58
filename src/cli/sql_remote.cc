#include "cli/sql_remote.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
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

StreamingResultPrinter::StreamingResultPrinter(std::vector<std::string> columns, bool refresh)
    : columns_(std::move(columns)), refresh_(refresh) {}

void StreamingResultPrinter::add(std::string_view op, std::vector<std::string> values) {
  ++changes_;
  if (!refresh_) {
    std::string line(op);
    line += "[";
    for (size_t c = 0; c < values.size(); ++c) {
      if (c) line += ", ";
      line += values[c];
    }
    std::cout << line << "]\n";
    std::cout.flush();
    return;
  }
  dirty_ = true;
  if (op == "-U" || op == "-D") {
    // Retract the newest equal row (Flink's materialized result mode).
    for (auto it = rows_.rbegin(); it != rows_.rend(); ++it) {
      if (*it == values) {
        rows_.erase(std::next(it).base());
        break;
      }
    }
    return;
  }
  rows_.push_back(std::move(values));
}

void StreamingResultPrinter::flush(bool force) {
  if (!refresh_ || !dirty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - drawn_ < std::chrono::milliseconds(100)) return;
  drawn_ = now;
  dirty_ = false;
  // The newest rows that fit the terminal, under the header, the box and a status line.
  size_t fit = 20;
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 8) fit = size.ws_row - 7;
  const size_t first = rows_.size() > fit ? rows_.size() - fit : 0;
  arrow::FieldVector fields;
  std::vector<arrow::StringBuilder> builders(columns_.size());
  for (const auto& name : columns_) fields.push_back(arrow::field(name, arrow::utf8()));
  for (size_t r = first; r < rows_.size(); ++r) {
    for (size_t c = 0; c < builders.size(); ++c) {
      (void)builders[c].Append(c < rows_[r].size() ? rows_[r][c] : "");
    }
  }
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  for (auto& b : builders) arrays.push_back(b.Finish().ValueOrDie());
  auto schema = arrow::schema(fields);
  std::string screen = "\x1b[H\x1b[2J";  // home, clear
  screen += exec::format_table(
      schema, {arrow::RecordBatch::Make(schema, int64_t(rows_.size() - first), arrays)});
  screen +=
      fmt::format("[INFO] {} rows in the result{}, {} changes received; Ctrl-C stops.\n",
                  rows_.size(), first ? fmt::format(" (newest {} shown)", fit) : "", changes_);
  std::cout << screen;
  std::cout.flush();
}

namespace {

std::atomic<bool> g_remote_interrupted{false};
void on_remote_signal(int) { g_remote_interrupted.store(true); }

// One result of the gateway (a statement's): its rows, its job, its message.
void print_result(const Document& result, const std::string& format, const std::string& base) {
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

// A streamed answer (docs/api.md#streamed-select), one NDJSON line at a time.
class StreamedAnswer {
 public:
  StreamedAnswer(std::string format, std::string base)
      : format_(std::move(format)), base_(std::move(base)) {}

  arrow::Status line(std::string_view text) {
    if (text.empty()) return arrow::Status::OK();
    ARROW_ASSIGN_OR_RAISE(auto doc, server::decode_json(text));
    const Document* type = doc.find("type");
    const std::string kind = type ? type->as_string() : "";
    if (kind == "row") {
      if (!printer_) return arrow::Status::IOError(base_, "/api/sql: a row before the header");
      const Document* op = doc.find("op");
      const Document* row = doc.find("row");
      std::vector<std::string> values;
      if (row) {
        for (const auto& v : row->items()) values.push_back(v.is_null() ? "null" : cell_text(v));
      }
      printer_->add(op ? op->as_string() : "+I", std::move(values));
    } else if (kind == "header") {
      std::vector<std::string> names;
      if (const Document* columns = doc.find("columns")) {
        for (const auto& c : columns->items()) {
          const Document* name = c.find("name");
          names.push_back(name ? name->as_string() : "?");
        }
      }
      const bool refresh = format_ == "table" && isatty(STDOUT_FILENO);
      printer_ = std::make_unique<StreamingResultPrinter>(std::move(names), refresh);
      const Document* job = doc.find("job_id");
      std::cerr << fmt::format(
          "[INFO] Unbounded query running as {} on {}: rows print as they arrive; Ctrl-C stops "
          "it.\n",
          job ? job->as_string() : "a job", base_);
    } else if (kind == "end") {
      ended_ = true;
      if (printer_) printer_->flush(true);
      const Document* reason = doc.find("reason");
      const Document* rows = doc.find("rows");
      const Document* error = doc.find("error");
      if (error && !error->is_null()) return arrow::Status::Invalid(error->as_string());
      std::cerr << fmt::format("[INFO] Query ended ({}) after {} rows.\n",
                               reason ? reason->as_string() : "?", rows ? rows->as_int() : 0);
    } else if (kind == "result") {
      print_result(doc, format_, base_);
    }
    return arrow::Status::OK();
  }

  // Whole lines of what arrived; the rest waits for the next chunk.
  arrow::Status feed(std::string_view data) {
    pending_.append(data);
    size_t start = 0;
    for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
      ARROW_RETURN_NOT_OK(line(std::string_view(pending_).substr(start, nl - start)));
    }
    pending_.erase(0, start);
    if (printer_) printer_->flush(false);
    return arrow::Status::OK();
  }

  void flush() {
    if (printer_) printer_->flush(true);
  }
  bool ended() const { return ended_; }

 private:
  std::string format_;
  std::string base_;
  std::string pending_;
  std::unique_ptr<StreamingResultPrinter> printer_;
  bool ended_ = false;
};

}  // namespace

arrow::Result<bool> run_remote_sql(const std::string& server, const std::string& script,
                                   const std::string& session, const std::string& format) {
  const std::string base = normalize_server_url(server);
  std::string request = "{\"sql\":";
  append_json_string(script, request);
  request += ",\"session\":";
  append_json_string(session, request);
  request += "}";
  // Ctrl-C ends a streamed answer: closing the connection makes the server stop the query.
  g_remote_interrupted = false;
  auto previous_int = std::signal(SIGINT, on_remote_signal);
  auto previous_term = std::signal(SIGTERM, on_remote_signal);
  std::string whole;
  bool streamed = false;
  StreamedAnswer answer(format, base);
  arrow::Status stream_status;
  auto status = http_stream(
      "POST", base + "/api/sql", request, "application/json",
      [&](long, std::string_view type, std::string_view data) {
        if (type.find("ndjson") == std::string_view::npos) {
          whole.append(data);
          return true;
        }
        streamed = true;
        stream_status = answer.feed(data);
        return stream_status.ok();
      },
      &g_remote_interrupted);
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  ARROW_RETURN_NOT_OK(status);
  ARROW_RETURN_NOT_OK(stream_status);
  if (streamed) {
    answer.flush();
    if (g_remote_interrupted.load()) {
      std::cerr << "[INFO] Interrupted: the server stops the query.\n";
      return true;
    }
    if (!answer.ended()) {
      return arrow::Status::IOError(base,
                                    "/api/sql: the streamed answer ended without its end line");
    }
    return false;
  }
  auto doc = server::decode_json(whole);
  if (!doc.ok()) {
    return arrow::Status::IOError(base, "/api/sql answered ", *status,
                                  " with no JSON: ", whole.substr(0, 200));
  }
  if (const Document* error = doc->find("error")) {
    return arrow::Status::Invalid(error->as_string());
  }
  const Document* results = doc->find("results");
  if (!results) return arrow::Status::IOError(base, "/api/sql: no results in the answer");
  for (const auto& result : results->items()) print_result(result, format, base);
  return false;
}

}  // namespace roadpulse::cli
