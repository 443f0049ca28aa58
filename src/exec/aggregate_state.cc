#include "exec/aggregate_state.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <arrow/array/concatenate.h>
#include <arrow/builder.h>
#include <arrow/compute/api.h>
#include <arrow/compute/exec.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>
#include <arrow/ipc/writer.h>
#include <fmt/format.h>

namespace roadpulse::exec {

namespace {

using Kind = AggregateSpec::Kind;
using Value = AggregateSpec::Value;

arrow::Result<Value> value_of(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::BOOL:
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::INT32:
    case arrow::Type::INT64:
    case arrow::Type::DATE32:
    case arrow::Type::DATE64:
    case arrow::Type::TIME32:
    case arrow::Type::TIME64:
    case arrow::Type::TIMESTAMP:
    case arrow::Type::DURATION:
      return Value::kInt;
    case arrow::Type::FLOAT:
    case arrow::Type::DOUBLE:
      return Value::kDouble;
    case arrow::Type::DECIMAL128:
      return Value::kDecimal;
    case arrow::Type::STRING:
      return Value::kString;
    default:
      return arrow::Status::NotImplemented("aggregates over ", type.ToString(),
                                           " values are not supported");
  }
}

// Calls f(row, value) for every non-null row of an integer-like array.
template <typename T, typename F>
void each_int_typed(const arrow::ArrayData& d, F& f) {
  const T* v = d.GetValues<T>(1);
  if (d.GetNullCount() == 0) {
    for (int64_t r = 0; r < d.length; ++r) f(r, int64_t(v[r]));
  } else {
    const uint8_t* valid = d.buffers[0]->data();
    for (int64_t r = 0; r < d.length; ++r) {
      if (arrow::bit_util::GetBit(valid, d.offset + r)) f(r, int64_t(v[r]));
    }
  }
}

template <typename F>
void each_int(const arrow::Array& a, F&& f) {
  const arrow::ArrayData& d = *a.data();
  switch (a.type_id()) {
    case arrow::Type::BOOL: {
      const auto& b = static_cast<const arrow::BooleanArray&>(a);
      for (int64_t r = 0; r < b.length(); ++r) {
        if (b.IsValid(r)) f(r, int64_t(b.Value(r)));
      }
      return;
    }
    case arrow::Type::INT8:
      return each_int_typed<int8_t>(d, f);
    case arrow::Type::INT16:
      return each_int_typed<int16_t>(d, f);
    case arrow::Type::INT32:
    case arrow::Type::DATE32:
    case arrow::Type::TIME32:
      return each_int_typed<int32_t>(d, f);
    default:
      return each_int_typed<int64_t>(d, f);
  }
}

template <typename F>
void each_double(const arrow::Array& a, F&& f) {
  for (int64_t r = 0; r < a.length(); ++r) {
    if (!a.IsValid(r)) continue;
    if (a.type_id() == arrow::Type::FLOAT) {
      f(r, double(static_cast<const arrow::FloatArray&>(a).Value(r)));
    } else {
      f(r, static_cast<const arrow::DoubleArray&>(a).Value(r));
    }
  }
}

// Integer values as an array of `type` (integers, booleans, dates, times, timestamps).
arrow::Result<std::shared_ptr<arrow::Array>> ints_as(const std::vector<int64_t>& values,
                                                     const std::vector<uint8_t>& valid,
                                                     const std::shared_ptr<arrow::DataType>& type) {
  arrow::Int64Builder b;
  ARROW_RETURN_NOT_OK(b.AppendValues(values.data(), int64_t(values.size()),
                                     valid.empty() ? nullptr : valid.data()));
  ARROW_ASSIGN_OR_RAISE(auto array, b.Finish());
  switch (type->id()) {
    case arrow::Type::INT64:
      return array;
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::INT32:
    case arrow::Type::BOOL: {
      // Unsafe: SUM of INT wraps as Java's int arithmetic does.
      ARROW_ASSIGN_OR_RAISE(
          auto cast,
          arrow::compute::Cast(arrow::Datum(array), arrow::compute::CastOptions::Unsafe(type)));
      return cast.make_array();
    }
    case arrow::Type::DATE32:
    case arrow::Type::TIME32: {
      ARROW_ASSIGN_OR_RAISE(
          auto cast, arrow::compute::Cast(arrow::Datum(array),
                                          arrow::compute::CastOptions::Unsafe(arrow::int32())));
      auto data = cast.array()->Copy();
      data->type = type;
      return arrow::MakeArray(data);
    }
    default: {
      auto data = array->data()->Copy();
      data->type = type;
      return arrow::MakeArray(data);
    }
  }
}

arrow::Result<std::shared_ptr<arrow::Array>> doubles_as(
    const std::vector<double>& values, const std::vector<uint8_t>& valid,
    const std::shared_ptr<arrow::DataType>& type) {
  arrow::DoubleBuilder b;
  ARROW_RETURN_NOT_OK(b.AppendValues(values.data(), int64_t(values.size()),
                                     valid.empty() ? nullptr : valid.data()));
  ARROW_ASSIGN_OR_RAISE(auto array, b.Finish());
  if (type->id() == arrow::Type::DOUBLE) return array;
  ARROW_ASSIGN_OR_RAISE(auto cast, arrow::compute::Cast(arrow::Datum(array),
                                                        arrow::compute::CastOptions::Unsafe(type)));
  return cast.make_array();
}

arrow::Result<std::shared_ptr<arrow::Array>> decimals_as(
    const std::vector<arrow::Decimal128>& values, const std::vector<uint8_t>& valid,
    const std::shared_ptr<arrow::DataType>& type) {
  arrow::Decimal128Builder b(type);
  ARROW_RETURN_NOT_OK(b.Reserve(int64_t(values.size())));
  for (size_t i = 0; i < values.size(); ++i) {
    if (!valid.empty() && !valid[i]) {
      b.UnsafeAppendNull();
    } else {
      b.UnsafeAppend(values[i]);
    }
  }
  return b.Finish();
}

arrow::Result<std::shared_ptr<arrow::Array>> strings_as(const std::vector<std::string>& values,
                                                        const std::vector<uint8_t>& valid) {
  arrow::StringBuilder b;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!valid.empty() && !valid[i]) {
      ARROW_RETURN_NOT_OK(b.AppendNull());
    } else {
      ARROW_RETURN_NOT_OK(b.Append(values[i]));
    }
  }
  return b.Finish();
}

