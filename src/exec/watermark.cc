#include "exec/watermark.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace roadpulse::exec {

std::optional<Watermark> WatermarkValve::on_split(int split, int64_t watermark,
                                                  int64_t now_micros) {
  Split& s = splits_[split];
  s.last_active = now_micros;
  if (s.idle) {
    s.idle = false;
    s.aligned = false;  // rejoins once it caught up
  }
  if (watermark > s.watermark) s.watermark = watermark;
  if (!s.aligned && s.watermark >= output_) s.aligned = true;
  return recompute();
}

std::optional<Watermark> WatermarkValve::on_tick(int64_t now_micros) {
  if (idle_timeout_micros_ <= 0) return std::nullopt;
  bool changed = false;
  for (auto& [id, s] : splits_) {
    if (!s.idle && now_micros - s.last_active >= idle_timeout_micros_) {
      s.idle = true;
      changed = true;
    }
  }
  if (!changed) return std::nullopt;
  return recompute();
}

int WatermarkValve::active_splits() const {
  int n = 0;
  for (const auto& [id, s] : splits_) n += s.idle ? 0 : 1;
  return n;
}

std::optional<Watermark> WatermarkValve::recompute() {
  int64_t min_active = Watermark::kMax;
  int64_t max_all = Watermark::kMin;
  bool any_active = false;
  for (const auto& [id, s] : splits_) {
    max_all = std::max(max_all, s.watermark);
    if (s.idle || !s.aligned) continue;
    any_active = true;
    min_active = std::min(min_active, s.watermark);
  }
  if (splits_.empty()) return std::nullopt;
  bool any_unaligned_active = false;
  for (const auto& [id, s] : splits_) any_unaligned_active |= !s.idle && !s.aligned;
  if (any_active) {
    if (min_active > output_) {
      output_ = min_active;
      output_idle_ = false;
      return Watermark{output_, false};
    }
    return std::nullopt;
  }
  if (any_unaligned_active) return std::nullopt;
  // Every split is idle: release up to the most advanced one.
  if (max_all > output_ || !output_idle_) {
    output_ = std::max(output_, max_all);
    output_idle_ = true;
    return Watermark{output_, true};
  }
  return std::nullopt;
}

std::string WatermarkValve::serialize() const {
  // [output][n] then n x [split int32][watermark int64]; idleness is not kept (a restarted job
  // sees every split anew).
  std::string out;
  auto put = [&out](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  put(&output_, 8);
  const int32_t n = int32_t(splits_.size());
  put(&n, 4);
  for (const auto& [id, s] : splits_) {
    const int32_t split = id;
    put(&split, 4);
    put(&s.watermark, 8);
  }
  return out;
}

arrow::Status WatermarkValve::restore(std::string_view bytes) {
  auto take = [&bytes](void* p, size_t n) {
    if (bytes.size() < n) return false;
    std::memcpy(p, bytes.data(), n);
    bytes.remove_prefix(n);
    return true;
  };
  int64_t output = 0;
  int32_t n = 0;
  if (!take(&output, 8) || !take(&n, 4) || n < 0) {
    return arrow::Status::Invalid("watermark state: truncated header");
  }
  std::map<int, Split> splits;
  for (int32_t i = 0; i < n; ++i) {
    int32_t split = 0;
    int64_t wm = 0;
    if (!take(&split, 4) || !take(&wm, 8)) {
      return arrow::Status::Invalid("watermark state: truncated split ", i);
    }
    splits[split].watermark = wm;
  }
  output_ = output;
  splits_ = std::move(splits);
  return arrow::Status::OK();
}

arrow::Result<int64_t> parse_duration_micros(std::string_view text, std::string_view what) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  size_t start = i;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == start || i - start > 15) {
    return arrow::Status::Invalid(what, ": not a duration: '", text,
                                  "' (examples: '10 s', '500 ms', '1 min')");
  }
  const int64_t n = std::stoll(std::string(text.substr(start, i - start)));
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  std::string unit;
  for (; i < text.size(); ++i) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) break;
    unit += char(std::tolower(static_cast<unsigned char>(text[i])));
  }
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (i != text.size()) {
    return arrow::Status::Invalid(what, ": not a duration: '", text, "'");
  }
  int64_t scale = 0;
  if (unit.empty() || unit == "ms" || unit == "milli" || unit == "millis" ||
      unit == "millisecond" || unit == "milliseconds") {
    scale = 1000;
  } else if (unit == "s" || unit == "sec" || unit == "second" || unit == "seconds") {
    scale = 1000000;
  } else if (unit == "min" || unit == "minute" || unit == "minutes" || unit == "m") {
    scale = 60000000;
  } else if (unit == "h" || unit == "hour" || unit == "hours") {
    scale = 3600000000LL;
  } else if (unit == "us" || unit == "micro" || unit == "micros") {
    scale = 1;
  } else {
    return arrow::Status::Invalid(what, ": unknown duration unit '", unit, "' in '", text,
                                  "' (ms, s, min, h)");
  }
  return n * scale;
}

}  // namespace roadpulse::exec
