#include "exec/expression.h"

#include <charconv>
#include <cmath>
#include <functional>
#include <regex>
#include <string>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/compute/api.h>
#include <arrow/compute/initialize.h>
#include <arrow/scalar.h>
#include <arrow/util/decimal.h>
#include <fmt/format.h>

#include "common/time.h"
#include "exec/text_parse.h"

namespace roadpulse::exec {

namespace cp = arrow::compute;
using sql::BoundExpr;
using sql::BoundExprKind;
using sql::TypeId;

namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400LL * kMicrosPerSecond;

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

using Civil = CivilDate;

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int days_in_month(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Broken-down UTC time of an epoch-microsecond value.
struct DateTime {
  Civil date;
  int64_t days;  // since epoch
  int hour, minute, second;
  int64_t micros;                                                 // within the second
  int day_of_week() const { return int(((days % 7) + 10) % 7); }  // 0 = Monday (1970-01-01: Thu)
  int day_of_year() const { return int(days - days_from_civil(date.y, 1, 1)) + 1; }
};

DateTime break_down(int64_t t) {
  DateTime dt;
  dt.days = floor_div(t, kMicrosPerDay);
  int64_t rest = t - dt.days * kMicrosPerDay;
  dt.date = civil_from_days(dt.days);
  dt.hour = int(rest / (3600 * kMicrosPerSecond));
  rest %= 3600 * kMicrosPerSecond;
  dt.minute = int(rest / (60 * kMicrosPerSecond));
  rest %= 60 * kMicrosPerSecond;
  dt.second = int(rest / kMicrosPerSecond);
  dt.micros = rest % kMicrosPerSecond;
  return dt;
}

int64_t add_months(int64_t t, int64_t months) {
  DateTime dt = break_down(t);
  int64_t total = dt.date.y * 12 + (dt.date.m - 1) + months;
  const int64_t y = floor_div(total, 12);
  const int m = int(total - y * 12) + 1;
  const int d = std::min(dt.date.d, days_in_month(y, m));
  const int64_t days = days_from_civil(y, unsigned(m), unsigned(d));
  return days * kMicrosPerDay + (t - dt.days * kMicrosPerDay);
}

// ISO-8601 week number (weeks start Monday; week 1 holds the year's first Thursday).
int iso_week(const DateTime& dt) {
  const int64_t thursday = dt.days - dt.day_of_week() + 3;
  const Civil c = civil_from_days(thursday);
  const int64_t jan1 = days_from_civil(c.y, 1, 1);
  return int((thursday - jan1) / 7) + 1;
}

// ---------------------------------------------------------------------------------------------
// Row access helpers for our own kernels.

arrow::Result<std::shared_ptr<arrow::Array>> as_array(const arrow::Datum& d, int64_t rows) {
  if (d.is_array()) return d.make_array();
  if (d.is_scalar()) return arrow::MakeArrayFromScalar(*d.scalar(), rows);
  return arrow::Status::Invalid("expression produced neither an array nor a scalar");
}

arrow::Result<std::shared_ptr<arrow::Array>> cast_array(const std::shared_ptr<arrow::Array>& a,
                                                        const std::shared_ptr<arrow::DataType>& t) {
  if (a->type()->Equals(*t)) return a;
  cp::CastOptions options = cp::CastOptions::Unsafe(t);
  ARROW_ASSIGN_OR_RAISE(auto d, cp::Cast(arrow::Datum(a), options));
  return d.make_array();
}

// Typed accessors over arguments normalized to utf8 / int64 / float64 / timestamp[us] / bool.
struct Arg {
  std::shared_ptr<arrow::Array> array;
  bool null(int64_t i) const { return array->IsNull(i); }
  std::string_view str(int64_t i) const {
    return static_cast<const arrow::StringArray&>(*array).GetView(i);
  }
  int64_t i64(int64_t i) const { return static_cast<const arrow::Int64Array&>(*array).Value(i); }
  double f64(int64_t i) const { return static_cast<const arrow::DoubleArray&>(*array).Value(i); }
  bool boolean(int64_t i) const { return static_cast<const arrow::BooleanArray&>(*array).Value(i); }
};

arrow::Result<Arg> normalize(const arrow::Datum& d, int64_t rows,
                             const std::shared_ptr<arrow::DataType>& to) {
  ARROW_ASSIGN_OR_RAISE(auto array, as_array(d, rows));
  if (to->id() == arrow::Type::TIMESTAMP) {
    // Our kernels read timestamps as int64 microseconds (any zone: the instant is what counts).
    if (array->type_id() == arrow::Type::DATE32) {
      ARROW_ASSIGN_OR_RAISE(array, cast_array(array, arrow::timestamp(arrow::TimeUnit::MICRO)));
    }
    if (array->type_id() != arrow::Type::TIMESTAMP) {
      return arrow::Status::Invalid("expected a TIMESTAMP or DATE argument, got ",
                                    array->type()->ToString());
    }
    const auto& ts = static_cast<const arrow::TimestampType&>(*array->type());
    if (ts.unit() != arrow::TimeUnit::MICRO) {
      ARROW_ASSIGN_OR_RAISE(
          array, cast_array(array, arrow::timestamp(arrow::TimeUnit::MICRO, ts.timezone())));
    }
    ARROW_ASSIGN_OR_RAISE(auto view, array->View(arrow::int64()));
    return Arg{std::move(view)};
  }
  ARROW_ASSIGN_OR_RAISE(array, cast_array(array, to));
  return Arg{std::move(array)};
}

// Output builders.
template <typename Builder>
struct Out {
  Builder builder;
  explicit Out(int64_t rows) { (void)builder.Reserve(rows); }
};

// ---------------------------------------------------------------------------------------------
// Nodes

class Node {
 public:
  explicit Node(std::shared_ptr<arrow::DataType> type) : type_(std::move(type)) {}
  virtual ~Node() = default;
  virtual arrow::Result<arrow::Datum> eval(const arrow::RecordBatch& batch) const = 0;
  const std::shared_ptr<arrow::DataType>& type() const { return type_; }

 protected:
  std::shared_ptr<arrow::DataType> type_;
};

using NodePtr = std::unique_ptr<Node>;

class ColumnNode final : public Node {
 public:
  ColumnNode(int index, std::string name, std::shared_ptr<arrow::DataType> type)
      : Node(std::move(type)), index_(index), name_(std::move(name)) {}
  arrow::Result<arrow::Datum> eval(const arrow::RecordBatch& batch) const override {
    if (index_ < 0 || index_ >= batch.num_columns()) {
      return arrow::Status::Invalid("column $", index_, " (", name_,
                                    ") is not in the input row of ", batch.num_columns(),
                                    " columns");
    }
    return arrow::Datum(batch.column(index_));
  }

 private:
  int index_;
  std::string name_;
};

class LiteralNode final : public Node {
 public:
  explicit LiteralNode(std::shared_ptr<arrow::Scalar> value)
      : Node(value->type), value_(std::move(value)) {}
  arrow::Result<arrow::Datum> eval(const arrow::RecordBatch&) const override {
    return arrow::Datum(value_);
  }

 private:
  std::shared_ptr<arrow::Scalar> value_;
};

// Calls an Arrow compute function, then casts to the SQL result type when Arrow's differs
// (e.g. utf8_length gives int32 for INT, but also e.g. int64 sums for smaller inputs).
class ArrowCallNode final : public Node {
 public:
  ArrowCallNode(std::shared_ptr<arrow::DataType> type, std::string function,
                std::vector<NodePtr> args, std::shared_ptr<cp::FunctionOptions> options)
      : Node(std::move(type)),
        function_(std::move(function)),
        args_(std::move(args)),
        options_(std::move(options)) {}

  arrow::Result<arrow::Datum> eval(const arrow::RecordBatch& batch) const override {
    std::vector<arrow::Datum> values;
    values.reserve(args_.size());
    for (const auto& a : args_) {
      ARROW_ASSIGN_OR_RAISE(auto v, a->eval(batch));
      values.push_back(std::move(v));
    }
    auto result = cp::CallFunction(function_, values, options_.get());
    if (!result.ok()) {
      return result.status().WithMessage(function_, ": ", result.status().message());
    }
    if (!result->type()->Equals(*type_)) {
      cp::CastOptions cast = cp::CastOptions::Unsafe(type_);
      return cp::Cast(*result, cast);
    }
    return result;
  }

 private:
  std::string function_;
  std::vector<NodePtr> args_;
  std::shared_ptr<cp::FunctionOptions> options_;
};

// Our own kernel: gets the evaluated arguments and the row count.
using Kernel = std::function<arrow::Result<arrow::Datum>(std::vector<arrow::Datum>&, int64_t)>;

class KernelNode final : public Node {
 public:
  KernelNode(std::shared_ptr<arrow::DataType> type, std::string name, std::vector<NodePtr> args,
             Kernel kernel)
      : Node(std::move(type)),
        name_(std::move(name)),
        args_(std::move(args)),
        kernel_(std::move(kernel)) {}

  arrow::Result<arrow::Datum> eval(const arrow::RecordBatch& batch) const override {
    std::vector<arrow::Datum> values;
    values.reserve(args_.size());
    for (const auto& a : args_) {
      ARROW_ASSIGN_OR_RAISE(auto v, a->eval(batch));
      values.push_back(std::move(v));
    }
    auto result = kernel_(values, batch.num_rows());
    if (!result.ok()) return result.status().WithMessage(name_, ": ", result.status().message());
    if (!result->type()->Equals(*type_)) {
      cp::CastOptions cast = cp::CastOptions::Unsafe(type_);
      return cp::Cast(*result, cast);
    }
    return result;
  }

 private:
  std::string name_;
  std::vector<NodePtr> args_;
  Kernel kernel_;
};

// ---------------------------------------------------------------------------------------------
// Kernel helpers: strict row loops (a NULL argument gives a NULL result).

template <typename Fn>
arrow::Result<arrow::Datum> string_rows(const std::vector<Arg>& args, int64_t rows, Fn fn) {
  arrow::StringBuilder builder;
  ARROW_RETURN_NOT_OK(builder.Reserve(rows));
  std::string out;
  for (int64_t i = 0; i < rows; ++i) {
    bool any_null = false;
    for (const auto& a : args) any_null |= a.null(i);
    if (any_null) {
      ARROW_RETURN_NOT_OK(builder.AppendNull());
      continue;
    }
    out.clear();
    ARROW_ASSIGN_OR_RAISE(bool valid, fn(i, &out));
    if (valid) {
      ARROW_RETURN_NOT_OK(builder.Append(out));
    } else {
      ARROW_RETURN_NOT_OK(builder.AppendNull());
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto array, builder.Finish());
  return arrow::Datum(array);
}

template <typename Builder, typename Value, typename Fn>
arrow::Result<arrow::Datum> value_rows(const std::vector<Arg>& args, int64_t rows,
                                       std::shared_ptr<arrow::DataType> type, Fn fn) {
  Builder builder(type, arrow::default_memory_pool());
  ARROW_RETURN_NOT_OK(builder.Reserve(rows));
  for (int64_t i = 0; i < rows; ++i) {
    bool any_null = false;
    for (const auto& a : args) any_null |= a.null(i);
    if (any_null) {
      builder.UnsafeAppendNull();
      continue;
    }
    Value v{};
    ARROW_ASSIGN_OR_RAISE(bool valid, fn(i, &v));
    if (valid) {
      builder.UnsafeAppend(v);
    } else {
      builder.UnsafeAppendNull();
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto array, builder.Finish());
  return arrow::Datum(array);
}

arrow::Result<std::vector<Arg>> normalize_all(
    std::vector<arrow::Datum>& values, int64_t rows,
    const std::vector<std::shared_ptr<arrow::DataType>>& types) {
  std::vector<Arg> args;
  for (size_t i = 0; i < values.size(); ++i) {
    ARROW_ASSIGN_OR_RAISE(auto a, normalize(values[i], rows, types[i]));
    args.push_back(std::move(a));
  }
  return args;
}

// UTF-8 helpers: code point boundaries.
size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Byte offset of the code point at index `cp` (clamped to s.size()).
size_t utf8_offset(std::string_view s, int64_t cp) {
  size_t i = 0;
  int64_t seen = 0;
  while (i < s.size()) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == cp) return i;
      ++seen;
    }
    ++i;
  }
  return s.size();
}

// SQL LIKE with % and _, and an optional escape character.
bool like_match(std::string_view text, std::string_view pattern, int escape) {
  // Iterative with backtracking on the last '%'. Works on bytes except '_' which takes one
  // UTF-8 code point.
  size_t t = 0, p = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  auto advance_cp = [&](size_t i) {
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
    return i;
  };
  while (t < text.size()) {
    if (p < pattern.size()) {
      char pc = pattern[p];
      if (escape >= 0 && pc == char(escape) && p + 1 < pattern.size()) {
        if (text[t] == pattern[p + 1]) {
          ++t;
          p += 2;
          continue;
        }
      } else if (pc == '%') {
        star_p = p++;
        star_t = t;
        continue;
      } else if (pc == '_') {
        t = advance_cp(t);
        ++p;
        continue;
      } else if (pc == text[t]) {
        ++t;
        ++p;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p + 1;
    star_t = advance_cp(star_t);
    t = star_t;
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

// Java DateTimeFormatter-style patterns, the subset Flink's DATE_FORMAT users write.
arrow::Status check_java_pattern(std::string_view pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\'') {
      const size_t end = pattern.find('\'', i + 1);
      if (end == std::string_view::npos) {
        return arrow::Status::Invalid("unterminated quote in date pattern '", pattern, "'");
      }
      i = end;
      continue;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      if (std::string_view("yMdHhmsSaEDkKuQwXZz").find(c) == std::string_view::npos) {
        return arrow::Status::Invalid("unsupported letter '", std::string(1, c),
                                      "' in date pattern '", pattern, "'");
      }
    }
  }
  return arrow::Status::OK();
}

void format_java_pattern(int64_t t, std::string_view pattern, std::string* out) {
  static constexpr const char* kMonths[] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};
  static constexpr const char* kDays[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                          "Friday", "Saturday", "Sunday"};
  const DateTime dt = break_down(t);
  auto num = [&](int64_t v, size_t width) {
    std::string s = std::to_string(v < 0 ? -v : v);
    if (v < 0) out->push_back('-');
    for (size_t k = s.size(); k < width; ++k) out->push_back('0');
    out->append(s);
  };
  for (size_t i = 0; i < pattern.size();) {
    const char c = pattern[i];
    if (c == '\'') {
      const size_t end = pattern.find('\'', i + 1);
      if (end == i + 1) {
        out->push_back('\'');
      } else {
        out->append(pattern.substr(i + 1, end - i - 1));
      }
      i = end + 1;
      continue;
    }
    size_t n = 1;
    while (i + n < pattern.size() && pattern[i + n] == c) ++n;
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!letter) {
      out->append(pattern.substr(i, n));
      i += n;
      continue;
    }
    switch (c) {
      case 'y':
      case 'u':
        if (n == 2) {
          num(((dt.date.y % 100) + 100) % 100, 2);
        } else {
          num(dt.date.y, n);
        }
        break;
      case 'M':
        if (n >= 4) {
          out->append(kMonths[dt.date.m - 1]);
        } else if (n == 3) {
          out->append(std::string_view(kMonths[dt.date.m - 1]).substr(0, 3));
        } else {
          num(dt.date.m, n);
        }
        break;
      case 'Q':
        num((dt.date.m - 1) / 3 + 1, n);
        break;
      case 'd':
        num(dt.date.d, n);
        break;
      case 'D':
        num(dt.day_of_year(), n);
        break;
      case 'H':
        num(dt.hour, n);
        break;
      case 'k':
        num(dt.hour == 0 ? 24 : dt.hour, n);
        break;
      case 'K':
        num(dt.hour % 12, n);
        break;
      case 'h':
        num(dt.hour % 12 == 0 ? 12 : dt.hour % 12, n);
        break;
      case 'm':
        num(dt.minute, n);
        break;
      case 's':
        num(dt.second, n);
        break;
      case 'S': {
        std::string frac = fmt::format("{:06d}", dt.micros);
        if (n <= 6) {
          out->append(frac.substr(0, n));
        } else {
          out->append(frac);
          out->append(n - 6, '0');
        }
        break;
      }
      case 'a':
        out->append(dt.hour < 12 ? "AM" : "PM");
        break;
      case 'E':
        if (n >= 4) {
          out->append(kDays[dt.day_of_week()]);
        } else {
          out->append(std::string_view(kDays[dt.day_of_week()]).substr(0, 3));
        }
        break;
      case 'w':
        num(iso_week(dt), n);
        break;
      case 'X':
      case 'Z':
      case 'z':
        out->append(c == 'z' ? "UTC" : (c == 'X' ? "Z" : "+0000"));
        break;
      default:
        out->append(pattern.substr(i, n));
    }
    i += n;
  }
}

// Parses `text` with a Java pattern (numeric fields only, plus literals). Returns false on
// mismatch.
bool parse_java_pattern(std::string_view text, std::string_view pattern, int64_t* micros) {
  int64_t y = 1970, mo = 1, d = 1, h = 0, mi = 0, s = 0, frac = 0;
  bool pm = false, has_ampm = false;
  size_t t = 0;
  for (size_t i = 0; i < pattern.size();) {
    const char c = pattern[i];
    if (c == '\'') {
      const size_t end = pattern.find('\'', i + 1);
      const std::string_view lit = pattern.substr(i + 1, end - i - 1);
      if (text.substr(t, lit.size()) != lit) return false;
      t += lit.size();
      i = end + 1;
      continue;
    }
    size_t n = 1;
    while (i + n < pattern.size() && pattern[i + n] == c) ++n;
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!letter) {
      if (text.substr(t, n) != pattern.substr(i, n)) return false;
      t += n;
      i += n;
      continue;
    }
    if (c == 'a') {
      if (t + 2 > text.size()) return false;
      const std::string_view ampm = text.substr(t, 2);
      if (ampm == "AM" || ampm == "am") {
        pm = false;
      } else if (ampm == "PM" || ampm == "pm") {
        pm = true;
      } else {
        return false;
      }
      has_ampm = true;
      t += 2;
      i += n;
      continue;
    }
    // Numeric field: exactly n digits when the next pattern char is a letter (adjacent fields),
    // else as many digits as present (at least 1).
    const bool adjacent =
        i + n < pattern.size() && ((pattern[i + n] >= 'a' && pattern[i + n] <= 'z') ||
                                   (pattern[i + n] >= 'A' && pattern[i + n] <= 'Z'));
    size_t digits = 0;
    int64_t v = 0;
    while (t + digits < text.size() && text[t + digits] >= '0' && text[t + digits] <= '9' &&
           (!adjacent || digits < n)) {
      v = v * 10 + (text[t + digits] - '0');
      ++digits;
    }
    if (digits == 0 || (adjacent && digits != n)) return false;
    switch (c) {
      case 'y':
      case 'u':
        y = (n == 2 && digits == 2) ? 2000 + v : v;
        break;
      case 'M':
        mo = v;
        break;
      case 'd':
        d = v;
        break;
      case 'H':
      case 'k':
        h = v;
        break;
      case 'h':
      case 'K':
        h = v % 12;
        break;
      case 'm':
        mi = v;
        break;
      case 's':
        s = v;
        break;
      case 'S': {
        int64_t f = v;
        for (size_t k = digits; k < 6; ++k) f *= 10;
        for (size_t k = 6; k < digits; ++k) f /= 10;
        frac = f;
        break;
      }
      default:
        return false;
    }
    t += digits;
    i += n;
  }
  if (t != text.size()) return false;
  if (has_ampm && pm) h += 12;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, int(mo)) || h > 23 || mi > 59 || s > 59) {
    return false;
  }
  *micros = (days_from_civil(y, unsigned(mo), unsigned(d)) * 86400 + h * 3600 + mi * 60 + s) *
                kMicrosPerSecond +
            frac;
  return true;
}

