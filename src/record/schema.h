#pragma once
// The accident record: column names and types of the public "US Accidents" releases.
// A Schema is built from a CSV header (the header drives the mapping, not a fixed layout): known
// columns get their type, unknown extra columns are carried as strings, and columns a release
// does not have are simply absent (readers see them as null).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>

namespace roadpulse::record {

enum class FieldType : uint8_t { kString, kInt, kDouble, kBool, kTimestamp };

std::string_view field_type_name(FieldType type);

/// The releases whose headers we recognise. kCustom: any other header (still usable).
enum class SchemaVersion : uint8_t { kDec20, kDec21, kMarch23, kCustom };

std::string_view schema_version_name(SchemaVersion version);

struct Column {
  std::string name;
  FieldType type;
  bool operator==(const Column& other) const = default;
};

/// Type of a column of the public releases by its header name; kString for unknown names.
FieldType known_column_type(std::string_view name);

class Schema {
 public:
  /// Builds a schema from header names. Fails on an empty or duplicate name.
  static arrow::Result<Schema> from_header(const std::vector<std::string_view>& names);
  static arrow::Result<Schema> from_header(const std::vector<std::string>& names);

  /// The three public layouts: Dec20 (49 columns, with Source and TMC), Dec21 (47 columns, the
  /// seed's Flink DDL), March23 (46: adds Source, drops Number and Side).
  static const Schema& dec20();
  static const Schema& dec21();
  static const Schema& march23();

  bool operator==(const Schema& other) const = default;

  const std::vector<Column>& columns() const { return columns_; }
  size_t size() const { return columns_.size(); }
  const Column& column(size_t i) const { return columns_[i]; }
  SchemaVersion version() const { return version_; }

  /// Index of a column by exact name, or -1. Linear: schemas are small and lookups happen at setup.
  int index_of(std::string_view name) const;

  /// "ID,Severity,..." (no line terminator).
  std::string header_line() const;

 private:
  std::vector<Column> columns_;
  SchemaVersion version_ = SchemaVersion::kCustom;
};

}  // namespace roadpulse::record
