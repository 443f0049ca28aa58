#include "exec/json_format.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/util/decimal.h>
#include <fmt/format.h>
#include <simdjson.h>

#include "common/time.h"
#include "exec/text_parse.h"

namespace roadpulse::exec {

namespace sj = simdjson;
namespace od = simdjson::ondemand;

arrow::Result<JsonFormatOptions> json_options_from(
    const std::map<std::string, std::string>& with_options) {
  JsonFormatOptions options;
  auto parse_bool = [](const std::string& key, const std::string& value) -> arrow::Result<bool> {
    if (value == "true" || value == "TRUE" || value == "True") return true;
    if (value == "false" || value == "FALSE" || value == "False") return false;
    return arrow::Status::Invalid("option '", key, "' must be 'true' or 'false', got '", value,
                                  "'");
  };
  for (const auto& [key, value] : with_options) {
    if (key.rfind("json.", 0) != 0) continue;
    if (key == "json.ignore-parse-errors") {
      ARROW_ASSIGN_OR_RAISE(options.ignore_parse_errors, parse_bool(key, value));
    } else if (key == "json.fail-on-missing-field") {
      ARROW_ASSIGN_OR_RAISE(options.fail_on_missing_field, parse_bool(key, value));
    } else if (key == "json.timestamp-format.standard") {
      if (value == "ISO-8601") {
        options.timestamp_standard = TimestampStandard::kIso8601;
      } else if (value == "SQL") {
        options.timestamp_standard = TimestampStandard::kSql;
      } else {
        return arrow::Status::Invalid(
            "option 'json.timestamp-format.standard' must be 'ISO-8601' or 'SQL', got '", value,
            "'");
      }
    } else if (key == "json.map-null-key.mode" || key == "json.map-null-key.literal" ||
               key == "json.encode.decimal-as-plain-number" ||
               key == "json.encode.ignore-null-fields") {
      // Accepted for Flink compatibility; they concern MAP keys and number rendering, which our
      // encoder already writes plainly.
    } else {
      return arrow::Status::Invalid("unknown json format option '", key, "'");
    }
  }
  return options;
}

namespace {

enum class Kind {
  kString,
  kLargeString,
  kBool,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFloat,
  kDouble,
  kTimestamp,
  kDate32,
  kDecimal
};

struct Column {
  std::string name;
  std::shared_ptr<arrow::DataType> type;
  Kind kind;
  arrow::TimeUnit::type unit = arrow::TimeUnit::MICRO;
  std::unique_ptr<arrow::ArrayBuilder> builder;
};

// A decoded field value, held until the whole record decoded (a failing record adds nothing).
struct Slot {
  enum State : uint8_t { kMissing, kNull, kValue } state = kMissing;
  int64_t i = 0;
  double d = 0;
  std::string_view s;
  arrow::Decimal128 dec;
};

arrow::Result<Kind> kind_of(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::STRING:
      return Kind::kString;
    case arrow::Type::LARGE_STRING:
      return Kind::kLargeString;
    case arrow::Type::BOOL:
      return Kind::kBool;
    case arrow::Type::INT8:
      return Kind::kInt8;
    case arrow::Type::INT16:
      return Kind::kInt16;
    case arrow::Type::INT32:
      return Kind::kInt32;
    case arrow::Type::INT64:
      return Kind::kInt64;
    case arrow::Type::FLOAT:
      return Kind::kFloat;
    case arrow::Type::DOUBLE:
      return Kind::kDouble;
    case arrow::Type::TIMESTAMP:
      return Kind::kTimestamp;
    case arrow::Type::DATE32:
      return Kind::kDate32;
    case arrow::Type::DECIMAL128:
      return Kind::kDecimal;
    default:
      return arrow::Status::NotImplemented("json format: column type ", type.ToString(),
                                           " is not supported");
  }
}

const char* sql_name(Kind kind) {
  switch (kind) {
    case Kind::kString:
    case Kind::kLargeString:
      return "VARCHAR";
    case Kind::kBool:
      return "BOOLEAN";
    case Kind::kInt8:
      return "TINYINT";
    case Kind::kInt16:
      return "SMALLINT";
    case Kind::kInt32:
      return "INT";
    case Kind::kInt64:
      return "BIGINT";
    case Kind::kFloat:
      return "FLOAT";
    case Kind::kDouble:
      return "DOUBLE";
    case Kind::kTimestamp:
      return "TIMESTAMP";
    case Kind::kDate32:
      return "DATE";
    case Kind::kDecimal:
      return "DECIMAL";
  }
  return "?";
}

bool int_in_range(Kind kind, int64_t v) {
  switch (kind) {
    case Kind::kInt8:
      return v >= INT8_MIN && v <= INT8_MAX;
    case Kind::kInt16:
      return v >= INT16_MIN && v <= INT16_MAX;
    case Kind::kInt32:
      return v >= INT32_MIN && v <= INT32_MAX;
    default:
      return true;
  }
}

bool is_blank(std::string_view s) { return java_trim(s).empty(); }

std::string quoted_excerpt(std::string_view s) {
  constexpr size_t kMax = 60;
  std::string out = "\"";
  out.append(s.substr(0, kMax));
  if (s.size() > kMax) out.append("...");
  out.push_back('"');
  return out;
}

class JsonDecoderImpl final : public JsonDecoder {
 public:
  JsonDecoderImpl(std::shared_ptr<arrow::Schema> output_schema, std::vector<Column> columns,
                  JsonFormatOptions options)
      : output_schema_(std::move(output_schema)),
        columns_(std::move(columns)),
        options_(options),
        slots_(columns_.size()) {
    for (size_t i = 0; i < columns_.size(); ++i) by_name_.emplace(columns_[i].name, int(i));
  }

