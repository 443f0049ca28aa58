#include "exec/late_records.h"

#include <arrow/builder.h>

#include "common/json_text.h"
#include "common/time.h"

namespace roadpulse::exec {

std::optional<std::string> late_stream_name(const std::map<std::string, std::string>& config,
                                            const std::string& job) {
  auto it = config.find(std::string(kLateRecordsStreamKey));
  if (it == config.end() || it->second.empty() || it->second == "false" || it->second == "FALSE") {
    return std::nullopt;
  }
  if (it->second == "true" || it->second == "TRUE") return job + ".late";
  return it->second;
}

arrow::Result<std::unique_ptr<LateRecordStream>> LateRecordStream::make(
    std::string job, std::string stream, ConnectorFactory& factory,
    const std::map<std::string, std::string>& session) {
  std::unique_ptr<LateRecordStream> out(new LateRecordStream());
  out->job_ = std::move(job);
  out->stream_ = std::move(stream);
  auto table = std::make_shared<sql::CatalogTable>();
  table->name = out->stream_;
  sql::CatalogColumn column;
  column.name = "record";
  column.type = sql::SqlType::string(false);
  table->columns.push_back(std::move(column));
  table->options = {{"connector", "stream"}, {"stream", out->stream_}, {"format", "raw"}};
  SinkSpec spec;
  spec.table = table;
  spec.schema = table->physical_schema().to_arrow();
  spec.options = TableOptions(table->options.begin(), table->options.end());
  spec.session = session;
  auto sink = factory.make_sink(spec);
  if (!sink.ok()) {
    return sink.status().WithMessage("late-row stream '", out->stream_, "' (",
                                     kLateRecordsStreamKey, "): ", sink.status().message());
  }
  out->schema_ = spec.schema;
  out->sink_ = std::make_shared<SharedSink>(std::move(*sink), spec.schema, out->stream_, "stream");
  return out;
}

arrow::Status LateRecordStream::late_rows(const std::string& operator_name, const char* reason,
                                          int64_t watermark, const arrow::RecordBatch& batch,
                                          const std::vector<int64_t>& rows) {
  if (rows.empty()) return arrow::Status::OK();
  arrow::StringBuilder records;
  {
    std::lock_guard lock(mutex_);
    auto& encoder = encoders_[operator_name];
    if (!encoder) {
      ARROW_ASSIGN_OR_RAISE(encoder, JsonEncoder::make(batch.schema(), JsonFormatOptions{}));
    }
    // The fields that are the same for every row of the call.
    std::string head = R"({"job":)";
    append_json_string(job_, head);
    head += R"(,"operator":)";
    append_json_string(operator_name, head);
    head += R"(,"reason":)";
    append_json_string(reason, head);
    head += R"(,"watermark":)";
    if (watermark == Watermark::kMin || watermark == Watermark::kMax) {
      head += "null";
    } else {
      head += '"';
      append_iso8601(watermark, head);
      head += '"';
    }
    head += R"(,"row":)";
    std::string record;
    for (int64_t r : rows) {
      record = head;
      encoder->encode_row(batch, r, &record);
      record += '}';
      ARROW_RETURN_NOT_OK(records.Append(record));
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto array, records.Finish());
  const int64_t n = array->length();
  return sink_->write(arrow::RecordBatch::Make(schema_, n, {std::move(array)}));
}

}  // namespace roadpulse::exec
