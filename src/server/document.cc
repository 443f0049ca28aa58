#include "server/document.h"
#include "common/json_text.h"

#include <cbor.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <cmath>
#include <limits>
#include <optional>

#include "common/time.h"

namespace roadpulse::server {

Document Document::boolean(bool v) {
  Document d;
  d.kind_ = Kind::kBool;
  d.int_ = v ? 1 : 0;
  return d;
}
Document Document::integer(int64_t v) {
  Document d;
  d.kind_ = Kind::kInt;
  d.int_ = v;
  return d;
}
Document Document::real(double v) {
  Document d;
  d.kind_ = Kind::kDouble;
  d.double_ = v;
  return d;
}
Document Document::string(std::string v) {
  Document d;
  d.kind_ = Kind::kString;
  d.text_ = std::move(v);
  return d;
}
Document Document::bytes(std::string v) {
  Document d;
  d.kind_ = Kind::kBytes;
  d.text_ = std::move(v);
  return d;
}
Document Document::time_ms(int64_t ms) {
  Document d;
  d.kind_ = Kind::kTime;
  d.int_ = ms;
  return d;
}
Document Document::array() {
  Document d;
  d.kind_ = Kind::kArray;
  return d;
}
Document Document::map() {
  Document d;
  d.kind_ = Kind::kMap;
  return d;
}

const Document* Document::find(std::string_view key) const {
  for (const auto& [k, v] : fields_) {
    if (k == key) return &v;
  }
  return nullptr;
}

Document& Document::push(Document value) {
  items_.push_back(std::move(value));
  return items_.back();
}

Document& Document::set(std::string key, Document value) {
  fields_.emplace_back(std::move(key), std::move(value));
  return *this;
}

const char* Document::kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "boolean";
    case Kind::kInt:
      return "integer";
    case Kind::kDouble:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kBytes:
      return "blob";
    case Kind::kArray:
      return "list";
    case Kind::kMap:
      return "structure";
    case Kind::kTime:
      return "timestamp";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// JSON

namespace {

arrow::Result<Document> from_simdjson(simdjson::dom::element element, int depth) {
  if (depth > kMaxDocumentDepth) {
    return arrow::Status::Invalid("JSON nests deeper than ", kMaxDocumentDepth, " levels");
  }
  using simdjson::dom::element_type;
  switch (element.type()) {
    case element_type::OBJECT: {
      Document doc = Document::map();
      simdjson::dom::object object;
      if (element.get_object().get(object)) return arrow::Status::Invalid("bad JSON object");
      for (auto field : object) {
        ARROW_ASSIGN_OR_RAISE(Document value, from_simdjson(field.value, depth + 1));
        doc.set(std::string(field.key), std::move(value));
      }
      return doc;
    }
    case element_type::ARRAY: {
      Document doc = Document::array();
      simdjson::dom::array array;
      if (element.get_array().get(array)) return arrow::Status::Invalid("bad JSON array");
      for (auto item : array) {
        ARROW_ASSIGN_OR_RAISE(Document value, from_simdjson(item, depth + 1));
        doc.push(std::move(value));
      }
      return doc;
    }
    case element_type::STRING:
      return Document::string(std::string(element.get_string().value_unsafe()));
    case element_type::INT64:
      return Document::integer(element.get_int64().value_unsafe());
    case element_type::UINT64:
      // Above INT64_MAX: keep the magnitude as a double, validators reject it as out of range.
      return Document::real(static_cast<double>(element.get_uint64().value_unsafe()));
    case element_type::DOUBLE:
      return Document::real(element.get_double().value_unsafe());
    case element_type::BOOL:
      return Document::boolean(element.get_bool().value_unsafe());
    case element_type::NULL_VALUE:
      return Document::null();
  }
  return arrow::Status::Invalid("unsupported JSON value");
}

void append_json(const Document& doc, std::string& out) {
  switch (doc.kind()) {
    case Document::Kind::kNull:
      out.append("null");
      return;
    case Document::Kind::kBool:
      out.append(doc.as_bool() ? "true" : "false");
      return;
    case Document::Kind::kInt:
      fmt::format_to(std::back_inserter(out), "{}", doc.as_int());
      return;
    case Document::Kind::kDouble:
      if (std::isfinite(doc.as_double())) {
        fmt::format_to(std::back_inserter(out), "{}", doc.as_double());
      } else {
        out.append("null");
      }
      return;
    case Document::Kind::kString:
      append_json_string(doc.as_string(), out);
      return;
    case Document::Kind::kBytes:
      out.push_back('"');
      base64_encode_append(doc.as_string(), out);
      out.push_back('"');
      return;
    case Document::Kind::kTime: {
      // Epoch seconds with millisecond fraction, as the AWS JSON protocols send timestamps.
      const int64_t ms = doc.as_time_ms();
      const int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
      fmt::format_to(std::back_inserter(out), "{}.{:03}", sec, ms - sec * 1000);
      return;
    }
    case Document::Kind::kArray: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : doc.items()) {
        if (!first) out.push_back(',');
        first = false;
        append_json(item, out);
      }
      out.push_back(']');
      return;
    }
    case Document::Kind::kMap: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, value] : doc.fields()) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(key, out);
        out.push_back(':');
        append_json(value, out);
      }
      out.push_back('}');
      return;
    }
  }
}

}  // namespace

