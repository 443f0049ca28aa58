#pragma once
// The raw stream's record: one JSON object per accident row. Field names are exactly the CSV
// header's; timestamps are ISO-8601 ("2016-02-08T05:46:00", fractional digits as written);
// numbers are JSON numbers with the CSV's text kept verbatim; flags are true/false; empty fields
// are null; `Txn_Timestamp` (time of ingest, ISO-8601 with milliseconds) is appended.
//
// JsonEventEncoder writes events straight from CSV field texts into a caller's buffer: no
// allocation per field, every value checked against its column's type first. JsonEventDecoder
// (simdjson on-demand) reads an event back into a typed Row; it also accepts the reference
// simulator's shape, where every value is a JSON string ("3", "False", "39.86") and documents are
// indented over several lines.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "common/time.h"
#include "record/schema.h"
#include "record/value.h"

namespace roadpulse::record {

inline constexpr std::string_view kTxnTimestampField = "Txn_Timestamp";

/// Appends `text` as a JSON string literal (with quotes). Control characters, '"' and '\' are
/// escaped; UTF-8 passes through. Returns false (appending nothing) if `text` is not valid UTF-8.
bool append_json_string(std::string_view text, std::string& out);

class JsonEventEncoder {
 public:
  explicit JsonEventEncoder(Schema schema);

  const Schema& schema() const { return schema_; }

  /// Appends one event (no trailing newline) for a CSV row whose fields follow the schema.
  /// `txn_timestamp` is the ISO-8601 ingest time to add (format_iso8601_millis), unless the schema
  /// has a Txn_Timestamp column of its own (re-played events keep theirs). On failure
  /// `out` is left as it was and the status names the field, its column and the offending text.
  arrow::Status append(std::span<const std::string_view> fields, std::string_view txn_timestamp,
                       std::string& out) const;

 private:
  Schema schema_;
  std::vector<std::string> prefixes_;  // `{"ID":`, `,"Severity":`, ...
  std::string txn_prefix_;             // `,"Txn_Timestamp":"`
  bool has_txn_column_ = false;        // the CSV has its own Txn_Timestamp: do not add one
};

struct DecodedEvent {
  Row row;  // in the decoder's schema order; columns absent from the event are null
  std::optional<EpochMicros> txn_timestamp;
};

class JsonEventDecoder {
 public:
  static arrow::Result<std::unique_ptr<JsonEventDecoder>> make(Schema schema);
  ~JsonEventDecoder();

  const Schema& schema() const { return schema_; }

  /// Decodes one JSON object. Fields not in the schema (other than Txn_Timestamp) are ignored.
  /// Fails with a message naming the field on malformed JSON or a value of the wrong type.
  arrow::Result<DecodedEvent> decode(std::string_view json);

 private:
  explicit JsonEventDecoder(Schema schema);
  struct Impl;
  Schema schema_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace roadpulse::record