  const std::shared_ptr<arrow::Schema>& output_schema() const override { return output_schema_; }

  arrow::Result<DecodedBatch> decode(std::span<const std::string_view> records) override {
    DecodedBatch result;
    for (auto& c : columns_) ARROW_RETURN_NOT_OK(c.builder->Reserve(int64_t(records.size())));
    int64_t rows = 0;
    for (size_t r = 0; r < records.size(); ++r) {
      std::string reason;
      if (decode_record(records[r], &reason)) {
        ARROW_RETURN_NOT_OK(commit());
        ++rows;
      } else if (!options_.ignore_parse_errors) {
        result.errors.push_back({int64_t(r), std::move(reason)});
      }
    }
    std::vector<std::shared_ptr<arrow::Array>> arrays;
    arrays.reserve(columns_.size());
    for (auto& c : columns_) {
      std::shared_ptr<arrow::Array> array;
      ARROW_RETURN_NOT_OK(c.builder->Finish(&array));
      arrays.push_back(std::move(array));
    }
    result.batch = arrow::RecordBatch::Make(output_schema_, rows, std::move(arrays));
    return result;
  }

 private:
  int lookup(std::string_view key, size_t position) {
    if (position < cached_keys_.size() && cached_keys_[position] == key) {
      return cached_columns_[position];
    }
    auto it = by_name_.find(key);
    const int column = it == by_name_.end() ? -1 : it->second;
    if (position >= cached_keys_.size()) {
      cached_keys_.resize(position + 1);
      cached_columns_.resize(position + 1, -1);
      cached_plain_.resize(position + 1, false);
    }
    cached_keys_[position].assign(key);
    cached_columns_[position] = column;
    cached_plain_[position] = key.find_first_of("\\\"") == std::string_view::npos;
    if (position >= cached_short_.size()) cached_short_.resize(position + 1);
    ShortKey& short_key = cached_short_[position];
    short_key.size = key.size() <= sizeof(short_key.bytes) ? uint32_t(key.size()) : UINT32_MAX;
    std::memset(short_key.bytes, 0, sizeof(short_key.bytes));
    if (short_key.size != UINT32_MAX) std::memcpy(short_key.bytes, key.data(), key.size());
    return column;
  }

  // Records of one stream repeat their key order: when the key at `position` is, byte for byte,
  // the one seen there last time (a plain key: no escapes), its column is known without a lookup.
  bool cached_key_matches(const char* raw, size_t position, int* column) const {
    if (position >= cached_keys_.size() || !cached_plain_[position]) return false;
    const std::string& k = cached_keys_[position];
    const char* end = buffer_.data() + buffer_.size();
    if (raw + k.size() >= end || raw[k.size()] != '"' ||
        std::memcmp(raw, k.data(), k.size()) != 0) {
      return false;
    }
    *column = cached_columns_[position];
    return true;
  }

  // The key as it is in the buffer when it has no escapes (no copy), else unescaped.
  simdjson::error_code read_key(od::field& field, std::string_view* key) {
    const char* raw = field.key().raw();
    const char* end = static_cast<const char*>(
        std::memchr(raw, '"', size_t(buffer_.data() + buffer_.size() - raw)));
    if (end != nullptr && std::memchr(raw, '\\', size_t(end - raw)) == nullptr) {
      *key = std::string_view(raw, size_t(end - raw));
      return simdjson::SUCCESS;
    }
    return field.unescaped_key().get(*key);
  }

  bool decode_record(std::string_view text, std::string* reason) {
    for (auto& slot : slots_) slot.state = Slot::kMissing;
    if (options_.structural_fast_path) {
      switch (decode_flat(text, reason)) {
        case Fast::kDecoded:
          return true;
        case Fast::kFailed:    // on-demand words the reason (it may see another fault first)
        case Fast::kFallback:  // not a flat object: on-demand decides
          for (auto& slot : slots_) slot.state = Slot::kMissing;
          break;
      }
    }
    // On-demand reads up to SIMDJSON_PADDING bytes past the end: a padded copy. The padding is
    // blanked so that its verdict on a malformed record does not depend on earlier records.
    if (buffer_.size() < text.size() + sj::SIMDJSON_PADDING) {
      buffer_.resize(text.size() + sj::SIMDJSON_PADDING);
    }
    std::memcpy(buffer_.data(), text.data(), text.size());
    std::memset(buffer_.data() + text.size(), ' ', sj::SIMDJSON_PADDING);
    return decode_on_demand(text.size(), reason);
  }

