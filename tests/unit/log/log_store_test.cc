// LogStore basics: hashing to shards, append/read, start positions, segments, retention,
// resharding, consumer positions, the data-dir lock and concurrency.

#include <atomic>
#include <map>
#include <thread>
#include <tuple>

#include "log/crc32c.h"
#include "log/fault_injection_file_system.h"
#include "log/file_system.h"
#include "log/shard.h"
#include "log_test_util.h"

namespace roadpulse::log {
namespace {

using testing::read_all;
using testing::RecordBatch;
using testing::TempDir;

LogOptions options_for(const TempDir& dir) {
  LogOptions options;
  options.data_dir = dir.path();
  options.retention_thread = false;
  return options;
}

std::string record_text(int i) { return "record-" + std::to_string(i) + std::string(i % 50, 'x'); }

TEST(Crc32cTest, KnownValueAndLanesAgreeWithOneLane) {
  EXPECT_EQ(crc32c("123456789"), 0xe3069283u);  // the CRC-32C check value
  // Long inputs go through three interleaved lanes; extending 1000 bytes at a time does not.
  std::string data(200000, '\0');
  uint32_t x = 7;
  for (auto& c : data) {
    x = x * 1664525u + 1013904223u;
    c = char(x >> 24);
  }
  for (size_t size :
       {size_t(0), size_t(24575), size_t(24576), size_t(24583), size_t(100001), data.size()}) {
    uint32_t piecewise = 0;
    for (size_t at = 0; at < size; at += 1000) {
      piecewise = crc32c_extend(piecewise, data.data() + at, std::min<size_t>(1000, size - at));
    }
    EXPECT_EQ(crc32c(std::string_view(data).substr(0, size)), piecewise) << size;
    // And from a non-zero start.
    EXPECT_EQ(crc32c_extend(crc32c_extend(0, data.data(), 3), data.data() + 3, size),
              crc32c_extend(0, data.data(), size + 3))
        << size;
  }
}

TEST(HashKeyTest, Md5MatchesKinesis) {
  // Independently computed with Python:
  //   int(hashlib.md5(b"1").hexdigest(), 16) == 261578874264819908609102035485573088411
  //   int(hashlib.md5(b"4").hexdigest(), 16) == 223974724102701384270894320508706361900
  EXPECT_EQ(format_hash_key(hash_key_of("1")), "261578874264819908609102035485573088411");
  EXPECT_EQ(format_hash_key(hash_key_of("4")), "223974724102701384270894320508706361900");
  EXPECT_EQ(format_hash_key(hash_key_of("A-1")), "91453268513258916189479111584786475836");
}

TEST(HashKeyTest, UniformRangesAsKinesis) {
  // 4 shards: step = floor(2^128 / 4) = 85070591730234615865843651857942052864.
  const HashRange r0 = uniform_hash_range(0, 4);
  const HashRange r1 = uniform_hash_range(1, 4);
  const HashRange r3 = uniform_hash_range(3, 4);
  EXPECT_EQ(format_hash_key(r0.start), "0");
  EXPECT_EQ(format_hash_key(r0.end), "85070591730234615865843651857942052863");
  EXPECT_EQ(format_hash_key(r1.start), "85070591730234615865843651857942052864");
  EXPECT_EQ(format_hash_key(r3.start), "255211775190703847597530955573826158592");
  EXPECT_EQ(format_hash_key(r3.end), "340282366920938463463374607431768211455");  // 2^128 - 1
  // 3 shards (not a power of two): ranges still tile the space.
  for (int i = 0; i + 1 < 3; ++i) {
    EXPECT_EQ(uniform_hash_range(i, 3).end + 1, uniform_hash_range(i + 1, 3).start);
  }
  EXPECT_EQ(uniform_hash_range(0, 1).end, ~HashKey{0});
}

TEST(HashKeyTest, ParseAndFormat) {
  ASSERT_OK_AND_ASSIGN(HashKey key, parse_hash_key("340282366920938463463374607431768211455"));
  EXPECT_EQ(key, ~HashKey{0});
  EXPECT_FALSE(parse_hash_key("340282366920938463463374607431768211456").ok());  // 2^128
  EXPECT_FALSE(parse_hash_key("12a").ok());
  EXPECT_FALSE(parse_hash_key("").ok());
  EXPECT_EQ(ShardId{3}.to_string(), "shardId-000000000003");
  ASSERT_OK_AND_ASSIGN(ShardId id, ShardId::parse("shardId-000000000017"));
  EXPECT_EQ(id.value, 17);
  ASSERT_OK_AND_ASSIGN(id, ShardId::parse("5"));
  EXPECT_EQ(id.value, 5);
  EXPECT_FALSE(ShardId::parse("shardId-x").ok());
}

TEST(LogStoreTest, SeverityKeysLandOnTwoOfFourShards) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options_for(dir)));
  ASSERT_OK(store->create_stream("s", 4));
  RecordBatch batch;
  for (const char* key : {"1", "2", "3", "4"}) batch.add(key, std::string("severity ") + key);
  ASSERT_OK_AND_ASSIGN(auto results, store->append("s", batch.view()));
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].shard.value, 3);
  EXPECT_EQ(results[1].shard.value, 3);
  EXPECT_EQ(results[2].shard.value, 3);
  EXPECT_EQ(results[3].shard.value, 2);
  // Sequence numbers are dense per shard, in input order.
  EXPECT_EQ(results[0].sequence.value, 0u);
  EXPECT_EQ(results[1].sequence.value, 1u);
  EXPECT_EQ(results[2].sequence.value, 2u);
  EXPECT_EQ(results[3].sequence.value, 0u);
  // ExplicitHashKey overrides the MD5 of the partition key.
  AppendRecord explicit_record{"1", "to shard 0", HashKey{5}};
  ASSERT_OK_AND_ASSIGN(results, store->append("s", std::span(&explicit_record, 1)));
  EXPECT_EQ(results[0].shard.value, 0);
}