std::string timestamp_to_string(int64_t micros, int precision) {
  // Flink renders exactly `precision` fractional digits.
  const int64_t secs = floor_div(micros, kMicrosPerSecond);
  const int64_t frac = micros - secs * kMicrosPerSecond;
  std::string out = format_iso8601(secs * kMicrosPerSecond);
  out[10] = ' ';
  if (precision > 0) {
    std::string f = fmt::format("{:06d}", frac);
    while (f.size() < size_t(precision)) f.push_back('0');
    out += "." + f.substr(0, size_t(precision));
  }
  return out;
}

std::string date_to_string(int64_t days) {
  return format_iso8601(days * kMicrosPerDay).substr(0, 10);
}

// ---------------------------------------------------------------------------------------------
// The compiler

class Compiler {
 public:
  explicit Compiler(const EvalContext* context) : context_(context) {}
  arrow::Result<NodePtr> compile(const BoundExpr& e) {
    auto type = e.type.to_arrow();
    switch (e.kind) {
      case BoundExprKind::kColumnRef:
        return NodePtr(std::make_unique<ColumnNode>(e.column_index, e.column_name, type));
      case BoundExprKind::kLiteral: {
        std::shared_ptr<arrow::Scalar> value = e.literal;
        if (!value) value = arrow::MakeNullScalar(type);
        if (!value->type->Equals(*type) && type->id() != arrow::Type::NA) {
          ARROW_ASSIGN_OR_RAISE(value, value->CastTo(type));
        }
        return NodePtr(std::make_unique<LiteralNode>(value));
      }
      case BoundExprKind::kIsNull: {
        ARROW_ASSIGN_OR_RAISE(auto arg, compile(*e.args.at(0)));
        return arrow_call(type, e.negated ? "is_valid" : "is_null", std::move(arg));
      }
      case BoundExprKind::kCast:
        return compile_cast(e);
      case BoundExprKind::kCase:
        return compile_case(e);
      case BoundExprKind::kInList:
        return compile_in(e);
      case BoundExprKind::kLike:
        return compile_like(e);
      case BoundExprKind::kCall:
        return compile_call(e);
    }
    return arrow::Status::NotImplemented("expression kind ", int(e.kind));
  }

