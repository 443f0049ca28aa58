// Partition and row-group pruning (see pruning.h).

#include "lake/pruning.h"

#include <optional>
#include <variant>

#include <fmt/format.h>
#include <parquet/metadata.h>
#include <parquet/schema.h>
#include <parquet/statistics.h>

namespace roadpulse::lake {

namespace {

// One comparable domain for literals, partition values and statistics: integers (temporal
// values as microseconds since the epoch), floating point, strings. monostate: unknown.
using Value = std::variant<std::monostate, int64_t, double, std::string>;

int64_t to_micros(int64_t v, arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      return v * 1'000'000;
    case arrow::TimeUnit::MILLI:
      return v * 1'000;
    case arrow::TimeUnit::MICRO:
      return v;
    case arrow::TimeUnit::NANO:
      break;
  }
  return v;
}

Value value_of(const arrow::Scalar& s) {
  if (!s.is_valid) return {};
  switch (s.type->id()) {
    case arrow::Type::INT8:
      return int64_t(static_cast<const arrow::Int8Scalar&>(s).value);
    case arrow::Type::INT16:
      return int64_t(static_cast<const arrow::Int16Scalar&>(s).value);
    case arrow::Type::INT32:
      return int64_t(static_cast<const arrow::Int32Scalar&>(s).value);
    case arrow::Type::INT64:
      return int64_t(static_cast<const arrow::Int64Scalar&>(s).value);
    case arrow::Type::UINT8:
      return int64_t(static_cast<const arrow::UInt8Scalar&>(s).value);
    case arrow::Type::UINT16:
      return int64_t(static_cast<const arrow::UInt16Scalar&>(s).value);
    case arrow::Type::UINT32:
      return int64_t(static_cast<const arrow::UInt32Scalar&>(s).value);
    case arrow::Type::FLOAT:
      return double(static_cast<const arrow::FloatScalar&>(s).value);
    case arrow::Type::DOUBLE:
      return static_cast<const arrow::DoubleScalar&>(s).value;
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY: {
      const auto& b = static_cast<const arrow::BaseBinaryScalar&>(s);
      if (!b.value) return std::string();
      return std::string(reinterpret_cast<const char*>(b.value->data()), size_t(b.value->size()));
    }
    case arrow::Type::BOOL:
      return int64_t(static_cast<const arrow::BooleanScalar&>(s).value ? 1 : 0);
    case arrow::Type::DATE32:
      return int64_t(static_cast<const arrow::Date32Scalar&>(s).value) * 86'400'000'000LL;
    case arrow::Type::TIMESTAMP: {
      const auto& t = static_cast<const arrow::TimestampScalar&>(s);
      const auto unit = static_cast<const arrow::TimestampType&>(*s.type).unit();
      if (unit == arrow::TimeUnit::NANO) return {};  // would lose precision: unknown
      return to_micros(t.value, unit);
    }
    default:
      return {};
  }
}

// <0, 0, >0; nullopt when the two cannot be compared.
std::optional<int> compare(const Value& a, const Value& b) {
  if (std::holds_alternative<std::string>(a) || std::holds_alternative<std::string>(b)) {
    if (!std::holds_alternative<std::string>(a) || !std::holds_alternative<std::string>(b)) {
      return std::nullopt;
    }
    const int c = std::get<std::string>(a).compare(std::get<std::string>(b));
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (std::holds_alternative<std::monostate>(a) || std::holds_alternative<std::monostate>(b)) {
    return std::nullopt;
  }
  if (std::holds_alternative<int64_t>(a) && std::holds_alternative<int64_t>(b)) {
    const int64_t x = std::get<int64_t>(a), y = std::get<int64_t>(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const double x =
      std::holds_alternative<int64_t>(a) ? double(std::get<int64_t>(a)) : std::get<double>(a);
  const double y =
      std::holds_alternative<int64_t>(b) ? double(std::get<int64_t>(b)) : std::get<double>(b);
  if (x != x || y != y) return std::nullopt;  // NaN
  return x < y ? -1 : x > y ? 1 : 0;
}

// May some value in [lo, hi] satisfy `op literal`? Unknown comparisons keep.
bool range_may_match(const Value& lo, const Value& hi, ColumnPredicate::Op op,
                     const Value& literal) {
  using Op = ColumnPredicate::Op;
  const auto lo_cmp = compare(lo, literal);  // lo vs literal
  const auto hi_cmp = compare(hi, literal);
  switch (op) {
    case Op::kEq:
    case Op::kIn:
      return !lo_cmp || !hi_cmp || (*lo_cmp <= 0 && *hi_cmp >= 0);
    case Op::kLt:
      return !lo_cmp || *lo_cmp < 0;
    case Op::kLe:
      return !lo_cmp || *lo_cmp <= 0;
    case Op::kGt:
      return !hi_cmp || *hi_cmp > 0;
    case Op::kGe:
      return !hi_cmp || *hi_cmp >= 0;
    default:
      return true;
  }
}

bool predicate_may_match(const ColumnPredicate& p, const Value& lo, const Value& hi) {
  if (p.op == ColumnPredicate::Op::kIn) {
    for (const auto& v : p.values) {
      if (!v || !v->is_valid) continue;  // x IN (NULL) is never true
      if (range_may_match(lo, hi, p.op, value_of(*v))) return true;
    }
    return false;
  }
  if (p.values.empty() || !p.values[0]) return true;
  if (!p.values[0]->is_valid) return false;  // x = NULL is never true
  return range_may_match(lo, hi, p.op, value_of(*p.values[0]));
}

// Min and max of a column chunk's statistics in the Value domain (monostate when unknown).
std::pair<Value, Value> stats_range(const parquet::Statistics& stats, const arrow::DataType& type) {
  auto temporal = [&](int64_t v) -> Value {
    if (type.id() == arrow::Type::DATE32) return v * 86'400'000'000LL;
    if (type.id() == arrow::Type::TIMESTAMP) {
      const auto unit = static_cast<const arrow::TimestampType&>(type).unit();
      if (unit == arrow::TimeUnit::NANO) return {};
      return to_micros(v, unit);
    }
    if (arrow::is_integer(type.id()) && !arrow::is_unsigned_integer(type.id())) return v;
    return {};
  };
  switch (stats.physical_type()) {
    case parquet::Type::INT32: {
      const auto& s = static_cast<const parquet::Int32Statistics&>(stats);
      return {temporal(s.min()), temporal(s.max())};
    }
    case parquet::Type::INT64: {
      const auto& s = static_cast<const parquet::Int64Statistics&>(stats);
      return {temporal(s.min()), temporal(s.max())};
    }
    case parquet::Type::FLOAT: {
      const auto& s = static_cast<const parquet::FloatStatistics&>(stats);
      return {double(s.min()), double(s.max())};
    }
    case parquet::Type::DOUBLE: {
      const auto& s = static_cast<const parquet::DoubleStatistics&>(stats);
      return {s.min(), s.max()};
    }
    case parquet::Type::BOOLEAN: {
      const auto& s = static_cast<const parquet::BoolStatistics&>(stats);
      return {int64_t(s.min()), int64_t(s.max())};
    }
    case parquet::Type::BYTE_ARRAY: {
      if (type.id() != arrow::Type::STRING && type.id() != arrow::Type::LARGE_STRING &&
          type.id() != arrow::Type::BINARY) {
        return {};
      }
      const auto& s = static_cast<const parquet::ByteArrayStatistics&>(stats);
      return {std::string(reinterpret_cast<const char*>(s.min().ptr), s.min().len),
              std::string(reinterpret_cast<const char*>(s.max().ptr), s.max().len)};
    }
    default:
      return {};
  }
}

const char* op_text(ColumnPredicate::Op op) {
  switch (op) {
    case ColumnPredicate::Op::kEq:
      return "=";
    case ColumnPredicate::Op::kLt:
      return "<";
    case ColumnPredicate::Op::kLe:
      return "<=";
    case ColumnPredicate::Op::kGt:
      return ">";
    case ColumnPredicate::Op::kGe:
      return ">=";
    default:
      return "?";
  }
}

std::string literal_text(const std::shared_ptr<arrow::Scalar>& s) {
  if (!s || !s->is_valid) return "NULL";
  if (arrow::is_base_binary_like(s->type->id())) return "'" + s->ToString() + "'";
  if (s->type->id() == arrow::Type::TIMESTAMP) return "TIMESTAMP '" + s->ToString() + "'";
  if (s->type->id() == arrow::Type::DATE32) return "DATE '" + s->ToString() + "'";
  return s->ToString();
}

}  // namespace

std::string ColumnPredicate::to_string() const {
  switch (op) {
    case Op::kIsNull:
      return column + " IS NULL";
    case Op::kIsNotNull:
      return column + " IS NOT NULL";
    case Op::kIn: {
      std::vector<std::string> items;
      for (const auto& v : values) items.push_back(literal_text(v));
      return fmt::format("{} IN ({})", column, fmt::join(items, ", "));
    }
    default:
      return fmt::format("{} {} {}", column, op_text(op),
                         literal_text(values.empty() ? nullptr : values[0]));
  }
}

bool partition_may_match(const PartitionValues& values, const arrow::Schema& schema,
                         const Predicates& predicates) {
  for (const auto& p : predicates) {
    for (const auto& [key, text] : values) {
      if (key != p.column) continue;
      const bool is_null = text == kDefaultPartition || text == "__DEFAULT_PARTITION__";
      if (p.op == ColumnPredicate::Op::kIsNull) {
        if (!is_null) return false;
        continue;
      }
      if (is_null) return false;  // every other predicate is false or unknown on NULL
      if (p.op == ColumnPredicate::Op::kIsNotNull) continue;
      auto field = schema.GetFieldByName(key);
      Value v = text;
      if (field && !arrow::is_base_binary_like(field->type()->id())) {
        auto cast = arrow::StringScalar(text).CastTo(field->type());
        if (!cast.ok()) continue;  // the reader will report it; keep
        v = value_of(**cast);
      }
      if (!predicate_may_match(p, v, v)) return false;
    }
  }
  return true;
}

std::vector<int> row_groups_may_match(const parquet::FileMetaData& metadata,
                                      const arrow::Schema& file_schema,
                                      const Predicates& predicates) {
  // Leaf column of each predicate's column (top-level, non-nested), or -1.
  std::vector<int> leaf(predicates.size(), -1);
  const parquet::SchemaDescriptor* schema = metadata.schema();
  for (size_t i = 0; i < predicates.size(); ++i) {
    for (int c = 0; c < schema->num_columns(); ++c) {
      if (schema->Column(c)->path()->ToDotString() == predicates[i].column) leaf[i] = c;
    }
  }
  std::vector<int> kept;
  for (int g = 0; g < metadata.num_row_groups(); ++g) {
    auto row_group = metadata.RowGroup(g);
    bool may = true;
    for (size_t i = 0; i < predicates.size() && may; ++i) {
      if (leaf[i] < 0) continue;
      const auto& p = predicates[i];
      auto field = file_schema.GetFieldByName(p.column);
      auto chunk = row_group->ColumnChunk(leaf[i]);
      auto stats = chunk ? chunk->statistics() : nullptr;
      if (!field || !stats) continue;
      const int64_t rows = row_group->num_rows();
      const bool nulls_known = stats->HasNullCount();
      const int64_t nulls = nulls_known ? stats->null_count() : -1;
      if (p.op == ColumnPredicate::Op::kIsNull) {
        if (nulls_known && nulls == 0) may = false;
        continue;
      }
      if (nulls_known && nulls == rows) {  // all NULL: no comparison is true
        may = false;
        continue;
      }
      if (p.op == ColumnPredicate::Op::kIsNotNull || !stats->HasMinMax()) continue;
      const auto [lo, hi] = stats_range(*stats, *field->type());
      if (std::holds_alternative<std::monostate>(lo)) continue;
      may = predicate_may_match(p, lo, hi);
    }
    if (may) kept.push_back(g);
  }
  return kept;
}

int64_t row_group_count(const parquet::FileMetaData& metadata) { return metadata.num_row_groups(); }

}  // namespace roadpulse::lake