TEST(LogStoreTest, AppendReadBackAcrossReopen) {
  TempDir dir;
  std::map<int32_t, std::vector<std::pair<std::string, std::string>>> expected;
  {
    ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options_for(dir)));
    ASSERT_OK(store->create_stream("events", 3));
    for (int round = 0; round < 5; ++round) {
      RecordBatch batch;
      for (int i = 0; i < 200; ++i) {
        const int n = round * 200 + i;
        batch.add("key-" + std::to_string(n % 37), record_text(n));
      }
      ASSERT_OK_AND_ASSIGN(auto results, store->append("events", batch.view()));
      for (size_t i = 0; i < results.size(); ++i) {
        auto& shard = expected[results[i].shard.value];
        EXPECT_EQ(results[i].sequence.value, shard.size());
        shard.emplace_back(batch.keys[i], batch.data[i]);
      }
    }
  }
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options_for(dir)));
  ASSERT_OK_AND_ASSIGN(auto names, store->list_streams());
  EXPECT_EQ(names, std::vector<std::string>{"events"});
  size_t total = 0;
  for (int s = 0; s < 3; ++s) {
    const auto records = read_all(*store, "events", ShardId{s});
    ASSERT_EQ(records.size(), expected[s].size()) << "shard " << s;
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(records[i].sequence.value, i);
      EXPECT_EQ(records[i].shard.value, s);
      EXPECT_EQ(records[i].partition_key, expected[s][i].first);
      EXPECT_EQ(records[i].data, expected[s][i].second);
      EXPECT_GT(records[i].arrival_ms, 0);
    }
    total += records.size();
  }
  EXPECT_EQ(total, 1000u);
  // Sequence numbers continue after reopen.
  RecordBatch more;
  more.add("key-0", "after reopen");
  ASSERT_OK_AND_ASSIGN(auto results, store->append("events", more.view()));
  EXPECT_EQ(results[0].sequence.value, expected[results[0].shard.value].size());
}

TEST(LogStoreTest, ErrorsNameTheProblem) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options_for(dir)));
  ASSERT_OK(store->create_stream("s", 1));
  EXPECT_TRUE(store->create_stream("s", 1).IsAlreadyExists());
  EXPECT_TRUE(store->create_stream("bad/name", 1).IsInvalid());
  EXPECT_TRUE(store->create_stream("zero", 0).IsInvalid());
  RecordBatch batch;
  batch.add("k", "v");
  auto missing = store->append("nope", batch.view());
  ASSERT_TRUE(missing.status().IsKeyError());
  EXPECT_NE(missing.status().message().find("'nope'"), std::string::npos);
  RecordBatch empty_key;
  empty_key.add("", "v");
  EXPECT_TRUE(store->append("s", empty_key.view()).status().IsInvalid());
  EXPECT_TRUE(store->read("s", ShardId{0}, SequenceNumber{5}, 10, 1 << 20).status().IsInvalid());
  EXPECT_TRUE(store->read("s", ShardId{9}, SequenceNumber{0}, 10, 1 << 20).status().IsKeyError());
}

