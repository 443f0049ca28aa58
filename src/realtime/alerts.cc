#include "realtime/alerts.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include "common/time.h"
#include "realtime/metric_store.h"

namespace roadpulse::realtime {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<double> as_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string alert_id(std::string_view rule, std::string_view dedup_key) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  mix(rule);
  mix("\x1f");
  mix(dedup_key);
  return fmt::format("{:016x}", h);
}

std::string dedup_entry(const Alert& a) { return a.rule + '\x1f' + a.dedup_key; }

// TOML scalar as text (numbers in their shortest form), or nullopt for tables/arrays.
std::optional<std::string> scalar_text(const toml::node& node) {
  if (auto s = node.value<std::string>(); s && node.is_string()) return *s;
  if (node.is_integer()) return std::to_string(*node.value<int64_t>());
  if (node.is_floating_point()) return fmt::format("{}", *node.value<double>());
  if (node.is_boolean()) return *node.value<bool>() ? "true" : "false";
  return std::nullopt;
}

bool valid_address(std::string_view a) {
  const size_t at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= a.size()) return false;
  return std::none_of(a.begin(), a.end(), [](char c) {
    return c == '<' || c == '>' || c == ',' || std::isspace(static_cast<unsigned char>(c)) ||
           static_cast<unsigned char>(c) < 0x20;
  });
}

