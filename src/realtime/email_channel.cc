// The email channel: one RFC 5322 message per alert, sent over SMTP with libcurl (STARTTLS,
// implicit TLS or plain; optional AUTH). The message is a pure function of the channel config and
// the alert, so a resend after a crash is byte-identical, with the same Message-ID.

#include <cstring>
#include <ctime>
#include <mutex>

#include <arrow/util/base64.h>
#include <curl/curl.h>
#include <fmt/format.h>

#include "common/time.h"
#include "realtime/alerts.h"

namespace roadpulse::realtime {

namespace {

constexpr size_t kMaxLine = 76;  // quoted-printable line limit (RFC 2045)

bool is_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// Header values never carry a line break (no header injection from the row's columns).
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out += (c == '\r' || c == '\n' || c == '\t') ? ' ' : c;
  return out;
}

// RFC 2047 encoded words for non-ASCII text, folded; plain text folded at spaces otherwise.
// `used` is the length of "Name: " before the value.
std::string header_value(std::string_view raw, size_t used) {
  const std::string text = one_line(raw);
  std::string out;
  if (is_ascii(text)) {
    size_t line = used;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find(' ', pos + 1);
      if (end == std::string::npos) end = text.size();
      const std::string_view word(text.data() + pos, end - pos);
      if (line + word.size() > 78 && line > used && word.front() == ' ') {
        out += "\r\n";  // folding: the space starts the continuation line
        line = 0;
      }
      out += word;
      line += word.size();
      pos = end;
    }
    return out;
  }
  // Chunks of at most 45 bytes (60 base64 characters), cut at UTF-8 character boundaries.
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = std::min(text.size(), pos + 45);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + arrow::util::base64_encode(text.substr(pos, end - pos)) + "?=";
    pos = end;
  }
  return out;
}

// Quoted-printable (RFC 2045) over CRLF lines.
std::string quoted_printable(std::string_view text) {
  std::string out;
  size_t line = 0;
  auto emit = [&](std::string_view piece) {
    if (line + piece.size() > kMaxLine - 1) {
      out += "=\r\n";
      line = 0;
    }
    out += piece;
    line += piece.size();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c == '\n') {
      out += "\r\n";
      line = 0;
      continue;
    }
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
    const bool literal =
        (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    if (literal) {
      emit(std::string_view(text.data() + i, 1));
    } else {
      emit(fmt::format("={:02X}", c));
    }
  }
  return out;
}

std::string rfc5322_date(int64_t epoch_ms) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{}, {:02d} {} {} {:02d}:{:02d}:{:02d} +0000", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string mailbox_header(std::string_view mailbox) {
  const size_t open = mailbox.rfind('<');
  if (open == std::string_view::npos) return std::string(mailbox);
  std::string name(mailbox.substr(0, open));
  while (!name.empty() && name.back() == ' ') name.pop_back();
  if (name.empty()) return std::string(mailbox.substr(open));
  return header_value(name, 6) + " " + std::string(mailbox.substr(open));
}

struct Upload {
  std::string_view data;
  size_t pos = 0;
};

size_t read_upload(char* buffer, size_t size, size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  const size_t len = std::min(size * n, up->data.size() - up->pos);
  std::memcpy(buffer, up->data.data() + up->pos, len);
  up->pos += len;
  return len;
}

class EmailChannel final : public Channel {
 public:
  explicit EmailChannel(ChannelConfig config) : config_(std::move(config)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    curl_ = curl_easy_init();
    for (const auto& to : config_.to) {
      recipients_ = curl_slist_append(recipients_, fmt::format("<{}>", to).c_str());
    }
    mail_from_ = fmt::format("<{}>", email_address(config_.from));
  }
  ~EmailChannel() override {
    curl_slist_free_all(recipients_);
    if (curl_) curl_easy_cleanup(curl_);
  }

