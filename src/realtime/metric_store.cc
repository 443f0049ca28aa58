#include "realtime/metric_store.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

namespace roadpulse::realtime {

namespace {

struct Point {
  int64_t t;
  double v;
};

struct Series {
  std::vector<std::string> dims;
  std::vector<Point> fine;    // 1-second buckets, ascending
  std::vector<Point> coarse;  // 1-minute buckets (t % 60 == 0), ascending
  double total = 0;           // all-time sum (the Prometheus counter)
};

struct Metric {
  std::vector<std::string> dimensions;
  std::unordered_map<std::string, size_t> index;  // joined dimension values -> series
  std::vector<Series> series;
  int64_t overflow_samples = 0;
  double total = 0;
};

constexpr char kKeySeparator = '\x1f';

std::string join_key(const std::vector<std::string>& values) {
  std::string key;
  for (const auto& v : values) {
    key += v;
    key += kKeySeparator;
  }
  return key;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Adds v at t to an ascending point vector (appends in the common in-order case).
void add_point(std::vector<Point>& points, int64_t t, double v) {
  if (points.empty() || points.back().t < t) {
    points.push_back({t, v});
    return;
  }
  if (points.back().t == t) {
    points.back().v += v;
    return;
  }
  auto it = std::lower_bound(points.begin(), points.end(), t,
                             [](const Point& p, int64_t x) { return p.t < x; });
  if (it != points.end() && it->t == t) {
    it->v += v;
  } else {
    points.insert(it, {t, v});
  }
}

// --- snapshot encoding -------------------------------------------------------------------------

constexpr std::string_view kMagic = "RPMSNAP1";

class Writer {
 public:
  void u64(uint64_t v) { buf_.append(reinterpret_cast<const char*>(&v), 8); }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v) { buf_.append(reinterpret_cast<const char*>(&v), 8); }
  void str(std::string_view s) {
    u64(s.size());
    buf_.append(s);
  }
  std::string& buffer() { return buf_; }

 private:
  std::string buf_;
};

class Reader {
 public:
  Reader(std::string_view data, std::string path) : data_(data), path_(std::move(path)) {}
  arrow::Result<uint64_t> u64() {
    if (data_.size() - pos_ < 8) return truncated();
    uint64_t v;
    std::memcpy(&v, data_.data() + pos_, 8);
    pos_ += 8;
    return v;
  }
  arrow::Result<int64_t> i64() {
    ARROW_ASSIGN_OR_RAISE(uint64_t v, u64());
    return static_cast<int64_t>(v);
  }
  arrow::Result<double> f64() {
    ARROW_ASSIGN_OR_RAISE(uint64_t v, u64());
    double d;
    std::memcpy(&d, &v, 8);
    return d;
  }
  arrow::Result<std::string> str() {
    ARROW_ASSIGN_OR_RAISE(uint64_t n, u64());
    if (data_.size() - pos_ < n) return truncated();
    std::string s(data_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  arrow::Result<uint64_t> count(uint64_t item_bytes) {
    ARROW_ASSIGN_OR_RAISE(uint64_t n, u64());
    if (item_bytes && n > (data_.size() - pos_) / item_bytes) return truncated();
    return n;
  }

 private:
  arrow::Status truncated() const {
    return arrow::Status::IOError("metrics snapshot ", path_, " is truncated at byte ", pos_,
                                  " (delete it to start with an empty store)");
  }
  std::string_view data_;
  size_t pos_ = 0;
  std::string path_;
};

uint64_t fnv1a(std::string_view data) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string format_number(double v) { return fmt::format("{}", v); }

}  // namespace

class MetricStore::Impl {
 public:
  explicit Impl(MetricStoreOptions options) : options_(std::move(options)) {}

  arrow::Status declare(const std::string& name, const std::vector<std::string>& dimensions) {
    std::lock_guard lock(mutex_);
    return declare_locked(name, dimensions);
  }

  arrow::Status declare_locked(const std::string& name,
                               const std::vector<std::string>& dimensions) {
    if (name.empty()) return arrow::Status::Invalid("metric name must not be empty");
    auto it = metrics_.find(name);
    if (it == metrics_.end()) {
      metrics_[name].dimensions = dimensions;
      return arrow::Status::OK();
    }
    if (it->second.dimensions != dimensions) {
      return arrow::Status::Invalid("metric '", name, "' already has dimensions [",
                                    fmt::format("{}", fmt::join(it->second.dimensions, ", ")),
                                    "], not [", fmt::format("{}", fmt::join(dimensions, ", ")),
                                    "]");
    }
    return arrow::Status::OK();
  }