// The email channel's keys: url (smtp:// or smtps://), from, to, username, password or
// password_env, tls, ca_file. `fail` builds the error naming the channel.
template <typename Fail>
arrow::Status parse_email_options(const toml::table& t, ChannelConfig& c, Fail&& fail) {
  const bool smtps = c.url.rfind("smtps://", 0) == 0;
  if (!smtps && c.url.rfind("smtp://", 0) != 0) {
    return fail("an email channel needs an 'url' smtp://host:port or smtps://host:port, got '" +
                c.url + "'");
  }
  c.from = t["from"].value_or(std::string());
  if (c.from.empty()) return fail("an email channel needs a 'from' address");
  if (c.from.find_first_of("\r\n") != std::string::npos || !valid_address(email_address(c.from))) {
    return fail("'from' is not an address (alerts@example.org or Name <alerts@example.org>): '" +
                c.from + "'");
  }
  if (auto one = t["to"].value<std::string>()) {
    c.to.push_back(*one);
  } else if (auto* list = t["to"].as_array()) {
    for (const auto& item : *list) {
      auto v = item.value<std::string>();
      if (!v) return fail("'to' must list addresses as strings");
      c.to.push_back(*v);
    }
  }
  if (c.to.empty()) return fail("an email channel needs 'to' (an address or a list of them)");
  for (const auto& a : c.to) {
    if (!valid_address(a)) return fail("'to' holds '" + a + "', which is not an address");
  }
  c.username = t["username"].value_or(std::string());
  const auto password = t["password"].value<std::string>();
  const auto password_env = t["password_env"].value<std::string>();
  if (password && password_env) return fail("set 'password' or 'password_env', not both");
  if (password_env) {
    const char* value = std::getenv(password_env->c_str());
    if (!value) {
      return fail("'password_env' names the environment variable " + *password_env +
                  ", which is not set");
    }
    c.password = value;
  } else if (password) {
    c.password = *password;
  }
  if (!c.password.empty() && c.username.empty()) return fail("a password needs a 'username'");
  c.tls = t["tls"].value_or(std::string(smtps ? "implicit" : "starttls"));
  if (c.tls != "none" && c.tls != "starttls" && c.tls != "implicit") {
    return fail("tls must be 'starttls', 'implicit' or 'none', got '" + c.tls + "'");
  }
  if ((c.tls == "implicit") != smtps) {
    return fail("tls = '" + c.tls + "' needs an " + (smtps ? "smtp://" : "smtps://") +
                " url (implicit TLS is smtps://, STARTTLS and none are smtp://)");
  }
  if (c.tls == "none" && !c.username.empty()) {
    return fail(
        "username/password with tls = 'none' would send the password in clear; use "
        "tls = 'starttls' or 'implicit'");
  }
  c.ca_file = t["ca_file"].value_or(std::string());
  if (!c.ca_file.empty() && !std::ifstream(c.ca_file)) {
    return fail("cannot read ca_file '" + c.ca_file + "'");
  }
  return arrow::Status::OK();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Alert and routing

std::optional<std::string> Alert::attribute(std::string_view name) const {
  for (const auto& [k, v] : attributes) {
    if (iequals(k, name)) return v;
  }
  if (iequals(name, "rule")) return rule;
  if (iequals(name, "severity") && !severity.empty()) return severity;
  return std::nullopt;
}

bool MatchTerm::matches(const Alert& alert) const {
  auto value = alert.attribute(attribute);
  if (!value) return false;
  if (!any_of.empty()) {
    const auto number = as_number(*value);
    bool any = false;
    for (const auto& expected : any_of) {
      if (*value == expected) any = true;
      const auto e = as_number(expected);
      if (number && e && *number == *e) any = true;
    }
    if (!any) return false;
  }
  if (gte || gt || lte || lt) {
    const auto number = as_number(*value);
    if (!number) return false;
    if (gte && !(*number >= *gte)) return false;
    if (gt && !(*number > *gt)) return false;
    if (lte && !(*number <= *lte)) return false;
    if (lt && !(*number < *lt)) return false;
  }
  return true;
}

arrow::Result<AlertConfig> AlertConfig::parse(std::string_view toml_text,
                                              const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return arrow::Status::Invalid(source, ":", e.source().begin.line, ":", e.source().begin.column,
                                  ": ", e.description());
  }
  AlertConfig config;
  auto fail = [&](const std::string& where, const std::string& what) {
    return arrow::Status::Invalid(source, ": ", where, ": ", what);
  };
  if (auto* channels = root["channels"].as_array()) {
    for (size_t i = 0; i < channels->size(); ++i) {
      const std::string where = fmt::format("[[channels]] #{}", i + 1);
      auto* t = (*channels)[i].as_table();
      if (!t) return fail(where, "must be a table");
      ChannelConfig c;
      c.name = (*t)["name"].value_or(std::string());
      c.type = (*t)["type"].value_or(std::string("webhook"));
      c.url = (*t)["url"].value_or(std::string());
      if (c.name.empty()) return fail(where, "needs a 'name'");
      if (c.type != "webhook" && c.type != "alertmanager" && c.type != "email") {
        return fail(where + " '" + c.name + "'",
                    "type must be 'webhook', 'alertmanager' or 'email', got '" + c.type + "'");
      }
      if (c.type == "email") {
        ARROW_RETURN_NOT_OK(parse_email_options(*t, c, [&](const std::string& what) {
          return fail(where + " '" + c.name + "'", what);
        }));
      } else if (c.url.rfind("http://", 0) != 0 && c.url.rfind("https://", 0) != 0) {
        return fail(where + " '" + c.name + "'", "needs an http(s) 'url', got '" + c.url + "'");
      }
      c.payload = (*t)["payload"].value_or(std::string("json"));
      if (c.payload != "json" && c.payload != "slack") {
        return fail(where + " '" + c.name + "'",
                    "payload must be 'json' or 'slack', got '" + c.payload + "'");
      }
      c.rate_per_second = (*t)["rate_per_second"].value_or(0.0);
      c.max_attempts = static_cast<int>((*t)["max_attempts"].value_or(int64_t{10}));
      c.backoff_initial_ms = (*t)["backoff_initial_ms"].value_or(int64_t{200});
      c.backoff_max_ms = (*t)["backoff_max_ms"].value_or(int64_t{30'000});
      c.timeout_ms = (*t)["timeout_ms"].value_or(int64_t{5'000});
      if (c.max_attempts < 1 || c.backoff_initial_ms < 1 || c.backoff_max_ms < 1 ||
          c.timeout_ms < 1 || c.rate_per_second < 0) {
        return fail(where + " '" + c.name + "'",
                    "max_attempts, backoff_*_ms and timeout_ms must be positive, "
                    "rate_per_second not negative");
      }
      if (auto* headers = (*t)["headers"].as_table()) {
        for (const auto& [k, v] : *headers) {
          auto text = scalar_text(v);
          if (!text) return fail(where + " '" + c.name + "'", "header values must be scalars");
          c.headers.emplace_back(std::string(k.str()), *text);
        }
      }
      for (const auto& other : config.channels) {
        if (other.name == c.name) return fail(where, "duplicate channel name '" + c.name + "'");
      }
      config.channels.push_back(std::move(c));
    }
  }
  if (auto* routes = root["routes"].as_array()) {
    for (size_t i = 0; i < routes->size(); ++i) {
      const std::string where = fmt::format("[[routes]] #{}", i + 1);
      auto* t = (*routes)[i].as_table();
      if (!t) return fail(where, "must be a table");
      RouteConfig r;
      auto* names = (*t)["channels"].as_array();
      if (!names || names->empty()) return fail(where, "needs a non-empty 'channels' list");
      for (const auto& n : *names) {
        auto name = n.value<std::string>();
        if (!name) return fail(where, "'channels' must list channel names");
        const bool known = std::any_of(config.channels.begin(), config.channels.end(),
                                       [&](const ChannelConfig& c) { return c.name == *name; });
        if (!known) return fail(where, "unknown channel '" + *name + "'");
        r.channels.push_back(*name);
      }
      r.is_default = (*t)["default"].value_or(false);
      if (auto* match = (*t)["match"].as_table()) {
        for (const auto& [key, node] : *match) {
          MatchTerm term;
          term.attribute = std::string(key.str());
          const std::string at = where + " match." + term.attribute;
          if (auto text = scalar_text(node)) {
            term.any_of.push_back(*text);
          } else if (auto* list = node.as_array()) {
            for (const auto& item : *list) {
              auto v = scalar_text(item);
              if (!v) return fail(at, "list items must be scalars");
              term.any_of.push_back(*v);
            }
            if (term.any_of.empty()) return fail(at, "empty list matches nothing");
          } else if (auto* range = node.as_table()) {
            for (const auto& [op, bound] : *range) {
              auto v = bound.value<double>();
              if (!v) return fail(at, "range bounds must be numbers");
              if (op.str() == "gte") {
                term.gte = *v;
              } else if (op.str() == "gt") {
                term.gt = *v;
              } else if (op.str() == "lte") {
                term.lte = *v;
              } else if (op.str() == "lt") {
                term.lt = *v;
              } else {
                return fail(at, "unknown range operator '" + std::string(op.str()) +
                                    "' (use gte, gt, lte, lt)");
              }
            }
          }
          r.match.push_back(std::move(term));
        }
      } else if ((*t).contains("match")) {
        return fail(where, "'match' must be a table");
      }
      config.routes.push_back(std::move(r));
    }
  }
  if (config.routes.empty() && !config.channels.empty()) {
    return fail("[[routes]]",
                "no routes: alerts would go nowhere (add [[routes]] channels = [...])");
  }
  return config;
}

arrow::Result<AlertConfig> AlertConfig::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return arrow::Status::IOError("cannot read alert config ", path);
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

std::vector<std::string> AlertConfig::route(const Alert& alert) const {
  std::vector<std::string> out;
  auto add = [&](const RouteConfig& r) {
    for (const auto& c : r.channels) {
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
  };
  bool matched = false;
  for (const auto& r : routes) {
    if (r.is_default) continue;
    if (std::all_of(r.match.begin(), r.match.end(),
                    [&](const MatchTerm& m) { return m.matches(alert); })) {
      matched = true;
      add(r);
    }
  }
  if (!matched) {
    for (const auto& r : routes) {
      if (r.is_default) add(r);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON

std::string alert_json(const Alert& a) {
  std::string out = "{\"id\":";
  append_json_string(a.id, out);
  out += ",\"rule\":";
  append_json_string(a.rule, out);
  out += ",\"dedup_key\":";
  append_json_string(a.dedup_key, out);
  out += ",\"severity\":";
  append_json_string(a.severity, out);
  out += ",\"title\":";
  append_json_string(a.title, out);
  out += ",\"body\":";
  append_json_string(a.body, out);
  out += fmt::format(",\"created_ms\":{},\"created\":", a.created_ms);
  append_json_string(format_iso8601_millis(a.created_ms * 1000) + "Z", out);
  out += ",\"row\":{";
  for (size_t i = 0; i < a.attributes.size(); ++i) {
    if (i) out += ',';
    append_json_string(a.attributes[i].first, out);
    out += ':';
    append_json_string(a.attributes[i].second, out);
  }
  out += "},\"channels\":[";
  for (size_t i = 0; i < a.channels.size(); ++i) {
    if (i) out += ',';
    append_json_string(a.channels[i], out);
  }
  out += "]}";
  return out;
}

namespace {

// A small reader for the outbox's own records (objects of strings, integers, a string->string
// object and a string array). simdjson is not used here: its runtime-dispatch singleton clashes
// with the copy exported by pyarrow's libparquet.
class RecordReader {
 public:
  explicit RecordReader(std::string_view text) : text_(text) {}

  arrow::Status expect(char c) {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != c) {
      return arrow::Status::Invalid("expected '", std::string(1, c), "' at offset ", pos_);
    }
    ++pos_;
    return arrow::Status::OK();
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  arrow::Result<std::string> string() {
    ARROW_RETURN_NOT_OK(expect('"'));
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) break;
      c = text_[pos_++];
      switch (c) {
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          if (pos_ + 4 > text_.size()) return arrow::Status::Invalid("bad \\u escape");
          const unsigned cp = std::stoul(std::string(text_.substr(pos_, 4)), nullptr, 16);
          pos_ += 4;
          if (cp < 0x80) {
            out += static_cast<char>(cp);
          } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default:
          out += c;
      }
    }
    ARROW_RETURN_NOT_OK(expect('"'));
    return out;
  }
  arrow::Result<int64_t> integer() {
    skip_space();
    const size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    if (pos_ == start) return arrow::Status::Invalid("expected an integer at offset ", start);
    return std::stoll(std::string(text_.substr(start, pos_ - start)));
  }
  // Calls fn(key) for each member of an object; fn reads the value.
  template <typename Fn>
  arrow::Status object(Fn&& fn) {
    ARROW_RETURN_NOT_OK(expect('{'));
    if (consume('}')) return arrow::Status::OK();
    do {
      ARROW_ASSIGN_OR_RAISE(std::string key, string());
      ARROW_RETURN_NOT_OK(expect(':'));
      ARROW_RETURN_NOT_OK(fn(key));
    } while (consume(','));
    return expect('}');
  }
  arrow::Result<std::vector<std::string>> string_array() {
    std::vector<std::string> out;
    ARROW_RETURN_NOT_OK(expect('['));
    if (consume(']')) return out;
    do {
      ARROW_ASSIGN_OR_RAISE(std::string v, string());
      out.push_back(std::move(v));
    } while (consume(','));
    ARROW_RETURN_NOT_OK(expect(']'));
    return out;
  }

 private:
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  std::string_view text_;
  size_t pos_ = 0;
};

struct DeadLetter {
  std::string id, channel, error;
  int64_t attempts = 0;
};

arrow::Result<DeadLetter> parse_dead_letter(std::string_view json) {
  RecordReader r(json);
  DeadLetter d;
  ARROW_RETURN_NOT_OK(r.object([&](const std::string& key) -> arrow::Status {
    if (key == "attempts") {
      ARROW_ASSIGN_OR_RAISE(d.attempts, r.integer());
      return arrow::Status::OK();
    }
    ARROW_ASSIGN_OR_RAISE(std::string v, r.string());
    if (key == "id") d.id = std::move(v);
    if (key == "channel") d.channel = std::move(v);
    if (key == "error") d.error = std::move(v);
    return arrow::Status::OK();
  }));
  return d;
}

}  // namespace

arrow::Result<Alert> parse_alert_json(std::string_view json) {
  RecordReader r(json);
  Alert a;
  bool has_created = false;
  auto status = r.object([&](const std::string& key) -> arrow::Status {
    if (key == "created_ms") {
      ARROW_ASSIGN_OR_RAISE(a.created_ms, r.integer());
      has_created = true;
    } else if (key == "row") {
      return r.object([&](const std::string& column) -> arrow::Status {
        ARROW_ASSIGN_OR_RAISE(std::string v, r.string());
        a.attributes.emplace_back(column, std::move(v));
        return arrow::Status::OK();
      });
    } else if (key == "channels") {
      ARROW_ASSIGN_OR_RAISE(a.channels, r.string_array());
    } else {
      ARROW_ASSIGN_OR_RAISE(std::string v, r.string());
      if (key == "id") a.id = std::move(v);
      if (key == "rule") a.rule = std::move(v);
      if (key == "dedup_key") a.dedup_key = std::move(v);
      if (key == "severity") a.severity = std::move(v);
      if (key == "title") a.title = std::move(v);
      if (key == "body") a.body = std::move(v);
    }
    return arrow::Status::OK();
  });
  if (!status.ok()) return arrow::Status::Invalid("alert record is not valid: ", status.message());
  if (a.id.empty() || a.rule.empty() || !has_created) {
    return arrow::Status::Invalid("alert record lacks id, rule or created_ms");
  }
  return a;
}

const char* delivery_state_name(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending:
      return "pending";
    case DeliveryState::kDelivered:
      return "delivered";
    case DeliveryState::kDeadLetter:
      return "dead_letter";
  }
  return "unknown";
}

std::string alert_status_json(const std::vector<AlertStatus>& alerts) {
  std::string out = "{\"alerts\":[";
  for (size_t i = 0; i < alerts.size(); ++i) {
    if (i) out += ',';
    std::string a = alert_json(alerts[i].alert);
    a.pop_back();  // reopen the object to add the delivery states
    out += a;
    out += ",\"deliveries\":{";
    bool first = true;
    for (const auto& [channel, d] : alerts[i].deliveries) {
      if (!first) out += ',';
      first = false;
      append_json_string(channel, out);
      out += fmt::format(":{{\"state\":\"{}\",\"attempts\":{},\"delivered_ms\":{},\"last_error\":",
                         delivery_state_name(d.state), d.attempts, d.delivered_ms);
      append_json_string(d.last_error, out);
      out += '}';
    }
    out += "}}";
  }
  out += "]}";
  return out;
}

std::string webhook_json_body(const Alert& alert) { return alert_json(alert); }

std::string slack_body(const Alert& alert) {
  std::string text = "*" + alert.title + "*";
  if (!alert.body.empty()) text += "\n" + alert.body;
  text += "\nrule `" + alert.rule + "`, key `" + alert.dedup_key + "`";
  std::string out = "{\"text\":";
  append_json_string(text, out);
  out += '}';
  return out;
}

std::string alertmanager_body(const Alert& alert) {
  std::string out = "[{\"labels\":{\"alertname\":";
  append_json_string(alert.rule, out);
  out += ",\"dedup_key\":";
  append_json_string(alert.dedup_key, out);
  if (!alert.severity.empty()) {
    out += ",\"severity\":";
    append_json_string(alert.severity, out);
  }
  for (const auto& [k, v] : alert.attributes) {
    const std::string label = prometheus_name(k);
    if (label == "alertname" || label == "dedup_key" || label == "severity" || v.empty()) continue;
    out += ',';
    append_json_string(label, out);
    out += ':';
    append_json_string(v, out);
  }
  out += "},\"annotations\":{\"summary\":";
  append_json_string(alert.title, out);
  out += ",\"description\":";
  append_json_string(alert.body, out);
  out += "},\"startsAt\":";
  append_json_string(format_iso8601_millis(alert.created_ms * 1000) + "Z", out);
  out += "}]";
  return out;
}

// ---------------------------------------------------------------------------------------------
// libcurl channel

namespace {

size_t collect(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() < 512) out->append(data, std::min(size * n, 512 - out->size()));
  return size * n;
}

class CurlChannel final : public Channel {
 public:
  explicit CurlChannel(ChannelConfig config) : config_(std::move(config)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    curl_ = curl_easy_init();
    headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    for (const auto& [k, v] : config_.headers) {
      headers_ = curl_slist_append(headers_, (k + ": " + v).c_str());
    }
  }
  ~CurlChannel() override {
    curl_slist_free_all(headers_);
    if (curl_) curl_easy_cleanup(curl_);
  }

  arrow::Status deliver(const Alert& alert) override {
    if (!curl_) return arrow::Status::IOError("channel '", config_.name, "': curl init failed");
    std::string body;
    std::string url = config_.url;
    if (config_.type == "alertmanager") {
      body = alertmanager_body(alert);
      if (url.find("/api/v2/alerts") == std::string::npos) {
        while (!url.empty() && url.back() == '/') url.pop_back();
        url += "/api/v2/alerts";
      }
    } else {
      body = config_.payload == "slack" ? slack_body(alert) : webhook_json_body(alert);
    }
    std::string response;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &response);
    const CURLcode rc = curl_easy_perform(curl_);
    if (rc != CURLE_OK) {
      return arrow::Status::IOError("POST ", url, ": ", curl_easy_strerror(rc));
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
      return arrow::Status::IOError("POST ", url, ": HTTP ", status, " ", response);
    }
    return arrow::Status::OK();
  }

 private:
  ChannelConfig config_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
};

}  // namespace

arrow::Result<std::unique_ptr<Channel>> make_channel(const ChannelConfig& config) {
  if (config.type == "email") return make_email_channel(config);
  return std::make_unique<CurlChannel>(config);
}

// ---------------------------------------------------------------------------------------------
// Outbox

AlertOutbox::AlertOutbox(std::shared_ptr<log::LogStore> log, AlertConfig config,
                         OutboxOptions options, ChannelFactory factory)
    : log_(std::move(log)),
      config_(std::move(config)),
      options_(std::move(options)),
      factory_(factory ? std::move(factory) : ChannelFactory(make_channel)) {}

AlertOutbox::~AlertOutbox() { stop(); }

arrow::Result<std::unique_ptr<AlertOutbox>> AlertOutbox::open(std::shared_ptr<log::LogStore> log,
                                                              AlertConfig config,
                                                              OutboxOptions options,
                                                              ChannelFactory channel_factory) {
  std::unique_ptr<AlertOutbox> outbox(new AlertOutbox(
      std::move(log), std::move(config), std::move(options), std::move(channel_factory)));
  ARROW_RETURN_NOT_OK(outbox->recover());
  return outbox;
}

namespace {

arrow::Status ensure_stream(log::LogStore& log, const std::string& name) {
  ARROW_ASSIGN_OR_RAISE(auto names, log.list_streams());
  if (std::find(names.begin(), names.end(), name) != names.end()) return arrow::Status::OK();
  return log.create_stream(name, 1);
}

template <typename Fn>
arrow::Status read_all(log::LogStore& log, const std::string& stream, Fn&& fn) {
  const log::ShardId shard{0};
  ARROW_ASSIGN_OR_RAISE(auto pos, log.resolve(stream, shard, {}));
  while (true) {
    ARROW_ASSIGN_OR_RAISE(auto read, log.read(stream, shard, pos, 1000, 8 << 20));
    if (read.records.empty()) break;
    for (const auto& r : read.records) ARROW_RETURN_NOT_OK(fn(r));
    pos = read.next;
  }
  return arrow::Status::OK();
}

}  // namespace

void AlertOutbox::record_status(const Alert& alert) {
  AlertStatus status;
  status.alert = alert;
  for (const auto& c : alert.channels) status.deliveries[c] = ChannelDelivery{};
  status_order_.push_back(alert.id);
  status_[alert.id] = std::move(status);
  while (status_order_.size() > options_.status_capacity) {
    status_.erase(status_order_.front());
    status_order_.pop_front();
  }
}

arrow::Status AlertOutbox::recover() {
  ARROW_RETURN_NOT_OK(ensure_stream(*log_, options_.stream));
  ARROW_RETURN_NOT_OK(ensure_stream(*log_, options_.dead_letter_stream));
  std::map<std::string, uint64_t> positions;
  for (const auto& c : config_.channels) {
    ARROW_ASSIGN_OR_RAISE(auto pos, log_->load_position("alerts." + c.name, options_.stream, {0}));
    positions[c.name] = pos ? pos->value : 0;
  }
  std::lock_guard lock(mutex_);
  ARROW_RETURN_NOT_OK(read_all(*log_, options_.stream, [&](const log::StoredRecord& r) {
    auto alert = parse_alert_json(r.data);
    if (!alert.ok()) {
      return alert.status().WithMessage("outbox ", options_.stream, " record ", r.sequence.value,
                                        ": ", alert.status().message());
    }
    dedup_.insert(dedup_entry(*alert));
    record_status(*alert);
    auto& status = status_[alert->id];
    for (auto& [channel, d] : status.deliveries) {
      auto pos = positions.find(channel);
      if (pos == positions.end()) continue;  // channel no longer configured
      if (r.sequence.value < pos->second) {
        d.state = DeliveryState::kDelivered;
      } else {
        ++counters_.pending;
      }
    }
    return arrow::Status::OK();
  }));
  ARROW_RETURN_NOT_OK(read_all(*log_, options_.dead_letter_stream, [&](const log::StoredRecord& r) {
    auto dead = parse_dead_letter(r.data);
    if (!dead.ok()) {
      return arrow::Status::Invalid("dead-letter record ", r.sequence.value,
                                    " is malformed: ", dead.status().message());
    }
    const std::string& id = dead->id;
    const std::string& channel = dead->channel;
    const std::string& error = dead->error;
    const int64_t attempts = dead->attempts;
    auto it = status_.find(std::string(id));
    if (it != status_.end()) {
      auto d = it->second.deliveries.find(std::string(channel));
      if (d != it->second.deliveries.end()) {
        d->second = {DeliveryState::kDeadLetter, static_cast<int>(attempts), std::string(error), 0};
      }
    }
    ++counters_.dead_lettered;
    return arrow::Status::OK();
  }));
  return arrow::Status::OK();
}

arrow::Result<bool> AlertOutbox::enqueue(Alert alert) {
  std::vector<Alert> one;
  one.push_back(std::move(alert));
  ARROW_ASSIGN_OR_RAISE(int64_t appended, enqueue_batch(std::move(one)));
  return appended > 0;
}

arrow::Result<int64_t> AlertOutbox::enqueue_batch(std::vector<Alert> alerts) {
  // Enqueuers are serialized by enqueue_mutex_, so the dedup set cannot change between the check
  // and the append; mutex_ is not held across the durable append, so dispatchers reporting
  // deliveries (and list()) never wait for an fsync.
  std::lock_guard enqueue_lock(enqueue_mutex_);
  const int64_t now = wall_ms();
  std::vector<Alert> fresh;
  int64_t duplicates = 0;
  {
    std::lock_guard lock(mutex_);
    std::set<std::string> batch_keys;
    for (auto& alert : alerts) {
      if (alert.created_ms == 0) alert.created_ms = now;
      alert.id = alert_id(alert.rule, alert.dedup_key);
      std::string key = dedup_entry(alert);
      if (dedup_.count(key) || !batch_keys.insert(std::move(key)).second) {
        ++duplicates;
        continue;
      }
      alert.channels = config_.route(alert);
      fresh.push_back(std::move(alert));
    }
    counters_.duplicates += duplicates;
  }
  if (fresh.empty()) return 0;
  std::vector<std::string> data;
  std::vector<log::AppendRecord> records;
  data.reserve(fresh.size());
  records.reserve(fresh.size());
  for (const auto& alert : fresh) data.push_back(alert_json(alert));
  for (const auto& d : data) records.push_back({"alerts", d, std::nullopt});
  ARROW_RETURN_NOT_OK(log_->append(options_.stream, records).status());
  {
    std::lock_guard lock(mutex_);
    for (const auto& alert : fresh) {
      dedup_.insert(dedup_entry(alert));
      counters_.pending += static_cast<int64_t>(alert.channels.size());
      ++counters_.enqueued;
      record_status(alert);
    }
  }
  changed_.notify_all();
  return static_cast<int64_t>(fresh.size());
}

arrow::Status AlertOutbox::start() {
  std::lock_guard lock(mutex_);
  if (!threads_.empty()) return arrow::Status::OK();
  stopping_ = false;
  for (const auto& c : config_.channels) {
    ARROW_ASSIGN_OR_RAISE(auto sender, factory_(c));
    senders_.push_back(std::move(sender));
  }
  for (size_t i = 0; i < config_.channels.size(); ++i) {
    threads_.emplace_back([this, i] { run_channel(config_.channels[i], senders_[i].get()); });
  }
  committer_stopping_ = false;
  committer_ = std::thread([this] { run_committer(); });
  return arrow::Status::OK();
}

void AlertOutbox::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  senders_.clear();
  // The dispatchers are done: the committer makes their last positions durable and ends.
  {
    std::lock_guard lock(mutex_);
    committer_stopping_ = true;
  }
  changed_.notify_all();
  if (committer_.joinable()) committer_.join();
}

bool AlertOutbox::wait_idle(int64_t timeout_ms) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return counters_.pending == 0; });
}

