#pragma once
// EventFeed: the dashboard's live feed, fanned out to every Server-Sent Events client by one
// thread (no thread per client). Each tick (1 s) it sends what changed since the last one:
//
//   event: metrics    metric samples the sinks added, summed per (second, dimension values)
//   event: accidents  new records of the raw accidents stream (position, severity, place)
//   event: alert      each alert appended to the durable outbox (`__alerts_outbox`)
//
// Samples arrive through realtime::Hub's listener (pushed by the sinks, not polled); the two
// streams are tailed from the embedded log once per tick from where the last tick stopped.
// Every event has an increasing id; the last `replay_events` are kept so a client reconnecting
// with Last-Event-ID gets what it missed (or `event: reset` when that is no longer held, telling
// it to reload its state). A comment line every `heartbeat_ms` keeps idle connections open.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <arrow/result.h>

#include "log/log.h"
#include "realtime/hub.h"
#include "server/http_server.h"

namespace roadpulse::dashboard {

enum Topic : unsigned {
  kTopicMetrics = 1,
  kTopicAccidents = 2,
  kTopicAlerts = 4,
  kTopicAll = 7,
};

/// "metrics,alerts" -> mask; Invalid naming the unknown topic otherwise ("" = all).
arrow::Result<unsigned> parse_topics(std::string_view text);

struct EventFeedOptions {
  int64_t tick_ms = 1000;
  int64_t heartbeat_ms = 15'000;
  std::string accidents_stream = "us-accidents-data-stream-1";
  std::string alerts_stream = "__alerts_outbox";
  size_t max_metric_rows_per_tick = 5000;  // beyond: the frame says "truncated" (client re-queries)
  size_t max_accidents_per_tick = 500;     // newest kept; "skipped" counts the rest
  int max_records_read_per_tick = 20'000;  // per stream
  size_t replay_events = 512;
};

/// Fields the dashboard shows of one raw accident record.
struct AccidentPoint {
  std::string id;
  std::string severity;
  std::string state;
  std::string county;
  std::string city;
  std::string start_time;
  std::optional<double> lat, lng;
  int64_t arrival_ms = 0;
};

/// Reads the fields above from a raw record (flat JSON object; values as strings or numbers).
arrow::Result<AccidentPoint> parse_accident(std::string_view json);
/// {"id":...,"severity":...,...}
void append_accident_json(const AccidentPoint& point, std::string& out);

class EventFeed {
 public:
  /// Subscribes to the hub's samples and starts the feed thread. `log` may be null (then no
  /// accidents or alerts events); it must outlive the feed.
  static arrow::Result<std::unique_ptr<EventFeed>> make(std::shared_ptr<realtime::Hub> hub,
                                                        log::LogStore* log,
                                                        EventFeedOptions options = {});
  ~EventFeed();

  /// Adds a client (called from the server's I/O thread; does not block on the network).
  /// `last_event_id`: the Last-Event-ID the client reconnected with.
  void add_client(std::shared_ptr<server::BodyWriter> writer, unsigned topics,
                  std::optional<uint64_t> last_event_id);
  size_t client_count() const;

  /// Runs one tick now on the caller's thread (tests and benchmarks; the thread keeps running).
  void tick();

  /// Counters for /metrics-style introspection and tests.
  struct Stats {
    uint64_t events_sent = 0;  // frames built
    uint64_t bytes_sent = 0;   // bytes handed to clients
    uint64_t clients_dropped = 0;
  };
  Stats stats() const;

 private:
  struct Client {
    std::shared_ptr<server::BodyWriter> writer;
    unsigned topics;
  };
  struct Frame {
    uint64_t id;
    unsigned topic;
    std::string text;
  };
  struct Tail {
    std::map<int32_t, log::SequenceNumber> next;  // per shard
    bool started = false;
  };

  EventFeed(std::shared_ptr<realtime::Hub> hub, log::LogStore* log, EventFeedOptions options);
  void run();
  // Reads new records of `stream`; `fn(record)` per record.
  template <typename Fn>
  void tail(const std::string& stream, Tail& state, Fn&& fn);
  void publish(unsigned topic, std::string_view event, const std::string& data);
  void send_heartbeat();

  std::shared_ptr<realtime::Hub> hub_;
  log::LogStore* log_;
  const EventFeedOptions options_;
  int64_t listener_id_ = 0;

  // Samples gathered by the hub listener between ticks. Shared with the listener, which may run
  // once more after unsubscribe (on a sink's thread) and so must not point at the feed.
  struct PendingMetric {
    struct Row {
      int64_t time_s;
      std::vector<std::string> dimensions;
      double value;
    };
    std::vector<Row> rows;
    // Hash of (time, dimension values) -> index in rows: no allocation for a repeated key.
    std::unordered_multimap<uint64_t, uint32_t> index;
    bool truncated = false;
  };
  struct Pending {
    std::mutex mutex;
    std::map<std::string, PendingMetric> metrics;
    size_t max_rows = 0;
    // No client connected: the sink pays nothing (samples are not gathered), and `dropped`
    // records the gap so a client resuming with Last-Event-ID is told to reload.
    std::atomic<bool> active{false};
    std::atomic<bool> dropped{false};
    void add(const std::string& name, const std::vector<realtime::Sample>& samples);
  };
  std::shared_ptr<Pending> pending_ = std::make_shared<Pending>();

  std::mutex tick_mutex_;  // one tick at a time
  bool primed_ = false;    // the first tick positions the tails at the streams' ends
  Tail accidents_tail_, alerts_tail_;
  std::map<std::string, std::vector<std::string>> dimension_names_;

  mutable std::mutex clients_mutex_;
  std::vector<Client> clients_;
  std::deque<Frame> replay_;
  uint64_t next_id_ = 1;
  int64_t last_send_ms_ = 0;
  Stats stats_;

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace roadpulse::dashboard
