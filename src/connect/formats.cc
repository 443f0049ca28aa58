// Record formats of the connectors: Flink's `json` (exec's decoder/encoder), `csv` and `raw`.

#include <charconv>
#include <cmath>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <fmt/format.h>

#include "common/time.h"
#include "connect/connectors.h"
#include "exec/text_parse.h"

namespace roadpulse::connect {

namespace {

class JsonRecordDecoder final : public RecordDecoder {
 public:
  JsonRecordDecoder(std::unique_ptr<exec::JsonDecoder> decoder, bool ignore)
      : decoder_(std::move(decoder)), ignore_(ignore) {}
  arrow::Result<exec::DecodedBatch> decode(std::span<const std::string_view> records) override {
    return decoder_->decode(records);
  }
  bool ignore_parse_errors() const override { return ignore_; }

 private:
  std::unique_ptr<exec::JsonDecoder> decoder_;
  bool ignore_;
};

class JsonRecordEncoder final : public RecordEncoder {
 public:
  explicit JsonRecordEncoder(std::unique_ptr<exec::JsonEncoder> encoder)
      : encoder_(std::move(encoder)) {}
  void encode_row(const arrow::RecordBatch& batch, int64_t row, std::string* out) override {
    encoder_->encode_row(batch, row, out);
  }

 private:
  std::unique_ptr<exec::JsonEncoder> encoder_;
};

// Flink's `raw` format: the table has one STRING column and each record is its value, bytes as
// they are (no quoting, no framing). Exec's late-row side stream writes JSON text through it.
class RawRecordDecoder final : public RecordDecoder {
 public:
  explicit RawRecordDecoder(std::shared_ptr<arrow::Schema> schema) : schema_(std::move(schema)) {}
  arrow::Result<exec::DecodedBatch> decode(std::span<const std::string_view> records) override {
    arrow::StringBuilder builder;
    for (auto r : records) ARROW_RETURN_NOT_OK(builder.Append(r));
    ARROW_ASSIGN_OR_RAISE(auto array, builder.Finish());
    exec::DecodedBatch out;
    out.batch = arrow::RecordBatch::Make(schema_, int64_t(records.size()), {std::move(array)});
    return out;
  }
  bool ignore_parse_errors() const override { return false; }