 private:
  const EvalContext* context_;

  static NodePtr arrow_call(std::shared_ptr<arrow::DataType> type, std::string fn, NodePtr a,
                            std::shared_ptr<cp::FunctionOptions> options = nullptr) {
    std::vector<NodePtr> args;
    args.push_back(std::move(a));
    return std::make_unique<ArrowCallNode>(std::move(type), std::move(fn), std::move(args),
                                           std::move(options));
  }
  static NodePtr arrow_call(std::shared_ptr<arrow::DataType> type, std::string fn,
                            std::vector<NodePtr> args,
                            std::shared_ptr<cp::FunctionOptions> options = nullptr) {
    return std::make_unique<ArrowCallNode>(std::move(type), std::move(fn), std::move(args),
                                           std::move(options));
  }

  arrow::Result<std::vector<NodePtr>> compile_args(const BoundExpr& e, size_t from = 0) {
    std::vector<NodePtr> args;
    for (size_t i = from; i < e.args.size(); ++i) {
      ARROW_ASSIGN_OR_RAISE(auto a, compile(*e.args[i]));
      args.push_back(std::move(a));
    }
    return args;
  }

  static arrow::Status arity(const BoundExpr& e, size_t lo, size_t hi) {
    if (e.args.size() < lo || e.args.size() > hi) {
      return arrow::Status::Invalid(e.function, " takes ",
                                    lo == hi ? std::to_string(lo) : fmt::format("{}..{}", lo, hi),
                                    " arguments, got ", e.args.size());
    }
    return arrow::Status::OK();
  }

  // A literal argument's value (for options Arrow needs at plan time), or nullopt.
  static std::shared_ptr<arrow::Scalar> literal_of(const BoundExpr& e) {
    if (e.kind != BoundExprKind::kLiteral) return nullptr;
    return e.literal ? e.literal : arrow::MakeNullScalar(e.type.to_arrow());
  }

  // -- CAST ------------------------------------------------------------------------------------

  arrow::Result<NodePtr> compile_cast(const BoundExpr& e) {
    ARROW_ASSIGN_OR_RAISE(auto input, compile(*e.args.at(0)));
    const sql::SqlType& from = e.args[0]->type;
    const sql::SqlType& to = e.type;
    const bool try_cast = e.try_cast;
    auto type = to.to_arrow();
    std::vector<NodePtr> args;
    args.push_back(std::move(input));
    const std::string name = fmt::format("CAST({} AS {})", from.to_string(), to.to_string());

    if (from.id == TypeId::kNull) {
      return NodePtr(std::make_unique<LiteralNode>(arrow::MakeNullScalar(type)));
    }
    if (from.is_string() && !to.is_string()) {
      Kernel k = [to, type, try_cast](std::vector<arrow::Datum>& v,
                                      int64_t rows) -> arrow::Result<arrow::Datum> {
        ARROW_ASSIGN_OR_RAISE(auto args, normalize_all(v, rows, {arrow::utf8()}));
        return cast_from_string(args[0], rows, to, type, try_cast);
      };
      return NodePtr(std::make_unique<KernelNode>(type, name, std::move(args), std::move(k)));
    }
    if (to.is_string() && !from.is_string()) {
      const sql::SqlType from_type = from;
      Kernel k = [from_type](std::vector<arrow::Datum>& v,
                             int64_t rows) -> arrow::Result<arrow::Datum> {
        return cast_to_string(v[0], rows, from_type);
      };
      return NodePtr(std::make_unique<KernelNode>(type, name, std::move(args), std::move(k)));
    }
    // Numeric, boolean and temporal casts: Arrow's, with Java's wrap-around and truncation.
    Kernel k = [type, try_cast](std::vector<arrow::Datum>& v,
                                int64_t rows) -> arrow::Result<arrow::Datum> {
      cp::CastOptions options = cp::CastOptions::Unsafe(type);
      options.allow_time_truncate = true;
      auto result = cp::Cast(v[0], options);
      if (!result.ok() && try_cast) {
        return arrow::Datum(arrow::MakeNullScalar(type));
      }
      return result;
    };
    return NodePtr(std::make_unique<KernelNode>(type, name, std::move(args), std::move(k)));
  }