int decimal_scale(const arrow::DataType& type) {
  return static_cast<const arrow::Decimal128Type&>(type).scale();
}

// The partial-state column type of a spec's value.
std::shared_ptr<arrow::DataType> storage_type(const AggregateSpec& spec) {
  switch (spec.value) {
    case Value::kInt:
      return arrow::int64();
    case Value::kDouble:
      return arrow::float64();
    case Value::kDecimal:
      return arrow::decimal128(38, decimal_scale(*spec.arg_type));
    case Value::kString:
      return arrow::utf8();
  }
  return arrow::int64();
}

// Bytes identifying a value for COUNT(DISTINCT).
void distinct_bytes(const AggregateSpec&, const arrow::Array& a, int64_t r, std::string& out) {
  out.clear();
  append_value_bytes(a, r, out);
}

}  // namespace

arrow::Result<std::vector<AggregateSpec>> make_aggregate_specs(
    const std::vector<sql::AggregateCall>& calls, const arrow::Schema& input,
    const std::vector<std::shared_ptr<arrow::DataType>>& result_types) {
  std::vector<AggregateSpec> specs;
  for (size_t i = 0; i < calls.size(); ++i) {
    const auto& c = calls[i];
    AggregateSpec s;
    s.result_type = result_types.at(i);
    if (c.args.empty()) {
      if (c.function != "COUNT") {
        return arrow::Status::Invalid(c.function, " without an argument");
      }
      s.kind = Kind::kCountStar;
      s.label = "COUNT(*)";
      specs.push_back(std::move(s));
      continue;
    }
    s.arg = c.args[0];
    if (s.arg < 0 || s.arg >= input.num_fields()) {
      return arrow::Status::Invalid(c.function, ": argument column ", s.arg, " out of range");
    }
    s.arg_type = input.field(s.arg)->type();
    ARROW_ASSIGN_OR_RAISE(s.value, value_of(*s.arg_type));
    s.label = fmt::format("{}({}{})", c.function, c.distinct ? "DISTINCT " : "",
                          input.field(s.arg)->name());
    if (c.function == "COUNT") {
      s.kind = c.distinct ? Kind::kCountDistinct : Kind::kCount;
    } else if (c.function == "SUM" || c.function == "AVG") {
      if (c.distinct) {
        return arrow::Status::NotImplemented(c.function,
                                             "(DISTINCT ...) is not supported yet; "
                                             "COUNT(DISTINCT ...) is");
      }
      if (s.value == Value::kString) {
        return arrow::Status::Invalid(c.function, " needs a numeric argument");
      }
      s.kind = c.function == "SUM" ? Kind::kSum : Kind::kAvg;
    } else if (c.function == "MIN") {
      s.kind = Kind::kMin;  // DISTINCT changes nothing for MIN/MAX
    } else if (c.function == "MAX") {
      s.kind = Kind::kMax;
    } else {
      return arrow::Status::NotImplemented("aggregate function ", c.function);
    }
    specs.push_back(std::move(s));
  }
  return specs;
}