  arrow::Status add(const std::string& name, const std::vector<Sample>& samples) {
    std::lock_guard lock(mutex_);
    auto it = metrics_.find(name);
    if (it == metrics_.end()) return arrow::Status::Invalid("metric '", name, "' is not declared");
    Metric& metric = it->second;
    for (const Sample& s : samples) {
      if (s.dimensions.size() != metric.dimensions.size()) {
        return arrow::Status::Invalid("metric '", name, "': sample has ", s.dimensions.size(),
                                      " dimension values, the metric has ",
                                      metric.dimensions.size());
      }
      newest_s_ = std::max(newest_s_, s.time_s);
    }
    for (const Sample& s : samples) {
      Series& series = find_series(metric, s.dimensions);
      series.total += s.value;
      metric.total += s.value;
      if (s.time_s >= fine_before_) {
        add_point(series.fine, s.time_s, s.value);
      } else if (s.time_s >= newest_s_ - options_.coarse_span_s) {
        add_point(series.coarse, floor_div(s.time_s, 60) * 60, s.value);
      }  // older than the coarse span: counted in the total only
    }
    if (newest_s_ - options_.fine_span_s >= fine_before_ + 60) compact();
    return arrow::Status::OK();
  }

  Series& find_series(Metric& metric, const std::vector<std::string>& dims) {
    std::string key = join_key(dims);
    auto found = metric.index.find(key);
    if (found != metric.index.end()) return metric.series[found->second];
    // The overflow series does not count against the limit.
    const int64_t regular = static_cast<int64_t>(metric.series.size()) -
                            (metric.index.count(overflow_key(metric)) ? 1 : 0);
    if (regular >= options_.max_series_per_metric) {
      ++metric.overflow_samples;
      std::vector<std::string> overflow(dims.size(), std::string(kOverflowValue));
      key = join_key(overflow);
      found = metric.index.find(key);
      if (found != metric.index.end()) return metric.series[found->second];
      return insert_series(metric, std::move(key), std::move(overflow));
    }
    return insert_series(metric, std::move(key), dims);
  }

  static std::string overflow_key(const Metric& metric) {
    return join_key(
        std::vector<std::string>(metric.dimensions.size(), std::string(kOverflowValue)));
  }

  static Series& insert_series(Metric& metric, std::string key, std::vector<std::string> dims) {
    metric.index.emplace(std::move(key), metric.series.size());
    metric.series.push_back(Series{std::move(dims), {}, {}, 0});
    return metric.series.back();
  }

  // Moves 1-second points older than the fine span into minute buckets and drops minute buckets
  // older than the coarse span.
  void compact() {
    fine_before_ = floor_div(newest_s_ - options_.fine_span_s, 60) * 60;
    const int64_t coarse_before = newest_s_ - options_.coarse_span_s;
    for (auto& [_, metric] : metrics_) {
      for (Series& s : metric.series) {
        auto split = std::lower_bound(s.fine.begin(), s.fine.end(), fine_before_,
                                      [](const Point& p, int64_t x) { return p.t < x; });
        for (auto p = s.fine.begin(); p != split; ++p) {
          if (p->t >= coarse_before) add_point(s.coarse, floor_div(p->t, 60) * 60, p->v);
        }
        s.fine.erase(s.fine.begin(), split);
        auto keep =
            std::lower_bound(s.coarse.begin(), s.coarse.end(), floor_div(coarse_before, 60) * 60,
                             [](const Point& p, int64_t x) { return p.t < x; });
        s.coarse.erase(s.coarse.begin(), keep);
        s.fine.shrink_to_fit();
      }
    }
  }

