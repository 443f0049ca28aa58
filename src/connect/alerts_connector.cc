// `alerts`: each row is an alert (src/realtime/alerts.h). Options:
//   'alert.rule'          rule name (default: the table's name)
//   'alert.title'         template over the row's columns, e.g. 'Severity {Severity} in {City}'
//   'alert.body'          template (default: every column as "name: value" lines)
//   'alert.dedup-key'     template, or a comma-separated column list (default: the ID column if
//                         the table has one, else every column)
//   'alert.severity'      template or literal (default: the Severity column if any)
//   'alert.config'        routing TOML (default: <data-dir>/alerts.toml)
//   'alert.drain-timeout' how long a finished job waits for deliveries (default 30 s); alerts
//                         still pending stay in the durable outbox for the next process
// Alerts are appended to the durable outbox as each batch is written (one durable append per
// batch), so a row the job has processed is never lost; dispatch runs in the background while
// the job goes on.

#include <arrow/array.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connect/connectors.h"
#include "exec/display.h"
#include "realtime/hub.h"

namespace roadpulse::connect {

namespace {

// A template: literal text and column references ({Column}); "{{" and "}}" are braces.
struct Template {
  std::vector<std::pair<std::string, int>> parts;  // (literal, -1) or ("", column)

  static arrow::Result<Template> parse(const std::string& option, const std::string& text,
                                       const std::vector<std::string>& columns) {
    Template t;
    std::string literal;
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
        literal += c;
        ++i;
        continue;
      }
      if (c != '{') {
        literal += c;
        continue;
      }
      const size_t close = text.find('}', i);
      if (close == std::string::npos) {
        return arrow::Status::Invalid("alerts sink: '", option, "': unclosed '{' at offset ", i);
      }
      const std::string name = text.substr(i + 1, close - i - 1);
      int index = -1;
      for (size_t k = 0; k < columns.size(); ++k) {
        if (columns[k] == name) index = static_cast<int>(k);
      }
      if (index < 0) {
        return arrow::Status::Invalid("alerts sink: '", option, "' refers to {", name,
                                      "}, which is not a column (columns: ",
                                      fmt::format("{}", fmt::join(columns, ", ")), ")");
      }
      if (!literal.empty()) t.parts.emplace_back(std::move(literal), -1);
      literal.clear();
      t.parts.emplace_back("", index);
      i = close;
    }
    if (!literal.empty()) t.parts.emplace_back(std::move(literal), -1);
    return t;
  }

  std::string render(const std::vector<std::string>& values) const {
    std::string out;
    for (const auto& [literal, column] : parts) out += column < 0 ? literal : values[column];
    return out;
  }
};

class AlertsSink final : public exec::Sink {
 public:
  AlertsSink(std::shared_ptr<realtime::Hub> hub, realtime::AlertOutbox* outbox, std::string rule,
             Template title, Template body, Template dedup, Template severity,
             std::vector<std::string> columns, int64_t drain_timeout_ms)
      : hub_(std::move(hub)),
        outbox_(outbox),
        rule_(std::move(rule)),
        title_(std::move(title)),
        body_(std::move(body)),
        dedup_(std::move(dedup)),
        severity_(std::move(severity)),
        columns_(std::move(columns)),
        drain_timeout_ms_(drain_timeout_ms) {}
  ~AlertsSink() override { release(); }

  std::string name() const override { return "alerts(" + rule_ + ")"; }

  arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    std::vector<std::string> values(columns_.size());
    std::vector<realtime::Alert> alerts;
    alerts.reserve(static_cast<size_t>(batch->num_rows()));
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      for (size_t c = 0; c < columns_.size(); ++c) {
        values[c] = exec::display_value(*batch->column(static_cast<int>(c)), r, "");
      }
      realtime::Alert alert;
      alert.rule = rule_;
      alert.title = title_.render(values);
      alert.body = body_.render(values);
      alert.dedup_key = dedup_.render(values);
      alert.severity = severity_.render(values);
      for (size_t c = 0; c < columns_.size(); ++c)
        alert.attributes.emplace_back(columns_[c], values[c]);
      alerts.push_back(std::move(alert));
    }
    // One durable append for the batch; duplicates are counted by the outbox.
    ARROW_RETURN_NOT_OK(outbox_->enqueue_batch(std::move(alerts)).status());
    written_ += batch->num_rows();
    return arrow::Status::OK();
  }

  arrow::Status close(bool end_of_data) override {
    if (end_of_data && outbox_ && !outbox_->wait_idle(drain_timeout_ms_)) {
      spdlog::warn(
          "alerts sink '{}': {} deliveries still pending after {} ms; they stay in the outbox and "
          "are delivered by the next process using this data dir",
          rule_, outbox_->counters().pending, drain_timeout_ms_);
    }
    release();
    return arrow::Status::OK();
  }
  int64_t rows_written() const override { return written_; }

 private:
  void release() {
    if (outbox_) {
      outbox_ = nullptr;
      hub_->release_alerts();
    }
  }

  std::shared_ptr<realtime::Hub> hub_;
  realtime::AlertOutbox* outbox_;
  std::string rule_;
  Template title_, body_, dedup_, severity_;
  std::vector<std::string> columns_;
  int64_t drain_timeout_ms_;
  int64_t written_ = 0;
};

}  // namespace

ConnectorEntry alerts_connector() {
  ConnectorEntry entry;
  entry.name = "alerts";
  entry.make_sink = [](const exec::SinkSpec& spec,
                       ConnectContext& context) -> arrow::Result<std::unique_ptr<exec::Sink>> {
    OptionReader reader("alerts", spec.options);
    std::vector<std::string> columns;
    for (const auto& f : spec.schema->fields()) columns.push_back(f->name());
    auto has = [&](const std::string& name) {
      return std::find(columns.begin(), columns.end(), name) != columns.end();
    };
    const std::string rule = reader.get_or("alert.rule", spec.table ? spec.table->name : "alert");
    std::string all_lines, all_keys;
    for (const auto& c : columns) {
      all_lines += (all_lines.empty() ? "" : "\n") + c + ": {" + c + "}";
      all_keys += (all_keys.empty() ? "{" : "|{") + c + "}";
    }
    const std::string title_text = reader.get_or("alert.title", rule);
    const std::string body_text = reader.get_or("alert.body", all_lines);
    std::string dedup_text = reader.get_or("alert.dedup-key", has("ID") ? "{ID}" : all_keys);
    if (dedup_text.find('{') == std::string::npos) {
      // A column list: 'ID' or 'County,window_end'.
      std::string t;
      size_t pos = 0;
      while (pos <= dedup_text.size()) {
        size_t comma = dedup_text.find(',', pos);
        if (comma == std::string::npos) comma = dedup_text.size();
        std::string name = dedup_text.substr(pos, comma - pos);
        if (!name.empty()) t += (t.empty() ? "{" : "|{") + name + "}";
        pos = comma + 1;
      }
      dedup_text = t;
    }
    const std::string severity_text =
        reader.get_or("alert.severity", has("Severity") ? "{Severity}" : "");
    const std::string config = reader.get_or("alert.config", "");
    ARROW_ASSIGN_OR_RAISE(int64_t drain_ms,
                          parse_duration_ms(reader.get_or("alert.drain-timeout", "30s")));
    reader.get("sink.parallelism");
    ARROW_RETURN_NOT_OK(reader.check_unknown());

    ARROW_ASSIGN_OR_RAISE(auto title, Template::parse("alert.title", title_text, columns));
    ARROW_ASSIGN_OR_RAISE(auto body, Template::parse("alert.body", body_text, columns));
    ARROW_ASSIGN_OR_RAISE(auto dedup, Template::parse("alert.dedup-key", dedup_text, columns));
    ARROW_ASSIGN_OR_RAISE(auto severity, Template::parse("alert.severity", severity_text, columns));
    ARROW_ASSIGN_OR_RAISE(auto log, context.log());
    auto hub = realtime::Hub::for_data_dir(context.options().data_dir);
    ARROW_ASSIGN_OR_RAISE(realtime::AlertOutbox * outbox, hub->acquire_alerts(log, config));
    return std::make_unique<AlertsSink>(std::move(hub), outbox, rule, std::move(title),
                                        std::move(body), std::move(dedup), std::move(severity),
                                        std::move(columns), drain_ms);
  };
  return entry;
}

}  // namespace roadpulse::connect