arrow::Result<std::unique_ptr<GroupTable>> GroupTable::make(
    std::vector<std::shared_ptr<arrow::DataType>> key_types,
    const std::vector<AggregateSpec>* specs) {
  std::unique_ptr<GroupTable> t(new GroupTable());
  t->key_types_ = std::move(key_types);
  t->specs_ = specs;
  if (!t->key_types_.empty()) {
    std::vector<arrow::TypeHolder> holders(t->key_types_.begin(), t->key_types_.end());
    ARROW_ASSIGN_OR_RAISE(t->grouper_, arrow::compute::Grouper::Make(holders));
  }
  t->accs_.resize(specs->size());
  return t;
}

void GroupTable::grow(uint32_t groups) {
  if (groups <= num_groups_) return;
  for (size_t i = 0; i < specs_->size(); ++i) {
    const AggregateSpec& s = (*specs_)[i];
    Accumulator& a = accs_[i];
    switch (s.kind) {
      case Kind::kCountStar:
      case Kind::kCount:
        a.ints.resize(groups, 0);
        break;
      case Kind::kCountDistinct:
        a.distinct.resize(groups);
        break;
      case Kind::kSum:
      case Kind::kAvg:
      case Kind::kMin:
      case Kind::kMax: {
        const bool is_min = s.kind == Kind::kMin;
        a.non_null.resize(groups, 0);
        switch (s.value) {
          case Value::kInt:
            a.ints.resize(groups, s.kind == Kind::kMin   ? std::numeric_limits<int64_t>::max()
                                  : s.kind == Kind::kMax ? std::numeric_limits<int64_t>::min()
                                                         : 0);
            break;
          case Value::kDouble:
            a.doubles.resize(groups, 0.0);
            break;
          case Value::kDecimal:
            a.decimals.resize(groups, arrow::Decimal128(0));
            break;
          case Value::kString:
            a.strings.resize(groups);
            break;
        }
        (void)is_min;
        break;
      }
    }
  }
  num_groups_ = groups;
}

arrow::Result<std::shared_ptr<arrow::UInt32Array>> GroupTable::assign(
    const std::vector<std::shared_ptr<arrow::Array>>& keys, int64_t length) {
  if (!grouper_) {
    grow(1);
    std::vector<uint32_t> zeros(size_t(length), 0);
    arrow::UInt32Builder b;
    ARROW_RETURN_NOT_OK(b.AppendValues(zeros));
    ARROW_ASSIGN_OR_RAISE(auto array, b.Finish());
    return std::static_pointer_cast<arrow::UInt32Array>(array);
  }
  std::vector<arrow::Datum> values(keys.begin(), keys.end());
  arrow::compute::ExecBatch batch(std::move(values), length);
  ARROW_ASSIGN_OR_RAISE(auto ids, grouper_->Consume(arrow::compute::ExecSpan(batch)));
  grow(grouper_->num_groups());
  return std::static_pointer_cast<arrow::UInt32Array>(ids.make_array());
}