  // The fast path, for what streams carry: one flat object (scalar values only). It walks the
  // structural index of simdjson's stage 1 (which validated UTF-8, strings and control
  // characters) field by field: key, ':', value, ',' or '}'. Skipped values are not looked at,
  // as on-demand does not either. Anything else (nested values, escaped keys, bad literals,
  // malformed structure, trailing content) and any record that fails (a value that does not
  // convert, a missing field) goes to on-demand, which decides and words the error, so both
  // paths give the same rows and the same reasons (JsonDecoder.FastPathDecodesAsOnDemand).
  enum class Fast { kDecoded, kFailed, kFallback };

  // A key of up to 32 bytes, zero-padded: compared with four word loads instead of a memcmp
  // call (the key comparison per field was the fast path's largest cost).
  struct ShortKey {
    uint32_t size = UINT32_MAX;  // UINT32_MAX: longer than `bytes`, compare the full string
    alignas(8) char bytes[32];
  };

  // `key` lies in buffer_, which has SIMDJSON_PADDING readable bytes after the record.
  static bool short_key_equal(const ShortKey& cached, std::string_view key) {
    if constexpr (std::endian::native != std::endian::little) return false;  // masks assume LE
    if (key.size() != cached.size) return false;
    uint64_t diff = 0;
    for (size_t w = 0; w < 4; ++w) {
      const size_t at = w * 8;
      if (at >= key.size()) break;
      uint64_t a, b;
      std::memcpy(&a, key.data() + at, 8);
      std::memcpy(&b, cached.bytes + at, 8);
      const size_t left = key.size() - at;
      const uint64_t mask = left >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * left)) - 1;
      diff |= (a ^ b) & mask;
    }
    return diff == 0;
  }

  static bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

  // Works in place on the caller's bytes (no copy: the copy was where the record's cache misses
  // landed, a fifth of the decode): stage 1 reads nothing past `len`, and neither does this walk.
  Fast decode_flat(std::string_view text, std::string* reason) {
    const size_t len = text.size();
    if (stage1_ == nullptr || stage1_->capacity() < len) {
      if (stage1_ == nullptr &&
          sj::get_active_implementation()->create_dom_parser_implementation(
              std::max<size_t>(len, 4096), kMaxDepth, stage1_) != sj::SUCCESS) {
        return Fast::kFallback;
      }
      if (stage1_->capacity() < len &&
          stage1_->allocate(std::max(len, 2 * stage1_->capacity()), kMaxDepth) != sj::SUCCESS) {
        return Fast::kFallback;
      }
    }
    const char* buf = text.data();
    const char* record_end = buf + len;
    if (stage1_->stage1(reinterpret_cast<const uint8_t*>(buf), len, sj::stage1_mode::regular) !=
        sj::SUCCESS) {
      return Fast::kFallback;
    }
    const uint32_t* idx = stage1_->structural_indexes.get();
    const uint32_t n = stage1_->n_structural_indexes;
    if (n < 2 || buf[idx[0]] != '{' || buf[idx[n - 1]] != '}') return Fast::kFallback;
    if (buf[idx[1]] == '}') {
      if (n != 2) return Fast::kFallback;
      return missing_field_check(reason) ? Fast::kDecoded : Fast::kFailed;
    }
    if (unescaped_.size() < len + 2 * sj::SIMDJSON_PADDING) {
      unescaped_.resize(len + 2 * sj::SIMDJSON_PADDING);
    }
    size_t unescaped_used = 0;
    size_t position = 0;
    for (uint32_t i = 1;; i += 4, ++position) {
      if (i + 3 >= n) return Fast::kFallback;
      const uint32_t key_at = idx[i];
      const uint32_t value_at = idx[i + 2];
      const uint32_t next_at = idx[i + 3];
      if (buf[key_at] != '"' || buf[idx[i + 1]] != ':') return Fast::kFallback;
      const char end = buf[next_at];
      if (end != ',' && end != '}') return Fast::kFallback;
      const char* key_begin = buf + key_at + 1;
      const char* key_end = buf + idx[i + 1];
      while (key_end > key_begin && is_ws(key_end[-1])) --key_end;
      if (key_end <= key_begin || key_end[-1] != '"') return Fast::kFallback;
      const std::string_view key(key_begin, size_t(key_end - 1 - key_begin));
      int column;
      if (position < cached_short_.size() && key.data() + 32 <= record_end &&
          short_key_equal(cached_short_[position], key)) {
        column = cached_columns_[position];
      } else if (position < cached_keys_.size() && cached_keys_[position] == key) {
        column = cached_columns_[position];
      } else {
        if (std::memchr(key.data(), '\\', key.size()) != nullptr) return Fast::kFallback;
        column = lookup(key, position);
      }
      const char c = buf[value_at];
      if (c == '{' || c == '[' || c == ',' || c == ':' || c == '}' || c == ']') {
        return Fast::kFallback;
      }
      if (column >= 0) {
        Slot& slot = slots_[column];
        slot.state = Slot::kValue;
        if (c == '"') {
          const char* close = buf + next_at;
          while (close > buf + value_at + 1 && is_ws(close[-1])) --close;
          if (close <= buf + value_at + 1 || close[-1] != '"') return Fast::kFallback;
          std::string_view value(buf + value_at + 1, size_t(close - 1 - (buf + value_at + 1)));
          if (std::memchr(value.data(), '\\', value.size()) != nullptr) {
            // parse_string reads whole SIMD blocks: unescape from a padded copy of the string
            // (with its closing quote).
            if (scratch_.size() < value.size() + 1 + sj::SIMDJSON_PADDING) {
              scratch_.resize(value.size() + 1 + sj::SIMDJSON_PADDING);
            }
            std::memcpy(scratch_.data(), value.data(), value.size() + 1);
            auto* dst = reinterpret_cast<uint8_t*>(unescaped_.data() + unescaped_used);
            const uint8_t* written =
                stage1_->parse_string(reinterpret_cast<const uint8_t*>(scratch_.data()), dst);
            if (written == nullptr) return Fast::kFallback;
            value = std::string_view(reinterpret_cast<const char*>(dst), size_t(written - dst));
            unescaped_used += value.size();
          }
          if (!from_text(value, column, reason)) return Fast::kFailed;
        } else {
          std::string_view raw(buf + value_at, next_at - value_at);
          while (!raw.empty() && is_ws(raw.back())) raw.remove_suffix(1);
          if (c == '-' || (c >= '0' && c <= '9')) {
            if (!from_number_text(raw, column, reason)) return Fast::kFailed;
          } else if (raw == "true" || raw == "false") {
            if (!from_bool(raw == "true", column, reason)) return Fast::kFailed;
          } else if (raw == "null") {
            slot.state = Slot::kNull;
          } else {
            return Fast::kFallback;
          }
        }
      }
      if (end == '}') {
        if (i + 4 != n) return Fast::kFallback;  // trailing content
        break;
      }
    }
    return missing_field_check(reason) ? Fast::kDecoded : Fast::kFailed;
  }

  bool missing_field_check(std::string* reason) {
    if (options_.fail_on_missing_field) {
      for (size_t c = 0; c < slots_.size(); ++c) {
        if (slots_[c].state == Slot::kMissing) {
          *reason = fmt::format("field '{}': missing", columns_[c].name);
          return false;
        }
      }
    }
    return true;
  }

  bool decode_on_demand(size_t len, std::string* reason) {
    od::document doc;
    auto error = parser_.iterate(buffer_.data(), len, buffer_.size()).get(doc);
    od::object object;
    if (!error) error = doc.get_object().get(object);
    if (error) {
      *reason = fmt::format("not a JSON object: {}", sj::error_message(error));
      return false;
    }
    size_t position = 0;
    for (auto field_result : object) {
      // By reference: copying the field out of its result made GCC store it piecewise and
      // reload it as one vector (a store-forwarding stall per field, half the decode time).
      if ((error = field_result.error())) {
        *reason = fmt::format("invalid JSON: {}", sj::error_message(error));
        return false;
      }
      od::field& field = field_result.value_unsafe();
      int column;
      if (!cached_key_matches(field.key().raw(), position, &column)) {
        std::string_view key;
        if ((error = read_key(field, &key))) {
          *reason = fmt::format("invalid JSON: {}", sj::error_message(error));
          return false;
        }
        column = lookup(key, position);
      }
      ++position;
      if (column < 0) continue;
      if (!read_value(field.value(), column, reason)) return false;
    }
    if (!doc.current_location().error()) {
      *reason = "invalid JSON: trailing content after the object";
      return false;
    }
    return missing_field_check(reason);
  }

  bool fail(int column, std::string_view what, std::string* reason) {
    *reason = fmt::format("field '{}': cannot read {} as {}", columns_[column].name, what,
                          sql_name(columns_[column].kind));
    return false;
  }

  bool read_value(od::value& value, int column, std::string* reason) {
    Slot& slot = slots_[column];
    const Column& col = columns_[column];
    od::json_type type;
    if (auto error = value.type().get(type)) {
      *reason = fmt::format("field '{}': invalid JSON: {}", col.name, sj::error_message(error));
      return false;
    }
    slot.state = Slot::kValue;
    switch (type) {
      case od::json_type::null:
        if (bool is_null = false; !value.is_null().get(is_null) && is_null) {
          slot.state = Slot::kNull;
          return true;
        }
        *reason = fmt::format("field '{}': invalid JSON literal", col.name);
        return false;
      case od::json_type::string: {
        std::string_view s;
        if (auto error = value.get_string().get(s)) {
          *reason = fmt::format("field '{}': invalid JSON string: {}", col.name,
                                sj::error_message(error));
          return false;
        }
        return from_text(s, column, reason);
      }
      case od::json_type::boolean: {
        bool b;
        if (value.get_bool().get(b)) {
          *reason = fmt::format("field '{}': invalid JSON literal", col.name);
          return false;
        }
        return from_bool(b, column, reason);
      }
      case od::json_type::number:
        return from_number(value, column, reason);
      case od::json_type::object:
      case od::json_type::array: {
        std::string_view raw;
        simdjson::error_code error;
        if (type == od::json_type::object) {
          od::object nested;
          error = value.get_object().get(nested);
          if (!error) error = nested.raw_json().get(raw);
        } else {
          od::array nested;
          error = value.get_array().get(nested);
          if (!error) error = nested.raw_json().get(raw);
        }
        if (error) {
          *reason = fmt::format("field '{}': invalid JSON: {}", col.name, sj::error_message(error));
          return false;
        }
        if (col.kind == Kind::kString || col.kind == Kind::kLargeString) {
          slot.s = raw;
          return true;
        }
        return fail(column, type == od::json_type::object ? "an object" : "an array", reason);
      }
    }
    return fail(column, "a value", reason);
  }

  bool from_bool(bool b, int column, std::string* reason) {
    Slot& slot = slots_[column];
    const Column& col = columns_[column];
    if (col.kind == Kind::kBool) {
      slot.i = b;
      return true;
    }
    if (col.kind == Kind::kString || col.kind == Kind::kLargeString) {
      slot.s = b ? "true" : "false";
      return true;
    }
    return fail(column, b ? "true" : "false", reason);
  }

  bool from_number(od::value& value, int column, std::string* reason) {
    std::string_view raw = java_trim(value.raw_json_token());
    while (!raw.empty() && (raw.back() == ',' || raw.back() == '}' || raw.back() == ']')) {
      raw.remove_suffix(1);  // raw_json_token may run up to the next structural character
      raw = java_trim(raw);
    }
    return from_number_text(raw, column, reason);
  }

  // `raw`: the number's JSON text, trimmed.
  bool from_number_text(std::string_view raw, int column, std::string* reason) {
    Slot& slot = slots_[column];
    const Column& col = columns_[column];
    raw = java_trim(raw);
    switch (col.kind) {
      case Kind::kString:
      case Kind::kLargeString:
        slot.s = raw;
        return true;
      case Kind::kInt8:
      case Kind::kInt16:
      case Kind::kInt32:
      case Kind::kInt64: {
        int64_t v;
        if (parse_int64_text(raw, &v)) {
          if (!int_in_range(col.kind, v)) return fail(column, raw, reason);
          slot.i = v;
          return true;
        }
        // Jackson's asLong() on a floating-point node truncates toward zero.
        double d;
        if (!parse_double_text(raw, &d) || !std::isfinite(d) || d >= 9.2233720368547758e18 ||
            d < -9.2233720368547758e18) {
          return fail(column, raw, reason);
        }
        slot.i = static_cast<int64_t>(d);
        if (!int_in_range(col.kind, slot.i)) return fail(column, raw, reason);
        return true;
      }
      case Kind::kFloat:
      case Kind::kDouble:
        if (!parse_double_text(raw, &slot.d)) return fail(column, raw, reason);
        return true;
      case Kind::kDecimal:
        return decimal_from_text(raw, column, reason);
      case Kind::kBool:
        // Flink: Boolean.parseBoolean(node.asText()) -> a number is false.
        slot.i = 0;
        return true;
      case Kind::kTimestamp:
      case Kind::kDate32:
        return fail(column, raw, reason);
    }
    return fail(column, raw, reason);
  }

  bool decimal_from_text(std::string_view text, int column, std::string* reason) {
    const auto& type = static_cast<const arrow::Decimal128Type&>(*columns_[column].type);
    int32_t precision = 0, scale = 0;
    arrow::Decimal128 value;
    if (!arrow::Decimal128::FromString(java_trim(text), &value, &precision, &scale).ok()) {
      return fail(column, quoted_excerpt(text), reason);
    }
    auto rescaled = value.Rescale(scale, type.scale());
    if (!rescaled.ok() && scale > type.scale()) {
      // More fractional digits than the column keeps: round half up like Flink's DecimalData.
      value = value.ReduceScaleBy(scale - type.scale(), /*round=*/true);
    } else if (!rescaled.ok()) {
      return fail(column, quoted_excerpt(text), reason);
    } else {
      value = *rescaled;
    }
    if (!value.FitsInPrecision(type.precision())) return fail(column, quoted_excerpt(text), reason);
    slots_[column].dec = value;
    return true;
  }

  bool from_text(std::string_view s, int column, std::string* reason) {
    Slot& slot = slots_[column];
    const Column& col = columns_[column];
    if (col.kind != Kind::kString && col.kind != Kind::kLargeString && is_blank(s)) {
      slot.state = Slot::kNull;
      return true;
    }
    switch (col.kind) {
      case Kind::kString:
      case Kind::kLargeString:
        slot.s = s;
        return true;
      case Kind::kBool:
        slot.i = parse_flink_bool(s);
        return true;
      case Kind::kInt8:
      case Kind::kInt16:
      case Kind::kInt32:
      case Kind::kInt64:
        if (!parse_int64_text(s, &slot.i) || !int_in_range(col.kind, slot.i)) {
          return fail(column, quoted_excerpt(s), reason);
        }
        return true;
      case Kind::kFloat:
      case Kind::kDouble:
        if (!parse_double_text(s, &slot.d)) return fail(column, quoted_excerpt(s), reason);
        return true;
      case Kind::kTimestamp:
        if (!parse_timestamp_text(s, col.unit, &slot.i)) {
          return fail(column, quoted_excerpt(s), reason);
        }
        return true;
      case Kind::kDate32: {
        int32_t days;
        if (!parse_date_text(s, &days)) return fail(column, quoted_excerpt(s), reason);
        slot.i = days;
        return true;
      }
      case Kind::kDecimal:
        return decimal_from_text(s, column, reason);
    }
    return fail(column, quoted_excerpt(s), reason);
  }

  arrow::Status commit() {
    for (size_t c = 0; c < columns_.size(); ++c) {
      const Slot& slot = slots_[c];
      arrow::ArrayBuilder* b = columns_[c].builder.get();
      if (slot.state != Slot::kValue) {
        ARROW_RETURN_NOT_OK(b->AppendNull());
        continue;
      }
      switch (columns_[c].kind) {
        case Kind::kString:
          ARROW_RETURN_NOT_OK(static_cast<arrow::StringBuilder*>(b)->Append(slot.s));
          break;
        case Kind::kLargeString:
          ARROW_RETURN_NOT_OK(static_cast<arrow::LargeStringBuilder*>(b)->Append(slot.s));
          break;
        case Kind::kBool:
          static_cast<arrow::BooleanBuilder*>(b)->UnsafeAppend(slot.i != 0);
          break;
        case Kind::kInt8:
          static_cast<arrow::Int8Builder*>(b)->UnsafeAppend(static_cast<int8_t>(slot.i));
          break;
        case Kind::kInt16:
          static_cast<arrow::Int16Builder*>(b)->UnsafeAppend(static_cast<int16_t>(slot.i));
          break;
        case Kind::kInt32:
          static_cast<arrow::Int32Builder*>(b)->UnsafeAppend(static_cast<int32_t>(slot.i));
          break;
        case Kind::kInt64:
          static_cast<arrow::Int64Builder*>(b)->UnsafeAppend(slot.i);
          break;
        case Kind::kFloat:
          static_cast<arrow::FloatBuilder*>(b)->UnsafeAppend(static_cast<float>(slot.d));
          break;
        case Kind::kDouble:
          static_cast<arrow::DoubleBuilder*>(b)->UnsafeAppend(slot.d);
          break;
        case Kind::kTimestamp:
          static_cast<arrow::TimestampBuilder*>(b)->UnsafeAppend(slot.i);
          break;
        case Kind::kDate32:
          static_cast<arrow::Date32Builder*>(b)->UnsafeAppend(static_cast<int32_t>(slot.i));
          break;
        case Kind::kDecimal:
          ARROW_RETURN_NOT_OK(static_cast<arrow::Decimal128Builder*>(b)->Append(slot.dec));
          break;
      }
    }
    return arrow::Status::OK();
  }

  std::shared_ptr<arrow::Schema> output_schema_;
  std::vector<Column> columns_;
  JsonFormatOptions options_;
  std::vector<Slot> slots_;
  std::unordered_map<std::string_view, int> by_name_;
  std::vector<std::string> cached_keys_;  // key seen at each position in the previous record
  std::vector<int> cached_columns_;
  std::vector<bool> cached_plain_;  // the cached key has no '\\' or '"' (see cached_key_matches)
  std::vector<ShortKey> cached_short_;  // the same keys, for the fast path's comparison
  od::parser parser_;
  std::string buffer_;
  static constexpr size_t kMaxDepth = 1024;
  std::unique_ptr<sj::internal::dom_parser_implementation> stage1_;  // the fast path's stage 1
  std::string unescaped_;  // the fast path's unescaped strings of the current record
  std::string scratch_;    // padded copy of an escaped string for parse_string
};

}  // namespace

