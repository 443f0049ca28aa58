// Kafka client pieces that need no broker: the hash-key partitioner must route every partition
// key to the partition index of the embedded log's shard (so both backends split a stream the
// same way), and bad client properties must fail naming the property.

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "connect/kafka_client.h"
#include "log/log.h"

namespace roadpulse::connect::kafka {
namespace {

namespace fs = std::filesystem;

TEST(KafkaClientTest, HashKeyPartitionMatchesTheEmbeddedLogsShard) {
  const fs::path dir = fs::temp_directory_path() / ("rp-kafka-hash-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  log::LogOptions options;
  options.data_dir = dir.string();
  options.durability = log::Durability::kNone;
  options.retention_thread = false;
  auto store = log::LogStore::open(options).ValueOrDie();
  for (int shards : {1, 2, 3, 4, 6, 7, 16}) {
    const std::string stream = "s" + std::to_string(shards);
    ASSERT_TRUE(store->create_stream(stream, shards).ok());
    std::vector<std::string> keys;
    for (int i = 0; i < 500; ++i) keys.push_back("A-" + std::to_string(i * 7919));
    for (const char* k : {"1", "2", "3", "4", "Los Angeles", "-", "null"}) keys.push_back(k);
    std::vector<log::AppendRecord> records;
    for (const auto& k : keys) records.push_back({k, "x", std::nullopt});
    auto results = store->append(stream, records).ValueOrDie();
    std::vector<int> used(size_t(shards), 0);
    for (size_t i = 0; i < keys.size(); ++i) {
      const int p = hash_key_partition(keys[i], shards);
      ASSERT_EQ(p, results[i].shard.value) << "key '" << keys[i] << "' with " << shards;
      ++used[size_t(p)];
    }
    for (int n : used) EXPECT_GT(n, 0) << shards << " partitions";  // every partition is used
  }
  store.reset();
  fs::remove_all(dir);
}

TEST(KafkaClientTest, BadPropertyIsNamed) {
  auto conf =
      make_conf({{"bootstrap.servers", "127.0.0.1:1"}, {"linger.ms", "soon"}}, "properties.");
  ASSERT_FALSE(conf.ok());
  EXPECT_NE(conf.status().message().find("'properties.linger.ms'"), std::string::npos)
      << conf.status().ToString();
  auto unknown = make_conf({{"no.such.setting", "1"}}, "streams.kafka.");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("'streams.kafka.no.such.setting'"), std::string::npos);
}

TEST(KafkaClientTest, PropertiesWithPrefix) {
  const auto props = properties_with_prefix({{"properties.bootstrap.servers", "b:9092"},
                                             {"properties.sasl.mechanism", "PLAIN"},
                                             {"topic", "t"},
                                             {"properties.", "x"}},
                                            "properties.");
  EXPECT_EQ(props, (Properties{{"bootstrap.servers", "b:9092"}, {"sasl.mechanism", "PLAIN"}}));
}

}  // namespace
}  // namespace roadpulse::connect::kafka