  static arrow::Result<arrow::Datum> cast_from_string(const Arg& in, int64_t rows,
                                                      const sql::SqlType& to,
                                                      const std::shared_ptr<arrow::DataType>& type,
                                                      bool try_cast) {
    std::unique_ptr<arrow::ArrayBuilder> builder;
    ARROW_ASSIGN_OR_RAISE(builder, arrow::MakeBuilder(type));
    ARROW_RETURN_NOT_OK(builder->Reserve(rows));
    for (int64_t i = 0; i < rows; ++i) {
      if (in.null(i)) {
        ARROW_RETURN_NOT_OK(builder->AppendNull());
        continue;
      }
      const std::string_view s = in.str(i);
      bool ok = true;
      switch (to.id) {
        case TypeId::kBoolean: {
          bool b = false;
          ok = parse_sql_bool(s, &b);
          if (ok) ARROW_RETURN_NOT_OK(static_cast<arrow::BooleanBuilder&>(*builder).Append(b));
          break;
        }
        case TypeId::kTinyInt:
        case TypeId::kSmallInt:
        case TypeId::kInt:
        case TypeId::kBigInt: {
          int64_t v = 0;
          ok = parse_int64_text(s, &v);
          const int64_t lo = to.id == TypeId::kTinyInt    ? INT8_MIN
                             : to.id == TypeId::kSmallInt ? INT16_MIN
                             : to.id == TypeId::kInt      ? INT32_MIN
                                                          : INT64_MIN;
          const int64_t hi = to.id == TypeId::kTinyInt    ? INT8_MAX
                             : to.id == TypeId::kSmallInt ? INT16_MAX
                             : to.id == TypeId::kInt      ? INT32_MAX
                                                          : INT64_MAX;
          ok = ok && v >= lo && v <= hi;
          if (ok) {
            switch (to.id) {
              case TypeId::kTinyInt:
                ARROW_RETURN_NOT_OK(static_cast<arrow::Int8Builder&>(*builder).Append(int8_t(v)));
                break;
              case TypeId::kSmallInt:
                ARROW_RETURN_NOT_OK(static_cast<arrow::Int16Builder&>(*builder).Append(int16_t(v)));
                break;
              case TypeId::kInt:
                ARROW_RETURN_NOT_OK(static_cast<arrow::Int32Builder&>(*builder).Append(int32_t(v)));
                break;
              default:
                ARROW_RETURN_NOT_OK(static_cast<arrow::Int64Builder&>(*builder).Append(v));
            }
          }
          break;
        }
        case TypeId::kFloat:
        case TypeId::kDouble: {
          double d = 0;
          ok = parse_double_text(s, &d);
          if (ok && to.id == TypeId::kFloat) {
            ARROW_RETURN_NOT_OK(static_cast<arrow::FloatBuilder&>(*builder).Append(float(d)));
          } else if (ok) {
            ARROW_RETURN_NOT_OK(static_cast<arrow::DoubleBuilder&>(*builder).Append(d));
          }
          break;
        }
        case TypeId::kDecimal: {
          arrow::Decimal128 value;
          int32_t precision = 0, scale = 0;
          ok = arrow::Decimal128::FromString(java_trim(s), &value, &precision, &scale).ok();
          if (ok) {
            if (scale > to.scale) {
              value = value.ReduceScaleBy(scale - to.scale, true);
            } else {
              auto r = value.Rescale(scale, to.scale);
              ok = r.ok();
              if (ok) value = *r;
            }
          }
          ok = ok && value.FitsInPrecision(to.precision);
          if (ok)
            ARROW_RETURN_NOT_OK(static_cast<arrow::Decimal128Builder&>(*builder).Append(value));
          break;
        }
        case TypeId::kDate: {
          int32_t days = 0;
          ok = parse_date_text(s, &days);
          if (!ok) {
            int64_t t = 0;
            ok = parse_timestamp_text(s, arrow::TimeUnit::MICRO, &t);
            days = int32_t(floor_div(t, kMicrosPerDay));
          }
          if (ok) ARROW_RETURN_NOT_OK(static_cast<arrow::Date32Builder&>(*builder).Append(days));
          break;
        }
        case TypeId::kTimestamp:
        case TypeId::kTimestampLtz: {
          int64_t t = 0;
          ok = parse_timestamp_text(s, arrow::TimeUnit::MICRO, &t);
          if (ok) ARROW_RETURN_NOT_OK(static_cast<arrow::TimestampBuilder&>(*builder).Append(t));
          break;
        }
        case TypeId::kTime: {
          int64_t t = 0;
          ok = parse_timestamp_text(std::string("1970-01-01 ") + std::string(java_trim(s)),
                                    arrow::TimeUnit::MICRO, &t);
          if (ok) ARROW_RETURN_NOT_OK(static_cast<arrow::Time64Builder&>(*builder).Append(t));
          break;
        }
        default:
          return arrow::Status::NotImplemented("CAST from a string to ", to.to_string());
      }
      if (!ok) {
        if (!try_cast) {
          return arrow::Status::Invalid("cannot cast '", s, "' to ", to.to_string());
        }
        ARROW_RETURN_NOT_OK(builder->AppendNull());
      }
    }
    ARROW_ASSIGN_OR_RAISE(auto array, builder->Finish());
    return arrow::Datum(array);
  }

  static arrow::Result<arrow::Datum> cast_to_string(const arrow::Datum& value, int64_t rows,
                                                    const sql::SqlType& from) {
    ARROW_ASSIGN_OR_RAISE(auto array, as_array(value, rows));
    switch (from.id) {
      case TypeId::kBoolean: {
        Arg a{array};
        return string_rows({a}, rows, [&](int64_t i, std::string* out) -> arrow::Result<bool> {
          out->append(a.boolean(i) ? "TRUE" : "FALSE");
          return true;
        });
      }
      case TypeId::kFloat:
      case TypeId::kDouble: {
        ARROW_ASSIGN_OR_RAISE(auto d, cast_array(array, arrow::float64()));
        Arg a{d};
        const bool is_float = from.id == TypeId::kFloat;
        return string_rows({a}, rows, [&](int64_t i, std::string* out) -> arrow::Result<bool> {
          out->append(java_double_string(a.f64(i), is_float));
          return true;
        });
      }
      case TypeId::kTimestamp:
      case TypeId::kTimestampLtz: {
        ARROW_ASSIGN_OR_RAISE(
            auto a, normalize(arrow::Datum(array), rows, arrow::timestamp(arrow::TimeUnit::MICRO)));
        const int precision = from.precision;
        return string_rows({a}, rows, [&](int64_t i, std::string* out) -> arrow::Result<bool> {
          out->append(timestamp_to_string(a.i64(i), precision));
          return true;
        });
      }
      case TypeId::kDate: {
        ARROW_ASSIGN_OR_RAISE(auto d, cast_array(array, arrow::int32()));
        ARROW_ASSIGN_OR_RAISE(d, cast_array(d, arrow::int64()));
        Arg a{d};
        return string_rows({a}, rows, [&](int64_t i, std::string* out) -> arrow::Result<bool> {
          out->append(date_to_string(a.i64(i)));
          return true;
        });
      }
      default: {
        ARROW_ASSIGN_OR_RAISE(auto d, cast_array(array, arrow::utf8()));
        return arrow::Datum(d);
      }
    }
  }

  // -- CASE / IN / LIKE --------------------------------------------------------------------------

  // TRUE stays TRUE; FALSE and NULL become FALSE.
  static NodePtr is_true(NodePtr cond) {
    std::vector<NodePtr> args;
    args.push_back(std::move(cond));
    args.push_back(std::make_unique<LiteralNode>(std::make_shared<arrow::BooleanScalar>(false)));
    return arrow_call(arrow::boolean(), "coalesce", std::move(args));
  }

  arrow::Result<NodePtr> compile_case(const BoundExpr& e) {
    if (e.args.size() < 3 || e.args.size() % 2 == 0) {
      return arrow::Status::Invalid("CASE needs WHEN/THEN pairs and an ELSE");
    }
    auto type = e.type.to_arrow();
    ARROW_ASSIGN_OR_RAISE(NodePtr result, compile(*e.args.back()));
    for (int i = int(e.args.size()) - 3; i >= 0; i -= 2) {
      ARROW_ASSIGN_OR_RAISE(auto cond, compile(*e.args[size_t(i)]));
      ARROW_ASSIGN_OR_RAISE(auto then, compile(*e.args[size_t(i) + 1]));
      std::vector<NodePtr> args;
      args.push_back(is_true(std::move(cond)));
      args.push_back(std::move(then));
      args.push_back(std::move(result));
      result = arrow_call(type, "if_else", std::move(args));
    }
    return result;
  }

  arrow::Result<NodePtr> compile_in(const BoundExpr& e) {
    auto type = e.type.to_arrow();
    bool all_literals = e.args.size() > 1;
    for (size_t i = 1; i < e.args.size(); ++i) {
      auto lit = literal_of(*e.args[i]);
      all_literals &= lit != nullptr && lit->is_valid;
    }
    ARROW_ASSIGN_OR_RAISE(NodePtr value, compile(*e.args[0]));
    NodePtr result;
    if (all_literals) {
      // is_in, with NULL for a NULL value (SQL), then NOT.
      auto value_type = e.args[0]->type.to_arrow();
      std::unique_ptr<arrow::ArrayBuilder> builder;
      ARROW_ASSIGN_OR_RAISE(builder, arrow::MakeBuilder(value_type));
      for (size_t i = 1; i < e.args.size(); ++i) {
        auto lit = literal_of(*e.args[i]);
        if (!lit->type->Equals(*value_type)) {
          ARROW_ASSIGN_OR_RAISE(lit, lit->CastTo(value_type));
        }
        ARROW_RETURN_NOT_OK(builder->AppendScalar(*lit));
      }
      ARROW_ASSIGN_OR_RAISE(auto set, builder->Finish());
      const bool negated = e.negated;
      std::vector<NodePtr> args;
      args.push_back(std::move(value));
      Kernel k = [set, negated](std::vector<arrow::Datum>& v,
                                int64_t rows) -> arrow::Result<arrow::Datum> {
        cp::SetLookupOptions options(set, cp::SetLookupOptions::NullMatchingBehavior::MATCH);
        ARROW_ASSIGN_OR_RAISE(auto in, cp::CallFunction("is_in", {v[0]}, &options));
        if (negated) {
          ARROW_ASSIGN_OR_RAISE(in, cp::CallFunction("invert", {in}));
        }
        ARROW_ASSIGN_OR_RAISE(auto valid, cp::CallFunction("is_valid", {v[0]}));
        return cp::CallFunction("if_else",
                                {valid, in, arrow::Datum(arrow::MakeNullScalar(arrow::boolean()))});
      };
      return NodePtr(std::make_unique<KernelNode>(type, "IN", std::move(args), std::move(k)));
    }
    // General form: x = a OR x = b ... with three-valued logic.
    for (size_t i = 1; i < e.args.size(); ++i) {
      ARROW_ASSIGN_OR_RAISE(auto value_i, compile(*e.args[0]));
      ARROW_ASSIGN_OR_RAISE(auto item, compile(*e.args[i]));
      std::vector<NodePtr> eq_args;
      eq_args.push_back(std::move(value_i));
      eq_args.push_back(std::move(item));
      NodePtr eq = arrow_call(arrow::boolean(), "equal", std::move(eq_args));
      if (!result) {
        result = std::move(eq);
      } else {
        std::vector<NodePtr> or_args;
        or_args.push_back(std::move(result));
        or_args.push_back(std::move(eq));
        result = arrow_call(arrow::boolean(), "or_kleene", std::move(or_args));
      }
    }
    if (e.negated) result = arrow_call(type, "invert", std::move(result));
    return result;
  }

