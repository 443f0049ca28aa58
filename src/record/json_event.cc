#include "record/json_event.h"

#include <array>
#include <charconv>
#include <cstring>
#include <unordered_map>

#include <simdjson.h>

#include "common/json_text.h"

namespace roadpulse::record {

namespace {

// 1: byte needs escaping, 2: non-ASCII (UTF-8 to validate), 0: copied as is.
constexpr std::array<uint8_t, 256> make_escape_table() {
  std::array<uint8_t, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = 1;
  table['"'] = 1;
  table['\\'] = 1;
  for (int c = 0x80; c < 0x100; ++c) table[c] = 2;
  return table;
}
constexpr auto kEscapeTable = make_escape_table();

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Whether `s` contains any of the characters of `set`. A plain loop: the standard library's
// version calls memchr once per character of `s`.
bool contains_any(std::string_view s, std::string_view set) {
  for (char c : s) {
    for (char t : set) {
      if (c == t) return true;
    }
  }
  return false;
}

// "YYYY-MM-DD[ T]hh:mm:ss[.f{1,9}]": the forms whose digits we copy verbatim (with 'T').
bool is_plain_timestamp(std::string_view s) {
  if (s.size() < 19) return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18}) {
    if (!is_digit(s[i])) return false;
  }
  if (s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' ||
      s[16] != ':') {
    return false;
  }
  if (s.size() == 19) return true;
  if (s[19] != '.' || s.size() < 21 || s.size() > 29) return false;
  for (size_t i = 20; i < s.size(); ++i) {
    if (!is_digit(s[i])) return false;
  }
  return true;
}

arrow::Status field_error(size_t index, const Column& column, std::string_view what,
                          std::string_view text) {
  return arrow::Status::Invalid("field ", index + 1, " '", column.name, "': expected ", what,
                                ", found '", text, "'");
}

}  // namespace

bool append_json_string(std::string_view text, std::string& out) {
  const size_t mark = out.size();
  out.push_back('"');
  const char* p = text.data();
  const char* const end = p + text.size();
  bool checked_utf8 = false;
  while (p < end) {
    const char* run = p;
    while (p < end && kEscapeTable[static_cast<uint8_t>(*p)] == 0) ++p;
    out.append(run, static_cast<size_t>(p - run));
    if (p == end) break;
    const auto c = static_cast<uint8_t>(*p);
    if (kEscapeTable[c] == 2) {
      if (!checked_utf8) {
        if (!simdjson::validate_utf8(text.data(), text.size())) {
          out.resize(mark);
          return false;
        }
        checked_utf8 = true;
      }
      out.push_back(static_cast<char>(c));
      ++p;
      continue;
    }
    roadpulse::append_json_escape(c, out);
    ++p;
  }
  out.push_back('"');
  return true;
}

JsonEventEncoder::JsonEventEncoder(Schema schema) : schema_(std::move(schema)) {
  prefixes_.reserve(schema_.size());
  for (size_t i = 0; i < schema_.size(); ++i) {
    std::string prefix = i == 0 ? "{" : ",";
    // Schema::from_header guarantees UTF-8 names, so this cannot fail.
    append_json_string(schema_.column(i).name, prefix);
    prefix += ':';
    prefixes_.push_back(std::move(prefix));
  }
  has_txn_column_ = schema_.index_of(kTxnTimestampField) >= 0;
  txn_prefix_ = schema_.size() == 0 ? "{" : ",";
  txn_prefix_ += "\"Txn_Timestamp\":\"";
}