  arrow::Result<QueryResult> query(const MetricQuery& q) const {
    std::lock_guard lock(mutex_);
    auto it = metrics_.find(q.name);
    if (it == metrics_.end()) {
      std::vector<std::string> names;
      for (const auto& [n, _] : metrics_) names.push_back(n);
      return arrow::Status::KeyError("unknown metric '", q.name,
                                     "' (known: ", fmt::format("{}", fmt::join(names, ", ")), ")");
    }
    const Metric& metric = it->second;
    if (q.to_s <= q.from_s) {
      return arrow::Status::Invalid("query range is empty: from ", q.from_s, " >= to ", q.to_s);
    }
    if (q.step_s <= 0) return arrow::Status::Invalid("step must be positive, got ", q.step_s);
    QueryResult result;
    result.name = q.name;
    result.from_s = q.from_s;
    result.to_s = q.to_s;
    result.step_s = q.step_s;
    // Minute buckets cannot be split: a range reaching into them uses whole minutes.
    if (q.from_s < fine_before_ && result.step_s % 60 != 0) {
      result.step_s = (result.step_s / 60 + 1) * 60;
    }
    if ((q.to_s - q.from_s) / result.step_s > 1'000'000) {
      return arrow::Status::Invalid("query asks for more than 1000000 buckets; use a larger step");
    }
    auto dim_index = [&](const std::string& d) -> arrow::Result<size_t> {
      for (size_t i = 0; i < metric.dimensions.size(); ++i) {
        if (metric.dimensions[i] == d) return i;
      }
      return arrow::Status::Invalid(
          "metric '", q.name, "' has no dimension '", d,
          "' (dimensions: ", fmt::format("{}", fmt::join(metric.dimensions, ", ")), ")");
    };
    std::vector<std::pair<size_t, const std::vector<std::string>*>> filters;
    for (const auto& [d, values] : q.where) {
      ARROW_ASSIGN_OR_RAISE(size_t i, dim_index(d));
      filters.emplace_back(i, &values);
    }
    std::vector<size_t> groups;
    for (const auto& d : q.group_by) {
      ARROW_ASSIGN_OR_RAISE(size_t i, dim_index(d));
      groups.push_back(i);
    }
    const int64_t step = result.step_s;
    auto bucket_of = [&](int64_t t) { return q.from_s + floor_div(t - q.from_s, step) * step; };
    std::map<std::vector<std::string>, std::map<int64_t, double>> acc;
    for (const Series& s : metric.series) {
      bool keep = true;
      for (const auto& [i, values] : filters) {
        if (std::find(values->begin(), values->end(), s.dims[i]) == values->end()) keep = false;
      }
      if (!keep) continue;
      std::vector<std::string> group;
      for (size_t i : groups) group.push_back(s.dims[i]);
      std::map<int64_t, double>* buckets = nullptr;
      auto add_range = [&](const std::vector<Point>& points, int64_t from) {
        auto p = std::lower_bound(points.begin(), points.end(), from,
                                  [](const Point& pt, int64_t x) { return pt.t < x; });
        for (; p != points.end() && p->t < q.to_s; ++p) {
          if (!buckets) buckets = &acc[group];
          (*buckets)[bucket_of(p->t)] += p->v;
        }
      };
      add_range(s.coarse, floor_div(q.from_s, 60) * 60);
      add_range(s.fine, q.from_s);
    }
    for (auto& [group, buckets] : acc) {
      QuerySeries out;
      for (size_t g = 0; g < groups.size(); ++g) {
        out.labels[metric.dimensions[groups[g]]] = group[g];
      }
      for (const auto& [t, v] : buckets) {
        out.points.emplace_back(t, v);
        out.total += v;
      }
      result.series.push_back(std::move(out));
    }
    std::stable_sort(result.series.begin(), result.series.end(),
                     [](const QuerySeries& a, const QuerySeries& b) { return a.total > b.total; });
    if (q.top > 0 && static_cast<int64_t>(result.series.size()) > q.top) {
      QuerySeries other;
      for (const auto& d : q.group_by) other.labels[d] = std::string(kOtherValue);
      std::map<int64_t, double> buckets;
      for (size_t i = q.top; i < result.series.size(); ++i) {
        for (const auto& [t, v] : result.series[i].points) buckets[t] += v;
        other.total += result.series[i].total;
      }
      other.points.assign(buckets.begin(), buckets.end());
      result.series.resize(q.top);
      result.series.push_back(std::move(other));
    }
    return result;
  }

  std::vector<MetricInfo> metrics() const {
    std::lock_guard lock(mutex_);
    std::vector<MetricInfo> out;
    for (const auto& [name, m] : metrics_) {
      out.push_back(
          {name, m.dimensions, static_cast<int64_t>(m.series.size()), m.overflow_samples, m.total});
    }
    return out;
  }