  arrow::Result<NodePtr> compile_like(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 2, 3));
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    const bool negated = e.negated;
    int escape = -1;
    if (e.args.size() == 3) {
      auto lit = literal_of(*e.args[2]);
      if (!lit || !lit->is_valid) return arrow::Status::Invalid("LIKE ESCAPE must be a literal");
      const auto& s = static_cast<const arrow::StringScalar&>(*lit).view();
      if (s.size() != 1) return arrow::Status::Invalid("LIKE ESCAPE must be one character");
      escape = static_cast<unsigned char>(s[0]);
      args.pop_back();
    }
    Kernel k = [negated, escape](std::vector<arrow::Datum>& v,
                                 int64_t rows) -> arrow::Result<arrow::Datum> {
      ARROW_ASSIGN_OR_RAISE(auto a, normalize_all(v, rows, {arrow::utf8(), arrow::utf8()}));
      return value_rows<arrow::BooleanBuilder, bool>(
          a, rows, arrow::boolean(), [&](int64_t i, bool* out) -> arrow::Result<bool> {
            *out = like_match(a[0].str(i), a[1].str(i), escape) != negated;
            return true;
          });
    };
    return NodePtr(
        std::make_unique<KernelNode>(arrow::boolean(), "LIKE", std::move(args), std::move(k)));
  }

  // -- function calls ----------------------------------------------------------------------------

  arrow::Result<NodePtr> compile_call(const BoundExpr& e) {
    const std::string& f = e.function;
    auto type = e.type.to_arrow();
    static const std::map<std::string, std::string> kDirect = {
        {"=", "equal"},          {"<>", "not_equal"},      {"<", "less"},
        {"<=", "less_equal"},    {">", "greater"},         {">=", "greater_equal"},
        {"AND", "and_kleene"},   {"OR", "or_kleene"},      {"NOT", "invert"},
        {"NEGATE", "negate"},    {"ABS", "abs"},           {"UPPER", "utf8_upper"},
        {"LOWER", "utf8_lower"}, {"COALESCE", "coalesce"}, {"CHAR_LENGTH", "utf8_length"},
    };
    if (auto it = kDirect.find(f); it != kDirect.end()) {
      ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
      return arrow_call(type, it->second, std::move(args));
    }
    if (f == "+" || f == "-" || f == "*" || f == "/") {
      return compile_arithmetic(e);
    }
    if (f == "%" || f == "MOD") return compile_mod(e);
    if (f == "IS TRUE" || f == "IS NOT TRUE" || f == "IS FALSE" || f == "IS NOT FALSE") {
      ARROW_ASSIGN_OR_RAISE(auto arg, compile(*e.args.at(0)));
      if (f == "IS FALSE" || f == "IS NOT FALSE") arg = arrow_call(type, "invert", std::move(arg));
      NodePtr t = is_true(std::move(arg));
      if (f == "IS NOT TRUE" || f == "IS NOT FALSE") t = arrow_call(type, "invert", std::move(t));
      return t;
    }
    if (f == "||" || f == "CONCAT") {
      ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
      args.push_back(std::make_unique<LiteralNode>(std::make_shared<arrow::StringScalar>("")));
      return arrow_call(type, "binary_join_element_wise", std::move(args),
                        std::make_shared<cp::JoinOptions>(cp::JoinOptions::EMIT_NULL));
    }
    if (f == "CONCAT_WS") {
      ARROW_RETURN_NOT_OK(arity(e, 2, 1000));
      // Flink skips NULL arguments; a NULL separator gives NULL.
      ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e, 1));
      ARROW_ASSIGN_OR_RAISE(auto sep, compile(*e.args[0]));
      args.push_back(std::move(sep));
      return arrow_call(type, "binary_join_element_wise", std::move(args),
                        std::make_shared<cp::JoinOptions>(cp::JoinOptions::SKIP));
    }
    if (f == "ROUND") return compile_round(e);
    if (f == "FLOOR" || f == "CEIL") return compile_floor_ceil(e);
    if (f == "POWER") {
      ARROW_RETURN_NOT_OK(arity(e, 2, 2));
      ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
      for (auto& a : args) {
        if (a->type()->id() != arrow::Type::DOUBLE) {
          a = arrow_call(
              arrow::float64(), "cast", std::move(a),
              std::make_shared<cp::CastOptions>(cp::CastOptions::Safe(arrow::float64())));
        }
      }
      return arrow_call(type, "power", std::move(args));
    }
    if (f == "SQRT" || f == "LN" || f == "LOG10" || f == "EXP") {
      ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
      static const std::map<std::string, std::string> kMath = {
          {"SQRT", "sqrt"}, {"LN", "ln"}, {"LOG10", "log10"}, {"EXP", "exp"}};
      return arrow_call(type, kMath.at(f), std::move(args));
    }
    if (f == "TRIM" || f == "LTRIM" || f == "RTRIM") return compile_trim(e);
    if (f == "NULLIF") {
      ARROW_RETURN_NOT_OK(arity(e, 2, 2));
      ARROW_ASSIGN_OR_RAISE(auto a, compile(*e.args[0]));
      ARROW_ASSIGN_OR_RAISE(auto a2, compile(*e.args[0]));
      ARROW_ASSIGN_OR_RAISE(auto b, compile(*e.args[1]));
      std::vector<NodePtr> eq_args;
      eq_args.push_back(std::move(a));
      eq_args.push_back(std::move(b));
      std::vector<NodePtr> args;
      args.push_back(is_true(arrow_call(arrow::boolean(), "equal", std::move(eq_args))));
      args.push_back(std::make_unique<LiteralNode>(arrow::MakeNullScalar(type)));
      args.push_back(std::move(a2));
      return arrow_call(type, "if_else", std::move(args));
    }
    if (f == "SUBSTRING" || f == "SUBSTR") return compile_substring(e);
    if (f == "REPLACE") return compile_replace(e);
    if (f == "SPLIT_INDEX") return compile_split_index(e);
    if (f == "REGEXP_EXTRACT") return compile_regexp_extract(e);
    if (f == "DATE_FORMAT") return compile_date_format(e);
    if (f == "TO_TIMESTAMP") return compile_to_timestamp(e);
    if (f == "EXTRACT") return compile_extract(e);
    if (f == "TIMESTAMPADD" || f == "TIMESTAMPDIFF") return compile_timestamp_add_diff(e);
    if (f == "CURRENT_TIMESTAMP" || f == "LOCALTIMESTAMP" || f == "NOW" || f == "PROCTIME" ||
        f == "CURRENT_ROW_TIMESTAMP") {
      Kernel k = [type](std::vector<arrow::Datum>&, int64_t) -> arrow::Result<arrow::Datum> {
        return arrow::Datum(std::make_shared<arrow::TimestampScalar>(now_micros(), type));
      };
      return NodePtr(std::make_unique<KernelNode>(type, f, std::vector<NodePtr>{}, std::move(k)));
    }
    if (f == "CURRENT_WATERMARK") {
      // Read at evaluation time: the watermark the operator has seen before this batch,
      // truncated to the result's millisecond precision.
      const EvalContext* context = context_;
      Kernel k = [type, context](std::vector<arrow::Datum>&,
                                 int64_t) -> arrow::Result<arrow::Datum> {
        const int64_t wm = context ? context->watermark : std::numeric_limits<int64_t>::min();
        if (wm == std::numeric_limits<int64_t>::min() ||
            wm == std::numeric_limits<int64_t>::max()) {
          return arrow::Datum(arrow::MakeNullScalar(type));
        }
        return arrow::Datum(
            std::make_shared<arrow::TimestampScalar>(floor_div(wm, 1000) * 1000, type));
      };
      return NodePtr(std::make_unique<KernelNode>(type, f, std::vector<NodePtr>{}, std::move(k)));
    }
    if (f == "CURRENT_DATE") {
      Kernel k = [type](std::vector<arrow::Datum>&, int64_t) -> arrow::Result<arrow::Datum> {
        return arrow::Datum(
            std::make_shared<arrow::Date32Scalar>(int32_t(floor_div(now_micros(), kMicrosPerDay))));
      };
      return NodePtr(std::make_unique<KernelNode>(type, f, std::vector<NodePtr>{}, std::move(k)));
    }
    return arrow::Status::NotImplemented("function ", f, " is not supported by the engine");
  }

  arrow::Result<NodePtr> compile_arithmetic(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 2, 2));
    auto type = e.type.to_arrow();
    const std::string& f = e.function;
    const auto& lt = e.args[0]->type;
    const auto& rt = e.args[1]->type;
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    // datetime +/- INTERVAL YEAR TO MONTH: calendar arithmetic of our own.
    if ((f == "+" || f == "-") &&
        (lt.id == TypeId::kIntervalYearMonth || rt.id == TypeId::kIntervalYearMonth)) {
      const bool interval_first = lt.id == TypeId::kIntervalYearMonth;
      const int sign = f == "-" ? -1 : 1;
      Kernel k = [interval_first, sign](std::vector<arrow::Datum>& v,
                                        int64_t rows) -> arrow::Result<arrow::Datum> {
        ARROW_ASSIGN_OR_RAISE(auto ts, normalize(v[interval_first ? 1 : 0], rows,
                                                 arrow::timestamp(arrow::TimeUnit::MICRO)));
        ARROW_ASSIGN_OR_RAISE(auto months_arr, as_array(v[interval_first ? 0 : 1], rows));
        ARROW_ASSIGN_OR_RAISE(auto months_view, months_arr->View(arrow::int32()));
        ARROW_ASSIGN_OR_RAISE(auto months, cast_array(months_view, arrow::int64()));
        Arg m{months};
        return value_rows<arrow::TimestampBuilder, int64_t>(
            {ts, m}, rows, arrow::timestamp(arrow::TimeUnit::MICRO),
            [&](int64_t i, int64_t* out) -> arrow::Result<bool> {
              *out = add_months(ts.i64(i), sign * m.i64(i));
              return true;
            });
      };
      return NodePtr(std::make_unique<KernelNode>(type, f, std::move(args), std::move(k)));
    }
    static const std::map<std::string, std::string> kOps = {
        {"+", "add"}, {"-", "subtract"}, {"*", "multiply"}, {"/", "divide"}};
    // Integer division by zero is an error in Flink as in Arrow's divide; the rest wraps (Java).
    return arrow_call(type, kOps.at(f), std::move(args));
  }

  arrow::Result<NodePtr> compile_mod(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 2, 2));
    auto type = e.type.to_arrow();
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    const bool integral = e.args[0]->type.is_integer() && e.args[1]->type.is_integer();
    Kernel k = [integral](std::vector<arrow::Datum>& v,
                          int64_t rows) -> arrow::Result<arrow::Datum> {
      if (integral) {
        ARROW_ASSIGN_OR_RAISE(auto a, normalize_all(v, rows, {arrow::int64(), arrow::int64()}));
        return value_rows<arrow::Int64Builder, int64_t>(
            a, rows, arrow::int64(), [&](int64_t i, int64_t* out) -> arrow::Result<bool> {
              const int64_t d = a[1].i64(i);
              if (d == 0) return arrow::Status::Invalid("division by zero");
              *out = d == -1 ? 0 : a[0].i64(i) % d;  // Java's % (sign of the dividend)
              return true;
            });
      }
      ARROW_ASSIGN_OR_RAISE(auto a, normalize_all(v, rows, {arrow::float64(), arrow::float64()}));
      return value_rows<arrow::DoubleBuilder, double>(
          a, rows, arrow::float64(), [&](int64_t i, double* out) -> arrow::Result<bool> {
            *out = std::fmod(a[0].f64(i), a[1].f64(i));
            return true;
          });
    };
    return NodePtr(std::make_unique<KernelNode>(type, "MOD", std::move(args), std::move(k)));
  }

  arrow::Result<NodePtr> compile_round(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 1, 2));
    auto type = e.type.to_arrow();
    int64_t digits = 0;
    if (e.args.size() == 2) {
      auto lit = literal_of(*e.args[1]);
      if (!lit || !lit->is_valid) {
        return arrow::Status::NotImplemented("ROUND: the digits argument must be a literal");
      }
      ARROW_ASSIGN_OR_RAISE(auto as_int, lit->CastTo(arrow::int64()));
      digits = static_cast<const arrow::Int64Scalar&>(*as_int).value;
    }
    ARROW_ASSIGN_OR_RAISE(auto arg, compile(*e.args[0]));
    if (e.args[0]->type.is_integer() && digits >= 0) return arg;
    // Flink rounds HALF_UP (away from zero at .5).
    return arrow_call(
        type, "round", std::move(arg),
        std::make_shared<cp::RoundOptions>(digits, cp::RoundMode::HALF_TOWARDS_INFINITY));
  }

  arrow::Result<NodePtr> compile_floor_ceil(const BoundExpr& e) {
    auto type = e.type.to_arrow();
    const bool floor = e.function == "FLOOR";
    if (!e.time_unit) {
      ARROW_RETURN_NOT_OK(arity(e, 1, 1));
      ARROW_ASSIGN_OR_RAISE(auto arg, compile(*e.args[0]));
      if (e.args[0]->type.is_integer()) return arg;
      return arrow_call(type, floor ? "floor" : "ceil", std::move(arg));
    }
    const sql::TimeUnit unit = *e.time_unit;
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    Kernel k = [unit, floor, type](std::vector<arrow::Datum>& v,
                                   int64_t rows) -> arrow::Result<arrow::Datum> {
      ARROW_ASSIGN_OR_RAISE(auto a,
                            normalize_all(v, rows, {arrow::timestamp(arrow::TimeUnit::MICRO)}));
      return value_rows<arrow::TimestampBuilder, int64_t>(
          a, rows, arrow::timestamp(arrow::TimeUnit::MICRO),
          [&](int64_t i, int64_t* out) -> arrow::Result<bool> {
            ARROW_ASSIGN_OR_RAISE(*out, truncate_time(a[0].i64(i), unit, floor));
            return true;
          });
    };
    return NodePtr(std::make_unique<KernelNode>(type, e.function, std::move(args), std::move(k)));
  }

  static arrow::Result<int64_t> truncate_time(int64_t t, sql::TimeUnit unit, bool floor) {
    int64_t step = 0;
    switch (unit) {
      case sql::TimeUnit::kMicrosecond:
        return t;
      case sql::TimeUnit::kMillisecond:
        step = 1000;
        break;
      case sql::TimeUnit::kSecond:
        step = kMicrosPerSecond;
        break;
      case sql::TimeUnit::kMinute:
        step = 60 * kMicrosPerSecond;
        break;
      case sql::TimeUnit::kHour:
        step = 3600 * kMicrosPerSecond;
        break;
      case sql::TimeUnit::kDay:
        step = kMicrosPerDay;
        break;
      case sql::TimeUnit::kWeek: {
        // Weeks start on Sunday in Flink's FLOOR(... TO WEEK).
        const int64_t days = floor_div(t, kMicrosPerDay);
        const int64_t start = days - ((days + 4) % 7 + 7) % 7;
        int64_t r = start * kMicrosPerDay;
        if (!floor && r != t) r += 7 * kMicrosPerDay;
        return r;
      }
      case sql::TimeUnit::kMonth:
      case sql::TimeUnit::kQuarter:
      case sql::TimeUnit::kYear: {
        DateTime dt = break_down(t);
        int m = dt.date.m;
        if (unit == sql::TimeUnit::kYear) m = 1;
        if (unit == sql::TimeUnit::kQuarter) m = (m - 1) / 3 * 3 + 1;
        int64_t r = days_from_civil(dt.date.y, unsigned(m), 1) * kMicrosPerDay;
        if (!floor && r != t) {
          r = add_months(r, unit == sql::TimeUnit::kYear      ? 12
                            : unit == sql::TimeUnit::kQuarter ? 3
                                                              : 1);
        }
        return r;
      }
      default:
        return arrow::Status::NotImplemented("FLOOR/CEIL to ", sql::time_unit_name(unit));
    }
    int64_t r = floor_div(t, step) * step;
    if (!floor && r != t) r += step;
    return r;
  }

  arrow::Result<NodePtr> compile_trim(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 1, 2));
    auto type = e.type.to_arrow();
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    const std::string& f = e.function;
    const int mode = f == "TRIM" ? 0 : (f == "LTRIM" ? 1 : 2);
    Kernel k = [mode](std::vector<arrow::Datum>& v, int64_t rows) -> arrow::Result<arrow::Datum> {
      std::vector<std::shared_ptr<arrow::DataType>> types(v.size(), arrow::utf8());
      ARROW_ASSIGN_OR_RAISE(auto a, normalize_all(v, rows, types));
      return string_rows(a, rows, [&](int64_t i, std::string* out) -> arrow::Result<bool> {
        std::string_view s = a[0].str(i);
        const std::string_view chars = a.size() > 1 ? a[1].str(i) : std::string_view(" ");
        if (!chars.empty()) {
          if (mode != 2) {
            while (!s.empty() && chars.find(s.front()) != std::string_view::npos)
              s.remove_prefix(1);
          }
          if (mode != 1) {
            while (!s.empty() && chars.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
          }
        }
        out->append(s);
        return true;
      });
    };
    return NodePtr(std::make_unique<KernelNode>(type, f, std::move(args), std::move(k)));
  }

  arrow::Result<NodePtr> compile_substring(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 2, 3));
    auto type = e.type.to_arrow();
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    // Constant start >= 1 and length >= 0 (SUBSTRING(event_date, 1, 7)): Arrow's
    // utf8_slice_codeunits has the same meaning and no per-row string copies.
    auto constant = [&](size_t i) -> std::optional<int64_t> {
      if (i >= e.args.size() || e.args[i]->kind != BoundExprKind::kLiteral || !e.args[i]->literal ||
          !e.args[i]->literal->is_valid) {
        return std::nullopt;
      }
      auto v = e.args[i]->literal->CastTo(arrow::int64());
      if (!v.ok()) return std::nullopt;
      return std::static_pointer_cast<arrow::Int64Scalar>(*v)->value;
    };
    const auto start = constant(1);
    const auto length = constant(2);
    if (start && *start >= 1 && (e.args.size() == 2 || (length && *length >= 0))) {
      cp::SliceOptions options(*start - 1, e.args.size() == 2 ? std::numeric_limits<int64_t>::max()
                                                              : *start - 1 + *length);
      Kernel k = [options](std::vector<arrow::Datum>& v, int64_t) -> arrow::Result<arrow::Datum> {
        return cp::CallFunction("utf8_slice_codeunits", {v[0]}, &options);
      };
      return NodePtr(
          std::make_unique<KernelNode>(type, "SUBSTRING", std::move(args), std::move(k)));
    }
    Kernel k = [](std::vector<arrow::Datum>& v, int64_t rows) -> arrow::Result<arrow::Datum> {
      std::vector<std::shared_ptr<arrow::DataType>> types = {arrow::utf8(), arrow::int64()};
      if (v.size() == 3) types.push_back(arrow::int64());
      ARROW_ASSIGN_OR_RAISE(auto a, normalize_all(v, rows, types));
      return string_rows(a, rows, [&](int64_t i, std::string* out) -> arrow::Result<bool> {
        const std::string_view s = a[0].str(i);
        const int64_t n = int64_t(utf8_length(s));
        int64_t start = a[1].i64(i);
        // Calcite/Flink: 1-based; 0 acts as 1; negative counts from the end.
        if (start < 0) start = std::max<int64_t>(n + start + 1, 1);
        if (start == 0) start = 1;
        int64_t len = a.size() == 3 ? a[2].i64(i) : n;
        if (len < 0) return arrow::Status::Invalid("negative SUBSTRING length ", len);
        const int64_t from = std::min(start - 1, n);
        const int64_t to = std::min(n, from + len);
        const size_t b = utf8_offset(s, from);
        const size_t end = utf8_offset(s, to);
        out->append(s.substr(b, end - b));
        return true;
      });
    };
    return NodePtr(std::make_unique<KernelNode>(type, "SUBSTRING", std::move(args), std::move(k)));
  }

  arrow::Result<NodePtr> compile_replace(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 3, 3));
    auto type = e.type.to_arrow();
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    Kernel k = [](std::vector<arrow::Datum>& v, int64_t rows) -> arrow::Result<arrow::Datum> {
      ARROW_ASSIGN_OR_RAISE(auto a,
                            normalize_all(v, rows, {arrow::utf8(), arrow::utf8(), arrow::utf8()}));
      return string_rows(a, rows, [&](int64_t i, std::string* out) -> arrow::Result<bool> {
        const std::string_view s = a[0].str(i);
        const std::string_view from = a[1].str(i);
        const std::string_view to = a[2].str(i);
        if (from.empty()) {
          out->append(s);
          return true;
        }
        size_t pos = 0;
        while (true) {
          const size_t hit = s.find(from, pos);
          if (hit == std::string_view::npos) break;
          out->append(s.substr(pos, hit - pos));
          out->append(to);
          pos = hit + from.size();
        }
        out->append(s.substr(pos));
        return true;
      });
    };
    return NodePtr(std::make_unique<KernelNode>(type, "REPLACE", std::move(args), std::move(k)));
  }

  arrow::Result<NodePtr> compile_split_index(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 3, 3));
    auto type = e.type.to_arrow();
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    Kernel k = [](std::vector<arrow::Datum>& v, int64_t rows) -> arrow::Result<arrow::Datum> {
      ARROW_ASSIGN_OR_RAISE(auto a,
                            normalize_all(v, rows, {arrow::utf8(), arrow::utf8(), arrow::int64()}));
      return string_rows(a, rows, [&](int64_t i, std::string* out) -> arrow::Result<bool> {
        // Flink: StringUtils.splitByWholeSeparatorPreserveAllTokens; NULL when out of range.
        const std::string_view s = a[0].str(i);
        const std::string_view sep = a[1].str(i);
        const int64_t index = a[2].i64(i);
        if (index < 0) return false;
        if (s.empty()) return false;
        if (sep.empty()) {
          // Whitespace separation as commons-lang does for an empty separator.
          int64_t n = 0;
          size_t p = 0;
          while (p <= s.size()) {
            size_t q = p;
            while (q < s.size() && !std::isspace(static_cast<unsigned char>(s[q]))) ++q;
            if (n == index) {
              out->append(s.substr(p, q - p));
              return true;
            }
            ++n;
            if (q >= s.size()) break;
            p = q + 1;
          }
          return false;
        }
        int64_t n = 0;
        size_t p = 0;
        while (true) {
          const size_t q = s.find(sep, p);
          if (n == index) {
            out->append(s.substr(p, q == std::string_view::npos ? std::string_view::npos : q - p));
            return true;
          }
          if (q == std::string_view::npos) return false;
          ++n;
          p = q + sep.size();
        }
      });
    };
    return NodePtr(
        std::make_unique<KernelNode>(type, "SPLIT_INDEX", std::move(args), std::move(k)));
  }

  arrow::Result<NodePtr> compile_regexp_extract(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 2, 3));
    auto type = e.type.to_arrow();
    std::shared_ptr<std::regex> constant;
    if (auto lit = literal_of(*e.args[1]); lit && lit->is_valid) {
      const std::string pattern(static_cast<const arrow::StringScalar&>(*lit).view());
      try {
        constant = std::make_shared<std::regex>(pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& err) {
        return arrow::Status::Invalid("REGEXP_EXTRACT: invalid regular expression '", pattern,
                                      "': ", err.what());
      }
    }
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    Kernel k = [constant](std::vector<arrow::Datum>& v,
                          int64_t rows) -> arrow::Result<arrow::Datum> {
      std::vector<std::shared_ptr<arrow::DataType>> types = {arrow::utf8(), arrow::utf8()};
      if (v.size() == 3) types.push_back(arrow::int64());
      ARROW_ASSIGN_OR_RAISE(auto a, normalize_all(v, rows, types));
      return string_rows(a, rows, [&](int64_t i, std::string* out) -> arrow::Result<bool> {
        std::shared_ptr<std::regex> re = constant;
        if (!re) {
          try {
            re = std::make_shared<std::regex>(std::string(a[1].str(i)), std::regex::ECMAScript);
          } catch (const std::regex_error&) {
            return false;  // Flink returns NULL for an invalid pattern
          }
        }
        const int64_t group = a.size() == 3 ? a[2].i64(i) : 1;
        const std::string s(a[0].str(i));
        std::smatch m;
        if (!std::regex_search(s, m, *re)) return false;
        if (group < 0 || size_t(group) >= m.size() || !m[size_t(group)].matched) return false;
        out->append(m[size_t(group)].str());
        return true;
      });
    };
    return NodePtr(
        std::make_unique<KernelNode>(type, "REGEXP_EXTRACT", std::move(args), std::move(k)));
  }

  arrow::Result<NodePtr> compile_date_format(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 2, 2));
    auto type = e.type.to_arrow();
    if (auto lit = literal_of(*e.args[1]); lit && lit->is_valid) {
      ARROW_RETURN_NOT_OK(check_java_pattern(static_cast<const arrow::StringScalar&>(*lit).view()));
    }
    const bool from_string = e.args[0]->type.is_string();
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    Kernel k = [from_string](std::vector<arrow::Datum>& v,
                             int64_t rows) -> arrow::Result<arrow::Datum> {
      std::vector<Arg> a;
      if (from_string) {
        ARROW_ASSIGN_OR_RAISE(a, normalize_all(v, rows, {arrow::utf8(), arrow::utf8()}));
      } else {
        ARROW_ASSIGN_OR_RAISE(
            a, normalize_all(v, rows, {arrow::timestamp(arrow::TimeUnit::MICRO), arrow::utf8()}));
      }
      return string_rows(a, rows, [&](int64_t i, std::string* out) -> arrow::Result<bool> {
        int64_t t = 0;
        if (from_string) {
          if (!parse_timestamp_text(a[0].str(i), arrow::TimeUnit::MICRO, &t)) return false;
        } else {
          t = a[0].i64(i);
        }
        if (!check_java_pattern(a[1].str(i)).ok()) return false;
        format_java_pattern(t, a[1].str(i), out);
        return true;
      });
    };
    return NodePtr(
        std::make_unique<KernelNode>(type, "DATE_FORMAT", std::move(args), std::move(k)));
  }

  arrow::Result<NodePtr> compile_to_timestamp(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 1, 2));
    auto type = e.type.to_arrow();
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    Kernel k = [](std::vector<arrow::Datum>& v, int64_t rows) -> arrow::Result<arrow::Datum> {
      std::vector<std::shared_ptr<arrow::DataType>> types(v.size(), arrow::utf8());
      ARROW_ASSIGN_OR_RAISE(auto a, normalize_all(v, rows, types));
      return value_rows<arrow::TimestampBuilder, int64_t>(
          a, rows, arrow::timestamp(arrow::TimeUnit::MICRO),
          [&](int64_t i, int64_t* out) -> arrow::Result<bool> {
            // Flink: NULL when the text does not match (default 'yyyy-MM-dd HH:mm:ss').
            if (a.size() == 1)
              return parse_timestamp_text(a[0].str(i), arrow::TimeUnit::MICRO, out);
            return parse_java_pattern(java_trim(a[0].str(i)), a[1].str(i), out);
          });
    };
    return NodePtr(
        std::make_unique<KernelNode>(type, "TO_TIMESTAMP", std::move(args), std::move(k)));
  }

  arrow::Result<NodePtr> compile_extract(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 1, 1));
    if (!e.time_unit) return arrow::Status::Invalid("EXTRACT without a time unit");
    auto type = e.type.to_arrow();
    const sql::TimeUnit unit = *e.time_unit;
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    Kernel k = [unit](std::vector<arrow::Datum>& v, int64_t rows) -> arrow::Result<arrow::Datum> {
      ARROW_ASSIGN_OR_RAISE(auto a,
                            normalize_all(v, rows, {arrow::timestamp(arrow::TimeUnit::MICRO)}));
      return value_rows<arrow::Int64Builder, int64_t>(
          a, rows, arrow::int64(), [&](int64_t i, int64_t* out) -> arrow::Result<bool> {
            const int64_t t = a[0].i64(i);
            const DateTime dt = break_down(t);
            switch (unit) {
              case sql::TimeUnit::kYear:
                *out = dt.date.y;
                break;
              case sql::TimeUnit::kQuarter:
                *out = (dt.date.m - 1) / 3 + 1;
                break;
              case sql::TimeUnit::kMonth:
                *out = dt.date.m;
                break;
              case sql::TimeUnit::kWeek:
                *out = iso_week(dt);
                break;
              case sql::TimeUnit::kDay:
                *out = dt.date.d;
                break;
              case sql::TimeUnit::kHour:
                *out = dt.hour;
                break;
              case sql::TimeUnit::kMinute:
                *out = dt.minute;
                break;
              case sql::TimeUnit::kSecond:
                *out = dt.second;
                break;
              case sql::TimeUnit::kMillisecond:
                *out = dt.second * 1000 + dt.micros / 1000;
                break;
              case sql::TimeUnit::kMicrosecond:
                *out = dt.second * kMicrosPerSecond + dt.micros;
                break;
              case sql::TimeUnit::kNanosecond:
                *out = (dt.second * kMicrosPerSecond + dt.micros) * 1000;
                break;
              case sql::TimeUnit::kDayOfWeek:
                *out = (dt.day_of_week() + 1) % 7 + 1;  // Sunday = 1
                break;
              case sql::TimeUnit::kDayOfYear:
                *out = dt.day_of_year();
                break;
              case sql::TimeUnit::kEpoch:
                *out = floor_div(t, kMicrosPerSecond);
                break;
            }
            return true;
          });
    };
    return NodePtr(std::make_unique<KernelNode>(type, "EXTRACT", std::move(args), std::move(k)));
  }

  arrow::Result<NodePtr> compile_timestamp_add_diff(const BoundExpr& e) {
    ARROW_RETURN_NOT_OK(arity(e, 2, 2));
    if (!e.time_unit) return arrow::Status::Invalid(e.function, " without a time unit");
    auto type = e.type.to_arrow();
    const sql::TimeUnit unit = *e.time_unit;
    const bool add = e.function == "TIMESTAMPADD";
    ARROW_ASSIGN_OR_RAISE(auto args, compile_args(e));
    auto fixed_step = [](sql::TimeUnit u) -> int64_t {
      switch (u) {
        case sql::TimeUnit::kMicrosecond:
          return 1;
        case sql::TimeUnit::kMillisecond:
          return 1000;
        case sql::TimeUnit::kSecond:
          return kMicrosPerSecond;
        case sql::TimeUnit::kMinute:
          return 60 * kMicrosPerSecond;
        case sql::TimeUnit::kHour:
          return 3600 * kMicrosPerSecond;
        case sql::TimeUnit::kDay:
          return kMicrosPerDay;
        case sql::TimeUnit::kWeek:
          return 7 * kMicrosPerDay;
        default:
          return 0;
      }
    };
    const int64_t step = fixed_step(unit);
    const int64_t months_per = unit == sql::TimeUnit::kYear      ? 12
                               : unit == sql::TimeUnit::kQuarter ? 3
                               : unit == sql::TimeUnit::kMonth   ? 1
                                                                 : 0;
    if (step == 0 && months_per == 0) {
      return arrow::Status::NotImplemented(e.function, " with unit ", sql::time_unit_name(unit));
    }
    Kernel k = [add, step, months_per](std::vector<arrow::Datum>& v,
                                       int64_t rows) -> arrow::Result<arrow::Datum> {
      const auto ts_type = arrow::timestamp(arrow::TimeUnit::MICRO);
      if (add) {
        ARROW_ASSIGN_OR_RAISE(auto a, normalize_all(v, rows, {arrow::int64(), ts_type}));
        return value_rows<arrow::TimestampBuilder, int64_t>(
            a, rows, ts_type, [&](int64_t i, int64_t* out) -> arrow::Result<bool> {
              *out = step ? a[1].i64(i) + a[0].i64(i) * step
                          : add_months(a[1].i64(i), a[0].i64(i) * months_per);
              return true;
            });
      }
      ARROW_ASSIGN_OR_RAISE(auto a, normalize_all(v, rows, {ts_type, ts_type}));
      return value_rows<arrow::Int64Builder, int64_t>(
          a, rows, arrow::int64(), [&](int64_t i, int64_t* out) -> arrow::Result<bool> {
            const int64_t from = a[0].i64(i), to = a[1].i64(i);
            if (step) {
              *out = (to - from) / step;  // truncates toward zero, as Flink
              return true;
            }
            const DateTime f = break_down(from), t = break_down(to);
            int64_t months = (t.date.y - f.date.y) * 12 + (t.date.m - f.date.m);
            // Not a whole month yet when the day/time of month has not been reached.
            const int64_t f_rest =
                from - days_from_civil(f.date.y, unsigned(f.date.m), 1) * kMicrosPerDay;
            const int64_t t_rest =
                to - days_from_civil(t.date.y, unsigned(t.date.m), 1) * kMicrosPerDay;
            if (months > 0 && t_rest < f_rest) --months;
            if (months < 0 && t_rest > f_rest) ++months;
            *out = months / months_per;
            return true;
          });
    };
    return NodePtr(std::make_unique<KernelNode>(type, e.function, std::move(args), std::move(k)));
  }
};