  arrow::Status deliver(const Alert& alert) override {
    if (!curl_) return arrow::Status::IOError("channel '", config_.name, "': curl init failed");
    const std::string message = email_message(config_, alert);
    Upload upload{message};
    char error[CURL_ERROR_SIZE] = {0};
    // The handle keeps the SMTP connection between alerts; every option is set again each time.
    curl_easy_setopt(curl_, CURLOPT_URL, config_.url.c_str());
    curl_easy_setopt(curl_, CURLOPT_MAIL_FROM, mail_from_.c_str());
    curl_easy_setopt(curl_, CURLOPT_MAIL_RCPT, recipients_);
    curl_easy_setopt(curl_, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl_, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(curl_, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl_, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    curl_easy_setopt(curl_, CURLOPT_USE_SSL,
                     config_.tls == "starttls" ? long(CURLUSESSL_ALL) : long(CURLUSESSL_NONE));
    if (!config_.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, config_.ca_file.c_str());
    if (!config_.username.empty()) {
      curl_easy_setopt(curl_, CURLOPT_USERNAME, config_.username.c_str());
      curl_easy_setopt(curl_, CURLOPT_PASSWORD, config_.password.c_str());
    }
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
    const CURLcode rc = curl_easy_perform(curl_);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
    if (rc != CURLE_OK) {
      long code = 0;
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &code);
      // The message names the server and the SMTP reply code, never the credentials.
      return arrow::Status::IOError("SMTP ", config_.url, ": ", curl_easy_strerror(rc),
                                    error[0] ? std::string(" (") + error + ")" : std::string(),
                                    code ? fmt::format(", last reply {}", code) : std::string());
    }
    return arrow::Status::OK();
  }

 private:
  ChannelConfig config_;
  CURL* curl_ = nullptr;
  curl_slist* recipients_ = nullptr;
  std::string mail_from_;
};

}  // namespace

std::string email_address(std::string_view mailbox) {
  const size_t open = mailbox.rfind('<');
  const size_t close = mailbox.rfind('>');
  if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
    return std::string(mailbox.substr(open + 1, close - open - 1));
  }
  size_t b = 0, e = mailbox.size();
  while (b < e && mailbox[b] == ' ') ++b;
  while (e > b && mailbox[e - 1] == ' ') --e;
  return std::string(mailbox.substr(b, e - b));
}

std::string email_message(const ChannelConfig& config, const Alert& alert) {
  const std::string from = email_address(config.from);
  const size_t at = from.find('@');
  const std::string domain = at == std::string::npos ? "roadpulse" : from.substr(at + 1);
  std::string to;
  for (const auto& t : config.to) to += (to.empty() ? "" : ",\r\n ") + t;

  std::string m;
  m += "Date: " + rfc5322_date(alert.created_ms) + "\r\n";
  m += "From: " + mailbox_header(config.from) + "\r\n";
  m += "To: " + to + "\r\n";
  m += "Subject: " + header_value(alert.title.empty() ? alert.rule : alert.title, 9) + "\r\n";
  m += fmt::format("Message-ID: <roadpulse.{}@{}>\r\n", alert.id, domain);
  m += "X-Roadpulse-Rule: " + header_value(alert.rule, 18) + "\r\n";
  m += "X-Roadpulse-Dedup-Key: " + header_value(alert.dedup_key, 23) + "\r\n";
  if (!alert.severity.empty()) {
    m += "X-Roadpulse-Severity: " + header_value(alert.severity, 22) + "\r\n";
  }
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: text/plain; charset=utf-8\r\n";
  m += "Content-Transfer-Encoding: quoted-printable\r\n";
  m += "\r\n";
  std::string body = alert.body;
  if (!body.empty() && body.back() != '\n') body += '\n';
  body += fmt::format("\n--\nrule: {}\ndedup key: {}\nalert id: {}\ncreated: {}Z\n", alert.rule,
                      alert.dedup_key, alert.id, format_iso8601_millis(alert.created_ms * 1000));
  m += quoted_printable(body);
  return m;
}

arrow::Result<std::unique_ptr<Channel>> make_email_channel(const ChannelConfig& config) {
  if (config.to.empty() || config.from.empty()) {
    return arrow::Status::Invalid("email channel '", config.name, "' needs 'from' and 'to'");
  }
  return std::make_unique<EmailChannel>(config);
}

}  // namespace roadpulse::realtime