TEST(LogStoreTest, StartPositions) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options_for(dir)));
  ASSERT_OK(store->create_stream("s", 1));
  const ShardId shard{0};
  ASSERT_OK_AND_ASSIGN(auto latest_empty, store->resolve("s", shard, {StartKind::kLatest}));
  EXPECT_EQ(latest_empty.value, 0u);
  RecordBatch first;
  for (int i = 0; i < 10; ++i) first.add("k", "first-" + std::to_string(i));
  ASSERT_OK(store->append("s", first.view()).status());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const int64_t between = now_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  RecordBatch second;
  for (int i = 0; i < 10; ++i) second.add("k", "second-" + std::to_string(i));
  ASSERT_OK(store->append("s", second.view()).status());

  ASSERT_OK_AND_ASSIGN(auto seq, store->resolve("s", shard, {StartKind::kTrimHorizon}));
  EXPECT_EQ(seq.value, 0u);
  ASSERT_OK_AND_ASSIGN(seq, store->resolve("s", shard, {StartKind::kLatest}));
  EXPECT_EQ(seq.value, 20u);
  ASSERT_OK_AND_ASSIGN(seq, store->resolve("s", shard, {StartKind::kAtSequence, {7}}));
  EXPECT_EQ(seq.value, 7u);
  ASSERT_OK_AND_ASSIGN(seq, store->resolve("s", shard, {StartKind::kAfterSequence, {7}}));
  EXPECT_EQ(seq.value, 8u);
  ASSERT_OK_AND_ASSIGN(seq, store->resolve("s", shard, {StartKind::kAtTimestamp, {}, between}));
  EXPECT_EQ(seq.value, 10u);
  ASSERT_OK_AND_ASSIGN(seq, store->resolve("s", shard, {StartKind::kAtTimestamp, {}, 0}));
  EXPECT_EQ(seq.value, 0u);
  ASSERT_OK_AND_ASSIGN(seq,
                       store->resolve("s", shard, {StartKind::kAtTimestamp, {}, now_ms() + 1000}));
  EXPECT_EQ(seq.value, 20u);
  EXPECT_TRUE(store->resolve("s", shard, {StartKind::kAtSequence, {21}}).status().IsInvalid());

  ASSERT_OK_AND_ASSIGN(auto result, store->read("s", shard, SequenceNumber{8}, 3, 1 << 20));
  ASSERT_EQ(result.records.size(), 3u);
  EXPECT_EQ(result.records[0].data, "first-8");
  EXPECT_EQ(result.records[2].data, "second-0");
  EXPECT_EQ(result.next.value, 11u);
  EXPECT_GE(result.millis_behind_latest, 0);
  ASSERT_OK_AND_ASSIGN(result, store->read("s", shard, SequenceNumber{20}, 3, 1 << 20));
  EXPECT_TRUE(result.records.empty());
  EXPECT_EQ(result.next.value, 20u);
  EXPECT_FALSE(result.end_of_closed_shard);
}

TEST(LogStoreTest, SegmentsRollAndIndexFindsEveryRecord) {
  TempDir dir;
  LogOptions options = options_for(dir);
  options.segment_bytes = 16 << 10;
  options.compression = Compression::kLz4;
  const int n = 3000;
  {
    ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
    ASSERT_OK(store->create_stream("s", 1));
    for (int i = 0; i < n; i += 10) {
      RecordBatch batch;
      for (int j = i; j < i + 10; ++j) batch.add("k", record_text(j));
      ASSERT_OK(store->append("s", batch.view()).status());
    }
  }
  for (int pass = 0; pass < 2; ++pass) {  // fresh, then from the .idx files
    ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
    for (int from : {0, 1, 9, 10, 777, 1500, 2999}) {
      ASSERT_OK_AND_ASSIGN(
          auto result, store->read("s", ShardId{0}, SequenceNumber{uint64_t(from)}, 5, 1 << 20));
      ASSERT_FALSE(result.records.empty());
      EXPECT_EQ(result.records[0].sequence.value, uint64_t(from));
      EXPECT_EQ(result.records[0].data, record_text(from));
    }
    const auto all = read_all(*store, "s", ShardId{0});
    ASSERT_EQ(all.size(), size_t(n));
    ASSERT_OK_AND_ASSIGN(auto description, store->describe_stream("s"));
    EXPECT_EQ(description.shards[0].records, n);
    EXPECT_EQ(description.shards[0].records_last_minute, n);
  }
  int segments = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(dir.path() + "/streams/s/shard-000000000000")) {
    segments += entry.path().extension() == ".log";
  }
  EXPECT_GT(segments, 2);
}