arrow::Result<std::unique_ptr<JsonDecoder>> JsonDecoder::make(std::shared_ptr<arrow::Schema> schema,
                                                              std::vector<int> projection,
                                                              JsonFormatOptions options) {
  std::vector<Column> columns;
  arrow::FieldVector fields;
  for (int index : projection) {
    if (index < 0 || index >= schema->num_fields()) {
      return arrow::Status::Invalid("json decoder: projection index ", index, " out of range");
    }
    const auto& field = schema->field(index);
    Column column;
    column.name = field->name();
    column.type = field->type();
    ARROW_ASSIGN_OR_RAISE(column.kind, kind_of(*field->type()));
    if (column.kind == Kind::kTimestamp) {
      column.unit = static_cast<const arrow::TimestampType&>(*field->type()).unit();
    }
    ARROW_ASSIGN_OR_RAISE(column.builder, arrow::MakeBuilder(field->type()));
    columns.push_back(std::move(column));
    fields.push_back(field);
  }
  return std::make_unique<JsonDecoderImpl>(arrow::schema(std::move(fields)), std::move(columns),
                                           options);
}

namespace {

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Skips whitespace from *pos, counting newlines.
void skip_blanks(std::string_view buffer, size_t* pos, int64_t* line) {
  size_t i = *pos;
  for (; i < buffer.size() && is_json_space(buffer[i]); ++i) {
    if (buffer[i] == '\n') ++*line;
  }
  *pos = i;
}

}  // namespace

