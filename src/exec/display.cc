#include "exec/display.h"

#include <algorithm>

#include <arrow/scalar.h>
#include <fmt/format.h>

#include "exec/text_parse.h"

namespace roadpulse::exec {

namespace {

size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool right_aligned(const arrow::DataType& type) {
  return arrow::is_integer(type.id()) || arrow::is_floating(type.id()) ||
         type.id() == arrow::Type::DECIMAL128;
}

}  // namespace

std::string display_value(const arrow::Array& array, int64_t row, const std::string& null_text) {
  if (array.IsNull(row)) return null_text;
  switch (array.type_id()) {
    case arrow::Type::STRING:
      return std::string(static_cast<const arrow::StringArray&>(array).GetView(row));
    case arrow::Type::BOOL:
      return static_cast<const arrow::BooleanArray&>(array).Value(row) ? "true" : "false";
    case arrow::Type::DOUBLE:
      return java_double_string(static_cast<const arrow::DoubleArray&>(array).Value(row));
    case arrow::Type::FLOAT:
      return java_double_string(static_cast<const arrow::FloatArray&>(array).Value(row), true);
    case arrow::Type::TIMESTAMP: {
      const auto& type = static_cast<const arrow::TimestampType&>(*array.type());
      std::string out = java_local_date_time(
          to_micros(static_cast<const arrow::TimestampArray&>(array).Value(row), type.unit()));
      if (!type.timezone().empty()) out.push_back('Z');  // TIMESTAMP_LTZ prints as an Instant
      return out;
    }
    default: {
      auto scalar = array.GetScalar(row);
      return scalar.ok() ? (*scalar)->ToString() : "?";
    }
  }
}

std::string format_table(const std::shared_ptr<arrow::Schema>& schema,
                         const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches) {
  const int cols = schema->num_fields();
  std::vector<size_t> width(static_cast<size_t>(cols));
  std::vector<std::vector<std::string>> cells;
  for (int c = 0; c < cols; ++c) width[size_t(c)] = display_width(schema->field(c)->name());
  for (const auto& batch : batches) {
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      std::vector<std::string> row;
      for (int c = 0; c < cols; ++c) {
        row.push_back(display_value(*batch->column(c), r, "<NULL>"));
        width[size_t(c)] = std::max(width[size_t(c)], display_width(row.back()));
      }
      cells.push_back(std::move(row));
    }
  }
  if (cells.empty()) return "Empty set\n";
  std::string rule = "+";
  for (size_t w : width) rule += std::string(w + 2, '-') + "+";
  rule += "\n";
  auto line = [&](const std::vector<std::string>& values, bool header) {
    std::string out = "|";
    for (int c = 0; c < cols; ++c) {
      const std::string& v = values[size_t(c)];
      const size_t pad = width[size_t(c)] - display_width(v);
      const bool right = !header && right_aligned(*schema->field(c)->type());
      out += " " + (right ? std::string(pad, ' ') + v : v + std::string(pad, ' ')) + " |";
    }
    return out + "\n";
  };
  std::string out = rule;
  out += line(schema->field_names(), true);
  out += rule;
  for (const auto& row : cells) out += line(row, false);
  out += rule;
  out += fmt::format("{} row{} in set\n", cells.size(), cells.size() == 1 ? "" : "s");
  return out;
}

}  // namespace roadpulse::exec
