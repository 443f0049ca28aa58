#pragma once
// Synthetic accident rows in the exact Kaggle "US Accidents" CSV format (Dec21: 47 columns, CRLF;
// March23: 46 columns, LF), deterministic for a seed. Realistic where it matters downstream:
// severity shares of the real data (1: 0.5%, 2: 80.9%, 3: 16.7%, 4: 1.9%); states weighted as in
// the real March23 sample, cities within a state by population with real coordinates (the
// embedded gazetteer, data/gazetteer); rush-hour, weekday and seasonal rhythm of Start_Time;
// weather by season, latitude and hour; timezone by state; sun phases computed from position and
// time; descriptions and streets in the styles of the real sources.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <arrow/result.h>

#include "common/time.h"
#include "record/csv_reader.h"
#include "record/schema.h"

namespace roadpulse::record {

struct GeneratorOptions {
  int64_t rows = 1000;
  uint64_t seed = 42;
  SchemaVersion format = SchemaVersion::kMarch23;  // kDec21 or kMarch23
  /// First day of Start_Time (local midnight); default 2016-02-08 for Dec21, 2022-01-01 for
  /// March23 (both in the range of the real releases).
  std::optional<EpochMicros> start;
  /// First ID number ("A-<n>").
  int64_t first_id = 1;
};

/// "dec21" / "march23" (case-insensitive) to a version.
arrow::Result<SchemaVersion> parse_format_name(std::string_view name);

class Generator {
 public:
  static arrow::Result<std::unique_ptr<Generator>> make(const GeneratorOptions& options);
  ~Generator();

  const Schema& schema() const;
  /// The header line with its terminator.
  std::string header() const;
  /// Appends the next row with its terminator; false once `rows` rows were produced.
  bool next_row(std::string& out);
  int64_t rows_produced() const;

 private:
  struct State;
  explicit Generator(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

/// A ByteSource that yields the header and then the generated rows as CSV text, so generated
/// data flows through the same reader as files do.
std::unique_ptr<ByteSource> make_generator_source(std::unique_ptr<Generator> generator);

}  // namespace roadpulse::record