arrow::Result<Document> decode_json(std::string_view body) {
  // One parser per thread keeps its buffers between requests.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  const auto error = parser.parse(body.data(), body.size(), /*realloc_if_needed=*/true).get(root);
  if (error) {
    return arrow::Status::Invalid("malformed JSON body: ", simdjson::error_message(error));
  }
  return from_simdjson(root, 0);
}

std::string encode_json(const Document& doc) {
  std::string out;
  out.reserve(256);
  append_json(doc, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// CBOR

namespace {

// Builds a Document from libcbor's streaming callbacks. libcbor reports one data item (or item
// header) per call; containers are tracked on an explicit stack, so depth is bounded by us.
struct CborBuilder {
  struct Frame {
    Document doc;
    bool is_map = false;
    bool indefinite = false;
    uint64_t remaining = 0;  // items left in a definite container (keys count too)
    bool have_key = false;
    std::string key;
  };

  std::vector<Frame> stack;
  std::optional<Document> root;
  std::optional<uint64_t> tag;
  bool in_chunked = false;  // inside an indefinite-length text or byte string
  bool chunked_bytes = false;
  std::string chunks;
  std::string error;

  void fail(std::string message) {
    if (error.empty()) error = std::move(message);
  }

  Document apply_tag(Document value) {
    if (!tag) return value;
    const uint64_t t = *tag;
    tag.reset();
    if (t == 1) {
      // Epoch time. The AWS Java SDKs write epoch *milliseconds* under tag 1; RFC 8949 says
      // seconds. Integer magnitudes above 1e11 (year 5138 in seconds, 1973 in ms) are ms.
      if (value.kind() == Document::Kind::kInt) {
        const int64_t v = value.as_int();
        const bool millis = v > 100'000'000'000LL || v < -100'000'000'000LL;
        return Document::time_ms(millis ? v : v * 1000);
      }
      if (value.kind() == Document::Kind::kDouble && std::isfinite(value.as_double()) &&
          std::fabs(value.as_double()) < 1e15) {
        return Document::time_ms(static_cast<int64_t>(std::llround(value.as_double() * 1000)));
      }
      fail("CBOR tag 1 (epoch time) must wrap a number");
      return value;
    }
    if (t == 0) {
      if (value.kind() != Document::Kind::kString) {
        fail("CBOR tag 0 (date/time string) must wrap a text string");
        return value;
      }
      auto parsed = parse_timestamp(value.as_string());
      if (!parsed.ok()) {
        fail("CBOR tag 0: " + parsed.status().message());
        return value;
      }
      return Document::time_ms(*parsed / 1000);
    }
    return value;  // other tags carry no meaning for this API: keep the value
  }

  void value(Document v) {
    if (!error.empty()) return;
    v = apply_tag(std::move(v));
    for (;;) {
      if (stack.empty()) {
        if (root) {
          fail("more than one top-level CBOR item");
          return;
        }
        root = std::move(v);
        return;
      }
      Frame& top = stack.back();
      if (top.is_map) {
        if (!top.have_key) {
          if (v.kind() != Document::Kind::kString) {
            fail(std::string("CBOR map key must be a text string, got ") +
                 Document::kind_name(v.kind()));
            return;
          }
          top.key = std::move(v.mutable_string());
          top.have_key = true;
        } else {
          top.doc.set(std::move(top.key), std::move(v));
          top.key.clear();
          top.have_key = false;
        }
      } else {
        top.doc.push(std::move(v));
      }
      if (top.indefinite) return;
      if (--top.remaining > 0) return;
      v = std::move(top.doc);
      stack.pop_back();
      // The finished container is a value of its parent: loop.
    }
  }

  void open(bool is_map, bool indefinite, uint64_t count) {
    if (!error.empty()) return;
    if (static_cast<int>(stack.size()) >= kMaxDocumentDepth) {
      fail(fmt::format("CBOR nests deeper than {} levels", kMaxDocumentDepth));
      return;
    }
    if (tag) tag.reset();  // tags on containers carry no meaning here
    if (!indefinite && is_map && count > std::numeric_limits<uint64_t>::max() / 2) {
      fail("CBOR map length out of range");
      return;
    }
    Frame frame;
    frame.doc = is_map ? Document::map() : Document::array();
    frame.is_map = is_map;
    frame.indefinite = indefinite;
    frame.remaining = is_map ? count * 2 : count;
    if (!indefinite && count == 0) {
      value(std::move(frame.doc));
      return;
    }
    stack.push_back(std::move(frame));
  }

  void text(cbor_data data, size_t length, bool is_bytes) {
    if (!error.empty()) return;
    std::string s(reinterpret_cast<const char*>(data), length);
    if (in_chunked) {
      if (is_bytes != chunked_bytes) {
        fail("CBOR indefinite string chunk of the wrong type");
        return;
      }
      chunks.append(s);
      return;
    }
    value(is_bytes ? Document::bytes(std::move(s)) : Document::string(std::move(s)));
  }

  void start_chunked(bool is_bytes) {
    if (in_chunked) {
      fail("nested CBOR indefinite strings");
      return;
    }
    in_chunked = true;
    chunked_bytes = is_bytes;
    chunks.clear();
  }

  void brk() {
    if (!error.empty()) return;
    if (in_chunked) {
      in_chunked = false;
      value(chunked_bytes ? Document::bytes(std::move(chunks))
                          : Document::string(std::move(chunks)));
      chunks.clear();
      return;
    }
    if (stack.empty() || !stack.back().indefinite) {
      fail("unexpected CBOR break");
      return;
    }
    if (stack.back().is_map && stack.back().have_key) {
      fail("CBOR map ends after a key without a value");
      return;
    }
    Document done = std::move(stack.back().doc);
    stack.pop_back();
    value(std::move(done));
  }

  void uint(uint64_t v) {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      value(Document::real(static_cast<double>(v)));
    } else {
      value(Document::integer(static_cast<int64_t>(v)));
    }
  }
  void negint(uint64_t v) {  // the value is -1 - v
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      value(Document::real(-1.0 - static_cast<double>(v)));
    } else {
      value(Document::integer(-1 - static_cast<int64_t>(v)));
    }
  }
  void check_not_chunked() {
    if (in_chunked) fail("CBOR indefinite string holds a non-string item");
  }
};

CborBuilder& B(void* ctx) { return *static_cast<CborBuilder*>(ctx); }

const cbor_callbacks kCborCallbacks = [] {
  cbor_callbacks cb = cbor_empty_callbacks;
  cb.uint8 = [](void* c, uint8_t v) { B(c).check_not_chunked(), B(c).uint(v); };
  cb.uint16 = [](void* c, uint16_t v) { B(c).check_not_chunked(), B(c).uint(v); };
  cb.uint32 = [](void* c, uint32_t v) { B(c).check_not_chunked(), B(c).uint(v); };
  cb.uint64 = [](void* c, uint64_t v) { B(c).check_not_chunked(), B(c).uint(v); };
  cb.negint8 = [](void* c, uint8_t v) { B(c).check_not_chunked(), B(c).negint(v); };
  cb.negint16 = [](void* c, uint16_t v) { B(c).check_not_chunked(), B(c).negint(v); };
  cb.negint32 = [](void* c, uint32_t v) { B(c).check_not_chunked(), B(c).negint(v); };
  cb.negint64 = [](void* c, uint64_t v) { B(c).check_not_chunked(), B(c).negint(v); };
  // libcbor's naming: byte_string_start/string_start open an indefinite string; byte_string and
  // string deliver a definite string (or one chunk of an indefinite one).
  cb.byte_string_start = [](void* c) { B(c).start_chunked(true); };
  cb.byte_string = [](void* c, cbor_data d, size_t n) { B(c).text(d, n, true); };
  cb.string_start = [](void* c) { B(c).start_chunked(false); };
  cb.string = [](void* c, cbor_data d, size_t n) { B(c).text(d, n, false); };
  cb.array_start = [](void* c, size_t n) { B(c).check_not_chunked(), B(c).open(false, false, n); };
  cb.indef_array_start = [](void* c) { B(c).check_not_chunked(), B(c).open(false, true, 0); };
  cb.map_start = [](void* c, size_t n) { B(c).check_not_chunked(), B(c).open(true, false, n); };
  cb.indef_map_start = [](void* c) { B(c).check_not_chunked(), B(c).open(true, true, 0); };
  cb.tag = [](void* c, uint64_t t) {
    B(c).check_not_chunked();
    if (B(c).tag) B(c).fail("nested CBOR tags are not supported");
    B(c).tag = t;
  };
  cb.float2 = [](void* c, float v) { B(c).check_not_chunked(), B(c).value(Document::real(v)); };
  cb.float4 = [](void* c, float v) { B(c).check_not_chunked(), B(c).value(Document::real(v)); };
  cb.float8 = [](void* c, double v) { B(c).check_not_chunked(), B(c).value(Document::real(v)); };
  cb.undefined = [](void* c) { B(c).check_not_chunked(), B(c).value(Document::null()); };
  cb.null = [](void* c) { B(c).check_not_chunked(), B(c).value(Document::null()); };
  cb.boolean = [](void* c, bool v) { B(c).check_not_chunked(), B(c).value(Document::boolean(v)); };
  cb.indef_break = [](void* c) { B(c).brk(); };
  return cb;
}();

class CborWriter {
 public:
  explicit CborWriter(std::string& out) : out_(out) {}

  void write(const Document& doc) {
    switch (doc.kind()) {
      case Document::Kind::kNull:
        put(cbor_encode_null(buf_.data(), buf_.size()));
        return;
      case Document::Kind::kBool:
        put(cbor_encode_bool(doc.as_bool(), buf_.data(), buf_.size()));
        return;
      case Document::Kind::kInt:
        write_int(doc.as_int());
        return;
      case Document::Kind::kDouble:
        put(cbor_encode_double(doc.as_double(), buf_.data(), buf_.size()));
        return;
      case Document::Kind::kString:
        put(cbor_encode_string_start(doc.as_string().size(), buf_.data(), buf_.size()));
        out_.append(doc.as_string());
        return;
      case Document::Kind::kBytes:
        put(cbor_encode_bytestring_start(doc.as_string().size(), buf_.data(), buf_.size()));
        out_.append(doc.as_string());
        return;
      case Document::Kind::kTime:
        put(cbor_encode_tag(1, buf_.data(), buf_.size()));
        write_int(doc.as_time_ms());
        return;
      case Document::Kind::kArray:
        put(cbor_encode_array_start(doc.items().size(), buf_.data(), buf_.size()));
        for (const auto& item : doc.items()) write(item);
        return;
      case Document::Kind::kMap:
        put(cbor_encode_map_start(doc.fields().size(), buf_.data(), buf_.size()));
        for (const auto& [key, value] : doc.fields()) {
          put(cbor_encode_string_start(key.size(), buf_.data(), buf_.size()));
          out_.append(key);
          write(value);
        }
        return;
    }
  }

 private:
  void write_int(int64_t v) {
    if (v >= 0) {
      put(cbor_encode_uint(static_cast<uint64_t>(v), buf_.data(), buf_.size()));
    } else {
      put(cbor_encode_negint(static_cast<uint64_t>(-1 - v), buf_.data(), buf_.size()));
    }
  }
  void put(size_t n) { out_.append(reinterpret_cast<const char*>(buf_.data()), n); }

  std::string& out_;
  std::array<unsigned char, 16> buf_{};
};

}  // namespace