arrow::Status split_json_objects(std::string_view buffer, std::vector<std::string_view>* objects,
                                 std::vector<int64_t>* first_line) {
  return split_json_objects(buffer, 1, SIZE_MAX, objects, first_line).status();
}

arrow::Result<JsonSplit> split_json_objects(std::string_view buffer, int64_t line,
                                            size_t max_objects,
                                            std::vector<std::string_view>* objects,
                                            std::vector<int64_t>* first_line) {
  int depth = 0;
  bool in_string = false;
  size_t start = 0;
  int64_t start_line = 0;
  size_t found = 0;
  for (size_t i = 0; i < buffer.size(); ++i) {
    const char c = buffer[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      } else if (c == '\n') {
        ++line;
      }
      continue;
    }
    if (depth == 0 && found == max_objects && !is_json_space(c)) return JsonSplit{i, line};
    switch (c) {
      case '\n':
        ++line;
        break;
      case '"':
        if (depth == 0) {
          return arrow::Status::Invalid("line ", line, ": expected a JSON object, found a string");
        }
        in_string = true;
        break;
      case '{':
      case '[':
        if (depth == 0) {
          if (c == '[') {
            return arrow::Status::Invalid("line ", line,
                                          ": expected a JSON object per record, found an array");
          }
          start = i;
          start_line = line;
        }
        ++depth;
        break;
      case '}':
      case ']':
        if (depth == 0) return arrow::Status::Invalid("line ", line, ": unbalanced '", c, "'");
        if (--depth == 0) {
          objects->push_back(buffer.substr(start, i + 1 - start));
          if (first_line) first_line->push_back(start_line);
          ++found;
        }
        break;
      case ' ':
      case '\t':
      case '\r':
        break;
      default:
        if (depth == 0) {
          return arrow::Status::Invalid("line ", line, ": unexpected '", c,
                                        "' between JSON records");
        }
    }
  }
  if (depth != 0 || in_string) {
    return arrow::Status::Invalid("line ", start_line, ": JSON object not closed at end of input");
  }
  return JsonSplit{buffer.size(), line};
}

