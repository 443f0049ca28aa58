// Alert routing (the TOML format of issue 7) and the durable outbox on a real LogStore:
// retries, dedup, dead letters, restart. Channels here are in-process receivers that fail on
// command, so delivery order and attempt counts can be checked exactly.

#include "realtime/alerts.h"

#include <filesystem>

#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace roadpulse::realtime {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kMinimalConfig[] = R"([[channels]]
name = "ops"
type = "webhook"
url = "http://127.0.0.1:9000/hook"

[[routes]]
channels = ["ops"]   # no match table: every alert
)";

constexpr char kRoutingConfig[] = R"(
[[channels]]
name = "ca"
url = "http://127.0.0.1:1/ca"
[[channels]]
name = "la"
url = "http://127.0.0.1:1/la"
headers = { Authorization = "Bearer x" }
payload = "slack"
[[channels]]
name = "severe"
url = "http://127.0.0.1:1/severe"
[[channels]]
name = "rest"
type = "alertmanager"
url = "http://127.0.0.1:9093"

[[routes]]
channels = ["ca"]
match = { State = "CA" }
[[routes]]
channels = ["la", "ca"]
match = { County = ["Los Angeles", "Orange"] }
[[routes]]
channels = ["severe"]
match = { Severity = { gte = 4 }, rule = "severe" }
[[routes]]
channels = ["rest"]
default = true
)";

Alert make_alert(std::string rule, std::string key,
                 std::vector<std::pair<std::string, std::string>> attributes) {
  Alert a;
  a.rule = std::move(rule);
  a.dedup_key = std::move(key);
  a.title = "t";
  a.attributes = std::move(attributes);
  return a;
}

TEST(AlertRoutingTest, MinimalConfigSendsEveryAlertToOneWebhook) {
  ASSERT_OK_AND_ASSIGN(auto config, AlertConfig::parse(kMinimalConfig, "alerts.toml"));
  ASSERT_EQ(config.channels.size(), 1u);
  EXPECT_EQ(config.channels[0].type, "webhook");
  EXPECT_EQ(config.channels[0].url, "http://127.0.0.1:9000/hook");
  EXPECT_THAT(config.route(make_alert("r", "k", {})), ElementsAre("ops"));
}

TEST(AlertRoutingTest, EqualityAnyOfRangesAndDefault) {
  ASSERT_OK_AND_ASSIGN(auto config, AlertConfig::parse(kRoutingConfig, "alerts.toml"));
  EXPECT_EQ(config.channels[1].payload, "slack");
  EXPECT_EQ(config.channels[1].headers.size(), 1u);
  EXPECT_THAT(config.route(make_alert("x", "1", {{"State", "CA"}, {"County", "Kern"}})),
              ElementsAre("ca"));
  // Fan-out, deduplicated channel list.
  EXPECT_THAT(config.route(make_alert("x", "1", {{"State", "CA"}, {"County", "Orange"}})),
              ElementsAre("ca", "la"));
  // Numeric range and the rule name.
  EXPECT_THAT(config.route(make_alert("severe", "1", {{"State", "OH"}, {"Severity", "4"}})),
              ElementsAre("severe"));
  EXPECT_THAT(config.route(make_alert("severe", "1", {{"State", "OH"}, {"Severity", "3"}})),
              ElementsAre("rest"));
  EXPECT_THAT(config.route(make_alert("other", "1", {{"State", "OH"}, {"Severity", "4"}})),
              ElementsAre("rest"));
  // Attribute names compare case-insensitively; a missing attribute never matches.
  EXPECT_THAT(config.route(make_alert("x", "1", {{"state", "CA"}})), ElementsAre("ca"));
  EXPECT_THAT(config.route(make_alert("x", "1", {})), ElementsAre("rest"));
}

TEST(AlertRoutingTest, NumbersCompareNumerically) {
  ASSERT_OK_AND_ASSIGN(auto config, AlertConfig::parse(R"(
[[channels]]
name = "a"
url = "http://h/"
[[routes]]
channels = ["a"]
match = { Severity = 4, Distance = { gt = 1.5, lte = 3 } }
)",
                                                       "c.toml"));
  EXPECT_THAT(config.route(make_alert("r", "k", {{"Severity", "4.0"}, {"Distance", "2"}})),
              ElementsAre("a"));
  EXPECT_TRUE(config.route(make_alert("r", "k", {{"Severity", "4"}, {"Distance", "1.5"}})).empty());
  EXPECT_TRUE(config.route(make_alert("r", "k", {{"Severity", "4"}, {"Distance", "x"}})).empty());
}

