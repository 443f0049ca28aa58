#pragma once
// Flink's `json` format on Arrow: a schema-driven decoder (JSON records -> one RecordBatch per
// chunk, simdjson on-demand) and an encoder (RecordBatch rows -> JSON objects).
//
// Decoding follows Flink's JsonToRowDataConverters: field names match exactly (case-sensitive),
// a missing field or JSON null is NULL, strings are coerced to the column type ("3" -> BIGINT 3,
// "False" -> BOOLEAN false, ISO-8601 or SQL timestamps), numbers and booleans read into VARCHAR
// columns keep their JSON text, nested objects/arrays read into VARCHAR keep their JSON text.
// Deviation, on purpose: an empty (blank) string read into a non-string column is NULL (Flink would
// fail the record); the reference simulator sends "" for every value missing from the CSV.
// A record that cannot be decoded is not in the batch; it is reported with its index and a reason
// naming the field, so the caller can route it to a dead-letter stream.

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/type.h>

namespace roadpulse::exec {

enum class TimestampStandard { kIso8601, kSql };

struct JsonFormatOptions {
  /// json.ignore-parse-errors: drop undecodable records silently instead of reporting them.
  bool ignore_parse_errors = false;
  /// json.fail-on-missing-field: a missing field makes the record undecodable.
  bool fail_on_missing_field = false;
  /// json.timestamp-format.standard: how TIMESTAMP values are written ('T' or ' ').
  TimestampStandard timestamp_standard = TimestampStandard::kIso8601;
  /// json.encode.decimal-as-plain-number and similar are not needed: numbers are written plainly.
  /// Not a table option: false decodes every record with simdjson on-demand alone, skipping the
  /// flat-object fast path (tests compare the two).
  bool structural_fast_path = true;
};

/// Reads the `json.*` options of a table's WITH clause ("json.ignore-parse-errors" = "true", ...).
/// Unknown json.* keys are an error naming the key.
arrow::Result<JsonFormatOptions> json_options_from(
    const std::map<std::string, std::string>& with_options);

struct RecordError {
  int64_t index = 0;  // position of the record in the decoded span
  std::string reason;
};

struct DecodedBatch {
  std::shared_ptr<arrow::RecordBatch> batch;  // rows of the records that decoded, in order
  std::vector<RecordError> errors;            // empty when ignore_parse_errors
};

class JsonDecoder {
 public:
  /// `schema` is the table's full schema; `projection` lists the indices of the fields to
  /// materialize (the output batch has exactly these columns, in this order). Supported column
  /// types: utf8, large_utf8, bool, int8..int64, float32/64, timestamp (any unit), date32,
  /// decimal128.
  static arrow::Result<std::unique_ptr<JsonDecoder>> make(std::shared_ptr<arrow::Schema> schema,
                                                          std::vector<int> projection,
                                                          JsonFormatOptions options);
  virtual ~JsonDecoder() = default;

  /// Output schema: the projected fields.
  virtual const std::shared_ptr<arrow::Schema>& output_schema() const = 0;
  /// Decodes each element of `records` as one JSON object (whitespace and newlines allowed).
  virtual arrow::Result<DecodedBatch> decode(std::span<const std::string_view> records) = 0;
};

/// Splits a buffer holding concatenated JSON objects (NDJSON or indented multi-line objects) into
/// one view per top-level object. `first_line` receives each object's 1-based starting line.
/// Fails, naming the line, on text outside an object or an object left open at the end.
arrow::Status split_json_objects(std::string_view buffer, std::vector<std::string_view>* objects,
                                 std::vector<int64_t>* first_line);

/// Where a bounded split stopped: bytes of the buffer consumed (the whitespace after the last
/// object included, so `consumed == buffer.size()` means nothing is left) and the line there.
struct JsonSplit {
  size_t consumed = 0;
  int64_t line = 1;
};

/// split_json_objects() for up to `max_objects` objects of a buffer whose first line is
/// `line`: the same objects, lines and errors, a batch at a time.
arrow::Result<JsonSplit> split_json_objects(std::string_view buffer, int64_t line,
                                            size_t max_objects,
                                            std::vector<std::string_view>* objects,
                                            std::vector<int64_t>* first_line);

/// NDJSON framing, the fast path of split_json_objects(): each non-blank line is taken as one
/// object, found with memchr instead of a byte-by-byte walk. Returns false at the first non-blank
/// line that does not start with '{' and end with '}' (an indented object, text between objects):
/// the caller then splits with split_json_objects(). A line that only looks like one object (two
/// objects on one line, a broken string) is not detected here; it fails to decode, and the caller
/// re-splits that batch with split_json_objects() to get the same records and errors.
bool split_json_lines(std::string_view buffer, int64_t line, size_t max_objects,
                      std::vector<std::string_view>* objects, std::vector<int64_t>* first_line,
                      JsonSplit* split);

class JsonEncoder {
 public:
  static arrow::Result<std::unique_ptr<JsonEncoder>> make(std::shared_ptr<arrow::Schema> schema,
                                                          JsonFormatOptions options);
  virtual ~JsonEncoder() = default;
  /// Appends row `row` of `batch` (whose schema equals the encoder's) as one JSON object.
  virtual void encode_row(const arrow::RecordBatch& batch, int64_t row, std::string* out) = 0;
  /// Encodes every row; one string per row.
  arrow::Result<std::vector<std::string>> encode(const arrow::RecordBatch& batch);
};

}  // namespace roadpulse::exec