arrow::Status GroupTable::update(const arrow::RecordBatch& batch, const arrow::UInt32Array& gids) {
  const uint32_t* g = gids.raw_values();
  std::string bytes;
  for (size_t i = 0; i < specs_->size(); ++i) {
    const AggregateSpec& s = (*specs_)[i];
    Accumulator& a = accs_[i];
    if (s.kind == Kind::kCountStar) {
      for (int64_t r = 0; r < batch.num_rows(); ++r) ++a.ints[g[r]];
      continue;
    }
    const arrow::Array& arg = *batch.column(s.arg);
    switch (s.kind) {
      case Kind::kCountStar:
        break;
      case Kind::kCount:
        if (arg.null_count() == 0) {
          for (int64_t r = 0; r < batch.num_rows(); ++r) ++a.ints[g[r]];
        } else {
          for (int64_t r = 0; r < batch.num_rows(); ++r) a.ints[g[r]] += arg.IsValid(r);
        }
        break;
      case Kind::kCountDistinct:
        for (int64_t r = 0; r < batch.num_rows(); ++r) {
          if (arg.IsNull(r)) continue;
          distinct_bytes(s, arg, r, bytes);
          a.distinct[g[r]].insert(bytes);
        }
        break;
      case Kind::kSum:
      case Kind::kAvg:
        switch (s.value) {
          case Value::kInt:
            each_int(arg, [&](int64_t r, int64_t v) {
              a.ints[g[r]] = int64_t(uint64_t(a.ints[g[r]]) + uint64_t(v));  // wraps like Java
              ++a.non_null[g[r]];
            });
            break;
          case Value::kDouble:
            each_double(arg, [&](int64_t r, double v) {
              a.doubles[g[r]] += v;
              ++a.non_null[g[r]];
            });
            break;
          case Value::kDecimal: {
            const auto& d = static_cast<const arrow::Decimal128Array&>(arg);
            for (int64_t r = 0; r < batch.num_rows(); ++r) {
              if (d.IsNull(r)) continue;
              a.decimals[g[r]] += arrow::Decimal128(d.GetValue(r));
              ++a.non_null[g[r]];
            }
            break;
          }
          case Value::kString:
            break;
        }
        break;
      case Kind::kMin:
      case Kind::kMax: {
        const bool min = s.kind == Kind::kMin;
        switch (s.value) {
          case Value::kInt:
            each_int(arg, [&](int64_t r, int64_t v) {
              int64_t& cur = a.ints[g[r]];
              cur = min ? std::min(cur, v) : std::max(cur, v);
              ++a.non_null[g[r]];
            });
            break;
          case Value::kDouble:
            each_double(arg, [&](int64_t r, double v) {
              double& cur = a.doubles[g[r]];
              if (a.non_null[g[r]]++ == 0 || (min ? v < cur : v > cur)) cur = v;
            });
            break;
          case Value::kDecimal: {
            const auto& d = static_cast<const arrow::Decimal128Array&>(arg);
            for (int64_t r = 0; r < batch.num_rows(); ++r) {
              if (d.IsNull(r)) continue;
              arrow::Decimal128 v(d.GetValue(r));
              auto& cur = a.decimals[g[r]];
              if (a.non_null[g[r]]++ == 0 || (min ? v < cur : v > cur)) cur = v;
            }
            break;
          }
          case Value::kString: {
            const auto& str = static_cast<const arrow::StringArray&>(arg);
            for (int64_t r = 0; r < batch.num_rows(); ++r) {
              if (str.IsNull(r)) continue;
              auto v = str.GetView(r);
              auto& cur = a.strings[g[r]];
              if (a.non_null[g[r]]++ == 0 || (min ? v < cur : v > cur)) cur.assign(v);
            }
            break;
          }
        }
        break;
      }
    }
  }
  return arrow::Status::OK();
}

arrow::Status GroupTable::consume(const arrow::RecordBatch& batch,
                                  const std::vector<int>& key_columns) {
  std::vector<std::shared_ptr<arrow::Array>> keys;
  keys.reserve(key_columns.size());
  for (int k : key_columns) keys.push_back(batch.column(k));
  ARROW_ASSIGN_OR_RAISE(auto gids, assign(keys, batch.num_rows()));
  return update(batch, *gids);
}