  std::pair<int64_t, int64_t> time_bounds() const {
    std::lock_guard lock(mutex_);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (const auto& [_, m] : metrics_) {
      for (const Series& s : m.series) {
        for (const auto* points : {&s.coarse, &s.fine}) {
          if (points->empty()) continue;
          lo = std::min(lo, points->front().t);
          hi = std::max(hi, points->back().t);
        }
      }
    }
    if (lo > hi) return {0, 0};
    return {lo, hi};
  }

  int64_t memory_bytes() const {
    std::lock_guard lock(mutex_);
    int64_t bytes = 0;
    for (const auto& [name, m] : metrics_) {
      bytes += static_cast<int64_t>(m.series.capacity() * sizeof(Series));
      // unordered_map node: key string + value + hash + next pointer, plus the bucket array.
      bytes += static_cast<int64_t>(m.index.bucket_count() * sizeof(void*));
      for (const auto& [key, _] : m.index) {
        bytes += static_cast<int64_t>(sizeof(std::string) + sizeof(size_t) + 2 * sizeof(void*));
        if (key.size() > 15) bytes += static_cast<int64_t>(key.capacity() + 1);
      }
      for (const Series& s : m.series) {
        bytes += static_cast<int64_t>((s.fine.capacity() + s.coarse.capacity()) * sizeof(Point));
        bytes += static_cast<int64_t>(s.dims.capacity() * sizeof(std::string));
        for (const auto& d : s.dims) {
          if (d.size() > 15) bytes += static_cast<int64_t>(d.capacity() + 1);
        }
      }
    }
    return bytes;
  }

  void append_prometheus(std::string& out) const {
    std::lock_guard lock(mutex_);
    for (const auto& [name, m] : metrics_) {
      const std::string prom = "roadpulse_" + prometheus_name(name) + "_total";
      std::vector<std::string> labels;
      for (const auto& d : m.dimensions) labels.push_back(prometheus_name(d));
      out += fmt::format("# HELP {} Sum of the samples of metric '{}' written by metrics sinks.\n",
                         prom, name);
      out += fmt::format("# TYPE {} counter\n", prom);
      for (const Series& s : m.series) {
        out += prom;
        if (!labels.empty()) {
          out += '{';
          for (size_t i = 0; i < labels.size(); ++i) {
            if (i) out += ',';
            out += labels[i];
            out += "=\"";
            out += prometheus_escape(s.dims[i]);
            out += '"';
          }
          out += '}';
        }
        out += ' ';
        out += format_number(s.total);
        out += '\n';
      }
    }
    out +=
        "# HELP roadpulse_realtime_series Series held by the metrics store.\n"
        "# TYPE roadpulse_realtime_series gauge\n";
    for (const auto& [name, m] : metrics_) {
      out += fmt::format("roadpulse_realtime_series{{metric=\"{}\"}} {}\n", prometheus_escape(name),
                         m.series.size());
    }
    out +=
        "# HELP roadpulse_realtime_overflow_samples_total Samples the cardinality guard sent to "
        "the __overflow__ series.\n"
        "# TYPE roadpulse_realtime_overflow_samples_total counter\n";
    for (const auto& [name, m] : metrics_) {
      out += fmt::format("roadpulse_realtime_overflow_samples_total{{metric=\"{}\"}} {}\n",
                         prometheus_escape(name), m.overflow_samples);
    }
  }

  // The snapshot format: magic, clock, the metrics (all, or only `only`), a checksum.
  std::string encode(const std::string* only) const {
    Writer w;
    {
      std::lock_guard lock(mutex_);
      w.buffer().append(kMagic);
      w.i64(newest_s_);
      w.i64(fine_before_);
      w.u64(only ? (metrics_.count(*only) ? 1 : 0) : metrics_.size());
      for (const auto& [name, m] : metrics_) {
        if (only && name != *only) continue;
        w.str(name);
        w.u64(m.dimensions.size());
        for (const auto& d : m.dimensions) w.str(d);
        w.i64(m.overflow_samples);
        w.u64(m.series.size());
        for (const Series& s : m.series) {
          for (const auto& d : s.dims) w.str(d);
          w.f64(s.total);
          w.u64(s.fine.size());
          for (const Point& p : s.fine) {
            w.i64(p.t);
            w.f64(p.v);
          }
          w.u64(s.coarse.size());
          for (const Point& p : s.coarse) {
            w.i64(p.t);
            w.f64(p.v);
          }
        }
      }
    }
    w.u64(fnv1a(w.buffer()));
    return std::move(w.buffer());
  }