class CompiledExprImpl final : public CompiledExpr {
 public:
  explicit CompiledExprImpl(NodePtr root) : root_(std::move(root)) {}
  const std::shared_ptr<arrow::DataType>& type() const override { return root_->type(); }
  arrow::Result<arrow::Datum> evaluate(const arrow::RecordBatch& batch) const override {
    return root_->eval(batch);
  }

 private:
  NodePtr root_;
};

}  // namespace

arrow::Status ensure_compute_kernels() {
  // Arrow >= 21 registers its compute kernels only when asked to.
  static const arrow::Status status = arrow::compute::Initialize();
  return status;
}

arrow::Result<std::unique_ptr<CompiledExpr>> CompiledExpr::compile(const sql::BoundExpr& expr,
                                                                   const EvalContext* context) {
  ARROW_RETURN_NOT_OK(ensure_compute_kernels());
  Compiler compiler(context);
  auto root = compiler.compile(expr);
  if (!root.ok()) {
    return root.status().WithMessage(root.status().message(), " (in ", expr.to_string(), ")");
  }
  return std::make_unique<CompiledExprImpl>(std::move(*root));
}

arrow::Result<std::shared_ptr<arrow::Array>> CompiledExpr::evaluate_array(
    const arrow::RecordBatch& batch) const {
  ARROW_ASSIGN_OR_RAISE(auto datum, evaluate(batch));
  ARROW_ASSIGN_OR_RAISE(auto array, as_array(datum, batch.num_rows()));
  if (!array->type()->Equals(*type())) {
    ARROW_ASSIGN_OR_RAISE(array, cast_array(array, type()));
  }
  return array;
}