arrow::Status GroupTable::merge_group(size_t i, uint32_t to, const GroupTable& other,
                                      uint32_t from) {
  const AggregateSpec& s = (*specs_)[i];
  Accumulator& a = accs_[i];
  const Accumulator& b = other.accs_[i];
  switch (s.kind) {
    case Kind::kCountStar:
    case Kind::kCount:
      a.ints[to] += b.ints[from];
      break;
    case Kind::kCountDistinct:
      a.distinct[to].insert(b.distinct[from].begin(), b.distinct[from].end());
      break;
    case Kind::kSum:
    case Kind::kAvg:
      if (s.value == Value::kInt)
        a.ints[to] = int64_t(uint64_t(a.ints[to]) + uint64_t(b.ints[from]));
      if (s.value == Value::kDouble) a.doubles[to] += b.doubles[from];
      if (s.value == Value::kDecimal) a.decimals[to] += b.decimals[from];
      a.non_null[to] += b.non_null[from];
      break;
    case Kind::kMin:
    case Kind::kMax: {
      if (b.non_null[from] == 0) break;
      const bool min = s.kind == Kind::kMin;
      const bool first = a.non_null[to] == 0;
      switch (s.value) {
        case Value::kInt:
          a.ints[to] =
              min ? std::min(a.ints[to], b.ints[from]) : std::max(a.ints[to], b.ints[from]);
          break;
        case Value::kDouble:
          if (first || (min ? b.doubles[from] < a.doubles[to] : b.doubles[from] > a.doubles[to]))
            a.doubles[to] = b.doubles[from];
          break;
        case Value::kDecimal:
          if (first ||
              (min ? b.decimals[from] < a.decimals[to] : b.decimals[from] > a.decimals[to]))
            a.decimals[to] = b.decimals[from];
          break;
        case Value::kString:
          if (first || (min ? b.strings[from] < a.strings[to] : b.strings[from] > a.strings[to]))
            a.strings[to] = b.strings[from];
          break;
      }
      a.non_null[to] += b.non_null[from];
      break;
    }
  }
  return arrow::Status::OK();
}

arrow::Status GroupTable::merge(GroupTable& other) {
  if (other.num_groups_ == 0) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto keys, other.keys());
  ARROW_ASSIGN_OR_RAISE(auto ids, assign(keys, other.num_groups_));
  const uint32_t* to = ids->raw_values();
  for (size_t i = 0; i < specs_->size(); ++i) {
    for (uint32_t from = 0; from < other.num_groups_; ++from) {
      ARROW_RETURN_NOT_OK(merge_group(i, to[from], other, from));
    }
  }
  return arrow::Status::OK();
}

arrow::Result<std::vector<std::shared_ptr<arrow::Array>>> GroupTable::keys() {
  std::vector<std::shared_ptr<arrow::Array>> out;
  if (!grouper_) return out;
  ARROW_ASSIGN_OR_RAISE(auto uniques, grouper_->GetUniques());
  for (auto& v : uniques.values) out.push_back(v.make_array());
  return out;
}

