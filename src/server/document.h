#pragma once
// A request or response body of the AWS JSON 1.1 / CBOR 1.1 protocols as a small tree, with the
// codecs between the two wire encodings and it. Handlers read and build Documents and never see
// the encoding: JSON carries blobs as base64 strings and timestamps as epoch seconds, CBOR carries
// blobs as byte strings and timestamps as tag 1 over epoch milliseconds (what the AWS Java SDKs,
// KPL/KCL and Flink's connector send and expect). Decoders bound nesting depth and reject
// trailing bytes, so they are safe on untrusted input.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <arrow/result.h>

namespace roadpulse::server {

enum class WireFormat { kJson, kCbor };

class Document {
 public:
  enum class Kind : uint8_t { kNull, kBool, kInt, kDouble, kString, kBytes, kArray, kMap, kTime };

  Document() = default;
  static Document null() { return Document(); }
  static Document boolean(bool v);
  static Document integer(int64_t v);
  static Document real(double v);
  static Document string(std::string v);
  static Document bytes(std::string v);
  /// A point in time, milliseconds since the epoch.
  static Document time_ms(int64_t ms);
  static Document array();
  static Document map();

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return int_; }
  double as_double() const { return double_; }
  /// Text of a kString, raw bytes of a kBytes.
  const std::string& as_string() const { return text_; }
  std::string& mutable_string() { return text_; }
  int64_t as_time_ms() const { return int_; }
  const std::vector<Document>& items() const { return items_; }
  const std::vector<std::pair<std::string, Document>>& fields() const { return fields_; }

  /// Member of a map by key, or nullptr (also when this is not a map).
  const Document* find(std::string_view key) const;
  /// Appends to an array; returns the new element.
  Document& push(Document value);
  /// Adds a member to a map (no duplicate check: builders add each key once); returns *this.
  Document& set(std::string key, Document value);

  static const char* kind_name(Kind kind);

 private:
  Kind kind_ = Kind::kNull;
  int64_t int_ = 0;  // kBool, kInt, kTime
  double double_ = 0;
  std::string text_;  // kString, kBytes
  std::vector<Document> items_;
  std::vector<std::pair<std::string, Document>> fields_;
};

/// Nesting deeper than this is rejected (Kinesis requests nest 3 levels).
inline constexpr int kMaxDocumentDepth = 32;

/// Parses a JSON body (simdjson). Errors name the offending byte offset or construct.
arrow::Result<Document> decode_json(std::string_view body);
/// Parses a CBOR body (libcbor streaming decoder): definite and indefinite maps, arrays and
/// strings, tags 0/1 as times, half/single/double floats.
arrow::Result<Document> decode_cbor(std::string_view body);
arrow::Result<Document> decode(WireFormat format, std::string_view body);

std::string encode_json(const Document& doc);
std::string encode_cbor(const Document& doc);
std::string encode(WireFormat format, const Document& doc);

/// RFC 4648 base64 with padding.
std::string base64_encode(std::string_view bytes);
void base64_encode_append(std::string_view bytes, std::string& out);
/// Strict RFC 4648 decoding (padding required, no whitespace); Invalid on anything else.
arrow::Result<std::string> base64_decode(std::string_view text);

}  // namespace roadpulse::server
