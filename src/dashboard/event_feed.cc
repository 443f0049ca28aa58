#include "dashboard/event_feed.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <functional>
#include <tuple>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "common/json_text.h"
#include "realtime/alerts.h"

namespace roadpulse::dashboard {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<double> to_double(std::string_view text) {
  text = trim(text);
  double v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

arrow::Result<unsigned> parse_topics(std::string_view text) {
  if (text.empty()) return kTopicAll;
  unsigned mask = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view t = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (t.empty()) continue;
    if (t == "metrics") {
      mask |= kTopicMetrics;
    } else if (t == "accidents") {
      mask |= kTopicAccidents;
    } else if (t == "alerts") {
      mask |= kTopicAlerts;
    } else {
      return arrow::Status::Invalid("parameter 'topics': unknown topic '", t,
                                    "' (expected metrics, accidents, alerts)");
    }
  }
  return mask == 0 ? kTopicAll : mask;
}

arrow::Result<AccidentPoint> parse_accident(std::string_view json) {
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  if (auto err = parser.iterate(padded).get(doc)) {
    return arrow::Status::Invalid("accident record is not JSON: ", simdjson::error_message(err));
  }
  simdjson::ondemand::object object;
  if (auto err = doc.get_object().get(object)) {
    return arrow::Status::Invalid("accident record is not a JSON object: ",
                                  simdjson::error_message(err));
  }
  AccidentPoint p;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return arrow::Status::Invalid("accident record: bad key");
    std::string* text = nullptr;
    std::optional<double>* number = nullptr;
    if (key == "ID") {
      text = &p.id;
    } else if (key == "Severity") {
      text = &p.severity;
    } else if (key == "State") {
      text = &p.state;
    } else if (key == "County") {
      text = &p.county;
    } else if (key == "City") {
      text = &p.city;
    } else if (key == "Start_Time") {
      text = &p.start_time;
    } else if (key == "Start_Lat") {
      number = &p.lat;
    } else if (key == "Start_Lng") {
      number = &p.lng;
    } else {
      continue;  // on-demand: skipped without being parsed
    }
    simdjson::ondemand::value field_value = field.value();
    simdjson::ondemand::json_type type;
    if (field_value.type().get(type)) {
      return arrow::Status::Invalid("accident record: bad value of '", key, "'");
    }
    std::string_view value;
    if (type == simdjson::ondemand::json_type::string) {
      if (field_value.get_string().get(value)) {
        return arrow::Status::Invalid("accident record: bad string in '", key, "'");
      }
    } else if (type == simdjson::ondemand::json_type::number) {
      value = trim(std::string_view(field_value.raw_json_token()));
    } else {
      continue;  // null
    }
    if (text) *text = std::string(value);
    if (number) *number = to_double(value);
  }
  return p;
}

void append_accident_json(const AccidentPoint& p, std::string& out) {
  out += "{\"id\":";
  append_json_string(p.id, out);
  out += ",\"severity\":";
  append_json_string(p.severity, out);
  out += ",\"state\":";
  append_json_string(p.state, out);
  out += ",\"county\":";
  append_json_string(p.county, out);
  out += ",\"city\":";
  append_json_string(p.city, out);
  out += ",\"time\":";
  append_json_string(p.start_time, out);
  if (p.lat && p.lng) out += fmt::format(",\"lat\":{},\"lng\":{}", *p.lat, *p.lng);
  out += fmt::format(",\"arrival_ms\":{}}}", p.arrival_ms);
}

EventFeed::EventFeed(std::shared_ptr<realtime::Hub> hub, log::LogStore* log,
                     EventFeedOptions options)
    : hub_(std::move(hub)), log_(log), options_(std::move(options)) {}

arrow::Result<std::unique_ptr<EventFeed>> EventFeed::make(std::shared_ptr<realtime::Hub> hub,
                                                          log::LogStore* log,
                                                          EventFeedOptions options) {
  std::unique_ptr<EventFeed> feed(new EventFeed(hub, log, std::move(options)));
  EventFeed* raw = feed.get();
  feed->pending_->max_rows = feed->options_.max_metric_rows_per_tick;
  ARROW_ASSIGN_OR_RAISE(feed->listener_id_,
                        hub->subscribe_samples([pending = feed->pending_](
                                                   const std::string& name,
                                                   const std::vector<realtime::Sample>& samples) {
                          pending->add(name, samples);
                        }));
  // Start reading the streams at their current end: the page loads history through the
  // query APIs, the feed only carries what is new.
  feed->tick();
  feed->thread_ = std::thread([raw] { raw->run(); });
  return feed;
}