// read_views() gives read()'s records without copies: from mapped segments (reads of 256 KiB and
// more), from copies of small tail reads and of compressed batches; and the views stay valid
// after the segments they point into are deleted by retention.
TEST(LogStoreTest, ReadViewsMatchReadAndOutliveTheirSegments) {
  // ~1 KB that lz4 cannot shrink much, so the segments roll under either compression.
  auto body = [](int j) {
    std::string out = record_text(j);
    uint32_t x = uint32_t(j) * 2654435761u + 1;
    for (int k = 0; k < 1000; ++k) {
      x = x * 1664525u + 1013904223u;
      out.push_back(char('a' + (x >> 24) % 26));
    }
    return out;
  };
  for (Compression compression : {Compression::kNone, Compression::kLz4}) {
    TempDir dir;
    LogOptions options = options_for(dir);
    options.segment_bytes = 1 << 20;
    options.retention_bytes = 1 << 20;
    options.compression = compression;
    ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
    ASSERT_OK(store->create_stream("s", 1));
    constexpr int kRecords = 3000;  // ~3 MB: three segments
    for (int i = 0; i < kRecords; i += 100) {
      RecordBatch batch;
      for (int j = i; j < i + 100; ++j) {
        batch.add("key-" + std::to_string(j), body(j));
      }
      ASSERT_OK(store->append("s", batch.view()).status());
    }
    for (const auto& [from, max_records, max_bytes] :
         {std::tuple{0, 100000, int64_t(64) << 20}, std::tuple{1234, 700, int64_t(64) << 20},
          std::tuple{0, 100000, int64_t(300) << 10}, std::tuple{2999, 5, int64_t(1) << 20},
          std::tuple{17, 3, int64_t(100)}}) {
      SCOPED_TRACE(::testing::Message() << "from " << from << " max " << max_records);
      ASSERT_OK_AND_ASSIGN(auto copies, store->read("s", ShardId{0}, SequenceNumber{uint64_t(from)},
                                                    max_records, max_bytes));
      ASSERT_OK_AND_ASSIGN(auto views,
                           store->read_views("s", ShardId{0}, SequenceNumber{uint64_t(from)},
                                             max_records, max_bytes));
      ASSERT_EQ(views.records.size(), copies.records.size());
      ASSERT_FALSE(views.records.empty());
      EXPECT_EQ(views.shard, ShardId{0});
      EXPECT_EQ(views.next, copies.next);
      EXPECT_EQ(views.end_of_closed_shard, copies.end_of_closed_shard);
      EXPECT_FALSE(views.buffers.empty());
      for (size_t i = 0; i < views.records.size(); ++i) {
        ASSERT_EQ(views.records[i].sequence, copies.records[i].sequence);
        ASSERT_EQ(views.records[i].arrival_ms, copies.records[i].arrival_ms);
        ASSERT_EQ(views.records[i].partition_key, copies.records[i].partition_key);
        ASSERT_EQ(views.records[i].data, copies.records[i].data);
      }
    }
    // Views of the whole stream, then retention deletes the sealed segments under them.
    ASSERT_OK_AND_ASSIGN(auto views,
                         store->read_views("s", ShardId{0}, SequenceNumber{0}, 100000, 64 << 20));
    ASSERT_EQ(views.records.size(), size_t(kRecords));
    ASSERT_OK(store->enforce_retention());
    ASSERT_OK_AND_ASSIGN(auto trim, store->resolve("s", ShardId{0}, {StartKind::kTrimHorizon}));
    EXPECT_GT(trim.value, 0u);
    store.reset();
    for (int i = 0; i < kRecords; ++i) {
      ASSERT_EQ(views.records[size_t(i)].data, body(i));
    }
  }
}