bool split_json_lines(std::string_view buffer, int64_t line, size_t max_objects,
                      std::vector<std::string_view>* objects, std::vector<int64_t>* first_line,
                      JsonSplit* split) {
  const char* data = buffer.data();
  const size_t size = buffer.size();
  size_t pos = 0;
  skip_blanks(buffer, &pos, &line);
  for (size_t found = 0; found < max_objects && pos < size; ++found) {
    const auto* newline = static_cast<const char*>(std::memchr(data + pos, '\n', size - pos));
    size_t end = newline != nullptr ? size_t(newline - data) : size;
    while (end > pos && is_json_space(data[end - 1])) --end;  // pos is not blank: skip_blanks
    if (data[pos] != '{' || data[end - 1] != '}') return false;
    objects->push_back(buffer.substr(pos, end - pos));
    if (first_line) first_line->push_back(line);
    pos = newline != nullptr ? size_t(newline - data) : size;
    skip_blanks(buffer, &pos, &line);
  }
  *split = JsonSplit{pos, line};
  return true;
}

// ---------------------------------------------------------------------------------------------
// Encoder

namespace {

void append_escaped(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

void append_double(double v, std::string* out) {
  if (!std::isfinite(v)) {
    // Jackson writes NaN/Infinity as strings when numbers cannot hold them.
    out->append(std::isnan(v) ? "\"NaN\"" : (v > 0 ? "\"Infinity\"" : "\"-Infinity\""));
    return;
  }
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  std::string_view text(buf, size_t(ptr - buf));
  out->append(text);
  if (text.find_first_of(".eE") == std::string_view::npos) out->append(".0");  // Java's 3.0
}

class JsonEncoderImpl final : public JsonEncoder {
 public:
  JsonEncoderImpl(std::shared_ptr<arrow::Schema> schema, JsonFormatOptions options)
      : schema_(std::move(schema)), options_(options) {
    for (int i = 0; i < schema_->num_fields(); ++i) {
      std::string prefix = i == 0 ? "{" : ",";
      append_escaped(schema_->field(i)->name(), &prefix);
      prefix.push_back(':');
      prefixes_.push_back(std::move(prefix));
    }
  }

  void encode_row(const arrow::RecordBatch& batch, int64_t row, std::string* out) override {
    if (schema_->num_fields() == 0) {
      out->append("{}");
      return;
    }
    for (int c = 0; c < batch.num_columns(); ++c) {
      out->append(prefixes_[c]);
      append_cell(*batch.column(c), row, out);
    }
    out->push_back('}');
  }

 private:
  void append_cell(const arrow::Array& array, int64_t row, std::string* out) {
    if (array.IsNull(row)) {
      out->append("null");
      return;
    }
    switch (array.type_id()) {
      case arrow::Type::STRING:
        append_escaped(static_cast<const arrow::StringArray&>(array).GetView(row), out);
        return;
      case arrow::Type::LARGE_STRING:
        append_escaped(static_cast<const arrow::LargeStringArray&>(array).GetView(row), out);
        return;
      case arrow::Type::BOOL:
        out->append(static_cast<const arrow::BooleanArray&>(array).Value(row) ? "true" : "false");
        return;
      case arrow::Type::INT8:
        fmt::format_to(std::back_inserter(*out), "{}",
                       static_cast<const arrow::Int8Array&>(array).Value(row));
        return;
      case arrow::Type::INT16:
        fmt::format_to(std::back_inserter(*out), "{}",
                       static_cast<const arrow::Int16Array&>(array).Value(row));
        return;
      case arrow::Type::INT32:
        fmt::format_to(std::back_inserter(*out), "{}",
                       static_cast<const arrow::Int32Array&>(array).Value(row));
        return;
      case arrow::Type::INT64: {
        char buf[24];
        auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf),
                                       static_cast<const arrow::Int64Array&>(array).Value(row));
        out->append(buf, size_t(ptr - buf));
        return;
      }
      case arrow::Type::FLOAT:
        append_double(static_cast<const arrow::FloatArray&>(array).Value(row), out);
        return;
      case arrow::Type::DOUBLE:
        append_double(static_cast<const arrow::DoubleArray&>(array).Value(row), out);
        return;
      case arrow::Type::TIMESTAMP: {
        const auto& ts = static_cast<const arrow::TimestampArray&>(array);
        const auto unit = static_cast<const arrow::TimestampType&>(*array.type()).unit();
        out->push_back('"');
        const size_t at = out->size();
        append_iso8601(to_micros(ts.Value(row), unit), *out);
        if (options_.timestamp_standard == TimestampStandard::kSql) (*out)[at + 10] = ' ';
        out->push_back('"');
        return;
      }
      case arrow::Type::DATE32: {
        const int64_t days = static_cast<const arrow::Date32Array&>(array).Value(row);
        std::string text = format_iso8601(days * 86400LL * 1000000);
        out->push_back('"');
        out->append(text.substr(0, 10));
        out->push_back('"');
        return;
      }
      case arrow::Type::DECIMAL128:
        out->append(static_cast<const arrow::Decimal128Array&>(array).FormatValue(row));
        return;
      default: {
        auto scalar = array.GetScalar(row);
        append_escaped(scalar.ok() ? (*scalar)->ToString() : std::string("?"), out);
      }
    }
  }

  std::shared_ptr<arrow::Schema> schema_;
  JsonFormatOptions options_;
  std::vector<std::string> prefixes_;
};

}  // namespace

arrow::Result<std::unique_ptr<JsonEncoder>> JsonEncoder::make(std::shared_ptr<arrow::Schema> schema,
                                                              JsonFormatOptions options) {
  return std::make_unique<JsonEncoderImpl>(std::move(schema), options);
}

arrow::Result<std::vector<std::string>> JsonEncoder::encode(const arrow::RecordBatch& batch) {
  std::vector<std::string> rows(size_t(batch.num_rows()));
  for (int64_t r = 0; r < batch.num_rows(); ++r) encode_row(batch, r, &rows[size_t(r)]);
  return rows;
}

}  // namespace roadpulse::exec