TEST(AlertRoutingTest, ErrorsNameTheProblem) {
  auto bad = [](const char* text) { return AlertConfig::parse(text, "a.toml").status().message(); };
  EXPECT_THAT(bad("[[channels]]\nname = \"a\"\nurl = \"ftp://x\"\n[[routes]]\nchannels=[\"a\"]"),
              HasSubstr("http(s) 'url'"));
  EXPECT_THAT(bad("[[channels]]\nname = \"a\"\nurl = \"http://x\"\n[[routes]]\nchannels=[\"b\"]"),
              HasSubstr("unknown channel 'b'"));
  EXPECT_THAT(bad("[[channels]]\nname = \"a\"\nurl = \"http://x\"\n[[routes]]\nchannels=[\"a\"]\n"
                  "match = { S = { between = 1 } }"),
              HasSubstr("unknown range operator 'between'"));
  EXPECT_THAT(bad("[[channels]\n"), HasSubstr("a.toml:1:"));
  EXPECT_THAT(bad("[[channels]]\nname = \"a\"\nurl = \"http://x\"\n"), HasSubstr("no routes"));
}

TEST(AlertBodiesTest, WebhookSlackAndAlertmanager) {
  Alert a = make_alert("severe", "A-1", {{"ID", "A-1"}, {"City", "Dublin \"N\""}});
  a.id = "abc";
  a.severity = "4";
  a.title = "Severity 4 in Dublin";
  a.created_ms = 1'000;
  a.channels = {"ops"};
  const std::string json = webhook_json_body(a);
  EXPECT_THAT(json, HasSubstr(R"("rule":"severe","dedup_key":"A-1")"));
  EXPECT_THAT(json, HasSubstr(R"("row":{"ID":"A-1","City":"Dublin \"N\""})"));
  ASSERT_OK_AND_ASSIGN(auto back, parse_alert_json(json));
  EXPECT_EQ(back.attributes, a.attributes);
  EXPECT_EQ(back.channels, a.channels);
  EXPECT_EQ(back.created_ms, 1000);
  EXPECT_THAT(slack_body(a), HasSubstr(R"({"text":"*Severity 4 in Dublin*)"));
  EXPECT_THAT(
      alertmanager_body(a),
      HasSubstr(
          R"([{"labels":{"alertname":"severe","dedup_key":"A-1","severity":"4","id":"A-1","city":)"));
  EXPECT_THAT(alertmanager_body(a), HasSubstr(R"("startsAt":"1970-01-01T00:00:01.000Z")"));
}

constexpr char kEmailConfig[] = R"([[channels]]
name = "mail"
type = "email"
url = "smtp://127.0.0.1:2525"
from = "Roadpulse <alerts@roadpulse.example>"
to = ["ops@county.example", "chief@county.example"]
tls = "none"

[[routes]]
channels = ["mail"]
)";

