// `datagen`: generated rows with Flink's options.
//
//   'rows-per-second'        rate limit (default 10000)
//   'number-of-rows'         total rows; without it (and without a sequence field) unbounded
//   'fields.<f>.kind'        'random' (default) or 'sequence'
//   'fields.<f>.start/end'   sequence bounds (required for sequences; the source ends when the
//                            shortest sequence is exhausted)
//   'fields.<f>.min/max'     random numeric bounds (default: the type's range; for doubles 0..1e9)
//   'fields.<f>.length'      random string length (default 100)
//   'fields.<f>.max-past'    random timestamps lie within this much before now (default 0)
//   'fields.<f>.null-rate'   share of NULLs (default 0)
//
// Checkpoints record the rows emitted and the random generator's state: a resumed job continues
// the sequences after the last checkpointed row (no row twice, none skipped).

#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <thread>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <fmt/format.h>

#include "common/time.h"
#include "connect/connectors.h"

namespace roadpulse::connect {

namespace {

constexpr const char* kPositionMagic = "datagen-position";

struct FieldGen {
  std::string name;
  std::shared_ptr<arrow::DataType> type;
  bool sequence = false;
  int64_t start = 0, end = 0;  // sequence
  double min = 0, max = 0;     // random numbers
  int64_t length = 100;        // random strings
  int64_t max_past_ms = 0;     // random timestamps
  double null_rate = 0;
};

class DatagenSource final : public exec::Source {
 public:
  DatagenSource(std::vector<FieldGen> fields, std::shared_ptr<arrow::Schema> schema,
                int64_t rows_per_second, std::optional<int64_t> total, int64_t batch_rows)
      : fields_(std::move(fields)),
        schema_(std::move(schema)),
        rate_(rows_per_second),
        total_(total),
        batch_rows_(batch_rows),
        rng_(std::random_device{}()) {}

  std::string name() const override { return "datagen"; }
  bool bounded() const override { return total_.has_value(); }

  arrow::Status open(const exec::OperatorContext& context) override {
    started_ = now_micros();
    if (context.restored_state) {
      // Resume after the rows the checkpoint covers: sequences continue from there and the
      // random generator from its saved state; the rate limit counts from the resumed row.
      std::istringstream in(context.restored_state->ToString());
      std::string magic;
      int version = 0;
      int64_t emitted = -1;
      in >> magic >> version >> emitted >> rng_;
      if (!in || magic != kPositionMagic || version != 1 || emitted < 0) {
        return arrow::Status::Invalid(name(), ": malformed checkpoint position");
      }
      emitted_ = emitted;
      if (rate_ > 0) started_ -= emitted_ * 1000000 / rate_;
    }
    return arrow::Status::OK();
  }

  // Rows emitted so far and the generator's state (std::mt19937_64's text form).
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_position(int64_t) override {
    std::ostringstream out;
    out << kPositionMagic << ' ' << 1 << ' ' << emitted_ << ' ' << rng_;
    return arrow::Buffer::FromString(out.str());
  }

  arrow::Result<exec::SourceChunk> next(int64_t timeout_ms) override {
    exec::SourceChunk chunk;
    int64_t n = batch_rows_;
    if (total_) n = std::min(n, *total_ - emitted_);
    if (n <= 0) {
      chunk.end_of_input = true;
      return chunk;
    }
    if (rate_ > 0) {
      const int64_t elapsed = now_micros() - started_;
      const int64_t allowed =
          elapsed * rate_ / 1000000 + std::min<int64_t>(rate_, batch_rows_) / 10 + 1;
      if (allowed <= emitted_) {
        const int64_t wait_us = (emitted_ + 1) * 1000000 / rate_ - elapsed;
        std::this_thread::sleep_for(
            std::chrono::microseconds(std::clamp<int64_t>(wait_us, 100, timeout_ms * 1000)));
        return chunk;
      }
      n = std::min(n, allowed - emitted_);
    }
    std::vector<std::shared_ptr<arrow::Array>> arrays;
    for (const auto& f : fields_) {
      ARROW_ASSIGN_OR_RAISE(auto a, generate(f, n));
      arrays.push_back(std::move(a));
    }
    emitted_ += n;
    chunk.batch = arrow::RecordBatch::Make(schema_, n, std::move(arrays));
    if (total_ && emitted_ >= *total_) chunk.end_of_input = true;
    return chunk;
  }

  exec::SourceMetrics metrics() const override { return {emitted_, 0}; }