std::vector<AlertStatus> AlertOutbox::list(int64_t since_ms) const {
  std::lock_guard lock(mutex_);
  std::vector<AlertStatus> out;
  for (const auto& id : status_order_) {
    const auto& s = status_.at(id);
    if (s.alert.created_ms >= since_ms) out.push_back(s);
  }
  return out;
}

OutboxCounters AlertOutbox::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

void AlertOutbox::set_delivery(const std::string& id, const std::string& channel,
                               DeliveryState state, int attempts, const std::string& error) {
  std::lock_guard lock(mutex_);
  auto it = status_.find(id);
  if (it != status_.end()) {
    auto& d = it->second.deliveries[channel];
    d.state = state;
    d.attempts = attempts;
    d.last_error = error;
    if (state == DeliveryState::kDelivered) d.delivered_ms = wall_ms();
  }
  if (state == DeliveryState::kDelivered) ++counters_.delivered;
  if (state == DeliveryState::kDeadLetter) ++counters_.dead_lettered;
  if (state == DeliveryState::kPending) ++counters_.failed_attempts;
  if (state != DeliveryState::kPending) --counters_.pending;
  changed_.notify_all();
}

void AlertOutbox::run_channel(const ChannelConfig& channel, Channel* sender) {
  const std::string consumer = "alerts." + channel.name;
  const log::ShardId shard{0};
  std::mt19937_64 rng(std::random_device{}());
  auto next_send = std::chrono::steady_clock::now();
  // Sleeps unless stop() is called; returns false when stopping.
  auto sleep_for = [&](std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    return !changed_.wait_for(lock, d, [&] { return stopping_.load(); });
  };
  std::optional<log::SequenceNumber> pos;
  // The committer thread makes the position durable (run_committer); recording it here keeps the
  // commit's fsync off the delivery path.
  auto record_position = [&] {
    std::lock_guard lock(mutex_);
    delivered_positions_[channel.name] = *pos;
  };
  while (!stopping_) {
    if (!pos) {
      auto loaded = log_->load_position(consumer, options_.stream, shard);
      auto start = loaded.ok() && *loaded ? arrow::Result<log::SequenceNumber>(**loaded)
                                          : log_->resolve(options_.stream, shard, {});
      if (!loaded.ok() || !start.ok()) {
        spdlog::error("alerts: channel '{}': cannot find its outbox position: {}", channel.name,
                      loaded.ok() ? start.status().ToString() : loaded.status().ToString());
        if (!sleep_for(std::chrono::milliseconds(1000))) return;
        continue;
      }
      pos = *start;
    }
    auto read = log_->read(options_.stream, shard, *pos, 64, 1 << 20);
    if (!read.ok()) {
      spdlog::error("alerts: channel '{}': reading the outbox: {}", channel.name,
                    read.status().ToString());
      if (!sleep_for(std::chrono::milliseconds(1000))) return;
      continue;
    }
    if (read->records.empty()) {
      (void)log_->wait_for_data(options_.stream, shard, *pos, 100);
      continue;
    }
    for (const auto& record : read->records) {
      if (stopping_) return;
      auto alert = parse_alert_json(record.data);
      bool routed = alert.ok() && std::find(alert->channels.begin(), alert->channels.end(),
                                            channel.name) != alert->channels.end();
      if (!alert.ok()) {
        spdlog::error("alerts: skipping undecodable outbox record {}: {}", record.sequence.value,
                      alert.status().ToString());
      }
      int attempts = 0;
      while (routed) {
        if (channel.rate_per_second > 0) {
          const auto now = std::chrono::steady_clock::now();
          if (next_send > now &&
              !sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(next_send - now) +
                         std::chrono::milliseconds(1))) {
            return;
          }
          next_send =
              std::max(next_send, now) +
              std::chrono::microseconds(static_cast<int64_t>(1e6 / channel.rate_per_second));
        }
        ++attempts;
        arrow::Status st = sender->deliver(*alert);
        if (st.ok()) {
          set_delivery(alert->id, channel.name, DeliveryState::kDelivered, attempts, "");
          break;
        }
        if (attempts >= channel.max_attempts) {
          std::string dead = "{\"id\":";
          append_json_string(alert->id, dead);
          dead += ",\"channel\":";
          append_json_string(channel.name, dead);
          dead += fmt::format(",\"attempts\":{},\"error\":", attempts);
          append_json_string(st.message(), dead);
          dead += '}';
          log::AppendRecord rec{"alerts", dead, std::nullopt};
          auto appended = log_->append(options_.dead_letter_stream, std::span(&rec, 1));
          if (!appended.ok()) {
            // Not dead-lettered durably: keep the alert (retry later) rather than lose it.
            spdlog::error("alerts: cannot dead-letter alert {}: {}", alert->id,
                          appended.status().ToString());
            if (!sleep_for(std::chrono::milliseconds(1000))) return;
            continue;
          }
          spdlog::warn("alerts: channel '{}': alert {} dead-lettered after {} attempts: {}",
                       channel.name, alert->id, attempts, st.message());
          set_delivery(alert->id, channel.name, DeliveryState::kDeadLetter, attempts, st.message());
          break;
        }
        set_delivery(alert->id, channel.name, DeliveryState::kPending, attempts, st.message());
        // Exponential backoff with equal jitter: half fixed, half random.
        const double base = std::min<double>(
            static_cast<double>(channel.backoff_max_ms),
            static_cast<double>(channel.backoff_initial_ms) * std::pow(2.0, attempts - 1));
        std::uniform_real_distribution<double> jitter(base / 2, base);
        if (!sleep_for(std::chrono::milliseconds(static_cast<int64_t>(jitter(rng))))) return;
      }
      pos = log::SequenceNumber{record.sequence.value + 1};
      record_position();
    }
  }
}

void AlertOutbox::run_committer() {
  const log::ShardId shard{0};
  std::map<std::string, uint64_t> committed;
  while (true) {
    std::map<std::string, log::SequenceNumber> positions;
    bool last;
    {
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, std::chrono::milliseconds(kCommitIntervalMs),
                        [&] { return committer_stopping_; });
      last = committer_stopping_;
      positions = delivered_positions_;
    }
    for (const auto& [channel, pos] : positions) {
      auto it = committed.find(channel);
      if (it != committed.end() && it->second == pos.value) continue;
      auto st = log_->commit_position("alerts." + channel, options_.stream, shard, pos);
      if (st.ok()) {
        committed[channel] = pos.value;
      } else {
        spdlog::error("alerts: channel '{}': cannot commit outbox position: {}", channel,
                      st.ToString());
      }
    }
    if (last) return;
  }
}

}  // namespace roadpulse::realtime