arrow::Result<Document> decode_cbor(std::string_view body) {
  if (body.empty()) return arrow::Status::Invalid("empty CBOR body");
  CborBuilder builder;
  const auto* data = reinterpret_cast<cbor_data>(body.data());
  size_t offset = 0;
  while (offset < body.size()) {
    if (builder.root && builder.stack.empty() && !builder.tag && !builder.in_chunked) {
      return arrow::Status::Invalid("trailing bytes after the CBOR item at offset ", offset);
    }
    const cbor_decoder_result result =
        cbor_stream_decode(data + offset, body.size() - offset, &kCborCallbacks, &builder);
    if (result.status == CBOR_DECODER_NEDATA) {
      return arrow::Status::Invalid("truncated CBOR body at offset ", offset);
    }
    if (result.status != CBOR_DECODER_FINISHED || result.read == 0) {
      return arrow::Status::Invalid("malformed CBOR at offset ", offset);
    }
    if (!builder.error.empty()) {
      return arrow::Status::Invalid(builder.error, " (CBOR offset ", offset, ")");
    }
    offset += result.read;
  }
  if (!builder.stack.empty() || builder.in_chunked || builder.tag || !builder.root) {
    return arrow::Status::Invalid("truncated CBOR body: an item is not complete");
  }
  return std::move(*builder.root);
}