EventFeed::~EventFeed() {
  hub_->unsubscribe_samples(listener_id_);
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(clients_mutex_);
  for (auto& c : clients_) c.writer->close();
  clients_.clear();
}

void EventFeed::Pending::add(const std::string& name,
                             const std::vector<realtime::Sample>& samples) {
  if (!active.load(std::memory_order_relaxed)) {
    if (!samples.empty()) dropped.store(true, std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock(mutex);
  PendingMetric& m = metrics[name];
  for (const auto& s : samples) {
    uint64_t h = std::hash<int64_t>{}(s.time_s);
    for (const auto& d : s.dimensions) {
      h ^= std::hash<std::string_view>{}(d) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    }
    bool found = false;
    for (auto [it, end] = m.index.equal_range(h); it != end; ++it) {
      auto& row = m.rows[it->second];
      if (row.time_s == s.time_s && row.dimensions == s.dimensions) {
        row.value += s.value;
        found = true;
        break;
      }
    }
    if (found) continue;
    if (m.rows.size() < max_rows) {
      m.index.emplace(h, static_cast<uint32_t>(m.rows.size()));
      m.rows.push_back({s.time_s, s.dimensions, s.value});
    } else {
      m.truncated = true;
    }
  }
}

void EventFeed::add_client(std::shared_ptr<server::BodyWriter> writer, unsigned topics,
                           std::optional<uint64_t> last_event_id) {
  std::lock_guard lock(clients_mutex_);
  std::string hello =
      fmt::format("retry: 3000\nevent: hello\ndata: {{\"server_ms\":{}}}\n\n", now_ms());
  // Samples dropped while nobody listened are in no frame: a resuming client must reload.
  const bool gap = pending_->dropped.exchange(false);
  if (gap) replay_.clear();
  pending_->active = true;
  if (last_event_id) {
    const bool held = !replay_.empty() && replay_.front().id <= *last_event_id + 1;
    if (!gap && (held || (replay_.empty() && *last_event_id + 1 == next_id_))) {
      for (const auto& f : replay_) {
        if (f.id > *last_event_id && (f.topic & topics)) hello += f.text;
      }
    } else {
      hello += "event: reset\ndata: {}\n\n";  // missed more than we hold: reload
    }
  }
  if (!writer->write(hello)) return;
  clients_.push_back(Client{std::move(writer), topics});
}

size_t EventFeed::client_count() const {
  std::lock_guard lock(clients_mutex_);
  return clients_.size();
}

EventFeed::Stats EventFeed::stats() const {
  std::lock_guard lock(clients_mutex_);
  return stats_;
}

void EventFeed::publish(unsigned topic, std::string_view event, const std::string& data) {
  std::lock_guard lock(clients_mutex_);
  Frame frame{next_id_++, topic, {}};
  frame.text = fmt::format("id: {}\nevent: {}\ndata: {}\n\n", frame.id, event, data);
  for (auto& c : clients_) {
    if (!(c.topics & topic)) continue;
    if (c.writer->write(frame.text)) stats_.bytes_sent += frame.text.size();
  }
  const size_t before = clients_.size();
  std::erase_if(clients_, [](const Client& c) { return c.writer->closed(); });
  stats_.clients_dropped += before - clients_.size();
  pending_->active = !clients_.empty();
  ++stats_.events_sent;
  last_send_ms_ = now_ms();
  replay_.push_back(std::move(frame));
  while (replay_.size() > options_.replay_events) replay_.pop_front();
}

void EventFeed::send_heartbeat() {
  std::lock_guard lock(clients_mutex_);
  const std::string beat = fmt::format(": heartbeat {}\n\n", now_ms());
  for (auto& c : clients_) c.writer->write(beat);
  const size_t before = clients_.size();
  std::erase_if(clients_, [](const Client& c) { return c.writer->closed(); });
  stats_.clients_dropped += before - clients_.size();
  pending_->active = !clients_.empty();
  last_send_ms_ = now_ms();
}

template <typename Fn>
void EventFeed::tail(const std::string& stream, Tail& state, Fn&& fn) {
  if (!log_) return;
  auto description = log_->describe_stream(stream);
  if (!description.ok()) return;  // not created yet
  int budget = options_.max_records_read_per_tick;
  for (const auto& shard : description->shards) {
    auto it = state.next.find(shard.id.value);
    if (it == state.next.end()) {
      // A shard seen for the first time: from its end on the first tick, else (a reshard's
      // child or a stream created meanwhile) from its start.
      const log::SequenceNumber from =
          state.started ? shard.starting_sequence : shard.next_sequence;
      it = state.next.emplace(shard.id.value, from).first;
    }
    while (budget > 0 && it->second < shard.next_sequence) {
      auto read = log_->read(stream, shard.id, it->second, std::min(budget, 1000), 4 << 20);
      if (!read.ok()) {
        spdlog::debug("dashboard: reading {}: {}", stream, read.status().ToString());
        break;
      }
      if (read->records.empty()) {
        // Records below the retained range were trimmed: skip to where reading resumes.
        if (read->next > it->second) {
          it->second = read->next;
          continue;
        }
        break;
      }
      for (const auto& r : read->records) fn(r);
      budget -= static_cast<int>(read->records.size());
      it->second = read->next;
    }
  }
  state.started = true;
}

void EventFeed::tick() {
  std::lock_guard tick_lock(tick_mutex_);
  const bool first = !primed_;

  // 1. Metric samples gathered since the last tick.
  std::map<std::string, PendingMetric> pending;
  {
    std::lock_guard lock(pending_->mutex);
    pending.swap(pending_->metrics);
  }
  for (auto& [name, metric] : pending) {
    if (metric.rows.empty()) continue;
    auto dims = dimension_names_.find(name);
    if (dims == dimension_names_.end()) {
      if (auto store = hub_->metrics(); store.ok()) {
        for (const auto& info : (*store)->metrics()) dimension_names_[info.name] = info.dimensions;
      }
      dims = dimension_names_.find(name);
    }
    std::string data = "{\"metric\":";
    append_json_string(name, data);
    data += ",\"dimensions\":[";
    if (dims != dimension_names_.end()) {
      for (size_t i = 0; i < dims->second.size(); ++i) {
        if (i) data += ',';
        append_json_string(dims->second[i], data);
      }
    }
    data += "],\"rows\":[";
    // Sorted so a client applies them in time order.
    std::sort(metric.rows.begin(), metric.rows.end(), [](const auto& a, const auto& b) {
      return std::tie(a.time_s, a.dimensions) < std::tie(b.time_s, b.dimensions);
    });
    bool first_row = true;
    for (const auto& row : metric.rows) {
      if (!first_row) data += ',';
      first_row = false;
      data += fmt::format("[{},{}", row.time_s, row.value);
      for (const auto& d : row.dimensions) {
        data += ',';
        append_json_string(d, data);
      }
      data += ']';
    }
    data += fmt::format("],\"truncated\":{}}}", metric.truncated ? "true" : "false");
    publish(kTopicMetrics, "metrics", data);
  }

  // 2. New raw accident records (newest kept when there are too many to draw).
  std::deque<AccidentPoint> points;
  uint64_t seen = 0;
  tail(options_.accidents_stream, accidents_tail_, [&](const log::StoredRecord& r) {
    if (first) return;
    ++seen;
    auto p = parse_accident(r.data);
    if (!p.ok()) return;  // the stream may carry anything; the pipeline's DLQ reports it
    p->arrival_ms = r.arrival_ms;
    points.push_back(std::move(*p));
    if (points.size() > options_.max_accidents_per_tick) points.pop_front();
  });
  if (!points.empty()) {
    std::string data = "{\"events\":[";
    for (size_t i = 0; i < points.size(); ++i) {
      if (i) data += ',';
      append_accident_json(points[i], data);
    }
    data += fmt::format("],\"received\":{}}}", seen);
    publish(kTopicAccidents, "accidents", data);
  }

  // 3. Alerts appended to the outbox.
  std::vector<std::string> alerts;
  tail(options_.alerts_stream, alerts_tail_, [&](const log::StoredRecord& r) {
    if (first) return;
    auto alert = realtime::parse_alert_json(r.data);
    if (alert.ok()) alerts.push_back(realtime::alert_json(*alert));
  });
  for (const auto& a : alerts) publish(kTopicAlerts, "alert", a);
  // A stream missing at the first tick is read from its beginning once it appears.
  if (first) {
    accidents_tail_.started = alerts_tail_.started = true;
    primed_ = true;
  }

  // 4. Heartbeat on idle connections.
  bool beat = false;
  {
    std::lock_guard lock(clients_mutex_);
    beat = !clients_.empty() && now_ms() - last_send_ms_ >= options_.heartbeat_ms;
  }
  if (beat) send_heartbeat();
}

void EventFeed::run() {
  std::unique_lock lock(stop_mutex_);
  while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.tick_ms),
                            [this] { return stopping_; })) {
    lock.unlock();
    tick();
    lock.lock();
  }
}

}  // namespace roadpulse::dashboard