TEST(EmailChannelTest, ConfigDefaultsAndChecks) {
  ASSERT_OK_AND_ASSIGN(auto config, AlertConfig::parse(kEmailConfig, "a.toml"));
  const auto& c = config.channels[0];
  EXPECT_EQ(c.type, "email");
  EXPECT_EQ(c.tls, "none");
  EXPECT_THAT(c.to, ElementsAre("ops@county.example", "chief@county.example"));
  EXPECT_EQ(email_address(c.from), "alerts@roadpulse.example");

  auto with = [](const std::string& lines) {
    return "[[channels]]\nname = \"m\"\ntype = \"email\"\n" + lines +
           "\n[[routes]]\nchannels = [\"m\"]\n";
  };
  auto bad = [&](const std::string& lines) {
    return AlertConfig::parse(with(lines), "a.toml").status().message();
  };
  // STARTTLS is the default for smtp://, implicit TLS for smtps://.
  ASSERT_OK_AND_ASSIGN(auto starttls,
                       AlertConfig::parse(with("url = \"smtp://h:587\"\nfrom = \"a@b\"\nto = "
                                               "\"c@d\"\nusername = \"u\"\npassword = \"p\""),
                                          "a.toml"));
  EXPECT_EQ(starttls.channels[0].tls, "starttls");
  EXPECT_EQ(starttls.channels[0].password, "p");
  ASSERT_OK_AND_ASSIGN(auto smtps, AlertConfig::parse(with("url = \"smtps://h\"\nfrom = "
                                                           "\"a@b\"\nto = \"c@d\""),
                                                      "a.toml"));
  EXPECT_EQ(smtps.channels[0].tls, "implicit");

  EXPECT_THAT(bad("url = \"http://h\"\nfrom = \"a@b\"\nto = \"c@d\""),
              HasSubstr("[[channels]] #1 'm': an email channel needs an 'url' smtp://"));
  EXPECT_THAT(bad("url = \"smtp://h\"\nto = \"c@d\""), HasSubstr("needs a 'from' address"));
  EXPECT_THAT(bad("url = \"smtp://h\"\nfrom = \"nobody\"\nto = \"c@d\""),
              HasSubstr("'from' is not an address"));
  EXPECT_THAT(bad("url = \"smtp://h\"\nfrom = \"a@b\""), HasSubstr("needs 'to'"));
  EXPECT_THAT(bad("url = \"smtp://h\"\nfrom = \"a@b\"\nto = [\"c@d\", \"x y@z\"]"),
              HasSubstr("'to' holds 'x y@z'"));
  EXPECT_THAT(bad("url = \"smtp://h\"\nfrom = \"a@b\"\nto = \"c@d\"\ntls = \"implicit\""),
              HasSubstr("needs an smtps:// url"));
  EXPECT_THAT(bad("url = \"smtp://h\"\nfrom = \"a@b\"\nto = \"c@d\"\ntls = \"ssl\""),
              HasSubstr("tls must be 'starttls', 'implicit' or 'none', got 'ssl'"));
  EXPECT_THAT(bad("url = \"smtp://h\"\nfrom = \"a@b\"\nto = \"c@d\"\ntls = \"none\"\n"
                  "username = \"u\"\npassword = \"secret\""),
              HasSubstr("would send the password in clear"));
  EXPECT_THAT(bad("url = \"smtp://h\"\nfrom = \"a@b\"\nto = \"c@d\"\nusername = \"u\"\n"
                  "password_env = \"ROADPULSE_TEST_UNSET_PASSWORD\""),
              HasSubstr("ROADPULSE_TEST_UNSET_PASSWORD, which is not set"));
  EXPECT_THAT(bad("url = \"smtp://h\"\nfrom = \"a@b\"\nto = \"c@d\"\nusername = \"u\"\n"
                  "password = \"x\"\npassword_env = \"HOME\""),
              HasSubstr("not both"));
  // Errors never echo a password.
  EXPECT_THAT(bad("url = \"smtp://h\"\nfrom = \"a@b\"\nto = \"c@d\"\ntls = \"none\"\n"
                  "username = \"u\"\npassword = \"secret\""),
              ::testing::Not(HasSubstr("secret")));

  ::setenv("ROADPULSE_TEST_SMTP_PASSWORD", "from-env", 1);
  ASSERT_OK_AND_ASSIGN(auto env, AlertConfig::parse(with("url = \"smtp://h\"\nfrom = \"a@b\"\nto "
                                                         "= \"c@d\"\nusername = \"u\"\n"
                                                         "password_env = "
                                                         "\"ROADPULSE_TEST_SMTP_PASSWORD\""),
                                                    "a.toml"));
  EXPECT_EQ(env.channels[0].password, "from-env");
}

TEST(EmailChannelTest, MessageIsRfc5322WithStableMessageId) {
  ASSERT_OK_AND_ASSIGN(auto config, AlertConfig::parse(kEmailConfig, "a.toml"));
  Alert a = make_alert("severe", "A-1", {{"ID", "A-1"}});
  a.id = "0123456789abcdef";
  a.severity = "4";
  a.title = "Severity 4 in Dublin\r\nBcc: evil@x";  // a row's text must not add headers
  a.body = std::string("Line one = ok\nCaf\xc3\xa9 ") + std::string(100, 'x');
  a.created_ms = 1'700'000'000'123;
  const std::string m = email_message(config.channels[0], a);
  EXPECT_THAT(m, HasSubstr("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
  EXPECT_THAT(m, HasSubstr("From: Roadpulse <alerts@roadpulse.example>\r\n"));
  EXPECT_THAT(m, HasSubstr("To: ops@county.example,\r\n chief@county.example\r\n"));
  EXPECT_THAT(m, HasSubstr("Subject: Severity 4 in Dublin  Bcc: evil@x\r\n"));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("\r\nBcc:")));
  EXPECT_THAT(m, HasSubstr("Message-ID: <roadpulse.0123456789abcdef@roadpulse.example>\r\n"));
  EXPECT_THAT(m, HasSubstr("X-Roadpulse-Dedup-Key: A-1\r\n"));
  EXPECT_THAT(m, HasSubstr("Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: quoted-printable\r\n\r\n"));
  EXPECT_THAT(m, HasSubstr("Line one =3D ok\r\nCaf=C3=A9 xxx"));
  EXPECT_THAT(m, HasSubstr("dedup key: A-1\r\n"));
  // Every line ends in CRLF and none is longer than 78 characters.
  size_t pos = 0;
  while (pos < m.size()) {
    const size_t end = m.find("\r\n", pos);
    ASSERT_NE(end, std::string::npos) << "unterminated line at " << pos;
    EXPECT_LE(end - pos, 78u) << m.substr(pos, end - pos);
    EXPECT_EQ(m.substr(pos, end - pos).find('\n'), std::string::npos);
    pos = end + 2;
  }
  // The same alert (a resend) gives the same message; non-ASCII subjects are encoded words.
  EXPECT_EQ(email_message(config.channels[0], a), m);
  a.title = "Unfall in K\xc3\xb6ln";
  EXPECT_THAT(email_message(config.channels[0], a),
              HasSubstr("Subject: =?UTF-8?B?VW5mYWxsIGluIEvDtmxu?=\r\n"));
}