arrow::Status JsonEventEncoder::append(std::span<const std::string_view> fields,
                                       std::string_view txn_timestamp, std::string& out) const {
  if (fields.size() != schema_.size()) {
    return arrow::Status::Invalid("expected ", schema_.size(), " fields, found ", fields.size());
  }
  const size_t mark = out.size();
  auto fail = [&](arrow::Status status) {
    out.resize(mark);
    return status;
  };
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string_view text = fields[i];
    const Column& column = schema_.column(i);
    out += prefixes_[i];
    if (text.empty()) {
      out.append("null");
      continue;
    }
    switch (column.type) {
      case FieldType::kString:
        if (!append_json_string(text, out)) {
          return fail(
              arrow::Status::Invalid("field ", i + 1, " '", column.name, "': not valid UTF-8"));
        }
        break;
      case FieldType::kInt: {
        // Up to 18 digits always fits an int64: copy; longer ones are range-checked.
        if (text.size() <= 18 && !contains_any(text, ".eE") && is_json_number(text)) {
          out.append(text);
          break;
        }
        int64_t v = 0;
        if (!parse_int64(text, &v)) return fail(field_error(i, column, "an integer", text));
        char buf[24];
        out.append(buf, static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, v).ptr - buf));
        break;
      }
      case FieldType::kDouble: {
        // Without an exponent and under 300 characters a JSON number is a finite double: copy
        // it. Anything else is range-checked, so "1e999" is rejected, not turned into inf.
        if (text.size() < 300 && !contains_any(text, "eE") && is_json_number(text)) {
          out.append(text);
          break;
        }
        double v = 0;
        if (!parse_finite_double(text, &v)) return fail(field_error(i, column, "a number", text));
        if (is_json_number(text)) {
          out.append(text);
          break;
        }
        // Not JSON's spelling (".5", "+1", "1.") but a number: write the same value in JSON's.
        char buf[32];
        out.append(buf, static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, v).ptr - buf));
        break;
      }
      case FieldType::kBool: {
        bool v = false;
        if (!parse_bool(text, &v)) return fail(field_error(i, column, "True or False", text));
        out.append(v ? "true" : "false");
        break;
      }
      case FieldType::kTimestamp: {
        const auto ts = parse_timestamp(text);
        if (!ts.ok()) {
          return fail(field_error(i, column, "a timestamp (YYYY-MM-DD hh:mm:ss[.f])", text));
        }
        out.push_back('"');
        if (is_plain_timestamp(text)) {
          const size_t at = out.size();
          out.append(text);
          out[at + 10] = 'T';
        } else {
          append_iso8601(*ts, out);  // other accepted forms (zone offsets, no seconds): UTC
        }
        out.push_back('"');
        break;
      }
    }
  }
  if (has_txn_column_) {
    out.push_back('}');  // the row carries its own Txn_Timestamp (e.g. re-played events)
  } else {
    out += txn_prefix_;
    out.append(txn_timestamp);
    out.append("\"}");
  }
  return arrow::Status::OK();
}

// --- decoder -------------------------------------------------------------------------------

struct JsonEventDecoder::Impl {
  simdjson::ondemand::parser parser;
  std::string padded;  // the input copied with simdjson's padding after it
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int, Hash, std::equal_to<>> index;
};

JsonEventDecoder::JsonEventDecoder(Schema schema)
    : schema_(std::move(schema)), impl_(std::make_unique<Impl>()) {}

JsonEventDecoder::~JsonEventDecoder() = default;

arrow::Result<std::unique_ptr<JsonEventDecoder>> JsonEventDecoder::make(Schema schema) {
  std::unique_ptr<JsonEventDecoder> decoder(new JsonEventDecoder(std::move(schema)));
  for (size_t i = 0; i < decoder->schema_.size(); ++i) {
    decoder->impl_->index.emplace(decoder->schema_.column(i).name, static_cast<int>(i));
  }
  return decoder;
}