arrow::Result<std::shared_ptr<arrow::Scalar>> evaluate_constant(const sql::BoundExpr& expr) {
  ARROW_ASSIGN_OR_RAISE(auto compiled, CompiledExpr::compile(expr));
  auto empty = arrow::RecordBatch::Make(arrow::schema({}), 1, arrow::ArrayVector{});
  ARROW_ASSIGN_OR_RAISE(auto array, compiled->evaluate_array(*empty));
  return array->GetScalar(0);
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> filter_batch(
    const std::shared_ptr<arrow::RecordBatch>& batch, const CompiledExpr& predicate) {
  ARROW_ASSIGN_OR_RAISE(auto mask, predicate.evaluate(*batch));
  if (mask.is_scalar()) {
    const auto& s = static_cast<const arrow::BooleanScalar&>(*mask.scalar());
    if (s.is_valid && s.value) return batch;
    return batch->Slice(0, 0);
  }
  const auto& bools = *mask.make_array();
  if (bools.null_count() == 0 &&
      static_cast<const arrow::BooleanArray&>(bools).true_count() == batch->num_rows()) {
    return batch;
  }
  ARROW_ASSIGN_OR_RAISE(auto filtered, cp::Filter(arrow::Datum(batch), mask));
  return filtered.record_batch();
}

}  // namespace roadpulse::exec