TEST(LogStoreTest, RetentionBySizeAndAgeRemovesWholeSealedSegments) {
  TempDir dir;
  LogOptions options = options_for(dir);
  options.segment_bytes = 8 << 10;
  options.retention_bytes = 40 << 10;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
  ASSERT_OK(store->create_stream("s", 1));
  for (int i = 0; i < 400; ++i) {
    RecordBatch batch;
    batch.add("k", std::string(500, 'a' + i % 26));
    ASSERT_OK(store->append("s", batch.view()).status());
  }
  ASSERT_OK(store->enforce_retention());
  ASSERT_OK_AND_ASSIGN(auto d, store->describe_stream("s"));
  EXPECT_LE(d.shards[0].bytes, 48 << 10);
  EXPECT_GT(d.shards[0].bytes, 24 << 10);
  ASSERT_OK_AND_ASSIGN(auto trim, store->resolve("s", ShardId{0}, {StartKind::kTrimHorizon}));
  EXPECT_GT(trim.value, 0u);
  auto rest = read_all(*store, "s", ShardId{0});
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.front().sequence, trim);
  EXPECT_EQ(rest.back().sequence.value, 399u);
  // Reading below the trim horizon starts at it.
  ASSERT_OK_AND_ASSIGN(auto result, store->read("s", ShardId{0}, SequenceNumber{0}, 1, 1 << 20));
  EXPECT_EQ(result.records[0].sequence, trim);
  store.reset();

  // Age: a stream created with a 1 ms retention keeps only its active segment. (Retention is
  // fixed per stream at creation; LogOptions gives the default.)
  options.retention_bytes = -1;
  options.retention_ms = 1;
  ASSERT_OK_AND_ASSIGN(store, LogStore::open(options));
  ASSERT_OK(store->create_stream("t", 1));
  for (int i = 0; i < 400; ++i) {
    RecordBatch batch;
    batch.add("k", std::string(500, 'a' + i % 26));
    ASSERT_OK(store->append("t", batch.view()).status());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_OK(store->enforce_retention());
  ASSERT_OK_AND_ASSIGN(d, store->describe_stream("t"));
  EXPECT_EQ(d.retention_ms, 1);
  EXPECT_EQ(d.shards[0].next_sequence.value, 400u);
  EXPECT_LT(d.shards[0].bytes, 8 << 10);
  EXPECT_GT(d.shards[0].bytes, 0);
}

TEST(LogStoreTest, TotalsSumOverShardsAndKeepAppendedPastRetention) {
  TempDir dir;
  LogOptions options = options_for(dir);
  options.segment_bytes = 8 << 10;
  options.retention_bytes = 40 << 10;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
  ASSERT_OK(store->create_stream("s", 3));
  for (int i = 0; i < 300; ++i) {
    RecordBatch batch;
    batch.add("key-" + std::to_string(i), std::string(500, 'a' + i % 26));
    ASSERT_OK(store->append("s", batch.view()).status());
  }
  ASSERT_OK(store->enforce_retention());
  ASSERT_OK_AND_ASSIGN(auto d, store->describe_stream("s"));
  const StreamTotals t = d.totals();
  int64_t records = 0, bytes = 0;
  for (const auto& shard : d.shards) {
    records += shard.records;
    bytes += shard.bytes;
    EXPECT_LE(shard.last_arrival_ms, t.last_arrival_ms);
  }
  EXPECT_EQ(t.records, records);
  EXPECT_EQ(t.bytes, bytes);
  EXPECT_EQ(t.appended, 300u);  // retention trims what is kept, not what was appended
  EXPECT_LT(t.records, 300);
  EXPECT_GT(t.records_last_minute, 0);
  EXPECT_GT(t.last_arrival_ms, 0);
  EXPECT_EQ(dead_letter_stream_name("s"), "s.dlq");
  EXPECT_TRUE(is_dead_letter_stream("s.dlq"));
  EXPECT_FALSE(is_dead_letter_stream(".dlq"));
  EXPECT_FALSE(is_dead_letter_stream("s.dlq2"));
}

TEST(LogStoreTest, DataDirLockNamesTheHolder) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options_for(dir)));
  auto second = LogStore::open(options_for(dir));
  ASSERT_TRUE(second.status().IsIOError());
  const std::string message = second.status().message();
  EXPECT_NE(message.find("data dir " + dir.path() + " is in use by pid " +
                         std::to_string(::getpid()) + " ("),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("--server URL"), std::string::npos);
  store.reset();
  EXPECT_OK(LogStore::open(options_for(dir)).status());
}

