#include "common/config.h"

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "common/units.h"

namespace roadpulse {
namespace {

TEST(RunConfigTest, EmptyFileGivesDefaults) {
  ASSERT_OK_AND_ASSIGN(auto config, RunConfig::parse("", "empty.toml"));
  EXPECT_EQ(config.data_dir, "./roadpulse-data");
  EXPECT_EQ(config.server.listen, "127.0.0.1:8080");
  EXPECT_EQ(config.log.default_shards, 4);
  EXPECT_EQ(config.pipeline.checkpoint_interval_ms, 10'000);
  EXPECT_EQ(config.archive.buffer_bytes, 5 << 20);
  EXPECT_TRUE(config.archive.enabled);
}

TEST(RunConfigTest, ReadsEverySection) {
  ASSERT_OK_AND_ASSIGN(auto config, RunConfig::parse(R"(
data_dir = "/var/lib/roadpulse"
[server]
listen = "0.0.0.0:9000"
access_keys = ["AK:secret"]
[log]
durability = "interval"
default_shards = 8
retention = "7d"
[pipeline]
file = "my.sql"
name = "prod"
checkpoint_interval = "30s"
[pipeline.set]
"table.exec.source.idle-timeout" = "5 s"
"parallelism" = 2
[archive]
enabled = false
buffer_size = "64MiB"
buffer_interval = "1min"
priority = "normal"
[[alerts.channels]]
name = "ops"
type = "webhook"
url = "http://127.0.0.1:9/hook"
[[alerts.routes]]
channels = ["ops"]
[streams]
backend = "kafka"
sink_delivery_guarantee = "exactly-once"
[streams.kafka]
bootstrap_servers = "k1:9092"
[streams.kafka.properties]
"security.protocol" = "SASL_SSL"
[logging]
format = "json"
)",
                                                     "full.toml"));
  EXPECT_EQ(config.data_dir, "/var/lib/roadpulse");
  EXPECT_EQ(config.server.access_keys, std::vector<std::string>{"AK:secret"});
  EXPECT_EQ(config.log.durability, "interval");
  EXPECT_EQ(config.log.retention_ms, 7LL * 86'400'000);
  EXPECT_EQ(config.pipeline.checkpoint_interval_ms, 30'000);
  EXPECT_EQ(config.pipeline.set.at("parallelism"), "2");
  EXPECT_EQ(config.archive.buffer_bytes, 64LL << 20);
  EXPECT_EQ(config.archive.buffer_interval_ms, 60'000);
  EXPECT_EQ(config.archive.priority, "normal");
  EXPECT_NE(config.alerts.inline_toml.find("http://127.0.0.1:9/hook"), std::string::npos);
  EXPECT_EQ(config.streams.kafka_properties.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(config.streams.sink_delivery_guarantee, "exactly-once");
  EXPECT_EQ(config.logging.format, "json");

  // What config print shows parses back to the same config.
  ASSERT_OK_AND_ASSIGN(auto again, RunConfig::parse(config.to_toml(), "printed.toml"));
  EXPECT_EQ(again.to_toml(), config.to_toml());
  EXPECT_EQ(again.alerts.inline_toml.empty(), false);
}

TEST(RunConfigTest, ErrorsNameTheKey) {
  auto unknown = RunConfig::parse("[server]\nlisten = 'x:1'\nlisen = 'y'\n", "a.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown key 'server.lisen'"), std::string::npos);
  auto top = RunConfig::parse("datadir = 'x'\n", "a.toml");
  EXPECT_NE(top.status().message().find("unknown key 'datadir'"), std::string::npos);
  auto type = RunConfig::parse("[log]\ndefault_shards = 'four'\n", "a.toml");
  EXPECT_NE(type.status().message().find("'log.default_shards': expected an integer"),
            std::string::npos);
  auto choice = RunConfig::parse("[log]\ndurability = 'sometimes'\n", "a.toml");
  EXPECT_NE(choice.status().message().find("expected one of fsync, interval, none"),
            std::string::npos);
  auto priority = RunConfig::parse("[archive]\npriority = 'high'\n", "a.toml");
  EXPECT_NE(
      priority.status().message().find("'archive.priority' is 'high'; expected one of low, normal"),
      std::string::npos)
      << priority.status().ToString();
  auto duration = RunConfig::parse("[pipeline]\ncheckpoint_interval = '10 parsecs'\n", "a.toml");
  EXPECT_NE(duration.status().message().find("not a duration"), std::string::npos);
  auto syntax = RunConfig::parse("[server\n", "a.toml");
  EXPECT_NE(syntax.status().message().find("a.toml:1:"), std::string::npos);
  auto kafka = RunConfig::parse("[streams]\nbackend = 'kafka'\n", "a.toml");
  EXPECT_NE(kafka.status().message().find("bootstrap_servers"), std::string::npos);
  auto guarantee = RunConfig::parse("[streams]\nsink_delivery_guarantee = 'twice'\n", "a.toml");
  EXPECT_NE(guarantee.status().message().find("streams.sink_delivery_guarantee"),
            std::string::npos);
}

TEST(UnitsTest, DurationsAndSizes) {
  ASSERT_OK_AND_EQ(500, parse_duration_ms("500ms"));
  ASSERT_OK_AND_EQ(10'000, parse_duration_ms("10 s"));
  ASSERT_OK_AND_EQ(120'000, parse_duration_ms("2min"));
  ASSERT_OK_AND_EQ(5 << 20, parse_memory_size("5MiB"));
  ASSERT_OK_AND_EQ(4096, parse_memory_size("4096"));
  EXPECT_FALSE(parse_duration_ms("soon").ok());
  EXPECT_FALSE(parse_memory_size("12 parsecs").ok());
}

}  // namespace
}  // namespace roadpulse