namespace {

std::string_view trim_right(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

arrow::Status json_error(std::string_view where, simdjson::error_code error) {
  return arrow::Status::Invalid("invalid JSON event", where, ": ", simdjson::error_message(error));
}

// Reads one JSON value as `type`. Strings are read as the CSV text would be (the reference
// simulator's shape); numbers and booleans must fit the column.
arrow::Result<Value> decode_value(simdjson::ondemand::value value, FieldType type,
                                  std::string_view name) {
  using simdjson::ondemand::json_type;
  json_type json_kind;
  if (auto error = value.type().get(json_kind))
    return json_error(" at '" + std::string(name) + "'", error);
  auto wrong = [&](std::string_view found) {
    return arrow::Status::Invalid("field '", name, "': expected ", field_type_name(type),
                                  ", found ", found);
  };
  switch (json_kind) {
    case json_type::null: {
      bool is_null = false;
      if (auto error = value.is_null().get(is_null); error || !is_null) {
        return json_error(" at '" + std::string(name) + "'", simdjson::INCORRECT_TYPE);
      }
      return Value{};
    }
    case json_type::string: {
      std::string_view text;
      if (auto error = value.get_string().get(text)) {
        return json_error(" at '" + std::string(name) + "'", error);
      }
      auto parsed = parse_value(type, text);
      if (!parsed.ok()) {
        return arrow::Status::Invalid("field '", name, "': ", parsed.status().message());
      }
      return parsed;
    }
    case json_type::number: {
      const std::string_view raw = trim_right(value.raw_json_token());
      if (type == FieldType::kBool || type == FieldType::kTimestamp) {
        return wrong("the number " + std::string(raw));
      }
      if (type == FieldType::kDouble) {
        double v = 0;
        if (auto error = value.get_double().get(v)) {
          return json_error(" at '" + std::string(name) + "'", error);
        }
        return Value{Number{v, std::string(raw)}};
      }
      if (type == FieldType::kInt) {
        int64_t v = 0;
        if (value.get_int64().get(v) != simdjson::SUCCESS) {
          return wrong("the number " + std::string(raw));
        }
        return Value{v};
      }
      return Value{std::string(raw)};  // a string column holding a number: keep its text
    }
    case json_type::boolean: {
      bool v = false;
      if (auto error = value.get_bool().get(v)) {
        return json_error(" at '" + std::string(name) + "'", error);
      }
      if (type == FieldType::kBool) return Value{v};
      if (type == FieldType::kString) return Value{std::string(v ? "True" : "False")};
      return wrong(v ? "true" : "false");
    }
    case json_type::object:
      return wrong("an object");
    case json_type::array:
      return wrong("an array");
  }
  return wrong("an unknown JSON value");
}

}  // namespace

arrow::Result<DecodedEvent> JsonEventDecoder::decode(std::string_view json) {
  json = trim_right(json);
  std::string& padded = impl_->padded;
  padded.assign(json);
  padded.resize(json.size() + simdjson::SIMDJSON_PADDING, '\0');

  simdjson::ondemand::document doc;
  if (auto error = impl_->parser.iterate(padded.data(), json.size(), padded.size()).get(doc)) {
    return json_error("", error);
  }
  simdjson::ondemand::object object;
  if (auto error = doc.get_object().get(object)) {
    return json_error(" (expected one JSON object)", error);
  }
  DecodedEvent event;
  event.row.resize(schema_.size());
  size_t expected = 0;
  for (auto field_result : object) {
    simdjson::ondemand::field field;
    if (auto error = std::move(field_result).get(field)) return json_error("", error);
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return json_error(" (key)", error);
    // Events usually carry the columns in schema order: try the next column before hashing.
    int i = -1;
    if (expected < schema_.size() && schema_.column(expected).name == key) {
      i = static_cast<int>(expected);
    } else if (const auto it = impl_->index.find(key); it != impl_->index.end()) {
      i = it->second;
    }
    if (i >= 0) {
      expected = static_cast<size_t>(i) + 1;
      ARROW_ASSIGN_OR_RAISE(event.row[i], decode_value(field.value(), schema_.column(i).type, key));
      if (key == kTxnTimestampField) {
        if (const auto* ts = std::get_if<Timestamp>(&event.row[i]))
          event.txn_timestamp = ts->micros;
      }
    } else if (key == kTxnTimestampField) {
      ARROW_ASSIGN_OR_RAISE(Value v, decode_value(field.value(), FieldType::kTimestamp, key));
      if (const auto* ts = std::get_if<Timestamp>(&v)) event.txn_timestamp = ts->micros;
    } else {
      // Not ours to read, but it must still be well-formed JSON.
      simdjson::ondemand::value other = field.value();
      simdjson::ondemand::json_type kind;
      std::string_view skipped;
      simdjson::error_code error = other.type().get(kind);
      if (!error && kind == simdjson::ondemand::json_type::object) {
        simdjson::ondemand::object nested;
        error = other.get_object().get(nested);
        if (!error) error = nested.raw_json().get(skipped);
      } else if (!error && kind == simdjson::ondemand::json_type::array) {
        simdjson::ondemand::array nested;
        error = other.get_array().get(nested);
        if (!error) error = nested.raw_json().get(skipped);
      } else if (!error) {
        skipped = other.raw_json_token();
      }
      if (error) return json_error(" at '" + std::string(key) + "'", error);
    }
  }
  // Anything after the object (a second document, stray characters) is an error.
  const char* location = nullptr;
  if (doc.current_location().get(location) == simdjson::SUCCESS) {
    return arrow::Status::Invalid("invalid JSON event: unexpected text after the object at byte ",
                                  location - padded.data());
  }
  return event;
}

}  // namespace roadpulse::record