TEST(LogStoreTest, ConsumerPositionsAreDurable) {
  TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options_for(dir)));
    ASSERT_OK(store->create_stream("s", 2));
    ASSERT_OK(store->commit_position("job/1 archive", "s", ShardId{1}, SequenceNumber{42}));
    ASSERT_OK(store->commit_position("job/1 archive", "s", ShardId{1}, SequenceNumber{43}));
    ASSERT_OK(store->commit_position("other", "s", ShardId{0}, SequenceNumber{7}));
    EXPECT_TRUE(store->commit_position("x", "missing", ShardId{0}, SequenceNumber{1}).IsKeyError());
  }
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options_for(dir)));
  ASSERT_OK_AND_ASSIGN(auto pos, store->load_position("job/1 archive", "s", ShardId{1}));
  ASSERT_TRUE(pos.has_value());
  EXPECT_EQ(pos->value, 43u);
  ASSERT_OK_AND_ASSIGN(pos, store->load_position("other", "s", ShardId{0}));
  EXPECT_EQ(pos->value, 7u);
  ASSERT_OK_AND_ASSIGN(pos, store->load_position("other", "s", ShardId{1}));
  EXPECT_FALSE(pos.has_value());
  ASSERT_OK_AND_ASSIGN(auto consumers, store->list_consumers());
  EXPECT_EQ(consumers, (std::vector<std::string>{"job/1 archive", "other"}));
  ASSERT_OK(store->delete_stream("s"));
  ASSERT_OK_AND_ASSIGN(pos, store->load_position("other", "s", ShardId{0}));
  EXPECT_FALSE(pos.has_value());
}

TEST(LogStoreTest, DeleteStream) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options_for(dir)));
  ASSERT_OK(store->create_stream("a", 2));
  ASSERT_OK(store->create_stream("b", 1));
  ASSERT_OK(store->delete_stream("a"));
  EXPECT_TRUE(store->delete_stream("a").IsKeyError());
  ASSERT_OK_AND_ASSIGN(auto names, store->list_streams());
  EXPECT_EQ(names, std::vector<std::string>{"b"});
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/streams/a"));
  ASSERT_OK(store->create_stream("a", 1));  // the name is free again, and empty
  EXPECT_TRUE(read_all(*store, "a", ShardId{0}).empty());
}

TEST(LogStoreTest, ReshardClosesParentsAndChildrenContinue) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options_for(dir)));
  ASSERT_OK(store->create_stream("s", 2));
  RecordBatch batch;
  for (int i = 0; i < 100; ++i) batch.add("key-" + std::to_string(i), record_text(i));
  ASSERT_OK(store->append("s", batch.view()).status());
  EXPECT_TRUE(store->update_shard_count("s", 5).IsInvalid());  // more than double
  ASSERT_OK(store->update_shard_count("s", 4));
  ASSERT_OK_AND_ASSIGN(auto d, store->describe_stream("s"));
  ASSERT_EQ(d.shards.size(), 6u);
  EXPECT_EQ(d.open_shard_count(), 4);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(d.shards[i].ending_sequence.has_value());
    EXPECT_EQ(d.shards[i].ending_sequence->value, d.shards[i].next_sequence.value);
  }
  for (int i = 2; i < 6; ++i) {
    const auto& child = d.shards[i];
    EXPECT_EQ(child.id.value, i);  // ids continue
    EXPECT_EQ(child.starting_hash_key, uniform_hash_range(i - 2, 4).start);
    ASSERT_TRUE(child.parent.has_value());
    const auto& parent = d.shards[child.parent->value];
    EXPECT_TRUE(parent.starting_hash_key <= child.starting_hash_key &&
                child.ending_hash_key <= parent.ending_hash_key);
    EXPECT_GT(child.starting_sequence.value, parent.ending_sequence->value);
  }
  // Appends go to children only; a parent read to its end says so.
  ASSERT_OK_AND_ASSIGN(auto results, store->append("s", batch.view()));
  for (const auto& r : results) EXPECT_GE(r.shard.value, 2);
  ASSERT_OK_AND_ASSIGN(auto end,
                       store->read("s", ShardId{0}, d.shards[0].next_sequence, 10, 1 << 20));
  EXPECT_TRUE(end.end_of_closed_shard);
  EXPECT_EQ(read_all(*store, "s", ShardId{0}).size() + read_all(*store, "s", ShardId{1}).size(),
            100u);
  // Merge back to 2 after reopen: two parents per child.
  store.reset();
  ASSERT_OK_AND_ASSIGN(store, LogStore::open(options_for(dir)));
  ASSERT_OK(store->update_shard_count("s", 2));
  ASSERT_OK_AND_ASSIGN(d, store->describe_stream("s"));
  ASSERT_EQ(d.shards.size(), 8u);
  EXPECT_TRUE(d.shards[6].adjacent_parent.has_value());
  EXPECT_EQ(d.shards[6].parent->value, 2);
  EXPECT_EQ(d.shards[6].adjacent_parent->value, 3);
  ASSERT_OK_AND_ASSIGN(results, store->append("s", batch.view()));
  for (const auto& r : results) EXPECT_GE(r.shard.value, 6);
}