  arrow::Status snapshot() const {
    if (options_.snapshot_dir.empty()) return arrow::Status::OK();
    const std::string data = encode(nullptr);
    std::error_code ec;
    std::filesystem::create_directories(options_.snapshot_dir, ec);
    if (ec) {
      return arrow::Status::IOError("cannot create ", options_.snapshot_dir, ": ", ec.message());
    }
    const std::string path = options_.snapshot_dir + "/metrics.snapshot";
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return arrow::Status::IOError("cannot write ", tmp, ": ", std::strerror(errno));
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        ::close(fd);
        return arrow::Status::IOError("cannot write ", tmp, ": ", std::strerror(err));
      }
      done += static_cast<size_t>(n);
    }
    if (::fdatasync(fd) != 0 || ::close(fd) != 0) {
      return arrow::Status::IOError("cannot sync ", tmp, ": ", std::strerror(errno));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      return arrow::Status::IOError("cannot rename ", tmp, " to ", path, ": ",
                                    std::strerror(errno));
    }
    return arrow::Status::OK();
  }

  arrow::Status load() {
    if (options_.snapshot_dir.empty()) return arrow::Status::OK();
    const std::string path = options_.snapshot_dir + "/metrics.snapshot";
    std::ifstream in(path, std::ios::binary);
    if (!in) return arrow::Status::OK();  // no snapshot yet
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return decode(data, path, false);
  }

  // Loads encoded metrics; `replace` first drops what the store holds of each metric in `data`
  // (restoring a checkpoint), else the store is assumed empty (opening).
  arrow::Status decode(std::string_view data, const std::string& path, bool replace) {
    if (data.size() < kMagic.size() + 8 || data.substr(0, kMagic.size()) != kMagic) {
      return arrow::Status::IOError("metrics snapshot ", path,
                                    " is not a roadpulse snapshot (delete it to start empty)");
    }
    uint64_t stored;
    std::memcpy(&stored, data.data() + data.size() - 8, 8);
    const std::string_view body(data.data(), data.size() - 8);
    if (fnv1a(body) != stored) {
      return arrow::Status::IOError("metrics snapshot ", path,
                                    " fails its checksum (delete it to start empty)");
    }
    Reader r(body.substr(kMagic.size()), path);
    std::lock_guard lock(mutex_);
    ARROW_ASSIGN_OR_RAISE(int64_t newest, r.i64());
    ARROW_ASSIGN_OR_RAISE(int64_t fine_before, r.i64());
    newest_s_ = replace ? std::max(newest_s_, newest) : newest;
    fine_before_ = replace ? std::max(fine_before_, fine_before) : fine_before;
    ARROW_ASSIGN_OR_RAISE(uint64_t metric_count, r.count(8));
    for (uint64_t i = 0; i < metric_count; ++i) {
      ARROW_ASSIGN_OR_RAISE(std::string name, r.str());
      if (replace) metrics_.erase(name);
      Metric& m = metrics_[name];
      ARROW_ASSIGN_OR_RAISE(uint64_t dim_count, r.count(8));
      for (uint64_t d = 0; d < dim_count; ++d) {
        ARROW_ASSIGN_OR_RAISE(std::string dim, r.str());
        m.dimensions.push_back(std::move(dim));
      }
      ARROW_ASSIGN_OR_RAISE(m.overflow_samples, r.i64());
      ARROW_ASSIGN_OR_RAISE(uint64_t series_count, r.count(8));
      for (uint64_t s = 0; s < series_count; ++s) {
        std::vector<std::string> dims;
        for (uint64_t d = 0; d < dim_count; ++d) {
          ARROW_ASSIGN_OR_RAISE(std::string v, r.str());
          dims.push_back(std::move(v));
        }
        Series& series = insert_series(m, join_key(dims), dims);
        ARROW_ASSIGN_OR_RAISE(series.total, r.f64());
        m.total += series.total;
        for (auto* points : {&series.fine, &series.coarse}) {
          ARROW_ASSIGN_OR_RAISE(uint64_t n, r.count(16));
          points->reserve(n);
          for (uint64_t p = 0; p < n; ++p) {
            ARROW_ASSIGN_OR_RAISE(int64_t t, r.i64());
            ARROW_ASSIGN_OR_RAISE(double v, r.f64());
            points->push_back({t, v});
          }
        }
      }
    }
    return arrow::Status::OK();
  }