arrow::Result<std::vector<std::shared_ptr<arrow::Array>>> GroupTable::finalize(
    const std::vector<uint32_t>* gids) const {
  std::vector<uint32_t> all;
  if (!gids) {
    all.resize(num_groups_);
    for (uint32_t i = 0; i < num_groups_; ++i) all[i] = i;
    gids = &all;
  }
  const size_t n = gids->size();
  std::vector<std::shared_ptr<arrow::Array>> out;
  for (size_t i = 0; i < specs_->size(); ++i) {
    const AggregateSpec& s = (*specs_)[i];
    const Accumulator& a = accs_[i];
    if (s.kind == Kind::kCountStar || s.kind == Kind::kCount || s.kind == Kind::kCountDistinct) {
      std::vector<int64_t> v(n);
      for (size_t r = 0; r < n; ++r) {
        const uint32_t g = (*gids)[r];
        v[r] = s.kind == Kind::kCountDistinct ? int64_t(a.distinct[g].size()) : a.ints[g];
      }
      ARROW_ASSIGN_OR_RAISE(auto array, ints_as(v, {}, s.result_type));
      out.push_back(std::move(array));
      continue;
    }
    std::vector<uint8_t> valid(n);
    for (size_t r = 0; r < n; ++r) valid[r] = a.non_null[(*gids)[r]] > 0;
    std::shared_ptr<arrow::Array> array;
    switch (s.value) {
      case Value::kInt: {
        std::vector<int64_t> v(n);
        for (size_t r = 0; r < n; ++r) {
          const uint32_t g = (*gids)[r];
          v[r] = a.ints[g];
          if (s.kind == Kind::kAvg && a.non_null[g] > 0) v[r] = a.ints[g] / a.non_null[g];
        }
        ARROW_ASSIGN_OR_RAISE(array, ints_as(v, valid, s.result_type));
        break;
      }
      case Value::kDouble: {
        std::vector<double> v(n);
        for (size_t r = 0; r < n; ++r) {
          const uint32_t g = (*gids)[r];
          v[r] = a.doubles[g];
          if (s.kind == Kind::kAvg && a.non_null[g] > 0) v[r] /= double(a.non_null[g]);
        }
        ARROW_ASSIGN_OR_RAISE(array, doubles_as(v, valid, s.result_type));
        break;
      }
      case Value::kDecimal: {
        std::vector<arrow::Decimal128> v(n);
        const int from_scale = decimal_scale(*s.arg_type);
        const int to_scale = decimal_scale(*s.result_type);
        for (size_t r = 0; r < n; ++r) {
          const uint32_t g = (*gids)[r];
          v[r] = a.decimals[g];
          if (s.kind == Kind::kAvg && a.non_null[g] > 0) {
            ARROW_ASSIGN_OR_RAISE(auto scaled, v[r].Rescale(from_scale, to_scale));
            const arrow::Decimal128 count(a.non_null[g]);
            ARROW_ASSIGN_OR_RAISE(auto qr, scaled.Divide(count));
            arrow::Decimal128 q = qr.first, rem = qr.second;
            // Round half up, away from zero, as Java's BigDecimal HALF_UP.
            arrow::Decimal128 twice = rem.Abs() * arrow::Decimal128(2);
            if (twice >= count)
              q += scaled.Sign() < 0 ? arrow::Decimal128(-1) : arrow::Decimal128(1);
            v[r] = q;
          } else if (from_scale != to_scale) {
            ARROW_ASSIGN_OR_RAISE(v[r], v[r].Rescale(from_scale, to_scale));
          }
        }
        ARROW_ASSIGN_OR_RAISE(array, decimals_as(v, valid, s.result_type));
        break;
      }
      case Value::kString: {
        std::vector<std::string> v(n);
        for (size_t r = 0; r < n; ++r) v[r] = a.strings[(*gids)[r]];
        ARROW_ASSIGN_OR_RAISE(array, strings_as(v, valid));
        break;
      }
    }
    out.push_back(std::move(array));
  }
  return out;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> GroupTable::to_partial() {
  arrow::FieldVector fields;
  std::vector<std::shared_ptr<arrow::Array>> columns;
  ARROW_ASSIGN_OR_RAISE(auto keys, this->keys());
  for (size_t k = 0; k < keys.size(); ++k) {
    fields.push_back(arrow::field(fmt::format("k{}", k), key_types_[k]));
    columns.push_back(keys[k]);
  }
  const size_t n = num_groups_;
  for (size_t i = 0; i < specs_->size(); ++i) {
    const AggregateSpec& s = (*specs_)[i];
    const Accumulator& a = accs_[i];
    std::shared_ptr<arrow::Array> value;
    if (s.kind == Kind::kCountStar || s.kind == Kind::kCount) {
      ARROW_ASSIGN_OR_RAISE(value, ints_as(a.ints, {}, arrow::int64()));
    } else if (s.kind == Kind::kCountDistinct) {
      arrow::ListBuilder list(arrow::default_memory_pool(),
                              std::make_shared<arrow::BinaryBuilder>());
      auto& values = static_cast<arrow::BinaryBuilder&>(*list.value_builder());
      for (size_t g = 0; g < n; ++g) {
        ARROW_RETURN_NOT_OK(list.Append());
        for (const auto& v : a.distinct[g]) ARROW_RETURN_NOT_OK(values.Append(v));
      }
      ARROW_ASSIGN_OR_RAISE(value, list.Finish());
    } else if (s.value == Value::kInt) {
      ARROW_ASSIGN_OR_RAISE(value, ints_as(a.ints, {}, arrow::int64()));
    } else if (s.value == Value::kDouble) {
      ARROW_ASSIGN_OR_RAISE(value, doubles_as(a.doubles, {}, arrow::float64()));
    } else if (s.value == Value::kDecimal) {
      ARROW_ASSIGN_OR_RAISE(value, decimals_as(a.decimals, {}, storage_type(s)));
    } else {
      ARROW_ASSIGN_OR_RAISE(value, strings_as(a.strings, {}));
    }
    fields.push_back(arrow::field(fmt::format("a{}", i), value->type()));
    columns.push_back(std::move(value));
    if (!a.non_null.empty()) {
      ARROW_ASSIGN_OR_RAISE(auto nn, ints_as(a.non_null, {}, arrow::int64()));
      fields.push_back(arrow::field(fmt::format("n{}", i), arrow::int64()));
      columns.push_back(std::move(nn));
    }
  }
  return arrow::RecordBatch::Make(arrow::schema(std::move(fields)), int64_t(n), std::move(columns));
}

arrow::Result<std::unique_ptr<GroupTable>> GroupTable::from_partial(
    const arrow::RecordBatch& partial, std::vector<std::shared_ptr<arrow::DataType>> key_types,
    const std::vector<AggregateSpec>* specs) {
  const size_t n_keys = key_types.size();
  ARROW_ASSIGN_OR_RAISE(auto table, make(std::move(key_types), specs));
  const int64_t n = partial.num_rows();
  auto column = [&](const std::string& name) -> arrow::Result<std::shared_ptr<arrow::Array>> {
    auto c = partial.GetColumnByName(name);
    if (!c) return arrow::Status::Invalid("aggregate state: column ", name, " missing");
    if (c->length() != n) return arrow::Status::Invalid("aggregate state: column ", name);
    return c;
  };
  std::vector<std::shared_ptr<arrow::Array>> keys;
  for (size_t k = 0; k < n_keys; ++k) {
    ARROW_ASSIGN_OR_RAISE(auto c, column(fmt::format("k{}", k)));
    keys.push_back(std::move(c));
  }
  // Row g of the partial goes to the group its keys get now. Arrow's hash grouper does not
  // promise ids in first-occurrence order (its swiss table numbers a minibatch's new keys in
  // its own order), so the rows are scattered by id rather than assumed to be 0..n-1.
  std::vector<uint32_t> group_of(static_cast<size_t>(n));
  if (n_keys > 0) {
    ARROW_ASSIGN_OR_RAISE(auto ids, table->assign(keys, n));
    if (table->num_groups_ != uint32_t(n)) {
      return arrow::Status::Invalid("aggregate state: duplicate group keys");
    }
    for (int64_t r = 0; r < n; ++r) group_of[size_t(r)] = ids->Value(r);
  } else {
    table->grow(uint32_t(n));
    for (int64_t r = 0; r < n; ++r) group_of[size_t(r)] = uint32_t(r);
  }
  for (size_t i = 0; i < specs->size(); ++i) {
    const AggregateSpec& s = (*specs)[i];
    Accumulator& a = table->accs_[i];
    ARROW_ASSIGN_OR_RAISE(auto value, column(fmt::format("a{}", i)));
    if (s.kind == Kind::kCountDistinct) {
      const auto& list = static_cast<const arrow::ListArray&>(*value);
      const auto& values = static_cast<const arrow::BinaryArray&>(*list.values());
      for (int64_t g = 0; g < n; ++g) {
        for (int64_t j = list.value_offset(g); j < list.value_offset(g + 1); ++j) {
          a.distinct[group_of[size_t(g)]].insert(std::string(values.GetView(j)));
        }
      }
      continue;
    }
    if (s.kind != Kind::kCountStar && s.kind != Kind::kCount) {
      ARROW_ASSIGN_OR_RAISE(auto nn, column(fmt::format("n{}", i)));
      const auto& nns = static_cast<const arrow::Int64Array&>(*nn);
      for (int64_t g = 0; g < n; ++g) a.non_null[group_of[size_t(g)]] = nns.Value(g);
    }
    const auto value_kind =
        (s.kind == Kind::kCountStar || s.kind == Kind::kCount) ? Value::kInt : s.value;
    switch (value_kind) {
      case Value::kInt: {
        const auto& v = static_cast<const arrow::Int64Array&>(*value);
        for (int64_t g = 0; g < n; ++g) a.ints[group_of[size_t(g)]] = v.Value(g);
        break;
      }
      case Value::kDouble: {
        const auto& v = static_cast<const arrow::DoubleArray&>(*value);
        for (int64_t g = 0; g < n; ++g) a.doubles[group_of[size_t(g)]] = v.Value(g);
        break;
      }
      case Value::kDecimal: {
        const auto& v = static_cast<const arrow::Decimal128Array&>(*value);
        for (int64_t g = 0; g < n; ++g)
          a.decimals[group_of[size_t(g)]] = arrow::Decimal128(v.GetValue(g));
        break;
      }
      case Value::kString: {
        const auto& v = static_cast<const arrow::StringArray&>(*value);
        for (int64_t g = 0; g < n; ++g) a.strings[group_of[size_t(g)]] = std::string(v.GetView(g));
        break;
      }
    }
  }
  return table;
}

arrow::Result<std::string> batch_to_ipc(const arrow::RecordBatch& batch) {
  ARROW_ASSIGN_OR_RAISE(auto sink, arrow::io::BufferOutputStream::Create());
  ARROW_ASSIGN_OR_RAISE(auto writer, arrow::ipc::MakeStreamWriter(sink, batch.schema()));
  ARROW_RETURN_NOT_OK(writer->WriteRecordBatch(batch));
  ARROW_RETURN_NOT_OK(writer->Close());
  ARROW_ASSIGN_OR_RAISE(auto buffer, sink->Finish());
  return buffer->ToString();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> batch_from_ipc(std::string_view bytes) {
  auto buffer = std::make_shared<arrow::Buffer>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                int64_t(bytes.size()));
  auto input = std::make_shared<arrow::io::BufferReader>(buffer);
  ARROW_ASSIGN_OR_RAISE(auto reader, arrow::ipc::RecordBatchStreamReader::Open(input));
  std::shared_ptr<arrow::RecordBatch> batch;
  ARROW_RETURN_NOT_OK(reader->ReadNext(&batch));
  if (!batch) return arrow::Status::Invalid("state: IPC stream without a batch");
  // Own the memory: the caller's bytes may go away.
  std::vector<std::shared_ptr<arrow::Array>> columns;
  for (const auto& c : batch->columns()) {
    ARROW_ASSIGN_OR_RAISE(auto copy, arrow::Concatenate({c}));
    columns.push_back(std::move(copy));
  }
  return arrow::RecordBatch::Make(batch->schema(), batch->num_rows(), std::move(columns));
}

void append_value_bytes(const arrow::Array& a, int64_t r, std::string& out) {
  if (a.IsNull(r)) {
    out.push_back('\0');
    return;
  }
  out.push_back('\1');
  auto put = [&out](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  switch (a.type_id()) {
    case arrow::Type::STRING: {
      auto v = static_cast<const arrow::StringArray&>(a).GetView(r);
      const uint32_t n = uint32_t(v.size());
      put(&n, 4);
      out.append(v);
      return;
    }
    case arrow::Type::BOOL:
      out.push_back(static_cast<const arrow::BooleanArray&>(a).Value(r) ? '\1' : '\0');
      return;
    case arrow::Type::FLOAT: {
      double v = static_cast<const arrow::FloatArray&>(a).Value(r);
      if (v == 0) v = 0;  // -0.0 and 0.0 are one value
      put(&v, 8);
      return;
    }
    case arrow::Type::DOUBLE: {
      double v = static_cast<const arrow::DoubleArray&>(a).Value(r);
      if (v == 0) v = 0;
      put(&v, 8);
      return;
    }
    default: {
      // Fixed-width values (integers, dates, timestamps, decimals): their bytes.
      const auto& d = *a.data();
      const int width = a.type()->byte_width();
      if (width > 0) {
        put(d.buffers[1]->data() + (d.offset + r) * width, size_t(width));
      } else {
        out.append(a.GetScalar(r).ValueOrDie()->ToString());
      }
    }
  }
}

void put_i64(std::string& out, int64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }

void put_bytes(std::string& out, std::string_view bytes) {
  put_i64(out, int64_t(bytes.size()));
  out.append(bytes);
}

arrow::Result<int64_t> take_i64(std::string_view& in) {
  if (in.size() < 8) return arrow::Status::Invalid("operator state truncated");
  int64_t v = 0;
  std::memcpy(&v, in.data(), 8);
  in.remove_prefix(8);
  return v;
}

arrow::Result<std::string_view> take_bytes(std::string_view& in) {
  ARROW_ASSIGN_OR_RAISE(auto n, take_i64(in));
  if (n < 0 || uint64_t(n) > in.size()) return arrow::Status::Invalid("operator state truncated");
  auto out = in.substr(0, size_t(n));
  in.remove_prefix(size_t(n));
  return out;
}

}  // namespace roadpulse::exec