TEST(LogStoreTest, ConcurrentAppendersAndReaders) {
  TempDir dir;
  LogOptions options = options_for(dir);
  options.segment_bytes = 256 << 10;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
  ASSERT_OK(store->create_stream("s", 2));
  constexpr int kThreads = 8, kPerThread = 300;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  // Readers tail both shards while appenders run; every record they see must be in order.
  std::vector<std::thread> readers;
  std::atomic<int64_t> seen{0};
  for (int s = 0; s < 2; ++s) {
    readers.emplace_back([&, s] {
      SequenceNumber next{0};
      while (true) {
        auto result = store->read("s", ShardId{s}, next, 500, 1 << 20);
        if (!result.ok()) {
          ++failures;
          return;
        }
        for (const auto& r : result->records) {
          if (r.sequence.value != next.value) ++failures;
          next = SequenceNumber{r.sequence.value + 1};
        }
        seen += static_cast<int64_t>(result->records.size());
        if (result->records.empty()) {
          if (done) break;
          (void)store->wait_for_data("s", ShardId{s}, next, 20);
        }
      }
    });
  }
  std::mutex acked_mu;
  std::map<std::pair<int32_t, uint64_t>, std::string> acked;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        RecordBatch batch;
        batch.add("t" + std::to_string(t) + "-" + std::to_string(i),
                  "v" + std::to_string(t * kPerThread + i));
        auto results = store->append("s", batch.view());
        if (!results.ok()) {
          ++failures;
          continue;
        }
        std::lock_guard lock(acked_mu);
        acked[{(*results)[0].shard.value, (*results)[0].sequence.value}] = batch.data[0];
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(seen.load(), kThreads * kPerThread);
  ASSERT_EQ(acked.size(), size_t(kThreads * kPerThread));
  for (int s = 0; s < 2; ++s) {
    for (const auto& r : read_all(*store, "s", ShardId{s})) {
      EXPECT_EQ(acked.at({s, r.sequence.value}), r.data);
    }
  }
}

