#pragma once
// roadpulse::realtime — the real-time layer: an in-memory time-series store for the `metrics`
// sink (series keyed by metric name and dimension values, 1-second buckets for a recent span,
// 1-minute buckets beyond, snapshotted to <data-dir>/realtime/), its query API and the
// Prometheus text exposition; alert routing, channels and the durable outbox live in alerts.h.
//
// Time: buckets are keyed by the samples' own timestamps (event time). Retention is measured
// from the newest sample the store has seen, not from the wall clock, so replaying 2016 data
// keeps it instead of expiring it on arrival.
//
// Concurrency: every method is thread-safe (one mutex; sinks add whole batches under it).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "common/json_text.h"

namespace roadpulse::realtime {

inline constexpr std::string_view kOverflowValue = "__overflow__";
inline constexpr std::string_view kOtherValue = "other";

struct MetricStoreOptions {
  int64_t fine_span_s = 6 * 3600;         // 1-second resolution for this long
  int64_t coarse_span_s = 7 * 86400;      // then 1-minute resolution up to this age
  int64_t max_series_per_metric = 10000;  // beyond: samples go to the __overflow__ series
  std::string snapshot_dir;               // empty: no snapshots
};

/// One sample: dimension values in the metric's dimension order.
struct Sample {
  int64_t time_s = 0;
  std::vector<std::string> dimensions;
  double value = 1;
};

struct MetricQuery {
  std::string name;
  int64_t from_s = 0;  // inclusive
  int64_t to_s = 0;    // exclusive
  int64_t step_s = 1;  // bucket width of the answer (rounded up to 60 when minute data is used)
  /// Dimension filters: dimension -> accepted values (any of).
  std::map<std::string, std::vector<std::string>> where;
  /// Dimensions kept in the answer; the others are summed away. Empty: one total series.
  std::vector<std::string> group_by;
  /// Keep the N series with the largest totals; the rest are folded into one "other" series.
  int64_t top = 0;
};

struct QuerySeries {
  std::map<std::string, std::string> labels;       // group_by dimension -> value
  std::vector<std::pair<int64_t, double>> points;  // (bucket start, sum), ascending, non-empty
  double total = 0;
};

struct QueryResult {
  std::string name;
  int64_t from_s = 0, to_s = 0, step_s = 1;
  std::vector<QuerySeries> series;  // by total, descending ("other" last)
};

/// Counters of the store itself (exposed on /metrics).
struct MetricInfo {
  std::string name;
  std::vector<std::string> dimensions;
  int64_t series = 0;
  int64_t overflow_samples = 0;  // samples the cardinality guard diverted to __overflow__
  double total = 0;
};

class MetricStore {
 public:
  /// Creates the store and, when options.snapshot_dir holds a snapshot, loads it.
  static arrow::Result<std::unique_ptr<MetricStore>> open(MetricStoreOptions options);
  ~MetricStore();

  /// Declares a metric's dimensions; a later declaration must name the same dimensions.
  arrow::Status declare(const std::string& name, const std::vector<std::string>& dimensions);
  /// Adds samples to a declared metric. Each sample's dimension count must match.
  arrow::Status add(const std::string& name, const std::vector<Sample>& samples);

  /// Called after every successful add() with the samples added (on the adding thread, outside
  /// the store's lock; it must be quick). One listener; Hub fans it out to subscribers.
  using AddListener =
      std::function<void(const std::string& name, const std::vector<Sample>& samples)>;
  void set_add_listener(AddListener listener);

  arrow::Result<QueryResult> query(const MetricQuery& query) const;
  std::vector<MetricInfo> metrics() const;
  /// Oldest and newest sample times held at any resolution ({0, 0} when empty).
  std::pair<int64_t, int64_t> time_bounds() const;
  /// Bytes held by series data (approximate; for the benchmark and /metrics).
  int64_t memory_bytes() const;

  /// Prometheus text exposition: every metric as `roadpulse_<name>_total{dim=...}` counters
  /// (all-time totals, unaffected by downsampling or retention), label names lower-cased.
  void append_prometheus(std::string& out) const;

  /// Writes <snapshot_dir>/metrics.snapshot atomically (temp file, fsync, rename).
  arrow::Status snapshot() const;
  /// One metric's series in the snapshot format (what a checkpoint of the sink that writes it
  /// keeps), and loading such bytes back in place of the metric's current series.
  std::string export_metric(const std::string& name) const;
  arrow::Status import_metric(std::string_view encoded, const std::string& origin);

  class Impl;

 private:
  explicit MetricStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::mutex listener_mutex_;
  std::shared_ptr<const AddListener> listener_;
};

/// Parses a `where` text: "State=CA,Severity=3|4" (values of one dimension separated by '|').
arrow::Result<std::map<std::string, std::vector<std::string>>> parse_where(std::string_view text);

/// Escapes a Prometheus label value (backslash, quote, newline).
std::string prometheus_escape(std::string_view value);
/// A metric or label name made valid for Prometheus ([a-zA-Z_][a-zA-Z0-9_]*), lower-cased.
std::string prometheus_name(std::string_view name);

/// JSON text of a query result (the /api/metrics/query answer).
std::string query_result_json(const QueryResult& result);
}  // namespace roadpulse::realtime