 private:
  arrow::Result<std::shared_ptr<arrow::Array>> generate(const FieldGen& f, int64_t n) {
    std::unique_ptr<arrow::ArrayBuilder> builder;
    ARROW_ASSIGN_OR_RAISE(builder, arrow::MakeBuilder(f.type));
    ARROW_RETURN_NOT_OK(builder->Reserve(n));
    std::uniform_real_distribution<double> unit(0, 1);
    for (int64_t i = 0; i < n; ++i) {
      if (f.null_rate > 0 && unit(rng_) < f.null_rate) {
        ARROW_RETURN_NOT_OK(builder->AppendNull());
        continue;
      }
      const int64_t seq = f.start + emitted_ + i;
      switch (f.type->id()) {
        case arrow::Type::BOOL:
          ARROW_RETURN_NOT_OK(static_cast<arrow::BooleanBuilder&>(*builder).Append(
              f.sequence ? (seq % 2 != 0) : unit(rng_) < 0.5));
          break;
        case arrow::Type::INT8:
        case arrow::Type::INT16:
        case arrow::Type::INT32:
        case arrow::Type::INT64: {
          int64_t v = seq;
          if (!f.sequence) {
            std::uniform_int_distribution<int64_t> d(int64_t(f.min), int64_t(f.max));
            v = d(rng_);
          }
          ARROW_RETURN_NOT_OK(append_int(*builder, f.type->id(), v));
          break;
        }
        case arrow::Type::FLOAT:
        case arrow::Type::DOUBLE: {
          const double v = f.sequence ? double(seq) : f.min + unit(rng_) * (f.max - f.min);
          if (f.type->id() == arrow::Type::FLOAT) {
            ARROW_RETURN_NOT_OK(static_cast<arrow::FloatBuilder&>(*builder).Append(float(v)));
          } else {
            ARROW_RETURN_NOT_OK(static_cast<arrow::DoubleBuilder&>(*builder).Append(v));
          }
          break;
        }
        case arrow::Type::STRING: {
          std::string s;
          if (f.sequence) {
            s = std::to_string(seq);
          } else {
            static constexpr char kChars[] = "0123456789abcdef";
            std::uniform_int_distribution<int> d(0, 15);
            s.resize(size_t(f.length));
            for (auto& c : s) c = kChars[d(rng_)];
          }
          ARROW_RETURN_NOT_OK(static_cast<arrow::StringBuilder&>(*builder).Append(s));
          break;
        }
        case arrow::Type::TIMESTAMP: {
          int64_t t = now_micros();
          if (f.max_past_ms > 0) {
            std::uniform_int_distribution<int64_t> d(0, f.max_past_ms * 1000);
            t -= d(rng_);
          }
          const auto unit_type = static_cast<const arrow::TimestampType&>(*f.type).unit();
          const int64_t v = unit_type == arrow::TimeUnit::MILLI    ? t / 1000
                            : unit_type == arrow::TimeUnit::SECOND ? t / 1000000
                            : unit_type == arrow::TimeUnit::NANO   ? t * 1000
                                                                   : t;
          ARROW_RETURN_NOT_OK(static_cast<arrow::TimestampBuilder&>(*builder).Append(v));
          break;
        }
        case arrow::Type::DATE32: {
          const int64_t today = now_micros() / 86400000000LL;
          int64_t back = 0;
          if (f.max_past_ms > 0) {
            std::uniform_int_distribution<int64_t> d(0, f.max_past_ms / 86400000);
            back = d(rng_);
          }
          ARROW_RETURN_NOT_OK(
              static_cast<arrow::Date32Builder&>(*builder).Append(int32_t(today - back)));
          break;
        }
        default:
          return arrow::Status::NotImplemented("datagen cannot generate ", f.type->ToString(),
                                               " (field '", f.name, "')");
      }
    }
    return builder->Finish();
  }

  static arrow::Status append_int(arrow::ArrayBuilder& b, arrow::Type::type id, int64_t v) {
    switch (id) {
      case arrow::Type::INT8:
        return static_cast<arrow::Int8Builder&>(b).Append(int8_t(v));
      case arrow::Type::INT16:
        return static_cast<arrow::Int16Builder&>(b).Append(int16_t(v));
      case arrow::Type::INT32:
        return static_cast<arrow::Int32Builder&>(b).Append(int32_t(v));
      default:
        return static_cast<arrow::Int64Builder&>(b).Append(v);
    }
  }