std::string encode_cbor(const Document& doc) {
  std::string out;
  out.reserve(256);
  CborWriter(out).write(doc);
  return out;
}

arrow::Result<Document> decode(WireFormat format, std::string_view body) {
  return format == WireFormat::kJson ? decode_json(body) : decode_cbor(body);
}

std::string encode(WireFormat format, const Document& doc) {
  return format == WireFormat::kJson ? encode_json(doc) : encode_cbor(doc);
}

// ---------------------------------------------------------------------------------------------
// base64

namespace {
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> kBase64Values = [] {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
  return t;
}();
}  // namespace

void base64_encode_append(std::string_view bytes, std::string& out) {
  const size_t start = out.size();
  out.resize(start + (bytes.size() + 2) / 3 * 4);
  char* p = out.data() + start;
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (s[i] << 16) | (s[i + 1] << 8) | s[i + 2];
    *p++ = kBase64Alphabet[v >> 18];
    *p++ = kBase64Alphabet[(v >> 12) & 63];
    *p++ = kBase64Alphabet[(v >> 6) & 63];
    *p++ = kBase64Alphabet[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = s[i] << 16;
    if (i + 1 < bytes.size()) v |= s[i + 1] << 8;
    *p++ = kBase64Alphabet[v >> 18];
    *p++ = kBase64Alphabet[(v >> 12) & 63];
    *p++ = i + 1 < bytes.size() ? kBase64Alphabet[(v >> 6) & 63] : '=';
    *p++ = '=';
  }
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  base64_encode_append(bytes, out);
  return out;
}