TEST(LogStoreTest, IntervalAndNoneDurabilityAcknowledgeBeforeSync) {
  for (const Durability durability : {Durability::kInterval, Durability::kNone}) {
    TempDir dir;
    auto fs = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
    LogOptions options = options_for(dir);
    options.file_system = fs;
    options.durability = durability;
    options.sync_interval_ms = 20;
    options.compression = Compression::kZstd;
    ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
    ASSERT_OK(store->create_stream("s", 1));
    const int64_t syncs_before = fs->sync_count();
    RecordBatch batch;
    for (int i = 0; i < 50; ++i) batch.add("k", record_text(i));
    ASSERT_OK(store->append("s", batch.view()).status());
    if (durability == Durability::kNone) {  // (in interval mode the background may sync now)
      EXPECT_EQ(fs->sync_count(), syncs_before) << "acknowledged without a sync";
    }
    EXPECT_EQ(read_all(*store, "s", ShardId{0}).size(), 50u) << "visible once written";
    if (durability == Durability::kInterval) {
      // The background thread syncs within an interval or so.
      for (int i = 0; i < 100 && fs->sync_count() == syncs_before; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      EXPECT_GT(fs->sync_count(), syncs_before);
    } else {
      ASSERT_OK(store->flush());
      EXPECT_GT(fs->sync_count(), syncs_before);
    }
    // Synced, so a power loss keeps everything.
    ASSERT_OK(fs->crash(CrashMode::kDropUnsynced));
    store.reset();
    fs->revive();
    ASSERT_OK_AND_ASSIGN(store, LogStore::open(options));
    const auto records = read_all(*store, "s", ShardId{0});
    ASSERT_EQ(records.size(), 50u);
    EXPECT_EQ(records[49].data, record_text(49));
  }
}

TEST(LogStoreTest, WaitForDataWakesOnAppend) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options_for(dir)));
  ASSERT_OK(store->create_stream("s", 1));
  std::thread appender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    RecordBatch batch;
    batch.add("k", "wake up");
    ASSERT_OK(store->append("s", batch.view()).status());
  });
  const auto start = std::chrono::steady_clock::now();
  ASSERT_OK(store->wait_for_data("s", ShardId{0}, SequenceNumber{0}, 10'000));
  const auto waited = std::chrono::steady_clock::now() - start;
  appender.join();
  EXPECT_LT(waited, std::chrono::seconds(5));
  ASSERT_OK_AND_ASSIGN(auto result, store->read("s", ShardId{0}, SequenceNumber{0}, 10, 1 << 20));
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_EQ(result.records[0].data, "wake up");
  // Nothing new: the wait times out.
  const auto again = std::chrono::steady_clock::now();
  ASSERT_OK(store->wait_for_data("s", ShardId{0}, SequenceNumber{1}, 30));
  EXPECT_GE(std::chrono::steady_clock::now() - again, std::chrono::milliseconds(25));
}

TEST(LogStoreTest, WaitForAnyWakesOnAppendToAnyOfTheShards) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options_for(dir)));
  ASSERT_OK(store->create_stream("s", 4));
  RecordBatch first;
  first.add("county-7", "first");
  ASSERT_OK_AND_ASSIGN(auto appended, store->append("s", first.view()));
  const ShardId target = appended[0].shard;
  std::vector<std::pair<ShardId, SequenceNumber>> all, others;
  for (int32_t i = 0; i < 4; ++i) {
    ASSERT_OK_AND_ASSIGN(auto end,
                         store->resolve("s", ShardId{i}, StartPosition{StartKind::kLatest}));
    all.emplace_back(ShardId{i}, end);
    if (i != target.value) others.emplace_back(ShardId{i}, end);
  }
  // Nothing after the positions: the wait times out.
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_OK(store->wait_for_any("s", all, 30));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(25));

  // A record on the last shard of the list (not the first) ends the wait at once.
  std::thread appender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    RecordBatch batch;
    batch.add("county-7", "second");
    ASSERT_OK(store->append("s", batch.view()).status());
  });
  t0 = std::chrono::steady_clock::now();
  ASSERT_OK(store->wait_for_any("s", all, 10'000));
  const auto waited = std::chrono::steady_clock::now() - t0;
  appender.join();
  EXPECT_LT(waited, std::chrono::seconds(5));
  // Already there: returns without waiting; the other shards still have nothing.
  t0 = std::chrono::steady_clock::now();
  ASSERT_OK(store->wait_for_any("s", all, 10'000));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_FALSE(others.empty());
  EXPECT_NE(store->wait_for_any("nope", all, 10).message().find("nope"), std::string::npos);
  EXPECT_FALSE(store->wait_for_any("s", {{{ShardId{9}, SequenceNumber{0}}}}, 10).ok());
}

TEST(LogStoreTest, AtTimestampAcrossSegments) {
  TempDir dir;
  LogOptions options = options_for(dir);
  options.segment_bytes = 4 << 10;
  ASSERT_OK_AND_ASSIGN(auto store, LogStore::open(options));
  ASSERT_OK(store->create_stream("s", 1));
  std::vector<std::pair<int64_t, uint64_t>> marks;  // (time before append, its sequence)
  for (int i = 0; i < 12; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    const int64_t before = now_ms();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    RecordBatch batch;
    for (int j = 0; j < 20; ++j) batch.add("k", std::string(100, 'a' + i));
    ASSERT_OK_AND_ASSIGN(auto results, store->append("s", batch.view()));
    marks.emplace_back(before, results[0].sequence.value);
  }
  for (const auto& [ts, seq] : marks) {
    ASSERT_OK_AND_ASSIGN(auto got,
                         store->resolve("s", ShardId{0}, {StartKind::kAtTimestamp, {}, ts}));
    EXPECT_EQ(got.value, seq) << "timestamp " << ts;
  }
}

}  // namespace
}  // namespace roadpulse::log