  std::vector<FieldGen> fields_;
  std::shared_ptr<arrow::Schema> schema_;
  int64_t rate_;
  std::optional<int64_t> total_;
  int64_t batch_rows_;
  std::mt19937_64 rng_;
  int64_t started_ = 0;
  int64_t emitted_ = 0;
};

arrow::Result<double> get_double(OptionReader& reader, const std::string& key, double fallback) {
  auto v = reader.get(key);
  if (!v) return fallback;
  try {
    size_t used = 0;
    const double d = std::stod(*v, &used);
    if (used == v->size()) return d;
  } catch (const std::exception&) {
  }
  return arrow::Status::Invalid("option '", key, "' must be a number, got '", *v, "'");
}

std::pair<double, double> type_range(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::INT8:
      return {INT8_MIN, INT8_MAX};
    case arrow::Type::INT16:
      return {INT16_MIN, INT16_MAX};
    case arrow::Type::INT32:
      return {INT32_MIN, INT32_MAX};
    case arrow::Type::INT64:
      return {-9.0e18, 9.0e18};
    default:
      return {0, 1e9};
  }
}

}  // namespace

ConnectorEntry datagen_connector() {
  ConnectorEntry entry;
  entry.name = "datagen";
  entry.make_source = [](const exec::SourceSpec& spec,
                         ConnectContext&) -> arrow::Result<std::unique_ptr<exec::Source>> {
    OptionReader reader("datagen", spec.options);
    ARROW_ASSIGN_OR_RAISE(int64_t rate, reader.get_int("rows-per-second", 10000));
    std::optional<int64_t> total;
    if (reader.get("number-of-rows")) {
      ARROW_ASSIGN_OR_RAISE(total, reader.get_int("number-of-rows", 0));
    }
    std::vector<FieldGen> fields;
    // Options of every physical column are valid, read or not.
    for (int c : spec.table->physical_column_indices()) {
      const auto& col = spec.table->columns[size_t(c)];
      const std::string p = "fields." + col.name + ".";
      for (const char* k :
           {"kind", "start", "end", "min", "max", "length", "max-past", "null-rate"}) {
        reader.get(p + k);
      }
      // A sequence bounds the source even when the query does not read its column.
      if (reader.get_or(p + "kind", "random") == "sequence") {
        ARROW_ASSIGN_OR_RAISE(int64_t start, reader.get_int(p + "start", 0));
        ARROW_ASSIGN_OR_RAISE(int64_t end, reader.get_int(p + "end", 0));
        if (end >= start) total = total ? std::min(*total, end - start + 1) : end - start + 1;
      }
    }
    for (int i = 0; i < spec.read_schema->num_fields(); ++i) {
      const auto& field = spec.read_schema->field(i);
      FieldGen f;
      f.name = field->name();
      f.type = field->type();
      const std::string p = "fields." + f.name + ".";
      const std::string kind = reader.get_or(p + "kind", "random");
      if (kind == "sequence") {
        f.sequence = true;
        ARROW_ASSIGN_OR_RAISE(auto start_text, reader.require(p + "start"));
        ARROW_ASSIGN_OR_RAISE(auto end_text, reader.require(p + "end"));
        ARROW_ASSIGN_OR_RAISE(f.start, reader.get_int(p + "start", 0));
        ARROW_ASSIGN_OR_RAISE(f.end, reader.get_int(p + "end", 0));
        if (f.end < f.start) {
          return arrow::Status::Invalid("datagen field '", f.name, "': end < start");
        }
      } else if (kind != "random") {
        return arrow::Status::Invalid("option '", p, "kind' must be 'random' or 'sequence', got '",
                                      kind, "'");
      }
      const auto [lo, hi] = type_range(*f.type);
      ARROW_ASSIGN_OR_RAISE(f.min, get_double(reader, p + "min", lo));
      ARROW_ASSIGN_OR_RAISE(f.max, get_double(reader, p + "max", hi));
      if (f.max < f.min) return arrow::Status::Invalid("datagen field '", f.name, "': max < min");
      ARROW_ASSIGN_OR_RAISE(f.length, reader.get_int(p + "length", 100));
      if (auto past = reader.get(p + "max-past")) {
        ARROW_ASSIGN_OR_RAISE(f.max_past_ms, parse_duration_ms(*past));
      }
      ARROW_ASSIGN_OR_RAISE(f.null_rate, get_double(reader, p + "null-rate", 0));
      fields.push_back(std::move(f));
    }
    ARROW_RETURN_NOT_OK(reader.check_unknown());
    return std::make_unique<DatagenSource>(std::move(fields), spec.read_schema, rate, total, 4096);
  };
  return entry;
}

}  // namespace roadpulse::connect