// A receiver that records deliveries and fails while `down` is set (or for the first N tries).
struct Receiver {
  std::mutex mutex;
  std::vector<std::string> delivered;  // dedup keys, in arrival order
  int failures_left = 0;
  bool always_fail = false;
};

class TestChannel final : public Channel {
 public:
  explicit TestChannel(Receiver* r) : r_(r) {}
  arrow::Status deliver(const Alert& alert) override {
    std::lock_guard lock(r_->mutex);
    if (r_->always_fail) return arrow::Status::IOError("connection refused");
    if (r_->failures_left > 0) {
      --r_->failures_left;
      return arrow::Status::IOError("HTTP 503");
    }
    r_->delivered.push_back(alert.dedup_key);
    return arrow::Status::OK();
  }

 private:
  Receiver* r_;
};

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rp-rt-outbox-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    open_log();
  }
  void TearDown() override {
    log_.reset();
    fs::remove_all(dir_);
  }
  void open_log() {
    log::LogOptions options;
    options.data_dir = dir_.string();
    options.durability = log::Durability::kNone;
    options.retention_thread = false;
    ASSERT_OK_AND_ASSIGN(auto store, log::LogStore::open(options));
    log_ = std::shared_ptr<log::LogStore>(std::move(store));
  }
  arrow::Result<std::unique_ptr<AlertOutbox>> open_outbox(int max_attempts = 5) {
    ARROW_ASSIGN_OR_RAISE(auto config, AlertConfig::parse(kMinimalConfig, "t"));
    config.channels[0].max_attempts = max_attempts;
    config.channels[0].backoff_initial_ms = 5;
    config.channels[0].backoff_max_ms = 20;
    return AlertOutbox::open(log_, config, {}, [this](const ChannelConfig&) {
      return arrow::Result<std::unique_ptr<Channel>>(std::make_unique<TestChannel>(&receiver_));
    });
  }

  void set_down(bool down) {
    std::lock_guard lock(receiver_.mutex);
    receiver_.always_fail = down;
  }

  fs::path dir_;
  std::shared_ptr<log::LogStore> log_;
  Receiver receiver_;
};