 private:
  MetricStoreOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, Metric> metrics_;
  int64_t newest_s_ = INT64_MIN / 2;
  // Times before this are held at minute resolution (advanced by compact()).
  int64_t fine_before_ = INT64_MIN / 2;
};

MetricStore::MetricStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricStore::~MetricStore() = default;

arrow::Result<std::unique_ptr<MetricStore>> MetricStore::open(MetricStoreOptions options) {
  if (options.fine_span_s <= 0 || options.coarse_span_s < options.fine_span_s) {
    return arrow::Status::Invalid("metric store: need 0 < fine span (", options.fine_span_s,
                                  " s) <= coarse span (", options.coarse_span_s, " s)");
  }
  if (options.max_series_per_metric <= 0) {
    return arrow::Status::Invalid("metric store: max series per metric must be positive");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  ARROW_RETURN_NOT_OK(impl->load());
  return std::unique_ptr<MetricStore>(new MetricStore(std::move(impl)));
}

arrow::Status MetricStore::declare(const std::string& name,
                                   const std::vector<std::string>& dimensions) {
  return impl_->declare(name, dimensions);
}
arrow::Status MetricStore::add(const std::string& name, const std::vector<Sample>& samples) {
  ARROW_RETURN_NOT_OK(impl_->add(name, samples));
  std::shared_ptr<const AddListener> listener;
  {
    std::lock_guard lock(listener_mutex_);
    listener = listener_;
  }
  if (listener) (*listener)(name, samples);
  return arrow::Status::OK();
}
void MetricStore::set_add_listener(AddListener listener) {
  std::lock_guard lock(listener_mutex_);
  listener_ = listener ? std::make_shared<const AddListener>(std::move(listener)) : nullptr;
}
arrow::Result<QueryResult> MetricStore::query(const MetricQuery& query) const {
  return impl_->query(query);
}
std::vector<MetricInfo> MetricStore::metrics() const { return impl_->metrics(); }
std::pair<int64_t, int64_t> MetricStore::time_bounds() const { return impl_->time_bounds(); }
int64_t MetricStore::memory_bytes() const { return impl_->memory_bytes(); }
void MetricStore::append_prometheus(std::string& out) const { impl_->append_prometheus(out); }
arrow::Status MetricStore::snapshot() const { return impl_->snapshot(); }
std::string MetricStore::export_metric(const std::string& name) const {
  return impl_->encode(&name);
}
arrow::Status MetricStore::import_metric(std::string_view encoded, const std::string& origin) {
  return impl_->decode(encoded, origin, true);
}

arrow::Result<std::map<std::string, std::vector<std::string>>> parse_where(std::string_view text) {
  std::map<std::string, std::vector<std::string>> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view term = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (term.empty()) continue;
    size_t eq = term.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return arrow::Status::Invalid("where: expected DIMENSION=VALUE[|VALUE...], got '", term, "'");
    }
    auto& values = out[std::string(term.substr(0, eq))];
    std::string_view rest = term.substr(eq + 1);
    size_t p = 0;
    while (true) {
      size_t bar = rest.find('|', p);
      values.emplace_back(rest.substr(p, bar == std::string_view::npos ? rest.npos : bar - p));
      if (bar == std::string_view::npos) break;
      p = bar + 1;
    }
  }
  return out;
}

std::string prometheus_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string prometheus_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    out += std::isalnum(u) ? char(std::tolower(u)) : '_';
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(0, "_");
  return out;
}

std::string query_result_json(const QueryResult& result) {
  std::string out = "{\"name\":";
  append_json_string(result.name, out);
  out += fmt::format(",\"from\":{},\"to\":{},\"step\":{},\"series\":[", result.from_s, result.to_s,
                     result.step_s);
  for (size_t i = 0; i < result.series.size(); ++i) {
    const QuerySeries& s = result.series[i];
    if (i) out += ',';
    out += "{\"labels\":{";
    bool first = true;
    for (const auto& [k, v] : s.labels) {
      if (!first) out += ',';
      first = false;
      append_json_string(k, out);
      out += ':';
      append_json_string(v, out);
    }
    out += "},\"total\":" + format_number(s.total) + ",\"points\":[";
    for (size_t p = 0; p < s.points.size(); ++p) {
      if (p) out += ',';
      out += fmt::format("[{},{}]", s.points[p].first, format_number(s.points[p].second));
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace roadpulse::realtime