 private:
  std::shared_ptr<arrow::Schema> schema_;
};

class RawRecordEncoder final : public RecordEncoder {
 public:
  void encode_row(const arrow::RecordBatch& batch, int64_t row, std::string* out) override {
    const auto& column = static_cast<const arrow::StringArray&>(*batch.column(0));
    if (column.IsValid(row)) out->append(column.GetView(row));
  }
};

arrow::Status check_raw_schema(const arrow::Schema& schema) {
  if (schema.num_fields() != 1 || schema.field(0)->type()->id() != arrow::Type::STRING) {
    return arrow::Status::Invalid(
        "format 'raw' needs exactly one physical column of type STRING, the table has ",
        schema.ToString(false));
  }
  return arrow::Status::OK();
}

struct CsvOptions {
  char delimiter = ',';
  int quote = '"';  // -1: quoting disabled
  bool allow_comments = false;
  bool ignore_parse_errors = false;
  bool ignore_first_line = false;
  std::optional<std::string> null_literal;
};

arrow::Result<char> single_char(const std::string& key, const std::string& value) {
  if (value == "\\t") return '\t';
  if (value.size() != 1) {
    return arrow::Status::Invalid("option '", key, "' must be a single character, got '", value,
                                  "'");
  }
  return value[0];
}

arrow::Result<CsvOptions> csv_options(OptionReader& reader) {
  CsvOptions o;
  if (auto v = reader.get("csv.field-delimiter")) {
    ARROW_ASSIGN_OR_RAISE(o.delimiter, single_char("csv.field-delimiter", *v));
  }
  if (auto v = reader.get("csv.quote-character")) {
    ARROW_ASSIGN_OR_RAISE(char q, single_char("csv.quote-character", *v));
    o.quote = static_cast<unsigned char>(q);
  }
  ARROW_ASSIGN_OR_RAISE(bool disable, reader.get_bool("csv.disable-quote-character", false));
  if (disable) o.quote = -1;
  ARROW_ASSIGN_OR_RAISE(o.allow_comments, reader.get_bool("csv.allow-comments", false));
  ARROW_ASSIGN_OR_RAISE(o.ignore_parse_errors, reader.get_bool("csv.ignore-parse-errors", false));
  ARROW_ASSIGN_OR_RAISE(o.ignore_first_line, reader.get_bool("csv.ignore-first-line", false));
  o.null_literal = reader.get("csv.null-literal");
  return o;
}

// Splits one CSV record into fields (RFC 4180 quoting; "" inside quotes is a quote).
bool split_csv_fields(std::string_view record, const CsvOptions& o,
                      std::vector<std::string>* fields, std::string* reason) {
  fields->clear();
  std::string field;
  size_t i = 0;
  while (true) {
    field.clear();
    if (o.quote >= 0 && i < record.size() && record[i] == char(o.quote)) {
      ++i;
      bool closed = false;
      while (i < record.size()) {
        if (record[i] == char(o.quote)) {
          if (i + 1 < record.size() && record[i + 1] == char(o.quote)) {
            field.push_back(char(o.quote));
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        field.push_back(record[i++]);
      }
      if (!closed) {
        *reason = "unterminated quoted field";
        return false;
      }
      if (i < record.size() && record[i] != o.delimiter) {
        *reason = fmt::format("unexpected '{}' after a quoted field", record[i]);
        return false;
      }
    } else {
      while (i < record.size() && record[i] != o.delimiter) field.push_back(record[i++]);
    }
    fields->push_back(field);
    if (i >= record.size()) break;
    ++i;  // the delimiter
  }
  return true;
}

class CsvRecordDecoder final : public RecordDecoder {
 public:
  CsvRecordDecoder(CsvOptions options, std::shared_ptr<arrow::Schema> schema,
                   std::vector<int> positions)
      : options_(std::move(options)),
        schema_(std::move(schema)),
        positions_(std::move(positions)) {}

  bool ignore_parse_errors() const override { return options_.ignore_parse_errors; }

  arrow::Result<exec::DecodedBatch> decode(std::span<const std::string_view> records) override {
    std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders;
    for (const auto& f : schema_->fields()) {
      ARROW_ASSIGN_OR_RAISE(auto b, arrow::MakeBuilder(f->type()));
      ARROW_RETURN_NOT_OK(b->Reserve(int64_t(records.size())));
      builders.push_back(std::move(b));
    }
    exec::DecodedBatch result;
    int64_t rows = 0;
    std::vector<std::string> fields;
    std::vector<std::shared_ptr<arrow::Scalar>> values(size_t(schema_->num_fields()));
    for (size_t r = 0; r < records.size(); ++r) {
      if (options_.allow_comments && !records[r].empty() && records[r][0] == '#') continue;
      std::string reason;
      bool ok = split_csv_fields(records[r], options_, &fields, &reason);
      for (int c = 0; ok && c < schema_->num_fields(); ++c) {
        const int p = positions_[size_t(c)];
        const auto& type = schema_->field(c)->type();
        if (p >= int(fields.size())) {
          values[size_t(c)] = arrow::MakeNullScalar(type);  // missing trailing field
          continue;
        }
        auto v = convert(fields[size_t(p)], type);
        if (!v.ok()) {
          reason = fmt::format("field '{}' (column {}): {}", schema_->field(c)->name(), p + 1,
                               v.status().message());
          ok = false;
          break;
        }
        values[size_t(c)] = std::move(*v);
      }
      if (!ok) {
        if (!options_.ignore_parse_errors) result.errors.push_back({int64_t(r), reason});
        continue;
      }
      for (int c = 0; c < schema_->num_fields(); ++c) {
        ARROW_RETURN_NOT_OK(builders[size_t(c)]->AppendScalar(*values[size_t(c)]));
      }
      ++rows;
    }
    std::vector<std::shared_ptr<arrow::Array>> arrays;
    for (auto& b : builders) {
      ARROW_ASSIGN_OR_RAISE(auto a, b->Finish());
      arrays.push_back(std::move(a));
    }
    result.batch = arrow::RecordBatch::Make(schema_, rows, std::move(arrays));
    return result;
  }

 private:
  arrow::Result<std::shared_ptr<arrow::Scalar>> convert(
      const std::string& text, const std::shared_ptr<arrow::DataType>& type) {
    if (options_.null_literal && text == *options_.null_literal) {
      return arrow::MakeNullScalar(type);
    }
    const bool is_string = type->id() == arrow::Type::STRING;
    if (is_string) return std::make_shared<arrow::StringScalar>(text);
    if (exec::java_trim(text).empty()) return arrow::MakeNullScalar(type);
    auto bad = [&]() {
      return arrow::Status::Invalid("cannot read \"", text, "\" as ", type->ToString());
    };
    switch (type->id()) {
      case arrow::Type::BOOL:
        return std::make_shared<arrow::BooleanScalar>(exec::parse_flink_bool(text));
      case arrow::Type::INT8:
      case arrow::Type::INT16:
      case arrow::Type::INT32:
      case arrow::Type::INT64: {
        int64_t v = 0;
        if (!exec::parse_int64_text(text, &v)) return bad();
        auto s = std::make_shared<arrow::Int64Scalar>(v);
        auto cast = s->CastTo(type);
        if (!cast.ok()) return bad();
        return *cast;
      }
      case arrow::Type::FLOAT:
      case arrow::Type::DOUBLE: {
        double d = 0;
        if (!exec::parse_double_text(text, &d)) return bad();
        if (type->id() == arrow::Type::FLOAT) return std::make_shared<arrow::FloatScalar>(float(d));
        return std::make_shared<arrow::DoubleScalar>(d);
      }
      case arrow::Type::TIMESTAMP: {
        int64_t t = 0;
        const auto& ts = static_cast<const arrow::TimestampType&>(*type);
        if (!exec::parse_timestamp_text(text, ts.unit(), &t)) return bad();
        return std::make_shared<arrow::TimestampScalar>(t, type);
      }
      case arrow::Type::DATE32: {
        int32_t d = 0;
        if (!exec::parse_date_text(text, &d)) return bad();
        return std::make_shared<arrow::Date32Scalar>(d);
      }
      default: {
        auto s = std::make_shared<arrow::StringScalar>(std::string(exec::java_trim(text)));
        auto cast = s->CastTo(type);
        if (!cast.ok()) return bad();
        return *cast;
      }
    }
  }

  CsvOptions options_;
  std::shared_ptr<arrow::Schema> schema_;
  std::vector<int> positions_;
};

class CsvRecordEncoder final : public RecordEncoder {
 public:
  explicit CsvRecordEncoder(CsvOptions options) : options_(std::move(options)) {}

  void encode_row(const arrow::RecordBatch& batch, int64_t row, std::string* out) override {
    for (int c = 0; c < batch.num_columns(); ++c) {
      if (c) out->push_back(options_.delimiter);
      const auto& array = *batch.column(c);
      if (array.IsNull(row)) {
        if (options_.null_literal) out->append(*options_.null_literal);
        continue;
      }
      std::string text;
      switch (array.type_id()) {
        case arrow::Type::STRING:
          text = std::string(static_cast<const arrow::StringArray&>(array).GetView(row));
          break;
        case arrow::Type::BOOL:
          text = static_cast<const arrow::BooleanArray&>(array).Value(row) ? "true" : "false";
          break;
        case arrow::Type::TIMESTAMP: {
          const auto unit = static_cast<const arrow::TimestampType&>(*array.type()).unit();
          text = format_iso8601(
              exec::to_micros(static_cast<const arrow::TimestampArray&>(array).Value(row), unit));
          text[10] = ' ';
          break;
        }
        case arrow::Type::DATE32:
          text = format_iso8601(int64_t(static_cast<const arrow::Date32Array&>(array).Value(row)) *
                                86400LL * 1000000)
                     .substr(0, 10);
          break;
        case arrow::Type::DOUBLE:
        case arrow::Type::FLOAT: {
          const double v = array.type_id() == arrow::Type::DOUBLE
                               ? static_cast<const arrow::DoubleArray&>(array).Value(row)
                               : static_cast<const arrow::FloatArray&>(array).Value(row);
          char buf[32];
          auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
          text.assign(buf, ptr);
          break;
        }
        default: {
          auto scalar = array.GetScalar(row);
          text = scalar.ok() ? (*scalar)->ToString() : "";
        }
      }
      append_field(text, out);
    }
  }

 private:
  void append_field(const std::string& text, std::string* out) {
    const bool needs_quotes =
        options_.quote >= 0 &&
        (text.find(options_.delimiter) != std::string::npos ||
         text.find(char(options_.quote)) != std::string::npos ||
         text.find('\n') != std::string::npos || text.find('\r') != std::string::npos);
    if (!needs_quotes) {
      out->append(text);
      return;
    }
    const char q = char(options_.quote);
    out->push_back(q);
    for (char ch : text) {
      if (ch == q) out->push_back(q);
      out->push_back(ch);
    }
    out->push_back(q);
  }

  CsvOptions options_;
};

}  // namespace

arrow::Result<std::unique_ptr<RecordDecoder>> make_decoder(OptionReader& reader,
                                                           const exec::SourceSpec& spec) {
  ARROW_ASSIGN_OR_RAISE(std::string format, reader.require("format"));
  if (format == "json") {
    reader.allow_prefix("json.");
    ARROW_ASSIGN_OR_RAISE(auto options, exec::json_options_from(reader.all()));
    std::vector<int> projection;
    for (int i = 0; i < spec.read_schema->num_fields(); ++i) projection.push_back(i);
    ARROW_ASSIGN_OR_RAISE(
        auto decoder, exec::JsonDecoder::make(spec.read_schema, std::move(projection), options));
    return std::make_unique<JsonRecordDecoder>(std::move(decoder), options.ignore_parse_errors);
  }
  if (format == "csv") {
    ARROW_ASSIGN_OR_RAISE(auto options, csv_options(reader));
    // CSV maps fields by position among the table's physical columns.
    std::vector<int> physical = spec.table->physical_column_indices();
    std::vector<int> positions;
    for (int c : spec.read_columns) {
      auto it = std::find(physical.begin(), physical.end(), c);
      positions.push_back(int(it - physical.begin()));
    }
    return std::make_unique<CsvRecordDecoder>(std::move(options), spec.read_schema,
                                              std::move(positions));
  }
  if (format == "raw") {
    ARROW_RETURN_NOT_OK(check_raw_schema(*spec.table->physical_schema().to_arrow()));
    ARROW_RETURN_NOT_OK(check_raw_schema(*spec.read_schema));
    return std::make_unique<RawRecordDecoder>(spec.read_schema);
  }
  return arrow::Status::NotImplemented("format '", format, "' (supported: json, csv, raw)");
}

arrow::Result<std::unique_ptr<RecordEncoder>> make_encoder(
    OptionReader& reader, const std::shared_ptr<arrow::Schema>& schema) {
  ARROW_ASSIGN_OR_RAISE(std::string format, reader.require("format"));
  if (format == "json") {
    reader.allow_prefix("json.");
    ARROW_ASSIGN_OR_RAISE(auto options, exec::json_options_from(reader.all()));
    ARROW_ASSIGN_OR_RAISE(auto encoder, exec::JsonEncoder::make(schema, options));
    return std::make_unique<JsonRecordEncoder>(std::move(encoder));
  }
  if (format == "csv") {
    ARROW_ASSIGN_OR_RAISE(auto options, csv_options(reader));
    return std::make_unique<CsvRecordEncoder>(std::move(options));
  }
  if (format == "raw") {
    ARROW_RETURN_NOT_OK(check_raw_schema(*schema));
    return std::make_unique<RawRecordEncoder>();
  }
  return arrow::Status::NotImplemented("format '", format, "' (supported: json, csv, raw)");
}

arrow::Status split_records(std::string_view format, std::string_view buffer,
                            std::vector<std::string_view>* records, std::vector<int64_t>* lines) {
  if (format == "json") return exec::split_json_objects(buffer, records, lines);
  // CSV: records end at a newline outside quotes; raw: at every newline. Empty lines are skipped.
  const bool quoting = format != "raw";
  int64_t line = 1;
  size_t start = 0;
  int64_t start_line = 1;
  bool quoted = false;
  for (size_t i = 0; i <= buffer.size(); ++i) {
    const bool end = i == buffer.size();
    const char c = end ? '\n' : buffer[i];
    if (c == '"' && quoting) quoted = !quoted;
    if (c == '\n' && (!quoted || end)) {
      std::string_view record = buffer.substr(start, i - start);
      if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
      if (!record.empty()) {
        records->push_back(record);
        if (lines) lines->push_back(start_line);
      }
      start = i + 1;
      start_line = line + 1;
    }
    if (c == '\n' && !end) ++line;
  }
  return arrow::Status::OK();
}

}  // namespace roadpulse::connect