TEST_F(OutboxTest, RetriesUntilDeliveredInOrder) {
  receiver_.failures_left = 3;
  ASSERT_OK_AND_ASSIGN(auto outbox, open_outbox());
  ASSERT_OK(outbox->start());
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(bool added, outbox->enqueue(make_alert("r", "k" + std::to_string(i), {})));
    EXPECT_TRUE(added);
  }
  ASSERT_TRUE(outbox->wait_idle(10'000));
  EXPECT_THAT(receiver_.delivered, ElementsAre("k0", "k1", "k2", "k3", "k4"));
  auto listed = outbox->list(0);
  ASSERT_EQ(listed.size(), 5u);
  EXPECT_EQ(listed[0].deliveries.at("ops").state, DeliveryState::kDelivered);
  EXPECT_EQ(listed[0].deliveries.at("ops").attempts, 4);
  EXPECT_EQ(listed[1].deliveries.at("ops").attempts, 1);
  const auto c = outbox->counters();
  EXPECT_EQ(c.delivered, 5);
  EXPECT_EQ(c.failed_attempts, 3);
  EXPECT_EQ(c.pending, 0);
}

TEST_F(OutboxTest, BatchIsOneAppendDeduplicatedAndDeliveredInOrder) {
  ASSERT_OK_AND_ASSIGN(auto outbox, open_outbox());
  ASSERT_OK(outbox->enqueue(make_alert("r", "a", {})).status());
  ASSERT_OK_AND_ASSIGN(auto before, log_->resolve("__alerts_outbox", log::ShardId{0},
                                                  log::StartPosition{log::StartKind::kLatest}));
  std::vector<Alert> batch;
  for (const char* key : {"a", "b", "c", "b", "d"}) batch.push_back(make_alert("r", key, {}));
  ASSERT_OK_AND_ASSIGN(int64_t appended, outbox->enqueue_batch(std::move(batch)));
  EXPECT_EQ(appended, 3);  // "a" was enqueued before, the second "b" repeats the first
  EXPECT_EQ(outbox->counters().duplicates, 2);
  ASSERT_OK_AND_ASSIGN(auto after, log_->resolve("__alerts_outbox", log::ShardId{0},
                                                 log::StartPosition{log::StartKind::kLatest}));
  EXPECT_EQ(after.value - before.value, 3u);
  ASSERT_OK(outbox->start());
  ASSERT_TRUE(outbox->wait_idle(10'000));
  std::lock_guard lock(receiver_.mutex);
  EXPECT_THAT(receiver_.delivered, ElementsAre("a", "b", "c", "d"));
}

TEST_F(OutboxTest, DeduplicatesByRuleAndKeyAcrossRestarts) {
  {
    ASSERT_OK_AND_ASSIGN(auto outbox, open_outbox());
    ASSERT_OK_AND_ASSIGN(bool a, outbox->enqueue(make_alert("r", "k", {})));
    ASSERT_OK_AND_ASSIGN(bool b, outbox->enqueue(make_alert("r", "k", {})));
    ASSERT_OK_AND_ASSIGN(bool c, outbox->enqueue(make_alert("other", "k", {})));
    EXPECT_TRUE(a);
    EXPECT_FALSE(b);
    EXPECT_TRUE(c);
    EXPECT_EQ(outbox->counters().duplicates, 1);
  }
  ASSERT_OK_AND_ASSIGN(auto outbox, open_outbox());
  ASSERT_OK_AND_ASSIGN(bool again, outbox->enqueue(make_alert("r", "k", {})));
  EXPECT_FALSE(again);
}

TEST_F(OutboxTest, UndeliveredAlertsSurviveARestartAndDeliveredOnesAreNotResent) {
  {
    ASSERT_OK_AND_ASSIGN(auto outbox, open_outbox(/*max_attempts=*/1000));
    ASSERT_OK(outbox->start());
    ASSERT_OK(outbox->enqueue(make_alert("r", "first", {})).status());
    ASSERT_TRUE(outbox->wait_idle(10'000));
    set_down(true);  // the receiver goes down
    ASSERT_OK(outbox->enqueue(make_alert("r", "second", {})).status());
    EXPECT_FALSE(outbox->wait_idle(100));
    outbox->stop();
  }
  log_.reset();
  open_log();  // the process restarts
  set_down(false);
  ASSERT_OK_AND_ASSIGN(auto outbox, open_outbox(/*max_attempts=*/1000));
  EXPECT_EQ(outbox->counters().pending, 1);
  ASSERT_OK(outbox->start());
  ASSERT_TRUE(outbox->wait_idle(10'000));
  EXPECT_THAT(receiver_.delivered, ElementsAre("first", "second"));
}

TEST_F(OutboxTest, DeadLettersAfterMaxAttemptsAndMovesOn) {
  receiver_.failures_left = 3;
  ASSERT_OK_AND_ASSIGN(auto outbox, open_outbox(/*max_attempts=*/3));
  ASSERT_OK(outbox->start());
  ASSERT_OK(outbox->enqueue(make_alert("r", "doomed", {})).status());
  ASSERT_OK(outbox->enqueue(make_alert("r", "fine", {})).status());
  ASSERT_TRUE(outbox->wait_idle(10'000));
  EXPECT_THAT(receiver_.delivered, ElementsAre("fine"));
  auto listed = outbox->list(0);
  EXPECT_EQ(listed[0].deliveries.at("ops").state, DeliveryState::kDeadLetter);
  EXPECT_EQ(listed[0].deliveries.at("ops").attempts, 3);
  EXPECT_THAT(listed[0].deliveries.at("ops").last_error, HasSubstr("503"));
  outbox->stop();
  outbox.reset();
  // The dead letter is durable: a reopened outbox reports it and does not retry it.
  ASSERT_OK_AND_ASSIGN(outbox, open_outbox());
  EXPECT_EQ(outbox->counters().dead_lettered, 1);
  EXPECT_EQ(outbox->counters().pending, 0);
  EXPECT_EQ(outbox->list(0)[0].deliveries.at("ops").state, DeliveryState::kDeadLetter);
  EXPECT_THAT(alert_status_json(outbox->list(0)),
              HasSubstr(R"("state":"dead_letter","attempts":3)"));
}

}  // namespace
}  // namespace roadpulse::realtime