arrow::Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return arrow::Status::Invalid("invalid base64: length ", text.size(),
                                  " is not a multiple of 4");
  }
  size_t pad = 0;
  if (!text.empty() && text.back() == '=')
    pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.resize(text.size() / 4 * 3 - pad);
  char* p = out.data();
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t full = pad ? text.size() - 4 : text.size();
  for (size_t i = 0; i < full; i += 4) {
    const int a = kBase64Values[s[i]], b = kBase64Values[s[i + 1]], c = kBase64Values[s[i + 2]],
              d = kBase64Values[s[i + 3]];
    if ((a | b | c | d) < 0) {
      return arrow::Status::Invalid("invalid base64 character near offset ", i);
    }
    const uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    *p++ = static_cast<char>(v >> 16);
    *p++ = static_cast<char>((v >> 8) & 255);
    *p++ = static_cast<char>(v & 255);
  }
  if (pad) {
    const size_t i = text.size() - 4;
    const int a = kBase64Values[s[i]], b = kBase64Values[s[i + 1]];
    const int c = pad == 1 ? kBase64Values[s[i + 2]] : 0;
    if ((a | b | c) < 0) return arrow::Status::Invalid("invalid base64 character near offset ", i);
    const uint32_t v = (a << 18) | (b << 12) | (c << 6);
    // Bits beyond the last byte must be zero (canonical encoding).
    if ((pad == 2 && (v & 0xFFFF)) || (pad == 1 && (v & 0xFF))) {
      return arrow::Status::Invalid("invalid base64: non-zero padding bits");
    }
    *p++ = static_cast<char>(v >> 16);
    if (pad == 1) *p++ = static_cast<char>((v >> 8) & 255);
  }
  return out;
}

}  // namespace roadpulse::server
